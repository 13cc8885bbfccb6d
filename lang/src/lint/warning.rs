//! What the lints find, as data: one variant a lint, with the facts it is about.
//! [`Lint::diagnostic`] renders each to a [`Diagnostic`], and is the one place the lints'
//! messages, labels and help lines are written.

use crate::ast::Action;
use crate::checked::{IntOp, Predicate};
use crate::diagnostic::{Code, Diagnostic};
use crate::span::Span;

#[derive(Clone, Debug, PartialEq)]
pub enum Lint {
    /// W0004: the condition of a rule is never true. `conflicting` is a comparison that cannot
    /// hold together with the one at `span`, when the lint can name two.
    NeverTrue {
        action: Action,
        span: Span,
        conflicting: Option<Span>,
    },
    /// W0009: the condition of a rule holds for every event.
    AlwaysTrue {
        action: Action,
        event: &'static str,
        span: Span,
    },
    /// W0006: a rule matches exactly the events an earlier rule of its action matches.
    DuplicateRule {
        action: Action,
        event: &'static str,
        span: Span,
        earlier: Span,
        /// For deny rules with different errnos: this rule's and the earlier rule's.
        errnos: Option<(String, String)>,
    },
    /// W0005: a deny rule the allow rules at `allows` always beat.
    ShadowedByAllow {
        event: &'static str,
        span: Span,
        allows: Vec<Span>,
    },
    /// W0008: a deny rule matches every event of its kind by root; `loses` says what root
    /// could no longer do.
    LocksOutAdministrator {
        event: &'static str,
        span: Span,
        loses: &'static str,
    },
    /// W0007: a comparison whose answer does not depend on the event. `max` is the largest
    /// value the attribute can take.
    ConstantComparison {
        attribute: &'static str,
        predicate: Predicate,
        max: u64,
        truth: bool,
        span: Span,
    },
    /// W0007: an attribute compared with itself.
    SelfComparison {
        attribute: &'static str,
        truth: bool,
        span: Span,
    },
}

impl Lint {
    /// The lint as users read it.
    pub fn diagnostic(&self) -> Diagnostic {
        match self {
            Lint::NeverTrue {
                action,
                span,
                conflicting,
            } => {
                // "Never true", not "never matches": a deny rule on a path still matches a
                // path too long to read (fail closed), whatever its condition says.
                let message = format!(
                    "the condition of this `{}` rule is never true",
                    action.keyword()
                );
                let d = Diagnostic::new(Code::NeverTrue, message, *span);
                match conflicting {
                    Some(other) => d
                        .with_label("this can never hold together with the other comparison")
                        .with_secondary(*other, "the other comparison"),
                    None => d.with_label("this condition is never true"),
                }
                .with_help("check the values, or join the comparisons with `or` instead of `and`")
            }
            Lint::AlwaysTrue {
                action,
                event,
                span,
            } => Diagnostic::new(
                Code::AlwaysTrue,
                format!(
                    "the condition of this `{}` rule is always true",
                    action.keyword()
                ),
                *span,
            )
            .with_label(format!("this holds for every `{event}` event"))
            .with_help(format!(
                "if the rule is meant for every event, write `{} {event}` without `where`; otherwise fix the condition",
                action.keyword(),
            )),
            Lint::DuplicateRule {
                action,
                event,
                span,
                earlier,
                errnos,
            } => {
                let d = Diagnostic::new(
                    Code::DuplicateRule,
                    format!(
                        "this `{} {event}` rule repeats an earlier one",
                        action.keyword()
                    ),
                    *span,
                )
                .with_label("matches exactly the events the earlier rule matches")
                .with_secondary(*earlier, "the earlier rule")
                .with_help("remove one of them");
                match errnos {
                    Some((this, earlier)) => d.with_note(format!(
                        "the first matching deny rule decides, so this rule's `{this}` is never returned; the earlier rule returns `{earlier}`"
                    )),
                    None => d,
                }
            }
            Lint::ShadowedByAllow {
                event,
                span,
                allows,
            } => {
                let mut d = Diagnostic::new(
                    Code::ShadowedByAllow,
                    format!("this `deny {event}` rule never denies"),
                    *span,
                )
                .with_label(if allows.len() == 1 {
                    "whenever it matches, an allow rule matches too"
                } else {
                    "whenever it matches, one of the allow rules matches too"
                });
                for allow in allows {
                    d = d.with_secondary(*allow, "allow rules win over deny rules");
                }
                d.with_help(
                    "narrow the allow rule so that it leaves out what should be denied, or remove the deny rule",
                )
            }
            Lint::LocksOutAdministrator { event, span, loses } => Diagnostic::new(
                Code::LocksOutAdministrator,
                format!("this rule denies every `{event}` by root"),
                *span,
            )
            .with_label("matches whenever `uid` and `euid` are 0")
            .with_note(format!(
                "with this policy enforced, {loses}; only a reboot would undo it"
            ))
            .with_help(format!(
                "exempt the administrator, e.g. add `and uid != 0`, or allow what root needs with an `allow {event}` rule"
            )),
            Lint::ConstantComparison {
                attribute,
                predicate,
                max,
                truth,
                span,
            } => constant_comparison(attribute, predicate, *max, *truth, *span),
            Lint::SelfComparison {
                attribute,
                truth,
                span,
            } => Diagnostic::new(
                Code::ConstantComparison,
                format!("this comparison is always {truth}"),
                *span,
            )
            .with_label(format!("`{attribute}` is compared with itself"))
            .with_help("compare the attribute with a literal, e.g. `uid == 0`"),
        }
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
            // Only `argc` has a least value above 0 (`crate::checked::int_min`); a comparison
            // constant for that reason has 0 or 1 on its other side.
            let range = if name == "argc" && value <= 1 {
                format!(
                    "`{name}` is at least 1 (an exec with an empty argv gets one empty argument)"
                )
            } else if max == u64::MAX {
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
        Predicate::StrEq(_)
        | Predicate::IsTrue
        | Predicate::Cidr { .. }
        | Predicate::IntAttr { .. } => {
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

/// A mask or a value: small ones in decimal, others in hex, where bits are easy to read.
fn show_bits(value: u64) -> String {
    if value <= 9 {
        value.to_string()
    } else {
        format!("{value:#x}")
    }
}
