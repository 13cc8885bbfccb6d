//! The assembler: a chaining builder over the opcode table, with labels fixed up in
//! [`Assembler::finish`].
//!
//! Emitting never fails on the spot (so calls chain); a misuse is recorded and the first one,
//! in emission order, is what `finish` reports.

use std::fmt;

use super::opcode::{ByteOrder, Opcode, Pseudo, Source, Width};
use super::{AluOp, Insn, JmpCond, Reg, Size};

/// A branch target. Created by [`Assembler::new_label`], placed by [`Assembler::bind`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Label(u32);

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "L{}", self.0)
    }
}

/// A map reference to be filled in by the loader: the `ld_imm64` at `slot` loads the map whose
/// ELF symbol is `symbol`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MapRelocation {
    pub slot: usize,
    pub symbol: String,
}

/// A finished program: slots with branch offsets resolved.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Code {
    pub insns: Vec<Insn>,
    pub relocations: Vec<MapRelocation>,
    /// The [`Assembler::set_origin`] tag of each slot; `origins.len() == insns.len()`.
    pub origins: Vec<Option<u32>>,
    /// Functions the program calls (bpf-to-bpf), in slot order, after the program's own code:
    /// the program proper ends where the first begins.
    pub functions: Vec<Function>,
}

/// A function of a program: its code from `start` to the next function or the end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Function {
    /// Appended to the program's symbol for the function's own (local) ELF symbol.
    pub name: String,
    pub start: usize,
}

impl Code {
    /// Slots of the program proper, before its first function.
    pub fn entry_len(&self) -> usize {
        self.functions.first().map_or(self.insns.len(), |f| f.start)
    }

    /// The program's bytes, as they go into an ELF section.
    pub fn to_bytes(&self) -> Vec<u8> {
        super::encode(&self.insns)
    }

    /// The origin tag of the instruction at `slot` (what the verifier reports as `insn N`).
    pub fn origin(&self, slot: usize) -> Option<u32> {
        self.origins.get(slot).copied().flatten()
    }

    /// The origin of `slot` on a run that went through the slots of `trace` (in order, `slot`
    /// last). Code that several rules share has no origin of its own: the report function,
    /// which each calls, and the refusing exit that deny rules of one errno jump to. A slot
    /// there takes the origin of the last slot of the program proper the run went through
    /// that has one: the code of the rule that called or jumped. A function with origins of
    /// its own (a part of a large literal set) keeps them.
    pub fn origin_on(&self, slot: usize, trace: &[usize]) -> Option<u32> {
        if let Some(origin) = self.origin(slot) {
            return Some(origin);
        }
        trace
            .iter()
            .rev()
            .copied()
            .filter(|&s| s < self.entry_len())
            .find_map(|s| self.origin(s))
    }
}

/// Why the assembler could not produce a program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EncodeError {
    /// A branch targets a label that was never bound.
    UnboundLabel(Label),
    /// A label was bound at `first` and again at `second`.
    LabelBoundTwice {
        label: Label,
        first: usize,
        second: usize,
    },
    /// A label that this assembler did not create.
    ForeignLabel(Label),
    /// The branch at `slot` is `offset` slots from its target, more than 16 bits hold.
    BranchOutOfRange {
        slot: usize,
        label: Label,
        offset: i64,
    },
    /// The branch at `slot` targets a label bound after the last instruction.
    BranchPastEnd { slot: usize, label: Label },
    /// The instruction at `slot` writes r10, which the kernel keeps read only.
    WritesFramePointer { slot: usize },
    /// The instruction at `slot` has an operand the kernel rejects.
    InvalidOperand { slot: usize, reason: &'static str },
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::UnboundLabel(label) => write!(f, "label {label} is never bound"),
            EncodeError::LabelBoundTwice {
                label,
                first,
                second,
            } => write!(
                f,
                "label {label} is bound twice, at instruction {first} and at {second}"
            ),
            EncodeError::ForeignLabel(label) => {
                write!(f, "label {label} belongs to another assembler")
            }
            EncodeError::BranchOutOfRange {
                slot,
                label,
                offset,
            } => write!(
                f,
                "branch at instruction {slot} to {label} is {offset} instructions away, \
                 beyond the 16-bit offset range"
            ),
            EncodeError::BranchPastEnd { slot, label } => write!(
                f,
                "branch at instruction {slot} to {label} lands after the last instruction"
            ),
            EncodeError::WritesFramePointer { slot } => write!(
                f,
                "instruction {slot} writes the read-only frame pointer r10"
            ),
            EncodeError::InvalidOperand { slot, reason } => {
                write!(f, "instruction {slot}: {reason}")
            }
        }
    }
}

impl std::error::Error for EncodeError {}

#[derive(Clone, Copy, Debug)]
struct Fixup {
    slot: usize,
    label: Label,
    /// A bpf-to-bpf call, whose target goes into `imm` rather than `off`.
    call: bool,
}

/// Builds a program one instruction at a time. See the module documentation.
#[derive(Clone, Debug, Default)]
pub struct Assembler {
    insns: Vec<Insn>,
    origins: Vec<Option<u32>>,
    origin: Option<u32>,
    /// Slot each label is bound to.
    labels: Vec<Option<usize>>,
    fixups: Vec<Fixup>,
    relocations: Vec<MapRelocation>,
    /// Functions and the labels they start at.
    functions: Vec<(String, Label)>,
    errors: Vec<EncodeError>,
    simplify_branches: bool,
    /// The simplifying assembler's store not emitted yet (see [`HeldStore`]).
    held: Option<HeldStore>,
    /// Per label: the code there reads nothing of the frame (see [`Assembler::frame_dead`]).
    frame_dead: Vec<bool>,
}

/// A whole register stored to a stack slot, held back by the simplifying assembler until the
/// next instruction that needs it. A load of the slot right after reads the register instead
/// (code generators store a value to its slot as they compute it, and load it for its first
/// test right after); a branch to code that reads nothing of the frame goes before it, so
/// that the path leaving there does not store (`uid != 0` allowing a root process at once);
/// an `exit`, or a `goto` to such code, drops it. Any other instruction, and a label bound
/// (a jump arrives there, from a path that stored the slot itself), emits it first.
#[derive(Clone, Copy, Debug)]
struct HeldStore {
    off: i16,
    src: Reg,
    origin: Option<u32>,
}

impl Assembler {
    pub fn new() -> Self {
        Self::default()
    }

    /// An assembler that drops a `goto L` emitted right before `L` is bound (as Cranelift's
    /// `MachBuffer` does): code generators can then emit every branch of a condition tree
    /// without tracking which target falls through.
    ///
    /// It never inverts a condition to save the `goto` after it. The verifier follows a
    /// branch's fall-through and keeps its target pending, so which way a loop's test points
    /// decides how many states wait: inverted, every iteration of a walk or a scan left one
    /// pending, and argv, file and stdlib policies passed the 8,192 the kernel allows ("The
    /// sequence of 8193 jumps is too complex", both guests).
    pub fn with_branch_simplification() -> Self {
        Assembler {
            simplify_branches: true,
            ..Self::default()
        }
    }

    /// Removes trailing `goto l` instructions, which `l` bound here makes no-ops. Labels bound
    /// after a removed jump move back with the code; labels bound at it already meant "here".
    fn drop_jumps_to(&mut self, l: Label) {
        let ja = Opcode::Ja.code();
        while let Some(last) = self.fixups.last().copied() {
            let here = self.insns.len();
            if last.label != l || last.slot + 1 != here || self.insns[last.slot].code != ja {
                break;
            }
            self.fixups.pop();
            self.insns.pop();
            self.origins.pop();
            for bound in self.labels.iter_mut().flatten() {
                if *bound == here {
                    *bound = here - 1;
                }
            }
        }
    }

    /// A fresh, unbound label.
    pub fn new_label(&mut self) -> Label {
        let id = u32::try_from(self.labels.len()).unwrap_or(u32::MAX);
        self.labels.push(None);
        Label(id)
    }

    /// Binds `l` to the next instruction emitted.
    pub fn bind(&mut self, l: Label) -> &mut Self {
        self.emit_held();
        if self.simplify_branches {
            self.drop_jumps_to(l);
        }
        let here = self.insns.len();
        match self.labels.get_mut(l.0 as usize) {
            None => self.errors.push(EncodeError::ForeignLabel(l)),
            Some(Some(first)) => {
                let first = *first;
                self.errors.push(EncodeError::LabelBoundTwice {
                    label: l,
                    first,
                    second: here,
                });
            }
            Some(slot @ None) => *slot = Some(here),
        }
        self
    }

    /// Declares that the code at `l` reads nothing of the frame's stack (it returns a
    /// constant): a branch there need not wait for a store held back (see [`HeldStore`]).
    pub fn frame_dead(&mut self, l: Label) -> &mut Self {
        let at = l.0 as usize;
        if self.frame_dead.len() <= at {
            self.frame_dead.resize(at + 1, false);
        }
        self.frame_dead[at] = true;
        self
    }

    fn is_frame_dead(&self, l: Label) -> bool {
        self.frame_dead.get(l.0 as usize).copied().unwrap_or(false)
    }

    /// Emits the store held back, if any.
    fn emit_held(&mut self) {
        if let Some(held) = self.held.take() {
            let spill = Opcode::Store { size: Size::DW }.code();
            self.insns.push(Insn::new(
                spill,
                Reg::FP.index(),
                held.src.index(),
                held.off,
                0,
            ));
            self.origins.push(held.origin);
        }
    }

    /// The origin the next instruction is tagged with.
    pub fn current_origin(&self) -> Option<u32> {
        self.origin
    }

    /// Tags the instructions emitted from now on with `origin` (an opaque source id, such as
    /// a rule index), so a verifier complaint about a slot can be traced back to its source.
    pub fn set_origin(&mut self, origin: Option<u32>) -> &mut Self {
        self.origin = origin;
        self
    }

    fn push(&mut self, op: Opcode, dst: Reg, src: u8, off: i16, imm: i32) -> &mut Self {
        self.emit_held();
        if op.writes_dst() && dst == Reg::FP {
            self.errors.push(EncodeError::WritesFramePointer {
                slot: self.insns.len(),
            });
        }
        self.insns
            .push(Insn::new(op.code(), dst.index(), src, off, imm));
        self.origins.push(self.origin);
        self
    }

    fn invalid(&mut self, reason: &'static str) {
        self.errors.push(EncodeError::InvalidOperand {
            slot: self.insns.len(),
            reason,
        });
    }

    fn alu(&mut self, width: Width, op: AluOp, dst: Reg, src: Option<Reg>, imm: i32) -> &mut Self {
        let bits = match width {
            Width::W32 => 32,
            Width::W64 => 64,
        };
        match (op, src) {
            (AluOp::Neg, Some(_)) => self.invalid("neg takes no source register"),
            (AluOp::Neg, None) if imm != 0 => self.invalid("neg takes no immediate"),
            (AluOp::Div | AluOp::Mod, None) if imm == 0 => {
                self.invalid("division by a zero immediate")
            }
            (AluOp::Lsh | AluOp::Rsh | AluOp::Arsh, None) if !(0..bits).contains(&imm) => {
                self.invalid("shift amount outside the operand width")
            }
            _ => {}
        }
        // A 64-bit operation by its identity changes nothing, and is not emitted: callers
        // shift by a computed amount or add a computed offset without testing it for zero.
        // (A 32-bit one still zeroes the upper half, and is kept.)
        let identity = match op {
            AluOp::Add | AluOp::Sub | AluOp::Or | AluOp::Xor => Some(0),
            AluOp::Lsh | AluOp::Rsh | AluOp::Arsh => Some(0),
            AluOp::Mul | AluOp::Div => Some(1),
            _ => None,
        };
        if width == Width::W64 && src.is_none() && identity == Some(imm) {
            return self;
        }
        // A neg given a register is refused above, so what it encodes is never emitted.
        let (source, src) = match src {
            Some(r) => (Source::Reg, r.index()),
            None => (Source::Imm, 0),
        };
        let opcode = Opcode::Alu { width, op, source };
        self.push(opcode, dst, src, 0, imm)
    }

    /// `dst op= imm` on 64 bits (`Neg` ignores the operand and wants `imm == 0`).
    pub fn alu64_imm(&mut self, op: AluOp, dst: Reg, imm: i32) -> &mut Self {
        self.alu(Width::W64, op, dst, None, imm)
    }

    /// `dst op= src` on 64 bits.
    pub fn alu64_reg(&mut self, op: AluOp, dst: Reg, src: Reg) -> &mut Self {
        self.alu(Width::W64, op, dst, Some(src), 0)
    }

    /// `dst op= imm` on the low 32 bits; the upper 32 bits of `dst` become zero.
    pub fn alu32_imm(&mut self, op: AluOp, dst: Reg, imm: i32) -> &mut Self {
        self.alu(Width::W32, op, dst, None, imm)
    }

    /// `dst op= src` on the low 32 bits; the upper 32 bits of `dst` become zero.
    pub fn alu32_reg(&mut self, op: AluOp, dst: Reg, src: Reg) -> &mut Self {
        self.alu(Width::W32, op, dst, Some(src), 0)
    }

    /// `dst = imm`, sign-extended to 64 bits.
    pub fn mov64_imm(&mut self, dst: Reg, imm: i32) -> &mut Self {
        self.alu64_imm(AluOp::Mov, dst, imm)
    }

    /// `dst = src`
    pub fn mov64_reg(&mut self, dst: Reg, src: Reg) -> &mut Self {
        self.alu64_reg(AluOp::Mov, dst, src)
    }

    /// `dst = -dst`
    pub fn neg64(&mut self, dst: Reg) -> &mut Self {
        self.alu64_imm(AluOp::Neg, dst, 0)
    }

    /// `dst = to_le|to_be(dst)` keeping the low `size` bytes (`Size::B` is not a width the
    /// kernel swaps).
    pub fn endian(&mut self, order: ByteOrder, dst: Reg, size: Size) -> &mut Self {
        let bits = match size {
            Size::B => {
                self.invalid("byte swap of a single byte");
                8
            }
            Size::H => 16,
            Size::W => 32,
            Size::DW => 64,
        };
        self.push(Opcode::End { order }, dst, 0, 0, bits)
    }

    fn ld_imm64_with(&mut self, dst: Reg, pseudo: Pseudo, value: u64) -> &mut Self {
        let low = value as u32 as i32;
        let high = (value >> 32) as u32 as i32;
        self.push(Opcode::LdImm64, dst, pseudo.src(), 0, low);
        // The second half is a slot of its own, with the same origin.
        self.insns.push(Insn::new(0, 0, 0, 0, high));
        self.origins.push(self.origin);
        self
    }

    /// `dst = value`, in two slots.
    pub fn ld_imm64(&mut self, dst: Reg, value: u64) -> &mut Self {
        self.ld_imm64_with(dst, Pseudo::None, value)
    }

    /// `dst = &map`: an `ld_imm64` marked `BPF_PSEUDO_MAP_FD` with imm 0, plus a relocation
    /// that tells the loader to put `map_symbol`'s fd there.
    pub fn ld_map_fd(&mut self, dst: Reg, map_symbol: &str) -> &mut Self {
        self.emit_held();
        self.relocations.push(MapRelocation {
            slot: self.insns.len(),
            symbol: map_symbol.to_string(),
        });
        self.ld_imm64_with(dst, Pseudo::MapFd, 0)
    }

    /// `dst = &value + offset`, the address of byte `offset` of a data map's one value (a data
    /// section, `.rodata` or `.data.*`): an `ld_imm64` marked `BPF_PSEUDO_MAP_VALUE` with the offset in its
    /// first `imm`, as clang writes it, plus a relocation against `symbol`.
    pub fn ld_map_value(&mut self, dst: Reg, symbol: &str, offset: u32) -> &mut Self {
        self.emit_held();
        self.relocations.push(MapRelocation {
            slot: self.insns.len(),
            symbol: symbol.to_string(),
        });
        self.ld_imm64_with(dst, Pseudo::MapValue, u64::from(offset))
    }

    /// `dst = *(size *)(base + off)`. The simplifying assembler reads a stack slot whose store
    /// it holds back from the register itself (see [`HeldStore`]; a 32-bit store, or one into
    /// map memory that a helper may change, is read again).
    pub fn load(&mut self, size: Size, dst: Reg, base: Reg, off: i16) -> &mut Self {
        if size == Size::DW && base == Reg::FP {
            if let Some(held) = self.held.filter(|held| held.off == off) {
                if held.src != dst {
                    // The move leaves the stored register as it is: the store stays held.
                    self.held = None;
                    self.mov64_reg(dst, held.src);
                    self.held = Some(held);
                }
                return self;
            }
        }
        self.push(Opcode::Load { size }, dst, base.index(), off, 0)
    }

    /// `*(size *)(base + off) = src`; the simplifying assembler holds a whole register's store
    /// to the stack back (see [`HeldStore`]).
    pub fn store_reg(&mut self, size: Size, base: Reg, off: i16, src: Reg) -> &mut Self {
        if self.simplify_branches && size == Size::DW && base == Reg::FP {
            self.emit_held();
            self.held = Some(HeldStore {
                off,
                src,
                origin: self.origin,
            });
            return self;
        }
        self.push(Opcode::Store { size }, base, src.index(), off, 0)
    }

    /// `*(size *)(base + off) = imm`
    pub fn store_imm(&mut self, size: Size, base: Reg, off: i16, imm: i32) -> &mut Self {
        self.push(Opcode::StoreImm { size }, base, 0, off, imm)
    }

    fn branch(&mut self, op: Opcode, dst: Reg, src: u8, imm: i32, target: Label) -> &mut Self {
        // To code that reads nothing of the frame, the path leaves without the held store; a
        // conditional branch's fall-through still makes it.
        let held = match self.is_frame_dead(target) {
            true => self.held.take().filter(|_| op != Opcode::Ja),
            false => {
                self.emit_held();
                None
            }
        };
        self.fixups.push(Fixup {
            slot: self.insns.len(),
            label: target,
            call: false,
        });
        self.push(op, dst, src, 0, imm);
        self.held = held;
        self
    }

    /// `goto target`
    pub fn jump(&mut self, target: Label) -> &mut Self {
        self.branch(Opcode::Ja, Reg::R0, 0, 0, target)
    }

    /// `if reg cond imm goto target`, comparing 64 bits (`imm` sign-extended).
    pub fn jump_imm(&mut self, cond: JmpCond, reg: Reg, imm: i32, target: Label) -> &mut Self {
        let op = Opcode::Jump {
            width: Width::W64,
            cond,
            source: Source::Imm,
        };
        self.branch(op, reg, 0, imm, target)
    }

    /// `if reg cond src goto target`, comparing 64 bits.
    pub fn jump_reg(&mut self, cond: JmpCond, reg: Reg, src: Reg, target: Label) -> &mut Self {
        let op = Opcode::Jump {
            width: Width::W64,
            cond,
            source: Source::Reg,
        };
        self.branch(op, reg, src.index(), 0, target)
    }

    /// `if wreg cond imm goto target`, comparing the low 32 bits.
    pub fn jump32_imm(&mut self, cond: JmpCond, reg: Reg, imm: i32, target: Label) -> &mut Self {
        let op = Opcode::Jump {
            width: Width::W32,
            cond,
            source: Source::Imm,
        };
        self.branch(op, reg, 0, imm, target)
    }

    /// `if wreg cond wsrc goto target`, comparing the low 32 bits.
    pub fn jump32_reg(&mut self, cond: JmpCond, reg: Reg, src: Reg, target: Label) -> &mut Self {
        let op = Opcode::Jump {
            width: Width::W32,
            cond,
            source: Source::Reg,
        };
        self.branch(op, reg, src.index(), 0, target)
    }

    /// Calls helper number `helper` (see [`super::helper_name`]); arguments in r1–r5, result
    /// in r0, r1–r5 clobbered.
    pub fn call_helper(&mut self, helper: u32) -> &mut Self {
        let imm = match i32::try_from(helper) {
            Ok(imm) => imm,
            Err(_) => {
                self.invalid("helper id beyond 32 bits");
                0
            }
        };
        self.push(Opcode::Call, Reg::R0, 0, 0, imm)
    }

    /// Calls the function that starts at `target` (see [`Assembler::function`]): arguments in
    /// r1–r5, result in r0, r6–r9 kept.
    pub fn call_function(&mut self, target: Label) -> &mut Self {
        self.emit_held();
        self.fixups.push(Fixup {
            slot: self.insns.len(),
            label: target,
            call: true,
        });
        self.push(Opcode::Call, Reg::R0, super::PSEUDO_CALL, 0, 0)
    }

    /// Starts function `name` here: binds `start`, the label its callers call. Functions come
    /// after the program's own code and after each other.
    pub fn function(&mut self, name: &str, start: Label) -> &mut Self {
        self.functions.push((name.to_string(), start));
        self.bind(start)
    }

    /// Returns r0 (the frame ends: a store held back is dropped).
    pub fn exit(&mut self) -> &mut Self {
        self.held = None;
        self.push(Opcode::Exit, Reg::R0, 0, 0, 0)
    }

    /// Resolves every branch: `off = target - (slot + 1)`.
    pub fn finish(mut self) -> Result<Code, EncodeError> {
        self.emit_held();
        let simplify = self.simplify_branches;
        let Assembler {
            mut insns,
            mut origins,
            mut labels,
            mut fixups,
            mut relocations,
            functions,
            errors,
            ..
        } = self;
        if let Some(error) = errors.into_iter().next() {
            return Err(error);
        }
        // Each function's first slot before unreachable code goes: a function no path calls
        // goes with its code, and its label then names where the code after it moved.
        let mut entries = Vec::new();
        for (name, label) in functions {
            match labels.get(label.0 as usize) {
                Some(Some(start)) => entries.push((name, label, *start)),
                _ => return Err(EncodeError::UnboundLabel(label)),
            }
        }
        let reachable = if simplify {
            remove_unreachable(
                &mut insns,
                &mut origins,
                &mut labels,
                &mut fixups,
                &mut relocations,
            )
        } else {
            vec![true; insns.len()]
        };
        for Fixup { slot, label, call } in fixups {
            let target = match labels.get(label.0 as usize) {
                None => return Err(EncodeError::ForeignLabel(label)),
                Some(None) => return Err(EncodeError::UnboundLabel(label)),
                Some(Some(target)) => *target,
            };
            if target >= insns.len() {
                return Err(EncodeError::BranchPastEnd { slot, label });
            }
            let offset = target as i64 - (slot as i64 + 1);
            if call {
                let imm = i32::try_from(offset).map_err(|_| EncodeError::BranchOutOfRange {
                    slot,
                    label,
                    offset,
                })?;
                if let Some(insn) = insns.get_mut(slot) {
                    insn.imm = imm;
                }
                continue;
            }
            let off = i16::try_from(offset).map_err(|_| EncodeError::BranchOutOfRange {
                slot,
                label,
                offset,
            })?;
            if let Some(insn) = insns.get_mut(slot) {
                insn.off = off;
            }
        }
        let mut starts = Vec::new();
        for (name, label, before) in entries {
            if let (Some(true), Some(Some(start))) =
                (reachable.get(before), labels.get(label.0 as usize))
            {
                starts.push(super::Function {
                    name,
                    start: *start,
                });
            }
        }
        Ok(Code {
            insns,
            relocations,
            origins,
            functions: starts,
        })
    }
}

/// Drops instructions no path from the entry reaches. The kernel verifier refuses a program
/// with unreachable instructions, and a code generator that emits every branch of a condition
/// tree leaves some (a `goto` after a test that always jumps, a fail-closed exit no lookup
/// uses). Labels move with the code; a label that only unreachable code used goes anywhere.
/// Returns which of the slots it was given are kept.
fn remove_unreachable(
    insns: &mut Vec<Insn>,
    origins: &mut Vec<Option<u32>>,
    labels: &mut [Option<usize>],
    fixups: &mut Vec<Fixup>,
    relocations: &mut Vec<MapRelocation>,
) -> Vec<bool> {
    let n = insns.len();
    // Each slot's branch target, indexed once: a search of the fixups per slot made this
    // quadratic, minutes for a policy of ten thousand rules.
    let mut targets: Vec<Option<usize>> = vec![None; n];
    for fixup in fixups.iter() {
        if let Some(t) = targets.get_mut(fixup.slot) {
            *t = labels.get(fixup.label.0 as usize).copied().flatten();
        }
    }
    let target_of = |slot: usize| -> Option<usize> { targets.get(slot).copied().flatten() };
    let mut reachable = vec![false; n];
    let mut work = vec![0usize];
    while let Some(slot) = work.pop() {
        if slot >= n || reachable[slot] {
            continue;
        }
        reachable[slot] = true;
        // Every head is an opcode of the table: the assembler emits nothing else, and the
        // second slot of a wide instruction is marked below, never followed as a head.
        let Some(op) = insns[slot].opcode() else {
            continue;
        };
        if op.slots() == 2 {
            if let Some(second) = reachable.get_mut(slot + 1) {
                *second = true;
            }
        }
        match op {
            Opcode::Exit => {}
            Opcode::Ja => work.extend(target_of(slot)),
            Opcode::Call => {
                work.push(slot + 1);
                work.extend(target_of(slot));
            }
            _ if op.is_branch() => {
                work.push(slot + 1);
                work.extend(target_of(slot));
            }
            _ => work.push(slot + op.slots()),
        }
    }
    if reachable.iter().all(|r| *r) {
        return reachable;
    }
    // new_index[s]: where slot s (or, if it goes, the next kept slot) ends up.
    let mut new_index = vec![0usize; n + 1];
    let mut kept = 0;
    for slot in 0..n {
        new_index[slot] = kept;
        if reachable[slot] {
            kept += 1;
        }
    }
    new_index[n] = kept;
    for label in labels.iter_mut().flatten() {
        *label = new_index[(*label).min(n)];
    }
    fixups.retain(|f| reachable[f.slot]);
    for fixup in fixups.iter_mut() {
        fixup.slot = new_index[fixup.slot];
    }
    relocations.retain(|r| reachable.get(r.slot) == Some(&true));
    for relocation in relocations.iter_mut() {
        relocation.slot = new_index[relocation.slot];
    }
    let mut slot = 0;
    insns.retain(|_| {
        slot += 1;
        reachable[slot - 1]
    });
    let mut slot = 0;
    origins.retain(|_| {
        slot += 1;
        reachable[slot - 1]
    });
    reachable
}

#[cfg(test)]
mod tests;
