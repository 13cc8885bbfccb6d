//! Pinned policies: `krsic load --pin` keeps a policy enforced after krsic exits, `krsic list`
//! shows it, `krsic follow` streams its reports, `krsic unload` lifts it, and loading a policy
//! of the same name replaces it with no moment where neither is enforced. Every test pins into
//! a private bpffs mount, never the guest's /sys/fs/bpf.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use compiler::codegen::VERSION_FLAGS;
use kernel_tests::{
    assert_call_denied, assert_call_ok, assert_exec_denied, assert_open_denied, assert_opened,
    assert_ran, call_as, dir_with_true, krsic_run, lsm_program_ids, open_as, require_guest, run_as,
    wait_lsm_programs_gone, Bpffs, Cgroup, Identity, Policy, TempDir, USER,
};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::process::ExitStatus;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// `krsic load --pin --bpffs B [--cgroup CG] FILE`, which must exit 0.
fn pin(file: &Path, bpffs: &Bpffs, cgroup: Option<&Cgroup>) -> String {
    let (status, _, stderr) = pin_attempt(file, bpffs, cgroup);
    assert!(
        status.success(),
        "krsic load --pin failed ({status}):\n{stderr}"
    );
    stderr
}

fn pin_attempt(
    file: &Path,
    bpffs: &Bpffs,
    cgroup: Option<&Cgroup>,
) -> (ExitStatus, String, String) {
    let mut args = vec![
        "load".to_string(),
        "--pin".into(),
        "--bpffs".into(),
        bpffs.path().display().to_string(),
    ];
    if let Some(cg) = cgroup {
        args.push("--cgroup".into());
        args.push(cg.path().display().to_string());
    }
    args.push(file.display().to_string());
    krsic_run(&args)
}

fn list(bpffs: &Bpffs) -> Vec<Value> {
    let bpffs = bpffs.path().display().to_string();
    let (status, stdout, stderr) = krsic_run(&["list", "--json", "--bpffs", &bpffs]);
    assert!(status.success(), "krsic list failed ({status}):\n{stderr}");
    let listed: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("krsic list --json is not JSON ({e}):\n{stdout}"));
    listed.as_array().expect("a JSON array").clone()
}

fn unload(name: &str, bpffs: &Bpffs) {
    let bpffs = bpffs.path().display().to_string();
    let (status, _, stderr) = krsic_run(&["unload", name, "--bpffs", &bpffs]);
    assert!(
        status.success(),
        "krsic unload {name} failed ({status}):\n{stderr}"
    );
}

fn sha256_of(file: &Path) -> String {
    let digest = Sha256::digest(std::fs::read(file).expect("read the policy"));
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Sets `kernel.bpf_stats_enabled` for the life of the guard, so the kernel counts runs.
struct BpfStats;

impl BpfStats {
    fn enable() -> BpfStats {
        std::fs::write("/proc/sys/kernel/bpf_stats_enabled", "1").expect("enable bpf stats");
        BpfStats
    }
}

impl Drop for BpfStats {
    fn drop(&mut self) {
        let _ = std::fs::write("/proc/sys/kernel/bpf_stats_enabled", "0");
    }
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn a_pinned_policy_outlives_krsic_until_unloaded() {
    require_guest();
    let baseline = lsm_program_ids().expect("list BPF programs");
    let bpffs = Bpffs::new();
    let (dir, exe) = dir_with_true();
    let cg = Cgroup::new();
    let policy_dir = TempDir::new();
    let file = policy_dir.write(
        "keep.krsi",
        format!(
            "policy keep\ndeny exec where path ~ \"{}/**\" and uid != 0\n",
            dir.path().display()
        ),
        0o644,
    );
    let stats = BpfStats::enable();
    let said = pin(&file, &bpffs, Some(&cg));
    assert!(said.contains("pinned"), "{said}");

    // krsic has exited; the kernel keeps enforcing.
    assert_exec_denied(
        run_as(&exe, &[], Some(USER), Some(&cg)),
        libc::EPERM,
        "uid 1000 in the cgroup, krsic gone",
    );
    assert_ran(run_as(&exe, &[], Some(USER), None), "outside the cgroup");

    let listed = list(&bpffs);
    assert_eq!(listed.len(), 1, "{listed:#?}");
    let entry = &listed[0];
    assert_eq!(entry["name"], "keep");
    assert_eq!(entry["sha256"], sha256_of(&file));
    assert_eq!(
        entry["compiler"],
        concat!("krsic ", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(entry["mode"], "enforce");
    assert_eq!(
        entry["dropped"],
        serde_json::json!({"ring_full": 0, "rate_limited": 0}),
        "one denial sends its report"
    );
    assert_eq!(entry["cgroup"], cg.path().display().to_string());
    let loaded_at = entry["loaded_at"].as_str().expect("a load time");
    assert!(
        loaded_at.ends_with('Z') && loaded_at.len() >= 20,
        "{loaded_at}"
    );
    let programs = entry["programs"].as_array().expect("programs");
    assert_eq!(programs.len(), 1, "{programs:#?}");
    assert_eq!(programs[0]["hook"], "bprm_check_security");
    let id = programs[0]["program_id"].as_u64().expect("a program id") as u32;
    assert!(
        lsm_program_ids().expect("list BPF programs").contains(&id),
        "program {id} is not loaded"
    );
    // At least the denied exec above and the one outside the cgroup ran the program.
    assert!(entry["run_counts_enabled"].as_bool().unwrap_or(false));
    assert!(
        programs[0]["run_count"].as_u64().unwrap_or(0) >= 2,
        "{programs:#?}"
    );
    drop(stats);

    // A foreground load may not run beside a pinned policy of the same name.
    let (status, _, stderr) = krsic_run(&[
        "load".to_string(),
        "--bpffs".into(),
        bpffs.path().display().to_string(),
        file.display().to_string(),
    ]);
    assert!(!status.success(), "a second `keep` loaded:\n{stderr}");
    assert!(stderr.contains("is pinned"), "{stderr}");

    unload("keep", &bpffs);
    assert_ran(
        run_as(&exe, &[], Some(USER), Some(&cg)),
        "uid 1000 in the cgroup after unload",
    );
    assert!(list(&bpffs).is_empty());
    let left = wait_lsm_programs_gone(&baseline);
    assert!(left.is_empty(), "LSM programs {left:?} stayed loaded");

    let (status, _, stderr) = krsic_run(&[
        "unload".to_string(),
        "keep".into(),
        "--bpffs".into(),
        bpffs.path().display().to_string(),
    ]);
    assert!(!status.success());
    assert!(
        stderr.contains("no policy named `keep` is pinned"),
        "{stderr}"
    );
}

/// Sets its flag when dropped, also while unwinding.
struct SetOnDrop<'a>(&'a AtomicBool);

impl Drop for SetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn replacing_a_pinned_policy_leaves_no_gap() {
    require_guest();
    let baseline = lsm_program_ids().expect("list BPF programs");
    let bpffs = Bpffs::new();
    let (dir, exe) = dir_with_true();
    let cg = Cgroup::new();
    let policy_dir = TempDir::new();
    // Two versions that deny the same exec with different errnos, so each attempt shows
    // which version refused it.
    let version = |errno: &str| {
        format!(
            "policy gapless\ndeny exec where path ~ \"{}/**\" and uid != 0 errno {errno}\n",
            dir.path().display()
        )
    };
    let v1 = policy_dir.write("v1.krsi", version("EPERM"), 0o644);
    let v2 = policy_dir.write("v2.krsi", version("EACCES"), 0o644);
    pin(&v1, &bpffs, Some(&cg));

    let stop = AtomicBool::new(false);
    let seen = std::thread::scope(|scope| {
        let attempts = scope.spawn(|| {
            let mut seen = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                seen.push(run_as(&exe, &[], Some(USER), Some(&cg)));
            }
            seen
        });
        // Stops the loop also when a replacement fails the test, so the scope can end.
        let stopper = SetOnDrop(&stop);
        for (round, file) in [&v2, &v1, &v2].into_iter().enumerate() {
            let said = pin(file, &bpffs, Some(&cg));
            assert!(said.contains("without a gap"), "round {round}: {said}");
            std::thread::sleep(Duration::from_millis(300));
        }
        drop(stopper);
        attempts.join().expect("the exec loop")
    });

    let mut errnos = Vec::new();
    for (i, attempt) in seen.iter().enumerate() {
        match attempt {
            Err(e) if matches!(e.raw_os_error(), Some(libc::EPERM) | Some(libc::EACCES)) => {
                errnos.push(e.raw_os_error().unwrap_or(0));
            }
            other => panic!("attempt {i} of {} was not denied: {other:?}", seen.len()),
        }
    }
    assert!(seen.len() >= 4, "only {} attempts", seen.len());
    assert!(
        errnos.contains(&libc::EPERM) && errnos.contains(&libc::EACCES),
        "both versions enforced in turn: {errnos:?}"
    );
    let listed = list(&bpffs);
    assert_eq!(listed.len(), 1, "{listed:#?}");
    assert_eq!(listed[0]["sha256"], sha256_of(&v2));
    // The fourth version, alone: unflagged, its programs do not read the gate.
    let version = pinned_map(&bpffs.path().join("krsi/gapless/version"));
    assert_eq!(word(version), 4, "version 4, unflagged");
    // SAFETY: our descriptor.
    unsafe { libc::close(version) };
    unload("gapless", &bpffs);
    let left = wait_lsm_programs_gone(&baseline);
    assert!(left.is_empty(), "LSM programs {left:?} stayed loaded");
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn a_failed_replacement_leaves_the_old_policy_enforced() {
    require_guest();
    let baseline = lsm_program_ids().expect("list BPF programs");
    let bpffs = Bpffs::new();
    let (dir, exe) = dir_with_true();
    let cg = Cgroup::new();
    let policy_dir = TempDir::new();
    let source = format!(
        "policy sturdy\ndeny exec where path ~ \"{}/**\" and uid != 0\n",
        dir.path().display()
    );
    let v1 = policy_dir.write("v1.krsi", &source, 0o644);
    pin(&v1, &bpffs, Some(&cg));
    let before = list(&bpffs);

    // The new version names a cgroup that does not exist: its load fails after the old
    // version was found replaceable.
    let gone = Cgroup::new();
    let gone_path = gone.path().to_path_buf();
    drop(gone);
    let v2 = policy_dir.write("v2.krsi", format!("{source}audit open\n"), 0o644);
    let mut args = vec![
        "load".to_string(),
        "--pin".into(),
        "--bpffs".into(),
        bpffs.path().display().to_string(),
        "--cgroup".into(),
        gone_path.display().to_string(),
    ];
    args.push(v2.display().to_string());
    let (status, _, stderr) = krsic_run(&args);
    assert!(!status.success(), "the replacement loaded:\n{stderr}");
    assert!(stderr.contains("cgroup"), "{stderr}");

    assert_exec_denied(
        run_as(&exe, &[], Some(USER), Some(&cg)),
        libc::EPERM,
        "the old version still enforced",
    );
    let after = list(&bpffs);
    assert_eq!(before, after, "the pinned policy changed");
    // Flagged while the new version was staged, unflagged again once it failed.
    let version = pinned_map(&bpffs.path().join("krsi/sturdy/version"));
    assert_eq!(word(version), 1, "version 1, unflagged");
    // SAFETY: our descriptor.
    unsafe { libc::close(version) };
    unload("sturdy", &bpffs);
    let left = wait_lsm_programs_gone(&baseline);
    assert!(left.is_empty(), "LSM programs {left:?} stayed loaded");
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn follow_streams_the_reports_of_a_pinned_policy() {
    require_guest();
    let bpffs = Bpffs::new();
    let (dir, exe) = dir_with_true();
    let cg = Cgroup::new();
    let policy_dir = TempDir::new();
    let file = policy_dir.write(
        "watched.krsi",
        format!(
            "# a pinned policy followed later\ndeny exec where path ~ \"{}/**\" and uid != 0\n",
            dir.path().display()
        ),
        0o644,
    );
    pin(&file, &bpffs, Some(&cg));
    let follower = Policy::follow("watched", &bpffs);
    assert_exec_denied(
        run_as(&exe, &[], Some(USER), Some(&cg)),
        libc::EPERM,
        "uid 1000 in the cgroup",
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while follower.events().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    let lines = follower.events();
    follower.stop();
    assert_eq!(lines.len(), 1, "exactly one report: {lines:#?}");
    let report: Value = serde_json::from_str(&lines[0]).expect("a JSON report");
    assert_eq!(report["policy"], "watched");
    assert_eq!(report["action"], "deny");
    assert_eq!(report["event"], "exec");
    assert_eq!(report["rule"]["line"], 2);
    assert_eq!(report["process"]["uid"], USER);
    // Following does not lift the policy.
    assert_exec_denied(
        run_as(&exe, &[], Some(USER), Some(&cg)),
        libc::EPERM,
        "after follow stopped",
    );
    unload("watched", &bpffs);
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn pin_errors_name_the_fix() {
    require_guest();
    let baseline = lsm_program_ids().expect("list BPF programs");
    let policy_dir = TempDir::new();
    let file_ok = policy_dir.write(
        "legacy.krsi",
        "policy legacy\naudit open where path == \"/nonexistent\"\n",
        0o644,
    );

    // No bpffs where pins were asked for.
    let plain = TempDir::new();
    let (status, _, stderr) = krsic_run(&[
        "load".to_string(),
        "--pin".into(),
        "--bpffs".into(),
        plain.path().display().to_string(),
        file_ok.display().to_string(),
    ]);
    assert!(!status.success());
    assert!(stderr.contains("mount -t bpf bpf"), "{stderr}");

    // A directory of that name that krsic did not write (another version, or something
    // else): left alone, with the way out named.
    let bpffs = Bpffs::new();
    std::fs::create_dir_all(bpffs.path().join("krsi/legacy")).expect("mkdir in bpffs");
    let (status, _, stderr) = pin_attempt(&file_ok, &bpffs, None);
    assert!(!status.success(), "replaced a foreign pin:\n{stderr}");
    assert!(stderr.contains("another version of krsic"), "{stderr}");
    assert!(stderr.contains("krsic unload legacy"), "{stderr}");
    let left = wait_lsm_programs_gone(&baseline);
    assert!(left.is_empty(), "a refused pin left LSM programs {left:?}");
    unload("legacy", &bpffs);
    assert!(!bpffs.path().join("krsi/legacy").exists());
}

// ----------------------------------------------------------------- The handover

/// bpf(2) commands (include/uapi/linux/bpf.h).
const BPF_MAP_LOOKUP_ELEM: libc::c_long = 1;
const BPF_MAP_UPDATE_ELEM: libc::c_long = 2;
const BPF_MAP_GET_NEXT_KEY: libc::c_long = 4;
const BPF_OBJ_GET: libc::c_long = 7;

/// A map command on `fd`: `union bpf_attr`'s map_fd, key, value (or next_key) and flags.
/// Async-signal-safe, so a forked child may call it. Negative when it failed (errno set).
fn map_command(cmd: libc::c_long, fd: libc::c_int, key: *const u8, value: *mut u8) -> libc::c_long {
    let mut attr = [0u64; 4];
    attr[0] = fd as u32 as u64;
    attr[1] = key as u64;
    attr[2] = value as u64;
    // SAFETY: attr is a valid bpf_attr prefix for map commands; key and value point to
    // buffers of the map's key and value sizes, or are NULL where the command allows it.
    unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr.as_ptr(),
            std::mem::size_of_val(&attr),
        )
    }
}

/// The pinned map at `path`, opened (BPF_OBJ_GET).
fn pinned_map(path: &Path) -> libc::c_int {
    let name = kernel_tests::c_path(path);
    let mut attr = [0u64; 2];
    attr[0] = name.as_ptr() as u64;
    // SAFETY: attr is bpf_attr's pathname, bpf_fd and file_flags (0), and name outlives it.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_OBJ_GET,
            attr.as_ptr(),
            std::mem::size_of_val(&attr),
        )
    };
    assert!(
        fd >= 0,
        "BPF_OBJ_GET {}: {}",
        path.display(),
        std::io::Error::last_os_error()
    );
    fd as libc::c_int
}

/// Index 0 of a pinned one-entry `u64` array (the gate, a version word): looked up
/// (`BPF_MAP_LOOKUP_ELEM`, into `word`) or updated (`BPF_MAP_UPDATE_ELEM`, from it).
fn array_word(cmd: libc::c_long, fd: libc::c_int, word: &mut u64) {
    let key = 0u32;
    let r = map_command(cmd, fd, (&raw const key).cast(), (word as *mut u64).cast());
    assert_eq!(
        r,
        0,
        "bpf command {cmd}: {}",
        std::io::Error::last_os_error()
    );
}

fn word(fd: libc::c_int) -> u64 {
    let mut word = 0;
    array_word(BPF_MAP_LOOKUP_ELEM, fd, &mut word);
    word
}

fn set_word(fd: libc::c_int, mut word: u64) {
    array_word(BPF_MAP_UPDATE_ELEM, fd, &mut word);
}

/// Whether the hash map `fd` has no entry.
fn is_empty(fd: libc::c_int) -> bool {
    let mut next = 0u64;
    map_command(
        BPF_MAP_GET_NEXT_KEY,
        fd,
        std::ptr::null(),
        (&raw mut next).cast(),
    ) < 0
}

/// The race a replacement must survive, made to happen on purpose. The kernel runs a hook's
/// newer program first, and each program reads the gate when it runs; when the commit falls
/// between the two reads of one event, the staged program read the old number and allowed,
/// and the retired one reads the new number. The handover makes the retired one decide
/// then. The test stops a replacement before its commit (the new version attached, staged),
/// then plays both halves: the commit itself (gate written by hand), and the entry the staged
/// program leaves when it read the old number (written by the probing process itself, under
/// its own thread id, right before its open).
#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn an_older_version_decides_the_event_a_newer_one_read_it_would() {
    require_guest();
    let baseline = lsm_program_ids().expect("list BPF programs");
    let bpffs = Bpffs::new();
    let files = TempDir::new();
    let (old_file, new_file) = (
        files.write("old_file", "data", 0o644),
        files.write("new_file", "data", 0o644),
    );
    let source = |file: &Path, errno: &str| {
        format!(
            "policy handover\ndeny open where path == \"{}\" errno {errno}\n",
            file.display()
        )
    };
    let v1 = files.write("v1.krsi", source(&old_file, "EACCES"), 0o644);
    let v2 = files.write("v2.krsi", source(&new_file, "EPERM"), 0o644);
    pin(&v1, &bpffs, None);
    // The replacement dies with every pin of the new version written, before its commit.
    let output = std::process::Command::new(kernel_tests::krsic())
        .args(["load", "--pin", "--bpffs"])
        .arg(bpffs.path())
        .arg(&v2)
        .env("KRSI_CRASH_AT", "record")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run krsic");
    assert!(!output.status.success(), "{output:?}");
    let dir = bpffs.path().join("krsi/handover");
    let (gate, version, handover) = (
        pinned_map(&dir.join("gate")),
        pinned_map(&dir.join("version")),
        pinned_map(&dir.join("handover")),
    );
    let new_version = pinned_map(&bpffs.path().join("krsi/_new_handover/version"));
    assert_eq!(
        word(version),
        1 | VERSION_FLAGS,
        "version 1, flagged: a newer one is staged"
    );
    assert_eq!(
        word(new_version),
        2 | VERSION_FLAGS,
        "version 2, made flagged"
    );
    let open = |file: &Path| open_as(file, libc::O_RDONLY, Identity::Root, None);

    // Staged: the old version decides; the entries the new one leaves are taken.
    assert_open_denied(open(&old_file), libc::EACCES, "staged: the old file");
    assert_opened(open(&new_file), "staged: the new file");
    assert!(is_empty(handover), "every entry taken within its event");

    // The commit.
    set_word(gate, 2);
    assert_opened(open(&old_file), "committed: the old file");
    assert_open_denied(open(&new_file), libc::EPERM, "committed: the new file");

    // The commit between the two programs of one event: the newer one read 1, allowed, and
    // left its entry. Here it runs after the commit, so it is made to run as one that has
    // no entry to take (unflagged: it decides by its own rules, which allow the old file,
    // and leaves the map alone); flagged, it would take the entry written for the older one.
    set_word(new_version, 2);
    let opened_after_entry = |read: u64| {
        let path = kernel_tests::c_path(&old_file);
        call_as(Identity::Root, None, || {
            // SAFETY: plain system calls.
            let me = unsafe { libc::getpid() } as u64;
            let key = me << 32 | me;
            let mut entry = [2u64, read];
            if map_command(
                BPF_MAP_UPDATE_ELEM,
                handover,
                (&raw const key).cast(),
                entry.as_mut_ptr().cast(),
            ) < 0
            {
                return -1;
            }
            // SAFETY: path is NUL-terminated.
            let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
            if fd >= 0 {
                // SAFETY: fd was just opened.
                unsafe { libc::close(fd) };
            }
            libc::c_long::from(fd.min(0))
        })
    };
    assert_call_denied(
        opened_after_entry(1),
        libc::EACCES,
        "the newer program read 1",
    );
    assert!(is_empty(handover), "the retired program took the entry");
    assert_call_ok(opened_after_entry(2), "the newer program read 2");
    assert!(is_empty(handover), "taken as well");

    for fd in [gate, version, new_version, handover] {
        // SAFETY: our descriptors.
        unsafe { libc::close(fd) };
    }
    // The next command finishes the commit it finds, then unloads.
    unload("handover", &bpffs);
    assert!(list(&bpffs).is_empty());
    let left = wait_lsm_programs_gone(&baseline);
    assert!(left.is_empty(), "LSM programs {left:?} stayed loaded");
}
