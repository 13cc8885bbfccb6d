//! Bytes to slots and back, checked against the opcode table.

use std::fmt;

use super::opcode::{call_target, Opcode, Pseudo, PSEUDO_CALL};
use super::{Insn, Reg};

/// Why a byte string or slot sequence is not a program krsi understands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The byte length is not a multiple of 8.
    Length { len: usize },
    /// The opcode byte is not in the table.
    UnknownOpcode { slot: usize, code: u8 },
    /// An `ld_imm64` in the last slot, with no room for its second half.
    TruncatedLdImm64 { slot: usize },
    /// The slot after an `ld_imm64` has something other than the upper 32 bits in it.
    MalformedLdImm64 { slot: usize },
    /// An `ld_imm64` whose `src` is not a pseudo marker krsi knows.
    UnknownPseudo { slot: usize, src: u8 },
    /// A register field above r10.
    InvalidRegister { slot: usize, reg: u8 },
    /// A register field the instruction does not use is not zero.
    ReservedField { slot: usize, field: &'static str },
    /// A byte swap to a width other than 16, 32 or 64 bits.
    InvalidEndianWidth { slot: usize, bits: i32 },
    /// A branch lands outside the program or inside an `ld_imm64`.
    BadJumpTarget { slot: usize, target: i64 },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Length { len } => {
                write!(
                    f,
                    "{len} bytes is not a whole number of 8-byte instructions"
                )
            }
            DecodeError::UnknownOpcode { slot, code } => {
                write!(f, "unknown opcode 0x{code:02x} at instruction {slot}")
            }
            DecodeError::TruncatedLdImm64 { slot } => {
                write!(
                    f,
                    "64-bit immediate load at instruction {slot} has no second half"
                )
            }
            DecodeError::MalformedLdImm64 { slot } => write!(
                f,
                "second half of the 64-bit immediate load at instruction {slot} is not empty"
            ),
            DecodeError::UnknownPseudo { slot, src } => write!(
                f,
                "64-bit immediate load at instruction {slot} has unknown source marker {src}"
            ),
            DecodeError::InvalidRegister { slot, reg } => {
                write!(f, "register r{reg} at instruction {slot} does not exist")
            }
            DecodeError::ReservedField { slot, field } => {
                write!(
                    f,
                    "unused field `{field}` at instruction {slot} is not zero"
                )
            }
            DecodeError::InvalidEndianWidth { slot, bits } => write!(
                f,
                "byte swap at instruction {slot} to {bits} bits (expected 16, 32 or 64)"
            ),
            DecodeError::BadJumpTarget { slot, target } => write!(
                f,
                "branch at instruction {slot} lands at {target}, which is not an instruction"
            ),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Little-endian bytes of the slots: code, `(src << 4) | dst`, `off`, `imm`.
pub fn encode(insns: &[Insn]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(insns.len() * Insn::SIZE);
    for insn in insns {
        bytes.push(insn.code);
        bytes.push(((insn.src & 0x0f) << 4) | (insn.dst & 0x0f));
        bytes.extend_from_slice(&insn.off.to_le_bytes());
        bytes.extend_from_slice(&insn.imm.to_le_bytes());
    }
    bytes
}

/// Slots of a program's bytes, checked with [`validate`].
pub fn decode(bytes: &[u8]) -> Result<Vec<Insn>, DecodeError> {
    if !bytes.len().is_multiple_of(Insn::SIZE) {
        return Err(DecodeError::Length { len: bytes.len() });
    }
    let insns: Vec<Insn> = bytes
        .chunks_exact(Insn::SIZE)
        .map(|b| Insn {
            code: b[0],
            dst: b[1] & 0x0f,
            src: b[1] >> 4,
            off: i16::from_le_bytes([b[2], b[3]]),
            imm: i32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        })
        .collect();
    validate(&insns)?;
    Ok(insns)
}

/// Checks that every slot is an instruction of the table with well-formed operands, that
/// 64-bit immediate loads are complete and that branches land on instructions.
pub fn validate(insns: &[Insn]) -> Result<(), DecodeError> {
    // Slots that are the second half of an ld_imm64: no branch may land there.
    let mut is_tail = vec![false; insns.len()];
    let mut slot = 0;
    while let Some(insn) = insns.get(slot) {
        let op = check_slot(insns, slot, insn)?;
        if op == Opcode::LdImm64 {
            if let Some(tail) = is_tail.get_mut(slot + 1) {
                *tail = true;
            }
        }
        slot += op.slots();
    }

    for (slot, insn) in insns.iter().enumerate() {
        if is_tail.get(slot).copied().unwrap_or(false) {
            continue;
        }
        let target = match insn.opcode() {
            Some(op) if op.is_branch() => Some(slot as i64 + 1 + i64::from(insn.off)),
            Some(Opcode::Call) if insn.src == PSEUDO_CALL => Some(call_target(slot, insn.imm)),
            _ => None,
        };
        if let Some(target) = target {
            let lands = usize::try_from(target)
                .ok()
                // Past the end there is no slot, so no head either.
                .filter(|&t| is_tail.get(t) == Some(&false));
            if lands.is_none() {
                return Err(DecodeError::BadJumpTarget { slot, target });
            }
        }
    }
    Ok(())
}

fn check_slot(insns: &[Insn], slot: usize, insn: &Insn) -> Result<Opcode, DecodeError> {
    let op = insn.opcode().ok_or(DecodeError::UnknownOpcode {
        slot,
        code: insn.code,
    })?;

    let check_reg = |reg: u8| match Reg::from_index(reg) {
        Some(_) => Ok(()),
        None => Err(DecodeError::InvalidRegister { slot, reg }),
    };
    if op.uses_dst() {
        check_reg(insn.dst)?;
    } else if insn.dst != 0 {
        return Err(DecodeError::ReservedField { slot, field: "dst" });
    }
    if op.uses_src() {
        check_reg(insn.src)?;
    } else if op == Opcode::Call && insn.src == PSEUDO_CALL {
        // A bpf-to-bpf call: `imm` is checked with the branch targets.
    } else if op != Opcode::LdImm64 && insn.src != 0 {
        return Err(DecodeError::ReservedField { slot, field: "src" });
    }

    match op {
        Opcode::LdImm64 => {
            if Pseudo::from_src(insn.src).is_none() {
                return Err(DecodeError::UnknownPseudo {
                    slot,
                    src: insn.src,
                });
            }
            let tail = insns
                .get(slot + 1)
                .ok_or(DecodeError::TruncatedLdImm64 { slot })?;
            if tail.code != 0 || tail.dst != 0 || tail.src != 0 || tail.off != 0 {
                return Err(DecodeError::MalformedLdImm64 { slot });
            }
        }
        Opcode::End { .. } if !matches!(insn.imm, 16 | 32 | 64) => {
            return Err(DecodeError::InvalidEndianWidth {
                slot,
                bits: insn.imm,
            });
        }
        _ => {}
    }
    Ok(op)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::bpf::opcode::{Source, Width};
    use crate::bpf::{AluOp, JmpCond};

    /// A well-formed instance of `op` with the given registers, or `None` when `op` does not
    /// use a register field that is non-zero here.
    fn instance(op: Opcode, dst: Reg, src: Reg, off: i16, imm: i32) -> Option<Vec<Insn>> {
        let (d, s) = (dst.index(), src.index());
        let d = if op.uses_dst() {
            d
        } else if d == 0 {
            0
        } else {
            return None;
        };
        let s = if op.uses_src() {
            s
        } else if s == 0 {
            0
        } else {
            return None;
        };
        let code = op.code();
        Some(match op {
            Opcode::LdImm64 => vec![
                Insn::new(code, d, 0, 0, imm),
                Insn::new(0, 0, 0, 0, imm.rotate_left(7)),
            ],
            Opcode::End { .. } => vec![Insn::new(code, d, s, 0, 32)],
            // A branch over one instruction, so the target exists.
            Opcode::Jump { .. } | Opcode::Ja => vec![
                Insn::new(code, d, s, 1, imm),
                Insn::new(Opcode::Exit.code(), 0, 0, 0, 0),
                Insn::new(Opcode::Exit.code(), 0, 0, 0, 0),
            ],
            Opcode::Alu { op: AluOp::Neg, .. } => vec![Insn::new(code, d, s, 0, 0)],
            _ => vec![Insn::new(code, d, s, off, imm)],
        })
    }

    #[test]
    fn round_trip_every_opcode_with_every_register() {
        // Edge values of the offset and immediate fields, paired up so each appears with each
        // register combination at least once.
        let offs = [0, 1, -1, -16, i16::MIN, i16::MAX];
        let imms = [0, 1, -1, 0x7fff_0001, i32::MIN, i32::MAX];
        let mut cases = 0;
        for op in Opcode::ALL {
            for dst in Reg::ALL {
                for src in Reg::ALL {
                    for (off, imm) in offs.into_iter().zip(imms) {
                        let Some(insns) = instance(op, dst, src, off, imm) else {
                            continue;
                        };
                        let bytes = encode(&insns);
                        assert_eq!(bytes.len(), insns.len() * 8);
                        assert_eq!(bytes[0], op.code());
                        assert_eq!(decode(&bytes), Ok(insns.clone()), "{op:?} {dst} {src}");
                        let text = crate::bpf::disassemble(&insns);
                        assert!(text.is_ok(), "{op:?} {dst} {src}: {text:?}");
                        cases += 1;
                    }
                }
            }
        }
        assert!(cases > Opcode::ALL.len() * 11 * 6);
    }

    #[test]
    fn byte_layout_is_little_endian_with_src_in_the_high_nibble() {
        let insn = Insn::new(0xbf, 6, 1, -2, 0x0102_0304);
        assert_eq!(
            encode(&[insn]),
            vec![0xbf, 0x16, 0xfe, 0xff, 0x04, 0x03, 0x02, 0x01]
        );
    }

    #[test]
    fn rejects_bad_lengths() {
        assert_eq!(decode(&[0x95; 7]), Err(DecodeError::Length { len: 7 }));
        assert_eq!(decode(&[]), Ok(vec![]));
    }

    #[test]
    fn rejects_every_byte_outside_the_table() {
        for code in 0..=255u8 {
            if Opcode::from_code(code).is_some() {
                continue;
            }
            let bytes = [code, 0, 0, 0, 0, 0, 0, 0];
            assert_eq!(
                decode(&bytes),
                Err(DecodeError::UnknownOpcode { slot: 0, code })
            );
        }
    }

    #[test]
    fn rejects_truncated_and_malformed_ld_imm64() {
        let ld = Insn::new(Opcode::LdImm64.code(), 1, 0, 0, 5);
        assert_eq!(
            decode(&encode(&[ld])),
            Err(DecodeError::TruncatedLdImm64 { slot: 0 })
        );
        let exit = Insn::new(Opcode::Exit.code(), 0, 0, 0, 0);
        assert_eq!(
            decode(&encode(&[ld, exit])),
            Err(DecodeError::MalformedLdImm64 { slot: 0 })
        );
        let bad_pseudo = Insn::new(Opcode::LdImm64.code(), 1, 7, 0, 5);
        assert_eq!(
            decode(&encode(&[bad_pseudo, Insn::default()])),
            Err(DecodeError::UnknownPseudo { slot: 0, src: 7 })
        );
    }

    #[test]
    fn rejects_registers_and_fields_that_do_not_exist() {
        let mov = Opcode::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            source: Source::Reg,
        };
        let bytes = encode(&[Insn::new(mov.code(), 11, 1, 0, 0)]);
        assert_eq!(
            decode(&bytes),
            Err(DecodeError::InvalidRegister { slot: 0, reg: 11 })
        );
        // A reserved src is refused whatever it holds: 1 is a bpf-to-bpf call's marker, and
        // only a call may carry it.
        for src in [3, PSEUDO_CALL] {
            let bytes = encode(&[Insn::new(Opcode::Exit.code(), 0, src, 0, 0)]);
            assert_eq!(
                decode(&bytes),
                Err(DecodeError::ReservedField {
                    slot: 0,
                    field: "src"
                }),
                "exit with src {src}"
            );
        }
        // So is a reserved dst: the instructions that name no destination register.
        for op in [Opcode::Exit, Opcode::Ja, Opcode::Call] {
            let bytes = encode(&[Insn::new(op.code(), 1, 0, 0, 0)]);
            assert_eq!(
                decode(&bytes),
                Err(DecodeError::ReservedField {
                    slot: 0,
                    field: "dst"
                }),
                "{op:?} with dst 1"
            );
        }
        let be = Opcode::End {
            order: crate::bpf::ByteOrder::Be,
        };
        assert_eq!(
            decode(&encode(&[Insn::new(be.code(), 1, 0, 0, 8)])),
            Err(DecodeError::InvalidEndianWidth { slot: 0, bits: 8 })
        );
    }

    #[test]
    fn rejects_branches_that_miss() {
        let jeq = Opcode::Jump {
            width: Width::W64,
            cond: JmpCond::Eq,
            source: Source::Imm,
        };
        let exit = Insn::new(Opcode::Exit.code(), 0, 0, 0, 0);
        let past_end = [Insn::new(jeq.code(), 1, 0, 1, 0), exit];
        assert_eq!(
            decode(&encode(&past_end)),
            Err(DecodeError::BadJumpTarget { slot: 0, target: 2 })
        );
        let before_start = [Insn::new(Opcode::Ja.code(), 0, 0, -2, 0), exit];
        assert_eq!(
            decode(&encode(&before_start)),
            Err(DecodeError::BadJumpTarget {
                slot: 0,
                target: -1
            })
        );
        let into_ld_imm64 = [
            Insn::new(Opcode::Ja.code(), 0, 0, 1, 0),
            Insn::new(Opcode::LdImm64.code(), 0, 0, 0, 1),
            Insn::default(),
            exit,
        ];
        assert_eq!(
            decode(&encode(&into_ld_imm64)),
            Err(DecodeError::BadJumpTarget { slot: 0, target: 2 })
        );
    }

    /// A small deterministic generator (xorshift64), so failures reproduce.
    struct Stream(u64);

    impl Stream {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }

        /// A register field: half the time 0, else any nibble (so r11..r15 come up too).
        fn nibble(&mut self) -> u8 {
            if self.below(2) == 0 {
                0
            } else {
                self.below(16) as u8
            }
        }
    }

    /// A slot that is often, but not always, a well-formed instruction: opcodes mostly from
    /// the table, fields mostly in range, so that both the accepting and the rejecting paths
    /// of the decoder are exercised.
    fn plausible_program(stream: &mut Stream) -> Vec<Insn> {
        let len = 1 + stream.below(4) as usize;
        let mut insns = Vec::with_capacity(len + 1);
        while insns.len() < len {
            let code = if stream.below(4) == 0 {
                stream.below(256) as u8
            } else {
                Opcode::ALL[stream.below(Opcode::ALL.len() as u64) as usize].code()
            };
            let off = if stream.below(2) == 0 {
                stream.below(7) as i16 - 3
            } else {
                stream.next() as i16
            };
            let imm = match stream.below(4) {
                0 => [16, 32, 64][stream.below(3) as usize],
                1 => stream.below(8) as i32,
                _ => stream.next() as i32,
            };
            insns.push(Insn::new(code, stream.nibble(), stream.nibble(), off, imm));
            if code == Opcode::LdImm64.code() && stream.below(4) != 0 {
                insns.push(Insn::new(0, 0, 0, 0, stream.next() as i32));
            }
        }
        insns
    }

    #[test]
    fn generated_programs_round_trip_or_are_rejected() {
        let mut stream = Stream(0x2545_f491_4f6c_dd1d);
        let (mut accepted, mut rejected) = (0, 0);
        for case in 0..20_000 {
            let insns = plausible_program(&mut stream);
            let bytes = encode(&insns);
            match decode(&bytes) {
                Ok(decoded) => {
                    // encode → decode gives the same instructions, and encoding those again
                    // the same bytes.
                    assert_eq!(decoded, insns, "case {case}");
                    assert_eq!(encode(&decoded), bytes, "case {case}");
                    let text = crate::bpf::disassemble(&decoded);
                    assert!(text.is_ok(), "case {case}: {insns:?}: {text:?}");
                    accepted += 1;
                }
                Err(e) => {
                    // A rejection names an instruction of the program, or its length.
                    assert!(!e.to_string().is_empty());
                    rejected += 1;
                }
            }
        }
        // Both outcomes are common (2,275 and 17,725 with this seed), or the test would
        // check nothing on one side.
        assert!(
            accepted > 1_000 && rejected > 1_000,
            "{accepted} accepted, {rejected} rejected"
        );
    }

    #[test]
    fn never_panics_on_arbitrary_bytes() {
        let mut stream = Stream(0x9e37_79b9_7f4a_7c15);
        for _ in 0..20_000 {
            let len = stream.below(25) as usize;
            let bytes: Vec<u8> = (0..len).map(|_| stream.next() as u8).collect();
            // Whatever decodes is exactly what the bytes say: encoding it gives them back.
            if let Ok(insns) = decode(&bytes) {
                assert_eq!(encode(&insns), bytes, "{bytes:02x?}");
            }
        }
    }
}
