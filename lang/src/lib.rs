//! The krsi policy language: syntax, AST, diagnostics, event catalog and type checker.
//!
//! No I/O happens here: source text comes in as a string, the target kernel's types through
//! the [`kernel::KernelTypes`] interface, and diagnostics go out as data.

pub mod ast;
pub mod catalog;
pub mod check;
pub mod diagnostic;
pub mod glob;
pub mod kernel;
pub mod render;
pub mod span;
pub mod syntax;
