//! Codegen: each IR program becomes one specialized LSM program.
//!
//! Shape of every program:
//!
//! ```text
//!   r6 = ctx
//!   [scope]    current_task_under_cgroup(krsi_scope, 0) != 1  → allow
//!   [scratch]  r7 = lookup(krsi_scratch, 0)                   (string buffers)
//!   values     each value the rules read, computed once, kept in a stack slot
//!   allow      rules in order: a match → allow
//!   deny       rules in order: the first match → return -errno
//!   allow:     return 0
//! ```
//!
//! Conditions compile to branches with short-circuit evaluation. Strings are compared as
//! 8-byte words (KERNEL.md: a byte-by-byte unrolled compare hit the verifier's complexity limit).
//! A glob compares its literal prefix as words, then runs the rest as a position-set automaton:
//! one bit per pattern position in a register, stepped per byte with branch-free arithmetic so
//! that the verifier walks each loop iteration once instead of once per path through it.

use crate::bpf::{AluOp, Assembler, ByteOrder, Code, EncodeError, JmpCond, Label, Reg, Size};
use crate::elf::{MapSpec, ObjectSpec, ProgramSpec};
use crate::ir::{Cond, Mode, Module, Pred, Program, Rule, Scope, ValueId, ValueKind};
use crate::report::{
    self as events, RecordLayout, ADDR_ABSENT, ADDR_UNKNOWN, ADDR_V4, ADDR_V6, DROPS_MAP,
    EVENTS_MAP, EVENTS_RING_BYTES, PORT_ABSENT, PORT_UNKNOWN,
};
use lang::checked::ParentAccess;
use lang::checked::{Access, AccessBase, Endpoint, IntOp, PathWalk};
use lang::glob::Token;
use lang::limits;
use std::collections::BTreeMap;
use std::fmt;

/// Per-CPU scratch space for strings (too large for the 512-byte BPF stack).
pub const SCRATCH_MAP: &str = "krsi_scratch";
/// The cgroup a scoped policy applies to (index 0 of a `BPF_MAP_TYPE_CGROUP_ARRAY`).
pub const SCOPE_MAP: &str = "krsi_scope";
// The fail-closed limits, as 32-bit immediates: defined once in `lang::limits`, where the
// reference evaluator reads them too (each is at most a few thousand, so the narrowing is exact).
const STRING_CAP: u32 = limits::STRING_CAP as u32;
const GLOB_SCAN_LIMIT: u32 = limits::GLOB_SCAN_LIMIT as u32;
const WALK_COMPONENTS: u32 = limits::WALK_COMPONENTS as u32;
const WALK_MOUNTS: u32 = limits::WALK_MOUNTS as u32;
const NAME_MAX: u32 = limits::NAME_MAX as u32;

/// The dentry walk's state, in the scratch map at [`Layout::work`]: every variable the walk
/// keeps across a helper call lives in map memory, which the verifier does not track, so
/// that the states it compares at the loop's head differ only in the step counter (r9) and
/// the exits of every iteration reach the rest of the program in one state, pruned after the
/// first.
mod work {
    /// Where the next name goes: the path is built backwards, from the end of the area.
    pub const POS: u32 = 0;
    /// Components prepended so far.
    pub const COUNT: u32 = 8;
    /// The current `struct dentry *`.
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
    pub const AREA_END: u32 = super::STRING_CAP - 1;
    pub const SIZE: u32 = AREA + super::STRING_CAP + super::NAME_MAX + 1;
}

use crate::bpf::helper::{
    CURRENT_TASK_UNDER_CGROUP, D_PATH, GET_CURRENT_COMM, GET_CURRENT_PID_TGID,
    GET_CURRENT_TASK_BTF, GET_CURRENT_UID_GID, KTIME_GET_NS, MAP_LOOKUP_ELEM, PROBE_READ_KERNEL,
    PROBE_READ_KERNEL_STR, RINGBUF_RESERVE, RINGBUF_SUBMIT,
};
use crate::bpf::map_type::{
    CGROUP_ARRAY as BPF_MAP_TYPE_CGROUP_ARRAY, PERCPU_ARRAY as BPF_MAP_TYPE_PERCPU_ARRAY,
    RINGBUF as BPF_MAP_TYPE_RINGBUF,
};

/// The stack slot holding the zero key for map lookups.
const KEY_SLOT: i16 = -8;
/// Stack slots for values start below the key.
const FIRST_VALUE_SLOT: i16 = -16;

/// `AF_INET` and `AF_INET6` (include/linux/socket.h), the families with ports and addresses.
const AF_INET: i32 = 2;
const AF_INET6: i32 = 10;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CodegenError {
    Encode {
        program: String,
        error: EncodeError,
    },
    /// More values than fit the BPF stack.
    /// A struct member, scratch buffer or report field beyond the 16-bit offset of a BPF load
    /// or store.
    OffsetTooLarge {
        program: String,
        offset: u32,
    },
    TooManyValues {
        program: String,
    },
}

impl fmt::Display for CodegenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodegenError::Encode { program, error } => write!(f, "program `{program}`: {error}"),
            CodegenError::OffsetTooLarge { program, offset } => write!(
                f,
                "program `{program}` needs a memory offset of {offset}, beyond the 32,767 a BPF load or store reaches"
            ),
            CodegenError::TooManyValues { program } => {
                write!(
                    f,
                    "program `{program}` reads more attributes than fit the BPF stack"
                )
            }
        }
    }
}

impl std::error::Error for CodegenError {}

pub fn codegen(module: &Module) -> Result<ObjectSpec, CodegenError> {
    let mut programs = Vec::new();
    let mut scratch_size = 0;
    for program in &module.programs {
        let layout = Layout::new(program)?;
        check_offsets(program, &layout, module)?;
        scratch_size = scratch_size.max(layout.scratch_size);
        let code = ProgramGen::new(program, &layout, module)
            .emit()
            .map_err(|error| CodegenError::Encode {
                program: program.event.to_string(),
                error,
            })?;
        programs.push(ProgramSpec {
            symbol: program.symbol(),
            section: format!("lsm/{}", program.hook),
            code,
        });
    }
    let mut maps = Vec::new();
    if !module.programs.is_empty() {
        // Every program reports: deny rules report what they deny, audit rules what they see.
        maps.push(MapSpec {
            symbol: EVENTS_MAP.to_string(),
            map_type: BPF_MAP_TYPE_RINGBUF,
            key_size: 0,
            value_size: 0,
            max_entries: EVENTS_RING_BYTES,
            flags: 0,
        });
        maps.push(MapSpec {
            symbol: DROPS_MAP.to_string(),
            map_type: BPF_MAP_TYPE_PERCPU_ARRAY,
            key_size: 4,
            value_size: 8,
            max_entries: 2,
            flags: 0,
        });
        let rules = module
            .programs
            .iter()
            .flat_map(|p| p.deny.iter().chain(&p.audit))
            .map(|r| r.index + 1)
            .max()
            .unwrap_or(1);
        maps.push(MapSpec {
            symbol: events::RATE_MAP.to_string(),
            map_type: BPF_MAP_TYPE_PERCPU_ARRAY,
            key_size: 4,
            value_size: 16,
            max_entries: rules,
            flags: 0,
        });
    }
    if scratch_size > 0 {
        maps.push(MapSpec {
            symbol: SCRATCH_MAP.to_string(),
            map_type: BPF_MAP_TYPE_PERCPU_ARRAY,
            key_size: 4,
            value_size: scratch_size,
            max_entries: 1,
            flags: 0,
        });
    }
    if module.scope == Scope::Cgroup {
        maps.push(MapSpec {
            symbol: SCOPE_MAP.to_string(),
            map_type: BPF_MAP_TYPE_CGROUP_ARRAY,
            key_size: 4,
            value_size: 4,
            max_entries: 1,
            flags: 0,
        });
    }
    Ok(ObjectSpec {
        programs,
        maps,
        license: "GPL".to_string(),
    })
}

/// Where each value lives: a stack slot for integers, flags and string lengths; a scratch
/// buffer for string bytes.
struct Layout {
    slots: Vec<i16>,
    buffers: Vec<Option<Buffer>>,
    scratch_size: u32,
    /// The dentry walk's state and work area (see [`work`]), shared by every walked value.
    work: Option<u32>,
}

#[derive(Clone, Copy)]
struct Buffer {
    offset: u32,
    cap: u32,
    /// NUL padded to `cap` (comm) rather than counted by a length in the slot.
    padded: bool,
}

impl Layout {
    fn new(program: &Program) -> Result<Layout, CodegenError> {
        let mut slots = Vec::new();
        let mut buffers = Vec::new();
        let mut scratch_size = 0u32;
        for (i, value) in program.values.iter().enumerate() {
            let slot = i32::from(FIRST_VALUE_SLOT) - 8 * i as i32;
            if slot < -512 {
                return Err(CodegenError::TooManyValues {
                    program: program.event.to_string(),
                });
            }
            slots.push(slot as i16);
            let buffer = match value.kind.layout_kind() {
                ValueKind::ResolvedPath(_)
                | ValueKind::KernelString(_)
                | ValueKind::WalkedPath(_) => Some((STRING_CAP, false)),
                ValueKind::Comm => Some((16, true)),
                ValueKind::Chars(access) => Some((access.size.div_ceil(8) * 8, true)),
                ValueKind::Addr(_) => Some((16, false)),
                _ => None,
            };
            buffers.push(buffer.map(|(cap, padded)| {
                let b = Buffer {
                    offset: scratch_size,
                    cap,
                    padded,
                };
                scratch_size += cap;
                b
            }));
        }
        let work = program
            .values
            .iter()
            .any(|v| matches!(v.kind, ValueKind::WalkedPath(_)))
            .then(|| {
                let at = scratch_size;
                scratch_size += work::SIZE;
                at
            });
        Ok(Layout {
            slots,
            buffers,
            scratch_size,
            work,
        })
    }
}

struct ProgramGen<'a> {
    program: &'a Program,
    layout: &'a Layout,
    scope: Scope,
    mode: Mode,
    parent: Option<&'a ParentAccess>,
    report_rate: u32,
    record: RecordLayout,
    asm: Assembler,
}

impl<'a> ProgramGen<'a> {
    fn new(program: &'a Program, layout: &'a Layout, module: &'a Module) -> Self {
        ProgramGen {
            program,
            layout,
            scope: module.scope,
            mode: module.mode,
            parent: module.parent.as_ref(),
            report_rate: module.report_rate.min(i32::MAX as u32),
            record: events::layout(program),
            asm: Assembler::with_branch_simplification(),
        }
    }

    fn emit(mut self) -> Result<Code, EncodeError> {
        let allow = self.asm.new_label();
        let fail_closed = self.asm.new_label();
        self.asm.mov64_reg(Reg::R6, Reg::R1);
        if let Some((access, value)) = &self.program.guard {
            // Another use of a shared hook (kernel_read_file of firmware): not this event.
            self.load_field(access, Reg::R1);
            self.load_constant(Reg::R2, *value);
            self.asm.jump_reg(JmpCond::Ne, Reg::R1, Reg::R2, allow);
        }
        if self.scope == Scope::Cgroup {
            // 1: in the cgroup or below; 0: not; negative: the map is empty (never, the runtime
            // fills it before attaching).
            self.asm
                .ld_map_fd(Reg::R1, SCOPE_MAP)
                .mov64_imm(Reg::R2, 0)
                .call_helper(CURRENT_TASK_UNDER_CGROUP)
                .jump_imm(JmpCond::Ne, Reg::R0, 1, allow);
        }
        if self.layout.scratch_size > 0 {
            self.asm
                .store_imm(Size::W, Reg::R10, KEY_SLOT, 0)
                .mov64_reg(Reg::R2, Reg::R10)
                .alu64_imm(AluOp::Add, Reg::R2, i32::from(KEY_SLOT))
                .ld_map_fd(Reg::R1, SCRATCH_MAP)
                .call_helper(MAP_LOOKUP_ELEM)
                .jump_imm(JmpCond::Eq, Reg::R0, 0, fail_closed)
                .mov64_reg(Reg::R7, Reg::R0);
        }
        self.values();
        // Audit rules report whatever the decision will be.
        for rule in &self.program.audit {
            let (report, next) = (self.asm.new_label(), self.asm.new_label());
            self.asm.set_origin(Some(rule.index));
            self.cond(&rule.cond, report, next);
            self.asm.bind(report);
            self.report(rule, events::FLAG_AUDIT);
            self.asm.bind(next);
        }
        for rule in &self.program.allow {
            let next = self.asm.new_label();
            self.asm.set_origin(Some(rule.index));
            self.cond(&rule.cond, allow, next);
            self.asm.bind(next);
        }
        for rule in &self.program.deny {
            let (deny, next) = (self.asm.new_label(), self.asm.new_label());
            self.asm.set_origin(Some(rule.index));
            self.cond(&rule.cond, deny, next);
            self.asm.bind(deny);
            match self.mode {
                Mode::Enforce => {
                    self.report(rule, events::FLAG_DENIED);
                    self.asm.mov64_imm(Reg::R0, -rule.errno).exit();
                }
                Mode::Audit => {
                    self.report(rule, events::FLAG_WOULD_DENY);
                    self.asm.mov64_imm(Reg::R0, 0).exit();
                }
            }
            self.asm.bind(next);
        }
        self.asm.set_origin(None);
        self.asm.bind(allow).mov64_imm(Reg::R0, 0).exit();
        // The per-CPU scratch lookup cannot fail for index 0, but the verifier wants the
        // check; if it ever did fail, nothing could be evaluated, so deny — unless nothing
        // here may deny (only audit rules, or audit mode).
        let errno = match (self.mode, self.program.deny.first()) {
            (Mode::Enforce, Some(rule)) => rule.errno,
            _ => 0,
        };
        self.asm.bind(fail_closed).mov64_imm(Reg::R0, -errno).exit();
        self.asm.finish()
    }

    /// The prologue: compute every value once.
    fn values(&mut self) {
        let kinds: Vec<&ValueKind> = self.program.values.iter().map(|v| &v.kind).collect();
        let slot_of = |want: &ValueKind| kinds.iter().position(|k| *k == want);
        // One helper call serves both halves.
        for (pair, helper) in [
            ((ValueKind::Uid, ValueKind::Gid), GET_CURRENT_UID_GID),
            ((ValueKind::Pid, ValueKind::Tgid), GET_CURRENT_PID_TGID),
        ] {
            let (lo, hi) = (slot_of(&pair.0), slot_of(&pair.1));
            if lo.is_none() && hi.is_none() {
                continue;
            }
            let positions: Vec<usize> = lo.into_iter().chain(hi).collect();
            self.asm.set_origin(self.first_reader(&positions));
            self.asm.call_helper(helper);
            if let Some(i) = lo {
                // A 32-bit move zero-extends: the low half.
                self.asm.alu32_reg(AluOp::Mov, Reg::R1, Reg::R0).store_reg(
                    Size::DW,
                    Reg::R10,
                    self.layout.slots[i],
                    Reg::R1,
                );
            }
            if let Some(i) = hi {
                self.asm.alu64_imm(AluOp::Rsh, Reg::R0, 32).store_reg(
                    Size::DW,
                    Reg::R10,
                    self.layout.slots[i],
                    Reg::R0,
                );
            }
        }
        for (i, kind) in kinds.iter().enumerate() {
            // A rejection in this code is told on the first rule that reads the value.
            self.asm.set_origin(self.first_reader(&[i]));
            let slot = self.layout.slots[i];
            let buffer = self.layout.buffers[i];
            match (kind, buffer) {
                (ValueKind::Field(access), _) if access.base == AccessBase::Context => {
                    self.load_field(access, Reg::R1);
                    self.asm.store_reg(Size::DW, Reg::R10, slot, Reg::R1);
                }
                (ValueKind::Field(access), _) => {
                    // A NULL pointer on the way reads as 0, as a faulting load through a
                    // kernel pointer does.
                    let (null, done) = (self.asm.new_label(), self.asm.new_label());
                    self.pointer_to_checked(access, Reg::R1, null);
                    self.asm
                        .load(
                            size_of(access.size),
                            Reg::R1,
                            Reg::R1,
                            offset(access.offset),
                        )
                        .store_reg(Size::DW, Reg::R10, slot, Reg::R1)
                        .jump(done)
                        .bind(null)
                        .store_imm(Size::DW, Reg::R10, slot, 0)
                        .bind(done);
                }
                (ValueKind::Flag { access, mask }, _) => {
                    self.load_field(access, Reg::R1);
                    self.load_constant(Reg::R2, *mask);
                    self.asm.alu64_reg(AluOp::And, Reg::R1, Reg::R2).store_reg(
                        Size::DW,
                        Reg::R10,
                        slot,
                        Reg::R1,
                    );
                }
                (ValueKind::ResolvedPath(access), Some(b)) => {
                    // bpf_d_path(&<struct path>, buf, size): the length with the NUL, or a
                    // negative error (-ENAMETOOLONG when the buffer is too small).
                    self.pointer_to(access, Reg::R1);
                    self.add_offset(Reg::R1, access.offset);
                    self.asm.mov64_reg(Reg::R2, Reg::R7);
                    self.add_offset(Reg::R2, b.offset);
                    self.asm
                        .mov64_imm(Reg::R3, b.cap as i32)
                        .call_helper(D_PATH);
                    self.store_length(slot, b.cap, false);
                }
                (ValueKind::KernelString(access), Some(b)) => {
                    self.pointer_to(access, Reg::R3);
                    self.asm
                        .load(Size::DW, Reg::R3, Reg::R3, offset(access.offset));
                    self.asm.mov64_reg(Reg::R1, Reg::R7);
                    self.add_offset(Reg::R1, b.offset);
                    self.asm
                        .mov64_imm(Reg::R2, b.cap as i32)
                        .call_helper(PROBE_READ_KERNEL_STR);
                    // A full buffer may be a truncated string: unknown.
                    self.store_length(slot, b.cap, true);
                }
                (ValueKind::Comm, Some(b)) => {
                    // 6.1's bpf_get_current_comm copies with strscpy, which does not pad:
                    // the bytes after the NUL would be the last event's (found by a guest
                    // test on 6.1; 6.12 pads). Zero the buffer first, for word compares.
                    for at in (0..b.cap).step_by(8) {
                        self.asm
                            .store_imm(Size::DW, Reg::R7, offset(b.offset + at), 0);
                    }
                    self.asm.mov64_reg(Reg::R1, Reg::R7);
                    self.add_offset(Reg::R1, b.offset);
                    self.asm
                        .mov64_imm(Reg::R2, b.cap as i32)
                        .call_helper(GET_CURRENT_COMM);
                }
                (ValueKind::Chars(access), Some(b)) => {
                    self.pointer_to(access, Reg::R3);
                    self.add_offset(Reg::R3, access.offset);
                    self.asm.mov64_reg(Reg::R1, Reg::R7);
                    self.add_offset(Reg::R1, b.offset);
                    self.asm
                        .mov64_imm(Reg::R2, access.size as i32)
                        .call_helper(PROBE_READ_KERNEL);
                    // Bytes between the array's end and the 8-byte-rounded buffer stay as the
                    // last event left them; zero them so word compares see padding.
                    let mut at = access.size;
                    while at < b.cap {
                        self.asm.mov64_reg(Reg::R1, Reg::R7).store_imm(
                            Size::B,
                            Reg::R1,
                            offset(b.offset + at),
                            0,
                        );
                        at += 1;
                    }
                }
                (ValueKind::WalkedPath(walk), Some(b)) => {
                    if let Some(area) = self.layout.work {
                        self.walk(walk, area, b, slot);
                    }
                }
                (ValueKind::Port(endpoint), _) => self.port(endpoint, slot),
                // Never computed: -1 reads as an unknown length or an out-of-range port,
                // and no test reads it (lowering made each test on it false).
                (ValueKind::Absent(_), _) => {
                    self.asm.store_imm(Size::DW, Reg::R10, slot, -1);
                }
                (ValueKind::Const(value), _) => {
                    self.load_constant(Reg::R1, *value);
                    self.asm.store_reg(Size::DW, Reg::R10, slot, Reg::R1);
                }
                (ValueKind::Addr(endpoint), Some(b)) => self.address(endpoint, slot, b),
                // Helper-pair values were stored above; strings always have a buffer.
                _ => {}
            }
        }
        self.asm.set_origin(None);
    }

    /// The first rule, in source order, that reads any of the values at `positions`.
    fn first_reader(&self, positions: &[usize]) -> Option<u32> {
        let program = self.program;
        program
            .audit
            .iter()
            .chain(&program.allow)
            .chain(&program.deny)
            .filter(|rule| {
                let read = rule.cond.values();
                positions.iter().any(|&i| read.contains(&ValueId(i as u32)))
            })
            .map(|rule| rule.index)
            .min()
    }

    /// `r9` = the start of the object holding `endpoint`; `r1` = its family, 0 when a
    /// pointer on the way is NULL (a socket without `sk`). Clobbers r0–r5.
    fn endpoint_family(&mut self, endpoint: &Endpoint) {
        let (null, done) = (self.asm.new_label(), self.asm.new_label());
        self.pointer_to_checked(&endpoint.object, Reg::R9, null);
        self.add_offset(Reg::R9, endpoint.object.offset);
        // A direct load: the family is a 2-byte member of the typed object.
        self.asm
            .load(Size::H, Reg::R1, Reg::R9, offset(endpoint.family))
            .jump(done)
            .bind(null)
            .mov64_imm(Reg::R1, 0)
            .bind(done);
    }

    /// The port in `slot`, host byte order, or [`PORT_ABSENT`] / [`PORT_UNKNOWN`]. The port
    /// is copied with `bpf_probe_read_kernel`: in a `struct sockaddr` it lies inside
    /// `sa_data`, where typed loads are not allowed.
    fn port(&mut self, endpoint: &Endpoint, slot: i16) {
        let (v4, v6, read, done) = (
            self.asm.new_label(),
            self.asm.new_label(),
            self.asm.new_label(),
            self.asm.new_label(),
        );
        self.endpoint_family(endpoint);
        self.asm
            .jump_imm(JmpCond::Eq, Reg::R1, AF_INET, v4)
            .jump_imm(JmpCond::Eq, Reg::R1, AF_INET6, v6)
            .store_imm(Size::DW, Reg::R10, slot, PORT_ABSENT)
            .jump(done)
            .bind(v4)
            .mov64_reg(Reg::R3, Reg::R9);
        self.add_offset(Reg::R3, endpoint.v4_port);
        self.asm.jump(read).bind(v6).mov64_reg(Reg::R3, Reg::R9);
        self.add_offset(Reg::R3, endpoint.v6_port);
        self.asm
            .bind(read)
            .store_imm(Size::DW, Reg::R10, slot, 0)
            .mov64_reg(Reg::R1, Reg::R10)
            .alu64_imm(AluOp::Add, Reg::R1, i32::from(slot))
            .mov64_imm(Reg::R2, 2)
            .call_helper(PROBE_READ_KERNEL);
        let fault = self.asm.new_label();
        self.asm
            .jump_imm(JmpCond::Ne, Reg::R0, 0, fault)
            .load(Size::H, Reg::R1, Reg::R10, slot);
        if endpoint.port_network_order {
            self.asm.endian(ByteOrder::Be, Reg::R1, Size::H);
        }
        self.asm
            .store_reg(Size::DW, Reg::R10, slot, Reg::R1)
            .jump(done)
            .bind(fault)
            .store_imm(Size::DW, Reg::R10, slot, PORT_UNKNOWN)
            .bind(done);
    }

    /// The address's 16 bytes in buffer `b` (an IPv4 address in the first 4, the rest zero)
    /// and its kind in `slot`: [`ADDR_V4`], [`ADDR_V6`], [`ADDR_ABSENT`], [`ADDR_UNKNOWN`].
    /// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) becomes its IPv4 address, so one rule
    /// covers both ways of reaching an IPv4 peer.
    fn address(&mut self, endpoint: &Endpoint, slot: i16, b: Buffer) {
        let (v4, v6, fault, done) = (
            self.asm.new_label(),
            self.asm.new_label(),
            self.asm.new_label(),
            self.asm.new_label(),
        );
        self.endpoint_family(endpoint);
        self.asm
            .store_imm(Size::DW, Reg::R7, offset(b.offset), 0)
            .store_imm(Size::DW, Reg::R7, offset(b.offset + 8), 0)
            .jump_imm(JmpCond::Eq, Reg::R1, AF_INET, v4)
            .jump_imm(JmpCond::Eq, Reg::R1, AF_INET6, v6)
            .store_imm(Size::DW, Reg::R10, slot, ADDR_ABSENT)
            .jump(done);
        for (label, at, len, kind) in [
            (v4, endpoint.v4_addr, 4, ADDR_V4),
            (v6, endpoint.v6_addr, 16, ADDR_V6),
        ] {
            self.asm.bind(label).mov64_reg(Reg::R3, Reg::R9);
            self.add_offset(Reg::R3, at);
            self.asm.mov64_reg(Reg::R1, Reg::R7);
            self.add_offset(Reg::R1, b.offset);
            self.asm
                .mov64_imm(Reg::R2, len)
                .call_helper(PROBE_READ_KERNEL)
                .jump_imm(JmpCond::Ne, Reg::R0, 0, fault)
                .store_imm(Size::DW, Reg::R10, slot, kind);
            if kind == ADDR_V4 {
                self.asm.jump(done);
            }
        }
        // IPv4-mapped: ten zero bytes, two 0xff, then the IPv4 address.
        self.asm
            .load(Size::DW, Reg::R1, Reg::R7, offset(b.offset))
            .jump_imm(JmpCond::Ne, Reg::R1, 0, done)
            .load(Size::W, Reg::R1, Reg::R7, offset(b.offset + 8))
            .mov64_imm(Reg::R2, 0)
            .alu64_imm(AluOp::Sub, Reg::R2, 0x1_0000)
            .alu32_reg(AluOp::Mov, Reg::R2, Reg::R2)
            .jump_reg(JmpCond::Ne, Reg::R1, Reg::R2, done)
            .load(Size::W, Reg::R1, Reg::R7, offset(b.offset + 12))
            .store_imm(Size::DW, Reg::R7, offset(b.offset + 8), 0)
            .store_imm(Size::DW, Reg::R7, offset(b.offset), 0)
            .store_reg(Size::W, Reg::R7, offset(b.offset), Reg::R1)
            .store_imm(Size::DW, Reg::R10, slot, ADDR_V4)
            .jump(done)
            .bind(fault)
            .store_imm(Size::DW, Reg::R10, slot, ADDR_UNKNOWN)
            .bind(done);
    }

    /// Reports `rule` with `flags` through the ring buffer: the process, the time, and every
    /// value of the program. A full ring counts a drop instead. Clobbers r0–r5 and r8.
    fn report(&mut self, rule: &Rule, flags: u32) {
        let (sent, full) = (self.asm.new_label(), self.asm.new_label());
        let (limited, reserve, same_window) = (
            self.asm.new_label(),
            self.asm.new_label(),
            self.asm.new_label(),
        );
        let record = self.record.clone();
        // Rate limit per rule (and CPU): at most `report_rate` reports a second, so a
        // process looping on a denied operation cannot flood user space. The rest are counted.
        self.asm
            .store_imm(Size::W, Reg::R10, KEY_SLOT, rule.index as i32)
            .mov64_reg(Reg::R2, Reg::R10)
            .alu64_imm(AluOp::Add, Reg::R2, i32::from(KEY_SLOT))
            .ld_map_fd(Reg::R1, events::RATE_MAP)
            .call_helper(MAP_LOOKUP_ELEM)
            .jump_imm(JmpCond::Eq, Reg::R0, 0, reserve)
            .mov64_reg(Reg::R9, Reg::R0)
            .call_helper(KTIME_GET_NS)
            .load(Size::DW, Reg::R1, Reg::R9, 0)
            .mov64_reg(Reg::R2, Reg::R0)
            .alu64_reg(AluOp::Sub, Reg::R2, Reg::R1)
            .jump_imm(JmpCond::Lt, Reg::R2, 1_000_000_000, same_window)
            .store_reg(Size::DW, Reg::R9, 0, Reg::R0)
            .store_imm(Size::DW, Reg::R9, 8, 0)
            .bind(same_window)
            .load(Size::DW, Reg::R1, Reg::R9, 8)
            .alu64_imm(AluOp::Add, Reg::R1, 1)
            .store_reg(Size::DW, Reg::R9, 8, Reg::R1)
            .jump_imm(JmpCond::Gt, Reg::R1, self.report_rate as i32, limited)
            .bind(reserve)
            .ld_map_fd(Reg::R1, EVENTS_MAP)
            .mov64_imm(Reg::R2, record.size as i32)
            .mov64_imm(Reg::R3, 0)
            .call_helper(RINGBUF_RESERVE)
            .jump_imm(JmpCond::Eq, Reg::R0, 0, full)
            .mov64_reg(Reg::R8, Reg::R0)
            .store_imm(Size::W, Reg::R8, offset(events::RULE), rule.index as i32)
            .store_imm(Size::W, Reg::R8, offset(events::FLAGS), flags as i32)
            .store_imm(
                Size::W,
                Reg::R8,
                offset(events::ERRNO),
                if flags == events::FLAG_AUDIT {
                    0
                } else {
                    rule.errno
                },
            );
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
            .call_helper(KTIME_GET_NS)
            .store_reg(Size::DW, Reg::R8, offset(events::TIME_NS), Reg::R0)
            .mov64_reg(Reg::R1, Reg::R8)
            .alu64_imm(AluOp::Add, Reg::R1, events::COMM as i32)
            .mov64_imm(Reg::R2, 16)
            .call_helper(GET_CURRENT_COMM);
        match self.parent {
            Some(parent) => {
                self.pointer_to(&parent.tgid, Reg::R1);
                self.asm
                    .load(
                        size_of(parent.tgid.size),
                        Reg::R1,
                        Reg::R1,
                        offset(parent.tgid.offset),
                    )
                    .store_reg(Size::W, Reg::R8, offset(events::PARENT_TGID), Reg::R1);
                self.pointer_to(&parent.comm, Reg::R3);
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
                    .load(Size::DW, Reg::R1, Reg::R10, self.layout.slots[i])
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
            .bind(sent);
    }

    /// `r0` holds a string helper's result (length with NUL, or negative error); store the
    /// string's length, or -1 when it is unknown.
    fn store_length(&mut self, slot: i16, cap: u32, full_is_unknown: bool) {
        let (unknown, done) = (self.asm.new_label(), self.asm.new_label());
        self.asm.jump_imm(JmpCond::Slt, Reg::R0, 1, unknown);
        if full_is_unknown {
            self.asm
                .jump_imm(JmpCond::Sge, Reg::R0, cap as i32, unknown);
        }
        self.asm
            .alu64_imm(AluOp::Sub, Reg::R0, 1)
            .store_reg(Size::DW, Reg::R10, slot, Reg::R0)
            .jump(done)
            .bind(unknown)
            .store_imm(Size::DW, Reg::R10, slot, -1)
            .bind(done);
    }

    /// Loads the integer `access` leads to into `reg`, zero-extended. An argument passed by
    /// value is read as its whole 64-bit context slot (the only access the verifier's context
    /// check is sure to accept), then shifted and masked to its bytes: the slot's upper bytes
    /// are whatever the caller's register held.
    fn load_field(&mut self, access: &Access, reg: Reg) {
        self.pointer_to(access, reg);
        if access.base != AccessBase::Context {
            self.asm
                .load(size_of(access.size), reg, reg, offset(access.offset));
            return;
        }
        let within = access.offset % 8;
        self.asm
            .load(Size::DW, reg, reg, offset(access.offset - within));
        if within != 0 {
            self.asm.alu64_imm(AluOp::Rsh, reg, (8 * within) as i32);
        }
        if access.size < 8 {
            self.load_constant(Reg::R2, (1u64 << (8 * access.size)) - 1);
            self.asm.alu64_reg(AluOp::And, reg, Reg::R2);
        }
    }

    /// The dentry walk: computes the absolute path of `walk.dentry` seen through `walk.mnt`
    /// into buffer `b` and its length (or -1, unknown) into `slot`.
    ///
    /// Like the kernel's `prepend_path` (fs/d_path.c): from the dentry, prepend `/name` and go
    /// to `d_parent` until the dentry is its mount's root (`vfsmount.mnt_root`); there, if the
    /// mount is its own parent (`mount.mnt_parent`) this is the root of the mount namespace
    /// and the walk is done, else continue from the mount point (`mount.mnt_mountpoint`) in
    /// the parent mount. Unlike `bpf_d_path` it does not stop at the process's root (chroot):
    /// the path is the one in the mount namespace. A dentry that is its own parent without
    /// being its mount's root (a tree cut off from its mount) makes the path unknown, as do a
    /// failed read, more than [`WALK_COMPONENTS`] names, a name longer than `NAME_MAX`, more
    /// steps than [`WALK_COMPONENTS`]` + `[`WALK_MOUNTS`], or a path of [`STRING_CAP`] bytes.
    /// A NULL dentry (no file) is the empty path.
    ///
    /// The path is built backwards in the work area (positions masked so the verifier can
    /// bound the writes), then copied to the front of `b`. Uses r0–r5 and r9.
    fn walk(&mut self, walk: &PathWalk, area: u32, b: Buffer, slot: i16) {
        let l = walk.layout;
        let (top, component, done, copy, empty, unknown, end) = (
            self.asm.new_label(),
            self.asm.new_label(),
            self.asm.new_label(),
            self.asm.new_label(),
            self.asm.new_label(),
            self.asm.new_label(),
            self.asm.new_label(),
        );
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
        self.asm
            .mov64_imm(Reg::R1, work::AREA_END as i32)
            .store_reg(Size::DW, Reg::R7, at(work::POS), Reg::R1)
            .store_imm(Size::DW, Reg::R7, at(work::COUNT), 0)
            .mov64_imm(Reg::R9, 0);

        self.asm
            .bind(top)
            .jump_imm(
                JmpCond::Ge,
                Reg::R9,
                (WALK_COMPONENTS + WALK_MOUNTS + 1) as i32,
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
            .jump_reg(JmpCond::Eq, Reg::R1, Reg::R2, unknown)
            .load(Size::DW, Reg::R1, Reg::R7, at(work::COUNT))
            .alu64_imm(AluOp::Add, Reg::R1, 1)
            .store_reg(Size::DW, Reg::R7, at(work::COUNT), Reg::R1)
            .jump_imm(JmpCond::Gt, Reg::R1, WALK_COMPONENTS as i32, unknown)
            .store_imm(Size::DW, Reg::R7, at(work::LEN), 0);
        self.read_field(area, work::LEN, 4, work::DENTRY, l.d_name_len, unknown);
        self.read_pointer(area, work::NAME, work::DENTRY, l.d_name_name, unknown);
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

        // Done: the root alone is `/`; copy the path to the front of the buffer.
        self.asm
            .bind(done)
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
            .alu64_reg(AluOp::Sub, Reg::R2, Reg::R1)
            .store_reg(Size::DW, Reg::R7, at(work::RESULT), Reg::R2)
            .mov64_reg(Reg::R3, Reg::R7)
            .alu64_reg(AluOp::Add, Reg::R3, Reg::R1);
        self.add_offset(Reg::R3, area + work::AREA);
        self.asm.mov64_reg(Reg::R1, Reg::R7);
        self.add_offset(Reg::R1, b.offset);
        self.asm
            .call_helper(PROBE_READ_KERNEL)
            .jump_imm(JmpCond::Eq, Reg::R0, 0, end)
            .jump(unknown)
            .bind(empty)
            .store_imm(Size::DW, Reg::R7, at(work::RESULT), 0)
            .jump(end)
            .bind(unknown)
            .store_imm(Size::DW, Reg::R7, at(work::RESULT), -1)
            .bind(end)
            .load(Size::DW, Reg::R1, Reg::R7, at(work::RESULT))
            .store_reg(Size::DW, Reg::R10, slot, Reg::R1);
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

    /// Leaves in `reg` the pointer the access's final offset is relative to.
    fn pointer_to(&mut self, access: &Access, reg: Reg) {
        self.follow(access, reg, None);
    }

    /// [`Self::pointer_to`], jumping to `null` when a pointer loaded on the way is NULL.
    /// Newer kernels type some members (`socket->sk`) as trusted-or-NULL and refuse loads
    /// through them without this check.
    fn pointer_to_checked(&mut self, access: &Access, reg: Reg, null: Label) {
        self.follow(access, reg, Some(null));
    }

    fn follow(&mut self, access: &Access, reg: Reg, null: Option<Label>) {
        match access.base {
            AccessBase::Context => {
                self.asm.mov64_reg(reg, Reg::R6);
            }
            AccessBase::Param(n) => {
                self.asm.load(Size::DW, reg, Reg::R6, offset(8 * n));
            }
            AccessBase::CurrentTask => {
                self.asm
                    .call_helper(GET_CURRENT_TASK_BTF)
                    .mov64_reg(reg, Reg::R0);
            }
        }
        for deref in &access.derefs {
            self.asm.load(Size::DW, reg, reg, offset(*deref));
            if let Some(null) = null {
                self.asm.jump_imm(JmpCond::Eq, reg, 0, null);
            }
        }
    }

    fn add_offset(&mut self, reg: Reg, value: u32) {
        if value != 0 {
            self.asm.alu64_imm(AluOp::Add, reg, value as i32);
        }
    }

    fn load_constant(&mut self, reg: Reg, value: u64) {
        if value <= i32::MAX as u64 {
            self.asm.mov64_imm(reg, value as i32);
        } else {
            self.asm.ld_imm64(reg, value);
        }
    }

    /// Emits code that jumps to `on_true` when `cond` holds and to `on_false` otherwise.
    fn cond(&mut self, cond: &Cond, on_true: Label, on_false: Label) {
        match cond {
            Cond::Const(true) => {
                self.asm.jump(on_true);
            }
            Cond::Const(false) => {
                self.asm.jump(on_false);
            }
            Cond::Not(inner) => self.cond(inner, on_false, on_true),
            Cond::And(items) | Cond::Or(items) => {
                let is_and = matches!(cond, Cond::And(_));
                for (i, item) in items.iter().enumerate() {
                    if i + 1 == items.len() {
                        self.cond(item, on_true, on_false);
                    } else {
                        let next = self.asm.new_label();
                        if is_and {
                            self.cond(item, next, on_false);
                        } else {
                            self.cond(item, on_true, next);
                        }
                        self.asm.bind(next);
                    }
                }
            }
            Cond::Test {
                value,
                pred,
                on_unknown,
            } => {
                let i = value.0 as usize;
                let slot = self.layout.slots[i];
                let unknown = if *on_unknown { on_true } else { on_false };
                let fallible = self.program.values[i].kind.fallible();
                match (pred, self.layout.buffers[i]) {
                    (Pred::Int { op, value }, _) | (Pred::Masked { op, value, .. }, _) => {
                        self.asm.load(Size::DW, Reg::R1, Reg::R10, slot);
                        if matches!(self.program.values[i].kind, ValueKind::Port(_)) {
                            self.asm
                                .jump_imm(JmpCond::Eq, Reg::R1, PORT_ABSENT, on_false)
                                .jump_imm(JmpCond::Eq, Reg::R1, PORT_UNKNOWN, unknown);
                        }
                        if let Pred::Masked { mask, .. } = pred {
                            self.load_constant(Reg::R2, *mask);
                            self.asm.alu64_reg(AluOp::And, Reg::R1, Reg::R2);
                        }
                        let cond = match op {
                            IntOp::Eq => JmpCond::Eq,
                            IntOp::Ne => JmpCond::Ne,
                            IntOp::Lt => JmpCond::Lt,
                            IntOp::Le => JmpCond::Le,
                            IntOp::Gt => JmpCond::Gt,
                            IntOp::Ge => JmpCond::Ge,
                        };
                        if *value <= i32::MAX as u64 {
                            self.asm.jump_imm(cond, Reg::R1, *value as i32, on_true);
                        } else {
                            self.asm.ld_imm64(Reg::R2, *value).jump_reg(
                                cond,
                                Reg::R1,
                                Reg::R2,
                                on_true,
                            );
                        }
                        self.asm.jump(on_false);
                    }
                    (Pred::Cidr { v6, bytes, prefix }, Some(b)) => {
                        self.asm
                            .load(Size::DW, Reg::R1, Reg::R10, slot)
                            .jump_imm(JmpCond::Eq, Reg::R1, ADDR_UNKNOWN, unknown)
                            .jump_imm(
                                JmpCond::Ne,
                                Reg::R1,
                                if *v6 { ADDR_V6 } else { ADDR_V4 },
                                on_false,
                            );
                        // Compare the first `prefix` bits, 8 bytes at a time. Memory holds
                        // the address in network order; a little-endian load puts byte k of
                        // a word in bits 8k..8k+7, so the mask is built byte by byte.
                        for word in 0..2u32 {
                            let mut mask = [0u8; 8];
                            for (k, m) in mask.iter_mut().enumerate() {
                                let bit = (word as usize * 8 + k) * 8;
                                let bits = usize::from(*prefix).saturating_sub(bit).min(8);
                                *m = (0xffu16 << (8 - bits)) as u8;
                            }
                            let mask = u64::from_le_bytes(mask);
                            if mask == 0 {
                                continue;
                            }
                            let mut want = [0u8; 8];
                            want.copy_from_slice(&bytes[word as usize * 8..word as usize * 8 + 8]);
                            let want = u64::from_le_bytes(want) & mask;
                            self.asm
                                .load(Size::DW, Reg::R1, Reg::R7, offset(b.offset + 8 * word));
                            self.load_constant(Reg::R2, mask);
                            self.asm.alu64_reg(AluOp::And, Reg::R1, Reg::R2);
                            self.load_constant(Reg::R2, want);
                            self.asm.jump_reg(JmpCond::Ne, Reg::R1, Reg::R2, on_false);
                        }
                        self.asm.jump(on_true);
                    }
                    (Pred::Cidr { .. }, None) => {
                        self.asm.jump(on_false);
                    }
                    (Pred::IsTrue, _) => {
                        self.asm
                            .load(Size::DW, Reg::R1, Reg::R10, slot)
                            .jump_imm(JmpCond::Ne, Reg::R1, 0, on_true)
                            .jump(on_false);
                    }
                    (Pred::StrEq(bytes), Some(b)) => {
                        if b.padded {
                            // Bytes past the string are NUL: compare the whole buffer. A
                            // literal with a NUL in it, or as long as the buffer, can never
                            // be the kernel's NUL-terminated name.
                            if bytes.len() >= b.cap as usize || bytes.contains(&0) {
                                self.asm.jump(on_false);
                                return;
                            }
                            let mut padded = bytes.clone();
                            padded.resize(b.cap as usize, 0);
                            self.compare_words(b.offset, &padded, on_false);
                        } else {
                            self.load_length(slot, fallible, unknown);
                            if bytes.len() >= b.cap as usize {
                                // No known string is this long (and the word compare would
                                // read past the buffer).
                                self.asm.jump(on_false);
                                return;
                            }
                            self.asm
                                .jump_imm(JmpCond::Ne, Reg::R1, bytes.len() as i32, on_false);
                            self.compare_words(b.offset, bytes, on_false);
                        }
                        self.asm.jump(on_true);
                    }
                    (Pred::Glob { alternatives, .. }, Some(b)) => {
                        for alternative in alternatives {
                            let next = self.asm.new_label();
                            // An alternative that cannot decide must not hide a later one that
                            // matches: when unknown means false, move on to the next.
                            let undecided = if *on_unknown { unknown } else { next };
                            self.glob(alternative, slot, b, fallible, on_true, next, undecided);
                            self.asm.bind(next);
                        }
                        self.asm.jump(on_false);
                    }
                    // The checker only lets strings meet string predicates.
                    (Pred::StrEq(_) | Pred::Glob { .. }, None) => {
                        self.asm.jump(on_false);
                    }
                }
            }
        }
    }

    /// `r1 = length`; unknown (negative) lengths go to `unknown`.
    fn load_length(&mut self, slot: i16, fallible: bool, unknown: Label) {
        self.asm.load(Size::DW, Reg::R1, Reg::R10, slot);
        if fallible {
            self.asm.jump_imm(JmpCond::Slt, Reg::R1, 0, unknown);
        }
    }

    /// Compares the buffer's first `bytes.len()` bytes with `bytes`, 8 at a time; a mismatch
    /// goes to `mismatch`, a match falls through. Bytes past the end of a partial last word are
    /// shifted out (little endian: they are the high bytes).
    fn compare_words(&mut self, buffer: u32, bytes: &[u8], mismatch: Label) {
        for (k, chunk) in bytes.chunks(8).enumerate() {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            let mut expected = u64::from_le_bytes(word);
            self.asm
                .load(Size::DW, Reg::R1, Reg::R7, offset(buffer + 8 * k as u32));
            if chunk.len() < 8 {
                let drop = 8 * (8 - chunk.len() as u32);
                self.asm.alu64_imm(AluOp::Lsh, Reg::R1, drop as i32);
                expected <<= drop;
            }
            self.load_constant(Reg::R2, expected);
            self.asm.jump_reg(JmpCond::Ne, Reg::R1, Reg::R2, mismatch);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn glob(
        &mut self,
        tokens: &[Token],
        slot: i16,
        b: Buffer,
        fallible: bool,
        matched: Label,
        failed: Label,
        unknown: Label,
    ) {
        let prefix: Vec<u8> = tokens
            .iter()
            .map_while(|t| match t {
                Token::Byte(c) => Some(*c),
                _ => None,
            })
            .collect();
        let rest = &tokens[prefix.len()..];
        let p = prefix.len() as u32;
        if !b.padded {
            // An unknown string stays unknown, however long the prefix.
            self.load_length(slot, fallible, unknown);
        }
        let nul_in_padded = b.padded && prefix.contains(&0);
        if p >= b.cap || nul_in_padded {
            // Longer than anything the buffer holds, or a NUL a NUL-padded name cannot contain
            // before its end.
            self.asm.jump(failed);
            return;
        }
        if !b.padded {
            let cond = if rest.is_empty() {
                JmpCond::Ne
            } else {
                JmpCond::Lt
            };
            self.asm.jump_imm(cond, Reg::R1, p as i32, failed);
        }
        self.compare_words(b.offset, &prefix, failed);
        if rest.is_empty() {
            if b.padded {
                self.asm
                    .load(Size::B, Reg::R1, Reg::R7, offset(b.offset + p))
                    .jump_imm(JmpCond::Ne, Reg::R1, 0, failed);
            }
            self.asm.jump(matched);
            return;
        }
        if rest == [Token::DoubleStar] {
            self.asm.jump(matched);
            return;
        }
        let bound = if b.padded {
            b.cap
        } else {
            (p + GLOB_SCAN_LIMIT).min(b.cap)
        };
        if !b.padded {
            // The mask keeps the length (at most STRING_CAP here) but gives r5 a fresh
            // identity: a register filled from a stack slot shares the slot's, and newer
            // verifiers (6.12) carry every `i < len` the loop learns back into the slot, so
            // each iteration's early exit would reach the rest of the program with a
            // different slot, and nothing could be pruned.
            self.asm
                .load(Size::DW, Reg::R5, Reg::R10, slot)
                .alu64_imm(AluOp::And, Reg::R5, 0xffff);
        }
        self.automaton(rest, b, p, bound, matched, failed, unknown);
    }

    /// Runs the glob remainder `rest` over bytes `start..` of the buffer.
    ///
    /// Registers: r8 = set of live positions (bit j: `rest[..j]` matched), r9 = index,
    /// r0 = current byte, r1 = "not `/`" mask, r2/r3 = temporaries, r4 = next set,
    /// r5 = length (counted strings).
    #[allow(clippy::too_many_arguments)]
    fn automaton(
        &mut self,
        rest: &[Token],
        b: Buffer,
        start: u32,
        bound: u32,
        matched: Label,
        failed: Label,
        unknown: Label,
    ) {
        let m = rest.len();
        let bit = |j: usize| 1u64 << j;
        let mask_of = |pred: &dyn Fn(&Token) -> bool| -> u64 {
            rest.iter()
                .enumerate()
                .filter(|(_, t)| pred(t))
                .map(|(j, _)| bit(j))
                .fold(0, |a, b| a | b)
        };
        let stars = mask_of(&|t| t.is_star());
        let close = |mut set: u64| {
            // Stars are never adjacent after parsing, so one step reaches the closure.
            set |= (set & stars) << 1;
            set
        };
        let mut literals: BTreeMap<u8, u64> = BTreeMap::new();
        for (j, t) in rest.iter().enumerate() {
            if let Token::Byte(c) = t {
                *literals.entry(*c).or_default() |= bit(j);
            }
        }
        let any_byte = mask_of(&|t| matches!(t, Token::AnyByte));
        let star = mask_of(&|t| matches!(t, Token::Star));
        let double_star = mask_of(&|t| matches!(t, Token::DoubleStar));
        let needs_not_slash =
            any_byte | star != 0 || rest.iter().any(|t| matches!(t, Token::Class { .. }));
        let trailing_double_star = rest.last() == Some(&Token::DoubleStar);

        let (top, end) = (self.asm.new_label(), self.asm.new_label());
        self.load_constant(Reg::R8, close(bit(0)));
        self.asm.mov64_imm(Reg::R9, start as i32);
        self.asm.bind(top);
        if !b.padded {
            self.asm.jump_reg(JmpCond::Ge, Reg::R9, Reg::R5, end);
        }
        // Counted strings longer than the scan limit are unknown; a padded buffer's end is
        // the string's end.
        let past_bound = if b.padded { end } else { unknown };
        self.asm
            .jump_imm(JmpCond::Ge, Reg::R9, bound as i32, past_bound)
            .mov64_reg(Reg::R1, Reg::R7)
            .alu64_reg(AluOp::Add, Reg::R1, Reg::R9)
            .load(Size::B, Reg::R0, Reg::R1, offset(b.offset));
        if b.padded {
            self.asm.jump_imm(JmpCond::Eq, Reg::R0, 0, end);
        }
        self.asm.mov64_imm(Reg::R4, 0);
        for (c, positions) in &literals {
            self.byte_equals(Reg::R2, *c);
            self.advance(*positions, Reg::R2, true);
        }
        if needs_not_slash {
            self.byte_equals(Reg::R1, b'/');
            self.asm.alu64_imm(AluOp::Xor, Reg::R1, -1);
            if any_byte != 0 {
                self.advance(any_byte, Reg::R1, true);
            }
            if star != 0 {
                self.advance(star, Reg::R1, false);
            }
        }
        if double_star != 0 {
            self.load_constant(Reg::R3, double_star);
            self.asm
                .alu64_reg(AluOp::And, Reg::R3, Reg::R8)
                .alu64_reg(AluOp::Or, Reg::R4, Reg::R3);
        }
        for (j, t) in rest.iter().enumerate() {
            let Token::Class { ranges, negated } = t else {
                continue;
            };
            // r2 = 1 when the byte is in some range: (u32)(c - lo) < n, branch free.
            self.asm.mov64_imm(Reg::R2, 0);
            for (lo, hi) in ranges {
                let n = i32::from(*hi) - i32::from(*lo) + 1;
                self.asm
                    .alu32_reg(AluOp::Mov, Reg::R3, Reg::R0)
                    .alu32_imm(AluOp::Sub, Reg::R3, i32::from(*lo))
                    .alu64_imm(AluOp::Sub, Reg::R3, n)
                    .alu64_imm(AluOp::Rsh, Reg::R3, 63)
                    .alu64_reg(AluOp::Or, Reg::R2, Reg::R3);
            }
            if *negated {
                self.asm.alu64_imm(AluOp::Xor, Reg::R2, 1);
            }
            // To an all-ones mask, and never `/`.
            self.asm
                .neg64(Reg::R2)
                .alu64_reg(AluOp::And, Reg::R2, Reg::R1);
            self.advance(bit(j), Reg::R2, true);
        }
        if stars != 0 {
            self.load_constant(Reg::R3, stars);
            self.asm
                .alu64_reg(AluOp::And, Reg::R3, Reg::R4)
                .alu64_imm(AluOp::Lsh, Reg::R3, 1)
                .alu64_reg(AluOp::Or, Reg::R4, Reg::R3);
        }
        self.asm
            .mov64_reg(Reg::R8, Reg::R4)
            .jump_imm(JmpCond::Eq, Reg::R8, 0, failed);
        if trailing_double_star {
            // Inside the final `**`, whatever follows matches.
            self.load_constant(Reg::R3, bit(m - 1));
            self.asm.jump_reg(JmpCond::Set, Reg::R8, Reg::R3, matched);
        }
        self.asm.alu64_imm(AluOp::Add, Reg::R9, 1).jump(top);
        self.asm.bind(end);
        self.load_constant(Reg::R3, bit(m));
        self.asm
            .jump_reg(JmpCond::Set, Reg::R8, Reg::R3, matched)
            .jump(failed);
    }

    /// `reg = (r0 == c) ? !0 : 0`, without a branch: `((r0 ^ c) - 1) >> 63` is 1 exactly when
    /// the byte equals `c` (r0 is a byte, so the xor is below 256), then negate.
    fn byte_equals(&mut self, reg: Reg, c: u8) {
        self.asm
            .mov64_reg(reg, Reg::R0)
            .alu64_imm(AluOp::Xor, reg, i32::from(c))
            .alu64_imm(AluOp::Sub, reg, 1)
            .alu64_imm(AluOp::Rsh, reg, 63)
            .neg64(reg);
    }

    /// `next |= (live & positions & accept_mask) [<< 1]`: positions that accept the byte move
    /// on (single-byte tokens) or stay (stars).
    fn advance(&mut self, positions: u64, accept_mask: Reg, moves: bool) {
        self.load_constant(Reg::R3, positions);
        self.asm.alu64_reg(AluOp::And, Reg::R3, Reg::R8).alu64_reg(
            AluOp::And,
            Reg::R3,
            accept_mask,
        );
        if moves {
            self.asm.alu64_imm(AluOp::Lsh, Reg::R3, 1);
        }
        self.asm.alu64_reg(AluOp::Or, Reg::R4, Reg::R3);
    }
}

fn size_of(bytes: u32) -> Size {
    match bytes {
        1 => Size::B,
        2 => Size::H,
        4 => Size::W,
        _ => Size::DW,
    }
}

/// Every offset the program's loads and stores use fits their 16 bits: member offsets from
/// BTF, the scratch layout, the report record. Checked once here so that [`offset`] cannot
/// be handed one that does not.
fn check_offsets(program: &Program, layout: &Layout, module: &Module) -> Result<(), CodegenError> {
    let accesses = program
        .values
        .iter()
        .flat_map(|v| match &v.kind {
            ValueKind::Field(a)
            | ValueKind::Flag { access: a, .. }
            | ValueKind::ResolvedPath(a)
            | ValueKind::KernelString(a)
            | ValueKind::Chars(a) => vec![a],
            ValueKind::WalkedPath(w) => vec![&w.dentry, &w.mnt],
            ValueKind::Port(e) | ValueKind::Addr(e) => vec![&e.object],
            _ => Vec::new(),
        })
        .chain(module.parent.iter().flat_map(|p| [&p.tgid, &p.comm]));
    let mut largest = layout.scratch_size.max(events::layout(program).size);
    for access in accesses {
        largest = largest.max(access.offset + access.size);
        largest = largest.max(access.derefs.iter().copied().max().unwrap_or(0) + 8);
    }
    match largest {
        fits if fits <= i16::MAX as u32 => Ok(()),
        offset => Err(CodegenError::OffsetTooLarge {
            program: program.event.to_string(),
            offset,
        }),
    }
}

/// A load or store offset; [`check_offsets`] has made sure it fits.
fn offset(value: u32) -> i16 {
    i16::try_from(value).unwrap_or(i16::MAX)
}
