//! Tests on an exec's arguments: `argv[i]` (one argument) and `argv` (any argument), and the
//! tests on `cmdline`, all made tests on the one value the program reads, the arguments
//! joined by NULs (see [`crate::cmdline`]). The evaluator and the compiler only ever see glob
//! and string tests on that value.

use super::late::LateFinding;
use super::types::{any, flip, Literal, Operand};
use super::{Checker, Finding};
use crate::ast::{self, CmpOp, ExprKind};
use crate::automaton::Automaton;
use crate::catalog::{Attribute, Event, Source};
use crate::checked::{AttrId, Cond, IntOp, Predicate, Test};
use crate::cmdline::{argument_glob, line_glob, literal_glob};
use crate::glob::Glob;
use crate::limits::ARGV_MAX;
use crate::span::Span;

/// The name of the arguments: `argv` alone tests any of them, `argv[i]` one.
pub const ARGV: &str = "argv";

/// What a name says about the arguments: `None` when it does not name them, `Some(None)`
/// for `argv`, `Some(Some(i))` for `argv[i]` (`usize::MAX` for an index past any `usize`).
pub(super) fn argument_name(text: &str) -> Option<Option<usize>> {
    if text == ARGV {
        return Some(None);
    }
    let digits = text.strip_prefix("argv[")?.strip_suffix(']')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(Some(digits.parse().unwrap_or(usize::MAX)))
}

/// Whether rules of `event` may test its arguments (`argv`, `argv[i]`).
pub fn takes_arguments(event: &'static Event) -> bool {
    command_line(event).is_some()
}

/// The event's command line, the value every argument test reads (`cmdline` of `exec`).
pub(super) fn command_line(event: &'static Event) -> Option<&'static Attribute> {
    event.attributes().find(|a| a.source.is_late())
}

impl<'a> Checker<'a> {
    /// The comparison if one of its sides names the arguments (`Some`, with `None` inside
    /// when it was reported); `None` when neither does, or the event has no arguments.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn argument_comparison(
        &mut self,
        op: CmpOp,
        op_span: Span,
        lhs: &'a ast::Expr,
        rhs: &'a ast::Expr,
        span: Span,
        event: &'static Event,
    ) -> Option<Option<Cond>> {
        let named = |e: &ast::Expr| match &e.kind {
            ExprKind::Name(n) => argument_name(&n.text).map(|index| (index, e.span)),
            _ => None,
        };
        let line = command_line(event)?;
        // `argv[1] == "-e"`, `"-e" == argv[1]`, and `"-e" in argv` (any argument is one of
        // the strings on the left).
        let (index, name_span, other, op) = match (named(lhs), named(rhs)) {
            (Some((index, at)), _) => (index, at, rhs, op),
            (None, Some((None, at))) if op == CmpOp::In => (None, at, lhs, CmpOp::Eq),
            (None, Some((index, at))) => match flip(op) {
                Some(flipped) => (index, at, lhs, flipped),
                None => {
                    self.report(Finding::Late(LateFinding::ArgumentOperand {
                        op: Some(op),
                        span: op_span,
                    }));
                    return Some(None);
                }
            },
            (None, None) => return None,
        };
        Some(self.argument_test(op, op_span, index, name_span, other, span, line, event))
    }

    #[allow(clippy::too_many_arguments)]
    fn argument_test(
        &mut self,
        op: CmpOp,
        op_span: Span,
        index: Option<usize>,
        name_span: Span,
        other: &'a ast::Expr,
        span: Span,
        line: &'static Attribute,
        event: &'static Event,
    ) -> Option<Cond> {
        if let Some(i) = index.filter(|i| *i >= ARGV_MAX) {
            self.report(Finding::Late(LateFinding::ArgumentIndex {
                index: i,
                span: name_span,
            }));
            return None;
        }
        if index.is_none() && matches!(op, CmpOp::Ne | CmpOp::NotMatch) {
            self.report(Finding::Late(LateFinding::AnyArgumentNegated {
                op,
                span: op_span,
            }));
            return None;
        }
        let right = self.operand(other, event)?;
        let globs = match (op, right) {
            (CmpOp::Eq | CmpOp::Ne, Operand::Str(text)) => vec![literal_glob(text.as_bytes())],
            (CmpOp::In | CmpOp::Eq, Operand::List(elements))
                if op == CmpOp::In || index.is_none() =>
            {
                let mut globs = Vec::new();
                for (element, _) in elements {
                    let Literal::Str(text) = element else {
                        self.report(Finding::Late(LateFinding::ArgumentOperand {
                            op: Some(op),
                            span: other.span,
                        }));
                        return None;
                    };
                    globs.push(literal_glob(text.as_bytes()));
                }
                globs
            }
            (CmpOp::Match | CmpOp::NotMatch, right @ (Operand::Str(_) | Operand::List(_))) => {
                let patterns = match right {
                    Operand::Str(text) => vec![(Literal::Str(text), other.span)],
                    Operand::List(elements) => elements,
                    _ => Vec::new(),
                };
                let mut globs = Vec::new();
                for (pattern, pattern_span) in patterns {
                    let Literal::Str(pattern) = pattern else {
                        self.report(Finding::GlobNotString { span: pattern_span });
                        return None;
                    };
                    match Glob::parse(&pattern) {
                        Ok(glob) => {
                            if super::late::has_single_star(&glob) {
                                self.report(Finding::Late(LateFinding::StarOnArguments {
                                    attribute: ARGV,
                                    pattern: pattern.clone(),
                                    span: pattern_span,
                                }));
                            }
                            globs.push(glob)
                        }
                        Err(e) => {
                            self.report(Finding::BadGlob {
                                pattern,
                                message: e.message,
                                offset: e.offset,
                                span: pattern_span,
                            });
                            return None;
                        }
                    }
                }
                globs
            }
            _ => {
                self.report(Finding::Late(LateFinding::ArgumentOperand {
                    op: Some(op),
                    span: other.span,
                }));
                return None;
            }
        };
        let attr = self.resolve_attribute(event, line, name_span)?;
        let mut tests = Vec::new();
        for glob in &globs {
            let glob = argument_glob(glob, index);
            // Placed between separators, a pattern alone must still fit an automaton.
            if let Err(e) = Automaton::check_alone(&glob) {
                self.report(Finding::BadGlob {
                    pattern: glob.pattern.clone(),
                    message: format!("the pattern is too complex on an argument: {e}"),
                    offset: 0,
                    span: other.span,
                });
                return None;
            }
            tests.push(Cond::Test(Test {
                attr,
                predicate: Predicate::Glob(glob),
                span,
            }));
        }
        let mut matched = any(tests);
        // Argument `i` is there only when the count says so: said as a test of the count
        // (`argc > i`), which the glob implies on a known line, the lints see it (`argv[3]
        // == "x" and argc <= 3` is dead), and an argument past the count is absent, not
        // unknown, however long the line is.
        // (`argv[0]` is always there: `argc` is at least 1.)
        if let (Some(i @ 1..), Source::CommandLine { count, .. }) = (index, line.source) {
            let argc = event.attribute(count)?;
            let argc = self.resolve_attribute(event, argc, name_span)?;
            let present = Cond::Test(Test {
                attr: argc,
                predicate: Predicate::Int {
                    op: IntOp::Gt,
                    value: i as u64,
                },
                span,
            });
            matched = Cond::And(Box::new(present), Box::new(matched));
        }
        Some(if matches!(op, CmpOp::Ne | CmpOp::NotMatch) {
            Cond::Not(Box::new(matched))
        } else {
            matched
        })
    }

    /// `cond` with its tests on the command line (`cmdline`) made tests on the joined block:
    /// a glob, or a string with a space, reads each separator as a space; a string without
    /// one is the same test on the block (its NULs stand where the line has spaces).
    pub(super) fn line_tests(&self, cond: Cond) -> Cond {
        match cond {
            Cond::And(a, b) => {
                Cond::And(Box::new(self.line_tests(*a)), Box::new(self.line_tests(*b)))
            }
            Cond::Or(a, b) => {
                Cond::Or(Box::new(self.line_tests(*a)), Box::new(self.line_tests(*b)))
            }
            Cond::Not(c) => Cond::Not(Box::new(self.line_tests(*c))),
            Cond::Test(test) if self.is_line(test.attr) => {
                let predicate = match test.predicate {
                    Predicate::Glob(glob) => Predicate::Glob(line_glob(&glob)),
                    Predicate::StrEq(text) if text.contains(&b' ') || text.contains(&0) => {
                        Predicate::Glob(line_glob(&literal_glob(&text)))
                    }
                    other => other,
                };
                Cond::Test(Test { predicate, ..test })
            }
            other => other,
        }
    }

    fn is_line(&self, attr: AttrId) -> bool {
        self.attributes
            .get(attr.0 as usize)
            .is_some_and(|a| a.attribute.source.is_late())
    }
}
