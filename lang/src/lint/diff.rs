//! What a change of policy decides differently, by meaning: for each event, each kind of
//! operation whose decision changes (now denied by this rule, no longer denied by that one, a
//! different errno, now or no longer audited), with an example event.
//!
//! Each kind is a formula over both policies' tests of the event: for "now denied by rule r"
//! the old policy allows and r is the new policy's deciding rule. The proof search
//! ([`Solver::witness`]) looks for a model, the model becomes concrete attribute values
//! (`witness::realize`), and the reference evaluator must give the two policies exactly the
//! claimed decisions on that event before it is taken as the example. A kind the search proves
//! impossible is no change; one it gives up on is reported as undecided, never dropped.
//!
//! The examples have readable values only: a difference that shows only for a path the program
//! cannot read (longer than `PATH_MAX`, decided fail closed) has no example and is not listed.

use super::proof::{Atoms, Formula, Solver};
use crate::ast::Action;
use crate::catalog::{errno_name, Attribute, Event, ValueType};
use crate::checked::{AttrValue, CheckedPolicy, CheckedRule, ExpectedDecision, PolicyMode};
use crate::eval::{audits, evaluate, Decision, EventInput};
use std::fmt;

/// Proof steps one kind of change may take.
const CHANGE_STEPS: u32 = 200_000;
/// Pairs of deny rules whose errnos are compared, per event: beyond that, errno changes are
/// not looked for (each pair is one search).
const ERRNO_PAIRS: usize = 256;

/// A kind of operation the new policy decides differently. Rules are named by their index in
/// their own policy ([`CheckedRule::index`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    /// Allowed before; now denied by this rule of the new policy.
    NowDenied { new_rule: u32, errno: i32 },
    /// Denied before by this rule of the old policy; now allowed.
    NowAllowed { old_rule: u32 },
    /// Denied by both, with another errno.
    ErrnoChanged {
        old_rule: u32,
        new_rule: u32,
        old_errno: i32,
        new_errno: i32,
    },
    /// Refused by both, and now the process is killed (the new rule is a `kill` rule, the
    /// old one a `deny` rule), or, with `kills` false, no longer killed.
    KillChanged {
        old_rule: u32,
        new_rule: u32,
        kills: bool,
    },
    /// Reported by this audit rule of the new policy; no old audit rule reported it.
    NowAudited { new_rule: u32 },
    /// Reported by this audit rule of the old policy; no new audit rule reports it.
    NoLongerAudited { old_rule: u32 },
}

/// An example event: the attributes that matter, as a `test` item would give them.
#[derive(Clone, Debug, PartialEq)]
pub struct Example {
    pub event: &'static Event,
    pub values: Vec<(&'static Attribute, AttrValue)>,
}

/// One kind of change on one event.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub event: &'static str,
    pub kind: ChangeKind,
    /// Confirmed by the reference evaluator; `None` when the search gave up before finding
    /// one or proving there is none (the change may or may not happen).
    pub example: Option<Confirmed>,
}

/// An example and what the reference evaluator decides for it under each policy, as a
/// `test` item expects it (`audit`: allowed and reported).
#[derive(Clone, Debug, PartialEq)]
pub struct Confirmed {
    pub example: Example,
    pub before: ExpectedDecision,
    pub after: ExpectedDecision,
}

impl fmt::Display for Example {
    /// The example as the braces of a `test` item: `exec { path: "/x", uid: 1000 }`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {{", self.event.name)?;
        for (at, (attribute, value)) in self.values.iter().enumerate() {
            let separator = if at == 0 { " " } else { ", " };
            write!(f, "{separator}{}: ", attribute.name)?;
            match value {
                AttrValue::Int(v) => match attribute.ty {
                    ValueType::Enum(e) => match e.name_of(*v) {
                        Some(name) => write!(f, "{name}")?,
                        None => write!(f, "{v}")?,
                    },
                    _ => write!(f, "{v}")?,
                },
                AttrValue::Str(bytes) => write!(f, "\"{}\"", escaped(bytes))?,
                AttrValue::Bool(b) => write!(f, "{b}")?,
                AttrValue::Addr(a) => write!(f, "{a}")?,
                // Never made by a witness: an absent value is left out instead.
                AttrValue::Absent => write!(f, "\"\"")?,
            }
        }
        let close = if self.values.is_empty() { "}" } else { " }" };
        f.write_str(close)
    }
}

/// A string's bytes as the body of a string literal.
fn escaped(bytes: &[u8]) -> String {
    let mut out = String::new();
    for c in String::from_utf8_lossy(bytes).chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            c if c.is_ascii_control() => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

/// A decision as a `test` item's expectation: `allow`, `deny EPERM`, `audit`.
pub fn expectation_text(expect: ExpectedDecision) -> String {
    match expect {
        ExpectedDecision::Allow => "allow".into(),
        ExpectedDecision::Deny(Some(errno)) => format!("deny {}", errno_name(errno)),
        ExpectedDecision::Deny(None) => "deny".into(),
        ExpectedDecision::Audit => "audit".into(),
        ExpectedDecision::Kill(Some(errno)) => format!("kill {}", errno_name(errno)),
        ExpectedDecision::Kill(None) => "kill".into(),
    }
}

/// Every kind of change from `old` to `new`, events in the order the policies name them.
/// `complete` makes an example into the whole event the evaluator runs: the attributes an
/// example leaves out take the values a `test` item gives them (`krsic test`'s defaults), so
/// that each example can be pasted into a policy as a test.
pub fn decision_changes(
    old: &CheckedPolicy,
    new: &CheckedPolicy,
    complete: &dyn Fn(&Example) -> EventInput,
) -> Vec<Change> {
    let mut events: Vec<&'static Event> = Vec::new();
    for rule in old.rules.iter().chain(&new.rules) {
        if !events.iter().any(|e| e.name == rule.event.name) {
            events.push(rule.event);
        }
    }
    let mut changes = Vec::new();
    for event in events {
        EventDiff::new(old, new, event).changes(complete, &mut changes);
    }
    changes
}

/// Both policies' rules of one event, as formulas over one set of atoms.
struct EventDiff<'p> {
    old: &'p CheckedPolicy,
    new: &'p CheckedPolicy,
    event: &'static Event,
    atoms: Atoms,
    old_rules: Vec<RuleFormulas<'p>>,
    new_rules: Vec<RuleFormulas<'p>>,
}

/// A rule and its condition as formulas, holding and not holding.
struct RuleFormulas<'p> {
    rule: &'p CheckedRule,
    holds: Formula,
    fails: Formula,
}

impl<'p> EventDiff<'p> {
    fn new(old: &'p CheckedPolicy, new: &'p CheckedPolicy, event: &'static Event) -> Self {
        let mut atoms = Atoms::new(&old.attributes, event);
        let old_rules = rule_formulas(old, event, &mut atoms);
        atoms.read_ids_of(&new.attributes, event);
        let new_rules = rule_formulas(new, event, &mut atoms);
        EventDiff {
            old,
            new,
            event,
            atoms,
            old_rules,
            new_rules,
        }
    }

    fn changes(&self, complete: &dyn Fn(&Example) -> EventInput, out: &mut Vec<Change>) {
        let (old, new) = (&self.old_rules, &self.new_rules);
        let mut kinds: Vec<(ChangeKind, Formula)> = Vec::new();
        for (at, deny) in denies(new) {
            kinds.push((
                ChangeKind::NowDenied {
                    new_rule: deny.rule.index,
                    errno: deny.rule.errno,
                },
                Formula::And(vec![allowed(self.old, old), denied_by(self.new, new, at)]),
            ));
        }
        for (at, deny) in denies(old) {
            kinds.push((
                ChangeKind::NowAllowed {
                    old_rule: deny.rule.index,
                },
                Formula::And(vec![denied_by(self.old, old, at), allowed(self.new, new)]),
            ));
        }
        let pairs = denies(old).flat_map(|(a, o)| denies(new).map(move |(b, n)| (a, o, b, n)));
        for (a, o, b, n) in pairs
            .filter(|(_, o, _, n)| o.rule.errno != n.rule.errno)
            .take(ERRNO_PAIRS)
        {
            kinds.push((
                ChangeKind::ErrnoChanged {
                    old_rule: o.rule.index,
                    new_rule: n.rule.index,
                    old_errno: o.rule.errno,
                    new_errno: n.rule.errno,
                },
                Formula::And(vec![
                    denied_by(self.old, old, a),
                    denied_by(self.new, new, b),
                ]),
            ));
        }
        let pairs = denies(old).flat_map(|(a, o)| denies(new).map(move |(b, n)| (a, o, b, n)));
        for (a, o, b, n) in pairs
            .filter(|(_, o, _, n)| o.rule.action != n.rule.action)
            .take(ERRNO_PAIRS)
        {
            kinds.push((
                ChangeKind::KillChanged {
                    old_rule: o.rule.index,
                    new_rule: n.rule.index,
                    kills: n.rule.action == Action::Kill,
                },
                Formula::And(vec![
                    denied_by(self.old, old, a),
                    denied_by(self.new, new, b),
                ]),
            ));
        }
        for audit in new.iter().filter(|r| r.rule.action == Action::Audit) {
            kinds.push((
                ChangeKind::NowAudited {
                    new_rule: audit.rule.index,
                },
                Formula::And(vec![audit.holds.clone(), unaudited(old)]),
            ));
        }
        for audit in old.iter().filter(|r| r.rule.action == Action::Audit) {
            kinds.push((
                ChangeKind::NoLongerAudited {
                    old_rule: audit.rule.index,
                },
                Formula::And(vec![audit.holds.clone(), unaudited(new)]),
            ));
        }
        for (kind, formula) in kinds {
            let mut example = None;
            let mut accept = |values: &[(&'static Attribute, AttrValue)]| {
                let candidate = Example {
                    event: self.event,
                    values: values.to_vec(),
                };
                let input = complete(&candidate);
                let confirmed = self.confirms(kind, &input);
                if confirmed {
                    example = Some(Confirmed {
                        example: candidate,
                        before: expectation(self.old, &input),
                        after: expectation(self.new, &input),
                    });
                }
                confirmed
            };
            let (answer, _) =
                Solver::witness(&self.atoms, CHANGE_STEPS, vec![&formula], &mut accept);
            match answer {
                Ok(true) => out.push(Change {
                    event: self.event.name,
                    kind,
                    example,
                }),
                Ok(false) => {}
                Err(_) => out.push(Change {
                    event: self.event.name,
                    kind,
                    example: None,
                }),
            }
        }
    }

    /// Whether the reference evaluator decides `input` as `kind` says.
    fn confirms(&self, kind: ChangeKind, input: &EventInput) -> bool {
        let (before, after) = (decide(self.old, input), decide(self.new, input));
        let (audited_before, audited_after) = (
            audits(self.old, input, false),
            audits(self.new, input, false),
        );
        match kind {
            ChangeKind::NowDenied { new_rule, .. } => {
                before == Decision::Allow && refused_by(after) == Some(new_rule)
            }
            ChangeKind::NowAllowed { old_rule } => {
                refused_by(before) == Some(old_rule) && after == Decision::Allow
            }
            ChangeKind::ErrnoChanged {
                old_rule, new_rule, ..
            } => refused_by(before) == Some(old_rule) && refused_by(after) == Some(new_rule),
            ChangeKind::KillChanged {
                old_rule,
                new_rule,
                kills,
            } => {
                refused_by(before) == Some(old_rule)
                    && refused_by(after) == Some(new_rule)
                    && matches!(after, Decision::Kill { .. }) == kills
                    && matches!(before, Decision::Kill { .. }) != kills
            }
            ChangeKind::NowAudited { new_rule } => {
                audited_before.is_empty() && audited_after.contains(&new_rule)
            }
            ChangeKind::NoLongerAudited { old_rule } => {
                audited_after.is_empty() && audited_before.contains(&old_rule)
            }
        }
    }
}

/// The rule that refused, by `deny` or by `kill` (a kill is a refusal that also ends the
/// process: the diff compares refusals).
fn refused_by(decision: Decision) -> Option<u32> {
    match decision {
        Decision::Deny { rule, .. } | Decision::Kill { rule, .. } => Some(rule),
        Decision::Allow => None,
    }
}

/// What the policy decides as loaded: a policy in audit mode refuses nothing (its deny rules
/// report what they would deny).
fn decide(policy: &CheckedPolicy, input: &EventInput) -> Decision {
    if policy.mode == Some(PolicyMode::Audit) {
        return Decision::Allow;
    }
    evaluate(policy, input, false)
}

/// What a `test` item on `input` expects of the policy as loaded.
fn expectation(policy: &CheckedPolicy, input: &EventInput) -> ExpectedDecision {
    match decide(policy, input) {
        Decision::Deny { errno, .. } => ExpectedDecision::Deny(Some(errno)),
        Decision::Kill { errno, .. } => ExpectedDecision::Kill(Some(errno)),
        Decision::Allow if audits(policy, input, false).is_empty() => ExpectedDecision::Allow,
        Decision::Allow => ExpectedDecision::Audit,
    }
}

fn rule_formulas<'p>(
    policy: &'p CheckedPolicy,
    event: &'static Event,
    atoms: &mut Atoms,
) -> Vec<RuleFormulas<'p>> {
    policy
        .rules
        .iter()
        .filter(|r| r.event.name == event.name)
        .map(|rule| {
            // Unknown makes a deny or audit rule's tests hold and an allow rule's fail; the
            // witness search gives no test the unknown value, so this only keeps the formulas
            // the same as the lints'.
            let unknown_holds = rule.action != Action::Allow;
            RuleFormulas {
                rule,
                holds: Formula::of(&rule.condition, false, unknown_holds, atoms, false),
                fails: Formula::of(&rule.condition, true, !unknown_holds, atoms, false),
            }
        })
        .collect()
}

/// The refusing rules (`deny` and `kill`), each with its position among the event's rules.
fn denies<'a, 'p>(
    rules: &'a [RuleFormulas<'p>],
) -> impl Iterator<Item = (usize, &'a RuleFormulas<'p>)> + Clone {
    rules
        .iter()
        .enumerate()
        .filter(|(_, r)| r.rule.action.refuses())
}

/// The policy allows the event: an allow rule matches, or no deny rule does.
fn allowed(policy: &CheckedPolicy, rules: &[RuleFormulas<'_>]) -> Formula {
    if policy.mode == Some(PolicyMode::Audit) {
        return Formula::Const(true);
    }
    let mut either: Vec<Formula> = rules
        .iter()
        .filter(|r| r.rule.action == Action::Allow)
        .map(|r| r.holds.clone())
        .collect();
    either.push(Formula::And(
        denies(rules).map(|(_, r)| r.fails.clone()).collect(),
    ));
    Formula::Or(either)
}

/// The policy denies the event by the deny rule at `at`: no allow rule matches, no earlier
/// deny rule matches, and that one does.
fn denied_by(policy: &CheckedPolicy, rules: &[RuleFormulas<'_>], at: usize) -> Formula {
    if policy.mode == Some(PolicyMode::Audit) {
        return Formula::Const(false);
    }
    let mut all: Vec<Formula> = rules
        .iter()
        .filter(|r| r.rule.action == Action::Allow)
        .map(|r| r.fails.clone())
        .collect();
    all.extend(
        denies(rules)
            .take_while(|(position, _)| *position < at)
            .map(|(_, r)| r.fails.clone()),
    );
    if let Some(rule) = rules.get(at) {
        all.push(rule.holds.clone());
    }
    Formula::And(all)
}

/// No audit rule of the policy reports the event.
fn unaudited(rules: &[RuleFormulas<'_>]) -> Formula {
    Formula::And(
        rules
            .iter()
            .filter(|r| r.rule.action == Action::Audit)
            .map(|r| r.fails.clone())
            .collect(),
    )
}
