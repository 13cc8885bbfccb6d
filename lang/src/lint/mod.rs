//! Lints: warnings about rules that check, compile and load, but cannot do what their author
//! meant. A condition that is never true, a deny rule an allow rule always beats, the same rule
//! twice, a comparison whose answer is known before any event happens, a rule that would lock
//! the administrator out.
//!
//! Every lint here is a proof, never a guess: it warns only when it has shown the claim for
//! every possible event, and says nothing when the proof would take too long. The proofs run
//! on the checked conditions ([`Cond`]), so macros and lists are already expanded, by a small
//! satisfiability search (`proof::Solver`) over the tests of one event. Each test is an *atom*;
//! the search gives atoms truth values and asks a per-attribute theory whether some value of
//! the attribute has them all (an integer in its range, a string).
//!
//! Decisions follow the reference evaluator ([`crate::eval`]), including *fail closed*: a test
//! on a string the program cannot read (a path longer than `PATH_MAX`, a glob scan past its
//! limit) is unknown, and makes a deny rule match and an allow rule not match. So
//! `allow exec where path == "/x"` does not make `deny exec where path == "/x"` dead (a path
//! too long to read is denied by the latter), and the lint that says "dead" knows it. Whether a
//! condition is *never true* is a question about the condition itself, asked with two values.
//!
//! One file a job: this one runs the lints of a policy, `constant` finds comparisons whose
//! answer is known before any event, `proof` is the search the other lints ask. `diff` asks
//! the same search what two versions of a policy decide differently, and `witness` turns the
//! search's models into example events.

mod constant;
pub mod diff;
mod prefixes;
mod proof;
#[cfg(test)]
mod tests;
mod warning;
mod witness;

pub use constant::self_comparison_value;
pub use warning::Lint;

use crate::ast::Action;
use crate::catalog::Event;
use crate::checked::{CheckedRule, Cond, IntOp, PolicyMode, Predicate, ResolvedAttribute, Test};
use crate::diagnostic::Diagnostic;
use crate::span::Span;
use constant::constant_tests;
use prefixes::PrefixIndex;
use proof::{Atoms, Formula, Solver};
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
    lint_within(input, POLICY_STEPS)
        .0
        .iter()
        .map(Lint::diagnostic)
        .collect()
}

/// [`lint`] with `budget` proof steps for the whole policy; also returns the steps left, so
/// that a test can see the budget bind.
fn lint_within(input: &LintInput<'_>, mut budget: u32) -> (Vec<Lint>, u32) {
    let mut out = Vec::new();
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
    (out, budget)
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

    fn run(&mut self, out: &mut Vec<Lint>) {
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
    /// either value, for the questions [`Code::ConstantComparison`](crate::diagnostic::Code::ConstantComparison) must not answer twice.
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
    /// true is so because of how its tests combine, which [`Code::ConstantComparison`](crate::diagnostic::Code::ConstantComparison) does
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

    fn never_true(&mut self, at: usize, rule: &CheckedRule) -> Lint {
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
                    return Lint::NeverTrue {
                        action: rule.action,
                        span: b.span,
                        conflicting: Some(a.span),
                    };
                }
            }
        }
        Lint::NeverTrue {
            action: rule.action,
            span: self.condition_span(at, rule),
            conflicting: None,
        }
    }

    fn always_true(&self, at: usize, rule: &CheckedRule) -> Lint {
        Lint::AlwaysTrue {
            action: rule.action,
            event: self.event.name,
            span: self.condition_span(at, rule),
        }
    }

    /// Two rules of one action whose conditions hold for exactly the same events.
    fn duplicates(&mut self, rules: &[(usize, &CheckedRule)], out: &mut Vec<Lint>) {
        let mut reported = HashSet::new();
        let index = PrefixIndex::new(rules);
        for (i, &(_, first)) in rules.iter().enumerate() {
            if reported.contains(&i) {
                continue;
            }
            for j in index.candidates_after(i) {
                // A spent budget proves nothing: stop before building the pair's formulas,
                // which at ten thousand rules took seconds for pairs it could not prove.
                if *self.budget == 0 {
                    return;
                }
                let second = rules[j].1;
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
                let errnos = (first.action.refuses() && first.errno != second.errno).then(|| {
                    (
                        crate::catalog::errno_name(second.errno),
                        crate::catalog::errno_name(first.errno),
                    )
                });
                out.push(Lint::DuplicateRule {
                    action: second.action,
                    event: self.event.name,
                    span: second.span,
                    earlier: first.span,
                    errnos,
                });
            }
        }
    }

    /// Deny rules that never decide, because whenever they match an allow rule matches too.
    fn shadowed(&mut self, rules: &[(usize, &CheckedRule)], out: &mut Vec<Lint>) {
        let allows: Vec<&CheckedRule> = rules
            .iter()
            .filter(|(_, r)| r.action == Action::Allow)
            .map(|(_, r)| *r)
            .collect();
        if allows.is_empty() {
            return;
        }
        for &(_, deny) in rules.iter().filter(|(_, r)| r.action.refuses()) {
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
            out.push(Lint::ShadowedByAllow {
                event: self.event.name,
                span: deny.span,
                allows: beaten_by.iter().map(|allow| allow.span).collect(),
            });
        }
    }

    /// Deny rules that match every event of this kind by the administrator.
    fn lockout(&mut self, rules: &[(usize, &CheckedRule)], out: &mut Vec<Lint>) {
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
        for &(_, deny) in rules.iter().filter(|(_, r)| r.action.refuses()) {
            let spared = self.rule_formula(deny, true);
            if !self.prove_unsat(&[&root, &spared], false) {
                continue;
            }
            out.push(Lint::LocksOutAdministrator {
                event: self.event.name,
                span: deny.span,
                loses,
            });
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
