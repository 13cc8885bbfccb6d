//! `deny exec`: the exec fails with the rule's errno inside the policy's scope, runs outside it,
//! and runs again once the policy is unloaded.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use kernel_tests::{
    assert_exec_denied, assert_ran, dir_with_true, require_guest, run_as, Cgroup, Policy, TempDir,
    USER,
};

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn exec_denied_for_non_root_in_cgroup_only() {
    require_guest();
    let (dir, exe) = dir_with_true();
    let cg = Cgroup::new();
    // Control: without a policy uid 1000 runs it in the cgroup.
    assert_ran(
        run_as(&exe, &[], Some(USER), Some(&cg)),
        "uid 1000 in the cgroup, before load",
    );

    let policy_dir = TempDir::new();
    let source = format!(
        "deny exec where path ~ \"{}/**\" and uid != 0\n",
        dir.path().display()
    );
    let policy = Policy::load_source(&policy_dir, &source, Some(&cg));

    assert_exec_denied(
        run_as(&exe, &[], Some(USER), Some(&cg)),
        libc::EPERM,
        "uid 1000 in the cgroup",
    );
    assert_ran(run_as(&exe, &[], None, Some(&cg)), "uid 0 in the cgroup");
    assert_ran(
        run_as(&exe, &[], Some(USER), None),
        "uid 1000 outside the cgroup",
    );
    assert_ran(
        run_as("/bin/true", &[], Some(USER), Some(&cg)),
        "uid 1000 in the cgroup, other path",
    );

    policy.stop();
    assert_ran(
        run_as(&exe, &[], Some(USER), Some(&cg)),
        "uid 1000 in the cgroup, after unload",
    );
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn exec_scope_includes_descendant_cgroups() {
    require_guest();
    let (dir, exe) = dir_with_true();
    let cg = Cgroup::new();
    let child = cg.child();
    let policy_dir = TempDir::new();
    let source = format!(
        "deny exec where path ~ \"{}/**\" and uid != 0\n",
        dir.path().display()
    );
    let policy = Policy::load_source(&policy_dir, &source, Some(&cg));

    assert_exec_denied(
        run_as(&exe, &[], Some(USER), Some(&child)),
        libc::EPERM,
        "uid 1000 in a child of the policy's cgroup",
    );
    policy.stop();
    assert_ran(
        run_as(&exe, &[], Some(USER), Some(&child)),
        "uid 1000 in the child cgroup, after unload",
    );
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn exec_denied_everywhere_without_cgroup_with_rule_errno() {
    require_guest();
    let (dir, exe) = dir_with_true();
    let policy_dir = TempDir::new();
    let source = format!(
        "deny exec where path == \"{}\" and uid == {USER} errno EACCES\n",
        exe.display()
    );
    let policy = Policy::load_source(&policy_dir, &source, None);

    assert_exec_denied(
        run_as(&exe, &[], Some(USER), None),
        libc::EACCES,
        "uid 1000, global policy",
    );
    assert_ran(run_as(&exe, &[], None, None), "uid 0, global policy");
    // The same binary under another name is another path.
    let other = dir.copy("/bin/true", "true2", 0o755);
    assert_ran(
        run_as(&other, &[], Some(USER), None),
        "uid 1000, another path",
    );

    policy.stop();
    assert_ran(run_as(&exe, &[], Some(USER), None), "uid 1000 after unload");
}
