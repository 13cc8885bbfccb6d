//! The pipeline, as DESIGN.md draws it: parse and check (lang), then lower, codegen and ELF
//! (`compiler::compile`).

use compiler::ir::Target;
use compiler::{CompileError, Object};
use lang::checked::CheckedPolicy;
use lang::diagnostic::Diagnostic;
use lang::kernel::KernelTypes;

pub struct Compiled {
    pub checked: CheckedPolicy,
    pub object: Object,
}

pub enum Failure {
    /// The policy has errors; the diagnostics say which.
    Diagnostics(Vec<Diagnostic>),
    /// A bug in krsi: the checker accepted what the back end cannot compile.
    Internal(CompileError),
}

/// Returns the compiled policy and the warnings, or why not.
pub fn compile(
    source: &str,
    kernel: &dyn KernelTypes,
    target: Target,
) -> Result<(Compiled, Vec<Diagnostic>), Failure> {
    let (checked, diagnostics) = lang::front_end(source, kernel);
    let Some(checked) = checked else {
        return Err(Failure::Diagnostics(diagnostics));
    };
    let object = compiler::compile(&checked, target).map_err(Failure::Internal)?;
    Ok((Compiled { checked, object }, diagnostics))
}
