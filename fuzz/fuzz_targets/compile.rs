//! Property: the whole pipeline is total on arbitrary text. The front end returns diagnostics
//! whose spans lie within the source (on character boundaries, so rendering cannot panic),
//! and a checked policy exactly when no diagnostic is an error. A checked policy lowers for
//! both scopes, generates code and becomes an ELF object that aya's parser and our own reader
//! accept; any `Err` on that path is an internal compiler error.

#![no_main]

use std::sync::OnceLock;

use compiler::btf::Btf;
use compiler::ir::{Scope, Target};
use compiler::Object;
use lang::diagnostic::Severity;
use libfuzzer_sys::fuzz_target;

static FIXTURE_BYTES: &[u8] = include_bytes!("../../tests/fixtures/btf/host-6.18.btf");

fn kernel() -> &'static Btf {
    static KERNEL: OnceLock<Btf> = OnceLock::new();
    KERNEL.get_or_init(|| match Btf::parse(FIXTURE_BYTES) {
        Ok(btf) => btf.with_description("the fixture kernel"),
        Err(e) => panic!("the BTF fixture does not parse: {e}"),
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    let (checked, diagnostics) = lang::front_end(source, kernel());

    for d in &diagnostics {
        for (what, span) in std::iter::once(("primary", d.primary.span))
            .chain(d.secondary.iter().map(|l| ("secondary", l.span)))
        {
            let (start, end) = (span.start as usize, span.end as usize);
            assert!(
                start <= end && end <= source.len(),
                "{}: {what} span {start}..{end} outside a source of {} bytes",
                d.code,
                source.len()
            );
            assert!(
                source.is_char_boundary(start) && source.is_char_boundary(end),
                "{}: {what} span {start}..{end} splits a character",
                d.code
            );
        }
    }
    let has_errors = diagnostics.iter().any(|d| d.severity() == Severity::Error);
    assert_eq!(
        checked.is_some(),
        !has_errors,
        "a checked policy exactly when there are no errors"
    );
    let _ = lang::render::render_human("fuzz.krsi", source, &diagnostics, false);
    let _ = lang::render::render_json("fuzz.krsi", source, &diagnostics);

    let Some(checked) = checked else {
        return;
    };
    for scope in [Scope::Global, Scope::Cgroup] {
        let Object { spec, elf, .. } = match compiler::compile(&checked, Target::new(scope)) {
            Ok(object) => object,
            Err(e) => panic!("internal compiler error ({scope:?}): {e:?}"),
        };
        if let Err(e) = aya_obj::Object::parse(&elf) {
            panic!("aya-obj rejects the object written for {scope:?}: {e}");
        }
        match compiler::elf::read_object(&elf) {
            Ok(contents) => assert_eq!(
                contents.programs.len(),
                spec.programs.len(),
                "read_object finds every program written"
            ),
            Err(e) => panic!("read_object rejects the object written for {scope:?}: {e}"),
        }
    }
});
