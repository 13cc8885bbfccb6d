//! The `kill` action offline: the compiled program refuses with the rule's errno, sends
//! SIGKILL (recorded by the offline machine) and reports `kill`; in audit mode it lets the
//! operation through, sends nothing and reports `would-kill`; an `allow` rule beats it.
//! The kernel side (the process really dies) is tests/kernel/tests/argv.rs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::fixture_kernel;
use compiler::ir::{Mode, Scope, Target};
use compiler::report::{FLAG_DENIED, FLAG_KILL, FLAG_WOULD_DENY};
use compiler::vm::{decide_and_report, Reported};
use lang::catalog::{self, ValueType};
use lang::checked::AttrValue;
use lang::eval::{self, Decision, EventInput};
use std::collections::BTreeMap;

/// An `exec` of `path` by uid 1000, every other attribute at its zero value.
fn exec(path: &str) -> EventInput {
    let event = catalog::event("exec").unwrap();
    let mut values = BTreeMap::new();
    for attribute in event.attributes() {
        let value = match attribute.ty {
            ValueType::Str | ValueType::Path => AttrValue::Str(Vec::new()),
            ValueType::Bool => AttrValue::Bool(false),
            _ => AttrValue::Int(0),
        };
        values.insert(attribute.name, value);
    }
    values.insert("path", AttrValue::Str(path.as_bytes().to_vec()));
    values.insert("uid", AttrValue::Int(1000));
    EventInput {
        event: "exec",
        values,
        in_scope: true,
    }
}

/// The reference decision, and the compiled program's decision and reports, under `mode`.
fn run(
    source: &str,
    mode: Option<Mode>,
    input: &EventInput,
) -> (Decision, Decision, Vec<Reported>) {
    let kernel = fixture_kernel();
    let (checked, diagnostics) = lang::front_end(source, &kernel);
    let checked = checked.unwrap_or_else(|| panic!("{diagnostics:?}"));
    let target = Target {
        mode,
        ..Target::new(Scope::Global)
    };
    let object = compiler::compile(&checked, target).unwrap();
    let (outcome, reports) = decide_and_report(&object.ir, &object.spec, input).unwrap();
    (
        eval::evaluate(&checked, input, false),
        outcome.decision,
        reports,
    )
}

const POLICY: &str = "\
deny exec where path == \"/usr/bin/nc\" errno EACCES
kill exec where path ~ \"/tmp/**\" errno ENOENT
allow exec where path == \"/tmp/ci-runner\"
";

#[test]
fn a_kill_rule_refuses_kills_and_reports_kill() {
    let (reference, compiled, reports) = run(POLICY, None, &exec("/tmp/xmrig"));
    let killed = Decision::Kill { errno: 2, rule: 1 };
    assert_eq!(reference, killed);
    assert_eq!(compiled, killed);
    assert_eq!(
        reports,
        [Reported {
            rule: 1,
            flags: FLAG_DENIED | FLAG_KILL
        }]
    );
}

#[test]
fn a_deny_rule_beside_it_does_not_kill() {
    let (reference, compiled, reports) = run(POLICY, None, &exec("/usr/bin/nc"));
    let denied = Decision::Deny { errno: 13, rule: 0 };
    assert_eq!((reference, compiled), (denied, denied));
    assert_eq!(
        reports,
        [Reported {
            rule: 0,
            flags: FLAG_DENIED
        }]
    );
}

#[test]
fn allow_beats_kill() {
    let (reference, compiled, reports) = run(POLICY, None, &exec("/tmp/ci-runner"));
    assert_eq!((reference, compiled), (Decision::Allow, Decision::Allow));
    assert!(reports.is_empty());
}

#[test]
fn audit_mode_reports_would_kill_and_neither_refuses_nor_kills() {
    let (_, compiled, reports) = run(POLICY, Some(Mode::Audit), &exec("/tmp/xmrig"));
    // The offline machine's decision is a kill only if the program sent SIGKILL.
    assert_eq!(compiled, Decision::Allow);
    assert_eq!(
        reports,
        [Reported {
            rule: 1,
            flags: FLAG_WOULD_DENY | FLAG_KILL
        }]
    );
}

#[test]
fn the_first_refusing_rule_decides_whether_it_is_deny_or_kill() {
    let source = "kill exec where uid == 1000\ndeny exec where path ~ \"/tmp/**\"\n";
    let (reference, compiled, _) = run(source, None, &exec("/tmp/x"));
    assert_eq!(reference, Decision::Kill { errno: 1, rule: 0 });
    assert_eq!(compiled, reference);
    let source = "deny exec where path ~ \"/tmp/**\"\nkill exec where uid == 1000\n";
    let (reference, compiled, _) = run(source, None, &exec("/tmp/x"));
    assert_eq!(reference, Decision::Deny { errno: 1, rule: 0 });
    assert_eq!(compiled, reference);
}

#[test]
fn kill_is_an_action_and_still_an_event() {
    // `kill` names both the action and the signal event: `kill kill` kills a process that
    // sends the signal the rule names.
    let source = "kill kill where sig == SIGUSR1\n";
    let kernel = fixture_kernel();
    let (checked, diagnostics) = lang::front_end(source, &kernel);
    let checked = checked.unwrap_or_else(|| panic!("{diagnostics:?}"));
    assert_eq!(checked.rules[0].event.name, "kill");
    assert_eq!(checked.rules[0].action, lang::ast::Action::Kill);
}

/// An `exec` of `args[0]` with these arguments.
fn exec_with(args: &[&str]) -> EventInput {
    let mut input = exec(args[0]);
    let block = lang::cmdline::block(args);
    input.values.insert("cmdline", AttrValue::Str(block));
    input
        .values
        .insert("argc", AttrValue::Int(args.len() as u64));
    input
}

/// One argument and any argument, offline, the reference and the compiled program alike: an
/// argument past the count is no string (`==` false, `!=` true), an unknown line (past 32
/// arguments) fails closed for the arguments it may hold, and an argument holding a space is
/// one argument.
#[test]
fn argument_tests_decide_absent_unknown_and_spaced_arguments() {
    let killed = |source: &str, args: &[&str]| {
        let (reference, compiled, _) = run(source, None, &exec_with(args));
        assert_eq!(reference, compiled, "{source} {args:?}");
        matches!(reference, Decision::Kill { .. })
    };
    let eq = "kill exec where argv[2] == \"x\"\n";
    let ne = "kill exec where argv[2] != \"x\"\n";
    assert!(killed(eq, &["/bin/a", "y", "x"]));
    assert!(!killed(eq, &["/bin/a", "x"]), "absent: `==` is false");
    assert!(killed(ne, &["/bin/a", "x"]), "absent: `!=` is true");
    assert!(!killed(ne, &["/bin/a", "y", "x"]));
    assert!(
        killed(ne, &["/bin/a", "y", ""]),
        "an empty argument is there"
    );
    // Past 32 arguments the line is unknown: both rules match (fail closed).
    let many: Vec<&str> = ["/bin/a", "y", "z"]
        .into_iter()
        .chain(std::iter::repeat_n("a", 40))
        .collect();
    assert!(killed(eq, &many) && killed(ne, &many));
    // A line too long to join, with argument 2 absent: absent, not unknown.
    let long = "l".repeat(5000);
    assert!(!killed(eq, &["/bin/a", &long]));
    let any = "kill exec where argv == \"a b\"\n";
    assert!(killed(any, &["/bin/a", "a b"]));
    assert!(
        !killed(any, &["/bin/a", "a", "b"]),
        "two arguments are not one"
    );
    let line = "kill exec where cmdline ~ \"** a b\"\n";
    assert!(killed(line, &["/bin/a", "a b"]) && killed(line, &["/bin/a", "a", "b"]));
    let not_in = "kill exec where not \"-e\" in argv\n";
    assert!(killed(not_in, &["/bin/a", "-x"]) && !killed(not_in, &["/bin/a", "-e"]));
}
