//! Who may see what: a pinned policy's pins (links, report ring buffer, drop counters, gate,
//! handover, record) are reachable by root only. As uid 1000 — even with unprivileged BPF
//! allowed, so that only the file modes can refuse — opening a pinned map with BPF_OBJ_GET
//! fails with EACCES, and `krsic follow` of the policy is refused; root opens the same pins.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use kernel_tests::{
    assert_call_denied, assert_call_ok, c_path, call_as, krsic, krsic_run, require_guest, run_as,
    Bpffs, Identity, TempDir, USER,
};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

const UNPRIVILEGED_BPF: &str = "/proc/sys/kernel/unprivileged_bpf_disabled";
const BPF_OBJ_GET: libc::c_long = 7;

/// Sets `kernel.unprivileged_bpf_disabled` to 0 for the life of the guard, so that a user's
/// bpf() calls reach the pin's permission check instead of stopping at the sysctl.
struct UnprivilegedBpf(String);

impl UnprivilegedBpf {
    fn allow() -> UnprivilegedBpf {
        let old = std::fs::read_to_string(UNPRIVILEGED_BPF).expect("read the sysctl");
        std::fs::write(UNPRIVILEGED_BPF, "0").expect("allow unprivileged bpf()");
        UnprivilegedBpf(old.trim().to_string())
    }
}

impl Drop for UnprivilegedBpf {
    fn drop(&mut self) {
        let _ = std::fs::write(UNPRIVILEGED_BPF, &self.0);
    }
}

/// BPF_OBJ_GET of `path` as `who`: the new descriptor (closed again), or the errno.
fn obj_get_as(who: Identity, path: &Path) -> std::io::Result<libc::c_long> {
    let path = c_path(path);
    // union bpf_attr for BPF_OBJ_GET: pathname, bpf_fd, file_flags (and path_fd, unused).
    let mut attr = [0u8; 24];
    attr[..8].copy_from_slice(&(path.as_ptr() as u64).to_ne_bytes());
    call_as(who, None, || {
        // SAFETY: attr outlives the call and holds a pointer to a NUL-terminated path.
        let fd = unsafe { libc::syscall(libc::SYS_bpf, BPF_OBJ_GET, attr.as_ptr(), attr.len()) };
        if fd >= 0 {
            // SAFETY: fd was just returned to us.
            unsafe { libc::close(fd as libc::c_int) };
        }
        fd
    })
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("stat {}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn pins_and_reports_are_root_only() {
    require_guest();
    let bpffs = Bpffs::new();
    let dir = TempDir::new();
    let file = dir.write(
        "private.krsi",
        format!(
            "policy private\naudit open where path == \"{}/x\"\n",
            dir.path().display()
        ),
        0o644,
    );
    let root = bpffs.path().display().to_string();
    let (status, _, stderr) = krsic_run(&[
        "load",
        "--pin",
        "--bpffs",
        &root,
        &file.display().to_string(),
    ]);
    assert!(status.success(), "krsic load --pin failed:\n{stderr}");

    let krsi = bpffs.path().join("krsi");
    let policy = krsi.join("private");
    assert_eq!(mode(&krsi), 0o700, "krsi's pin root");
    assert_eq!(mode(&policy), 0o700, "the policy's pin directory");
    let pins: Vec<_> = std::fs::read_dir(&policy)
        .expect("read the policy's pins")
        .map(|e| e.expect("an entry").path())
        .collect();
    for pin in &pins {
        assert_eq!(mode(pin), 0o600, "{}", pin.display());
    }
    for name in ["events", "drops", "gate", "version", "handover", "record"] {
        assert!(policy.join(name).exists(), "no `{name}` pin in {pins:?}");
    }

    let _allowed = UnprivilegedBpf::allow();
    for pin in ["events", "record", "gate", "handover"] {
        let path = policy.join(pin);
        // Root opens it: the pin is there and usable.
        assert_call_ok(
            obj_get_as(Identity::Root, &path),
            &format!("root opens {pin}"),
        );
        assert_call_denied(
            obj_get_as(Identity::User(USER), &path),
            libc::EACCES,
            &format!("uid {USER} opens the pinned {pin}"),
        );
    }
    // `krsic follow` as a user: refused, and it printed no report.
    let follow = run_as(
        krsic(),
        &["follow", "private", "--bpffs", &root],
        Some(USER),
        None,
    )
    .expect("run krsic follow as a user");
    assert!(!follow.success(), "krsic follow ran for uid {USER}");

    let (status, _, stderr) = krsic_run(&["unload", "private", "--bpffs", &root]);
    assert!(status.success(), "krsic unload failed:\n{stderr}");
}
