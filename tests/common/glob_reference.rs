//! An independent glob matcher for tests, written from the book's definitions
//! (book/src/language.md, "Globs") and sharing no code with `lang::glob`: braces are expanded
//! by their own recursive splitter, and each alternative is matched by backtracking directly
//! over the pattern text. Slow and obvious on purpose; it only has to be right on short strings.
//!
//! The definitions it follows: `*` any run of bytes except `/`; `**` (two or more stars) any
//! run; `?` one byte except `/`; `[...]` one byte of the class (`!` or `^` first negates; `a-z`
//! an inclusive range; `\x` the byte `x`, at either end of a range), never `/`; `{a,b}` either
//! alternative, nested allowed, expanded before anything else; `\x` the byte `x`; a `**` between
//! two `/`, or at the start before a `/`, may also match zero directories (`/**/` reads `/`, a
//! leading `**/` reads nothing). Patterns match whole strings.

/// Does `pattern` match all of `text`? The pattern must be well formed.
pub fn reference_matches(pattern: &[u8], text: &[u8]) -> bool {
    expand(pattern)
        .iter()
        .any(|alternative| match_here(alternative, 0, text))
}

/// The pattern's brace alternatives, each still in pattern syntax (escapes kept).
fn expand(pattern: &[u8]) -> Vec<Vec<u8>> {
    // Find the first unescaped `{`; everything before it is shared.
    let mut i = 0;
    while i < pattern.len() {
        match pattern[i] {
            b'\\' => i += 2,
            b'[' => i = skip_class(pattern, i),
            b'{' => break,
            _ => i += 1,
        }
    }
    if i >= pattern.len() {
        return vec![pattern.to_vec()];
    }
    let (parts, close) = split_braces(pattern, i);
    let mut out = Vec::new();
    for part in parts {
        let mut joined = pattern[..i].to_vec();
        joined.extend_from_slice(&part);
        joined.extend_from_slice(&pattern[close + 1..]);
        out.extend(expand(&joined));
    }
    out
}

/// The top-level comma-separated parts of the braces opening at `open`, and where they close.
fn split_braces(pattern: &[u8], open: usize) -> (Vec<Vec<u8>>, usize) {
    let mut parts = vec![Vec::new()];
    let mut depth = 0;
    let mut i = open + 1;
    while i < pattern.len() {
        let byte = pattern[i];
        match byte {
            b'\\' => {
                let last = parts.len() - 1;
                parts[last].extend_from_slice(&pattern[i..(i + 2).min(pattern.len())]);
                i += 2;
                continue;
            }
            b'{' => depth += 1,
            b'}' if depth == 0 => return (parts, i),
            b'}' => depth -= 1,
            b',' if depth == 0 => {
                parts.push(Vec::new());
                i += 1;
                continue;
            }
            _ => {}
        }
        let last = parts.len() - 1;
        parts[last].push(byte);
        i += 1;
    }
    panic!("unclosed brace in {:?}", String::from_utf8_lossy(pattern));
}

/// The index just past the class opening at `open`.
fn skip_class(pattern: &[u8], open: usize) -> usize {
    let mut i = open + 1;
    if matches!(pattern.get(i), Some(b'!' | b'^')) {
        i += 1;
    }
    let mut first = true;
    while i < pattern.len() {
        match pattern[i] {
            b'\\' => i += 2,
            b']' if !first => return i + 1,
            _ => i += 1,
        }
        first = false;
    }
    panic!("unclosed class in {:?}", String::from_utf8_lossy(pattern));
}

/// Does the class opening at `open` accept `byte`?
fn class_accepts(pattern: &[u8], open: usize, byte: u8) -> bool {
    let mut i = open + 1;
    let negated = matches!(pattern.get(i), Some(b'!' | b'^'));
    if negated {
        i += 1;
    }
    let end = skip_class(pattern, open) - 1;
    let mut inside = false;
    while i < end {
        let (low, after_low) = literal_at(pattern, i);
        let (high, after) = if pattern.get(after_low) == Some(&b'-') && after_low + 1 < end {
            literal_at(pattern, after_low + 1)
        } else {
            (low, after_low)
        };
        inside |= low <= byte && byte <= high;
        i = after;
    }
    byte != b'/' && inside != negated
}

/// The byte a class member at `i` stands for (an escape gives the next byte), and what follows.
fn literal_at(pattern: &[u8], i: usize) -> (u8, usize) {
    if pattern[i] == b'\\' {
        (pattern[i + 1], i + 2)
    } else {
        (pattern[i], i + 1)
    }
}

/// Is the pattern at `i` a `/`, written plainly or escaped? Returns its length.
fn slash_at(pattern: &[u8], i: usize) -> Option<usize> {
    match pattern.get(i) {
        Some(b'/') => Some(1),
        Some(b'\\') if pattern.get(i + 1) == Some(&b'/') => Some(2),
        _ => None,
    }
}

/// Does `pattern[i..]` match all of `text`? `i` is also how the zero-directory readings know
/// where they stand: a `**` at 0 is leading, and one after a `/` is between slashes.
fn match_here(pattern: &[u8], i: usize, text: &[u8]) -> bool {
    let Some(&byte) = pattern.get(i) else {
        return text.is_empty();
    };
    match byte {
        b'*' => {
            let stars = pattern[i..].iter().take_while(|b| **b == b'*').count();
            let rest = i + stars;
            if stars >= 2 {
                let after_slash = i == 0 || ends_with_slash(&pattern[..i]);
                if after_slash {
                    if let Some(len) = slash_at(pattern, rest) {
                        // Zero directories: skip the `**/` entirely.
                        let mut skipped = pattern[..i].to_vec();
                        skipped.extend_from_slice(&pattern[rest + len..]);
                        if match_here(&skipped, i, text) {
                            return true;
                        }
                    }
                }
                (0..=text.len()).any(|k| match_here(pattern, rest, &text[k..]))
            } else {
                for k in 0..=text.len() {
                    if match_here(pattern, rest, &text[k..]) {
                        return true;
                    }
                    if text.get(k) == Some(&b'/') {
                        break;
                    }
                }
                false
            }
        }
        b'?' => text.first().is_some_and(|b| *b != b'/') && match_here(pattern, i + 1, &text[1..]),
        b'[' => {
            text.first().is_some_and(|b| class_accepts(pattern, i, *b))
                && match_here(pattern, skip_class(pattern, i), &text[1..])
        }
        b'\\' => text.first() == Some(&pattern[i + 1]) && match_here(pattern, i + 2, &text[1..]),
        literal => text.first() == Some(&literal) && match_here(pattern, i + 1, &text[1..]),
    }
}

/// Does the pattern text before a `**` end in a `/`? An escaped `/` (`\/`) is a `/` too, and a
/// class never holds one, so the last byte says it.
fn ends_with_slash(before: &[u8]) -> bool {
    before.last() == Some(&b'/')
}
