//! Conditions and comparisons: each side of a comparison typed, each operator checked
//! against the attribute's type, and the predicate the compiler tests.

use super::{article, Checker};
use crate::ast::{self, Action, CmpOp, ExprKind};
use crate::catalog::{Attribute, Event, Source, ValueType};
use crate::checked::{AttrId, Cond, IntOp, Predicate, Test};
use crate::diagnostic::{Code, Diagnostic};
use crate::glob::Glob;
use crate::span::Span;

/// One side of a comparison, before the comparison is typed.
enum Operand {
    /// An attribute, with the mask of `attr & MASK` when there is one.
    Attr(AttrId, &'static Attribute, Option<u64>),
    Int(u64),
    Str(String),
    Bool(bool),
    List(Vec<(Literal, Span)>),
    Addr(std::net::IpAddr, u8),
}

#[derive(Clone)]
enum Literal {
    Int(u64),
    Str(String),
    Addr(std::net::IpAddr, u8),
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
            } => self.comparison(*op, *op_span, lhs, rhs, expr.span, event, action),
            ExprKind::Name(name) => {
                if let Some(m) = self.macros.get(name.text.as_str()).copied() {
                    return self.expand_macro(m, name.span, event, action);
                }
                match self.operand(expr, event)? {
                    Operand::Attr(attr, a, None) if a.ty == ValueType::Bool => {
                        Some(Cond::Test(Test {
                            attr,
                            predicate: Predicate::IsTrue,
                            span: expr.span,
                        }))
                    }
                    Operand::Attr(_, a, _) => {
                        self.error(
                            Diagnostic::new(
                                Code::NotBoolean,
                                format!(
                                    "`{}` is {} {}, not a condition",
                                    a.name,
                                    article(a.ty),
                                    a.ty.describe()
                                ),
                                expr.span,
                            )
                            .with_help(match a.ty {
                                ValueType::Int => format!("compare it, e.g. `{} == 0`", a.name),
                                _ => format!("compare it, e.g. `{} == \"...\"`", a.name),
                            }),
                        );
                        None
                    }
                    _ => {
                        self.error(
                            Diagnostic::new(
                                Code::NotBoolean,
                                format!("list `{}` is not a condition", name.text),
                                expr.span,
                            )
                            .with_help(format!(
                                "test membership, e.g. `path ~ {}` or `comm in {}`",
                                name.text, name.text
                            )),
                        );
                        None
                    }
                }
            }
            ExprKind::BitAnd(..) => {
                self.error(
                    Diagnostic::new(
                        Code::NotBoolean,
                        "a bitwise `&` is an integer, not a condition",
                        expr.span,
                    )
                    .with_help("compare it, e.g. `mode & 0o4000 != 0`"),
                );
                None
            }
            ExprKind::Int(_) | ExprKind::Str(_) | ExprKind::List(_) | ExprKind::Addr(..) => {
                self.error(
                    Diagnostic::new(Code::NotBoolean, "a literal is not a condition", expr.span)
                        .with_help("compare an attribute with it, e.g. `uid == 0`"),
                );
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
                    self.error(crate::lint::self_comparison(a.name, value, span));
                    return Some(Cond::Const(value));
                }
            }
        }
        let Operand::Attr(attr, a, mask) = left else {
            self.error(
                Diagnostic::new(
                    Code::TypeMismatch,
                    "a comparison needs an attribute on one side",
                    span,
                )
                .with_label("neither side is an attribute")
                .with_help("compare an attribute of the event with a literal, e.g. `uid == 0`"),
            );
            return None;
        };
        let test = |predicate| {
            Cond::Test(Test {
                attr,
                predicate,
                span,
            })
        };
        let mismatch = |this: &mut Self, what: &str| {
            this.error(
                Diagnostic::new(
                    Code::TypeMismatch,
                    format!(
                        "cannot compare {} `{}` with {what}",
                        a.ty.describe(),
                        a.name
                    ),
                    rhs.span,
                )
                .with_secondary(
                    lhs.span,
                    format!("this is {} {}", article(a.ty), a.ty.describe()),
                ),
            );
            None
        };
        match (a.ty, op, right) {
            (
                ValueType::Int,
                CmpOp::Eq | CmpOp::Ne | CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge,
                Operand::Int(value),
            ) => {
                let op = match op {
                    CmpOp::Eq => IntOp::Eq,
                    CmpOp::Ne => IntOp::Ne,
                    CmpOp::Lt => IntOp::Lt,
                    CmpOp::Le => IntOp::Le,
                    CmpOp::Gt => IntOp::Gt,
                    _ => IntOp::Ge,
                };
                Some(test(int_predicate(mask, op, value)))
            }
            (ValueType::Int, CmpOp::In, Operand::List(elements)) => {
                let mut values = Vec::new();
                for (element, element_span) in elements {
                    match element {
                        Literal::Int(v) => values.push(test(int_predicate(mask, IntOp::Eq, v))),
                        other @ (Literal::Str(_) | Literal::Addr(..)) => {
                            self.error(
                                Diagnostic::new(
                                    Code::TypeMismatch,
                                    format!(
                                        "`{}` is an integer; this list element is {}",
                                        a.name,
                                        if matches!(other, Literal::Str(_)) {
                                            "a string"
                                        } else {
                                            "an address"
                                        }
                                    ),
                                    element_span,
                                )
                                .with_secondary(lhs.span, "integer"),
                            );
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
                            self.error(
                                Diagnostic::new(
                                    Code::TypeMismatch,
                                    format!(
                                        "`{}` is a {}; this list element is {}",
                                        a.name,
                                        ty.describe(),
                                        if matches!(other, Literal::Int(_)) {
                                            "an integer"
                                        } else {
                                            "an address"
                                        }
                                    ),
                                    element_span,
                                )
                                .with_secondary(lhs.span, ty.describe()),
                            );
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
                        self.error(Diagnostic::new(
                            Code::TypeMismatch,
                            "a glob must be a string",
                            pattern_span,
                        ));
                        ok = false;
                        continue;
                    };
                    match Glob::parse(&pattern) {
                        Ok(glob) => {
                            self.check_glob_fits(a, &glob, pattern_span);
                            if action == Action::Deny
                                && op == CmpOp::Match
                                && pattern.ends_with("/*")
                                && !pattern.ends_with("\\/*")
                            {
                                let deep = format!("{}*", pattern);
                                self.error(
                                    Diagnostic::new(
                                        Code::ShallowDenyGlob,
                                        format!("`{pattern}` matches only direct children"),
                                        pattern_span,
                                    )
                                    .with_label("`*` does not cross `/`")
                                    .with_help(format!(
                                        "to deny the whole tree, write `\"{deep}\"`"
                                    )),
                                );
                            }
                            globs.push(test(Predicate::Glob(glob)));
                        }
                        Err(e) => {
                            self.error(
                                Diagnostic::new(Code::BadGlob, format!("malformed glob: {}", e.message), pattern_span)
                                    .with_note(format!("in `{pattern}` at byte {}", e.offset))
                                    .with_help("globs use `*`, `**`, `?`, `[a-z]`, `[!a-z]` and `{a,b}`; a backslash makes the next character literal"),
                            );
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
                    self.error(
                        Diagnostic::new(
                            Code::BadOperator,
                            format!(
                                "`{}` compares single addresses, and this is a range",
                                op.symbol()
                            ),
                            rhs.span,
                        )
                        .with_help(format!(
                            "test membership with `{} in {}/{prefix}`{}",
                            a.name,
                            ip,
                            if op == CmpOp::Ne {
                                ", negated with `not`"
                            } else {
                                ""
                            }
                        )),
                    );
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
                            self.error(
                                Diagnostic::new(
                                    Code::TypeMismatch,
                                    format!(
                                        "`{}` is an address; this list element is {}",
                                        a.name,
                                        if matches!(other, Literal::Int(_)) { "an integer" } else { "a string" }
                                    ),
                                    element_span,
                                )
                                .with_secondary(lhs.span, "address")
                                .with_help("write addresses as `10.0.0.1`, `::1`, or ranges as `10.0.0.0/8`"),
                            );
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
            (ty, op, right) => {
                let right_kind = match &right {
                    Operand::Attr(_, b, _) => format!("attribute `{}`", b.name),
                    Operand::Int(_) => "an integer".into(),
                    Operand::Str(_) => "a string".into(),
                    Operand::Bool(_) => "a boolean".into(),
                    Operand::List(_) => "a list".into(),
                    Operand::Addr(..) => "an address".into(),
                };
                match (op, &right) {
                    (_, Operand::Attr(..)) => {
                        self.error(
                            Diagnostic::new(
                                Code::BadOperator,
                                "comparing two attributes is not supported",
                                span,
                            )
                            .with_help("compare each attribute with a literal"),
                        );
                        None
                    }
                    (CmpOp::In, Operand::List(_) | Operand::Addr(..))
                    | (
                        CmpOp::Eq | CmpOp::Ne,
                        Operand::Int(_) | Operand::Str(_) | Operand::Bool(_) | Operand::Addr(..),
                    ) => mismatch(self, &right_kind),
                    (CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge, _) if ty != ValueType::Int => {
                        self.error(
                            Diagnostic::new(
                                Code::BadOperator,
                                format!(
                                    "`{}` applies to integers, and `{}` is {} {}",
                                    op.symbol(),
                                    a.name,
                                    article(ty),
                                    ty.describe()
                                ),
                                op_span,
                            )
                            .with_help(if ty.is_string() {
                                "compare strings with `==`, `!=`, `in`, `~` or `!~`"
                            } else if ty == ValueType::Addr {
                                "compare addresses with `==`, `!=` or `in`, e.g. `addr in 10.0.0.0/8`"
                            } else {
                                "use `==` or `!=`"
                            }),
                        );
                        None
                    }
                    (CmpOp::Match | CmpOp::NotMatch, _) if !ty.is_string() => {
                        self.error(
                            Diagnostic::new(
                                Code::BadOperator,
                                format!(
                                    "`{}` matches strings and paths, and `{}` is {} {}",
                                    op.symbol(),
                                    a.name,
                                    article(ty),
                                    ty.describe()
                                ),
                                op_span,
                            )
                            .with_help(if ty == ValueType::Addr {
                                "compare addresses with `==`, `!=` or `in`, e.g. `addr in 10.0.0.0/8`"
                            } else {
                                "compare integers with `==`, `!=`, `<`, `<=`, `>`, `>=` or `in`"
                            }),
                        );
                        None
                    }
                    (CmpOp::In, _) => {
                        self.error(
                            Diagnostic::new(
                                Code::ListMisuse,
                                format!("`in` needs a list on the right, found {right_kind}"),
                                rhs.span,
                            )
                            .with_help(format!(
                                "write `{} in [...]`, or compare with `==`",
                                a.name
                            )),
                        );
                        None
                    }
                    (_, Operand::List(_)) => {
                        self.error(
                            Diagnostic::new(
                                Code::ListMisuse,
                                format!(
                                    "`{}` compares single values, and the right side is a list",
                                    op.symbol()
                                ),
                                rhs.span,
                            )
                            .with_help(if ty.is_string() {
                                "use `in` for membership or `~` to match any glob of the list"
                            } else {
                                "use `in` for membership"
                            }),
                        );
                        None
                    }
                    _ => mismatch(self, &right_kind),
                }
            }
        }
    }

    /// A glob on a fixed-size string whose every match is longer than the string can be.
    fn check_glob_fits(&mut self, attr: &Attribute, glob: &Glob, span: Span) {
        let Some(capacity) = capacity(attr) else {
            return;
        };
        // Stars match empty runs; every other token is one byte.
        let shortest = glob
            .alternatives
            .iter()
            .map(|tokens| tokens.iter().filter(|t| !t.is_star()).count())
            .min()
            .unwrap_or(0);
        if shortest > capacity {
            self.error(
                Diagnostic::new(
                    Code::StringNeverFits,
                    format!(
                        "`{}` holds at most {capacity} bytes; `{}` matches only strings of {shortest} bytes or more",
                        attr.name, glob.pattern
                    ),
                    span,
                )
                .with_label("this can never match")
                .with_help(format!(
                    "match what the kernel keeps: the first {capacity} bytes, then `*` if the name may be cut"
                )),
            );
        }
    }

    fn check_fits(&mut self, attr: &Attribute, text: &str, span: Span) {
        let Some(capacity) = capacity(attr) else {
            return;
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
            self.error(
                Diagnostic::new(
                    Code::StringNeverFits,
                    format!(
                        "`{}` holds at most {capacity} bytes; `{text}` has {}",
                        attr.name,
                        text.len()
                    ),
                    span,
                )
                .with_label("this can never be equal")
                .with_help(format!(
                    "the kernel keeps the first {capacity} bytes: `{cut}`"
                )),
            );
        }
    }

    fn operand(&mut self, expr: &'a ast::Expr, event: &'static Event) -> Option<Operand> {
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
                        self.error(
                            Diagnostic::new(
                                Code::BadOperator,
                                "`&` takes an integer attribute and an integer literal",
                                expr.span,
                            )
                            .with_help(
                                "test flags as `ATTRIBUTE & MASK != 0`, e.g. `mode & 0o6000 != 0`",
                            ),
                        );
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
                if self.macros.contains_key(name.text.as_str()) {
                    self.used.insert(name.text.clone());
                    self.error(
                        Diagnostic::new(
                            Code::TypeMismatch,
                            format!("macro `{}` is a condition, not a value", name.text),
                            name.span,
                        )
                        .with_help(format!(
                            "use it on its own: `{}` or `not {}`",
                            name.text, name.text
                        )),
                    );
                    return None;
                }
                self.unknown_name(name, event);
                None
            }
            ExprKind::And(..) | ExprKind::Or(..) | ExprKind::Not(..) | ExprKind::Compare { .. } => {
                self.error(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        "a condition cannot be compared",
                        expr.span,
                    )
                    .with_help("combine conditions with `and`, `or`, `not`"),
                );
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
                    self.error(
                        Diagnostic::new(
                            Code::BadListElement,
                            "list elements must be string or integer literals",
                            element.span,
                        )
                        .with_help("lists cannot hold names, conditions or other lists"),
                    );
                    ok = false;
                    continue;
                }
            };
            match first {
                Some((first_kind, first_span)) if first_kind != kind => {
                    self.error(
                        Diagnostic::new(
                            Code::BadListElement,
                            format!("this list mixes types: {kind} after {first_kind}"),
                            element.span,
                        )
                        .with_secondary(
                            first_span,
                            format!(
                                "the first element is {} {first_kind}",
                                if matches!(first_kind, "integer" | "address") {
                                    "an"
                                } else {
                                    "a"
                                }
                            ),
                        ),
                    );
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

/// How many bytes a fixed-size string attribute holds (`comm`: `TASK_COMM_LEN` 16 with the
/// NUL), or `None` for strings the kernel does not cut.
fn capacity(attr: &Attribute) -> Option<usize> {
    match attr.source {
        Source::CurrentComm | Source::TaskChars { .. } | Source::ParamChars { .. } => Some(15),
        _ => None,
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

/// The disjunction of `conds`; false for none.
pub(super) fn any(conds: Vec<Cond>) -> Cond {
    conds
        .into_iter()
        .reduce(|a, b| Cond::Or(Box::new(a), Box::new(b)))
        .unwrap_or(Cond::Const(false))
}
