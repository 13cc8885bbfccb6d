//! `deny open ... and write`: opening for writing fails with the rule's errno inside the
//! policy's scope whatever the uid, reading is not affected, and nothing is denied outside the
//! scope or after unload.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use kernel_tests::{
    assert_open_denied, assert_opened, open_as, require_guest, Cgroup, Policy, TempDir, USER,
};
use libc::{EACCES, O_RDONLY, O_RDWR, O_WRONLY};

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn open_for_write_denied_in_cgroup_only() {
    require_guest();
    let dir = TempDir::new();
    let file = dir.write("file", "data\n", 0o666);
    let cg = Cgroup::new();
    assert_opened(
        open_as(&file, O_WRONLY, Some(USER), Some(&cg)),
        "uid 1000 in the cgroup, before load",
    );

    let policy_dir = TempDir::new();
    let source = format!(
        "deny open where path == \"{}\" and write errno EACCES\n",
        file.display()
    );
    let policy = Policy::load_source(&policy_dir, &source, Some(&cg));

    assert_open_denied(
        open_as(&file, O_WRONLY, Some(USER), Some(&cg)),
        EACCES,
        "O_WRONLY, uid 1000 in the cgroup",
    );
    assert_open_denied(
        open_as(&file, O_WRONLY, None, Some(&cg)),
        EACCES,
        "O_WRONLY, uid 0 in the cgroup",
    );
    assert_open_denied(
        open_as(&file, O_RDWR, Some(USER), Some(&cg)),
        EACCES,
        "O_RDWR, uid 1000 in the cgroup",
    );
    assert_opened(
        open_as(&file, O_RDONLY, Some(USER), Some(&cg)),
        "O_RDONLY, uid 1000 in the cgroup",
    );
    assert_opened(
        open_as(&file, O_RDONLY, None, Some(&cg)),
        "O_RDONLY, uid 0 in the cgroup",
    );
    assert_opened(
        open_as(&file, O_WRONLY, Some(USER), None),
        "O_WRONLY, uid 1000 outside the cgroup",
    );
    assert_opened(
        open_as(&file, O_WRONLY, None, None),
        "O_WRONLY, uid 0 outside the cgroup",
    );
    let other = dir.write("other", "data\n", 0o666);
    assert_opened(
        open_as(&other, O_WRONLY, Some(USER), Some(&cg)),
        "O_WRONLY on another file in the cgroup",
    );

    policy.stop();
    assert_opened(
        open_as(&file, O_WRONLY, Some(USER), Some(&cg)),
        "O_WRONLY, uid 1000 in the cgroup, after unload",
    );
}
