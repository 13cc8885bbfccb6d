//! A kernel verifier rejection, told as a diagnostic on the policy source.
//!
//! The verifier refuses a program in one of two ways:
//!
//! - **at an instruction** (an access it cannot prove safe, a helper argument of the wrong
//!   type): its instruction log names the instruction, and the compiler's origin table says
//!   which rule's code that instruction is;
//! - **over a budget**: the program as a whole is more than it will walk (1,000,000 processed
//!   instructions, "BPF program is too large"; or 8,192 pending branches, "The sequence of
//!   8193 jumps is too complex", both in kernel/bpf/verifier.c). No instruction is at fault,
//!   and the instruction log of such a program is too big to format in reasonable time. The
//!   rule that tips the program over is found instead by verifying the event's program with
//!   its first k rules, bisecting on k.
//!
//! Loads run with the statistics log only (see `runtime::VerifierLog`); the instruction log is
//! asked for here, once, when a rejection needs locating.

use crate::pipeline::Compiled;
use compiler::elf::{lsm_hook, ObjectSpec};
use compiler::ir::Target;
use compiler::Object;
use lang::checked::{CheckedPolicy, CheckedRule};
use lang::diagnostic::{verifier_message as message, Code, Diagnostic, VerifierRejection};
use runtime::{ProgramTarget, RuntimeError, VerifierLog};

/// The diagnostic for program `symbol` of `compiled`, which the verifier rejected with the
/// statistics log `log`.
pub fn diagnose(symbol: &str, log: &str, compiled: &Compiled) -> Diagnostic {
    if over_budget(log) {
        if let Some(diagnostic) = locate_by_bisection(symbol, log, compiled) {
            return diagnostic;
        }
        return unlocated(symbol, log);
    }
    let targets: Vec<ProgramTarget> = program_targets(&compiled.object.spec)
        .into_iter()
        .filter(|t| t.symbol == symbol)
        .collect();
    match runtime::verify(&compiled.object.elf, &targets, VerifierLog::Instructions) {
        Err(RuntimeError::Rejected { log: detailed, .. }) => {
            at_instruction(symbol, &detailed, &compiled.object)
        }
        // Verified this time, or failed otherwise: say what the first load said.
        _ => unlocated(symbol, log),
    }
}

/// The `processed N insns ...` statistics line, when the kernel wrote one.
fn statistics(log: &str) -> Option<&str> {
    log.lines()
        .map(str::trim)
        .find(|l| l.starts_with("processed "))
}

fn over_budget(log: &str) -> bool {
    log.contains("is too complex") || log.contains("program is too large")
}

fn unlocated(symbol: &str, log: &str) -> Diagnostic {
    VerifierRejection {
        symbol: symbol.to_string(),
        message: message(log),
        instruction: None,
        rule: None,
        statistics: statistics(log).map(str::to_string),
    }
    .diagnostic()
}

/// A rejection at an instruction, located through the origin table.
fn at_instruction(symbol: &str, log: &str, object: &Object) -> Diagnostic {
    let trace = lang::diagnostic::verifier_trace(log);
    lang::diagnostic::verifier_rejected(symbol, log, |slot| {
        object.rule_span_at(symbol, slot, &trace)
    })
}

/// Finds the first rule of the rejected program's event without which the program verifies.
fn locate_by_bisection(symbol: &str, log: &str, compiled: &Compiled) -> Option<Diagnostic> {
    // Programs are written in the order of the module's programs.
    let position = compiled
        .object
        .spec
        .programs
        .iter()
        .position(|p| p.symbol == symbol)?;
    let event = compiled.object.ir.programs.get(position)?.event;
    let rules: Vec<&CheckedRule> = compiled
        .checked
        .rules
        .iter()
        .filter(|r| r.event.name == event)
        .collect();
    // Invariant: the first `verified` rules verify, the first `rejected` do not.
    let (mut verified, mut rejected) = (0, rules.len());
    while rejected - verified > 1 {
        let middle = verified + (rejected - verified) / 2;
        let keep: Vec<u32> = rules[..middle].iter().map(|r| r.index).collect();
        match verify_subset(&compiled.checked, compiled.object.ir.target(), &keep)? {
            true => verified = middle,
            false => rejected = middle,
        }
    }
    let culprit = rules.get(rejected.checked_sub(1)?)?;
    let mut d = Diagnostic::new(
        Code::VerifierRejected,
        format!("the kernel verifier rejected program `{symbol}`: the rules of `{event}` are more than it can verify"),
        culprit.span,
    )
    .with_label(format!(
        "with the {rejected} rules of `{event}` up to this one the program is rejected; with the {verified} before it, it verifies"
    ))
    .with_note(format!("verifier: {}", message(log)));
    if let Some(stats) = statistics(log) {
        d = d.with_note(format!("verifier: {stats}"));
    }
    Some(d.with_help(format!(
        "each policy is its own program: move some rules of `{event}` to a second policy, or merge rules that test the same attribute"
    )))
}

/// Whether the program of the policy's rules `keep`, compiled for `target`, verifies; `None`
/// when the kernel fails otherwise (then bisection cannot go on).
fn verify_subset(checked: &CheckedPolicy, target: Target, keep: &[u32]) -> Option<bool> {
    let mut subset = checked.clone();
    subset.rules.retain(|r| keep.contains(&r.index));
    let object = compiler::compile(&subset, target).ok()?;
    match runtime::verify(
        &object.elf,
        &program_targets(&object.spec),
        VerifierLog::Stats,
    ) {
        Ok(_) => Some(true),
        Err(RuntimeError::Rejected { .. }) => Some(false),
        Err(_) => None,
    }
}

/// The LSM programs of a compiled object, as the runtime loads them.
pub(crate) fn program_targets(object: &ObjectSpec) -> Vec<ProgramTarget> {
    object
        .programs
        .iter()
        .filter_map(|p| {
            Some(ProgramTarget {
                symbol: p.symbol.clone(),
                hook: lsm_hook(&p.section)?.to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const JUMPS: &str = "func 'bpf_lsm_file_open' arg0 has btf_id 420 type STRUCT 'file'\n\
        The sequence of 8193 jumps is too complex.\n\
        verification time 1989964 usec\nstack depth 24\n\
        processed 393752 insns (limit 1000000) max_states_per_insn 4 total_states 2758\n";

    #[test]
    fn budget_rejections_are_told_apart_from_instruction_ones() {
        assert!(over_budget(JUMPS));
        assert!(over_budget(
            "BPF program is too large. Processed 1000001 insn\nprocessed 1000001 insns"
        ));
        assert!(!over_budget(
            "12: (79) r1 = *(u64 *)(r5 +0)\nR5 !read_ok\nprocessed 13 insns"
        ));
    }

    #[test]
    fn the_message_and_statistics_are_found_among_the_log_lines() {
        assert_eq!(message(JUMPS), "The sequence of 8193 jumps is too complex.");
        assert_eq!(
            statistics(JUMPS),
            Some("processed 393752 insns (limit 1000000) max_states_per_insn 4 total_states 2758")
        );
        assert_eq!(
            message("12: (79) r1 = *(u64 *)(r5 +0)\nR5 !read_ok\n"),
            "R5 !read_ok"
        );
        assert_eq!(message(""), "no verifier message");
    }
}
