//! Large policies load as one policy and decide right: a thousand exact paths (a decision
//! tree), five hundred directory prefixes (a trie), and three hundred rules decided by the uid
//! before the path, also when one rule among them has another. Each listed file is refused inside the policy's cgroup, an unlisted one is not, and
//! nothing is refused after unload.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use kernel_tests::{
    assert_exec_denied, assert_open_denied, assert_opened, assert_ran, dir_with_true, open_as,
    require_guest, run_as, Cgroup, Policy, TempDir, USER,
};
use libc::{EACCES, EPERM, O_RDONLY};
use std::path::Path;

/// `n` paths under `dir` that do not exist, with `real` at position `at`.
fn listed(dir: &Path, n: usize, real: &Path, at: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            if i == at {
                real.display().to_string()
            } else {
                format!("{}/pkg{}/file{i}.conf", dir.display(), i / 7)
            }
        })
        .collect()
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn a_thousand_exact_paths_in_one_policy() {
    require_guest();
    let dir = TempDir::new();
    let first = dir.write("first", "data\n", 0o644);
    let middle = dir.write("middle", "data\n", 0o644);
    let unlisted = dir.write("unlisted", "data\n", 0o644);
    let mut paths = listed(dir.path(), 1000, &middle, 500);
    paths[0] = first.display().to_string();
    let source: String = paths
        .iter()
        .map(|p| format!("deny open where path == \"{p}\" errno EACCES\n"))
        .collect();
    let cg = Cgroup::new();
    let policy_dir = TempDir::new();
    let policy = Policy::load_source(&policy_dir, &source, Some(&cg));
    for (file, what) in [(&first, "the first path"), (&middle, "the 501st path")] {
        assert_open_denied(open_as(file, O_RDONLY, Some(USER), Some(&cg)), EACCES, what);
        assert_open_denied(open_as(file, O_RDONLY, None, Some(&cg)), EACCES, what);
    }
    assert_opened(
        open_as(&unlisted, O_RDONLY, Some(USER), Some(&cg)),
        "a path not in the set",
    );
    assert_opened(
        open_as(&middle, O_RDONLY, Some(USER), None),
        "a listed path outside the cgroup",
    );
    policy.stop();
    assert_opened(
        open_as(&middle, O_RDONLY, Some(USER), Some(&cg)),
        "a listed path after unload",
    );
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn a_thousand_executables_as_one_list() {
    require_guest();
    let (dir, exe) = dir_with_true();
    let other = dir.copy("/bin/true", "other", 0o755);
    let paths: Vec<String> = listed(dir.path(), 1000, &exe, 999)
        .into_iter()
        .map(|p| format!("\"{p}\""))
        .collect();
    let source = format!("deny exec where path in [{}]\n", paths.join(", "));
    let cg = Cgroup::new();
    let policy_dir = TempDir::new();
    let policy = Policy::load_source(&policy_dir, &source, Some(&cg));
    assert_exec_denied(
        run_as(&exe, &[], Some(USER), Some(&cg)),
        EPERM,
        "the last path of the list",
    );
    assert_ran(
        run_as(&other, &[], Some(USER), Some(&cg)),
        "an executable not in the list",
    );
    policy.stop();
    assert_ran(
        run_as(&exe, &[], Some(USER), Some(&cg)),
        "a listed executable after unload",
    );
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn five_hundred_directory_prefixes() {
    require_guest();
    let dir = TempDir::new();
    std::fs::create_dir(dir.join("last")).unwrap();
    let inside = dir.write("last/file", "data\n", 0o644);
    let outside = dir.write("lastfile", "data\n", 0o644);
    let source: String = (0..500)
        .map(|i| {
            let prefix = if i == 499 {
                dir.join("last").display().to_string()
            } else {
                format!("{}/pkg{}-{i}", dir.path().display(), i / 7)
            };
            format!("deny open where path ~ \"{prefix}/**\"\n")
        })
        .collect();
    let cg = Cgroup::new();
    let policy_dir = TempDir::new();
    let policy = Policy::load_source(&policy_dir, &source, Some(&cg));
    assert_open_denied(
        open_as(&inside, O_RDONLY, Some(USER), Some(&cg)),
        EPERM,
        "a file under the last prefix",
    );
    assert_opened(
        open_as(&outside, O_RDONLY, Some(USER), Some(&cg)),
        "a file beside the last prefix's directory",
    );
    policy.stop();
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn three_hundred_rules_decided_by_uid_before_the_path() {
    require_guest();
    let dir = TempDir::new();
    let file = dir.write("file", "data\n", 0o644);
    // The uid test they share is tested once, before the path; the rest is a literal tree.
    let source: String = listed(dir.path(), 300, &file, 150)
        .iter()
        .map(|p| format!("deny open where path == \"{p}\" and uid != 0\n"))
        .collect();
    let cg = Cgroup::new();
    let policy_dir = TempDir::new();
    let policy = Policy::load_source(&policy_dir, &source, Some(&cg));
    assert_open_denied(
        open_as(&file, O_RDONLY, Some(USER), Some(&cg)),
        EPERM,
        "uid 1000 on a listed path",
    );
    assert_opened(
        open_as(&file, O_RDONLY, None, Some(&cg)),
        "uid 0 on a listed path",
    );
    policy.stop();
}

/// A rule with another cheap test among a thousand `... and uid != 0` rules leaves no test
/// every rule shares; each side of it is still one tree, behind its own uid test.
#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn a_thousand_rules_around_one_with_another_cheap_test() {
    require_guest();
    let dir = TempDir::new();
    let last = dir.write("last", "data\n", 0o644);
    let odd = dir.write("odd", "data\n", 0o644);
    let unlisted = dir.write("unlisted", "data\n", 0o644);
    let mut source = String::new();
    for (i, p) in listed(dir.path(), 1000, &last, 999).iter().enumerate() {
        if i == 500 {
            source += &format!(
                "deny open where path == \"{}\" and uid != 5 errno EACCES\n",
                odd.display()
            );
        }
        source += &format!("deny open where path == \"{p}\" and uid != 0\n");
    }
    let cg = Cgroup::new();
    let policy_dir = TempDir::new();
    let policy = Policy::load_source(&policy_dir, &source, Some(&cg));
    assert_open_denied(
        open_as(&last, O_RDONLY, Some(USER), Some(&cg)),
        EPERM,
        "uid 1000 on the last path",
    );
    assert_opened(
        open_as(&last, O_RDONLY, None, Some(&cg)),
        "uid 0 on the last path",
    );
    for (user, what) in [
        (Some(USER), "uid 1000 on the odd rule's path"),
        (None, "uid 0 on it"),
    ] {
        assert_open_denied(open_as(&odd, O_RDONLY, user, Some(&cg)), EACCES, what);
    }
    assert_opened(
        open_as(&unlisted, O_RDONLY, Some(USER), Some(&cg)),
        "a path not in the set",
    );
    policy.stop();
}

/// Ten thousand exact paths behind a uid test: a tree too large for one program's jumps, cut
/// into functions (bpf-to-bpf calls) whose leaves record the rule for one shared exit.
#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn ten_thousand_exact_paths_in_one_policy() {
    require_guest();
    let dir = TempDir::new();
    let first = dir.write("first", "data\n", 0o644);
    let last = dir.write("last", "data\n", 0o644);
    let unlisted = dir.write("unlisted", "data\n", 0o644);
    let mut paths = listed(dir.path(), 10_000, &last, 9_999);
    paths[0] = first.display().to_string();
    let source: String = paths
        .iter()
        // The default errno (EPERM) keeps the 10,000 lines within the 1 MiB a policy may be.
        .map(|p| format!("deny open where path == \"{p}\" and uid != 0\n"))
        .collect();
    let cg = Cgroup::new();
    let policy_dir = TempDir::new();
    let policy = Policy::load_source(&policy_dir, &source, Some(&cg));
    for (file, what) in [(&first, "the first path"), (&last, "the last path")] {
        assert_open_denied(open_as(file, O_RDONLY, Some(USER), Some(&cg)), EPERM, what);
    }
    assert_opened(
        open_as(&last, O_RDONLY, None, Some(&cg)),
        "uid 0 on a listed path",
    );
    assert_opened(
        open_as(&unlisted, O_RDONLY, Some(USER), Some(&cg)),
        "a path not in the set",
    );
    policy.stop();
    assert_opened(
        open_as(&last, O_RDONLY, Some(USER), Some(&cg)),
        "a listed path after unload",
    );
}

/// Ten thousand directory prefixes in one policy: a trie cut into functions.
#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn ten_thousand_directory_prefixes() {
    require_guest();
    let dir = TempDir::new();
    for name in ["first", "last"] {
        std::fs::create_dir(dir.join(name)).unwrap();
    }
    let in_first = dir.write("first/file", "data\n", 0o644);
    let in_last = dir.write("last/file", "data\n", 0o644);
    let outside = dir.write("lastfile", "data\n", 0o644);
    let source: String = (0..10_000)
        .map(|i| {
            let prefix = match i {
                0 => dir.join("first").display().to_string(),
                9_999 => dir.join("last").display().to_string(),
                _ => format!("{}/pkg{}-{i}", dir.path().display(), i / 7),
            };
            format!("deny open where path ~ \"{prefix}/**\"\n")
        })
        .collect();
    let cg = Cgroup::new();
    let policy_dir = TempDir::new();
    let policy = Policy::load_source(&policy_dir, &source, Some(&cg));
    for (file, what) in [
        (&in_first, "a file under the first prefix"),
        (&in_last, "a file under the last prefix"),
    ] {
        assert_open_denied(open_as(file, O_RDONLY, Some(USER), Some(&cg)), EPERM, what);
    }
    assert_opened(
        open_as(&outside, O_RDONLY, Some(USER), Some(&cg)),
        "a file beside the last prefix's directory",
    );
    policy.stop();
    assert_opened(
        open_as(&in_last, O_RDONLY, Some(USER), Some(&cg)),
        "a file under a listed prefix after unload",
    );
}
