#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::bpf::{validate, Reg::*};

#[test]
fn simplification_removes_unreachable_code() {
    let mut asm = Assembler::with_branch_simplification();
    let (out, dead) = (asm.new_label(), asm.new_label());
    asm.mov64_imm(R0, 0)
        .jump(out) // slot 1
        .bind(dead)
        .mov64_imm(R0, 1) // unreachable
        .ld_imm64(R1, 5) // unreachable, two slots
        .bind(out)
        .exit();
    let code = asm.finish().expect("assembles");
    assert_eq!(code.insns.len(), 3, "{code:?}");
    assert_eq!(code.insns[1].off, 0);
    assert_eq!(code.origins.len(), 3);
}

#[test]
fn a_reachable_wide_instruction_keeps_both_slots_when_code_around_it_goes() {
    let mut asm = Assembler::with_branch_simplification();
    let (on, dead) = (asm.new_label(), asm.new_label());
    asm.mov64_imm(R0, 0)
        .jump(on)
        .bind(dead)
        .mov64_imm(R0, 1) // unreachable
        .bind(on)
        .ld_imm64(R1, 0x1_0000_0002) // slots 2 and 3 once the dead one goes
        .exit()
        .mov64_imm(R0, 2); // unreachable, after the exit
    let code = asm.finish().expect("assembles");
    assert_eq!(code.insns.len(), 5, "{code:?}");
    assert_eq!(code.insns[2].imm, 2);
    assert_eq!(code.insns[3].imm, 1, "the second slot, with the high half");
    assert_eq!(validate(&code.insns), Ok(()));
}

#[test]
fn forward_and_backward_labels() {
    let mut asm = Assembler::new();
    let top = asm.new_label();
    let out = asm.new_label();
    asm.mov64_imm(R0, 0)
        .bind(top)
        .jump_imm(JmpCond::Gt, R0, 9, out) // slot 1 -> 6: off +4
        .alu64_imm(AluOp::Add, R0, 1)
        .ld_imm64(R1, 7) // slots 3, 4
        .jump(top) // slot 5 -> 1: off -5
        .bind(out)
        .exit();
    let code = asm.finish().expect("assembles");
    assert_eq!(code.insns.len(), 7);
    assert_eq!(code.insns[1].off, 4);
    assert_eq!(code.insns[5].off, -5);
    assert_eq!(validate(&code.insns), Ok(()));
}

#[test]
fn simplification_drops_jumps_to_the_next_instruction() {
    let mut asm = Assembler::with_branch_simplification();
    let (a, b) = (asm.new_label(), asm.new_label());
    asm.mov64_imm(R0, 0)
        .jump_imm(JmpCond::Eq, R0, 0, b) // slot 1 -> b
        .bind(a)
        .jump(b) // dropped: b follows
        .bind(b)
        .jump(a) // slot 2 -> a, which moved with the code to slot 2: offset -1
        .exit(); // after a loop with no way out: unreachable, removed
    let code = asm.finish().expect("assembles");
    assert_eq!(code.insns.len(), 3);
    assert_eq!(code.insns[1].off, 0);
    assert_eq!(code.insns[2].off, -1);
}

/// A stack slot loaded right after it was stored whole is read from the register: not when a
/// jump may arrive between the two, nor after a narrower store, nor from another slot.
#[test]
fn a_slot_loaded_right_after_its_store_is_read_from_the_register() {
    let text = |asm: Assembler| -> Vec<String> {
        let code = asm.finish().expect("assembles");
        code.insns.iter().map(|i| format!("{i:?}")).collect()
    };
    let mut asm = Assembler::with_branch_simplification();
    asm.mov64_imm(R1, 7)
        .store_reg(Size::DW, R10, -8, R1)
        .load(Size::DW, R1, R10, -8) // left out: r1 holds it
        .store_reg(Size::DW, R10, -16, R1)
        .load(Size::DW, R2, R10, -16) // r2 = r1
        .mov64_reg(R0, R2)
        .exit();
    let forwarded = text(asm);
    // The second store waits for the instruction after the move that stands for its load.
    let mut asm = Assembler::new();
    asm.mov64_imm(R1, 7)
        .store_reg(Size::DW, R10, -8, R1)
        .mov64_reg(R2, R1)
        .store_reg(Size::DW, R10, -16, R1)
        .mov64_reg(R0, R2)
        .exit();
    assert_eq!(forwarded, text(asm));

    let mut asm = Assembler::with_branch_simplification();
    let join = asm.new_label();
    asm.mov64_imm(R1, 7)
        .jump_imm(JmpCond::Eq, R1, 0, join)
        .store_reg(Size::DW, R10, -8, R1)
        .bind(join)
        .load(Size::DW, R1, R10, -8) // a jump arrives here: kept
        .store_reg(Size::W, R10, -16, R1)
        .load(Size::DW, R2, R10, -16) // a 32-bit store: kept
        .store_reg(Size::DW, R10, -24, R1)
        .load(Size::DW, R3, R10, -32) // another slot: kept
        .mov64_reg(R0, R3)
        .exit();
    let code = asm.finish().expect("assembles");
    let loads = code
        .insns
        .iter()
        .filter(|i| i.code == Opcode::Load { size: Size::DW }.code())
        .count();
    assert_eq!(loads, 3);
}

/// A branch to code that reads nothing of the frame goes before a store held back, so the
/// path that leaves there does not store; every other path stores before anything else reads
/// or jumps, and a `goto` to such code or an `exit` drops the store.
#[test]
fn a_store_waits_past_branches_to_code_that_reads_no_stack() {
    let text = |asm: Assembler| -> Vec<String> {
        let code = asm.finish().expect("assembles");
        code.insns.iter().map(|i| format!("{i:?}")).collect()
    };
    // The code both programs end with: `other` reads the first slot, `allow` reads none.
    let ends = |asm: &mut Assembler, other: Label, allow: Label| {
        asm.bind(other)
            .load(Size::DW, R0, R10, -8)
            .exit()
            .bind(allow)
            .mov64_imm(R0, 0)
            .exit();
    };
    let emit = |simplify: bool| -> Vec<String> {
        let mut asm = match simplify {
            true => Assembler::with_branch_simplification(),
            false => Assembler::new(),
        };
        let (allow, join, other) = (asm.new_label(), asm.new_label(), asm.new_label());
        asm.frame_dead(allow);
        asm.call_helper(15)
            .mov64_reg(R1, R0)
            .store_reg(Size::DW, R10, -8, R1)
            .load(Size::DW, R1, R10, -8)
            .jump_imm(JmpCond::Eq, R1, 0, allow) // before the store
            .jump_imm(JmpCond::Eq, R1, 5, join) // after it: join reads the slot
            .store_reg(Size::DW, R10, -16, R1)
            .jump(allow) // the store is dropped
            .bind(join)
            .store_reg(Size::DW, R10, -24, R1)
            .jump_imm(JmpCond::Eq, R1, 6, other) // after it
            .store_reg(Size::DW, R10, -32, R1)
            .exit(); // dropped
        ends(&mut asm, other, allow);
        text(asm)
    };
    let mut asm = Assembler::new();
    let (allow, join, other) = (asm.new_label(), asm.new_label(), asm.new_label());
    asm.call_helper(15)
        .mov64_reg(R1, R0)
        .jump_imm(JmpCond::Eq, R1, 0, allow)
        .store_reg(Size::DW, R10, -8, R1)
        .jump_imm(JmpCond::Eq, R1, 5, join)
        .jump(allow)
        .bind(join)
        .store_reg(Size::DW, R10, -24, R1)
        .jump_imm(JmpCond::Eq, R1, 6, other)
        .exit();
    ends(&mut asm, other, allow);
    assert_eq!(emit(true), text(asm));
    // The plain assembler keeps every store where it was written.
    let plain = emit(false);
    let stores = plain.iter().filter(|i| i.contains("code: 123")).count();
    assert_eq!(stores, 4, "{plain:#?}");
}

/// A map's relocation goes with its instruction when that is unreachable, and moves with
/// it when code before it goes.
#[test]
fn relocations_go_and_move_with_their_instructions() {
    let mut asm = Assembler::with_branch_simplification();
    let (on, dead) = (asm.new_label(), asm.new_label());
    asm.jump(on)
        .bind(dead)
        .ld_map_fd(R1, "gone") // slots 1 and 2, unreachable
        .bind(on)
        .ld_map_fd(R1, "kept") // slots 3 and 4, then 1 and 2
        .mov64_imm(R0, 0)
        .exit();
    let code = asm.finish().expect("assembles");
    assert_eq!(
        code.relocations,
        vec![MapRelocation {
            slot: 1,
            symbol: "kept".to_string()
        }]
    );
    assert_eq!(code.insns.len(), 5, "{code:?}");
}

/// A function no path calls goes with its code, wherever it lies: between two called
/// functions its label names the next one's first slot, which must not become its own.
#[test]
fn a_function_never_called_goes_with_its_code() {
    let mut asm = Assembler::with_branch_simplification();
    let [first, unused, second, last] = [0; 4].map(|_| asm.new_label());
    asm.call_function(first).call_function(second).exit();
    asm.function("first", first).mov64_imm(R0, 1).exit();
    asm.function("unused", unused).mov64_imm(R0, 2).exit();
    asm.function("second", second).mov64_imm(R0, 3).exit();
    asm.function("last", last).mov64_imm(R0, 4).exit();
    let code = asm.finish().expect("assembles");
    let function = |name: &str, start| Function {
        name: name.to_string(),
        start,
    };
    assert_eq!(code.insns.len(), 7, "{code:?}");
    assert_eq!(
        code.functions,
        vec![function("first", 3), function("second", 5)]
    );
}

/// Each operand the kernel rejects is refused at its slot, and the last one it takes on
/// either side of a limit is assembled.
#[test]
fn operands_the_kernel_rejects_are_refused_at_their_slot() {
    let invalid = |emit: &dyn Fn(&mut Assembler), reason: &'static str| {
        let mut asm = Assembler::new();
        asm.mov64_imm(R0, 0);
        emit(&mut asm);
        asm.exit();
        assert_eq!(
            asm.finish().map(|_| ()),
            Err(EncodeError::InvalidOperand { slot: 1, reason }),
            "{reason}"
        );
    };
    let negs = "neg takes no source register";
    invalid(&|a| _ = a.alu64_reg(AluOp::Neg, R0, R1), negs);
    invalid(
        &|a| _ = a.alu32_imm(AluOp::Neg, R0, 1),
        "neg takes no immediate",
    );
    let zero = "division by a zero immediate";
    invalid(&|a| _ = a.alu64_imm(AluOp::Div, R0, 0), zero);
    invalid(&|a| _ = a.alu32_imm(AluOp::Mod, R0, 0), zero);
    let shift = "shift amount outside the operand width";
    invalid(&|a| _ = a.alu64_imm(AluOp::Lsh, R0, 64), shift);
    invalid(&|a| _ = a.alu32_imm(AluOp::Rsh, R0, 32), shift);
    invalid(&|a| _ = a.alu64_imm(AluOp::Arsh, R0, -1), shift);
    let mut frame = Assembler::new();
    frame.mov64_imm(R0, 0).mov64_imm(R10, 0).exit();
    assert_eq!(
        frame.finish().map(|_| ()),
        Err(EncodeError::WritesFramePointer { slot: 1 })
    );
    let mut fine = Assembler::new();
    fine.mov64_imm(R0, 5)
        .neg64(R0)
        .alu32_imm(AluOp::Div, R0, 1)
        .alu32_imm(AluOp::Mod, R0, -1)
        .alu64_imm(AluOp::Lsh, R0, 63)
        .alu32_imm(AluOp::Arsh, R0, 31)
        .alu32_imm(AluOp::Rsh, R0, 0)
        .alu64_reg(AluOp::Div, R0, R1)
        .exit();
    assert_eq!(fine.finish().map(|code| code.insns.len()), Ok(9));
}

/// A 64-bit operation by its identity is not emitted (callers shift and add computed amounts
/// without testing them for zero); the same by any other operand is, and so is a 32-bit one,
/// which zeroes the upper half.
#[test]
fn an_operation_by_its_identity_is_left_out() {
    let identities = [
        (AluOp::Add, 0),
        (AluOp::Sub, 0),
        (AluOp::Or, 0),
        (AluOp::Xor, 0),
        (AluOp::Lsh, 0),
        (AluOp::Rsh, 0),
        (AluOp::Arsh, 0),
        (AluOp::Mul, 1),
        (AluOp::Div, 1),
    ];
    for (op, identity) in identities {
        let mut asm = Assembler::new();
        asm.mov64_imm(R0, 5)
            .alu64_imm(op, R0, identity)
            .alu64_imm(op, R0, identity + 1)
            .alu32_imm(op, R0, identity)
            .alu64_reg(op, R0, R1)
            .exit();
        let code = asm.finish().expect("assembles");
        let imms: Vec<i32> = code.insns.iter().map(|i| i.imm).collect();
        assert_eq!(imms, [5, identity + 1, identity, 0, 0], "{op:?}");
    }
    // Nor are the operations without an identity: a move, an and, a modulo.
    let mut asm = Assembler::new();
    asm.mov64_imm(R0, 0)
        .alu64_imm(AluOp::And, R0, 0)
        .alu64_imm(AluOp::Mod, R0, 1)
        .exit();
    assert_eq!(asm.finish().map(|code| code.insns.len()), Ok(4));
}

#[test]
fn branch_to_the_next_instruction_has_offset_zero() {
    let mut asm = Assembler::new();
    let next = asm.new_label();
    asm.jump(next).bind(next).exit();
    let code = asm.finish().expect("assembles");
    assert_eq!(code.insns[0].off, 0);
}

#[test]
fn out_of_range_branch() {
    let mut asm = Assembler::new();
    let far = asm.new_label();
    asm.jump(far);
    for _ in 0..32_768 {
        asm.mov64_imm(R0, 0);
    }
    asm.bind(far).exit();
    assert_eq!(
        asm.finish(),
        Err(EncodeError::BranchOutOfRange {
            slot: 0,
            label: far,
            offset: 32_768
        })
    );

    // One less fits exactly.
    let mut asm = Assembler::new();
    let far = asm.new_label();
    asm.jump(far);
    for _ in 0..32_767 {
        asm.mov64_imm(R0, 0);
    }
    asm.bind(far).exit();
    assert_eq!(asm.finish().map(|c| c.insns[0].off), Ok(i16::MAX));

    // Backward: off = target - (pc + 1) = -32769 does not fit.
    let mut asm = Assembler::new();
    let back = asm.new_label();
    asm.bind(back);
    for _ in 0..32_768 {
        asm.mov64_imm(R0, 0);
    }
    asm.jump(back).exit();
    assert!(matches!(
        asm.finish(),
        Err(EncodeError::BranchOutOfRange {
            offset: -32_769,
            ..
        })
    ));
}

#[test]
fn unbound_label() {
    let mut asm = Assembler::new();
    let nowhere = asm.new_label();
    asm.jump_reg(JmpCond::Eq, R1, R2, nowhere).exit();
    assert_eq!(asm.finish(), Err(EncodeError::UnboundLabel(nowhere)));
}

#[test]
fn label_bound_twice() {
    let mut asm = Assembler::new();
    let l = asm.new_label();
    asm.bind(l).mov64_imm(R0, 0).bind(l).exit();
    assert_eq!(
        asm.finish(),
        Err(EncodeError::LabelBoundTwice {
            label: l,
            first: 0,
            second: 1
        })
    );
}

#[test]
fn label_past_the_end_and_foreign_labels() {
    let mut asm = Assembler::new();
    let end = asm.new_label();
    asm.jump(end).bind(end);
    assert_eq!(
        asm.finish(),
        Err(EncodeError::BranchPastEnd {
            slot: 0,
            label: end
        })
    );

    let mut other = Assembler::new();
    other.new_label();
    let foreign = other.new_label();
    let mut asm = Assembler::new();
    asm.jump(foreign).exit();
    assert_eq!(asm.finish(), Err(EncodeError::ForeignLabel(foreign)));
}

#[test]
fn operands_the_kernel_rejects() {
    type Emit = fn(&mut Assembler);
    let cases: [(&str, Emit); 6] = [
        ("write r10", |a| {
            a.mov64_imm(R10, 0);
        }),
        ("neg reg", |a| {
            a.alu64_reg(AluOp::Neg, R1, R2);
        }),
        ("div 0", |a| {
            a.alu32_imm(AluOp::Div, R1, 0);
        }),
        ("shift 32 in alu32", |a| {
            a.alu32_imm(AluOp::Lsh, R1, 32);
        }),
        ("bswap byte", |a| {
            a.endian(ByteOrder::Be, R1, Size::B);
        }),
        ("helper id", |a| {
            a.call_helper(u32::MAX);
        }),
    ];
    for (name, emit) in cases {
        let mut asm = Assembler::new();
        emit(&mut asm);
        asm.exit();
        assert!(asm.finish().is_err(), "{name} should be rejected");
    }
    // Storing through r10 is how the stack is written: allowed.
    let mut asm = Assembler::new();
    asm.store_imm(Size::DW, R10, -8, 0)
        .alu64_imm(AluOp::Lsh, R1, 63)
        .exit();
    assert!(asm.finish().is_ok());
}

#[test]
fn map_relocations_and_origins_are_per_slot() {
    let mut asm = Assembler::new();
    asm.set_origin(Some(3))
        .mov64_reg(R6, R1)
        .ld_map_fd(R1, "krsi_scope")
        .set_origin(None)
        .call_helper(1)
        .set_origin(Some(4))
        .exit();
    let code = asm.finish().expect("assembles");
    assert_eq!(
        code.relocations,
        vec![MapRelocation {
            slot: 1,
            symbol: "krsi_scope".into()
        }]
    );
    assert_eq!(code.origins, vec![Some(3), Some(3), Some(3), None, Some(4)]);
    assert_eq!(code.origins.len(), code.insns.len());
    assert_eq!(code.insns[1].src, 1);
    assert_eq!(code.insns[1].imm, 0);
    assert_eq!(code.origin(2), Some(3));
}

/// A slot of a function shared by several callers, or of the program's own shared code
/// (no origin of its own), takes the origin of the last slot of the program the run went
/// through that has one (the call that entered the function, the rule that jumped); a
/// slot with an origin of its own keeps it.
#[test]
fn shared_code_takes_the_origin_of_the_rule_that_reached_it() {
    let mut asm = Assembler::new();
    let (shared, own) = (asm.new_label(), asm.new_label());
    asm.set_origin(Some(1)).call_function(shared); // slot 0
    asm.set_origin(Some(2)).call_function(shared); // slot 1
    assert_eq!(asm.current_origin(), Some(2));
    asm.call_function(own).set_origin(None).exit(); // slots 2, 3
    asm.function("shared", shared).exit(); // slot 4
    assert_eq!(asm.current_origin(), None);
    asm.set_origin(Some(7)).function("own", own).exit(); // slot 5
    let code = asm.finish().expect("assembles");
    assert_eq!(code.entry_len(), 4);
    assert_eq!(code.origin_on(4, &[0, 4]), Some(1));
    assert_eq!(code.origin_on(4, &[1, 4]), Some(2));
    assert_eq!(code.origin_on(4, &[0, 1, 4]), Some(2), "the latest call");
    assert_eq!(code.origin_on(4, &[4]), None, "entered by no call");
    assert_eq!(code.origin_on(5, &[2, 5]), Some(7), "its own origin");
    assert_eq!(code.origin_on(1, &[0, 1]), Some(2), "a slot of the program");
    assert_eq!(
        code.origin_on(3, &[0, 3]),
        Some(1),
        "the program's shared exit"
    );
    assert_eq!(code.origin_on(3, &[3]), None, "reached by no rule");
}

#[test]
fn ld_imm64_splits_the_value() {
    let mut asm = Assembler::new();
    asm.ld_imm64(R1, 0x8877_6655_4433_2211).exit();
    let code = asm.finish().expect("assembles");
    assert_eq!(code.insns[0].imm as u32, 0x4433_2211);
    assert_eq!(code.insns[1], Insn::new(0, 0, 0, 0, 0x8877_6655_u32 as i32));
}
