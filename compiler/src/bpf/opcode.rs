//! The opcode table: every instruction krsi emits or accepts.
//!
//! [`Opcode`] names an instruction form; [`Opcode::code`] is the only place that knows how a
//! form is packed into the opcode byte (class, op and source/mode bits, as in the kernel's
//! `include/uapi/linux/bpf.h`). [`Opcode::ALL`] enumerates the forms, and the decoder's
//! byte-indexed table is derived from it at compile time, with a compile-time check that no
//! two forms share a byte. Encoder, decoder and disassembler all read from here.

use super::{AluOp, JmpCond, Size};

// Instruction classes (low 3 bits).
const CLASS_LD: u8 = 0x00;
const CLASS_LDX: u8 = 0x01;
const CLASS_ST: u8 = 0x02;
const CLASS_STX: u8 = 0x03;
const CLASS_ALU: u8 = 0x04;
const CLASS_JMP: u8 = 0x05;
const CLASS_JMP32: u8 = 0x06;
const CLASS_ALU64: u8 = 0x07;

// Source operand bit of ALU and JMP classes.
const SRC_K: u8 = 0x00;
const SRC_X: u8 = 0x08;

// Mode bits of load and store classes.
const MODE_IMM: u8 = 0x00;
const MODE_MEM: u8 = 0x60;

// ALU op bits not named by `AluOp`.
const ALU_END: u8 = 0xd0;

// JMP op bits not named by `JmpCond`.
const JMP_JA: u8 = 0x00;
const JMP_CALL: u8 = 0x80;
const JMP_EXIT: u8 = 0x90;

/// 32-bit or 64-bit operation: selects ALU vs ALU64 and JMP32 vs JMP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Width {
    W32,
    W64,
}

/// Where an ALU or jump instruction takes its second operand from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// The 32-bit immediate `imm` (`BPF_K`).
    Imm,
    /// The register `src` (`BPF_X`).
    Reg,
}

/// Target byte order of a `BPF_END` conversion.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ByteOrder {
    /// `BPF_TO_LE`: a no-op apart from truncation on little-endian hosts.
    Le,
    /// `BPF_TO_BE`: a byte swap on little-endian hosts.
    Be,
}

/// What the `src` field of an `ld_imm64` means.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Pseudo {
    /// A plain 64-bit constant.
    None,
    /// `BPF_PSEUDO_MAP_FD`: `imm` is a map fd (or 0 plus an ELF relocation).
    MapFd,
    /// `BPF_PSEUDO_MAP_VALUE`: `imm` is a map fd, the second slot's `imm` an offset into its
    /// value.
    MapValue,
}

/// `src` of a `call` whose `imm` is a relative slot offset to a function of the same program
/// (a bpf-to-bpf call, `BPF_PSEUDO_CALL`), not a helper id.
pub const PSEUDO_CALL: u8 = 1;

/// The slot a bpf-to-bpf call at `slot` with immediate `imm` enters.
pub fn call_target(slot: usize, imm: i32) -> i64 {
    slot as i64 + 1 + i64::from(imm)
}

impl Pseudo {
    pub const fn src(self) -> u8 {
        match self {
            Pseudo::None => 0,
            Pseudo::MapFd => 1,
            Pseudo::MapValue => 2,
        }
    }

    pub const fn from_src(src: u8) -> Option<Pseudo> {
        match src {
            0 => Some(Pseudo::None),
            1 => Some(Pseudo::MapFd),
            2 => Some(Pseudo::MapValue),
            _ => None,
        }
    }
}

/// An instruction form: one entry of the opcode table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Opcode {
    /// `dst op= src|imm`, 32-bit (upper half of `dst` zeroed) or 64-bit. `Neg` exists only
    /// with `Source::Imm` and `imm == 0`.
    Alu {
        width: Width,
        op: AluOp,
        source: Source,
    },
    /// `dst = to_le|to_be(dst)` truncated to `imm` (16, 32 or 64) bits; ALU class.
    End { order: ByteOrder },
    /// `dst = imm64`, two slots; `src` holds a [`Pseudo`] marker.
    LdImm64,
    /// `dst = *(size *)(src + off)`
    Load { size: Size },
    /// `*(size *)(dst + off) = src`
    Store { size: Size },
    /// `*(size *)(dst + off) = imm`
    StoreImm { size: Size },
    /// `if dst cond src|imm goto pc + 1 + off`, comparing 32 or 64 bits.
    Jump {
        width: Width,
        cond: JmpCond,
        source: Source,
    },
    /// `goto pc + 1 + off`
    Ja,
    /// Call helper `imm`.
    Call,
    /// Return `r0`.
    Exit,
}

const fn size_bits(size: Size) -> u8 {
    match size {
        Size::W => 0x00,
        Size::H => 0x08,
        Size::B => 0x10,
        Size::DW => 0x18,
    }
}

const fn alu_bits(op: AluOp) -> u8 {
    match op {
        AluOp::Add => 0x00,
        AluOp::Sub => 0x10,
        AluOp::Mul => 0x20,
        AluOp::Div => 0x30,
        AluOp::Or => 0x40,
        AluOp::And => 0x50,
        AluOp::Lsh => 0x60,
        AluOp::Rsh => 0x70,
        AluOp::Neg => 0x80,
        AluOp::Mod => 0x90,
        AluOp::Xor => 0xa0,
        AluOp::Mov => 0xb0,
        AluOp::Arsh => 0xc0,
    }
}

const fn jmp_bits(cond: JmpCond) -> u8 {
    match cond {
        JmpCond::Eq => 0x10,
        JmpCond::Gt => 0x20,
        JmpCond::Ge => 0x30,
        JmpCond::Set => 0x40,
        JmpCond::Ne => 0x50,
        JmpCond::Sgt => 0x60,
        JmpCond::Sge => 0x70,
        JmpCond::Lt => 0xa0,
        JmpCond::Le => 0xb0,
        JmpCond::Slt => 0xc0,
        JmpCond::Sle => 0xd0,
    }
}

const fn source_bits(source: Source) -> u8 {
    match source {
        Source::Imm => SRC_K,
        Source::Reg => SRC_X,
    }
}

/// Number of entries in [`Opcode::ALL`].
pub const OPCODE_COUNT: usize = 112;

impl Opcode {
    /// The opcode byte of this form.
    pub const fn code(self) -> u8 {
        match self {
            Opcode::Alu { width, op, source } => {
                let class = match width {
                    Width::W32 => CLASS_ALU,
                    Width::W64 => CLASS_ALU64,
                };
                class | alu_bits(op) | source_bits(source)
            }
            Opcode::End { order } => {
                let to = match order {
                    ByteOrder::Le => SRC_K,
                    ByteOrder::Be => SRC_X,
                };
                CLASS_ALU | ALU_END | to
            }
            Opcode::LdImm64 => CLASS_LD | MODE_IMM | size_bits(Size::DW),
            Opcode::Load { size } => CLASS_LDX | MODE_MEM | size_bits(size),
            Opcode::Store { size } => CLASS_STX | MODE_MEM | size_bits(size),
            Opcode::StoreImm { size } => CLASS_ST | MODE_MEM | size_bits(size),
            Opcode::Jump {
                width,
                cond,
                source,
            } => {
                let class = match width {
                    Width::W32 => CLASS_JMP32,
                    Width::W64 => CLASS_JMP,
                };
                class | jmp_bits(cond) | source_bits(source)
            }
            Opcode::Ja => CLASS_JMP | JMP_JA,
            Opcode::Call => CLASS_JMP | JMP_CALL,
            Opcode::Exit => CLASS_JMP | JMP_EXIT,
        }
    }

    /// Every instruction form in the table.
    pub const ALL: [Opcode; OPCODE_COUNT] = build_all();

    /// The form whose opcode byte is `code`, if the table has one.
    pub const fn from_code(code: u8) -> Option<Opcode> {
        DECODE[code as usize]
    }

    /// Slots the instruction occupies.
    pub const fn slots(self) -> usize {
        match self {
            Opcode::LdImm64 => 2,
            _ => 1,
        }
    }

    /// Whether the instruction writes its `dst` register (stores write memory at `dst + off`).
    pub const fn writes_dst(self) -> bool {
        matches!(
            self,
            Opcode::Alu { .. } | Opcode::End { .. } | Opcode::LdImm64 | Opcode::Load { .. }
        )
    }

    /// Whether the `dst` field names a register the instruction uses.
    pub const fn uses_dst(self) -> bool {
        !matches!(self, Opcode::Ja | Opcode::Call | Opcode::Exit)
    }

    /// Whether the `src` field names a register the instruction uses.
    pub const fn uses_src(self) -> bool {
        match self {
            Opcode::Alu { source, .. } | Opcode::Jump { source, .. } => {
                matches!(source, Source::Reg)
            }
            Opcode::Load { .. } | Opcode::Store { .. } => true,
            _ => false,
        }
    }

    /// Whether `off` is a branch offset.
    pub const fn is_branch(self) -> bool {
        matches!(self, Opcode::Jump { .. } | Opcode::Ja)
    }

    /// Mnemonic in the style of the kernel's instruction-set document (`add64`, `jeq32`,
    /// `ldxdw`, `be`, `lddw`); the disassembler prints C-like syntax instead. Only the table's
    /// snapshot prints it, so it is test code: a mutant of it would change no byte.
    #[cfg(test)]
    pub fn mnemonic(self) -> String {
        let width = |w: Width| match w {
            Width::W32 => "32",
            Width::W64 => "64",
        };
        let size = |s: Size| match s {
            Size::B => "b",
            Size::H => "h",
            Size::W => "w",
            Size::DW => "dw",
        };
        let source = |s: Source| match s {
            Source::Imm => "",
            Source::Reg => "_reg",
        };
        match self {
            Opcode::Alu {
                width: w,
                op,
                source: s,
            } => {
                format!("{}{}{}", op.name(), width(w), source(s))
            }
            Opcode::End { order } => match order {
                ByteOrder::Le => "le".to_string(),
                ByteOrder::Be => "be".to_string(),
            },
            Opcode::LdImm64 => "lddw".to_string(),
            Opcode::Load { size: s } => format!("ldx{}", size(s)),
            Opcode::Store { size: s } => format!("stx{}", size(s)),
            Opcode::StoreImm { size: s } => format!("st{}", size(s)),
            Opcode::Jump {
                width: w,
                cond,
                source: s,
            } => {
                let suffix = match w {
                    Width::W32 => "32",
                    Width::W64 => "",
                };
                format!("{}{}{}", cond.name(), suffix, source(s))
            }
            Opcode::Ja => "ja".to_string(),
            Opcode::Call => "call".to_string(),
            Opcode::Exit => "exit".to_string(),
        }
    }
}

const fn build_all() -> [Opcode; OPCODE_COUNT] {
    let mut all = [Opcode::Exit; OPCODE_COUNT];
    let mut n = 0;

    let widths = [Width::W64, Width::W32];
    let sources = [Source::Imm, Source::Reg];
    let mut w = 0;
    while w < widths.len() {
        let mut o = 0;
        while o < AluOp::ALL.len() {
            let op = AluOp::ALL[o];
            let mut s = 0;
            while s < sources.len() {
                // The kernel reserves the register form of NEG.
                if !(matches!(op, AluOp::Neg) && matches!(sources[s], Source::Reg)) {
                    all[n] = Opcode::Alu {
                        width: widths[w],
                        op,
                        source: sources[s],
                    };
                    n += 1;
                }
                s += 1;
            }
            o += 1;
        }
        w += 1;
    }

    all[n] = Opcode::End {
        order: ByteOrder::Le,
    };
    all[n + 1] = Opcode::End {
        order: ByteOrder::Be,
    };
    all[n + 2] = Opcode::LdImm64;
    n += 3;

    let mut z = 0;
    while z < Size::ALL.len() {
        let size = Size::ALL[z];
        all[n] = Opcode::Load { size };
        all[n + 1] = Opcode::Store { size };
        all[n + 2] = Opcode::StoreImm { size };
        n += 3;
        z += 1;
    }

    let mut w = 0;
    while w < widths.len() {
        let mut c = 0;
        while c < JmpCond::ALL.len() {
            let mut s = 0;
            while s < sources.len() {
                all[n] = Opcode::Jump {
                    width: widths[w],
                    cond: JmpCond::ALL[c],
                    source: sources[s],
                };
                n += 1;
                s += 1;
            }
            c += 1;
        }
        w += 1;
    }

    all[n] = Opcode::Ja;
    all[n + 1] = Opcode::Call;
    all[n + 2] = Opcode::Exit;
    n += 3;

    assert!(n == OPCODE_COUNT, "OPCODE_COUNT does not match the table");
    all
}

/// The decoder's view of the table: opcode byte to form.
const DECODE: [Option<Opcode>; 256] = build_decode();

const fn build_decode() -> [Option<Opcode>; 256] {
    let mut table: [Option<Opcode>; 256] = [None; 256];
    let mut i = 0;
    while i < Opcode::ALL.len() {
        let op = Opcode::ALL[i];
        let code = op.code() as usize;
        assert!(
            table[code].is_none(),
            "two opcode table entries share a byte"
        );
        table[code] = Some(op);
        i += 1;
    }
    table
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use std::fmt::Write;

    #[test]
    fn decode_table_is_the_inverse_of_code() {
        for op in Opcode::ALL {
            assert_eq!(Opcode::from_code(op.code()), Some(op));
        }
        let known = (0..=255u8)
            .filter(|&c| Opcode::from_code(c).is_some())
            .count();
        assert_eq!(known, OPCODE_COUNT);
    }

    /// [`Opcode::code`] joins an opcode's fields with `|`. They occupy disjoint bits (the class
    /// the low three; then the source bit and the operation above it, or the size and the mode),
    /// so no field changes another and `^` would give the same byte: `.cargo/mutants.toml`
    /// leaves that mutant out on the strength of this test.
    #[test]
    fn an_opcodes_fields_are_disjoint_bits() {
        const CLASS: u8 = 0x07;
        const SOURCE: u8 = 0x08;
        const OPERATION: u8 = 0xf0;
        const SIZE: u8 = 0x18;
        const MODE: u8 = 0xe0;
        let classes = [
            CLASS_LD,
            CLASS_LDX,
            CLASS_ST,
            CLASS_STX,
            CLASS_ALU,
            CLASS_JMP,
            CLASS_JMP32,
            CLASS_ALU64,
        ];
        assert!(classes.iter().all(|c| c & !CLASS == 0));
        assert!([SRC_K, SRC_X].iter().all(|s| s & !SOURCE == 0));
        assert!([MODE_IMM, MODE_MEM].iter().all(|m| m & !MODE == 0));
        assert!([ALU_END, JMP_JA, JMP_CALL, JMP_EXIT]
            .iter()
            .all(|o| o & !OPERATION == 0));
        for op in Opcode::ALL {
            match op {
                Opcode::Alu { op, source, .. } => {
                    assert_eq!(alu_bits(op) & !OPERATION, 0, "{op:?}");
                    assert_eq!(source_bits(source) & !SOURCE, 0, "{source:?}");
                }
                Opcode::Jump { cond, source, .. } => {
                    assert_eq!(jmp_bits(cond) & !OPERATION, 0, "{cond:?}");
                    assert_eq!(source_bits(source) & !SOURCE, 0, "{source:?}");
                }
                Opcode::Load { size } | Opcode::Store { size } | Opcode::StoreImm { size } => {
                    assert_eq!(size_bits(size) & !SIZE, 0, "{size:?}");
                }
                Opcode::LdImm64 | Opcode::End { .. } | Opcode::Ja | Opcode::Call | Opcode::Exit => {
                }
            }
        }
        assert_eq!(CLASS & SOURCE | (CLASS | SOURCE) & OPERATION, 0);
        assert_eq!(CLASS & SIZE | (CLASS | SIZE) & MODE, 0);
    }

    #[test]
    fn well_known_bytes() {
        // Spot checks against the kernel's documented encodings.
        let mov64_imm = Opcode::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            source: Source::Imm,
        };
        assert_eq!(mov64_imm.code(), 0xb7);
        let mov64_reg = Opcode::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            source: Source::Reg,
        };
        assert_eq!(mov64_reg.code(), 0xbf);
        assert_eq!(Opcode::LdImm64.code(), 0x18);
        assert_eq!(Opcode::Load { size: Size::DW }.code(), 0x79);
        assert_eq!(Opcode::Load { size: Size::B }.code(), 0x71);
        assert_eq!(Opcode::Store { size: Size::DW }.code(), 0x7b);
        assert_eq!(Opcode::StoreImm { size: Size::W }.code(), 0x62);
        assert_eq!(Opcode::Call.code(), 0x85);
        assert_eq!(Opcode::Exit.code(), 0x95);
        assert_eq!(Opcode::Ja.code(), 0x05);
        let jne_imm = Opcode::Jump {
            width: Width::W64,
            cond: JmpCond::Ne,
            source: Source::Imm,
        };
        assert_eq!(jne_imm.code(), 0x55);
        let jeq32_reg = Opcode::Jump {
            width: Width::W32,
            cond: JmpCond::Eq,
            source: Source::Reg,
        };
        assert_eq!(jeq32_reg.code(), 0x1e);
        assert_eq!(
            Opcode::End {
                order: ByteOrder::Be
            }
            .code(),
            0xdc
        );
        let neg64 = Opcode::Alu {
            width: Width::W64,
            op: AluOp::Neg,
            source: Source::Imm,
        };
        assert_eq!(neg64.code(), 0x87);
        assert_eq!(Opcode::from_code(0x8f), None, "neg has no register form");
    }

    #[test]
    fn table_snapshot() {
        let mut rows: Vec<(u8, String)> = Opcode::ALL
            .iter()
            .map(|op| (op.code(), op.mnemonic()))
            .collect();
        rows.sort();
        let mut text = String::new();
        for (code, mnemonic) in rows {
            let _ = writeln!(text, "0x{code:02x} {mnemonic}");
        }
        insta::assert_snapshot!(text);
    }
}
