//! A thousand globs on one event load as one policy and decide right: on open, a thousand
//! directory globs (`DIR/dN/*`, each found by its literal prefix and the rest scanned by one
//! small automaton: `lang::dispatch`); on exec, a thousand name globs behind a wildcard
//! directory (`DIR/*/toolN`, merged into one automaton). A file one of them matches is
//! refused with that rule's errno inside the policy's cgroup, one none matches (a name one
//! directory too deep for `*`, a number past the last rule) is not, and nothing is refused
//! after unload. The benchmark's glob shape (`DIR/appN/bin/t*l and uid != 0`, past the 372
//! that one merged automaton held) is tested the same way, and so is the benchmark's mix: a
//! thousand exact paths, directories and globs in turn (one mixed run, `lang::runs`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use kernel_tests::Expect::{Allowed, Denied};
use kernel_tests::Phase::{Before, Loaded, Unloaded};
use kernel_tests::Place::{InCgroup, TestCgroup};
use kernel_tests::{Identity, Op, Scenario, TempDir, USER};
use libc::{EACCES, ENOENT, EPERM, O_RDONLY};

const GLOBS: usize = 1000;

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn a_thousand_globs_per_event_in_one_policy() {
    let root = TempDir::new();
    let dir = root.path().display().to_string();
    root.mkdirs(&["d0", "d500", "d500/sub", "d999", "d1000", "bin"]);
    let first = root.write("d0/file", "data\n", 0o644);
    let middle = root.write("d500/file", "data\n", 0o644);
    let last = root.write("d999/file.conf", "data\n", 0o644);
    let too_deep = root.write("d500/sub/file", "data\n", 0o644);
    let unlisted = root.write("d1000/file", "data\n", 0o644);
    let tool = root.copy("/bin/true", "bin/tool999", 0o755);
    let tool_first = root.copy("/bin/true", "bin/tool0", 0o755);
    let other_tool = root.copy("/bin/true", "bin/tool1000", 0o755);

    let mut source = String::new();
    for i in 0..GLOBS {
        // The middle rule has an errno of its own: the automaton must name the rule.
        let errno = if i == 500 { "EPERM" } else { "EACCES" };
        source.push_str(&format!(
            "deny open where path ~ \"{dir}/d{i}/*\" errno {errno}\n"
        ));
    }
    for i in 0..GLOBS {
        source.push_str(&format!("deny exec where path ~ \"{dir}/*/tool{i}\"\n"));
    }

    let open = |name: &str, path: &std::path::Path| Op::open(name, path, O_RDONLY);
    let (first, middle, last) = (
        open("d0/file", &first),
        open("d500/file", &middle),
        open("d999/file.conf", &last),
    );
    let (too_deep, unlisted) = (
        open("d500/sub/file", &too_deep),
        open("d1000/file", &unlisted),
    );
    let (tool, tool_first, other_tool) = (
        Op::exec("bin/tool999", &tool),
        Op::exec("bin/tool0", &tool_first),
        Op::exec("bin/tool1000", &other_tool),
    );
    let user = Identity::User(USER);
    Scenario::for_cgroup(source)
        .row(Before, user, InCgroup, &middle, Allowed)
        .row(Before, user, InCgroup, &tool, Allowed)
        .row(Loaded, user, InCgroup, &first, Denied(EACCES))
        .row(Loaded, user, InCgroup, &middle, Denied(EPERM))
        .row(Loaded, Identity::Root, InCgroup, &middle, Denied(EPERM))
        .row(Loaded, user, InCgroup, &last, Denied(EACCES))
        .row(Loaded, user, InCgroup, &too_deep, Allowed)
        .row(Loaded, user, InCgroup, &unlisted, Allowed)
        .row(Loaded, user, TestCgroup, &middle, Allowed)
        .row(Loaded, user, InCgroup, &tool, Denied(EPERM))
        .row(Loaded, user, InCgroup, &tool_first, Denied(EPERM))
        .row(Loaded, user, InCgroup, &other_tool, Allowed)
        .row(Loaded, user, TestCgroup, &tool, Allowed)
        .row(Unloaded, user, InCgroup, &middle, Allowed)
        .row(Unloaded, user, InCgroup, &tool, Allowed)
        .run();
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn a_thousand_globs_with_a_literal_prefix_each_and_a_uid_gate() {
    let root = TempDir::new();
    let dir = root.path().display().to_string();
    root.mkdirs(&[
        "app0",
        "app0/bin",
        "app999",
        "app999/bin",
        "app1000",
        "app1000/bin",
    ]);
    let first = root.write("app0/bin/tool", "data\n", 0o644);
    let last = root.write("app999/bin/tl", "data\n", 0o644);
    let near_miss = root.write("app999/bin/tools", "data\n", 0o644);
    let unlisted = root.write("app1000/bin/tool", "data\n", 0o644);
    let mut source = String::new();
    for i in 0..GLOBS {
        let errno = if i == GLOBS - 1 { "EPERM" } else { "EACCES" };
        source.push_str(&format!(
            "deny open where path ~ \"{dir}/app{i}/bin/t*l\" and uid != 0 errno {errno}\n"
        ));
    }
    let open = |name: &str, path: &std::path::Path| Op::open(name, path, O_RDONLY);
    let (first, last, near_miss, unlisted) = (
        open("app0/bin/tool", &first),
        open("app999/bin/tl", &last),
        open("app999/bin/tools", &near_miss),
        open("app1000/bin/tool", &unlisted),
    );
    let user = Identity::User(USER);
    Scenario::for_cgroup(source)
        .row(Before, user, InCgroup, &last, Allowed)
        .row(Loaded, user, InCgroup, &first, Denied(EACCES))
        .row(Loaded, user, InCgroup, &last, Denied(EPERM))
        .row(Loaded, Identity::Root, InCgroup, &last, Allowed)
        .row(Loaded, user, InCgroup, &near_miss, Allowed)
        .row(Loaded, user, InCgroup, &unlisted, Allowed)
        .row(Loaded, user, TestCgroup, &last, Allowed)
        .row(Unloaded, user, InCgroup, &last, Allowed)
        .run();
}

/// A thousand rules whose kinds take turns (`DIR/appN/bin/tool`, `DIR/appN/**`,
/// `DIR/appN/bin/t*l`, each `and uid != 0`), which E0207 refused before mixed runs: each kind's
/// rules are one search, and the rule of each kind that matches is refused with its errno.
#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn a_thousand_rules_of_kinds_in_turn_in_one_policy() {
    let root = TempDir::new();
    let dir = root.path().display().to_string();
    root.mkdirs(&[
        "app0",
        "app0/bin",
        "app1",
        "app1/x",
        "app2",
        "app2/bin",
        "app999",
        "app999/bin",
        "app1000",
        "app1000/bin",
    ]);
    let exact = root.write("app0/bin/tool", "data\n", 0o644);
    let under = root.write("app1/x/y", "data\n", 0o644);
    let glob = root.write("app2/bin/tl", "data\n", 0o644);
    let last = root.write("app999/bin/tool", "data\n", 0o644);
    let exact_miss = root.write("app0/bin/tools", "data\n", 0o644);
    let glob_miss = root.write("app2/bin/tools", "data\n", 0o644);
    let unlisted = root.write("app1000/bin/tool", "data\n", 0o644);
    let source = mixed_policy(&dir, GLOBS);
    let open = |name: &str, path: &std::path::Path| Op::open(name, path, O_RDONLY);
    let ops = [
        open("app0/bin/tool", &exact),
        open("app1/x/y", &under),
        open("app2/bin/tl", &glob),
        open("app999/bin/tool", &last),
        open("app0/bin/tools", &exact_miss),
        open("app2/bin/tools", &glob_miss),
        open("app1000/bin/tool", &unlisted),
    ];
    let user = Identity::User(USER);
    Scenario::for_cgroup(source)
        .row(Before, user, InCgroup, &ops[0], Allowed)
        .row(Loaded, user, InCgroup, &ops[0], Denied(EACCES))
        .row(Loaded, user, InCgroup, &ops[1], Denied(EPERM))
        .row(Loaded, user, InCgroup, &ops[2], Denied(ENOENT))
        .row(Loaded, user, InCgroup, &ops[3], Denied(EACCES))
        .row(Loaded, Identity::Root, InCgroup, &ops[3], Allowed)
        .row(Loaded, user, InCgroup, &ops[4], Allowed)
        .row(Loaded, user, InCgroup, &ops[5], Allowed)
        .row(Loaded, user, InCgroup, &ops[6], Allowed)
        .row(Loaded, user, TestCgroup, &ops[0], Allowed)
        .row(Unloaded, user, InCgroup, &ops[0], Allowed)
        .run();
}

/// The verifier walks the dispatched globs' scan about once, whatever their number: every
/// prefix's leaf reaches it in one state, the prefix search is walked once, an instruction
/// at a time, and the glob run's rules share one exit. So seven, a hundred and a thousand
/// globs found by their prefix cost it about what seven merged globs do (one scan of the
/// whole path; `/srv/*/appN/bin/t*l`, whose one prefix `/srv/` keeps them merged), and so do
/// a thousand exact paths, directories and globs in turn (printed).
#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn dispatched_globs_cost_the_verifier_about_alike_at_any_number() {
    let globs = |n: usize, dir: &str| -> String {
        (0..n)
            .map(|i| format!("deny open where path ~ \"/srv/{dir}app{i}/bin/t*l\" and uid != 0\n"))
            .collect()
    };
    let processed = |source: &str| -> u32 {
        let stats = kernel_tests::verifier_stats(source, compiler::ir::Scope::Global);
        stats.iter().filter_map(|(_, n)| *n).sum()
    };
    let merged = processed(&globs(7, "*/"));
    let [seven, hundred, thousand] = [7, 100, GLOBS].map(|n| processed(&globs(n, "")));
    let mixed = processed(&mixed_policy("/srv", GLOBS));
    println!(
        "processed instructions: 7 merged globs {merged}; dispatched: 7 {seven}, 100 {hundred}, \
         {GLOBS} {thousand}; {GLOBS} exact paths, directories and globs in turn {mixed}"
    );
    for (what, n) in [
        ("7", seven),
        ("100", hundred),
        ("1000", thousand),
        ("1000 mixed", mixed),
    ] {
        assert!(n <= 2 * merged, "{what}: {n} against 7 merged {merged}");
    }
    assert!(thousand <= 2 * hundred, "{thousand} against {hundred}");
}

/// `n` rules whose kinds take turns under `BASE/appN`, behind one `uid != 0` gate: an exact
/// path refused with EACCES, a directory with EPERM, a glob with ENOENT.
fn mixed_policy(base: &str, n: usize) -> String {
    (0..n)
        .map(|i| {
            let (test, errno) = match i % 3 {
                0 => (format!("== \"{base}/app{i}/bin/tool\""), "EACCES"),
                1 => (format!("~ \"{base}/app{i}/**\""), "EPERM"),
                _ => (format!("~ \"{base}/app{i}/bin/t*l\""), "ENOENT"),
            };
            format!("deny open where path {test} and uid != 0 errno {errno}\n")
        })
        .collect()
}
