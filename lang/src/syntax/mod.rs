//! Policy text to AST.
//!
//! Three steps per item: `token::split_items` cuts the source at lines that start with an
//! item keyword, pest parses each piece with `grammar.pest`, and `lower` turns the parse
//! tree into [`ast`] nodes, checking literals on the way. A broken item costs only itself: the
//! other pieces still parse, so one run reports one error per broken item.

mod error;
mod literal;
mod lower;
mod token;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests;

use crate::ast::{self, Policy};
use crate::diagnostic::Diagnostic;
use crate::span::Span;
pub use error::{AddressFamily, Radix, SyntaxError, SyntaxHelp};
use pest::Parser as _;
use std::ops::Range;
use token::TokenKind;
pub use token::ITEM_KEYWORDS;

/// Sources larger than this are refused with [`Code::BadSource`](crate::diagnostic::Code::BadSource): no policy is this large, and
/// spans are `u32`.
pub const MAX_SOURCE_LEN: usize = 1 << 20;

/// How deep parentheses and brackets may nest. Deeper input is refused before pest sees it, so
/// neither pest nor the lowering recursion can exhaust the stack.
const MAX_NESTING: usize = 64;

#[derive(pest_derive::Parser)]
#[grammar = "../grammar.pest"]
struct PolicyParser;

/// The policy text of a file's bytes, and, when they are not UTF-8, a [`Code::BadSource`](crate::diagnostic::Code::BadSource)
/// diagnostic where they stop being UTF-8 (the text is then a lossy copy, for showing it).
pub fn decode(bytes: Vec<u8>) -> (String, Option<Diagnostic>) {
    match String::from_utf8(bytes) {
        Ok(source) => (source, None),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let source = String::from_utf8_lossy(e.as_bytes()).into_owned();
            // The lossy copy has U+FFFD where the bad byte was, at the same offset.
            let end = source[at..]
                .chars()
                .next()
                .map_or(at, |c| at + c.len_utf8());
            let diagnostic = SyntaxError::NotUtf8 {
                span: Span::new(at, end),
            }
            .diagnostic();
            (source, Some(diagnostic))
        }
    }
}

/// Parses a policy. Returns the items that parsed (even when others did not) and every
/// diagnostic; any error diagnostic means the policy must not be used. Never panics.
pub fn parse(source: &str) -> (Option<Policy>, Vec<Diagnostic>) {
    if source.len() > MAX_SOURCE_LEN {
        let diagnostic = SyntaxError::SourceTooLarge {
            len: source.len(),
            limit: MAX_SOURCE_LEN,
        }
        .diagnostic();
        return (None, vec![diagnostic]);
    }
    let mut items = Vec::new();
    let mut diagnostics = Vec::new();
    // Most sources are valid: one parse of the whole file is several times faster than one
    // per item. Only a file with an error pays for the per-item pass that reports them all.
    let tokens = token::tokenize(source, 0..source.len());
    if lexical_error(source, &tokens).is_none() {
        if let Ok(pairs) = PolicyParser::parse(Rule::policy, source) {
            lower::policy(pairs, 0, &mut items, &mut diagnostics);
            return (Some(Policy { items }), diagnostics);
        }
    }
    for piece in token::split_items(source) {
        parse_piece(source, piece, &mut items, &mut diagnostics);
    }
    (Some(Policy { items }), diagnostics)
}

fn parse_piece(
    source: &str,
    piece: Range<usize>,
    items: &mut Vec<ast::Item>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let tokens = token::tokenize(source, piece.clone());
    if let Some(diagnostic) = lexical_error(source, &tokens) {
        diagnostics.push(diagnostic);
        return;
    }
    match PolicyParser::parse(Rule::policy, &source[piece.clone()]) {
        Ok(pairs) => lower::policy(pairs, piece.start, items, diagnostics),
        Err(err) => {
            let diagnostic = error::from_pest(source, &piece, &tokens, &err).diagnostic();
            salvage_lines_before(source, &piece, &diagnostic, items, diagnostics);
            diagnostics.push(diagnostic);
        }
    }
}

/// When an error is on the first token of a line (`denny open` after a good rule), the item
/// splitter did not see a new item there, but the lines before it may be complete items:
/// keep them if they parse on their own.
fn salvage_lines_before(
    source: &str,
    piece: &Range<usize>,
    error: &Diagnostic,
    items: &mut Vec<ast::Item>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let at = (error.primary.span.start as usize).clamp(piece.start, piece.end);
    let line_start = source[..at].rfind('\n').map_or(0, |p| p + 1);
    let first_on_line = source[line_start..at].trim().is_empty();
    if !first_on_line || line_start <= piece.start {
        return;
    }
    if let Ok(pairs) = PolicyParser::parse(Rule::policy, &source[piece.start..line_start]) {
        lower::policy(pairs, piece.start, items, diagnostics);
    }
}

/// Errors that would make pest's report confusing (an unterminated string shows up as
/// "expected ..." somewhere after it) or that pest should not be asked to parse.
fn lexical_error(source: &str, tokens: &[token::Token]) -> Option<Diagnostic> {
    let mut depth = 0usize;
    for token in tokens {
        let span = Span::new(token.span.start, token.span.end);
        if token.kind == (TokenKind::Str { terminated: false }) {
            return Some(SyntaxError::UnterminatedString { span }.diagnostic());
        }
        if token.kind != TokenKind::Punct {
            continue;
        }
        match &source[token.span.clone()] {
            "(" | "[" => {
                depth += 1;
                if depth > MAX_NESTING {
                    let limit = MAX_NESTING;
                    return Some(SyntaxError::NestedTooDeeply { limit, span }.diagnostic());
                }
            }
            ")" | "]" => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}
