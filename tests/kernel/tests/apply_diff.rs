//! `krsic apply --dry-run` says what each replacement would change, by meaning, against the
//! pinned version's own source (its record), and changes nothing. Pins go to a private bpffs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use kernel_tests::{
    assert_exec_denied, dir_with_true, krsic_run, lsm_program_ids, require_guest, run_as,
    wait_lsm_programs_gone, Bpffs, TempDir,
};
use libc::EPERM;

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn a_dry_run_shows_what_each_replacement_decides_differently() {
    require_guest();
    let baseline = lsm_program_ids().unwrap();
    let bpffs = Bpffs::new();
    let bpffs_arg = bpffs.path().display().to_string();
    let policies = TempDir::new();
    let dir = policies.path().display().to_string();
    let (bin, truth) = dir_with_true();
    let a = bin.copy(&truth, "a", 0o755);
    let file = policies.path().join("deny-a.krsi");
    std::fs::write(
        &file,
        format!("deny exec where path == \"{}\"\n", a.display()),
    )
    .unwrap();
    let (status, stdout, stderr) = krsic_run(&["apply", &dir, "--bpffs", &bpffs_arg]);
    assert!(status.success(), "{stdout}\n{stderr}");

    // A new errno for `a`, and a new rule on open.
    std::fs::write(
        &file,
        format!(
            "deny exec where path == \"{}\" errno EACCES\ndeny open where path == \"/etc/krsi-diff\"\n",
            a.display()
        ),
    )
    .unwrap();
    let (status, plan, stderr) = krsic_run(&["apply", &dir, "--bpffs", &bpffs_arg, "--dry-run"]);
    assert!(status.success(), "{plan}\n{stderr}");
    assert!(plan.contains("replace deny-a"), "{plan}");
    assert!(
        plan.contains("exec: now denied with EACCES by the rule on line 1 of")
            && plan.contains("was EPERM by the rule on line 1 of the pinned deny-a"),
        "{plan}"
    );
    assert!(
        plan.contains(&format!(
            "e.g. test exec {{ path: \"{}\" }} => deny EACCES (was deny EPERM)",
            a.display()
        )),
        "{plan}"
    );
    assert!(
        plan.contains("open: now denied (EPERM)")
            && plan
                .contains("e.g. test open { path: \"/etc/krsi-diff\" } => deny EPERM (was allow)"),
        "{plan}"
    );
    // A dry run changes nothing: the pinned version still refuses with EPERM.
    assert_exec_denied(run_as(&a, &[], None, None), EPERM, "a after the dry run");

    std::fs::remove_file(&file).unwrap();
    let (status, stdout, stderr) = krsic_run(&["apply", &dir, "--bpffs", &bpffs_arg]);
    assert!(
        status.success() && stdout.contains("1 unloaded"),
        "{stdout}\n{stderr}"
    );
    let left = wait_lsm_programs_gone(&baseline);
    assert!(left.is_empty(), "programs left loaded: {left:?}");
}
