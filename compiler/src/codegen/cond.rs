//! Conditions: branches with short-circuit evaluation, strings compared as 8-byte words.

use super::{offset, ProgramGen, ADDR_UNKNOWN, ADDR_V4, ADDR_V6, PORT_ABSENT, PORT_UNKNOWN};
use crate::bpf::{AluOp, JmpCond, Label, Reg, Size};
use crate::ir::{Cond, Pred, ValueKind};
use lang::checked::IntOp;

impl ProgramGen<'_> {
    /// Emits code that jumps to `on_false` unless `cond` holds, and falls through when it
    /// does: an integer test is then one inverted branch, not a branch and a `goto`. For the
    /// prologue's gates, outside any loop: the assembler never inverts a branch itself, since
    /// which way a loop's test points decides how many states the verifier keeps pending
    /// (`Assembler::with_branch_simplification`).
    pub(super) fn cond_else(&mut self, cond: &Cond, on_false: Label) {
        if let Cond::Test {
            value,
            pred: Pred::Int {
                op,
                value: constant,
            },
            ..
        } = cond
        {
            let i = value.0 as usize;
            let port = matches!(self.program.values[i].kind, ValueKind::Port(_));
            if !port && *constant <= i32::MAX as u64 && !self.known_true.contains(cond) {
                self.asm
                    .load(Size::DW, Reg::R1, Reg::R10, self.layout.slots[i])
                    .jump_imm(int_jump_unless(*op), Reg::R1, *constant as i32, on_false);
                return;
            }
        }
        let pass = self.asm.new_label();
        self.cond(cond, pass, on_false);
        self.asm.bind(pass);
    }

    /// Emits code that jumps to `on_true` when `cond` holds and to `on_false` otherwise.
    pub(super) fn cond(&mut self, cond: &Cond, on_true: Label, on_false: Label) {
        if self.known_true.contains(cond) {
            self.asm.jump(on_true);
            return;
        }
        match cond {
            Cond::Const(true) => {
                self.asm.jump(on_true);
            }
            Cond::Const(false) => {
                self.asm.jump(on_false);
            }
            Cond::Not(inner) => self.cond(inner, on_false, on_true),
            Cond::And(items) | Cond::Or(items) => {
                let is_and = matches!(cond, Cond::And(_));
                // Cheapest first: tests are pure, so the order does not change the outcome,
                // and a costly value is only computed when a rule's cheap tests (its gate, see
                // `values`) hold, so they must come before its tests in every rule.
                let (cheap, costly): (Vec<&Cond>, Vec<&Cond>) =
                    items.iter().partition(|item| !self.reads_costly(item));
                let items: Vec<&Cond> = cheap.into_iter().chain(costly).collect();
                for (i, item) in items.iter().enumerate() {
                    if i + 1 == items.len() {
                        self.cond(item, on_true, on_false);
                    } else {
                        let next = self.asm.new_label();
                        if is_and {
                            self.cond(item, next, on_false);
                        } else {
                            self.cond(item, on_true, next);
                        }
                        self.asm.bind(next);
                    }
                }
            }
            Cond::Test {
                value,
                pred,
                on_unknown,
            } => {
                let i = value.0 as usize;
                let slot = self.layout.slots[i];
                let unknown = if *on_unknown { on_true } else { on_false };
                let fallible = self.program.values[i].kind.fallible();
                match (pred, self.layout.buffers[i]) {
                    (Pred::Int { op, value }, _) | (Pred::Masked { op, value, .. }, _) => {
                        self.asm.load(Size::DW, Reg::R1, Reg::R10, slot);
                        if matches!(self.program.values[i].kind, ValueKind::Port(_)) {
                            self.asm
                                .jump_imm(JmpCond::Eq, Reg::R1, PORT_ABSENT, on_false)
                                .jump_imm(JmpCond::Eq, Reg::R1, PORT_UNKNOWN, unknown);
                        }
                        if let Pred::Masked { mask, .. } = pred {
                            self.load_constant(Reg::R2, *mask);
                            self.asm.alu64_reg(AluOp::And, Reg::R1, Reg::R2);
                        }
                        let cond = int_jump(*op);
                        if *value <= i32::MAX as u64 {
                            self.asm.jump_imm(cond, Reg::R1, *value as i32, on_true);
                        } else {
                            self.asm.ld_imm64(Reg::R2, *value).jump_reg(
                                cond,
                                Reg::R1,
                                Reg::R2,
                                on_true,
                            );
                        }
                        self.asm.jump(on_false);
                    }
                    (Pred::Cidr { v6, bytes, prefix }, Some(b)) => {
                        self.asm
                            .load(Size::DW, Reg::R1, Reg::R10, slot)
                            .jump_imm(JmpCond::Eq, Reg::R1, ADDR_UNKNOWN, unknown)
                            .jump_imm(
                                JmpCond::Ne,
                                Reg::R1,
                                if *v6 { ADDR_V6 } else { ADDR_V4 },
                                on_false,
                            );
                        // Compare the first `prefix` bits, 8 bytes at a time. Memory holds
                        // the address in network order; a little-endian load puts byte k of
                        // a word in bits 8k..8k+7, so the mask is built byte by byte.
                        for word in 0..2u32 {
                            let mut mask = [0u8; 8];
                            for (k, m) in mask.iter_mut().enumerate() {
                                let bit = (word as usize * 8 + k) * 8;
                                let bits = usize::from(*prefix).saturating_sub(bit).min(8);
                                *m = (0xffu16 << (8 - bits)) as u8;
                            }
                            let mask = u64::from_le_bytes(mask);
                            if mask == 0 {
                                continue;
                            }
                            let mut want = [0u8; 8];
                            want.copy_from_slice(&bytes[word as usize * 8..word as usize * 8 + 8]);
                            let want = u64::from_le_bytes(want) & mask;
                            self.asm
                                .load(Size::DW, Reg::R1, Reg::R7, offset(b.offset + 8 * word));
                            self.load_constant(Reg::R2, mask);
                            self.asm.alu64_reg(AluOp::And, Reg::R1, Reg::R2);
                            self.load_constant(Reg::R2, want);
                            self.asm.jump_reg(JmpCond::Ne, Reg::R1, Reg::R2, on_false);
                        }
                        self.asm.jump(on_true);
                    }
                    (Pred::Cidr { .. }, None) => {
                        self.asm.jump(on_false);
                    }
                    (Pred::Value { op, other }, _) => {
                        // An endpoint's port may be absent (false) or unknown (fail closed).
                        for (reg, at) in [(Reg::R1, i), (Reg::R2, other.0 as usize)] {
                            self.asm
                                .load(Size::DW, reg, Reg::R10, self.layout.slots[at]);
                            if matches!(self.program.values[at].kind, ValueKind::Port(_)) {
                                self.asm
                                    .jump_imm(JmpCond::Eq, reg, PORT_ABSENT, on_false)
                                    .jump_imm(JmpCond::Eq, reg, PORT_UNKNOWN, unknown);
                            }
                        }
                        self.asm
                            .jump_reg(int_jump(*op), Reg::R1, Reg::R2, on_true)
                            .jump(on_false);
                    }
                    (Pred::IsTrue, _) => {
                        self.asm
                            .load(Size::DW, Reg::R1, Reg::R10, slot)
                            .jump_imm(JmpCond::Ne, Reg::R1, 0, on_true)
                            .jump(on_false);
                    }
                    (Pred::StrEq(bytes), Some(b)) => {
                        if b.padded {
                            // Bytes past the string are NUL: compare the whole buffer. A
                            // literal with a NUL in it, or as long as the buffer, can never
                            // be the kernel's NUL-terminated name.
                            if bytes.len() >= b.cap as usize || bytes.contains(&0) {
                                self.asm.jump(on_false);
                                return;
                            }
                            let mut padded = bytes.clone();
                            padded.resize(b.cap as usize, 0);
                            self.compare_words(b.offset, &padded, on_false);
                        } else {
                            self.load_length(slot, fallible, unknown);
                            if bytes.len() >= b.cap as usize {
                                // No known string is this long (and the word compare would
                                // read past the buffer).
                                self.asm.jump(on_false);
                                return;
                            }
                            self.asm
                                .jump_imm(JmpCond::Ne, Reg::R1, bytes.len() as i32, on_false);
                            self.compare_words(b.offset, bytes, on_false);
                        }
                        self.asm.jump(on_true);
                    }
                    (Pred::Glob { alternatives, .. }, Some(b)) => {
                        // The value's automaton ran when it was computed (see `automaton`).
                        if !b.padded {
                            self.load_length(slot, fallible, unknown);
                        }
                        self.glob_test(i, alternatives, on_true, on_false);
                    }
                    // The checker only lets strings meet string predicates.
                    (Pred::StrEq(_) | Pred::Glob { .. }, None) => {
                        self.asm.jump(on_false);
                    }
                }
            }
        }
    }

    /// `r1 = length`; unknown (negative) lengths go to `unknown`.
    pub(super) fn load_length(&mut self, slot: i16, fallible: bool, unknown: Label) {
        self.asm.load(Size::DW, Reg::R1, Reg::R10, slot);
        if fallible {
            self.asm.jump_imm(JmpCond::Slt, Reg::R1, 0, unknown);
        }
    }

    /// Compares the buffer's first `bytes.len()` bytes with `bytes`, 8 at a time; a mismatch
    /// goes to `mismatch`, a match falls through. Bytes past the end of a partial last word are
    /// shifted out (little endian: they are the high bytes).
    pub(super) fn compare_words(&mut self, buffer: u32, bytes: &[u8], mismatch: Label) {
        for (k, chunk) in bytes.chunks(8).enumerate() {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            let mut expected = u64::from_le_bytes(word);
            self.asm
                .load(Size::DW, Reg::R1, Reg::R7, offset(buffer + 8 * k as u32));
            let drop = 8 * (8 - chunk.len() as u32);
            self.asm.alu64_imm(AluOp::Lsh, Reg::R1, drop as i32);
            expected <<= drop;
            self.load_constant(Reg::R2, expected);
            self.asm.jump_reg(JmpCond::Ne, Reg::R1, Reg::R2, mismatch);
        }
    }
}

/// The unsigned jump that is taken when `OP` holds.
fn int_jump(op: IntOp) -> JmpCond {
    match op {
        IntOp::Eq => JmpCond::Eq,
        IntOp::Ne => JmpCond::Ne,
        IntOp::Lt => JmpCond::Lt,
        IntOp::Le => JmpCond::Le,
        IntOp::Gt => JmpCond::Gt,
        IntOp::Ge => JmpCond::Ge,
    }
}

/// The branch taken when `op` does not hold.
fn int_jump_unless(op: IntOp) -> JmpCond {
    match op {
        IntOp::Eq => JmpCond::Ne,
        IntOp::Ne => JmpCond::Eq,
        IntOp::Lt => JmpCond::Ge,
        IntOp::Le => JmpCond::Gt,
        IntOp::Gt => JmpCond::Le,
        IntOp::Ge => JmpCond::Lt,
    }
}
