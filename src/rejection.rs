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
use compiler::codegen::codegen;
use compiler::elf::{lsm_hook, write_object, ObjectSpec};
use compiler::ir::{Module, Scope};
use compiler::lower::lower;
use lang::check::{CheckedPolicy, CheckedRule};
use lang::diagnostic::{verifier_message as message, Code, Diagnostic};
use lang::span::Span;
use runtime::{ProgramTarget, RuntimeError, VerifierLog};

/// The diagnostic for program `symbol` of `compiled`, which the verifier rejected with the
/// statistics log `log`.
pub fn diagnose(symbol: &str, log: &str, compiled: &Compiled, scope: Scope) -> Diagnostic {
    if over_budget(log) {
        if let Some(diagnostic) = locate_by_bisection(symbol, log, compiled, scope) {
            return diagnostic;
        }
        return unlocated(symbol, log);
    }
    let targets: Vec<ProgramTarget> = targets(&compiled.object)
        .into_iter()
        .filter(|t| t.symbol == symbol)
        .collect();
    match runtime::verify(&compiled.elf, &targets, VerifierLog::Instructions) {
        Err(RuntimeError::Rejected { log: detailed, .. }) => {
            at_instruction(symbol, &detailed, &compiled.object, &compiled.ir)
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
    let mut d = Diagnostic::new(
        Code::VerifierRejected,
        format!("the kernel verifier rejected program `{symbol}`"),
        Span::default(),
    )
    .with_note(format!("verifier: {}", message(log)));
    if let Some(stats) = statistics(log) {
        d = d.with_note(format!("verifier: {stats}"));
    }
    d
}

/// A rejection at an instruction, located through the origin table.
fn at_instruction(symbol: &str, log: &str, object: &ObjectSpec, ir: &Module) -> Diagnostic {
    let program = object.programs.iter().find(|p| p.symbol == symbol);
    let trace = lang::diagnostic::verifier_trace(log);
    lang::diagnostic::verifier_rejected(symbol, log, |slot| {
        program
            .and_then(|p| p.code.origin_on(slot, &trace))
            .and_then(|index| rule_span(ir, index))
    })
}

fn rule_span(ir: &Module, index: u32) -> Option<Span> {
    ir.programs
        .iter()
        .flat_map(|p| p.allow.iter().chain(&p.deny).chain(&p.audit))
        .find(|r| r.index == index)
        .map(|r| r.span)
}

/// Finds the first rule of the rejected program's event without which the program verifies.
fn locate_by_bisection(
    symbol: &str,
    log: &str,
    compiled: &Compiled,
    scope: Scope,
) -> Option<Diagnostic> {
    // Programs are written in the order of the module's programs.
    let position = compiled
        .object
        .programs
        .iter()
        .position(|p| p.symbol == symbol)?;
    let event = compiled.ir.programs.get(position)?.event;
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
        match verify_subset(&compiled.checked, &compiled.ir, scope, &keep)? {
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

/// Whether the program of the policy's rules `keep` verifies; `None` when the kernel fails
/// otherwise (then bisection cannot go on).
fn verify_subset(checked: &CheckedPolicy, ir: &Module, scope: Scope, keep: &[u32]) -> Option<bool> {
    let mut subset = checked.clone();
    subset.rules.retain(|r| keep.contains(&r.index));
    let mut module = lower(&subset, scope).ok()?;
    module.mode = ir.mode;
    module.report_rate = ir.report_rate;
    let object = codegen(&module).ok()?;
    let elf = write_object(&object).ok()?;
    match runtime::verify(&elf, &targets(&object), VerifierLog::Stats) {
        Ok(_) => Some(true),
        Err(RuntimeError::Rejected { .. }) => Some(false),
        Err(_) => None,
    }
}

fn targets(object: &ObjectSpec) -> Vec<ProgramTarget> {
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
