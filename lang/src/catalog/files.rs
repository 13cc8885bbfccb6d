//! File-system events: programs executed, files opened, created, removed, renamed, linked,
//! changed, truncated, mapped. `exec` and `open` get their paths from `bpf_d_path`; the
//! others walk theirs (see [`Source::WalkedPath`]: `bpf_d_path` is refused on their hooks).

use super::inode;
use super::{Attribute, Availability, Event, HookVariant, Source, ValueType, VariantRules};

/// `fmode_t` bits from include/linux/fs.h; stable kernel ABI since 2.6.
const FMODE_READ: u64 = 0x1;
const FMODE_WRITE: u64 = 0x2;

/// `PROT_*` bits from include/uapi/asm-generic/mman-common.h; stable ABI.
const PROT_WRITE: u64 = 0x2;
const PROT_EXEC: u64 = 0x4;

/// `MAP_SHARED` of include/uapi/linux/mman.h; `MAP_SHARED_VALIDATE` (0x03) has the bit too.
const MAP_SHARED: u64 = 0x1;
/// `VM_SHARED` of include/linux/mm.h, in `vma->vm_flags`: the mapping was made shared.
const VM_SHARED: u64 = 0x8;

/// `bprm->argc`: the new program's argument count, at least 1 (see `argc` on [`EXEC`]).
pub const ARGC: Source = Source::Int {
    param: "bprm",
    members: &["argc"],
};

/// The new program's command line: `bprm->argc` strings from `bprm->p` on (see `cmdline` on
/// [`EXEC`]).
pub const CMDLINE: Source = Source::CommandLine {
    param: "bprm",
    strings: &["p"],
    count: "argc",
};

/// The process attributes that mean something else on `bprm_committing_creds` than on
/// `bprm_check_security`: `begin_new_exec` (fs/exec.c) has already given the task the new
/// program's name (`__set_task_comm`) and executable (`exec_mmap` of the new memory, whose
/// `exe_file` `set_mm_exe_file` set), and `de_thread` has given a non-leader caller the
/// leader's thread id. A rule that decides there may not test them (E0215).
pub const MOVED_AT_COMMIT: &[&str] = &["comm", "exe", "pid"];

const EXEC_PATH: Source = Source::ResolvedPath {
    param: "bprm",
    members: &["file", "f_path"],
};
const EXEC_FILENAME: Source = Source::KernelString {
    param: "bprm",
    members: &["filename"],
};
const EXEC_OWNER_UID: Attribute = inode::owner_uid("bprm", &["file", "f_inode", "i_uid", "val"]);
const EXEC_OWNER_GID: Attribute = inode::owner_gid("bprm", &["file", "f_inode", "i_gid", "val"]);
const EXEC_MODE: Attribute = inode::mode("bprm", &["file", "f_inode", "i_mode"]);
const EXEC_SETUID: Attribute = inode::setuid("bprm", &["file", "f_inode", "i_mode"]);
const EXEC_SETGID: Attribute = inode::setgid("bprm", &["file", "f_inode", "i_mode"]);

pub static EXEC: Event = Event {
    name: "exec",
    hook: "bprm_check_security",
    doc: "a program is about to be executed (execve, execveat), after the kernel opened it",
    attributes: &[
        Attribute {
            name: "path",
            ty: ValueType::Path,
            source: EXEC_PATH,
            doc: "absolute path of the file being executed, as the kernel resolved it",
        },
        Attribute {
            name: "filename",
            ty: ValueType::Str,
            source: EXEC_FILENAME,
            doc: "the file name as the caller passed it to execve (may be relative)",
        },
        // fs/exec.c, do_execveat_common: the kernel counts the caller's argv (`count`) into
        // `bprm->argc` and copies exactly that many strings before `bprm_execve` runs any
        // bprm hook; since Linux 5.18 an empty argv becomes one empty string (argc 1). The
        // count lives in kernel memory, so unlike the strings it is the new program's on
        // this first hook already, and a racing thread cannot change it.
        Attribute {
            name: "argc",
            ty: ValueType::Int,
            source: ARGC,
            doc: "how many arguments the new program gets (its argc, argv[0] included), as the kernel counted them",
        },
        // The strings the kernel copied into the new program's stack (copy_strings in
        // do_execveat_common): the caller's memory on this hook, the new program's own only
        // after exec_mmap, so the value is read on bprm_committing_creds (the variant below)
        // and only kill and audit rules may test it (E0214).
        Attribute {
            name: "cmdline",
            ty: ValueType::Str,
            source: CMDLINE,
            doc: "the new program's arguments (argv[0] included) joined by single spaces, as Falco's proc.cmdline: `cmdline ~ \"**--donate-level**\"`; one argument is `argv[1] == \"-e\"` (argv[0] to argv[31]; an argument past the last is no string), any argument `argv ~ \"--donate-level**\"` or `\"-e\" in argv`, where an argument holding a space stays one. Read after the point of no return, so only `kill` and `audit` rules may test them; unknown (a kill or audit rule matches) past 32 arguments or 4,095 bytes",
        },
        // The executable's inode: owner and mode.
        EXEC_OWNER_UID,
        EXEC_OWNER_GID,
        EXEC_MODE,
        EXEC_SETUID,
        EXEC_SETGID,
    ],
    // fs/exec.c, begin_new_exec: after the point of no return and exec_mmap, the void hook
    // security_bprm_committing_creds. There the arguments at bprm->p are the current task's
    // memory (measured, tests/kernel/tests/argv.rs); the other attributes are read from the
    // same `bprm` as on bprm_check_security.
    variants: &[HookVariant {
        hook: "bprm_committing_creds",
        availability: Availability::Required,
        only_when: None,
        sources: &[
            ("path", EXEC_PATH),
            ("filename", EXEC_FILENAME),
            ("argc", ARGC),
            ("cmdline", CMDLINE),
            ("owner.uid", EXEC_OWNER_UID.source),
            ("owner.gid", EXEC_OWNER_GID.source),
            ("mode", EXEC_MODE.source),
            ("setuid", EXEC_SETUID.source),
            ("setgid", EXEC_SETGID.source),
        ],
        rules: VariantRules::LateValues,
    }],
};

pub static OPEN: Event = Event {
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
        // The open(2) flags, from `file->f_flags`. do_dentry_open (fs/open.c) clears
        // O_CREAT, O_EXCL, O_NOCTTY and O_TRUNC only after it called security_file_open, so
        // the hook still sees every flag the caller passed (measured in both guests by
        // tests/kernel/tests/operations.rs).
        Attribute {
            name: "create",
            ty: ValueType::Bool,
            source: Source::open_flag(O_CREAT),
            doc: "O_CREAT was passed (whether or not the file existed); a new file is made before this check, so a refused open leaves it behind empty: the `create` event refuses the creation itself",
        },
        Attribute {
            name: "exclusive",
            ty: ValueType::Bool,
            source: Source::open_flag(O_EXCL),
            doc: "O_EXCL was passed: with O_CREAT the open created the file (an existing one already failed with EEXIST)",
        },
        Attribute {
            name: "truncate",
            ty: ValueType::Bool,
            source: Source::open_flag(O_TRUNC),
            doc: "O_TRUNC was passed: a regular file is emptied after the open is allowed; a refused open leaves it whole",
        },
        Attribute {
            name: "append",
            ty: ValueType::Bool,
            source: Source::open_flag(O_APPEND),
            doc: "O_APPEND was passed: every write goes to the end of the file",
        },
        Attribute {
            name: "directory",
            ty: ValueType::Bool,
            source: Source::open_flag(O_DIRECTORY),
            doc: "O_DIRECTORY was passed: the open fails unless the path is a directory",
        },
        Attribute {
            name: "nofollow",
            ty: ValueType::Bool,
            source: Source::open_flag(O_NOFOLLOW),
            doc: "O_NOFOLLOW was passed: a symbolic link as the last component fails the open before the hook",
        },
        // The opened file's inode: owner and mode.
        inode::owner_uid("file", &["f_inode", "i_uid", "val"]),
        inode::owner_gid("file", &["f_inode", "i_gid", "val"]),
        inode::mode("file", &["f_inode", "i_mode"]),
        inode::setuid("file", &["f_inode", "i_mode"]),
        inode::setgid("file", &["f_inode", "i_mode"]),
    ],
    variants: &[],
};

/// open(2) flags of include/uapi/asm-generic/fcntl.h as x86-64 has them (other
/// architectures number some differently; krsi targets x86-64 kernels).
const O_CREAT: u64 = 0o100;
const O_EXCL: u64 = 0o200;
const O_TRUNC: u64 = 0o1000;
const O_APPEND: u64 = 0o2000;
const O_DIRECTORY: u64 = 0o200000;
const O_NOFOLLOW: u64 = 0o400000;

impl Source {
    /// `(file->f_flags & flag) != 0` on `file_open`.
    const fn open_flag(flag: u64) -> Source {
        Source::Flag {
            param: "file",
            members: &["f_flags"],
            mask: flag,
        }
    }
}

pub static CREATE: Event = Event {
    name: "create",
    hook: "path_mknod",
    doc: "a file is created: open(2) with O_CREAT of a new file, or mknod(2)",
    attributes: &[
        Attribute {
            name: "path",
            ty: ValueType::Path,
            source: Source::in_dir("dentry", "dir"),
            doc: "absolute path of the file being created",
        },
        Attribute {
            name: "mode",
            ty: ValueType::Int,
            source: Source::by_value("mode"),
            doc: "the new file's mode, type bits included (0o100000 for a regular file)",
        },
    ],
    variants: &[],
};

pub static UNLINK: Event = Event {
    name: "unlink",
    hook: "path_unlink",
    doc: "a name is removed from a directory (unlink, unlinkat)",
    attributes: &[
        Attribute {
            name: "path",
            ty: ValueType::Path,
            source: Source::in_dir("dentry", "dir"),
            doc: "absolute path of the name being removed",
        },
        // The inode the name leads to: who owns the file being removed.
        inode::owner_uid("dentry", &["d_inode", "i_uid", "val"]),
        inode::owner_gid("dentry", &["d_inode", "i_gid", "val"]),
        inode::mode("dentry", &["d_inode", "i_mode"]),
    ],
    variants: &[],
};

pub static MKDIR: Event = Event {
    name: "mkdir",
    hook: "path_mkdir",
    doc: "a directory is created",
    attributes: &[
        Attribute {
            name: "path",
            ty: ValueType::Path,
            source: Source::in_dir("dentry", "dir"),
            doc: "absolute path of the directory being created",
        },
        Attribute {
            name: "mode",
            ty: ValueType::Int,
            source: Source::by_value("mode"),
            doc: "the permission bits asked for",
        },
    ],
    variants: &[],
};

pub static RMDIR: Event = Event {
    name: "rmdir",
    hook: "path_rmdir",
    doc: "a directory is removed",
    attributes: &[Attribute {
        name: "path",
        ty: ValueType::Path,
        source: Source::in_dir("dentry", "dir"),
        doc: "absolute path of the directory being removed",
    }],
    variants: &[],
};

pub static RENAME: Event = Event {
    name: "rename",
    hook: "path_rename",
    doc: "a file or directory is renamed (rename, renameat2)",
    attributes: &[
        Attribute {
            name: "path",
            ty: ValueType::Path,
            source: Source::in_dir("old_dentry", "old_dir"),
            doc: "absolute path of the file being renamed",
        },
        Attribute {
            name: "new.path",
            ty: ValueType::Path,
            source: Source::in_dir("new_dentry", "new_dir"),
            doc: "the absolute path it is renamed to",
        },
    ],
    variants: &[],
};

pub static LINK: Event = Event {
    name: "link",
    hook: "path_link",
    doc: "a hard link is made",
    attributes: &[
        Attribute {
            name: "path",
            ty: ValueType::Path,
            // A hard link never crosses mounts: the existing file is on the new link's mount.
            source: Source::in_dir("old_dentry", "new_dir"),
            doc: "absolute path of the existing file",
        },
        Attribute {
            name: "new.path",
            ty: ValueType::Path,
            source: Source::in_dir("new_dentry", "new_dir"),
            doc: "absolute path of the new link",
        },
    ],
    variants: &[],
};

pub static SYMLINK: Event = Event {
    name: "symlink",
    hook: "path_symlink",
    doc: "a symbolic link is made",
    attributes: &[
        Attribute {
            name: "path",
            ty: ValueType::Path,
            source: Source::in_dir("dentry", "dir"),
            doc: "absolute path of the new link",
        },
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
    variants: &[],
};

pub static CHMOD: Event = Event {
    name: "chmod",
    hook: "path_chmod",
    doc: "a file's mode is changed (chmod, fchmod, fchmodat)",
    attributes: &[
        Attribute {
            name: "path",
            ty: ValueType::Path,
            source: Source::of_path("path"),
            doc: "absolute path of the file",
        },
        Attribute {
            name: "mode",
            ty: ValueType::Int,
            source: Source::by_value("mode"),
            doc: "the new mode: permission, setuid (0o4000), setgid (0o2000) and sticky (0o1000) bits",
        },
        // The file's inode: its owner, and its setuid/setgid bits before the change (`mode`
        // is the new mode here).
        inode::owner_uid("path", &["dentry", "d_inode", "i_uid", "val"]),
        inode::owner_gid("path", &["dentry", "d_inode", "i_gid", "val"]),
        inode::setuid("path", &["dentry", "d_inode", "i_mode"]),
        inode::setgid("path", &["dentry", "d_inode", "i_mode"]),
    ],
    variants: &[],
};

pub static CHOWN: Event = Event {
    name: "chown",
    hook: "path_chown",
    doc: "a file's owner or group is changed",
    attributes: &[
        Attribute {
            name: "path",
            ty: ValueType::Path,
            source: Source::of_path("path"),
            doc: "absolute path of the file",
        },
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
        // The file's inode: its owner before the change, and its mode.
        inode::owner_uid("path", &["dentry", "d_inode", "i_uid", "val"]),
        inode::owner_gid("path", &["dentry", "d_inode", "i_gid", "val"]),
        inode::mode("path", &["dentry", "d_inode", "i_mode"]),
        inode::setuid("path", &["dentry", "d_inode", "i_mode"]),
        inode::setgid("path", &["dentry", "d_inode", "i_mode"]),
    ],
    variants: &[],
};

pub static TRUNCATE: Event = Event {
    name: "truncate",
    hook: "path_truncate",
    doc: "a file is truncated: truncate(2), ftruncate(2), open with O_TRUNC (since Linux 6.2 the last two go through `file_truncate`, attached where the kernel has it)",
    attributes: &[Attribute {
        name: "path",
        ty: ValueType::Path,
        source: Source::of_path("path"),
        doc: "absolute path of the file",
    }],
    // fs/open.c (do_ftruncate) and fs/namei.c (handle_truncate) call security_file_truncate
    // instead of security_path_truncate since Linux 6.2. Not a sleepable hook either, so the
    // path is walked from the file's `f_path` as on the `path_*` hooks (measured on the 6.12
    // guest: `bpf_d_path` there is "helper call is not allowed in probe").
    variants: &[HookVariant {
        rules: VariantRules::All,
        hook: "file_truncate",
        availability: Availability::Since("6.2"),
        only_when: None,
        sources: &[(
            "path",
            Source::walked("file", &["f_path", "dentry"], &["f_path", "mnt"]),
        )],
    }],
};

pub static CHROOT: Event = Event {
    name: "chroot",
    hook: "path_chroot",
    doc: "the process changes its root directory",
    attributes: &[Attribute {
        name: "path",
        ty: ValueType::Path,
        source: Source::of_path("path"),
        doc: "absolute path of the new root",
    }],
    variants: &[],
};

/// Whether `attribute` is the path of an operation that may have no file: a mapping of
/// anonymous memory (`mmap`, `mprotect`), whose walk starts at a NULL file and gives `""`.
/// Every other event's `path` walks from a file the kernel always has.
pub fn may_have_no_file(attribute: &Attribute) -> bool {
    [&MMAP, &MPROTECT].iter().any(|event| {
        event
            .attributes
            .iter()
            .any(|a| std::ptr::eq(a, attribute) && a.name == "path")
    })
}

pub static MMAP: Event = Event {
    name: "mmap",
    hook: "mmap_file",
    doc: "memory is mapped (mmap); also anonymous memory, whose `path` is \"\"",
    attributes: &[
        Attribute {
            name: "path",
            ty: ValueType::Path,
            source: Source::walked("file", &["f_path", "dentry"], &["f_path", "mnt"]),
            doc: "absolute path of the mapped file; \"\" for anonymous memory",
        },
        Attribute {
            name: "exec",
            ty: ValueType::Bool,
            source: Source::bits("prot", PROT_EXEC),
            doc: "the mapping is executable (PROT_EXEC, as the kernel will apply it)",
        },
        Attribute {
            name: "write",
            ty: ValueType::Bool,
            source: Source::bits("prot", PROT_WRITE),
            doc: "the mapping is writable (PROT_WRITE)",
        },
        Attribute {
            name: "shared",
            ty: ValueType::Bool,
            source: Source::bits("flags", MAP_SHARED),
            doc: "the mapping is shared (MAP_SHARED or MAP_SHARED_VALIDATE): writes reach the file and other processes mapping it",
        },
    ],
    variants: &[],
};

pub static MPROTECT: Event = Event {
    name: "mprotect",
    hook: "file_mprotect",
    doc: "the protection of mapped memory changes (mprotect, pkey_mprotect)",
    attributes: &[
        Attribute {
            name: "path",
            ty: ValueType::Path,
            source: Source::walked(
                "vma",
                &["vm_file", "f_path", "dentry"],
                &["vm_file", "f_path", "mnt"],
            ),
            doc: "absolute path of the file mapped there; \"\" for anonymous memory",
        },
        Attribute {
            name: "exec",
            ty: ValueType::Bool,
            source: Source::bits("prot", PROT_EXEC),
            doc: "the new protection allows executing (PROT_EXEC)",
        },
        Attribute {
            name: "write",
            ty: ValueType::Bool,
            source: Source::bits("prot", PROT_WRITE),
            doc: "the new protection allows writing (PROT_WRITE)",
        },
        Attribute {
            name: "shared",
            ty: ValueType::Bool,
            source: Source::Flag {
                param: "vma",
                members: &["vm_flags"],
                mask: VM_SHARED,
            },
            doc: "the memory is a shared mapping (mapped with MAP_SHARED): writes reach the file",
        },
    ],
    variants: &[],
};

pub static IOCTL: Event = Event {
    name: "ioctl",
    hook: "file_ioctl",
    doc: "an ioctl(2) on an open file",
    attributes: &[
        Attribute {
            name: "path",
            ty: ValueType::Path,
            source: Source::walked("file", &["f_path", "dentry"], &["f_path", "mnt"]),
            doc: "absolute path of the file",
        },
        Attribute {
            name: "cmd",
            ty: ValueType::Int,
            source: Source::by_value("cmd"),
            doc: "the ioctl request number",
        },
    ],
    variants: &[],
};

pub static SETXATTR: Event = Event {
    name: "setxattr",
    hook: "inode_setxattr",
    doc: "an extended attribute is set (setxattr, lsetxattr, fsetxattr): security labels, file capabilities, POSIX ACLs, user data",
    attributes: &[XATTR_NAME],
    // Since Linux 6.2 POSIX ACLs (system.posix_acl_*) are set through vfs_set_acl, which
    // calls security_inode_set_acl instead of security_inode_setxattr.
    variants: &[HookVariant {
        rules: VariantRules::All,
        hook: "inode_set_acl",
        availability: Availability::Since("6.2"),
        only_when: None,
        sources: &[ACL_NAME],
    }],
};

/// The ACL hooks give the attribute's name as their own `acl_name` parameter.
const ACL_NAME: (&str, Source) = (
    "name",
    Source::KernelString {
        param: "acl_name",
        members: &[],
    },
);

pub static REMOVEXATTR: Event = Event {
    name: "removexattr",
    hook: "inode_removexattr",
    doc: "an extended attribute is removed (removexattr, lremovexattr, fremovexattr)",
    attributes: &[XATTR_NAME],
    // As for setxattr: POSIX ACLs go through security_inode_remove_acl since Linux 6.2.
    variants: &[HookVariant {
        rules: VariantRules::All,
        hook: "inode_remove_acl",
        availability: Availability::Since("6.2"),
        only_when: None,
        sources: &[ACL_NAME],
    }],
};

/// `name` of `setxattr` and `removexattr`.
const XATTR_NAME: Attribute = Attribute {
    name: "name",
    ty: ValueType::Str,
    source: Source::KernelString {
        param: "name",
        members: &[],
    },
    doc: "the attribute's full name with its namespace: `security.capability`, `security.selinux`, `system.posix_acl_access`, `trusted.overlay.opaque`, `user.xdg.origin.url`, ...",
};
