//! Property: the formatter is total, canonical and meaning-preserving on arbitrary text. Text
//! with syntax errors is refused with diagnostics (never a panic); text that parses formats to
//! text that parses to the same tree (spans aside), and formatting that again changes nothing.

#![no_main]

use libfuzzer_sys::fuzz_target;

/// The tree's debug form with every `Span { start: A, end: B }` written as `Span`.
fn tree(source: &str) -> Option<String> {
    let (policy, diagnostics) = lang::syntax::parse(source);
    if diagnostics
        .iter()
        .any(|d| d.severity() == lang::diagnostic::Severity::Error)
    {
        return None;
    }
    let text = format!("{:?}", policy?);
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(at) = rest.find("Span { start: ") {
        out.push_str(&rest[..at]);
        out.push_str("Span");
        let after = &rest[at..];
        let close = after.find('}').unwrap_or(after.len() - 1);
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Some(out)
}

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(formatted) = lang::format::format(source) else {
        return;
    };
    let before = tree(source);
    let after = tree(&formatted);
    assert!(after.is_some(), "formatted text does not parse:\n{formatted}");
    assert_eq!(before, after, "the tree changed:\n{source}\n---\n{formatted}");
    match lang::format::format(&formatted) {
        Ok(again) => assert_eq!(formatted, again, "not idempotent:\n{source}"),
        Err(e) => panic!("refuses its own output: {e:?}\n{formatted}"),
    }
});
