//! The IR: per LSM hook, a decision function.
//!
//! A [`Program`] lists the values it reads (each computed once, in the prologue, however many
//! rules read it) and its rules as condition trees over those values. Fail-closed handling is
//! explicit here: every test of a value the program may be unable to compute carries the
//! outcome it takes when the value is unknown. The text form (`Display`) is what the IR
//! snapshots show, so codegen can be reviewed from the IR alone.

use lang::checked::{Access, AccessBase, Endpoint, IntOp, KernfsWalk, ParentAccess, PathWalk};
use lang::glob::Token;
use lang::span::Span;
use lang::workload::Workload;
use std::collections::BTreeSet;
use std::fmt;

/// How far a policy reaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Every process on the machine.
    Global,
    /// Processes in one cgroup (v2) and its descendants; the runtime puts the cgroup in the
    /// program's `krsi_scope` map before attaching.
    Cgroup,
}

/// What deny rules do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Deny rules deny (and report).
    Enforce,
    /// Deny rules report what they would have denied and allow, like AppArmor's complain mode.
    Audit,
}

/// What a policy is compiled for, besides the kernel its types came from (that one is fixed
/// when the policy is checked).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Target {
    pub scope: Scope,
    /// Overrides the policy's own `mode` header (`krsic load --mode`); `None` keeps the
    /// header's, or enforces when it has none.
    pub mode: Option<Mode>,
    /// Reports one rule may send per second on one CPU (`krsic load --report-rate`); `None`
    /// for [`crate::report::REPORTS_PER_SECOND`].
    pub report_rate: Option<u32>,
    pub attach: Attach,
}

impl Target {
    /// The policy as written, for `scope`: its own mode, the default report rate, on its
    /// LSM hooks.
    pub fn new(scope: Scope) -> Target {
        Target {
            scope,
            mode: None,
            report_rate: None,
            attach: Attach::Lsm,
        }
    }
}

/// Where the programs attach.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Attach {
    /// On the LSM hooks, to decide: what krsi is for.
    #[default]
    Lsm,
    /// The `file_open` program's decision, called by an `iter/task_file` iterator on each
    /// open file of a process (`krsic build --attach task-file-iter`). It refuses nothing:
    /// it runs the decision code where the kernel refuses LSM programs but loads iterators
    /// (the benchmark's host, KERNEL.md "Cost facts"), so that it can be timed natively.
    TaskFileIterator,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Module {
    pub scope: Scope,
    pub mode: Mode,
    pub programs: Vec<Program>,
    /// Where reports find the parent process; without it they leave those fields zero.
    pub parent: Option<ParentAccess>,
    /// Reports one rule may send per second on one CPU; the rest are counted as dropped.
    pub report_rate: u32,
    /// The target kernel's verifier may type a loaded pointer as possibly NULL
    /// ([`lang::kernel::loads_may_be_null`]).
    pub loads_may_be_null: bool,
    pub attach: Attach,
}

impl Module {
    /// The target this module was compiled for, with the mode and report rate it ended up
    /// with: compiling a subset of the policy's rules for it gives programs built alike.
    pub fn target(&self) -> Target {
        Target {
            scope: self.scope,
            mode: Some(self.mode),
            report_rate: Some(self.report_rate),
            attach: self.attach,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Program {
    pub event: &'static str,
    pub hook: &'static str,
    /// Not the event's own hook but one of its [`lang::catalog::HookVariant`]s.
    pub variant: bool,
    /// Only calls whose argument (an integer passed by value: an [`AccessBase::Context`] access)
    /// equals the value are the event; the program allows every other call at once.
    pub guard: Option<(Access, u64)>,
    pub values: Vec<Value>,
    /// Evaluated first: a match allows the operation.
    pub allow: Vec<Rule>,
    /// Evaluated in source order: the first match denies with its errno.
    pub deny: Vec<Rule>,
    /// Evaluated before the decision: each match reports an event.
    pub audit: Vec<Rule>,
    /// Where the kernel keeps a `struct path`'s dentries and mounts: read to screen a
    /// resolved path before resolving it (`codegen::screen`), and laid out by the offline
    /// machine.
    pub path_layout: Option<lang::checked::PathLayout>,
}

impl Program {
    /// The rules that test value `id`, audit rules first, then allow and deny rules in order.
    pub fn readers(&self, id: ValueId) -> impl Iterator<Item = &Rule> {
        self.audit
            .iter()
            .chain(&self.allow)
            .chain(&self.deny)
            .filter(move |rule| rule.cond.values().contains(&id))
    }

    /// Whether every rule that reports (deny, kill, audit) tests value `id`: then no report is
    /// sent without it, and no rule matches where none of its readers can.
    pub fn reporters_read(&self, id: ValueId) -> bool {
        self.deny
            .iter()
            .chain(&self.audit)
            .all(|rule| rule.cond.values().contains(&id))
    }

    /// The program's ELF symbol: `krsi_<event>`, and `krsi_<event>__<hook>` for an event's
    /// other hooks.
    pub fn symbol(&self) -> String {
        if self.variant {
            format!("krsi_{}__{}", self.event, self.hook)
        } else {
            format!("krsi_{}", self.event)
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ValueId(pub u32);

#[derive(Clone, Debug, PartialEq)]
pub struct Value {
    /// The attribute's name, for the text form and comments.
    pub name: &'static str,
    pub kind: ValueKind,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ValueKind {
    /// `bpf_get_current_uid_gid() & 0xffffffff`
    Uid,
    /// `bpf_get_current_uid_gid() >> 32`
    Gid,
    /// `bpf_get_current_pid_tgid() & 0xffffffff`
    Pid,
    /// `bpf_get_current_pid_tgid() >> 32`
    Tgid,
    /// An integer read through BTF-typed pointers.
    Field(Access),
    /// `(field & mask) != 0`
    Flag { access: Access, mask: u64 },
    /// `bpf_d_path` of the `struct path` at `access`. May be unknown (path too long).
    ResolvedPath(Access),
    /// `bpf_probe_read_kernel_str` of the `char *` at `access`. May be unknown (fault,
    /// or longer than the buffer).
    KernelString(Access),
    /// `bpf_get_current_comm`: 16 bytes, NUL padded.
    Comm,
    /// A `char[]` read with `bpf_probe_read_kernel`, NUL padded.
    Chars(Access),
    /// A path the program builds by walking dentries and mounts (`lang::catalog::Source::
    /// WalkedPath`) or kernfs nodes (`KernfsPath`, a cgroup's). May be unknown (too long,
    /// too deep, or a read faulted).
    WalkedPath(PathWalk),
    /// The container id or pod UID the cgroup's path names (`lang::workload::Workload`),
    /// derived while walking it: 64 hex digits or 36 characters, or "" for none. Unknown
    /// when the path is.
    WorkloadId(Workload, KernfsWalk),
    /// An exec's command line: the first `count` (an integer field, `bprm->argc`) strings of
    /// user memory from the address at `strings` (`bprm->p`), separated by NULs (`lang::cmdline`), read
    /// with `bpf_probe_read_user_str`. May be unknown (more than `lang::limits::ARGV_MAX`
    /// arguments, `STRING_CAP` bytes or more, or a read faulted).
    CommandLine { strings: Access, count: Access },
    /// The same on every call: which of an event's hooks this program serves.
    Const(u64),
    /// An event attribute this hook does not have (`name` of a module loaded from a file):
    /// laid out as the value it stands for, so that every program of the event reports
    /// alike, and never computed; every test on it is false.
    Absent(Box<ValueKind>),
    /// The port of an IPv4/IPv6 endpoint, host byte order; absent for other families. May be
    /// unknown (the read faulted).
    Port(Endpoint),
    /// The address of an IPv4/IPv6 endpoint, IPv4-mapped IPv6 addresses as IPv4; absent for
    /// other families. May be unknown (the read faulted).
    Addr(Endpoint),
}

impl ValueKind {
    /// The kind whose layout (stack slot, buffer, report excerpt) this value has: an absent
    /// value is laid out as the value it stands for.
    pub fn layout_kind(&self) -> &ValueKind {
        match self {
            ValueKind::Absent(kind) => kind.layout_kind(),
            other => other,
        }
    }

    /// Whether the program may fail to compute this value.
    pub fn fallible(&self) -> bool {
        matches!(
            self,
            ValueKind::ResolvedPath(_)
                | ValueKind::KernelString(_)
                | ValueKind::WalkedPath(_)
                | ValueKind::WorkloadId(..)
                | ValueKind::CommandLine { .. }
                | ValueKind::Port(_)
                | ValueKind::Addr(_)
        )
    }

    /// Whether computing the value costs more than a few instructions (a path resolved or
    /// walked, a string or an endpoint read from kernel memory): code generation computes it
    /// only when a rule that reads it may still match.
    pub fn costly(&self) -> bool {
        matches!(
            self,
            ValueKind::ResolvedPath(_)
                | ValueKind::KernelString(_)
                | ValueKind::WalkedPath(_)
                | ValueKind::WorkloadId(..)
                | ValueKind::CommandLine { .. }
                | ValueKind::Port(_)
                | ValueKind::Addr(_)
        )
    }

    pub fn is_string(&self) -> bool {
        matches!(
            self,
            ValueKind::ResolvedPath(_)
                | ValueKind::KernelString(_)
                | ValueKind::Comm
                | ValueKind::Chars(_)
                | ValueKind::WalkedPath(_)
                | ValueKind::WorkloadId(..)
                | ValueKind::CommandLine { .. }
        )
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    /// The rule's position in the policy, from 0.
    pub index: u32,
    pub span: Span,
    /// Positive; the program returns its negation.
    pub errno: i32,
    /// A `kill` rule: besides refusing, the program sends SIGKILL to the current task.
    pub kill: bool,
    pub cond: Cond,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Cond {
    Const(bool),
    And(Vec<Cond>),
    Or(Vec<Cond>),
    Not(Box<Cond>),
    Test {
        value: ValueId,
        pred: Pred,
        /// The test's outcome when the value is unknown; chosen by lowering so that an unknown
        /// value makes a deny rule match and an allow rule not match, but where the test is
        /// decided all the same: `==` on a resolved path, which is unknown only when too long
        /// and then equals no literal (`lang::eval::StringKind::decides_equality`).
        on_unknown: bool,
    },
}

impl Cond {
    /// Every value the condition tests.
    pub fn values(&self) -> BTreeSet<ValueId> {
        let mut out = BTreeSet::new();
        self.collect_values(&mut out);
        out
    }

    fn collect_values(&self, out: &mut BTreeSet<ValueId>) {
        match self {
            Cond::Const(_) => {}
            Cond::And(items) | Cond::Or(items) => items.iter().for_each(|c| c.collect_values(out)),
            Cond::Not(inner) => inner.collect_values(out),
            Cond::Test { value, pred, .. } => {
                out.insert(*value);
                if let Pred::Value { other, .. } = pred {
                    out.insert(*other);
                }
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Pred {
    Int {
        op: IntOp,
        value: u64,
    },
    /// `(value & mask) OP value`
    Masked {
        mask: u64,
        op: IntOp,
        value: u64,
    },
    StrEq(Vec<u8>),
    /// The address has this family (`v6`) and its first `prefix` bits equal `bytes`'.
    Cidr {
        v6: bool,
        bytes: [u8; 16],
        prefix: u8,
    },
    /// Any alternative matches the whole string.
    Glob {
        pattern: String,
        alternatives: Vec<Vec<Token>>,
    },
    IsTrue,
    /// Unsigned `value OP other`, two integer values of the program (`new.uid != uid`).
    Value {
        op: IntOp,
        other: ValueId,
    },
}

impl fmt::Display for Module {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scope = match self.scope {
            Scope::Global => "global",
            Scope::Cgroup => "cgroup",
        };
        let mode = match self.mode {
            Mode::Enforce => "enforce",
            Mode::Audit => "audit",
        };
        writeln!(f, "module scope={scope} mode={mode}")?;
        for program in &self.programs {
            write!(f, "{program}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Program {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "program {} hook={}", self.event, self.hook)?;
        if let Some((access, value)) = &self.guard {
            writeln!(f, "  only if {} == {value}", AccessText(access))?;
        }
        for (i, value) in self.values.iter().enumerate() {
            writeln!(f, "  v{i} = {} : {}", value.kind, value.name)?;
        }
        for rule in &self.audit {
            writeln!(
                f,
                "  audit #{} if {}",
                rule.index,
                CondText(&rule.cond, self)
            )?;
        }
        for rule in &self.allow {
            writeln!(
                f,
                "  allow #{} if {}",
                rule.index,
                CondText(&rule.cond, self)
            )?;
        }
        for rule in &self.deny {
            writeln!(
                f,
                "  {} #{} errno {} if {}",
                if rule.kill { "kill" } else { "deny" },
                rule.index,
                rule.errno,
                CondText(&rule.cond, self)
            )?;
        }
        writeln!(f, "  else allow")
    }
}

impl fmt::Display for ValueKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueKind::Uid => write!(f, "uid_gid.lo"),
            ValueKind::Gid => write!(f, "uid_gid.hi"),
            ValueKind::Pid => write!(f, "pid_tgid.lo"),
            ValueKind::Tgid => write!(f, "pid_tgid.hi"),
            ValueKind::Field(a) => write!(f, "load {}", AccessText(a)),
            ValueKind::Flag { access, mask } => {
                write!(f, "flag {} & {mask:#x}", AccessText(access))
            }
            ValueKind::ResolvedPath(a) => write!(f, "d_path &{}", AccessText(a)),
            ValueKind::KernelString(a) => write!(f, "kernel_str {}", AccessText(a)),
            ValueKind::Comm => write!(f, "comm"),
            ValueKind::Chars(a) => write!(f, "chars {}", AccessText(a)),
            ValueKind::WalkedPath(PathWalk::Dentry(w)) => write!(
                f,
                "walk dentry {} mnt {}",
                AccessText(&w.dentry),
                AccessText(&w.mnt)
            ),
            ValueKind::WalkedPath(PathWalk::Kernfs(w)) => {
                write!(f, "walk kernfs {}", AccessText(&w.node))
            }
            ValueKind::WorkloadId(workload, w) => {
                let name = match workload {
                    Workload::Container => "container_id",
                    Workload::Pod => "pod_uid",
                };
                write!(f, "{name} kernfs {}", AccessText(&w.node))
            }
            ValueKind::Port(e) => write!(f, "port {}", EndpointText(e)),
            ValueKind::CommandLine { strings, count } => write!(
                f,
                "cmdline user_str {} count {}",
                AccessText(strings),
                AccessText(count)
            ),
            ValueKind::Const(v) => write!(f, "const {v}"),
            ValueKind::Absent(kind) => write!(f, "absent ({kind})"),
            ValueKind::Addr(e) => write!(f, "addr {}", EndpointText(e)),
        }
    }
}

struct EndpointText<'a>(&'a Endpoint);

impl fmt::Display for EndpointText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = self.0;
        write!(
            f,
            "{} family@{} v4 port@{} addr@{} v6 port@{} addr@{}{}",
            AccessText(&e.object),
            e.family,
            e.v4_port,
            e.v4_addr,
            e.v6_port,
            e.v6_addr,
            if e.port_network_order { " (be16)" } else { "" }
        )
    }
}

struct AccessText<'a>(&'a Access);

impl fmt::Display for AccessText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let a = self.0;
        match a.base {
            AccessBase::Param(n) => write!(f, "arg{n}")?,
            AccessBase::CurrentTask => write!(f, "task")?,
            AccessBase::Context => write!(f, "ctx")?,
        }
        for d in &a.derefs {
            write!(f, "->[{d}]")?;
        }
        write!(f, "+{}:{}", a.offset, a.size)
    }
}

struct CondText<'a>(&'a Cond, &'a Program);

impl fmt::Display for CondText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |f: &mut fmt::Formatter<'_>, word: &str, items: &[Cond]| -> fmt::Result {
            write!(f, "{word}(")?;
            for (i, c) in items.iter().enumerate() {
                if i > 0 {
                    write!(f, ", ")?;
                }
                write!(f, "{}", CondText(c, self.1))?;
            }
            write!(f, ")")
        };
        match self.0 {
            Cond::Const(b) => write!(f, "{b}"),
            Cond::And(items) => join(f, "and", items),
            Cond::Or(items) => join(f, "or", items),
            Cond::Not(c) => write!(f, "not({})", CondText(c, self.1)),
            Cond::Test {
                value,
                pred,
                on_unknown,
            } => {
                let v = format!("v{}", value.0);
                match pred {
                    Pred::Int { op, value } => write!(f, "{v} {} {value}", op.symbol())?,
                    Pred::Masked { mask, op, value } => {
                        write!(f, "{v} & {mask:#x} {} {value}", op.symbol())?
                    }
                    Pred::StrEq(bytes) => write!(f, "{v} == {:?}", String::from_utf8_lossy(bytes))?,
                    Pred::Glob { pattern, .. } => write!(f, "{v} ~ {pattern:?}")?,
                    Pred::IsTrue => write!(f, "{v}")?,
                    Pred::Value { op, other } => write!(f, "{v} {} v{}", op.symbol(), other.0)?,
                    Pred::Cidr { v6, bytes, prefix } => {
                        let addr = if *v6 {
                            std::net::IpAddr::from(*bytes)
                        } else {
                            std::net::IpAddr::from([bytes[0], bytes[1], bytes[2], bytes[3]])
                        };
                        write!(f, "{v} in {addr}/{prefix}")?
                    }
                }
                let fallible = self
                    .1
                    .values
                    .get(value.0 as usize)
                    .is_some_and(|v| v.kind.fallible());
                if fallible {
                    write!(f, " [unknown: {on_unknown}]")?;
                }
                Ok(())
            }
        }
    }
}
