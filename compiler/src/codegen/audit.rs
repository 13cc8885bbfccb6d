//! Audit rules: each that matches reports, whatever the decision will be, and the event goes
//! on to the allow and deny rules.
//!
//! Consecutive audit rules on one counted string (exact paths, directories that do not nest)
//! are searched with one literal tree, as deny rules are (`sets`), while one search can stand
//! for them: no string may match two of them ([`lang::runs::AuditRun`]). A found rule
//! reports and the search ends. A string that cannot be known (a path past `PATH_MAX`)
//! matches every rule of the run (fail closed; but an unknown resolved path equals no
//! literal, so there only directory runs have the case), and one record reports it for every
//! rule of the run (`report::FLAG_AUDIT_RUN`): a loop of reports would have the verifier walk
//! the report function once per rule. Any other audit rule is tested on its own.

use super::sets::Leaf;
use super::{offset, ProgramGen};
use crate::bpf::{Label, Reg, Size};
use crate::ir::Rule;
use crate::report as events;

impl ProgramGen<'_> {
    /// Every audit rule of the program, in order.
    pub(super) fn audits(&mut self) {
        let rules = &self.program.audit;
        let gates = self.gates_of(rules);
        let mut at = 0;
        while at < rules.len() {
            let next = self.asm.new_label();
            self.asm.set_origin(Some(rules[at].index));
            let (gate, gated) = gates.at(at);
            let gate = gate.to_vec();
            // Found as `runs` finds the others: with the run's gate known.
            let known = self.known_true.len();
            self.known_true.extend(gate.iter().cloned());
            let tree = self.audit_literal_run(&rules[at..at + gated]);
            self.known_true.truncate(known);
            if tree == 0 {
                let report = self.asm.new_label();
                self.cond(&rules[at].cond, report, next);
                self.asm.bind(report);
                self.report(&rules[at], events::FLAG_AUDIT);
                self.asm.bind(next);
                at += 1;
                continue;
            }
            let known = self.enter_gate(&gate, next);
            self.audit_run(&rules[at..at + tree], next);
            self.known_true.truncate(known);
            self.asm.bind(next);
            at += tree;
        }
    }

    /// The literal tree of the audit run `run` (see [`Self::audit_literal_run`]), then `next`.
    fn audit_run(&mut self, run: &[Rule], next: Label) {
        let unknown = self.asm.new_label();
        if self.split_run(run) {
            // One report for the whole run: the leaf recorded which rule matched.
            let matched = self.asm.new_label();
            let leaves: Vec<Leaf> = run
                .iter()
                .map(|rule| Leaf::Record {
                    rule: rule.index,
                    errno: 0,
                })
                .collect();
            self.literal_tree_or(run, &leaves, Some(unknown), matched, next);
            let at = self.layout.decision.unwrap_or(0);
            self.asm
                .set_origin(None)
                .bind(matched)
                .load(Size::DW, Reg::R1, Reg::R7, offset(at));
            self.report_indexed(events::FLAG_AUDIT, 0);
            self.asm.jump(next);
        } else {
            // Each leaf passes its rule's index to one report for the run, as deny rules that
            // share an errno do: a call for each rule would have the verifier walk the report
            // function once per rule.
            let targets: Vec<Label> = run.iter().map(|_| self.asm.new_label()).collect();
            let leaves: Vec<Leaf> = targets.iter().map(|t| Leaf::Jump(*t)).collect();
            let report = self.asm.new_label();
            self.literal_tree_or(run, &leaves, Some(unknown), next, next);
            for (rule, target) in run.iter().zip(&targets) {
                self.asm
                    .set_origin(Some(rule.index))
                    .bind(*target)
                    .mov64_imm(Reg::R1, rule.index as i32)
                    .jump(report);
            }
            self.asm.set_origin(None).bind(report);
            self.report_indexed(events::FLAG_AUDIT, 0);
            self.asm.jump(next);
        }
        // The string is unknown: every rule of the run matches it and reports, all in one
        // record that names the first and the last (their indexes follow each other).
        let (first, last) = (run[0].index, run[run.len() - 1].index);
        self.asm
            .set_origin(None)
            .bind(unknown)
            .mov64_imm(Reg::R1, first as i32);
        self.report_indexed(events::FLAG_AUDIT | events::FLAG_AUDIT_RUN, last as i32);
        self.asm.jump(next);
    }
}
