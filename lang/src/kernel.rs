//! What the checker needs to know about the target kernel's types.
//!
//! Production reads the kernel's BTF (`compiler::btf::Btf`, from /sys/kernel/btf/vmlinux or
//! `--btf FILE`); tests use a fixture cut from real BTF. The checker only asks these
//! questions, so it never assumes a layout.

/// An index into the target's type table (a BTF type id).
pub type TypeId = u32;

/// One parameter of an LSM hook, from `bpf_lsm_<hook>`'s prototype.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    pub name: String,
    pub ty: TypeId,
}

/// A struct or union member, found by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Member {
    /// Offset from the start of the outer type, in bits, anonymous members already added in.
    pub offset_bits: u32,
    /// Non-zero for a bitfield.
    pub bitfield_bits: u32,
    pub ty: TypeId,
}

/// A type with typedefs and qualifiers (`const`, `volatile`, `restrict`, type tags) stripped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TypeShape {
    /// Also `bool` and `char`, which BTF encodes as integers (`char` is unsigned since 6.2).
    Int {
        bytes: u32,
        signed: bool,
    },
    Enum {
        bytes: u32,
    },
    Pointer {
        to: TypeId,
    },
    Struct {
        name: String,
        bytes: u32,
    },
    Union {
        name: String,
        bytes: u32,
    },
    Array {
        element: TypeId,
        len: u32,
    },
    /// A forward declaration: the kernel's BTF does not say what is inside.
    Opaque {
        name: String,
    },
    Void,
    Other,
}

pub trait KernelTypes {
    /// What to call this kernel in diagnostics, e.g. `the running kernel` or `vmlinux-6.1.btf`.
    fn describe(&self) -> String;

    /// The parameters of LSM hook `hook` (the BTF function `bpf_lsm_<hook>`), or `None` when
    /// the kernel does not have that hook.
    fn hook_params(&self, hook: &str) -> Option<Vec<Param>>;

    /// The struct named `name` (e.g. `task_struct`, reached through `bpf_get_current_task_btf`).
    fn named_struct(&self, name: &str) -> Option<TypeId>;

    /// Member `name` of the struct or union `ty`, searching inside anonymous struct and union
    /// members as C does.
    fn member(&self, ty: TypeId, name: &str) -> Option<Member>;

    /// `ty` with typedefs and qualifiers stripped.
    fn shape(&self, ty: TypeId) -> TypeShape;

    /// Whether the kernel has a function named `name` (a BTF `FUNC`).
    fn has_function(&self, name: &str) -> bool;
}

/// Whether the kernel's verifier may type a pointer loaded from a kernel struct as possibly
/// NULL, and then refuses a load through it until the program has tested it: from 6.2 an
/// `__rcu` member read under RCU (`task->cred`) is `rcu_ptr_or_null_`. The same release
/// brought the kfunc `bpf_rcu_read_lock`, which is how this is told from BTF. An older
/// verifier never does, and a load through a NULL kernel pointer there is fault-handled
/// (`BPF_PROBE_MEM`) and reads 0.
pub fn loads_may_be_null(kernel: &dyn KernelTypes) -> bool {
    kernel.has_function(RCU_READ_LOCK_KFUNC)
}

/// The kfunc whose presence tells a 6.2-or-later verifier ([`loads_may_be_null`]).
const RCU_READ_LOCK_KFUNC: &str = "bpf_rcu_read_lock";

/// The functions the checker asks a kernel about by name ([`KernelTypes::has_function`]):
/// a cut of a kernel's BTF for tests keeps them.
pub const FEATURE_FUNCTIONS: &[&str] = &[RCU_READ_LOCK_KFUNC];
