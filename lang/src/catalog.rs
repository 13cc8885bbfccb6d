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
    pub fn describe(self) -> &'static str {
        match self {
            ValueType::Int => "integer",
            ValueType::Str => "string",
            ValueType::Path => "path",
            ValueType::Bool => "boolean",
            ValueType::Enum(e) => e.name,
            ValueType::Addr => "address",
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
    /// through. A NULL dentry (no file: an anonymous mapping) is the empty path `""`.
    WalkedPath { dentry: Chain, mnt: Chain },
    /// A `char[]` member reached from hook parameter `param` (a task's `comm`), NUL padded.
    ParamChars {
        param: &'static str,
        members: &'static [&'static str],
    },
    /// The same value on every call of the hook: which of an event's hooks was called
    /// (see [`HookVariant`]).
    Constant(u64),
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
            | Source::ParamChars { param, members } => Some((Some(param), members)),
            // The dentry's chain; the checker resolves the mount's too.
            Source::WalkedPath { dentry, .. } => Some((dentry.param, dentry.members)),
            // Resolved by the checker's endpoint resolution, not as one member chain.
            Source::Endpoint { .. } | Source::Constant(_) => None,
            Source::TaskInt { members } | Source::TaskChars { members } => Some((None, members)),
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

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Attribute {
    pub name: &'static str,
    pub ty: ValueType,
    pub source: Source,
    pub doc: &'static str,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Event {
    pub name: &'static str,
    /// The LSM hook, without the `bpf_lsm_` prefix its BTF function carries.
    pub hook: &'static str,
    pub doc: &'static str,
    /// The attributes particular to this event; every event also has [`PROCESS_ATTRIBUTES`].
    pub attributes: &'static [Attribute],
}

/// Another LSM hook that raises an event, besides the event's own `hook`. Each hook gets a
/// program of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HookVariant {
    pub event: &'static str,
    pub hook: &'static str,
    /// The hook also serves other purposes: only calls whose integer parameter `.0` equals
    /// `.1` are this event (`kernel_read_file` with `id == READING_MODULE`).
    pub only_when: Option<(&'static str, u64)>,
    /// Where each of the event's own attributes comes from on this hook, by name; the
    /// process attributes are the same on every hook. An event attribute not listed is
    /// absent here: every test on it is false (the event has [`crate::checked::AttrValue::Absent`]).
    pub sources: &'static [(&'static str, Source)],
}

impl Event {
    /// The event's other hooks.
    pub fn variants(&self) -> impl Iterator<Item = &'static HookVariant> + '_ {
        HOOK_VARIANTS.iter().filter(move |v| v.event == self.name)
    }

    pub fn attributes(&self) -> impl Iterator<Item = &'static Attribute> {
        self.attributes.iter().chain(PROCESS_ATTRIBUTES.iter())
    }

    pub fn attribute(&self, name: &str) -> Option<&'static Attribute> {
        self.attributes().find(|a| a.name == name)
    }
}

/// The current process, available on every event.
pub static PROCESS_ATTRIBUTES: &[Attribute] = &[
    Attribute {
        name: "uid",
        ty: ValueType::Int,
        source: Source::CurrentUid,
        doc: "real user id of the current process",
    },
    Attribute {
        name: "gid",
        ty: ValueType::Int,
        source: Source::CurrentGid,
        doc: "real group id of the current process",
    },
    Attribute {
        name: "euid",
        ty: ValueType::Int,
        source: Source::TaskInt {
            members: &["cred", "euid", "val"],
        },
        doc: "effective user id of the current process",
    },
    Attribute {
        name: "egid",
        ty: ValueType::Int,
        source: Source::TaskInt {
            members: &["cred", "egid", "val"],
        },
        doc: "effective group id of the current process",
    },
    Attribute {
        name: "pid",
        ty: ValueType::Int,
        source: Source::CurrentPid,
        doc: "the kernel's pid of the current thread (for a single-threaded process, what getpid(2) returns)",
    },
    Attribute {
        name: "tgid",
        ty: ValueType::Int,
        source: Source::CurrentTgid,
        doc: "thread group id: the process id that getpid(2) returns",
    },
    Attribute {
        name: "comm",
        ty: ValueType::Str,
        source: Source::CurrentComm,
        doc: "name of the current thread, at most 15 bytes (TASK_COMM_LEN)",
    },
    Attribute {
        name: "parent.pid",
        ty: ValueType::Int,
        source: Source::TaskInt {
            members: &["real_parent", "tgid"],
        },
        doc: "process id (tgid) of the parent process",
    },
    Attribute {
        name: "parent.comm",
        ty: ValueType::Str,
        source: Source::TaskChars {
            members: &["real_parent", "comm"],
        },
        doc: "name of the parent process's main thread, at most 15 bytes",
    },
    Attribute {
        name: "exe",
        ty: ValueType::Path,
        source: Source::WalkedPath {
            dentry: Chain {
                param: None,
                members: &["mm", "exe_file", "f_path", "dentry"],
            },
            mnt: Chain {
                param: None,
                members: &["mm", "exe_file", "f_path", "mnt"],
            },
        },
        doc: "absolute path of the current process's executable (its mm->exe_file); \"\" for a kernel thread. On `exec`, still the program that calls execve",
    },
];

/// `fmode_t` bits from include/linux/fs.h; stable kernel ABI since 2.6.
const FMODE_READ: u64 = 0x1;
const FMODE_WRITE: u64 = 0x2;

pub static EVENTS: &[Event] = &[
    Event {
        name: "exec",
        hook: "bprm_check_security",
        doc: "a program is about to be executed (execve, execveat), after the kernel opened it",
        attributes: &[
            Attribute {
                name: "path",
                ty: ValueType::Path,
                source: Source::ResolvedPath {
                    param: "bprm",
                    members: &["file", "f_path"],
                },
                doc: "absolute path of the file being executed, as the kernel resolved it",
            },
            Attribute {
                name: "filename",
                ty: ValueType::Str,
                source: Source::KernelString {
                    param: "bprm",
                    members: &["filename"],
                },
                doc: "the file name as the caller passed it to execve (may be relative)",
            },
        ],
    },
    Event {
        name: "open",
        hook: "file_open",
        doc: "a file is being opened",
        attributes: &[
            Attribute {
                name: "path",
                ty: ValueType::Path,
                source: Source::ResolvedPath {
                    param: "file",
                    members: &["f_path"],
                },
                doc: "absolute path of the file being opened, as the kernel resolved it",
            },
            Attribute {
                name: "read",
                ty: ValueType::Bool,
                source: Source::Flag {
                    param: "file",
                    members: &["f_mode"],
                    mask: FMODE_READ,
                },
                doc: "the file is opened for reading",
            },
            Attribute {
                name: "write",
                ty: ValueType::Bool,
                source: Source::Flag {
                    param: "file",
                    members: &["f_mode"],
                    mask: FMODE_WRITE,
                },
                doc: "the file is opened for writing",
            },
        ],
    },
    Event {
        name: "ptrace",
        hook: "ptrace_access_check",
        doc: "the current process asks for ptrace access to another (PTRACE_ATTACH, PTRACE_SEIZE, and reads of /proc/PID/mem, environ, ...)",
        attributes: &[
            Attribute {
                name: "target.pid",
                ty: ValueType::Int,
                source: Source::Int {
                    param: "child",
                    members: &["tgid"],
                },
                doc: "process id (tgid) of the process to be traced",
            },
            Attribute {
                name: "target.uid",
                ty: ValueType::Int,
                source: Source::Int {
                    param: "child",
                    members: &["cred", "uid", "val"],
                },
                doc: "real user id of the process to be traced",
            },
            Attribute {
                name: "target.comm",
                ty: ValueType::Str,
                source: Source::ParamChars {
                    param: "child",
                    members: &["comm"],
                },
                doc: "name of the thread to be traced, at most 15 bytes",
            },
            Attribute {
                name: "mode",
                ty: ValueType::Int,
                source: Source::Int {
                    param: "mode",
                    members: &[],
                },
                doc: "PTRACE_MODE_* bits: 1 read, 2 attach, 4 no audit, 8 fs creds, 16 real creds",
            },
        ],
    },
    Event {
        name: "kill",
        hook: "task_kill",
        doc: "the current process sends a signal to another (kill, tgkill, sigqueue, ...)",
        attributes: &[
            Attribute {
                name: "sig",
                ty: ValueType::Enum(&SIGNALS),
                source: Source::Int {
                    param: "sig",
                    members: &[],
                },
                doc: "the signal; kill(2) with signal 0 probes for the process and matches no name",
            },
            Attribute {
                name: "target.pid",
                ty: ValueType::Int,
                source: Source::Int {
                    param: "p",
                    members: &["tgid"],
                },
                doc: "process id (tgid) of the process receiving the signal",
            },
            Attribute {
                name: "target.uid",
                ty: ValueType::Int,
                source: Source::Int {
                    param: "p",
                    members: &["cred", "uid", "val"],
                },
                doc: "real user id of the process receiving the signal",
            },
            Attribute {
                name: "target.comm",
                ty: ValueType::Str,
                source: Source::ParamChars {
                    param: "p",
                    members: &["comm"],
                },
                doc: "name of the thread receiving the signal, at most 15 bytes",
            },
        ],
    },
    Event {
        name: "setuid",
        hook: "task_fix_setuid",
        doc: "the current process changes its user ids (setuid, setreuid, setresuid, setfsuid)",
        attributes: &[
            Attribute {
                name: "new.uid",
                ty: ValueType::Int,
                source: Source::Int {
                    param: "new",
                    members: &["uid", "val"],
                },
                doc: "the real user id the process would have",
            },
            Attribute {
                name: "new.euid",
                ty: ValueType::Int,
                source: Source::Int {
                    param: "new",
                    members: &["euid", "val"],
                },
                doc: "the effective user id the process would have",
            },
        ],
    },
    Event {
        name: "setgid",
        hook: "task_fix_setgid",
        doc: "the current process changes its group ids (setgid, setregid, setresgid, setfsgid)",
        attributes: &[
            Attribute {
                name: "new.gid",
                ty: ValueType::Int,
                source: Source::Int {
                    param: "new",
                    members: &["gid", "val"],
                },
                doc: "the real group id the process would have",
            },
            Attribute {
                name: "new.egid",
                ty: ValueType::Int,
                source: Source::Int {
                    param: "new",
                    members: &["egid", "val"],
                },
                doc: "the effective group id the process would have",
            },
        ],
    },
    Event {
        name: "capable",
        hook: "capable",
        doc: "the kernel checks whether the current process has a capability; a deny makes the check fail (the operation usually returns EPERM, whatever the rule's errno)",
        attributes: &[Attribute {
            name: "cap",
            ty: ValueType::Enum(&CAPABILITIES),
            source: Source::Int {
                param: "cap",
                members: &[],
            },
            doc: "the capability being checked",
        }],
    },
    Event {
        name: "socket",
        hook: "socket_create",
        doc: "a socket is being created (socket, socketpair), also by the kernel on a process's behalf",
        attributes: &[
            Attribute {
                name: "family",
                ty: ValueType::Enum(&FAMILIES),
                source: Source::Int {
                    param: "family",
                    members: &[],
                },
                doc: "address family: inet, inet6, unix, netlink, packet, ...",
            },
            Attribute {
                name: "type",
                ty: ValueType::Enum(&SOCKET_TYPES),
                source: Source::Int {
                    param: "type",
                    members: &[],
                },
                doc: "socket type: stream, dgram, raw, seqpacket, ... (SOCK_NONBLOCK and SOCK_CLOEXEC already removed)",
            },
            Attribute {
                name: "protocol",
                ty: ValueType::Int,
                source: Source::Int {
                    param: "protocol",
                    members: &[],
                },
                doc: "protocol number as passed to socket(2), e.g. 6 for TCP, 17 for UDP, 0 for the default",
            },
        ],
    },
    Event {
        name: "connect",
        hook: "socket_connect",
        doc: "a socket connects (connect(2), also UDP's default destination)",
        attributes: &[
            Attribute {
                name: "family",
                ty: ValueType::Enum(&FAMILIES),
                source: Source::Int {
                    param: "address",
                    members: &["sa_family"],
                },
                doc: "address family of the destination address",
            },
            Attribute {
                name: "addr",
                ty: ValueType::Addr,
                source: Source::Endpoint {
                    param: "address",
                    holder: EndpointHolder::SockAddr,
                    part: EndpointPart::Addr,
                },
                doc: "destination IPv4 or IPv6 address (an IPv4-mapped IPv6 address counts as IPv4); none for other families",
            },
            Attribute {
                name: "port",
                ty: ValueType::Int,
                source: Source::Endpoint {
                    param: "address",
                    holder: EndpointHolder::SockAddr,
                    part: EndpointPart::Port,
                },
                doc: "destination port, host byte order; none for families other than inet and inet6",
            },
        ],
    },
    Event {
        name: "bind",
        hook: "socket_bind",
        doc: "a socket is bound to a local address (bind(2))",
        attributes: &[
            Attribute {
                name: "family",
                ty: ValueType::Enum(&FAMILIES),
                source: Source::Int {
                    param: "address",
                    members: &["sa_family"],
                },
                doc: "address family of the local address",
            },
            Attribute {
                name: "addr",
                ty: ValueType::Addr,
                source: Source::Endpoint {
                    param: "address",
                    holder: EndpointHolder::SockAddr,
                    part: EndpointPart::Addr,
                },
                doc: "local IPv4 or IPv6 address (an IPv4-mapped IPv6 address counts as IPv4); none for other families",
            },
            Attribute {
                name: "port",
                ty: ValueType::Int,
                source: Source::Endpoint {
                    param: "address",
                    holder: EndpointHolder::SockAddr,
                    part: EndpointPart::Port,
                },
                doc: "local port, host byte order (0: the kernel picks one); none for families other than inet and inet6",
            },
        ],
    },
    Event {
        name: "listen",
        hook: "socket_listen",
        doc: "a socket starts listening (listen(2)); address and port are where it is bound",
        attributes: &[
            Attribute {
                name: "family",
                ty: ValueType::Enum(&FAMILIES),
                source: Source::Int {
                    param: "sock",
                    members: &["sk", "__sk_common", "skc_family"],
                },
                doc: "address family of the socket",
            },
            Attribute {
                name: "addr",
                ty: ValueType::Addr,
                source: Source::Endpoint {
                    param: "sock",
                    holder: EndpointHolder::SocketLocal,
                    part: EndpointPart::Addr,
                },
                doc: "local address the socket is bound to (0.0.0.0 or :: for any); none for families other than inet and inet6",
            },
            Attribute {
                name: "port",
                ty: ValueType::Int,
                source: Source::Endpoint {
                    param: "sock",
                    holder: EndpointHolder::SocketLocal,
                    part: EndpointPart::Port,
                },
                doc: "local port the socket is bound to (0 if unbound: listen picks one later); none for families other than inet and inet6",
            },
        ],
    },
    Event {
        name: "bpf",
        hook: "bpf",
        doc: "the bpf(2) system call: loading programs, creating maps, ... (also BPF_PROG_LOAD by krsic itself, outside a scoped policy's cgroup)",
        attributes: &[Attribute {
            name: "cmd",
            ty: ValueType::Enum(&BPF_COMMANDS),
            source: Source::Int {
                param: "cmd",
                members: &[],
            },
            doc: "the command: map_create, prog_load, btf_load, link_create, ...",
        }],
    },
    Event {
        name: "mount",
        hook: "sb_mount",
        doc: "mount(2): a file system is mounted, or a mount is changed (remount, bind, move)",
        attributes: &[
            Attribute {
                name: "fstype",
                ty: ValueType::Str,
                source: Source::KernelString {
                    param: "type",
                    members: &[],
                },
                doc: "file system type as passed to mount(2), e.g. `proc`, `tmpfs`; unknown when none was passed (bind, remount, move)",
            },
            Attribute {
                name: "source",
                ty: ValueType::Str,
                source: Source::KernelString {
                    param: "dev_name",
                    members: &[],
                },
                doc: "the source (device) as passed to mount(2); unknown when none was passed",
            },
            Attribute {
                name: "flags",
                ty: ValueType::Int,
                source: Source::Int {
                    param: "flags",
                    members: &[],
                },
                doc: "MS_* flags of mount(2), e.g. 1 read-only, 4096 bind, 32 remount",
            },
        ],
    },
    Event {
        name: "umount",
        hook: "sb_umount",
        doc: "umount(2), umount2(2): a file system is being unmounted",
        attributes: &[Attribute {
            name: "flags",
            ty: ValueType::Int,
            source: Source::Int {
                param: "flags",
                members: &[],
            },
            doc: "umount2(2) flags: 1 force, 2 detach, 4 expire, 8 no-follow",
        }],
    },
    Event {
        name: "userns",
        hook: "userns_create",
        doc: "a user namespace is being created (unshare or clone with CLONE_NEWUSER)",
        attributes: &[],
    },
    Event {
        name: "bpf_token",
        hook: "bpf_token_create",
        doc: "a BPF token is created from a BPF file system with delegation (BPF_TOKEN_CREATE; the hook exists from Linux 6.9)",
        attributes: &[],
    },
    Event {
        name: "kmod_load",
        hook: "kernel_module_request",
        doc: "kernel module loading: the kernel asks modprobe for a module (request_module), or a process loads one from a file (finit_module) or from memory (init_module); one program per hook",
        attributes: &[
            Attribute {
                name: "kind",
                ty: ValueType::Enum(&MODULE_LOADS),
                source: Source::Constant(MODULE_REQUEST),
                doc: "how the module comes: request (the kernel asks modprobe), file (finit_module), memory (init_module)",
            },
            Attribute {
                name: "name",
                ty: ValueType::Str,
                source: Source::KernelString {
                    param: "kmod_name",
                    members: &[],
                },
                doc: "the module name the kernel asks modprobe for, e.g. `net-pf-5` or `fs-cramfs`; none for loads from a file or memory",
            },
        ],
    },
];

/// Signal numbers of x86-64 and arm64 (include/uapi/asm-generic/signal.h; x86's own
/// signal.h agrees for 1-31).
pub static SIGNALS: EnumType = EnumType {
    name: "signal",
    values: &[
        ("SIGHUP", 1),
        ("SIGINT", 2),
        ("SIGQUIT", 3),
        ("SIGILL", 4),
        ("SIGTRAP", 5),
        ("SIGABRT", 6),
        ("SIGBUS", 7),
        ("SIGFPE", 8),
        ("SIGKILL", 9),
        ("SIGUSR1", 10),
        ("SIGSEGV", 11),
        ("SIGUSR2", 12),
        ("SIGPIPE", 13),
        ("SIGALRM", 14),
        ("SIGTERM", 15),
        ("SIGSTKFLT", 16),
        ("SIGCHLD", 17),
        ("SIGCONT", 18),
        ("SIGSTOP", 19),
        ("SIGTSTP", 20),
        ("SIGTTIN", 21),
        ("SIGTTOU", 22),
        ("SIGURG", 23),
        ("SIGXCPU", 24),
        ("SIGXFSZ", 25),
        ("SIGVTALRM", 26),
        ("SIGPROF", 27),
        ("SIGWINCH", 28),
        ("SIGIO", 29),
        ("SIGPWR", 30),
        ("SIGSYS", 31),
    ],
};

/// Capabilities from include/uapi/linux/capability.h (CAP_LAST_CAP is 40 since 5.9).
pub static CAPABILITIES: EnumType = EnumType {
    name: "capability",
    values: &[
        ("CAP_CHOWN", 0),
        ("CAP_DAC_OVERRIDE", 1),
        ("CAP_DAC_READ_SEARCH", 2),
        ("CAP_FOWNER", 3),
        ("CAP_FSETID", 4),
        ("CAP_KILL", 5),
        ("CAP_SETGID", 6),
        ("CAP_SETUID", 7),
        ("CAP_SETPCAP", 8),
        ("CAP_LINUX_IMMUTABLE", 9),
        ("CAP_NET_BIND_SERVICE", 10),
        ("CAP_NET_BROADCAST", 11),
        ("CAP_NET_ADMIN", 12),
        ("CAP_NET_RAW", 13),
        ("CAP_IPC_LOCK", 14),
        ("CAP_IPC_OWNER", 15),
        ("CAP_SYS_MODULE", 16),
        ("CAP_SYS_RAWIO", 17),
        ("CAP_SYS_CHROOT", 18),
        ("CAP_SYS_PTRACE", 19),
        ("CAP_SYS_PACCT", 20),
        ("CAP_SYS_ADMIN", 21),
        ("CAP_SYS_BOOT", 22),
        ("CAP_SYS_NICE", 23),
        ("CAP_SYS_RESOURCE", 24),
        ("CAP_SYS_TIME", 25),
        ("CAP_SYS_TTY_CONFIG", 26),
        ("CAP_MKNOD", 27),
        ("CAP_LEASE", 28),
        ("CAP_AUDIT_WRITE", 29),
        ("CAP_AUDIT_CONTROL", 30),
        ("CAP_SETFCAP", 31),
        ("CAP_MAC_OVERRIDE", 32),
        ("CAP_MAC_ADMIN", 33),
        ("CAP_SYSLOG", 34),
        ("CAP_WAKE_ALARM", 35),
        ("CAP_BLOCK_SUSPEND", 36),
        ("CAP_AUDIT_READ", 37),
        ("CAP_PERFMON", 38),
        ("CAP_BPF", 39),
        ("CAP_CHECKPOINT_RESTORE", 40),
    ],
};

/// Address families from include/linux/socket.h (`AF_INET` is `inet`), as socket(2) and
/// `struct sockaddr` carry them.
pub static FAMILIES: EnumType = EnumType {
    name: "address family",
    values: &[
        ("unspec", 0),
        ("unix", 1),
        ("inet", 2),
        ("ax25", 3),
        ("ipx", 4),
        ("appletalk", 5),
        ("netrom", 6),
        ("bridge", 7),
        ("atmpvc", 8),
        ("x25", 9),
        ("inet6", 10),
        ("rose", 11),
        ("decnet", 12),
        ("netbeui", 13),
        ("security", 14),
        ("key", 15),
        ("netlink", 16),
        ("packet", 17),
        ("ash", 18),
        ("econet", 19),
        ("atmsvc", 20),
        ("rds", 21),
        ("sna", 22),
        ("irda", 23),
        ("pppox", 24),
        ("wanpipe", 25),
        ("llc", 26),
        ("ib", 27),
        ("mpls", 28),
        ("can", 29),
        ("tipc", 30),
        ("bluetooth", 31),
        ("iucv", 32),
        ("rxrpc", 33),
        ("isdn", 34),
        ("phonet", 35),
        ("ieee802154", 36),
        ("caif", 37),
        ("alg", 38),
        ("nfc", 39),
        ("vsock", 40),
        ("kcm", 41),
        ("qipcrtr", 42),
        ("smc", 43),
        ("xdp", 44),
        ("mctp", 45),
    ],
};

/// Socket types from include/linux/net.h (`SOCK_STREAM` is `stream`).
pub static SOCKET_TYPES: EnumType = EnumType {
    name: "socket type",
    values: &[
        ("stream", 1),
        ("dgram", 2),
        ("raw", 3),
        ("rdm", 4),
        ("seqpacket", 5),
        ("dccp", 6),
        ("packet", 10),
    ],
};

/// bpf(2) commands, `enum bpf_cmd` of include/uapi/linux/bpf.h (`BPF_PROG_LOAD` is
/// `prog_load`); values are UAPI and never change.
pub static BPF_COMMANDS: EnumType = EnumType {
    name: "bpf command",
    values: &[
        ("map_create", 0),
        ("map_lookup_elem", 1),
        ("map_update_elem", 2),
        ("map_delete_elem", 3),
        ("map_get_next_key", 4),
        ("prog_load", 5),
        ("obj_pin", 6),
        ("obj_get", 7),
        ("prog_attach", 8),
        ("prog_detach", 9),
        ("prog_test_run", 10),
        ("prog_get_next_id", 11),
        ("map_get_next_id", 12),
        ("prog_get_fd_by_id", 13),
        ("map_get_fd_by_id", 14),
        ("obj_get_info_by_fd", 15),
        ("prog_query", 16),
        ("raw_tracepoint_open", 17),
        ("btf_load", 18),
        ("btf_get_fd_by_id", 19),
        ("task_fd_query", 20),
        ("map_lookup_and_delete_elem", 21),
        ("map_freeze", 22),
        ("btf_get_next_id", 23),
        ("map_lookup_batch", 24),
        ("map_lookup_and_delete_batch", 25),
        ("map_update_batch", 26),
        ("map_delete_batch", 27),
        ("link_create", 28),
        ("link_update", 29),
        ("link_get_fd_by_id", 30),
        ("link_get_next_id", 31),
        ("enable_stats", 32),
        ("iter_create", 33),
        ("link_detach", 34),
        ("prog_bind_map", 35),
        ("token_create", 36),
    ],
};

/// `kind` of `kmod_load`: which hook raised it.
pub const MODULE_REQUEST: u64 = 0;
pub const MODULE_FROM_FILE: u64 = 1;
pub const MODULE_FROM_MEMORY: u64 = 2;

pub static MODULE_LOADS: EnumType = EnumType {
    name: "module load",
    values: &[
        ("request", MODULE_REQUEST),
        ("file", MODULE_FROM_FILE),
        ("memory", MODULE_FROM_MEMORY),
    ],
};

/// `READING_MODULE` of `enum kernel_read_file_id` and `LOADING_MODULE` of `enum
/// kernel_load_data_id` (include/linux/kernel_read_file.h; both 2 since Linux 5.9, where the
/// two enums were split from one list that begins UNKNOWN, FIRMWARE, MODULE).
const READING_MODULE: u64 = 2;
const LOADING_MODULE: u64 = 2;

pub static HOOK_VARIANTS: &[HookVariant] = &[
    HookVariant {
        event: "kmod_load",
        hook: "kernel_read_file",
        only_when: Some(("id", READING_MODULE)),
        sources: &[("kind", Source::Constant(MODULE_FROM_FILE))],
    },
    HookVariant {
        event: "kmod_load",
        hook: "kernel_load_data",
        only_when: Some(("id", LOADING_MODULE)),
        sources: &[("kind", Source::Constant(MODULE_FROM_MEMORY))],
    },
];

/// Every enumeration an attribute may have, for diagnostics that name the right one.
pub static ENUMS: &[&EnumType] = &[
    &SIGNALS,
    &CAPABILITIES,
    &FAMILIES,
    &SOCKET_TYPES,
    &BPF_COMMANDS,
    &MODULE_LOADS,
];

/// `PROT_*` bits from include/uapi/asm-generic/mman-common.h; stable ABI.
const PROT_WRITE: u64 = 0x2;
const PROT_EXEC: u64 = 0x4;

/// The path of `dentry` (a hook parameter) seen through `dir->mnt`: for the `path_*` hooks
/// that name an object by its directory and its dentry in it.
const fn in_dir(dentry: &'static str, dir: &'static str) -> Source {
    Source::WalkedPath {
        dentry: Chain {
            param: Some(dentry),
            members: &[],
        },
        mnt: Chain {
            param: Some(dir),
            members: &["mnt"],
        },
    }
}

/// The path of the `struct path *` parameter `param`.
const fn of_path(param: &'static str) -> Source {
    Source::WalkedPath {
        dentry: Chain {
            param: Some(param),
            members: &["dentry"],
        },
        mnt: Chain {
            param: Some(param),
            members: &["mnt"],
        },
    }
}

const fn walked_path(source: Source, doc: &'static str) -> Attribute {
    Attribute {
        name: "path",
        ty: ValueType::Path,
        source,
        doc,
    }
}

const fn int_param(name: &'static str, param: &'static str, doc: &'static str) -> Attribute {
    Attribute {
        name,
        ty: ValueType::Int,
        source: Source::Int {
            param,
            members: &[],
        },
        doc,
    }
}

const fn prot_flag(name: &'static str, mask: u64, doc: &'static str) -> Attribute {
    Attribute {
        name,
        ty: ValueType::Bool,
        source: Source::Flag {
            param: "prot",
            members: &[],
            mask,
        },
        doc,
    }
}

/// The file-system events. Their paths are walked by the program (see
/// [`Source::WalkedPath`]); book/src/language.md says how each is computed.
pub static FILE_EVENTS: &[Event] = &[
    Event {
        name: "create",
        hook: "path_mknod",
        doc: "a file is created: open(2) with O_CREAT of a new file, or mknod(2)",
        attributes: &[
            walked_path(in_dir("dentry", "dir"), "absolute path of the file being created"),
            int_param("mode", "mode", "the new file's mode, type bits included (0o100000 for a regular file)"),
        ],
    },
    Event {
        name: "unlink",
        hook: "path_unlink",
        doc: "a name is removed from a directory (unlink, unlinkat)",
        attributes: &[walked_path(in_dir("dentry", "dir"), "absolute path of the name being removed")],
    },
    Event {
        name: "mkdir",
        hook: "path_mkdir",
        doc: "a directory is created",
        attributes: &[
            walked_path(in_dir("dentry", "dir"), "absolute path of the directory being created"),
            int_param("mode", "mode", "the permission bits asked for"),
        ],
    },
    Event {
        name: "rmdir",
        hook: "path_rmdir",
        doc: "a directory is removed",
        attributes: &[walked_path(in_dir("dentry", "dir"), "absolute path of the directory being removed")],
    },
    Event {
        name: "rename",
        hook: "path_rename",
        doc: "a file or directory is renamed (rename, renameat2)",
        attributes: &[
            walked_path(in_dir("old_dentry", "old_dir"), "absolute path of the file being renamed"),
            Attribute {
                name: "new.path",
                ty: ValueType::Path,
                source: in_dir("new_dentry", "new_dir"),
                doc: "the absolute path it is renamed to",
            },
        ],
    },
    Event {
        name: "link",
        hook: "path_link",
        doc: "a hard link is made",
        attributes: &[
            // A hard link never crosses mounts: the existing file is on the new link's mount.
            walked_path(in_dir("old_dentry", "new_dir"), "absolute path of the existing file"),
            Attribute {
                name: "new.path",
                ty: ValueType::Path,
                source: in_dir("new_dentry", "new_dir"),
                doc: "absolute path of the new link",
            },
        ],
    },
    Event {
        name: "symlink",
        hook: "path_symlink",
        doc: "a symbolic link is made",
        attributes: &[
            walked_path(in_dir("dentry", "dir"), "absolute path of the new link"),
            Attribute {
                name: "target",
                ty: ValueType::Str,
                source: Source::KernelString {
                    param: "old_name",
                    members: &[],
                },
                doc: "the text the link points to, as given (may be relative)",
            },
        ],
    },
    Event {
        name: "chmod",
        hook: "path_chmod",
        doc: "a file's mode is changed (chmod, fchmod, fchmodat)",
        attributes: &[
            walked_path(of_path("path"), "absolute path of the file"),
            int_param("mode", "mode", "the new mode: permission, setuid (0o4000), setgid (0o2000) and sticky (0o1000) bits"),
        ],
    },
    Event {
        name: "chown",
        hook: "path_chown",
        doc: "a file's owner or group is changed",
        attributes: &[
            walked_path(of_path("path"), "absolute path of the file"),
            Attribute {
                name: "new.uid",
                ty: ValueType::Int,
                source: Source::Int {
                    param: "uid",
                    members: &["val"],
                },
                doc: "the new owner (4294967295 when only the group changes)",
            },
            Attribute {
                name: "new.gid",
                ty: ValueType::Int,
                source: Source::Int {
                    param: "gid",
                    members: &["val"],
                },
                doc: "the new group (4294967295 when only the owner changes)",
            },
        ],
    },
    Event {
        name: "truncate",
        hook: "path_truncate",
        doc: "a file is truncated by path (truncate(2), open with O_TRUNC)",
        attributes: &[walked_path(of_path("path"), "absolute path of the file")],
    },
    Event {
        name: "chroot",
        hook: "path_chroot",
        doc: "the process changes its root directory",
        attributes: &[walked_path(of_path("path"), "absolute path of the new root")],
    },
    Event {
        name: "mmap",
        hook: "mmap_file",
        doc: "memory is mapped (mmap); also anonymous memory, whose `path` is \"\"",
        attributes: &[
            walked_path(
                Source::WalkedPath {
                    dentry: Chain {
                        param: Some("file"),
                        members: &["f_path", "dentry"],
                    },
                    mnt: Chain {
                        param: Some("file"),
                        members: &["f_path", "mnt"],
                    },
                },
                "absolute path of the mapped file; \"\" for anonymous memory",
            ),
            prot_flag("exec", PROT_EXEC, "the mapping is executable (PROT_EXEC, as the kernel will apply it)"),
            prot_flag("write", PROT_WRITE, "the mapping is writable (PROT_WRITE)"),
        ],
    },
    Event {
        name: "mprotect",
        hook: "file_mprotect",
        doc: "the protection of mapped memory changes (mprotect, pkey_mprotect)",
        attributes: &[
            walked_path(
                Source::WalkedPath {
                    dentry: Chain {
                        param: Some("vma"),
                        members: &["vm_file", "f_path", "dentry"],
                    },
                    mnt: Chain {
                        param: Some("vma"),
                        members: &["vm_file", "f_path", "mnt"],
                    },
                },
                "absolute path of the file mapped there; \"\" for anonymous memory",
            ),
            prot_flag("exec", PROT_EXEC, "the new protection allows executing (PROT_EXEC)"),
            prot_flag("write", PROT_WRITE, "the new protection allows writing (PROT_WRITE)"),
        ],
    },
    Event {
        name: "ioctl",
        hook: "file_ioctl",
        doc: "an ioctl(2) on an open file",
        attributes: &[
            walked_path(
                Source::WalkedPath {
                    dentry: Chain {
                        param: Some("file"),
                        members: &["f_path", "dentry"],
                    },
                    mnt: Chain {
                        param: Some("file"),
                        members: &["f_path", "mnt"],
                    },
                },
                "absolute path of the file",
            ),
            int_param("cmd", "cmd", "the ioctl request number"),
        ],
    },
];

pub fn event(name: &str) -> Option<&'static Event> {
    all_events().find(|e| e.name == name)
}

/// Every event: [`EVENTS`], then [`FILE_EVENTS`].
pub fn all_events() -> impl Iterator<Item = &'static Event> {
    EVENTS.iter().chain(FILE_EVENTS.iter())
}

/// Error numbers from the kernel's include/uapi/asm-generic/errno-base.h and errno.h, the
/// values every architecture krsi targets shares.
pub static ERRNOS: &[(&str, i32)] = &[
    ("EPERM", 1),
    ("ENOENT", 2),
    ("ESRCH", 3),
    ("EINTR", 4),
    ("EIO", 5),
    ("ENXIO", 6),
    ("E2BIG", 7),
    ("ENOEXEC", 8),
    ("EBADF", 9),
    ("ECHILD", 10),
    ("EAGAIN", 11),
    ("ENOMEM", 12),
    ("EACCES", 13),
    ("EFAULT", 14),
    ("EBUSY", 16),
    ("EEXIST", 17),
    ("EXDEV", 18),
    ("ENODEV", 19),
    ("ENOTDIR", 20),
    ("EISDIR", 21),
    ("EINVAL", 22),
    ("ENFILE", 23),
    ("EMFILE", 24),
    ("ENOTTY", 25),
    ("ETXTBSY", 26),
    ("EFBIG", 27),
    ("ENOSPC", 28),
    ("ESPIPE", 29),
    ("EROFS", 30),
    ("EMLINK", 31),
    ("EPIPE", 32),
    ("ENAMETOOLONG", 36),
    ("ENOSYS", 38),
    ("ENOTEMPTY", 39),
    ("ELOOP", 40),
    ("ENODATA", 61),
    ("EPROTONOSUPPORT", 93),
    ("EOPNOTSUPP", 95),
    ("EAFNOSUPPORT", 97),
    ("EADDRINUSE", 98),
    ("EADDRNOTAVAIL", 99),
    ("ENETUNREACH", 101),
    ("ECONNRESET", 104),
    ("ETIMEDOUT", 110),
    ("ECONNREFUSED", 111),
    ("EHOSTUNREACH", 113),
    ("ECANCELED", 125),
    ("EKEYREJECTED", 129),
];

pub fn errno(name: &str) -> Option<i32> {
    ERRNOS.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

/// The name of errno `value`, or the number when krsi has no name for it.
pub fn errno_name(value: i32) -> String {
    ERRNOS
        .iter()
        .find(|(_, v)| *v == value)
        .map_or_else(|| value.to_string(), |(n, _)| (*n).to_string())
}
