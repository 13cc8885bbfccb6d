//! Crash safety of pinned policies: `krsic load --pin` (a fresh load and a replacement) and
//! `krsic unload` are killed (`KRSI_CRASH_AT`, SIGKILL) after each of their steps in turn.
//! After every death exactly one complete version is enforced — the old one when krsic died
//! before its commit, the new one after — never neither, never a mix; `krsic list` says which;
//! and running the same command again finishes the job and leaves no staging or retired pins.
//! Two krsic processes racing on the same name never leave a mix either.
//!
//! Each version has two programs (exec and open), so a half-enforced version would show: the
//! probes check both hooks of both versions every time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use kernel_tests::{
    krsic, krsic_run, lsm_program_ids, open_as, require_guest, run_as, wait_lsm_programs_gone,
    Bpffs, TempDir, USER,
};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const NAME: &str = "crashy";

/// Which version of the policy the kernel enforces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Version {
    Nothing,
    A,
    B,
}

/// Two versions of one policy, each denying (to uid 1000) one exec and one open of its own.
struct Versions {
    dir: TempDir,
    a: PathBuf,
    b: PathBuf,
}

impl Versions {
    fn new() -> Versions {
        let dir = TempDir::new();
        for name in ["exec_a", "exec_b"] {
            dir.copy("/bin/true", name, 0o755);
        }
        for name in ["file_a", "file_b"] {
            dir.write(name, "data", 0o644);
        }
        let source = |v: &str| {
            format!(
                "policy {NAME}\n\
                 deny exec where path == \"{d}/exec_{v}\" and uid != 0 errno EACCES\n\
                 deny open where path == \"{d}/file_{v}\" and uid != 0 errno EACCES\n",
                d = dir.path().display()
            )
        };
        let a = dir.write("a.krsi", source("a"), 0o644);
        let b = dir.write("b.krsi", source("b"), 0o644);
        Versions { dir, a, b }
    }

    fn file(&self, version: Version) -> &Path {
        match version {
            Version::A => &self.a,
            Version::B => &self.b,
            Version::Nothing => panic!("no file for nothing"),
        }
    }

    /// What the kernel enforces, by trying both hooks of both versions as uid 1000; fails the
    /// test on anything but one whole version or nothing.
    fn enforced(&self, what: &str) -> Version {
        let refused = |v: &str| {
            let exec = match run_as(self.dir.join(format!("exec_{v}")), &[], Some(USER), None) {
                Err(e) if e.raw_os_error() == Some(libc::EACCES) => true,
                Ok(status) if status.success() => false,
                other => panic!("{what}: exec_{v}: {other:?}"),
            };
            let open = match open_as(
                self.dir.join(format!("file_{v}")),
                libc::O_RDONLY,
                Some(USER),
                None,
            ) {
                Err(e) if e.raw_os_error() == Some(libc::EACCES) => true,
                Ok(()) => false,
                other => panic!("{what}: file_{v}: {other:?}"),
            };
            (exec, open)
        };
        match (refused("a"), refused("b")) {
            ((false, false), (false, false)) => Version::Nothing,
            ((true, true), (false, false)) => Version::A,
            ((false, false), (true, true)) => Version::B,
            (a, b) => panic!(
                "{what}: a mix is enforced: version a refuses (exec, open) {a:?}, version b {b:?}"
            ),
        }
    }

    /// What `krsic list --json` says is enforced under the name.
    fn listed(&self, bpffs: &Bpffs, what: &str) -> Version {
        let root = bpffs.path().display().to_string();
        let (status, stdout, stderr) = krsic_run(&["list", "--json", "--bpffs", &root]);
        assert!(status.success(), "{what}: krsic list failed:\n{stderr}");
        let listed: Value = serde_json::from_str(&stdout).expect("krsic list --json is JSON");
        let enforced: Vec<&Value> = listed
            .as_array()
            .expect("a JSON array")
            .iter()
            .filter(|e| e["name"] == NAME && e["enforced"] == true)
            .collect();
        match enforced.as_slice() {
            [] => Version::Nothing,
            [entry] => {
                let sha = entry["sha256"].as_str().expect("a sha256");
                if sha == sha256_of(&self.a) {
                    Version::A
                } else if sha == sha256_of(&self.b) {
                    Version::B
                } else {
                    panic!("{what}: listed with an unknown source: {entry:#}")
                }
            }
            more => panic!("{what}: `{NAME}` listed enforced {} times", more.len()),
        }
    }
}

fn sha256_of(file: &Path) -> String {
    let digest = Sha256::digest(std::fs::read(file).expect("read the policy"));
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// What a test does to the name.
#[derive(Clone, Copy, Debug)]
enum Operation {
    Load(Version),
    Unload,
}

/// `krsic` doing `op`, with `KRSI_CRASH_AT=crash_at` when given.
fn krsic_op(versions: &Versions, bpffs: &Bpffs, op: Operation, crash_at: Option<&str>) -> Output {
    let root = bpffs.path().display().to_string();
    let mut cmd = Command::new(krsic());
    match op {
        Operation::Load(v) => cmd
            .args(["load", "--pin", "--bpffs", &root])
            .arg(versions.file(v)),
        Operation::Unload => cmd.args(["unload", NAME, "--bpffs", &root]),
    };
    cmd.env_remove("KRSI_CRASH_AT");
    if let Some(step) = crash_at {
        cmd.env("KRSI_CRASH_AT", step);
    }
    cmd.stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run krsic: {e}"))
}

fn assert_succeeds(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what}: krsic failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The names under krsi's pin directory: after a finished command, at most the policy's own.
fn pin_dirs(bpffs: &Bpffs) -> Vec<String> {
    match std::fs::read_dir(bpffs.path().join("krsi")) {
        Ok(entries) => entries
            .map(|e| {
                e.expect("a directory entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// One cell of the matrix: `before` enforced, `op` dies after `step`; the version enforced
/// must then be `before` if the step comes before the commit and the operation's result after
/// it; re-running `op` must finish it.
fn crash_case(versions: &Versions, before: Version, op: Operation, step: &str, committed: bool) {
    let after = match op {
        Operation::Load(v) => v,
        Operation::Unload => Version::Nothing,
    };
    let what = format!("{op:?} from {before:?}, dying after `{step}`");
    let bpffs = Bpffs::new();
    if before != Version::Nothing {
        assert_succeeds(
            &krsic_op(versions, &bpffs, Operation::Load(before), None),
            &format!("{what}: pinning {before:?} first"),
        );
        assert_eq!(versions.enforced(&what), before, "{what}: before");
    }

    let died = krsic_op(versions, &bpffs, op, Some(step));
    let stderr = String::from_utf8_lossy(&died.stderr);
    assert_eq!(
        died.status.signal(),
        Some(libc::SIGKILL),
        "{what}: krsic did not die at the step ({}):\n{stderr}",
        died.status
    );
    assert!(stderr.contains("dying here"), "{what}:\n{stderr}");
    let expected = if committed { after } else { before };
    assert_eq!(
        versions.enforced(&what),
        expected,
        "{what}: after the death"
    );
    assert_eq!(
        versions.listed(&bpffs, &what),
        expected,
        "{what}: `krsic list` after the death"
    );

    assert_succeeds(
        &krsic_op(versions, &bpffs, op, None),
        &format!("{what}: re-running"),
    );
    assert_eq!(versions.enforced(&what), after, "{what}: after re-running");
    assert_eq!(
        versions.listed(&bpffs, &what),
        after,
        "{what}: `krsic list` after re-running"
    );
    let left = pin_dirs(&bpffs);
    let expected_dirs: Vec<String> = match after {
        Version::Nothing => Vec::new(),
        _ => vec![NAME.to_string()],
    };
    assert_eq!(left, expected_dirs, "{what}: pins left after re-running");
    if after != Version::Nothing {
        assert_succeeds(
            &krsic_op(versions, &bpffs, Operation::Unload, None),
            &format!("{what}: cleaning up"),
        );
    }
}

/// The steps each operation goes through (runtime/src/crash.rs lists them), and whether the
/// commit (the gate update) has happened after each.
const LOAD_STEPS: &[(&str, bool)] = &[
    ("link#1", false),
    ("link#2", false),
    ("maps", false),
    ("record", false),
    ("armed", true),
    ("renamed", true),
];
const REPLACE_STEPS: &[(&str, bool)] = &[
    ("link#1", false),
    ("link#2", false),
    ("maps", false),
    ("record", false),
    ("armed", true),
    ("retired", true),
    ("renamed", true),
    ("removed#1", true),
    ("removed#4", true),
];
const UNLOAD_STEPS: &[(&str, bool)] = &[
    ("disarmed", true),
    ("retired", true),
    ("removed#1", true),
    ("removed#4", true),
];

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn every_death_leaves_exactly_one_complete_version() {
    require_guest();
    let baseline = lsm_program_ids().expect("list BPF programs");
    let versions = Versions::new();
    assert_eq!(versions.enforced("nothing loaded"), Version::Nothing);
    for &(step, committed) in LOAD_STEPS {
        crash_case(
            &versions,
            Version::Nothing,
            Operation::Load(Version::A),
            step,
            committed,
        );
    }
    for &(step, committed) in REPLACE_STEPS {
        crash_case(
            &versions,
            Version::A,
            Operation::Load(Version::B),
            step,
            committed,
        );
    }
    for &(step, committed) in UNLOAD_STEPS {
        crash_case(&versions, Version::A, Operation::Unload, step, committed);
    }
    let left = wait_lsm_programs_gone(&baseline);
    assert!(left.is_empty(), "LSM programs {left:?} stayed loaded");
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn racing_krsic_processes_never_leave_a_mix() {
    require_guest();
    let baseline = lsm_program_ids().expect("list BPF programs");
    let versions = Versions::new();
    let bpffs = Bpffs::new();
    let races = [
        (Operation::Load(Version::A), Operation::Load(Version::B)),
        (Operation::Load(Version::B), Operation::Load(Version::A)),
        (Operation::Load(Version::A), Operation::Unload),
        (Operation::Unload, Operation::Load(Version::B)),
    ];
    for (first, second) in races {
        let what = format!("{first:?} racing {second:?}");
        let (one, two) = std::thread::scope(|scope| {
            let one = scope.spawn(|| krsic_op(&versions, &bpffs, first, None));
            let two = scope.spawn(|| krsic_op(&versions, &bpffs, second, None));
            (
                one.join().expect("first krsic"),
                two.join().expect("second krsic"),
            )
        });
        // An unload may find nothing to unload when it runs first; a load always succeeds.
        for (op, output) in [(first, &one), (second, &two)] {
            if let Operation::Load(_) = op {
                assert_succeeds(output, &format!("{what}: {op:?}"));
            }
        }
        let enforced = versions.enforced(&what);
        assert_eq!(
            versions.listed(&bpffs, &what),
            enforced,
            "{what}: `krsic list`"
        );
        let dirs = pin_dirs(&bpffs);
        assert!(
            dirs.iter().all(|d| d == NAME),
            "{what}: leftover pins {dirs:?}"
        );
        assert_eq!(
            dirs.is_empty(),
            enforced == Version::Nothing,
            "{what}: pins {dirs:?} but {enforced:?} enforced"
        );
    }
    let _ = krsic_op(&versions, &bpffs, Operation::Unload, None);
    drop(bpffs);
    let left = wait_lsm_programs_gone(&baseline);
    assert!(left.is_empty(), "LSM programs {left:?} stayed loaded");
}
