//! Conditions and comparisons: each side of a comparison typed, each operator checked
//! against the attribute's type, and the predicate the compiler tests.

use super::finding::{Finding, ValueKind};
use super::Checker;
use crate::ast::{self, Action, CmpOp, ExprKind};
use crate::automaton::Automaton;
use crate::catalog::{Attribute, Event, Source, ValueType};
use crate::checked::{AttrId, Cond, IntOp, Predicate, Test};
use crate::eval::StringKind;
use crate::glob::{Glob, GlobError};
use crate::lint::Lint;
use crate::span::Span;

/// One side of a comparison, before the comparison is typed.
pub(super) enum Operand {
    /// An attribute, with the mask of `attr & MASK` when there is one.
    Attr(AttrId, &'static Attribute, Option<u64>),
    Int(u64),
    Str(String),
    Bool(bool),
    List(Vec<(Literal, Span)>),
    Addr(std::net::IpAddr, u8),
}

#[derive(Clone)]
pub(super) enum Literal {
    Int(u64),
    Str(String),
    Addr(std::net::IpAddr, u8),
}

impl Literal {
    fn kind(&self) -> ValueKind {
        match self {
            Literal::Int(_) => ValueKind::Int,
            Literal::Str(_) => ValueKind::Str,
            Literal::Addr(..) => ValueKind::Addr,
        }
    }
}

impl<'a> Checker<'a> {
    pub(super) fn condition(
        &mut self,
        expr: &'a ast::Expr,
        event: &'static Event,
        action: Action,
    ) -> Option<Cond> {
        match &expr.kind {
            ExprKind::And(a, b) | ExprKind::Or(a, b) => {
                let (a, b) = (
                    self.condition(a, event, action),
                    self.condition(b, event, action),
                );
                let (a, b) = (Box::new(a?), Box::new(b?));
                Some(if matches!(expr.kind, ExprKind::And(..)) {
                    Cond::And(a, b)
                } else {
                    Cond::Or(a, b)
                })
            }
            ExprKind::Not(inner) => {
                Some(Cond::Not(Box::new(self.condition(inner, event, action)?)))
            }
            ExprKind::Bool(value) => Some(Cond::Const(*value)),
            ExprKind::Compare {
                op,
                op_span,
                lhs,
                rhs,
            } => {
                if let Some(cond) =
                    self.argument_comparison(*op, *op_span, lhs, rhs, expr.span, event)
                {
                    return cond;
                }
                let cond = self.comparison(*op, *op_span, lhs, rhs, expr.span, event, action)?;
                let cond = self.expand_lineage(cond, *op, *op_span, expr.span, event)?;
                let cond = self.expand_container(cond, event)?;
                Some(self.line_tests(cond))
            }
            ExprKind::Name(name) => {
                if let Some(m) = self.macros.get(name.text.as_str()).copied() {
                    return self.expand_macro(m, name.span, event, action);
                }
                match self.operand(expr, event)? {
                    Operand::Attr(attr, a, None) if a.ty == ValueType::Bool => {
                        let test = Cond::Test(Test {
                            attr,
                            predicate: Predicate::IsTrue,
                            span: expr.span,
                        });
                        self.expand_container(test, event)
                    }
                    Operand::Attr(_, a, _) => {
                        self.report(Finding::AttributeNotCondition {
                            attribute: a,
                            span: expr.span,
                        });
                        None
                    }
                    _ => {
                        self.report(Finding::ListNotCondition {
                            name: name.text.clone(),
                            span: expr.span,
                        });
                        None
                    }
                }
            }
            ExprKind::BitAnd(..) => {
                self.report(Finding::BitAndNotCondition { span: expr.span });
                None
            }
            ExprKind::Int(_) | ExprKind::Str(_) | ExprKind::List(_) | ExprKind::Addr(..) => {
                self.report(Finding::LiteralNotCondition { span: expr.span });
                None
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn comparison(
        &mut self,
        op: CmpOp,
        op_span: Span,
        lhs: &'a ast::Expr,
        rhs: &'a ast::Expr,
        span: Span,
        event: &'static Event,
        action: Action,
    ) -> Option<Cond> {
        // An enum attribute takes the kernel's names on the other side, which are not names
        // of this policy: resolve them against the enum before anything else.
        let enum_attr = |e: &ast::Expr| match &e.kind {
            ExprKind::Name(n) => event
                .attribute(&n.text)
                .filter(|a| matches!(a.ty, ValueType::Enum(_))),
            _ => None,
        };
        if let Some(attribute) = enum_attr(lhs) {
            return self.enum_comparison(op, op_span, lhs, attribute, rhs, span, event);
        }
        // `CAP_SYS_ADMIN in caps.effective`: the left side names capabilities.
        if let ExprKind::Name(n) = &rhs.kind {
            if let Some(set) = event
                .attribute(&n.text)
                .filter(|a| a.ty == ValueType::CapabilitySet)
            {
                if op == CmpOp::In && enum_attr(lhs).is_none() {
                    return self.membership(lhs, set, rhs, span, event);
                }
            }
        }
        if let (Some(attribute), Some(flipped)) = (enum_attr(rhs), flip(op)) {
            if !matches!(&lhs.kind, ExprKind::Name(n) if event.attribute(&n.text).is_some()) {
                return self.enum_comparison(flipped, op_span, rhs, attribute, lhs, span, event);
            }
        }
        let left = self.operand(lhs, event);
        let right = self.operand(rhs, event);
        let (mut left, mut right) = (left?, right?);
        let (mut lhs, mut rhs, mut op) = (lhs, rhs, op);
        // `0 == uid` reads as `uid == 0`.
        if !matches!(left, Operand::Attr(..)) && matches!(right, Operand::Attr(..)) {
            if let Some(flipped) = flip(op) {
                std::mem::swap(&mut left, &mut right);
                std::mem::swap(&mut lhs, &mut rhs);
                op = flipped;
            }
        }
        if let (Operand::Attr(attr, a, mask), Operand::Attr(other, _, other_mask)) = (&left, &right)
        {
            if attr == other && mask == other_mask {
                if let Some(value) = crate::lint::self_comparison_value(a.ty, op) {
                    let lint = Lint::SelfComparison {
                        attribute: a.name,
                        truth: value,
                        span,
                    };
                    self.diagnostics.push(lint.diagnostic());
                    return Some(Cond::Const(value));
                }
            }
        }
        let Operand::Attr(attr, a, mask) = left else {
            self.report(Finding::NoAttribute { span });
            return None;
        };
        let test = |predicate| {
            Cond::Test(Test {
                attr,
                predicate,
                span,
            })
        };
        let mismatch = |this: &mut Self, with: ValueKind| {
            this.report(Finding::CannotCompare {
                attribute: a,
                span: rhs.span,
                attribute_span: lhs.span,
                with,
            });
            None
        };
        match (a.ty, op, right) {
            (
                ValueType::Int,
                CmpOp::Eq | CmpOp::Ne | CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge,
                Operand::Int(value),
            ) => Some(test(int_predicate(mask, int_op(op), value))),
            (ValueType::Int, CmpOp::In, Operand::List(elements)) => {
                let mut values = Vec::new();
                for (element, element_span) in elements {
                    match element {
                        Literal::Int(v) => values.push(test(int_predicate(mask, IntOp::Eq, v))),
                        other @ (Literal::Str(_) | Literal::Addr(..)) => {
                            self.report(Finding::ListElementMismatch {
                                attribute: a,
                                span: element_span,
                                attribute_span: lhs.span,
                                element: other.kind(),
                            });
                            return None;
                        }
                    }
                }
                Some(any(values))
            }
            (ty, CmpOp::Eq | CmpOp::Ne, Operand::Str(text)) if ty.is_string() => {
                self.check_fits(a, &text, rhs.span);
                let eq = test(Predicate::StrEq(text.into_bytes()));
                Some(if op == CmpOp::Ne {
                    Cond::Not(Box::new(eq))
                } else {
                    eq
                })
            }
            (ty, CmpOp::In, Operand::List(elements)) if ty.is_string() => {
                let mut values = Vec::new();
                for (element, element_span) in elements {
                    match element {
                        Literal::Str(text) => {
                            self.check_fits(a, &text, element_span);
                            values.push(test(Predicate::StrEq(text.into_bytes())));
                        }
                        other @ (Literal::Int(_) | Literal::Addr(..)) => {
                            self.report(Finding::ListElementMismatch {
                                attribute: a,
                                span: element_span,
                                attribute_span: lhs.span,
                                element: other.kind(),
                            });
                            return None;
                        }
                    }
                }
                Some(any(values))
            }
            (ty, CmpOp::Match | CmpOp::NotMatch, right @ (Operand::Str(_) | Operand::List(_)))
                if ty.is_string() =>
            {
                let patterns = match right {
                    Operand::Str(text) => vec![(Literal::Str(text), rhs.span)],
                    Operand::List(elements) => elements,
                    _ => Vec::new(),
                };
                let mut globs = Vec::new();
                let mut ok = true;
                for (pattern, pattern_span) in patterns {
                    let Literal::Str(pattern) = pattern else {
                        self.report(Finding::GlobNotString { span: pattern_span });
                        ok = false;
                        continue;
                    };
                    // A pattern alone must fit the automaton it will be merged into
                    // (`**a????...` needs a state for every mix of what the last bytes were).
                    let parsed =
                        Glob::parse(&pattern).and_then(|glob| {
                            match Automaton::check_alone(&glob) {
                                Ok(_) => Ok(glob),
                                Err(e) => Err(GlobError {
                                    message: format!("the pattern is too complex: {e}"),
                                    offset: 0,
                                }),
                            }
                        });
                    match parsed {
                        Ok(glob) => {
                            self.check_glob_fits(a, &glob, pattern_span);
                            if a.source.is_late() && super::late::has_single_star(&glob) {
                                self.report(Finding::Late(
                                    super::late::LateFinding::StarOnArguments {
                                        attribute: a.name,
                                        pattern: pattern.clone(),
                                        span: pattern_span,
                                    },
                                ));
                            }
                            if action.refuses()
                                && op == CmpOp::Match
                                && pattern.ends_with("/*")
                                && !pattern.ends_with("\\/*")
                            {
                                self.report(Finding::ShallowDenyGlob {
                                    pattern: pattern.clone(),
                                    span: pattern_span,
                                });
                            }
                            globs.push(test(Predicate::Glob(glob)));
                        }
                        Err(e) => {
                            self.report(Finding::BadGlob {
                                pattern: pattern.clone(),
                                message: e.message,
                                offset: e.offset,
                                span: pattern_span,
                            });
                            ok = false;
                        }
                    }
                }
                if !ok {
                    return None;
                }
                let matched = any(globs);
                Some(if op == CmpOp::NotMatch {
                    Cond::Not(Box::new(matched))
                } else {
                    matched
                })
            }
            (ValueType::Addr, CmpOp::Eq | CmpOp::Ne, Operand::Addr(ip, prefix)) => {
                if prefix < full_prefix(ip) {
                    self.report(Finding::RangeEquality {
                        op,
                        attribute: a,
                        ip,
                        prefix,
                        span: rhs.span,
                    });
                    return None;
                }
                let eq = test(cidr(ip, prefix));
                Some(if op == CmpOp::Ne {
                    Cond::Not(Box::new(eq))
                } else {
                    eq
                })
            }
            (ValueType::Addr, CmpOp::In, Operand::Addr(ip, prefix)) => Some(test(cidr(ip, prefix))),
            (ValueType::Addr, CmpOp::In, Operand::List(elements)) => {
                let mut ranges = Vec::new();
                for (element, element_span) in elements {
                    match element {
                        Literal::Addr(ip, prefix) => ranges.push(test(cidr(ip, prefix))),
                        other => {
                            self.report(Finding::ListElementMismatch {
                                attribute: a,
                                span: element_span,
                                attribute_span: lhs.span,
                                element: other.kind(),
                            });
                            return None;
                        }
                    }
                }
                Some(any(ranges))
            }
            (ValueType::Bool, CmpOp::Eq | CmpOp::Ne, Operand::Bool(value)) => {
                let is = test(Predicate::IsTrue);
                Some(if value == (op == CmpOp::Eq) {
                    is
                } else {
                    Cond::Not(Box::new(is))
                })
            }
            (
                ValueType::Int,
                CmpOp::Eq | CmpOp::Ne | CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge,
                Operand::Attr(other, b, None),
            ) if b.ty == ValueType::Int && mask.is_none() => Some(test(Predicate::IntAttr {
                op: int_op(op),
                other,
            })),
            (ty, op, right) => {
                let right_kind = match &right {
                    Operand::Attr(_, b, _) => ValueKind::Attribute(b.name),
                    Operand::Int(_) => ValueKind::Int,
                    Operand::Str(_) => ValueKind::Str,
                    Operand::Bool(_) => ValueKind::Bool,
                    Operand::List(_) => ValueKind::List,
                    Operand::Addr(..) => ValueKind::Addr,
                };
                match (op, &right) {
                    (_, Operand::Attr(_, b, other_mask)) => {
                        self.report(Finding::TwoAttributes {
                            span,
                            enum_attribute: None,
                            sides: Some((a, *b)),
                            masked: mask.is_some() || other_mask.is_some(),
                        });
                        None
                    }
                    (CmpOp::In, Operand::List(_) | Operand::Addr(..))
                    | (
                        CmpOp::Eq | CmpOp::Ne,
                        Operand::Int(_) | Operand::Str(_) | Operand::Bool(_) | Operand::Addr(..),
                    ) => mismatch(self, right_kind),
                    (CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge, _) if ty != ValueType::Int => {
                        self.report(Finding::OrderNotInteger {
                            op,
                            attribute: a,
                            span: op_span,
                        });
                        None
                    }
                    (CmpOp::Match | CmpOp::NotMatch, _) if !ty.is_string() => {
                        self.report(Finding::MatchNotString {
                            op,
                            attribute: a,
                            span: op_span,
                        });
                        None
                    }
                    (CmpOp::In, _) => {
                        self.report(Finding::InNeedsList {
                            attribute: a,
                            found: Some(right_kind),
                            span: rhs.span,
                        });
                        None
                    }
                    (_, Operand::List(_)) => {
                        self.report(Finding::ListForSingleValue {
                            op,
                            ty,
                            span: rhs.span,
                        });
                        None
                    }
                    _ => mismatch(self, right_kind),
                }
            }
        }
    }

    /// `NAME in SET` or `[NAMES] in SET` (any of them in the set), on a capability set: a
    /// test of the capability's bit.
    fn membership(
        &mut self,
        names: &'a ast::Expr,
        set: &'static Attribute,
        set_expr: &'a ast::Expr,
        span: Span,
        event: &'static Event,
    ) -> Option<Cond> {
        let ExprKind::Name(set_name) = &set_expr.kind else {
            return None;
        };
        let attr = self.resolve_attribute(event, set, set_name.span)?;
        let elements: Vec<&ast::Expr> = match &names.kind {
            ExprKind::List(elements) => elements.iter().collect(),
            _ => vec![names],
        };
        let mut tests = Vec::new();
        for element in elements {
            let bit = self.enum_value(element, set, &crate::catalog::CAPABILITIES, event)?;
            tests.push(Cond::Test(Test {
                attr,
                predicate: Predicate::Masked {
                    mask: 1u64.checked_shl(bit as u32).unwrap_or(0),
                    op: IntOp::Ne,
                    value: 0,
                },
                span,
            }));
        }
        Some(any(tests))
    }

    /// A glob on a fixed-size string whose every match is longer than the string can be.
    fn check_glob_fits(&mut self, attr: &'static Attribute, glob: &Glob, span: Span) {
        // Stars match empty runs; every other token is one byte.
        let shortest = glob
            .alternatives
            .iter()
            .map(|tokens| tokens.iter().filter(|t| !t.is_star()).count())
            .min()
            .unwrap_or(0);
        match capacity(attr) {
            Some(Capacity::Cut(capacity)) if shortest > capacity => {
                self.report(Finding::GlobNeverFits {
                    attribute: attr,
                    capacity,
                    pattern: glob.pattern.clone(),
                    shortest,
                    span,
                })
            }
            Some(Capacity::Read(longest)) if shortest > longest => {
                self.report(Finding::NeverRead {
                    attribute: attr,
                    longest,
                    len: shortest,
                    glob: true,
                    span,
                })
            }
            _ => {}
        }
    }

    fn check_fits(&mut self, attr: &'static Attribute, text: &str, span: Span) {
        let capacity = match capacity(attr) {
            Some(Capacity::Cut(capacity)) => capacity,
            Some(Capacity::Read(longest)) => {
                if text.len() > longest {
                    self.report(Finding::NeverRead {
                        attribute: attr,
                        longest,
                        len: text.len(),
                        glob: false,
                        span,
                    });
                }
                return;
            }
            None => return,
        };
        if text.len() > capacity {
            // What the kernel keeps, written as a policy string: a character cut in half
            // shows as `\xHH` escapes.
            let kept = &text.as_bytes()[..capacity];
            let cut = match std::str::from_utf8(kept) {
                Ok(whole) => whole.to_string(),
                Err(e) => {
                    let (valid, rest) = kept.split_at(e.valid_up_to());
                    let mut cut = String::from_utf8_lossy(valid).into_owned();
                    for byte in rest {
                        cut.push_str(&format!("\\x{byte:02X}"));
                    }
                    cut
                }
            };
            self.report(Finding::StringNeverFits {
                attribute: attr,
                capacity,
                text: text.to_string(),
                kept: cut,
                span,
            });
        }
    }

    pub(super) fn operand(
        &mut self,
        expr: &'a ast::Expr,
        event: &'static Event,
    ) -> Option<Operand> {
        match &expr.kind {
            ExprKind::BitAnd(lhs, rhs) => {
                let (left, right) = (self.operand(lhs, event), self.operand(rhs, event));
                match (left?, right?) {
                    (Operand::Attr(id, a, mask), Operand::Int(v))
                    | (Operand::Int(v), Operand::Attr(id, a, mask))
                        if a.ty == ValueType::Int =>
                    {
                        Some(Operand::Attr(id, a, Some(mask.unwrap_or(u64::MAX) & v)))
                    }
                    (Operand::Int(a), Operand::Int(b)) => Some(Operand::Int(a & b)),
                    _ => {
                        self.report(Finding::BadBitAnd { span: expr.span });
                        None
                    }
                }
            }
            ExprKind::Int(v) => Some(Operand::Int(*v)),
            ExprKind::Addr(ip, prefix) => Some(Operand::Addr(*ip, *prefix)),
            ExprKind::Str(s) => Some(Operand::Str(s.clone())),
            ExprKind::Bool(b) => Some(Operand::Bool(*b)),
            ExprKind::List(elements) => self.list_elements(elements).map(Operand::List),
            ExprKind::Name(name) => {
                if let Some(attribute) = event.attribute(&name.text) {
                    let id = self.resolve_attribute(event, attribute, name.span)?;
                    return Some(Operand::Attr(id, attribute, None));
                }
                if let Some(list) = self.lists.get(name.text.as_str()).copied() {
                    self.used.insert(name.text.clone());
                    return self.list_elements(&list.elements).map(Operand::List);
                }
                if super::argv::argument_name(&name.text).is_some()
                    && super::argv::command_line(event).is_some()
                {
                    self.report(Finding::Late(super::late::LateFinding::ArgumentOperand {
                        op: None,
                        span: name.span,
                    }));
                    return None;
                }
                if self.macros.contains_key(name.text.as_str()) {
                    self.used.insert(name.text.clone());
                    self.report(Finding::MacroAsValue {
                        name: name.text.clone(),
                        span: name.span,
                    });
                    return None;
                }
                self.unknown_name(name, event);
                None
            }
            ExprKind::And(..) | ExprKind::Or(..) | ExprKind::Not(..) | ExprKind::Compare { .. } => {
                self.report(Finding::ConditionCompared { span: expr.span });
                None
            }
        }
    }

    fn list_elements(&mut self, elements: &[ast::Expr]) -> Option<Vec<(Literal, Span)>> {
        let mut out = Vec::new();
        let mut first: Option<(&'static str, Span)> = None;
        let mut ok = true;
        for element in elements {
            let (literal, kind) = match &element.kind {
                ExprKind::Int(v) => (Literal::Int(*v), "integer"),
                ExprKind::Str(s) => (Literal::Str(s.clone()), "string"),
                ExprKind::Addr(ip, prefix) => (Literal::Addr(*ip, *prefix), "address"),
                _ => {
                    self.report(Finding::BadListElement { span: element.span });
                    ok = false;
                    continue;
                }
            };
            match first {
                Some((first_kind, first_span)) if first_kind != kind => {
                    self.report(Finding::MixedList {
                        kind,
                        first_kind,
                        span: element.span,
                        first: first_span,
                    });
                    ok = false;
                }
                None => first = Some((kind, element.span)),
                _ => {}
            }
            out.push((literal, element.span));
        }
        ok.then_some(out)
    }
}

/// The most bytes of a string attribute a policy can compare, and what becomes of a longer
/// string.
enum Capacity {
    /// The kernel keeps the first bytes of a fixed-size string (`comm`: `TASK_COMM_LEN` 16
    /// with the NUL) and cuts the rest.
    Cut(usize),
    /// The program reads strings of at most this many bytes into its buffer (a path,
    /// `PATH_MAX` with the NUL); a longer one is unknown (`eval::StringKind::fits`).
    Read(usize),
}

/// See [`Capacity`]; `None` for strings that are never cut nor too long to read.
fn capacity(attr: &Attribute) -> Option<Capacity> {
    match attr.source {
        Source::CurrentComm | Source::TaskChars { .. } | Source::ParamChars { .. } => {
            Some(Capacity::Cut(15))
        }
        _ => StringKind::of(&attr.source).longest().map(Capacity::Read),
    }
}

/// The number of bits of `ip`'s family: a single address's prefix.
pub(super) fn full_prefix(ip: std::net::IpAddr) -> u8 {
    if ip.is_ipv4() {
        32
    } else {
        128
    }
}

/// The range test for `ip/prefix`, an IPv4-mapped IPv6 range (`::ffff:0:0/96` and longer)
/// written as the IPv4 range it is, as values are.
pub(super) fn cidr(ip: std::net::IpAddr, prefix: u8) -> Predicate {
    match ip {
        std::net::IpAddr::V6(v6) if prefix >= 96 => match v6.to_ipv4_mapped() {
            Some(v4) => Predicate::Cidr {
                addr: std::net::IpAddr::V4(v4),
                prefix: prefix - 96,
            },
            None => Predicate::Cidr { addr: ip, prefix },
        },
        _ => Predicate::Cidr { addr: ip, prefix },
    }
}

/// The integer operator of an ordering or equality comparison (`in` and the matches are
/// never integer operators; they come out as `>=` and are not passed here).
fn int_op(op: CmpOp) -> IntOp {
    match op {
        CmpOp::Eq => IntOp::Eq,
        CmpOp::Ne => IntOp::Ne,
        CmpOp::Lt => IntOp::Lt,
        CmpOp::Le => IntOp::Le,
        CmpOp::Gt => IntOp::Gt,
        _ => IntOp::Ge,
    }
}

/// `attr OP value`, or `(attr & mask) OP value`.
pub(super) fn int_predicate(mask: Option<u64>, op: IntOp, value: u64) -> Predicate {
    match mask {
        None => Predicate::Int { op, value },
        Some(mask) => Predicate::Masked { mask, op, value },
    }
}

pub(super) fn flip(op: CmpOp) -> Option<CmpOp> {
    Some(match op {
        CmpOp::Eq => CmpOp::Eq,
        CmpOp::Ne => CmpOp::Ne,
        CmpOp::Lt => CmpOp::Gt,
        CmpOp::Le => CmpOp::Ge,
        CmpOp::Gt => CmpOp::Lt,
        CmpOp::Ge => CmpOp::Le,
        CmpOp::In | CmpOp::Match | CmpOp::NotMatch => return None,
    })
}

/// The disjunction of `conds`, in their order; false for none. A balanced tree: a list may
/// hold hundreds of thousands of items within the size limit, and every walk over a
/// condition recurses, so its depth must grow with the logarithm of the count (a chain of
/// 300,000 `or`s overflowed the main thread's stack).
pub(super) fn any(mut conds: Vec<Cond>) -> Cond {
    match conds.len() {
        0 | 1 => conds.pop().unwrap_or(Cond::Const(false)),
        n => {
            let right = conds.split_off(n / 2);
            Cond::Or(Box::new(any(conds)), Box::new(any(right)))
        }
    }
}
