//! System events: `bpf`, `mount`, `umount`, `userns`, and `bpf_token`, whose hook only newer
//! kernels have. A process in the policy's cgroup doing the operation fails with the rule's
//! errno; the same operation succeeds outside the cgroup, for a process or an operation the
//! rule does not cover, and after unload.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use kernel_tests::ops::{
    create_map, load_garbage_from_file, load_garbage_from_memory, load_trivial_program, mount_fs,
    unshare_userns,
};
use kernel_tests::Expect::{Allowed, Denied, KernelRefuses};
use kernel_tests::Identity::{RealUser, Root};
use kernel_tests::Phase::{Before, Loaded, Unloaded};
use kernel_tests::Place::{InCgroup, TestCgroup};
use kernel_tests::{
    assert_call_ok, c_path, call_as, krsic, require_guest, Cgroup, Op, Scenario, TempDir, USER,
};
use libc::{EACCES, EPERM};
use std::ffi::CString;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn bpf_prog_load_denied_for_non_root_uid_in_cgroup_only() {
    let prog_load = Op::call("prog_load", || load_trivial_program);
    let map_create = Op::call("map_create", || create_map);
    let user = RealUser(USER);
    Scenario::for_cgroup("deny bpf where cmd == prog_load and uid != 0\n")
        .row(Before, user, InCgroup, &prog_load, Allowed)
        .denies(user, &prog_load, EPERM)
        .row(Loaded, user, InCgroup, &map_create, Allowed)
        .row(Loaded, Root, InCgroup, &prog_load, Allowed)
        .run();
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn mount_proc_denied_for_non_root_uid_in_cgroup_only() {
    let dir = TempDir::new();
    let target = c_path(dir.path());
    let proc_mount = Op::call("mount proc", || mount_fs("proc", target.clone(), "proc"));
    let tmpfs_mount = Op::call("mount tmpfs", || mount_fs("tmp", target.clone(), "tmpfs"));
    let user = RealUser(USER);
    Scenario::for_cgroup("deny mount where fstype == \"proc\" and uid != 0\n")
        .row(Before, user, InCgroup, &proc_mount, Allowed)
        .denies(user, &proc_mount, EPERM)
        .row(Loaded, user, InCgroup, &tmpfs_mount, Allowed)
        .row(Loaded, Root, InCgroup, &proc_mount, Allowed)
        .run();
}

/// Detaches whatever is still mounted on the directory when dropped.
struct Unmount(CString);

impl Drop for Unmount {
    fn drop(&mut self) {
        // SAFETY: NUL-terminated path; failing (nothing mounted) is fine.
        unsafe { libc::umount2(self.0.as_ptr(), libc::MNT_DETACH) };
    }
}

/// Whether something is mounted on `dir` (it is on another device than its parent).
fn is_mount_point(dir: &Path) -> bool {
    let dev = |p: &Path| std::fs::metadata(p).unwrap().dev();
    dev(dir) != dev(dir.parent().unwrap())
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

fn umount(target: CString) -> impl FnOnce() -> libc::c_long {
    // SAFETY: NUL-terminated path.
    move || unsafe { libc::umount2(target.as_ptr(), 0) }.into()
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn umount_denied_for_non_root_uid_in_cgroup_only() {
    let dir = TempDir::new();
    let target = c_path(dir.path());
    let _unmount = Unmount(target.clone());
    // Each attempt finds a tmpfs mounted, by the test: the one a denied umount left, or a
    // fresh one.
    let umount_tmpfs = Op::call("umount", || {
        if !is_mount_point(dir.path()) {
            assert_call_ok(
                call_as(Root, None, mount_kept(target.clone())),
                "mount a tmpfs for the test",
            );
        }
        umount(target.clone())
    });
    Scenario::for_cgroup("deny umount where uid != 0\n")
        .denies(RealUser(USER), &umount_tmpfs, EPERM)
        .row(Loaded, Root, InCgroup, &umount_tmpfs, Allowed)
        .run();
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn userns_creation_denied_for_non_root_uid_in_cgroup_only() {
    let userns = Op::call("unshare(CLONE_NEWUSER)", || unshare_userns);
    let user = RealUser(USER);
    Scenario::for_cgroup("deny userns where uid != 0\n")
        .row(Before, user, InCgroup, &userns, Allowed)
        .denies(user, &userns, EPERM)
        .row(Loaded, Root, InCgroup, &userns, Allowed)
        .run();
}

/// `bpf_token` names `bpf_token_create`, a hook from Linux 6.9: on 6.1 the policy is refused
/// with E0301 before anything is loaded; on 6.12 a token made in the cgroup is refused with
/// the rule's errno, and one made outside it, or before load or after unload, is created.
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
    let source = "deny bpf_token where uid != 0\n";
    if has_hook {
        // The creator is root inside its user namespace and root outside it (uid 0): the
        // rule that applies to it names no uid.
        let token = Op::custom("BPF_TOKEN_CREATE", |_, cgroup| {
            create_token(cgroup)
                .map(|()| 0)
                .map_err(std::io::Error::from_raw_os_error)
        });
        Scenario::for_cgroup("deny bpf_token errno EACCES\n")
            .row(Before, Root, InCgroup, &token, Allowed)
            .denies(Root, &token, EACCES)
            .run();
        // The rule with a uid loads too.
        Scenario::global(source).run();
    } else {
        let policy_dir = TempDir::new();
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

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn kmod_load_from_file_and_memory_denied_for_non_root_uid_in_cgroup_only() {
    let dir = TempDir::new();
    let garbage = dir.write("garbage.ko", vec![0x42u8; 4096], 0o644);
    let file = std::fs::File::open(&garbage).unwrap();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&file);
    let from_file = Op::call("finit_module", || load_garbage_from_file(fd));
    let from_memory = Op::call("init_module", || load_garbage_from_memory);
    // Real uid 1000 with euid 0 passes the CAP_SYS_MODULE check; unless the rule refuses, the
    // kernel then refuses the contents with its own error.
    let contents_refused = KernelRefuses { not: EPERM };
    let user = RealUser(USER);
    Scenario::for_cgroup("deny kmod_load where uid != 0\n")
        .row(Before, user, InCgroup, &from_file, contents_refused)
        .row(Before, user, InCgroup, &from_memory, contents_refused)
        .row(Loaded, user, InCgroup, &from_file, Denied(EPERM))
        .row(Loaded, user, InCgroup, &from_memory, Denied(EPERM))
        .row(Loaded, Root, InCgroup, &from_file, contents_refused)
        .row(Loaded, user, TestCgroup, &from_memory, contents_refused)
        .row(Unloaded, user, InCgroup, &from_file, contents_refused)
        .run();
}

/// A socket of a family no module has registered makes the kernel ask modprobe for
/// `net-pf-<family>` (`request_module` in `__sock_create`), from the calling process.
#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn kmod_request_is_reported_with_its_name() {
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
    let lines =
        Scenario::for_cgroup("audit kmod_load where kind == request and name == \"net-pf-5\"\n")
            .step(Loaded, |steps| {
                let _ = call_as(Root, Some(steps.cgroup()), appletalk);
            })
            .wait_for_reports(1)
            .run();
    assert_eq!(lines.len(), 1, "one report: {lines:#?}");
    let report: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(report["event"], "kmod_load");
    assert_eq!(report["hook"], "kernel_module_request");
    assert_eq!(report["action"], "audit");
    assert_eq!(report["attributes"]["name"], "net-pf-5", "{report}");
}

/// Creates a BPF token the way the kernel allows one (kernel/bpf/token.c): only in a user
/// namespace other than the initial one, from a BPF file system that namespace owns and that
/// root of the initial namespace has set up to delegate (`delegate_cmds`). A forked child
/// joins `cgroup`, enters a new user and mount namespace (mapping its root to root), opens a
/// bpffs context with fsopen and hands its number over; the parent, still root outside, takes
/// a copy with pidfd_getfd, sets `delegate_cmds=any` and creates the superblock; the child
/// mounts it with fsmount and calls BPF_TOKEN_CREATE on its root. `Ok(())` when the token
/// was created, `Err(errno)` of the step that failed otherwise.
fn create_token(cgroup: Option<&Cgroup>) -> Result<(), i32> {
    const FSCONFIG_SET_STRING: libc::c_uint = 1;
    const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
    const BPF_TOKEN_CREATE: libc::c_long = 36;
    let procs = cgroup.map(|cg| kernel_tests::c_path(&cg.path().join("cgroup.procs")));
    let (to_parent, to_child) = (pipe(), pipe());
    // SAFETY: the child makes only async-signal-safe system calls on data prepared here and
    // leaves with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        // SAFETY: system calls on buffers that live until _exit.
        unsafe {
            let say = |value: i64| {
                libc::write(to_parent[1], (&value as *const i64).cast(), 8);
            };
            let fail = |step: i64| -> ! {
                let errno = *libc::__errno_location();
                say(-(step * 1000 + i64::from(errno)));
                libc::_exit(0)
            };
            let write_file = |path: &[u8], text: &[u8]| {
                let fd = libc::open(path.as_ptr().cast(), libc::O_WRONLY | libc::O_CLOEXEC);
                fd >= 0 && libc::write(fd, text.as_ptr().cast(), text.len()) == text.len() as isize
            };
            if let Some(procs) = &procs {
                if !write_file(procs.as_bytes_with_nul(), b"0") {
                    fail(1);
                }
            }
            if libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNS) != 0 {
                fail(2);
            }
            if !write_file(b"/proc/self/setgroups\0", b"deny")
                || !write_file(b"/proc/self/uid_map\0", b"0 0 1")
                || !write_file(b"/proc/self/gid_map\0", b"0 0 1")
            {
                fail(3);
            }
            let fs = libc::syscall(libc::SYS_fsopen, c"bpf".as_ptr(), 0);
            if fs < 0 {
                fail(4);
            }
            say(fs);
            let mut go = 0i64;
            libc::read(to_child[0], (&mut go as *mut i64).cast(), 8);
            if go != 1 {
                libc::_exit(0);
            }
            let mnt = libc::syscall(libc::SYS_fsmount, fs as libc::c_int, 0, 0);
            if mnt < 0 {
                fail(5);
            }
            // fsmount gives an O_PATH descriptor, which BPF_TOKEN_CREATE's fdget refuses
            // (EBADF): open the file system's root through it.
            let root = libc::openat(
                mnt as libc::c_int,
                c".".as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            );
            if root < 0 {
                fail(5);
            }
            // union bpf_attr.token_create: u32 flags, u32 bpffs_fd.
            let mut attr = [0u32; 2];
            attr[1] = root as u32;
            let token = libc::syscall(libc::SYS_bpf, BPF_TOKEN_CREATE, attr.as_ptr(), 8u32);
            if token < 0 {
                fail(6);
            }
            say(0);
            libc::_exit(0);
        }
    }
    let read = |fd: libc::c_int| {
        let mut value = i64::MIN;
        // SAFETY: reads 8 bytes into value.
        unsafe { libc::read(fd, (&mut value as *mut i64).cast(), 8) };
        value
    };
    let result = (|| {
        let fs = read(to_parent[0]);
        if fs < 0 {
            return Err(fs);
        }
        // SAFETY: system calls on this process's own descriptors and constant strings.
        unsafe {
            let pidfd = libc::syscall(libc::SYS_pidfd_open, pid, 0);
            assert!(
                pidfd >= 0,
                "pidfd_open: {}",
                std::io::Error::last_os_error()
            );
            let ours = libc::syscall(libc::SYS_pidfd_getfd, pidfd as libc::c_int, fs, 0);
            assert!(
                ours >= 0,
                "pidfd_getfd: {}",
                std::io::Error::last_os_error()
            );
            let delegate = libc::syscall(
                libc::SYS_fsconfig,
                ours as libc::c_int,
                FSCONFIG_SET_STRING,
                c"delegate_cmds".as_ptr(),
                c"any".as_ptr(),
                0,
            );
            assert_eq!(
                delegate,
                0,
                "fsconfig delegate_cmds: {}",
                std::io::Error::last_os_error()
            );
            let create = libc::syscall(
                libc::SYS_fsconfig,
                ours as libc::c_int,
                FSCONFIG_CMD_CREATE,
                std::ptr::null::<libc::c_char>(),
                std::ptr::null::<libc::c_char>(),
                0,
            );
            assert_eq!(
                create,
                0,
                "fsconfig create: {}",
                std::io::Error::last_os_error()
            );
            libc::close(ours as libc::c_int);
            libc::close(pidfd as libc::c_int);
            let go = 1i64;
            libc::write(to_child[1], (&go as *const i64).cast(), 8);
        }
        match read(to_parent[0]) {
            0 => Ok(()),
            failed => Err(failed),
        }
    })();
    // SAFETY: ends the child if it is still waiting (a failed assertion above), then reaps
    // it; closes our pipe ends.
    unsafe {
        let go = 0i64;
        libc::write(to_child[1], (&go as *const i64).cast(), 8);
        libc::waitpid(pid, std::ptr::null_mut(), 0);
        for fd in to_parent.iter().chain(&to_child) {
            libc::close(*fd);
        }
    }
    result.map_err(|code| {
        let (step, errno) = ((-code) / 1000, ((-code) % 1000) as i32);
        // Only the token's own creation may be refused; a failing setup is a broken test.
        assert_eq!(
            step, 6,
            "step {step} of creating a token failed with errno {errno}"
        );
        errno
    })
}

fn pipe() -> [libc::c_int; 2] {
    let mut fds = [0; 2];
    // SAFETY: fds has room for two descriptors.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    fds
}
