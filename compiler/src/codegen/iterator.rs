//! The `file_open` decision as an `iter/task_file` iterator
//! ([`crate::ir::Attach::TaskFileIterator`]).
//!
//! A kernel that refuses LSM programs (the benchmark's host) still loads iterators, and an
//! iterator over one process's open files may resolve their paths (`bpf_d_path` is allowed in
//! iterators). So the program's entry becomes a small iterator that hands each open file to
//! the decision, compiled unchanged as a function of its own: the kernel's statistics then
//! time the decision code natively, outside emulation (KERNEL.md, "Cost facts").
//!
//! The decision reads its hook argument through its context pointer, as it does on the LSM
//! hook; here that pointer is the iterator's stack slot holding the file, so the verifier
//! follows the file's type through the slot as it does through the hook's context. A file it
//! refuses is written to the iterator's output as the 4-byte return value (`-errno`), so that
//! whoever reads the iterator can check the decisions it timed; an allowed file writes
//! nothing.
//!
//! The iterator's frame (32 bytes, as the kernel rounds a frame) shares the 512 bytes of
//! stack with the decision's and the report's: a policy whose values nearly fill the stack
//! loads on its hook but is refused as an iterator.

use super::ProgramGen;
use crate::bpf::helper::SEQ_WRITE;
use crate::bpf::{AluOp, JmpCond, Label, Reg, Size};

/// The LSM hook whose program can run as the iterator: its one argument is the file.
pub const HOOK: &str = "file_open";
/// The decision's function, called by the iterator for each file.
pub const DECISION_FUNCTION: &str = "decision";
/// `struct bpf_iter__task_file` (kernel/bpf/task_iter.c): the arguments `meta`, `task`, `fd`
/// and `file` of `bpf_iter_task_file`, each in a 64-bit context slot.
const META_ARG: i16 = 0;
const FILE_ARG: i16 = 24;
/// `struct bpf_iter_meta`'s first member, the iterator's `seq_file`.
const META_SEQ: i16 = 0;
/// The iterator's one stack slot: the file, then the refusal it writes out.
const SLOT: i16 = -8;

impl ProgramGen<'_> {
    /// The iterator's body: calls `decision` with a context whose argument 0 is the file.
    pub(super) fn emit_iterator(&mut self, decision: Label) {
        let done = self.asm.new_label();
        self.asm
            .mov64_reg(Reg::R6, Reg::R1)
            .load(Size::DW, Reg::R1, Reg::R6, FILE_ARG)
            // The iterator's last call, after a process's last file, has none.
            .jump_imm(JmpCond::Eq, Reg::R1, 0, done)
            .store_reg(Size::DW, Reg::R10, SLOT, Reg::R1)
            .mov64_reg(Reg::R1, Reg::R10)
            .alu64_imm(AluOp::Add, Reg::R1, i32::from(SLOT))
            .call_function(decision)
            .jump_imm(JmpCond::Eq, Reg::R0, 0, done)
            .store_reg(Size::W, Reg::R10, SLOT, Reg::R0)
            .load(Size::DW, Reg::R1, Reg::R6, META_ARG)
            .load(Size::DW, Reg::R1, Reg::R1, META_SEQ)
            .mov64_reg(Reg::R2, Reg::R10)
            .alu64_imm(AluOp::Add, Reg::R2, i32::from(SLOT))
            .mov64_imm(Reg::R3, 4)
            .call_helper(SEQ_WRITE)
            .bind(done)
            .mov64_imm(Reg::R0, 0)
            .exit();
    }
}
