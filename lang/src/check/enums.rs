//! Comparisons with enum attributes (`sig`, `cap`, ...): the other side names the kernel's
//! values, resolved against the attribute's enum rather than against the policy's names.

use super::types::any;
use super::{article, Checker};
use crate::ast::{self, CmpOp, ExprKind};
use crate::catalog::{self, Attribute, Event, ValueType};
use crate::checked::{AttrId, Cond, IntOp, Predicate, Test};
use crate::diagnostic::{suggest, Code, Diagnostic};
use crate::span::Span;

impl<'a> Checker<'a> {
    /// `ATTR == NAME`, `ATTR != NAME`, `ATTR in [NAME, ...]` (or a list of names) for an
    /// attribute of enum type.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn enum_comparison(
        &mut self,
        op: CmpOp,
        op_span: Span,
        lhs: &'a ast::Expr,
        attribute: &'static Attribute,
        rhs: &'a ast::Expr,
        span: Span,
        event: &'static Event,
    ) -> Option<Cond> {
        let ValueType::Enum(kind) = attribute.ty else {
            return None;
        };
        let attr = self.resolve_attribute(event, attribute, lhs.span);
        let test = |value| {
            Cond::Test(Test {
                attr: attr.unwrap_or(AttrId(0)),
                predicate: Predicate::Int {
                    op: IntOp::Eq,
                    value,
                },
                span,
            })
        };
        let cond = match op {
            CmpOp::Eq | CmpOp::Ne => {
                if let ExprKind::List(_) = rhs.kind {
                    self.error(
                        Diagnostic::new(
                            Code::ListMisuse,
                            format!(
                                "`{}` compares single values, and the right side is a list",
                                op.symbol()
                            ),
                            rhs.span,
                        )
                        .with_help("use `in` for membership"),
                    );
                    return None;
                }
                let value = self.enum_value(rhs, attribute, kind, event)?;
                let eq = test(value);
                if op == CmpOp::Ne {
                    Cond::Not(Box::new(eq))
                } else {
                    eq
                }
            }
            CmpOp::In => {
                let elements: Vec<&'a ast::Expr> = match &rhs.kind {
                    ExprKind::List(elements) => elements.iter().collect(),
                    ExprKind::Name(name) if self.lists.contains_key(name.text.as_str()) => {
                        self.used.insert(name.text.clone());
                        let list = self.lists[name.text.as_str()];
                        list.elements.iter().collect()
                    }
                    _ => {
                        self.error(
                            Diagnostic::new(
                                Code::ListMisuse,
                                "`in` needs a list on the right",
                                rhs.span,
                            )
                            .with_help(format!(
                                "write `{} in [...]`, or compare with `==`",
                                attribute.name
                            )),
                        );
                        return None;
                    }
                };
                let mut values = Vec::new();
                let mut ok = true;
                for element in elements {
                    match self.enum_value(element, attribute, kind, event) {
                        Some(v) => values.push(test(v)),
                        None => ok = false,
                    }
                }
                if !ok {
                    return None;
                }
                any(values)
            }
            _ => {
                self.error(
                    Diagnostic::new(
                        Code::BadOperator,
                        format!(
                            "`{}` is {} {}, compared only with `==`, `!=` and `in`",
                            attribute.name,
                            article(attribute.ty),
                            kind.name
                        ),
                        op_span,
                    )
                    .with_help(format!(
                        "name the values, e.g. `{} in [{}]`",
                        attribute.name,
                        example_names(kind).replace('`', "")
                    )),
                );
                return None;
            }
        };
        attr.map(|_| cond)
    }

    /// The value of one of `kind`'s names, written where `attribute` is compared.
    pub(super) fn enum_value(
        &mut self,
        expr: &ast::Expr,
        attribute: &'static Attribute,
        kind: &'static catalog::EnumType,
        event: &'static Event,
    ) -> Option<u64> {
        let found = match &expr.kind {
            ExprKind::Name(name) => {
                if let Some(value) = kind.value(&name.text) {
                    return Some(value);
                }
                if event.attribute(&name.text).is_some() {
                    self.error(
                        Diagnostic::new(
                            Code::BadOperator,
                            "comparing two attributes is not supported",
                            expr.span,
                        )
                        .with_help(format!(
                            "compare `{}` with a {} name",
                            attribute.name, kind.name
                        )),
                    );
                    return None;
                }
                if let Some(other) = catalog::ENUMS
                    .iter()
                    .find(|e| e.value(&name.text).is_some())
                {
                    format!(
                        "`{}`, {} {}",
                        name.text,
                        article(ValueType::Enum(other)),
                        other.name
                    )
                } else {
                    let mut d = Diagnostic::new(
                        Code::UnknownEnumValue,
                        format!("unknown {} `{}`", kind.name, name.text),
                        name.span,
                    )
                    .with_label(format!(
                        "`{}` is {} {}",
                        attribute.name,
                        article(attribute.ty),
                        kind.name
                    ));
                    let upper = name.text.to_ascii_uppercase();
                    let lower = name.text.to_ascii_lowercase();
                    let names = kind.values.iter().map(|(n, _)| *n);
                    d = match [upper.as_str(), lower.as_str()]
                        .into_iter()
                        .find(|c| kind.value(c).is_some())
                        .map(str::to_string)
                        .or_else(|| suggest(&name.text, names.clone()).map(str::to_string))
                        .or_else(|| suggest(&upper, names.clone()).map(str::to_string))
                        .or_else(|| suggest(&lower, names).map(str::to_string))
                    {
                        Some(s) => d.with_help(format!("did you mean `{s}`?")),
                        None => d.with_help(format!(
                            "`{}` takes the kernel's names, e.g. {}",
                            attribute.name,
                            example_names(kind)
                        )),
                    };
                    self.error(d);
                    return None;
                }
            }
            ExprKind::Int(_) => "an integer".to_string(),
            ExprKind::Str(_) => "a string".to_string(),
            ExprKind::Bool(_) => "a boolean".to_string(),
            ExprKind::List(_) => "a list".to_string(),
            _ => "a condition".to_string(),
        };
        self.error(
            Diagnostic::new(
                Code::EnumMismatch,
                format!(
                    "`{}` is {} {}; it cannot be compared with {found}",
                    attribute.name,
                    article(attribute.ty),
                    kind.name
                ),
                expr.span,
            )
            .with_help(format!(
                "write {} {} name, e.g. {}",
                article(attribute.ty),
                kind.name,
                example_names(kind)
            )),
        );
        None
    }
}

/// The first few names of an enum, for help lines: "`SIGHUP`, `SIGINT`, `SIGQUIT`, ...".
fn example_names(kind: &catalog::EnumType) -> String {
    let mut names: Vec<String> = kind
        .values
        .iter()
        .take(3)
        .map(|(n, _)| format!("`{n}`"))
        .collect();
    if kind.values.len() > 3 {
        names.push("...".into());
    }
    names.join(", ")
}
