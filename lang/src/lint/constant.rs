//! Comparisons whose answer does not depend on the event ([`Code::ConstantComparison`](crate::diagnostic::Code::ConstantComparison)).

use super::{Lint, LintInput};
use crate::catalog::ValueType;
pub(super) use crate::checked::{int_max, int_min};
use crate::checked::{Cond, IntOp, Predicate};
use crate::glob::{Glob, Token};

/// What a test answers for every value in `min..=max`, when that does not depend on the
/// value.
pub(super) fn constant_truth(predicate: &Predicate, min: u64, max: u64) -> Option<bool> {
    // Below the least value (`argc == 0`): the answer of every value at or above it.
    if let Predicate::Int { op, value } = *predicate {
        let answer = match op {
            IntOp::Eq if value < min => Some(false),
            IntOp::Ne | IntOp::Gt if value < min => Some(true),
            IntOp::Lt if value <= min => Some(false),
            IntOp::Le if value < min => Some(false),
            IntOp::Ge if value <= min => Some(true),
            _ => None,
        };
        if answer.is_some() {
            return answer;
        }
    }
    let (mask, op, value) = match *predicate {
        Predicate::Int { op, value } => (max, op, value),
        Predicate::Masked { mask, op, value } => (mask & max, op, value),
        Predicate::Glob(ref glob) => return matches_everything(glob).then_some(true),
        // A range of one family: never every address, since the other family's are not in it.
        Predicate::StrEq(_) | Predicate::IsTrue | Predicate::Cidr { .. } => return None,
        // Two values of the event: no single range decides it (the same attribute on both
        // sides is folded by the checker).
        Predicate::IntAttr { .. } => return None,
    };
    // The value compared ranges over 0..=mask (a masked value has only the mask's bits; an
    // unmasked one is all of its width), so these are exact.
    let top = mask;
    let unreachable = value & !mask != 0; // `==` can never hold
    match op {
        IntOp::Eq if unreachable => Some(false),
        IntOp::Ne if unreachable => Some(true),
        IntOp::Eq if mask == 0 => Some(value == 0),
        IntOp::Ne if mask == 0 => Some(value != 0),
        IntOp::Lt if value == 0 => Some(false),
        IntOp::Lt if top < value => Some(true),
        IntOp::Le if top <= value => Some(true),
        IntOp::Gt if top <= value => Some(false),
        IntOp::Ge if value == 0 => Some(true),
        IntOp::Ge if top < value => Some(false),
        _ => None,
    }
}

/// A glob with an alternative made only of `**`, which matches every string.
fn matches_everything(glob: &Glob) -> bool {
    glob.alternatives
        .iter()
        .any(|a| !a.is_empty() && a.iter().all(|t| *t == Token::DoubleStar))
}

pub(super) fn constant_tests(input: &LintInput<'_>, cond: &Cond, out: &mut Vec<Lint>) {
    let mut stack = vec![cond];
    while let Some(c) = stack.pop() {
        match c {
            Cond::And(a, b) | Cond::Or(a, b) => {
                stack.push(b);
                stack.push(a);
            }
            Cond::Not(inner) => stack.push(inner),
            Cond::Const(_) => {}
            Cond::Test(test) => {
                let Some(resolved) = input.attributes.get(test.attr.0 as usize) else {
                    continue;
                };
                let attribute = resolved.attribute;
                let max = int_max(attribute, Some(resolved));
                let Some(truth) = constant_truth(&test.predicate, int_min(attribute), max) else {
                    continue;
                };
                out.push(Lint::ConstantComparison {
                    attribute: attribute.name,
                    predicate: test.predicate.clone(),
                    max,
                    truth,
                    span: test.span,
                });
            }
        }
    }
}

/// `x OP x` for an attribute compared with itself, when the checker accepts the operator for
/// its type: the answer without reading `x`.
pub fn self_comparison_value(ty: ValueType, op: crate::ast::CmpOp) -> Option<bool> {
    use crate::ast::CmpOp;
    match (ty, op) {
        (_, CmpOp::Eq) => Some(true),
        (_, CmpOp::Ne) => Some(false),
        (ValueType::Int, CmpOp::Le | CmpOp::Ge) => Some(true),
        (ValueType::Int, CmpOp::Lt | CmpOp::Gt) => Some(false),
        _ => None,
    }
}
