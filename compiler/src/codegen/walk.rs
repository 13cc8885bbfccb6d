//! Paths built by walking a tree up to its root: dentries and mounts, as the kernel's
//! `prepend_path` does, or kernfs nodes (a cgroup's path), as `kernfs_path_from_node` does.

use super::{offset, Buffer, ProgramGen, NAME_MAX, WALK_COMPONENTS, WALK_MOUNTS};

use crate::bpf::helper::{PROBE_READ_KERNEL, PROBE_READ_KERNEL_STR};
use crate::bpf::{AluOp, JmpCond, Label, Reg, Size};
use lang::checked::{Access, AccessBase, DentryWalk, KernfsWalk, PathWalk};
use lang::workload::Workload;

/// What a walk computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum WalkOutput {
    /// The path itself.
    Path,
    /// The container id or pod UID a kernfs path names (`lang::workload::Workload`): checked
    /// on every component as the walk reads it, nearest (innermost) first, and known exactly
    /// when the path is.
    Workload(Workload),
}

/// The dentry walk's state, in the scratch map at [`super::Layout::work`]: every variable the walk
/// keeps across a helper call lives in map memory, which the verifier does not track, so
/// that the states it compares at the loop's head differ only in the step counter (r9) and
/// the exits of every iteration reach the rest of the program in one state, pruned after the
/// first.
pub(super) mod work {
    /// Where the next name goes: the path is built backwards, from the end of the area.
    pub const POS: u32 = 0;
    /// Components prepended so far.
    pub const COUNT: u32 = 8;
    /// The current `struct dentry *` (for a kernfs walk, the current `struct kernfs_node *`).
    pub const DENTRY: u32 = 16;
    /// The current `struct mount *`.
    pub const MOUNT: u32 = 24;
    /// The current mount's root dentry.
    pub const ROOT: u32 = 32;
    /// The parent (dentry or mount) just read.
    pub const PARENT: u32 = 40;
    /// `d_name.name` of the current dentry.
    pub const NAME: u32 = 48;
    /// `d_name.len` of the current dentry.
    pub const LEN: u32 = 56;
    /// The walk's result: the path's length, or -1 when unknown. Every exit of the walk
    /// leaves it here and the value slot is filled from it in one place, so the verifier
    /// sees one state after the walk, not one per exit (which made every later walk and
    /// glob be verified once per earlier walk's outcome: 71k instructions for three walks
    /// on 6.1 instead of 20k).
    pub const RESULT: u32 = 64;
    /// The area the path is built in: `AREA_END` bytes, then room for one name past a
    /// masked position (the verifier knows positions only through the mask).
    pub const AREA: u32 = 72;
    /// Positions are masked with `AREA_END`: the string ends here and is at most this long.
    pub const AREA_END: u32 = super::super::STRING_CAP - 1;
    /// A kernfs walk's current name, read whole to learn its length (kernfs keeps none):
    /// room for `NAME_MAX` bytes, its NUL and one more, so that a longer name fills it and
    /// reads as too long.
    pub const KERNFS_NAME: u32 = AREA + super::super::STRING_CAP + super::super::NAME_MAX + 1;
    pub const KERNFS_NAME_CAP: u32 = super::super::NAME_MAX + 2;
    /// A workload id walk's result: the id found so far, and its length (0 until one is
    /// found). Room for the longest id, a container's.
    pub const ID: u32 = (KERNFS_NAME + KERNFS_NAME_CAP).div_ceil(8) * 8;
    pub const ID_LEN: u32 = ID + lang::workload::CONTAINER_ID_LEN as u32;
    /// Where the id starts in the name just read: the matching scheme's prefix length. Kept
    /// in map memory so that the id's check starts from one state whichever scheme matched.
    pub const ID_AT: u32 = ID_LEN + 8;
    /// The id of the name being checked, copied there as its characters are checked and to
    /// `ID` once all passed: an outermost id replaces the one found before only when it is
    /// one.
    pub const CANDIDATE: u32 = ID_AT + 8;
    pub const SIZE: u32 = CANDIDATE + lang::workload::CONTAINER_ID_LEN as u32;
    // The checker counts the area as WALK_AREA_BOUND when it refuses what does not fit.
    const _: () = assert!(SIZE <= lang::check::WALK_AREA_BOUND);
}

/// Masks the id's start in the name (`work::ID_AT`'s low byte) so the verifier can bound the
/// reads from it: the longest prefix is 23 bytes (`kubepods-besteffort-pod`).
const ID_AT_MASK: i32 = 31;

/// The high bit of every byte of a word.
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

impl ProgramGen<'_> {
    /// A walk: computes what `output` asks of the path `walk` leads to into buffer `b` and
    /// its length (or -1, unknown) into `slot`. The path is built backwards in the work area
    /// (positions masked so the verifier can bound the writes), then copied to the front of
    /// `b`. Uses r0–r5 and r9.
    pub(super) fn walk(
        &mut self,
        walk: &PathWalk,
        output: WalkOutput,
        area: u32,
        b: Buffer,
        slot: i16,
        unknown: Label,
    ) {
        let (done, empty, end) = (
            self.asm.new_label(),
            self.asm.new_label(),
            self.asm.new_label(),
        );
        match walk {
            PathWalk::Dentry(w) => self.dentry_steps(w, area, done, empty, unknown),
            PathWalk::Kernfs(w) => self.kernfs_steps(w, output, area, done, unknown),
        }
        self.asm.bind(done);
        match output {
            WalkOutput::Path => self.copy_path(area, b, end, unknown),
            WalkOutput::Workload(workload) => {
                self.copy_workload_id(workload, area, b, end, unknown)
            }
        }
        let at = |field: u32| offset(area + field);
        self.asm
            .bind(empty)
            .store_imm(Size::DW, Reg::R7, at(work::RESULT), 0)
            .jump(end)
            .bind(unknown)
            .store_imm(Size::DW, Reg::R7, at(work::RESULT), -1)
            .bind(end)
            .load(Size::DW, Reg::R1, Reg::R7, at(work::RESULT))
            .store_reg(Size::DW, Reg::R10, slot, Reg::R1);
    }

    /// The walk is done: the root alone is `/`; copy the path to the front of the buffer.
    fn copy_path(&mut self, area: u32, b: Buffer, end: Label, unknown: Label) {
        let copy = self.asm.new_label();
        let at = |field: u32| offset(area + field);
        self.asm
            .load(Size::DW, Reg::R1, Reg::R7, at(work::POS))
            .jump_imm(JmpCond::Ne, Reg::R1, work::AREA_END as i32, copy)
            .alu64_imm(AluOp::Sub, Reg::R1, 1)
            .store_reg(Size::DW, Reg::R7, at(work::POS), Reg::R1)
            .store_imm(
                Size::B,
                Reg::R7,
                offset(area + work::AREA + work::AREA_END - 1),
                i32::from(b'/'),
            )
            .bind(copy)
            .load(Size::DW, Reg::R1, Reg::R7, at(work::POS))
            .alu64_imm(AluOp::And, Reg::R1, work::AREA_END as i32)
            .mov64_imm(Reg::R2, work::AREA_END as i32)
            .alu64_reg(AluOp::Sub, Reg::R2, Reg::R1);
        if b.cap < work::AREA_END + 1 {
            // A buffer shorter than the work area (an ancestor's executable): a path that
            // does not fit it with its NUL is unknown, and the copy's size is bounded by it.
            self.asm
                .jump_imm(JmpCond::Ge, Reg::R2, b.cap as i32, unknown);
        }
        self.asm
            .store_reg(Size::DW, Reg::R7, at(work::RESULT), Reg::R2)
            .mov64_reg(Reg::R3, Reg::R7)
            .alu64_reg(AluOp::Add, Reg::R3, Reg::R1);
        self.add_offset(Reg::R3, area + work::AREA);
        self.asm.mov64_reg(Reg::R1, Reg::R7);
        self.add_offset(Reg::R1, b.offset);
        self.asm
            .call_helper(PROBE_READ_KERNEL)
            .jump_imm(JmpCond::Eq, Reg::R0, 0, end)
            .jump(unknown);
    }

    /// The walk is done: the id found on the way, or "" for none.
    fn copy_workload_id(
        &mut self,
        workload: Workload,
        area: u32,
        b: Buffer,
        end: Label,
        unknown: Label,
    ) {
        let at = |field: u32| offset(area + field);
        self.asm
            .load(Size::DW, Reg::R1, Reg::R7, at(work::ID_LEN))
            .store_reg(Size::DW, Reg::R7, at(work::RESULT), Reg::R1)
            .jump_imm(JmpCond::Eq, Reg::R1, 0, end)
            .mov64_reg(Reg::R1, Reg::R7);
        self.add_offset(Reg::R1, b.offset);
        self.asm
            .mov64_imm(Reg::R2, workload.id_len() as i32)
            .mov64_reg(Reg::R3, Reg::R7);
        self.add_offset(Reg::R3, area + work::ID);
        self.asm
            .call_helper(PROBE_READ_KERNEL)
            .jump_imm(JmpCond::Eq, Reg::R0, 0, end)
            .jump(unknown);
    }

    /// Whether the name just read (`work[LEN]` bytes at `work[KERNFS_NAME]`) holds an id of
    /// `workload`, as [`Workload::of_component`] says: if so the id goes to `work[ID]` (by way
    /// of `work[CANDIDATE]`) and its length to `work[ID_LEN]`. For an innermost id (a container's), a name is not looked at
    /// once the walk, which starts at the innermost, has found one; an outermost id (a pod's)
    /// is replaced by each one found further out. Uses r0–r5.
    ///
    /// The digits are checked eight at a time and without a branch (see [`Self::hex_digits`]):
    /// the checks are and-ed into r0, and one jump at the end decides. A branch per digit
    /// (64 of them, in a loop of 41 steps) left the verifier thousands of pending branches,
    /// and with other walks in one program 6.12 refused it ("the sequence of 8193 jumps is
    /// too complex"); a byte at a time without branches still cost 262,000 processed
    /// instructions on 6.12 for `container.id` alone.
    fn match_workload_id(&mut self, workload: Workload, area: u32) {
        let at = |field: u32| offset(area + field);
        let name = |i: usize| offset(area + work::KERNFS_NAME + i as u32);
        let (id, after) = (self.asm.new_label(), self.asm.new_label());
        if workload.innermost() {
            self.asm
                .load(Size::DW, Reg::R1, Reg::R7, at(work::ID_LEN))
                .jump_imm(JmpCond::Ne, Reg::R1, 0, after);
        }
        // Which scheme's prefix and suffix the name has: work[ID_AT] = where its id starts.
        for scheme in workload.schemes() {
            let next = self.asm.new_label();
            let total = scheme.prefix.len() + workload.id_len() + scheme.suffix.len();
            self.asm
                .load(Size::DW, Reg::R2, Reg::R7, at(work::LEN))
                .jump_imm(JmpCond::Ne, Reg::R2, total as i32, next);
            let suffix_at = scheme.prefix.len() + workload.id_len();
            let fixed = scheme.prefix.bytes().enumerate().chain(
                scheme
                    .suffix
                    .bytes()
                    .enumerate()
                    .map(|(j, c)| (suffix_at + j, c)),
            );
            for (i, c) in fixed {
                self.asm.load(Size::B, Reg::R1, Reg::R7, name(i)).jump_imm(
                    JmpCond::Ne,
                    Reg::R1,
                    i32::from(c),
                    next,
                );
            }
            // The separator goes with the id's start, above the prefix's length.
            debug_assert!(scheme.prefix.len() <= ID_AT_MASK as usize);
            let start = scheme.prefix.len() as i32 | (i32::from(scheme.separator) << 8);
            self.asm
                .store_imm(Size::DW, Reg::R7, at(work::ID_AT), start)
                .jump(id)
                .bind(next);
        }
        self.asm.jump(after);
        // The id's characters, eight at a time, each word copied as it is checked; r0
        // gathers the checks in the high bit of each byte.
        self.asm
            .bind(id)
            .load(Size::DW, Reg::R4, Reg::R7, at(work::ID_AT))
            .alu64_imm(AluOp::And, Reg::R4, ID_AT_MASK)
            .alu64_reg(AluOp::Add, Reg::R4, Reg::R7)
            .mov64_imm(Reg::R0, -1);
        let separators = workload.separators();
        let len = workload.id_len();
        for word in (0..len).step_by(8) {
            self.asm
                .load(Size::DW, Reg::R1, Reg::R4, name(word))
                .store_reg(
                    Size::DW,
                    Reg::R7,
                    at(work::CANDIDATE + word as u32),
                    Reg::R1,
                );
            self.hex_digits(Reg::R2, Reg::R1);
            // Bytes that are no digit (a separator, or past the id's end) pass here.
            let free = (0..8)
                .filter(|b| separators.contains(&(word + b)) || word + b >= len)
                .fold(0u64, |m, b| m | 0x80 << (8 * b));
            if free != 0 {
                self.asm
                    .ld_imm64(Reg::R3, free)
                    .alu64_reg(AluOp::Or, Reg::R2, Reg::R3);
            }
            self.asm.alu64_reg(AluOp::And, Reg::R0, Reg::R2);
        }
        self.asm
            .ld_imm64(Reg::R1, HIGH_BITS)
            .alu64_reg(AluOp::And, Reg::R0, Reg::R1)
            .alu64_reg(AluOp::Xor, Reg::R0, Reg::R1);
        // The separators, one byte each: (c ^ separator) is 0, and the value has `-` there.
        for &i in separators {
            self.asm
                .load(Size::B, Reg::R1, Reg::R4, name(i))
                .load(Size::DW, Reg::R2, Reg::R7, at(work::ID_AT))
                .alu64_imm(AluOp::Rsh, Reg::R2, 8)
                .alu64_reg(AluOp::Xor, Reg::R1, Reg::R2)
                .alu64_reg(AluOp::Or, Reg::R0, Reg::R1)
                .store_imm(
                    Size::B,
                    Reg::R7,
                    at(work::CANDIDATE + i as u32),
                    i32::from(b'-'),
                );
        }
        self.asm.jump_imm(JmpCond::Ne, Reg::R0, 0, after);
        for word in (0..len).step_by(8) {
            let word = word as u32;
            self.asm
                .load(Size::DW, Reg::R1, Reg::R7, at(work::CANDIDATE + word))
                .store_reg(Size::DW, Reg::R7, at(work::ID + word), Reg::R1);
        }
        self.asm
            .store_imm(Size::DW, Reg::R7, at(work::ID_LEN), len as i32)
            .bind(after);
    }

    /// `dst` = for each byte of the word in `w`, its high bit set exactly when the byte is a
    /// lowercase hexadecimal digit; uses r3 and r5. Bytes below 0x80 plus `0x80 - lo` reach
    /// the high bit exactly when they are `lo` or more, and no byte carries into the next; a
    /// byte of 0x80 or more may carry, but its own bit is cleared by the last step, which
    /// fails the word whatever its neighbours read.
    fn hex_digits(&mut self, dst: Reg, w: Reg) {
        let at_least = |lo: u8| u64::from(0x80 - lo) * 0x0101_0101_0101_0101;
        self.asm
            // '0' <= b <= '9'
            .ld_imm64(dst, at_least(b'0'))
            .alu64_reg(AluOp::Add, dst, w)
            .ld_imm64(Reg::R3, at_least(b'9' + 1))
            .alu64_reg(AluOp::Add, Reg::R3, w)
            .alu64_imm(AluOp::Xor, Reg::R3, -1)
            .alu64_reg(AluOp::And, dst, Reg::R3)
            // 'a' <= b <= 'f'
            .ld_imm64(Reg::R3, at_least(b'a'))
            .alu64_reg(AluOp::Add, Reg::R3, w)
            .ld_imm64(Reg::R5, at_least(b'f' + 1))
            .alu64_reg(AluOp::Add, Reg::R5, w)
            .alu64_imm(AluOp::Xor, Reg::R5, -1)
            .alu64_reg(AluOp::And, Reg::R3, Reg::R5)
            .alu64_reg(AluOp::Or, dst, Reg::R3)
            // and below 0x80
            .mov64_reg(Reg::R3, w)
            .alu64_imm(AluOp::Xor, Reg::R3, -1)
            .alu64_reg(AluOp::And, dst, Reg::R3);
    }

    /// The dentry walk's steps, up to `done` with the path in the work area.
    ///
    /// Like the kernel's `prepend_path` (fs/d_path.c): from the dentry, prepend `/name` and go
    /// to `d_parent` until the dentry is its mount's root (`vfsmount.mnt_root`); there, if the
    /// mount is its own parent (`mount.mnt_parent`) this is the root of the mount namespace
    /// and the walk is done, else continue from the mount point (`mount.mnt_mountpoint`) in
    /// the parent mount. Unlike `bpf_d_path` it does not stop at the process's root (chroot):
    /// the path is the one in the mount namespace. A dentry that is its own parent without
    /// being its mount's root (a tree cut off from its mount) makes the path unknown, as do a
    /// failed read, more than [`WALK_COMPONENTS`] names (`lang::limits::walk_components`:
    /// fewer in a short buffer), a name longer than `NAME_MAX`, more steps than that plus
    /// [`WALK_MOUNTS`], or a path of [`STRING_CAP`] bytes.
    /// A NULL dentry (no file) is the empty path (to `empty`).
    fn dentry_steps(
        &mut self,
        walk: &DentryWalk,
        area: u32,
        done: Label,
        empty: Label,
        unknown: Label,
    ) {
        let l = walk.layout;
        let components = lang::limits::walk_components(walk.cap) as u32;
        let (top, component) = (self.asm.new_label(), self.asm.new_label());
        let at = |field: u32| offset(area + field);
        // The start: the dentry and the vfsmount pointers. A NULL on the way (no file, no
        // mm) is the empty path for the dentry, unknown for the mount.
        self.read_start(&walk.dentry, area, work::DENTRY, empty, unknown);
        self.read_start(&walk.mnt, area, work::MOUNT, unknown, unknown);
        self.asm
            .load(Size::DW, Reg::R1, Reg::R7, at(work::MOUNT))
            // container_of(vfsmount, struct mount, mnt)
            .alu64_imm(AluOp::Sub, Reg::R1, l.mount_mnt as i32)
            .store_reg(Size::DW, Reg::R7, at(work::MOUNT), Reg::R1);
        self.read_pointer(
            area,
            work::ROOT,
            work::MOUNT,
            l.mount_mnt + l.mnt_root,
            unknown,
        );
        self.start_walk(area);

        self.asm
            .bind(top)
            .jump_imm(
                JmpCond::Ge,
                Reg::R9,
                (components + WALK_MOUNTS + 1) as i32,
                unknown,
            )
            .alu64_imm(AluOp::Add, Reg::R9, 1)
            .load(Size::DW, Reg::R1, Reg::R7, at(work::DENTRY))
            .load(Size::DW, Reg::R2, Reg::R7, at(work::ROOT))
            .jump_reg(JmpCond::Ne, Reg::R1, Reg::R2, component);
        // At the root of this mount: done at the namespace's root, else on to the mount point.
        self.read_pointer(area, work::PARENT, work::MOUNT, l.mnt_parent, unknown);
        self.asm
            .load(Size::DW, Reg::R1, Reg::R7, at(work::PARENT))
            .load(Size::DW, Reg::R2, Reg::R7, at(work::MOUNT))
            .jump_reg(JmpCond::Eq, Reg::R1, Reg::R2, done);
        self.read_pointer(area, work::DENTRY, work::MOUNT, l.mnt_mountpoint, unknown);
        self.asm
            .load(Size::DW, Reg::R1, Reg::R7, at(work::PARENT))
            .store_reg(Size::DW, Reg::R7, at(work::MOUNT), Reg::R1);
        self.read_pointer(
            area,
            work::ROOT,
            work::MOUNT,
            l.mount_mnt + l.mnt_root,
            unknown,
        );
        self.asm.jump(top);

        // A name: prepend `/name`, then on to the parent.
        self.asm.bind(component);
        self.read_pointer(area, work::PARENT, work::DENTRY, l.d_parent, unknown);
        self.asm
            .load(Size::DW, Reg::R1, Reg::R7, at(work::PARENT))
            .load(Size::DW, Reg::R2, Reg::R7, at(work::DENTRY))
            .jump_reg(JmpCond::Eq, Reg::R1, Reg::R2, unknown);
        self.count_component(area, components, unknown);
        self.asm.store_imm(Size::DW, Reg::R7, at(work::LEN), 0);
        self.read_field(area, work::LEN, 4, work::DENTRY, l.d_name_len, unknown);
        self.read_pointer(area, work::NAME, work::DENTRY, l.d_name_name, unknown);
        self.prepend_name(area, top, unknown);
    }

    /// The kernfs walk's steps, up to `done` with the path in the work area.
    ///
    /// Like the kernel's `kernfs_path_from_node` (fs/kernfs/dir.c) from the hierarchy's root:
    /// from the node, prepend `/name` and go to `parent` until a node has none (the root,
    /// whose own name is not part of the path). A NULL start node, a failed read, more than
    /// [`WALK_COMPONENTS`] names, a name longer than `NAME_MAX` or a path of [`STRING_CAP`]
    /// bytes make the path unknown: the loop takes at most [`WALK_COMPONENTS`]` + 1` steps,
    /// the last one finding the root.
    fn kernfs_steps(
        &mut self,
        walk: &KernfsWalk,
        output: WalkOutput,
        area: u32,
        done: Label,
        unknown: Label,
    ) {
        let l = walk.layout;
        let top = self.asm.new_label();
        let at = |field: u32| offset(area + field);
        self.read_start(&walk.node, area, work::DENTRY, unknown, unknown);
        self.start_walk(area);
        if let WalkOutput::Workload(_) = output {
            self.asm.store_imm(Size::DW, Reg::R7, at(work::ID_LEN), 0);
        }
        self.asm
            .bind(top)
            .jump_imm(JmpCond::Ge, Reg::R9, (WALK_COMPONENTS + 1) as i32, unknown)
            .alu64_imm(AluOp::Add, Reg::R9, 1);
        self.read_pointer(area, work::PARENT, work::DENTRY, l.parent, unknown);
        self.asm
            .load(Size::DW, Reg::R1, Reg::R7, at(work::PARENT))
            .jump_imm(JmpCond::Eq, Reg::R1, 0, done);
        self.count_component(area, WALK_COMPONENTS, unknown);
        self.read_pointer(area, work::NAME, work::DENTRY, l.name, unknown);
        // kernfs keeps no name length: read the name once to learn it (the helper returns
        // the bytes copied with the NUL), then prepend it like a dentry's.
        self.asm.mov64_reg(Reg::R1, Reg::R7);
        self.add_offset(Reg::R1, area + work::KERNFS_NAME);
        self.asm
            .mov64_imm(Reg::R2, work::KERNFS_NAME_CAP as i32)
            .load(Size::DW, Reg::R3, Reg::R7, at(work::NAME))
            .call_helper(PROBE_READ_KERNEL_STR)
            .jump_imm(JmpCond::Sle, Reg::R0, 0, unknown)
            .alu64_imm(AluOp::Sub, Reg::R0, 1)
            .store_reg(Size::DW, Reg::R7, at(work::LEN), Reg::R0);
        if let WalkOutput::Workload(workload) = output {
            self.match_workload_id(workload, area);
        }
        self.prepend_name(area, top, unknown);
    }

    /// Sets up the path's building: an empty path at the area's end, no component yet, step
    /// counter (r9) 0.
    fn start_walk(&mut self, area: u32) {
        let at = |field: u32| offset(area + field);
        self.asm
            .mov64_imm(Reg::R1, work::AREA_END as i32)
            .store_reg(Size::DW, Reg::R7, at(work::POS), Reg::R1)
            .store_imm(Size::DW, Reg::R7, at(work::COUNT), 0)
            .mov64_imm(Reg::R9, 0);
    }

    /// Counts one more component; past `components` the path is unknown.
    fn count_component(&mut self, area: u32, components: u32, unknown: Label) {
        let at = |field: u32| offset(area + field);
        self.asm
            .load(Size::DW, Reg::R1, Reg::R7, at(work::COUNT))
            .alu64_imm(AluOp::Add, Reg::R1, 1)
            .store_reg(Size::DW, Reg::R7, at(work::COUNT), Reg::R1)
            .jump_imm(JmpCond::Gt, Reg::R1, components as i32, unknown);
    }

    /// Prepends `/` and the `work[LEN]` bytes `work[NAME]` points to, then makes the parent
    /// (`work[PARENT]`) the current node and goes back to `top`. A name longer than
    /// `NAME_MAX` or one that does not fit before the path makes it unknown.
    fn prepend_name(&mut self, area: u32, top: Label, unknown: Label) {
        let at = |field: u32| offset(area + field);
        self.asm
            .load(Size::DW, Reg::R2, Reg::R7, at(work::LEN))
            .jump_imm(JmpCond::Gt, Reg::R2, NAME_MAX as i32, unknown)
            .load(Size::DW, Reg::R1, Reg::R7, at(work::POS))
            // Room for the name and its `/`: pos > len. (Comparing with a register derived
            // from r2 would link the two, and 6.12 then loses r2's bounds.)
            .jump_reg(JmpCond::Le, Reg::R1, Reg::R2, unknown)
            .alu64_reg(AluOp::Sub, Reg::R1, Reg::R2)
            .store_reg(Size::DW, Reg::R7, at(work::POS), Reg::R1)
            .alu64_imm(AluOp::And, Reg::R1, work::AREA_END as i32)
            .alu64_reg(AluOp::Add, Reg::R1, Reg::R7);
        self.add_offset(Reg::R1, area + work::AREA);
        self.asm
            // A no-op (len <= NAME_MAX) that hands the helper a size bounded by itself.
            .alu64_imm(AluOp::And, Reg::R2, NAME_MAX as i32)
            .load(Size::DW, Reg::R3, Reg::R7, at(work::NAME))
            .call_helper(PROBE_READ_KERNEL)
            .jump_imm(JmpCond::Ne, Reg::R0, 0, unknown)
            .load(Size::DW, Reg::R1, Reg::R7, at(work::POS))
            .alu64_imm(AluOp::Sub, Reg::R1, 1)
            .store_reg(Size::DW, Reg::R7, at(work::POS), Reg::R1)
            .alu64_imm(AluOp::And, Reg::R1, work::AREA_END as i32)
            .alu64_reg(AluOp::Add, Reg::R1, Reg::R7)
            .store_imm(Size::B, Reg::R1, offset(area + work::AREA), i32::from(b'/'))
            .load(Size::DW, Reg::R1, Reg::R7, at(work::PARENT))
            .store_reg(Size::DW, Reg::R7, at(work::DENTRY), Reg::R1)
            .jump(top);
    }

    /// `work[into]` = the pointer `access` leads to, every hop but the hook argument itself
    /// read with `bpf_probe_read_kernel` after a NULL check (to `null`; a fault goes to
    /// `failed`). Not direct loads: 6.12 takes an LSM hook's pointer arguments for trusted
    /// and never NULL, so it compiles loads through them without the fault handling, and
    /// hard-wires a NULL check on them as never taken — but `mmap_file` gets a NULL `file`
    /// for anonymous memory (a direct load oopsed a 6.12 guest). Stored to map memory and
    /// loaded back, the pointer is a plain number the verifier lets the program test.
    fn read_start(&mut self, access: &Access, area: u32, into: u32, null: Label, failed: Label) {
        let slot = offset(area + into);
        let mut hops: Vec<u32> = access.derefs.clone();
        match access.base {
            AccessBase::Context => {
                // The argument itself is the pointer.
                self.asm
                    .load(Size::DW, Reg::R1, Reg::R6, offset(access.offset));
            }
            _ => {
                self.pointer_to(
                    &Access {
                        base: access.base,
                        derefs: Vec::new(),
                        offset: 0,
                        size: 8,
                        index: None,
                    },
                    Reg::R1,
                );
                hops.push(access.offset);
            }
        }
        self.asm.store_reg(Size::DW, Reg::R7, slot, Reg::R1);
        for hop in hops {
            self.asm
                .load(Size::DW, Reg::R3, Reg::R7, slot)
                .jump_imm(JmpCond::Eq, Reg::R3, 0, null)
                .mov64_reg(Reg::R1, Reg::R7);
            self.add_offset(Reg::R1, area + into);
            self.add_offset(Reg::R3, hop);
            self.asm
                .mov64_imm(Reg::R2, 8)
                .call_helper(PROBE_READ_KERNEL)
                .jump_imm(JmpCond::Ne, Reg::R0, 0, failed);
        }
        self.asm
            .load(Size::DW, Reg::R1, Reg::R7, slot)
            .jump_imm(JmpCond::Eq, Reg::R1, 0, null);
    }

    /// `work[into] = *(u64 *)(work[from] + at)` with `bpf_probe_read_kernel`; a fault goes to
    /// `failed`.
    fn read_pointer(&mut self, area: u32, into: u32, from: u32, at: u32, failed: Label) {
        self.read_field(area, into, 8, from, at, failed);
    }

    /// Reads `size` bytes at `work[from] + at` into `work[into]`.
    fn read_field(&mut self, area: u32, into: u32, size: u32, from: u32, at: u32, failed: Label) {
        self.asm.mov64_reg(Reg::R1, Reg::R7);
        self.add_offset(Reg::R1, area + into);
        self.asm.mov64_imm(Reg::R2, size as i32).load(
            Size::DW,
            Reg::R3,
            Reg::R7,
            offset(area + from),
        );
        self.add_offset(Reg::R3, at);
        self.asm
            .call_helper(PROBE_READ_KERNEL)
            .jump_imm(JmpCond::Ne, Reg::R0, 0, failed);
    }
}
