//! `krsic doctor` in a real guest: with `bpf` in `lsm=` it loads a program and says ready;
//! booted without it (`KRSI_GUEST_LSM=lockdown,capability,landlock,yama tests/guest/run --test
//! doctor`, which `scripts/test-all` runs) it names the missing piece and the GRUB line that
//! adds `bpf` to the LSMs now active, in their order.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use kernel_tests::{active_lsms, krsic, require_guest};
use serde_json::Value;

fn doctor() -> (bool, Value) {
    let out = std::process::Command::new(krsic())
        .args(["doctor", "--json"])
        .output()
        .expect("krsic runs");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "doctor --json printed no JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.success(), report)
}

fn check<'r>(report: &'r Value, name: &str) -> &'r Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == name)
        .unwrap_or_else(|| panic!("no `{name}` check in {report}"))
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn doctor_tells_whether_this_kernel_can_enforce() {
    require_guest();
    let active = active_lsms().expect("read /sys/kernel/security/lsm");
    let (success, report) = doctor();
    if active.iter().any(|l| l == "bpf") {
        assert!(success, "{report:#}");
        assert_eq!(report["ready"], true, "{report:#}");
        assert_eq!(check(&report, "lsm")["status"], "ok");
        assert_eq!(check(&report, "load")["status"], "ok", "{report:#}");
        assert_eq!(check(&report, "btf")["status"], "ok");
    } else {
        assert!(!success, "{report:#}");
        assert_eq!(report["ready"], false, "{report:#}");
        let lsm = check(&report, "lsm");
        assert_eq!(lsm["status"], "problem", "{report:#}");
        let fix = lsm["fix"].as_str().unwrap();
        // The `lsm=` parameter's order when the kernel was booted with one (the kernel adds
        // LSMs that are always on, such as ima and evm on 6.12, to the active list), else
        // the active list's.
        let cmdline = std::fs::read_to_string("/proc/cmdline").unwrap();
        let order = cmdline
            .split_whitespace()
            .find_map(|arg| arg.strip_prefix("lsm="))
            .map_or_else(|| active.join(","), String::from);
        let expected = format!("lsm={order},bpf\"");
        assert!(fix.contains("GRUB_CMDLINE_LINUX_DEFAULT=\""), "{fix}");
        assert!(fix.contains(&expected), "{fix} lacks {expected}");
        assert!(
            fix.contains("update-grub") && fix.contains("reboot"),
            "{fix}"
        );
        // Nothing was loaded: the load is known to fail.
        assert_eq!(check(&report, "load")["status"], "note", "{report:#}");
    }
}
