//! `deny open ... and write`: opening for writing fails with the rule's errno inside the
//! policy's scope whatever the uid, reading is not affected, and nothing is denied outside the
//! scope or after unload.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use kernel_tests::Expect::{Allowed, Denied};
use kernel_tests::Identity::{Root, User};
use kernel_tests::Phase::{Before, Loaded, Unloaded};
use kernel_tests::Place::{InCgroup, TestCgroup};
use kernel_tests::{Op, Scenario, TempDir, USER};
use libc::{EACCES, O_RDONLY, O_RDWR, O_WRONLY};

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn open_for_write_denied_in_cgroup_only() {
    let dir = TempDir::new();
    let file = dir.write("file", "data\n", 0o666);
    let other = dir.write("other", "data\n", 0o666);
    let write = Op::open("O_WRONLY", &file, O_WRONLY);
    let read_write = Op::open("O_RDWR", &file, O_RDWR);
    let read = Op::open("O_RDONLY", &file, O_RDONLY);
    let write_other = Op::open("O_WRONLY on another file", &other, O_WRONLY);
    let user = User(USER);
    Scenario::for_cgroup(format!(
        "deny open where path == \"{}\" and write errno EACCES\n",
        file.display()
    ))
    .row(Before, user, InCgroup, &write, Allowed)
    .row(Loaded, user, InCgroup, &write, Denied(EACCES))
    .row(Loaded, Root, InCgroup, &write, Denied(EACCES))
    .row(Loaded, user, InCgroup, &read_write, Denied(EACCES))
    .row(Loaded, user, InCgroup, &read, Allowed)
    .row(Loaded, Root, InCgroup, &read, Allowed)
    .row(Loaded, user, TestCgroup, &write, Allowed)
    .row(Loaded, Root, TestCgroup, &write, Allowed)
    .row(Loaded, user, InCgroup, &write_other, Allowed)
    .row(Unloaded, user, InCgroup, &write, Allowed)
    .run();
}
