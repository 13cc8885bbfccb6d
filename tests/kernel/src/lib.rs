//! Helpers shared by the kernel tests (tests/*.rs).
//!
//! The tests run as root inside a QEMU guest booted by `tests/guest/run`, one test at a time
//! (`--test-threads=1`). They drive the `krsic` binary (path from `KRSIC`, default `krsic` on
//! PATH) and check what a user would check: real processes, real uids, real cgroups.
//!
//! Most tests are tables: a [`Scenario`] is a policy and rows of who does what where, before,
//! while and after it is loaded, and what must come of it (scenario.rs). The helpers below are
//! what it is made of, and what the tests that are not about one loaded policy (pins, failed
//! loads, the verifier) use directly.
//!
//! Every resource a test creates is a guard that cleans up on drop, also when the test fails:
//! [`TempDir`], [`Cgroup`], [`Policy`] (a running `krsic load`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod ops;
pub mod policy_gen;
mod scenario;
pub mod sweep;

pub use scenario::{Expect, Op, Phase, Place, Scenario, Steps};

use std::ffi::{CStr, CString};
use std::io::{self, BufRead, BufReader};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The unprivileged user the tests run processes as.
pub const USER: u32 = 1000;

const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// Compiles `source` against this (guest) kernel's BTF under `scope` and has the kernel's
/// verifier load every program without attaching it: each program's symbol and the
/// instructions the verifier processed (when its log says). Panics on a checker error or a
/// rejection.
pub fn verifier_stats(source: &str, scope: compiler::ir::Scope) -> Vec<(String, Option<u32>)> {
    let bytes = std::fs::read("/sys/kernel/btf/vmlinux").expect("guest BTF");
    let kernel = compiler::btf::Btf::parse(&bytes).expect("guest BTF parses");
    let (checked, diagnostics) = lang::front_end(source, &kernel);
    let checked = checked.unwrap_or_else(|| panic!("{diagnostics:?}"));
    let target = compiler::ir::Target::new(scope);
    let compiler::Object { spec, elf, .. } = compiler::compile(&checked, target).unwrap();
    let targets: Vec<runtime::ProgramTarget> = spec
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
    stats
}

/// Fails the test unless it runs inside a krsi guest (the guest's /init sets `KRSI_GUEST=1`)
/// as root. The tests change cgroups and load LSM programs: they do not run on a host.
pub fn require_guest() {
    if std::env::var_os("KRSI_GUEST").is_none() {
        panic!(
            "kernel tests run inside a guest kernel: use tests/guest/run (KRSI_GUEST is not set)"
        );
    }
    // SAFETY: geteuid has no preconditions.
    assert_eq!(unsafe { libc::geteuid() }, 0, "kernel tests run as root");
}

/// The krsic binary under test: `$KRSIC`, or `krsic` on PATH.
pub fn krsic() -> PathBuf {
    std::env::var_os("KRSIC").map_or_else(|| PathBuf::from("krsic"), PathBuf::from)
}

/// How long `krsic load` may take to print `enforcing` (TCG is slow). `KRSI_TEST_LOAD_TIMEOUT`
/// (seconds) overrides the default of 120 s.
pub fn load_timeout() -> Duration {
    let secs = std::env::var("KRSI_TEST_LOAD_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120);
    Duration::from_secs(secs)
}

/// The active LSMs, from /sys/kernel/security/lsm.
pub fn active_lsms() -> io::Result<Vec<String>> {
    let list = std::fs::read_to_string("/sys/kernel/security/lsm")?;
    Ok(list.trim().split(',').map(str::to_owned).collect())
}

fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{prefix}-{}-{}-{nanos:x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// `path` as a C string, for system calls in [`call_as`] children.
pub fn c_path(path: &Path) -> CString {
    CString::new(path.as_os_str().as_bytes()).expect("path without NUL bytes")
}

// ---------------------------------------------------------------- TempDir

/// A fresh directory (mode 755, so uid 1000 can reach what is inside) under the system temp
/// directory, removed with its contents on drop.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new() -> TempDir {
        let path = std::env::temp_dir().join(unique_name("krsi-test"));
        std::fs::create_dir(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
        set_mode(&path, 0o755);
        TempDir { path }
    }

    /// A fresh directory at the top of the root file system (`/krsi-test-…`), beside `/srv`
    /// and `/usr`: on the root mount, where the system temp directory (a tmpfs in the guest)
    /// is not.
    pub fn on_root_mount() -> TempDir {
        let path = Path::new("/").join(unique_name("krsi-test"));
        std::fs::create_dir(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
        set_mode(&path, 0o755);
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn join(&self, name: impl AsRef<Path>) -> PathBuf {
        self.path.join(name)
    }

    /// Makes each of `dirs` in this directory, in turn (a parent before its children),
    /// readable and searchable by every user, as the unprivileged test user needs.
    pub fn mkdirs(&self, dirs: &[&str]) {
        for dir in dirs {
            let path = self.join(dir);
            std::fs::create_dir(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
            set_mode(&path, 0o755);
        }
    }

    /// Writes `contents` to `name` in this directory, with permission bits `mode`.
    pub fn write(&self, name: impl AsRef<Path>, contents: impl AsRef<[u8]>, mode: u32) -> PathBuf {
        let path = self.join(name);
        std::fs::write(&path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        set_mode(&path, mode);
        path
    }

    /// Copies `from` (following symlinks) to `name` in this directory, with mode `mode`.
    pub fn copy(&self, from: impl AsRef<Path>, name: impl AsRef<Path>, mode: u32) -> PathBuf {
        let from = from.as_ref();
        let path = self.join(name);
        std::fs::copy(from, &path)
            .unwrap_or_else(|e| panic!("copy {} to {}: {e}", from.display(), path.display()));
        set_mode(&path, mode);
        path
    }
}

impl Default for TempDir {
    fn default() -> Self {
        TempDir::new()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A file at a fixed place in the guest's file system (under /var/log, /etc, /usr/bin: where
/// a rule points), made with whatever directories it needs; on drop the file and exactly the
/// directories it made are removed again. A file that was already there is left alone.
pub struct Placed {
    file: PathBuf,
    made_file: bool,
    made_dirs: Vec<PathBuf>,
}

impl Placed {
    /// `path` with `contents` and permission bits `mode`, unless it already exists.
    pub fn file(path: impl AsRef<Path>, contents: impl AsRef<[u8]>, mode: u32) -> Placed {
        let file = path.as_ref().to_owned();
        let made_dirs = file.parent().map(make_dirs).unwrap_or_default();
        let made_file = !file.exists();
        if made_file {
            std::fs::write(&file, contents)
                .unwrap_or_else(|e| panic!("write {}: {e}", file.display()));
            set_mode(&file, mode);
        }
        Placed {
            file,
            made_file,
            made_dirs,
        }
    }

    /// Only the directories up to `path`'s parent: the test makes (and may remove) the file.
    pub fn parent_of(path: impl AsRef<Path>) -> Placed {
        let file = path.as_ref().to_owned();
        let made_dirs = file.parent().map(make_dirs).unwrap_or_default();
        Placed {
            file,
            made_file: true,
            made_dirs,
        }
    }

    pub fn path(&self) -> &Path {
        &self.file
    }
}

/// `mkdir -p` for `path`, returning the directories it made, deepest first.
fn make_dirs(path: &Path) -> Vec<PathBuf> {
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
    }
    missing
}

impl Drop for Placed {
    fn drop(&mut self) {
        if self.made_file {
            let _ = std::fs::remove_file(&self.file);
        }
        for dir in &self.made_dirs {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// A directory holding a copy of /bin/true that uid 1000 may execute.
pub fn dir_with_true() -> (TempDir, PathBuf) {
    let dir = TempDir::new();
    let exe = dir.copy("/bin/true", "true", 0o755);
    (dir, exe)
}

/// Sets the permission bits of `path` (the umask does not apply).
pub fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {mode:o} {}: {e}", path.display()));
}

// ----------------------------------------------------------------- Cgroup

/// A uniquely named cgroup (v2) directly under /sys/fs/cgroup. On drop, processes still in it
/// are moved to the root cgroup and the directory is removed.
pub struct Cgroup {
    path: PathBuf,
}

impl Cgroup {
    pub fn new() -> Cgroup {
        let path = Path::new(CGROUP_ROOT).join(unique_name("krsi-test"));
        std::fs::create_dir(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
        Cgroup { path }
    }

    /// The cgroup's directory, e.g. /sys/fs/cgroup/krsi-test-42-0-1f2e3d.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A uniquely named child of this cgroup, removed on drop (drop it before its parent).
    pub fn child(&self) -> Cgroup {
        let path = self.path.join(unique_name("child"));
        std::fs::create_dir(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
        Cgroup { path }
    }

    /// A child of this cgroup called `name` (a container runtime's name, such as
    /// `cri-containerd-<id>.scope`), removed on drop (drop it before its parent).
    pub fn child_named(&self, name: &str) -> Cgroup {
        let path = self.path.join(name);
        std::fs::create_dir(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
        Cgroup { path }
    }

    /// The pids in this cgroup (not its descendants).
    pub fn pids(&self) -> Vec<i32> {
        std::fs::read_to_string(self.path.join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    fn procs_file(&self) -> CString {
        c_path(&self.path.join("cgroup.procs"))
    }
}

impl Default for Cgroup {
    fn default() -> Self {
        Cgroup::new()
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        let root_procs = Path::new(CGROUP_ROOT).join("cgroup.procs");
        for _ in 0..100 {
            for pid in self.pids() {
                let _ = std::fs::write(&root_procs, pid.to_string());
            }
            match std::fs::remove_dir(&self.path) {
                Ok(()) => return,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return,
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
        eprintln!("warning: could not remove cgroup {}", self.path.display());
    }
}

// ------------------------------------------------------ running processes

/// In a forked child, before exec: joins the cgroup whose cgroup.procs is `procs` (writing
/// this process's pid), then drops to `uid` (supplementary groups cleared, gid = uid).
/// Joining first matters: once it is uid 1000 the process may not move itself into a cgroup.
/// Only async-signal-safe calls, no allocation.
fn join_and_drop(procs: Option<&CStr>, uid: Option<u32>) -> io::Result<()> {
    if let Some(procs) = procs {
        // SAFETY: procs is a NUL-terminated path.
        let fd = unsafe { libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut buf = [0u8; 12];
        // SAFETY: getpid has no preconditions.
        let pid = unsafe { libc::getpid() } as u32;
        let digits = format_u32(pid, &mut buf);
        // SAFETY: fd is open, digits is a valid buffer.
        let written = unsafe { libc::write(fd, digits.as_ptr().cast(), digits.len()) };
        let err = io::Error::last_os_error();
        // SAFETY: fd is ours.
        unsafe { libc::close(fd) };
        if written < 0 {
            return Err(err);
        }
    }
    if let Some(uid) = uid {
        // SAFETY: plain syscalls; setgroups with size 0 does not read the list.
        unsafe {
            if libc::setgroups(0, std::ptr::null()) != 0
                || libc::setgid(uid) != 0
                || libc::setuid(uid) != 0
            {
                return Err(io::Error::last_os_error());
            }
        }
    }
    Ok(())
}

fn format_u32(mut n: u32, buf: &mut [u8; 12]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

/// Runs `path args...` as `who` (an [`Identity`], or `None` for root and `Some(uid)` for that
/// user) inside `cgroup` (None: stay in the test's cgroup) and waits for it. An exec the LSM
/// refuses comes back as `Err(e)` with `e.raw_os_error() == Some(errno)`; a program that ran
/// gives `Ok(status)`.
pub fn run_as(
    path: impl AsRef<Path>,
    args: &[&str],
    who: impl Into<Identity>,
    cgroup: Option<&Cgroup>,
) -> io::Result<ExitStatus> {
    let mut cmd = Command::new(path.as_ref());
    cmd.args(args).stdin(Stdio::null());
    let procs = cgroup.map(Cgroup::procs_file);
    let who = who.into();
    // Not Command::uid/gid: std applies those before pre_exec, and a uid-1000 process
    // cannot join a cgroup.
    // SAFETY: the closure only makes async-signal-safe syscalls and does not allocate.
    unsafe {
        cmd.pre_exec(move || become_identity(procs.as_deref(), who));
    }
    let mut child = cmd.spawn()?;
    child.wait()
}

/// Opens `path` with `flags` (e.g. `libc::O_WRONLY`) in a forked child that first joins
/// `cgroup` and becomes `who`, like [`run_as`]. `Ok(())` if the open succeeded, else the
/// open's error (`raw_os_error()` is the errno). Failing to join the cgroup or drop privileges
/// is an error of kind `Other`.
pub fn open_as(
    path: impl AsRef<Path>,
    flags: libc::c_int,
    who: impl Into<Identity>,
    cgroup: Option<&Cgroup>,
) -> io::Result<()> {
    let path = c_path(path.as_ref());
    call_as(who.into(), cgroup, || {
        // SAFETY: path is NUL-terminated.
        let fd = unsafe { libc::open(path.as_ptr(), flags | libc::O_CLOEXEC) };
        if fd < 0 {
            return -1;
        }
        // SAFETY: fd was just opened.
        unsafe { libc::close(fd) };
        0
    })
    .map(drop)
}

/// Asserts that `result` (from [`run_as`]) is an exec refused with `errno`.
#[track_caller]
pub fn assert_exec_denied(result: io::Result<ExitStatus>, errno: i32, what: &str) {
    match result {
        Err(e) if e.raw_os_error() == Some(errno) => {}
        Err(e) => {
            panic!("{what}: expected the exec to be refused with errno {errno}, got error {e}")
        }
        Ok(status) => panic!(
            "{what}: expected the exec to be refused with errno {errno}, but it ran ({status})"
        ),
    }
}

/// Asserts that `result` (from [`run_as`]) is a program that ran and exited 0.
#[track_caller]
pub fn assert_ran(result: io::Result<ExitStatus>, what: &str) {
    match result {
        Ok(status) if status.success() => {}
        Ok(status) => panic!("{what}: expected the program to run and exit 0, got {status}"),
        Err(e) => panic!("{what}: expected the program to run, but the exec failed: {e}"),
    }
}

/// Asserts that `result` (from [`open_as`]) is an open refused with `errno`.
#[track_caller]
pub fn assert_open_denied(result: io::Result<()>, errno: i32, what: &str) {
    match result {
        Err(e) if e.raw_os_error() == Some(errno) => {}
        Err(e) => panic!("{what}: expected the open to be refused with errno {errno}, got {e}"),
        Ok(()) => {
            panic!("{what}: expected the open to be refused with errno {errno}, but it succeeded")
        }
    }
}

/// Asserts that `result` (from [`open_as`]) is an open that succeeded.
#[track_caller]
pub fn assert_opened(result: io::Result<()>, what: &str) {
    if let Err(e) = result {
        panic!("{what}: expected the open to succeed, got {e}");
    }
}

// ----------------------------------------------------------- BPF programs

const BPF_PROG_GET_NEXT_ID: libc::c_long = 11;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_OBJ_GET_INFO_BY_FD: libc::c_long = 15;
const BPF_PROG_TYPE_LSM: u32 = 29;

#[repr(C)]
struct IdAttr {
    id: u32,
    next_id: u32,
    open_flags: u32,
}

#[repr(C)]
struct InfoAttr {
    bpf_fd: u32,
    info_len: u32,
    info: u64,
}

fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> io::Result<libc::c_long> {
    // SAFETY: attr points to a live, correctly sized bpf_attr prefix for cmd.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T,
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// The ids of every BPF LSM program (including lsm_cgroup ones) loaded in the kernel.
pub fn lsm_program_ids() -> io::Result<Vec<u32>> {
    let mut ids = Vec::new();
    let mut id = 0;
    loop {
        let mut next = IdAttr {
            id,
            next_id: 0,
            open_flags: 0,
        };
        match bpf(BPF_PROG_GET_NEXT_ID, &mut next) {
            Ok(_) => id = next.next_id,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(ids),
            Err(e) => return Err(e),
        }
        let mut by_id = IdAttr {
            id,
            next_id: 0,
            open_flags: 0,
        };
        let fd = match bpf(BPF_PROG_GET_FD_BY_ID, &mut by_id) {
            Ok(fd) => fd as libc::c_int,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue, // freed meanwhile
            Err(e) => return Err(e),
        };
        // struct bpf_prog_info starts with `__u32 type; __u32 id;`. The zeroed tail past the
        // kernel's own struct size is accepted.
        let mut info = [0u32; 64];
        let mut attr = InfoAttr {
            bpf_fd: fd as u32,
            info_len: std::mem::size_of_val(&info) as u32,
            info: info.as_mut_ptr() as u64,
        };
        let r = bpf(BPF_OBJ_GET_INFO_BY_FD, &mut attr);
        // SAFETY: fd came from BPF_PROG_GET_FD_BY_ID.
        unsafe { libc::close(fd) };
        r?;
        if info[0] == BPF_PROG_TYPE_LSM {
            ids.push(id);
        }
    }
}

/// Waits (up to 10 s: program release can lag behind the process exit) until no LSM program
/// outside `baseline` is loaded; returns the ones still there.
pub fn wait_lsm_programs_gone(baseline: &[u32]) -> Vec<u32> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let extra: Vec<u32> = lsm_program_ids()
            .expect("list BPF programs")
            .into_iter()
            .filter(|id| !baseline.contains(id))
            .collect();
        if extra.is_empty() || Instant::now() > deadline {
            return extra;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

// ----------------------------------------------------------------- Policy

/// A running `krsic load FILE [--cgroup PATH]`. [`Policy::load`] returns once krsic printed
/// its `enforcing` line; [`Policy::stop`] sends SIGTERM and checks that krsic exited 0 and left
/// no LSM program behind. Dropping a policy that was not stopped terminates krsic (SIGTERM,
/// then SIGKILL) without checks.
pub struct Policy {
    child: Option<Child>,
    file: PathBuf,
    stderr: Arc<Mutex<String>>,
    stdout: Arc<Mutex<Vec<String>>>,
    readers: Vec<JoinHandle<()>>,
    baseline: Vec<u32>,
}

impl Policy {
    /// Writes `source` to policy.krsi in `dir` and loads it.
    pub fn load_source(dir: &TempDir, source: &str, cgroup: Option<&Cgroup>) -> Policy {
        Policy::load_source_with(dir, source, cgroup, &[])
    }

    /// [`Policy::load_source`] with more `krsic load` options.
    pub fn load_source_with(
        dir: &TempDir,
        source: &str,
        cgroup: Option<&Cgroup>,
        options: &[&str],
    ) -> Policy {
        let file = dir.write("policy.krsi", source, 0o644);
        Policy::load_with(&file, cgroup, options)
    }

    /// Starts `krsic load FILE [--cgroup PATH]` and waits for `enforcing` on its stderr.
    /// Fails the test, with krsic's whole stderr, if krsic exits first or takes longer than
    /// [`load_timeout`].
    pub fn load(file: &Path, cgroup: Option<&Cgroup>) -> Policy {
        Policy::load_with(file, cgroup, &[])
    }

    /// [`Policy::load`] with more `krsic load` options (`--report-rate 5`, `--mode audit`).
    pub fn load_with(file: &Path, cgroup: Option<&Cgroup>, options: &[&str]) -> Policy {
        let mut cmd = Command::new(krsic());
        cmd.arg("load").arg(file).args(options);
        if let Some(cg) = cgroup {
            cmd.arg("--cgroup").arg(cg.path());
        }
        Policy::start(cmd, "krsic load", file, "enforcing")
    }

    /// Starts `krsic follow NAME --bpffs DIR` and waits until it follows.
    pub fn follow(name: &str, bpffs: &Bpffs) -> Policy {
        let mut cmd = Command::new(krsic());
        cmd.args(["follow", name, "--bpffs"]).arg(bpffs.path());
        Policy::start(cmd, "krsic follow", Path::new(name), "following")
    }

    /// Starts `krsic serve DIR --bpffs DIR --metrics 127.0.0.1:0 [options]` and waits until
    /// it serves (its first apply is done). Stop it with [`Policy::stop_serving`].
    pub fn serve(dir: &Path, bpffs: &Bpffs, options: &[&str]) -> Policy {
        let mut cmd = Command::new(krsic());
        cmd.arg("serve")
            .arg(dir)
            .arg("--bpffs")
            .arg(bpffs.path())
            .args(["--metrics", "127.0.0.1:0"])
            .args(options);
        Policy::start(cmd, "krsic serve", dir, "serving")
    }

    /// Stops `krsic serve` with SIGTERM and asserts that it exited 0 within 60 s. Its pinned
    /// policies stay enforced, so no program check is made.
    pub fn stop_serving(mut self) -> ExitStatus {
        match self.terminate_within(Duration::from_secs(60)) {
            Some(s) if s.success() => s,
            other => panic!(
                "krsic serve did not exit 0 after SIGTERM ({other:?}); its stderr:\n{}",
                self.stderr()
            ),
        }
    }

    /// Spawns `cmd` and waits for `ready` on its stderr.
    fn start(mut cmd: Command, what: &str, file: &Path, ready: &'static str) -> Policy {
        let baseline = lsm_program_ids().expect("list BPF programs");
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", krsic().display()));

        let stderr = Arc::new(Mutex::new(String::new()));
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let err_pipe = child.stderr.take().expect("piped stderr");
        let out_pipe = child.stdout.take().expect("piped stdout");
        let err_buf = Arc::clone(&stderr);
        let out_buf = Arc::clone(&stdout);
        let readers = vec![
            std::thread::spawn(move || {
                for line in BufReader::new(err_pipe).lines() {
                    let Ok(line) = line else { break };
                    let enforcing = line.contains(ready);
                    {
                        let mut buf = err_buf.lock().unwrap_or_else(|p| p.into_inner());
                        buf.push_str(&line);
                        buf.push('\n');
                    }
                    if enforcing {
                        let _ = tx.send(());
                    }
                }
            }),
            std::thread::spawn(move || {
                for line in BufReader::new(out_pipe).lines() {
                    let Ok(line) = line else { break };
                    out_buf.lock().unwrap_or_else(|p| p.into_inner()).push(line);
                }
            }),
        ];
        let mut policy = Policy {
            child: Some(child),
            file: file.to_owned(),
            stderr,
            stdout,
            readers,
            baseline,
        };

        let timeout = load_timeout();
        match rx.recv_timeout(timeout) {
            Ok(()) => policy,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                policy.terminate();
                panic!(
                    "{what} {} did not print `{ready}` within {timeout:?}; its stderr:\n{}",
                    policy.file.display(),
                    policy.stderr()
                );
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = policy.terminate();
                panic!(
                    "{what} {} exited ({}) before printing `{ready}`; its stderr:\n{}",
                    policy.file.display(),
                    status.map_or_else(|| "status unknown".to_owned(), |s| s.to_string()),
                    policy.stderr()
                );
            }
        }
    }

    /// Everything krsic wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The lines krsic wrote to stdout so far (its audit/deny events).
    pub fn events(&self) -> Vec<String> {
        self.stdout
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Unloads the policy: SIGTERM, then asserts that krsic exited 0 within 60 s and that no
    /// LSM program it loaded is left in the kernel.
    pub fn stop(mut self) -> ExitStatus {
        let status = self.terminate_within(Duration::from_secs(60));
        let file = self.file.display().to_string();
        match status {
            Some(s) if s.success() => {}
            Some(s) => panic!(
                "krsic load {file} exited with {s} after SIGTERM; its stderr:\n{}",
                self.stderr()
            ),
            None => panic!(
                "krsic load {file} did not exit within 60 s of SIGTERM (killed); its stderr:\n{}",
                self.stderr()
            ),
        }
        let left = wait_lsm_programs_gone(&self.baseline);
        assert!(
            left.is_empty(),
            "krsic load {file} exited but LSM programs {left:?} are still loaded; its stderr:\n{}",
            self.stderr()
        );
        status.expect("checked above")
    }

    /// SIGTERM, wait up to 30 s, then SIGKILL. Returns the exit status (None if it had to be
    /// killed or was already reaped).
    fn terminate(&mut self) -> Option<ExitStatus> {
        self.terminate_within(Duration::from_secs(30))
    }

    fn terminate_within(&mut self, grace: Duration) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let mut status = None;
        if let Ok(Some(s)) = child.try_wait() {
            status = Some(s);
        } else {
            // SAFETY: sending a signal to our own child.
            unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
            let deadline = Instant::now() + grace;
            while Instant::now() < deadline {
                if let Ok(Some(s)) = child.try_wait() {
                    status = Some(s);
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            if status.is_none() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        status
    }
}

impl Drop for Policy {
    fn drop(&mut self) {
        self.terminate();
    }
}

// ------------------------------------------------------------------ Pins

/// A private BPF filesystem mounted on a fresh directory, for pin tests: nothing they pin can
/// touch the guest's /sys/fs/bpf. On drop every pin under it is removed (detaching pinned
/// programs) and it is unmounted.
pub struct Bpffs {
    dir: TempDir,
}

impl Bpffs {
    pub fn new() -> Bpffs {
        let dir = TempDir::new();
        let target = c_path(dir.path());
        // SAFETY: NUL-terminated strings that outlive the call; no mount data.
        let r = unsafe {
            libc::mount(
                c"bpf".as_ptr(),
                target.as_ptr(),
                c"bpf".as_ptr(),
                0,
                std::ptr::null(),
            )
        };
        assert_eq!(
            r,
            0,
            "mount bpffs on {}: {}",
            dir.path().display(),
            io::Error::last_os_error()
        );
        Bpffs { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Default for Bpffs {
    fn default() -> Self {
        Bpffs::new()
    }
}

impl Drop for Bpffs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(self.dir.join("krsi"));
        let target = c_path(self.dir.path());
        // SAFETY: a NUL-terminated path that outlives the call.
        unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
    }
}

impl Bpffs {
    /// Name → program ids of the policies pinned here, as `krsic list --json` says.
    pub fn pinned(&self) -> Vec<(String, Vec<u64>)> {
        let bpffs = self.path().display().to_string();
        let (status, stdout, stderr) = krsic_run(&["list", "--json", "--bpffs", &bpffs]);
        assert!(status.success(), "krsic list: {stderr}");
        let listed: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        listed
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                let ids = p["programs"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|prog| prog["program_id"].as_u64().unwrap())
                    .collect();
                (p["name"].as_str().unwrap().to_string(), ids)
            })
            .collect()
    }
}

/// Runs krsic with `args` to completion; returns its exit status, stdout and stderr.
pub fn krsic_run<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> (ExitStatus, String, String) {
    let output = Command::new(krsic())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", krsic().display()));
    (
        output.status,
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

// ------------------------------------------------- system calls as someone

/// Who a forked child is when it makes the call under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Identity {
    /// Stays root: uid 0, every capability.
    Root,
    /// All uids and gids `n`, no supplementary groups, no capabilities.
    User(u32),
    /// Real uid and gid `n` with effective and saved ids 0: keeps root's capabilities while
    /// `uid` (the real uid `bpf_get_current_uid_gid` gives) is `n`. Lets a test show that a
    /// rule's `uid != 0` decides, where a plain user would fail the kernel's own checks.
    RealUser(u32),
}

/// `None`: root; `Some(uid)`: that user, as [`run_as`] and [`open_as`] take it.
impl From<Option<u32>> for Identity {
    fn from(uid: Option<u32>) -> Identity {
        uid.map_or(Identity::Root, Identity::User)
    }
}

/// Async-signal-safe part of [`call_as`]: cgroup first, then the identity.
fn become_identity(procs: Option<&CStr>, who: Identity) -> io::Result<()> {
    match who {
        Identity::Root => join_and_drop(procs, None),
        Identity::User(uid) => join_and_drop(procs, Some(uid)),
        Identity::RealUser(uid) => {
            join_and_drop(procs, None)?;
            // SAFETY: plain syscalls; the gids first, while still allowed to.
            if unsafe { libc::setresgid(uid, 0, 0) } != 0
                || unsafe { libc::setresuid(uid, 0, 0) } != 0
            {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        }
    }
}

/// Runs `call` in a forked child that first joins `cgroup` (None: stays in the test's cgroup)
/// and becomes `who`. `call` returns the raw result of a system call (negative means failed,
/// with `errno` set) and must only make async-signal-safe calls and not allocate. `Ok(value)`
/// when the call succeeded, `Err(e)` with `e.raw_os_error()` its errno when it failed;
/// failing to join or to change identity is an error of kind `Other`.
pub fn call_as(
    who: Identity,
    cgroup: Option<&Cgroup>,
    call: impl FnOnce() -> libc::c_long,
) -> io::Result<libc::c_long> {
    let procs = cgroup.map(Cgroup::procs_file);
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: fds has room for two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let [rd, wr] = fds;
    // SAFETY: the child only makes async-signal-safe calls and leaves with _exit.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        let err = io::Error::last_os_error();
        // SAFETY: both are our descriptors.
        unsafe {
            libc::close(rd);
            libc::close(wr);
        }
        return Err(err);
    }
    if pid == 0 {
        // Child: report (stage, value) through the pipe. 0 = the call succeeded with value,
        // 1 = setup failed with errno value, 2 = the call failed with errno value.
        let report = |stage: i64, value: i64| -> ! {
            let mut msg = [0u8; 16];
            msg[..8].copy_from_slice(&stage.to_ne_bytes());
            msg[8..].copy_from_slice(&value.to_ne_bytes());
            // SAFETY: wr is the pipe's write end; _exit never returns.
            unsafe {
                libc::write(wr, msg.as_ptr().cast(), msg.len());
                libc::_exit(0)
            }
        };
        if let Err(e) = become_identity(procs.as_deref(), who) {
            report(1, i64::from(e.raw_os_error().unwrap_or(0)));
        }
        let r = call();
        if r < 0 {
            report(
                2,
                i64::from(io::Error::last_os_error().raw_os_error().unwrap_or(0)),
            );
        }
        report(0, r);
    }
    // SAFETY: wr is ours; the child has its own copy.
    unsafe { libc::close(wr) };
    let mut msg = [0u8; 16];
    let mut got = 0;
    while got < msg.len() {
        // SAFETY: reading into the unfilled tail of msg.
        let n = unsafe { libc::read(rd, msg[got..].as_mut_ptr().cast(), msg.len() - got) };
        if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
            continue;
        }
        if n <= 0 {
            break;
        }
        got += n as usize;
    }
    let mut status = 0;
    // SAFETY: rd is ours; pid is our child.
    unsafe {
        libc::close(rd);
        libc::waitpid(pid, &mut status, 0);
    }
    if got < msg.len() {
        return Err(io::Error::other(format!(
            "call_as child reported nothing (wait status {status:#x})"
        )));
    }
    let stage = i64::from_ne_bytes(msg[..8].try_into().expect("8 bytes"));
    let value = i64::from_ne_bytes(msg[8..].try_into().expect("8 bytes"));
    match stage {
        0 => Ok(value),
        2 => Err(io::Error::from_raw_os_error(value as i32)),
        _ => Err(io::Error::other(format!(
            "call_as: joining the cgroup or becoming {who:?} failed: {}",
            io::Error::from_raw_os_error(value as i32)
        ))),
    }
}

/// Asserts that `result` (from [`call_as`]) is a call refused with `errno`.
#[track_caller]
pub fn assert_call_denied(result: io::Result<libc::c_long>, errno: i32, what: &str) {
    match result {
        Err(e) if e.raw_os_error() == Some(errno) => {}
        Err(e) => panic!("{what}: expected the call to fail with errno {errno}, got {e}"),
        Ok(v) => {
            panic!("{what}: expected the call to fail with errno {errno}, but it returned {v}")
        }
    }
}

/// Asserts that `result` (from [`call_as`]) is a call that succeeded.
#[track_caller]
pub fn assert_call_ok(result: io::Result<libc::c_long>, what: &str) -> libc::c_long {
    match result {
        Ok(v) => v,
        Err(e) => panic!("{what}: expected the call to succeed, got {e}"),
    }
}

/// Asserts that `result` (from [`call_as`]) failed with some errno other than `not` (the
/// kernel's own error for an operation that cannot succeed in a guest, not the rule's).
#[track_caller]
pub fn assert_call_fails_not_with(result: io::Result<libc::c_long>, not: i32, what: &str) -> i32 {
    match result {
        Err(e) if e.kind() != io::ErrorKind::Other || e.raw_os_error().is_some() => {
            let errno = e.raw_os_error().unwrap_or(0);
            assert_ne!(
                errno, not,
                "{what}: failed with errno {errno}, the rule's errno"
            );
            assert_ne!(errno, 0, "{what}: failed without an errno: {e}");
            errno
        }
        Err(e) => panic!("{what}: setup failed: {e}"),
        Ok(v) => panic!("{what}: expected the kernel to refuse the call, but it returned {v}"),
    }
}

/// A process that does nothing but wait to be killed, under a chosen name (`comm`), as root
/// in the test's cgroup. Killed and reaped on drop.
pub struct Sleeper {
    pid: libc::pid_t,
}

impl Sleeper {
    /// `name` is at most 15 bytes (TASK_COMM_LEN - 1).
    pub fn new(name: &str) -> Sleeper {
        assert!(name.len() < 16 && !name.contains('\0'));
        let mut comm = [0u8; 16];
        comm[..name.len()].copy_from_slice(name.as_bytes());
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: fds has room for two descriptors.
        assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        // SAFETY: the child only makes async-signal-safe calls and never returns.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork: {}", io::Error::last_os_error());
        if pid == 0 {
            // SAFETY: comm is NUL terminated; pause and _exit never return into Rust code
            // that could unwind.
            unsafe {
                libc::prctl(libc::PR_SET_NAME, comm.as_ptr());
                libc::close(fds[0]);
                libc::write(fds[1], b"r".as_ptr().cast(), 1);
                loop {
                    libc::pause();
                }
            }
        }
        let mut byte = 0u8;
        // SAFETY: reading one byte from our pipe end; the child has written it once named.
        unsafe {
            libc::close(fds[1]);
            libc::read(fds[0], (&mut byte as *mut u8).cast(), 1);
            libc::close(fds[0]);
        }
        Sleeper { pid }
    }

    pub fn pid(&self) -> libc::pid_t {
        self.pid
    }

    /// Whether the process is still there (not yet killed; a zombie counts as gone).
    pub fn alive(&self) -> bool {
        let mut status = 0;
        // SAFETY: pid is our child; WNOHANG does not block.
        let r = unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG) };
        r == 0
    }
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        // SAFETY: pid is our child (or already reaped, then these fail harmlessly).
        unsafe {
            libc::kill(self.pid, libc::SIGKILL);
            libc::waitpid(self.pid, std::ptr::null_mut(), 0);
        }
    }
}

// ------------------------------------------------------------------- network

/// Brings the loopback interface up (a fresh guest may have it down), as `ip link set lo up`.
pub fn loopback_up() {
    // struct ifreq: 16 bytes of name, then a union whose first member for SIOC[GS]IFFLAGS is
    // `short ifr_flags`; 40 bytes in all on 64-bit Linux.
    let mut ifreq = [0u8; 40];
    ifreq[..2].copy_from_slice(b"lo");
    // SAFETY: plain socket and ioctl calls on a buffer the size of struct ifreq.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0, "socket: {}", io::Error::last_os_error());
        let got = libc::ioctl(fd, libc::SIOCGIFFLAGS, ifreq.as_mut_ptr());
        assert_eq!(got, 0, "SIOCGIFFLAGS lo: {}", io::Error::last_os_error());
        let flags = i16::from_ne_bytes([ifreq[16], ifreq[17]]) | libc::IFF_UP as i16;
        ifreq[16..18].copy_from_slice(&flags.to_ne_bytes());
        let set = libc::ioctl(fd, libc::SIOCSIFFLAGS, ifreq.as_mut_ptr());
        assert_eq!(set, 0, "SIOCSIFFLAGS lo: {}", io::Error::last_os_error());
        libc::close(fd);
    }
}

/// An IPv4 or IPv6 socket address for the socket calls of [`call_as`] closures.
#[derive(Clone, Copy)]
pub enum SockAddr {
    V4(libc::sockaddr_in),
    V6(libc::sockaddr_in6),
}

impl SockAddr {
    pub fn v4(addr: [u8; 4], port: u16) -> SockAddr {
        // SAFETY: all-zero is a valid sockaddr_in.
        let mut sa: libc::sockaddr_in = unsafe { std::mem::zeroed() };
        sa.sin_family = libc::AF_INET as libc::sa_family_t;
        sa.sin_port = port.to_be();
        sa.sin_addr.s_addr = u32::from_ne_bytes(addr);
        SockAddr::V4(sa)
    }

    pub fn v6(addr: std::net::Ipv6Addr, port: u16) -> SockAddr {
        // SAFETY: all-zero is a valid sockaddr_in6.
        let mut sa: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
        sa.sin6_family = libc::AF_INET6 as libc::sa_family_t;
        sa.sin6_port = port.to_be();
        sa.sin6_addr.s6_addr = addr.octets();
        SockAddr::V6(sa)
    }

    pub fn family(&self) -> libc::c_int {
        match self {
            SockAddr::V4(_) => libc::AF_INET,
            SockAddr::V6(_) => libc::AF_INET6,
        }
    }

    /// The pointer and length for bind(2) and connect(2).
    pub fn raw(&self) -> (*const libc::sockaddr, libc::socklen_t) {
        match self {
            SockAddr::V4(sa) => (
                (sa as *const libc::sockaddr_in).cast(),
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            ),
            SockAddr::V6(sa) => (
                (sa as *const libc::sockaddr_in6).cast(),
                std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
            ),
        }
    }
}
