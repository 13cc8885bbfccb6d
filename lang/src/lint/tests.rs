#![allow(clippy::unwrap_used, clippy::panic)]

use super::constant::constant_truth;
use super::proof::{int_satisfiable, str_satisfiable};
use super::*;
use crate::catalog;
use crate::diagnostic::Code;
use crate::glob::Glob;

/// Events the catalog does not have (yet): the lockout lint keys off names.
static KILL: Event = Event {
    name: "kill",
    hook: "task_kill",
    doc: "a signal is sent",
    attributes: &[],
    variants: &[],
};
static FROB: Event = Event {
    name: "frobnicate",
    hook: "task_kill",
    doc: "not an administrative event",
    attributes: &[],
    variants: &[],
};

fn deny_everything(event: &'static Event) -> CheckedRule {
    CheckedRule {
        index: 0,
        action: Action::Deny,
        event,
        condition: Cond::Const(true),
        errno: 1,
        span: Span::new(0, 9),
    }
}

fn lint_rules(rules: &[CheckedRule], mode: Option<PolicyMode>) -> Vec<Diagnostic> {
    let conditions = vec![None; rules.len()];
    lint(&LintInput {
        rules,
        conditions: &conditions,
        attributes: &[],
        incomplete_events: &HashSet::new(),
        mode,
    })
}

#[test]
fn lockout_keys_off_event_names_including_future_ones() {
    let found = lint_rules(&[deny_everything(&KILL)], None);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].code, Code::LocksOutAdministrator);
    assert!(
        found[0].notes[0].contains("signals"),
        "{:?}",
        found[0].notes
    );
    assert!(lint_rules(&[deny_everything(&FROB)], None).is_empty());
    assert!(lint_rules(&[deny_everything(&KILL)], Some(PolicyMode::Audit)).is_empty());
    let exec = catalog::event("exec").unwrap();
    let found = lint_rules(&[deny_everything(exec)], Some(PolicyMode::Enforce));
    assert_eq!(found[0].code, Code::LocksOutAdministrator);
    // Every lockout event has its reason, and the ones in the catalog are there.
    for (name, loses) in LOCKOUT_EVENTS {
        assert!(loses.starts_with("root could not"), "{name}");
    }
    assert!(LOCKOUT_EVENTS.iter().any(|(n, _)| *n == "exec"));
    assert!(LOCKOUT_EVENTS.iter().any(|(n, _)| *n == "open"));
}

fn int(op: IntOp, value: u64) -> Predicate {
    Predicate::Int { op, value }
}

fn masked(mask: u64, op: IntOp, value: u64) -> Predicate {
    Predicate::Masked { mask, op, value }
}

fn sat_int(max: u64, known: &[(Predicate, bool)]) -> bool {
    int_satisfiable(0, max, known.iter().map(|(p, v)| (p, *v)))
}

#[test]
fn integer_theory_refutes_only_what_is_impossible() {
    let u32max = u64::from(u32::MAX);
    assert!(!sat_int(
        u32max,
        &[(int(IntOp::Eq, 0), true), (int(IntOp::Eq, 1), true)]
    ));
    assert!(!sat_int(
        u32max,
        &[(int(IntOp::Lt, 10), true), (int(IntOp::Gt, 20), true)]
    ));
    assert!(!sat_int(u32max, &[(int(IntOp::Gt, u32max), true)]));
    assert!(!sat_int(u64::MAX, &[(int(IntOp::Lt, 0), true)]));
    // `x < 2 and x != 0 and x != 1`: the small range is decided value by value.
    assert!(!sat_int(
        u32max,
        &[
            (int(IntOp::Lt, 2), true),
            (int(IntOp::Eq, 0), false),
            (int(IntOp::Eq, 1), false)
        ]
    ));
    assert!(sat_int(
        u32max,
        &[
            (int(IntOp::Lt, 3), true),
            (int(IntOp::Eq, 0), false),
            (int(IntOp::Eq, 1), false)
        ]
    ));
    // Bits: `x & 4 != 0` and `x & 7 == 0` conflict; `x & 4 != 0` and `x & 3 == 0` do not.
    assert!(!sat_int(
        u32max,
        &[
            (masked(4, IntOp::Eq, 0), false),
            (masked(7, IntOp::Eq, 0), true)
        ]
    ));
    assert!(sat_int(
        u32max,
        &[
            (masked(4, IntOp::Eq, 0), false),
            (masked(3, IntOp::Eq, 0), true)
        ]
    ));
    // Known bits against the range: bit 31 set but x below 2^31.
    assert!(!sat_int(
        u32max,
        &[
            (masked(1 << 31, IntOp::Eq, 1 << 31), true),
            (int(IntOp::Lt, 1 << 31), true)
        ]
    ));
    // A wide range with an exclusion is satisfiable, and said to be.
    assert!(sat_int(
        u32max,
        &[(int(IntOp::Eq, 5), false), (int(IntOp::Gt, 3), true)]
    ));
}

fn glob(pattern: &str) -> Predicate {
    Predicate::Glob(Glob::parse(pattern).unwrap())
}

fn eq(text: &str) -> Predicate {
    Predicate::StrEq(text.as_bytes().to_vec())
}

#[test]
fn string_theory_refutes_only_what_is_impossible() {
    let sat =
        |known: &[(Predicate, bool)]| str_satisfiable(known.iter().map(|(p, v)| (p, *v)).collect());
    assert!(!sat(&[(eq("/bin/sh"), true), (glob("/usr/**"), true)]));
    assert!(!sat(&[(eq("/a"), true), (eq("/b"), true)]));
    assert!(!sat(&[(eq("/a"), true), (eq("/a"), false)]));
    assert!(sat(&[(eq("/usr/bin/sh"), true), (glob("/usr/**"), true)]));
    // A wildcard-free glob is a finite set of strings.
    assert!(!sat(&[
        (glob("/etc/{passwd,shadow}"), true),
        (eq("/etc/passwd"), false),
        (eq("/etc/shadow"), false)
    ]));
    assert!(sat(&[
        (glob("/etc/{passwd,shadow,group}"), true),
        (eq("/etc/passwd"), false),
        (eq("/etc/shadow"), false)
    ]));
    // Globs with wildcards: a witness is found, or the answer is "maybe".
    assert!(sat(&[(glob("/tmp/**"), true), (glob("/tmp/a/**"), false)]));
    assert!(sat(&[(glob("/tmp/**"), true), (eq("/tmp/x"), false)]));
}

#[test]
fn constants_follow_the_width_and_the_mask() {
    let u32max = u64::from(u32::MAX);
    assert_eq!(constant_truth(&int(IntOp::Lt, 0), 0, u32max), Some(false));
    assert_eq!(constant_truth(&int(IntOp::Ge, 0), 0, u32max), Some(true));
    assert_eq!(
        constant_truth(&int(IntOp::Le, u32max), 0, u32max),
        Some(true)
    );
    assert_eq!(
        constant_truth(&int(IntOp::Eq, u32max + 1), 0, u32max),
        Some(false)
    );
    assert_eq!(constant_truth(&int(IntOp::Eq, u32max), 0, u32max), None);
    assert_eq!(constant_truth(&int(IntOp::Gt, 0), 0, u32max), None);
    assert_eq!(
        constant_truth(&masked(7, IntOp::Gt, 7), 0, u32max),
        Some(false)
    );
    assert_eq!(
        constant_truth(&masked(7, IntOp::Le, 7), 0, u32max),
        Some(true)
    );
    assert_eq!(
        constant_truth(&masked(4, IntOp::Eq, 8), 0, u32max),
        Some(false)
    );
    assert_eq!(
        constant_truth(&masked(4, IntOp::Ne, 8), 0, u32max),
        Some(true)
    );
    assert_eq!(constant_truth(&masked(6, IntOp::Eq, 4), 0, u32max), None);
    assert_eq!(constant_truth(&glob("**"), 0, u64::MAX), Some(true));
    assert_eq!(constant_truth(&glob("/**"), 0, u64::MAX), None);
    assert_eq!(constant_truth(&eq(""), 0, u64::MAX), None);
}

/// The rules of `exec` on `comm`, `uid` and `gid`, resolved as the checker would without a
/// kernel (process attributes need none).
fn exec_attributes() -> Vec<ResolvedAttribute> {
    let exec = catalog::event("exec").unwrap();
    ["comm", "uid", "gid"]
        .iter()
        .map(|name| ResolvedAttribute {
            event: exec,
            attribute: exec.attribute(name).unwrap(),
            access: None,
            walk: None,
            endpoint: None,
            on_variants: Vec::new(),
        })
        .collect()
}

fn test_of(attr: u32, predicate: Predicate) -> Cond {
    Cond::Test(Test {
        attr: crate::checked::AttrId(attr),
        predicate,
        span: Span::new(attr as usize, attr as usize + 1),
    })
}

fn or(a: Cond, b: Cond) -> Cond {
    Cond::Or(Box::new(a), Box::new(b))
}

fn and(a: Cond, b: Cond) -> Cond {
    Cond::And(Box::new(a), Box::new(b))
}

fn exec_rule(index: u32, action: Action, condition: Cond) -> CheckedRule {
    CheckedRule {
        index,
        action,
        event: catalog::event("exec").unwrap(),
        condition,
        errno: 1,
        span: Span::new(10 * index as usize, 10 * index as usize + 9),
    }
}

fn lint_exec(rules: &[CheckedRule], budget: u32) -> (Vec<Lint>, u32) {
    let conditions = vec![None; rules.len()];
    lint_within(
        &LintInput {
            rules,
            conditions: &conditions,
            attributes: &exec_attributes(),
            incomplete_events: &HashSet::new(),
            mode: None,
        },
        budget,
    )
}

/// A policy far beyond what the budget proves uses the whole budget, no more, and stays
/// silent: no lint holds for it, and a proof cut short claims nothing.
#[test]
fn large_policies_end_within_the_budget() {
    let (comm, uid, gid) = (0, 1, 2);
    let names = || {
        (0..300)
            .map(|i| test_of(comm, eq(&format!("n{i}"))))
            .reduce(or)
            .unwrap()
    };
    let mut rules = Vec::new();
    for i in 0..150 {
        // deny exec where (comm in names or uid == i) and (comm == "x{i}" or gid == i)
        let deny = and(
            or(names(), test_of(uid, int(IntOp::Eq, i))),
            or(
                test_of(comm, eq(&format!("x{i}"))),
                test_of(gid, int(IntOp::Eq, i)),
            ),
        );
        rules.push(exec_rule(rules.len() as u32, Action::Deny, deny));
        // allow exec where comm in names and uid == i
        let allow = and(names(), test_of(uid, int(IntOp::Eq, i)));
        rules.push(exec_rule(rules.len() as u32, Action::Allow, allow));
    }
    let (found, left) = lint_exec(&rules, POLICY_STEPS);
    assert_eq!(left, 0, "the policy should exhaust the budget");
    assert!(found.is_empty(), "{found:?}");
}

/// A proof the budget does not allow is not made: the same rule is reported with the budget
/// and not without it.
#[test]
fn a_spent_budget_proves_nothing() {
    // deny exec where uid == 0 and uid == 1
    let rule = exec_rule(
        0,
        Action::Deny,
        and(test_of(1, int(IntOp::Eq, 0)), test_of(1, int(IntOp::Eq, 1))),
    );
    let (found, left) = lint_exec(std::slice::from_ref(&rule), POLICY_STEPS);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(matches!(found[0], Lint::NeverTrue { .. }), "{found:?}");
    assert!(left > 0 && left < POLICY_STEPS, "{left}");
    let (found, left) = lint_exec(&[rule], 0);
    assert!(found.is_empty(), "{found:?}");
    assert_eq!(left, 0);
}

/// Rules whose prefixes diverge are not tried as duplicates; those whose prefixes begin one
/// another, those without a prefix and those on another attribute are.
#[test]
fn prefix_index_keeps_every_pair_that_can_be_duplicates() {
    let (comm, uid) = (0, 1);
    let rules = [
        test_of(comm, glob("ab*")),                                    // 0: "ab"
        test_of(comm, eq("abc")),                                      // 1: "abc", begun by 0
        test_of(comm, glob("b{x,y}*")),                                // 2: "b"
        and(test_of(uid, int(IntOp::Eq, 3)), test_of(comm, eq("bx"))), // 3: "bx", begun by 2
        test_of(uid, int(IntOp::Eq, 4)),                               // 4: none
        test_of(comm, glob("*x")),                                     // 5: "", begins all
        Cond::Not(Box::new(test_of(comm, eq("ab")))),                  // 6: negated, none
        test_of(comm, eq("a")),                                        // 7: "a", begins 0 and 1
    ];
    let rules: Vec<CheckedRule> = rules
        .into_iter()
        .enumerate()
        .map(|(i, c)| exec_rule(i as u32, Action::Deny, c))
        .collect();
    let listed: Vec<(usize, &CheckedRule)> = rules.iter().enumerate().collect();
    let index = prefixes::PrefixIndex::new(&listed);
    let expected: [&[usize]; 8] = [
        &[1, 4, 5, 6, 7],
        &[4, 5, 6, 7],
        &[3, 4, 5, 6],
        &[4, 5, 6],
        &[5, 6, 7],
        &[6, 7],
        &[7],
        &[],
    ];
    for (at, expected) in expected.iter().enumerate() {
        assert_eq!(index.candidates_after(at), *expected, "rule {at}");
    }
}

/// Among ten thousand rules on distinct names, a duplicate at the end is still found, and
/// proving it does not spend the budget on the pairs whose names diverge.
#[test]
fn duplicates_are_found_at_the_end_of_ten_thousand_rules() {
    let (comm, uid) = (0, 1);
    let mut rules: Vec<CheckedRule> = (0..10_000)
        .map(|i| {
            let condition = and(
                test_of(comm, eq(&format!("tool{i}"))),
                test_of(uid, int(IntOp::Ne, 0)),
            );
            exec_rule(i, Action::Deny, condition)
        })
        .collect();
    // deny exec where comm ~ "tool*" and comm == "tool9999" and uid != 0: rule 9,999 again,
    // with a shorter prefix first (so that every rule is its candidate).
    let again = and(
        and(test_of(comm, glob("tool*")), test_of(comm, eq("tool9999"))),
        test_of(uid, int(IntOp::Ne, 0)),
    );
    rules.push(exec_rule(10_000, Action::Deny, again));
    let (found, left) = lint_exec(&rules, POLICY_STEPS);
    assert!(left > 0, "the budget ran out");
    assert_eq!(found.len(), 1, "{found:?}");
    let Lint::DuplicateRule { span, earlier, .. } = &found[0] else {
        panic!("{found:?}");
    };
    assert_eq!((*span, *earlier), (rules[10_000].span, rules[9_999].span));
}

/// A string test made true after tests of its attribute were made false is checked against
/// them, whatever their order: `comm == "x1"` contradicts `comm !~ "x*"` (the search takes a
/// test made false for free only while none of its attribute holds).
#[test]
fn a_string_made_true_is_checked_against_those_made_false_before() {
    let comm = 0;
    let equal = || test_of(comm, eq("x1"));
    let excluded = || Cond::Not(Box::new(test_of(comm, glob("x*"))));
    for condition in [and(equal(), excluded()), and(excluded(), equal())] {
        let rule = exec_rule(0, Action::Deny, condition);
        let (found, _) = lint_exec(&[rule], POLICY_STEPS);
        assert!(
            matches!(found.as_slice(), [Lint::NeverTrue { .. }]),
            "{found:?}"
        );
    }
}
