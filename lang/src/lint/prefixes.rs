//! Which pairs of rules the duplicate lint need not try to prove.
//!
//! A rule whose top-level conjunction tests a string attribute positively against a literal
//! (`path == "/srv/app1/bin/tool"`) or a glob whose alternatives share a literal start
//! (`path ~ "/srv/app1/**"`) holds only for strings beginning with that literal, its *prefix*.
//! Two rules whose prefixes on one attribute diverge (neither starts the other) have no
//! readable string in common, so the one holds on an event the other does not: they are not
//! duplicates, and asking the proof search costs a failed proof per pair. At ten thousand
//! path rules those pairs took the whole proof budget and a third of the compile time.
//!
//! The one pair of such rules that could still be proven duplicates is two deny rules that
//! each hold only where the string cannot be read (a condition contradictory on readable
//! strings); the lint says nothing of them, as it says nothing when a proof runs out of steps.

use crate::checked::{AttrId, CheckedRule, Predicate};
use crate::glob::Token;
use std::collections::HashMap;

/// The rules of one event, indexed by their prefix on each attribute.
pub(super) struct PrefixIndex {
    /// Each rule's prefix (by position in the lint's rule list), if it has one.
    prefixes: Vec<Option<(AttrId, Vec<u8>)>>,
    /// The rules (positions) without a prefix: candidates for every other rule.
    unbounded: Vec<usize>,
    /// Per attribute, the rules with a prefix sorted by it (then by position).
    sorted: HashMap<AttrId, Vec<(Vec<u8>, usize)>>,
}

impl PrefixIndex {
    pub(super) fn new(rules: &[(usize, &CheckedRule)]) -> PrefixIndex {
        let prefixes: Vec<Option<(AttrId, Vec<u8>)>> =
            rules.iter().map(|(_, rule)| prefix(rule)).collect();
        let mut unbounded = Vec::new();
        let mut sorted: HashMap<AttrId, Vec<(Vec<u8>, usize)>> = HashMap::new();
        for (at, prefix) in prefixes.iter().enumerate() {
            match prefix {
                Some((attr, bytes)) => sorted.entry(*attr).or_default().push((bytes.clone(), at)),
                None => unbounded.push(at),
            }
        }
        for list in sorted.values_mut() {
            list.sort_unstable();
        }
        PrefixIndex {
            prefixes,
            unbounded,
            sorted,
        }
    }

    /// The rules after `at` that may hold for the same events as rule `at`, ascending: those
    /// without a prefix, with a prefix on another attribute, or with one that begins or is
    /// begun by rule `at`'s.
    pub(super) fn candidates_after(&self, at: usize) -> Vec<usize> {
        let Some((attr, own)) = &self.prefixes[at] else {
            return (at + 1..self.prefixes.len()).collect();
        };
        let mut out: Vec<usize> = self.unbounded.iter().copied().filter(|j| *j > at).collect();
        for (other, list) in &self.sorted {
            if other != attr {
                out.extend(list.iter().map(|(_, j)| *j).filter(|j| *j > at));
                continue;
            }
            // Those the own prefix begins: one run of the sorted list.
            let from = list.partition_point(|(bytes, _)| bytes.as_slice() < own.as_slice());
            out.extend(
                list[from..]
                    .iter()
                    .take_while(|(bytes, _)| bytes.starts_with(own))
                    .map(|(_, j)| *j)
                    .filter(|j| *j > at),
            );
            // Those that begin the own prefix, shorter: each is one run of equal bytes.
            for len in 0..own.len() {
                let start = &own[..len];
                let from = list.partition_point(|(bytes, _)| bytes.as_slice() < start);
                out.extend(
                    list[from..]
                        .iter()
                        .take_while(|(bytes, _)| bytes.as_slice() == start)
                        .map(|(_, j)| *j)
                        .filter(|j| *j > at),
                );
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// The longest literal every string the rule holds for (and can read) begins with, on the
/// first attribute its top-level conjunction tests positively with a literal or a glob.
fn prefix(rule: &CheckedRule) -> Option<(AttrId, Vec<u8>)> {
    super::conjuncts(&rule.condition)
        .into_iter()
        .filter(|(_, negated)| !negated)
        .find_map(|(test, _)| match &test.predicate {
            Predicate::StrEq(bytes) => Some((test.attr, bytes.clone())),
            Predicate::Glob(glob) => {
                let starts = glob.alternatives.iter().map(|alternative| {
                    alternative
                        .iter()
                        .map_while(|token| match token {
                            Token::Byte(b) => Some(*b),
                            _ => None,
                        })
                        .collect::<Vec<u8>>()
                });
                let common = starts.reduce(|common, start| {
                    let shared = common
                        .iter()
                        .zip(&start)
                        .take_while(|(a, b)| a == b)
                        .count();
                    common[..shared].to_vec()
                })?;
                Some((test.attr, common))
            }
            _ => None,
        })
}
