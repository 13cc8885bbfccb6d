//! The events a policy can guard, the LSM hook each one names, and the attributes a rule can
//! test on it.
//!
//! The catalog says *where* an attribute lives (a hook parameter and a chain of struct members,
//! or a helper); it never says *at which offset*. The checker resolves every chain against the
//! target kernel's BTF, so a layout that differs between kernels is followed, and one that lacks
//! a member is reported instead of miscompiled.

/// The type of an attribute as the policy language sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValueType {
    Int,
    Str,
    /// A string that is a path the kernel resolved; globs on paths are the common case.
    Path,
    Bool,
    /// An integer the kernel names, e.g. a signal or a capability: compared with `==`, `!=`
    /// and `in` against the kernel's names, never against numbers.
    Enum(&'static EnumType),
    /// An IPv4 or IPv6 address; compared with addresses and CIDR ranges.
    Addr,
    /// A set of capabilities (a `kernel_cap_t`, one bit per capability): tested for
    /// membership, `CAP_SYS_ADMIN in caps.effective`.
    CapabilitySet,
}

/// A set of named integer constants from the kernel's headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EnumType {
    /// What one value is called in diagnostics, e.g. `signal`.
    pub name: &'static str,
    pub values: &'static [(&'static str, u64)],
}

impl EnumType {
    pub fn value(&self, name: &str) -> Option<u64> {
        self.values
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
    }

    /// The name of `value`, if it has one (the first, where two names share a value).
    pub fn name_of(&self, value: u64) -> Option<&'static str> {
        self.values
            .iter()
            .find(|(_, v)| *v == value)
            .map(|(n, _)| *n)
    }
}

impl ValueType {
    /// "a" or "an", whichever goes before [`Self::describe`].
    pub fn article(self) -> &'static str {
        if self.describe().starts_with(['a', 'e', 'i', 'o', 'u']) {
            "an"
        } else {
            "a"
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            ValueType::Int => "integer",
            ValueType::Str => "string",
            ValueType::Path => "path",
            ValueType::Bool => "boolean",
            ValueType::Enum(e) => e.name,
            ValueType::Addr => "address",
            ValueType::CapabilitySet => "capability set",
        }
    }

    pub fn is_string(self) -> bool {
        matches!(self, ValueType::Str | ValueType::Path)
    }
}

/// Where an attribute's value comes from. `param` names a parameter of the hook's BTF
/// prototype; `members` is a chain of struct members, followed through pointers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// The absolute path of the `struct path` at the end of the chain, as `bpf_d_path` gives it.
    ResolvedPath {
        param: &'static str,
        members: &'static [&'static str],
    },
    /// The NUL-terminated kernel string a `char *` member points to.
    KernelString {
        param: &'static str,
        members: &'static [&'static str],
    },
    /// `(member & mask) != 0` for an integer member.
    Flag {
        param: &'static str,
        members: &'static [&'static str],
        mask: u64,
    },
    /// An integer member of the current task, reached through `bpf_get_current_task_btf`.
    TaskInt { members: &'static [&'static str] },
    /// A `char[]` member of the current task (or of a task it points to), NUL padded.
    TaskChars { members: &'static [&'static str] },
    /// `bpf_get_current_uid_gid`, low half.
    CurrentUid,
    /// `bpf_get_current_uid_gid`, high half.
    CurrentGid,
    /// `bpf_get_current_pid_tgid`, low half: the kernel's `pid`, the id of the thread.
    CurrentPid,
    /// `bpf_get_current_pid_tgid`, high half: the kernel's `tgid`, what `getpid(2)` returns.
    CurrentTgid,
    /// `bpf_get_current_comm`: the thread's name, at most 15 bytes, NUL padded to 16.
    CurrentComm,
    /// An integer: a hook parameter passed by value (`members` empty), a member of a struct
    /// parameter passed by value (`kuid_t uid` → `["val"]`), or a member reached through a
    /// pointer parameter.
    Int {
        param: &'static str,
        members: &'static [&'static str],
    },
    /// The absolute path of a dentry, computed by the program itself: `bpf_d_path` is refused
    /// on most hooks (only the kernel's sleepable LSM hooks may call it, and no `path_*` hook
    /// is one), so the program follows `d_parent` up to the root of the dentry's mount, crosses
    /// to the parent mount at its mount point, and stops at the root of the mount namespace.
    /// `dentry` leads to a `struct dentry *`, `mnt` to the `struct vfsmount *` it is seen
    /// through. A NULL dentry (no file: an anonymous mapping) is the empty path `""`. `cap`
    /// is the bytes the program holds of the path with its NUL: a longer path is unknown.
    /// [`STRING_CAP`](crate::limits::STRING_CAP) but for the ancestors' executables
    /// ([`ANCESTOR_EXE_CAP`]).
    WalkedPath {
        dentry: Chain,
        mnt: Chain,
        cap: usize,
    },
    /// The path of a kernfs node in its hierarchy (a cgroup's, `/kubepods.slice/x.scope`),
    /// computed by the program: the names of the node and of its ancestors, following
    /// `kernfs_node.parent` up to the root (whose parent is NULL), joined with `/`; the root
    /// itself is `/`. `members` lead from the current task to a `struct kernfs_node *`.
    KernfsPath { members: &'static [&'static str] },
    /// Not read by any program: the checker rewrites every test on the attribute into tests on
    /// others (`container` into tests on `container.id` and `ns.pid`), so the evaluator and
    /// the compiler never see it.
    Expanded,
    /// The container id or pod UID the kernfs path of `members` names
    /// ([`crate::workload::Workload::of_path`]), derived by the program as it walks the path;
    /// `""` for none.
    WorkloadId {
        workload: crate::workload::Workload,
        members: &'static [&'static str],
    },
    /// A `char[]` member reached from hook parameter `param` (a task's `comm`), NUL padded.
    ParamChars {
        param: &'static str,
        members: &'static [&'static str],
    },
    /// The same value on every call of the hook: which of an event's hooks was called
    /// (see [`HookVariant`]).
    Constant(u64),
    /// The command line of an exec: the first `count` NUL-terminated strings in user memory
    /// from the address at `param->strings` (`bprm->p`), kept apart by their NULs
    /// ([`crate::cmdline`]: tests on `cmdline` read them as spaces). The count
    /// is the event's attribute named `count` (`argc`). Readable only where that user memory
    /// is the current task's, `bprm_committing_creds` (see [`HookVariant::rules`]); unknown
    /// past [`crate::limits::ARGV_MAX`] arguments or [`crate::limits::STRING_CAP`] bytes.
    CommandLine {
        param: &'static str,
        strings: &'static [&'static str],
        count: &'static str,
    },
    /// The port or address of an IPv4/IPv6 endpoint held by hook parameter `param`. Sockets
    /// of other families have none: every test on it is false.
    Endpoint {
        param: &'static str,
        holder: EndpointHolder,
        part: EndpointPart,
    },
}

/// A hook parameter (`None`: the current task) and a chain of struct members from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Chain {
    pub param: Option<&'static str>,
    pub members: &'static [&'static str],
}

/// What holds an endpoint, which says where its family, port and address live.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EndpointHolder {
    /// A `struct sockaddr *` from the caller (connect, bind): `sa_family`, then the members
    /// of `struct sockaddr_in` or `struct sockaddr_in6`; the port in network byte order.
    SockAddr,
    /// A `struct socket *`: its `sk->__sk_common`, the local (bound) side: `skc_family`,
    /// `skc_num` (host byte order), `skc_rcv_saddr` or `skc_v6_rcv_saddr`.
    SocketLocal,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EndpointPart {
    Port,
    Addr,
}

impl Source {
    /// The hook parameter and member chain to resolve against BTF, if any.
    pub fn chain(&self) -> Option<(Option<&'static str>, &'static [&'static str])> {
        match *self {
            Source::ResolvedPath { param, members }
            | Source::KernelString { param, members }
            | Source::Flag { param, members, .. }
            | Source::Int { param, members }
            | Source::ParamChars { param, members }
            | Source::CommandLine {
                param,
                strings: members,
                ..
            } => Some((Some(param), members)),
            // The dentry's chain; the checker resolves the mount's too.
            Source::WalkedPath { dentry, .. } => Some((dentry.param, dentry.members)),
            // Resolved by the checker's endpoint resolution, not as one member chain.
            Source::Endpoint { .. } | Source::Constant(_) | Source::Expanded => None,
            Source::TaskInt { members }
            | Source::TaskChars { members }
            | Source::KernfsPath { members }
            | Source::WorkloadId { members, .. } => Some((None, members)),
            Source::CurrentUid
            | Source::CurrentGid
            | Source::CurrentPid
            | Source::CurrentTgid
            | Source::CurrentComm => None,
        }
    }

    /// How the chain is written in diagnostics, e.g. `bprm->file->f_path`.
    pub fn describe_chain(&self) -> String {
        match self.chain() {
            Some((param, members)) => {
                let mut text = param.unwrap_or("current").to_string();
                for member in members {
                    text.push_str("->");
                    text.push_str(member);
                }
                text
            }
            None => String::new(),
        }
    }
}

/// Shorthands for the sources events use most, so that every event reads alike.
impl Source {
    /// An integer hook parameter passed by value.
    pub const fn by_value(param: &'static str) -> Source {
        Source::Int {
            param,
            members: &[],
        }
    }

    /// `(param & mask) != 0` for an integer hook parameter passed by value.
    pub const fn bits(param: &'static str, mask: u64) -> Source {
        Source::Flag {
            param,
            members: &[],
            mask,
        }
    }

    /// The walked path of `dentry` (a hook parameter) seen through `dir->mnt`: for the
    /// `path_*` hooks that name an object by its directory and its dentry in it.
    pub const fn in_dir(dentry: &'static str, dir: &'static str) -> Source {
        Source::WalkedPath {
            dentry: Chain {
                param: Some(dentry),
                members: &[],
            },
            mnt: Chain {
                param: Some(dir),
                members: &["mnt"],
            },
            cap: crate::limits::STRING_CAP,
        }
    }

    /// The walked path of the `struct path *` hook parameter `param`.
    pub const fn of_path(param: &'static str) -> Source {
        Source::walked(param, &["dentry"], &["mnt"])
    }

    /// The walked path whose dentry and mount hook parameter `param` leads to through
    /// `dentry` and `mnt` (`file` → `f_path` → `dentry`).
    pub const fn walked(
        param: &'static str,
        dentry: &'static [&'static str],
        mnt: &'static [&'static str],
    ) -> Source {
        Source::WalkedPath {
            dentry: Chain {
                param: Some(param),
                members: dentry,
            },
            mnt: Chain {
                param: Some(param),
                members: mnt,
            },
            cap: crate::limits::STRING_CAP,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Attribute {
    pub name: &'static str,
    pub ty: ValueType,
    pub source: Source,
    pub doc: &'static str,
}

/// An operation a rule can guard: everything krsi knows about it is here, and nothing about
/// one event is written anywhere else (the checker, the compiler, `krsic events`, the book's
/// tables and the random tests all read it from here).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Event {
    pub name: &'static str,
    /// The LSM hook, without the `bpf_lsm_` prefix its BTF function carries. A kernel without
    /// it cannot enforce the event (E0301).
    pub hook: &'static str,
    pub doc: &'static str,
    /// The attributes particular to this event; every event also has [`PROCESS_ATTRIBUTES`].
    /// Their sources are where the values live on `hook`.
    pub attributes: &'static [Attribute],
    /// Other LSM hooks that raise the event too, each with a program of its own.
    pub variants: &'static [HookVariant],
}

/// Another LSM hook that raises an event, besides the event's own `hook`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HookVariant {
    pub hook: &'static str,
    /// Whether the event can be enforced on a kernel without this hook.
    pub availability: Availability,
    /// The hook also serves other purposes: only calls whose integer parameter `.0` equals
    /// `.1` are this event (`kernel_read_file` with `id == READING_MODULE`).
    pub only_when: Option<(&'static str, u64)>,
    /// Where each of the event's own attributes comes from on this hook, by name: a constant
    /// (which hook raised the event), or a source of the hook's own parameters. The process
    /// attributes are the same on every hook. An event attribute not listed is absent here:
    /// every test on it is false (the event has [`crate::checked::AttrValue::Absent`]).
    pub sources: &'static [(&'static str, Source)],
    /// Which of the event's rules this hook's program holds.
    pub rules: VariantRules,
}

/// Which rules of an event a [`HookVariant`]'s program holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VariantRules {
    /// Every rule: the hook raises the event for other calls than the event's own hook.
    All,
    /// A later hook of the same call: the rules that read a value only it can read
    /// ([`Source::CommandLine`]), which the event's own hook does not hold, and the event's
    /// `allow` rules, so that an allow excepts them as it excepts every other rule.
    LateValues,
}

impl Source {
    /// Whether the value can be read only on a [`VariantRules::LateValues`] hook.
    pub fn is_late(&self) -> bool {
        matches!(self, Source::CommandLine { .. })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Availability {
    /// The event needs the hook: a kernel without it is refused (E0301), as for the event's
    /// own hook.
    Required,
    /// The hook came with this Linux version and took over some of the operations the
    /// event's other hooks saw before: attached where the target kernel has it, left out
    /// (without a diagnostic) where it does not, since there the other hooks still see them.
    Since(&'static str),
}

impl Event {
    /// The event's own hook, then its variants'.
    pub fn hooks(&self) -> impl Iterator<Item = &'static str> {
        std::iter::once(self.hook).chain(self.variants.iter().map(|v| v.hook))
    }

    /// The hooks a kernel must have to enforce the event: its own and its required variants'.
    pub fn required_hooks(&self) -> impl Iterator<Item = &'static str> {
        std::iter::once(self.hook).chain(
            self.variants
                .iter()
                .filter(|v| v.availability == Availability::Required)
                .map(|v| v.hook),
        )
    }

    pub fn attributes(&self) -> impl Iterator<Item = &'static Attribute> {
        self.attributes.iter().chain(PROCESS_ATTRIBUTES.iter())
    }

    pub fn attribute(&self, name: &str) -> Option<&'static Attribute> {
        self.attributes().find(|a| a.name == name)
    }

    /// The hook that reads the event's late values ([`VariantRules::LateValues`]), if any.
    pub fn late_variant(&self) -> Option<&'static HookVariant> {
        self.variants
            .iter()
            .find(|v| v.rules == VariantRules::LateValues)
    }

    /// When `flag` is a bit of another attribute of the event (`ptrace`'s `attach` is a bit
    /// of its `mode`): that integer attribute and the bit's mask. The kernel has one value
    /// for both, so an event that gives them must give them alike.
    pub fn bit_of(&self, flag: &Attribute) -> Option<(&'static Attribute, u64)> {
        let Source::Flag {
            param,
            members,
            mask,
        } = flag.source
        else {
            return None;
        };
        self.attributes
            .iter()
            .find(|a| a.source == Source::Int { param, members })
            .map(|whole| (whole, mask))
    }
}

mod errno;
mod files;
mod inode;
mod net;
mod process;
mod system;

pub use errno::{errno, errno_name, ERRNOS};
pub use files::{may_have_no_file, ARGC, CMDLINE, MOVED_AT_COMMIT};
pub use net::{FAMILIES, IP_PROTOCOLS, SOCKET_TYPES};
pub use process::{
    derived_from_cgroup, host_namespace, ANCESTOR_COMM, ANCESTOR_DEPTH, ANCESTOR_EXE,
    ANCESTOR_EXES, ANCESTOR_EXE_CAP, ANCESTOR_LEVELS, CAPABILITIES, CGROUP_PATH, CONTAINER,
    CONTAINER_ID, HOST_NAMESPACES, PID_NAMESPACE, POD_UID, PRCTL_OPTIONS, PROCESS_ATTRIBUTES,
    SIGNALS,
};
pub use system::{
    BPF_COMMANDS, MODULE_FROM_FILE, MODULE_FROM_MEMORY, MODULE_LOADS, MODULE_REQUEST,
};

/// Every event, in the order `krsic events`, the book and diagnostics list them. An event is
/// defined in the file of its family and registered here.
pub static EVENTS: &[&Event] = &[
    &files::EXEC,
    &files::OPEN,
    &process::PTRACE,
    &process::KILL,
    &process::SETUID,
    &process::SETGID,
    &process::CAPABLE,
    &net::SOCKET,
    &net::CONNECT,
    &net::BIND,
    &net::LISTEN,
    &system::BPF,
    &system::MOUNT,
    &system::UMOUNT,
    &system::USERNS,
    &system::BPF_TOKEN,
    &system::KMOD_LOAD,
    &files::CREATE,
    &files::UNLINK,
    &files::MKDIR,
    &files::RMDIR,
    &files::RENAME,
    &files::LINK,
    &files::SYMLINK,
    &files::CHMOD,
    &files::CHOWN,
    &files::TRUNCATE,
    &files::CHROOT,
    &files::MMAP,
    &files::MPROTECT,
    &files::IOCTL,
    // Added with issue 13: operations of real rules the catalog lacked.
    &process::TRACEME,
    &process::PRCTL,
    &files::SETXATTR,
    &files::REMOVEXATTR,
    &system::PIVOT_ROOT,
    &system::MOVE_MOUNT,
];

/// Every enumeration an attribute may have, for diagnostics that name the right one.
pub static ENUMS: &[&EnumType] = &[
    &SIGNALS,
    &CAPABILITIES,
    &FAMILIES,
    &SOCKET_TYPES,
    &BPF_COMMANDS,
    &MODULE_LOADS,
    &IP_PROTOCOLS,
    &PRCTL_OPTIONS,
];

pub fn event(name: &str) -> Option<&'static Event> {
    all_events().find(|e| e.name == name)
}

/// Every event of [`EVENTS`].
pub fn all_events() -> impl Iterator<Item = &'static Event> {
    EVENTS.iter().copied()
}
