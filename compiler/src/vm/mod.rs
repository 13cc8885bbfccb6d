//! The offline BPF machine: runs an emitted program on a mocked LSM context, without a kernel.
//!
//! It exists to show that the bytes krsi emits decide every event the way the policy says:
//! tests/differential.rs runs random policies through the whole compiler and compares this
//! machine's answer with the reference evaluator (`lang::eval`). It also counts the
//! instructions a run executes, the exact cost measure the benchmarks report beside timings.
//!
//! The machine decodes through the encoder's opcode table ([`Opcode`]), so an instruction the
//! encoder can emit is one the machine knows. It is stricter than the hardware and closer to
//! the kernel's verifier: every load and store is bounds-checked against the region it points
//! into ([`memory`]), reading a register that holds nothing (never written, or clobbered by a
//! helper call) is an error, reading stack bytes never written is an error, and a run that
//! exceeds its instruction budget is an error. Errors are values, never panics. One load is
//! not an error where the kernel makes it none. A pointer loaded through a kernel object's
//! pointer is typed `PTR_TO_BTF_ID` by the verifier, and the JIT compiles a load through it as
//! `BPF_PROBE_MEM`, whose fault handler writes 0 to the destination (`ex_handler_bpf` in
//! arch/x86/net/bpf_jit_comp.c); so a load through such a pointer that points nowhere (NULL)
//! reads 0 here too. A hook's pointer argument and `get_current_task_btf`'s result are not such
//! pointers: 6.12 types them trusted, never NULL, and loads through them without a fault
//! handler (a NULL `file` of an anonymous mmap crashed it), so a load through NULL there stays
//! an error. The machine tracks which registers hold which ([`Cpu::kernel`]).
//!
//! Helpers are mocked from the event ([`kernel::MockKernel`]): `map_lookup_elem` (array maps),
//! `current_task_under_cgroup`, `get_current_uid_gid`, `get_current_pid_tgid`,
//! `get_current_comm`, `d_path`, `probe_read_kernel`, `probe_read_kernel_str`,
//! `get_current_task_btf`, `send_signal` (recorded, see [`MockKernel::signals`]). The kernel's failures can be injected ([`kernel::Fault`]): a map
//! lookup that returns NULL, a kernel read that faults, a helper that returns an error.

mod helpers;
pub mod kernel;
pub mod memory;

#[cfg(test)]
mod tests;

use crate::bpf::helper::GET_CURRENT_TASK_BTF;
use crate::bpf::opcode::{ByteOrder, Opcode, Pseudo, Source, Width};
use crate::bpf::{
    call_target, helper_name, AluOp, Code, Insn, JmpCond, MapRelocation, Size, PSEUDO_CALL,
};
use crate::elf::ObjectSpec;
use crate::ir::Module;
use kernel::{EventError, Fault, MockKernel, STACK_SIZE};
use lang::eval::{Decision, EventInput};
use memory::{MemError, Memory, RegionKind};
use std::fmt;

/// Instructions one run may execute before it is stopped.
pub const DEFAULT_BUDGET: u64 = 1_000_000;

/// The signal a `kill` rule sends.
const SIGKILL: u32 = 9;

/// Why a run stopped without a result. `slot` is the instruction's index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VmError {
    /// A slot whose opcode byte is not in the table, or a malformed `ld_imm64`.
    BadInstruction {
        slot: usize,
        code: u8,
    },
    /// The program counter left the program (fell off the end or jumped outside).
    PcOutOfRange {
        slot: usize,
        target: i64,
    },
    Memory {
        slot: usize,
        error: MemError,
    },
    /// A register read before anything was written to it (or after a call clobbered it).
    UninitializedRegister {
        slot: usize,
        reg: u8,
    },
    /// A bpf-to-bpf call deeper than the kernel's 8 frames.
    CallDepth {
        slot: usize,
    },
    /// A write to r10, or a register field above r10.
    BadRegister {
        slot: usize,
        reg: u8,
    },
    Budget {
        executed: u64,
    },
    UnknownHelper {
        slot: usize,
        id: i32,
    },
    /// A helper called with arguments its kernel implementation would refuse.
    HelperMisuse {
        slot: usize,
        helper: &'static str,
        reason: String,
    },
    /// An `ld_imm64` of a map that no relocation names, or naming a map the object lacks.
    UnresolvedMap {
        slot: usize,
    },
    /// An LSM program must return 0 or a negative errno.
    ReturnOutOfRange {
        slot: usize,
        value: i64,
    },
    /// The event cannot be turned into kernel state for this program.
    Event(EventError),
}

impl fmt::Display for VmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VmError::BadInstruction { slot, code } => {
                write!(
                    f,
                    "instruction {slot}: opcode {code:#04x} is not an instruction krsi knows"
                )
            }
            VmError::PcOutOfRange { slot, target } => {
                write!(
                    f,
                    "instruction {slot}: control reaches {target}, outside the program"
                )
            }
            VmError::Memory { slot, error } => write!(f, "instruction {slot}: {error}"),
            VmError::UninitializedRegister { slot, reg } => {
                write!(f, "instruction {slot}: r{reg} is read before it is written")
            }
            VmError::BadRegister { slot, reg } => {
                write!(f, "instruction {slot}: r{reg} cannot be written here")
            }
            VmError::CallDepth { slot } => {
                write!(f, "instruction {slot}: a call past the kernel's 8 frames")
            }
            VmError::Budget { executed } => {
                write!(f, "stopped after {executed} instructions (the budget)")
            }
            VmError::UnknownHelper { slot, id } => {
                write!(
                    f,
                    "instruction {slot}: helper {id} ({}) is not mocked",
                    helper_name(*id as u32).unwrap_or("?")
                )
            }
            VmError::HelperMisuse {
                slot,
                helper,
                reason,
            } => write!(f, "instruction {slot}: bpf_{helper}: {reason}"),
            VmError::UnresolvedMap { slot } => {
                write!(f, "instruction {slot}: map load with no map behind it")
            }
            VmError::ReturnOutOfRange { slot, value } => {
                write!(
                    f,
                    "instruction {slot}: returns {value}, not 0 or a negative errno"
                )
            }
            VmError::Event(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for VmError {}

impl From<EventError> for VmError {
    fn from(e: EventError) -> Self {
        VmError::Event(e)
    }
}

/// A finished run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Run {
    /// r0 at `exit`.
    pub ret: i64,
    /// The slot of the `exit` that ended the run.
    pub exit_slot: usize,
    /// Instructions executed, `exit` included (an `ld_imm64` counts once).
    pub executed: u64,
    /// The rule index (r1) of the last call of the report function, whether or not a report
    /// was sent (a rate limit or a full ring buffer drops it).
    pub reported: Option<u32>,
}

impl Run {
    /// The decision the program returned. The deciding rule is the origin tag of the `exit`
    /// slot (codegen tags each rule's code with the rule's index); `u32::MAX` when the slot
    /// has none, as for the fail-closed exit.
    pub fn decision(&self, origins: &[Option<u32>]) -> Decision {
        if self.ret == 0 {
            return Decision::Allow;
        }
        Decision::Deny {
            errno: (-self.ret) as i32,
            rule: origins
                .get(self.exit_slot)
                .copied()
                .flatten()
                .unwrap_or(u32::MAX),
        }
    }

    /// [`Self::decision`], where `signals` are the signals the run sent: a refusal that sent
    /// SIGKILL is a kill.
    pub fn decision_with_signals(&self, origins: &[Option<u32>], signals: &[u32]) -> Decision {
        match self.decision(origins) {
            Decision::Deny { errno, rule } if signals.contains(&SIGKILL) => {
                Decision::Kill { errno, rule }
            }
            decision => decision,
        }
    }
}

/// What a compiled module decides for one event, and what it cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub decision: Decision,
    /// Instructions executed; 0 when the module has no program for the event (nothing runs).
    pub executed: u64,
}

/// Runs `module`'s program for `input.event`, as compiled into `object`, on the event. An
/// event with no program is allowed, as the kernel does with no program attached.
pub fn decide(
    module: &Module,
    object: &ObjectSpec,
    input: &EventInput,
) -> Result<Outcome, VmError> {
    decide_with_faults(module, object, input, &[])
}

/// [`decide`], with `faults` injected into the run (see [`Fault`]).
pub fn decide_with_faults(
    module: &Module,
    object: &ObjectSpec,
    input: &EventInput,
    faults: &[Fault],
) -> Result<Outcome, VmError> {
    run_event(module, object, input, faults).map(|(outcome, _)| outcome)
}

/// A report the program submitted: the rule it names and its `events::FLAG_*` bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reported {
    pub rule: u32,
    pub flags: u32,
}

/// [`decide`], and the reports the run submitted, in order (an audit run's record is the
/// reports of its rules: `report::reported_rules`).
pub fn decide_and_report(
    module: &Module,
    object: &ObjectSpec,
    input: &EventInput,
) -> Result<(Outcome, Vec<Reported>), VmError> {
    let (outcome, records) = run_event(module, object, input, &[])?;
    // A record that does not say which rules it reports stands for one that names no rule.
    let reports = records
        .iter()
        .flat_map(|record| {
            let (rules, flags) =
                crate::report::reported_rules(record).unwrap_or((u32::MAX..=u32::MAX, u32::MAX));
            rules.map(move |rule| Reported { rule, flags })
        })
        .collect();
    Ok((outcome, reports))
}

/// The bytes of each record the event's program submitted, in order. A record is reserved
/// holding [`GARBAGE`], as the kernel's ring buffer hands out memory it has not cleared.
pub fn submitted_records(
    module: &Module,
    object: &ObjectSpec,
    input: &EventInput,
) -> Result<Vec<Vec<u8>>, VmError> {
    run_event(module, object, input, &[]).map(|(_, records)| records)
}

/// Runs the event's program; the outcome and the records it submitted.
fn run_event(
    module: &Module,
    object: &ObjectSpec,
    input: &EventInput,
    faults: &[Fault],
) -> Result<(Outcome, Vec<Vec<u8>>), VmError> {
    let nothing_runs = Outcome {
        decision: Decision::Allow,
        executed: 0,
    };
    // An event with several hooks has a program per hook, told apart by their constants
    // (`kind` of `kmod_load`): run the one whose constants the event has (an event that does
    // not give a constant takes any). None: the hook that raised the event has no program.
    let matches = |p: &&crate::ir::Program| {
        p.values.iter().all(|v| match v.kind {
            crate::ir::ValueKind::Const(c) => input
                .values
                .get(v.name)
                .is_none_or(|given| *given == lang::checked::AttrValue::Int(c)),
            _ => true,
        })
    };
    // An event whose late values are read on a later hook (`cmdline` on
    // `bprm_committing_creds`): that program runs only when the first one let the operation
    // through, and the kernel ignores what it returns (a void hook): it decides by killing.
    let late_hook = lang::catalog::event(input.event)
        .and_then(|e| e.late_variant())
        .map(|v| v.hook);
    let of_event = |late: bool| {
        module
            .programs
            .iter()
            .filter(|p| p.event == input.event && (Some(p.hook) == late_hook) == late)
            .find(matches)
    };
    let mut outcome = nothing_runs;
    let mut reports = Vec::new();
    if let Some(program) = of_event(false) {
        let (first, records) = run_program(module, object, program, input, faults)?;
        outcome = first;
        reports = records;
    }
    if outcome.decision == Decision::Allow {
        if let Some(program) = of_event(true) {
            let (late, records) = run_program(module, object, program, input, faults)?;
            outcome.executed += late.executed;
            reports.extend(records);
            if let Decision::Kill { .. } = late.decision {
                outcome.decision = late.decision;
            }
        }
    }
    Ok((outcome, reports))
}

/// Runs one program on the event; its outcome and the records it submitted.
fn run_program(
    module: &Module,
    object: &ObjectSpec,
    program: &crate::ir::Program,
    input: &EventInput,
    faults: &[Fault],
) -> Result<(Outcome, Vec<Vec<u8>>), VmError> {
    let nothing_runs = Outcome {
        decision: Decision::Allow,
        executed: 0,
    };
    let symbol = program.symbol();
    let Some(spec) = object.programs.iter().find(|p| p.symbol == symbol) else {
        return Ok((nothing_runs, Vec::new()));
    };
    let mut kernel = MockKernel::for_report(program, module.parent.as_ref(), &object.maps, input)?;
    kernel.add_data(&object.data);
    kernel.faults = faults.to_vec();
    let run = Machine::new(&spec.code).run(&mut kernel)?;
    let mut decision = run.decision_with_signals(&spec.code.origins, &kernel.signals);
    if let Decision::Deny { rule, .. } | Decision::Kill { rule, .. } = &mut decision {
        // An exit shared by several rules has no origin: the rule is the one the last call
        // of the report function named (for code without named functions, the one the
        // run's last report names).
        if *rule == u32::MAX {
            let reported = run
                .reported
                .or_else(|| kernel.reports.last().and_then(|r| reported_rule(r)));
            if let Some(reported) = reported {
                *rule = reported;
            }
        }
    }
    let outcome = Outcome {
        decision,
        executed: run.executed,
    };
    Ok((outcome, kernel.reports))
}

/// The rule a submitted report record names.
fn reported_rule(record: &[u8]) -> Option<u32> {
    let at = crate::report::RULE as usize;
    let bytes: [u8; 4] = record.get(at..at + 4)?.try_into().ok()?;
    Some(u32::from_le_bytes(bytes))
}

/// A program ready to run: its slots and the relocations that say which map each map load
/// loads.
#[derive(Clone, Copy, Debug)]
pub struct Machine<'a> {
    insns: &'a [Insn],
    relocations: &'a [MapRelocation],
    budget: u64,
    /// Where the report function starts, when the code names its functions.
    report_entry: Option<usize>,
}

impl<'a> Machine<'a> {
    pub fn new(code: &'a Code) -> Self {
        let mut machine = Machine::from_parts(&code.insns, &code.relocations);
        machine.report_entry = code
            .functions
            .iter()
            .find(|f| f.name == crate::report::REPORT_FUNCTION)
            .map(|f| f.start);
        machine
    }

    /// For decoded bytes (`crate::bpf::decode`) and relocations read from an object.
    pub fn from_parts(insns: &'a [Insn], relocations: &'a [MapRelocation]) -> Self {
        Machine {
            insns,
            relocations,
            budget: DEFAULT_BUDGET,
            report_entry: None,
        }
    }

    pub fn with_budget(mut self, budget: u64) -> Self {
        self.budget = budget;
        self
    }

    /// Runs from slot 0 with r1 = ctx and r10 = the frame pointer, until `exit`.
    pub fn run(&self, kernel: &mut MockKernel) -> Result<Run, VmError> {
        let mut cpu = Cpu {
            regs: [0; 11],
            init: [false; 11],
            kernel: [None; 11],
        };
        cpu.set(1, kernel.ctx);
        cpu.set(10, kernel.frame);
        let mut pc = 0usize;
        let mut executed = 0u64;
        // The callers of the running function (bpf-to-bpf calls): where each resumes, and
        // its r6–r9 and frame pointer, which a call keeps.
        let mut callers: Vec<(usize, Cpu)> = Vec::new();
        let mut reported = None;
        loop {
            if executed >= self.budget {
                return Err(VmError::Budget { executed });
            }
            executed += 1;
            let slot = pc;
            let insn = *self.insns.get(slot).ok_or(VmError::PcOutOfRange {
                slot: slot.saturating_sub(1),
                target: slot as i64,
            })?;
            let op = insn.opcode().ok_or(VmError::BadInstruction {
                slot,
                code: insn.code,
            })?;
            if insn.dst > 10 || insn.src > 10 && op != Opcode::LdImm64 {
                return Err(VmError::BadRegister {
                    slot,
                    reg: insn.dst.max(insn.src),
                });
            }
            if op.writes_dst() && insn.dst == 10 {
                return Err(VmError::BadRegister { slot, reg: 10 });
            }
            let mem = |error| VmError::Memory { slot, error };
            pc = slot + 1;
            match op {
                Opcode::Alu { width, op, source } => {
                    let b = match source {
                        Source::Imm => insn.imm as i64 as u64,
                        Source::Reg => cpu.get(slot, insn.src)?,
                    };
                    let a = if op == AluOp::Mov {
                        0
                    } else {
                        cpu.get(slot, insn.dst)?
                    };
                    // A kernel pointer moved, or moved by a constant, is one still.
                    let pointer = match (width, op, source) {
                        (Width::W64, AluOp::Mov, Source::Reg) => cpu.pointer(insn.src),
                        (Width::W64, AluOp::Add | AluOp::Sub, Source::Imm) => cpu.pointer(insn.dst),
                        _ => None,
                    };
                    cpu.set(insn.dst, alu(width, op, a, b));
                    cpu.kernel[usize::from(insn.dst)] = pointer;
                }
                Opcode::End { order } => {
                    let a = cpu.get(slot, insn.dst)?;
                    let v = match (order, insn.imm) {
                        (ByteOrder::Le, 16) => a & 0xffff,
                        (ByteOrder::Le, 32) => a & 0xffff_ffff,
                        (ByteOrder::Le, 64) => a,
                        (ByteOrder::Be, 16) => u64::from((a as u16).swap_bytes()),
                        (ByteOrder::Be, 32) => u64::from((a as u32).swap_bytes()),
                        (ByteOrder::Be, 64) => a.swap_bytes(),
                        _ => {
                            return Err(VmError::BadInstruction {
                                slot,
                                code: insn.code,
                            })
                        }
                    };
                    cpu.set(insn.dst, v);
                }
                Opcode::LdImm64 => {
                    let high = self.insns.get(slot + 1).ok_or(VmError::BadInstruction {
                        slot,
                        code: insn.code,
                    })?;
                    let value = match Pseudo::from_src(insn.src) {
                        Some(Pseudo::None) => {
                            u64::from(insn.imm as u32) | (u64::from(high.imm as u32) << 32)
                        }
                        Some(Pseudo::MapFd) => {
                            let symbol = self
                                .relocations
                                .iter()
                                .find(|r| r.slot == slot)
                                .ok_or(VmError::UnresolvedMap { slot })?;
                            kernel
                                .maps
                                .get(&symbol.symbol)
                                .ok_or(VmError::UnresolvedMap { slot })?
                                .handle
                        }
                        // The address of byte `imm` of the map's one value (a data section),
                        // as the loader relocates it.
                        Some(Pseudo::MapValue) => {
                            let symbol = self
                                .relocations
                                .iter()
                                .find(|r| r.slot == slot)
                                .ok_or(VmError::UnresolvedMap { slot })?;
                            let value = kernel
                                .maps
                                .get(&symbol.symbol)
                                .and_then(|m| m.values.first())
                                .ok_or(VmError::UnresolvedMap { slot })?;
                            value.wrapping_add(u64::from(insn.imm as u32))
                        }
                        None => {
                            return Err(VmError::BadInstruction {
                                slot,
                                code: insn.code,
                            })
                        }
                    };
                    cpu.set(insn.dst, value);
                    pc = slot + 2;
                }
                Opcode::Load { size } => {
                    let addr = cpu
                        .get(slot, insn.src)?
                        .wrapping_add(insn.off as i64 as u64);
                    let base = cpu.pointer(insn.src);
                    let region = kernel
                        .memory
                        .locate(addr)
                        .and_then(|(id, _)| kernel.memory.region(id))
                        .map(|region| &region.kind);
                    let v = match region {
                        // `BPF_PROBE_MEM`: the fault handler reads 0.
                        None if base == Some(KernelPointer::Probed) => 0,
                        _ => kernel
                            .memory
                            .read_uint(addr, size.bytes() as usize)
                            .map_err(mem)?,
                    };
                    // Eight bytes of the context are an argument, trusted; eight bytes read
                    // through a kernel pointer are one the verifier does not trust. Either
                    // may be an integer so marked, which the verifier would refuse to load
                    // through.
                    let loaded = match (size, region, base) {
                        (Size::DW, Some(RegionKind::Context), _) => Some(KernelPointer::Trusted),
                        (Size::DW, _, Some(_)) => Some(KernelPointer::Probed),
                        _ => None,
                    };
                    cpu.set(insn.dst, v);
                    cpu.kernel[usize::from(insn.dst)] = loaded;
                }
                Opcode::Store { size } => {
                    let addr = cpu
                        .get(slot, insn.dst)?
                        .wrapping_add(insn.off as i64 as u64);
                    let v = cpu.get(slot, insn.src)?;
                    kernel
                        .memory
                        .write_uint(addr, size.bytes() as usize, v)
                        .map_err(mem)?;
                }
                Opcode::StoreImm { size } => {
                    let addr = cpu
                        .get(slot, insn.dst)?
                        .wrapping_add(insn.off as i64 as u64);
                    kernel
                        .memory
                        .write_uint(addr, size.bytes() as usize, insn.imm as i64 as u64)
                        .map_err(mem)?;
                }
                Opcode::Jump {
                    width,
                    cond,
                    source,
                } => {
                    let a = cpu.get(slot, insn.dst)?;
                    let b = match source {
                        Source::Imm => insn.imm as i64 as u64,
                        Source::Reg => cpu.get(slot, insn.src)?,
                    };
                    if jump(width, cond, a, b) {
                        pc = target(slot, insn.off)?;
                    }
                }
                Opcode::Ja => pc = target(slot, insn.off)?,
                Opcode::Call if insn.src == PSEUDO_CALL => {
                    // The kernel allows 8 frames; each gets a stack of its own.
                    if callers.len() >= 7 {
                        return Err(VmError::CallDepth { slot });
                    }
                    let target = call_target(slot, insn.imm);
                    if usize::try_from(target).ok() == self.report_entry {
                        reported = Some(cpu.get(slot, 1)? as u32);
                    }
                    let stack = kernel
                        .memory
                        .add(RegionKind::Stack, vec![0; STACK_SIZE], true);
                    let mut callee = Cpu {
                        regs: cpu.regs,
                        init: cpu.init,
                        kernel: cpu.kernel,
                    };
                    for r in [0, 6, 7, 8, 9] {
                        callee.init[r] = false;
                    }
                    callee.set(10, Memory::base(stack) + STACK_SIZE as u64);
                    callers.push((slot + 1, std::mem::replace(&mut cpu, callee)));
                    pc = usize::try_from(target)
                        .map_err(|_| VmError::PcOutOfRange { slot, target })?;
                }
                Opcode::Exit if !callers.is_empty() => {
                    let r0 = cpu.get(slot, 0)?;
                    let r0_kernel = cpu.pointer(0);
                    if let Some((resume, caller)) = callers.pop() {
                        cpu = caller;
                        for r in 1..=5 {
                            cpu.init[r] = false;
                        }
                        cpu.set(0, r0);
                        cpu.kernel[0] = r0_kernel;
                        pc = resume;
                    }
                }
                Opcode::Call => {
                    let r0 = helpers::call(slot, insn.imm, &mut cpu, kernel)?;
                    for r in 1..=5 {
                        cpu.init[r] = false;
                    }
                    cpu.set(0, r0);
                    if insn.imm as u32 == GET_CURRENT_TASK_BTF {
                        cpu.kernel[0] = Some(KernelPointer::Trusted);
                    }
                }
                Opcode::Exit => {
                    // An LSM hook returns an `int`: the kernel takes r0's low 32 bits, so
                    // clang's `w0 = -1` refuses as `r0 = -1` does (6.12's verifier checks the
                    // range of those 32 bits too, for a hook returning `int`).
                    let ret = i64::from(cpu.get(slot, 0)? as u32 as i32);
                    if !(-4095..=0).contains(&ret) {
                        return Err(VmError::ReturnOutOfRange { slot, value: ret });
                    }
                    return Ok(Run {
                        ret,
                        exit_slot: slot,
                        executed,
                        reported,
                    });
                }
            }
        }
    }
}

fn target(slot: usize, off: i16) -> Result<usize, VmError> {
    let target = slot as i64 + 1 + i64::from(off);
    usize::try_from(target).map_err(|_| VmError::PcOutOfRange { slot, target })
}

struct Cpu {
    regs: [u64; 11],
    init: [bool; 11],
    /// Which registers hold a pointer the verifier types as a kernel object's, and how (see
    /// the module).
    kernel: [Option<KernelPointer>; 11],
}

/// How the verifier types a pointer to a kernel object, which decides what a load through
/// NULL does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KernelPointer {
    /// A hook's argument, `get_current_task_btf`'s result: trusted, never NULL; a load
    /// through NULL faults in the kernel (an error here).
    Trusted,
    /// Loaded through a kernel pointer: a load through it is fault-handled and reads 0.
    Probed,
}

impl Cpu {
    fn pointer(&self, reg: u8) -> Option<KernelPointer> {
        self.kernel.get(usize::from(reg)).copied().flatten()
    }

    fn get(&self, slot: usize, reg: u8) -> Result<u64, VmError> {
        let r = usize::from(reg);
        match self.init.get(r) {
            Some(true) => Ok(self.regs[r]),
            _ => Err(VmError::UninitializedRegister { slot, reg }),
        }
    }

    /// Writes `value`, an integer: the caller marks a kernel pointer after.
    fn set(&mut self, reg: u8, value: u64) {
        let r = usize::from(reg);
        if r < self.regs.len() {
            self.regs[r] = value;
            self.init[r] = true;
            self.kernel[r] = None;
        }
    }
}

/// One ALU operation as the kernel defines it: 32-bit forms work on the low halves and
/// zero-extend; shifts use the amount modulo the width; division by zero gives 0 and modulo
/// by zero leaves the dividend.
pub fn alu(width: Width, op: AluOp, a: u64, b: u64) -> u64 {
    match width {
        Width::W64 => match op {
            AluOp::Add => a.wrapping_add(b),
            AluOp::Sub => a.wrapping_sub(b),
            AluOp::Mul => a.wrapping_mul(b),
            AluOp::Div => a.checked_div(b).unwrap_or(0),
            AluOp::Or => a | b,
            AluOp::And => a & b,
            AluOp::Lsh => a << (b & 63),
            AluOp::Rsh => a >> (b & 63),
            AluOp::Neg => a.wrapping_neg(),
            AluOp::Mod => a.checked_rem(b).unwrap_or(a),
            AluOp::Xor => a ^ b,
            AluOp::Mov => b,
            AluOp::Arsh => ((a as i64) >> (b & 63)) as u64,
        },
        Width::W32 => {
            let (a, b) = (a as u32, b as u32);
            u64::from(match op {
                AluOp::Add => a.wrapping_add(b),
                AluOp::Sub => a.wrapping_sub(b),
                AluOp::Mul => a.wrapping_mul(b),
                AluOp::Div => a.checked_div(b).unwrap_or(0),
                AluOp::Or => a | b,
                AluOp::And => a & b,
                AluOp::Lsh => a << (b & 31),
                AluOp::Rsh => a >> (b & 31),
                AluOp::Neg => a.wrapping_neg(),
                AluOp::Mod => a.checked_rem(b).unwrap_or(a),
                AluOp::Xor => a ^ b,
                AluOp::Mov => b,
                AluOp::Arsh => ((a as i32) >> (b & 31)) as u32,
            })
        }
    }
}

/// Whether a conditional jump is taken: 64-bit or low-32-bit operands, unsigned unless the
/// condition is signed.
pub fn jump(width: Width, cond: JmpCond, a: u64, b: u64) -> bool {
    let (ua, ub, sa, sb) = match width {
        Width::W64 => (a, b, a as i64, b as i64),
        Width::W32 => (
            u64::from(a as u32),
            u64::from(b as u32),
            i64::from(a as u32 as i32),
            i64::from(b as u32 as i32),
        ),
    };
    match cond {
        JmpCond::Eq => ua == ub,
        JmpCond::Ne => ua != ub,
        JmpCond::Gt => ua > ub,
        JmpCond::Ge => ua >= ub,
        JmpCond::Lt => ua < ub,
        JmpCond::Le => ua <= ub,
        JmpCond::Sgt => sa > sb,
        JmpCond::Sge => sa >= sb,
        JmpCond::Slt => sa < sb,
        JmpCond::Sle => sa <= sb,
        JmpCond::Set => ua & ub != 0,
    }
}
