//! Fail closed: when the program cannot resolve a path (longer than its buffer), a deny rule
//! that needs the path denies, and an allow rule that needs it does not match. The way
//! KubeArmor's path walk failed open (its issue 2609) must not happen here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use kernel_tests::Expect::{Allowed, Denied};
use kernel_tests::Identity::User;
use kernel_tests::Phase::{Before, Loaded, Unloaded};
use kernel_tests::Place::InCgroup;
use kernel_tests::{run_as, Cgroup, Identity, Op, Scenario, TempDir, USER};
use std::path::{Path, PathBuf};

/// Creates a chain of directories below `root` whose absolute path is longer than PATH_MAX
/// (4096), one relative step at a time (an absolute path that long cannot be passed to the
/// kernel), and copies /bin/true to the bottom. Returns the relative chain.
fn deep_true(root: &Path) -> Vec<String> {
    let component = "d".repeat(200);
    let steps: Vec<String> = (0..24).map(|i| format!("{component}{i:02}")).collect();
    let saved = std::env::current_dir().expect("cwd");
    std::env::set_current_dir(root).expect("enter root");
    for step in &steps {
        std::fs::create_dir(step).expect("mkdir step");
        std::env::set_current_dir(step).expect("enter step");
    }
    std::fs::copy("/bin/true", "true").expect("copy true");
    kernel_tests::set_mode(Path::new("true"), 0o755);
    std::env::set_current_dir(saved).expect("restore cwd");
    steps
}

/// Runs `./true` as `who` in `cg` with the deep directory as the working directory.
fn run_deep(
    root: &Path,
    steps: &[String],
    who: Identity,
    cg: Option<&Cgroup>,
) -> std::io::Result<std::process::ExitStatus> {
    let saved = std::env::current_dir().expect("cwd");
    std::env::set_current_dir(root).expect("enter root");
    for step in steps {
        std::env::set_current_dir(step).expect("enter step");
    }
    let result = run_as("./true", &[], who, cg);
    std::env::set_current_dir(saved).expect("restore cwd");
    result
}

/// Every directory on the way must be searchable by uid 1000; those deeper than an absolute
/// path can name are reached relative to the working directory.
fn set_modes_deep(root: &Path, steps: &[String]) {
    let saved = std::env::current_dir().expect("cwd");
    std::env::set_current_dir(root).expect("enter root");
    for step in steps {
        kernel_tests::set_mode(Path::new(step), 0o755);
        std::env::set_current_dir(step).expect("enter step");
    }
    std::env::set_current_dir(saved).expect("restore cwd");
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn path_too_long_to_resolve_is_denied_by_deny_rules() {
    let root = TempDir::new();
    let steps = deep_true(root.path());
    set_modes_deep(root.path(), &steps);
    let absolute_len = root.path().as_os_str().len()
        + steps.iter().map(|s| s.len() + 1).sum::<usize>()
        + "/true".len();
    assert!(
        absolute_len > 4096,
        "the path is longer than PATH_MAX ({absolute_len})"
    );
    let deep = Op::program("deep exec", |who, cg| {
        run_deep(root.path(), &steps, who, cg)
    });
    // A path that resolves and does not match is untouched.
    let short = TempDir::new();
    let exe: PathBuf = short.copy("/bin/true", "true", 0o755);
    let run_short = Op::exec("short path, no match", &exe);

    // The deep binary is not under /opt: the rule matches only because its path is unknown.
    Scenario::for_cgroup("deny exec where path ~ \"/opt/**\" and uid != 0\n")
        .row(Before, User(USER), InCgroup, &deep, Allowed)
        .row(Loaded, User(USER), InCgroup, &deep, Denied(libc::EPERM))
        .row(Loaded, User(USER), InCgroup, &run_short, Allowed)
        .run();

    // An allow rule that needs the unknown path does not match, so the deny still applies.
    Scenario::for_cgroup(format!(
        "allow exec where path ~ \"{}/**\"\ndeny exec where uid != 0\n",
        root.path().display()
    ))
    .row(Loaded, User(USER), InCgroup, &deep, Denied(libc::EPERM))
    .row(Unloaded, User(USER), InCgroup, &deep, Allowed)
    .run();
}

/// An audit run's directories all match a path too long to resolve, and each rule reports
/// it: the program sends one record for the run, and krsic writes a report per rule. A path
/// that resolves and matches none is not reported.
#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn path_too_long_to_resolve_is_reported_by_every_audited_directory() {
    const RULES: usize = 1_000;
    let root = TempDir::new();
    let steps = deep_true(root.path());
    set_modes_deep(root.path(), &steps);
    let deep = Op::program("deep exec", |who, cg| {
        run_deep(root.path(), &steps, who, cg)
    });
    let short = TempDir::new();
    let exe: PathBuf = short.copy("/bin/true", "true", 0o755);
    let source: String = (0..RULES)
        .map(|i| format!("audit exec where path ~ \"/opt/pkg{}-{i}/**\"\n", i / 7))
        .collect();
    let lines = Scenario::for_cgroup(source)
        .row(
            Loaded,
            User(USER),
            InCgroup,
            &Op::exec("short path, no match", &exe),
            Allowed,
        )
        .row(Loaded, User(USER), InCgroup, &deep, Allowed)
        .wait_for_reports(RULES)
        .run();
    let audited: Vec<u64> = lines
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("a JSON report"))
        .filter(|report| report["action"] == "audit")
        .map(|report| {
            assert_eq!(
                report["attributes"]["path"],
                serde_json::Value::Null,
                "{report}"
            );
            report["rule"]["line"].as_u64().expect("a rule line")
        })
        .collect();
    let every_rule: Vec<u64> = (1..=RULES as u64).collect();
    assert_eq!(audited, every_rule);
}
