//! Reports: one function per program that every reporting rule calls with its index, flags
//! and errno. It applies the rule's rate limit, fills a ring buffer record (the process, the
//! time, every value of the program) and counts what it could not send.
//!
//! One function instead of a copy per rule: about 90 instructions a rule were most of a large
//! policy's code (100 rules: 10,056 instructions, 57 KB of JIT output), and the verifier walks
//! the function once per distinct caller state rather than a copy per rule.

use super::{offset, size_of, ProgramGen, KEY_SLOT};
use crate::bpf::helper::{
    GET_CURRENT_CGROUP_ID, GET_CURRENT_COMM, GET_CURRENT_PID_TGID, GET_CURRENT_UID_GID,
    KTIME_GET_NS, MAP_LOOKUP_ELEM, PROBE_READ_KERNEL, RINGBUF_RESERVE, RINGBUF_SUBMIT,
};
use crate::bpf::{AluOp, JmpCond, Reg, Size};
use crate::ir::Rule;
use crate::report::{self as events, DROPS_MAP, EVENTS_MAP};
use lang::checked::AccessBase;

/// The report function's own stack: the map key at [`KEY_SLOT`], then its arguments, kept
/// across its helper calls.
const RULE_SLOT: i16 = -16;
const FLAGS_SLOT: i16 = -24;
const ERRNO_SLOT: i16 = -32;
/// At most this many rate windows: 8 KiB a CPU. Policies with more reporting rules share
/// windows (rule index modulo this), so a rule may be limited by another's reports.
pub(super) const RATE_WINDOWS: u32 = 512;

/// What the report function needs of the stack, rounded up as the kernel counts a frame
/// (to 32 bytes): the caller's values may use the rest of the 512 bytes.
pub(super) const REPORT_FRAME: i32 = 32;

impl ProgramGen<'_> {
    /// Calls the report function for `rule` with `flags`: r1 = the rule's index, r2 = the
    /// flags, r3 = the errno the record carries, r4 = this frame (the values' slots), r5 = the
    /// scratch buffers. Clobbers r0–r5.
    pub(super) fn report(&mut self, rule: &Rule, flags: u32) {
        let errno = if flags == events::FLAG_AUDIT {
            0
        } else {
            rule.errno
        };
        self.asm.mov64_imm(Reg::R1, rule.index as i32);
        self.report_indexed(flags, errno);
    }

    /// [`Self::report`] for the rule whose index r1 already holds.
    pub(super) fn report_indexed(&mut self, flags: u32, errno: i32) {
        self.asm
            .mov64_imm(Reg::R2, flags as i32)
            .mov64_imm(Reg::R3, errno)
            .mov64_reg(Reg::R4, Reg::R10);
        if self.layout.scratch_size > 0 {
            self.asm.mov64_reg(Reg::R5, Reg::R7);
        }
        self.asm.call_function(self.report_function);
        self.reported = true;
    }

    /// The report function's body (see [`Self::report`] for its arguments). Registers: r6 =
    /// the caller's frame, r7 = the scratch buffers, r8 = the time and then the record, r9
    /// = the rate entry, then the time, then the parent.
    pub(super) fn emit_report_function(&mut self) {
        let (sent, full) = (self.asm.new_label(), self.asm.new_label());
        let (limited, reserve, same_window) = (
            self.asm.new_label(),
            self.asm.new_label(),
            self.asm.new_label(),
        );
        let record = self.record.clone();
        self.asm
            .store_reg(Size::DW, Reg::R10, RULE_SLOT, Reg::R1)
            .store_reg(Size::DW, Reg::R10, FLAGS_SLOT, Reg::R2)
            .store_reg(Size::DW, Reg::R10, ERRNO_SLOT, Reg::R3)
            .mov64_reg(Reg::R6, Reg::R4);
        if self.layout.scratch_size > 0 {
            self.asm.mov64_reg(Reg::R7, Reg::R5);
        }
        // Rate limit per rule (and CPU): at most `report_rate` reports a second, so a
        // process looping on a denied operation cannot flood user space. The rest are counted.
        // Below the cap every rule has a window of its own, at its index. The clock is read
        // once, for the window and the record: r8 holds it until the record is reserved,
        // then r9.
        if self.rate_windows >= RATE_WINDOWS {
            self.asm
                .alu64_imm(AluOp::Mod, Reg::R1, self.rate_windows as i32);
        }
        self.asm
            .store_reg(Size::W, Reg::R10, KEY_SLOT, Reg::R1)
            .call_helper(KTIME_GET_NS)
            .mov64_reg(Reg::R8, Reg::R0)
            .mov64_reg(Reg::R2, Reg::R10)
            .alu64_imm(AluOp::Add, Reg::R2, i32::from(KEY_SLOT))
            .ld_map_fd(Reg::R1, events::RATE_MAP)
            .call_helper(MAP_LOOKUP_ELEM)
            .jump_imm(JmpCond::Eq, Reg::R0, 0, reserve)
            .mov64_reg(Reg::R9, Reg::R0)
            .load(Size::DW, Reg::R1, Reg::R9, 0)
            .mov64_reg(Reg::R2, Reg::R8)
            .alu64_reg(AluOp::Sub, Reg::R2, Reg::R1)
            .jump_imm(JmpCond::Lt, Reg::R2, 1_000_000_000, same_window)
            .store_reg(Size::DW, Reg::R9, 0, Reg::R8)
            .store_imm(Size::DW, Reg::R9, 8, 0)
            .bind(same_window)
            .load(Size::DW, Reg::R1, Reg::R9, 8)
            .alu64_imm(AluOp::Add, Reg::R1, 1)
            .store_reg(Size::DW, Reg::R9, 8, Reg::R1)
            .jump_imm(JmpCond::Gt, Reg::R1, self.report_rate as i32, limited)
            .bind(reserve)
            .mov64_reg(Reg::R9, Reg::R8)
            .ld_map_fd(Reg::R1, EVENTS_MAP)
            .mov64_imm(Reg::R2, record.size as i32)
            .mov64_imm(Reg::R3, 0)
            .call_helper(RINGBUF_RESERVE)
            .jump_imm(JmpCond::Eq, Reg::R0, 0, full)
            .mov64_reg(Reg::R8, Reg::R0)
            .store_reg(Size::DW, Reg::R8, offset(events::TIME_NS), Reg::R9);
        for (slot, field) in [
            (RULE_SLOT, events::RULE),
            (FLAGS_SLOT, events::FLAGS),
            (ERRNO_SLOT, events::ERRNO),
        ] {
            self.asm.load(Size::DW, Reg::R1, Reg::R10, slot).store_reg(
                Size::W,
                Reg::R8,
                offset(field),
                Reg::R1,
            );
        }
        for (helper, lo, hi) in [
            (GET_CURRENT_PID_TGID, events::PID, events::TGID),
            (GET_CURRENT_UID_GID, events::UID, events::GID),
        ] {
            self.asm
                .call_helper(helper)
                .store_reg(Size::W, Reg::R8, offset(lo), Reg::R0)
                .alu64_imm(AluOp::Rsh, Reg::R0, 32)
                .store_reg(Size::W, Reg::R8, offset(hi), Reg::R0);
        }
        self.asm
            .call_helper(GET_CURRENT_CGROUP_ID)
            .store_reg(Size::DW, Reg::R8, offset(events::CGROUP_ID), Reg::R0)
            .mov64_reg(Reg::R1, Reg::R8)
            .alu64_imm(AluOp::Add, Reg::R1, events::COMM as i32)
            .mov64_imm(Reg::R2, 16)
            .call_helper(GET_CURRENT_COMM);
        // The parent is read through the current task; this function has no context (r6 is
        // the caller's frame here), so a parent reached otherwise is left zero.
        let parent = self.parent.filter(|p| {
            p.tgid.base == AccessBase::CurrentTask && p.comm.base == AccessBase::CurrentTask
        });
        match parent {
            Some(parent) => {
                // Both through the one parent pointer when they share its way (r9, free
                // once the time is stored).
                let shared = parent.tgid.derefs == parent.comm.derefs;
                self.pointer_to(&parent.tgid, Reg::R9);
                self.asm
                    .load(
                        size_of(parent.tgid.size),
                        Reg::R1,
                        Reg::R9,
                        offset(parent.tgid.offset),
                    )
                    .store_reg(Size::W, Reg::R8, offset(events::PARENT_TGID), Reg::R1);
                if shared {
                    self.asm.mov64_reg(Reg::R3, Reg::R9);
                } else {
                    self.pointer_to(&parent.comm, Reg::R3);
                }
                self.add_offset(Reg::R3, parent.comm.offset);
                self.asm
                    .mov64_reg(Reg::R1, Reg::R8)
                    .alu64_imm(AluOp::Add, Reg::R1, events::PARENT_COMM as i32)
                    .mov64_imm(Reg::R2, parent.comm.size.min(16) as i32)
                    .call_helper(PROBE_READ_KERNEL);
            }
            None => {
                self.asm
                    .store_imm(Size::W, Reg::R8, offset(events::PARENT_TGID), 0);
                for at in (0..16).step_by(8) {
                    self.asm
                        .store_imm(Size::DW, Reg::R8, offset(events::PARENT_COMM + at), 0);
                }
            }
        }
        for (i, slot) in record.slots.iter().enumerate() {
            if let Some(at) = slot {
                self.asm
                    .load(Size::DW, Reg::R1, Reg::R6, self.layout.slots[i])
                    .store_reg(Size::DW, Reg::R8, offset(*at), Reg::R1);
            }
        }
        for (i, excerpt) in record.excerpts.iter().enumerate() {
            let (Some((at, len)), Some(buffer)) = (excerpt, self.layout.buffers[i]) else {
                continue;
            };
            self.asm.mov64_reg(Reg::R3, Reg::R7);
            self.add_offset(Reg::R3, buffer.offset);
            self.asm
                .mov64_reg(Reg::R1, Reg::R8)
                .alu64_imm(AluOp::Add, Reg::R1, *at as i32)
                .mov64_imm(Reg::R2, (*len).min(buffer.cap) as i32)
                .call_helper(PROBE_READ_KERNEL);
        }
        self.asm
            .mov64_reg(Reg::R1, Reg::R8)
            .mov64_imm(Reg::R2, 0)
            .call_helper(RINGBUF_SUBMIT)
            .jump(sent);
        // No room, or over the rate: count the drop, so that user space can say how many
        // reports it missed and why.
        let counted = self.asm.new_label();
        self.asm
            .bind(limited)
            .store_imm(
                Size::W,
                Reg::R10,
                KEY_SLOT,
                events::DROPPED_RATE_LIMITED as i32,
            )
            .jump(counted)
            .bind(full)
            .store_imm(
                Size::W,
                Reg::R10,
                KEY_SLOT,
                events::DROPPED_RING_FULL as i32,
            )
            .bind(counted)
            .mov64_reg(Reg::R2, Reg::R10)
            .alu64_imm(AluOp::Add, Reg::R2, i32::from(KEY_SLOT))
            .ld_map_fd(Reg::R1, DROPS_MAP)
            .call_helper(MAP_LOOKUP_ELEM)
            .jump_imm(JmpCond::Eq, Reg::R0, 0, sent)
            .load(Size::DW, Reg::R1, Reg::R0, 0)
            .alu64_imm(AluOp::Add, Reg::R1, 1)
            .store_reg(Size::DW, Reg::R0, 0, Reg::R1)
            .bind(sent)
            .mov64_imm(Reg::R0, 0)
            .exit();
    }
}
