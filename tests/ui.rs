//! UI tests: every `tests/ui/*.krsi` is checked against the fixture kernel, and its source with
//! the rendered diagnostics is one snapshot in `tests/ui/snapshots/`. Bless changes with
//! `INSTA_UPDATE=always cargo test --test ui` (or `cargo insta review`) and review the diff.
//!
//! Every case also runs through the whole back end when it checks cleanly, so no input may
//! make the compiler panic.

// Tests stop at the first surprise.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::fixture_kernel;
use compiler::ir::Scope;
use lang::diagnostic::Severity;
use lang::kernel::KernelTypes;
use std::path::Path;

#[test]
fn ui_cases() {
    let kernel = fixture_kernel();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui");
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/ui exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "krsi"))
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 30,
        "expected at least 30 UI cases, found {}",
        cases.len()
    );
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(dir.join("snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    let _guard = settings.bind_to_scope();
    for case in cases {
        let name = case
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("utf-8 name")
            .to_string();
        let source = std::fs::read_to_string(&case).expect("readable case");
        let file = format!("tests/ui/{name}.krsi");
        // `# ui: kernel without struct NAME` checks the case against the fixture with that
        // struct hidden, as an older or stripped kernel's BTF would be.
        let hidden = source
            .lines()
            .find_map(|l| l.strip_prefix("# ui: kernel without struct "))
            .map(str::trim);
        let without = hidden.map(|name| Without {
            kernel: &kernel,
            hidden: name,
        });
        let target: &dyn KernelTypes = match &without {
            Some(w) => w,
            None => &kernel,
        };
        let (checked, diagnostics) = lang::front_end(&source, target);
        for d in &diagnostics {
            assert!(
                d.primary.span.end as usize <= source.len()
                    && d.primary.span.start <= d.primary.span.end,
                "{name}: {} has a span outside the source",
                d.code
            );
        }
        let has_errors = diagnostics.iter().any(|d| d.severity() == Severity::Error);
        assert_eq!(
            checked.is_some(),
            !has_errors,
            "{name}: a checked policy exactly when there are no errors"
        );
        if let Some(checked) = checked {
            let module = compiler::lower::lower(&checked, Scope::Global).expect("lowers");
            let object = compiler::codegen::codegen(&module).expect("codegen");
            let elf = compiler::elf::write_object(&object).expect("elf");
            aya_obj::Object::parse(&elf).expect("aya-obj parses every object krsic writes");
        }
        let rendered = lang::render::render_human(&file, &source, &diagnostics, false);
        insta::assert_snapshot!(name, format!("{source}\n---- diagnostics ----\n{rendered}"));
    }
}

/// A kernel whose BTF lacks one struct: the fixture with `hidden` answered as missing.
struct Without<'a> {
    kernel: &'a dyn KernelTypes,
    hidden: &'a str,
}

impl KernelTypes for Without<'_> {
    fn describe(&self) -> String {
        format!("the fixture kernel without `struct {}`", self.hidden)
    }

    fn hook_params(&self, hook: &str) -> Option<Vec<lang::kernel::Param>> {
        self.kernel.hook_params(hook)
    }

    fn named_struct(&self, name: &str) -> Option<lang::kernel::TypeId> {
        (name != self.hidden)
            .then(|| self.kernel.named_struct(name))
            .flatten()
    }

    fn member(&self, ty: lang::kernel::TypeId, name: &str) -> Option<lang::kernel::Member> {
        self.kernel.member(ty, name)
    }

    fn shape(&self, ty: lang::kernel::TypeId) -> lang::kernel::TypeShape {
        self.kernel.shape(ty)
    }
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
                sources.push(std::fs::read_to_string(entry.path()).expect("readable"));
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
                let module = compiler::lower::lower(&checked, Scope::Cgroup).expect("lowers");
                let object = compiler::codegen::codegen(&module).expect("codegen");
                compiler::elf::write_object(&object).expect("elf");
            }
            let _ = lang::render::render_human("x.krsi", &text, &diagnostics, false);
            runs += 1;
        }
    }
    assert!(runs > 1000, "only {runs} variants ran");
}
