//! The krsi policy language: syntax, AST, diagnostics, event catalog and type checker.
//!
//! No I/O happens here: source text comes in as a string, the target kernel's types through
//! the [`kernel::KernelTypes`] interface, and diagnostics go out as data.

pub mod ast;
pub mod automaton;
pub mod catalog;
pub mod check;
pub mod checked;
pub mod cmdline;
pub mod diagnostic;
pub mod dispatch;
pub mod eval;
pub mod format;
pub mod glob;
pub mod kernel;
pub mod limits;
pub mod lineage;
pub mod lint;
pub mod render;
pub mod runs;
pub mod span;
pub mod syntax;
pub mod test_event;
pub mod workload;

use diagnostic::{Diagnostic, Severity};
use kernel::KernelTypes;

/// The front end, as the design's diagram draws it: parse, then check against the target
/// kernel. Returns the checked policy when there are no errors, and every diagnostic.
pub fn front_end(
    source: &str,
    kernel: &dyn KernelTypes,
) -> (Option<checked::CheckedPolicy>, Vec<Diagnostic>) {
    let (policy, mut diagnostics) = syntax::parse(source);
    let Some(policy) = policy else {
        return (None, diagnostics);
    };
    let parsed_cleanly = diagnostics.iter().all(|d| d.severity() != Severity::Error);
    let (checked, more) = check::check_with_lints(&policy, kernel, parsed_cleanly);
    diagnostics.extend(more);
    diagnostics.sort_by_key(|d| (d.primary.span.start, d.code));
    let failed = diagnostics.iter().any(|d| d.severity() == Severity::Error);
    (checked.filter(|_| !failed), diagnostics)
}
