//! The kernel verifier accepts whatever the checker accepts (random policies over every event
//! of the catalog the guest kernel has, loaded but not attached), and a policy whose second
//! program the verifier rejects leaves nothing attached.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use compiler::bpf::{Assembler, Reg, Size};
use compiler::btf::Btf;
use compiler::elf::{read_object, write_object, ProgramSpec};
use compiler::ir::{Scope, Target};
use kernel_tests::{
    assert_ran, dir_with_true, krsic, lsm_program_ids, require_guest, run_as,
    wait_lsm_programs_gone, Cgroup, USER,
};
use std::process::Command;

fn guest_kernel() -> Btf {
    let bytes = std::fs::read("/sys/kernel/btf/vmlinux").expect("guest BTF");
    Btf::parse(&bytes)
        .expect("guest BTF parses")
        .with_description("the guest kernel")
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn generated_policies_all_verify() {
    // The other shards are verifier_sweep*.rs.
    kernel_tests::sweep::generated_policies_verify(0);
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn second_program_rejected_leaves_nothing_attached() {
    require_guest();
    let kernel = guest_kernel();
    let (dir, exe) = dir_with_true();
    let cg = Cgroup::new();
    let source = format!(
        "deny exec where path ~ \"{}/**\"\ndeny open where path == \"/nonexistent\" and write\n",
        dir.path().display()
    );
    let (checked, diagnostics) = lang::front_end(&source, &kernel);
    let checked = checked.unwrap_or_else(|| panic!("{diagnostics:#?}"));
    let mut object = compiler::compile(&checked, Target::new(Scope::Cgroup))
        .expect("compiles")
        .spec;
    assert_eq!(object.programs.len(), 2);
    assert_eq!(
        object.programs[0].symbol, "krsi_exec",
        "the exec program loads first"
    );
    // Replace the second program with one that reads an uninitialised register: the verifier
    // refuses it (`R5 !read_ok`) after the first program has been loaded.
    let mut asm = Assembler::new();
    asm.load(Size::DW, Reg::R0, Reg::R5, 0).exit();
    let second = &object.programs[1];
    object.programs[1] = ProgramSpec {
        symbol: second.symbol.clone(),
        section: second.section.clone(),
        code: asm.finish().expect("assembles"),
    };
    let elf = write_object(&object).expect("elf");
    read_object(&elf).expect("our reader takes it");
    let bad = dir.write("bad.o", &elf, 0o644);

    let baseline = lsm_program_ids().expect("list programs");
    let output = Command::new(krsic())
        .arg("load")
        .arg(&bad)
        .arg("--cgroup")
        .arg(cg.path())
        .output()
        .expect("run krsic");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(1),
        "krsic load must fail:\n{stderr}"
    );
    assert!(
        stderr.contains("verifier rejected program `krsi_open`"),
        "the error names the rejected program:\n{stderr}"
    );
    assert!(
        !stderr.contains("enforcing"),
        "nothing was enforced:\n{stderr}"
    );
    let left = wait_lsm_programs_gone(&baseline);
    assert!(left.is_empty(), "LSM programs left loaded: {left:?}");
    // Had the exec program stayed attached, this would be EPERM.
    assert_ran(
        run_as(&exe, &[], Some(USER), Some(&cg)),
        "uid 1000 in the cgroup after the failed load",
    );
}
