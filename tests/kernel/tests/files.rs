//! The file-system events (`unlink`, `mkdir`, `create`, `rename`, ...): their paths are walked
//! dentry by dentry inside the program, since `bpf_d_path` is refused on the `path_*` hooks.
//! Each test makes a real process in the test cgroup (uid 1000 where it matters) perform the
//! operation and checks that it fails with the rule's errno, that it succeeds outside the
//! cgroup, and that it succeeds again once the policy is unloaded.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use kernel_tests::{
    assert_done, assert_refused, c_path, call_as, require_guest, set_mode, Cgroup, Policy, TempDir,
    USER,
};
use libc::{EACCES, EPERM};
use std::path::{Path, PathBuf};

/// A directory uid 1000 may create and remove names in.
fn shared_dir() -> TempDir {
    let dir = TempDir::new();
    set_mode(dir.path(), 0o777);
    dir
}

/// `mkdir -p` for `path`, returning the directories it made (deepest first), so that the
/// test can remove exactly those.
fn make_dirs(path: &Path) -> Vec<PathBuf> {
    let mut made = Vec::new();
    let mut missing = Vec::new();
    let mut at = Some(path);
    while let Some(dir) = at {
        if dir.exists() {
            break;
        }
        missing.push(dir.to_path_buf());
        at = dir.parent();
    }
    for dir in missing.iter().rev() {
        std::fs::create_dir(dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        made.push(dir.clone());
    }
    made.reverse();
    made
}

/// Removes `file` and then the directories [`make_dirs`] made, on drop.
struct Cleanup {
    file: PathBuf,
    dirs: Vec<PathBuf>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.file);
        for dir in &self.dirs {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

fn unlink(path: &Path) -> impl FnOnce() -> libc::c_long {
    let path = c_path(path);
    // SAFETY: path is NUL-terminated.
    move || unsafe { libc::unlink(path.as_ptr()) }.into()
}

/// Names the calling thread `name` (what `comm` reads), then unlinks `path`.
fn unlink_named(path: &Path, name: &'static [u8]) -> impl FnOnce() -> libc::c_long {
    let path = c_path(path);
    move || {
        // SAFETY: name is NUL-terminated; prctl(PR_SET_NAME) reads at most 16 bytes.
        unsafe {
            libc::prctl(libc::PR_SET_NAME, name.as_ptr());
            libc::unlink(path.as_ptr()).into()
        }
    }
}

fn mkdir(path: &Path, mode: libc::mode_t) -> impl FnOnce() -> libc::c_long {
    let path = c_path(path);
    move || {
        // SAFETY: plain syscalls; path is NUL-terminated.
        unsafe {
            libc::umask(0);
            libc::mkdir(path.as_ptr(), mode).into()
        }
    }
}

/// The rule as the issue writes it: nothing under /var/log is removed, except by logrotate.
#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn unlink_under_var_log_denied_unless_logrotate() {
    require_guest();
    let dir = Path::new("/var/log").join(format!("krsi-files-{}", std::process::id()));
    let made = make_dirs(&dir);
    set_mode(&dir, 0o777);
    let file = dir.join("syslog");
    let _cleanup = Cleanup {
        file: file.clone(),
        dirs: made,
    };
    let recreate = || {
        std::fs::write(&file, "log\n").unwrap();
        set_mode(&file, 0o666);
    };
    let cg = Cgroup::new();
    let policy_dir = TempDir::new();
    let policy = Policy::load_source(
        &policy_dir,
        "deny unlink where path ~ \"/var/log/**\" and comm != \"logrotate\"\n",
        Some(&cg),
    );

    recreate();
    assert_refused(
        call_as(Some(USER), Some(&cg), unlink(&file)),
        EPERM,
        "unlink under /var/log, uid 1000 in the cgroup",
    );
    assert!(file.exists(), "the denied unlink left the file");
    assert_refused(
        call_as(None, Some(&cg), unlink(&file)),
        EPERM,
        "unlink under /var/log, uid 0 in the cgroup",
    );
    assert_done(
        call_as(Some(USER), Some(&cg), unlink_named(&file, b"logrotate\0")),
        "unlink under /var/log by a thread named logrotate",
    );
    assert!(!file.exists());
    recreate();
    assert_done(
        call_as(Some(USER), None, unlink(&file)),
        "unlink under /var/log outside the cgroup",
    );
    let elsewhere = shared_dir();
    let other = elsewhere.write("other", "x", 0o666);
    assert_done(
        call_as(Some(USER), Some(&cg), unlink(&other)),
        "unlink outside /var/log in the cgroup",
    );

    policy.stop();
    recreate();
    assert_done(
        call_as(Some(USER), Some(&cg), unlink(&file)),
        "unlink under /var/log in the cgroup after unload",
    );
}

/// `mode` is the mode mkdir(2) asks for (after the umask): a world-writable directory under
/// the test directory is refused, a private one is not.
#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn mkdir_denied_by_path_and_mode_in_cgroup_only() {
    require_guest();
    let dir = shared_dir();
    let cg = Cgroup::new();
    let policy_dir = TempDir::new();
    let source = format!(
        "deny mkdir where path ~ \"{}/**\" and mode & 0o002 != 0 errno EACCES\n",
        dir.path().display()
    );
    let policy = Policy::load_source(&policy_dir, &source, Some(&cg));

    let open = dir.join("open");
    assert_refused(
        call_as(Some(USER), Some(&cg), mkdir(&open, 0o777)),
        EACCES,
        "mkdir 0777 in the cgroup",
    );
    assert!(!open.exists(), "the denied mkdir made nothing");
    let deep = dir.join("private");
    assert_done(
        call_as(Some(USER), Some(&cg), mkdir(&deep, 0o755)),
        "mkdir 0755 in the cgroup",
    );
    set_mode(&deep, 0o777);
    assert_refused(
        call_as(Some(USER), Some(&cg), mkdir(&deep.join("sub"), 0o777)),
        EACCES,
        "mkdir 0777 two levels down in the cgroup",
    );
    assert_done(
        call_as(Some(USER), None, mkdir(&open, 0o777)),
        "mkdir 0777 outside the cgroup",
    );
    std::fs::remove_dir(&open).unwrap();

    policy.stop();
    assert_done(
        call_as(Some(USER), Some(&cg), mkdir(&open, 0o777)),
        "mkdir 0777 in the cgroup after unload",
    );
}
