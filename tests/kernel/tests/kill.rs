//! The `kill` action in a real kernel: a matching exec is refused and the process that asked
//! is killed by SIGKILL before it runs another instruction of its own (the refused execve
//! never returns to it), so the program it tried to start has no effect; the same exec of
//! another program runs; the report says `kill`; outside the cgroup and after unload the
//! program runs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use kernel_tests::Identity::User;
use kernel_tests::Phase::{Before, Loaded, Unloaded};
use kernel_tests::{run_as, set_mode, Cgroup, Identity, Scenario, TempDir, USER};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;

/// Runs `touch marker` from `touch` as `who` in `cgroup` and asserts how it ended: killed by
/// SIGKILL with no marker, or run to completion with the marker made (then removed).
fn touch(touch: &Path, marker: &Path, who: Identity, cgroup: Option<&Cgroup>, killed: bool) {
    let marker_arg = marker.to_str().unwrap();
    let status = run_as(touch, &[marker_arg], who, cgroup).unwrap_or_else(|e| {
        panic!(
            "{}: expected it to run or be killed, got {e}",
            touch.display()
        )
    });
    if killed {
        assert_eq!(
            status.signal(),
            Some(libc::SIGKILL),
            "{}: expected death by SIGKILL, got {status}",
            touch.display()
        );
        assert!(
            !marker.exists(),
            "the killed program still created {}",
            marker.display()
        );
    } else {
        assert!(status.success(), "{}: {status}", touch.display());
        assert!(marker.exists(), "touch did not create {}", marker.display());
        std::fs::remove_file(marker).unwrap();
    }
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn kill_exec_kills_the_process_before_the_program_runs() {
    let dir = TempDir::new();
    // uid 1000 creates the marker here.
    set_mode(dir.path(), 0o777);
    // busybox picks its applet by the name it is run as: a copy named `touch` is touch.
    let miner = dir.copy("/bin/touch", "touch", 0o755);
    // The same program at another path (busybox wants the name `touch`).
    let other_dir = TempDir::new();
    set_mode(other_dir.path(), 0o755);
    let other = other_dir.copy("/bin/touch", "touch", 0o755);
    let marker = dir.join("marker");
    let (m, o, k) = (miner.clone(), other.clone(), marker.clone());
    let (m2, k2) = (miner.clone(), marker.clone());
    let (m3, k3) = (miner.clone(), marker.clone());
    let reports = Scenario::for_cgroup(format!(
        "kill exec where path == \"{}\" and uid != 0 errno EACCES\n",
        miner.display()
    ))
    .step(Before, move |_| touch(&m3, &k3, User(USER), None, false))
    .step(Loaded, move |steps| {
        touch(&m, &k, User(USER), Some(steps.cgroup()), true);
        // Another program, the same process and cgroup: not the rule's.
        touch(&o, &k, User(USER), Some(steps.cgroup()), false);
        // Outside the policy's cgroup the rule does not apply.
        touch(&m, &k, User(USER), None, false);
    })
    .wait_for_reports(1)
    .step(Unloaded, move |_| {
        touch(&m2, &k2, User(USER), None, false);
    })
    .run();
    assert_eq!(reports.len(), 1, "{reports:?}");
    let report: serde_json::Value = serde_json::from_str(&reports[0]).unwrap();
    assert_eq!(report["action"], "kill", "{report}");
    assert_eq!(report["errno"], "EACCES", "{report}");
    assert_eq!(report["event"], "exec", "{report}");
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn kill_in_audit_mode_reports_would_kill_and_lets_the_program_run() {
    let dir = TempDir::new();
    set_mode(dir.path(), 0o777);
    let miner = dir.copy("/bin/touch", "touch", 0o755);
    let marker = dir.join("marker");
    let (m, k) = (miner.clone(), marker.clone());
    let reports =
        Scenario::for_cgroup(format!("kill exec where path == \"{}\"\n", miner.display()))
            .options(&["--mode", "audit"])
            .step(Loaded, move |steps| {
                touch(&m, &k, User(USER), Some(steps.cgroup()), false)
            })
            .wait_for_reports(1)
            .run();
    assert_eq!(reports.len(), 1, "{reports:?}");
    let report: serde_json::Value = serde_json::from_str(&reports[0]).unwrap();
    assert_eq!(report["action"], "would-kill", "{report}");
}
