//! The compiler's output for small policies, as IR and disassembly snapshots, independent of
//! the host kernel (the fixture BTF supplies every offset). Every object is parsed with
//! aya-obj, the reader the runtime uses.

// Tests stop at the first surprise.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::fixture_kernel;
use compiler::bpf::disassemble_with;
use compiler::ir::{Attach, Scope, Target};
use std::fmt::Write as _;

fn compile(source: &str, scope: Scope) -> String {
    let kernel = fixture_kernel();
    let (checked, diagnostics) = lang::front_end(source, &kernel);
    let Some(checked) = checked else {
        panic!("policy does not check: {diagnostics:#?}");
    };
    let compiler::Object {
        ir: module,
        spec: object,
        elf,
    } = compiler::compile(&checked, Target::new(scope)).expect("compiles");
    common::assert_links_as_written(&elf, &object);
    let mut text = format!("{source}\n---- ir ----\n{module}---- asm ----\n");
    for map in &object.maps {
        let _ = writeln!(
            text,
            "map {} type {} value {}",
            map.symbol, map.map_type, map.value_size
        );
    }
    for program in &object.programs {
        let _ = writeln!(text, "{} ({}):", program.symbol, program.section);
        text.push_str(
            &disassemble_with(&program.code.insns, &program.code.relocations)
                .expect("disassembles"),
        );
    }
    text
}

#[test]
fn deny_exec_by_uid() {
    insta::assert_snapshot!(compile("deny exec where uid != 0", Scope::Global));
}

#[test]
fn deny_exec_glob_scoped() {
    insta::assert_snapshot!(compile(
        r#"deny exec where path ~ "/tmp/**" and uid != 0"#,
        Scope::Cgroup
    ));
}

#[test]
fn deny_open_write_errno() {
    insta::assert_snapshot!(compile(
        r#"deny open where path == "/etc/shadow" and write errno EACCES"#,
        Scope::Global
    ));
}

#[test]
fn allow_beats_deny() {
    insta::assert_snapshot!(compile(
        r#"
list shells = ["/bin/sh", "/bin/bash"]
allow exec where comm in ["sshd", "login"]
deny exec where path in shells
"#,
        Scope::Global
    ));
}

#[test]
fn glob_automaton() {
    insta::assert_snapshot!(compile(
        r#"deny open where path ~ "/home/*/.ssh/id_[a-z]*" and not comm ~ "ssh*""#,
        Scope::Global
    ));
}

#[test]
fn process_attributes() {
    insta::assert_snapshot!(compile(
        r#"deny exec where euid == 0 and uid >= 1000 and parent.comm == "bash" and filename ~ "**/nc" and tgid > 1"#,
        Scope::Global
    ));
}

#[test]
fn audit_rules_and_audit_mode() {
    let source = r#"
policy watch
mode audit
audit open where path == "/etc/shadow" and comm != "passwd"
deny open where path ~ "/etc/**" and write and uid != 0
"#;
    let text = compile(source, Scope::Global);
    assert!(text.contains("module scope=global mode=audit"), "{text}");
    insta::assert_snapshot!(text);
}

/// The policy's `mode` header is read by the compiler itself; a target's mode (`krsic load
/// --mode`) overrides it, and its report rate replaces the default.
#[test]
fn the_target_overrides_the_policy_mode_and_report_rate() {
    use compiler::ir::Mode;
    let kernel = fixture_kernel();
    let (checked, diagnostics) = lang::front_end("mode audit\ndeny exec where uid != 0\n", &kernel);
    let checked = checked.unwrap_or_else(|| panic!("{diagnostics:#?}"));
    let as_written = compiler::compile(&checked, Target::new(Scope::Global)).expect("compiles");
    assert_eq!(as_written.ir.mode, Mode::Audit);
    assert_eq!(
        as_written.ir.report_rate,
        compiler::report::REPORTS_PER_SECOND
    );
    let target = Target {
        scope: Scope::Cgroup,
        mode: Some(Mode::Enforce),
        report_rate: Some(7),
        attach: Attach::Lsm,
    };
    let overridden = compiler::compile(&checked, target).expect("compiles");
    assert_eq!(overridden.ir.mode, Mode::Enforce);
    assert_eq!(overridden.ir.report_rate, 7);
    assert_eq!(overridden.ir.target(), target);
    assert_ne!(as_written.elf, overridden.elf, "enforcing code differs");
}

/// The prologue computes each value once; a verifier rejection there is told on the first
/// rule (in source order) that reads the value, so each helper call carries that rule's
/// index in the origin table.
#[test]
fn prologue_instructions_belong_to_the_first_rule_reading_their_value() {
    use compiler::bpf::helper::{D_PATH, GET_CURRENT_UID_GID};
    let kernel = fixture_kernel();
    let source = "deny open where write and uid == 5\n\
                  deny open where path == \"/etc/shadow\"\n\
                  deny open where path == \"/etc/gshadow\" and uid == 7\n";
    let (checked, diagnostics) = lang::front_end(source, &kernel);
    let checked = checked.unwrap_or_else(|| panic!("{diagnostics:#?}"));
    let object = compiler::compile(&checked, Target::new(Scope::Global)).expect("compiles");
    let code = &object.spec.programs[0].code;
    let call_origin = |helper: u32| {
        let slot = code
            .insns
            .iter()
            .position(|i| i.code == 0x85 && i.imm == helper as i32)
            .unwrap_or_else(|| panic!("no call of helper {helper}"));
        code.origin(slot)
    };
    assert_eq!(
        call_origin(GET_CURRENT_UID_GID),
        Some(0),
        "uid: first read by rule 0"
    );
    assert_eq!(call_origin(D_PATH), Some(1), "path: first read by rule 1");
}

/// An exact-path allow list is screened by its last names (`codegen::screen`) only when every
/// reporting rule reads the path: here `uid == 5` reports without it, and its report shows
/// the path, so the path is resolved at once (no dentry loads before the `d_path` call).
#[test]
fn an_allow_list_beside_a_rule_that_reports_without_the_path_is_not_screened() {
    insta::assert_snapshot!(compile(
        "allow open where path in [\"/srv/a/bin/tool\", \"/srv/b/bin/tool\", \"/srv/c/lib/conf\", \"/etc/x\"]\n\
         deny open where uid == 5",
        Scope::Global
    ));
}

#[test]
fn walked_path_and_argument_by_value() {
    // The dentry walk for `path` (no bpf_d_path on path_chmod), and `mode`, a 16-bit argument
    // read as its whole context slot and masked.
    insta::assert_snapshot!(compile(
        "deny chmod where path ~ \"/usr/bin/**\" and mode & 0o6000 != 0",
        Scope::Global
    ));
}

/// `policy` compiled for `attach`, from the fixture kernel.
fn compile_for(source: &str, attach: Attach) -> Result<compiler::Object, compiler::CompileError> {
    let kernel = fixture_kernel();
    let (checked, diagnostics) = lang::front_end(source, &kernel);
    let Some(checked) = checked else {
        panic!("policy does not check: {diagnostics:#?}");
    };
    compiler::compile(
        &checked,
        Target {
            attach,
            ..Target::new(Scope::Global)
        },
    )
}

#[test]
fn the_task_file_iterator_calls_the_open_decision_compiled_unchanged() {
    let source = "deny open where path ~ \"/srv/app*/bin/**\" and uid != 0\n\
                  deny open where path == \"/etc/shadow\" and comm != \"passwd\"\n";
    let lsm = compile_for(source, Attach::Lsm).unwrap();
    let iterator = compile_for(source, Attach::TaskFileIterator).unwrap();
    let [on_hook] = &lsm.spec.programs[..] else {
        panic!("one program on the hook")
    };
    let [wrapped] = &iterator.spec.programs[..] else {
        panic!("one iterator")
    };
    assert_eq!(wrapped.section, "iter/task_file");
    // The decision is the hook's program, slot for slot, with its maps and its functions
    // (the report) where they were, moved past the iterator's own code.
    let decision = &wrapped.code.functions[0];
    assert_eq!(decision.name, "decision");
    let start = decision.start;
    assert_eq!(wrapped.code.insns[start..], on_hook.code.insns[..]);
    let moved: Vec<(usize, &str)> = on_hook
        .code
        .relocations
        .iter()
        .map(|r| (r.slot + start, r.symbol.as_str()))
        .collect();
    let relocations: Vec<(usize, &str)> = wrapped
        .code
        .relocations
        .iter()
        .map(|r| (r.slot, r.symbol.as_str()))
        .collect();
    assert_eq!(relocations, moved);
    let functions: Vec<(&str, usize)> = wrapped.code.functions[1..]
        .iter()
        .map(|f| (f.name.as_str(), f.start))
        .collect();
    let moved: Vec<(&str, usize)> = on_hook
        .code
        .functions
        .iter()
        .map(|f| (f.name.as_str(), f.start + start))
        .collect();
    assert_eq!(functions, moved);
    // The iterator: the file from its context (`bpf_iter__task_file`'s fourth slot), none on
    // its last call, and the decision called with a context whose first slot holds it; a
    // refusal written to the iterator's `seq_file`.
    let text = disassemble_with(&wrapped.code.insns, &wrapped.code.relocations).unwrap();
    let entry: String = text.lines().take(start).map(|l| format!("{l}\n")).collect();
    assert_eq!(
        entry,
        "   0: r6 = r1\n\
        \x20  1: r1 = *(u64 *)(r6 + 24)\n\
        \x20  2: if r1 == 0x0 goto +12 <15>\n\
        \x20  3: *(u64 *)(r10 - 8) = r1\n\
        \x20  4: r1 = r10\n\
        \x20  5: r1 += -8\n\
        \x20  6: call pc+10 ; to 17\n\
        \x20  7: if r0 == 0x0 goto +7 <15>\n\
        \x20  8: *(u32 *)(r10 - 8) = r0\n\
        \x20  9: r1 = *(u64 *)(r6 + 0)\n\
        \x20 10: r1 = *(u64 *)(r1 + 0)\n\
        \x20 11: r2 = r10\n\
        \x20 12: r2 += -8\n\
        \x20 13: r3 = 4\n\
        \x20 14: call 127 ; seq_write\n\
        \x20 15: r0 = 0\n\
        \x20 16: exit\n"
    );
    let parsed = aya_obj::Object::parse(&iterator.elf).expect("aya-obj parses it");
    assert!(matches!(
        parsed.programs["krsi_open"].section,
        aya_obj::ProgramSection::Iter { .. }
    ));
    // The decision calls the report: a call from a function to a function, which aya-obj
    // links right only from `.text`.
    common::assert_links_as_written(&iterator.elf, &iterator.spec);
}

#[test]
fn only_open_rules_run_as_a_task_file_iterator() {
    let refused = compile_for(
        "deny open where path == \"/etc/shadow\"\ndeny exec where path == \"/bin/su\"\n",
        Attach::TaskFileIterator,
    );
    assert_eq!(
        refused.err(),
        Some(compiler::CompileError::Codegen(
            compiler::codegen::CodegenError::NotIterable {
                program: "exec".into()
            }
        ))
    );
}
