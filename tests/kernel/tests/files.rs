//! The file-system events (`unlink`, `mkdir`, `create`, `rename`, ...): their paths are walked
//! dentry by dentry inside the program, since `bpf_d_path` is refused on the `path_*` hooks.
//! Each test makes a real process in the test cgroup (uid 1000 where it matters) perform the
//! operation and checks that it fails with the rule's errno, that it succeeds outside the
//! cgroup, and that it succeeds again once the policy is unloaded.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use kernel_tests::{
    assert_call_denied, assert_call_ok, c_path, call_as, require_guest, set_mode, Cgroup, Identity,
    Policy, TempDir, USER,
};
use libc::{c_long, EACCES, EPERM};
use std::ffi::CString;
use std::path::{Path, PathBuf};

/// One operation, made fresh for each attempt (a child consumes it).
type Operation = Box<dyn FnOnce() -> c_long>;

/// Loads `source` for a fresh cgroup and checks the operation `op` makes: refused with
/// `errno` as `uid` in the cgroup; done as `uid` outside it; done in the cgroup once the
/// policy is unloaded. `reset` puts the files back before each attempt. `allowed` are
/// operations the rule must not refuse in the cgroup.
fn enforced(
    source: &str,
    errno: i32,
    uid: Option<u32>,
    op: &dyn Fn() -> Operation,
    reset: &dyn Fn(),
    allowed: &[(&str, &dyn Fn() -> Operation)],
) {
    let cg = Cgroup::new();
    let policy_dir = TempDir::new();
    let policy = Policy::load_source(&policy_dir, source, Some(&cg));
    reset();
    assert_call_denied(call_as(uid.into(), Some(&cg), op()), errno, "in the cgroup");
    for (what, other) in allowed {
        reset();
        assert_call_ok(call_as(uid.into(), Some(&cg), other()), what);
    }
    reset();
    assert_call_ok(call_as(uid.into(), None, op()), "outside the cgroup");
    policy.stop();
    reset();
    assert_call_ok(
        call_as(uid.into(), Some(&cg), op()),
        "in the cgroup after unload",
    );
    reset();
}

fn c(path: &Path) -> CString {
    c_path(path)
}

fn remove(path: &Path) {
    let _ = std::fs::remove_file(path);
}

fn chown(path: &Path, uid: u32) {
    let p = c(path);
    // SAFETY: p is NUL-terminated.
    assert_eq!(
        unsafe { libc::chown(p.as_ptr(), uid, uid) },
        0,
        "chown {}",
        path.display()
    );
}

/// A directory uid 1000 may create and remove names in.
fn shared_dir() -> TempDir {
    let dir = TempDir::new();
    set_mode(dir.path(), 0o777);
    dir
}

/// `mkdir -p` for `path`, returning the directories it made (deepest first), so that the
/// test can remove exactly those.
fn make_dirs(path: &Path) -> Vec<PathBuf> {
    let mut made = Vec::new();
    let mut missing = Vec::new();
    let mut at = Some(path);
    while let Some(dir) = at {
        if dir.exists() {
            break;
        }
        missing.push(dir.to_path_buf());
        at = dir.parent();
    }
    for dir in missing.iter().rev() {
        std::fs::create_dir(dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        made.push(dir.clone());
    }
    made.reverse();
    made
}

/// Removes `file` and then the directories [`make_dirs`] made, on drop.
struct Cleanup {
    file: PathBuf,
    dirs: Vec<PathBuf>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.file);
        for dir in &self.dirs {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

fn unlink(path: &Path) -> impl FnOnce() -> libc::c_long {
    let path = c_path(path);
    // SAFETY: path is NUL-terminated.
    move || unsafe { libc::unlink(path.as_ptr()) }.into()
}

/// Names the calling thread `name` (what `comm` reads), then unlinks `path`.
fn unlink_named(path: &Path, name: &'static [u8]) -> impl FnOnce() -> libc::c_long {
    let path = c_path(path);
    move || {
        // SAFETY: name is NUL-terminated; prctl(PR_SET_NAME) reads at most 16 bytes.
        unsafe {
            libc::prctl(libc::PR_SET_NAME, name.as_ptr());
            libc::unlink(path.as_ptr()).into()
        }
    }
}

fn mkdir(path: &Path, mode: libc::mode_t) -> impl FnOnce() -> libc::c_long {
    let path = c_path(path);
    move || {
        // SAFETY: plain syscalls; path is NUL-terminated.
        unsafe {
            libc::umask(0);
            libc::mkdir(path.as_ptr(), mode).into()
        }
    }
}

/// The rule as the issue writes it: nothing under /var/log is removed, except by logrotate.
#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn unlink_under_var_log_denied_unless_logrotate() {
    require_guest();
    let dir = Path::new("/var/log").join(format!("krsi-files-{}", std::process::id()));
    let made = make_dirs(&dir);
    set_mode(&dir, 0o777);
    let file = dir.join("syslog");
    let _cleanup = Cleanup {
        file: file.clone(),
        dirs: made,
    };
    let recreate = || {
        std::fs::write(&file, "log\n").unwrap();
        set_mode(&file, 0o666);
    };
    let cg = Cgroup::new();
    let policy_dir = TempDir::new();
    let policy = Policy::load_source(
        &policy_dir,
        "deny unlink where path ~ \"/var/log/**\" and comm != \"logrotate\"\n",
        Some(&cg),
    );

    recreate();
    assert_call_denied(
        call_as(Identity::User(USER), Some(&cg), unlink(&file)),
        EPERM,
        "unlink under /var/log, uid 1000 in the cgroup",
    );
    assert!(file.exists(), "the denied unlink left the file");
    assert_call_denied(
        call_as(Identity::Root, Some(&cg), unlink(&file)),
        EPERM,
        "unlink under /var/log, uid 0 in the cgroup",
    );
    assert_call_ok(
        call_as(
            Identity::User(USER),
            Some(&cg),
            unlink_named(&file, b"logrotate\0"),
        ),
        "unlink under /var/log by a thread named logrotate",
    );
    assert!(!file.exists());
    recreate();
    assert_call_ok(
        call_as(Identity::User(USER), None, unlink(&file)),
        "unlink under /var/log outside the cgroup",
    );
    let elsewhere = shared_dir();
    let other = elsewhere.write("other", "x", 0o666);
    assert_call_ok(
        call_as(Identity::User(USER), Some(&cg), unlink(&other)),
        "unlink outside /var/log in the cgroup",
    );

    policy.stop();
    recreate();
    assert_call_ok(
        call_as(Identity::User(USER), Some(&cg), unlink(&file)),
        "unlink under /var/log in the cgroup after unload",
    );
}

/// `mode` is the mode mkdir(2) asks for (after the umask): a world-writable directory under
/// the test directory is refused, a private one is not.
#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn mkdir_denied_by_path_and_mode_in_cgroup_only() {
    require_guest();
    let dir = shared_dir();
    let cg = Cgroup::new();
    let policy_dir = TempDir::new();
    let source = format!(
        "deny mkdir where path ~ \"{}/**\" and mode & 0o002 != 0 errno EACCES\n",
        dir.path().display()
    );
    let policy = Policy::load_source(&policy_dir, &source, Some(&cg));

    let open = dir.join("open");
    assert_call_denied(
        call_as(Identity::User(USER), Some(&cg), mkdir(&open, 0o777)),
        EACCES,
        "mkdir 0777 in the cgroup",
    );
    assert!(!open.exists(), "the denied mkdir made nothing");
    let deep = dir.join("private");
    assert_call_ok(
        call_as(Identity::User(USER), Some(&cg), mkdir(&deep, 0o755)),
        "mkdir 0755 in the cgroup",
    );
    set_mode(&deep, 0o777);
    assert_call_denied(
        call_as(
            Identity::User(USER),
            Some(&cg),
            mkdir(&deep.join("sub"), 0o777),
        ),
        EACCES,
        "mkdir 0777 two levels down in the cgroup",
    );
    assert_call_ok(
        call_as(Identity::User(USER), None, mkdir(&open, 0o777)),
        "mkdir 0777 outside the cgroup",
    );
    std::fs::remove_dir(&open).unwrap();

    policy.stop();
    assert_call_ok(
        call_as(Identity::User(USER), Some(&cg), mkdir(&open, 0o777)),
        "mkdir 0777 in the cgroup after unload",
    );
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn create_of_a_regular_file_denied() {
    require_guest();
    let dir = shared_dir();
    let new = dir.join("new");
    let source = format!(
        "deny create where path == \"{}\" and mode & 0o170000 == 0o100000 errno EACCES\n",
        new.display()
    );
    let create = |path: PathBuf| -> Operation {
        let p = c(&path);
        Box::new(move || {
            // SAFETY: p is NUL-terminated.
            let fd = unsafe { libc::open(p.as_ptr(), libc::O_CREAT | libc::O_WRONLY, 0o644) };
            if fd >= 0 {
                // SAFETY: fd was just opened.
                unsafe { libc::close(fd) };
            }
            fd.into()
        })
    };
    let fifo = {
        let p = c(&new);
        move || -> Operation {
            let p = p.clone();
            // SAFETY: p is NUL-terminated.
            Box::new(move || unsafe { libc::mkfifo(p.as_ptr(), 0o644) }.into())
        }
    };
    let other = dir.join("other");
    enforced(
        &source,
        EACCES,
        Some(USER),
        &|| create(new.clone()),
        &|| {
            remove(&new);
            remove(&other);
        },
        &[
            ("creating another file", &|| create(other.clone())),
            ("a FIFO (mknod, not a regular file)", &fifo),
        ],
    );
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn rmdir_denied() {
    require_guest();
    let dir = shared_dir();
    let target = dir.join("keep");
    let other = dir.join("other");
    let source = format!("deny rmdir where path == \"{}\"\n", target.display());
    let rmdir = |path: PathBuf| -> Operation {
        let p = c(&path);
        // SAFETY: p is NUL-terminated.
        Box::new(move || unsafe { libc::rmdir(p.as_ptr()) }.into())
    };
    let reset = || {
        for d in [&target, &other] {
            let _ = std::fs::create_dir(d);
            set_mode(d, 0o777);
        }
    };
    enforced(
        &source,
        EPERM,
        Some(USER),
        &|| rmdir(target.clone()),
        &reset,
        &[("rmdir of another directory", &|| rmdir(other.clone()))],
    );
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn rename_into_a_protected_tree_denied() {
    require_guest();
    let dir = shared_dir();
    let protected = dir.join("protected");
    std::fs::create_dir(&protected).unwrap();
    set_mode(&protected, 0o777);
    let from = dir.join("a");
    let into = protected.join("a");
    let beside = dir.join("b");
    let source = format!(
        "deny rename where new.path ~ \"{}/**\" errno EACCES\n",
        protected.display()
    );
    let rename = |from: PathBuf, to: PathBuf| -> Operation {
        let (f, t) = (c(&from), c(&to));
        // SAFETY: both are NUL-terminated.
        Box::new(move || unsafe { libc::rename(f.as_ptr(), t.as_ptr()) }.into())
    };
    let reset = || {
        remove(&into);
        remove(&beside);
        std::fs::write(&from, "x").unwrap();
        set_mode(&from, 0o666);
    };
    enforced(
        &source,
        EACCES,
        Some(USER),
        &|| rename(from.clone(), into.clone()),
        &reset,
        &[("rename beside it", &|| rename(from.clone(), beside.clone()))],
    );
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn hard_link_to_a_secret_denied() {
    require_guest();
    let dir = shared_dir();
    // uid 1000 owns both files: fs.protected_hardlinks refuses links to others' files.
    let secret = dir.write("secret", "x", 0o644);
    let public = dir.write("public", "x", 0o644);
    chown(&secret, USER);
    chown(&public, USER);
    let link = dir.join("link");
    let source = format!(
        "deny link where path == \"{}\" and new.path ~ \"{}/**\"\n",
        secret.display(),
        dir.path().display()
    );
    let hard_link = |from: PathBuf| -> Operation {
        let (f, t) = (c(&from), c(&link));
        // SAFETY: both are NUL-terminated.
        Box::new(move || unsafe { libc::link(f.as_ptr(), t.as_ptr()) }.into())
    };
    enforced(
        &source,
        EPERM,
        Some(USER),
        &|| hard_link(secret.clone()),
        &|| remove(&link),
        &[("linking another file", &|| hard_link(public.clone()))],
    );
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn symlink_to_etc_shadow_denied() {
    require_guest();
    let dir = shared_dir();
    let link = dir.join("l");
    let source = format!(
        "deny symlink where target == \"/etc/shadow\" and path ~ \"{}/**\" errno EACCES\n",
        dir.path().display()
    );
    let symlink = |target: &'static str| -> Operation {
        let (t, l) = (CString::new(target).unwrap(), c(&link));
        // SAFETY: both are NUL-terminated.
        Box::new(move || unsafe { libc::symlink(t.as_ptr(), l.as_ptr()) }.into())
    };
    enforced(
        &source,
        EACCES,
        Some(USER),
        &|| symlink("/etc/shadow"),
        &|| remove(&link),
        &[("a link to another target", &|| symlink("../shadow"))],
    );
}

/// The rule as the issue writes it: no setuid or setgid bit on files under /usr/bin.
#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn chmod_setuid_under_usr_bin_denied() {
    require_guest();
    let dir = Path::new("/usr/bin");
    let made = make_dirs(dir);
    let file = dir.join(format!("krsi-chmod-{}", std::process::id()));
    let _cleanup = Cleanup {
        file: file.clone(),
        dirs: made,
    };
    std::fs::write(&file, "#!/bin/sh\n").unwrap();
    set_mode(&file, 0o755);
    chown(&file, USER);
    let chmod = |mode: libc::mode_t| -> Operation {
        let p = c(&file);
        // SAFETY: p is NUL-terminated.
        Box::new(move || unsafe { libc::chmod(p.as_ptr(), mode) }.into())
    };
    enforced(
        "deny chmod where path ~ \"/usr/bin/**\" and mode & 0o6000 != 0\n",
        EPERM,
        Some(USER),
        &|| chmod(0o4755),
        &|| set_mode(&file, 0o755),
        &[
            ("chmod 0755", &|| chmod(0o755)),
            ("chmod 0700", &|| chmod(0o700)),
        ],
    );
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn chown_to_root_denied() {
    require_guest();
    let dir = shared_dir();
    let file = dir.write("f", "x", 0o644);
    let source = format!(
        "deny chown where new.uid == 0 and path == \"{}\"\n",
        file.display()
    );
    let chown_to = |uid: u32, gid: u32| -> Operation {
        let p = c(&file);
        // SAFETY: p is NUL-terminated.
        Box::new(move || unsafe { libc::chown(p.as_ptr(), uid, gid) }.into())
    };
    // Only root may give a file away: the process stays uid 0.
    enforced(
        &source,
        EPERM,
        None,
        &|| chown_to(0, u32::MAX),
        &|| chown(&file, USER),
        &[
            ("chown to uid 1000", &|| chown_to(USER, u32::MAX)),
            ("chgrp only (new.uid is -1)", &|| chown_to(u32::MAX, 0)),
        ],
    );
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn truncate_denied_for_this_executable() {
    require_guest();
    let dir = shared_dir();
    let file = dir.write("f", "data", 0o666);
    // `exe` is the test binary: the children are forks of it.
    let exe = std::fs::read_link("/proc/self/exe").unwrap();
    let source = format!(
        "deny truncate where path == \"{}\" and exe == \"{}\"\n\
         deny truncate where path == \"{}\" and exe == \"/usr/bin/other\"\n",
        file.display(),
        exe.display(),
        dir.join("g").display()
    );
    let truncate = |path: PathBuf| -> Operation {
        let p = c(&path);
        // SAFETY: p is NUL-terminated.
        Box::new(move || unsafe { libc::truncate(p.as_ptr(), 0) }.into())
    };
    let g = dir.join("g");
    enforced(
        &source,
        EPERM,
        Some(USER),
        &|| truncate(file.clone()),
        &|| {
            std::fs::write(&g, "data").unwrap();
            set_mode(&g, 0o666);
        },
        &[("a rule on another executable", &|| truncate(g.clone()))],
    );
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn chroot_denied() {
    require_guest();
    let dir = shared_dir();
    let jail = dir.join("jail");
    let other = dir.join("other");
    std::fs::create_dir(&jail).unwrap();
    std::fs::create_dir(&other).unwrap();
    let source = format!("deny chroot where path == \"{}\"\n", jail.display());
    let chroot = |path: PathBuf| -> Operation {
        let p = c(&path);
        // SAFETY: p is NUL-terminated; the child exits right after.
        Box::new(move || unsafe { libc::chroot(p.as_ptr()) }.into())
    };
    // chroot needs CAP_SYS_CHROOT: the process stays root.
    enforced(
        &source,
        EPERM,
        None,
        &|| chroot(jail.clone()),
        &|| {},
        &[("chroot elsewhere", &|| chroot(other.clone()))],
    );
}

/// Maps `path` (None: anonymous memory) with `prot`, then, when `then` is set, changes the
/// mapping's protection to it.
fn map(path: Option<PathBuf>, prot: i32, then: Option<i32>) -> Operation {
    let p = path.as_deref().map(c);
    Box::new(move || {
        // SAFETY: plain syscalls on a descriptor and a mapping this closure owns.
        unsafe {
            let (fd, flags) = match &p {
                Some(p) => (libc::open(p.as_ptr(), libc::O_RDONLY), libc::MAP_PRIVATE),
                None => (-1, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS),
            };
            if p.is_some() && fd < 0 {
                return -1;
            }
            let at = libc::mmap(std::ptr::null_mut(), 4096, prot, flags, fd, 0);
            if at == libc::MAP_FAILED {
                return -1;
            }
            match then {
                Some(prot) => libc::mprotect(at, 4096, prot).into(),
                None => 0,
            }
        }
    })
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn mmap_exec_of_a_file_and_anonymous_wx_denied() {
    require_guest();
    let dir = shared_dir();
    let file = dir.write("lib.so", vec![0u8; 4096], 0o644);
    let source = format!(
        "deny mmap where path == \"{}\" and exec errno EACCES\n\
         deny mmap where path == \"\" and exec and write errno EPERM\n",
        file.display()
    );
    let (r, rx, rw, rwx) = (
        libc::PROT_READ,
        libc::PROT_READ | libc::PROT_EXEC,
        libc::PROT_READ | libc::PROT_WRITE,
        libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC,
    );
    enforced(
        &source,
        EACCES,
        Some(USER),
        &|| map(Some(file.clone()), rx, None),
        &|| {},
        &[
            ("mapping the file read-only", &|| {
                map(Some(file.clone()), r, None)
            }),
            ("anonymous read-write memory", &|| map(None, rw, None)),
        ],
    );
    enforced(
        &source,
        EPERM,
        Some(USER),
        &|| map(None, rwx, None),
        &|| {},
        &[("anonymous executable memory", &|| map(None, rx, None))],
    );
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn mprotect_to_exec_denied() {
    require_guest();
    let dir = shared_dir();
    let file = dir.write("lib.so", vec![0u8; 4096], 0o644);
    let source = format!(
        "deny mprotect where path == \"{}\" and exec errno EACCES\n",
        file.display()
    );
    let (r, rx) = (libc::PROT_READ, libc::PROT_READ | libc::PROT_EXEC);
    enforced(
        &source,
        EACCES,
        Some(USER),
        &|| map(Some(file.clone()), r, Some(rx)),
        &|| {},
        &[
            ("mprotect to read-only", &|| {
                map(Some(file.clone()), rx, Some(r))
            }),
            ("mprotect of anonymous memory to exec", &|| {
                map(None, r, Some(rx))
            }),
        ],
    );
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn ioctl_denied_by_path_and_request() {
    require_guest();
    let dir = shared_dir();
    let file = dir.write("f", "data", 0o644);
    let source = format!(
        "deny ioctl where path == \"{}\" and cmd == {}\n",
        file.display(),
        libc::FIONREAD
    );
    let ioctl = |request: libc::c_ulong| -> Operation {
        let p = c(&file);
        Box::new(move || {
            let mut n: libc::c_int = 0;
            // SAFETY: FIONREAD and FIGETBSZ write one int to the pointer.
            unsafe {
                let fd = libc::open(p.as_ptr(), libc::O_RDONLY);
                if fd < 0 {
                    return -1;
                }
                libc::ioctl(fd, request as _, &mut n).into()
            }
        })
    };
    const FIGETBSZ: libc::c_ulong = 2;
    enforced(
        &source,
        EPERM,
        Some(USER),
        &|| ioctl(libc::FIONREAD as libc::c_ulong),
        &|| {},
        &[("another request", &|| ioctl(FIGETBSZ))],
    );
}

/// `d/d/.../d` (`depth` components) below `root`, made one relative step at a time.
fn deep_dir(root: &Path, depth: usize) -> PathBuf {
    let mut dir = root.to_path_buf();
    for _ in 0..depth {
        dir.push("d");
        std::fs::create_dir(&dir).unwrap();
        set_mode(&dir, 0o777);
    }
    dir
}

/// Fail closed on walked paths: a path deeper than the walk goes (40 components) is unknown,
/// so a deny rule that needs it denies and an allow rule that needs it does not allow.
#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn too_deep_to_walk_fails_closed() {
    require_guest();
    let root = shared_dir();
    let components = root.path().components().count() - 1;
    let deep = deep_dir(root.path(), 41 - components);
    let shallow = root.join("f");
    let deep_file = deep.join("f");
    let reset = || {
        for f in [&shallow, &deep_file] {
            std::fs::write(f, "x").unwrap();
            set_mode(f, 0o666);
        }
    };
    // Neither file is under /opt: the deep one matches only because its path is unknown.
    enforced(
        "deny unlink where path ~ \"/opt/**\"\n",
        EPERM,
        Some(USER),
        &|| Box::new(unlink(&deep_file)),
        &reset,
        &[("unlink of a shallow file", &|| Box::new(unlink(&shallow)))],
    );
    let allow_here = format!(
        "allow unlink where path ~ \"{}/**\"\ndeny unlink errno EACCES\n",
        root.path().display()
    );
    enforced(
        &allow_here,
        EACCES,
        Some(USER),
        &|| Box::new(unlink(&deep_file)),
        &reset,
        &[("unlink of a shallow file", &|| Box::new(unlink(&shallow)))],
    );
}

/// A policy reading every walked path of the file-system events, `exe` on each, globs on
/// them: the verifier of this kernel accepts every program, within a bounded effort.
#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn walked_paths_verify_on_this_kernel() {
    require_guest();
    let bytes = std::fs::read("/sys/kernel/btf/vmlinux").unwrap();
    let kernel = compiler::btf::Btf::parse(&bytes).unwrap();
    let mut source = String::new();
    // The events whose `path` the program walks.
    let walking = lang::catalog::all_events().filter(|event| {
        event.attributes.iter().any(|a| {
            a.name == "path" && matches!(a.source, lang::catalog::Source::WalkedPath { .. })
        })
    });
    for event in walking {
        source.push_str(&format!(
            "deny {0} where path ~ \"/home/*/.ssh/**\" and exe !~ \"/usr/{{bin,sbin}}/*\"\n\
             deny {0} where path ~ [\"/etc/**\", \"/boot/*.img\"] and comm != \"dpkg\"\n",
            event.name
        ));
    }
    source.push_str(
        "deny rename where new.path ~ \"/etc/**/*.conf\" and path !~ \"/tmp/**\"\n\
         deny link where new.path == \"/etc/passwd\" or path ~ \"/etc/sh*\"\n",
    );
    let (checked, diagnostics) = lang::front_end(&source, &kernel);
    let checked = checked.unwrap_or_else(|| panic!("{diagnostics:?}"));
    let module = compiler::lower::lower(&checked, compiler::ir::Scope::Cgroup).unwrap();
    let object = compiler::codegen::codegen(&module).unwrap();
    let elf = compiler::elf::write_object(&object).unwrap();
    let targets: Vec<runtime::ProgramTarget> = object
        .programs
        .iter()
        .map(|p| runtime::ProgramTarget {
            symbol: p.symbol.clone(),
            hook: compiler::elf::lsm_hook(&p.section).unwrap().to_string(),
        })
        .collect();
    let stats = runtime::verify(&elf, &targets, runtime::VerifierLog::Stats)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stats.len(), targets.len());
    for (symbol, processed) in stats {
        eprintln!("{symbol}: the verifier processed {processed:?} instructions");
        if let Some(n) = processed {
            // Measured 2026-11-28: 62k (6.1) and 75k (6.12) for one walk and its globs,
            // 91k and 173k for rename's three walks; the kernel's limit is 1M.
            assert!(n < 250_000, "{symbol}: {n} instructions processed");
        }
    }
}
