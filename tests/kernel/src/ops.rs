//! The system calls the kernel tests make a process do, each as a closure for [`call_as`]
//! (through [`crate::Op::call`]): made in the test process, run in a forked child. A closure
//! only makes async-signal-safe calls and does not allocate; it returns the call's raw result
//! (negative: failed, with `errno` set).
//!
//! Every operation lives here once, so that the event tests and the standard-policy tests
//! make the same call the same way.
//!
//! [`call_as`]: crate::call_as

use crate::{c_path, SockAddr};
use std::ffi::CString;
use std::path::Path;

/// Names the calling process `name` (what `comm` reads; at most 15 bytes and NUL-terminated),
/// then makes `call`.
pub fn named(
    name: &'static [u8],
    call: impl FnOnce() -> libc::c_long,
) -> impl FnOnce() -> libc::c_long {
    assert!(
        name.len() <= 16 && name.last() == Some(&0),
        "a comm: {name:?}"
    );
    move || {
        // SAFETY: name is NUL-terminated; prctl(PR_SET_NAME) reads at most 16 bytes.
        unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr()) };
        call()
    }
}

/// The caller forks a child named `name` that makes `call` and exits with its outcome, and
/// waits for it: `call`'s 0, or -1 with its errno (ECHILD when the child died otherwise). What
/// `call` starts then has the caller as its grandparent: `ancestor.comm` reads both names.
pub fn in_child_named(
    name: &'static [u8],
    call: impl FnOnce() -> libc::c_long,
) -> impl FnOnce() -> libc::c_long {
    let call = named(name, call);
    move || {
        // SAFETY: the child makes `call` (fork, execve, waitpid) and _exits; the parent waits.
        unsafe {
            let pid = libc::fork();
            if pid < 0 {
                return -1;
            }
            if pid == 0 {
                let code = if call() == 0 {
                    0
                } else {
                    // Exit statuses above 200 carry the errno back.
                    200 + *libc::__errno_location()
                };
                libc::_exit(code);
            }
            let mut status = 0;
            libc::waitpid(pid, &mut status, 0);
            match libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)) {
                Some(0) => 0,
                Some(c) if c > 200 && c < 255 => {
                    *libc::__errno_location() = c - 200;
                    -1
                }
                _ => {
                    *libc::__errno_location() = libc::ECHILD;
                    -1
                }
            }
        }
    }
}

// ------------------------------------------------------------------------ files

/// open(path, flags), closed again.
pub fn open(path: &Path, flags: libc::c_int) -> impl FnOnce() -> libc::c_long {
    let path = c_path(path);
    // SAFETY: path is NUL-terminated; the descriptor is closed right away.
    move || unsafe {
        let fd = libc::open(path.as_ptr(), flags | libc::O_CLOEXEC, 0o644);
        if fd < 0 {
            return -1;
        }
        libc::close(fd);
        0
    }
}

pub fn unlink(path: &Path) -> impl FnOnce() -> libc::c_long {
    let path = c_path(path);
    // SAFETY: path is NUL-terminated.
    move || unsafe { libc::unlink(path.as_ptr()) }.into()
}

pub fn chmod(path: &Path, mode: libc::mode_t) -> impl FnOnce() -> libc::c_long {
    let path = c_path(path);
    // SAFETY: path is NUL-terminated.
    move || unsafe { libc::chmod(path.as_ptr(), mode) }.into()
}

pub fn truncate(path: &Path) -> impl FnOnce() -> libc::c_long {
    let path = c_path(path);
    // SAFETY: path is NUL-terminated.
    move || unsafe { libc::truncate(path.as_ptr(), 0) }.into()
}

// -------------------------------------------------------------------- processes

pub fn kill(pid: libc::pid_t, sig: libc::c_int) -> impl FnOnce() -> libc::c_long {
    // SAFETY: kill has no memory preconditions.
    move || unsafe { libc::kill(pid, sig) }.into()
}

/// PTRACE_SEIZE of `pid`: it does not stop the tracee, and the tracer's exit detaches it.
pub fn seize(pid: libc::pid_t) -> impl FnOnce() -> libc::c_long {
    // SAFETY: ptrace with null addr/data for PTRACE_SEIZE.
    move || unsafe {
        libc::ptrace(
            libc::PTRACE_SEIZE,
            pid,
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_void>(),
        )
    }
}

/// The caller forks a child that asks to be traced by it (PTRACE_TRACEME) and exits with the
/// call's errno; the caller waits for it and returns 0, or -1 with that errno. The caller is
/// the tracer, so its `comm` is what the hook's `tracer.comm` reads.
pub fn traceme_in_child() -> libc::c_long {
    // SAFETY: fork, ptrace, waitpid and _exit are async-signal-safe; the child only calls
    // ptrace and _exit.
    unsafe {
        let child = libc::fork();
        if child == 0 {
            let r = libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0);
            libc::_exit(if r == 0 { 0 } else { *libc::__errno_location() });
        }
        if child < 0 {
            return -1;
        }
        let mut status = 0;
        if libc::waitpid(child, &mut status, 0) != child || !libc::WIFEXITED(status) {
            *libc::__errno_location() = libc::ECHILD;
            return -1;
        }
        match libc::WEXITSTATUS(status) {
            0 => 0,
            errno => {
                *libc::__errno_location() = errno;
                -1
            }
        }
    }
}

/// setresuid(r, -1, -1). One that changes nothing returns 0 without calling the LSM hook.
pub fn setresuid(r: u32) -> impl FnOnce() -> libc::c_long {
    // SAFETY: plain syscall; u32::MAX (-1) leaves an id unchanged.
    move || unsafe { libc::setresuid(r, u32::MAX, u32::MAX) }.into()
}

/// setresgid(r, -1, -1). One that changes nothing returns 0 without calling the LSM hook.
pub fn setresgid(r: u32) -> impl FnOnce() -> libc::c_long {
    // SAFETY: plain syscall; u32::MAX (-1) leaves an id unchanged.
    move || unsafe { libc::setresgid(r, u32::MAX, u32::MAX) }.into()
}

/// The caller forks a child that executes `path` with `argv`, and waits for it: 0 when it ran
/// and exited 0; -1 with the child's exec errno when the exec was refused; -1 with ECHILD when
/// it ran and failed. The caller's `comm` is then what the new program's `parent.comm` reads.
pub fn spawn(path: &Path, argv: &[&str]) -> impl FnOnce() -> libc::c_long {
    let path = c_path(path);
    let args: Vec<CString> = argv.iter().map(|a| CString::new(*a).unwrap()).collect();
    move || {
        let mut pointers: [*const libc::c_char; 8] = [std::ptr::null(); 8];
        for (slot, arg) in pointers.iter_mut().zip(args.iter().take(7)) {
            *slot = arg.as_ptr();
        }
        let env: [*const libc::c_char; 1] = [std::ptr::null()];
        // SAFETY: the grandchild only calls execve and _exit; the strings outlive both.
        unsafe {
            let pid = libc::fork();
            if pid < 0 {
                return -1;
            }
            if pid == 0 {
                libc::execve(path.as_ptr(), pointers.as_ptr(), env.as_ptr());
                // Exit statuses above 200 carry a refused exec's errno back.
                libc::_exit(200 + *libc::__errno_location());
            }
            let mut status = 0;
            libc::waitpid(pid, &mut status, 0);
            let code = if libc::WIFEXITED(status) {
                libc::WEXITSTATUS(status)
            } else {
                255
            };
            match code {
                0 => 0,
                c if c > 200 && c < 255 => {
                    *libc::__errno_location() = c - 200;
                    -1
                }
                _ => {
                    *libc::__errno_location() = libc::ECHILD;
                    -1
                }
            }
        }
    }
}

// ---------------------------------------------------------------------- system

/// bpf(BPF_PROG_LOAD) of the smallest socket filter (`r0 = 0; exit`), closed again.
pub fn load_trivial_program() -> libc::c_long {
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
pub fn create_map() -> libc::c_long {
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

/// mount(source, target, fstype, 0, NULL), unmounted again when it worked; the mount's result.
pub fn mount_fs(
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

pub fn unshare_userns() -> libc::c_long {
    // SAFETY: plain syscall; the child exits right after.
    unsafe { libc::unshare(libc::CLONE_NEWUSER) }.into()
}

/// init_module of bytes that are not a module: the `kernel_load_data` hook, then the
/// kernel's own refusal.
pub fn load_garbage_from_memory() -> libc::c_long {
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

/// finit_module of a file that is not a module: CAP_SYS_MODULE is checked first (EPERM
/// without it), then the `kernel_read_file` hook (id READING_MODULE), then the kernel's own
/// refusal of the contents.
pub fn load_garbage_from_file(fd: libc::c_int) -> impl FnOnce() -> libc::c_long {
    // SAFETY: fd is open for reading; the parameter string is NUL-terminated.
    move || unsafe { libc::syscall(libc::SYS_finit_module, fd, c"".as_ptr(), 0) }
}

// --------------------------------------------------------------------- network

/// socket(family, type, protocol), closed again.
pub fn open_socket(
    family: libc::c_int,
    kind: libc::c_int,
    protocol: libc::c_int,
) -> impl FnOnce() -> libc::c_long {
    // SAFETY: plain syscalls on a descriptor this closure owns.
    move || unsafe {
        let fd = libc::socket(family, kind | libc::SOCK_CLOEXEC, protocol);
        if fd < 0 {
            return -1;
        }
        libc::close(fd);
        0
    }
}

/// A non-blocking TCP connect to `to`: 0 on loopback (connected or in progress), the kernel's
/// error (ENETUNREACH) where the guest has no route.
pub fn connect_to(to: SockAddr) -> impl FnOnce() -> libc::c_long {
    // SAFETY: plain syscalls; `to` lives in the closure.
    move || unsafe {
        let fd = libc::socket(
            to.family(),
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        );
        if fd < 0 {
            return -1;
        }
        let (addr, len) = to.raw();
        let r = libc::connect(fd, addr, len);
        let errno = *libc::__errno_location();
        libc::close(fd);
        if r < 0 && errno != libc::EINPROGRESS {
            *libc::__errno_location() = errno;
            return -1;
        }
        0
    }
}

/// A TCP socket of the test process listening on `at` until dropped.
pub struct Listener(libc::c_int);

impl Listener {
    pub fn new(at: SockAddr) -> Listener {
        // SAFETY: plain syscalls on a fresh descriptor.
        unsafe {
            let fd = libc::socket(at.family(), libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
            assert!(fd >= 0);
            let one: libc::c_int = 1;
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_REUSEADDR,
                (&one as *const libc::c_int).cast(),
                4,
            );
            let (addr, len) = at.raw();
            assert_eq!(libc::bind(fd, addr, len), 0, "bind the test's listener");
            assert_eq!(libc::listen(fd, 16), 0, "listen");
            Listener(fd)
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        // SAFETY: our descriptor.
        unsafe { libc::close(self.0) };
    }
}
