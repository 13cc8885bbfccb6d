//! Process events: `kill`, `capable`, `ptrace`, `setuid`, `setgid`. Each rule is loaded for a
//! cgroup; a real process in the cgroup doing the operation fails with the rule's errno, and
//! the same operation succeeds (or fails with the kernel's own error) outside the cgroup, for
//! a process the rule's condition does not cover, and after unload.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use kernel_tests::{
    assert_call_denied, assert_call_fails_not_with, assert_call_ok, call_as, require_guest, Cgroup,
    Identity, Policy, Sleeper, TempDir, USER,
};
use libc::{EPERM, SIGKILL};

fn kill(pid: libc::pid_t, sig: libc::c_int) -> impl FnOnce() -> libc::c_long {
    // SAFETY: kill has no memory preconditions.
    move || unsafe { libc::kill(pid, sig) }.into()
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn kill_sigkill_to_sshd_denied_in_cgroup_only() {
    require_guest();
    let cg = Cgroup::new();
    let policy_dir = TempDir::new();
    let policy = Policy::load_source(
        &policy_dir,
        "deny kill where sig == SIGKILL and target.comm == \"sshd\"\n",
        Some(&cg),
    );

    let sshd = Sleeper::new("sshd");
    assert_call_denied(
        call_as(Identity::Root, Some(&cg), kill(sshd.pid(), SIGKILL)),
        EPERM,
        "SIGKILL to `sshd` from the cgroup",
    );
    assert!(
        sshd.alive(),
        "the denied SIGKILL must not have been delivered"
    );
    // Signal 0 only probes: not SIGKILL.
    assert_call_ok(
        call_as(Identity::Root, Some(&cg), kill(sshd.pid(), 0)),
        "signal 0 to `sshd` from the cgroup",
    );
    // Another name: the rule does not match.
    let other = Sleeper::new("sshd-other");
    assert_call_ok(
        call_as(Identity::Root, Some(&cg), kill(other.pid(), SIGKILL)),
        "SIGKILL to `sshd-other` from the cgroup",
    );
    // Outside the cgroup the rule does not apply.
    assert_call_ok(
        call_as(Identity::Root, None, kill(sshd.pid(), SIGKILL)),
        "SIGKILL to `sshd` from outside the cgroup",
    );

    policy.stop();
    let sshd = Sleeper::new("sshd");
    assert_call_ok(
        call_as(Identity::Root, Some(&cg), kill(sshd.pid(), SIGKILL)),
        "SIGKILL to `sshd` from the cgroup, after unload",
    );
}

/// finit_module of a file that is not a module: CAP_SYS_MODULE is checked first (EPERM
/// without it), then the kernel refuses the contents with its own error.
fn load_garbage_module(fd: libc::c_int) -> impl FnOnce() -> libc::c_long {
    static EMPTY: &[u8] = b"\0";
    // SAFETY: fd is open for reading, EMPTY is a NUL-terminated parameter string.
    move || unsafe { libc::syscall(libc::SYS_finit_module, fd, EMPTY.as_ptr(), 0) }
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn capable_sys_module_denied_for_non_root_uid_in_cgroup_only() {
    require_guest();
    let dir = TempDir::new();
    let garbage = dir.write("garbage.ko", vec![0x42u8; 4096], 0o644);
    let file = std::fs::File::open(&garbage).unwrap();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&file);
    let cg = Cgroup::new();
    // Before load: real uid 1000 with euid 0 has CAP_SYS_MODULE; the kernel refuses the
    // contents, not the capability.
    let kernel_error = assert_call_fails_not_with(
        call_as(Identity::RealUser(USER), Some(&cg), load_garbage_module(fd)),
        EPERM,
        "garbage module, real uid 1000 in the cgroup, before load",
    );

    let policy_dir = TempDir::new();
    let policy = Policy::load_source(
        &policy_dir,
        "deny capable where cap == CAP_SYS_MODULE and uid != 0\n",
        Some(&cg),
    );
    assert_call_denied(
        call_as(Identity::RealUser(USER), Some(&cg), load_garbage_module(fd)),
        EPERM,
        "garbage module, real uid 1000 in the cgroup",
    );
    assert_call_denied(
        call_as(Identity::RealUser(USER), Some(&cg), load_garbage_module(fd)),
        EPERM,
        "garbage module, real uid 1000 in the cgroup",
    );
    assert_call_fails_not_with(
        call_as(Identity::Root, Some(&cg), load_garbage_module(fd)),
        EPERM,
        "garbage module, uid 0 in the cgroup",
    );
    assert_call_fails_not_with(
        call_as(Identity::RealUser(USER), None, load_garbage_module(fd)),
        EPERM,
        "garbage module, real uid 1000 outside the cgroup",
    );
    policy.stop();
    let after = assert_call_fails_not_with(
        call_as(Identity::RealUser(USER), Some(&cg), load_garbage_module(fd)),
        EPERM,
        "garbage module, real uid 1000 in the cgroup, after unload",
    );
    assert_eq!(after, kernel_error);
}

fn seize(pid: libc::pid_t) -> impl FnOnce() -> libc::c_long {
    // PTRACE_SEIZE does not stop the tracee; the tracer's exit detaches it.
    // SAFETY: ptrace with null addr/data for PTRACE_SEIZE.
    move || unsafe {
        libc::ptrace(
            libc::PTRACE_SEIZE,
            pid,
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_void>(),
        )
    }
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn ptrace_of_root_denied_for_non_root_uid_in_cgroup_only() {
    require_guest();
    let cg = Cgroup::new();
    let target = Sleeper::new("ptrace-target");
    assert_call_ok(
        call_as(Identity::RealUser(USER), Some(&cg), seize(target.pid())),
        "seize a root process, real uid 1000 in the cgroup, before load",
    );

    let policy_dir = TempDir::new();
    let policy = Policy::load_source(
        &policy_dir,
        "deny ptrace where target.uid == 0 and uid != 0\n",
        Some(&cg),
    );
    assert_call_denied(
        call_as(Identity::RealUser(USER), Some(&cg), seize(target.pid())),
        EPERM,
        "seize a root process, real uid 1000 in the cgroup",
    );
    assert_call_ok(
        call_as(Identity::Root, Some(&cg), seize(target.pid())),
        "seize a root process, uid 0 in the cgroup",
    );
    assert_call_ok(
        call_as(Identity::RealUser(USER), None, seize(target.pid())),
        "seize a root process, real uid 1000 outside the cgroup",
    );
    policy.stop();
    assert_call_ok(
        call_as(Identity::RealUser(USER), Some(&cg), seize(target.pid())),
        "seize a root process, real uid 1000 in the cgroup, after unload",
    );
}

fn setresuid(r: u32) -> impl FnOnce() -> libc::c_long {
    // SAFETY: plain syscall; u32::MAX (-1) leaves an id unchanged.
    move || unsafe { libc::setresuid(r, u32::MAX, u32::MAX) }.into()
}

fn setresgid(r: u32) -> impl FnOnce() -> libc::c_long {
    // SAFETY: plain syscall; u32::MAX (-1) leaves an id unchanged.
    move || unsafe { libc::setresgid(r, u32::MAX, u32::MAX) }.into()
}

// Note: setresuid/setresgid that change nothing return 0 without calling the LSM hook, so
// every call below changes an id.
#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn setuid_to_root_denied_for_non_root_uid_in_cgroup_only() {
    require_guest();
    let cg = Cgroup::new();
    assert_call_ok(
        call_as(Identity::RealUser(USER), Some(&cg), setresuid(0)),
        "real uid 1000 -> 0 in the cgroup, before load",
    );
    let policy_dir = TempDir::new();
    let policy = Policy::load_source(
        &policy_dir,
        "deny setuid where new.uid == 0 and uid != 0\n",
        Some(&cg),
    );
    assert_call_denied(
        call_as(Identity::RealUser(USER), Some(&cg), setresuid(0)),
        EPERM,
        "real uid 1000 -> 0 in the cgroup",
    );
    assert_call_ok(
        call_as(Identity::RealUser(USER), Some(&cg), setresuid(2000)),
        "real uid 1000 -> 2000 in the cgroup",
    );
    // Root's real uid stays 0 while its effective uid goes to 1000 and back: the second
    // change has new.uid == 0, and uid == 0 exempts it.
    assert_call_ok(
        call_as(Identity::Root, Some(&cg), || {
            // SAFETY: plain syscalls; u32::MAX (-1) leaves an id unchanged.
            unsafe {
                if libc::setresuid(u32::MAX, USER, u32::MAX) != 0 {
                    return -1;
                }
                libc::setresuid(u32::MAX, 0, u32::MAX).into()
            }
        }),
        "uid 0, euid 1000 -> 0 in the cgroup",
    );
    assert_call_ok(
        call_as(Identity::RealUser(USER), None, setresuid(0)),
        "real uid 1000 -> 0 outside the cgroup",
    );
    policy.stop();
    assert_call_ok(
        call_as(Identity::RealUser(USER), Some(&cg), setresuid(0)),
        "real uid 1000 -> 0 in the cgroup, after unload",
    );
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn setgid_to_root_group_denied_with_rule_errno() {
    require_guest();
    let cg = Cgroup::new();
    let policy_dir = TempDir::new();
    let policy = Policy::load_source(
        &policy_dir,
        "deny setgid where new.gid == 0 and new.egid == 0 and uid != 0 errno EACCES\n",
        Some(&cg),
    );
    assert_call_denied(
        call_as(Identity::RealUser(USER), Some(&cg), setresgid(0)),
        libc::EACCES,
        "real uid 1000, gid -> 0 in the cgroup",
    );
    assert_call_ok(
        call_as(Identity::RealUser(USER), Some(&cg), setresgid(2000)),
        "real uid 1000, gid -> 2000 in the cgroup",
    );
    assert_call_ok(
        call_as(Identity::RealUser(USER), None, setresgid(0)),
        "real uid 1000, gid -> 0 outside the cgroup",
    );
    policy.stop();
    assert_call_ok(
        call_as(Identity::RealUser(USER), Some(&cg), setresgid(0)),
        "real uid 1000, gid -> 0 in the cgroup, after unload",
    );
}
