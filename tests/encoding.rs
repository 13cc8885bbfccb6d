//! The encoder's bytes against the kernel's own instruction encoding.
//!
//! The opcode values below are copied from the kernel's `include/uapi/linux/bpf_common.h` and
//! `include/uapi/linux/bpf.h` and composed the way the kernel composes them (`BPF_JMP | BPF_JGT
//! | BPF_K`), deliberately without reading `compiler::bpf::opcode`: the offline machine and the
//! disassembler decode through the encoder's own table, so a wrong entry there (JGT and JGE
//! swapped, say) is invisible to every test that only runs or prints the code. Every form of
//! the table must be emitted here, so a new form cannot skip this check.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use compiler::bpf::{AluOp, Assembler, ByteOrder, JmpCond, Opcode, Reg, Size};
use std::collections::BTreeSet;

// bpf_common.h: instruction classes.
const BPF_LD: u8 = 0x00;
const BPF_LDX: u8 = 0x01;
const BPF_ST: u8 = 0x02;
const BPF_STX: u8 = 0x03;
const BPF_ALU: u8 = 0x04;
const BPF_JMP: u8 = 0x05;
// bpf.h
const BPF_JMP32: u8 = 0x06;
const BPF_ALU64: u8 = 0x07;

// bpf_common.h: sizes and modes.
const BPF_W: u8 = 0x00;
const BPF_H: u8 = 0x08;
const BPF_B: u8 = 0x10;
// bpf.h
const BPF_DW: u8 = 0x18;
const BPF_IMM: u8 = 0x00;
const BPF_MEM: u8 = 0x60;

// bpf_common.h: ALU operations and the source bit.
const BPF_ADD: u8 = 0x00;
const BPF_SUB: u8 = 0x10;
const BPF_MUL: u8 = 0x20;
const BPF_DIV: u8 = 0x30;
const BPF_OR: u8 = 0x40;
const BPF_AND: u8 = 0x50;
const BPF_LSH: u8 = 0x60;
const BPF_RSH: u8 = 0x70;
const BPF_NEG: u8 = 0x80;
const BPF_MOD: u8 = 0x90;
const BPF_XOR: u8 = 0xa0;
const BPF_K: u8 = 0x00;
const BPF_X: u8 = 0x08;
// bpf.h
const BPF_MOV: u8 = 0xb0;
const BPF_ARSH: u8 = 0xc0;
const BPF_END: u8 = 0xd0;
const BPF_TO_LE: u8 = 0x00;
const BPF_TO_BE: u8 = 0x08;

// bpf_common.h: jumps.
const BPF_JA: u8 = 0x00;
const BPF_JEQ: u8 = 0x10;
const BPF_JGT: u8 = 0x20;
const BPF_JGE: u8 = 0x30;
const BPF_JSET: u8 = 0x40;
// bpf.h
const BPF_JNE: u8 = 0x50;
const BPF_JSGT: u8 = 0x60;
const BPF_JSGE: u8 = 0x70;
const BPF_CALL: u8 = 0x80;
const BPF_EXIT: u8 = 0x90;
const BPF_JLT: u8 = 0xa0;
const BPF_JLE: u8 = 0xb0;
const BPF_JSLT: u8 = 0xc0;
const BPF_JSLE: u8 = 0xd0;

// bpf.h: the `src` marker of an `ld_imm64` that loads a map.
const BPF_PSEUDO_MAP_FD: u8 = 1;

fn kernel_alu_op(op: AluOp) -> u8 {
    match op {
        AluOp::Add => BPF_ADD,
        AluOp::Sub => BPF_SUB,
        AluOp::Mul => BPF_MUL,
        AluOp::Div => BPF_DIV,
        AluOp::Or => BPF_OR,
        AluOp::And => BPF_AND,
        AluOp::Lsh => BPF_LSH,
        AluOp::Rsh => BPF_RSH,
        AluOp::Neg => BPF_NEG,
        AluOp::Mod => BPF_MOD,
        AluOp::Xor => BPF_XOR,
        AluOp::Mov => BPF_MOV,
        AluOp::Arsh => BPF_ARSH,
    }
}

fn kernel_jump_op(cond: JmpCond) -> u8 {
    match cond {
        JmpCond::Eq => BPF_JEQ,
        JmpCond::Ne => BPF_JNE,
        JmpCond::Gt => BPF_JGT,
        JmpCond::Ge => BPF_JGE,
        JmpCond::Lt => BPF_JLT,
        JmpCond::Le => BPF_JLE,
        JmpCond::Sgt => BPF_JSGT,
        JmpCond::Sge => BPF_JSGE,
        JmpCond::Slt => BPF_JSLT,
        JmpCond::Sle => BPF_JSLE,
        JmpCond::Set => BPF_JSET,
    }
}

fn kernel_size(size: Size) -> u8 {
    match size {
        Size::B => BPF_B,
        Size::H => BPF_H,
        Size::W => BPF_W,
        Size::DW => BPF_DW,
    }
}

/// `struct bpf_insn` as the kernel lays it out: code, dst (low nibble) and src (high nibble),
/// little-endian `off` and `imm`.
fn kernel_insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> [u8; 8] {
    let mut bytes = [0u8; 8];
    bytes[0] = code;
    bytes[1] = (src << 4) | dst;
    bytes[2..4].copy_from_slice(&off.to_le_bytes());
    bytes[4..8].copy_from_slice(&imm.to_le_bytes());
    bytes
}

/// Emits one instruction of every form through the assembler, with the bytes the kernel
/// expects for it.
fn every_form() -> (Vec<u8>, Vec<[u8; 8]>) {
    let mut asm = Assembler::new();
    let mut expected: Vec<[u8; 8]> = Vec::new();
    let (dst, src) = (Reg::R3, Reg::R7);
    for (class, wide) in [(BPF_ALU64, true), (BPF_ALU, false)] {
        for op in AluOp::ALL {
            let code = class | kernel_alu_op(op);
            let imm = if op == AluOp::Neg { 0 } else { 5 };
            if wide {
                asm.alu64_imm(op, dst, imm);
            } else {
                asm.alu32_imm(op, dst, imm);
            }
            expected.push(kernel_insn(code | BPF_K, 3, 0, 0, imm));
            if op == AluOp::Neg {
                continue;
            }
            if wide {
                asm.alu64_reg(op, dst, src);
            } else {
                asm.alu32_reg(op, dst, src);
            }
            expected.push(kernel_insn(code | BPF_X, 3, 7, 0, 0));
        }
    }
    for (order, bit) in [(ByteOrder::Le, BPF_TO_LE), (ByteOrder::Be, BPF_TO_BE)] {
        for (size, bits) in [(Size::H, 16), (Size::W, 32), (Size::DW, 64)] {
            asm.endian(order, dst, size);
            expected.push(kernel_insn(BPF_ALU | BPF_END | bit, 3, 0, 0, bits));
        }
    }
    let value: u64 = 0x1122_3344_5566_7788;
    asm.ld_imm64(dst, value);
    expected.push(kernel_insn(BPF_LD | BPF_IMM | BPF_DW, 3, 0, 0, 0x5566_7788));
    expected.push(kernel_insn(0, 0, 0, 0, 0x1122_3344));
    asm.ld_map_fd(Reg::R1, "some_map");
    expected.push(kernel_insn(
        BPF_LD | BPF_IMM | BPF_DW,
        1,
        BPF_PSEUDO_MAP_FD,
        0,
        0,
    ));
    expected.push(kernel_insn(0, 0, 0, 0, 0));
    for size in Size::ALL {
        let width = kernel_size(size);
        asm.load(size, dst, src, -12);
        expected.push(kernel_insn(BPF_LDX | BPF_MEM | width, 3, 7, -12, 0));
        asm.store_reg(size, Reg::R10, -16, src);
        expected.push(kernel_insn(BPF_STX | BPF_MEM | width, 10, 7, -16, 0));
        asm.store_imm(size, Reg::R10, -24, 9);
        expected.push(kernel_insn(BPF_ST | BPF_MEM | width, 10, 0, -24, 9));
    }
    // Each branch skips exactly the one instruction after it, an `exit`: off 1.
    for (class, wide) in [(BPF_JMP, true), (BPF_JMP32, false)] {
        for cond in JmpCond::ALL {
            let code = class | kernel_jump_op(cond);
            for by_register in [false, true] {
                let target = asm.new_label();
                match (wide, by_register) {
                    (true, false) => asm.jump_imm(cond, dst, -2, target),
                    (true, true) => asm.jump_reg(cond, dst, src, target),
                    (false, false) => asm.jump32_imm(cond, dst, -2, target),
                    (false, true) => asm.jump32_reg(cond, dst, src, target),
                };
                asm.exit();
                asm.bind(target);
                expected.push(if by_register {
                    kernel_insn(code | BPF_X, 3, 7, 1, 0)
                } else {
                    kernel_insn(code | BPF_K, 3, 0, 1, -2)
                });
                expected.push(kernel_insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
            }
        }
    }
    let back = asm.new_label();
    asm.bind(back);
    asm.call_helper(14);
    expected.push(kernel_insn(BPF_JMP | BPF_CALL, 0, 0, 0, 14));
    asm.jump(back);
    expected.push(kernel_insn(BPF_JMP | BPF_JA, 0, 0, -2, 0));
    asm.exit();
    expected.push(kernel_insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
    let code = asm.finish().expect("every form assembles");
    (code.to_bytes(), expected)
}

#[test]
fn every_instruction_form_encodes_as_the_kernel_defines_it() {
    let (bytes, expected) = every_form();
    assert_eq!(bytes.len(), expected.len() * 8, "slot count");
    for (slot, (got, want)) in bytes.chunks(8).zip(&expected).enumerate() {
        assert_eq!(
            got, want,
            "slot {slot}: encoder gives {got:02x?}, the kernel defines {want:02x?}"
        );
    }
}

#[test]
fn the_kernel_values_cover_every_form_of_the_table() {
    let (bytes, _) = every_form();
    let emitted: BTreeSet<u8> = bytes.chunks(8).map(|slot| slot[0]).collect();
    for form in Opcode::ALL {
        assert!(
            emitted.contains(&form.code()),
            "{form:?} ({:#04x}) has no kernel value in this test",
            form.code()
        );
    }
}

#[test]
fn a_few_well_known_bytes() {
    // As `llvm-objdump -d` prints them for clang-built BPF objects.
    let mut asm = Assembler::new();
    asm.mov64_imm(Reg::R0, 0).exit();
    let code = asm.finish().unwrap();
    assert_eq!(
        code.to_bytes(),
        [0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]
    );
}

#[test]
fn an_ld_imm64_whose_second_slot_is_not_blank_is_refused() {
    use compiler::bpf::{decode, DecodeError};
    let blank = {
        let mut asm = Assembler::new();
        asm.ld_imm64(Reg::R1, 0x1_0000_0001).exit();
        asm.finish().unwrap().to_bytes()
    };
    assert!(decode(&blank).is_ok());
    // The second slot's code, registers and offset must all be zero; each alone is refused.
    for (byte, value) in [(8, 0x18), (9, 0x01), (9, 0x10), (10, 0x01), (11, 0x80)] {
        let mut bytes = blank.clone();
        bytes[byte] = value;
        assert_eq!(
            decode(&bytes),
            Err(DecodeError::MalformedLdImm64 { slot: 0 }),
            "byte {byte} = {value:#04x}"
        );
    }
}
