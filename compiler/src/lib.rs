//! The krsi compiler: IR, lowering, BPF encoder and disassembler, codegen, BTF reader and
//! ELF writer. No I/O: bytes in, bytes out.
//!
//! [`compile`] is the back end as DESIGN.md draws it: lower, codegen, ELF. Every caller (the
//! CLI, the rejection bisector, the tests, the fuzz targets) goes through it; the stages stay
//! public for tests that inspect one of them.

pub mod bpf;
pub mod btf;
pub mod codegen;
pub mod elf;
pub mod ir;
pub mod lower;
pub mod report;
pub mod vm;

use codegen::CodegenError;
use elf::{ElfError, ObjectSpec};
use ir::{Module, Target};
use lang::checked::CheckedPolicy;
use lang::span::Span;
use lower::InternalError;
use std::fmt;

/// A compiled policy: the ELF object the runtime loads, what it was written from (each
/// program's code with its instruction-origin table), and the IR that decodes its reports.
#[derive(Clone, Debug, PartialEq)]
pub struct Object {
    pub ir: Module,
    pub spec: ObjectSpec,
    pub elf: Vec<u8>,
}

impl Object {
    /// The span of the rule whose code instruction `slot` of program `symbol` is, through the
    /// origin table: where a verifier rejection at that instruction is told. In the report
    /// function every rule calls, the rule is the one whose call the verifier's `trace` (the
    /// instructions its log shows it walking) followed into it.
    pub fn rule_span_at(&self, symbol: &str, slot: usize, trace: &[usize]) -> Option<Span> {
        let program = self.spec.programs.iter().find(|p| p.symbol == symbol)?;
        let index = program.code.origin_on(slot, trace)?;
        self.ir
            .programs
            .iter()
            .flat_map(|p| p.allow.iter().chain(&p.deny).chain(&p.audit))
            .find(|r| r.index == index)
            .map(|r| r.span)
    }
}

/// Why a checked policy did not compile. Every variant is a bug in krsi: the checker accepted
/// what the back end cannot compile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CompileError {
    Lower(InternalError),
    Codegen(CodegenError),
    Elf(ElfError),
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompileError::Lower(e) => e.fmt(f),
            CompileError::Codegen(e) => e.fmt(f),
            CompileError::Elf(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for CompileError {}

impl From<InternalError> for CompileError {
    fn from(e: InternalError) -> Self {
        CompileError::Lower(e)
    }
}

impl From<CodegenError> for CompileError {
    fn from(e: CodegenError) -> Self {
        CompileError::Codegen(e)
    }
}

impl From<ElfError> for CompileError {
    fn from(e: ElfError) -> Self {
        CompileError::Elf(e)
    }
}

/// Compiles a checked policy for `target`: one specialized LSM program per hook its rules use,
/// in one ELF object. The policy's own `mode` header applies unless the target overrides it.
pub fn compile(policy: &CheckedPolicy, target: Target) -> Result<Object, CompileError> {
    let ir = lower::lower(policy, target)?;
    let spec = codegen::codegen(&ir)?;
    let elf = elf::write_object(&spec)?;
    Ok(Object { ir, spec, elf })
}
