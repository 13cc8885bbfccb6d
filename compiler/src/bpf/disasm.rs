//! Text form of a program, in the C-like syntax of llvm-objdump and the kernel verifier log.
//!
//! One line per instruction, prefixed by its slot index (the number the verifier reports). The
//! second slot of an `ld_imm64` gets no line of its own, so indices skip by two after one.
//! Branches show their relative offset and, in angle brackets, the slot they land on.

use std::fmt::Write;

use super::opcode::{ByteOrder, Opcode, Pseudo, Source, Width};
use super::{helper_name, validate, AluOp, DecodeError, Insn, MapRelocation};

/// The program as text. Fails on slots that [`validate`] rejects.
pub fn disassemble(insns: &[Insn]) -> Result<String, DecodeError> {
    disassemble_with(insns, &[])
}

/// Like [`disassemble`], printing `map[NAME]` for the `ld_imm64` slots that `relocations` name.
pub fn disassemble_with(
    insns: &[Insn],
    relocations: &[MapRelocation],
) -> Result<String, DecodeError> {
    validate(insns)?;
    let mut text = String::new();
    let mut slot = 0;
    while let Some(insn) = insns.get(slot) {
        let Some(op) = insn.opcode() else {
            // validate() has accepted every slot we visit.
            return Err(DecodeError::UnknownOpcode {
                slot,
                code: insn.code,
            });
        };
        let tail = insns.get(slot + 1).copied().unwrap_or_default();
        let relocation = relocations.iter().find(|r| r.slot == slot);
        let _ = write!(text, "{slot:>4}: ");
        line(&mut text, slot, op, insn, tail, relocation);
        text.push('\n');
        slot += op.slots();
    }
    Ok(text)
}

fn reg(width: Width, n: u8) -> String {
    match width {
        Width::W32 => format!("w{n}"),
        Width::W64 => format!("r{n}"),
    }
}

/// Comparison immediates print in hex as the verifier log does, with the sign in front.
fn hex(imm: i32) -> String {
    if imm < 0 {
        format!("-0x{:x}", imm.unsigned_abs())
    } else {
        format!("0x{imm:x}")
    }
}

fn address(base: u8, off: i16) -> String {
    if off < 0 {
        format!("r{base} - {}", off.unsigned_abs())
    } else {
        format!("r{base} + {off}")
    }
}

fn target(slot: usize, off: i16) -> String {
    let to = slot as i64 + 1 + i64::from(off);
    format!("{off:+} <{to}>")
}

fn line(
    out: &mut String,
    slot: usize,
    op: Opcode,
    insn: &Insn,
    tail: Insn,
    relocation: Option<&MapRelocation>,
) {
    let (d, s) = (insn.dst, insn.src);
    let _ = match op {
        Opcode::Alu {
            width,
            op: AluOp::Neg,
            ..
        } => write!(out, "{0} = -{0}", reg(width, d)),
        Opcode::Alu { width, op, source } => {
            let operand = match source {
                Source::Imm => insn.imm.to_string(),
                Source::Reg => reg(width, s),
            };
            write!(out, "{} {} {}", reg(width, d), op.operator(), operand)
        }
        Opcode::End { order } => {
            let name = match order {
                ByteOrder::Le => "le",
                ByteOrder::Be => "be",
            };
            write!(out, "r{d} = {name}{} r{d}", insn.imm)
        }
        Opcode::LdImm64 => {
            let pseudo = Pseudo::from_src(s).unwrap_or(Pseudo::None);
            match (relocation, pseudo) {
                // Before relocation the offset is in the first slot, as clang writes it; the
                // loader moves it to the second, where the kernel reads it.
                (Some(r), Pseudo::MapValue) => {
                    write!(out, "r{d} = map_value[{}] + {} ll", r.symbol, insn.imm)
                }
                (Some(r), _) => write!(out, "r{d} = map[{}] ll", r.symbol),
                (None, Pseudo::MapFd) => write!(out, "r{d} = map[fd:{}] ll", insn.imm),
                (None, Pseudo::MapValue) => {
                    write!(out, "r{d} = map_value[fd:{}] + {} ll", insn.imm, tail.imm)
                }
                (None, Pseudo::None) => {
                    let value = u64::from(insn.imm as u32) | (u64::from(tail.imm as u32) << 32);
                    write!(out, "r{d} = 0x{value:x} ll")
                }
            }
        }
        Opcode::Load { size } => write!(
            out,
            "r{d} = *({} *)({})",
            size.c_type(),
            address(s, insn.off)
        ),
        Opcode::Store { size } => write!(
            out,
            "*({} *)({}) = r{s}",
            size.c_type(),
            address(d, insn.off)
        ),
        Opcode::StoreImm { size } => write!(
            out,
            "*({} *)({}) = {}",
            size.c_type(),
            address(d, insn.off),
            insn.imm
        ),
        Opcode::Jump {
            width,
            cond,
            source,
        } => {
            let operand = match source {
                Source::Imm => hex(insn.imm),
                Source::Reg => reg(width, s),
            };
            write!(
                out,
                "if {} {} {} goto {}",
                reg(width, d),
                cond.operator(),
                operand,
                target(slot, insn.off)
            )
        }
        Opcode::Ja => write!(out, "goto {}", target(slot, insn.off)),
        Opcode::Call if insn.src == crate::bpf::PSEUDO_CALL => {
            let to = crate::bpf::call_target(slot, insn.imm);
            write!(out, "call pc{:+} ; to {to}", insn.imm)
        }
        Opcode::Call => {
            let name = u32::try_from(insn.imm).ok().and_then(helper_name);
            match name {
                Some(name) => write!(out, "call {} ; {name}", insn.imm),
                None => write!(out, "call {}", insn.imm),
            }
        }
        Opcode::Exit => write!(out, "exit"),
    };
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::bpf::{Assembler, JmpCond, Reg::*, Size};

    /// The shape of a compiled exec rule: read the binary's path pointer, take the current
    /// uid, compare, deny with -EPERM.
    fn sample() -> crate::bpf::Code {
        let mut asm = Assembler::new();
        let allow = asm.new_label();
        let deny = asm.new_label();
        asm.set_origin(Some(0))
            .mov64_reg(R6, R1)
            .load(Size::DW, R7, R6, 0)
            .ld_map_fd(R1, "krsi_scope")
            .mov64_reg(R2, R10)
            .alu64_imm(AluOp::Add, R2, -8)
            .store_imm(Size::W, R10, -8, 0)
            .call_helper(1)
            .jump_imm(JmpCond::Eq, R0, 0, allow)
            .call_helper(15)
            .alu32_imm(AluOp::And, R0, -1)
            .jump32_imm(JmpCond::Ne, R0, 0x3e8, deny)
            .ld_imm64(R1, 0x6e69_622f_7273_752f)
            .load(Size::DW, R2, R7, 16)
            .jump_reg(JmpCond::Ne, R2, R1, allow)
            .store_reg(Size::DW, R10, -16, R2)
            .endian(ByteOrder::Be, R2, Size::H)
            .jump_imm(JmpCond::Sgt, R2, -1, allow)
            .bind(deny)
            .mov64_imm(R0, -1)
            .exit()
            .bind(allow)
            .mov64_imm(R0, 0)
            .neg64(R0)
            .jump(deny);
        asm.finish().expect("sample assembles")
    }

    #[test]
    fn snapshot_of_a_small_program() {
        let code = sample();
        let text = disassemble_with(&code.insns, &code.relocations).expect("disassembles");
        insta::assert_snapshot!(text);
    }

    #[test]
    fn without_relocations_map_loads_show_their_fd() {
        let code = sample();
        let text = disassemble(&code.insns).expect("disassembles");
        assert!(
            text.contains("   2: r1 = map[fd:0] ll\n   4: r2 = r10\n"),
            "{text}"
        );
    }

    #[test]
    fn the_briefs_examples() {
        let mut asm = Assembler::new();
        let l = asm.new_label();
        asm.mov64_reg(R6, R1)
            .load(Size::DW, R1, R6, 0)
            .mov64_imm(R0, 1)
            .mov64_imm(R0, 1)
            .jump_imm(JmpCond::Ne, R0, 1, l)
            .call_helper(14)
            .ld_map_fd(R1, "krsi_scope")
            .bind(l)
            .exit();
        let code = asm.finish().expect("assembles");
        let text = disassemble_with(&code.insns, &code.relocations).expect("disassembles");
        let expected = "   0: r6 = r1
   1: r1 = *(u64 *)(r6 + 0)
   2: r0 = 1
   3: r0 = 1
   4: if r0 != 0x1 goto +3 <8>
   5: call 14 ; get_current_pid_tgid
   6: r1 = map[krsi_scope] ll
   8: exit
";
        assert_eq!(text, expected);
    }

    #[test]
    fn rejects_what_validate_rejects() {
        assert!(disassemble(&[Insn::new(0xff, 0, 0, 0, 0)]).is_err());
    }
}
