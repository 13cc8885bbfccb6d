//! Pinned policies: `krsic load --pin` keeps a policy enforced after krsic exits, `krsic list`
//! shows it, `krsic follow` streams its reports, `krsic unload` lifts it, and loading a policy
//! of the same name replaces it with no moment where neither is enforced. Every test pins into
//! a private bpffs mount, never the guest's /sys/fs/bpf.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use kernel_tests::{
    assert_exec_denied, assert_ran, dir_with_true, krsic_run, lsm_program_ids, require_guest,
    run_as, wait_lsm_programs_gone, Bpffs, Cgroup, Policy, TempDir, USER,
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
