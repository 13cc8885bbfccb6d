//! Globs: the literal prefix compared as words, the rest run as a position-set automaton.

use super::{offset, Buffer, ProgramGen, GLOB_SCAN_LIMIT};
use crate::bpf::{AluOp, JmpCond, Label, Reg, Size};
use lang::glob::Token;
use std::collections::BTreeMap;

impl ProgramGen<'_> {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn glob(
        &mut self,
        tokens: &[Token],
        slot: i16,
        b: Buffer,
        fallible: bool,
        matched: Label,
        failed: Label,
        unknown: Label,
    ) {
        let prefix: Vec<u8> = tokens
            .iter()
            .map_while(|t| match t {
                Token::Byte(c) => Some(*c),
                _ => None,
            })
            .collect();
        let rest = &tokens[prefix.len()..];
        let p = prefix.len() as u32;
        if !b.padded {
            // An unknown string stays unknown, however long the prefix.
            self.load_length(slot, fallible, unknown);
        }
        let nul_in_padded = b.padded && prefix.contains(&0);
        if p >= b.cap || nul_in_padded {
            // Longer than anything the buffer holds, or a NUL a NUL-padded name cannot contain
            // before its end.
            self.asm.jump(failed);
            return;
        }
        if !b.padded {
            let cond = if rest.is_empty() {
                JmpCond::Ne
            } else {
                JmpCond::Lt
            };
            self.asm.jump_imm(cond, Reg::R1, p as i32, failed);
        }
        self.compare_words(b.offset, &prefix, failed);
        if rest.is_empty() {
            if b.padded {
                self.asm
                    .load(Size::B, Reg::R1, Reg::R7, offset(b.offset + p))
                    .jump_imm(JmpCond::Ne, Reg::R1, 0, failed);
            }
            self.asm.jump(matched);
            return;
        }
        if rest == [Token::DoubleStar] {
            self.asm.jump(matched);
            return;
        }
        let bound = if b.padded {
            b.cap
        } else {
            (p + GLOB_SCAN_LIMIT).min(b.cap)
        };
        if !b.padded {
            // The mask keeps the length (at most STRING_CAP here) but gives r5 a fresh
            // identity: a register filled from a stack slot shares the slot's, and newer
            // verifiers (6.12) carry every `i < len` the loop learns back into the slot, so
            // each iteration's early exit would reach the rest of the program with a
            // different slot, and nothing could be pruned.
            self.asm
                .load(Size::DW, Reg::R5, Reg::R10, slot)
                .alu64_imm(AluOp::And, Reg::R5, 0xffff);
        }
        self.automaton(rest, b, p, bound, matched, failed, unknown);
    }

    /// Runs the glob remainder `rest` over bytes `start..` of the buffer.
    ///
    /// Registers: r8 = set of live positions (bit j: `rest[..j]` matched), r9 = index,
    /// r0 = current byte, r1 = "not `/`" mask, r2/r3 = temporaries, r4 = next set,
    /// r5 = length (counted strings).
    #[allow(clippy::too_many_arguments)]
    fn automaton(
        &mut self,
        rest: &[Token],
        b: Buffer,
        start: u32,
        bound: u32,
        matched: Label,
        failed: Label,
        unknown: Label,
    ) {
        let m = rest.len();
        let bit = |j: usize| 1u64 << j;
        let mask_of = |pred: &dyn Fn(&Token) -> bool| -> u64 {
            rest.iter()
                .enumerate()
                .filter(|(_, t)| pred(t))
                .map(|(j, _)| bit(j))
                .fold(0, |a, b| a | b)
        };
        let stars = mask_of(&|t| t.is_star());
        let close = |mut set: u64| {
            // Stars are never adjacent after parsing, so one step reaches the closure.
            set |= (set & stars) << 1;
            set
        };
        let mut literals: BTreeMap<u8, u64> = BTreeMap::new();
        for (j, t) in rest.iter().enumerate() {
            if let Token::Byte(c) = t {
                *literals.entry(*c).or_default() |= bit(j);
            }
        }
        let any_byte = mask_of(&|t| matches!(t, Token::AnyByte));
        let star = mask_of(&|t| matches!(t, Token::Star));
        let double_star = mask_of(&|t| matches!(t, Token::DoubleStar));
        let needs_not_slash =
            any_byte | star != 0 || rest.iter().any(|t| matches!(t, Token::Class { .. }));
        let trailing_double_star = rest.last() == Some(&Token::DoubleStar);

        let (top, end) = (self.asm.new_label(), self.asm.new_label());
        self.load_constant(Reg::R8, close(bit(0)));
        self.asm.mov64_imm(Reg::R9, start as i32);
        self.asm.bind(top);
        if !b.padded {
            self.asm.jump_reg(JmpCond::Ge, Reg::R9, Reg::R5, end);
        }
        // Counted strings longer than the scan limit are unknown; a padded buffer's end is
        // the string's end.
        let past_bound = if b.padded { end } else { unknown };
        self.asm
            .jump_imm(JmpCond::Ge, Reg::R9, bound as i32, past_bound)
            .mov64_reg(Reg::R1, Reg::R7)
            .alu64_reg(AluOp::Add, Reg::R1, Reg::R9)
            .load(Size::B, Reg::R0, Reg::R1, offset(b.offset));
        if b.padded {
            self.asm.jump_imm(JmpCond::Eq, Reg::R0, 0, end);
        }
        self.asm.mov64_imm(Reg::R4, 0);
        for (c, positions) in &literals {
            self.byte_equals(Reg::R2, *c);
            self.advance(*positions, Reg::R2, true);
        }
        if needs_not_slash {
            self.byte_equals(Reg::R1, b'/');
            self.asm.alu64_imm(AluOp::Xor, Reg::R1, -1);
            if any_byte != 0 {
                self.advance(any_byte, Reg::R1, true);
            }
            if star != 0 {
                self.advance(star, Reg::R1, false);
            }
        }
        if double_star != 0 {
            self.load_constant(Reg::R3, double_star);
            self.asm
                .alu64_reg(AluOp::And, Reg::R3, Reg::R8)
                .alu64_reg(AluOp::Or, Reg::R4, Reg::R3);
        }
        for (j, t) in rest.iter().enumerate() {
            let Token::Class { ranges, negated } = t else {
                continue;
            };
            // r2 = 1 when the byte is in some range: (u32)(c - lo) < n, branch free.
            self.asm.mov64_imm(Reg::R2, 0);
            for (lo, hi) in ranges {
                let n = i32::from(*hi) - i32::from(*lo) + 1;
                self.asm
                    .alu32_reg(AluOp::Mov, Reg::R3, Reg::R0)
                    .alu32_imm(AluOp::Sub, Reg::R3, i32::from(*lo))
                    .alu64_imm(AluOp::Sub, Reg::R3, n)
                    .alu64_imm(AluOp::Rsh, Reg::R3, 63)
                    .alu64_reg(AluOp::Or, Reg::R2, Reg::R3);
            }
            if *negated {
                self.asm.alu64_imm(AluOp::Xor, Reg::R2, 1);
            }
            // To an all-ones mask, and never `/`.
            self.asm
                .neg64(Reg::R2)
                .alu64_reg(AluOp::And, Reg::R2, Reg::R1);
            self.advance(bit(j), Reg::R2, true);
        }
        if stars != 0 {
            self.load_constant(Reg::R3, stars);
            self.asm
                .alu64_reg(AluOp::And, Reg::R3, Reg::R4)
                .alu64_imm(AluOp::Lsh, Reg::R3, 1)
                .alu64_reg(AluOp::Or, Reg::R4, Reg::R3);
        }
        self.asm
            .mov64_reg(Reg::R8, Reg::R4)
            .jump_imm(JmpCond::Eq, Reg::R8, 0, failed);
        if trailing_double_star {
            // Inside the final `**`, whatever follows matches.
            self.load_constant(Reg::R3, bit(m - 1));
            self.asm.jump_reg(JmpCond::Set, Reg::R8, Reg::R3, matched);
        }
        self.asm.alu64_imm(AluOp::Add, Reg::R9, 1).jump(top);
        self.asm.bind(end);
        self.load_constant(Reg::R3, bit(m));
        self.asm
            .jump_reg(JmpCond::Set, Reg::R8, Reg::R3, matched)
            .jump(failed);
    }

    /// `reg = (r0 == c) ? !0 : 0`, without a branch: `((r0 ^ c) - 1) >> 63` is 1 exactly when
    /// the byte equals `c` (r0 is a byte, so the xor is below 256), then negate.
    fn byte_equals(&mut self, reg: Reg, c: u8) {
        self.asm
            .mov64_reg(reg, Reg::R0)
            .alu64_imm(AluOp::Xor, reg, i32::from(c))
            .alu64_imm(AluOp::Sub, reg, 1)
            .alu64_imm(AluOp::Rsh, reg, 63)
            .neg64(reg);
    }

    /// `next |= (live & positions & accept_mask) [<< 1]`: positions that accept the byte move
    /// on (single-byte tokens) or stay (stars).
    fn advance(&mut self, positions: u64, accept_mask: Reg, moves: bool) {
        self.load_constant(Reg::R3, positions);
        self.asm.alu64_reg(AluOp::And, Reg::R3, Reg::R8).alu64_reg(
            AluOp::And,
            Reg::R3,
            accept_mask,
        );
        if moves {
            self.asm.alu64_imm(AluOp::Lsh, Reg::R3, 1);
        }
        self.asm.alu64_reg(AluOp::Or, Reg::R4, Reg::R3);
    }
}
