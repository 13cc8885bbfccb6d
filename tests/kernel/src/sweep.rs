//! The verifier sweep: random policies over every event of the catalog the guest kernel has
//! (`policy_gen`), each checked, compiled and loaded (not attached); the kernel must accept
//! whatever the checker accepts. The seeds are cut into [`SHARDS`] shards, each run by a test
//! executable of its own (`verifier.rs`, `verifier_sweep.rs`, `verifier_sweep_2.rs`,
//! `verifier_sweep_3.rs`), so that each stays within the harness's time for one executable
//! under TCG: a policy that scans several long strings takes the verifier hundreds of
//! thousands of processed instructions, seconds under emulation.

use crate::{lsm_program_ids, policy_gen, require_guest, wait_lsm_programs_gone};
use compiler::btf::Btf;
use compiler::elf::ObjectSpec;
use compiler::ir::{Scope, Target};
use lang::catalog::Event;
use lang::kernel::KernelTypes;
use runtime::ProgramTarget;
use std::collections::BTreeSet;

/// How many shards the sweep's seeds are cut into.
pub const SHARDS: u64 = 4;

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

/// Sweeps shard `shard` (0-based, below [`SHARDS`]) of `KRSI_VERIFIER_SWEEP` seeds (500).
pub fn generated_policies_verify(shard: u64) {
    require_guest();
    let kernel = guest_kernel();
    let total: u64 = std::env::var("KRSI_VERIFIER_SWEEP")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let seeds = total * shard / SHARDS..total * (shard + 1) / SHARDS;
    let count = seeds.end - seeds.start;
    // Every event of the catalog whose hooks this kernel has (6.1 lacks bpf_token_create).
    let events: Vec<&Event> = lang::catalog::all_events()
        .filter(|e| e.required_hooks().all(|h| kernel.hook_params(h).is_some()))
        .collect();
    let mut swept: BTreeSet<&str> = BTreeSet::new();
    let (mut verified, mut rejected_by_checker, mut most_processed) = (0u64, 0u64, 0u32);
    let mut too_large = 0u64;
    let baseline = lsm_program_ids().expect("list programs");
    for seed in seeds {
        let started = std::time::Instant::now();
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
        let verified_in = |started: std::time::Instant| {
            let took = started.elapsed();
            // A slow policy is named, so that the sweep's time can be read from its log.
            if took.as_secs() >= 5 {
                println!("seed {seed}: {took:.1?} to verify:\n{source}");
            }
        };
        let outcome = runtime::verify(&elf, &targets(&object), runtime::VerifierLog::Stats);
        verified_in(started);
        match outcome {
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
        "verifier sweep, shard {shard} of {SHARDS}: {verified} policies verified over {} events, {rejected_by_checker} refused by the checker, {too_large} past the verifier's budget, at most {most_processed} instructions processed by the verifier",
        swept.len()
    );
    assert!(verified * 10 >= count * 9);
    // A shard is too small to meet every event; the whole sweep must. Each of its policies
    // verifies or is refused for its size (one in ten at most, each shard asserts), so the
    // events of the checked policies of every shard are the events the sweep verifies.
    if shard == 0 && total >= 200 {
        let mut checked_events: BTreeSet<&str> = BTreeSet::new();
        for seed in 0..total {
            let source = policy_gen::policy(seed, &events);
            if let (Some(checked), _) = lang::front_end(&source, &kernel) {
                checked_events.extend(checked.rules.iter().map(|r| r.event.name));
            }
        }
        let missed: Vec<&str> = events
            .iter()
            .map(|e| e.name)
            .filter(|name| !checked_events.contains(name))
            .collect();
        assert!(
            missed.is_empty(),
            "events no policy of the whole sweep has: {missed:?}"
        );
    }
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
