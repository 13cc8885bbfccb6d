//! Diagnostics rendered for people (codespan-reporting, like rustc) and for editors (JSON
//! lines). This is the one place diagnostics become text.
//!
//! Spans come from every stage of the compiler; one that falls outside the source or inside a
//! UTF-8 character is clamped to the nearest character boundary in the source, never trusted.

use crate::diagnostic::{Diagnostic, Label, Severity};
use crate::span::Span;
use codespan_reporting::diagnostic as cs;
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term::{self, termcolor::Buffer};
use serde_json::json;
use std::ops::Range;

/// Renders diagnostics as codespan-reporting does for rustc-style tools:
/// ``error[E0101]: unknown event `opne` `` with the source excerpt, labels, `help:` and notes.
pub fn render_human(
    file_name: &str,
    source: &str,
    diagnostics: &[Diagnostic],
    color: bool,
) -> String {
    let file = SimpleFile::new(file_name, source);
    let config = term::Config::default();
    let mut buffer = if color {
        Buffer::ansi()
    } else {
        Buffer::no_color()
    };
    let mut out = String::new();
    for diagnostic in diagnostics {
        let rendered = to_codespan(source, diagnostic);
        buffer.clear();
        if term::emit(&mut buffer, &config, &file, &rendered).is_ok() {
            out.push_str(&String::from_utf8_lossy(buffer.as_slice()));
        } else {
            // Unreachable with clamped spans; still say something rather than nothing.
            out.push_str(&format!(
                "{}[{}]: {}\n  --> {file_name}\n\n",
                severity_word(diagnostic.severity()),
                diagnostic.code,
                diagnostic.message
            ));
        }
    }
    out
}

/// Renders one JSON object per diagnostic, one per line, for editors:
/// `{"code","severity","message","file","start","end","labels","help","notes"}`. Positions are
/// `{"line","column"}`, 1-based, columns counted in characters; `end` is exclusive. `labels`
/// lists the primary label first, then the secondary ones.
pub fn render_json(file_name: &str, source: &str, diagnostics: &[Diagnostic]) -> String {
    let lines = Lines::new(source);
    let mut out = String::new();
    for diagnostic in diagnostics {
        let primary = clamp(source, diagnostic.primary.span);
        let labels: Vec<serde_json::Value> = std::iter::once(&diagnostic.primary)
            .chain(&diagnostic.secondary)
            .map(|label| {
                let range = clamp(source, label.span);
                json!({
                    "message": label.message,
                    "start": lines.position(range.start),
                    "end": lines.position(range.end),
                })
            })
            .collect();
        let object = json!({
            "code": diagnostic.code.as_str(),
            "severity": diagnostic.severity(),
            "message": diagnostic.message,
            "file": file_name,
            "start": lines.position(primary.start),
            "end": lines.position(primary.end),
            "labels": labels,
            "help": diagnostic.help,
            "notes": diagnostic.notes,
        });
        out.push_str(&object.to_string());
        out.push('\n');
    }
    out
}

fn to_codespan(source: &str, diagnostic: &Diagnostic) -> cs::Diagnostic<()> {
    let label = |style: cs::LabelStyle, label: &Label| {
        cs::Label::new(style, (), clamp(source, label.span)).with_message(&label.message)
    };
    let mut labels = vec![label(cs::LabelStyle::Primary, &diagnostic.primary)];
    labels.extend(
        diagnostic
            .secondary
            .iter()
            .map(|l| label(cs::LabelStyle::Secondary, l)),
    );
    let mut notes: Vec<String> = diagnostic
        .help
        .iter()
        .map(|help| format!("help: {help}"))
        .collect();
    notes.extend(diagnostic.notes.iter().cloned());
    let severity = match diagnostic.severity() {
        Severity::Error => cs::Severity::Error,
        Severity::Warning => cs::Severity::Warning,
    };
    cs::Diagnostic::new(severity)
        .with_code(diagnostic.code.as_str())
        .with_message(&diagnostic.message)
        .with_labels(labels)
        .with_notes(notes)
}

fn severity_word(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

/// The span as a byte range that is valid for `source`: inside it, on character boundaries,
/// and not reversed.
fn clamp(source: &str, span: Span) -> Range<usize> {
    let boundary = |offset: usize| {
        let mut offset = offset.min(source.len());
        while !source.is_char_boundary(offset) {
            offset -= 1;
        }
        offset
    };
    let start = boundary(span.start as usize);
    let end = boundary(span.end as usize).max(start);
    start..end
}

/// Byte offsets to 1-based lines and character columns. Built once per source, so rendering
/// many diagnostics of a large file stays linear.
struct Lines<'a> {
    source: &'a str,
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    fn new(source: &'a str) -> Lines<'a> {
        let starts = std::iter::once(0)
            .chain(source.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Lines { source, starts }
    }

    /// The position of `offset`, which is a char boundary of the source.
    fn position(&self, offset: usize) -> serde_json::Value {
        let line = self.starts.partition_point(|&start| start <= offset);
        let line_start = self.starts.get(line.wrapping_sub(1)).copied().unwrap_or(0);
        let column = self.source[line_start..offset].chars().count() + 1;
        json!({ "line": line, "column": column })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::diagnostic::Code;

    const SOURCE: &str = "macro privileged = uid == 0\n\
                          deny opne where path ~ \"/tmp/**\" and not privileged\n";

    fn unknown_event() -> Diagnostic {
        Diagnostic::new(
            Code::UnknownEvent,
            "unknown event `opne`",
            Span::new(33, 37),
        )
        .with_label("not an event")
        .with_secondary(Span::new(28, 32), "in this rule")
        .with_help("did you mean `open`?")
        .with_note("`krsic events` lists every event")
    }

    #[test]
    fn human() {
        let text = render_human("policy.krsi", SOURCE, &[unknown_event()], false);
        insta::assert_snapshot!(text);
    }

    #[test]
    fn human_with_color_has_escapes() {
        let text = render_human("policy.krsi", SOURCE, &[unknown_event()], true);
        assert!(text.contains("\u{1b}["));
    }

    #[test]
    fn json_parses_back() {
        let warning = Diagnostic::new(Code::ShallowDenyGlob, "shallow", Span::new(52, 61));
        let text = render_json("policy.krsi", SOURCE, &[unknown_event(), warning]);
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        let first = &lines[0];
        assert_eq!(first["code"], "E0101");
        assert_eq!(first["severity"], "error");
        assert_eq!(first["file"], "policy.krsi");
        assert_eq!(first["start"], json!({"line": 2, "column": 6}));
        assert_eq!(first["end"], json!({"line": 2, "column": 10}));
        assert_eq!(first["labels"][0]["message"], "not an event");
        assert_eq!(first["labels"][1]["message"], "in this rule");
        assert_eq!(first["labels"][1]["start"], json!({"line": 2, "column": 1}));
        assert_eq!(first["help"], "did you mean `open`?");
        assert_eq!(first["notes"][0], "`krsic events` lists every event");
        assert_eq!(lines[1]["severity"], "warning");
        assert_eq!(lines[1]["help"], serde_json::Value::Null);
    }

    #[test]
    fn columns_count_characters() {
        let source = "deny exec where comm == \"é\" and x\n";
        let d = Diagnostic::new(Code::UnknownName, "unknown name `x`", Span::new(34, 35));
        let line: serde_json::Value =
            serde_json::from_str(render_json("p", source, &[d]).trim()).unwrap();
        assert_eq!(line["start"], json!({"line": 1, "column": 34}));
    }

    #[test]
    fn bad_spans_are_clamped() {
        let source = "deny exec where comm == \"é\"";
        let inside_char = source.find('é').unwrap() + 1;
        let spans = [
            Span::new(inside_char, inside_char + 1),
            Span::new(inside_char, 1000),
            Span::new(900, 1000),
            Span::new(10, 2),
            Span::new(source.len(), source.len()),
        ];
        for span in spans {
            let d = Diagnostic::new(Code::Syntax, "x", span).with_secondary(span, "y");
            let human = render_human("p", source, std::slice::from_ref(&d), false);
            assert!(human.starts_with("error[E0001]: x"), "{human}");
            let json = render_json("p", source, &[d]);
            assert!(serde_json::from_str::<serde_json::Value>(json.trim()).is_ok());
        }
        assert!(render_human(
            "p",
            "",
            &[Diagnostic::new(Code::BadSource, "x", Span::new(3, 4))],
            false
        )
        .contains("error[E0004]"));
    }
}
