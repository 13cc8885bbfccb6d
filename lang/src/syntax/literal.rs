//! Integer and string literals: the grammar lexes them loosely, this module says precisely
//! what is wrong with a bad one.

use crate::diagnostic::{Code, Diagnostic};
use crate::span::Span;

/// The value of an integer literal: decimal, `0x`, `0o` or `0b`, with `_` separators.
pub(super) fn integer(text: &str, span: Span) -> Result<u64, Box<Diagnostic>> {
    let start = span.start as usize;
    let (radix, kind, article, digits_at) = match text.get(..2) {
        Some("0x" | "0X") => (16, "hexadecimal", "a", 2),
        Some("0o" | "0O") => (8, "octal", "an", 2),
        Some("0b" | "0B") => (2, "binary", "a", 2),
        _ => (10, "decimal", "a", 0),
    };
    let digits = &text[digits_at..];
    if radix == 10
        && digits.len() > 1
        && digits.starts_with('0')
        && digits.bytes().all(|b| b.is_ascii_digit() || b == b'_')
    {
        // C reads `0755` as octal, so a decimal reading would silently differ from intent.
        let trimmed = digits.trim_start_matches(['0', '_']);
        let decimal = if trimmed.is_empty() { "0" } else { trimmed };
        return Err(Box::new(
            Diagnostic::new(
                Code::Syntax,
                format!("integer literal `{text}` has a leading zero"),
                span,
            )
            .with_label("ambiguous leading zero")
            .with_help(format!(
                "write `0o{decimal}` for an octal number, or `{decimal}` for a decimal one"
            )),
        ));
    }
    let mut value: u64 = 0;
    let mut any_digit = false;
    for (offset, c) in digits.char_indices() {
        if c == '_' {
            continue;
        }
        let Some(digit) = c.to_digit(radix) else {
            let at = start + digits_at + offset;
            return Err(Box::new(
                Diagnostic::new(
                    Code::Syntax,
                    format!("invalid digit `{c}` in {kind} literal `{text}`"),
                    Span::new(at, at + c.len_utf8()),
                )
                .with_label(format!("not {article} {kind} digit")),
            ));
        };
        any_digit = true;
        value = match value
            .checked_mul(u64::from(radix))
            .and_then(|v| v.checked_add(u64::from(digit)))
        {
            Some(value) => value,
            None => {
                return Err(Box::new(
                    Diagnostic::new(
                        Code::IntegerTooLarge,
                        format!("integer literal `{text}` does not fit in 64 bits"),
                        span,
                    )
                    .with_label(format!("larger than {}", u64::MAX)),
                ));
            }
        };
    }
    if !any_digit {
        return Err(Box::new(
            Diagnostic::new(
                Code::Syntax,
                format!(
                    "integer literal `{text}` has no digits after `{}`",
                    &text[..digits_at]
                ),
                span,
            )
            .with_label(format!("expected {kind} digits")),
        ));
    }
    Ok(value)
}

/// The value of a string literal's body (between the quotes), which starts at byte
/// `body_start` of the source. Bad escapes are reported with their own span and left out.
pub(super) fn string(body: &str, body_start: usize, diagnostics: &mut Vec<Diagnostic>) -> String {
    let mut value = String::with_capacity(body.len());
    let mut chars = body.char_indices().peekable();
    while let Some((offset, c)) = chars.next() {
        if c != '\\' {
            value.push(c);
            continue;
        }
        let at = body_start + offset;
        let Some((_, escaped)) = chars.next() else {
            // The grammar never ends a body with a lone `\`; report rather than assume.
            diagnostics.push(bad_escape("\\", Span::new(at, at + 1)));
            break;
        };
        match escaped {
            '\\' => value.push('\\'),
            '"' => value.push('"'),
            'n' => value.push('\n'),
            't' => value.push('\t'),
            '0' => value.push('\0'),
            'x' => {
                let mut hex = String::new();
                while hex.len() < 2 {
                    match chars.peek() {
                        Some(&(_, h)) if h.is_ascii_hexdigit() => {
                            hex.push(h);
                            chars.next();
                        }
                        _ => break,
                    }
                }
                let span = Span::new(at, at + 2 + hex.len());
                match u8::from_str_radix(&hex, 16) {
                    Ok(byte) if hex.len() == 2 && byte.is_ascii() => value.push(char::from(byte)),
                    Ok(_) if hex.len() == 2 => diagnostics.push(
                        Diagnostic::new(
                            Code::BadEscape,
                            format!("escape `\\x{hex}` is not an ASCII character"),
                            span,
                        )
                        .with_label("above `\\x7f`")
                        .with_help("strings are UTF-8: write the character itself"),
                    ),
                    _ => diagnostics.push(
                        Diagnostic::new(
                            Code::BadEscape,
                            format!("escape `\\x{hex}` needs two hex digits"),
                            span,
                        )
                        .with_label("incomplete escape")
                        .with_help("write a byte as `\\x` and two hex digits, e.g. `\\x41`"),
                    ),
                }
            }
            other => {
                let text = format!("\\{other}");
                diagnostics.push(bad_escape(&text, Span::new(at, at + text.len())));
            }
        }
    }
    value
}

fn bad_escape(text: &str, span: Span) -> Diagnostic {
    Diagnostic::new(Code::BadEscape, format!("unknown escape `{text}`"), span)
        .with_label("unknown escape")
        .with_help("strings accept `\\\\`, `\\\"`, `\\n`, `\\t`, `\\0` and `\\xHH`; write `\\\\` for a backslash")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    fn int(text: &str) -> Result<u64, Code> {
        integer(text, Span::new(0, text.len())).map_err(|d| d.code)
    }

    #[test]
    fn integers() {
        assert_eq!(int("0"), Ok(0));
        assert_eq!(int("1_000"), Ok(1000));
        assert_eq!(int("0x1F"), Ok(31));
        assert_eq!(int("0o6000"), Ok(0o6000));
        assert_eq!(int("0b1010"), Ok(10));
        assert_eq!(int("18446744073709551615"), Ok(u64::MAX));
        assert_eq!(int("18446744073709551616"), Err(Code::IntegerTooLarge));
        assert_eq!(int("0x1_0000_0000_0000_0000"), Err(Code::IntegerTooLarge));
        assert_eq!(int("0o8"), Err(Code::Syntax));
        assert_eq!(int("0x"), Err(Code::Syntax));
        assert_eq!(int("0755"), Err(Code::Syntax));
        assert_eq!(int("12ab"), Err(Code::Syntax));
    }

    #[test]
    fn strings() {
        let mut diagnostics = Vec::new();
        let body = r#"a\\b\"c\n\t\0\x41é"#;
        assert_eq!(string(body, 0, &mut diagnostics), "a\\b\"c\n\t\0Aé");
        assert!(diagnostics.is_empty());

        let body = r#"x\qy\x4z\xff"#;
        assert_eq!(string(body, 10, &mut diagnostics), "xyz");
        let found: Vec<(Code, std::ops::Range<usize>)> = diagnostics
            .iter()
            .map(|d| (d.code, d.primary.span.range()))
            .collect();
        assert_eq!(
            found,
            [
                (Code::BadEscape, 11..13),
                (Code::BadEscape, 14..17),
                (Code::BadEscape, 18..22)
            ]
        );
    }
}
