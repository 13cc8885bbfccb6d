//! The reference evaluator: what a checked policy decides for one event, written as plain
//! Rust over the checked policy, with no knowledge of BPF.
//!
//! This is the language's meaning (DESIGN.md, book/src/language.md) in executable form. The
//! compiler's output is tested against it (tests/differential.rs runs both on random policies
//! and events), so it is kept obviously correct rather than fast.
//!
//! Decision for an event: out of scope (a scoped policy, a process outside the cgroup) →
//! allow; else if an `allow` rule of the event matches → allow; else the first matching `deny`
//! or `kill` rule in source order → deny (or kill) with its errno; else allow.
//!
//! Rules on a value read after the point of no return (`cmdline` of `exec`, see
//! [`crate::checked::Stage`]) decide after all the others: their program runs on a later hook,
//! only for an operation the others let through. So the first matching refusal is looked for
//! among the other rules first, then among them; and their `audit` rules report only for an
//! operation the others did not refuse.
//!
//! **Fail closed.** A value the program cannot compute is *unknown*, and so is a test on it:
//!
//! - `path` (a resolved path) when it does not fit [`STRING_CAP`] bytes with its NUL, that
//!   is when it is [`STRING_CAP`] bytes or longer;
//! - a walked path (the `path` of the file-system events, `exe`) when it does not fit the same
//!   way, or has more than [`WALK_COMPONENTS`](crate::limits::WALK_COMPONENTS) components (an
//!   ancestor's executable more than [`SHORT_WALK_COMPONENTS`](crate::limits::SHORT_WALK_COMPONENTS)),
//!   or one longer than [`NAME_MAX`];
//! - a kernel string (`filename`) when it is [`STRING_CAP`]` - 1` bytes or longer: a string
//!   that fills the buffer cannot be told from one the kernel truncated;
//! - `cgroup` as a walked path, and `container.id` and `pod.uid` whenever `cgroup` is unknown: the event's
//!   `container.id` is never read, it is derived from its `cgroup`
//!   ([`crate::workload::container_id`]).
//!
//! A glob test on a string the program could compute is always decided: the compiled program
//! runs every glob on the string as one automaton over all of its bytes.
//!
//! An unknown test takes whichever outcome makes a `deny` rule match and an `allow` rule not
//! match; under an odd number of `not`s that is the opposite outcome. Audit rules resolve
//! unknown tests as deny rules do (when in doubt, report).
//!
//! A test on `ancestor.comm` never reaches this module as such: the checker wrote it as the
//! same test on each level of the lineage, with the lineage going on past the depth resolved
//! by the rule's polarity as an unknown test would be (`crate::lineage`). The event gives
//! each level's `pid` and `comm` (`crate::lineage::lineage_values`).
//!
//! Strings are bytes. `comm` and `parent.comm` are what the kernel keeps (at most 15 bytes):
//! truncating a longer name is the event's business, not the evaluator's.

use crate::ast::Action;
use crate::catalog::Source;
use crate::checked::{AttrValue, CheckedPolicy, CheckedRule, Cond, Predicate, Stage, Test};
use crate::glob::Glob;
use crate::limits::{walk_components, NAME_MAX, STRING_CAP};
use std::collections::BTreeMap;

/// One event as the policy sees it: the event's name and every attribute's value by name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventInput {
    /// The event's name, e.g. `exec`.
    pub event: &'static str,
    /// Attribute values by attribute name (`path`, `uid`, `parent.comm`, ...). A missing value,
    /// or one of the wrong type, is unknown.
    pub values: BTreeMap<&'static str, AttrValue>,
    /// Whether the current process is in the policy's cgroup (only read for scoped policies).
    pub in_scope: bool,
}

/// What the policy decides for an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Decision {
    Allow,
    /// The operation fails with `-errno`; `rule` is the index of the deciding rule.
    Deny {
        errno: i32,
        rule: u32,
    },
    /// As [`Decision::Deny`], and the process is sent SIGKILL (a `kill` rule decided).
    Kill {
        errno: i32,
        rule: u32,
    },
}

/// A test's outcome, where the program may be unable to decide it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Truth {
    True,
    False,
    Unknown,
}

impl From<bool> for Truth {
    fn from(value: bool) -> Self {
        if value {
            Truth::True
        } else {
            Truth::False
        }
    }
}

/// How the program holds a string attribute, which decides when it is unknown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StringKind {
    /// `bpf_d_path`: known when the string and its NUL fit [`STRING_CAP`].
    ResolvedPath,
    /// A path the program walks dentry by dentry (or kernfs node by node: a cgroup's path):
    /// known when it and its NUL fit `cap` bytes ([`STRING_CAP`] but for the ancestors'
    /// executables), it has at most [`WALK_COMPONENTS`](crate::limits::WALK_COMPONENTS) components (`limits::walk_components`:
    /// fewer for a shorter buffer) and none longer than
    /// [`NAME_MAX`].
    WalkedPath { cap: usize },
    /// `bpf_probe_read_kernel_str`: known when it is shorter than [`STRING_CAP`]` - 1`.
    KernelString,
    /// A NUL-padded `char[]` (`comm`): always known.
    Padded,
    /// Derived from another string (a container id or pod UID, from the cgroup's path):
    /// unknown exactly when that one is, whatever its own text.
    Derived,
    /// An exec's command line, joined by the program: known as [`crate::cmdline::joined`]
    /// says; once joined, known.
    CommandLine,
}

impl StringKind {
    pub fn of(source: &Source) -> StringKind {
        match source {
            Source::ResolvedPath { .. } => StringKind::ResolvedPath,
            Source::WalkedPath { cap, .. } => StringKind::WalkedPath { cap: *cap },
            Source::KernfsPath { .. } => StringKind::WalkedPath { cap: STRING_CAP },
            Source::KernelString { .. } => StringKind::KernelString,
            Source::CommandLine { .. } => StringKind::CommandLine,
            Source::WorkloadId { .. } => StringKind::Derived,
            _ => StringKind::Padded,
        }
    }

    /// Whether the program can compute this string.
    pub fn known(self, text: &[u8]) -> bool {
        match self {
            StringKind::WalkedPath { cap } => {
                let components = text.split(|&c| c == b'/').filter(|c| !c.is_empty());
                text.len() < cap
                    && components.clone().count() <= walk_components(cap)
                    && components.into_iter().all(|c| c.len() <= NAME_MAX)
            }
            _ => self.fits(text.len()),
        }
    }

    /// Whether `==` against a literal is decided even when the string is unknown. A resolved
    /// path is unknown only when it is too long for the buffer (`bpf_d_path`'s
    /// `-ENAMETOOLONG`: the `struct path` is the kernel's own, so the helper's read of it
    /// does not fault), and then it equals no literal the program compares. That lets a
    /// program skip resolving a path whose last names no listed path has
    /// (`compiler::codegen::screen`). Other strings may be unknown because a read faulted.
    pub fn decides_equality(self) -> bool {
        self == StringKind::ResolvedPath
    }

    /// Whether the program can compute a string of this many bytes (for a walked path, the
    /// length is not all: see [`StringKind::known`]).
    pub fn fits(self, len: usize) -> bool {
        self.longest().is_none_or(|longest| len <= longest)
    }

    /// The most bytes of a string of this kind the program can compute, `None` when any
    /// length is (the NUL or the padding takes a byte of the buffer).
    pub fn longest(self) -> Option<usize> {
        match self {
            StringKind::ResolvedPath => Some(STRING_CAP - 1),
            StringKind::WalkedPath { cap } => Some(cap.saturating_sub(1)),
            StringKind::KernelString | StringKind::CommandLine => Some(STRING_CAP - 2),
            StringKind::Padded | StringKind::Derived => None,
        }
    }
}

/// The policy's decision for `input`. `scoped` says whether the policy was loaded for a
/// cgroup (then `input.in_scope` matters).
pub fn evaluate(policy: &CheckedPolicy, input: &EventInput, scoped: bool) -> Decision {
    if scoped && !input.in_scope {
        return Decision::Allow;
    }
    let rules = || policy.rules.iter().filter(|r| r.event.name == input.event);
    if rules()
        .filter(|r| r.action == Action::Allow)
        .any(|r| rule_matches(policy, r, input))
    {
        return Decision::Allow;
    }
    let refusal = |late: bool| {
        rules()
            .filter(|r| r.action.refuses() && (policy.stage(r) == Stage::Late) == late)
            .find(|r| rule_matches(policy, r, input))
    };
    refusal(false)
        .or_else(|| refusal(true))
        .map_or(Decision::Allow, |r| match r.action {
            Action::Kill => Decision::Kill {
                errno: r.errno,
                rule: r.index,
            },
            _ => Decision::Deny {
                errno: r.errno,
                rule: r.index,
            },
        })
}

/// The indices of the `audit` rules that match `input`, in source order.
pub fn audits(policy: &CheckedPolicy, input: &EventInput, scoped: bool) -> Vec<u32> {
    if scoped && !input.in_scope {
        return Vec::new();
    }
    // The late rules' program runs only for an operation the others let through.
    let reached_late = match evaluate(policy, input, scoped) {
        Decision::Allow => true,
        Decision::Deny { rule, .. } | Decision::Kill { rule, .. } => policy
            .rules
            .get(rule as usize)
            .is_some_and(|r| policy.stage(r) == Stage::Late),
    };
    policy
        .rules
        .iter()
        .filter(|r| r.event.name == input.event && r.action == Action::Audit)
        .filter(|r| reached_late || policy.stage(r) != Stage::Late)
        .filter(|r| rule_matches(policy, r, input))
        .map(|r| r.index)
        .collect()
}

/// Whether `rule`'s condition holds for `input`, unknown tests resolved by the rule's action.
pub fn rule_matches(policy: &CheckedPolicy, rule: &CheckedRule, input: &EventInput) -> bool {
    // Unknown makes a deny (and audit) rule match and an allow rule not match.
    let unknown_matches = rule.action != Action::Allow;
    holds(policy, &rule.condition, input, unknown_matches)
}

/// `unknown_is` is what an unknown test counts as at this polarity.
fn holds(policy: &CheckedPolicy, cond: &Cond, input: &EventInput, unknown_is: bool) -> bool {
    match cond {
        Cond::Const(b) => *b,
        Cond::And(a, b) => {
            holds(policy, a, input, unknown_is) && holds(policy, b, input, unknown_is)
        }
        Cond::Or(a, b) => {
            holds(policy, a, input, unknown_is) || holds(policy, b, input, unknown_is)
        }
        Cond::Not(c) => !holds(policy, c, input, !unknown_is),
        Cond::Test(test) => match test_truth(policy, test, input) {
            Truth::True => true,
            Truth::False => false,
            Truth::Unknown => unknown_is,
        },
    }
}

/// The outcome of one test.
pub fn test_truth(policy: &CheckedPolicy, test: &Test, input: &EventInput) -> Truth {
    let Some(resolved) = policy.attributes.get(test.attr.0 as usize) else {
        return Truth::Unknown;
    };
    let derived;
    let value = match resolved.attribute.source {
        // Derived from the cgroup's path, as the program derives it while walking it: unknown
        // when the path is.
        Source::WorkloadId { workload, .. } => {
            match input.values.get(crate::catalog::CGROUP_PATH) {
                Some(AttrValue::Str(path))
                    if (StringKind::WalkedPath { cap: STRING_CAP }).known(path) =>
                {
                    derived = AttrValue::Str(workload.of_path(path));
                    &derived
                }
                _ => return Truth::Unknown,
            }
        }
        _ => match input.values.get(resolved.attribute.name) {
            Some(value) => value,
            None => return Truth::Unknown,
        },
    };
    let kind = StringKind::of(&resolved.attribute.source);
    // The command line: the event holds the arguments, rules test them joined by NULs
    // (`crate::cmdline`: a test on `cmdline` reads each as a space).
    let joined;
    let value = match (kind, value) {
        (StringKind::CommandLine, AttrValue::Str(block)) => match crate::cmdline::joined(block) {
            Some(line) => {
                joined = AttrValue::Str(line);
                &joined
            }
            None => return Truth::Unknown,
        },
        _ => value,
    };
    match (&test.predicate, value) {
        (Predicate::Int { op, value: literal }, AttrValue::Int(v)) => {
            Truth::from(op.holds(*v, *literal))
        }
        (
            Predicate::Masked {
                mask,
                op,
                value: literal,
            },
            AttrValue::Int(v),
        ) => Truth::from(op.holds(*v & *mask, *literal)),
        (Predicate::IsTrue, AttrValue::Bool(b)) => Truth::from(*b),
        (Predicate::IntAttr { op, other }, AttrValue::Int(v)) => {
            let other = policy
                .attributes
                .get(other.0 as usize)
                .and_then(|r| input.values.get(r.attribute.name));
            match other {
                Some(AttrValue::Int(w)) => Truth::from(op.holds(*v, *w)),
                Some(AttrValue::Absent) => Truth::False,
                _ => Truth::Unknown,
            }
        }
        (Predicate::Cidr { addr, prefix }, AttrValue::Addr(value)) => {
            Truth::from(in_range(value.to_canonical(), *addr, *prefix))
        }
        (_, AttrValue::Absent) => Truth::False,
        (Predicate::StrEq(literal), AttrValue::Str(s)) => {
            // A path too long to resolve is longer than any literal the program can hold:
            // equal to none, whatever the rest of it (see `StringKind::decides_equality`).
            if !kind.known(s) {
                return match kind.decides_equality() {
                    true => Truth::False,
                    false => Truth::Unknown,
                };
            }
            Truth::from(s == literal)
        }
        (Predicate::Glob(glob), AttrValue::Str(s)) => {
            if !kind.known(s) {
                return Truth::Unknown;
            }
            glob_truth(glob, s)
        }
        _ => Truth::Unknown,
    }
}

/// Whether `value` is in `range/prefix`: same family, equal in the first `prefix` bits.
pub fn in_range(value: std::net::IpAddr, range: std::net::IpAddr, prefix: u8) -> bool {
    use std::net::IpAddr;
    match (value, range) {
        (IpAddr::V4(v), IpAddr::V4(r)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(v) & mask == u32::from(r) & mask
        }
        (IpAddr::V6(v), IpAddr::V6(r)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(v) & mask == u128::from(r) & mask
        }
        _ => false,
    }
}

/// A glob over a string the program could compute: decided over all of its bytes, whatever
/// its length (the compiled program scans it once for every glob on it).
pub fn glob_truth(glob: &Glob, text: &[u8]) -> Truth {
    Truth::from(glob.matches(text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checked::{AttrId, IntOp, ResolvedAttribute};
    use crate::span::Span;

    fn glob(p: &str) -> Glob {
        Glob::parse(p).unwrap()
    }

    /// A policy over `exec` with hand-built rules; attribute 0 is `path`, 1 `uid`,
    /// 2 `filename`, 3 `comm`.
    fn policy(rules: Vec<(Action, Cond, i32)>) -> CheckedPolicy {
        let exec = crate::catalog::event("exec").unwrap();
        let attributes = ["path", "uid", "filename", "comm", "cmdline"]
            .iter()
            .map(|name| ResolvedAttribute {
                event: exec,
                attribute: exec.attribute(name).unwrap(),
                access: None,
                walk: None,
                endpoint: None,
                on_variants: Vec::new(),
            })
            .collect();
        CheckedPolicy {
            rules: rules
                .into_iter()
                .enumerate()
                .map(|(i, (action, condition, errno))| CheckedRule {
                    index: i as u32,
                    action,
                    event: exec,
                    condition,
                    errno,
                    span: Span::default(),
                })
                .collect(),
            attributes,
            tests: Vec::new(),
            parent: None,
            name: None,
            mode: None,
            variant_hooks: Vec::new(),
            loads_may_be_null: true,
            path_layout: None,
        }
    }

    fn test(attr: u32, predicate: Predicate) -> Cond {
        Cond::Test(Test {
            attr: AttrId(attr),
            predicate,
            span: Span::default(),
        })
    }

    fn not(c: Cond) -> Cond {
        Cond::Not(Box::new(c))
    }

    fn event(path: &[u8], uid: u64) -> EventInput {
        EventInput {
            event: "exec",
            values: BTreeMap::from([
                ("path", AttrValue::Str(path.to_vec())),
                ("filename", AttrValue::Str(path.to_vec())),
                ("uid", AttrValue::Int(uid)),
                ("comm", AttrValue::Str(b"sh".to_vec())),
            ]),
            in_scope: true,
        }
    }

    const DENY: Decision = Decision::Deny { errno: 1, rule: 0 };

    #[test]
    fn allow_beats_deny_and_first_deny_decides() {
        let p = policy(vec![
            (
                Action::Deny,
                test(
                    1,
                    Predicate::Int {
                        op: IntOp::Ne,
                        value: 0,
                    },
                ),
                13,
            ),
            (Action::Deny, Cond::Const(true), 1),
            (
                Action::Allow,
                test(0, Predicate::StrEq(b"/bin/ok".to_vec())),
                1,
            ),
        ]);
        assert_eq!(
            evaluate(&p, &event(b"/bin/x", 5), false),
            Decision::Deny { errno: 13, rule: 0 }
        );
        assert_eq!(
            evaluate(&p, &event(b"/bin/x", 0), false),
            Decision::Deny { errno: 1, rule: 1 }
        );
        assert_eq!(evaluate(&p, &event(b"/bin/ok", 5), false), Decision::Allow);
    }

    #[test]
    fn out_of_scope_allows() {
        let p = policy(vec![(Action::Deny, Cond::Const(true), 1)]);
        let mut e = event(b"/x", 0);
        e.in_scope = false;
        assert_eq!(evaluate(&p, &e, true), Decision::Allow);
        assert_eq!(evaluate(&p, &e, false), DENY);
    }

    #[test]
    fn other_events_do_not_decide() {
        let p = policy(vec![(Action::Deny, Cond::Const(true), 1)]);
        let mut e = event(b"/x", 0);
        e.event = "open";
        assert_eq!(evaluate(&p, &e, false), Decision::Allow);
    }

    #[test]
    fn int_comparisons_are_unsigned() {
        for (op, v, lit, want) in [
            (IntOp::Lt, 5, 6, true),
            (IntOp::Lt, u64::MAX, 0, false),
            (IntOp::Ge, u64::MAX, 1 << 63, true),
            (IntOp::Le, 7, 7, true),
            (IntOp::Gt, 7, 7, false),
            (IntOp::Ne, 0, 0, false),
        ] {
            let p = policy(vec![(
                Action::Deny,
                test(1, Predicate::Int { op, value: lit }),
                1,
            )]);
            assert_eq!(
                evaluate(&p, &event(b"/x", v), false) != Decision::Allow,
                want
            );
        }
    }

    #[test]
    fn a_long_path_equals_no_literal_and_a_glob_on_it_fails_closed() {
        let eq = || test(0, Predicate::StrEq(b"/tmp/x".to_vec()));
        let under_tmp = || test(0, Predicate::Glob(glob("/tmp/**")));
        let long = vec![b'a'; STRING_CAP];
        let fits = vec![b'a'; STRING_CAP - 1];
        let deny_1 = Decision::Deny { errno: 1, rule: 1 };
        // deny path == ...: a path too long to resolve is no literal, resolved or not.
        let p = policy(vec![(Action::Deny, eq(), 1)]);
        assert_eq!(evaluate(&p, &event(&long, 0), false), Decision::Allow);
        assert_eq!(evaluate(&p, &event(&fits, 0), false), Decision::Allow);
        let p = policy(vec![(Action::Deny, not(eq()), 1)]);
        assert_eq!(evaluate(&p, &event(&long, 0), false), DENY);
        let p = policy(vec![
            (Action::Allow, not(eq()), 1),
            (Action::Deny, Cond::Const(true), 1),
        ]);
        assert_eq!(evaluate(&p, &event(&long, 0), false), Decision::Allow);
        // deny path ~ ...: unknown → deny matches, also through `not`.
        let p = policy(vec![(Action::Deny, under_tmp(), 1)]);
        assert_eq!(evaluate(&p, &event(&long, 0), false), DENY);
        assert_eq!(evaluate(&p, &event(&fits, 0), false), Decision::Allow);
        let p = policy(vec![(Action::Deny, not(under_tmp()), 1)]);
        assert_eq!(evaluate(&p, &event(&long, 0), false), DENY);
        // allow path ~ ...: neither it nor its `not` matches an unknown path.
        for cond in [under_tmp(), not(under_tmp())] {
            let p = policy(vec![
                (Action::Allow, cond, 1),
                (Action::Deny, Cond::Const(true), 1),
            ]);
            assert_eq!(evaluate(&p, &event(&long, 0), false), deny_1);
        }
    }

    #[test]
    fn filename_filling_the_buffer_is_unknown() {
        let p = policy(vec![(
            Action::Deny,
            test(2, Predicate::StrEq(b"x".to_vec())),
            1,
        )]);
        let at = |len: usize| evaluate(&p, &event(&vec![b'a'; len], 0), false);
        assert_eq!(at(STRING_CAP - 2), Decision::Allow);
        assert_eq!(at(STRING_CAP - 1), DENY);
        assert_eq!(at(STRING_CAP), DENY);
        // A path of the same length is known.
        let p = policy(vec![(
            Action::Deny,
            test(0, Predicate::StrEq(b"x".to_vec())),
            1,
        )]);
        assert_eq!(
            evaluate(&p, &event(&vec![b'a'; STRING_CAP - 1], 0), false),
            Decision::Allow
        );
    }

    #[test]
    fn long_strings_are_decided() {
        let mut text = b"/tmp/".to_vec();
        text.extend(std::iter::repeat_n(b'a', 3000));
        assert_eq!(glob_truth(&glob("/tmp/*b"), &text), Truth::False);
        assert_eq!(glob_truth(&glob("/tmp/**x"), &text), Truth::False);
        assert_eq!(glob_truth(&glob("/tmp/{*x,a**}"), &text), Truth::True);
        text.push(b'x');
        assert_eq!(glob_truth(&glob("/tmp/**x"), &text), Truth::True);
    }

    #[test]
    fn glob_agrees_with_glob_matches_when_known() {
        for (p, t) in [
            ("/a/*/c", "/a//c"),
            ("/a/*/c", "/a/b/c"),
            ("/a/**/c", "/a/b/d/c"),
            ("/a/[!b-d]?", "/a/ax"),
            ("/a/[!b-d]?", "/a/bx"),
            ("{/x,/y}/**", "/y/z"),
            ("*", ""),
            ("**", "/"),
        ] {
            let g = glob(p);
            assert_eq!(
                glob_truth(&g, t.as_bytes()),
                Truth::from(g.matches(t.as_bytes())),
                "{p} {t}"
            );
        }
    }

    #[test]
    fn missing_or_mistyped_value_is_unknown() {
        let p = policy(vec![(
            Action::Deny,
            test(
                1,
                Predicate::Int {
                    op: IntOp::Eq,
                    value: 3,
                },
            ),
            1,
        )]);
        let mut e = event(b"/x", 0);
        e.values.remove("uid");
        assert_eq!(evaluate(&p, &e, false), DENY);
        e.values.insert("uid", AttrValue::Bool(true));
        assert_eq!(evaluate(&p, &e, false), DENY);
    }

    #[test]
    fn command_line_rules_decide_after_the_others() {
        let has_x = || test(4, Predicate::Glob(glob("**x**")));
        let p = policy(vec![
            (Action::Kill, has_x(), 1),
            (
                Action::Deny,
                test(0, Predicate::StrEq(b"/bin/x".to_vec())),
                13,
            ),
            (Action::Audit, has_x(), 1),
        ]);
        let with_line = |path: &[u8], args: &[&str]| {
            let mut e = event(path, 5);
            e.values
                .insert("cmdline", AttrValue::Str(crate::cmdline::block(args)));
            e
        };
        // The deny on the first hook decides, though the kill comes first in the file; the
        // command-line rules never ran, so their audit does not report.
        let e = with_line(b"/bin/x", &["x"]);
        assert_eq!(
            evaluate(&p, &e, false),
            Decision::Deny { errno: 13, rule: 1 }
        );
        assert_eq!(audits(&p, &e, false), Vec::<u32>::new());
        // Let through by the first hook: the kill decides and the audit reports.
        let e = with_line(b"/bin/y", &["y", "-x"]);
        assert_eq!(
            evaluate(&p, &e, false),
            Decision::Kill { errno: 1, rule: 0 }
        );
        assert_eq!(audits(&p, &e, false), vec![2]);
        // Past the bound the line is unknown: the kill matches (fail closed).
        let many: Vec<&str> = vec!["a"; crate::limits::ARGV_MAX + 1];
        let e = with_line(b"/bin/y", &many);
        assert_eq!(
            evaluate(&p, &e, false),
            Decision::Kill { errno: 1, rule: 0 }
        );
    }

    #[test]
    fn audits_report_matching_audit_rules() {
        let p = policy(vec![
            (Action::Audit, Cond::Const(true), 1),
            (Action::Deny, Cond::Const(true), 1),
            (
                Action::Audit,
                test(
                    1,
                    Predicate::Int {
                        op: IntOp::Eq,
                        value: 9,
                    },
                ),
                1,
            ),
        ]);
        assert_eq!(audits(&p, &event(b"/x", 0), false), vec![0]);
        assert_eq!(audits(&p, &event(b"/x", 9), false), vec![0, 2]);
        // Audit rules do not decide.
        assert_eq!(
            evaluate(&p, &event(b"/x", 9), false),
            Decision::Deny { errno: 1, rule: 1 }
        );
    }
}
