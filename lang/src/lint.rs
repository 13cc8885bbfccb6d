//! Lints: warnings about rules that check, compile and load, but cannot do what their author
//! meant. A condition that is never true, a deny rule an allow rule always beats, the same rule
//! twice, a comparison whose answer is known before any event happens, a rule that would lock
//! the administrator out.
//!
//! Every lint here is a proof, never a guess: it warns only when it has shown the claim for
//! every possible event, and says nothing when the proof would take too long. The proofs run
//! on the checked conditions ([`Cond`]), so macros and lists are already expanded, by a small
//! satisfiability search ([`Solver`]) over the tests of one event. Each test is an *atom*;
//! the search gives atoms truth values and asks a per-attribute theory whether some value of
//! the attribute has them all (an integer in its range, a string).
//!
//! Decisions follow the reference evaluator ([`crate::eval`]), including *fail closed*: a test
//! on a string the program cannot read (a path longer than `PATH_MAX`, a glob scan past its
//! limit) is unknown, and makes a deny rule match and an allow rule not match. So
//! `allow exec where path == "/x"` does not make `deny exec where path == "/x"` dead (a path
//! too long to read is denied by the latter), and the lint that says "dead" knows it. Whether a
//! condition is *never true* is a question about the condition itself, asked with two values.

use crate::ast::Action;
use crate::catalog::{Attribute, Event, ValueType};
use crate::check::{CheckedRule, Cond, IntOp, PolicyMode, Predicate, ResolvedAttribute, Test};
use crate::diagnostic::{Code, Diagnostic};
use crate::eval::StringKind;
use crate::glob::{Glob, Token};
use crate::span::Span;
use std::collections::{HashMap, HashSet};

/// Events whose every use by the administrator a policy must not deny. Keyed by event name,
/// so an event joins the lint as soon as the catalog has it; each entry says what root loses.
///
/// A deny rule on one of these events *locks the administrator out* when it matches every
/// such event of a process with `uid == 0` and `euid == 0` (whatever its other attributes)
/// and no allow rule of the event can match any of them. `deny exec`, `deny exec where
/// uid < 1000` and `deny kill where comm != "x" or uid == 0`... the first two lock out, the
/// last does not (root's `x` may still signal).
pub const LOCKOUT_EVENTS: &[(&str, &str)] = &[
    (
        "exec",
        "root could not start any program: no shell, no `sudo`, no package manager",
    ),
    (
        "open",
        "root could not open any file, not even to read a configuration",
    ),
    (
        "bpf",
        "root could not use bpf(2), which `krsic unload` and bpftool need to remove a policy",
    ),
    (
        "kill",
        "root could not send signals, not even to stop `krsic load`",
    ),
    (
        "setuid",
        "root could not change user ids: `su`, `sudo`, sshd and login stop working",
    ),
    (
        "capable",
        "root could not use its capabilities, so it could not mount, load modules or unload the policy",
    ),
];

/// Steps one proof may take before the lint gives up (and stays silent).
const PROOF_STEPS: u32 = 20_000;
/// Steps all proofs of one policy may take together.
const POLICY_STEPS: u32 = 2_000_000;
/// How many choices deep one proof may go; deeper conditions are not linted.
const MAX_DEPTH: u32 = 200;
/// Integer ranges at most this wide are decided value by value.
const ENUMERATE: u64 = 1024;

/// The rules to lint and what the checker knows around them.
pub struct LintInput<'a> {
    /// The rules that checked, in source order.
    pub rules: &'a [CheckedRule],
    /// The span of each rule's `where` condition, by position in `rules`.
    pub conditions: &'a [Option<Span>],
    pub attributes: &'a [ResolvedAttribute],
    /// Events with a rule that did not check: lints that compare rules skip them, since the
    /// missing rule could change the answer.
    pub incomplete_events: &'a HashSet<&'static str>,
    pub mode: Option<PolicyMode>,
}

/// Every lint of a checked policy, in no particular order.
pub fn lint(input: &LintInput<'_>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut budget = POLICY_STEPS;
    for rule in input.rules {
        constant_tests(input, &rule.condition, &mut out);
    }
    let mut events: Vec<&'static Event> = Vec::new();
    for rule in input.rules {
        if !events.iter().any(|e| e.name == rule.event.name) {
            events.push(rule.event);
        }
    }
    for event in events {
        let rules: Vec<(usize, &CheckedRule)> = input
            .rules
            .iter()
            .enumerate()
            .filter(|(_, r)| r.event.name == event.name)
            .collect();
        EventLints::new(input, event, &rules, &mut budget).run(&mut out);
    }
    out
}

/// The lints that read one event's rules together.
struct EventLints<'a, 'b> {
    input: &'a LintInput<'a>,
    event: &'static Event,
    rules: &'b [(usize, &'a CheckedRule)],
    atoms: Atoms,
    /// Each rule's formula, negated or not, built once.
    formulas: HashMap<(u32, bool), Formula>,
    budget: &'b mut u32,
}

impl<'a, 'b> EventLints<'a, 'b> {
    fn new(
        input: &'a LintInput<'a>,
        event: &'static Event,
        rules: &'b [(usize, &'a CheckedRule)],
        budget: &'b mut u32,
    ) -> Self {
        EventLints {
            input,
            event,
            rules,
            atoms: Atoms::new(input.attributes, event),
            formulas: HashMap::new(),
            budget,
        }
    }

    fn run(&mut self, out: &mut Vec<Diagnostic>) {
        // Rules whose condition is never true say nothing more: every other lint would be a
        // consequence of that one.
        let mut dead = HashSet::new();
        for &(at, rule) in self.rules {
            // As the rule evaluates it: a value the program cannot read makes a deny rule's
            // tests hold (fail closed), so a deny rule on a fallible attribute is never dead.
            let condition = self.rule_formula(rule, false);
            if self.prove_unsat(&[&condition], false) {
                dead.insert(at);
                // When it is because of one constant comparison, W0007 has said so.
                let free = self.formula_free_constants(rule, false);
                if self.prove_unsat(&[&free], true) {
                    out.push(self.never_true(at, rule));
                }
                continue;
            }
            let negated = self.formula_free_constants(rule, true);
            if self.prove_unsat(&[&negated], true) {
                out.push(self.always_true(at, rule));
            }
        }
        if self.input.incomplete_events.contains(self.event.name) {
            return;
        }
        let live: Vec<(usize, &CheckedRule)> = self
            .rules
            .iter()
            .copied()
            .filter(|(at, _)| !dead.contains(at))
            .collect();
        self.duplicates(&live, out);
        self.shadowed(&live, out);
        self.lockout(&live, out);
    }

    /// `cond` as the rule of `action` evaluates it, negated or not, as a formula whose
    /// unknown tests count as the rule counts them.
    fn rule_formula(&mut self, rule: &CheckedRule, negate: bool) -> Formula {
        let key = (rule.index, negate);
        if let Some(formula) = self.formulas.get(&key) {
            return formula.clone();
        }
        // Unknown makes a deny or audit rule's tests hold and an allow rule's fail, at
        // whatever polarity; negating the rule turns that around.
        let unknown_holds = (rule.action != Action::Allow) != negate;
        let formula = self.formula(&rule.condition, negate, unknown_holds);
        self.formulas.insert(key, formula.clone());
        formula
    }

    fn formula(&mut self, cond: &Cond, negate: bool, unknown_holds: bool) -> Formula {
        Formula::of(cond, negate, unknown_holds, &mut self.atoms, false)
    }

    /// [`Self::rule_formula`] with each constant (`true`, `false`, `x == x`) free to take
    /// either value, for the questions [`Code::ConstantComparison`] must not answer twice.
    fn formula_free_constants(&mut self, rule: &CheckedRule, negate: bool) -> Formula {
        let unknown_holds = (rule.action != Action::Allow) != negate;
        Formula::of(
            &rule.condition,
            negate,
            unknown_holds,
            &mut self.atoms,
            true,
        )
    }

    /// Whether the conjunction of `goals` is proven unsatisfiable. `free_constants` lets
    /// tests that are constant on their own take either value, so that a condition found never
    /// true is so because of how its tests combine, which [`Code::ConstantComparison`] does
    /// not already say.
    fn prove_unsat(&mut self, goals: &[&Formula], free_constants: bool) -> bool {
        if *self.budget == 0 {
            return false;
        }
        let steps = PROOF_STEPS.min(*self.budget);
        let mut solver = Solver::new(&self.atoms, free_constants, steps);
        let answer = solver.search(goals.to_vec(), 0);
        *self.budget -= steps - solver.steps_left;
        answer == Ok(false)
    }

    fn condition_span(&self, at: usize, rule: &CheckedRule) -> Span {
        self.input
            .conditions
            .get(at)
            .copied()
            .flatten()
            .unwrap_or(rule.span)
    }

    fn never_true(&mut self, at: usize, rule: &CheckedRule) -> Diagnostic {
        // "Never true", not "never matches": a deny rule on a path still matches a path too
        // long to read (fail closed), whatever its condition says.
        let message = format!(
            "the condition of this `{}` rule is never true",
            rule.action.keyword()
        );
        let help = "check the values, or join the comparisons with `or` instead of `and`";
        // Point at two tests of the top-level conjunction that cannot hold together.
        let tests = conjuncts(&rule.condition);
        for (i, (a, a_negated)) in tests.iter().enumerate() {
            for (b, b_negated) in &tests[i + 1..] {
                if a.span == b.span {
                    continue;
                }
                let fa = self.formula(&Cond::Test((*a).clone()), *a_negated, false);
                let fb = self.formula(&Cond::Test((*b).clone()), *b_negated, false);
                if self.prove_unsat(&[&fa, &fb], true) {
                    return Diagnostic::new(Code::NeverTrue, message, b.span)
                        .with_label("this can never hold together with the other comparison")
                        .with_secondary(a.span, "the other comparison")
                        .with_help(help);
                }
            }
        }
        Diagnostic::new(Code::NeverTrue, message, self.condition_span(at, rule))
            .with_label("this condition is never true")
            .with_help(help)
    }

    fn always_true(&self, at: usize, rule: &CheckedRule) -> Diagnostic {
        Diagnostic::new(
            Code::AlwaysTrue,
            format!(
                "the condition of this `{}` rule is always true",
                rule.action.keyword()
            ),
            self.condition_span(at, rule),
        )
        .with_label(format!("this holds for every `{}` event", self.event.name))
        .with_help(format!(
            "if the rule is meant for every event, write `{} {}` without `where`; otherwise fix the condition",
            rule.action.keyword(),
            self.event.name
        ))
    }

    /// Two rules of one action whose conditions hold for exactly the same events.
    fn duplicates(&mut self, rules: &[(usize, &CheckedRule)], out: &mut Vec<Diagnostic>) {
        let mut reported = HashSet::new();
        for (i, &(_, first)) in rules.iter().enumerate() {
            if reported.contains(&i) {
                continue;
            }
            for (j, &(_, second)) in rules.iter().enumerate().skip(i + 1) {
                if second.action != first.action || reported.contains(&j) {
                    continue;
                }
                let (a, not_b) = (
                    self.rule_formula(first, false),
                    self.rule_formula(second, true),
                );
                if !self.prove_unsat(&[&a, &not_b], false) {
                    continue;
                }
                let (b, not_a) = (
                    self.rule_formula(second, false),
                    self.rule_formula(first, true),
                );
                if !self.prove_unsat(&[&b, &not_a], false) {
                    continue;
                }
                reported.insert(j);
                let mut d = Diagnostic::new(
                    Code::DuplicateRule,
                    format!(
                        "this `{} {}` rule repeats an earlier one",
                        second.action.keyword(),
                        self.event.name
                    ),
                    second.span,
                )
                .with_label("matches exactly the events the earlier rule matches")
                .with_secondary(first.span, "the earlier rule")
                .with_help("remove one of them");
                if first.action == Action::Deny && first.errno != second.errno {
                    d = d.with_note(format!(
                        "the first matching deny rule decides, so this rule's `{}` is never returned; the earlier rule returns `{}`",
                        crate::catalog::errno_name(second.errno),
                        crate::catalog::errno_name(first.errno)
                    ));
                }
                out.push(d);
            }
        }
    }

    /// Deny rules that never decide, because whenever they match an allow rule matches too.
    fn shadowed(&mut self, rules: &[(usize, &CheckedRule)], out: &mut Vec<Diagnostic>) {
        let allows: Vec<&CheckedRule> = rules
            .iter()
            .filter(|(_, r)| r.action == Action::Allow)
            .map(|(_, r)| *r)
            .collect();
        if allows.is_empty() {
            return;
        }
        for &(_, deny) in rules.iter().filter(|(_, r)| r.action == Action::Deny) {
            let matches = self.rule_formula(deny, false);
            let negated: Vec<Formula> = allows
                .iter()
                .map(|allow| self.rule_formula(allow, true))
                .collect();
            let single =
                (0..allows.len()).find(|&k| self.prove_unsat(&[&matches, &negated[k]], false));
            let beaten_by: Vec<&CheckedRule> = match single {
                Some(k) => vec![allows[k]],
                None => {
                    let mut goals = vec![&matches];
                    goals.extend(negated.iter());
                    if allows.len() < 2 || !self.prove_unsat(&goals, false) {
                        continue;
                    }
                    allows.clone()
                }
            };
            let mut d = Diagnostic::new(
                Code::ShadowedByAllow,
                format!("this `deny {}` rule never denies", self.event.name),
                deny.span,
            )
            .with_label(if beaten_by.len() == 1 {
                "whenever it matches, an allow rule matches too"
            } else {
                "whenever it matches, one of the allow rules matches too"
            });
            for allow in &beaten_by {
                d = d.with_secondary(allow.span, "allow rules win over deny rules");
            }
            out.push(d.with_help(
                "narrow the allow rule so that it leaves out what should be denied, or remove the deny rule",
            ));
        }
    }

    /// Deny rules that match every event of this kind by the administrator.
    fn lockout(&mut self, rules: &[(usize, &CheckedRule)], out: &mut Vec<Diagnostic>) {
        if self.input.mode == Some(PolicyMode::Audit) {
            return;
        }
        let Some((_, loses)) = LOCKOUT_EVENTS
            .iter()
            .find(|(name, _)| *name == self.event.name)
        else {
            return;
        };
        let Some(root) = self.root() else {
            return;
        };
        // An allow rule that may let some event of root through leaves root a way in.
        for &(_, allow) in rules.iter().filter(|(_, r)| r.action == Action::Allow) {
            let allowed = self.rule_formula(allow, false);
            if !self.prove_unsat(&[&root, &allowed], false) {
                return;
            }
        }
        for &(_, deny) in rules.iter().filter(|(_, r)| r.action == Action::Deny) {
            let spared = self.rule_formula(deny, true);
            if !self.prove_unsat(&[&root, &spared], false) {
                continue;
            }
            out.push(
                Diagnostic::new(
                    Code::LocksOutAdministrator,
                    format!(
                        "this rule denies every `{}` by root",
                        self.event.name
                    ),
                    deny.span,
                )
                .with_label("matches whenever `uid` and `euid` are 0")
                .with_note(format!(
                    "with this policy enforced, {loses}; only a reboot would undo it"
                ))
                .with_help(format!(
                    "exempt the administrator, e.g. add `and uid != 0`, or allow what root needs with an `allow {}` rule",
                    self.event.name
                )),
            );
        }
    }

    /// `uid == 0 and euid == 0`, when the event has both.
    fn root(&mut self) -> Option<Formula> {
        let mut parts = Vec::new();
        for name in ["uid", "euid"] {
            let attribute = self.event.attribute(name)?;
            let atom = self.atoms.intern(
                attribute,
                Predicate::Int {
                    op: IntOp::Eq,
                    value: 0,
                },
            );
            parts.push(Formula::Leaf {
                atom,
                want: true,
                unknown_holds: false,
            });
        }
        Some(Formula::And(parts))
    }
}

/// The tests joined by the top-level `and`s of `cond`, each with whether it is negated.
fn conjuncts(cond: &Cond) -> Vec<(&Test, bool)> {
    let mut out = Vec::new();
    let mut stack = vec![(cond, false)];
    while let Some((c, negated)) = stack.pop() {
        match c {
            Cond::And(a, b) if !negated => {
                stack.push((b, false));
                stack.push((a, false));
            }
            Cond::Or(a, b) if negated => {
                stack.push((b, true));
                stack.push((a, true));
            }
            Cond::Not(inner) => stack.push((inner, !negated)),
            Cond::Test(test) => out.push((test, negated)),
            _ => {}
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Comparisons whose answer does not depend on the event.

/// The values an integer attribute can take: `0..=max`.
fn int_max(attribute: &Attribute, resolved: Option<&ResolvedAttribute>) -> u64 {
    use crate::catalog::Source;
    match attribute.source {
        // bpf_get_current_uid_gid and bpf_get_current_pid_tgid give 32-bit halves.
        Source::CurrentUid | Source::CurrentGid | Source::CurrentPid | Source::CurrentTgid => {
            u64::from(u32::MAX)
        }
        _ => match resolved.and_then(|r| r.access.as_ref()).map(|a| a.size) {
            Some(bytes @ 1..=7) => (1u64 << (8 * bytes)) - 1,
            // Unknown width: every u64 is possible, which can only make the lints quieter.
            _ => u64::MAX,
        },
    }
}

/// What a test answers for every value, when that does not depend on the value.
fn constant_truth(predicate: &Predicate, max: u64) -> Option<bool> {
    let (mask, op, value) = match *predicate {
        Predicate::Int { op, value } => (max, op, value),
        Predicate::Masked { mask, op, value } => (mask & max, op, value),
        Predicate::Glob(ref glob) => return matches_everything(glob).then_some(true),
        // A range of one family: never every address, since the other family's are not in it.
        Predicate::StrEq(_) | Predicate::IsTrue | Predicate::Cidr { .. } => return None,
    };
    // The value compared ranges over 0..=mask (a masked value has only the mask's bits; an
    // unmasked one is all of its width), so these are exact.
    let top = mask;
    let unreachable = value & !mask != 0; // `==` can never hold
    match op {
        IntOp::Eq if unreachable => Some(false),
        IntOp::Ne if unreachable => Some(true),
        IntOp::Eq if mask == 0 => Some(value == 0),
        IntOp::Ne if mask == 0 => Some(value != 0),
        IntOp::Lt if value == 0 => Some(false),
        IntOp::Lt if top < value => Some(true),
        IntOp::Le if top <= value => Some(true),
        IntOp::Gt if top <= value => Some(false),
        IntOp::Ge if value == 0 => Some(true),
        IntOp::Ge if top < value => Some(false),
        _ => None,
    }
}

/// A glob with an alternative made only of `**`, which matches every string.
fn matches_everything(glob: &Glob) -> bool {
    glob.alternatives
        .iter()
        .any(|a| !a.is_empty() && a.iter().all(|t| *t == Token::DoubleStar))
}

fn constant_tests(input: &LintInput<'_>, cond: &Cond, out: &mut Vec<Diagnostic>) {
    let mut stack = vec![cond];
    while let Some(c) = stack.pop() {
        match c {
            Cond::And(a, b) | Cond::Or(a, b) => {
                stack.push(b);
                stack.push(a);
            }
            Cond::Not(inner) => stack.push(inner),
            Cond::Const(_) => {}
            Cond::Test(test) => {
                let Some(resolved) = input.attributes.get(test.attr.0 as usize) else {
                    continue;
                };
                let attribute = resolved.attribute;
                let max = int_max(attribute, Some(resolved));
                let Some(truth) = constant_truth(&test.predicate, max) else {
                    continue;
                };
                out.push(constant_comparison(
                    attribute.name,
                    &test.predicate,
                    max,
                    truth,
                    test.span,
                ));
            }
        }
    }
}

/// A mask or a value: small ones in decimal, others in hex, where bits are easy to read.
fn show_bits(value: u64) -> String {
    if value <= 9 {
        value.to_string()
    } else {
        format!("{value:#x}")
    }
}

fn constant_comparison(
    name: &str,
    predicate: &Predicate,
    max: u64,
    truth: bool,
    span: Span,
) -> Diagnostic {
    let (label, help) = match *predicate {
        Predicate::Glob(_) => {
            return Diagnostic::new(
                Code::ConstantComparison,
                format!("this glob matches every value of `{name}`"),
                span,
            )
            .with_label(
                "`**` matches every string, so this comparison does not depend on the event",
            )
            .with_help("remove the comparison, or write the pattern you meant");
        }
        Predicate::Int { op, value } => {
            let range = if max == u64::MAX {
                format!("`{name}` is unsigned")
            } else {
                format!("`{name}` is unsigned and at most {max}")
            };
            (
                match op {
                    IntOp::Lt | IntOp::Ge if value == 0 => {
                        format!("`{name}` is unsigned, never below 0")
                    }
                    _ => format!(
                        "{range}, so `{name} {} {value}` is always {truth}",
                        op.symbol()
                    ),
                },
                "compare with a value the attribute can take",
            )
        }
        Predicate::Masked { mask, op, value } => {
            let bits = show_bits(mask & max);
            (
                if value & !(mask & max) != 0 && matches!(op, IntOp::Eq | IntOp::Ne) {
                    format!(
                        "`{name} & {}` keeps only the bits of {bits}, and {} has others",
                        show_bits(mask),
                        show_bits(value)
                    )
                } else {
                    format!(
                        "`{name} & {}` is between 0 and {bits}, so `{} {}` is always {truth}",
                        show_bits(mask),
                        op.symbol(),
                        show_bits(value)
                    )
                },
                "check the mask and the value: a flag test is usually `ATTRIBUTE & FLAG != 0`",
            )
        }
        Predicate::StrEq(_) | Predicate::IsTrue | Predicate::Cidr { .. } => {
            return Diagnostic::new(Code::ConstantComparison, "comparison is constant", span)
        }
    };
    Diagnostic::new(
        Code::ConstantComparison,
        format!("this comparison is always {truth}"),
        span,
    )
    .with_label(label)
    .with_help(help)
}

/// `x OP x` for an attribute compared with itself, when the checker accepts the operator for
/// its type: the answer without reading `x`.
pub fn self_comparison_value(ty: ValueType, op: crate::ast::CmpOp) -> Option<bool> {
    use crate::ast::CmpOp;
    match (ty, op) {
        (_, CmpOp::Eq) => Some(true),
        (_, CmpOp::Ne) => Some(false),
        (ValueType::Int, CmpOp::Le | CmpOp::Ge) => Some(true),
        (ValueType::Int, CmpOp::Lt | CmpOp::Gt) => Some(false),
        _ => None,
    }
}

pub fn self_comparison(name: &str, value: bool, span: Span) -> Diagnostic {
    Diagnostic::new(
        Code::ConstantComparison,
        format!("this comparison is always {value}"),
        span,
    )
    .with_label(format!("`{name}` is compared with itself"))
    .with_help("compare the attribute with a literal, e.g. `uid == 0`")
}

// ---------------------------------------------------------------------------------------------
// The proof engine.

/// What an atom's attribute can be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Domain {
    Int {
        max: u64,
    },
    /// A string; `fallible` when the program may be unable to read it (fail closed).
    Str {
        fallible: bool,
    },
    Bool,
    /// A value the lints prove nothing about: any truth values its tests have together are
    /// taken as possible. An endpoint (port, address) is one: a socket of another family has
    /// none, and then every test on it is false, `port == 80` and `port != 80` alike.
    Opaque,
}

/// One test of the event: an attribute and a predicate on it.
struct Atom {
    attribute: &'static str,
    domain: Domain,
    predicate: Predicate,
    /// The predicate is constant over the domain (see [`constant_truth`]).
    constant: bool,
    /// The test itself may be unknown: a test on a string the program may not read.
    fallible: bool,
}

/// Predicates as hashable keys; globs by their pattern (two spellings of one glob are two
/// atoms, which only makes a proof less likely, never wrong).
#[derive(Clone, PartialEq, Eq, Hash)]
enum PredicateKey {
    Int(u8, u64),
    Masked(u64, u8, u64),
    Str(Vec<u8>),
    Glob(String),
    Cidr(std::net::IpAddr, u8),
    IsTrue,
}

fn op_key(op: IntOp) -> u8 {
    op as u8
}

impl PredicateKey {
    fn of(predicate: &Predicate) -> PredicateKey {
        match predicate {
            Predicate::Int { op, value } => PredicateKey::Int(op_key(*op), *value),
            Predicate::Masked { mask, op, value } => {
                PredicateKey::Masked(*mask, op_key(*op), *value)
            }
            Predicate::StrEq(bytes) => PredicateKey::Str(bytes.clone()),
            Predicate::Glob(glob) => PredicateKey::Glob(glob.pattern.clone()),
            Predicate::Cidr { addr, prefix } => PredicateKey::Cidr(*addr, *prefix),
            Predicate::IsTrue => PredicateKey::IsTrue,
        }
    }
}

/// The atoms of one event, interned.
struct Atoms {
    /// Each attribute of the checked policy, by [`crate::check::AttrId`].
    by_id: Vec<&'static Attribute>,
    widths: HashMap<&'static str, u64>,
    atoms: Vec<Atom>,
    index: HashMap<(&'static str, PredicateKey), usize>,
}

impl Atoms {
    fn new(attributes: &[ResolvedAttribute], event: &'static Event) -> Atoms {
        let widths = attributes
            .iter()
            .filter(|r| r.event.name == event.name)
            .map(|r| (r.attribute.name, int_max(r.attribute, Some(r))))
            .collect();
        Atoms {
            by_id: attributes.iter().map(|r| r.attribute).collect(),
            widths,
            atoms: Vec::new(),
            index: HashMap::new(),
        }
    }

    fn attribute_of_test(&self, test: &Test) -> Option<&'static Attribute> {
        self.by_id.get(test.attr.0 as usize).copied()
    }

    fn unconstrained(&mut self) -> usize {
        self.atoms.push(Atom {
            attribute: "",
            domain: Domain::Bool,
            predicate: Predicate::IsTrue,
            constant: false,
            fallible: false,
        });
        self.atoms.len() - 1
    }

    fn intern(&mut self, attribute: &'static Attribute, predicate: Predicate) -> usize {
        let key = (attribute.name, PredicateKey::of(&predicate));
        if let Some(&at) = self.index.get(&key) {
            return at;
        }
        let domain = match attribute.ty {
            _ if matches!(attribute.source, crate::catalog::Source::Endpoint { .. }) => {
                Domain::Opaque
            }
            ValueType::Addr => Domain::Opaque,
            ValueType::Int | ValueType::Enum(_) => Domain::Int {
                max: self
                    .widths
                    .get(attribute.name)
                    .copied()
                    .unwrap_or_else(|| int_max(attribute, None)),
            },
            ValueType::Str | ValueType::Path => Domain::Str {
                fallible: StringKind::of(&attribute.source) != StringKind::Padded,
            },
            ValueType::Bool => Domain::Bool,
        };
        let constant = match domain {
            Domain::Int { max } => constant_truth(&predicate, max).is_some(),
            _ => constant_truth(&predicate, u64::MAX).is_some(),
        };
        let fallible = matches!(domain, Domain::Str { fallible: true } | Domain::Opaque);
        self.atoms.push(Atom {
            attribute: attribute.name,
            domain,
            predicate,
            constant,
            fallible,
        });
        self.index.insert(key, self.atoms.len() - 1);
        self.atoms.len() - 1
    }
}

/// A condition in negation normal form over atoms.
#[derive(Clone, Debug)]
enum Formula {
    Const(bool),
    /// The atom is `want`; or it is unknown and `unknown_holds`.
    Leaf {
        atom: usize,
        want: bool,
        unknown_holds: bool,
    },
    And(Vec<Formula>),
    Or(Vec<Formula>),
}

impl Formula {
    /// `cond` (negated when `negate`) with negations pushed to the tests and runs of one
    /// connective flattened, so long lists do not nest deeply.
    fn of(
        cond: &Cond,
        negate: bool,
        unknown_holds: bool,
        atoms: &mut Atoms,
        free_constants: bool,
    ) -> Formula {
        let (mut cond, mut negate) = (cond, negate);
        while let Cond::Not(inner) = cond {
            cond = inner;
            negate = !negate;
        }
        match cond {
            Cond::Const(_) if free_constants => Formula::Leaf {
                atom: atoms.unconstrained(),
                want: true,
                unknown_holds,
            },
            Cond::Const(b) => Formula::Const(*b != negate),
            Cond::Test(test) => {
                let attribute = atoms.attribute_of_test(test);
                match attribute {
                    Some(attribute) => Formula::Leaf {
                        atom: atoms.intern(attribute, test.predicate.clone()),
                        want: !negate,
                        unknown_holds,
                    },
                    // Cannot happen for a checked policy; an atom nothing constrains is
                    // safe, since it can take either value.
                    None => Formula::Leaf {
                        atom: atoms.unconstrained(),
                        want: true,
                        unknown_holds,
                    },
                }
            }
            Cond::And(..) | Cond::Or(..) => {
                let is_and = matches!(cond, Cond::And(..));
                let mut parts = Vec::new();
                let mut stack = vec![cond];
                while let Some(c) = stack.pop() {
                    match c {
                        Cond::And(a, b) if is_and => stack.extend([b.as_ref(), a.as_ref()]),
                        Cond::Or(a, b) if !is_and => stack.extend([b.as_ref(), a.as_ref()]),
                        other => parts.push(Formula::of(
                            other,
                            negate,
                            unknown_holds,
                            atoms,
                            free_constants,
                        )),
                    }
                }
                // De Morgan: a negated `and` is an `or` of negations.
                if is_and != negate {
                    Formula::And(parts)
                } else {
                    Formula::Or(parts)
                }
            }
            // Stripped by the loop above.
            Cond::Not(_) => Formula::Const(true),
        }
    }
}

/// An atom's value in a search: true or false, or unknown (only for fallible atoms).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Value {
    Known(bool),
    Unknown,
}

/// The search ran out of steps or depth: no answer, so no warning.
#[derive(Debug, PartialEq, Eq)]
struct GaveUp;

/// A depth-first search for values of the atoms that satisfy a conjunction of formulas,
/// backtracking at each `or` and at each atom that may be true or unknown. Every value it
/// assigns is checked against the attribute's theory, which answers "impossible" only when it
/// has shown it; so `Ok(false)` is a proof, `Ok(true)` and `Err(GaveUp)` are not needed to be.
struct Solver<'s> {
    atoms: &'s [Atom],
    free_constants: bool,
    steps_left: u32,
    values: Vec<Option<Value>>,
    /// Assigned atoms, in order, to undo on backtracking.
    trail: Vec<usize>,
}

impl<'s> Solver<'s> {
    fn new(atoms: &'s Atoms, free_constants: bool, steps: u32) -> Solver<'s> {
        Solver {
            atoms: &atoms.atoms,
            free_constants,
            steps_left: steps,
            values: vec![None; atoms.atoms.len()],
            trail: Vec::new(),
        }
    }

    fn search(&mut self, goals: Vec<&Formula>, depth: u32) -> Result<bool, GaveUp> {
        if depth > MAX_DEPTH {
            return Err(GaveUp);
        }
        let mark = self.trail.len();
        let result = self.run(goals, depth);
        while self.trail.len() > mark {
            if let Some(atom) = self.trail.pop() {
                self.values[atom] = None;
            }
        }
        result
    }

    fn run(&mut self, mut goals: Vec<&Formula>, depth: u32) -> Result<bool, GaveUp> {
        while let Some(goal) = goals.pop() {
            self.steps_left = self.steps_left.checked_sub(1).ok_or(GaveUp)?;
            match goal {
                Formula::Const(true) => {}
                Formula::Const(false) => return Ok(false),
                Formula::And(parts) => goals.extend(parts.iter()),
                Formula::Or(parts) => {
                    let Some((last, rest)) = parts.split_last() else {
                        return Ok(false);
                    };
                    for part in rest {
                        let mut branch = goals.clone();
                        branch.push(part);
                        if self.search(branch, depth + 1)? {
                            return Ok(true);
                        }
                    }
                    goals.push(last);
                }
                &Formula::Leaf {
                    atom,
                    want,
                    unknown_holds,
                } => match self.values.get(atom).copied().flatten() {
                    Some(Value::Known(value)) if value != want => return Ok(false),
                    Some(Value::Unknown) if !unknown_holds => return Ok(false),
                    Some(_) => {}
                    None => {
                        let may_be_unknown =
                            unknown_holds && self.atoms.get(atom).is_some_and(|a| a.fallible);
                        self.assign(atom, Value::Known(want));
                        // A theory check reads every assigned atom: it costs that many steps.
                        let cost = u32::try_from(self.trail.len()).unwrap_or(u32::MAX);
                        self.steps_left = self.steps_left.checked_sub(cost).ok_or(GaveUp)?;
                        let consistent = self.consistent(atom);
                        if !may_be_unknown {
                            if !consistent {
                                return Ok(false);
                            }
                            continue;
                        }
                        if consistent && self.search(goals.clone(), depth + 1)? {
                            return Ok(true);
                        }
                        // Or the program cannot read the value, which this leaf accepts.
                        self.values[atom] = Some(Value::Unknown);
                    }
                },
            }
        }
        Ok(true)
    }

    fn assign(&mut self, atom: usize, value: Value) {
        self.values[atom] = Some(value);
        self.trail.push(atom);
    }

    /// Whether some value of `atom`'s attribute gives every known atom of it its value. `true`
    /// when that cannot be decided cheaply.
    fn consistent(&self, atom: usize) -> bool {
        let Some(this) = self.atoms.get(atom) else {
            return true;
        };
        let known = self.trail.iter().filter_map(|&a| {
            let other = &self.atoms[a];
            let ignored = self.free_constants && other.constant;
            match self.values[a] {
                Some(Value::Known(value)) if other.attribute == this.attribute && !ignored => {
                    Some((&other.predicate, value))
                }
                _ => None,
            }
        });
        match this.domain {
            Domain::Int { max } => int_satisfiable(max, known),
            Domain::Str { .. } => str_satisfiable(known.collect()),
            // One predicate (`IsTrue`), so one atom, which has one value.
            Domain::Bool => true,
            Domain::Opaque => true,
        }
    }
}

/// Whether some integer in `0..=max` (`max` is `2^k - 1`) satisfies every `(x & mask) OP v`.
/// Exact on small ranges; elsewhere it refutes only through necessary conditions.
fn int_satisfiable<'p>(max: u64, known: impl Iterator<Item = (&'p Predicate, bool)>) -> bool {
    let constraints: Vec<(u64, IntOp, u64)> = known
        .filter_map(|(predicate, value)| {
            let (mask, op, v) = match *predicate {
                Predicate::Int { op, value } => (max, op, value),
                Predicate::Masked { mask, op, value } => (mask & max, op, value),
                _ => return None,
            };
            Some((mask, if value { op } else { op.negated() }, v))
        })
        .collect();
    let holds = |x: u64| {
        constraints
            .iter()
            .all(|&(mask, op, v)| op.holds(x & mask, v))
    };
    let (mut lo, mut hi) = (0u64, max);
    for &(_, op, v) in constraints.iter().filter(|c| c.0 == max) {
        match op {
            IntOp::Eq => (lo, hi) = (lo.max(v), hi.min(v)),
            IntOp::Lt if v == 0 => return false,
            IntOp::Lt => hi = hi.min(v - 1),
            IntOp::Le => hi = hi.min(v),
            IntOp::Gt if v == u64::MAX => return false,
            IntOp::Gt => lo = lo.max(v + 1),
            IntOp::Ge => lo = lo.max(v),
            IntOp::Ne => {}
        }
    }
    if lo > hi {
        return false;
    }
    if hi - lo < ENUMERATE {
        return (lo..=hi).any(holds);
    }
    // Bits fixed by `(x & m) == v`.
    let (mut known_mask, mut known_bits) = (0u64, 0u64);
    for &(mask, op, v) in &constraints {
        if op == IntOp::Eq && mask != max {
            if v & !mask != 0 || (known_bits ^ v) & known_mask & mask != 0 {
                return false;
            }
            known_mask |= mask;
            known_bits |= v & mask;
        }
    }
    // The least and the greatest value with those bits must reach the range.
    if known_bits > hi || (known_bits | (max & !known_mask)) < lo {
        return false;
    }
    // Each mask's masked value, decided value by value when its range is small.
    let masks: HashSet<u64> = constraints
        .iter()
        .filter(|c| c.0 != max)
        .map(|c| c.0)
        .collect();
    for mask in masks {
        let (mut ylo, mut yhi) = (0u64, mask);
        for &(_, op, v) in constraints.iter().filter(|c| c.0 == mask) {
            match op {
                IntOp::Eq => (ylo, yhi) = (ylo.max(v), yhi.min(v)),
                IntOp::Lt if v == 0 => return false,
                IntOp::Lt => yhi = yhi.min(v - 1),
                IntOp::Le => yhi = yhi.min(v),
                IntOp::Gt if v == u64::MAX => return false,
                IntOp::Gt => ylo = ylo.max(v + 1),
                IntOp::Ge => ylo = ylo.max(v),
                IntOp::Ne => {}
            }
        }
        if ylo > yhi {
            return false;
        }
        if yhi - ylo < ENUMERATE {
            let possible = (ylo..=yhi).any(|y| {
                y & !mask == 0
                    && (y ^ known_bits) & known_mask & mask == 0
                    && constraints
                        .iter()
                        .filter(|c| c.0 == mask)
                        .all(|&(_, op, v)| op.holds(y, v))
            });
            if !possible {
                return false;
            }
        }
    }
    true
}

/// Whether some string gives every known string atom its value. Exact when an `==` or a
/// wildcard-free glob pins the candidates; otherwise it tries a few strings each positive glob
/// matches, and answers `true` when none is refuted by construction.
fn str_satisfiable(known: Vec<(&Predicate, bool)>) -> bool {
    let holds = |s: &[u8]| {
        known.iter().all(|(predicate, value)| match predicate {
            Predicate::StrEq(bytes) => (bytes.as_slice() == s) == *value,
            Predicate::Glob(glob) => glob.matches(s) == *value,
            _ => true,
        })
    };
    if let Some((Predicate::StrEq(bytes), _)) = known
        .iter()
        .find(|(p, value)| *value && matches!(p, Predicate::StrEq(_)))
    {
        return holds(bytes);
    }
    let positive_glob = known.iter().find_map(|(p, value)| match p {
        Predicate::Glob(glob) if *value => Some(glob),
        _ => None,
    });
    let Some(glob) = positive_glob else {
        return true;
    };
    let literal_only = glob
        .alternatives
        .iter()
        .all(|a| a.iter().all(|t| matches!(t, Token::Byte(_))));
    let candidates: Vec<Vec<u8>> = glob
        .alternatives
        .iter()
        .flat_map(|a| [witness(a, b""), witness(a, b"x"), witness(a, b"x/y")])
        .collect();
    if candidates.iter().any(|c| holds(c)) {
        return true;
    }
    // Every string the glob matches is a candidate: nothing else can satisfy it.
    !literal_only
}

/// A string the glob alternative matches, with each star run replaced by `fill` (dropping the
/// `/` for a single star).
fn witness(tokens: &[Token], fill: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for token in tokens {
        match token {
            Token::Byte(b) => out.push(*b),
            Token::DoubleStar => out.extend_from_slice(fill),
            Token::Star => out.extend(fill.iter().filter(|b| **b != b'/')),
            Token::AnyByte | Token::Class { .. } => {
                if let Some(b) = (0x20u8..0x7f).find(|b| token.accepts(*b)) {
                    out.push(b);
                }
            }
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::catalog;

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
        int_satisfiable(max, known.iter().map(|(p, v)| (p, *v)))
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
        let sat = |known: &[(Predicate, bool)]| {
            str_satisfiable(known.iter().map(|(p, v)| (p, *v)).collect())
        };
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
        assert_eq!(constant_truth(&int(IntOp::Lt, 0), u32max), Some(false));
        assert_eq!(constant_truth(&int(IntOp::Ge, 0), u32max), Some(true));
        assert_eq!(constant_truth(&int(IntOp::Le, u32max), u32max), Some(true));
        assert_eq!(
            constant_truth(&int(IntOp::Eq, u32max + 1), u32max),
            Some(false)
        );
        assert_eq!(constant_truth(&int(IntOp::Eq, u32max), u32max), None);
        assert_eq!(constant_truth(&int(IntOp::Gt, 0), u32max), None);
        assert_eq!(
            constant_truth(&masked(7, IntOp::Gt, 7), u32max),
            Some(false)
        );
        assert_eq!(constant_truth(&masked(7, IntOp::Le, 7), u32max), Some(true));
        assert_eq!(
            constant_truth(&masked(4, IntOp::Eq, 8), u32max),
            Some(false)
        );
        assert_eq!(constant_truth(&masked(4, IntOp::Ne, 8), u32max), Some(true));
        assert_eq!(constant_truth(&masked(6, IntOp::Eq, 4), u32max), None);
        assert_eq!(constant_truth(&glob("**"), u64::MAX), Some(true));
        assert_eq!(constant_truth(&glob("/**"), u64::MAX), None);
        assert_eq!(constant_truth(&eq(""), u64::MAX), None);
    }

    /// A policy far beyond what the budget proves stays silent instead of taking long.
    #[test]
    fn large_policies_end_within_the_budget() {
        let mut source = String::from("list names = [");
        for i in 0..300 {
            source.push_str(&format!("\"n{i}\", "));
        }
        source.push_str("\"last\"]\n");
        for i in 0..150 {
            source.push_str(&format!(
                "deny exec where (comm in names or uid == {i}) and (comm == \"x{i}\" or gid == {i})\n"
            ));
            source.push_str(&format!("allow exec where comm in names and uid == {i}\n"));
        }
        let (policy, diagnostics) = crate::syntax::parse(&source);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        struct NoKernel;
        impl crate::kernel::KernelTypes for NoKernel {
            fn describe(&self) -> String {
                "no kernel".into()
            }
            fn hook_params(&self, _: &str) -> Option<Vec<crate::kernel::Param>> {
                Some(vec![crate::kernel::Param {
                    name: "bprm".into(),
                    ty: 1,
                }])
            }
            fn named_struct(&self, _: &str) -> Option<u32> {
                None
            }
            fn member(&self, _: u32, _: &str) -> Option<crate::kernel::Member> {
                None
            }
            fn shape(&self, _: u32) -> crate::kernel::TypeShape {
                crate::kernel::TypeShape::Other
            }
        }
        // Only process attributes: every rule checks without a kernel, so every lint runs
        // (the event is too large to compile, E0207, which does not stop the lints).
        let (_, found) = crate::check::check(&policy.unwrap(), &NoKernel);
        assert!(found.iter().any(|d| d.code == Code::EventTooLarge));
    }
}
