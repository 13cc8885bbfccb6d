//! The krsi runtime: every interaction with the kernel.
//!
//! A policy is one ELF object with one LSM program per hook. [`load`] loads every program
//! (running the kernel verifier on each) before attaching any, and attaches all or nothing:
//! if anything fails, dropping the half-built [`Ebpf`] detaches and unloads what was done.
//! Dropping an [`EnforcedPolicy`] lifts the policy.

mod crash;
mod pin;

pub use crash::CRASH_AT;
pub use pin::{
    DropCounters, PinOutcome, PinRoot, PinnedPolicy, PinnedProgram, Staging, PIN_LAYOUT,
    VERSION_FLAGS,
};

use aya::maps::{Array, CgroupArray, MapData, RingBuf};
use aya::programs::lsm::LsmLinkId;
use aya::programs::{Lsm, ProgramError};
use aya::{Btf, Ebpf, EbpfLoader, VerifierLogLevel};
use std::fmt;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// The active LSMs, as securityfs lists them.
const LSM_LIST: &str = "/sys/kernel/security/lsm";

/// A program of the object and the LSM hook it attaches to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgramTarget {
    /// The program's ELF symbol.
    pub symbol: String,
    /// The hook without its `bpf_lsm_` prefix, e.g. `bprm_check_security`.
    pub hook: String,
}

/// Scope a policy to a cgroup (v2) and its descendants.
#[derive(Clone, Debug)]
pub struct CgroupScope {
    /// The `BPF_MAP_TYPE_CGROUP_ARRAY` the programs consult.
    pub map: String,
    pub cgroup: PathBuf,
}

/// The maps of a policy's version gate, by the names the compiler gives them: the gate every
/// version of the policy shares and this object's version number (pin.rs has the protocol).
#[derive(Clone, Debug)]
pub struct GateMaps {
    pub gate_map: String,
    pub version_map: String,
    /// The map that carries the gate's reading from a staged version to the older one during
    /// a replacement, which every version of a pinned policy shares; only a pinned policy is
    /// ever replaced, so a foreground load needs none.
    pub handover: Option<String>,
}

#[derive(Debug)]
pub enum RuntimeError {
    NotRoot,
    /// `bpf` is missing from the active LSM list.
    BpfLsmInactive {
        active: String,
    },
    /// The kernel refused a trampoline program outright (EPERM with an empty verifier log).
    LsmProgramsRefused {
        symbol: String,
        error: std::io::Error,
    },
    /// The kernel's own BTF could not be read.
    KernelBtf(String),
    /// The object could not be parsed or its maps created.
    Object(String),
    /// `BPF_ENABLE_STATS` failed (kernels before 5.8 lack it).
    RunTimeStats(String),
    /// The verifier rejected a program.
    Rejected {
        symbol: String,
        hook: String,
        error: std::io::Error,
        log: String,
    },
    Load {
        symbol: String,
        hook: String,
        message: String,
    },
    Attach {
        symbol: String,
        hook: String,
        message: String,
    },
    Cgroup {
        path: PathBuf,
        problem: CgroupProblem,
    },
    MissingProgram(String),
    /// No bpffs is mounted where pins were asked for.
    BpffsNotMounted {
        path: PathBuf,
    },
    /// A policy of this name is pinned in a layout this krsic does not know.
    PinnedByOtherVersion {
        name: String,
        found: String,
    },
    NotPinned {
        name: String,
        root: PathBuf,
    },
    BadPolicyName(String),
    /// Reading or writing a pin failed.
    Pin {
        path: PathBuf,
        message: String,
    },
}

impl fmt::Display for RuntimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuntimeError::NotRoot => write!(
                f,
                "loading a policy needs root (CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN); run krsic load with sudo"
            ),
            RuntimeError::BpfLsmInactive { active } => write!(
                f,
                "BPF LSM is not active on this kernel (active LSMs: `{active}`); add `bpf` to the \
                 `lsm=` boot parameter, e.g. in /etc/default/grub set \
                 GRUB_CMDLINE_LINUX_DEFAULT=\"lsm={active},bpf\" (keeping what the line holds), run \
                 `update-grub` and reboot; `krsic doctor` prints the exact line"
            ),
            RuntimeError::LsmProgramsRefused { symbol, error } => write!(
                f,
                "the kernel refused to load LSM program `{symbol}` ({error}) before verifying it: \
                 this kernel does not allow BPF LSM programs (it needs CONFIG_BPF_LSM=y, `bpf` in \
                 the `lsm=` boot parameter, and no lockdown or hardening that blocks BPF \
                 trampolines); run the policy on such a kernel, or test it in a VM"
            ),
            RuntimeError::KernelBtf(message) => write!(
                f,
                "cannot read the kernel's BTF ({message}); BPF LSM needs a kernel built with CONFIG_DEBUG_INFO_BTF=y"
            ),
            RuntimeError::Object(message) => write!(f, "cannot load the policy object: {message}"),
            RuntimeError::RunTimeStats(message) => write!(
                f,
                "cannot make the kernel count program run time: {message} (Linux 5.8 or later; \
                 or set `sysctl kernel.bpf_stats_enabled=1`)"
            ),
            RuntimeError::Rejected { symbol, hook, error, .. } => write!(
                f,
                "the kernel verifier rejected program `{symbol}` for hook `{hook}` ({error})"
            ),
            RuntimeError::Load { symbol, hook, message } => {
                write!(f, "cannot load program `{symbol}` for hook `{hook}`: {message}")
            }
            RuntimeError::Attach { symbol, hook, message } => {
                write!(f, "cannot attach program `{symbol}` to hook `{hook}`: {message}")
            }
            RuntimeError::Cgroup { path, problem } => write!(
                f,
                "cannot scope the policy to cgroup `{}`: {problem}; pass a directory of the cgroup v2 \
                 hierarchy, e.g. /sys/fs/cgroup/system.slice/sshd.service",
                path.display()
            ),
            RuntimeError::MissingProgram(symbol) => {
                write!(f, "the object has no program `{symbol}`")
            }
            RuntimeError::BpffsNotMounted { path } => write!(
                f,
                "no BPF filesystem is mounted at `{0}`, so nothing can be pinned there; mount one \
                 with `mount -t bpf bpf {0}` (or pass --bpffs with the directory of a mounted bpffs)",
                path.display()
            ),
            RuntimeError::PinnedByOtherVersion { name, found } => write!(
                f,
                "`{name}` is pinned by another version of krsic ({found}; this krsic writes pin \
                 layout {PIN_LAYOUT}) and is left as it is; remove it with `krsic unload {name}` \
                 (or with the krsic that pinned it), then load again"
            ),
            RuntimeError::NotPinned { name, root } => write!(
                f,
                "no policy named `{name}` is pinned under `{}`; `krsic list` shows the pinned policies",
                root.display()
            ),
            RuntimeError::BadPolicyName(name) => write!(
                f,
                "`{name}` cannot name a pinned policy: use letters, digits, `_` and `-` (at most 64, \
                 not starting with `_`; bpffs refuses `.`), e.g. with a `policy NAME` line at the \
                 top of the policy"
            ),
            RuntimeError::Pin { path, message } => {
                write!(f, "pin `{}`: {message}", path.display())
            }
        }
    }
}

impl std::error::Error for RuntimeError {}

/// Why a directory cannot scope a policy.
#[derive(Debug)]
pub enum CgroupProblem {
    /// It cannot be read (missing, no permission).
    Unreadable(std::io::Error),
    NotADirectory,
    /// A directory, but not of the cgroup v2 hierarchy: it has no `cgroup.procs`.
    NotACgroup,
    /// The kernel refused the cgroup in the scope map (aya's error chain).
    Refused(String),
}

impl fmt::Display for CgroupProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CgroupProblem::Unreadable(error) => error.fmt(f),
            CgroupProblem::NotADirectory => f.write_str("not a directory"),
            CgroupProblem::NotACgroup => {
                f.write_str("not a cgroup directory (it has no `cgroup.procs`)")
            }
            CgroupProblem::Refused(message) => f.write_str(message),
        }
    }
}

/// Fails when BPF LSM is known not to be active. When securityfs is not mounted the list
/// cannot be read; then the program load itself is the test.
pub fn check_bpf_lsm_active() -> Result<(), RuntimeError> {
    match std::fs::read_to_string(LSM_LIST) {
        Ok(active) => {
            let active = active.trim().to_string();
            if active.split(',').any(|lsm| lsm == "bpf") {
                Ok(())
            } else {
                Err(RuntimeError::BpfLsmInactive { active })
            }
        }
        Err(_) => Ok(()),
    }
}

/// Makes the kernel count every BPF program's runs and run time (`run_cnt`, `run_time_ns` in
/// `bpf_prog_info`) for as long as the returned descriptor is open, as `sysctl
/// kernel.bpf_stats_enabled=1` does but without outliving the caller: the kernel stops counting
/// when the last such descriptor is closed and the sysctl is 0 (`BPF_ENABLE_STATS`, Linux 5.8).
/// Counting costs every program run two clock reads, on every program of the machine.
pub fn enable_run_time_stats() -> Result<std::os::fd::OwnedFd, RuntimeError> {
    aya::sys::enable_stats(aya::sys::Stats::RunTime)
        .map_err(|e| RuntimeError::RunTimeStats(error_chain(&e)))
}

pub fn check_root() -> Result<(), RuntimeError> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Err(RuntimeError::NotRoot);
    }
    Ok(())
}

/// A policy whose programs are all attached. Dropping it detaches them.
pub struct EnforcedPolicy {
    // Holds the program and link file descriptors: the kernel keeps the programs attached
    // exactly as long as these live.
    ebpf: Ebpf,
    /// The link of each attached program, by symbol; pinning takes them over.
    links: Vec<(String, LsmLinkId)>,
    gate: GateMaps,
    /// This object's version number (in its version map).
    version: u64,
    pub attached: Vec<ProgramTarget>,
}

/// The reports programs send through their ring buffer.
pub struct EventStream {
    ring: RingBuf<MapData>,
}

impl EventStream {
    /// Becomes readable when reports are waiting.
    pub fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.ring.as_raw_fd()
    }

    /// Hands every waiting report to `each`, oldest first.
    pub fn drain(&mut self, mut each: impl FnMut(&[u8])) {
        while let Some(item) = self.ring.next() {
            each(&item);
        }
    }
}

impl EnforcedPolicy {
    /// The report stream of the ring buffer map `map`, once (the stream owns the map).
    pub fn take_events(&mut self, map: &str) -> Result<Option<EventStream>, RuntimeError> {
        let Some(map) = self.ebpf.take_map(map) else {
            return Ok(None);
        };
        let ring = RingBuf::try_from(map).map_err(|e| RuntimeError::Object(error_chain(&e)))?;
        Ok(Some(EventStream { ring }))
    }

    /// The sum over CPUs of the `u64` at `index` of per-CPU array `map` (the programs count
    /// the reports they could not send there); `None` when the object has no such map.
    pub fn per_cpu_total(&self, map: &str, index: u32) -> Result<Option<u64>, RuntimeError> {
        match self.ebpf.map(map) {
            Some(map) => pin::per_cpu_sum(map, index).map(Some),
            None => Ok(None),
        }
    }

    /// Switches the gate to this version: from now on every program of it decides, and the
    /// programs of any other version of the policy sharing the gate do not.
    fn arm(&mut self) -> Result<(), RuntimeError> {
        set_u64(&mut self.ebpf, &self.gate.gate_map, self.version)
    }

    /// Detaches every program and unloads the policy.
    pub fn detach(self) {
        drop(self);
    }
}

/// What the verifier writes to its log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VerifierLog {
    /// Only the message of a rejection and the statistics. Cheap: what every load uses.
    Stats,
    /// Every instruction the verifier walks, which locates a rejection. Formatting it costs
    /// far more than verifying (a program of 400,000 processed instructions took minutes
    /// under TCG), so it is asked for only to explain a rejection.
    Instructions,
}

impl VerifierLog {
    fn level(self) -> VerifierLogLevel {
        match self {
            VerifierLog::Stats => VerifierLogLevel::STATS,
            VerifierLog::Instructions => VerifierLogLevel::VERBOSE | VerifierLogLevel::STATS,
        }
    }
}

/// Loads every program of `object` — the kernel verifier runs on each — and unloads them
/// again without attaching anything. Returns, per program, the number of instructions the
/// verifier processed (kernels from 5.16 report it).
pub fn verify(
    object: &[u8],
    programs: &[ProgramTarget],
    log: VerifierLog,
) -> Result<Vec<(String, Option<u32>)>, RuntimeError> {
    check_root()?;
    let btf = Btf::from_sys_fs().map_err(|e| RuntimeError::KernelBtf(e.to_string()))?;
    let mut ebpf = EbpfLoader::new()
        .verifier_log_level(log.level())
        .load(object)
        .map_err(|e| RuntimeError::Object(error_chain(&e)))?;
    let mut stats = Vec::new();
    for target in programs {
        let program = lsm_program(&mut ebpf, target)?;
        program
            .load(&target.hook, &btf)
            .map_err(|e| load_error(target, e))?;
        let processed = program
            .info()
            .ok()
            .and_then(|info| info.verified_instruction_count());
        stats.push((target.symbol.clone(), processed));
    }
    // Dropping `ebpf` unloads every program.
    Ok(stats)
}

/// Loads every program of `object`, then attaches them all. Without `staging` the policy is
/// its own and decides as soon as it is attached; with it, the object is a new version of a
/// pinned policy, sharing its gate and attached disarmed until [`PinRoot::pin`] commits it.
pub fn load(
    object: &[u8],
    programs: &[ProgramTarget],
    scope: Option<&CgroupScope>,
    gate: &GateMaps,
    staging: Option<&Staging>,
) -> Result<EnforcedPolicy, RuntimeError> {
    check_root()?;
    check_bpf_lsm_active()?;
    let btf = Btf::from_sys_fs().map_err(|e| RuntimeError::KernelBtf(e.to_string()))?;
    // The gate and the version are data sections of the object, made into maps by the loader
    // with the words written here: a policy of its own arms itself at once (the gate holds
    // its version, unflagged); a staged version comes disarmed and flagged, and its gate is
    // the pinned one of the version in force, which the loader writes again with the number
    // it holds (the pin root's lock, held from `stage`, keeps it so). An object without them
    // (a program not compiled by krsi, as the benchmarks load) can run in the foreground,
    // where there is nothing to switch, but is never pinned.
    let version = staging.map_or(1, Staging::version);
    let (gate_word, version_word) = match staging {
        Some(staging) => (staging.gate_in_force(), staging.version_word()),
        None => (version, version),
    };
    let mut loader = EbpfLoader::new();
    loader
        .override_global(gate.gate_map.as_str(), &gate_word, staging.is_some())
        .override_global(gate.version_map.as_str(), &version_word, staging.is_some());
    // The statistics only: an instruction log slows loading a large policy by orders of
    // magnitude; `verify` with `VerifierLog::Instructions` explains a rejection afterwards.
    loader.verifier_log_level(VerifierLog::Stats.level());
    if let Some(shared) = staging.and_then(Staging::shared_gate) {
        loader.map_pin_path(&gate.gate_map, shared);
    }
    if let (Some(shared), Some(handover)) = (
        staging.and_then(Staging::shared_handover),
        gate.handover.as_ref(),
    ) {
        loader.map_pin_path(handover, shared);
    }
    let mut ebpf = loader
        .load(object)
        .map_err(|e| RuntimeError::Object(error_chain(&e)))?;
    if let Some(scope) = scope {
        set_scope(&mut ebpf, scope)?;
    }
    // Verify and load everything first: a rejection here leaves nothing attached.
    for target in programs {
        let program = lsm_program(&mut ebpf, target)?;
        program
            .load(&target.hook, &btf)
            .map_err(|e| load_error(target, e))?;
    }
    let mut links = Vec::new();
    for target in programs {
        let program = lsm_program(&mut ebpf, target)?;
        // On failure `ebpf` is dropped on return, detaching the programs attached so far.
        let link = program.attach().map_err(|e| RuntimeError::Attach {
            symbol: target.symbol.clone(),
            hook: target.hook.clone(),
            message: error_chain(&e),
        })?;
        links.push((target.symbol.clone(), link));
    }
    Ok(EnforcedPolicy {
        ebpf,
        links,
        gate: gate.clone(),
        version,
        attached: programs.to_vec(),
    })
}

/// Sets index 0 of the object's one-entry `u64` array `map` (the gate or the version).
fn set_u64(ebpf: &mut Ebpf, map: &str, value: u64) -> Result<(), RuntimeError> {
    let found = ebpf.map_mut(map).ok_or_else(|| {
        RuntimeError::Object(format!(
            "the object has no version gate map `{map}`: it was built by an older krsic; \
             rebuild it with this one"
        ))
    })?;
    let mut array =
        Array::<_, u64>::try_from(found).map_err(|e| RuntimeError::Object(error_chain(&e)))?;
    array
        .set(0, value, 0)
        .map_err(|e| RuntimeError::Object(format!("`{map}`: {}", error_chain(&e))))
}

/// The LSM program `target` names in the object.
fn lsm_program<'e>(
    ebpf: &'e mut Ebpf,
    target: &ProgramTarget,
) -> Result<&'e mut Lsm, RuntimeError> {
    ebpf.program_mut(&target.symbol)
        .ok_or_else(|| RuntimeError::MissingProgram(target.symbol.clone()))?
        .try_into()
        .map_err(|e: ProgramError| RuntimeError::Load {
            symbol: target.symbol.clone(),
            hook: target.hook.clone(),
            message: error_chain(&e),
        })
}

fn set_scope(ebpf: &mut Ebpf, scope: &CgroupScope) -> Result<(), RuntimeError> {
    let cgroup_error = |problem: CgroupProblem| RuntimeError::Cgroup {
        path: scope.cgroup.clone(),
        problem,
    };
    let dir = open_cgroup(&scope.cgroup).map_err(cgroup_error)?;
    let map = ebpf.map_mut(&scope.map).ok_or_else(|| {
        RuntimeError::Object(format!(
            "the object has no scope map `{}`; build it with `--scope cgroup`",
            scope.map
        ))
    })?;
    let mut cgroups =
        CgroupArray::try_from(map).map_err(|e| RuntimeError::Object(error_chain(&e)))?;
    cgroups
        .set(0, dir.as_raw_fd(), 0)
        .map_err(|e| cgroup_error(CgroupProblem::Refused(error_chain(&e))))?;
    Ok(())
}

fn open_cgroup(path: &Path) -> Result<File, CgroupProblem> {
    let meta = std::fs::metadata(path).map_err(CgroupProblem::Unreadable)?;
    if !meta.is_dir() {
        return Err(CgroupProblem::NotADirectory);
    }
    if !path.join("cgroup.procs").exists() {
        return Err(CgroupProblem::NotACgroup);
    }
    File::open(path).map_err(CgroupProblem::Unreadable)
}

fn load_error(target: &ProgramTarget, error: ProgramError) -> RuntimeError {
    match error {
        ProgramError::LoadError {
            io_error,
            verifier_log,
        } => {
            let log = verifier_log.to_string();
            if io_error.raw_os_error() == Some(libc::EPERM) && log.trim().is_empty() {
                RuntimeError::LsmProgramsRefused {
                    symbol: target.symbol.clone(),
                    error: io_error,
                }
            } else {
                RuntimeError::Rejected {
                    symbol: target.symbol.clone(),
                    hook: target.hook.clone(),
                    error: io_error,
                    log,
                }
            }
        }
        other => RuntimeError::Load {
            symbol: target.symbol.clone(),
            hook: target.hook.clone(),
            message: error_chain(&other),
        },
    }
}

/// An error with its causes, `a: b: c`, since aya's errors keep the useful part in the source.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
