//! Comparisons with enum attributes (`sig`, `cap`, ...): the other side names the kernel's
//! values, resolved against the attribute's enum rather than against the policy's names.

use super::finding::{Finding, ValueKind};
use super::types::any;
use super::Checker;
use crate::ast::{self, CmpOp, ExprKind};
use crate::catalog::{self, Attribute, Event, ValueType};
use crate::checked::{AttrId, Cond, IntOp, Predicate, Test};
use crate::diagnostic::suggest;
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
                    self.report(Finding::ListForSingleValue {
                        op,
                        ty: attribute.ty,
                        span: rhs.span,
                    });
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
                        self.report(Finding::InNeedsList {
                            attribute,
                            found: None,
                            span: rhs.span,
                        });
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
                self.report(Finding::EnumOperator {
                    attribute,
                    kind,
                    span: op_span,
                });
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
                    self.report(Finding::TwoAttributes {
                        span: expr.span,
                        enum_attribute: Some((attribute, kind)),
                        sides: None,
                        masked: false,
                    });
                    return None;
                }
                if let Some(other) = catalog::ENUMS
                    .iter()
                    .find(|e| e.value(&name.text).is_some())
                {
                    ValueKind::EnumName(name.text.clone(), other)
                } else {
                    let upper = name.text.to_ascii_uppercase();
                    let lower = name.text.to_ascii_lowercase();
                    let names = kind.values.iter().map(|(n, _)| *n);
                    let suggestion = [upper.as_str(), lower.as_str()]
                        .into_iter()
                        .find(|c| kind.value(c).is_some())
                        .map(str::to_string)
                        .or_else(|| suggest(&name.text, names.clone()).map(str::to_string))
                        .or_else(|| suggest(&upper, names.clone()).map(str::to_string))
                        .or_else(|| suggest(&lower, names).map(str::to_string));
                    self.report(Finding::UnknownEnumValue {
                        attribute,
                        kind,
                        name: name.text.clone(),
                        span: name.span,
                        suggestion,
                    });
                    return None;
                }
            }
            ExprKind::Int(_) => ValueKind::Int,
            ExprKind::Str(_) => ValueKind::Str,
            ExprKind::Bool(_) => ValueKind::Bool,
            ExprKind::List(_) => ValueKind::List,
            _ => ValueKind::Condition,
        };
        self.report(Finding::EnumMismatch {
            attribute,
            kind,
            found,
            span: expr.span,
        });
        None
    }
}
