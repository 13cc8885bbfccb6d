#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::kernel::{MockKernel, GARBAGE};
use super::memory::MemError;
use super::*;
use crate::bpf::{Assembler, Reg, Size};
use proptest::prelude::*;

fn run(asm: Assembler) -> Result<Run, VmError> {
    let code = asm.finish().unwrap();
    Machine::new(&code).run(&mut MockKernel::empty())
}

/// `r0 = a; r1 = b; r0 op= r1` (or `op= imm`), then returns r0 through the stack so that a
/// value outside the return range can be observed: the result is stored at fp-8 and the
/// program returns 0; the test reads the stack afterwards.
fn alu_result(width: Width, op: AluOp, a: u64, b: u64, imm: Option<i32>) -> u64 {
    let mut asm = Assembler::new();
    asm.ld_imm64(Reg::R0, a).ld_imm64(Reg::R1, b);
    match (width, imm) {
        (Width::W64, None) => asm.alu64_reg(op, Reg::R0, Reg::R1),
        (Width::W64, Some(imm)) => asm.alu64_imm(op, Reg::R0, imm),
        (Width::W32, None) => asm.alu32_reg(op, Reg::R0, Reg::R1),
        (Width::W32, Some(imm)) => asm.alu32_imm(op, Reg::R0, imm),
    };
    asm.store_reg(Size::DW, Reg::R10, -8, Reg::R0)
        .mov64_imm(Reg::R0, 0)
        .exit();
    let code = asm.finish().unwrap();
    let mut kernel = MockKernel::empty();
    Machine::new(&code).run(&mut kernel).unwrap();
    kernel.memory.read_uint(kernel.frame - 8, 8).unwrap()
}

fn rust_alu64(op: AluOp, a: u64, b: u64) -> u64 {
    match op {
        AluOp::Add => a.wrapping_add(b),
        AluOp::Sub => a.wrapping_sub(b),
        AluOp::Mul => a.wrapping_mul(b),
        AluOp::Div => match b {
            0 => 0,
            _ => a / b,
        },
        AluOp::Or => a | b,
        AluOp::And => a & b,
        AluOp::Lsh => a.wrapping_shl(b as u32),
        AluOp::Rsh => a.wrapping_shr(b as u32),
        AluOp::Neg => 0u64.wrapping_sub(a),
        AluOp::Mod => match b {
            0 => a,
            _ => a % b,
        },
        AluOp::Xor => a ^ b,
        AluOp::Mov => b,
        AluOp::Arsh => (a as i64).wrapping_shr(b as u32) as u64,
    }
}

fn rust_alu32(op: AluOp, a: u64, b: u64) -> u64 {
    let (a, b) = (a as u32, b as u32);
    u64::from(match op {
        AluOp::Add => a.wrapping_add(b),
        AluOp::Sub => a.wrapping_sub(b),
        AluOp::Mul => a.wrapping_mul(b),
        AluOp::Div => match b {
            0 => 0,
            _ => a / b,
        },
        AluOp::Or => a | b,
        AluOp::And => a & b,
        AluOp::Lsh => a.wrapping_shl(b),
        AluOp::Rsh => a.wrapping_shr(b),
        AluOp::Neg => 0u32.wrapping_sub(a),
        AluOp::Mod => match b {
            0 => a,
            _ => a % b,
        },
        AluOp::Xor => a ^ b,
        AluOp::Mov => b,
        AluOp::Arsh => (a as i32).wrapping_shr(b) as u32,
    })
}

fn interesting() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        Just(1),
        Just(u64::MAX),
        Just(i64::MIN as u64),
        Just(u32::MAX as u64),
        Just(1 << 31),
        0u64..70,
        any::<u64>(),
    ]
}

proptest! {
    #[test]
    fn alu_register_forms_match_rust(a in interesting(), b in interesting(), op in 0..AluOp::ALL.len()) {
        let op = AluOp::ALL[op];
        prop_assume!(op != AluOp::Neg);
        prop_assert_eq!(alu_result(Width::W64, op, a, b, None), rust_alu64(op, a, b));
        prop_assert_eq!(alu_result(Width::W32, op, a, b, None), rust_alu32(op, a, b));
    }

    #[test]
    fn alu_immediate_forms_match_rust(a in interesting(), imm in any::<i32>(), op in 0..AluOp::ALL.len()) {
        let op = AluOp::ALL[op];
        let imm = match op {
            AluOp::Neg => 0,
            AluOp::Div | AluOp::Mod if imm == 0 => 3,
            AluOp::Lsh | AluOp::Rsh | AluOp::Arsh => imm.rem_euclid(32),
            _ => imm,
        };
        // The immediate is sign-extended for 64-bit operations.
        let b = imm as i64 as u64;
        prop_assert_eq!(alu_result(Width::W64, op, a, b, Some(imm)), rust_alu64(op, a, b));
        prop_assert_eq!(alu_result(Width::W32, op, a, b, Some(imm)), rust_alu32(op, a, b));
    }

    #[test]
    fn jumps_match_rust(a in interesting(), b in interesting(), cond in 0..JmpCond::ALL.len(), wide in any::<bool>(), reg in any::<bool>()) {
        let cond = JmpCond::ALL[cond];
        let b = if reg { b } else { b as i32 as i64 as u64 };
        let mut asm = Assembler::new();
        let taken = asm.new_label();
        asm.ld_imm64(Reg::R1, a).ld_imm64(Reg::R2, b);
        match (wide, reg) {
            (true, true) => asm.jump_reg(cond, Reg::R1, Reg::R2, taken),
            (true, false) => asm.jump_imm(cond, Reg::R1, b as i32, taken),
            (false, true) => asm.jump32_reg(cond, Reg::R1, Reg::R2, taken),
            (false, false) => asm.jump32_imm(cond, Reg::R1, b as i32, taken),
        };
        asm.mov64_imm(Reg::R0, 0).exit().bind(taken).mov64_imm(Reg::R0, -1).exit();
        let expected = if wide {
            match cond {
                JmpCond::Eq => a == b,
                JmpCond::Ne => a != b,
                JmpCond::Gt => a > b,
                JmpCond::Ge => a >= b,
                JmpCond::Lt => a < b,
                JmpCond::Le => a <= b,
                JmpCond::Sgt => (a as i64) > (b as i64),
                JmpCond::Sge => (a as i64) >= (b as i64),
                JmpCond::Slt => (a as i64) < (b as i64),
                JmpCond::Sle => (a as i64) <= (b as i64),
                JmpCond::Set => a & b != 0,
            }
        } else {
            let (a, b) = (a as u32, b as u32);
            match cond {
                JmpCond::Eq => a == b,
                JmpCond::Ne => a != b,
                JmpCond::Gt => a > b,
                JmpCond::Ge => a >= b,
                JmpCond::Lt => a < b,
                JmpCond::Le => a <= b,
                JmpCond::Sgt => (a as i32) > (b as i32),
                JmpCond::Sge => (a as i32) >= (b as i32),
                JmpCond::Slt => (a as i32) < (b as i32),
                JmpCond::Sle => (a as i32) <= (b as i32),
                JmpCond::Set => a & b != 0,
            }
        };
        let ret = run(asm).unwrap().ret;
        prop_assert_eq!(ret == -1, expected, "{:?} {} {:#x} {:#x}", cond, wide, a, b);
    }

    #[test]
    fn stack_stores_and_loads_round_trip(v in any::<u64>(), size in 0..4usize, slot in 1..64i16) {
        let size = Size::ALL[size];
        let off = -8 * slot;
        let mut asm = Assembler::new();
        asm.ld_imm64(Reg::R1, v)
            .store_reg(size, Reg::R10, off, Reg::R1)
            .load(size, Reg::R2, Reg::R10, off)
            .store_reg(Size::DW, Reg::R10, -8, Reg::R2)
            .mov64_imm(Reg::R0, 0)
            .exit();
        let code = asm.finish().unwrap();
        let mut kernel = MockKernel::empty();
        Machine::new(&code).run(&mut kernel).unwrap();
        let mask = if size == Size::DW { u64::MAX } else { (1u64 << (8 * size.bytes())) - 1 };
        prop_assert_eq!(kernel.memory.read_uint(kernel.frame - 8, 8).unwrap(), v & mask);
    }
}

#[test]
fn byte_swaps() {
    for (order, size, want) in [
        (ByteOrder::Be, Size::H, 0x0201u64),
        (ByteOrder::Be, Size::W, 0x0403_0201),
        (ByteOrder::Be, Size::DW, 0x0807_0605_0403_0201),
        (ByteOrder::Le, Size::H, 0x0102),
        (ByteOrder::Le, Size::W, 0x0304_0102),
        (ByteOrder::Le, Size::DW, 0x0506_0708_0304_0102),
    ] {
        let mut asm = Assembler::new();
        asm.ld_imm64(Reg::R1, 0x0506_0708_0304_0102)
            .endian(order, Reg::R1, size)
            .store_reg(Size::DW, Reg::R10, -8, Reg::R1)
            .mov64_imm(Reg::R0, 0)
            .exit();
        let code = asm.finish().unwrap();
        let mut kernel = MockKernel::empty();
        Machine::new(&code).run(&mut kernel).unwrap();
        let got = kernel.memory.read_uint(kernel.frame - 8, 8).unwrap();
        if order == ByteOrder::Be {
            let v: u64 = 0x0506_0708_0304_0102;
            let expected = match size {
                Size::H => u64::from((v as u16).swap_bytes()),
                Size::W => u64::from((v as u32).swap_bytes()),
                _ => v.swap_bytes(),
            };
            assert_eq!(got, expected, "{order:?} {size:?}");
        } else {
            let _ = want;
            let expected = match size {
                Size::H => 0x0102,
                Size::W => 0x0304_0102,
                _ => 0x0506_0708_0304_0102,
            };
            assert_eq!(got, expected, "{order:?} {size:?}");
        }
    }
}

#[test]
fn stack_out_of_bounds_is_an_error() {
    for off in [0i16, -513, 8, -520] {
        let mut asm = Assembler::new();
        asm.store_imm(Size::DW, Reg::R10, off, 1)
            .mov64_imm(Reg::R0, 0)
            .exit();
        match run(asm) {
            Err(VmError::Memory {
                slot: 0,
                error: MemError::OutOfBounds { .. },
            }) => {}
            other => panic!("offset {off}: {other:?}"),
        }
    }
    // The last byte below the frame pointer is fine; a word straddling the top is not.
    let mut asm = Assembler::new();
    asm.store_imm(Size::B, Reg::R10, -1, 1)
        .store_imm(Size::DW, Reg::R10, -512, 1)
        .mov64_imm(Reg::R0, 0)
        .exit();
    assert!(run(asm).is_ok());
    let mut asm = Assembler::new();
    asm.store_imm(Size::DW, Reg::R10, -4, 1)
        .mov64_imm(Reg::R0, 0)
        .exit();
    assert!(matches!(run(asm), Err(VmError::Memory { .. })));
}

/// A hook's arguments are 8-byte slots of the context: the kernel's context check takes a
/// load of a slot's first bytes, of any size, and refuses one that starts inside a slot.
#[test]
fn context_loads_start_at_an_arguments_slot() {
    for (size, off, fits) in [
        (Size::DW, 0, true),
        (Size::W, 0, true),
        (Size::B, 0, true),
        (Size::W, 4, false),
        (Size::B, 1, false),
        (Size::W, 2, false),
    ] {
        let mut asm = Assembler::new();
        asm.load(size, Reg::R2, Reg::R1, off)
            .mov64_imm(Reg::R0, 0)
            .exit();
        match run(asm) {
            Ok(_) if fits => {}
            Err(VmError::Memory {
                error: MemError::ContextOffset { offset, .. },
                ..
            }) if !fits && offset == off as usize => {}
            other => panic!("{size:?} at {off}: {other:?}"),
        }
    }
}

#[test]
fn uninitialized_stack_and_registers_are_errors() {
    let mut asm = Assembler::new();
    asm.load(Size::DW, Reg::R0, Reg::R10, -8).exit();
    assert!(matches!(
        run(asm),
        Err(VmError::Memory {
            error: MemError::Uninitialized { .. },
            ..
        })
    ));
    let mut asm = Assembler::new();
    asm.mov64_reg(Reg::R0, Reg::R3).exit();
    assert_eq!(
        run(asm),
        Err(VmError::UninitializedRegister { slot: 0, reg: 3 })
    );
    // A helper call clobbers r1-r5.
    let mut asm = Assembler::new();
    asm.mov64_imm(Reg::R2, 1)
        .call_helper(15)
        .mov64_reg(Reg::R0, Reg::R2)
        .exit();
    assert_eq!(
        run(asm),
        Err(VmError::UninitializedRegister { slot: 2, reg: 2 })
    );
}

#[test]
fn context_and_kernel_objects_are_read_only() {
    let mut asm = Assembler::new();
    asm.store_imm(Size::DW, Reg::R1, 0, 1)
        .mov64_imm(Reg::R0, 0)
        .exit();
    assert!(matches!(
        run(asm),
        Err(VmError::Memory {
            error: MemError::ReadOnly { .. },
            ..
        })
    ));
    // Pointer arithmetic that leaves a region does not reach another one.
    let mut asm = Assembler::new();
    asm.mov64_reg(Reg::R2, Reg::R10)
        .alu64_imm(AluOp::Add, Reg::R2, 8)
        .load(Size::DW, Reg::R0, Reg::R2, -8)
        .exit();
    assert!(matches!(run(asm), Err(VmError::Memory { .. })));
    let mut asm = Assembler::new();
    asm.mov64_imm(Reg::R2, 0)
        .load(Size::DW, Reg::R0, Reg::R2, 0)
        .exit();
    assert!(matches!(
        run(asm),
        Err(VmError::Memory {
            error: MemError::OutOfBounds { region: None, .. },
            ..
        })
    ));
}

#[test]
fn budget_stops_a_loop() {
    let mut asm = Assembler::new();
    let top = asm.new_label();
    asm.bind(top).jump(top);
    let code = asm.finish().unwrap();
    let result = Machine::new(&code)
        .with_budget(1000)
        .run(&mut MockKernel::empty());
    assert_eq!(result, Err(VmError::Budget { executed: 1000 }));
}

#[test]
fn falling_off_the_end_and_bad_opcodes_are_errors() {
    let mut asm = Assembler::new();
    asm.mov64_imm(Reg::R0, 0);
    assert!(matches!(run(asm), Err(VmError::PcOutOfRange { .. })));
    let insns = [Insn::new(0xff, 0, 0, 0, 0)];
    let result = Machine::from_parts(&insns, &[]).run(&mut MockKernel::empty());
    assert_eq!(
        result,
        Err(VmError::BadInstruction {
            slot: 0,
            code: 0xff
        })
    );
}

#[test]
fn return_value_must_be_an_errno() {
    let mut asm = Assembler::new();
    asm.mov64_imm(Reg::R0, 1).exit();
    assert!(matches!(
        run(asm),
        Err(VmError::ReturnOutOfRange { value: 1, .. })
    ));
    let mut asm = Assembler::new();
    asm.mov64_imm(Reg::R0, -13).exit();
    let r = run(asm).unwrap();
    assert_eq!(r.ret, -13);
    assert_eq!(r.executed, 2);
    assert_eq!(
        r.decision(&[]),
        Decision::Deny {
            errno: 13,
            rule: u32::MAX
        }
    );
}

/// An LSM hook returns an `int`: a 32-bit `-1` (clang's `w0 = -1`, zero-extended into r0)
/// refuses with EPERM as the 64-bit one does, and the bits above 32 are not read.
#[test]
fn the_return_value_is_the_low_32_bits_of_r0() {
    for ret in [-1, -13, 0] {
        for wide in [false, true] {
            let mut asm = Assembler::new();
            asm.alu32_imm(AluOp::Mov, Reg::R0, ret);
            if wide {
                // r0 |= 1 << 32: set a bit the kernel does not read.
                asm.mov64_imm(Reg::R1, 1)
                    .alu64_imm(AluOp::Lsh, Reg::R1, 32)
                    .alu64_reg(AluOp::Or, Reg::R0, Reg::R1);
            }
            asm.exit();
            assert_eq!(run(asm).unwrap().ret, i64::from(ret), "{ret}, wide: {wide}");
        }
    }
}

#[test]
fn helpers_read_the_mocked_process() {
    let mut kernel = MockKernel::empty();
    kernel.uid = 1000;
    kernel.gid = 7;
    kernel.pid = 42;
    kernel.tgid = 41;
    kernel.comm = b"a-very-long-command-name".to_vec();
    let mut asm = Assembler::new();
    asm.call_helper(15)
        .store_reg(Size::DW, Reg::R10, -8, Reg::R0)
        .call_helper(14)
        .store_reg(Size::DW, Reg::R10, -16, Reg::R0)
        .mov64_reg(Reg::R1, Reg::R10)
        .alu64_imm(AluOp::Add, Reg::R1, -32)
        .mov64_imm(Reg::R2, 16)
        .call_helper(16)
        .exit();
    let code = asm.finish().unwrap();
    let r = Machine::new(&code).run(&mut kernel).unwrap();
    assert_eq!(r.ret, 0);
    let m = &kernel.memory;
    assert_eq!(m.read_uint(kernel.frame - 8, 8).unwrap(), 7 << 32 | 1000);
    assert_eq!(m.read_uint(kernel.frame - 16, 8).unwrap(), 41 << 32 | 42);
    assert_eq!(m.read(kernel.frame - 32, 16).unwrap(), b"a-very-long-com\0");
}

#[test]
fn d_path_reports_names_too_long() {
    let mut kernel = MockKernel::empty();
    kernel.paths.insert(kernel.task, b"/etc/passwd".to_vec());
    let call = |size: i32| {
        let mut asm = Assembler::new();
        asm.call_helper(158)
            .mov64_reg(Reg::R1, Reg::R0)
            .mov64_reg(Reg::R2, Reg::R10)
            .alu64_imm(AluOp::Add, Reg::R2, -64)
            .mov64_imm(Reg::R3, size)
            .call_helper(147)
            .alu64_imm(AluOp::Neg, Reg::R0, 0)
            .exit();
        asm.finish().unwrap()
    };
    let fits = call(12);
    let r = Machine::new(&fits).run(&mut kernel);
    // Returns the length with its NUL (12): negated here to get an in-range return.
    assert_eq!(r.unwrap().ret, -12);
    assert_eq!(
        kernel.memory.read(kernel.frame - 64, 12).unwrap(),
        b"/etc/passwd\0"
    );
    let short = call(11);
    let r = Machine::new(&short).run(&mut kernel);
    assert!(matches!(
        r,
        Err(VmError::ReturnOutOfRange { value: 36, .. })
    ));
    // The whole buffer is written, as the verifier takes it to be: past the NUL (and on an
    // error, all of it) with garbage, which a program may read but not rely on.
    let mut kernel = MockKernel::empty();
    kernel.paths.insert(kernel.task, b"/etc/passwd".to_vec());
    let mut asm = Assembler::new();
    asm.call_helper(158)
        .mov64_reg(Reg::R1, Reg::R0)
        .mov64_reg(Reg::R2, Reg::R10)
        .alu64_imm(AluOp::Add, Reg::R2, -64)
        .mov64_imm(Reg::R3, 64)
        .call_helper(147)
        .load(Size::DW, Reg::R0, Reg::R10, -8)
        .mov64_imm(Reg::R0, 0)
        .exit();
    Machine::new(&asm.finish().unwrap())
        .run(&mut kernel)
        .unwrap();
    let buffer = kernel.memory.read(kernel.frame - 64, 64).unwrap();
    assert_eq!(&buffer[..12], b"/etc/passwd\0");
    assert!(buffer[12..].iter().all(|b| *b == GARBAGE));
    let mut kernel = MockKernel::empty();
    kernel.paths.insert(kernel.task, b"/etc/passwd".to_vec());
    Machine::new(&short).run(&mut kernel).unwrap_err();
    let buffer = kernel.memory.read(kernel.frame - 64, 11).unwrap();
    assert!(buffer.iter().all(|b| *b == GARBAGE));
}

/// The string helpers write what the kernel's do and no more: `bpf_probe_read_kernel_str`
/// the string and its NUL (strncpy_from_kernel_nofault copies byte by byte);
/// `bpf_probe_read_user_str` also zeroes the rest of the word that holds the NUL when a whole
/// word was left to copy (strncpy_from_user copies a word at a time, masking the bytes past
/// the NUL), and an empty string reads as 0. The rest of the buffer keeps what it held (here
/// 0x11), and a fault zeroes all of it.
#[test]
fn string_helpers_write_only_the_string_and_what_the_kernel_adds() {
    use crate::bpf::helper::{PROBE_READ_KERNEL_STR, PROBE_READ_USER_STR};
    const HELD: u8 = 0x11;
    // Returns the helper's result and the 32-byte buffer at fp-64 after it.
    let read = |helper: u32, text: &[u8], user: bool, size: i32| {
        let mut kernel = MockKernel::empty();
        let kind = if user {
            RegionKind::User
        } else {
            RegionKind::Kernel("string".into())
        };
        let src = Memory::base(kernel.memory.add(kind, text.to_vec(), false));
        let mut asm = Assembler::new();
        for at in (-64..-32).step_by(4) {
            asm.store_imm(Size::W, Reg::R10, at, 0x1111_1111);
        }
        asm.mov64_reg(Reg::R1, Reg::R10)
            .alu64_imm(AluOp::Add, Reg::R1, -64)
            .mov64_imm(Reg::R2, size)
            .ld_imm64(Reg::R3, src)
            .call_helper(helper)
            .store_reg(Size::DW, Reg::R10, -8, Reg::R0)
            .mov64_imm(Reg::R0, 0)
            .exit();
        Machine::new(&asm.finish().unwrap())
            .run(&mut kernel)
            .unwrap();
        let m = &kernel.memory;
        let ret = m.read_uint(kernel.frame - 8, 8).unwrap() as i64;
        (ret, m.read(kernel.frame - 64, 32).unwrap().to_vec())
    };
    let expect = |written: &[u8]| {
        let mut buffer = written.to_vec();
        buffer.resize(32, HELD);
        buffer
    };
    let kernel_str = |text: &[u8], size| read(PROBE_READ_KERNEL_STR, text, false, size);
    let user_str = |text: &[u8], size| read(PROBE_READ_USER_STR, text, true, size);
    assert_eq!(kernel_str(b"abc\0", 32), (4, expect(b"abc\0")));
    // Cut to `size - 1` bytes and a NUL.
    assert_eq!(kernel_str(b"abcdefgh\0", 5), (5, expect(b"abcd\0")));
    // A string running off its region faults: all `size` bytes zeroed.
    assert_eq!(kernel_str(b"abc", 16), (-14, expect(&[0; 16])));
    let ten = b"abcdefghij\0";
    assert_eq!(user_str(ten, 32), (11, expect(b"abcdefghij\0\0\0\0\0\0")));
    // No whole word left at the NUL: copied byte by byte, the NUL last.
    assert_eq!(user_str(ten, 12), (11, expect(ten)));
    assert_eq!(user_str(b"\0", 32), (0, expect(&[0; 8])));
    assert_eq!(user_str(ten, 4), (4, expect(b"abc\0")));
    // Kernel memory is no user string.
    assert_eq!(
        read(PROBE_READ_USER_STR, ten, false, 16),
        (-14, expect(&[0; 16]))
    );
}

/// The machine's hash maps answer as htab_map_update_elem and htab_map_delete_elem do
/// (kernel/bpf/hashtab.c): flags BPF_ANY, BPF_NOEXIST and BPF_EXIST, -E2BIG when full,
/// -ENOENT for a key that is not there, -EINVAL for an unknown flag.
#[test]
fn hash_maps_follow_the_kernels_update_and_delete() {
    use super::kernel::{E2BIG, EEXIST, EINVAL, ENOENT};
    use crate::elf::MapSpec;
    let mut kernel = MockKernel::empty();
    let spec = MapSpec {
        symbol: "h".into(),
        map_type: crate::bpf::map_type::HASH,
        key_size: 8,
        value_size: 16,
        max_entries: 2,
        flags: 1,
    };
    let handle = kernel.add_map(&spec).unwrap();
    let key = |k: u64| k.to_le_bytes().to_vec();
    let value = |a: u64, b: u64| [a.to_le_bytes(), b.to_le_bytes()].concat();
    let (any, noexist, exist) = (0, 1, 2);
    let mut write = |k: u64, v: Option<(u64, u64)>, flags: u64| {
        kernel
            .write_hash(handle, key(k), v.map(|(a, b)| (value(a, b), flags)))
            .unwrap()
    };
    assert_eq!(
        write(1, Some((1, 1)), exist),
        -ENOENT,
        "BPF_EXIST of a new key"
    );
    assert_eq!(write(1, Some((1, 1)), any), 0);
    assert_eq!(
        write(1, Some((2, 2)), noexist),
        -EEXIST,
        "BPF_NOEXIST of a key there"
    );
    assert_eq!(write(1, Some((3, 3)), exist), 0, "BPF_EXIST replaces");
    assert_eq!(write(1, Some((4, 4)), any), 0, "BPF_ANY replaces");
    assert_eq!(write(2, Some((5, 5)), noexist), 0);
    assert_eq!(write(3, Some((6, 6)), any), -E2BIG, "full");
    assert_eq!(write(3, Some((6, 6)), 4), -EINVAL, "unknown flag");
    assert_eq!(write(2, None, any), 0, "deleted");
    assert_eq!(write(2, None, any), -ENOENT, "already gone");
    assert_eq!(write(3, Some((6, 6)), any), 0, "room again");
    let entries = kernel.hash_entries("h");
    assert_eq!(
        entries.get(&key(1)),
        Some(&value(4, 4)),
        "the last write kept"
    );
    assert_eq!(entries.get(&key(3)), Some(&value(6, 6)));
    assert_eq!(entries.len(), 2);
    // Entries set from outside (another program's run) of the wrong size are skipped.
    let mut shared = entries.clone();
    shared.insert(vec![9; 4], value(7, 7));
    shared.insert(key(9), vec![7; 8]);
    kernel.set_hash_entries("h", &shared);
    assert_eq!(kernel.hash_entries("h"), entries);
    let array = MapSpec {
        symbol: "a".into(),
        map_type: crate::bpf::map_type::ARRAY,
        key_size: 4,
        value_size: 8,
        max_entries: 1,
        flags: 0,
    };
    let array = kernel.add_map(&array).unwrap();
    assert!(
        kernel.write_hash(array, vec![0; 4], None).is_err(),
        "no array"
    );
}

/// A load through a pointer loaded through a kernel object's pointer reads 0 where it points
/// nowhere, as the kernel's `BPF_PROBE_MEM` fault handler makes it. Through a hook's argument
/// (trusted by 6.12, loaded without a fault handler) or an integer it is an error.
#[test]
fn a_load_through_a_null_untrusted_kernel_pointer_reads_zero() {
    // Argument 0 is a file whose dentry (at 72) is NULL.
    let mut kernel = MockKernel::empty();
    let file = kernel
        .memory
        .add(RegionKind::Kernel("file".into()), vec![0; 80], false);
    let (ctx, _) = kernel.memory.locate(kernel.ctx).unwrap();
    kernel.memory.region_mut(ctx).unwrap().bytes[..8]
        .copy_from_slice(&Memory::base(file).to_le_bytes());
    let program = |build: &dyn Fn(&mut Assembler)| {
        let mut asm = Assembler::new();
        asm.load(Size::DW, Reg::R2, Reg::R1, 0)
            .load(Size::DW, Reg::R3, Reg::R2, 72);
        build(&mut asm);
        asm.exit();
        asm.finish().unwrap()
    };
    // A field of the NULL dentry reads 0, also through it moved and offset by a constant.
    let code = program(&|asm| {
        asm.mov64_reg(Reg::R4, Reg::R3)
            .alu64_imm(AluOp::Add, Reg::R4, 8)
            .load(Size::W, Reg::R0, Reg::R4, 28);
    });
    let ran = Machine::new(&code).run(&mut kernel.clone()).unwrap();
    assert_eq!((ran.ret, ran.executed), (0, 6));
    // Not such a pointer: a 32-bit load's result, one changed by anything but a constant, an
    // integer.
    let faults = |kernel: &MockKernel, build: &dyn Fn(&mut Assembler)| {
        let code = program(&|asm| {
            build(asm);
            asm.load(Size::DW, Reg::R0, Reg::R3, 0);
        });
        matches!(
            Machine::new(&code).run(&mut kernel.clone()),
            Err(VmError::Memory {
                error: MemError::OutOfBounds { region: None, .. },
                ..
            })
        )
    };
    assert!(!faults(&kernel, &|_| {}), "the dentry itself");
    assert!(faults(&kernel, &|asm| {
        asm.load(Size::W, Reg::R3, Reg::R2, 72);
    }));
    assert!(faults(&kernel, &|asm| {
        asm.alu64_reg(AluOp::Add, Reg::R3, Reg::R3);
    }));
    assert!(faults(&kernel, &|asm| {
        asm.alu32_imm(AluOp::Add, Reg::R3, 0);
    }));
    assert!(faults(&kernel, &|asm| {
        asm.mov64_imm(Reg::R3, 0);
    }));
    // A NULL argument: 6.12 loads through it without a fault handler.
    let empty = MockKernel::empty();
    assert!(faults(&empty, &|asm| {
        asm.load(Size::DW, Reg::R3, Reg::R1, 0);
    }));
}
