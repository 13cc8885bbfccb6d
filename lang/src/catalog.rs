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
}

impl ValueType {
    pub fn describe(self) -> &'static str {
        match self {
            ValueType::Int => "integer",
            ValueType::Str => "string",
            ValueType::Path => "path",
            ValueType::Bool => "boolean",
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
}

/// A hook parameter (`None`: the current task) and a chain of struct members from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Chain {
    pub param: Option<&'static str>,
    pub members: &'static [&'static str],
}

impl Source {
    /// The hook parameter and member chain to resolve against BTF, if any.
    pub fn chain(&self) -> Option<(Option<&'static str>, &'static [&'static str])> {
        match *self {
            Source::ResolvedPath { param, members }
            | Source::KernelString { param, members }
            | Source::Flag { param, members, .. }
            | Source::Int { param, members } => Some((Some(param), members)),
            // The dentry's chain; the checker resolves the mount's too.
            Source::WalkedPath { dentry, .. } => Some((dentry.param, dentry.members)),
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

impl Event {
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
