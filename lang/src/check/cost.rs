//! The size estimate of each event's program, refused past what BPF branches reach
//! ([`Code::EventTooLarge`](crate::diagnostic::Code::EventTooLarge)). Self-contained: the estimate and its constants live here alone.

use super::finding::Finding;
use super::Checker;
use crate::ast::Action;
use crate::catalog::Source;
use crate::checked::{AttrId, CheckedRule, Cond, Predicate, ResolvedAttribute, Test};
use std::collections::{BTreeSet, HashMap};

/// Code estimates, in about-one-instruction units; see [`Code::EventTooLarge`](crate::diagnostic::Code::EventTooLarge). The limit
/// leaves room under the 32,767 a branch reaches for what the estimate does not count.
const MAX_EVENT_COST: u32 = 24_000;
/// The prologue and the program's one report function (ring buffer, rate limit, process,
/// values), which every reporting rule calls.
const PROGRAM_BASE_COST: u32 = 520;
/// A deny or audit rule's call of the report function (its arguments, the call, the exit).
const REPORT_COST: u32 = 8;
/// A literal of a set the code generator compiles to a decision tree (consecutive rules of one
/// action that test one counted string against literals, at least [`SET_TREE_MIN`] of them):
/// its share of the tree, measured at about 12.3 slots a literal for 100 to 400 paths.
const SET_LITERAL_COST: u32 = 13;
/// Fewer literals than this stay a compare chain (`codegen::sets`).
const SET_TREE_MIN: usize = 4;

/// The attribute and literals a condition tests when it is only `attr == literal` tests
/// joined by `or` (`==`, `in [...]`) on a string with a length (not a NUL-padded name).
/// Directory rules (`path ~ "/etc/**"`: a literal prefix and a final `**`) count too, as
/// prefixes; the attribute, whether the literals are prefixes, and the literals.
fn literal_set(
    cond: &Cond,
    attributes: &[ResolvedAttribute],
) -> Option<(AttrId, bool, Vec<Vec<u8>>)> {
    match cond {
        Cond::Test(Test {
            attr, predicate, ..
        }) => {
            let padded = matches!(
                attributes.get(attr.0 as usize)?.attribute.source,
                Source::CurrentComm | Source::TaskChars { .. } | Source::ParamChars { .. }
            );
            if padded {
                return None;
            }
            match predicate {
                Predicate::StrEq(bytes) => Some((*attr, false, vec![bytes.clone()])),
                Predicate::Glob(glob) => {
                    let prefixes: Option<Vec<Vec<u8>>> = glob
                        .alternatives
                        .iter()
                        .map(|tokens| {
                            let (last, prefix) = tokens.split_last()?;
                            if *last != crate::glob::Token::DoubleStar || prefix.is_empty() {
                                return None;
                            }
                            prefix
                                .iter()
                                .map(|t| match t {
                                    crate::glob::Token::Byte(c) => Some(*c),
                                    _ => None,
                                })
                                .collect()
                        })
                        .collect();
                    Some((*attr, true, prefixes?))
                }
                _ => None,
            }
        }
        Cond::Or(a, b) => {
            let (x, p, mut l) = literal_set(a, attributes)?;
            let (y, q, m) = literal_set(b, attributes)?;
            l.extend(m);
            (x == y && p == q).then_some((x, p, l))
        }
        _ => None,
    }
}

/// Adds `new` to `prefixes` unless one of them would then be a prefix of another (the same
/// prefix twice counts once); whether it did (when not, `prefixes` is left as it was). In
/// sorted order a prefix comes right before the strings it starts, so neighbours tell.
pub fn add_unnested(prefixes: &mut BTreeSet<Vec<u8>>, new: &[Vec<u8>]) -> bool {
    let mut inserted: Vec<&Vec<u8>> = Vec::new();
    for prefix in new {
        if prefixes.contains(prefix) {
            continue;
        }
        let before = prefixes.range(..prefix.clone()).next_back();
        let after = prefixes.range(prefix.clone()..).next();
        if before.is_some_and(|b| prefix.starts_with(b))
            || after.is_some_and(|a| a.starts_with(prefix))
        {
            for undo in inserted {
                prefixes.remove(undo);
            }
            return false;
        }
        prefixes.insert(prefix.clone());
        inserted.push(prefix);
    }
    true
}

/// Per rule, whether the code generator compiles its condition into a literal tree: it is
/// a literal set, in a run of such sets on one attribute among its event's rules of its action,
/// with at least [`SET_TREE_MIN`] literals in all.
fn in_literal_trees(rules: &[CheckedRule], attributes: &[ResolvedAttribute]) -> Vec<bool> {
    let mut tree = vec![false; rules.len()];
    let mut groups: HashMap<(&'static str, Action), Vec<usize>> = HashMap::new();
    // Audit rules stay a chain: each match reports.
    for (i, rule) in rules
        .iter()
        .enumerate()
        .filter(|(_, r)| r.action != Action::Audit)
    {
        groups
            .entry((rule.event.name, rule.action))
            .or_default()
            .push(i);
    }
    for members in groups.values() {
        let mut at = 0;
        while at < members.len() {
            let Some((attr, prefixes, _)) = literal_set(&rules[members[at]].condition, attributes)
            else {
                at += 1;
                continue;
            };
            let mut end = at;
            let mut count = 0;
            let mut seen = BTreeSet::new();
            while let Some((a, p, l)) = members
                .get(end)
                .and_then(|&i| literal_set(&rules[i].condition, attributes))
            {
                // A run of prefixes ends before the first rule that nests with another.
                if a != attr || p != prefixes || (p && !add_unnested(&mut seen, &l)) {
                    break;
                }
                count += l.len();
                end += 1;
            }
            if count >= SET_TREE_MIN {
                for &i in &members[at..end] {
                    tree[i] = true;
                }
            }
            at = end;
        }
    }
    tree
}

fn estimated_cost(cond: &Cond) -> u32 {
    match cond {
        Cond::Const(_) => 1,
        Cond::And(a, b) | Cond::Or(a, b) => estimated_cost(a) + estimated_cost(b) + 1,
        Cond::Not(c) => estimated_cost(c),
        Cond::Test(test) => match &test.predicate {
            Predicate::Int { .. } | Predicate::IsTrue => 4,
            Predicate::IntAttr { .. } => 5,
            Predicate::Cidr { .. } => 12,
            Predicate::Masked { .. } => 7,
            Predicate::StrEq(bytes) => 6 + 5 * (bytes.len() as u32).div_ceil(8),
            Predicate::Glob(glob) => glob.cost(),
        },
    }
}

impl Checker<'_> {
    /// Refuses an event whose rules would compile past what BPF branches can reach.
    pub(super) fn check_sizes(&mut self, rules: &[CheckedRule]) {
        let mut totals: HashMap<&'static str, u32> = HashMap::new();
        let trees = in_literal_trees(rules, &self.attributes);
        for (rule, in_tree) in rules.iter().zip(trees) {
            let total = totals.entry(rule.event.name).or_insert(PROGRAM_BASE_COST);
            let before = *total;
            let condition = match literal_set(&rule.condition, &self.attributes) {
                Some((_, _, literals)) if in_tree => SET_LITERAL_COST * literals.len() as u32,
                _ => estimated_cost(&rule.condition),
            };
            *total += condition
                + if rule.action == Action::Allow {
                    2
                } else {
                    REPORT_COST
                };
            if before <= MAX_EVENT_COST && *total > MAX_EVENT_COST {
                self.report(Finding::EventTooLarge {
                    event: rule.event.name,
                    estimate: *total,
                    limit: MAX_EVENT_COST,
                    span: rule.span,
                });
            }
        }
    }
}
