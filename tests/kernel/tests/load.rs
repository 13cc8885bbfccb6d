//! `krsic load` either enforces everything or leaves nothing behind.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use kernel_tests::{
    krsic, load_timeout, lsm_program_ids, require_guest, wait_lsm_programs_gone, Policy, TempDir,
};
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `krsic load FILE EXTRA...` with `source` in FILE. It must fail: exit 1 with a
/// diagnostic, never say it enforces, and leave no LSM program loaded. Returns its stderr.
fn assert_load_fails(source: &str, extra: &[&str]) -> String {
    let dir = TempDir::new();
    let file = dir.write("policy.krsi", source, 0o644);
    let baseline = lsm_program_ids().expect("list BPF programs");
    let mut child = Command::new(krsic())
        .arg("load")
        .arg(&file)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run krsic");
    let mut pipe = child.stderr.take().expect("piped stderr");
    let reader = std::thread::spawn(move || {
        let mut stderr = String::new();
        let _ = pipe.read_to_string(&mut stderr);
        stderr
    });
    let deadline = Instant::now() + load_timeout();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for krsic") {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stderr = reader.join().unwrap_or_default();
    let what = format!("krsic load {extra:?} of\n{source}");
    let Some(status) = status else {
        panic!(
            "{what}did not exit within {:?}; stderr:\n{stderr}",
            load_timeout()
        );
    };
    assert_eq!(
        status.code(),
        Some(1),
        "{what}exited with {status}; stderr:\n{stderr}"
    );
    assert!(
        !stderr.trim().is_empty(),
        "{what}failed without a diagnostic"
    );
    assert!(
        !stderr.contains("enforcing"),
        "{what}said it enforces:\n{stderr}"
    );
    let left = wait_lsm_programs_gone(&baseline);
    assert!(
        left.is_empty(),
        "{what}left LSM programs {left:?} loaded; stderr:\n{stderr}"
    );
    stderr
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn load_of_invalid_policy_fails_and_attaches_nothing() {
    require_guest();
    assert_load_fails("deny exec where path ~ \"/tmp/**\" and\n", &[]);
    assert_load_fails("deny exek where uid != 0\n", &[]);
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn load_with_missing_cgroup_fails_and_attaches_nothing() {
    require_guest();
    assert_load_fails(
        "deny exec where path == \"/nonexistent\"\n",
        &["--cgroup", "/sys/fs/cgroup/krsi-no-such-cgroup"],
    );
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn a_policy_the_verifier_rejects_gets_a_diagnostic_on_a_rule() {
    require_guest();
    // Each string the rules glob is scanned by one bounded loop of up to 4,095 steps, which
    // the verifier walks step by step, once for every distinct state the program reaches it
    // in: three globbed paths on `rename`, each tested behind other conditions, pass its
    // budget of 1,000,000 processed instructions (measured on 6.1 and 6.12) though the code
    // is well under the size the checker allows. Only the kernel knows its budget, so the
    // rejection comes from the kernel and must come back as a diagnostic on the rule that
    // tipped it over. Each string also has a glob without a literal prefix (`**/...`), which
    // keeps its globs merged and scanned whole: found by their prefixes and only their tails
    // scanned (`lang::dispatch`), the same globs cost 6.1's verifier less than its budget.
    let source = String::from(
        "# too much for the verifier\n\
         deny rename where path ~ \"/home/*/.ssh/**\" and exe !~ [\"/usr/{bin,sbin}/*\", \"**/sudo\"]\n\
         deny rename where path ~ [\"/etc/**\", \"/boot/*.img\", \"**/*.pem\"] and comm != \"dpkg\"\n\
         deny rename where new.path ~ [\"/etc/**/*.conf\", \"**/*.pem\"] and path !~ \"/tmp/**\"\n\
         deny rename where new.path ~ \"/srv/*/*.key\" and exe ~ \"/opt/*/bin/x*\"\n",
    );
    let rules = source.lines().count() - 1;
    let started = Instant::now();
    let stderr = assert_load_fails(&source, &["--message-format", "json"]);
    eprintln!("rejected after {:?}", started.elapsed());
    let diagnostic: serde_json::Value = stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|d| d["severity"] == "error" || d["code"] == "E0401")
        .unwrap_or_else(|| panic!("no JSON error in:\n{stderr}"));
    assert_eq!(diagnostic["code"], "E0401", "{diagnostic:#}");
    let line = diagnostic["start"]["line"].as_u64().unwrap_or(0);
    assert!(
        (2..=rules as u64 + 1).contains(&line),
        "the diagnostic points at line {line}, not at a rule: {diagnostic:#}"
    );
    let notes = diagnostic["notes"].to_string();
    assert!(notes.contains("verifier: "), "{diagnostic:#}");
    assert!(
        diagnostic["help"]
            .as_str()
            .is_some_and(|h| h.contains("second policy")),
        "{diagnostic:#}"
    );
    // The bisection's claim, checked: the rules before the one named load and attach.
    let before: String = source
        .lines()
        .take(line as usize - 1)
        .map(|l| format!("{l}\n"))
        .collect();
    let dir = TempDir::new();
    Policy::load_source(&dir, &before, None).stop();
}
