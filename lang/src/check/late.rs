//! Rules on a value read after the exec's point of no return (`cmdline`, see
//! [`crate::checked::Stage`]): what they may do, and what the rules deciding there may test.

use super::{Checker, Finding};
use crate::ast;
use crate::catalog;
use crate::checked::{AttrId, CheckedRule};
use crate::diagnostic::{Code, Diagnostic};
use crate::limits::ARGV_MAX;
use crate::span::Span;
use std::collections::HashSet;

#[derive(Clone, Debug, PartialEq)]
pub enum LateFinding {
    /// A `deny` or `allow` rule tests a value read after the point of no return (E0214).
    LateDecision {
        attribute: &'static str,
        action: ast::Action,
        span: Span,
    },
    /// A rule decided on the late hook tests a process attribute that changed there (E0215).
    MovedAtCommit {
        attribute: &'static str,
        hook: &'static str,
        span: Span,
    },
    /// A `test` item's `argv` is not a list of strings.
    ArgvNotList { span: Span, name_span: Span },
    /// `argv[i]` past the arguments the program reads (E0216).
    ArgumentIndex { index: usize, span: Span },
    /// `argv != ...` or `argv !~ ...`: some argument differs, which nearly every exec has.
    AnyArgumentNegated { op: ast::CmpOp, span: Span },
    /// The arguments used other than compared with strings or globs (`op`, when there is
    /// one, is the comparison's).
    ArgumentOperand { op: Option<ast::CmpOp>, span: Span },
    /// A glob on the command line or an argument with a `*`, which stops at `/` (W0010).
    StarOnArguments {
        attribute: &'static str,
        pattern: String,
        span: Span,
    },
}

/// Whether `glob` has a single `*` (it stops at `/`, which arguments often hold).
pub(super) fn has_single_star(glob: &crate::glob::Glob) -> bool {
    glob.alternatives
        .iter()
        .flatten()
        .any(|t| *t == crate::glob::Token::Star)
}

/// `pattern` with each single `*` written `**` (escapes and classes kept as they are).
fn deepened(pattern: &str) -> String {
    let mut out = String::new();
    let mut chars = pattern.chars().peekable();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        out.push(c);
        match c {
            '\\' => out.extend(chars.next()),
            '[' if !in_class => in_class = true,
            ']' if in_class => in_class = false,
            '*' if !in_class => {
                let mut run = 1;
                while chars.peek() == Some(&'*') {
                    chars.next();
                    out.push('*');
                    run += 1;
                }
                if run == 1 {
                    out.push('*');
                }
            }
            _ => {}
        }
    }
    out
}

impl Checker<'_> {
    /// Rules on a value read after the point of no return (`cmdline`): only `kill` and
    /// `audit` may test it (E0214), and the rules deciding on that late hook (those, and the
    /// event's allow rules when it has such rules) may not test what changed there (E0215).
    pub(super) fn check_late_rules(&mut self, rules: &[CheckedRule]) {
        let attribute = |id: AttrId| self.attributes.get(id.0 as usize).map(|a| a.attribute);
        let mut findings = Vec::new();
        let reads_late = |rule: &CheckedRule| {
            rule.condition
                .tests()
                .iter()
                .any(|t| attribute(t.attr).is_some_and(|a| a.source.is_late()))
        };
        let late_events: HashSet<&str> = rules
            .iter()
            .filter(|r| reads_late(r))
            .map(|r| r.event.name)
            .collect();
        for rule in rules {
            let late = reads_late(rule);
            if late && !matches!(rule.action, ast::Action::Kill | ast::Action::Audit) {
                for test in rule.condition.tests() {
                    if let Some(a) = attribute(test.attr).filter(|a| a.source.is_late()) {
                        findings.push(Finding::Late(LateFinding::LateDecision {
                            attribute: a.name,
                            action: rule.action,
                            span: test.span,
                        }));
                    }
                }
            }
            let decides_late = late
                || (rule.action == ast::Action::Allow && late_events.contains(rule.event.name));
            let Some(variant) = rule.event.late_variant().filter(|_| decides_late) else {
                continue;
            };
            for test in rule.condition.tests() {
                if let Some(a) =
                    attribute(test.attr).filter(|a| catalog::MOVED_AT_COMMIT.contains(&a.name))
                {
                    findings.push(Finding::Late(LateFinding::MovedAtCommit {
                        attribute: a.name,
                        hook: variant.hook,
                        span: test.span,
                    }));
                }
            }
        }
        for finding in findings {
            self.report(finding);
        }
    }
}

pub(super) fn diagnostic(finding: &LateFinding) -> Diagnostic {
    match finding {
        LateFinding::LateDecision {
            attribute,
            action,
            span,
        } => Diagnostic::new(
            Code::LateDecision,
            format!(
                "`{}` cannot test the command line (`{attribute}`, `argv`): it is read after the exec can no longer fail with an errno",
                action.keyword()
            ),
            *span,
        )
        .with_label("read on `bprm_committing_creds`, after the point of no return")
        .with_help("use kill, or audit"),
        LateFinding::MovedAtCommit {
            attribute,
            hook,
            span,
        } => Diagnostic::new(
            Code::MovedAtCommit,
            format!("`{attribute}` is the new program's on `{hook}`, where this rule decides"),
            *span,
        )
        .with_label("changed by the exec before this rule runs")
        .with_help("test `path`, or move this test to a rule that does not test the command line"),
        LateFinding::ArgvNotList { span, name_span } => Diagnostic::new(
            Code::TypeMismatch,
            "in a test, `argv` is the list of the new program's arguments",
            *span,
        )
        .with_secondary(*name_span, "a list of strings")
        .with_help("e.g. `argv: [\"xmrig\", \"--donate-level\", \"1\"]`, argv[0] first"),
        LateFinding::ArgumentIndex { index, span } => {
            let shown = if *index == usize::MAX {
                "past any number".to_string()
            } else {
                format!("`{index}`")
            };
            Diagnostic::new(
                Code::ArgumentIndex,
                format!("argument index {shown} is past the {ARGV_MAX} arguments the program reads"),
                *span,
            )
            .with_label(format!("argv[0] to argv[{}] can be tested", ARGV_MAX - 1))
            .with_help(format!(
                "test an index below {ARGV_MAX}, or `cmdline` for the whole line (unknown past {ARGV_MAX} arguments)"
            ))
        }
        LateFinding::StarOnArguments {
            attribute,
            pattern,
            span,
        } => Diagnostic::new(
            Code::StarOnArguments,
            format!("`*` in `{pattern}` stops at `/`, which `{attribute}` often holds"),
            *span,
        )
        .with_label("`*` does not cross `/`: a path or URL in the arguments ends the match")
        .with_help(format!(
            "for any run of characters, write `\"{}\"`",
            deepened(pattern)
        )),
        LateFinding::AnyArgumentNegated { op, span } => {
            let positive = if *op == ast::CmpOp::Ne { "== ..." } else { "~ ..." };
            Diagnostic::new(
                Code::BadOperator,
                format!(
                    "`{}` on `argv` would hold when some argument differs, which nearly every exec has",
                    op.symbol()
                ),
                *span,
            )
            .with_help(format!(
                "to say that no argument matches, write `not argv {positive}`; for one argument, `argv[1] {} ...`",
                op.symbol()
            ))
        }
        LateFinding::ArgumentOperand { op, span } => {
            let message = match op {
                Some(op) => format!(
                    "`argv` cannot be tested with `{}` and this operand",
                    op.symbol()
                ),
                None => "`argv` is tested by comparing it with strings or globs".to_string(),
            };
            Diagnostic::new(Code::TypeMismatch, message, *span)
                .with_label("the arguments are strings")
                .with_help(
                    "write `argv[1] == \"-e\"`, `argv[2] ~ \"/dev/tcp/**\"`, `argv[1] in [\"-e\", \"-c\"]`, or for any argument `argv ~ \"--donate-level**\"` or `\"-e\" in argv`",
                )
        }
    }
}
