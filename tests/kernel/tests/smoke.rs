//! The guest kernel is one the other tests can run in: BPF LSM is active and BTF is there.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use kernel_tests::{active_lsms, require_guest};
use std::path::Path;

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn bpf_lsm_is_active() {
    require_guest();
    let lsms = active_lsms().expect("read /sys/kernel/security/lsm");
    assert!(
        lsms.iter().any(|l| l == "bpf"),
        "bpf is not in the active LSM list {lsms:?} (boot with lsm=...,bpf)"
    );
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn kernel_has_btf() {
    require_guest();
    let btf = Path::new("/sys/kernel/btf/vmlinux");
    let meta = std::fs::metadata(btf).expect("/sys/kernel/btf/vmlinux exists");
    assert!(meta.is_file());
}
