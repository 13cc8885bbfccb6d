//! The BPF instruction set, defined once.
//!
//! [`opcode::Opcode`] lists every instruction krsi emits or accepts; its opcode byte is computed in
//! one place ([`opcode::Opcode::code`]) and the inverse table used by the decoder is derived from
//! the same list at compile time. The [`Assembler`] (a chaining builder with labels), [`decode`]
//! and [`disassemble`] all go through that table, so an instruction that one of them knows the
//! others know too.
//!
//! Instructions are kept as raw 8-byte slots ([`Insn`]): a 64-bit immediate load takes two slots,
//! and slot indices are what the kernel verifier reports, so they are what the rest of the
//! compiler counts in.

mod asm;
mod codec;
mod disasm;
mod helpers;
pub mod opcode;

pub use asm::{Assembler, Code, EncodeError, Function, Label, MapRelocation};
pub use codec::{decode, encode, validate, DecodeError};
pub use disasm::{disassemble, disassemble_with};
pub use helpers::{helper_id, helper_name, id as helper, map_type, HELPER_NAMES};
pub use opcode::{call_target, ByteOrder, Opcode, Pseudo, Source, Width, PSEUDO_CALL};

use std::fmt;

/// A BPF register. `R10` is the read-only frame pointer; `R0` holds return values, `R1`–`R5`
/// carry helper arguments and are clobbered by calls, `R6`–`R9` survive calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reg {
    R0,
    R1,
    R2,
    R3,
    R4,
    R5,
    R6,
    R7,
    R8,
    R9,
    R10,
}

impl Reg {
    /// Every register, in encoding order.
    pub const ALL: [Reg; 11] = [
        Reg::R0,
        Reg::R1,
        Reg::R2,
        Reg::R3,
        Reg::R4,
        Reg::R5,
        Reg::R6,
        Reg::R7,
        Reg::R8,
        Reg::R9,
        Reg::R10,
    ];

    /// The frame pointer.
    pub const FP: Reg = Reg::R10;

    /// The register's number in an instruction's 4-bit register fields.
    pub const fn index(self) -> u8 {
        self as u8
    }

    /// The register numbered `n`, if there is one (the fields have room for 16).
    pub fn from_index(n: u8) -> Option<Reg> {
        Reg::ALL.get(usize::from(n)).copied()
    }
}

impl fmt::Display for Reg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "r{}", self.index())
    }
}

/// Width of a memory access.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Size {
    /// 1 byte
    B,
    /// 2 bytes
    H,
    /// 4 bytes
    W,
    /// 8 bytes
    DW,
}

impl Size {
    pub const ALL: [Size; 4] = [Size::B, Size::H, Size::W, Size::DW];

    pub const fn bytes(self) -> u32 {
        match self {
            Size::B => 1,
            Size::H => 2,
            Size::W => 4,
            Size::DW => 8,
        }
    }

    /// The C type the disassembler prints for an access of this size.
    pub const fn c_type(self) -> &'static str {
        match self {
            Size::B => "u8",
            Size::H => "u16",
            Size::W => "u32",
            Size::DW => "u64",
        }
    }
}

/// An arithmetic operation (the `op` bits of the ALU and ALU64 classes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AluOp {
    Add,
    Sub,
    Mul,
    /// Unsigned division; the kernel defines division by zero as 0.
    Div,
    Or,
    And,
    Lsh,
    /// Logical shift right.
    Rsh,
    /// `dst = -dst`; has no source operand.
    Neg,
    /// Unsigned remainder.
    Mod,
    Xor,
    Mov,
    /// Arithmetic (sign-extending) shift right.
    Arsh,
}

impl AluOp {
    pub const ALL: [AluOp; 13] = [
        AluOp::Add,
        AluOp::Sub,
        AluOp::Mul,
        AluOp::Div,
        AluOp::Or,
        AluOp::And,
        AluOp::Lsh,
        AluOp::Rsh,
        AluOp::Neg,
        AluOp::Mod,
        AluOp::Xor,
        AluOp::Mov,
        AluOp::Arsh,
    ];

    /// The assignment operator the disassembler prints (`Neg` prints as `dst = -dst`).
    pub const fn operator(self) -> &'static str {
        match self {
            AluOp::Add => "+=",
            AluOp::Sub => "-=",
            AluOp::Mul => "*=",
            AluOp::Div => "/=",
            AluOp::Or => "|=",
            AluOp::And => "&=",
            AluOp::Lsh => "<<=",
            AluOp::Rsh => ">>=",
            AluOp::Neg => "= -",
            AluOp::Mod => "%=",
            AluOp::Xor => "^=",
            AluOp::Mov => "=",
            AluOp::Arsh => "s>>=",
        }
    }

    /// The operation's name in mnemonics (`add64`, `mov32`, ...).
    /// Only the opcode table's snapshot prints mnemonics ([`super::opcode`]).
    #[cfg(test)]
    pub const fn name(self) -> &'static str {
        match self {
            AluOp::Add => "add",
            AluOp::Sub => "sub",
            AluOp::Mul => "mul",
            AluOp::Div => "div",
            AluOp::Or => "or",
            AluOp::And => "and",
            AluOp::Lsh => "lsh",
            AluOp::Rsh => "rsh",
            AluOp::Neg => "neg",
            AluOp::Mod => "mod",
            AluOp::Xor => "xor",
            AluOp::Mov => "mov",
            AluOp::Arsh => "arsh",
        }
    }
}

/// A branch condition. Comparisons are unsigned unless their name starts with `S`; `Set` is
/// `JSET` (branch if `dst & src != 0`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JmpCond {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Sgt,
    Sge,
    Slt,
    Sle,
    Set,
}

impl JmpCond {
    pub const ALL: [JmpCond; 11] = [
        JmpCond::Eq,
        JmpCond::Ne,
        JmpCond::Gt,
        JmpCond::Ge,
        JmpCond::Lt,
        JmpCond::Le,
        JmpCond::Sgt,
        JmpCond::Sge,
        JmpCond::Slt,
        JmpCond::Sle,
        JmpCond::Set,
    ];

    /// The comparison operator the disassembler prints.
    pub const fn operator(self) -> &'static str {
        match self {
            JmpCond::Eq => "==",
            JmpCond::Ne => "!=",
            JmpCond::Gt => ">",
            JmpCond::Ge => ">=",
            JmpCond::Lt => "<",
            JmpCond::Le => "<=",
            JmpCond::Sgt => "s>",
            JmpCond::Sge => "s>=",
            JmpCond::Slt => "s<",
            JmpCond::Sle => "s<=",
            JmpCond::Set => "&",
        }
    }

    /// The condition's name in mnemonics (`jeq`, `jsgt32`, ...).
    /// Only the opcode table's snapshot prints mnemonics ([`super::opcode`]).
    #[cfg(test)]
    pub const fn name(self) -> &'static str {
        match self {
            JmpCond::Eq => "jeq",
            JmpCond::Ne => "jne",
            JmpCond::Gt => "jgt",
            JmpCond::Ge => "jge",
            JmpCond::Lt => "jlt",
            JmpCond::Le => "jle",
            JmpCond::Sgt => "jsgt",
            JmpCond::Sge => "jsge",
            JmpCond::Slt => "jslt",
            JmpCond::Sle => "jsle",
            JmpCond::Set => "jset",
        }
    }

    /// The condition that holds exactly when this one does not (`Set` has none).
    pub const fn negate(self) -> Option<JmpCond> {
        Some(match self {
            JmpCond::Eq => JmpCond::Ne,
            JmpCond::Ne => JmpCond::Eq,
            JmpCond::Gt => JmpCond::Le,
            JmpCond::Ge => JmpCond::Lt,
            JmpCond::Lt => JmpCond::Ge,
            JmpCond::Le => JmpCond::Gt,
            JmpCond::Sgt => JmpCond::Sle,
            JmpCond::Sge => JmpCond::Slt,
            JmpCond::Slt => JmpCond::Sge,
            JmpCond::Sle => JmpCond::Sgt,
            JmpCond::Set => return None,
        })
    }
}

/// One raw 8-byte instruction slot, as `struct bpf_insn` lays it out. The second slot of a
/// 64-bit immediate load is an `Insn` too (code 0, the upper 32 bits in `imm`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Insn {
    pub code: u8,
    /// Destination register number (low nibble of byte 1).
    pub dst: u8,
    /// Source register number, or a pseudo marker for `ld_imm64` (high nibble of byte 1).
    pub src: u8,
    pub off: i16,
    pub imm: i32,
}

impl Insn {
    /// Size of one slot in bytes.
    pub const SIZE: usize = 8;

    pub const fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Self {
        Insn {
            code,
            dst,
            src,
            off,
            imm,
        }
    }

    /// The table entry for this slot's opcode byte, if it has one. The second slot of an
    /// `ld_imm64` (code 0) has none.
    pub fn opcode(&self) -> Option<Opcode> {
        Opcode::from_code(self.code)
    }
}
