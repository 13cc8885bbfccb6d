//! The guest kernels' BTF, cut small and checked in: tests/fixtures/btf/guest-6.1.btf (Debian
//! linux-image-6.1.0-57-amd64) and guest-6.12.btf (linux-image-6.12.95+deb12-amd64), the two
//! kernels tests/guest/run boots. With them, policies are checked against the kernels the
//! kernel tests run on, without booting them.
//!
//! What a guest fixture keeps (the cutter's rule, [`Btf::cut`]): the prototype of *every*
//! `bpf_lsm_*` function, so that availability answers (E0301) are the kernel's for every hook,
//! including ones no event uses yet; and complete definitions of the structs attributes read
//! through: the curated list below (which the host fixture also uses, and which covers the
//! events planned in DESIGN.md) plus every struct the catalog's access chains pass through on
//! that kernel, found by walking them. Other structs a prototype mentions stay forward
//! declarations. Regenerate both with `scripts/btf-fixtures` (it extracts `.BTF` from the
//! guest vmlinux images tests/guest/run caches, then runs `regenerate_guest_fixtures` below).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::STRUCTS;
use compiler::btf::Btf;
use lang::catalog::all_events;
use lang::diagnostic::Code;
use lang::kernel::{KernelTypes, TypeShape};
use lang::span::Span;
use std::path::{Path, PathBuf};

/// Fixture name, the Debian package it was cut from, and how many LSM hooks it has
/// (`bpftool btf dump file F | grep -c "FUNC 'bpf_lsm_"` on the full BTF).
const GUESTS: &[(&str, &str, usize)] = &[
    ("guest-6.1.btf", "linux-image-6.1.0-57-amd64", 244),
    ("guest-6.12.btf", "linux-image-6.12.95+deb12-amd64", 273),
];

fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/btf")
        .join(name)
}

/// `source` checked against `btf` and compiled for global scope.
fn compile_for(btf: &Btf, source: &str) -> (lang::checked::CheckedPolicy, compiler::Object) {
    let (checked, diagnostics) = lang::front_end(source, btf);
    let checked = checked.unwrap_or_else(|| panic!("{}: {diagnostics:?}", btf.describe()));
    let target = compiler::ir::Target::new(compiler::ir::Scope::Global);
    let compiled = compiler::compile(&checked, target).unwrap();
    (checked, compiled)
}

fn guest(name: &str) -> Btf {
    let bytes = std::fs::read(fixture_path(name)).expect("the guest fixtures are checked in");
    let package = GUESTS.iter().find(|g| g.0 == name).map_or(name, |g| g.1);
    Btf::parse(&bytes).unwrap().with_description(package)
}

/// Every struct the catalog's access chains pass through on `btf`, by name: where each
/// attribute's member chain starts (a hook parameter's pointee, or `task_struct`) and each
/// struct a member leads into.
fn catalog_structs(btf: &Btf) -> Vec<String> {
    let mut names = Vec::new();
    let mut note = |btf: &Btf, ty| {
        if let TypeShape::Struct { name, .. } | TypeShape::Union { name, .. } = btf.shape(ty) {
            if !name.is_empty() && !names.contains(&name) {
                names.push(name);
            }
        }
    };
    // Every source an attribute has, on the hook it is read on: the event's own and its
    // variants' (a variant may read an attribute from a parameter of its own hook).
    let sources = all_events().flat_map(|event| {
        let own = event.attributes().map(|a| (event.hook, a.source));
        let variants = event
            .variants
            .iter()
            .flat_map(|v| v.sources.iter().map(|(_, source)| (v.hook, *source)));
        own.chain(variants).collect::<Vec<_>>()
    });
    for (hook, source) in sources {
        let params = btf.hook_params(hook).unwrap_or_default();
        let Some((param, members)) = source.chain() else {
            continue;
        };
        let start = match param {
            Some(param) => match params.iter().find(|p| p.name == param) {
                Some(p) => match btf.shape(p.ty) {
                    TypeShape::Pointer { to } => to,
                    _ => continue,
                },
                None => continue,
            },
            None => match btf.named_struct("task_struct") {
                Some(task) => task,
                None => continue,
            },
        };
        let mut current = start;
        note(btf, current);
        for member in members {
            let Some(m) = btf.member(current, member) else {
                break;
            };
            current = match btf.shape(m.ty) {
                TypeShape::Pointer { to } => to,
                _ => m.ty,
            };
            note(btf, current);
        }
    }
    names
}

/// The guest cut of a full kernel BTF: every LSM hook, the listed and the catalog's structs.
fn cut_for_guests(full: &Btf) -> Vec<u8> {
    let hooks: Vec<String> = full.lsm_hooks().map(str::to_string).collect();
    let hooks: Vec<&str> = hooks.iter().map(String::as_str).collect();
    let mut structs: Vec<String> = STRUCTS.iter().map(|s| s.to_string()).collect();
    for name in catalog_structs(full) {
        if !structs.contains(&name) {
            structs.push(name);
        }
    }
    let structs: Vec<&str> = structs.iter().map(String::as_str).collect();
    full.cut(&hooks, &structs).unwrap()
}

#[test]
#[ignore = "rewrites tests/fixtures/btf/guest-*.btf; run by scripts/btf-fixtures"]
fn regenerate_guest_fixtures() {
    let dir = std::env::var_os("KRSI_GUEST_BTF_DIR")
        .expect("KRSI_GUEST_BTF_DIR: a directory with guest-6.1.btf and guest-6.12.btf, full BTF");
    for (name, package, _) in GUESTS {
        let full = std::fs::read(Path::new(&dir).join(name)).unwrap();
        let full = Btf::parse(&full).unwrap();
        let cut = cut_for_guests(&full);
        std::fs::write(fixture_path(name), &cut).unwrap();
        println!(
            "wrote {name} ({package}): {} bytes, {} LSM hooks",
            cut.len(),
            full.lsm_hooks().count()
        );
    }
}

/// With the full guest BTF on this machine (tests/guest/run's cache, extracted by
/// scripts/btf-fixtures, or /tmp/linux-image-*.btf), the checked-in cut is exactly what the
/// rule above cuts from it. Ignored by a plain `cargo test` (the full BTF is rarely there);
/// run explicitly, it fails when it finds none to compare with.
#[test]
#[ignore = "needs the guest kernels' full BTF: scripts/btf-fixtures runs it"]
fn fixtures_are_the_cut_of_the_full_guest_btf() {
    let dirs: Vec<PathBuf> = std::env::var_os("KRSI_GUEST_BTF_DIR")
        .map(PathBuf::from)
        .into_iter()
        .collect();
    let mut compared = 0;
    for (name, package, _) in GUESTS {
        let candidates = dirs
            .iter()
            .map(|d| d.join(name))
            .chain([PathBuf::from(format!("/tmp/{package}.btf"))]);
        let Some(full) = candidates.into_iter().find_map(|p| std::fs::read(p).ok()) else {
            eprintln!("skipped {name}: no full BTF of {package} on this machine");
            continue;
        };
        let full = Btf::parse(&full).unwrap();
        let (cut, checked_in) = (
            cut_for_guests(&full),
            std::fs::read(fixture_path(name)).unwrap(),
        );
        // Not assert_eq!: a few hundred kilobytes of bytes would bury the message.
        assert!(
            cut == checked_in,
            "{name} is stale (the full BTF cuts to {} bytes, {} are checked in; cut from \
             {package}): run scripts/btf-fixtures",
            cut.len(),
            checked_in.len()
        );
        compared += 1;
    }
    assert!(
        compared > 0,
        "no full guest BTF to compare with: set KRSI_GUEST_BTF_DIR (scripts/btf-fixtures does)"
    );
    eprintln!("compared {compared} fixtures with their kernels");
}

#[test]
fn fixtures_are_small_and_keep_every_lsm_hook() {
    for (name, _, hooks) in GUESTS {
        let bytes = std::fs::read(fixture_path(name)).unwrap();
        assert!(
            bytes.len() < 256 * 1024,
            "{name} grew to {} bytes",
            bytes.len()
        );
        let btf = guest(name);
        assert_eq!(btf.lsm_hooks().count(), *hooks, "{name}");
        for name in ["task_struct", "cred", "file", "linux_binprm", "path"] {
            let id = btf.find_struct(name).unwrap();
            assert!(!btf.members(id).is_empty(), "`{name}` is complete");
        }
    }
}

/// Hooks that came after 6.1 are missing there and present on 6.12 (checked with bpftool on
/// the full BTF); `userns_create` (6.1) is on both.
#[test]
fn hook_availability_follows_the_kernel() {
    let (old, new) = (guest("guest-6.1.btf"), guest("guest-6.12.btf"));
    for hook in ["bpf_token_create", "file_truncate"] {
        assert!(old.hook_params(hook).is_none(), "6.1 has no `{hook}`");
        assert!(new.hook_params(hook).is_some(), "6.12 has `{hook}`");
    }
    for hook in [
        "userns_create",
        "bprm_check_security",
        "file_open",
        "task_kill",
        "bpf",
    ] {
        assert!(old.hook_params(hook).is_some(), "6.1 has `{hook}`");
        assert!(new.hook_params(hook).is_some(), "6.12 has `{hook}`");
    }
}

/// An event on a hook 6.1 lacks (a catalog entry made up for the test, as no event uses
/// `file_truncate` yet) is an E0301 that names the hook and the kernel on 6.1, and fine on 6.12.
#[test]
fn an_event_on_a_missing_hook_is_e0301_naming_hook_and_kernel() {
    static TRUNCATE: lang::catalog::Event = lang::catalog::Event {
        name: "truncate",
        hook: "file_truncate",
        doc: "a file is truncated through an open file (ftruncate)",
        attributes: &[],
        variants: &[],
    };
    let span = Span::new(5, 13);
    let old = guest("guest-6.1.btf");
    let error = lang::check::hook_availability(&old, &TRUNCATE, span).unwrap_err();
    assert_eq!(error.code, Code::HookMissing);
    assert_eq!(error.primary.span, span);
    assert_eq!(
        error.message,
        "linux-image-6.1.0-57-amd64 has no LSM hook `file_truncate`"
    );
    assert_eq!(
        error.primary.message,
        "`truncate` needs `bpf_lsm_file_truncate`"
    );
    let params = lang::check::hook_availability(&guest("guest-6.12.btf"), &TRUNCATE, span).unwrap();
    assert_eq!(params[0].name, "file");
}

/// Every attribute of every event resolves on both guest kernels and a rule reading it checks
/// cleanly; the layouts differ, and each kernel's offsets are its own. (Each rule is checked
/// on its own: one policy reading every attribute of `exec` needs more strings than a
/// program keeps, which E0207 refuses.)
#[test]
fn every_attribute_checks_on_both_guests() {
    let mut rules = Vec::new();
    // Events whose hooks both kernels have (one, on a hook new in 6.12, is tested for its
    // availability error instead).
    let on_both = |event: &lang::catalog::Event| {
        GUESTS.iter().all(|(name, _, _)| {
            let btf = guest(name);
            event
                .required_hooks()
                .all(|hook| btf.hook_params(hook).is_some())
        })
    };
    for event in all_events().filter(|e| on_both(e)) {
        for attribute in event.attributes() {
            let test = match attribute.ty {
                lang::catalog::ValueType::Int => format!("{} == 4242", attribute.name),
                lang::catalog::ValueType::Str | lang::catalog::ValueType::Path => {
                    format!("{} == \"/nonexistent\"", attribute.name)
                }
                lang::catalog::ValueType::Bool => attribute.name.to_string(),
                lang::catalog::ValueType::Enum(kind) => {
                    format!("{} == {}", attribute.name, kind.values[0].0)
                }
                lang::catalog::ValueType::Addr => format!("{} in 10.0.0.0/8", attribute.name),
                lang::catalog::ValueType::CapabilitySet => {
                    format!("CAP_SYS_ADMIN in {}", attribute.name)
                }
            };
            rules.push(format!("audit {} where {test}\n", event.name));
        }
    }
    let mut offsets = Vec::new();
    for (name, _, _) in GUESTS {
        let btf = guest(name);
        let mut accesses = Vec::new();
        for rule in &rules {
            let (checked, diagnostics) = lang::front_end(rule, &btf);
            let errors: Vec<_> = diagnostics
                .iter()
                .filter(|d| d.severity() == lang::diagnostic::Severity::Error)
                .map(|d| format!("{}: {} ({:?})", d.code, d.message, d.notes))
                .collect();
            assert!(errors.is_empty(), "{name}: {rule}{}", errors.join("\n"));
            let checked = checked.unwrap();
            accesses.extend(
                checked
                    .attributes
                    .iter()
                    .map(|a| (a.event.name, a.attribute.name, a.access.clone())),
            );
        }
        assert!(accesses.iter().any(|a| a.2.is_some()));
        offsets.push(accesses);
    }
    // Same attributes, resolved to different places: `current->real_parent` (task_struct's
    // layout) moved between the two kernels.
    assert_eq!(offsets[0].len(), offsets[1].len());
    let moved: Vec<_> = offsets[0]
        .iter()
        .zip(&offsets[1])
        .filter(|(a, b)| a != b)
        .map(|(a, _)| format!("{}.{}", a.0, a.1))
        .collect();
    assert!(
        moved.iter().any(|m| m.ends_with("parent.pid")),
        "moved: {moved:?}"
    );
}

/// `truncate` on 6.12 has two programs: `path_truncate` reads the path from its `struct path`
/// argument, the `file_truncate` variant from its file's `f_path`. Each, run offline on the
/// layout its own hook gives, decides the same events the same way; 6.1 gets one program.
#[test]
fn truncate_decides_alike_on_both_of_its_hooks() {
    use compiler::vm::kernel::MockKernel;
    use compiler::vm::Machine;
    use lang::checked::AttrValue;
    use lang::eval::{Decision, EventInput};
    let source = "deny truncate where path ~ \"/etc/**\" errno EACCES\n";
    for (name, hooks) in [
        ("guest-6.1.btf", &["path_truncate"][..]),
        ("guest-6.12.btf", &["path_truncate", "file_truncate"][..]),
    ] {
        let btf = guest(name);
        let (_, compiled) = compile_for(&btf, source);
        let (module, object) = (compiled.ir, compiled.spec);
        let attached: Vec<&str> = module.programs.iter().map(|p| p.hook).collect();
        assert_eq!(attached, hooks, "{name}");
        // Where each program finds the dentry to walk from: `path->dentry` on path_truncate,
        // `file->f_path.dentry` on file_truncate, each from its hook's BTF.
        let starts: Vec<(u32, u32)> = module
            .programs
            .iter()
            .flat_map(|p| &p.values)
            .filter_map(|v| match &v.kind {
                compiler::ir::ValueKind::WalkedPath(lang::checked::PathWalk::Dentry(walk))
                    if v.name == "path" =>
                {
                    Some((walk.dentry.derefs.len() as u32, walk.dentry.offset))
                }
                _ => None,
            })
            .collect();
        let dentry_in_path = btf
            .member(btf.find_struct("path").unwrap(), "dentry")
            .unwrap()
            .offset_bits
            / 8;
        let f_path = btf
            .member(btf.find_struct("file").unwrap(), "f_path")
            .unwrap()
            .offset_bits
            / 8;
        let expected = [(0, dentry_in_path), (0, f_path + dentry_in_path)];
        assert_eq!(starts, expected[..hooks.len()], "{name}");
        for program in &module.programs {
            let symbol = program.symbol();
            let spec = object.programs.iter().find(|p| p.symbol == symbol).unwrap();
            for (path, expected) in [
                ("/etc/passwd", Decision::Deny { errno: 13, rule: 0 }),
                ("/tmp/etc/passwd", Decision::Allow),
            ] {
                let input = EventInput {
                    event: "truncate",
                    values: [("path", AttrValue::Str(path.as_bytes().to_vec()))]
                        .into_iter()
                        .collect(),
                    in_scope: true,
                };
                let mut kernel =
                    MockKernel::for_report(program, module.parent.as_ref(), &object.maps, &input)
                        .unwrap();
                kernel.add_data(&object.data);
                let run = Machine::new(&spec.code).run(&mut kernel).unwrap();
                assert_eq!(
                    run.decision(&spec.code.origins),
                    expected,
                    "{name}, {symbol}, {path}"
                );
            }
        }
    }
}

/// 6.1's verifier never types a pointer loaded from a struct as possibly NULL, and keeps the
/// NULL and non-NULL outcomes of each untaken test apart: the current task's pointers get no
/// tests there (a load through NULL reads 0 in the kernel). 6.12's types `task->cred` as
/// possibly NULL and refuses a load through it untested, so it keeps them. Either way the
/// program decides the lineage the evaluator does.
#[test]
fn null_tests_on_the_tasks_pointers_only_where_the_verifier_asks_for_them() {
    use lang::eval::{Decision, EventInput};
    use lang::lineage::{lineage_values, Ancestor};
    let source = "deny prctl where ancestor.comm == \"sshd\" and euid == 0\n";
    for (name, may_be_null) in [("guest-6.1.btf", false), ("guest-6.12.btf", true)] {
        let btf = guest(name);
        assert_eq!(lang::kernel::loads_may_be_null(&btf), may_be_null, "{name}");
        let (checked, compiled) = compile_for(&btf, source);
        let (module, object) = (&compiled.ir, &compiled.spec);
        let spec = &object.programs[0];
        // A pointer load `rN = *(u64 *)(rN + off)` followed by `if rN == 0`.
        let null_tests = spec
            .code
            .insns
            .windows(2)
            .filter(|w| {
                let (load, test) = (&w[0], &w[1]);
                load.code == 0x79
                    && load.dst == load.src
                    && test.code == 0x15
                    && test.dst == load.dst
                    && test.imm == 0
            })
            .count();
        if may_be_null {
            assert!(null_tests >= 9, "{name}: {null_tests} NULL tests");
        } else {
            assert_eq!(null_tests, 0, "{name}");
        }
        let named = |comm: &str| Ancestor {
            pid: 7,
            comm: comm.as_bytes().to_vec(),
            exe: b"/usr/sbin/x".to_vec(),
        };
        for (ancestors, euid, expected) in [
            (
                vec![named("bash"), named("sshd")],
                0,
                Decision::Deny { errno: 1, rule: 0 },
            ),
            (vec![named("bash"), named("sshd")], 1000, Decision::Allow),
            (vec![named("bash"), named("init")], 0, Decision::Allow),
            (vec![named("sshd")], 0, Decision::Deny { errno: 1, rule: 0 }),
        ] {
            let mut values: std::collections::BTreeMap<_, _> =
                lineage_values(&ancestors).into_iter().collect();
            values.insert("euid", lang::checked::AttrValue::Int(euid));
            let input = EventInput {
                event: "prctl",
                values,
                in_scope: true,
            };
            assert_eq!(
                lang::eval::evaluate(&checked, &input, false),
                expected,
                "{name}: the evaluator"
            );
            let machine = compiler::vm::decide(module, object, &input).unwrap();
            assert_eq!(
                machine.decision, expected,
                "{name}: {ancestors:?}, euid {euid}"
            );
        }
    }
}
