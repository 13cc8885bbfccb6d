//! The checked policy: what the checker produces and the compiler, the evaluator and the lints
//! read. Every name is resolved, every condition typed, and every attribute's access path
//! resolved against the target kernel.

use crate::ast::Action;
use crate::catalog::{Attribute, Event, HookVariant};
use crate::glob::Glob;
use crate::span::Span;

/// The result of checking: rules in source order, with every name resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckedPolicy {
    pub rules: Vec<CheckedRule>,
    /// Every attribute some rule reads, resolved against the target kernel.
    pub attributes: Vec<ResolvedAttribute>,
    /// The policy's `test` items, in source order.
    pub tests: Vec<CheckedTest>,
    /// Where the parent process's id and name live, for reports; `None` when the target
    /// kernel's types do not say.
    pub parent: Option<ParentAccess>,
    /// `policy NAME` from the header.
    pub name: Option<String>,
    /// `mode ...` from the header.
    pub mode: Option<PolicyMode>,
    /// The other hooks of the events the rules use that the target kernel has: each gets a
    /// program of its own, beside the event's own hook's.
    pub variant_hooks: Vec<VariantHook>,
    /// Whether the target kernel's verifier may type a loaded pointer as possibly NULL
    /// ([`crate::kernel::loads_may_be_null`]): then code must test such a pointer before it
    /// loads through it.
    pub loads_may_be_null: bool,
    /// Where a `struct path` keeps its dentry and mount, with the dentry walk's offsets:
    /// what a program reads to screen a resolved path by its last names before resolving it.
    /// `None` when the target kernel's types do not say.
    pub path_layout: Option<PathLayout>,
}

/// One of an event's other hooks ([`HookVariant`]) on the target kernel.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct VariantHook {
    pub event: &'static Event,
    pub variant: &'static HookVariant,
    /// For a variant that raises the event only on some calls (`only_when`): the hook
    /// argument that says whether a call is the event (passed by value,
    /// [`AccessBase::Context`]) and the value that means it is.
    pub guard: Option<(Access, u64)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyMode {
    Enforce,
    Audit,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ParentAccess {
    /// `current->real_parent->tgid`
    pub tgid: Access,
    /// `current->real_parent->comm`
    pub comm: Access,
}

/// A `test` item: an event described by its attributes and the decision it must get.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckedTest {
    pub event: &'static Event,
    /// The attributes the test gives; the others take their defaults (0, "", false).
    pub values: Vec<(&'static Attribute, AttrValue)>,
    pub expect: ExpectedDecision,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpectedDecision {
    Allow,
    /// Denied; with the errno when the test names one.
    Deny(Option<i32>),
    /// Allowed, and reported by an audit rule.
    Audit,
    /// Refused by a `kill` rule, which also kills the process; with the errno when the test
    /// names one.
    Kill(Option<i32>),
}

/// An index into [`CheckedPolicy::attributes`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AttrId(pub u32);

#[derive(Clone, Debug, PartialEq)]
pub struct ResolvedAttribute {
    pub event: &'static Event,
    pub attribute: &'static Attribute,
    /// Where the value lives, for attributes read through struct members.
    pub access: Option<Access>,
    /// For a walked path: where the walk starts and the layouts it follows.
    pub walk: Option<PathWalk>,
    /// Where the endpoint lives, for a port or an address ([`Source::Endpoint`](crate::catalog::Source::Endpoint)).
    pub endpoint: Option<Endpoint>,
    /// The attribute on the event's other hooks where it is read from that hook's own
    /// parameters (not a constant there, not absent).
    pub on_variants: Vec<VariantResolution>,
}

/// Where an attribute lives on one of its event's other hooks.
#[derive(Clone, Debug, PartialEq)]
pub struct VariantResolution {
    pub hook: &'static str,
    pub access: Option<Access>,
    pub walk: Option<PathWalk>,
    pub endpoint: Option<Endpoint>,
}

/// A path the program computes by walking a tree of named nodes up to its root.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PathWalk {
    /// Dentries and mounts ([`Source::WalkedPath`](crate::catalog::Source::WalkedPath)).
    Dentry(DentryWalk),
    /// Kernfs nodes: a cgroup's path ([`Source::KernfsPath`](crate::catalog::Source::KernfsPath)).
    Kernfs(KernfsWalk),
}

impl PathWalk {
    /// The bytes the program holds of the path with its NUL: a longer path is unknown.
    pub fn cap(&self) -> usize {
        match self {
            PathWalk::Dentry(walk) => walk.cap,
            PathWalk::Kernfs(_) => crate::limits::STRING_CAP,
        }
    }
}

/// A kernfs node's path: from `node`, prepend `/name` and go to `parent` until a node has
/// no parent (the hierarchy's root).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KernfsWalk {
    /// The `struct kernfs_node *` to start from (`size` 8).
    pub node: Access,
    pub layout: KernfsLayout,
}

/// Byte offsets the kernfs walk reads, from the target kernel's BTF.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KernfsLayout {
    /// `kernfs_node.parent` (`struct kernfs_node *`; `__parent` since Linux 6.15).
    pub parent: u32,
    /// `kernfs_node.name` (`const char *`, NUL-terminated).
    pub name: u32,
}

/// Byte offsets of `struct path`'s members and of the dentries and mounts behind them, from
/// the target kernel's BTF.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PathLayout {
    /// `path.dentry` (`struct dentry *`).
    pub dentry: u32,
    /// `path.mnt` (`struct vfsmount *`).
    pub mnt: u32,
    pub walk: WalkLayout,
    /// `dentry.d_iname` (`d_shortname.string` since 6.14) as (offset, bytes): where the
    /// kernel keeps a name shorter than it,
    /// `d_name.name` pointing there, so that the program can load the name through the
    /// dentry instead of copying it with a helper. `None` when the kernel has no such array.
    pub d_iname: Option<(u32, u32)>,
    /// Where the current task keeps its root (`task_struct.fs`, then `fs_struct.root`): the
    /// directory `bpf_d_path` resolves a path up to. `None` when the kernel's BTF lacks them.
    pub process_root: Option<ProcessRoot>,
}

/// The current task's root directory, a `struct path`, reached from the task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProcessRoot {
    /// `task_struct.fs` (`struct fs_struct *`).
    pub task_fs: u32,
    /// `fs_struct.root` (`struct path`).
    pub fs_root: u32,
}

/// A path the program computes by walking dentries ([`Source::WalkedPath`](crate::catalog::Source::WalkedPath)).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DentryWalk {
    /// The `struct dentry *` to start from (`size` 8).
    pub dentry: Access,
    /// The `struct vfsmount *` it is seen through (`size` 8).
    pub mnt: Access,
    /// The bytes the program holds of the path with its NUL (the source's `cap`): a longer
    /// path is unknown.
    pub cap: usize,
    pub layout: WalkLayout,
}

/// Byte offsets and sizes the dentry walk reads, from the target kernel's BTF.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WalkLayout {
    /// `dentry.d_parent` (`struct dentry *`).
    pub d_parent: u32,
    /// `dentry.d_name.len` (a `u32`).
    pub d_name_len: u32,
    /// `dentry.d_name.name` (`const unsigned char *`).
    pub d_name_name: u32,
    /// `mount.mnt`: the `struct vfsmount` embedded in `struct mount` (container_of).
    pub mount_mnt: u32,
    /// `mount.mnt_parent` (`struct mount *`).
    pub mnt_parent: u32,
    /// `mount.mnt_mountpoint` (`struct dentry *`).
    pub mnt_mountpoint: u32,
    /// `vfsmount.mnt_root` (`struct dentry *`).
    pub mnt_root: u32,
}

/// Where an IPv4/IPv6 endpoint's parts live in the object that holds it (a `struct
/// sockaddr` or a `struct sock_common`), as byte offsets from the object's start.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// The holding object: it starts at this access's final offset (`size` is 0).
    pub object: Access,
    /// A 2-byte address family.
    pub family: u32,
    /// 2-byte ports for an IPv4 and an IPv6 endpoint.
    pub v4_port: u32,
    pub v6_port: u32,
    /// The 4-byte IPv4 and 16-byte IPv6 address, network byte order.
    pub v4_addr: u32,
    pub v6_addr: u32,
    /// Ports in network byte order (`sin_port`) rather than host order (`skc_num`).
    pub port_network_order: bool,
}

/// A resolved member chain: start at `base`, load a pointer at each offset of `derefs` in
/// turn, then the value is `size` bytes at `offset` from the last pointer.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Access {
    pub base: AccessBase,
    pub derefs: Vec<u32>,
    pub offset: u32,
    pub size: u32,
    /// One step of the chain into an array element whose index the kernel keeps beside the
    /// array (`thread_pid->numbers[thread_pid->level]`); only on an integer of the current
    /// task ([`Source::TaskInt`](crate::catalog::Source::TaskInt)).
    pub index: Option<IndexStep>,
}

/// An indexed step: after the first `after` pointers of [`Access::derefs`], the struct they
/// lead to (at `p`) holds an index of `index_size` bytes at `p + index`; every offset from
/// `p` after the step (the next pointer's, or the value's when no pointer follows) is moved
/// by `index * stride` bytes. An index above [`INDEX_BOUND`] reads as a fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IndexStep {
    pub after: usize,
    pub index: u32,
    pub index_size: u32,
    pub stride: u32,
}

/// The largest index an indexed step follows: the kernel's MAX_PID_NS_LEVEL
/// (include/linux/pid_namespace.h), the depth of nested pid namespaces, since `pid.level`
/// is the one index a chain follows. A larger one is no index the kernel keeps.
pub const INDEX_BOUND: u32 = 32;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AccessBase {
    /// Hook argument `n`: `ctx[n]` in an LSM program.
    Param(u32),
    /// `bpf_get_current_task_btf()`.
    CurrentTask,
    /// The context itself: the offset is `8 * n` (plus a member offset) for an argument passed
    /// by value. The kernel saves each argument in a full 64-bit slot whose bytes above the
    /// argument's size are not defined, so a reader masks them off.
    Context,
}

#[derive(Clone, Debug, PartialEq)]
pub struct CheckedRule {
    /// Position among the policy's rules, from 0.
    pub index: u32,
    pub action: Action,
    pub event: &'static Event,
    pub condition: Cond,
    /// Positive errno a deny rule returns (negated by the program).
    pub errno: i32,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Cond {
    Const(bool),
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
    Not(Box<Cond>),
    Test(Test),
}

impl Cond {
    /// Every test of the condition, in order.
    pub fn tests(&self) -> Vec<&Test> {
        let mut out = Vec::new();
        let mut stack = vec![self];
        while let Some(cond) = stack.pop() {
            match cond {
                Cond::Const(_) => {}
                Cond::And(a, b) | Cond::Or(a, b) => {
                    stack.push(b);
                    stack.push(a);
                }
                Cond::Not(c) => stack.push(c),
                Cond::Test(test) => out.push(test),
            }
        }
        out
    }
}

/// Where a rule decides, for an event with a hook that reads late values
/// ([`crate::catalog::VariantRules::LateValues`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stage {
    /// On the event's own hook only: the rule reads no late value and does not allow.
    Early,
    /// On the late hook only: the rule reads a late value (`cmdline`).
    Late,
    /// On both: an `allow` rule that reads no late value excepts the rules of both.
    Both,
}

impl CheckedPolicy {
    /// Whether `rule` tests a value only the late hook reads.
    pub fn reads_late(&self, rule: &CheckedRule) -> bool {
        rule.condition.tests().iter().any(|test| {
            self.attributes
                .get(test.attr.0 as usize)
                .is_some_and(|a| a.attribute.source.is_late())
        })
    }

    /// Where `rule` decides. Rules on the late values decide after every other rule of the
    /// event has let the operation through (their program runs only then); the allow rules
    /// are in both programs, so an allow excepts a late rule as it excepts every other.
    pub fn stage(&self, rule: &CheckedRule) -> Stage {
        if self.reads_late(rule) {
            Stage::Late
        } else if rule.action == Action::Allow && rule.event.late_variant().is_some() {
            Stage::Both
        } else {
            Stage::Early
        }
    }

    /// Whether the policy has a rule on `event`'s late values.
    pub fn has_late_rules(&self, event: &str) -> bool {
        self.rules
            .iter()
            .any(|r| r.event.name == event && self.reads_late(r))
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Test {
    pub attr: AttrId,
    pub predicate: Predicate,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IntOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl IntOp {
    /// Whether `value OP literal` holds, unsigned.
    pub fn holds(self, value: u64, literal: u64) -> bool {
        match self {
            IntOp::Eq => value == literal,
            IntOp::Ne => value != literal,
            IntOp::Lt => value < literal,
            IntOp::Le => value <= literal,
            IntOp::Gt => value > literal,
            IntOp::Ge => value >= literal,
        }
    }

    /// The operator that holds exactly when this one does not.
    pub fn negated(self) -> IntOp {
        match self {
            IntOp::Eq => IntOp::Ne,
            IntOp::Ne => IntOp::Eq,
            IntOp::Lt => IntOp::Ge,
            IntOp::Ge => IntOp::Lt,
            IntOp::Le => IntOp::Gt,
            IntOp::Gt => IntOp::Le,
        }
    }

    /// How a policy writes it.
    pub fn symbol(self) -> &'static str {
        match self {
            IntOp::Eq => "==",
            IntOp::Ne => "!=",
            IntOp::Lt => "<",
            IntOp::Le => "<=",
            IntOp::Gt => ">",
            IntOp::Ge => ">=",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Predicate {
    /// Unsigned comparison `attr OP value`.
    Int { op: IntOp, value: u64 },
    /// Unsigned comparison `(attr & mask) OP value`.
    Masked { mask: u64, op: IntOp, value: u64 },
    /// The string equals these bytes exactly.
    StrEq(Vec<u8>),
    /// The glob matches the whole string.
    Glob(Glob),
    /// The address is in the range: same family, equal in the first `prefix` bits. An
    /// IPv4-mapped IPv6 value (`::ffff:a.b.c.d`) is its IPv4 address.
    Cidr { addr: std::net::IpAddr, prefix: u8 },
    /// A boolean attribute is true.
    IsTrue,
    /// Unsigned comparison `attr OP other` with another integer attribute of the same event
    /// (`new.uid != uid`). The test is false when either value is absent.
    IntAttr { op: IntOp, other: AttrId },
}

/// The value of one attribute in an event.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AttrValue {
    Int(u64),
    Str(Vec<u8>),
    Bool(bool),
    /// An IP address; an IPv4-mapped IPv6 address is the same as its IPv4 address.
    Addr(std::net::IpAddr),
    /// The event has no such value: the port or address of a socket that is neither IPv4 nor
    /// IPv6. Every test on it is false (and `not` of one true).
    Absent,
}

/// The least value an integer attribute takes: 1 for an exec's `argc` (since Linux 5.18 an
/// empty argv becomes one empty argument, fs/exec.c), 0 for every other.
pub fn int_min(attribute: &Attribute) -> u64 {
    u64::from(attribute.source == crate::catalog::ARGC)
}

/// The values an integer attribute can take: `0..=max`, from the width the program reads
/// (`resolved`, when the attribute was resolved against a kernel).
pub fn int_max(attribute: &Attribute, resolved: Option<&ResolvedAttribute>) -> u64 {
    use crate::catalog::Source;
    match attribute.source {
        // bpf_get_current_uid_gid and bpf_get_current_pid_tgid give 32-bit halves.
        Source::CurrentUid | Source::CurrentGid | Source::CurrentPid | Source::CurrentTgid => {
            u64::from(u32::MAX)
        }
        _ => match resolved.and_then(|r| r.access.as_ref()).map(|a| a.size) {
            Some(bytes @ 1..=7) => (1u64 << (8 * bytes)) - 1,
            // Unknown width: every u64 is possible, which can only make the lints quieter.
            _ => u64::MAX,
        },
    }
}
