//! `deny exec`: the exec fails with the rule's errno inside the policy's scope, runs outside it,
//! and runs again once the policy is unloaded.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use kernel_tests::Expect::{Allowed, Denied};
use kernel_tests::Identity::{Root, User};
use kernel_tests::Phase::{Before, Loaded, Unloaded};
use kernel_tests::Place::{ChildCgroup, InCgroup, TestCgroup};
use kernel_tests::{dir_with_true, Op, Scenario, USER};
use libc::{EACCES, EPERM};

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn exec_denied_for_non_root_in_cgroup_only() {
    let (dir, exe) = dir_with_true();
    let run_copy = Op::exec("a copy of true", &exe);
    let run_true = Op::exec("/bin/true, another path", "/bin/true");
    Scenario::for_cgroup(format!(
        "deny exec where path ~ \"{}/**\" and uid != 0\n",
        dir.path().display()
    ))
    // Control: without a policy uid 1000 runs it in the cgroup.
    .row(Before, User(USER), InCgroup, &run_copy, Allowed)
    .denies(User(USER), &run_copy, EPERM)
    .row(Loaded, Root, InCgroup, &run_copy, Allowed)
    .row(Loaded, User(USER), InCgroup, &run_true, Allowed)
    .run();
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn exec_scope_includes_descendant_cgroups() {
    let (dir, exe) = dir_with_true();
    let run_copy = Op::exec("a copy of true", &exe);
    Scenario::for_cgroup(format!(
        "deny exec where path ~ \"{}/**\" and uid != 0\n",
        dir.path().display()
    ))
    .row(Loaded, User(USER), ChildCgroup, &run_copy, Denied(EPERM))
    .row(Unloaded, User(USER), ChildCgroup, &run_copy, Allowed)
    .run();
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn exec_denied_everywhere_without_cgroup_with_rule_errno() {
    let (dir, exe) = dir_with_true();
    let run_copy = Op::exec("a copy of true, global policy", &exe);
    // The same binary under another name is another path.
    let other = dir.copy("/bin/true", "true2", 0o755);
    let run_other = Op::exec("another path, global policy", &other);
    Scenario::global(format!(
        "deny exec where path == \"{}\" and uid == {USER} errno EACCES\n",
        exe.display()
    ))
    .row(Loaded, User(USER), TestCgroup, &run_copy, Denied(EACCES))
    .row(Loaded, Root, TestCgroup, &run_copy, Allowed)
    .row(Loaded, User(USER), TestCgroup, &run_other, Allowed)
    .row(Unloaded, User(USER), TestCgroup, &run_copy, Allowed)
    .run();
}
