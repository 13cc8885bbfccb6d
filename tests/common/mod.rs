//! Shared by the host-side integration tests.

use compiler::btf::Btf;
use std::path::Path;

/// The checked-in BTF fixture: the hooks and structs krsi reads, cut from a real kernel's BTF,
/// so that tests do not depend on the host kernel.
#[allow(dead_code)] // not every test that shares this module uses it
pub const FIXTURE: &str = "tests/fixtures/btf/host-6.18.btf";

#[allow(dead_code)]
pub fn fixture_kernel() -> Btf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE);
    let bytes = std::fs::read(&path).expect("BTF fixture present");
    Btf::parse(&bytes)
        .expect("fixture parses")
        .with_description("the fixture kernel")
}

/// Runs the krsic this package built, from the repository's root, to completion.
#[allow(dead_code)]
pub fn krsic(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_krsic"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("krsic runs")
}

/// The `.krsi` files of a directory of the repository, sorted.
#[allow(dead_code)]
pub fn krsi_files(dir: &str) -> Vec<std::path::PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files: Vec<_> = std::fs::read_dir(&root)
        .expect("a directory of the repository")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "krsi"))
        .collect();
    files.sort();
    files
}

/// Each test binary that includes `common` uses only some of it.
#[allow(dead_code)]
pub mod glob_reference;

/// The namespace attributes every event has (`ns.mnt`, `ns.net`, ...), as the catalog lists
/// them: the event models give each one a value.
#[allow(dead_code)]
pub fn namespace_attributes() -> impl Iterator<Item = &'static str> {
    lang::catalog::PROCESS_ATTRIBUTES
        .iter()
        .map(|a| a.name)
        .filter(|name| name.starts_with("ns."))
}

/// Two container ids, as runtimes make them (64 lowercase hex digits).
#[allow(dead_code)]
pub const CONTAINER_IDS: [&str; 2] = [
    "3f4e5a6b7c8d9e0f3f4e5a6b7c8d9e0f3f4e5a6b7c8d9e0f3f4e5a6b7c8d9e0f",
    "00aa11bb22cc33dd44ee55ff6677889900aa11bb22cc33dd44ee55ff66778899",
];

/// Two pod UIDs, as Kubernetes prints them.
#[allow(dead_code)]
pub const POD_UIDS: [&str; 2] = [
    "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
    "a1b2c3d4-e5f6-4789-9abc-def012345678",
];

/// Names of cgroups for generated cgroup paths: systemd's and Kubernetes' slices, every
/// naming scheme of a container's cgroup with each of [`CONTAINER_IDS`] and of a pod's with
/// each of [`POD_UIDS`], and near misses that are neither (a digit too few or too many,
/// uppercase, another suffix or prefix, a non-hex digit, the other driver's separator), so
/// that the program's derivations of `container.id` and `pod.uid` meet every case of the
/// host's (`lang::workload`).
#[allow(dead_code)]
pub fn cgroup_names() -> Vec<String> {
    let mut names: Vec<String> = [
        "system.slice",
        "user.slice",
        "kubepods.slice",
        "kubepods-burstable.slice",
        "kubepods-burstable-pod0f1e2d3c_4b5a_6978_8796_a5b4c3d2e1f0.slice",
        "kubepods",
        "besteffort",
        "pod0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
        "docker",
        "init.scope",
        "sshd.service",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    use lang::workload::Workload;
    for (workload, ids) in [
        (Workload::Container, CONTAINER_IDS),
        (Workload::Pod, POD_UIDS),
    ] {
        for id in ids {
            for scheme in workload.schemes() {
                let id = id.replace('-', &char::from(scheme.separator).to_string());
                names.push(format!("{}{id}{}", scheme.prefix, scheme.suffix));
            }
        }
    }
    let uid = POD_UIDS[0];
    names.extend([
        format!("pod{}", uid.replace('-', "_")),
        format!("kubepods-pod{uid}.slice"),
        format!(
            "kubepods-burstable-pod{}.slice",
            &uid.replace('-', "_")[1..]
        ),
        format!("pod{}", uid.to_uppercase()),
        format!("pod{uid}0"),
        format!("pod{}g", &uid[..35]),
        format!("kubepods-besteffort-pod{}.scope", uid.replace('-', "_")),
        format!("pod{}", uid.replace('-', "")),
    ]);
    let id = CONTAINER_IDS[0];
    names.extend([
        format!("docker-{}.scope", &id[1..]),
        format!("{id}0"),
        id[..63].to_string(),
        id.to_uppercase(),
        format!("cri-containerd-{}.scope", id.to_uppercase()),
        format!("docker-{id}.service"),
        format!("podman-{id}.scope"),
        format!("crio-{id}"),
        format!("libpod-{}g.scope", &id[..63]),
        format!("cri-containerd-{id}.scopex"),
    ]);
    names
}

/// xorshift64*: small, deterministic, good enough to pick cases. Seeded from the environment
/// variable a test names (to replay another set of cases), else a fixed seed, and a salt per
/// test.
#[allow(dead_code)]
pub struct Rng(u64);

#[allow(dead_code)]
impl Rng {
    pub fn from_env(variable: &str, salt: u64) -> Rng {
        let seed = std::env::var(variable)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0x6b72_7369_u64);
        Rng((seed ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15)) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// `checked` compiled for the global scope in enforce mode and in audit mode.
#[allow(dead_code)]
pub fn compiled_in_both_modes(
    checked: &lang::checked::CheckedPolicy,
) -> Vec<(compiler::ir::Mode, compiler::Object)> {
    use compiler::ir::{Mode, Scope, Target};
    [Mode::Enforce, Mode::Audit]
        .into_iter()
        .map(|mode| {
            let target = Target {
                mode: Some(mode),
                ..Target::new(Scope::Global)
            };
            (mode, compiler::compile(checked, target).unwrap())
        })
        .collect()
}

/// The audit rules among `reports`, sorted: what `lang::eval::audits` says an event reports.
/// Sorted because an event's late program (on the command line) reports after its early one,
/// so the order of the reports is not the rules' order. An audit rule's report carries
/// `FLAG_AUDIT` alone (an audit run's record, `FLAG_AUDIT_RUN`, is read as such reports): one
/// that carries more is not counted, so that the comparison fails.
#[allow(dead_code)]
pub fn reported_audits(reports: &[compiler::vm::Reported]) -> Vec<u32> {
    let mut rules: Vec<u32> = reports
        .iter()
        .filter(|r| r.flags == compiler::report::FLAG_AUDIT)
        .map(|r| r.rule)
        .collect();
    rules.sort_unstable();
    rules
}

/// Runs `compiled` (`checked` built in `mode`) on `input` in the offline machine and asserts
/// that it decides and reports what the reference evaluator says: in audit mode nothing is
/// refused, and the reports, as (rule, flags) in order, are the audit rules' and then the
/// deciding rule's, each with its errno (none for an audit rule's) and each string they carry
/// whole the event's. Returns the evaluator's decision, which `mode` does not change, and the
/// reports decoded, each with the program that sent it.
#[allow(dead_code)]
pub fn assert_decides_and_reports_as_the_reference<'c>(
    checked: &lang::checked::CheckedPolicy,
    compiled: &'c compiler::Object,
    input: &lang::eval::EventInput,
    mode: compiler::ir::Mode,
    what: &str,
) -> (
    lang::eval::Decision,
    Vec<(compiler::report::Report, &'c compiler::ir::Program)>,
) {
    use compiler::ir::Mode;
    use compiler::report::{FLAG_AUDIT, FLAG_DENIED, FLAG_KILL, FLAG_WOULD_DENY};
    use lang::eval::{self, Decision};
    let (outcome, reports) = compiler::vm::decide_and_report(&compiled.ir, &compiled.spec, input)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let decided = eval::evaluate(checked, input, false);
    let mut wanted: Vec<(u32, u32)> = eval::audits(checked, input, false)
        .into_iter()
        .map(|rule| (rule, FLAG_AUDIT))
        .collect();
    let refused = match mode {
        Mode::Enforce => FLAG_DENIED,
        Mode::Audit => FLAG_WOULD_DENY,
    };
    // The errno each report carries: none for an audit rule's, the rule's for the refusal.
    let mut errnos = vec![0; wanted.len()];
    match decided {
        Decision::Allow => {}
        Decision::Deny { rule, errno } => {
            wanted.push((rule, refused));
            errnos.push(errno);
        }
        Decision::Kill { rule, errno } => {
            wanted.push((rule, refused | FLAG_KILL));
            errnos.push(errno);
        }
    }
    let expected = match mode {
        Mode::Enforce => decided,
        Mode::Audit => Decision::Allow,
    };
    assert_eq!(outcome.decision, expected, "{what}");
    let got: Vec<(u32, u32)> = reports.iter().map(|r| (r.rule, r.flags)).collect();
    assert_eq!(got, wanted, "{what}");
    let decoded = decoded_reports(compiled, input, what);
    let got_errnos: Vec<i32> = decoded.iter().map(|(report, _)| report.errno).collect();
    assert_eq!(got_errnos, errnos, "{what}: the reports' errnos");
    (decided, decoded)
}

/// The reports `compiled` submits on `input`, decoded, each with the program that sent it;
/// asserts that a string a report carries whole is the event's (one the program could not
/// compute is unknown, never wrong: a screen's stand-in path, say, must not be reported).
#[allow(dead_code)]
pub fn decoded_reports<'c>(
    compiled: &'c compiler::Object,
    input: &lang::eval::EventInput,
    what: &str,
) -> Vec<(compiler::report::Report, &'c compiler::ir::Program)> {
    let records = compiler::vm::submitted_records(&compiled.ir, &compiled.spec, input)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let decoded: Vec<_> = records
        .iter()
        .flat_map(|record| {
            let (reports, program) = compiler::report::decode(&compiled.ir, record)
                .unwrap_or_else(|| panic!("{what}: a record that does not decode"));
            reports.into_iter().map(move |report| (report, program))
        })
        .collect();
    for (report, program) in &decoded {
        for (value, reported) in program.values.iter().zip(&report.values) {
            if let (
                compiler::report::ReportedValue::Str {
                    text,
                    truncated: false,
                },
                Some(lang::checked::AttrValue::Str(given)),
            ) = (reported, input.values.get(value.name))
            {
                assert_eq!(text.as_bytes(), given, "{what}: `{}` reported", value.name);
            }
        }
    }
    decoded
}

/// aya-obj, the reader the runtime uses, parses `elf` into exactly the programs of `object`
/// (the functions they call are in `.text`, no programs of their own) and links each with its
/// functions into the code the compiler wrote, instruction for instruction; and krsi's own
/// reader (`krsic disasm`, `krsic load`) gives every program back as written.
#[allow(dead_code)]
pub fn assert_links_as_written(elf: &[u8], object: &compiler::elf::ObjectSpec) {
    let mut parsed = aya_obj::Object::parse(elf).expect("aya-obj parses every object krsic writes");
    assert_eq!(parsed.programs.len(), object.programs.len());
    let text_sections = parsed
        .functions
        .keys()
        .map(|(section, _)| *section)
        .collect();
    parsed
        .relocate_calls(&text_sections)
        .expect("aya-obj links every call");
    for program in &object.programs {
        let linked = parsed
            .programs
            .get(&program.symbol)
            .and_then(|p| parsed.functions.get(&p.function_key()))
            .unwrap_or_else(|| panic!("aya-obj sees {}", program.symbol));
        let linked: Vec<compiler::bpf::Insn> = linked
            .instructions
            .iter()
            .map(|i| compiler::bpf::Insn::new(i.code, i.dst_reg(), i.src_reg(), i.off, i.imm))
            .collect();
        assert!(
            linked == program.code.insns,
            "{}: aya-obj links the program and the functions it calls as written",
            program.symbol
        );
    }
    let read = compiler::elf::read_object(elf).expect("krsi reads back what it wrote");
    assert_eq!(read.programs.len(), object.programs.len());
    for (read, written) in read.programs.iter().zip(&object.programs) {
        assert_eq!(read.insns, written.code.insns, "{}", written.symbol);
        assert_eq!(
            read.relocations, written.code.relocations,
            "{}",
            written.symbol
        );
        assert_eq!(read.functions, written.code.functions, "{}", written.symbol);
    }
}
