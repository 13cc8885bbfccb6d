//! `krsic serve DIR` against a real kernel: a file added to DIR is enforced, an edit replaces
//! it with no moment where the operation goes through (an exec loop running across the edit
//! sees every attempt refused), a broken edit is rejected with its diagnostic and the old
//! version stays, stopping the daemon leaves enforcement in place and a new daemon resumes the
//! reports, `apply` twice in a row changes nothing the second time, a deleted file is lifted,
//! and the denial counter of `/metrics` rises by exactly the number of refused execs.
//!
//! `/healthz` is checked in both kinds of guest: ready where BPF LSM is active, unready with
//! `krsic doctor`'s reason where it is not (`scripts/test-all` runs
//! `health_says_whether_this_kernel_can_enforce` in the guests booted without `bpf`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use kernel_tests::{
    active_lsms, assert_exec_denied, dir_with_true, krsic_run, loopback_up, lsm_program_ids,
    require_guest, run_as, wait_lsm_programs_gone, Bpffs, Policy,
};
use libc::{EACCES, EPERM};
use serde_json::Value;
use std::io::{Read as _, Write as _};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Waits up to 30 s (applies compile under emulation) for `done`.
fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// An exec of `exe` as root: `Err(errno)` when refused, `Ok(())` when it ran.
fn exec(exe: &Path) -> Result<(), i32> {
    match run_as(exe, &[], None, None) {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => panic!("{} ran but failed: {status}", exe.display()),
        Err(error) => Err(error.raw_os_error().unwrap_or(0)),
    }
}

/// The address `krsic serve` printed for its metrics.
fn metrics_addr(daemon: &Policy) -> String {
    let stderr = daemon.stderr();
    let start = stderr
        .find("metrics on http://")
        .unwrap_or_else(|| panic!("no metrics address in:\n{stderr}"))
        + "metrics on http://".len();
    let end = start + stderr[start..].find('/').unwrap();
    stderr[start..end].to_string()
}

/// `GET path` over plain HTTP/1.1: status and body.
fn get(addr: &str, path: &str) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}

/// The value of the sample of `metric` whose labels include every one of `labels`.
fn sample(text: &str, metric: &str, labels: &[&str]) -> u64 {
    text.lines()
        .filter(|line| {
            line.strip_prefix(metric)
                .is_some_and(|rest| rest.starts_with(['{', ' ']))
        })
        .filter(|line| labels.iter().all(|label| line.contains(label)))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|value| value as u64)
        .sum()
}

fn denials(addr: &str, policy: &str) -> u64 {
    let (status, text) = get(addr, "/metrics");
    assert_eq!(status, 200, "{text}");
    sample(
        &text,
        "krsi_reports_total",
        &[&format!("policy=\"{policy}\""), "action=\"deny\""],
    )
}

/// Waits until the denial counter reaches `expected`, then checks that it stays there.
fn assert_denials(addr: &str, policy: &str, expected: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while denials(addr, policy) < expected && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_millis(1500));
    let (_, text) = get(addr, "/metrics");
    assert_eq!(
        denials(addr, policy),
        expected,
        "the denial counter counts every refused exec, once; the metrics:\n{text}"
    );
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn serve_keeps_the_directory_enforced_and_counts_every_denial() {
    require_guest();
    loopback_up();
    let baseline = lsm_program_ids().unwrap();
    let bpffs = Bpffs::new();
    let policies = kernel_tests::TempDir::new();
    let (bin, truth) = dir_with_true();
    let a = bin.copy(&truth, "a", 0o755);
    let b = bin.copy(&truth, "b", 0o755);
    let rule = |exe: &Path, errno: &str| {
        format!(
            "deny exec where path == \"{}\" errno {errno}\n",
            exe.display()
        )
    };
    let file = policies.path().join("deny-a.krsi");

    let daemon = Policy::serve(policies.path(), &bpffs, &[]);
    let addr = metrics_addr(&daemon);
    let (status, body) = get(&addr, "/healthz");
    assert_eq!((status, body.as_str()), (200, "ready\n"));
    assert_eq!(exec(&a), Ok(()), "nothing is enforced yet");

    // Adding a file enforces it.
    std::fs::write(&file, rule(&a, "EPERM")).unwrap();
    eventually("the new policy denies", || exec(&a) == Err(EPERM));
    let mut refused = 1;

    // An editor's save (a temporary file renamed over the policy) replaces it while an exec
    // loop runs: every attempt is refused, first with the old errno, then with the new.
    let stop = Arc::new(AtomicBool::new(false));
    let looping = {
        let (a, stop) = (a.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut results = Vec::new();
            // Every 25 ms at most: far closer than an apply takes, and under the default
            // report rate (100 a second per rule and CPU), so that every refusal is reported.
            while !stop.load(Ordering::Relaxed) {
                results.push(exec(&a));
                std::thread::sleep(Duration::from_millis(25));
            }
            results
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    let saved = policies.path().join(".deny-a.krsi.swp");
    std::fs::write(&saved, rule(&a, "EACCES")).unwrap();
    std::fs::rename(&saved, &file).unwrap();
    eventually("the edit is enforced", || {
        refused += 1;
        match exec(&a) {
            Err(EACCES) => true,
            Err(EPERM) => false,
            other => panic!("an exec during the replacement was not refused: {other:?}"),
        }
    });
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    let results = looping.join().unwrap();
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Err(EPERM) | Err(EACCES))),
        "an exec went through during the replacement: {results:?}"
    );
    assert!(
        results.contains(&Err(EPERM)) && results.contains(&Err(EACCES)),
        "the loop ran across the replacement: {results:?}"
    );
    refused += results.len() as u64;
    assert_denials(&addr, "deny-a", refused);

    // A broken edit is rejected with its diagnostic; the old version stays.
    std::fs::write(&file, "deny exce\n").unwrap();
    eventually("the broken edit is reported", || {
        daemon.stderr().contains("E0101")
    });
    assert_exec_denied(run_as(&a, &[], None, None), EACCES, "the old version stays");
    refused += 1;
    let (_, text) = get(&addr, "/metrics");
    assert_eq!(
        sample(
            &text,
            "krsi_policy_apply_failures_total",
            &["policy=\"deny-a\""]
        ),
        1,
        "{text}"
    );
    assert_denials(&addr, "deny-a", refused);
    std::fs::write(&file, rule(&a, "EACCES")).unwrap();
    std::thread::sleep(Duration::from_secs(2));

    // Stopping the daemon leaves the policy enforced.
    daemon.stop_serving();
    assert_exec_denied(
        run_as(&a, &[], None, None),
        EACCES,
        "enforced while no daemon runs",
    );

    // `apply` twice in a row: the second changes nothing, down to the very programs.
    std::fs::write(policies.path().join("deny-b.krsi"), rule(&b, "EPERM")).unwrap();
    let dir = policies.path().display().to_string();
    let pins = bpffs.path().display().to_string();
    let (status, first, stderr) = krsic_run(&["apply", &dir, "--bpffs", &pins]);
    assert!(status.success(), "{first}\n{stderr}");
    assert!(
        first.contains("1 loaded, 0 replaced, 1 unchanged, 0 unloaded, 0 failed"),
        "{first}"
    );
    let before = bpffs.pinned();
    let (status, second, stderr) = krsic_run(&["apply", &dir, "--bpffs", &pins]);
    assert!(status.success(), "{second}\n{stderr}");
    assert!(
        second.contains("0 loaded, 0 replaced, 2 unchanged, 0 unloaded, 0 failed"),
        "{second}"
    );
    assert_eq!(bpffs.pinned(), before, "the second apply touched nothing");

    // A new daemon resumes the reports: the denial made while none ran, then new ones.
    let daemon = Policy::serve(policies.path(), &bpffs, &[]);
    let addr = metrics_addr(&daemon);
    assert_eq!(bpffs.pinned(), before, "restarting replaced nothing");
    assert_exec_denied(run_as(&b, &[], None, None), EPERM, "b, after the restart");
    assert_denials(&addr, "deny-a", 1);
    assert_denials(&addr, "deny-b", 1);
    let reports: Vec<Value> = daemon
        .events()
        .iter()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert!(
        reports.iter().any(|r| r["policy"] == "deny-a"
            && r["errno"] == "EACCES"
            && r["attributes"]["path"] == a.display().to_string()),
        "the report of the exec refused while no daemon ran: {reports:?}"
    );

    // Deleting a file lifts its policy.
    std::fs::remove_file(&file).unwrap();
    eventually("the deleted policy is lifted", || exec(&a).is_ok());
    std::fs::remove_file(policies.path().join("deny-b.krsi")).unwrap();
    eventually("the other deleted policy is lifted", || exec(&b).is_ok());
    // The exec may go through before the daemon has counted what it unloaded.
    eventually("no policy is counted", || {
        sample(&get(&addr, "/metrics").1, "krsi_policies", &[]) == 0
    });
    daemon.stop_serving();
    assert!(bpffs.pinned().is_empty());
    let left = wait_lsm_programs_gone(&baseline);
    assert!(left.is_empty(), "programs left loaded: {left:?}");
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn health_says_whether_this_kernel_can_enforce() {
    require_guest();
    loopback_up();
    let bpffs = Bpffs::new();
    let policies = kernel_tests::TempDir::new();
    std::fs::write(policies.path().join("p.krsi"), "deny kmod_load\n").unwrap();
    let daemon = Policy::serve(policies.path(), &bpffs, &[]);
    let addr = metrics_addr(&daemon);
    let (status, body) = get(&addr, "/healthz");
    let (_, metrics) = get(&addr, "/metrics");
    let active = active_lsms().expect("read /sys/kernel/security/lsm");
    if active.iter().any(|l| l == "bpf") {
        assert_eq!((status, body.as_str()), (200, "ready\n"));
        assert_eq!(sample(&metrics, "krsi_ready", &[]), 1, "{metrics}");
        assert_eq!(sample(&metrics, "krsi_policies", &[]), 1, "{metrics}");
    } else {
        assert_eq!(status, 503, "{body}");
        assert!(
            body.contains("`bpf` is not an active LSM"),
            "the reason is doctor's: {body}"
        );
        assert_eq!(sample(&metrics, "krsi_ready", &[]), 0, "{metrics}");
        assert!(
            daemon.stderr().contains("krsic doctor"),
            "{}",
            daemon.stderr()
        );
    }
    daemon.stop_serving();
    let dir = bpffs.path().display().to_string();
    let _ = krsic_run(&["unload", "p", "--bpffs", &dir]);
}
