//! Whether a program acts on the event at all: the version gate of a pinned policy (with the
//! handover that keeps a replacement gapless) and the cgroup scope.

use super::{ProgramGen, GATE_MAP, HANDOVER_MAP, SCOPE_MAP, VERSION_MAP};
use crate::bpf::helper::{
    CURRENT_TASK_UNDER_CGROUP, GET_CURRENT_PID_TGID, MAP_DELETE_ELEM, MAP_LOOKUP_ELEM,
    MAP_UPDATE_ELEM,
};
use crate::bpf::{AluOp, JmpCond, Reg, Size};
use crate::ir::Scope;

impl ProgramGen<'_> {
    /// Whether this program acts on the event at all: its version is the policy's, and the
    /// task is in the policy's cgroup. Both allow when not, so they come after the cheap tests
    /// that allow an event alone (`uid != 0` shared by every rule: a root process pays for
    /// neither), and before the scratch buffers and anything that reports or refuses.
    pub(super) fn in_force(&mut self) {
        self.version_gate();
        if self.scope == Scope::Cgroup {
            // 1: in the cgroup or below; 0: not; negative: the helper could not tell (the map
            // is empty: never, the runtime fills it before attaching). Only a definite "not"
            // leaves the event alone: when the scope is unknown the rules apply (fail closed).
            self.asm
                .ld_map_fd(Reg::R1, SCOPE_MAP)
                .mov64_imm(Reg::R2, 0)
                .call_helper(CURRENT_TASK_UNDER_CGROUP)
                .jump_imm(JmpCond::Eq, Reg::R0, 0, self.allow);
        }
    }

    /// Allows, deciding nothing, unless the policy's gate holds this object's version: a
    /// version of a pinned policy that is staged or retired stays attached but inert. Both
    /// words are data sections, read through their addresses (no lookup, nothing that fails).
    ///
    /// The steady state reads one half word. The runtime keeps the version word's high half
    /// zero only while this version is armed and no other version of the policy is attached
    /// (runtime/src/pin.rs): it creates a staged version flagged, flags the version in force
    /// before it stages another or unloads it, and clears a version's flag once it is the
    /// only one. An unflagged program decides without reading the gate; a flagged one reads
    /// the gate as below.
    ///
    /// While a policy is replaced, two versions are attached to each hook, and the kernel
    /// runs the newer program first (`__bpf_trampoline_link_prog` in kernel/bpf/trampoline.c
    /// adds a link at the head of the hook's list). Each reads the gate itself, so when the
    /// commit falls between the two reads of one event, the staged program reads the old
    /// number and the retired one the new: neither would decide. The handover closes that
    /// gap. A staged program (the gate holds an older number) records what it read, under
    /// the thread's id; the retired program (the gate holds a newer number) decides when the
    /// newer program of the same event read its number; the armed program, flagged while
    /// another version is attached, takes the entry so that none outlives its event. An
    /// entry only ever holds a number the gate held before (the gate only moves forward
    /// during a replacement), so one left behind (a program in between refused the event,
    /// ending the list) errs towards the older version deciding once more, never towards no
    /// version deciding.
    fn version_gate(&mut self) {
        let (decide, disarmed, retired) = (
            self.asm.new_label(),
            self.asm.new_label(),
            self.asm.new_label(),
        );
        let key = self.layout.handover;
        let (entry, writer, read) = (key - 16, key - 16, key - 8);
        // The flag half (little endian: the word's high half is at +4).
        self.asm
            .ld_map_value(Reg::R1, VERSION_MAP, 0)
            .load(Size::W, Reg::R1, Reg::R1, 4)
            .jump_imm(JmpCond::Eq, Reg::R1, 0, decide);
        for (map, reg) in [(GATE_MAP, Reg::R7), (VERSION_MAP, Reg::R1)] {
            self.asm
                .ld_map_value(reg, map, 0)
                .load(Size::DW, reg, reg, 0);
        }
        // r7 = the gate, r1 = the version word, r2 = this version (a 32-bit move
        // zero-extends: the low half).
        self.asm.alu32_reg(AluOp::Mov, Reg::R2, Reg::R1).jump_reg(
            JmpCond::Ne,
            Reg::R7,
            Reg::R2,
            disarmed,
        );
        // Armed and flagged (another version is attached): first take the entry a newer
        // version's program left, staged, or the older one's would find, retired.
        self.handover_key(key);
        self.delete_handover(key);
        self.asm
            .jump(decide)
            .bind(disarmed)
            // Unloaded (or a new name not yet committed): no version decides.
            .jump_imm(JmpCond::Eq, Reg::R7, 0, self.allow)
            .store_reg(Size::DW, Reg::R10, writer, Reg::R2)
            .store_reg(Size::DW, Reg::R10, read, Reg::R7)
            .jump_reg(JmpCond::Gt, Reg::R7, Reg::R2, retired);
        // Staged: record the reading for the older program after this one. When it cannot
        // be recorded (the map is full), decide, as if armed: the event is never left to
        // no version.
        self.handover_key(key);
        self.asm
            .ld_map_fd(Reg::R1, HANDOVER_MAP)
            .mov64_reg(Reg::R2, Reg::R10)
            .alu64_imm(AluOp::Add, Reg::R2, i32::from(key))
            .mov64_reg(Reg::R3, Reg::R10)
            .alu64_imm(AluOp::Add, Reg::R3, i32::from(entry))
            .mov64_imm(Reg::R4, 0) // BPF_ANY
            .call_helper(MAP_UPDATE_ELEM)
            .jump_imm(JmpCond::Eq, Reg::R0, 0, self.allow)
            .jump(decide);
        // Retired: decide when this event's newer program read this version, and take its
        // entry either way. r7 = whether to decide (kept across the delete).
        self.asm.bind(retired);
        self.handover_key(key);
        let take = self.asm.new_label();
        self.asm
            .ld_map_fd(Reg::R1, HANDOVER_MAP)
            .mov64_reg(Reg::R2, Reg::R10)
            .alu64_imm(AluOp::Add, Reg::R2, i32::from(key))
            .call_helper(MAP_LOOKUP_ELEM)
            .jump_imm(JmpCond::Eq, Reg::R0, 0, self.allow)
            .mov64_imm(Reg::R7, 0)
            .load(Size::DW, Reg::R3, Reg::R0, 0)
            .load(Size::DW, Reg::R4, Reg::R0, 8)
            .load(Size::DW, Reg::R5, Reg::R10, writer)
            .jump_reg(JmpCond::Le, Reg::R3, Reg::R5, take)
            .jump_reg(JmpCond::Ne, Reg::R4, Reg::R5, take)
            .mov64_imm(Reg::R7, 1)
            .bind(take);
        self.delete_handover(key);
        self.asm
            .jump_imm(JmpCond::Eq, Reg::R7, 0, self.allow)
            .bind(decide);
    }

    /// The handover's key for this thread, at stack slot `key`.
    fn handover_key(&mut self, key: i16) {
        self.asm
            .call_helper(GET_CURRENT_PID_TGID)
            .store_reg(Size::DW, Reg::R10, key, Reg::R0);
    }

    /// Removes this thread's handover entry, if any (the key at stack slot `key`).
    fn delete_handover(&mut self, key: i16) {
        self.asm
            .ld_map_fd(Reg::R1, HANDOVER_MAP)
            .mov64_reg(Reg::R2, Reg::R10)
            .alu64_imm(AluOp::Add, Reg::R2, i32::from(key))
            .call_helper(MAP_DELETE_ELEM);
    }
}
