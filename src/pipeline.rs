//! The pipeline, as DESIGN.md draws it: parse and check (lang), lower, codegen, ELF (compiler).

use compiler::codegen::codegen;
use compiler::elf::{write_object, ObjectSpec};
use compiler::ir::{Mode, Module, Scope};
use compiler::lower::lower;
use lang::checked::{CheckedPolicy, PolicyMode};
use lang::diagnostic::Diagnostic;
use lang::kernel::KernelTypes;

pub struct Compiled {
    pub checked: CheckedPolicy,
    pub ir: Module,
    pub object: ObjectSpec,
    pub elf: Vec<u8>,
}

pub enum Failure {
    /// The policy has errors; the diagnostics say which.
    Diagnostics(Vec<Diagnostic>),
    /// A bug in krsi: the checker accepted what the back end cannot compile.
    Internal(String),
}

/// Returns the compiled policy and the warnings, or why not.
pub fn compile(
    source: &str,
    kernel: &dyn KernelTypes,
    scope: Scope,
    mode: Option<Mode>,
    report_rate: Option<u32>,
) -> Result<(Compiled, Vec<Diagnostic>), Failure> {
    let (checked, diagnostics) = lang::front_end(source, kernel);
    let Some(checked) = checked else {
        return Err(Failure::Diagnostics(diagnostics));
    };
    let mut ir = lower(&checked, scope).map_err(|e| Failure::Internal(e.0))?;
    // The command line's `--mode` wins over the policy's header.
    ir.mode = mode.unwrap_or(match checked.mode {
        Some(PolicyMode::Audit) => Mode::Audit,
        Some(PolicyMode::Enforce) | None => Mode::Enforce,
    });
    if let Some(rate) = report_rate {
        ir.report_rate = rate;
    }
    let object = codegen(&ir).map_err(|e| Failure::Internal(e.to_string()))?;
    let elf = write_object(&object).map_err(|e| Failure::Internal(e.to_string()))?;
    Ok((
        Compiled {
            checked,
            ir,
            object,
            elf,
        },
        diagnostics,
    ))
}
