//! The current process, on every event, and the events between processes: ptrace, signals,
//! changes of ids, capability checks.

use super::{Attribute, Chain, EnumType, Event, Source, ValueType};
use crate::limits::STRING_CAP;
use crate::workload::Workload;

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
            cap: STRING_CAP,
        },
        doc: "absolute path of the current process's executable (its mm->exe_file); \"\" for a kernel thread. On `exec`, still the program that calls execve",
    },
    // Capability sets of the current task, read whole (64 bits, one per capability).
    Attribute {
        name: "caps.effective",
        ty: ValueType::CapabilitySet,
        source: Source::TaskInt {
            members: &["cred", "cap_effective"],
        },
        doc: "the capabilities the current process has in effect (cred->cap_effective): `CAP_SYS_ADMIN in caps.effective`",
    },
    Attribute {
        name: "caps.permitted",
        ty: ValueType::CapabilitySet,
        source: Source::TaskInt {
            members: &["cred", "cap_permitted"],
        },
        doc: "the capabilities the current process may take into effect (cred->cap_permitted)",
    },
    // Lineage: any ancestor's name. The checker never tests this attribute itself: it
    // expands every test on it into tests on the levels of `ANCESTOR_LEVELS` (lang::check,
    // lineage.rs), so the evaluator and the compiled program read the same per-level values.
    // Its source is the parent's, which is what the BTF check resolves.
    Attribute {
        name: "ancestor.comm",
        ty: ValueType::Str,
        source: Source::TaskChars {
            members: &["real_parent", "comm"],
        },
        doc: "name of any ancestor process (parent, grandparent, ... up to 8 levels, `real_parent` after `real_parent`, not past the idle task): `ancestor.comm in [\"nginx\", \"httpd\"]` or `ancestor.comm ~ \"php-fpm*\"` holds when one of them is so named. `!=` and `!~` are refused; `not ancestor.comm == \"x\"` says no ancestor is `x`. Fails closed past 8 levels",
    },
    // Lineage: any ancestor's executable, expanded by the checker like `ancestor.comm` into
    // tests on `parent.exe` and the levels of `ANCESTOR_EXES`. Its source is the parent's.
    Attribute {
        name: "ancestor.exe",
        ty: ValueType::Path,
        source: Source::WalkedPath {
            dentry: Chain {
                param: None,
                members: &["real_parent", "mm", "exe_file", "f_path", "dentry"],
            },
            mnt: Chain {
                param: None,
                members: &["real_parent", "mm", "exe_file", "f_path", "mnt"],
            },
            cap: STRING_CAP,
        },
        doc: "absolute path of any ancestor process's executable (parent, grandparent, ... up to 8 levels, like `ancestor.comm`; \"\" for a kernel thread): `ancestor.exe == \"/usr/sbin/sshd\"`, `in [...]`, and `~` with globs whose every alternative is an exact path or a directory (`\"/usr/sbin/**\"`); other globs, `!=` and `!~` are refused. Fails closed past 8 levels",
    },
    // Lineage: the parent's executable, walked like `exe` from `real_parent`.
    Attribute {
        name: "parent.exe",
        ty: ValueType::Path,
        source: Source::WalkedPath {
            dentry: Chain {
                param: None,
                members: &["real_parent", "mm", "exe_file", "f_path", "dentry"],
            },
            mnt: Chain {
                param: None,
                members: &["real_parent", "mm", "exe_file", "f_path", "mnt"],
            },
            cap: STRING_CAP,
        },
        doc: "absolute path of the parent process's executable (its mm->exe_file); \"\" when the parent is a kernel thread",
    },
    // Workload identity: the cgroup and the namespaces of the current task, so that one
    // policy can hold rules for the host and rules for containers.
    Attribute {
        name: "cgroup.id",
        ty: ValueType::Int,
        // The kernfs node of the task's cgroup on the v2 hierarchy: its id is the cgroup id
        // (kernel/cgroup/cgroup.c, cgroup_id()), the inode number of the cgroup's directory
        // on cgroup2, what bpf_get_current_cgroup_id() returns.
        source: Source::TaskInt {
            members: &["cgroups", "dfl_cgrp", "kn", "id"],
        },
        doc: "id of the current process's cgroup v2 (the inode number of its directory under the cgroup2 mount, `stat -c %i /sys/fs/cgroup/...`)",
    },
    Attribute {
        name: CGROUP_PATH,
        ty: ValueType::Path,
        // The same kernfs node as `cgroup.id`'s, walked up its `parent` chain: the names
        // kernfs gives the cgroup's directory and its ancestors' (kernel/cgroup/cgroup.c,
        // cgroup_path_ns() → kernfs_path_from_node(), fs/kernfs/dir.c).
        source: Source::KernfsPath {
            members: CGROUP_NODE,
        },
        doc: "path of the current process's cgroup v2 from the root of the cgroup2 hierarchy, as `/proc/self/cgroup`'s `0::` line shows it from the host (`/` for the root cgroup, `/system.slice/sshd.service`): `cgroup ~ \"/kubepods.slice/**\"`. Always the path from the hierarchy's root, also inside a cgroup namespace. Unknown (fails closed) past 40 levels or a path of 4096 bytes",
    },
    Attribute {
        name: CONTAINER_ID,
        ty: ValueType::Str,
        source: Source::WorkloadId {
            workload: Workload::Container,
            members: CGROUP_NODE,
        },
        doc: "id of the container the current process is in, 64 lowercase hex digits, taken from its cgroup's path as container tools do (`docker-<id>.scope`, `cri-containerd-<id>.scope`, `crio-<id>.scope`, `libpod-<id>.scope`, or a component that is the id alone, `/docker/<id>`); the innermost such component, so a cgroup a container makes below its own is still the container's; \"\" when in no container. Unknown when `cgroup` is",
    },
    Attribute {
        name: POD_UID,
        ty: ValueType::Str,
        source: Source::WorkloadId {
            workload: Workload::Pod,
            members: CGROUP_NODE,
        },
        doc: "UID of the Kubernetes pod the current process is in, as Kubernetes prints it (`1a2b3c4d-5e6f-4a0b-9c8d-7e6f5a4b3c2d`), taken from its cgroup's path as the kubelet names it (`kubepods-<qos>-pod<uid>.slice` with the systemd driver, `/kubepods/<qos>/pod<uid>` with cgroupfs); the outermost such component, so a cgroup a container makes below its own does not change its pod; \"\" when in no pod. Unknown when `cgroup` is",
    },
    // Whether the task is in a container: the checker never tests this attribute itself, it
    // expands each test on it into tests on `container.id` and `ns.pid` (lang::check).
    Attribute {
        name: CONTAINER,
        ty: ValueType::Bool,
        source: Source::Expanded,
        doc: "whether the current process is in a container: its cgroup names a container (`container.id != \"\"`) or its pid namespace is not the host's (`ns.pid != 4026531836`), as container tools put every container in a pid namespace of its own. Unknown (fails closed) when `cgroup` is and the pid namespace is the host's",
    },
    namespace("ns.mnt", &["nsproxy", "mnt_ns", "ns", "inum"], "inode number of the current process's mount namespace (`stat -L -c %i /proc/self/ns/mnt`); no kernel constant names the host's: compare with /proc/1/ns/mnt's"),
    namespace("ns.net", &["nsproxy", "net_ns", "ns", "inum"], "inode number of the current process's network namespace (`stat -L -c %i /proc/self/ns/net`); no kernel constant names the host's: compare with /proc/1/ns/net's"),
    namespace("ns.uts", &["nsproxy", "uts_ns", "ns", "inum"], "inode number of the current process's UTS (host name) namespace; the host's is 4026531838 (PROC_UTS_INIT_INO)"),
    namespace("ns.ipc", &["nsproxy", "ipc_ns", "ns", "inum"], "inode number of the current process's IPC namespace; the host's is 4026531839 (PROC_IPC_INIT_INO)"),
    namespace("ns.cgroup", &["nsproxy", "cgroup_ns", "ns", "inum"], "inode number of the current process's cgroup namespace; the host's is 4026531835 (PROC_CGROUP_INIT_INO)"),
    // The pid namespace the task's pids are in: task_active_pid_ns() (kernel/pid.c), the
    // namespace of the task's own `struct pid` at its deepest level. Not the nsproxy's
    // `pid_ns_for_children`, which unshare(CLONE_NEWPID) changes for the children only.
    namespace(PID_NAMESPACE, &["thread_pid", "numbers[level]", "ns", "ns", "inum"], "inode number of the pid namespace the current process is in (`stat -L -c %i /proc/self/ns/pid`; after unshare(CLONE_NEWPID), its children's, not its own); the host's is 4026531836 (PROC_PID_INIT_INO)"),
    // The user namespace is the credentials', not the nsproxy's (include/linux/cred.h).
    namespace("ns.user", &["cred", "user_ns", "ns", "inum"], "inode number of the user namespace of the current process's credentials; the host's is 4026531837 (PROC_USER_INIT_INO)"),
];

/// The attribute that is the current process's cgroup path.
pub const CGROUP_PATH: &str = "cgroup";

/// The attribute derived from [`CGROUP_PATH`]: the container id.
pub const CONTAINER_ID: &str = "container.id";

/// The attribute derived from [`CGROUP_PATH`]: the Kubernetes pod UID.
pub const POD_UID: &str = "pod.uid";

/// Whether the task is in a container: `container.id != ""` or [`PID_NAMESPACE`] not the
/// host's.
pub const CONTAINER: &str = "container";

/// The values derived from a cgroup's path, as the program derives them: the container id
/// and the pod UID (what a `test` item or a generated event holds beside its `cgroup`).
pub fn derived_from_cgroup(path: &[u8]) -> [(&'static str, Vec<u8>); 2] {
    [
        (CONTAINER_ID, Workload::Container.of_path(path)),
        (POD_UID, Workload::Pod.of_path(path)),
    ]
}

/// The pid namespace the task is in.
pub const PID_NAMESPACE: &str = "ns.pid";

/// The kernfs node of the current task's cgroup on the v2 hierarchy, from the task.
const CGROUP_NODE: &[&str] = &["cgroups", "dfl_cgrp", "kn"];

/// The inode numbers of the host's initial namespaces, fixed by the kernel (PROC_*_INIT_INO,
/// include/linux/proc_ns.h, since Linux 3.8). The mount and network namespaces have none: the
/// initial ones get a number like any other (fs/namespace.c, net/core/net_namespace.c).
pub static HOST_NAMESPACES: &[(&str, u64)] = &[
    ("ns.ipc", 0xEFFF_FFFF),
    ("ns.uts", 0xEFFF_FFFE),
    ("ns.user", 0xEFFF_FFFD),
    ("ns.cgroup", 0xEFFF_FFFB),
    (PID_NAMESPACE, 0xEFFF_FFFC),
];

/// The host's value of namespace attribute `name`, where the kernel fixes one: what a
/// `test` item that does not give it runs with, so that a test describes a host process
/// unless it says otherwise.
pub fn host_namespace(name: &str) -> Option<u64> {
    HOST_NAMESPACES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, inode)| *inode)
}

/// The inode number of one of the current task's namespaces, as `stat -L /proc/PID/ns/KIND`
/// shows it: `ns.inum` of the namespace's `struct ns_common` (include/linux/ns_common.h; the
/// host's constants are PROC_*_INIT_INO of include/linux/proc_ns.h). A task without an `nsproxy`
/// (one that is exiting, kernel/nsproxy.c exit_task_namespaces) reads 0, which no namespace
/// has (inode numbers of namespaces start at PROC_DYNAMIC_FIRST, fs/proc/generic.c): it
/// differs from the host's, so `ns.mnt != HOST` rules treat it as not the host's.
const fn namespace(
    name: &'static str,
    members: &'static [&'static str],
    doc: &'static str,
) -> Attribute {
    Attribute {
        name,
        ty: ValueType::Int,
        source: Source::TaskInt { members },
        doc,
    }
}

/// How many ancestors an `ancestor.*` test looks at: the parent, the grandparent, ... up to
/// this many. Past it the test is unknown and fails closed (see [`ANCESTOR_LEVELS`]).
pub const ANCESTOR_DEPTH: usize = 8;

/// The attribute whose tests hold for any ancestor.
pub const ANCESTOR_COMM: &str = "ancestor.comm";

/// The attribute whose tests hold for any ancestor's executable.
pub const ANCESTOR_EXE: &str = "ancestor.exe";

/// The bytes the program holds of each ancestor's executable above the parent, with its NUL:
/// a longer path is unknown (fails closed). Every value a program computes lives in one
/// scratch buffer that loads reach with a 16-bit offset (32 KiB): seven more paths of
/// [`STRING_CAP`] bytes do not fit beside an event's own, seven of 256 bytes do, and an
/// installed program's path is far shorter (`/usr/lib/jvm/java-17-openjdk-amd64/bin/java`
/// is 43 bytes; a Nix store path about 100).
pub const ANCESTOR_EXE_CAP: usize = 256;

/// The ancestors' executables, level 2 up to [`ANCESTOR_DEPTH`] (level 1 is `parent.exe`):
/// the path walked from `mm->exe_file` of the task `real_parent` is followed to that many
/// times, like `exe`, into a buffer of [`ANCESTOR_EXE_CAP`] bytes. Each is a walk of its own;
/// the checker only lets them be compared, never scanned by a glob automaton (a scan of a
/// path costs the verifier about 185,000 processed instructions).
pub static ANCESTOR_EXES: &[Attribute] = &[
    ancestor_exe(2, "ancestor.2.exe"),
    ancestor_exe(3, "ancestor.3.exe"),
    ancestor_exe(4, "ancestor.4.exe"),
    ancestor_exe(5, "ancestor.5.exe"),
    ancestor_exe(6, "ancestor.6.exe"),
    ancestor_exe(7, "ancestor.7.exe"),
    ancestor_exe(8, "ancestor.8.exe"),
];

/// The ancestors' values, level 2 up: the process id (`tgid`) and the name of the task
/// `real_parent` is followed to that many times. Level 1 is `parent.pid` and `parent.comm`.
/// The idle task (`init_task`, pid 0) is its own `real_parent` and the parent of pid 1 and of
/// `kthreadd` (kernel/fork.c, `copy_process`; init/main.c), so following `real_parent` never
/// faults: a level whose `pid` is 0 is the idle task or past it, no ancestor. The last entry
/// has no name: a `pid` there other than 0 means the lineage goes on past
/// [`ANCESTOR_DEPTH`] levels.
pub static ANCESTOR_LEVELS: &[(Attribute, Option<Attribute>)] = &[
    ancestor_level(2, "ancestor.2.pid", Some("ancestor.2.comm")),
    ancestor_level(3, "ancestor.3.pid", Some("ancestor.3.comm")),
    ancestor_level(4, "ancestor.4.pid", Some("ancestor.4.comm")),
    ancestor_level(5, "ancestor.5.pid", Some("ancestor.5.comm")),
    ancestor_level(6, "ancestor.6.pid", Some("ancestor.6.comm")),
    ancestor_level(7, "ancestor.7.pid", Some("ancestor.7.comm")),
    ancestor_level(8, "ancestor.8.pid", Some("ancestor.8.comm")),
    ancestor_level(9, "ancestor.9.pid", None),
];

/// `real_parent` as often as the deepest level follows it, then the field read there: level
/// `k`'s chain is the last `k + 1` members.
static ANCESTOR_PID_CHAIN: [&str; ANCESTOR_DEPTH + 2] = parents_then(&["tgid"]);
static ANCESTOR_COMM_CHAIN: [&str; ANCESTOR_DEPTH + 1] = parents_then(&["comm"]);
/// The executable's path, as `exe` reads it (`mm->exe_file->f_path`).
const EXE_DENTRY: [&str; 4] = ["mm", "exe_file", "f_path", "dentry"];
const EXE_MNT: [&str; 4] = ["mm", "exe_file", "f_path", "mnt"];
static ANCESTOR_EXE_DENTRY_CHAIN: [&str; ANCESTOR_DEPTH + 4] = parents_then(&EXE_DENTRY);
static ANCESTOR_EXE_MNT_CHAIN: [&str; ANCESTOR_DEPTH + 4] = parents_then(&EXE_MNT);

/// `real_parent` as often as fits, then `fields`.
const fn parents_then<const N: usize>(fields: &[&'static str]) -> [&'static str; N] {
    let mut chain = ["real_parent"; N];
    let mut at = 0;
    while at < fields.len() {
        chain[N - fields.len() + at] = fields[at];
        at += 1;
    }
    chain
}

/// The `k` real_parent steps and the `fields` members read after them, from the end of
/// `chain`.
const fn level_chain(
    chain: &'static [&'static str],
    k: usize,
    fields: usize,
) -> &'static [&'static str] {
    chain.split_at(chain.len() - k - fields).1
}

/// Ancestor `k`'s executable.
const fn ancestor_exe(k: usize, name: &'static str) -> Attribute {
    Attribute {
        name,
        ty: ValueType::Path,
        source: Source::WalkedPath {
            dentry: Chain {
                param: None,
                members: level_chain(&ANCESTOR_EXE_DENTRY_CHAIN, k, EXE_DENTRY.len()),
            },
            mnt: Chain {
                param: None,
                members: level_chain(&ANCESTOR_EXE_MNT_CHAIN, k, EXE_MNT.len()),
            },
            cap: ANCESTOR_EXE_CAP,
        },
        doc: "absolute path of an ancestor's executable (the level is in the name)",
    }
}

/// Ancestor `k`'s process id and, below the last level, its name.
const fn ancestor_level(
    k: usize,
    pid: &'static str,
    comm: Option<&'static str>,
) -> (Attribute, Option<Attribute>) {
    let pid = Attribute {
        name: pid,
        ty: ValueType::Int,
        source: Source::TaskInt {
            members: level_chain(&ANCESTOR_PID_CHAIN, k, 1),
        },
        doc: "process id of an ancestor (the level is in the name)",
    };
    let comm = match comm {
        Some(name) => Some(Attribute {
            name,
            ty: ValueType::Str,
            source: Source::TaskChars {
                members: level_chain(&ANCESTOR_COMM_CHAIN, k, 1),
            },
            doc: "name of an ancestor (the level is in the name)",
        }),
        None => None,
    };
    (pid, comm)
}

pub static PTRACE: Event = Event {
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
            source: Source::by_value("mode"),
            doc: "PTRACE_MODE_* bits: 1 read, 2 attach, 4 no audit, 8 fs creds, 16 real creds",
        },
        Attribute {
            name: "attach",
            ty: ValueType::Bool,
            source: Source::bits("mode", PTRACE_MODE_ATTACH),
            doc: "the access would control the target (PTRACE_MODE_ATTACH): ptrace(2) PTRACE_ATTACH or PTRACE_SEIZE, process_vm_readv/writev, writes to /proc/PID/mem, pidfd_getfd",
        },
        Attribute {
            name: "inspect",
            ty: ValueType::Bool,
            source: Source::bits("mode", PTRACE_MODE_READ),
            doc: "the access only reads the target's state (PTRACE_MODE_READ): /proc/PID/environ, maps, fd/, stack, kcmp(2), ...",
        },
    ],
    variants: &[],
};

pub static KILL: Event = Event {
    name: "kill",
    hook: "task_kill",
    doc: "the current process sends a signal to another (kill, tgkill, sigqueue, ...)",
    attributes: &[
        Attribute {
            name: "sig",
            ty: ValueType::Enum(&SIGNALS),
            source: Source::by_value("sig"),
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
    variants: &[],
};

pub static SETUID: Event = Event {
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
    variants: &[],
};

pub static SETGID: Event = Event {
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
    variants: &[],
};

pub static CAPABLE: Event = Event {
    name: "capable",
    hook: "capable",
    doc: "the kernel checks whether the current process has a capability; a deny makes the check fail (the operation usually returns EPERM, whatever the rule's errno)",
    attributes: &[Attribute {
        name: "cap",
        ty: ValueType::Enum(&CAPABILITIES),
        source: Source::by_value("cap"),
        doc: "the capability being checked",
    }],
    variants: &[],
};

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

/// `PTRACE_MODE_*` access kinds of include/linux/ptrace.h, in `ptrace_access_check`'s `mode`
/// (the other bits say whose credentials are checked and whether to audit).
const PTRACE_MODE_READ: u64 = 0x01;
const PTRACE_MODE_ATTACH: u64 = 0x02;

pub static TRACEME: Event = Event {
    name: "traceme",
    hook: "ptrace_traceme",
    doc: "the current process asks its parent to trace it (ptrace(2) PTRACE_TRACEME), the usual first step of anti-debugging tricks and of debuggers starting a program",
    attributes: &[
        Attribute {
            name: "tracer.pid",
            ty: ValueType::Int,
            source: Source::Int {
                param: "parent",
                members: &["tgid"],
            },
            doc: "process id (tgid) of the parent that would trace the current process",
        },
        Attribute {
            name: "tracer.uid",
            ty: ValueType::Int,
            source: Source::Int {
                param: "parent",
                members: &["cred", "uid", "val"],
            },
            doc: "real user id of the parent that would trace the current process",
        },
        Attribute {
            name: "tracer.comm",
            ty: ValueType::Str,
            source: Source::ParamChars {
                param: "parent",
                members: &["comm"],
            },
            doc: "name of the parent's thread that would trace the current process, at most 15 bytes",
        },
    ],
    variants: &[],
};

pub static PRCTL: Event = Event {
    name: "prctl",
    hook: "task_prctl",
    doc: "prctl(2): the current process changes or reads one of its own settings (name, dumpable, no_new_privs, seccomp, capability bounding set, ...)",
    attributes: &[
        Attribute {
            name: "option",
            ty: ValueType::Enum(&PRCTL_OPTIONS),
            source: Source::by_value("option"),
            doc: "the operation: PR_SET_NAME, PR_SET_DUMPABLE, PR_SET_SECCOMP, PR_CAPBSET_DROP, ...",
        },
        Attribute {
            name: "arg2",
            ty: ValueType::Int,
            source: Source::by_value("arg2"),
            doc: "prctl's second argument, whose meaning depends on the option (PR_SET_DUMPABLE's 0 or 1, PR_CAPBSET_DROP's capability)",
        },
    ],
    variants: &[],
};

/// prctl(2) options, `PR_*` of include/uapi/linux/prctl.h; UAPI, never renumbered.
pub static PRCTL_OPTIONS: EnumType = EnumType {
    name: "prctl option",
    values: &[
        ("PR_SET_PDEATHSIG", 1),
        ("PR_GET_PDEATHSIG", 2),
        ("PR_GET_DUMPABLE", 3),
        ("PR_SET_DUMPABLE", 4),
        ("PR_GET_UNALIGN", 5),
        ("PR_SET_UNALIGN", 6),
        ("PR_GET_KEEPCAPS", 7),
        ("PR_SET_KEEPCAPS", 8),
        ("PR_GET_FPEMU", 9),
        ("PR_SET_FPEMU", 10),
        ("PR_GET_FPEXC", 11),
        ("PR_SET_FPEXC", 12),
        ("PR_GET_TIMING", 13),
        ("PR_SET_TIMING", 14),
        ("PR_SET_NAME", 15),
        ("PR_GET_NAME", 16),
        ("PR_GET_ENDIAN", 19),
        ("PR_SET_ENDIAN", 20),
        ("PR_GET_SECCOMP", 21),
        ("PR_SET_SECCOMP", 22),
        ("PR_CAPBSET_READ", 23),
        ("PR_CAPBSET_DROP", 24),
        ("PR_GET_TSC", 25),
        ("PR_SET_TSC", 26),
        ("PR_GET_SECUREBITS", 27),
        ("PR_SET_SECUREBITS", 28),
        ("PR_SET_TIMERSLACK", 29),
        ("PR_GET_TIMERSLACK", 30),
        ("PR_TASK_PERF_EVENTS_DISABLE", 31),
        ("PR_TASK_PERF_EVENTS_ENABLE", 32),
        ("PR_MCE_KILL", 33),
        ("PR_MCE_KILL_GET", 34),
        ("PR_SET_MM", 35),
        ("PR_SET_CHILD_SUBREAPER", 36),
        ("PR_GET_CHILD_SUBREAPER", 37),
        ("PR_SET_NO_NEW_PRIVS", 38),
        ("PR_GET_NO_NEW_PRIVS", 39),
        ("PR_GET_TID_ADDRESS", 40),
        ("PR_SET_THP_DISABLE", 41),
        ("PR_GET_THP_DISABLE", 42),
        ("PR_MPX_ENABLE_MANAGEMENT", 43),
        ("PR_MPX_DISABLE_MANAGEMENT", 44),
        ("PR_SET_FP_MODE", 45),
        ("PR_GET_FP_MODE", 46),
        ("PR_CAP_AMBIENT", 47),
        ("PR_SVE_SET_VL", 50),
        ("PR_SVE_GET_VL", 51),
        ("PR_GET_SPECULATION_CTRL", 52),
        ("PR_SET_SPECULATION_CTRL", 53),
        ("PR_PAC_RESET_KEYS", 54),
        ("PR_SET_TAGGED_ADDR_CTRL", 55),
        ("PR_GET_TAGGED_ADDR_CTRL", 56),
        ("PR_SET_IO_FLUSHER", 57),
        ("PR_GET_IO_FLUSHER", 58),
        ("PR_SET_SYSCALL_USER_DISPATCH", 59),
        ("PR_PAC_SET_ENABLED_KEYS", 60),
        ("PR_PAC_GET_ENABLED_KEYS", 61),
        ("PR_SCHED_CORE", 62),
        ("PR_SME_SET_VL", 63),
        ("PR_SME_GET_VL", 64),
        ("PR_SET_MDWE", 65),
        ("PR_GET_MDWE", 66),
        ("PR_SET_MEMORY_MERGE", 67),
        ("PR_GET_MEMORY_MERGE", 68),
        ("PR_SET_VMA", 0x5356_4d41),
        ("PR_SET_PTRACER", 0x5961_6d61),
    ],
};
