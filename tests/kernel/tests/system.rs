//! System events: `bpf`, `mount`, `umount`, `userns`, and `bpf_token`, whose hook only newer
//! kernels have. A process in the policy's cgroup doing the operation fails with the rule's
//! errno; the same operation succeeds outside the cgroup, for a process or an operation the
//! rule does not cover, and after unload.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use kernel_tests::{
    assert_call_denied, assert_call_fails_not_with, assert_call_ok, call_as, krsic, require_guest,
    Cgroup, Identity, Policy, TempDir, USER,
};
use libc::EPERM;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// bpf(BPF_PROG_LOAD) of the smallest socket filter (`r0 = 0; exit`), closed again.
fn load_trivial_program() -> libc::c_long {
    // mov r0, 0; exit
    static INSNS: [u64; 2] = [0x0000_0000_0000_00b7, 0x0000_0000_0000_0095];
    static LICENSE: &[u8] = b"GPL\0";
    // union bpf_attr for BPF_PROG_LOAD: prog_type u32, insn_cnt u32, insns u64, license u64;
    // the rest zero.
    let mut attr = [0u8; 128];
    attr[0..4].copy_from_slice(&1u32.to_ne_bytes()); // BPF_PROG_TYPE_SOCKET_FILTER
    attr[4..8].copy_from_slice(&2u32.to_ne_bytes());
    attr[8..16].copy_from_slice(&(INSNS.as_ptr() as u64).to_ne_bytes());
    attr[16..24].copy_from_slice(&(LICENSE.as_ptr() as u64).to_ne_bytes());
    // SAFETY: attr is a valid bpf_attr prefix; the descriptor is closed right away.
    unsafe {
        let fd = libc::syscall(libc::SYS_bpf, 5, attr.as_ptr(), attr.len() as libc::c_uint);
        if fd < 0 {
            return -1;
        }
        libc::close(fd as libc::c_int);
        0
    }
}

/// bpf(BPF_MAP_CREATE) of a one-entry array, closed again.
fn create_map() -> libc::c_long {
    // map_type u32 (BPF_MAP_TYPE_ARRAY 2), key_size u32, value_size u32, max_entries u32.
    let mut attr = [0u8; 128];
    for (i, v) in [2u32, 4, 8, 1].iter().enumerate() {
        attr[4 * i..4 * i + 4].copy_from_slice(&v.to_ne_bytes());
    }
    // SAFETY: attr is a valid bpf_attr prefix; the descriptor is closed right away.
    unsafe {
        let fd = libc::syscall(libc::SYS_bpf, 0, attr.as_ptr(), attr.len() as libc::c_uint);
        if fd < 0 {
            return -1;
        }
        libc::close(fd as libc::c_int);
        0
    }
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn bpf_prog_load_denied_for_non_root_uid_in_cgroup_only() {
    require_guest();
    let cg = Cgroup::new();
    assert_call_ok(
        call_as(Identity::RealUser(USER), Some(&cg), load_trivial_program),
        "prog_load, real uid 1000 in the cgroup, before load",
    );
    let policy_dir = TempDir::new();
    let policy = Policy::load_source(
        &policy_dir,
        "deny bpf where cmd == prog_load and uid != 0\n",
        Some(&cg),
    );
    assert_call_denied(
        call_as(Identity::RealUser(USER), Some(&cg), load_trivial_program),
        EPERM,
        "prog_load, real uid 1000 in the cgroup",
    );
    assert_call_ok(
        call_as(Identity::RealUser(USER), Some(&cg), create_map),
        "map_create, real uid 1000 in the cgroup",
    );
    assert_call_ok(
        call_as(Identity::Root, Some(&cg), load_trivial_program),
        "prog_load, uid 0 in the cgroup",
    );
    assert_call_ok(
        call_as(Identity::RealUser(USER), None, load_trivial_program),
        "prog_load, real uid 1000 outside the cgroup",
    );
    policy.stop();
    assert_call_ok(
        call_as(Identity::RealUser(USER), Some(&cg), load_trivial_program),
        "prog_load, real uid 1000 in the cgroup, after unload",
    );
}

fn c_path(path: &Path) -> CString {
    CString::new(path.as_os_str().as_bytes()).unwrap()
}

/// mount(source, target, fstype, 0, NULL), unmounted again when it worked; the mount's result.
fn mount_fs(
    source: &'static str,
    target: CString,
    fstype: &'static str,
) -> impl FnOnce() -> libc::c_long {
    let source = CString::new(source).unwrap();
    let fstype = CString::new(fstype).unwrap();
    // SAFETY: NUL-terminated strings owned by the closure.
    move || unsafe {
        let r = libc::mount(
            source.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            0,
            std::ptr::null(),
        );
        if r != 0 {
            return -1;
        }
        libc::umount2(target.as_ptr(), libc::MNT_DETACH);
        0
    }
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn mount_proc_denied_for_non_root_uid_in_cgroup_only() {
    require_guest();
    let dir = TempDir::new();
    let target = c_path(dir.path());
    let cg = Cgroup::new();
    let proc_mount = || mount_fs("proc", target.clone(), "proc");
    assert_call_ok(
        call_as(Identity::RealUser(USER), Some(&cg), proc_mount()),
        "mount proc, real uid 1000 in the cgroup, before load",
    );
    let policy_dir = TempDir::new();
    let policy = Policy::load_source(
        &policy_dir,
        "deny mount where fstype == \"proc\" and uid != 0\n",
        Some(&cg),
    );
    assert_call_denied(
        call_as(Identity::RealUser(USER), Some(&cg), proc_mount()),
        EPERM,
        "mount proc, real uid 1000 in the cgroup",
    );
    assert_call_ok(
        call_as(
            Identity::RealUser(USER),
            Some(&cg),
            mount_fs("tmp", target.clone(), "tmpfs"),
        ),
        "mount tmpfs, real uid 1000 in the cgroup",
    );
    assert_call_ok(
        call_as(Identity::Root, Some(&cg), proc_mount()),
        "mount proc, uid 0 in the cgroup",
    );
    assert_call_ok(
        call_as(Identity::RealUser(USER), None, proc_mount()),
        "mount proc, real uid 1000 outside the cgroup",
    );
    policy.stop();
    assert_call_ok(
        call_as(Identity::RealUser(USER), Some(&cg), proc_mount()),
        "mount proc, real uid 1000 in the cgroup, after unload",
    );
}

/// A tmpfs the test mounts on `dir`; detached on drop if still there.
struct TmpfsMount(CString);

impl TmpfsMount {
    fn new(dir: &Path) -> TmpfsMount {
        let target = c_path(dir);
        assert_call_ok(
            call_as(Identity::Root, None, mount_kept(target.clone())),
            "mount a tmpfs for the test",
        );
        TmpfsMount(target)
    }
}

/// mount("tmp", target, "tmpfs") left mounted.
fn mount_kept(target: CString) -> impl FnOnce() -> libc::c_long {
    // SAFETY: NUL-terminated strings.
    move || unsafe {
        libc::mount(
            c"tmp".as_ptr(),
            target.as_ptr(),
            c"tmpfs".as_ptr(),
            0,
            std::ptr::null(),
        )
        .into()
    }
}

impl Drop for TmpfsMount {
    fn drop(&mut self) {
        // SAFETY: NUL-terminated path; failing (already unmounted) is fine.
        unsafe { libc::umount2(self.0.as_ptr(), libc::MNT_DETACH) };
    }
}

fn umount(target: CString) -> impl FnOnce() -> libc::c_long {
    // SAFETY: NUL-terminated path.
    move || unsafe { libc::umount2(target.as_ptr(), 0) }.into()
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn umount_denied_for_non_root_uid_in_cgroup_only() {
    require_guest();
    let dir = TempDir::new();
    let cg = Cgroup::new();
    let policy_dir = TempDir::new();
    let policy = Policy::load_source(&policy_dir, "deny umount where uid != 0\n", Some(&cg));
    let mount = TmpfsMount::new(dir.path());
    assert_call_denied(
        call_as(Identity::RealUser(USER), Some(&cg), umount(mount.0.clone())),
        EPERM,
        "umount, real uid 1000 in the cgroup",
    );
    assert_call_ok(
        call_as(Identity::Root, Some(&cg), umount(mount.0.clone())),
        "umount, uid 0 in the cgroup",
    );
    let mount = TmpfsMount::new(dir.path());
    assert_call_ok(
        call_as(Identity::RealUser(USER), None, umount(mount.0.clone())),
        "umount, real uid 1000 outside the cgroup",
    );
    let mount = TmpfsMount::new(dir.path());
    policy.stop();
    assert_call_ok(
        call_as(Identity::RealUser(USER), Some(&cg), umount(mount.0.clone())),
        "umount, real uid 1000 in the cgroup, after unload",
    );
}

fn unshare_userns() -> libc::c_long {
    // SAFETY: plain syscall; the child exits right after.
    unsafe { libc::unshare(libc::CLONE_NEWUSER) }.into()
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn userns_creation_denied_for_non_root_uid_in_cgroup_only() {
    require_guest();
    let cg = Cgroup::new();
    assert_call_ok(
        call_as(Identity::RealUser(USER), Some(&cg), unshare_userns),
        "unshare(CLONE_NEWUSER), real uid 1000 in the cgroup, before load",
    );
    let policy_dir = TempDir::new();
    let policy = Policy::load_source(&policy_dir, "deny userns where uid != 0\n", Some(&cg));
    assert_call_denied(
        call_as(Identity::RealUser(USER), Some(&cg), unshare_userns),
        EPERM,
        "unshare(CLONE_NEWUSER), real uid 1000 in the cgroup",
    );
    assert_call_ok(
        call_as(Identity::Root, Some(&cg), unshare_userns),
        "unshare(CLONE_NEWUSER), uid 0 in the cgroup",
    );
    assert_call_ok(
        call_as(Identity::RealUser(USER), None, unshare_userns),
        "unshare(CLONE_NEWUSER), real uid 1000 outside the cgroup",
    );
    policy.stop();
    assert_call_ok(
        call_as(Identity::RealUser(USER), Some(&cg), unshare_userns),
        "unshare(CLONE_NEWUSER), real uid 1000 in the cgroup, after unload",
    );
}

/// `bpf_token` names `bpf_token_create`, a hook from Linux 6.9: on 6.1 the policy is refused
/// with E0301 before anything is loaded; on 6.12 it loads and attaches.
#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn bpf_token_event_needs_a_kernel_with_the_hook() {
    require_guest();
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: uts is a valid utsname to fill.
    assert_eq!(unsafe { libc::uname(&mut uts) }, 0);
    // SAFETY: uname NUL-terminates release.
    let release = unsafe { std::ffi::CStr::from_ptr(uts.release.as_ptr()) }
        .to_string_lossy()
        .into_owned();
    let has_hook = std::fs::read("/sys/kernel/btf/vmlinux")
        .unwrap()
        .windows(b"bpf_lsm_bpf_token_create\0".len())
        .any(|w| w == b"bpf_lsm_bpf_token_create\0");
    let (major, minor) = {
        let mut parts = release.split(['.', '-']);
        let major: u32 = parts.next().unwrap().parse().unwrap();
        let minor: u32 = parts.next().unwrap().parse().unwrap();
        (major, minor)
    };
    assert_eq!(
        has_hook,
        (major, minor) >= (6, 9),
        "bpf_token_create is in Linux 6.9 and later; this is {release}"
    );
    let policy_dir = TempDir::new();
    let source = "deny bpf_token where uid != 0\n";
    if has_hook {
        let policy = Policy::load_source(&policy_dir, source, None);
        policy.stop();
    } else {
        let file = policy_dir.write("policy.krsi", source, 0o644);
        let out = std::process::Command::new(krsic())
            .arg("check")
            .arg(&file)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(!out.status.success(), "check must fail on {release}");
        assert!(
            stderr.contains("E0301") || stdout.contains("E0301"),
            "expected E0301 on {release}:\n{stdout}\n{stderr}"
        );
        assert!(
            stderr.contains("bpf_token_create") || stdout.contains("bpf_token_create"),
            "the error names the hook:\n{stdout}\n{stderr}"
        );
    }
}

/// init_module of bytes that are not a module: the `kernel_load_data` hook, then the
/// kernel's own refusal.
fn load_garbage_from_memory() -> libc::c_long {
    static IMAGE: [u8; 4096] = [0x42; 4096];
    // SAFETY: IMAGE is readable for its length; the parameter string is NUL-terminated.
    unsafe {
        libc::syscall(
            libc::SYS_init_module,
            IMAGE.as_ptr(),
            IMAGE.len(),
            c"".as_ptr(),
        )
    }
}

/// finit_module of a file that is not a module: the `kernel_read_file` hook (id
/// READING_MODULE), then the kernel's own refusal.
fn load_garbage_from_file(fd: libc::c_int) -> impl FnOnce() -> libc::c_long {
    // SAFETY: fd is open for reading; the parameter string is NUL-terminated.
    move || unsafe { libc::syscall(libc::SYS_finit_module, fd, c"".as_ptr(), 0) }
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn kmod_load_from_file_and_memory_denied_for_non_root_uid_in_cgroup_only() {
    require_guest();
    let dir = TempDir::new();
    let garbage = dir.write("garbage.ko", vec![0x42u8; 4096], 0o644);
    let file = std::fs::File::open(&garbage).unwrap();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&file);
    let cg = Cgroup::new();
    // Real uid 1000 with euid 0 passes the CAP_SYS_MODULE check; the kernel then refuses
    // the contents with its own error.
    let who = Identity::RealUser(USER);
    let file_error = assert_call_fails_not_with(
        call_as(who, Some(&cg), load_garbage_from_file(fd)),
        EPERM,
        "finit_module, real uid 1000 in the cgroup, before load",
    );
    let memory_error = assert_call_fails_not_with(
        call_as(who, Some(&cg), load_garbage_from_memory),
        EPERM,
        "init_module, real uid 1000 in the cgroup, before load",
    );

    let policy_dir = TempDir::new();
    let policy = Policy::load_source(&policy_dir, "deny kmod_load where uid != 0\n", Some(&cg));
    assert_call_denied(
        call_as(who, Some(&cg), load_garbage_from_file(fd)),
        EPERM,
        "finit_module, real uid 1000 in the cgroup",
    );
    assert_call_denied(
        call_as(who, Some(&cg), load_garbage_from_memory),
        EPERM,
        "init_module, real uid 1000 in the cgroup",
    );
    assert_eq!(
        assert_call_fails_not_with(
            call_as(Identity::Root, Some(&cg), load_garbage_from_file(fd)),
            EPERM,
            "finit_module, uid 0 in the cgroup",
        ),
        file_error
    );
    assert_eq!(
        assert_call_fails_not_with(
            call_as(who, None, load_garbage_from_memory),
            EPERM,
            "init_module, real uid 1000 outside the cgroup",
        ),
        memory_error
    );
    policy.stop();
    assert_eq!(
        assert_call_fails_not_with(
            call_as(who, Some(&cg), load_garbage_from_file(fd)),
            EPERM,
            "finit_module, real uid 1000 in the cgroup, after unload",
        ),
        file_error
    );
}

/// A socket of a family no module has registered makes the kernel ask modprobe for
/// `net-pf-<family>` (`request_module` in `__sock_create`), from the calling process.
#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn kmod_request_is_reported_with_its_name() {
    require_guest();
    let cg = Cgroup::new();
    let policy_dir = TempDir::new();
    let policy = Policy::load_source(
        &policy_dir,
        "audit kmod_load where kind == request and name == \"net-pf-5\"\n",
        Some(&cg),
    );
    // AF_APPLETALK (5): a module on Debian, absent from the guest. The socket fails with
    // the kernel's own error whatever the request does.
    let appletalk = || {
        // SAFETY: plain syscall; a descriptor it might return is closed.
        let fd = unsafe { libc::socket(5, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        if fd >= 0 {
            // SAFETY: our descriptor.
            unsafe { libc::close(fd) };
        }
        libc::c_long::from(fd)
    };
    let _ = call_as(Identity::Root, Some(&cg), appletalk);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut lines = policy.events();
    while lines.is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
        lines = policy.events();
    }
    policy.stop();
    assert_eq!(lines.len(), 1, "one report: {lines:#?}");
    let report: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(report["event"], "kmod_load");
    assert_eq!(report["hook"], "kernel_module_request");
    assert_eq!(report["action"], "audit");
    assert_eq!(report["attributes"]["name"], "net-pf-5", "{report}");
}
