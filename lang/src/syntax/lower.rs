//! Parse tree to AST: spans made absolute, literals checked and decoded.
//!
//! Spans are built from the first and last token of each node rather than taken from pest,
//! whose rule spans include trailing whitespace and comments when an optional part is absent.

use super::error::SyntaxError;
use super::Rule;
use crate::ast::{
    Action, CmpOp, Expectation, Expr, ExprKind, Item, ListDef, MacroDef, Name, Rule as AstRule,
    TestCase,
};
use crate::diagnostic::Diagnostic;
use crate::span::Span;
use pest::iterators::{Pair, Pairs};

/// How deep an expression tree may grow. `a or b or c ...` nests one level per operator, and
/// every later pass (and `Drop`) recurses over the tree, so a machine-written condition with
/// thousands of terms is refused here rather than overflowing the stack there.
const MAX_EXPR_DEPTH: u32 = 256;

pub(super) fn policy(
    pairs: Pairs<'_, Rule>,
    offset: usize,
    items: &mut Vec<Item>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let mut lower = Lower {
        offset,
        diagnostics,
        too_deep_reported: false,
    };
    for pair in pairs.flat_map(|policy| policy.into_inner()) {
        let item = match pair.as_rule() {
            Rule::list_def => lower.list_def(pair),
            Rule::macro_def => lower.macro_def(pair),
            Rule::rule => lower.rule(pair),
            Rule::test_case => lower.test_case(pair),
            Rule::policy_decl | Rule::mode_decl => lower.header(pair),
            _ => continue,
        };
        items.push(item);
    }
}

struct Lower<'d> {
    offset: usize,
    diagnostics: &'d mut Vec<Diagnostic>,
    too_deep_reported: bool,
}

impl Lower<'_> {
    fn span(&self, pair: &Pair<'_, Rule>) -> Span {
        let span = pair.as_span();
        Span::new(self.offset + span.start(), self.offset + span.end())
    }

    fn name(&self, pair: &Pair<'_, Rule>) -> Name {
        Name {
            text: pair.as_str().to_owned(),
            span: self.span(pair),
        }
    }

    fn list_def(&mut self, pair: Pair<'_, Rule>) -> Item {
        let start = self.span(&pair);
        let mut name = None;
        let mut elements = Vec::new();
        let mut end = start;
        for child in pair.into_inner() {
            match child.as_rule() {
                Rule::def_name => name = Some(self.name(&child)),
                Rule::list => {
                    end = self.span(&child);
                    elements = self.list_elements(child).0;
                }
                _ => {}
            }
        }
        Item::List(ListDef {
            name: name.unwrap_or_else(|| missing_name(start)),
            elements,
            span: start.to(end),
        })
    }

    fn macro_def(&mut self, pair: Pair<'_, Rule>) -> Item {
        let start = self.span(&pair);
        let mut name = None;
        let mut body = None;
        for child in pair.into_inner() {
            match child.as_rule() {
                Rule::def_name => name = Some(self.name(&child)),
                Rule::expr => body = Some(self.top_expr(child)),
                _ => {}
            }
        }
        let body = body.unwrap_or_else(|| placeholder(start));
        Item::Macro(MacroDef {
            name: name.unwrap_or_else(|| missing_name(start)),
            span: Span::new(start.start as usize, body.span.end as usize),
            body,
        })
    }

    fn rule(&mut self, pair: Pair<'_, Rule>) -> Item {
        let whole = self.span(&pair);
        let mut action = (Action::Deny, whole);
        let mut event = None;
        let mut condition = None;
        let mut errno = None;
        let mut end = whole.start;
        for child in pair.into_inner() {
            let span = self.span(&child);
            match child.as_rule() {
                Rule::action => {
                    let kind = match child.as_str() {
                        "allow" => Action::Allow,
                        "audit" => Action::Audit,
                        "kill" => Action::Kill,
                        _ => Action::Deny,
                    };
                    action = (kind, span);
                }
                Rule::event => event = Some(self.name(&child)),
                Rule::condition => {
                    if let Some(expr) = child.into_inner().find(|p| p.as_rule() == Rule::expr) {
                        condition = Some(self.top_expr(expr));
                    }
                }
                Rule::errno_clause => {
                    errno = child
                        .into_inner()
                        .find(|p| p.as_rule() == Rule::errno_name)
                        .map(|p| self.name(&p));
                }
                _ => continue,
            }
            end = match (&condition, &errno) {
                (_, Some(errno)) => errno.span.end,
                (Some(condition), None) => condition.span.end,
                (None, None) => span.end,
            };
        }
        Item::Rule(AstRule {
            action: action.0,
            action_span: action.1,
            event: event.unwrap_or_else(|| missing_name(whole)),
            condition,
            errno,
            span: Span {
                start: whole.start,
                end,
            },
        })
    }

    fn header(&mut self, pair: Pair<'_, Rule>) -> Item {
        let span = self.span(&pair);
        let is_policy = pair.as_rule() == Rule::policy_decl;
        let name = pair
            .into_inner()
            .find(|p| matches!(p.as_rule(), Rule::def_name | Rule::mode_name))
            .map(|p| self.name(&p))
            .unwrap_or_else(|| missing_name(span));
        let span = Span {
            start: span.start,
            end: name.span.end,
        };
        if is_policy {
            Item::PolicyName { name, span }
        } else {
            Item::Mode { mode: name, span }
        }
    }

    fn test_case(&mut self, pair: Pair<'_, Rule>) -> Item {
        let whole = self.span(&pair);
        let mut event = None;
        let mut fields = Vec::new();
        let mut expect = (Expectation::Allow, whole);
        for child in pair.into_inner() {
            match child.as_rule() {
                Rule::event => event = Some(self.name(&child)),
                Rule::test_field => {
                    let mut name = None;
                    let mut value = None;
                    for part in child.into_inner() {
                        match part.as_rule() {
                            // The first name is the attribute; a name after the colon is
                            // the value (an enum name such as `SIGKILL`).
                            Rule::name if name.is_none() => name = Some(self.name(&part)),
                            Rule::colon => {}
                            _ => value = Some(self.top_expr(part)),
                        }
                    }
                    if let (Some(name), Some(value)) = (name, value) {
                        fields.push((name, value));
                    }
                }
                Rule::expectation => {
                    let span = self.span(&child);
                    let text = child.as_str();
                    let errno = child
                        .into_inner()
                        .find(|p| p.as_rule() == Rule::errno_name)
                        .map(|p| self.name(&p));
                    expect = if text.starts_with("deny") {
                        (Expectation::Deny(errno), span)
                    } else if text.starts_with("audit") {
                        (Expectation::Audit, span)
                    } else if text.starts_with("kill") {
                        (Expectation::Kill(errno), span)
                    } else {
                        (Expectation::Allow, span)
                    };
                }
                _ => {}
            }
        }
        Item::Test(TestCase {
            event: event.unwrap_or_else(|| missing_name(whole)),
            fields,
            expect: expect.0,
            expect_span: expect.1,
            span: Span {
                start: whole.start,
                end: expect.1.end,
            },
        })
    }

    /// An expression at the root of a condition or macro; each root gets at most one
    /// "too deep" diagnostic.
    fn top_expr(&mut self, pair: Pair<'_, Rule>) -> Expr {
        self.too_deep_reported = false;
        self.expr(pair).0
    }

    /// Lowers any expression-level rule; returns the tree and its depth.
    fn expr(&mut self, pair: Pair<'_, Rule>) -> (Expr, u32) {
        let span = self.span(&pair);
        match pair.as_rule() {
            Rule::expr => self.chain(pair, Rule::kw_or, ExprKind::Or),
            Rule::conjunction => self.chain(pair, Rule::kw_and, ExprKind::And),
            Rule::negation => self.negation(pair),
            Rule::comparison => self.comparison(pair),
            Rule::bitand => self.bitand(pair),
            Rule::paren => {
                let inner = pair.into_inner().find(|p| p.as_rule() == Rule::expr);
                let (mut expr, depth) = match inner {
                    Some(inner) => self.expr(inner),
                    None => (placeholder(span), 1),
                };
                // The parentheses belong to the subexpression they group.
                expr.span = span;
                (expr, depth)
            }
            Rule::list => {
                let (elements, depth) = self.list_elements(pair);
                (
                    Expr {
                        kind: ExprKind::List(elements),
                        span,
                    },
                    depth,
                )
            }
            Rule::boolean => (
                Expr {
                    kind: ExprKind::Bool(pair.as_str() == "true"),
                    span,
                },
                1,
            ),
            Rule::int => {
                let value = match super::literal::integer(pair.as_str(), span) {
                    Ok(value) => value,
                    Err(diagnostic) => {
                        self.diagnostics.push(*diagnostic);
                        0
                    }
                };
                (
                    Expr {
                        kind: ExprKind::Int(value),
                        span,
                    },
                    1,
                )
            }
            Rule::addr => {
                let (ip, prefix) = match super::literal::address(pair.as_str(), span) {
                    Ok(value) => value,
                    Err(diagnostic) => {
                        self.diagnostics.push(*diagnostic);
                        (std::net::IpAddr::from([0, 0, 0, 0]), 32)
                    }
                };
                (
                    Expr {
                        kind: ExprKind::Addr(ip, prefix),
                        span,
                    },
                    1,
                )
            }
            Rule::string => {
                let body = pair.into_inner().next();
                let (text, body_start) = match &body {
                    Some(body) => (body.as_str(), self.span(body).start as usize),
                    None => ("", span.start as usize + 1),
                };
                let value = super::literal::string(text, body_start, self.diagnostics);
                (
                    Expr {
                        kind: ExprKind::Str(value),
                        span,
                    },
                    1,
                )
            }
            Rule::name => (
                Expr {
                    kind: ExprKind::Name(self.name(&pair)),
                    span,
                },
                1,
            ),
            // The grammar produces nothing else at expression level.
            _ => (placeholder(span), 1),
        }
    }

    /// The elements of a `[...]` list and the depth of the list node.
    fn list_elements(&mut self, pair: Pair<'_, Rule>) -> (Vec<Expr>, u32) {
        let mut elements = Vec::new();
        let mut depth = 1;
        for child in pair.into_inner() {
            if !matches!(
                child.as_rule(),
                Rule::lbracket | Rule::rbracket | Rule::comma
            ) {
                let (element, element_depth) = self.expr(child);
                depth = depth.max(element_depth + 1);
                elements.push(element);
            }
        }
        (elements, depth)
    }

    /// `a OP b OP c` folded to the left: `(a OP b) OP c`.
    fn chain(
        &mut self,
        pair: Pair<'_, Rule>,
        operator: Rule,
        make: fn(Box<Expr>, Box<Expr>) -> ExprKind,
    ) -> (Expr, u32) {
        let mut acc: Option<(Expr, u32)> = None;
        for child in pair.into_inner() {
            if child.as_rule() == operator {
                continue;
            }
            let (rhs, rhs_depth) = self.expr(child);
            let rhs_span = rhs.span;
            acc = Some(match acc {
                None => (rhs, rhs_depth),
                Some((lhs, lhs_depth)) => {
                    let span = lhs.span.to(rhs.span);
                    let expr = Expr {
                        kind: make(Box::new(lhs), Box::new(rhs)),
                        span,
                    };
                    self.limit_depth(expr, lhs_depth.max(rhs_depth) + 1, rhs_span)
                }
            });
        }
        acc.unwrap_or_else(|| (placeholder(Span::default()), 1))
    }

    fn negation(&mut self, pair: Pair<'_, Rule>) -> (Expr, u32) {
        let mut nots = Vec::new();
        let mut operand = None;
        for child in pair.into_inner() {
            match child.as_rule() {
                Rule::kw_not => nots.push(self.span(&child)),
                _ => operand = Some(self.expr(child)),
            }
        }
        let (mut expr, mut depth) = operand.unwrap_or_else(|| (placeholder(Span::default()), 1));
        for not in nots.into_iter().rev() {
            let span = not.to(expr.span);
            (expr, depth) = self.limit_depth(
                Expr {
                    kind: ExprKind::Not(Box::new(expr)),
                    span,
                },
                depth + 1,
                not,
            );
        }
        (expr, depth)
    }

    fn comparison(&mut self, pair: Pair<'_, Rule>) -> (Expr, u32) {
        let mut operands = Vec::new();
        let mut op = None;
        for child in pair.into_inner() {
            match child.as_rule() {
                Rule::cmp_op => op = Some((cmp_op(child.as_str()), self.span(&child))),
                _ => operands.push(self.expr(child)),
            }
        }
        let mut operands = operands.into_iter();
        let (lhs, lhs_depth) = operands
            .next()
            .unwrap_or_else(|| (placeholder(Span::default()), 1));
        let (Some((op, op_span)), Some((rhs, rhs_depth))) = (op, operands.next()) else {
            return (lhs, lhs_depth);
        };
        let span = lhs.span.to(rhs.span);
        self.limit_depth(
            Expr {
                kind: ExprKind::Compare {
                    op,
                    op_span,
                    lhs: Box::new(lhs),
                    rhs: Box::new(rhs),
                },
                span,
            },
            lhs_depth.max(rhs_depth) + 1,
            op_span,
        )
    }

    /// `a & b`. The AST has no node for it yet, so it is reported and the left operand
    /// stands in for the whole (with the whole's span) to keep the rest of the tree intact.
    /// `a & b & c`, left associative.
    fn bitand(&mut self, pair: Pair<'_, Rule>) -> (Expr, u32) {
        let mut acc: Option<(Expr, u32)> = None;
        for child in pair.into_inner() {
            if child.as_rule() == Rule::op_bitand {
                continue;
            }
            let (rhs, rhs_depth) = self.expr(child);
            acc = Some(match acc {
                None => (rhs, rhs_depth),
                Some((lhs, lhs_depth)) => {
                    let span = lhs.span.to(rhs.span);
                    let depth = lhs_depth.max(rhs_depth) + 1;
                    let expr = Expr {
                        kind: ExprKind::BitAnd(Box::new(lhs), Box::new(rhs)),
                        span,
                    };
                    self.limit_depth(expr, depth, span)
                }
            });
        }
        acc.unwrap_or_else(|| (placeholder(Span::default()), 1))
    }

    /// Replaces a tree deeper than [`MAX_EXPR_DEPTH`] by a placeholder, reporting it once at
    /// `at`, the part that crossed the limit (the whole tree may span many lines).
    fn limit_depth(&mut self, expr: Expr, depth: u32, at: Span) -> (Expr, u32) {
        if depth <= MAX_EXPR_DEPTH {
            return (expr, depth);
        }
        if !self.too_deep_reported {
            self.too_deep_reported = true;
            let too_complex = SyntaxError::ExpressionTooComplex {
                limit: MAX_EXPR_DEPTH,
                span: at,
            };
            self.diagnostics.push(too_complex.diagnostic());
        }
        let span = expr.span;
        // Dropping here is safe: the tree is at most one level over the limit.
        drop(expr);
        (placeholder(span), 1)
    }
}

fn cmp_op(text: &str) -> CmpOp {
    match text {
        "!=" => CmpOp::Ne,
        "<" => CmpOp::Lt,
        "<=" => CmpOp::Le,
        ">" => CmpOp::Gt,
        ">=" => CmpOp::Ge,
        "in" => CmpOp::In,
        "~" => CmpOp::Match,
        "!~" => CmpOp::NotMatch,
        _ => CmpOp::Eq,
    }
}

/// Stands in for a subtree that was reported as an error; never seen in an error-free parse.
fn placeholder(span: Span) -> Expr {
    Expr {
        kind: ExprKind::Bool(false),
        span,
    }
}

fn missing_name(span: Span) -> Name {
    Name {
        text: String::new(),
        span,
    }
}
