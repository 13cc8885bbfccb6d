//! The kernel verifier accepts whatever the checker accepts (random policies over every event
//! of the catalog the guest kernel has, loaded but not attached), and a policy whose second
//! program the verifier rejects leaves nothing attached.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use compiler::bpf::{Assembler, Reg, Size};
use compiler::btf::Btf;
use compiler::elf::{read_object, write_object, ObjectSpec, ProgramSpec};
use compiler::ir::{Scope, Target};
use kernel_tests::policy_gen;
use kernel_tests::{
    assert_ran, dir_with_true, krsic, lsm_program_ids, require_guest, run_as,
    wait_lsm_programs_gone, Cgroup, USER,
};
use lang::catalog::Event;
use lang::kernel::KernelTypes;
use runtime::ProgramTarget;
use std::collections::BTreeSet;
use std::process::Command;

fn guest_kernel() -> Btf {
    let bytes = std::fs::read("/sys/kernel/btf/vmlinux").expect("guest BTF");
    Btf::parse(&bytes)
        .expect("guest BTF parses")
        .with_description("the guest kernel")
}

fn targets(object: &ObjectSpec) -> Vec<ProgramTarget> {
    object
        .programs
        .iter()
        .map(|p| ProgramTarget {
            symbol: p.symbol.clone(),
            hook: compiler::elf::lsm_hook(&p.section)
                .expect("an LSM section")
                .to_string(),
        })
        .collect()
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn generated_policies_all_verify() {
    require_guest();
    let kernel = guest_kernel();
    let count: u64 = std::env::var("KRSI_VERIFIER_SWEEP")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    // Every event of the catalog whose hooks this kernel has (6.1 lacks bpf_token_create).
    let events: Vec<&Event> = lang::catalog::all_events()
        .filter(|e| e.required_hooks().all(|h| kernel.hook_params(h).is_some()))
        .collect();
    let mut swept: BTreeSet<&str> = BTreeSet::new();
    let (mut verified, mut rejected_by_checker, mut most_processed) = (0u64, 0u64, 0u32);
    let mut too_large = 0u64;
    let baseline = lsm_program_ids().expect("list programs");
    for seed in 0..count {
        let source = policy_gen::policy(seed, &events);
        let (checked, diagnostics) = lang::front_end(&source, &kernel);
        let Some(checked) = checked else {
            rejected_by_checker += 1;
            assert!(
                rejected_by_checker * 10 <= count,
                "the generator should write valid policies; seed {seed}:\n{source}\n{diagnostics:#?}"
            );
            continue;
        };
        let scope = if seed % 2 == 0 {
            Scope::Global
        } else {
            Scope::Cgroup
        };
        let compiler::Object {
            ir: module,
            spec: object,
            elf,
        } = compiler::compile(&checked, Target::new(scope)).expect("compiles");
        match runtime::verify(&elf, &targets(&object), runtime::VerifierLog::Stats) {
            Ok(counts) => {
                for (_, processed) in counts {
                    most_processed = most_processed.max(processed.unwrap_or(0));
                }
                swept.extend(module.programs.iter().map(|p| p.event));
                verified += 1;
            }
            // Globbed strings are scanned by loops the verifier walks once for every state
            // it reaches them in; a policy that globs long strings behind many branches can
            // pass its budget of processed instructions (or of pending branches, "the
            // sequence of 8193 jumps is too complex"). That is the kernel's answer, which
            // `krsic load` turns into a diagnostic on the rule that tipped it (load.rs,
            // rejection.rs); it must stay rare, and any other rejection is a code generation
            // bug.
            Err(runtime::RuntimeError::Rejected { log, .. })
                if log.contains("BPF program is too large") || log.contains("is too complex") =>
            {
                too_large += 1;
                println!("seed {seed}: past the verifier's budget:\n{source}");
                assert!(
                    too_large * 10 <= count,
                    "more than one policy in ten passes the verifier's budget; seed {seed}:\n{source}"
                );
            }
            Err(error) => {
                let log = match &error {
                    runtime::RuntimeError::Rejected { log, .. } => {
                        log.lines().rev().take(30).collect::<Vec<_>>().join("\n")
                    }
                    _ => String::new(),
                };
                panic!("seed {seed}: the verifier rejected a checked policy: {error}\n--- policy ---\n{source}\n--- IR ---\n{module}\n--- verifier (last lines, reversed) ---\n{log}");
            }
        }
    }
    println!(
        "verifier sweep: {verified} policies verified over {} events, {rejected_by_checker} refused by the checker, {too_large} past the verifier's budget, at most {most_processed} instructions processed by the verifier",
        swept.len()
    );
    assert!(verified * 10 >= count * 9);
    if count >= 200 {
        let missed: Vec<&str> = events
            .iter()
            .map(|e| e.name)
            .filter(|name| !swept.contains(name))
            .collect();
        assert!(
            missed.is_empty(),
            "events no verified policy had: {missed:?}"
        );
    }
    assert!(
        wait_lsm_programs_gone(&baseline).is_empty(),
        "verify() leaves nothing loaded"
    );
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
