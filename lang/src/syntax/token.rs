//! A small lexer used around the pest grammar, never instead of it: it finds where items
//! start, catches unterminated strings and runaway nesting before pest sees them, and names
//! the token a syntax error points at.

use std::ops::Range;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum TokenKind {
    /// An identifier or keyword.
    Word,
    /// A digit followed by any letters, digits and `_`.
    Int,
    /// A string literal; `terminated` is false when the line ends first.
    Str { terminated: bool },
    /// An operator or punctuation mark, one or two characters.
    Punct,
    /// A character that starts no token.
    Unknown,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Token {
    pub kind: TokenKind,
    /// Byte range into the whole source.
    pub span: Range<usize>,
}

const TWO_CHAR_PUNCT: &[&str] = &["==", "!=", "<=", ">=", "!~", "&&", "||"];
const ONE_CHAR_PUNCT: &str = "=<>!~&|()[],.";

/// The tokens of `source[range]`, comments and whitespace skipped, with absolute spans.
pub(super) fn tokenize(source: &str, range: Range<usize>) -> Vec<Token> {
    let text = &source[range.clone()];
    let base = range.start;
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        let kind = match c {
            b' ' | b'\t' | b'\r' | b'\n' => {
                i += 1;
                continue;
            }
            b'#' => {
                i = line_end(bytes, i);
                continue;
            }
            b'"' => {
                i += 1;
                let mut terminated = false;
                while i < bytes.len() {
                    match bytes[i] {
                        b'"' => {
                            i += 1;
                            terminated = true;
                            break;
                        }
                        b'\n' => break,
                        // An escape takes the next character, unless it is the line's end.
                        b'\\' if bytes.get(i + 1).is_some_and(|&b| b != b'\n') => {
                            i += 1 + char_len(text, i + 1)
                        }
                        _ => i += char_len(text, i),
                    }
                }
                TokenKind::Str { terminated }
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                i = word_end(bytes, i);
                TokenKind::Word
            }
            c if c.is_ascii_digit() => {
                i = word_end(bytes, i);
                TokenKind::Int
            }
            _ => {
                if TWO_CHAR_PUNCT.iter().any(|p| text[i..].starts_with(p)) {
                    i += 2;
                    TokenKind::Punct
                } else if ONE_CHAR_PUNCT.as_bytes().contains(&c) {
                    i += 1;
                    TokenKind::Punct
                } else {
                    i += char_len(text, i);
                    TokenKind::Unknown
                }
            }
        };
        tokens.push(Token {
            kind,
            span: base + start..base + i,
        });
    }
    tokens
}

fn line_end(bytes: &[u8], from: usize) -> usize {
    bytes[from..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |p| from + p)
}

fn word_end(bytes: &[u8], from: usize) -> usize {
    bytes[from..]
        .iter()
        .position(|&b| !(b.is_ascii_alphanumeric() || b == b'_'))
        .map_or(bytes.len(), |p| from + p)
}

/// The length in bytes of the character starting at byte `i` (which is a char boundary).
fn char_len(text: &str, i: usize) -> usize {
    text[i..].chars().next().map_or(1, char::len_utf8)
}

/// The words that start an item. A line whose first token is one of them starts a new item
/// in every valid policy, because they are reserved and appear nowhere else, or (`mode`,
/// `kill`) because a line cannot start with them inside an item.
pub const ITEM_KEYWORDS: &[&str] = &[
    "list", "macro", "deny", "allow", "audit", "kill", "test", "policy", "mode",
];

/// All reserved words.
pub(super) const KEYWORDS: &[&str] = &[
    "deny", "allow", "audit", "list", "macro", "where", "errno", "and", "or", "not", "in", "true",
    "test", "false",
];

/// Splits the source into pieces that each start at a line beginning with an item keyword
/// (the first piece starts at 0 and may hold only comments). Every byte belongs to exactly
/// one piece.
pub(super) fn split_items(source: &str) -> Vec<Range<usize>> {
    let mut starts = vec![0];
    let mut line_start = 0;
    for line in source.split_inclusive('\n') {
        let trimmed = line.trim_start_matches([' ', '\t', '\r']);
        let word_len = word_end(trimmed.as_bytes(), 0);
        if line_start > 0 && ITEM_KEYWORDS.contains(&&trimmed[..word_len]) {
            starts.push(line_start + (line.len() - trimmed.len()));
        }
        line_start += line.len();
    }
    let mut pieces: Vec<Range<usize>> = starts.windows(2).map(|pair| pair[0]..pair[1]).collect();
    pieces.push(starts[starts.len() - 1]..source.len());
    pieces
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    fn texts(source: &str) -> Vec<&str> {
        tokenize(source, 0..source.len())
            .into_iter()
            .map(|t| &source[t.span])
            .collect()
    }

    #[test]
    fn tokens() {
        assert_eq!(
            texts("deny exec where p ~ \"a\\\"b\" # c\n and x!=0x1F&&é"),
            [
                "deny",
                "exec",
                "where",
                "p",
                "~",
                "\"a\\\"b\"",
                "and",
                "x",
                "!=",
                "0x1F",
                "&&",
                "é"
            ]
        );
        let unterminated = tokenize("x == \"abc\\\ny", 0..11);
        assert_eq!(unterminated[2].kind, TokenKind::Str { terminated: false });
        assert_eq!(unterminated[2].span, 5..10);
    }

    #[test]
    fn pieces_start_at_item_keywords() {
        let source = "# c\nlist a = [1,\n 2]\n  deny x where a\n and b\ndeny_x\naudit y";
        let pieces: Vec<&str> = split_items(source)
            .into_iter()
            .map(|r| &source[r])
            .collect();
        assert_eq!(
            pieces,
            [
                "# c\n",
                "list a = [1,\n 2]\n  ",
                "deny x where a\n and b\ndeny_x\n",
                "audit y"
            ]
        );
    }
}
