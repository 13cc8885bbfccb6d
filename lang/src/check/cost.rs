//! The size estimate of each event's program, refused past what BPF branches reach
//! ([`Code::EventTooLarge`](crate::diagnostic::Code::EventTooLarge)). Self-contained: the estimate and its constants live here alone.

use super::finding::Finding;
use super::Checker;
use crate::ast::Action;
use crate::checked::{CheckedRule, Cond, Predicate};
use std::collections::HashMap;

/// Code estimates, in about-one-instruction units; see [`Code::EventTooLarge`](crate::diagnostic::Code::EventTooLarge). The limit
/// leaves room under the 32,767 a branch reaches for what the estimate does not count.
const MAX_EVENT_COST: u32 = 24_000;
const PROGRAM_BASE_COST: u32 = 400;
/// A deny or audit rule's report (ring buffer, rate limit, process, values).
const REPORT_COST: u32 = 120;

fn estimated_cost(cond: &Cond) -> u32 {
    match cond {
        Cond::Const(_) => 1,
        Cond::And(a, b) | Cond::Or(a, b) => estimated_cost(a) + estimated_cost(b) + 1,
        Cond::Not(c) => estimated_cost(c),
        Cond::Test(test) => match &test.predicate {
            Predicate::Int { .. } | Predicate::IsTrue => 4,
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
        for rule in rules {
            let total = totals.entry(rule.event.name).or_insert(PROGRAM_BASE_COST);
            let before = *total;
            *total += estimated_cost(&rule.condition)
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
