//! Mixed runs: consecutive rules on one string whose kinds take turns (an exact path, a
//! directory, a glob...), decided by one search per kind when no string can match rules of
//! two kinds (see [`lang::runs`]).
//!
//! The searches are the ones a run of a single kind compiles to: a literal tree of the exact
//! paths, a prefix trie of the directories, a search of the globs' accept sets. They run one
//! after the other, a miss of one going on to the next, in the order of each kind's first rule:
//! an unknown string, which a search sends to its first rule when unknown counts as a match,
//! then reaches the run's first rule, as a chain would. A deny run in a program with a decision
//! area records the matching rule and shares one report-and-refuse exit, as large trees do.

use super::sets::Leaf;
use super::ProgramGen;
use crate::bpf::Label;
use crate::ir::Rule;
use lang::runs::{self, Kind, Reach};

/// A rule as a mixed run sees it.
struct MixedItem {
    /// The search that would decide it.
    kind: Kind,
    /// The strings its test can match.
    reaches: Vec<Reach>,
    /// The value it tests, and the outcome when that is unknown.
    value: (usize, bool),
    /// For a glob, whether it is dispatched.
    dispatched: Option<bool>,
}

impl ProgramGen<'_> {
    fn mixed_item(&self, rule: &Rule) -> Option<MixedItem> {
        if let Some(set) = self.literal_set(rule) {
            let (kind, reaches) = set.reaches();
            return Some(MixedItem {
                kind,
                reaches,
                value: set.value(),
                dispatched: None,
            });
        }
        let glob = self.sole_glob(rule)?;
        Some(MixedItem {
            kind: Kind::Glob,
            reaches: glob
                .glob
                .iter()
                .map(|a| Reach::StartsWith(lang::dispatch::literal_prefix(a).0))
                .collect(),
            value: (glob.value, glob.on_unknown),
            dispatched: Some(glob.dispatched),
        })
    }

    /// How many of `rules`, from the first, form a mixed run ([`lang::runs::mixed_run`]) on
    /// one value with one unknown outcome per kind, whose globs are all dispatched or all
    /// merged (one accept set slot decides them) and searched within what the checker
    /// counts; 0 when none does.
    pub(super) fn mixed_run(&self, rules: &[Rule]) -> usize {
        let mut value = None;
        let mut on_unknown: Vec<(Kind, bool)> = Vec::new();
        let mut dispatched = None;
        let items = rules.iter().map(|rule| {
            let item = self.mixed_item(rule)?;
            let (tested, unknown_is) = item.value;
            if *value.get_or_insert(tested) != tested {
                return None;
            }
            // Each kind's search sends an unknown string to its own first rule when unknown
            // counts as a match there; an exact test on a resolved path is decided (false)
            // where its run's globs fail closed, and the first search that takes an unknown
            // string is the one whose first rule comes first, as a chain would have it.
            match on_unknown.iter().find(|(kind, _)| *kind == item.kind) {
                Some(&(_, known)) if known != unknown_is => return None,
                Some(_) => {}
                None => on_unknown.push((item.kind, unknown_is)),
            }
            if let Some(d) = item.dispatched {
                if *dispatched.get_or_insert(d) != d {
                    return None;
                }
            }
            Some((item.kind, item.reaches))
        });
        let run = runs::mixed_run(items);
        let globs: Vec<Rule> = rules[..run]
            .iter()
            .filter(|r| self.sole_glob(r).is_some())
            .cloned()
            .collect();
        if globs.is_empty() || self.glob_search_fits(&globs) {
            run
        } else {
            0
        }
    }

    /// Allows when a rule of the mixed run `rules` matches; on to `next` when none does.
    pub(super) fn allow_mixed(&mut self, rules: &[Rule], next: Label) {
        let allow = self.allow;
        let leaves = vec![Leaf::Matched; rules.len()];
        let targets = vec![allow; rules.len()];
        let kinds = self.mixed_kinds(rules);
        self.mixed_search(rules, &kinds, &leaves, &targets, allow, next);
    }

    /// Reports and refuses (or allows, in audit mode) when a rule of the mixed run `rules`
    /// matches; on to `next` when none does.
    pub(super) fn deny_mixed(&mut self, rules: &[Rule], next: Label) {
        let targets: Vec<Label> = rules.iter().map(|_| self.asm.new_label()).collect();
        let kinds = self.mixed_kinds(rules);
        if self.layout.decision.is_none() {
            let leaves: Vec<Leaf> = targets.iter().map(|t| Leaf::Jump(*t)).collect();
            self.mixed_search(rules, &kinds, &leaves, &targets, next, next);
            for (rule, target) in rules.iter().zip(&targets) {
                self.asm.set_origin(Some(rule.index)).bind(*target);
                self.deny(rule);
            }
            return;
        }
        // One exit for the whole run: tree leaves record their rule; a glob's target does.
        let matched = self.asm.new_label();
        let leaves: Vec<Leaf> = rules
            .iter()
            .map(|rule| Leaf::Record {
                rule: rule.index,
                errno: rule.errno,
            })
            .collect();
        self.mixed_search(rules, &kinds, &leaves, &targets, matched, next);
        for ((rule, target), kind) in rules.iter().zip(&targets).zip(&kinds) {
            if *kind == Some(Kind::Glob) {
                self.asm.set_origin(Some(rule.index)).bind(*target);
                self.record(rule.index, rule.errno, matched);
            }
        }
        // The shared block has no origin of its own: the offline machine takes the deciding
        // rule from the report it sends.
        self.asm.set_origin(None).bind(matched);
        self.deny_recorded(rules);
    }

    /// What search decides each of `rules`.
    fn mixed_kinds(&self, rules: &[Rule]) -> Vec<Option<Kind>> {
        rules
            .iter()
            .map(|r| self.mixed_item(r).map(|item| item.kind))
            .collect()
    }

    /// The searches of the mixed run `rules` (of `kinds`), a kind at a time: rule `i` matching goes to
    /// `leaves[i]` when a tree finds it (`matched` being where [`Leaf::Matched`] and
    /// [`Leaf::Record`] go), to `targets[i]` when the glob search does; to `miss` when no
    /// rule matches.
    fn mixed_search(
        &mut self,
        rules: &[Rule],
        kinds: &[Option<Kind>],
        leaves: &[Leaf],
        targets: &[Label],
        matched: Label,
        miss: Label,
    ) {
        let mut order: Vec<Kind> = Vec::new();
        for kind in kinds.iter().flatten() {
            if !order.contains(kind) {
                order.push(*kind);
            }
        }
        for (n, kind) in order.iter().enumerate() {
            let last = n + 1 == order.len();
            let next = if last { miss } else { self.asm.new_label() };
            let members: Vec<usize> = (0..rules.len())
                .filter(|&i| kinds[i] == Some(*kind))
                .collect();
            let sub: Vec<Rule> = members.iter().map(|&i| rules[i].clone()).collect();
            match kind {
                Kind::Exact | Kind::Prefix => {
                    let sub_leaves: Vec<Leaf> = members.iter().map(|&i| leaves[i]).collect();
                    self.literal_tree(&sub, &sub_leaves, matched, next);
                }
                Kind::Glob => {
                    let sub_targets: Vec<Label> = members.iter().map(|&i| targets[i]).collect();
                    self.glob_run_search(&sub, &sub_targets, next);
                }
            }
            if !last {
                self.asm.bind(next);
            }
        }
    }
}
