//! Runs: which rules, from one on, are decided together (a literal tree, a glob search, a
//! mixed run), and the cheap tests they share.
//!
//! A run's rules each test one costly value (a path) once the tests known to hold here are
//! left out. Known are the gate every reporting rule shares (tested before the value is
//! computed, see `values`), and the run's own gate: the cheap tests (`uid != 0`) that its
//! first rule has beyond that. The rules that follow join while their cheap tests are the same
//! set; the gate is tested once in front of the run, and a failed gate skips it, since each
//! of its rules would fail on it. So one rule with other cheap tests (`uid != 5`, a `comm`)
//! does not keep a thousand others from being trees: the rules on each side of it form runs
//! of their own.

use super::ProgramGen;
use crate::bpf::Label;
use crate::ir::{Cond, Rule};

/// The runs that can start at a rule, under its gate.
pub(super) struct Runs {
    /// The cheap tests the run's rules share beyond what is known: tested once, first.
    pub gate: Vec<Cond>,
    /// How many rules, from the first, share the gate.
    pub gated: usize,
    /// The lengths of each kind of run over the gated rules (0: none forms).
    pub tree: usize,
    pub globs: usize,
    pub mixed: usize,
}

impl Runs {
    pub fn longest(&self) -> usize {
        self.tree.max(self.globs).max(self.mixed)
    }
}

/// Each rule's own gate in a list of rules, and where each block of rules with the same gate
/// ends: found once per list, so that finding the runs at each rule does not scan the rest.
pub(super) struct Gates {
    own: Vec<Vec<Cond>>,
    block_end: Vec<usize>,
}

impl Gates {
    /// The gate of the rule at `at`, and how many rules from it share it.
    pub(super) fn at(&self, at: usize) -> (&[Cond], usize) {
        (&self.own[at], self.block_end[at] - at)
    }
}

impl ProgramGen<'_> {
    /// The gates of `rules` with what is known now (before any run's gate).
    pub(super) fn gates_of(&self, rules: &[Rule]) -> Gates {
        let own: Vec<Vec<Cond>> = rules.iter().map(|rule| self.own_gate(rule)).collect();
        let block_end = lang::runs::block_ends(&own, |a, b| same_set(a, b));
        Gates { own, block_end }
    }

    /// The runs that start at `rules[at]`, found with its gate known.
    pub(super) fn runs(&mut self, rules: &[Rule], gates: &Gates, at: usize) -> Runs {
        let gate = gates.own[at].clone();
        let gated = gates.block_end[at] - at;
        let known = self.known_true.len();
        self.known_true.extend(gate.iter().cloned());
        let scope = &rules[at..at + gated];
        let runs = Runs {
            tree: self.literal_run(scope),
            globs: self.glob_run(scope),
            mixed: self.mixed_run(scope),
            gate,
            gated,
        };
        self.known_true.truncate(known);
        runs
    }

    /// Tests `gate` (jumping to `skip` when it fails) and knows it from here on. Returns how
    /// many tests were known before, to truncate [`Self::known_true`] to past the run.
    pub(super) fn enter_gate(&mut self, gate: &[Cond], skip: Label) -> usize {
        let known = self.known_true.len();
        if gate.is_empty() {
            return known;
        }
        let pass = self.asm.new_label();
        let test = match gate {
            [one] => one.clone(),
            several => Cond::And(several.to_vec()),
        };
        self.cond(&test, pass, skip);
        self.asm.bind(pass);
        self.known_true.extend(gate.iter().cloned());
        known
    }

    /// The cheap items of a rule's `and` (reading no costly value) not known to hold here.
    fn own_gate(&self, rule: &Rule) -> Vec<Cond> {
        let Cond::And(items) = &rule.cond else {
            return Vec::new();
        };
        let mut gate: Vec<Cond> = Vec::new();
        for item in items {
            if !self.reads_costly(item) && !self.known_true.contains(item) && !gate.contains(item) {
                gate.push(item.clone());
            }
        }
        gate
    }
}

/// Whether two gates hold the same tests, in any order.
fn same_set(a: &[Cond], b: &[Cond]) -> bool {
    a.iter().all(|c| b.contains(c)) && b.iter().all(|c| a.contains(c))
}
