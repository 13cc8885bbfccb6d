//! Two attributes compared with each other (`new.uid != uid`): what the checker accepts, and
//! the diagnostic for what it does not.
//!
//! Only unmasked integers compare with each other: an integer comparison is one register
//! compare in the program. Two strings would need a byte-by-byte loop over two buffers, and
//! enums and addresses are compared with the kernel's names and with ranges, never with each
//! other; those stay refused (E0202) until a rule needs them.

use crate::catalog::{Attribute, EnumType};
use crate::diagnostic::{Code, Diagnostic};
use crate::span::Span;

/// E0202 for a comparison of two attributes the checker cannot compile.
pub(super) fn two_attributes(
    span: Span,
    enum_attribute: Option<(&'static Attribute, &'static EnumType)>,
    sides: Option<(&'static Attribute, &'static Attribute)>,
    masked: bool,
) -> Diagnostic {
    let refused = |message: String, help: String| {
        Diagnostic::new(Code::BadOperator, message, span).with_help(help)
    };
    match (enum_attribute, sides) {
        (Some((attribute, kind)), _) => refused(
            "comparing two attributes is not supported".into(),
            format!("compare `{}` with a {} name", attribute.name, kind.name),
        ),
        (None, Some((a, b))) if a.ty != b.ty => refused(
            format!(
                "cannot compare {} `{}` with {} `{}`",
                a.ty.describe(),
                a.name,
                b.ty.describe(),
                b.name
            ),
            "two attributes can be compared only when both are integers".into(),
        ),
        (None, Some(_)) if masked => refused(
            "cannot compare a masked attribute with another attribute".into(),
            "compare the two attributes whole, e.g. `new.uid != uid`".into(),
        ),
        (None, Some((a, _))) => refused(
            format!(
                "two {} attributes cannot be compared with each other",
                a.ty.describe()
            ),
            "compare each attribute with a literal; only integers compare with each other".into(),
        ),
        (None, None) => refused(
            "comparing two attributes is not supported".into(),
            "compare each attribute with a literal".into(),
        ),
    }
}
