//! `/**/` also matches a single `/` (globstar, as in gitignore and bash): a deny rule on
//! `DIR/etc/**/shadow` refuses `DIR/etc/shadow` itself as well as deeper files of that name,
//! for open and for exec, inside the policy's scope only, and nothing after unload.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use kernel_tests::{
    assert_exec_denied, assert_open_denied, assert_opened, assert_ran, open_as, require_guest,
    run_as, Cgroup, Policy, TempDir, USER,
};
use libc::{EACCES, EPERM, O_RDONLY};

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn globstar_covers_zero_directories_for_open_and_exec() {
    require_guest();
    let root = TempDir::new();
    root.mkdirs(&["etc", "etc/sub", "etc/sub/deeper"]);
    let shadow = root.write("etc/shadow", "secret\n", 0o644);
    let deep_shadow = root.write("etc/sub/deeper/shadow", "secret\n", 0o644);
    let near_miss = root.write("etc/shadow2", "public\n", 0o644);
    let tool = root.copy("/bin/true", "etc/tool", 0o755);
    let deep_tool = root.copy("/bin/true", "etc/sub/tool", 0o755);
    let other_tool = root.copy("/bin/true", "etc/other", 0o755);
    let cg = Cgroup::new();
    assert_opened(
        open_as(&shadow, O_RDONLY, Some(USER), Some(&cg)),
        "etc/shadow before load",
    );
    assert_ran(
        run_as(&tool, &[], Some(USER), Some(&cg)),
        "etc/tool before load",
    );

    let policy_dir = TempDir::new();
    let etc = root.join("etc");
    let source = format!(
        "deny open where path ~ \"{etc}/**/shadow\" errno EACCES\n\
         deny exec where path ~ \"{etc}/**/tool\"\n",
        etc = etc.display()
    );
    let policy = Policy::load_source(&policy_dir, &source, Some(&cg));

    assert_open_denied(
        open_as(&shadow, O_RDONLY, Some(USER), Some(&cg)),
        EACCES,
        "etc/shadow (zero directories), uid 1000 in the cgroup",
    );
    assert_open_denied(
        open_as(&shadow, O_RDONLY, None, Some(&cg)),
        EACCES,
        "etc/shadow (zero directories), uid 0 in the cgroup",
    );
    assert_open_denied(
        open_as(&deep_shadow, O_RDONLY, Some(USER), Some(&cg)),
        EACCES,
        "etc/sub/deeper/shadow, uid 1000 in the cgroup",
    );
    assert_opened(
        open_as(&near_miss, O_RDONLY, Some(USER), Some(&cg)),
        "etc/shadow2 in the cgroup",
    );
    assert_opened(
        open_as(&shadow, O_RDONLY, Some(USER), None),
        "etc/shadow outside the cgroup",
    );
    assert_exec_denied(
        run_as(&tool, &[], Some(USER), Some(&cg)),
        EPERM,
        "etc/tool (zero directories) in the cgroup",
    );
    assert_exec_denied(
        run_as(&deep_tool, &[], Some(USER), Some(&cg)),
        EPERM,
        "etc/sub/tool in the cgroup",
    );
    assert_ran(
        run_as(&other_tool, &[], Some(USER), Some(&cg)),
        "etc/other in the cgroup",
    );
    assert_ran(
        run_as(&tool, &[], Some(USER), None),
        "etc/tool outside the cgroup",
    );

    policy.stop();
    assert_opened(
        open_as(&shadow, O_RDONLY, Some(USER), Some(&cg)),
        "etc/shadow after unload",
    );
    assert_ran(
        run_as(&tool, &[], Some(USER), Some(&cg)),
        "etc/tool after unload",
    );
}
