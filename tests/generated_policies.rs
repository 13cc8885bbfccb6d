//! The verifier sweep's generator (tests/kernel/src/policy_gen.rs) writes policies the checker
//! accepts and the compiler compiles; checked here on the host so the guest sweep never runs
//! on a broken generator.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "kernel/src/policy_gen.rs"]
mod policy_gen;

use compiler::ir::Scope;

#[test]
fn generated_policies_check_and_compile() {
    let kernel = common::fixture_kernel();
    let mut refused = Vec::new();
    for seed in 0..500 {
        let source = policy_gen::policy(seed);
        let (checked, diagnostics) = lang::front_end(&source, &kernel);
        let Some(checked) = checked else {
            refused.push((seed, source, diagnostics));
            continue;
        };
        let module = compiler::lower::lower(&checked, Scope::Cgroup).expect("lowers");
        let object = compiler::codegen::codegen(&module).expect("codegen");
        let elf = compiler::elf::write_object(&object).expect("elf");
        aya_obj::Object::parse(&elf).expect("aya-obj parses it");
    }
    assert!(
        refused.is_empty(),
        "the checker refused generated policies: {:#?}",
        &refused[..refused.len().min(3)]
    );
}
