//! What the BTF fixture tests share.

/// Structs (and typedefs of anonymous structs) whose members policies read. 6.3 replaced
/// `struct kernel_cap_struct` by `kernel_cap_t`, a typedef of an anonymous struct, so both are
/// listed: each kernel has one of them.
pub const STRUCTS: &[&str] = &[
    "linux_binprm",
    "file",
    "path",
    "dentry",
    "qstr",
    "inode",
    "task_struct",
    "cred",
    "kuid_t",
    "kgid_t",
    "kernel_cap_struct",
    "kernel_cap_t",
    "socket",
    "sock",
    "sock_common",
    "sockaddr",
    "sockaddr_in",
    "sockaddr_in6",
    "in6_addr",
    "in_addr",
    "vm_area_struct",
    "super_block",
    "file_system_type",
    "mm_struct",
    "pid",
    "vfsmount",
    "mount",
    // The process's root (`task_struct.fs`), where a path screen's walk up stops.
    "fs_struct",
    // Workload identity: the task's cgroup (css_set -> cgroup -> kernfs_node) and namespaces.
    "css_set",
    "cgroup",
    "kernfs_node",
    "nsproxy",
    "ns_common",
    "mnt_namespace",
    "net",
    "uts_namespace",
    "ipc_namespace",
    "cgroup_namespace",
    "user_namespace",
    // The pid namespace a task is in: task->thread_pid->numbers[level].ns (struct pid, struct
    // upid, struct pid_namespace).
    "upid",
    "pid_namespace",
];
