//! pest's "expected one of these rules at this position" turned into a diagnostic a user can
//! act on: the offending token as primary span, what was expected in words, and a help line
//! for mistakes people coming from other languages make (`=`, `&&`, `if`).

use super::token::{Token, TokenKind, ITEM_KEYWORDS, KEYWORDS};
use super::Rule;
use crate::diagnostic::{suggest, Code, Diagnostic};
use crate::span::Span;
use std::ops::Range;

/// What the parser was looking for, in the order it is listed to the user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Expected {
    Expression,
    List,
    Name,
    Event,
    Errno,
    Assign,
    ComparisonOperator,
    BitAnd,
    And,
    Or,
    Comma,
    CloseParen,
    CloseBracket,
    OpenBrace,
    CloseBrace,
    Colon,
    Arrow,
    Where,
    ErrnoClause,
    Item,
}

impl Expected {
    fn of(parsed: Rule) -> Option<Expected> {
        use Rule::*;
        Some(match parsed {
            expr | conjunction | negation | comparison | bitand | paren | lparen | boolean
            | int | string | string_body | name | kw_not | addr => Expected::Expression,
            list | lbracket => Expected::List,
            def_name => Expected::Name,
            event => Expected::Event,
            errno_name => Expected::Errno,
            assign => Expected::Assign,
            cmp_op | op_eq | op_ne | op_le | op_ge | op_lt | op_gt | op_not_match | op_match
            | kw_in => Expected::ComparisonOperator,
            op_bitand => Expected::BitAnd,
            kw_and => Expected::And,
            kw_or => Expected::Or,
            comma => Expected::Comma,
            rparen => Expected::CloseParen,
            rbracket => Expected::CloseBracket,
            lbrace => Expected::OpenBrace,
            rbrace => Expected::CloseBrace,
            colon => Expected::Colon,
            arrow => Expected::Arrow,
            condition | kw_where => Expected::Where,
            errno_clause | kw_errno => Expected::ErrnoClause,
            policy | list_def | macro_def | rule | action | kw_list | kw_macro | kw_deny
            | kw_allow | kw_audit | kw_test | test_case | expectation | kw_policy | kw_mode
            | policy_decl | mode_decl | EOI => Expected::Item,
            mode_name => Expected::Name,
            _ => return None,
        })
    }

    fn words(self) -> &'static str {
        match self {
            Expected::Expression => "an expression",
            Expected::List => "a list `[...]`",
            Expected::Name => "a name",
            Expected::Event => "an event name",
            Expected::Errno => "an errno name",
            Expected::Assign => "`=`",
            Expected::ComparisonOperator => "a comparison operator",
            Expected::BitAnd => "`&`",
            Expected::And => "`and`",
            Expected::Or => "`or`",
            Expected::Comma => "`,`",
            Expected::CloseParen => "`)`",
            Expected::CloseBracket => "`]`",
            Expected::OpenBrace => "`{`",
            Expected::CloseBrace => "`}`",
            Expected::Colon => "`:`",
            Expected::Arrow => "`=>`",
            Expected::Where => "`where`",
            Expected::ErrnoClause => "`errno`",
            Expected::Item => "a new item",
        }
    }

    /// The keyword this stands for, for "did you mean" suggestions.
    fn keyword(self) -> Option<&'static str> {
        match self {
            Expected::And => Some("and"),
            Expected::Or => Some("or"),
            Expected::Where => Some("where"),
            Expected::ErrnoClause => Some("errno"),
            _ => None,
        }
    }
}

pub(super) fn from_pest(
    source: &str,
    piece: &Range<usize>,
    tokens: &[Token],
    err: &pest::error::Error<Rule>,
) -> Diagnostic {
    let pos = piece.start
        + match err.location {
            pest::error::InputLocation::Pos(pos) => pos,
            pest::error::InputLocation::Span((start, _)) => start,
        };
    let positives = match &err.variant {
        pest::error::ErrorVariant::ParsingError { positives, .. } => positives.as_slice(),
        // pest's own limits (stack, calls); nesting is bounded before parsing, so this is
        // a backstop.
        pest::error::ErrorVariant::CustomError { message } => {
            let at = pos.min(piece.end);
            return Diagnostic::new(
                Code::Syntax,
                format!("the parser gave up here: {message}"),
                Span::new(at, at),
            )
            .with_help("simplify this item");
        }
    };
    let mut expected: Vec<Expected> = positives.iter().filter_map(|&r| Expected::of(r)).collect();
    expected.sort();
    expected.dedup();
    if expected.contains(&Expected::Expression) {
        // A list is one kind of expression.
        expected.retain(|&e| e != Expected::List);
    }
    if expected.contains(&Expected::And) {
        // `&` is rarely what was missing after an operand; listing it only adds noise.
        expected.retain(|&e| e != Expected::BitAnd);
    }

    let index = tokens.iter().position(|t| t.span.end > pos);
    let found = index.map(|i| &tokens[i]);
    let previous = match index {
        Some(i) => i.checked_sub(1),
        None => tokens.len().checked_sub(1),
    };
    let context = Context {
        source,
        tokens,
        expected: &expected,
    };

    let Some(found) = found else {
        // The piece ended too early: point just after the last token.
        let at = previous.map_or(pos, |p| tokens[p].span.end);
        let after = previous.map_or_else(|| "this".to_owned(), |p| context.describe_previous(p));
        let wanted = context.expected_words();
        return Diagnostic::new(
            Code::Syntax,
            format!("expected {wanted} after {after}"),
            Span::new(at, at),
        )
        .with_label(format!("expected {wanted}"));
    };

    let found_text = &source[found.span.clone()];
    let span = Span::new(found.span.start, found.span.end);
    let shown = shorten(found_text);

    if let Some(diagnostic) = context.chained_comparison(found, index.unwrap_or(0)) {
        return diagnostic;
    }

    let wanted = context.expected_words();
    let mut diagnostic = if found.kind == TokenKind::Unknown {
        Diagnostic::new(
            Code::Syntax,
            format!("unexpected character `{shown}`"),
            span,
        )
        .with_label(format!("expected {wanted}"))
    } else if expected.len() <= 2 && !expected.contains(&Expected::Item) && previous.is_some() {
        let after = previous.map_or_else(String::new, |p| context.describe_previous(p));
        Diagnostic::new(
            Code::Syntax,
            format!("expected {wanted} after {after}"),
            span,
        )
        .with_label(format!("unexpected `{shown}`"))
    } else {
        Diagnostic::new(Code::Syntax, format!("unexpected `{shown}`"), span)
            .with_label(format!("expected {wanted}"))
    };
    if let Some(help) = context.help(found, found_text) {
        diagnostic = diagnostic.with_help(help);
    }
    diagnostic
}

struct Context<'a> {
    source: &'a str,
    tokens: &'a [Token],
    expected: &'a [Expected],
}

impl Context<'_> {
    fn text(&self, index: usize) -> &str {
        &self.source[self.tokens[index].span.clone()]
    }

    fn expects(&self, e: Expected) -> bool {
        self.expected.contains(&e)
    }

    fn expected_words(&self) -> String {
        let words: Vec<&str> = self.expected.iter().map(|e| e.words()).collect();
        match words.as_slice() {
            [] => "something else".to_owned(),
            [one] => (*one).to_owned(),
            [init @ .., last] => format!("{} or {last}", init.join(", ")),
        }
    }

    /// The token before the error, named by its role when that reads better than its text.
    fn describe_previous(&self, index: usize) -> String {
        let role = index
            .checked_sub(1)
            .and_then(|before| match self.text(before) {
                "list" => Some("the list name"),
                "macro" => Some("the macro name"),
                "deny" | "allow" | "audit" => Some("the event name"),
                "errno" => Some("the errno name"),
                _ => None,
            });
        match role {
            Some(role) if self.tokens[index].kind == TokenKind::Word => role.to_owned(),
            _ => format!("`{}`", shorten(self.text(index))),
        }
    }

    /// `a == b == c`: the parser stops at the second operator, which it does not expect once
    /// a comparison is complete.
    fn chained_comparison(&self, found: &Token, index: usize) -> Option<Diagnostic> {
        const COMPARISONS: &[&str] = &["==", "!=", "<", "<=", ">", ">=", "~", "!~", "in"];
        let text = &self.source[found.span.clone()];
        if !COMPARISONS.contains(&text)
            || self.expects(Expected::ComparisonOperator)
            || self.expects(Expected::Expression)
            || !self.expects(Expected::And)
        {
            return None;
        }
        let mut diagnostic = Diagnostic::new(
            Code::Syntax,
            "comparison operators cannot be chained",
            Span::new(found.span.start, found.span.end),
        )
        .with_label("second comparison")
        .with_help("combine two comparisons with `and`, e.g. `a < b and b < c`");
        // The first operator: the nearest comparison before this one at the same nesting.
        let mut depth = 0i32;
        for before in (0..index).rev() {
            let t = self.text(before);
            match t {
                ")" | "]" => depth += 1,
                "(" | "[" if depth == 0 => break,
                "(" | "[" => depth -= 1,
                "and" | "or" | "not" | "where" | "=" if depth == 0 => break,
                t if depth == 0 && COMPARISONS.contains(&t) => {
                    let span = &self.tokens[before].span;
                    diagnostic = diagnostic
                        .with_secondary(Span::new(span.start, span.end), "first comparison");
                    break;
                }
                _ => {}
            }
        }
        Some(diagnostic)
    }

    fn help(&self, found: &Token, text: &str) -> Option<String> {
        let in_expression = self.expects(Expected::ComparisonOperator)
            || self.expects(Expected::And)
            || self.expects(Expected::Or)
            || self.expects(Expected::Expression);
        match text {
            "&&" => return Some("write `and`".to_owned()),
            "||" => return Some("write `or`".to_owned()),
            "!" => return Some("write `not`".to_owned()),
            "=" if in_expression => return Some("compare with `==`".to_owned()),
            "'" => return Some("strings are written in double quotes: `\"...\"`".to_owned()),
            "where" if self.expects(Expected::Item) => {
                return Some("the `where` clause comes before `errno`".to_owned())
            }
            "errno" if self.expects(Expected::Item) => {
                return Some("a rule has at most one `errno` clause".to_owned())
            }
            "if" | "when" | "unless" if self.expects(Expected::Where) => {
                return Some("conditions start with `where`".to_owned())
            }
            _ => {}
        }
        if found.kind != TokenKind::Word {
            return None;
        }
        if KEYWORDS.contains(&text)
            && (self.expects(Expected::Name)
                || self.expects(Expected::Event)
                || self.expects(Expected::Expression))
        {
            return Some(format!(
                "`{text}` is a keyword and cannot be used as a name"
            ));
        }
        let mut candidates: Vec<&str> = self.expected.iter().filter_map(|e| e.keyword()).collect();
        if self.expects(Expected::Item) {
            candidates.extend(ITEM_KEYWORDS);
        }
        match suggest(text, candidates) {
            Some(keyword) => Some(format!("did you mean `{keyword}`?")),
            None if self.expected == [Expected::Item] => Some(
                "items start with `policy`, `mode`, `list`, `macro`, `deny`, `allow`, `audit` or `test`".to_owned(),
            ),
            None => None,
        }
    }
}

/// User text for a message: one line, at most 32 characters.
fn shorten(text: &str) -> String {
    let line = text.lines().next().unwrap_or("");
    if line.chars().count() > 32 || line.len() < text.len() {
        let head: String = line.chars().take(32).collect();
        format!("{head}...")
    } else {
        line.to_owned()
    }
}
