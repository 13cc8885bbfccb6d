//! The krsi compiler: IR, lowering, BPF encoder and disassembler, codegen, BTF reader and
//! ELF writer. No I/O: bytes in, bytes out.

pub mod bpf;
pub mod btf;
pub mod codegen;
pub mod elf;
pub mod ir;
pub mod lower;
pub mod report;
pub mod vm;
