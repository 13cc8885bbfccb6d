//! The verifier sweep's generator (tests/kernel/src/policy_gen.rs) writes policies the checker
//! accepts and the compiler compiles; checked here on the host so the guest sweep never runs
//! on a broken generator.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "kernel/src/policy_gen.rs"]
mod policy_gen;

use compiler::ir::{Scope, Target};
use lang::catalog::Event;
use lang::kernel::KernelTypes;
use std::collections::BTreeSet;

#[test]
fn generated_policies_check_and_compile() {
    let kernel = common::fixture_kernel();
    let events: Vec<&Event> = lang::catalog::all_events()
        .filter(|e| e.required_hooks().all(|h| kernel.hook_params(h).is_some()))
        .collect();
    let mut refused = Vec::new();
    let mut compiled_events = BTreeSet::new();
    for seed in 0..500 {
        let source = policy_gen::policy(seed, &events);
        let (checked, diagnostics) = lang::front_end(&source, &kernel);
        let Some(checked) = checked else {
            refused.push((seed, source, diagnostics));
            continue;
        };
        let object = compiler::compile(&checked, Target::new(Scope::Cgroup)).expect("compiles");
        // Every object's layout, functions and their map loads included, as aya-obj and our
        // own reader see it.
        common::assert_links_as_written(&object.elf, &object.spec);
        compiled_events.extend(object.ir.programs.iter().map(|p| p.event));
    }
    let missed: Vec<&str> = events
        .iter()
        .map(|e| e.name)
        .filter(|name| !compiled_events.contains(name))
        .collect();
    assert!(missed.is_empty(), "no generated policy has {missed:?}");
    assert!(
        refused.is_empty(),
        "the checker refused generated policies: {:#?}",
        &refused[..refused.len().min(3)]
    );
}
