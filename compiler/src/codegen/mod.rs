//! Codegen: each IR program becomes one specialized LSM program.
//!
//! Shape of every program:
//!
//! ```text
//!   r6 = ctx
//!   values     cheap values (integers, flags), one stack slot each
//!   [early]    an allow rule that cheap tests let match → allow; no gate of a costly value
//!              that every reporting rule reads holds → allow (see `values`)
//!   gate       lookup(krsi_gate, 0) != lookup(krsi_version, 0) & 0xffffffff → allow,
//!              unless the handover says otherwise (see `version`)
//!   [scope]    current_task_under_cgroup(krsi_scope, 0) == 0  → allow
//!   [scratch]  r7 = lookup(krsi_scratch, 0)                   (string buffers)
//!   lazy       each costly value (a path, a kernel string), behind its readers' gates
//!   audit      rules in order: a match reports (runs of literal sets as one tree: see `audit`)
//!   allow      rules in order: a match → allow
//!   deny       rules in order: the first match → return -errno
//!              (runs of rules on one string decided together: see `sets`, `automaton`, `mixed`)
//!   allow:     return 0
//! ```
//!
//! Conditions compile to branches with short-circuit evaluation. Strings are compared as
//! 8-byte words (KERNEL.md: a byte-by-byte unrolled compare hit the verifier's complexity limit).
//! Every glob test on one string runs in one automaton, scanned once when the string is
//! computed (see `automaton`); a test then reads whether the final state accepts its glob.

use crate::bpf::{AluOp, Assembler, Code, EncodeError, JmpCond, Label, Reg, Size};
use crate::elf::{
    DataSection, MapSpec, ObjectSpec, ProgramSpec, RODATA_SECTION, TASK_FILE_ITERATOR_SECTION,
};
use crate::ir::{Attach, Cond, Mode, Module, Program, Rule, Scope, ValueKind};
use crate::report::{
    self as events, RecordLayout, ADDR_ABSENT, ADDR_UNKNOWN, ADDR_V4, ADDR_V6, DROPS_MAP,
    EVENTS_MAP, EVENTS_RING_BYTES, PORT_ABSENT, PORT_UNKNOWN,
};
use lang::checked::ParentAccess;
use lang::checked::{Access, AccessBase, PathWalk};
use lang::limits;
use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

mod audit;
mod automaton;
mod cond;
mod iterator;
mod mixed;
mod report;
mod runs;
mod screen;
mod sets;
mod values;
mod version;
mod walk;

use sets::Leaf;
use walk::work;

/// Per-CPU scratch space for strings (too large for the 512-byte BPF stack).
pub const SCRATCH_MAP: &str = "krsi_scratch";
/// The version gate: one `u64` every version of a pinned policy shares, holding the version
/// in force. A program decides only while it equals its own object's [`VERSION_MAP`], so the
/// runtime switches every program of a policy from one version to the next with one map
/// update (runtime/src/pin.rs has the protocol). A data section (a one-entry array whose
/// value the programs address directly): reading it takes a load, where a map lookup took
/// six instructions and a helper call.
pub const GATE_MAP: &str = ".data.krsi_gate";
/// This object's version number, written by the runtime before any program is attached, in
/// the word's low 32 bits, and its flags ([`VERSION_FLAGS`]). A data section, as the gate is.
pub const VERSION_MAP: &str = ".data.krsi_version";
/// The handover: what a staged version's program read from the gate, per thread, for the
/// older version's program that runs after it on the same event (a hash of
/// `bpf_get_current_pid_tgid()` to `{writer version, gate read}`; see [`ProgramGen::version_gate`]).
/// Shared by every version of a pinned policy, like the gate.
pub const HANDOVER_MAP: &str = "krsi_handover";
/// The version word's flags, its high half: the runtime sets them on every version of a
/// policy but one armed alone. A flagged program reads the gate, and, armed, takes the
/// handover entry its thread's other program left; an unflagged one decides without reading
/// the gate (see [`ProgramGen::version_gate`]).
pub const VERSION_FLAGS: u64 = 0xffff_ffff_0000_0000;
/// Threads that may be between a staged program and the older one at once. The map allocates
/// entries as they are written, but its buckets up front (16 bytes each); a staged program
/// that finds it full decides itself, as if armed.
const HANDOVER_ENTRIES: u32 = 256;
/// `BPF_F_NO_PREALLOC` (include/uapi/linux/bpf.h).
const BPF_F_NO_PREALLOC: u32 = 1;
/// The cgroup a scoped policy applies to (index 0 of a `BPF_MAP_TYPE_CGROUP_ARRAY`).
pub const SCOPE_MAP: &str = "krsi_scope";
// The fail-closed limits, as 32-bit immediates: defined once in `lang::limits`, where the
// reference evaluator reads them too (each is at most a few thousand, so the narrowing is exact).
const STRING_CAP: u32 = limits::STRING_CAP as u32;
const WALK_COMPONENTS: u32 = limits::WALK_COMPONENTS as u32;
const WALK_MOUNTS: u32 = limits::WALK_MOUNTS as u32;
const NAME_MAX: u32 = limits::NAME_MAX as u32;
const ARGV_MAX: u32 = limits::ARGV_MAX as u32;

use crate::bpf::helper::{GET_CURRENT_TASK_BTF, PROBE_READ_KERNEL, SEND_SIGNAL};
use crate::bpf::map_type::{
    CGROUP_ARRAY as BPF_MAP_TYPE_CGROUP_ARRAY, HASH as BPF_MAP_TYPE_HASH,
    PERCPU_ARRAY as BPF_MAP_TYPE_PERCPU_ARRAY, RINGBUF as BPF_MAP_TYPE_RINGBUF,
};

/// The stack slot holding the zero key for map lookups.
const KEY_SLOT: i16 = -8;
/// The signal a `kill` rule sends (include/uapi/asm-generic/signal.h; the same on every
/// architecture Linux runs BPF LSM on).
const SIGKILL: i32 = 9;
/// Stack slots for values start below the key.
const FIRST_VALUE_SLOT: i16 = -16;
// The checker refuses an event needing more slots than these (`lang::check::VALUE_SLOTS`).
const _: () = assert!(
    (FIRST_VALUE_SLOT as i32 - (-512 + report::REPORT_FRAME)) / 8 + 1
        == lang::check::VALUE_SLOTS as i32
);

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
    /// The globs on one of the program's strings do not fit one automaton (the checker
    /// refuses such policies first).
    Automaton {
        program: String,
        error: lang::automaton::AutomatonError,
    },
    /// A program other than `file_open`'s, compiled for [`Attach::TaskFileIterator`]: an
    /// iterator over open files has no other event to give it. Not a bug in krsi but a
    /// target the policy does not fit (`krsic build --attach task-file-iter` on a policy
    /// with `exec` rules).
    NotIterable {
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
            CodegenError::Automaton { program, error } => write!(f, "program `{program}`: {error}"),
            CodegenError::NotIterable { program } => write!(
                f,
                "the `{program}` program cannot run as a task-file iterator: only `open` rules can"
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

/// The report rate windows (`krsi_rate`): one per reporting rule, up to
/// [`report::RATE_WINDOWS`]; past that, rules share the window of their index modulo it, so
/// that the map stays small (16 bytes a window on each CPU) however large the policy.
fn rate_windows(module: &Module) -> u32 {
    module
        .programs
        .iter()
        .flat_map(|p| p.deny.iter().chain(&p.audit))
        .map(|r| r.index + 1)
        .max()
        .unwrap_or(1)
        .min(report::RATE_WINDOWS)
}

pub fn codegen(module: &Module) -> Result<ObjectSpec, CodegenError> {
    let mut programs = Vec::new();
    let mut scratch_size = 0;
    let mut rodata = Vec::new();
    for program in &module.programs {
        let layout = Layout::new(program, &mut rodata)?;
        check_offsets(program, &layout, module)?;
        scratch_size = scratch_size.max(layout.scratch_size);
        let code = ProgramGen::new(program, &layout, module)
            .emit()
            .map_err(|error| CodegenError::Encode {
                program: program.event.to_string(),
                error,
            })?;
        let section = match module.attach {
            Attach::Lsm => format!("lsm/{}", program.hook),
            Attach::TaskFileIterator if program.hook == iterator::HOOK && !program.variant => {
                TASK_FILE_ITERATOR_SECTION.to_string()
            }
            Attach::TaskFileIterator => {
                return Err(CodegenError::NotIterable {
                    program: program.event.to_string(),
                })
            }
        };
        programs.push(ProgramSpec {
            symbol: program.symbol(),
            section,
            code,
        });
    }
    let mut maps = Vec::new();
    let mut data = Vec::new();
    if !rodata.is_empty() {
        data.push(DataSection {
            name: RODATA_SECTION.to_string(),
            bytes: rodata,
        });
    }
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
        maps.push(MapSpec {
            symbol: events::RATE_MAP.to_string(),
            map_type: BPF_MAP_TYPE_PERCPU_ARRAY,
            key_size: 4,
            value_size: 16,
            max_entries: rate_windows(module),
            flags: 0,
        });
        // Both zero in the object: the runtime writes the words before anything is attached.
        for name in [GATE_MAP, VERSION_MAP] {
            data.push(DataSection {
                name: name.to_string(),
                bytes: vec![0; 8],
            });
        }
        maps.push(MapSpec {
            symbol: HANDOVER_MAP.to_string(),
            map_type: BPF_MAP_TYPE_HASH,
            key_size: 8,
            value_size: 16,
            max_entries: HANDOVER_ENTRIES,
            flags: BPF_F_NO_PREALLOC,
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
        data,
    })
}

/// Where each value lives: a stack slot for integers, flags and string lengths; a scratch
/// buffer for string bytes.
struct Layout {
    slots: Vec<i16>,
    /// The handover's stack: its key at this slot, the entry `{writer, read}` in the two
    /// slots below (see [`ProgramGen::version_gate`]).
    handover: i16,
    buffers: Vec<Option<Buffer>>,
    scratch_size: u32,
    /// The dentry walk's state and work area (see [`work`]), shared by every walked value.
    work: Option<u32>,
    /// Where a large literal set's leaf records the rule that matched: its index, then its
    /// errno, 8 bytes each (see [`sets::Leaf::Record`]). Reserved when the program's literals
    /// could make a tree past [`sets::INLINE_TREE_COST`], or it has dispatched globs (whose
    /// glob runs record the rule the same way).
    decision: Option<u32>,
    /// Per value, the automaton of the globs tested on it (see `automaton`).
    scans: Vec<Option<automaton::Scan>>,
    /// Where a dispatched glob's leaf records the glob and where its remainder's scan begins,
    /// 8 bytes each (see [`sets::Leaf::Dispatch`]). Reserved when a value has dispatched
    /// globs.
    dispatch: Option<u32>,
}

#[derive(Clone, Copy)]
struct Buffer {
    offset: u32,
    cap: u32,
    /// NUL padded to `cap` (comm) rather than counted by a length in the slot.
    padded: bool,
}

impl Layout {
    fn new(program: &Program, rodata: &mut Vec<u8>) -> Result<Layout, CodegenError> {
        let mut slots = Vec::new();
        let mut buffers = Vec::new();
        let mut scratch_size = 0u32;
        let mut next_slot = 0;
        let mut stack_slot = || {
            let slot = i32::from(FIRST_VALUE_SLOT) - 8 * next_slot;
            next_slot += 1;
            // The report function's frame shares the 512 bytes.
            if slot < -512 + report::REPORT_FRAME {
                return Err(CodegenError::TooManyValues {
                    program: program.event.to_string(),
                });
            }
            Ok(slot as i16)
        };
        for value in &program.values {
            slots.push(stack_slot()?);
            let buffer = match value.kind.layout_kind() {
                ValueKind::ResolvedPath(_)
                | ValueKind::KernelString(_)
                | ValueKind::WorkloadId(..)
                | ValueKind::CommandLine { .. } => Some((STRING_CAP, false)),
                // At most STRING_CAP: the walk builds the path in a work area of that size.
                ValueKind::WalkedPath(walk) => Some(((walk.cap() as u32).min(STRING_CAP), false)),
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
            // The join reads up to STRING_CAP bytes at any offset below STRING_CAP: room for
            // the longest read past the buffer, so the verifier can bound every one.
            if matches!(value.kind.layout_kind(), ValueKind::CommandLine { .. }) {
                scratch_size += STRING_CAP;
            }
        }
        let work = program
            .values
            .iter()
            .any(|v| matches!(v.kind, ValueKind::WalkedPath(_) | ValueKind::WorkloadId(..)))
            .then(|| {
                let at = scratch_size;
                scratch_size += work::SIZE;
                at
            });
        let literal_cost: usize = program
            .allow
            .iter()
            .chain(&program.deny)
            .chain(&program.audit)
            .map(|rule| sets::cond_tree_cost(&rule.cond))
            .sum();
        let handover = stack_slot()?;
        stack_slot()?;
        stack_slot()?;
        let scans = automaton::scans(program, &buffers, rodata, stack_slot)?;
        let dispatches = scans
            .iter()
            .any(|scan| scan.as_ref().is_some_and(automaton::Scan::dispatches));
        let mut reserve = |wanted: bool| {
            wanted.then(|| {
                let at = scratch_size;
                scratch_size += 16;
                at
            })
        };
        // Dispatched globs make glob runs of many rules, which record their rule too.
        let decision = reserve(literal_cost > sets::INLINE_TREE_COST || dispatches);
        let dispatch = reserve(dispatches);
        Ok(Layout {
            dispatch,
            slots,
            handover,
            buffers,
            scratch_size,
            work,
            decision,
            scans,
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
    /// Entries of the rate map; a rule's window is its index modulo this.
    rate_windows: u32,
    record: RecordLayout,
    asm: Assembler,
    /// Where the report function starts; emitted after the program if a rule calls it.
    report_function: Label,
    reported: bool,
    /// The program's `return 0`.
    allow: Label,
    /// Tests known to hold wherever rules are evaluated (a gate that every reporting rule
    /// shares, tested before a costly value; see `values`): compiled as `true`.
    known_true: Vec<Cond>,
    /// Allow rules whose whole condition the prologue tested (see `early_allows`): past it
    /// they are known not to match, so the allow runs leave them out.
    decided_early: HashSet<u32>,
    /// The errnos of two deny rules or more (kill rules apart): their rules share one exit
    /// per errno (see [`Self::deny`]).
    shared_errnos: Vec<i32>,
    /// Those exits, as rules first jump to them: emitted after the program's own exits.
    deny_exits: Vec<(i32, Label)>,
    /// Parts of large literal sets to emit as functions after the program (see `sets`).
    chunks: Vec<sets::Chunk>,
    /// The scratch lookup, put off past the first value's screen (see `values`): emitted
    /// where the screen lets the path be resolved, failing to this label.
    scratch_pending: Option<Label>,
    /// See [`Module::loads_may_be_null`] and [`Self::follow`].
    loads_may_be_null: bool,
    attach: Attach,
}

impl<'a> ProgramGen<'a> {
    fn new(program: &'a Program, layout: &'a Layout, module: &'a Module) -> Self {
        let mut asm = Assembler::with_branch_simplification();
        let report_function = asm.new_label();
        let allow = asm.new_label();
        ProgramGen {
            program,
            layout,
            scope: module.scope,
            mode: module.mode,
            parent: module.parent.as_ref(),
            report_rate: module.report_rate.min(i32::MAX as u32),
            rate_windows: rate_windows(module),
            record: events::layout(program),
            asm,
            report_function,
            reported: false,
            allow,
            known_true: Vec::new(),
            decided_early: HashSet::new(),
            scratch_pending: None,
            shared_errnos: shared_errnos(program),
            deny_exits: Vec::new(),
            chunks: Vec::new(),
            loads_may_be_null: module.loads_may_be_null,
            attach: module.attach,
        }
    }

    /// A deny (or kill) rule matched: report, and refuse (enforce mode) or allow (audit mode).
    /// A kill rule in enforce mode also sends SIGKILL to the current process, after its
    /// report: `bpf_send_signal` only queues the signal, which the task takes on its way back
    /// to user space, so the refusal still returns and nothing after it runs in user space.
    ///
    /// Deny rules that share their errno with another share one exit too: each only passes
    /// its index (`r1 = rule; goto exit`), and the exit reports and refuses as below. Two
    /// instructions a rule instead of eight; the exit has no origin, so the offline machine
    /// takes the deciding rule from the report function's argument (`vm::Run::reported`).
    fn deny(&mut self, rule: &Rule) {
        if !rule.kill && self.shared_errnos.contains(&rule.errno) {
            let exit = match self
                .deny_exits
                .iter()
                .find(|(errno, _)| *errno == rule.errno)
            {
                Some((_, exit)) => *exit,
                None => {
                    let exit = self.asm.new_label();
                    self.deny_exits.push((rule.errno, exit));
                    exit
                }
            };
            self.asm.mov64_imm(Reg::R1, rule.index as i32).jump(exit);
            return;
        }
        let kill = if rule.kill { events::FLAG_KILL } else { 0 };
        match self.mode {
            Mode::Enforce => {
                self.report(rule, events::FLAG_DENIED | kill);
                if rule.kill {
                    // The result is ignored: a task that cannot be signalled (a kernel thread,
                    // one already exiting) is still refused.
                    self.asm
                        .mov64_imm(Reg::R1, SIGKILL)
                        .call_helper(SEND_SIGNAL);
                }
                self.asm.mov64_imm(Reg::R0, -rule.errno).exit();
            }
            Mode::Audit => {
                self.report(rule, events::FLAG_WOULD_DENY | kill);
                self.asm.mov64_imm(Reg::R0, 0).exit();
            }
        }
    }

    /// The exits deny rules share (see [`Self::deny`]): r1 holds the rule's index.
    fn emit_deny_exits(&mut self) {
        self.asm.set_origin(None);
        for (errno, exit) in std::mem::take(&mut self.deny_exits) {
            self.asm.bind(exit);
            let (flags, ret) = match self.mode {
                Mode::Enforce => (events::FLAG_DENIED, -errno),
                Mode::Audit => (events::FLAG_WOULD_DENY, 0),
            };
            self.report_indexed(flags, errno);
            self.asm.mov64_imm(Reg::R0, ret).exit();
        }
    }

    /// A deny rule of `run` matched, and its leaf recorded which (see [`Leaf::Record`]):
    /// report it, and refuse with its errno (enforce mode) or allow (audit mode). The errno
    /// is chosen among the run's by comparing with each, so that the program returns a
    /// constant the verifier knows to be an errno.
    fn deny_recorded(&mut self, run: &[Rule]) {
        let at = self.layout.decision.unwrap_or(0);
        let flags = match self.mode {
            Mode::Enforce => events::FLAG_DENIED,
            Mode::Audit => events::FLAG_WOULD_DENY,
        };
        // The run's kill rules, by the rule the leaf recorded: their report carries the kill
        // flag, and in enforce mode the task is sent SIGKILL. Compared one by one, on the
        // refusing path only (a miss never gets here).
        let kills: Vec<u32> = run.iter().filter(|r| r.kill).map(|r| r.index).collect();
        self.asm
            .load(Size::DW, Reg::R1, Reg::R7, offset(at))
            .mov64_imm(Reg::R2, flags as i32);
        if !kills.is_empty() {
            let done = self.asm.new_label();
            for &rule in &kills {
                let other = self.asm.new_label();
                self.asm
                    .jump_imm(JmpCond::Ne, Reg::R1, rule as i32, other)
                    .mov64_imm(Reg::R2, (flags | events::FLAG_KILL) as i32)
                    .jump(done)
                    .bind(other);
            }
            self.asm.bind(done);
        }
        self.asm
            .load(Size::DW, Reg::R3, Reg::R7, offset(at + 8))
            .mov64_reg(Reg::R4, Reg::R10)
            .mov64_reg(Reg::R5, Reg::R7)
            .call_function(self.report_function);
        self.reported = true;
        if self.mode == Mode::Audit {
            self.asm.mov64_imm(Reg::R0, 0).exit();
            return;
        }
        if !kills.is_empty() {
            let spared = self.asm.new_label();
            self.asm.load(Size::DW, Reg::R1, Reg::R7, offset(at));
            let signal = self.asm.new_label();
            for &rule in &kills {
                self.asm.jump_imm(JmpCond::Eq, Reg::R1, rule as i32, signal);
            }
            self.asm
                .jump(spared)
                .bind(signal)
                .mov64_imm(Reg::R1, SIGKILL)
                .call_helper(SEND_SIGNAL)
                .bind(spared);
        }
        let errnos: std::collections::BTreeSet<i32> = run.iter().map(|r| r.errno).collect();
        self.asm.load(Size::DW, Reg::R1, Reg::R7, offset(at + 8));
        let mut errnos = errnos.into_iter().peekable();
        while let Some(errno) = errnos.next() {
            if errnos.peek().is_some() {
                let other = self.asm.new_label();
                self.asm
                    .jump_imm(JmpCond::Ne, Reg::R1, errno, other)
                    .mov64_imm(Reg::R0, -errno)
                    .exit()
                    .bind(other);
            } else {
                self.asm.mov64_imm(Reg::R0, -errno).exit();
            }
        }
    }

    fn emit(mut self) -> Result<Code, EncodeError> {
        if self.attach == Attach::TaskFileIterator {
            let decision = self.asm.new_label();
            self.emit_iterator(decision);
            self.asm.function(iterator::DECISION_FUNCTION, decision);
        }
        let allow = self.allow;
        let fail_closed = self.asm.new_label();
        // Both return a constant: a path that leaves through them needs no value stored.
        self.asm.frame_dead(allow).frame_dead(fail_closed);
        self.asm.mov64_reg(Reg::R6, Reg::R1);
        if let Some((access, value)) = &self.program.guard {
            // Another use of a shared hook (kernel_read_file of firmware): not this event.
            self.load_field(access, Reg::R1);
            self.load_constant(Reg::R2, *value);
            self.asm.jump_reg(JmpCond::Ne, Reg::R1, Reg::R2, allow);
        }
        // The version and scope tests come from `values`, after the cheap tests that can
        // allow the event alone.
        self.values(fail_closed);
        // Audit rules report whatever the decision will be.
        self.audits();
        let program = self.program;
        let allows: Cow<[Rule]> = match self.decided_early.is_empty() {
            true => Cow::Borrowed(&program.allow),
            false => program
                .allow
                .iter()
                .filter(|rule| !self.decided_early.contains(&rule.index))
                .cloned()
                .collect(),
        };
        let gates = self.gates_of(&allows);
        let mut at = 0;
        while at < allows.len() {
            let next = self.asm.new_label();
            let rest = &allows[at..];
            self.asm.set_origin(Some(rest[0].index));
            let runs = self.runs(&allows, &gates, at);
            if runs.longest() == 0 {
                self.cond(&rest[0].cond, allow, next);
                at += 1;
                self.asm.bind(next);
                continue;
            }
            let known = self.enter_gate(&runs.gate, next);
            let scope = &rest[..runs.gated];
            if runs.mixed > runs.tree.max(runs.globs) {
                self.allow_mixed(&scope[..runs.mixed], next);
                at += runs.mixed;
            } else if runs.tree > 0 {
                let run = &scope[..runs.tree];
                let leaf = if self.split_run(run) {
                    Leaf::Matched
                } else {
                    Leaf::Jump(allow)
                };
                self.literal_tree(run, &vec![leaf; run.len()], allow, next);
                at += runs.tree;
            } else {
                self.glob_run_search(&scope[..runs.globs], &vec![allow; runs.globs], next);
                at += runs.globs;
            }
            self.known_true.truncate(known);
            self.asm.bind(next);
        }
        let gates = self.gates_of(&program.deny);
        let mut at = 0;
        while at < program.deny.len() {
            let rest = &program.deny[at..];
            let next = self.asm.new_label();
            self.asm.set_origin(Some(rest[0].index));
            let runs = self.runs(&program.deny, &gates, at);
            // A rule that begins a literal run (exact paths or directories) never begins a
            // glob run (`sole_glob` leaves directory rules out): at most one is not 0.
            let (tree, globs) = (runs.tree, runs.globs);
            let run = tree.max(globs).max(1);
            if runs.longest() == 0 {
                let target = self.asm.new_label();
                self.cond(&rest[0].cond, target, next);
                self.asm.bind(target);
                self.deny(&rest[0]);
                self.asm.bind(next);
                at += 1;
                continue;
            }
            let known = self.enter_gate(&runs.gate, next);
            let rest = &rest[..runs.gated];
            if runs.mixed > run {
                self.deny_mixed(&rest[..runs.mixed], next);
                at += runs.mixed;
            } else if tree > 0 && self.split_run(&rest[..run]) {
                // One exit for the whole run: the leaf recorded which rule matched.
                let matched = self.asm.new_label();
                let leaves: Vec<Leaf> = rest[..run]
                    .iter()
                    .map(|rule| Leaf::Record {
                        rule: rule.index,
                        errno: rule.errno,
                    })
                    .collect();
                self.literal_tree(&rest[..run], &leaves, matched, next);
                // The block every rule of the run shares has no origin of its own: the
                // offline machine takes the deciding rule from the report it sends.
                self.asm.set_origin(None).bind(matched);
                self.deny_recorded(&rest[..run]);
                at += run;
            } else if globs > 0 && self.layout.decision.is_some() {
                // One exit for the whole run, as for a large tree: each rule's own block would
                // call the report function, which the verifier walks again for every call.
                let targets: Vec<Label> = (0..run).map(|_| self.asm.new_label()).collect();
                let matched = self.asm.new_label();
                self.glob_run_search(&rest[..run], &targets, next);
                for (rule, target) in rest[..run].iter().zip(&targets) {
                    self.asm.set_origin(Some(rule.index)).bind(*target);
                    self.record(rule.index, rule.errno, matched);
                }
                self.asm.set_origin(None).bind(matched);
                self.deny_recorded(&rest[..run]);
                at += run;
            } else {
                let targets: Vec<Label> = (0..run).map(|_| self.asm.new_label()).collect();
                if tree > 0 {
                    let leaves: Vec<Leaf> = targets.iter().map(|t| Leaf::Jump(*t)).collect();
                    self.literal_tree(&rest[..run], &leaves, next, next);
                } else {
                    self.glob_run_search(&rest[..run], &targets, next);
                }
                for (rule, target) in rest[..run].iter().zip(&targets) {
                    self.asm.set_origin(Some(rule.index));
                    self.asm.bind(*target);
                    self.deny(rule);
                }
                at += run;
            }
            self.known_true.truncate(known);
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
        self.emit_deny_exits();
        self.emit_chunks();
        if self.reported {
            self.asm
                .function(events::REPORT_FUNCTION, self.report_function);
            self.emit_report_function();
        }
        self.asm.finish()
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
        self.asm.alu64_imm(AluOp::Rsh, reg, (8 * within) as i32);
        if access.size < 8 {
            self.load_constant(Reg::R2, (1u64 << (8 * access.size)) - 1);
            self.asm.alu64_reg(AluOp::And, reg, Reg::R2);
        }
    }

    /// Reads into stack slot `slot` the integer `access` leads to through its indexed step
    /// ([`lang::checked::IndexStep`]): every pointer and the index with
    /// `bpf_probe_read_kernel`, so that each is a plain number the program may add a variable
    /// offset to (the verifier refuses one on a BTF pointer). A NULL pointer, a failed read
    /// or an index above [`lang::checked::INDEX_BOUND`] reads as 0, as a NULL pointer on the
    /// way of any other integer does. Uses r0–r5 and r8.
    fn indexed_field(&mut self, access: &Access, slot: i16) {
        let Some(step) = access.index else {
            return;
        };
        let (null, done) = (self.asm.new_label(), self.asm.new_label());
        // r3 = the address to read 8 bytes of into the slot; then r3 = what was read.
        let hop = |g: &mut Self, size: u32| {
            g.asm
                .store_imm(Size::DW, Reg::R10, slot, 0)
                .mov64_reg(Reg::R1, Reg::R10)
                .alu64_imm(AluOp::Add, Reg::R1, i32::from(slot))
                .mov64_imm(Reg::R2, size as i32)
                .call_helper(PROBE_READ_KERNEL)
                .jump_imm(JmpCond::Ne, Reg::R0, 0, null)
                .load(Size::DW, Reg::R3, Reg::R10, slot);
        };
        self.pointer_to(
            &Access {
                base: access.base,
                derefs: Vec::new(),
                offset: 0,
                size: 8,
                index: None,
            },
            Reg::R3,
        );
        let (before, after) = access.derefs.split_at(step.after.min(access.derefs.len()));
        for deref in before {
            self.add_offset(Reg::R3, *deref);
            hop(self, 8);
            self.asm.jump_imm(JmpCond::Eq, Reg::R3, 0, null);
        }
        // r8 = the struct holding the array and its index, kept across the index's read;
        // then r3 = it moved to the element.
        self.asm.mov64_reg(Reg::R8, Reg::R3);
        self.add_offset(Reg::R3, step.index);
        hop(self, step.index_size);
        self.asm
            .jump_imm(
                JmpCond::Gt,
                Reg::R3,
                lang::checked::INDEX_BOUND as i32,
                null,
            )
            .alu64_imm(AluOp::Mul, Reg::R3, step.stride as i32)
            .alu64_reg(AluOp::Add, Reg::R3, Reg::R8);
        for deref in after {
            self.add_offset(Reg::R3, *deref);
            hop(self, 8);
            self.asm.jump_imm(JmpCond::Eq, Reg::R3, 0, null);
        }
        self.add_offset(Reg::R3, access.offset);
        hop(self, access.size.min(8));
        self.asm
            .jump(done)
            .bind(null)
            .store_imm(Size::DW, Reg::R10, slot, 0)
            .bind(done);
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

    /// The NULL tests are left out on the current task's pointers where the target verifier
    /// never types a loaded pointer as possibly NULL (6.1): there a load through NULL reads
    /// 0, as the test would have made it, and the test is a branch the verifier cannot
    /// decide. Eight ancestors' chains of them (36 tests, each read's NULL and non-NULL
    /// outcomes kept apart) cost 6.1 237,612 processed instructions for `ancestor.comm ==
    /// "a"`, 583 without. 6.12 decides the tests on `real_parent` (trusted) for nothing, and
    /// needs them on `task->cred` (possibly NULL there).
    fn follow(&mut self, access: &Access, reg: Reg, null: Option<Label>) {
        let null =
            null.filter(|_| self.loads_may_be_null || access.base != AccessBase::CurrentTask);
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
        self.asm.alu64_imm(AluOp::Add, reg, value as i32);
    }

    fn load_constant(&mut self, reg: Reg, value: u64) {
        if value <= i32::MAX as u64 {
            self.asm.mov64_imm(reg, value as i32);
        } else {
            self.asm.ld_imm64(reg, value);
        }
    }
}

/// The errnos that two deny rules or more refuse with (kill rules, which send a signal too,
/// apart), in the order of their first rule.
fn shared_errnos(program: &Program) -> Vec<i32> {
    let mut seen = Vec::new();
    let mut shared = Vec::new();
    for rule in program.deny.iter().filter(|rule| !rule.kill) {
        if seen.contains(&rule.errno) {
            if !shared.contains(&rule.errno) {
                shared.push(rule.errno);
            }
        } else {
            seen.push(rule.errno);
        }
    }
    shared
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
            ValueKind::WalkedPath(PathWalk::Dentry(w)) => vec![&w.dentry, &w.mnt],
            ValueKind::WalkedPath(PathWalk::Kernfs(w)) | ValueKind::WorkloadId(_, w) => {
                vec![&w.node]
            }
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
