//! Integer and string literals: the grammar lexes them loosely, this module says precisely
//! what is wrong with a bad one.

use super::error::{AddressFamily, Radix, SyntaxError};
use crate::diagnostic::Diagnostic;
use crate::span::Span;
use std::net::IpAddr;

/// An address literal: an IPv4 or IPv6 address, optionally `/PREFIX`. The prefix must fit
/// the address family and the address must have no bit set past it (`10.0.0.1/8` is more
/// likely a typo for `10.0.0.0/8` or `10.0.0.1` than a deliberate way to write the former).
pub(super) fn address(text: &str, span: Span) -> Result<(IpAddr, u8), Box<Diagnostic>> {
    let (addr_text, prefix_text) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (text, None),
    };
    let Ok(ip) = addr_text.parse::<IpAddr>() else {
        let family = if addr_text.contains(':') {
            AddressFamily::V6
        } else {
            AddressFamily::V4
        };
        return Err(Box::new(
            SyntaxError::BadAddress {
                text: addr_text.to_string(),
                family,
                span,
            }
            .diagnostic(),
        ));
    };
    let family = if ip.is_ipv4() {
        AddressFamily::V4
    } else {
        AddressFamily::V6
    };
    let bits = family.bits();
    let prefix = match prefix_text {
        None => bits,
        Some(p) => match p.parse::<u8>() {
            Ok(n) if n <= bits && (p == "0" || !p.starts_with('0')) => n,
            _ => {
                return Err(Box::new(
                    SyntaxError::BadPrefixLength {
                        prefix: p.to_string(),
                        family,
                        span,
                    }
                    .diagnostic(),
                ))
            }
        },
    };
    let network = mask_address(ip, prefix);
    if network != ip {
        return Err(Box::new(
            SyntaxError::HostBitsSet {
                text: text.to_string(),
                prefix,
                network,
                ip,
                span,
            }
            .diagnostic(),
        ));
    }
    Ok((ip, prefix))
}

/// `ip` with every bit past the first `prefix` cleared.
pub fn mask_address(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4((u32::from(v4) & mask).into())
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6((u128::from(v6) & mask).into())
        }
    }
}

/// The value of an integer literal: decimal, `0x`, `0o` or `0b`, with `_` separators.
pub(super) fn integer(text: &str, span: Span) -> Result<u64, Box<Diagnostic>> {
    let start = span.start as usize;
    let (radix, digits_at) = match text.get(..2) {
        Some("0x" | "0X") => (Radix::Hexadecimal, 2),
        Some("0o" | "0O") => (Radix::Octal, 2),
        Some("0b" | "0B") => (Radix::Binary, 2),
        _ => (Radix::Decimal, 0),
    };
    let digits = &text[digits_at..];
    if radix == Radix::Decimal
        && digits.len() > 1
        && digits.starts_with('0')
        && digits.bytes().all(|b| b.is_ascii_digit() || b == b'_')
    {
        // C reads `0755` as octal, so a decimal reading would silently differ from intent.
        let trimmed = digits.trim_start_matches(['0', '_']);
        let decimal = if trimmed.is_empty() { "0" } else { trimmed };
        return Err(Box::new(
            SyntaxError::LeadingZero {
                text: text.to_string(),
                decimal: decimal.to_string(),
                span,
            }
            .diagnostic(),
        ));
    }
    let mut value: u64 = 0;
    let mut any_digit = false;
    for (offset, c) in digits.char_indices() {
        if c == '_' {
            continue;
        }
        let Some(digit) = c.to_digit(radix.base()) else {
            let at = start + digits_at + offset;
            return Err(Box::new(
                SyntaxError::InvalidDigit {
                    digit: c,
                    radix,
                    text: text.to_string(),
                    span: Span::new(at, at + c.len_utf8()),
                }
                .diagnostic(),
            ));
        };
        any_digit = true;
        value = match value
            .checked_mul(u64::from(radix.base()))
            .and_then(|v| v.checked_add(u64::from(digit)))
        {
            Some(value) => value,
            None => {
                return Err(Box::new(
                    SyntaxError::IntegerTooLarge {
                        text: text.to_string(),
                        span,
                    }
                    .diagnostic(),
                ));
            }
        };
    }
    if !any_digit {
        return Err(Box::new(
            SyntaxError::NoDigits {
                text: text.to_string(),
                prefix: text[..digits_at].to_string(),
                radix,
                span,
            }
            .diagnostic(),
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
                    Ok(_) if hex.len() == 2 => {
                        diagnostics.push(SyntaxError::NonAsciiEscape { hex, span }.diagnostic())
                    }
                    _ => diagnostics.push(SyntaxError::ShortHexEscape { hex, span }.diagnostic()),
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
    SyntaxError::UnknownEscape {
        text: text.to_string(),
        span,
    }
    .diagnostic()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::diagnostic::Code;

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
