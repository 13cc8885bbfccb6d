//! UI tests: every `tests/ui/*.krsi` is checked against the fixture kernel, and its source with
//! the rendered diagnostics is one snapshot in `tests/ui/snapshots/`. Bless changes with
//! `INSTA_UPDATE=always cargo test --test ui` (or `cargo insta review`) and review the diff.
//!
//! Every case also runs through the whole back end when it checks cleanly, so no input may
//! make the compiler panic.

// A case's checks stop at its first surprise; `ui_cases` still reports every failing case.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::fixture_kernel;
use compiler::btf::Btf;
use compiler::ir::{Scope, Target};
use lang::checked::CheckedPolicy;
use lang::diagnostic::{Code, Diagnostic, Severity};
use lang::kernel::{KernelTypes, Member, Param, TypeId, TypeShape};
use std::path::Path;

/// How a case is run, from `# ui-...` comment lines at its top:
///
/// - `# ui-kernel: without-hook HOOK` checks against the fixture kernel minus one LSM hook,
///   `# ui-kernel: opaque STRUCT` with a struct only declared (as BTF has for types it does not
///   describe), so that the availability errors have cases;
/// - `# ui-verifier: LINE` lines are a kernel verifier log: the case is compiled and the log
///   turned into a diagnostic as `krsic load` does when the kernel rejects the first program.
#[derive(Default)]
struct Directives {
    without_hooks: Vec<String>,
    without_structs: Vec<String>,
    opaque: Vec<String>,
    verifier_log: Vec<String>,
}

impl Directives {
    fn of(source: &str) -> Directives {
        let mut d = Directives::default();
        for line in source.lines().take_while(|l| l.starts_with("# ui-")) {
            let (key, value) = line.trim_end().split_once(": ").expect("`# ui-KEY: VALUE`");
            match (key, value.split_once(' ')) {
                ("# ui-kernel", Some(("without-hook", hook))) => d.without_hooks.push(hook.into()),
                ("# ui-kernel", Some(("without-struct", name))) => {
                    d.without_structs.push(name.into())
                }
                ("# ui-kernel", Some(("opaque", name))) => d.opaque.push(name.into()),
                ("# ui-verifier", _) => d.verifier_log.push(value.into()),
                _ => panic!("unknown directive `{line}`"),
            }
        }
        d
    }
}

/// The fixture kernel with hooks removed and structs made opaque, as [`Directives`] says.
struct VariantKernel<'a> {
    inner: &'a Btf,
    directives: &'a Directives,
}

impl KernelTypes for VariantKernel<'_> {
    fn describe(&self) -> String {
        let mut changes: Vec<String> = self
            .directives
            .without_hooks
            .iter()
            .map(|h| format!("without `{h}`"))
            .collect();
        changes.extend(
            self.directives
                .without_structs
                .iter()
                .map(|s| format!("without `struct {s}`")),
        );
        changes.extend(
            self.directives
                .opaque
                .iter()
                .map(|s| format!("with `struct {s}` only declared")),
        );
        if changes.is_empty() {
            return "the fixture kernel".to_string();
        }
        format!("the fixture kernel {}", changes.join(", "))
    }

    fn has_function(&self, name: &str) -> bool {
        self.inner.has_function(name)
    }

    fn hook_params(&self, hook: &str) -> Option<Vec<Param>> {
        if self.directives.without_hooks.iter().any(|h| h == hook) {
            return None;
        }
        self.inner.hook_params(hook)
    }

    fn named_struct(&self, name: &str) -> Option<TypeId> {
        if self.directives.without_structs.iter().any(|s| s == name) {
            return None;
        }
        self.inner.named_struct(name)
    }

    fn member(&self, ty: TypeId, name: &str) -> Option<Member> {
        match self.shape(ty) {
            TypeShape::Opaque { .. } => None,
            _ => self.inner.member(ty, name),
        }
    }

    fn shape(&self, ty: TypeId) -> TypeShape {
        match self.inner.shape(ty) {
            TypeShape::Struct { name, .. } if self.directives.opaque.contains(&name) => {
                TypeShape::Opaque { name }
            }
            other => other,
        }
    }
}

struct Case {
    name: String,
    source: String,
    diagnostics: Vec<Diagnostic>,
    checked: Option<CheckedPolicy>,
}

fn cases() -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui");
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/ui exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "krsi"))
        .collect();
    cases.sort();
    cases
}

/// Runs one case as `krsic check` (or `krsic load`, for a verifier log) would.
fn run_case(path: &Path, kernel: &Btf) -> Case {
    let name = path
        .file_stem()
        .and_then(|s| s.to_str())
        .expect("utf-8 name")
        .to_string();
    let bytes = std::fs::read(path).expect("readable case");
    let (source, checked, diagnostics) = match lang::syntax::decode(bytes) {
        (source, Some(diagnostic)) => (source, None, vec![diagnostic]),
        (source, None) => {
            let directives = Directives::of(&source);
            let variant = VariantKernel {
                inner: kernel,
                directives: &directives,
            };
            let (checked, mut diagnostics) = lang::front_end(&source, &variant);
            if !directives.verifier_log.is_empty() {
                let checked = checked.as_ref().expect("a verifier case checks");
                let object =
                    compiler::compile(checked, Target::new(Scope::Global)).expect("compiles");
                let symbol = &object.spec.programs[0].symbol;
                let log = directives.verifier_log.join("\n");
                let trace = lang::diagnostic::verifier_trace(&log);
                diagnostics.push(lang::diagnostic::verifier_rejected(symbol, &log, |slot| {
                    object.rule_span_at(symbol, slot, &trace)
                }));
            }
            // A policy the kernel rejected is not usable, as with any other error.
            let checked = checked.filter(|_| directives.verifier_log.is_empty());
            (source, checked, diagnostics)
        }
    };
    Case {
        name,
        source,
        diagnostics,
        checked,
    }
}

#[test]
fn ui_cases() {
    let kernel = fixture_kernel();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui");
    let cases = cases();
    assert!(
        cases.len() >= 120,
        "expected at least 120 UI cases, found {}",
        cases.len()
    );
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(dir.join("snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    let _guard = settings.bind_to_scope();
    // Each case is checked on its own and every failing case is reported, with its own
    // message, instead of the first failure hiding the rest.
    let mut failures = Vec::new();
    for path in cases {
        let name = path.file_stem().map_or_else(
            || path.display().to_string(),
            |s| s.to_string_lossy().into_owned(),
        );
        // The kernel is only read, so a panicking case leaves nothing half-changed behind.
        let run = std::panic::AssertUnwindSafe(|| check_case(run_case(&path, &kernel)));
        if let Err(payload) = std::panic::catch_unwind(run) {
            let message = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("(no message)");
            failures.push(format!("{name}: {message}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} UI case(s) failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// Every check on one case: spans inside the source, a checked policy exactly when there are
/// no errors (and then an object aya-obj reads), the snapshot, and the JSON form.
fn check_case(case: Case) {
    let Case {
        name,
        source,
        diagnostics,
        checked,
    } = case;
    let file = format!("tests/ui/{name}.krsi");
    for d in &diagnostics {
        for span in std::iter::once(d.primary.span).chain(d.secondary.iter().map(|l| l.span)) {
            assert!(
                span.end as usize <= source.len() && span.start <= span.end,
                "{name}: {} has a span outside the source",
                d.code
            );
        }
    }
    let has_errors = diagnostics.iter().any(|d| d.severity() == Severity::Error);
    assert_eq!(
        checked.is_some(),
        !has_errors,
        "{name}: a checked policy exactly when there are no errors"
    );
    if let Some(checked) = checked {
        let object = compiler::compile(&checked, Target::new(Scope::Global)).expect("compiles");
        aya_obj::Object::parse(&object.elf).expect("aya-obj parses every object krsic writes");
    }
    let rendered = lang::render::render_human(&file, &source, &diagnostics, false);
    insta::assert_snapshot!(
        name.clone(),
        format!("{source}\n---- diagnostics ----\n{rendered}")
    );
    // Editors get the same diagnostics as JSON lines with every field.
    let json = lang::render::render_json(&file, &source, &diagnostics);
    assert_eq!(json.lines().count(), diagnostics.len(), "{name}");
    for line in json.lines() {
        let value: serde_json::Value = serde_json::from_str(line).expect("JSON");
        for key in [
            "code", "severity", "message", "file", "start", "end", "labels", "help", "notes",
        ] {
            assert!(value.get(key).is_some(), "{name}: no `{key}` in {line}");
        }
        for key in ["start", "end"] {
            assert!(
                value[key]["line"].as_u64().is_some_and(|l| l >= 1),
                "{name}"
            );
            assert!(
                value[key]["column"].as_u64().is_some_and(|c| c >= 1),
                "{name}"
            );
        }
    }
}

/// Every code in the table has documentation for `krsic explain` and at least one UI case
/// whose diagnostics carry it, so each message is seen rendered at least once.
#[test]
fn every_code_has_documentation_and_a_ui_case() {
    let kernel = fixture_kernel();
    let mut seen = std::collections::BTreeSet::new();
    for path in cases() {
        seen.extend(run_case(&path, &kernel).diagnostics.iter().map(|d| d.code));
    }
    let mut missing = Vec::new();
    for code in Code::ALL {
        let doc = code.explanation();
        assert!(
            doc.trim().len() > 20,
            "{code} has no documentation (its doc comment in the `codes!` table)"
        );
        if !seen.contains(code) {
            missing.push(code.as_str());
        }
    }
    assert!(
        missing.is_empty(),
        "no UI case in tests/ui produces {}; add one",
        missing.join(", ")
    );
}

/// Truncations and byte deletions of every case and example: the whole pipeline returns
/// diagnostics or an object, and never panics or reports a span outside the source.
#[test]
fn mutated_inputs_never_panic() {
    let kernel = fixture_kernel();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut sources = Vec::new();
    for dir in ["tests/ui", "examples"] {
        for entry in std::fs::read_dir(root.join(dir))
            .expect("dir exists")
            .flatten()
        {
            if entry.path().extension().is_some_and(|x| x == "krsi") {
                let bytes = std::fs::read(entry.path()).expect("readable");
                sources.push(String::from_utf8_lossy(&bytes).into_owned());
            }
        }
    }
    let mut runs = 0;
    for source in &sources {
        let bytes = source.as_bytes();
        let mut variants = Vec::new();
        for cut in (0..bytes.len()).step_by(3) {
            variants.push(bytes[..cut].to_vec());
            let mut deleted = bytes.to_vec();
            deleted.remove(cut);
            variants.push(deleted);
        }
        for variant in variants {
            let Ok(text) = String::from_utf8(variant) else {
                continue;
            };
            let (checked, diagnostics) = lang::front_end(&text, &kernel);
            for d in &diagnostics {
                assert!(
                    d.primary.span.end as usize <= text.len(),
                    "span outside {text:?}"
                );
            }
            if let Some(checked) = checked {
                compiler::compile(&checked, Target::new(Scope::Cgroup)).expect("compiles");
            }
            let _ = lang::render::render_human("x.krsi", &text, &diagnostics, false);
            runs += 1;
        }
    }
    assert!(runs > 1000, "only {runs} variants ran");
}
