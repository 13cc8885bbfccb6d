//! The command line as a user meets it: exit codes, outputs, and every example and standard
//! policy passing its own tests. Runs against the BTF fixture, never the host kernel.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

mod common;

use common::{krsic, FIXTURE};

fn policies(dir: &str) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(dir))
        .expect("dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "krsi"))
        .map(|p| format!("{dir}/{}", p.file_name().unwrap().to_string_lossy()))
        .collect();
    files.sort();
    files
}

#[test]
fn every_example_and_standard_policy_passes_its_tests() {
    let mut files = policies("examples");
    files.extend(policies("stdlib-policies"));
    // UI cases that check cleanly and carry tests.
    files.push("tests/ui/bitand_flags.krsi".to_string());
    for case in ["enum_ok", "process_ok", "net_ok", "system_ok", "kmod_ok"] {
        files.push(format!("tests/ui/{case}.krsi"));
    }
    assert!(files.len() >= 6);
    let mut args = vec!["test", "--btf", FIXTURE];
    args.extend(files.iter().map(String::as_str));
    let out = krsic(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
    for file in &files {
        assert!(
            stdout.contains(file.as_str()),
            "{file} has tests:\n{stdout}"
        );
    }
}

#[test]
fn a_wrong_expectation_fails_and_shows_all_three_decisions() {
    let dir = std::env::temp_dir().join(format!("krsic-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("wrong.krsi");
    std::fs::write(
        &file,
        "deny exec where path ~ \"/tmp/**\"\ntest exec { path: \"/tmp/a\" } => allow\n",
    )
    .unwrap();
    let out = krsic(&["test", "--btf", FIXTURE, file.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    for want in [
        "FAILED",
        "expected:   allow",
        "reference:  deny EPERM by the rule on line 1",
        "compiled:   deny EPERM",
        "0 passed, 1 failed",
    ] {
        assert!(stdout.contains(want), "missing `{want}` in:\n{stdout}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// A policy in audit mode decides what it would enforce: its test items say so, and pass.
#[test]
fn an_audit_mode_policy_is_tested_on_what_it_decides() {
    let dir = std::env::temp_dir().join(format!("krsic-cli-mode-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("rollout.krsi");
    std::fs::write(
        &file,
        "mode audit\n\
         deny exec where path ~ \"/tmp/**\" and uid != 0\n\
         test exec { path: \"/tmp/x\", uid: 1000 } => deny EPERM\n\
         test exec { path: \"/tmp/x\", uid: 0 } => allow\n",
    )
    .unwrap();
    let out = krsic(&["test", "--btf", FIXTURE, file.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("2 passed, 0 failed"), "{stdout}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn audit_expectations_pass_and_fail_on_the_reports() {
    let dir = std::env::temp_dir().join(format!("krsic-cli-audit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("audit.krsi");
    std::fs::write(
        &file,
        "audit open where path ~ \"/etc/**\" and uid != 0\n\
         deny open where path == \"/etc/shadow\" and uid != 0 errno EACCES\n\
         test open { path: \"/etc/passwd\", uid: 1000 } => audit\n\
         test open { path: \"/etc/shadow\", uid: 1000 } => deny EACCES\n\
         test open { path: \"/etc/passwd\", uid: 0 } => audit\n\
         test open { path: \"/etc/shadow\", uid: 1000 } => audit\n",
    )
    .unwrap();
    let out = krsic(&["test", "--btf", FIXTURE, file.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    for want in [
        "ok      ",
        "FAILED  ",
        "expected:   allow, reported by an audit rule",
        // Root is not audited: allowed, no report.
        "reference:  allow\n",
        // Denied and audited is not `=> audit`.
        "reference:  deny EACCES by the rule on line 2, audited by the rule on line 1",
        "2 passed, 2 failed",
    ] {
        assert!(stdout.contains(want), "missing `{want}` in:\n{stdout}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn check_exit_codes() {
    let ok = krsic(&["check", "--btf", FIXTURE, "examples/deny-tmp-exec.krsi"]);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    // Warnings alone do not fail.
    let warned = krsic(&["check", "--btf", FIXTURE, "tests/ui/shallow_deny_glob.krsi"]);
    assert_eq!(warned.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&warned.stderr).contains("warning[W0001]"));
    // Errors of every file are reported in one run.
    let bad = krsic(&[
        "check",
        "--btf",
        FIXTURE,
        "tests/ui/unknown_event.krsi",
        "tests/ui/unknown_errno.krsi",
    ]);
    assert_eq!(bad.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("error[E0101]") && stderr.contains("error[E0106]"),
        "{stderr}"
    );
}

#[test]
fn json_diagnostics_are_one_object_a_line() {
    let out = krsic(&[
        "check",
        "--btf",
        FIXTURE,
        "--message-format",
        "json",
        "tests/ui/many_errors.krsi",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(lines.len() >= 4, "{stderr}");
    for line in lines {
        let value: serde_json::Value = serde_json::from_str(line).expect("a JSON object");
        assert!(value["code"]
            .as_str()
            .is_some_and(|c| c.starts_with('E') || c.starts_with('W')));
        assert!(value["start"]["line"].as_u64().is_some());
    }
}

#[test]
fn build_writes_an_object_that_disassembles() {
    let dir = std::env::temp_dir().join(format!("krsic-build-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let object = dir.join("p.o");
    let out = krsic(&[
        "build",
        "--btf",
        FIXTURE,
        "--scope",
        "cgroup",
        "examples/deny-tmp-exec.krsi",
        "-o",
        object.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    aya_obj::Object::parse(&std::fs::read(&object).unwrap()).expect("aya-obj parses it");
    let disasm = krsic(&["disasm", object.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&disasm.stdout);
    assert!(
        text.contains("krsi_exec (lsm/bprm_check_security):"),
        "{text}"
    );
    assert!(
        text.contains("call 37 ; current_task_under_cgroup"),
        "{text}"
    );
    assert!(text.contains("call 147 ; d_path"), "{text}");
    // The gate's words are read through their addresses, not looked up.
    assert!(text.contains("data .data.krsi_gate: 8 bytes\n"), "{text}");
    assert!(
        text.contains("= map_value[.data.krsi_gate] + 0 ll\n"),
        "{text}"
    );
    let ir = dir.join("p.ir");
    let out = krsic(&[
        "build",
        "--btf",
        FIXTURE,
        "--emit",
        "ir",
        "examples/deny-tmp-exec.krsi",
        "-o",
        ir.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    assert!(std::fs::read_to_string(&ir)
        .unwrap()
        .contains("program exec hook=bprm_check_security"));
    std::fs::remove_dir_all(dir).unwrap();
}

/// `--attach task-file-iter` builds the `open` decision as an iterator, which enforces
/// nothing: `krsic load` refuses it before anything reaches the kernel, and a policy with
/// rules of other events does not build so.
#[test]
fn an_iterator_build_is_open_only_and_never_loaded_to_enforce() {
    let dir = std::env::temp_dir().join(format!("krsic-iterator-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let policy = dir.join("open.krsi");
    std::fs::write(
        &policy,
        "deny open where path == \"/etc/shadow\" and uid != 0\n",
    )
    .unwrap();
    let object = dir.join("open.o");
    let build = |policy: &std::path::Path| {
        krsic(&[
            "build",
            "--btf",
            FIXTURE,
            "--attach",
            "task-file-iter",
            policy.to_str().unwrap(),
            "-o",
            object.to_str().unwrap(),
        ])
    };
    let out = build(&policy);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let disasm = krsic(&["disasm", object.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&disasm.stdout);
    assert!(text.contains("krsi_open (iter/task_file):"), "{text}");
    let out = krsic(&["load", object.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("is in section `iter/task_file`, not an LSM section"),
        "{stderr}"
    );
    std::fs::write(&policy, "deny exec where path == \"/bin/su\"\n").unwrap();
    let out = build(&policy);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("runs only `open` rules, and the policy has `exec` rules"),
        "{stderr}"
    );
    assert!(!stderr.contains("internal compiler error"), "{stderr}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// An object without the version gate's data sections (an older krsic's, or another tool's)
/// would load with programs that never decide: `krsic load` refuses it, before anything
/// reaches the kernel, and says how to mend it.
#[test]
fn an_object_without_the_version_gate_is_refused() {
    let dir = std::env::temp_dir().join(format!("krsic-ungated-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut asm = compiler::bpf::Assembler::new();
    asm.mov64_imm(compiler::bpf::Reg::R0, 0).exit();
    let spec = compiler::elf::ObjectSpec {
        programs: vec![compiler::elf::ProgramSpec {
            symbol: "krsi_open".into(),
            section: "lsm/file_open".into(),
            code: asm.finish().unwrap(),
        }],
        maps: Vec::new(),
        license: "GPL".into(),
        data: Vec::new(),
    };
    let object = dir.join("ungated.o");
    std::fs::write(&object, compiler::elf::write_object(&spec).unwrap()).unwrap();
    let out = krsic(&["load", object.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("has no version gate"), "{stderr}");
    assert!(stderr.contains("rebuild it"), "{stderr}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn explain_prints_the_documentation_of_every_code() {
    for code in lang::diagnostic::Code::ALL {
        let out = krsic(&["explain", code.as_str()]);
        assert!(out.status.success());
        assert!(String::from_utf8_lossy(&out.stdout).starts_with(code.as_str()));
    }
    assert_eq!(krsic(&["explain", "E9999"]).status.code(), Some(1));
}

#[test]
fn garbage_is_a_diagnostic_not_a_crash() {
    let dir = std::env::temp_dir().join(format!("krsic-garbage-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("garbage.krsi");
    std::fs::write(&file, [0xff, 0xfe, b'd', b'e', b'n', b'y']).unwrap();
    let out = krsic(&["check", "--btf", FIXTURE, file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("E0004"));
    let object = dir.join("not-an-object.o");
    std::fs::write(&object, b"\x7fELF garbage").unwrap();
    let out = krsic(&["disasm", object.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn events_json_lists_every_event_with_its_hook_and_availability() {
    let out = krsic(&["events", "--json", "--btf", FIXTURE]);
    assert!(out.status.success());
    let events: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let events = events.as_array().expect("an array");
    assert_eq!(events.len(), lang::catalog::all_events().count());
    for event in events {
        // The fixture was cut without `bpf_token_create` (a hook from 6.9; see HOOKS in
        // compiler/tests/btf_fixture.rs), which shows as not available.
        let available = event["name"] != "bpf_token";
        assert_eq!(event["available"], available, "{event}");
        let attributes = event["attributes"].as_array().unwrap();
        assert!(!attributes.is_empty());
        for attribute in attributes {
            let enum_type = lang::catalog::ENUMS
                .iter()
                .any(|e| attribute["type"] == e.name);
            // An enum attribute lists the names it takes.
            assert_eq!(
                enum_type,
                attribute["values"]
                    .as_array()
                    .is_some_and(|v| !v.is_empty()),
                "{attribute}"
            );
        }
    }
}

#[test]
fn pinned_policy_commands_name_the_missing_bpffs() {
    let dir = std::env::temp_dir().join(format!("krsic-cli-nobpffs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let bpffs = dir.display().to_string();
    let out = krsic(&["list", "--bpffs", &bpffs]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("no BPF filesystem is mounted at `{bpffs}`"))
            && stderr.contains(&format!("mount -t bpf bpf {bpffs}")),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).expect("remove temp dir");
}

/// The standard policies and the examples check cleanly against both guest kernels' BTF (the
/// kernels tests/guest/run boots), with no warning either; and `events` says which hooks
/// each kernel has.
#[test]
fn standard_policies_check_against_the_guest_kernels() {
    let mut files = policies("examples");
    files.extend(policies("stdlib-policies"));
    // Events on hooks a kernel lacks: `bpf_token_create` arrived in 6.9.
    for (btf, missing) in [
        ("tests/fixtures/btf/guest-6.1.btf", &["bpf_token"][..]),
        ("tests/fixtures/btf/guest-6.12.btf", &[][..]),
    ] {
        let mut args = vec!["check", "--btf", btf];
        args.extend(files.iter().map(String::as_str));
        let out = krsic(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{btf}: {stderr}");
        assert!(
            stderr.is_empty(),
            "{btf}: no diagnostics expected, got\n{stderr}"
        );
        let events = krsic(&["events", "--json", "--btf", btf]);
        let events: serde_json::Value = serde_json::from_slice(&events.stdout).expect("JSON");
        for event in events.as_array().expect("an array") {
            let name = event["name"].as_str().unwrap_or("");
            let expected = !missing.contains(&name);
            assert_eq!(event["available"], expected, "{btf}: {event}");
        }
    }
}

/// `--message-format json`: one object a line, each with the code, severity, message, file,
/// start and end positions, labels (the primary first, each with its positions) and help.
#[test]
fn json_lines_carry_every_field() {
    let out = krsic(&[
        "check",
        "--btf",
        FIXTURE,
        "--message-format",
        "json",
        "tests/ui/shadowed_by_allow_for_root.krsi",
        "tests/ui/crlf_line_endings.krsi",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON object a line"))
        .collect();
    let shadowed = lines
        .iter()
        .find(|l| l["code"] == "W0005")
        .expect("the W0005 line");
    assert_eq!(shadowed["severity"], "warning");
    assert_eq!(shadowed["message"], "this `deny exec` rule never denies");
    assert_eq!(shadowed["file"], "tests/ui/shadowed_by_allow_for_root.krsi");
    assert_eq!(
        shadowed["start"],
        serde_json::json!({"line": 3, "column": 1})
    );
    assert_eq!(
        shadowed["end"],
        serde_json::json!({"line": 3, "column": 47})
    );
    let labels = shadowed["labels"].as_array().unwrap();
    assert_eq!(labels.len(), 2);
    assert_eq!(labels[0]["start"], shadowed["start"]);
    assert_eq!(labels[1]["message"], "allow rules win over deny rules");
    assert_eq!(
        labels[1]["start"],
        serde_json::json!({"line": 1, "column": 1})
    );
    assert!(shadowed["help"].as_str().is_some_and(|h| !h.is_empty()));
    // CRLF: the `\r` is not a column, and lines count `\n`s.
    let crlf = lines
        .iter()
        .find(|l| l["code"] == "E0101")
        .expect("the E0101 line");
    assert_eq!(crlf["file"], "tests/ui/crlf_line_endings.krsi");
    assert_eq!(crlf["start"], serde_json::json!({"line": 2, "column": 6}));
    assert_eq!(crlf["end"], serde_json::json!({"line": 2, "column": 10}));
    assert_eq!(crlf["help"], "did you mean `open`?");
    for line in &lines {
        for key in [
            "code", "severity", "message", "file", "start", "end", "labels", "help",
        ] {
            assert!(line.get(key).is_some(), "no `{key}` in {line}");
        }
    }
}

/// A reader that stops early (`| head -1`) ends krsic quietly, never with a panic.
#[test]
fn output_into_a_closed_pipe_is_not_a_panic() {
    use std::io::Read;
    use std::process::Stdio;
    // A listing far larger than a pipe's buffer, so krsic is still writing when it closes.
    let dir = std::env::temp_dir().join(format!("krsic-cli-pipe-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut source = String::new();
    for i in 0..40 {
        source.push_str(&format!(
            "deny open where path ~ \"/srv/app{i}/**/x*.conf\"\n"
        ));
    }
    let policy = dir.join("big.krsi");
    let object = dir.join("big.o");
    std::fs::write(&policy, source).expect("write the policy");
    let built = krsic(&[
        "build",
        "--btf",
        FIXTURE,
        "-o",
        object.to_str().expect("utf-8"),
        policy.to_str().expect("utf-8"),
    ]);
    assert!(built.status.success(), "{built:?}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_krsic"))
        .args(["disasm", object.to_str().expect("utf-8")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("krsic runs");
    let mut stdout = child.stdout.take().expect("piped");
    let mut first = [0u8; 1];
    stdout.read_exact(&mut first).expect("some output");
    drop(stdout);
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("piped")
        .read_to_string(&mut stderr)
        .expect("stderr");
    let status = child.wait().expect("krsic exits");
    std::fs::remove_dir_all(&dir).expect("remove temp dir");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_ne!(status.code(), Some(101), "a panic's exit status");
}
