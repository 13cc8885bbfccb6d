//! The system as a whole: bpf(2), mounts, user namespaces, BPF tokens, kernel modules.

use super::{
    Attribute, Availability, EnumType, Event, HookVariant, Source, ValueType, VariantRules,
};

pub static BPF: Event = Event {
    name: "bpf",
    hook: "bpf",
    doc: "the bpf(2) system call: loading programs, creating maps, ... (also BPF_PROG_LOAD by krsic itself, outside a scoped policy's cgroup)",
    attributes: &[Attribute {
        name: "cmd",
        ty: ValueType::Enum(&BPF_COMMANDS),
        source: Source::by_value("cmd"),
        doc: "the command: map_create, prog_load, btf_load, link_create, ...",
    }],
    variants: &[],
};

pub static MOUNT: Event = Event {
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
            source: Source::by_value("flags"),
            doc: "MS_* flags of mount(2), e.g. 1 read-only, 4096 bind, 32 remount",
        },
    ],
    variants: &[],
};

pub static UMOUNT: Event = Event {
    name: "umount",
    hook: "sb_umount",
    doc: "umount(2), umount2(2): a file system is being unmounted",
    attributes: &[Attribute {
        name: "flags",
        ty: ValueType::Int,
        source: Source::by_value("flags"),
        doc: "umount2(2) flags: 1 force, 2 detach, 4 expire, 8 no-follow",
    }],
    variants: &[],
};

pub static USERNS: Event = Event {
    name: "userns",
    hook: "userns_create",
    doc: "a user namespace is being created (unshare or clone with CLONE_NEWUSER)",
    attributes: &[],
    variants: &[],
};

pub static BPF_TOKEN: Event = Event {
    name: "bpf_token",
    hook: "bpf_token_create",
    doc: "a BPF token is created from a BPF file system with delegation (BPF_TOKEN_CREATE; the hook exists from Linux 6.9)",
    attributes: &[],
    variants: &[],
};

pub static KMOD_LOAD: Event = Event {
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
    variants: &[
        HookVariant {
            rules: VariantRules::All,
            hook: "kernel_read_file",
            availability: Availability::Required,
            only_when: Some(("id", READING_MODULE)),
            sources: &[("kind", Source::Constant(MODULE_FROM_FILE))],
        },
        HookVariant {
            rules: VariantRules::All,
            hook: "kernel_load_data",
            availability: Availability::Required,
            only_when: Some(("id", LOADING_MODULE)),
            sources: &[("kind", Source::Constant(MODULE_FROM_MEMORY))],
        },
    ],
};

/// `kind` of `kmod_load`: which hook raised it.
pub const MODULE_REQUEST: u64 = 0;
pub const MODULE_FROM_FILE: u64 = 1;
pub const MODULE_FROM_MEMORY: u64 = 2;

/// `READING_MODULE` of `enum kernel_read_file_id` and `LOADING_MODULE` of `enum
/// kernel_load_data_id` (include/linux/kernel_read_file.h; both 2 since Linux 5.9, where the
/// two enums were split from one list that begins UNKNOWN, FIRMWARE, MODULE).
const READING_MODULE: u64 = 2;
const LOADING_MODULE: u64 = 2;

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

pub static MODULE_LOADS: EnumType = EnumType {
    name: "module load",
    values: &[
        ("request", MODULE_REQUEST),
        ("file", MODULE_FROM_FILE),
        ("memory", MODULE_FROM_MEMORY),
    ],
};

pub static PIVOT_ROOT: Event = Event {
    name: "pivot_root",
    hook: "sb_pivotroot",
    doc: "pivot_root(2): the mount namespace's root is replaced (what container runtimes do at start, and what an escape would redo)",
    attributes: &[
        Attribute {
            name: "path",
            ty: ValueType::Path,
            source: Source::of_path("new_path"),
            doc: "absolute path of the new root (pivot_root's `new_root`)",
        },
        Attribute {
            name: "put_old",
            ty: ValueType::Path,
            source: Source::of_path("old_path"),
            doc: "absolute path where the old root is put (pivot_root's `put_old`)",
        },
    ],
    variants: &[],
};

pub static MOVE_MOUNT: Event = Event {
    name: "move_mount",
    hook: "move_mount",
    doc: "move_mount(2): a mount, or a detached one made by fsmount(2) or open_tree(2), is attached somewhere (mount(2) with MS_MOVE is the `mount` event)",
    attributes: &[
        Attribute {
            name: "path",
            ty: ValueType::Path,
            source: Source::of_path("from_path"),
            doc: "absolute path of the mount being moved; a detached mount's own root, often \"/\"",
        },
        Attribute {
            name: "new.path",
            ty: ValueType::Path,
            source: Source::of_path("to_path"),
            doc: "absolute path where the mount is attached",
        },
    ],
    variants: &[],
};
