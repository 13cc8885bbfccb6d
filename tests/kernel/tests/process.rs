//! Process events: `kill`, `capable`, `ptrace`, `setuid`, `setgid`. Each rule is loaded for a
//! cgroup; a real process in the cgroup doing the operation fails with the rule's errno, and
//! the same operation succeeds (or fails with the kernel's own error) outside the cgroup, for
//! a process the rule's condition does not cover, and after unload.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use kernel_tests::ops::{kill, load_garbage_from_file, seize, setresgid, setresuid};
use kernel_tests::Expect::{Allowed, Denied, KernelRefuses};
use kernel_tests::Identity::{RealUser, Root};
use kernel_tests::Phase::{Before, Loaded, Unloaded};
use kernel_tests::Place::{InCgroup, TestCgroup};
use kernel_tests::{Op, Scenario, Sleeper, TempDir, USER};
use libc::{EACCES, EPERM, SIGKILL};
use std::cell::RefCell;

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn kill_sigkill_to_sshd_denied_in_cgroup_only() {
    // The process named `sshd` the rows signal; SIGKILL outside the cgroup kills it, so a
    // fresh one takes its place once the policy is unloaded.
    let sshd = RefCell::new(Sleeper::new("sshd"));
    let other = Sleeper::new("sshd-other");
    let kill_sshd = Op::call("SIGKILL to `sshd`", || kill(sshd.borrow().pid(), SIGKILL));
    // Signal 0 only probes: not SIGKILL.
    let probe_sshd = Op::call("signal 0 to `sshd`", || kill(sshd.borrow().pid(), 0));
    // Another name: the rule does not match.
    let kill_other = Op::call("SIGKILL to `sshd-other`", || kill(other.pid(), SIGKILL));
    Scenario::for_cgroup("deny kill where sig == SIGKILL and target.comm == \"sshd\"\n")
        .row(Loaded, Root, InCgroup, &kill_sshd, Denied(EPERM))
        .step(Loaded, |_| {
            assert!(
                sshd.borrow().alive(),
                "the denied SIGKILL must not have been delivered"
            );
        })
        .row(Loaded, Root, InCgroup, &probe_sshd, Allowed)
        .row(Loaded, Root, InCgroup, &kill_other, Allowed)
        .row(Loaded, Root, TestCgroup, &kill_sshd, Allowed)
        .step(Unloaded, |_| *sshd.borrow_mut() = Sleeper::new("sshd"))
        .row(Unloaded, Root, InCgroup, &kill_sshd, Allowed)
        .run();
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn capable_sys_module_denied_for_non_root_uid_in_cgroup_only() {
    let dir = TempDir::new();
    let garbage = dir.write("garbage.ko", vec![0x42u8; 4096], 0o644);
    let file = std::fs::File::open(&garbage).unwrap();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&file);
    let module = Op::call("garbage module", || load_garbage_from_file(fd));
    // Real uid 1000 with euid 0 has CAP_SYS_MODULE; unless the rule refuses the capability,
    // the kernel refuses the contents with its own error.
    let contents_refused = KernelRefuses { not: EPERM };
    let user = RealUser(USER);
    Scenario::for_cgroup("deny capable where cap == CAP_SYS_MODULE and uid != 0\n")
        .row(Before, user, InCgroup, &module, contents_refused)
        .row(Loaded, user, InCgroup, &module, Denied(EPERM))
        // Twice: a second attempt is refused as well.
        .row(Loaded, user, InCgroup, &module, Denied(EPERM))
        .row(Loaded, Root, InCgroup, &module, contents_refused)
        .row(Loaded, user, TestCgroup, &module, contents_refused)
        .row(Unloaded, user, InCgroup, &module, contents_refused)
        .run();
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn ptrace_of_root_denied_for_non_root_uid_in_cgroup_only() {
    let target = Sleeper::new("ptrace-target");
    let seize_root = Op::call("seize a root process", || seize(target.pid()));
    let user = RealUser(USER);
    Scenario::for_cgroup("deny ptrace where target.uid == 0 and uid != 0\n")
        .row(Before, user, InCgroup, &seize_root, Allowed)
        .denies(user, &seize_root, EPERM)
        .row(Loaded, Root, InCgroup, &seize_root, Allowed)
        .run();
}

// Note: setresuid/setresgid that change nothing return 0 without calling the LSM hook, so
// every call below changes an id.
#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn setuid_to_root_denied_for_non_root_uid_in_cgroup_only() {
    let to_root = Op::call("uid -> 0", || setresuid(0));
    let to_2000 = Op::call("uid -> 2000", || setresuid(2000));
    // Root's real uid stays 0 while its effective uid goes to 1000 and back: the second
    // change has new.uid == 0, and uid == 0 exempts it.
    let euid_back_to_root = Op::call("euid 1000 -> 0", || {
        || {
            // SAFETY: plain syscalls; u32::MAX (-1) leaves an id unchanged.
            unsafe {
                if libc::setresuid(u32::MAX, USER, u32::MAX) != 0 {
                    return -1;
                }
                libc::setresuid(u32::MAX, 0, u32::MAX).into()
            }
        }
    });
    let user = RealUser(USER);
    Scenario::for_cgroup("deny setuid where new.uid == 0 and uid != 0\n")
        .row(Before, user, InCgroup, &to_root, Allowed)
        .denies(user, &to_root, EPERM)
        .row(Loaded, user, InCgroup, &to_2000, Allowed)
        .row(Loaded, Root, InCgroup, &euid_back_to_root, Allowed)
        .run();
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn setgid_to_root_group_denied_with_rule_errno() {
    let to_root = Op::call("gid -> 0", || setresgid(0));
    let to_2000 = Op::call("gid -> 2000", || setresgid(2000));
    Scenario::for_cgroup(
        "deny setgid where new.gid == 0 and new.egid == 0 and uid != 0 errno EACCES\n",
    )
    .denies(RealUser(USER), &to_root, EACCES)
    .row(Loaded, RealUser(USER), InCgroup, &to_2000, Allowed)
    .run();
}
