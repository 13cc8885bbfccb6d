//! What the operation itself is: open(2) flags, a socket's protocol and type, shared
//! mappings, the kind of ptrace access, PTRACE_TRACEME, prctl(2) options, extended
//! attributes, pivot_root(2) and move_mount(2). Each rule refuses one form of the operation
//! with its errno and lets the form it does not name through, in the same cgroup.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use kernel_tests::Expect::{Allowed, Denied, KernelRefuses};
use kernel_tests::Identity::{Root, User};
use kernel_tests::Phase::{Loaded, Unloaded};
use kernel_tests::Place::{InCgroup, TestCgroup};
use kernel_tests::{c_path, loopback_up, set_mode, Op, Scenario, SockAddr, TempDir, USER};
use libc::{c_int, c_long, EACCES, EPERM};
use std::ffi::CString;
use std::path::Path;

/// open(path, flags, 0o666), closed again.
fn open_with(name: &str, path: &Path, flags: c_int) -> Op<'static> {
    let path = c_path(path);
    Op::call(name, move || {
        let path = path.clone();
        // SAFETY: a NUL-terminated path; the descriptor is ours to close.
        move || unsafe {
            let fd = libc::open(path.as_ptr(), flags | libc::O_CLOEXEC, 0o666);
            if fd < 0 {
                return -1;
            }
            libc::close(fd);
            0
        }
    })
}

/// A file uid 1000 may write, holding `data`.
fn writable_file(path: &Path) {
    std::fs::write(path, "data").unwrap();
    set_mode(path, 0o666);
}

/// The example: a log file may be appended to, never emptied. O_TRUNC, O_CREAT and
/// O_EXCL are cleared from `f_flags` only after `security_file_open` (fs/open.c,
/// do_dentry_open), so the rule sees them on both kernels.
#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn open_with_truncate_is_refused_and_a_plain_open_is_not() {
    let logs = Path::new("/var/log/krsi-operations");
    std::fs::create_dir_all(logs).unwrap();
    set_mode(logs, 0o777);
    let log = logs.join("app.log");
    writable_file(&log);
    let truncating = open_with(
        "open O_WRONLY|O_TRUNC",
        &log,
        libc::O_WRONLY | libc::O_TRUNC,
    );
    let appending = open_with(
        "open O_WRONLY|O_APPEND",
        &log,
        libc::O_WRONLY | libc::O_APPEND,
    );
    let plain = open_with("open O_WRONLY", &log, libc::O_WRONLY);
    let user = User(USER);
    let reset_log = log.clone();
    Scenario::for_cgroup("deny open where path ~ \"/var/log/**\" and truncate\n")
        .reset(move || {
            assert_eq!(
                std::fs::read_to_string(&reset_log).unwrap_or_default(),
                "data",
                "a refused O_TRUNC open left the log whole"
            );
        })
        .row(Loaded, user, InCgroup, &truncating, Denied(EPERM))
        .row(Loaded, user, InCgroup, &appending, Allowed)
        .row(Loaded, user, InCgroup, &plain, Allowed)
        .row(Loaded, user, TestCgroup, &truncating, Allowed)
        .step(Loaded, |_| {
            assert_eq!(
                std::fs::read_to_string(&log).unwrap(),
                "",
                "O_TRUNC emptied it"
            );
            writable_file(&log);
        })
        .row(Unloaded, user, InCgroup, &plain, Allowed)
        .run();
    std::fs::remove_dir_all(logs).unwrap();
}

/// Every flag attribute of `open`, one file each, so a flag the hook did not see would let
/// its row through.
#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn every_open_flag_is_seen_by_the_hook() {
    let dir = TempDir::new();
    set_mode(dir.path(), 0o777);
    let file = |name: &str| dir.join(name);
    for name in ["create", "append", "nofollow", "truncate"] {
        writable_file(&file(name));
    }
    std::fs::create_dir(file("directory")).unwrap();
    let exclusive = file("exclusive");
    let source = format!(
        "deny open where path == \"{d}/create\" and create errno EACCES\n\
         deny open where path == \"{d}/exclusive\" and exclusive errno EACCES\n\
         deny open where path == \"{d}/append\" and append errno EACCES\n\
         deny open where path == \"{d}/directory\" and directory errno EACCES\n\
         deny open where path == \"{d}/nofollow\" and nofollow errno EACCES\n\
         deny open where path == \"{d}/truncate\" and truncate errno EACCES\n",
        d = dir.path().display()
    );
    use libc::{O_APPEND, O_CREAT, O_DIRECTORY, O_EXCL, O_NOFOLLOW, O_RDONLY, O_TRUNC, O_WRONLY};
    let ops = [
        (
            open_with("O_CREAT", &file("create"), O_WRONLY | O_CREAT),
            true,
        ),
        (open_with("no O_CREAT", &file("create"), O_WRONLY), false),
        (
            open_with("O_CREAT|O_EXCL", &exclusive, O_WRONLY | O_CREAT | O_EXCL),
            true,
        ),
        (
            open_with("O_APPEND", &file("append"), O_WRONLY | O_APPEND),
            true,
        ),
        (open_with("no O_APPEND", &file("append"), O_WRONLY), false),
        (
            open_with("O_DIRECTORY", &file("directory"), O_RDONLY | O_DIRECTORY),
            true,
        ),
        (
            open_with("no O_DIRECTORY", &file("directory"), O_RDONLY),
            false,
        ),
        (
            open_with("O_NOFOLLOW", &file("nofollow"), O_RDONLY | O_NOFOLLOW),
            true,
        ),
        (
            open_with("no O_NOFOLLOW", &file("nofollow"), O_RDONLY),
            false,
        ),
        (
            open_with("O_TRUNC", &file("truncate"), O_WRONLY | O_TRUNC),
            true,
        ),
        (open_with("no O_TRUNC", &file("truncate"), O_WRONLY), false),
    ];
    let user = User(USER);
    let mut scenario = Scenario::for_cgroup(source).reset(move || {
        // O_EXCL opens only a file it creates.
        let _ = std::fs::remove_file(&exclusive);
    });
    for (op, refused) in &ops {
        let expect = if *refused { Denied(EACCES) } else { Allowed };
        scenario = scenario.row(Loaded, user, InCgroup, op, expect);
    }
    for (op, _) in &ops {
        scenario = scenario.row(Unloaded, user, InCgroup, op, Allowed);
    }
    scenario.run();
}

/// socket(family, kind), then connect (or bind) to `to`, closed again.
fn socket_call(kind: c_int, to: SockAddr, bind: bool, listen: bool) -> impl FnOnce() -> c_long {
    // SAFETY: plain syscalls on a descriptor this closure owns; `to` lives in the closure.
    move || unsafe {
        let fd = libc::socket(to.family(), kind | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return -1;
        }
        let (addr, len) = to.raw();
        let mut r = if bind {
            libc::bind(fd, addr, len)
        } else {
            libc::connect(fd, addr, len)
        };
        if r == 0 && listen {
            r = libc::listen(fd, 1);
        }
        let errno = *libc::__errno_location();
        libc::close(fd);
        *libc::__errno_location() = errno;
        r.into()
    }
}

/// The example: TCP to port 4444 is refused, UDP to the same port is not. `type`
/// and `protocol` on `bind` and `listen` too.
#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn protocol_and_type_decide_connect_bind_and_listen() {
    loopback_up();
    // Something to connect to, so an allowed TCP connect succeeds.
    let server = std::net::TcpListener::bind("127.0.0.1:4444").unwrap();
    let to = SockAddr::v4([127, 0, 0, 1], 4444);
    let tcp = Op::call("tcp connect to 4444", move || {
        socket_call(libc::SOCK_STREAM, to, false, false)
    });
    let udp = Op::call("udp connect to 4444", move || {
        socket_call(libc::SOCK_DGRAM, to, false, false)
    });
    let local = SockAddr::v4([127, 0, 0, 1], 4445);
    let udp_bind = Op::call("udp bind to 4445", move || {
        socket_call(libc::SOCK_DGRAM, local, true, false)
    });
    let tcp_bind = Op::call("tcp bind to 4445", move || {
        socket_call(libc::SOCK_STREAM, local, true, false)
    });
    let listening = SockAddr::v4([127, 0, 0, 1], 4446);
    let tcp_listen = Op::call("tcp listen on 4446", move || {
        socket_call(libc::SOCK_STREAM, listening, true, true)
    });
    let other_listen = Op::call("tcp listen on 4447", move || {
        socket_call(
            libc::SOCK_STREAM,
            SockAddr::v4([127, 0, 0, 1], 4447),
            true,
            true,
        )
    });
    let user = User(USER);
    Scenario::for_cgroup(
        "deny connect where protocol == tcp and port == 4444\n\
         deny bind where type == dgram and protocol == udp and port == 4445\n\
         deny listen where protocol == tcp and type == stream and port == 4446\n",
    )
    .denies(user, &tcp, EPERM)
    .row(Loaded, user, InCgroup, &udp, Allowed)
    .denies(user, &udp_bind, EPERM)
    .row(Loaded, user, InCgroup, &tcp_bind, Allowed)
    .denies(user, &tcp_listen, EPERM)
    .row(Loaded, user, InCgroup, &other_listen, Allowed)
    .run();
    drop(server);
}

/// mmap(2) of `path` with `flags`, then (when `protect` is given) mprotect(2) of the mapping.
fn map_call(
    path: &Path,
    flags: c_int,
    protect: Option<c_int>,
) -> impl Fn() -> Box<dyn FnOnce() -> c_long> {
    let path: CString = c_path(path);
    move || {
        let path = path.clone();
        // SAFETY: a NUL-terminated path; the mapping and descriptor are ours to release.
        Box::new(move || unsafe {
            let fd = libc::open(path.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC);
            if fd < 0 {
                return -1;
            }
            let prot = if protect.is_some() {
                libc::PROT_READ
            } else {
                libc::PROT_READ | libc::PROT_WRITE
            };
            let at = libc::mmap(std::ptr::null_mut(), 4096, prot, flags, fd, 0);
            let errno = *libc::__errno_location();
            libc::close(fd);
            if at == libc::MAP_FAILED {
                *libc::__errno_location() = errno;
                return -1;
            }
            let r = match protect {
                Some(prot) => libc::mprotect(at, 4096, prot),
                None => 0,
            };
            let errno = *libc::__errno_location();
            libc::munmap(at, 4096);
            *libc::__errno_location() = errno;
            r.into()
        })
    }
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn shared_mappings_are_told_from_private_ones() {
    let dir = TempDir::new();
    set_mode(dir.path(), 0o777);
    let mapped = dir.join("mapped");
    let protected = dir.join("protected");
    for file in [&mapped, &protected] {
        std::fs::write(file, vec![0u8; 4096]).unwrap();
        set_mode(file, 0o666);
    }
    let source = format!(
        "deny mmap where path == \"{}\" and shared and write\n\
         deny mprotect where path == \"{}\" and shared and write\n",
        mapped.display(),
        protected.display()
    );
    let shared = Op::call(
        "mmap MAP_SHARED writable",
        map_call(&mapped, libc::MAP_SHARED, None),
    );
    let private = Op::call(
        "mmap MAP_PRIVATE writable",
        map_call(&mapped, libc::MAP_PRIVATE, None),
    );
    let write = libc::PROT_READ | libc::PROT_WRITE;
    let shared_protect = Op::call(
        "mprotect of a shared mapping to writable",
        map_call(&protected, libc::MAP_SHARED, Some(write)),
    );
    let private_protect = Op::call(
        "mprotect of a private mapping to writable",
        map_call(&protected, libc::MAP_PRIVATE, Some(write)),
    );
    let user = User(USER);
    Scenario::for_cgroup(source)
        .denies(user, &shared, EPERM)
        .row(Loaded, user, InCgroup, &private, Allowed)
        .denies(user, &shared_protect, EPERM)
        .row(Loaded, user, InCgroup, &private_protect, Allowed)
        .run();
}

/// A child that waits to be killed; then `trace` on it from the calling process.
fn with_child(trace: fn(libc::pid_t) -> c_long) -> impl FnOnce() -> c_long {
    // SAFETY: prctl, fork, pause, kill and waitpid are async-signal-safe; the child never
    // returns.
    move || unsafe {
        // Dropping root's ids made the process non-dumpable, which the kernel's own ptrace
        // check refuses before the LSM hook; a plain user's process is dumpable.
        if libc::prctl(libc::PR_SET_DUMPABLE, 1, 0, 0, 0) != 0 {
            return -1;
        }
        let child = libc::fork();
        if child == 0 {
            loop {
                libc::pause();
            }
        }
        if child < 0 {
            return -1;
        }
        let r = trace(child);
        let errno = *libc::__errno_location();
        libc::kill(child, libc::SIGKILL);
        libc::waitpid(child, std::ptr::null_mut(), 0);
        *libc::__errno_location() = errno;
        r
    }
}

fn ptrace_attach(child: libc::pid_t) -> c_long {
    // SAFETY: PTRACE_ATTACH on our own child.
    unsafe { libc::ptrace(libc::PTRACE_ATTACH, child, 0, 0) }
}

/// kcmp(2) asks for PTRACE_MODE_READ access to the child (and to itself, which is not
/// checked).
fn kcmp_with(child: libc::pid_t) -> c_long {
    const KCMP_VM: c_long = 1;
    // SAFETY: kcmp reads nothing of ours.
    unsafe { libc::syscall(libc::SYS_kcmp, libc::getpid(), child, KCMP_VM, 0, 0) }
}

/// `attach` is PTRACE_MODE_ATTACH (ptrace attach) and `inspect` PTRACE_MODE_READ (kcmp);
/// PTRACE_TRACEME goes through a hook of its own.
#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn ptrace_attach_and_traceme_are_refused_and_inspection_is_not() {
    let attach = Op::call("ptrace attach to a child", || with_child(ptrace_attach));
    let inspect = Op::call("kcmp with a child", || with_child(kcmp_with));
    let traceme = Op::call("ptrace traceme", || {
        // SAFETY: PTRACE_TRACEME makes the caller's parent its tracer; it never execs.
        || unsafe { libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0) }
    });
    let user = User(USER);
    Scenario::for_cgroup("deny ptrace where attach errno EACCES\ndeny traceme errno EACCES\n")
        .denies(user, &attach, EACCES)
        .row(Loaded, user, InCgroup, &inspect, Allowed)
        .denies(user, &traceme, EACCES)
        .run();
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn prctl_options_are_told_apart() {
    let set_name = Op::call("prctl PR_SET_NAME", || {
        // SAFETY: a NUL-terminated name in static memory.
        || unsafe { libc::prctl(libc::PR_SET_NAME, c"renamed".as_ptr(), 0, 0, 0) }.into()
    });
    let get_dumpable = Op::call("prctl PR_GET_DUMPABLE", || {
        // SAFETY: no pointer arguments.
        || unsafe { libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0) }.into()
    });
    let user = User(USER);
    Scenario::for_cgroup("deny prctl where option == PR_SET_NAME\n")
        .denies(user, &set_name, EPERM)
        .row(Loaded, user, InCgroup, &get_dumpable, Allowed)
        .run();
}

/// setxattr(2) or removexattr(2) of `name` on `path`, as root (trusted.* needs
/// CAP_SYS_ADMIN; tmpfs keeps trusted.* attributes on both kernels).
fn xattr_call(path: &Path, name: &str, remove: bool) -> impl Fn() -> Box<dyn FnOnce() -> c_long> {
    let path = c_path(path);
    let name = CString::new(name).unwrap();
    move || {
        let (path, name) = (path.clone(), name.clone());
        // SAFETY: NUL-terminated strings and a value of the length given.
        Box::new(move || unsafe {
            if remove {
                libc::removexattr(path.as_ptr(), name.as_ptr()).into()
            } else {
                libc::setxattr(path.as_ptr(), name.as_ptr(), c"v".as_ptr().cast(), 1, 0).into()
            }
        })
    }
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn extended_attributes_set_and_removed_by_name() {
    let dir = TempDir::new();
    let file = dir.join("labelled");
    std::fs::write(&file, "x").unwrap();
    let set_guarded = Op::call(
        "setxattr trusted.krsi",
        xattr_call(&file, "trusted.krsi", false),
    );
    let set_other = Op::call(
        "setxattr trusted.other",
        xattr_call(&file, "trusted.other", false),
    );
    let remove_guarded = Op::call(
        "removexattr trusted.krsi",
        xattr_call(&file, "trusted.krsi", true),
    );
    let remove_other = Op::call(
        "removexattr trusted.other",
        xattr_call(&file, "trusted.other", true),
    );
    let reset_file = file.clone();
    Scenario::for_cgroup(
        "deny setxattr where name == \"trusted.krsi\"\n\
         deny removexattr where name ~ \"trusted.k*\" errno EACCES\n",
    )
    .reset(move || {
        // Both attributes present before every row, so every removal has something to remove.
        for name in ["trusted.krsi", "trusted.other"] {
            let (path, name) = (c_path(&reset_file), CString::new(name).unwrap());
            // SAFETY: NUL-terminated strings and a value of the length given.
            let r =
                unsafe { libc::setxattr(path.as_ptr(), name.as_ptr(), c"v".as_ptr().cast(), 1, 0) };
            assert_eq!(r, 0, "setxattr in the test itself");
        }
    })
    .denies(Root, &set_guarded, EPERM)
    .row(Loaded, Root, InCgroup, &set_other, Allowed)
    .denies(Root, &remove_guarded, EACCES)
    .row(Loaded, Root, InCgroup, &remove_other, Allowed)
    .run();
}

/// In a mount namespace of its own: a tmpfs mounted at `from` is moved to `to` with
/// move_mount(2).
fn move_call(from: &Path, to: &Path) -> impl Fn() -> Box<dyn FnOnce() -> c_long> {
    let (from, to) = (c_path(from), c_path(to));
    move || {
        let (from, to) = (from.clone(), to.clone());
        // SAFETY: plain syscalls on NUL-terminated strings; the namespace dies with the child.
        Box::new(move || unsafe {
            if libc::unshare(libc::CLONE_NEWNS) != 0
                || libc::mount(
                    std::ptr::null(),
                    c"/".as_ptr(),
                    std::ptr::null(),
                    libc::MS_REC | libc::MS_PRIVATE,
                    std::ptr::null(),
                ) != 0
                || libc::mount(
                    c"tmpfs".as_ptr(),
                    from.as_ptr(),
                    c"tmpfs".as_ptr(),
                    0,
                    std::ptr::null(),
                ) != 0
            {
                return -1;
            }
            libc::syscall(
                libc::SYS_move_mount,
                libc::AT_FDCWD,
                from.as_ptr(),
                libc::AT_FDCWD,
                to.as_ptr(),
                0,
            )
        })
    }
}

/// pivot_root(2) in a mount namespace of its own. The guest's root is the initramfs, which
/// can never be pivoted away (EINVAL, after the LSM hook): the rule's errno or the kernel's.
fn pivot_call(new_root: &Path, put_old: &Path) -> impl Fn() -> Box<dyn FnOnce() -> c_long> {
    let (new_root, put_old) = (c_path(new_root), c_path(put_old));
    move || {
        let (new_root, put_old) = (new_root.clone(), put_old.clone());
        // SAFETY: plain syscalls on NUL-terminated strings; the namespace dies with the child.
        Box::new(move || unsafe {
            if libc::unshare(libc::CLONE_NEWNS) != 0 {
                return -1;
            }
            libc::syscall(libc::SYS_pivot_root, new_root.as_ptr(), put_old.as_ptr())
        })
    }
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn pivot_root_and_move_mount_are_refused_by_path() {
    let dir = TempDir::new();
    for name in [
        "from",
        "to",
        "elsewhere",
        "jail",
        "jail/old",
        "other",
        "other/old",
    ] {
        std::fs::create_dir(dir.join(name)).unwrap();
    }
    let source = format!(
        "deny move_mount where new.path == \"{d}/to\" errno EACCES\n\
         deny pivot_root where path == \"{d}/jail\" errno EACCES\n",
        d = dir.path().display()
    );
    let moved = Op::call(
        "move_mount to the guarded place",
        move_call(&dir.join("from"), &dir.join("to")),
    );
    let moved_elsewhere = Op::call(
        "move_mount elsewhere",
        move_call(&dir.join("from"), &dir.join("elsewhere")),
    );
    let pivot = Op::call(
        "pivot_root into the guarded root",
        pivot_call(&dir.join("jail"), &dir.join("jail/old")),
    );
    let pivot_other = Op::call(
        "pivot_root into another root",
        pivot_call(&dir.join("other"), &dir.join("other/old")),
    );
    Scenario::for_cgroup(source)
        .denies(Root, &moved, EACCES)
        .row(Loaded, Root, InCgroup, &moved_elsewhere, Allowed)
        .row(Loaded, Root, InCgroup, &pivot, Denied(EACCES))
        .row(
            Loaded,
            Root,
            TestCgroup,
            &pivot,
            KernelRefuses { not: EACCES },
        )
        .row(
            Loaded,
            Root,
            InCgroup,
            &pivot_other,
            KernelRefuses { not: EACCES },
        )
        .row(
            Unloaded,
            Root,
            InCgroup,
            &pivot,
            KernelRefuses { not: EACCES },
        )
        .run();
}

/// Every attribute added with these events in one policy, loaded for an empty cgroup: the
/// verifier of each guest kernel accepts every program (including `inode_set_acl` and
/// `inode_remove_acl` where the kernel has them).
#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn every_operation_attribute_verifies() {
    Scenario::for_cgroup(
        "deny open where create or exclusive or truncate or append or directory or nofollow\n\
         deny connect where protocol in [tcp, sctp] and type == stream\n\
         deny bind where protocol == udp or type == dgram\n\
         deny listen where protocol == mptcp or type == seqpacket\n\
         deny mmap where shared and write\n\
         deny mprotect where shared and exec\n\
         deny ptrace where attach or inspect or mode == 0\n\
         deny traceme where tracer.pid == 1 or tracer.uid == 0 or tracer.comm == \"init\"\n\
         deny prctl where option in [PR_SET_NAME, PR_SET_PTRACER] or arg2 == 7\n\
         deny setxattr where name ~ \"security.*\"\n\
         deny removexattr where name == \"system.posix_acl_access\"\n\
         deny pivot_root where path ~ \"/tmp/**\" or put_old ~ \"/tmp/**\"\n\
         deny move_mount where path ~ \"/tmp/**\" or new.path ~ \"/tmp/**\"\n",
    )
    .run();
}
