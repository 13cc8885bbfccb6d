//! `krsic apply DIR` against a real kernel: the directory becomes what is pinned. New policies
//! are loaded, changed ones replaced, unchanged ones keep their very programs, removed ones are
//! unloaded, a broken one fails alone with its previous version still enforced, and a policy
//! pinned from elsewhere is never touched. Pins go to a private bpffs mount.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use kernel_tests::{
    assert_exec_denied, assert_ran, dir_with_true, krsic_run, lsm_program_ids, require_guest,
    run_as, wait_lsm_programs_gone, Bpffs, TempDir,
};
use libc::{EACCES, EPERM};
use std::path::Path;

/// Runs `exe` until it runs: the kernel releases an unpinned link's program after the
/// command that removed the pin has returned (deferred work), so a lifted rule may still hold
/// for a moment.
fn eventually_runs(exe: &Path, what: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match run_as(exe, &[], None, None) {
            Ok(status) if status.success() => return,
            result if std::time::Instant::now() > deadline => assert_ran(result, what),
            _ => std::thread::sleep(std::time::Duration::from_millis(100)),
        }
    }
}

fn apply(dir: &Path, bpffs: &Bpffs, dry_run: bool) -> (bool, String, String) {
    let bpffs = bpffs.path().display().to_string();
    let dir = dir.display().to_string();
    let mut args = vec!["apply", dir.as_str(), "--bpffs", bpffs.as_str()];
    if dry_run {
        args.push("--dry-run");
    }
    let (status, stdout, stderr) = krsic_run(&args);
    (status.success(), stdout, stderr)
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn apply_makes_the_pinned_policies_equal_to_the_directory() {
    require_guest();
    let baseline = lsm_program_ids().unwrap();
    let bpffs = Bpffs::new();
    let policies = TempDir::new();
    let (bin, truth) = dir_with_true();
    let a = bin.copy(&truth, "a", 0o755);
    let b = bin.copy(&truth, "b", 0o755);
    let c = bin.copy(&truth, "c", 0o755);
    let rule = |exe: &Path, errno: &str| {
        format!(
            "deny exec where path == \"{}\" errno {errno}\n",
            exe.display()
        )
    };
    std::fs::write(policies.path().join("deny-a.krsi"), rule(&a, "EPERM")).unwrap();
    std::fs::write(policies.path().join("deny-b.krsi"), rule(&b, "EPERM")).unwrap();
    // A policy pinned by hand from elsewhere: apply must leave it alone.
    let elsewhere = TempDir::new();
    let manual = elsewhere.path().join("manual.krsi");
    std::fs::write(&manual, rule(&c, "EPERM")).unwrap();
    let (status, _, stderr) = krsic_run(&[
        "load",
        "--pin",
        "--bpffs",
        &bpffs.path().display().to_string(),
        &manual.display().to_string(),
    ]);
    assert!(status.success(), "{stderr}");

    // The plan, and nothing done.
    let (ok, plan, stderr) = apply(policies.path(), &bpffs, true);
    assert!(ok, "{stderr}");
    assert!(
        plan.contains("load deny-a") && plan.contains("load deny-b"),
        "{plan}"
    );
    assert!(!plan.contains("manual"), "{plan}");
    assert_ran(run_as(&a, &[], None, None), "a before apply");

    // First apply: both loaded.
    let (ok, summary, stderr) = apply(policies.path(), &bpffs, false);
    assert!(ok, "{summary}\n{stderr}");
    assert!(
        summary.contains("2 loaded, 0 replaced, 0 unchanged, 0 unloaded, 0 failed"),
        "{summary}"
    );
    assert_exec_denied(run_as(&a, &[], None, None), EPERM, "a after apply");
    assert_exec_denied(run_as(&b, &[], None, None), EPERM, "b after apply");
    let before = bpffs.pinned();

    // Change a, remove b, add a broken one.
    std::fs::write(policies.path().join("deny-a.krsi"), rule(&a, "EACCES")).unwrap();
    std::fs::remove_file(policies.path().join("deny-b.krsi")).unwrap();
    std::fs::write(policies.path().join("broken.krsi"), "deny exce\n").unwrap();
    let (ok, summary, stderr) = apply(policies.path(), &bpffs, false);
    assert!(!ok, "a broken policy makes apply fail: {summary}");
    assert!(
        summary.contains("0 loaded, 1 replaced, 0 unchanged, 1 unloaded, 1 failed"),
        "{summary}\n{stderr}"
    );
    assert!(
        stderr.contains("E0101"),
        "the broken policy's diagnostics: {stderr}"
    );
    assert_exec_denied(run_as(&a, &[], None, None), EACCES, "a replaced");
    eventually_runs(&b, "b unloaded");
    assert_exec_denied(
        run_as(&c, &[], None, None),
        EPERM,
        "the manual policy stays",
    );

    // Nothing changed: nothing touched, the very same programs stay.
    std::fs::remove_file(policies.path().join("broken.krsi")).unwrap();
    let middle = bpffs.pinned();
    let (ok, summary, stderr) = apply(policies.path(), &bpffs, false);
    assert!(ok, "{summary}\n{stderr}");
    assert!(
        summary.contains("0 loaded, 0 replaced, 1 unchanged, 0 unloaded, 0 failed"),
        "{summary}"
    );
    assert_eq!(
        bpffs.pinned(),
        middle,
        "an unchanged policy keeps its programs"
    );
    assert_ne!(middle, before);
    let names: Vec<String> = middle.iter().map(|(n, _)| n.clone()).collect();
    assert_eq!(names, ["deny-a", "manual"]);

    // An empty directory unloads what it managed, and only that.
    std::fs::remove_file(policies.path().join("deny-a.krsi")).unwrap();
    let (ok, summary, _) = apply(policies.path(), &bpffs, false);
    assert!(ok && summary.contains("1 unloaded"), "{summary}");
    eventually_runs(&a, "a unloaded");
    let (status, _, stderr) = krsic_run(&[
        "unload",
        "manual",
        "--bpffs",
        &bpffs.path().display().to_string(),
    ]);
    assert!(status.success(), "{stderr}");
    let left = wait_lsm_programs_gone(&baseline);
    assert!(left.is_empty(), "programs left loaded: {left:?}");
}
