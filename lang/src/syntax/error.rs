//! Syntax errors as data ([`SyntaxError`], rendered in one place by
//! [`SyntaxError::diagnostic`]), and pest's "expected one of these rules at this position"
//! turned into one a user can act on: the offending token as primary span, what was expected
//! in words, and a help line for mistakes people coming from other languages make (`=`, `&&`,
//! `if`).

use super::token::{Token, TokenKind, ITEM_KEYWORDS, KEYWORDS};
use super::Rule;
use crate::diagnostic::{suggest, Code, Diagnostic};
use crate::span::Span;
use std::net::IpAddr;
use std::ops::Range;

/// A syntax error: one variant a kind, with the facts it is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyntaxError {
    /// The file's bytes stop being UTF-8 at `span`.
    NotUtf8 {
        span: Span,
    },
    SourceTooLarge {
        len: usize,
        limit: usize,
    },
    UnterminatedString {
        span: Span,
    },
    NestedTooDeeply {
        limit: usize,
        span: Span,
    },
    ExpressionTooComplex {
        limit: u32,
        span: Span,
    },
    /// pest's own limits (stack, calls).
    ParserGaveUp {
        message: String,
        span: Span,
    },
    /// The item ended where `wanted` was expected, after `after`.
    EndedEarly {
        wanted: String,
        after: String,
        span: Span,
    },
    UnexpectedCharacter {
        shown: String,
        wanted: String,
        span: Span,
        help: Option<SyntaxHelp>,
    },
    /// `shown` where `wanted` was expected after `after`.
    ExpectedAfter {
        wanted: String,
        after: String,
        shown: String,
        span: Span,
        help: Option<SyntaxHelp>,
    },
    Unexpected {
        shown: String,
        wanted: String,
        span: Span,
        help: Option<SyntaxHelp>,
    },
    /// `a == b == c`: `span` is the second operator, `first` the first when found.
    ChainedComparison {
        span: Span,
        first: Option<Span>,
    },
    /// An address that does not parse as one of `family`.
    BadAddress {
        text: String,
        family: AddressFamily,
        span: Span,
    },
    BadPrefixLength {
        prefix: String,
        family: AddressFamily,
        span: Span,
    },
    HostBitsSet {
        text: String,
        prefix: u8,
        network: IpAddr,
        ip: IpAddr,
        span: Span,
    },
    LeadingZero {
        text: String,
        decimal: String,
        span: Span,
    },
    InvalidDigit {
        digit: char,
        radix: Radix,
        text: String,
        span: Span,
    },
    IntegerTooLarge {
        text: String,
        span: Span,
    },
    /// `0x` (the `prefix`) and no digits after it.
    NoDigits {
        text: String,
        prefix: String,
        radix: Radix,
        span: Span,
    },
    NonAsciiEscape {
        hex: String,
        span: Span,
    },
    ShortHexEscape {
        hex: String,
        span: Span,
    },
    UnknownEscape {
        text: String,
        span: Span,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressFamily {
    V4,
    V6,
}

/// The base of an integer literal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Radix {
    Binary,
    Octal,
    Decimal,
    Hexadecimal,
}

impl Radix {
    pub fn base(self) -> u32 {
        match self {
            Radix::Binary => 2,
            Radix::Octal => 8,
            Radix::Decimal => 10,
            Radix::Hexadecimal => 16,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Radix::Binary => "binary",
            Radix::Octal => "octal",
            Radix::Decimal => "decimal",
            Radix::Hexadecimal => "hexadecimal",
        }
    }

    fn article(self) -> &'static str {
        match self {
            Radix::Octal => "an",
            _ => "a",
        }
    }
}

/// A help line for a mistake the parser recognises.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyntaxHelp {
    WriteAnd,
    WriteOr,
    WriteNot,
    CompareWithEquals,
    DoubleQuotes,
    WhereBeforeErrno,
    OneErrno,
    ConditionsStartWithWhere,
    KeywordAsName(String),
    DidYouMean(&'static str),
    ItemKeywords,
}

impl SyntaxHelp {
    fn text(&self) -> String {
        match self {
            SyntaxHelp::WriteAnd => "write `and`".into(),
            SyntaxHelp::WriteOr => "write `or`".into(),
            SyntaxHelp::WriteNot => "write `not`".into(),
            SyntaxHelp::CompareWithEquals => "compare with `==`".into(),
            SyntaxHelp::DoubleQuotes => "strings are written in double quotes: `\"...\"`".into(),
            SyntaxHelp::WhereBeforeErrno => "the `where` clause comes before `errno`".into(),
            SyntaxHelp::OneErrno => "a rule has at most one `errno` clause".into(),
            SyntaxHelp::ConditionsStartWithWhere => "conditions start with `where`".into(),
            SyntaxHelp::KeywordAsName(text) => {
                format!("`{text}` is a keyword and cannot be used as a name")
            }
            SyntaxHelp::DidYouMean(keyword) => crate::diagnostic::did_you_mean(keyword),
            SyntaxHelp::ItemKeywords => "items start with `policy`, `mode`, `list`, `macro`, `deny`, `allow`, `audit` or `test`".into(),
        }
    }
}

impl SyntaxError {
    /// The error as users read it.
    pub fn diagnostic(&self) -> Diagnostic {
        let with_help = |d: Diagnostic, help: &Option<SyntaxHelp>| match help {
            Some(SyntaxHelp::DidYouMean(keyword)) => d.with_suggestion(keyword),
            Some(help) => d.with_help(help.text()),
            None => d,
        };
        match self {
            SyntaxError::NotUtf8 { span } => {
                Diagnostic::new(Code::BadSource, "the policy is not valid UTF-8", *span)
                    .with_label("this byte is not UTF-8")
                    .with_help("save the file as UTF-8")
            }
            SyntaxError::SourceTooLarge { len, limit } => Diagnostic::new(
                Code::BadSource,
                format!("the policy is {len} bytes long, more than the limit of {limit}"),
                Span::new(0, 0),
            )
            .with_help("split it into several policies"),
            SyntaxError::UnterminatedString { span } => {
                Diagnostic::new(Code::Syntax, "unterminated string", *span)
                    .with_label("this string has no closing `\"` on its line")
                    .with_help("strings cannot span lines; close it with `\"`")
            }
            SyntaxError::NestedTooDeeply { limit, span } => {
                Diagnostic::new(Code::Syntax, "expression nested too deeply", *span)
                    .with_label(format!("more than {limit} levels deep here"))
                    .with_help("use fewer parentheses or brackets")
            }
            SyntaxError::ExpressionTooComplex { limit, span } => {
                Diagnostic::new(Code::Syntax, "expression is too complex", *span)
                    .with_label(format!("more than {limit} operators deep here"))
                    .with_help("split it into several rules, or move alternatives into a list")
            }
            SyntaxError::ParserGaveUp { message, span } => Diagnostic::new(
                Code::Syntax,
                format!("the parser gave up here: {message}"),
                *span,
            )
            .with_help("simplify this item"),
            SyntaxError::EndedEarly {
                wanted,
                after,
                span,
            } => Diagnostic::new(
                Code::Syntax,
                format!("expected {wanted} after {after}"),
                *span,
            )
            .with_label(format!("expected {wanted}")),
            SyntaxError::UnexpectedCharacter {
                shown,
                wanted,
                span,
                help,
            } => with_help(
                Diagnostic::new(
                    Code::Syntax,
                    format!("unexpected character `{shown}`"),
                    *span,
                )
                .with_label(format!("expected {wanted}")),
                help,
            ),
            SyntaxError::ExpectedAfter {
                wanted,
                after,
                shown,
                span,
                help,
            } => with_help(
                Diagnostic::new(
                    Code::Syntax,
                    format!("expected {wanted} after {after}"),
                    *span,
                )
                .with_label(format!("unexpected `{shown}`")),
                help,
            ),
            SyntaxError::Unexpected {
                shown,
                wanted,
                span,
                help,
            } => with_help(
                Diagnostic::new(Code::Syntax, format!("unexpected `{shown}`"), *span)
                    .with_label(format!("expected {wanted}")),
                help,
            ),
            SyntaxError::ChainedComparison { span, first } => {
                let d = Diagnostic::new(
                    Code::Syntax,
                    "comparison operators cannot be chained",
                    *span,
                )
                .with_label("second comparison")
                .with_help("combine two comparisons with `and`, e.g. `a < b and b < c`");
                match first {
                    Some(first) => d.with_secondary(*first, "first comparison"),
                    None => d,
                }
            }
            SyntaxError::BadAddress { text, family, span } => Diagnostic::new(
                Code::BadAddress,
                format!("`{text}` is not an {} address", family.name()),
                *span,
            )
            .with_label("malformed address")
            .with_help(match family {
                AddressFamily::V4 => {
                    "write four decimal numbers from 0 to 255 without leading zeros, e.g. `10.0.0.1`"
                }
                AddressFamily::V6 => {
                    "write eight groups of hex digits separated by `:`, one `::` for a run of zero groups, e.g. `fe80::1`"
                }
            }),
            SyntaxError::BadPrefixLength {
                prefix,
                family,
                span,
            } => Diagnostic::new(
                Code::BadAddress,
                format!(
                    "`/{prefix}` is not a prefix length of an {} address",
                    family.name()
                ),
                *span,
            )
            .with_label("bad prefix length")
            .with_help(format!(
                "a prefix length is a number from 0 to {}",
                family.bits()
            )),
            SyntaxError::HostBitsSet {
                text,
                prefix,
                network,
                ip,
                span,
            } => Diagnostic::new(
                Code::BadAddress,
                format!("`{text}` has bits set past its /{prefix} prefix"),
                *span,
            )
            .with_label("host bits set")
            .with_help(format!(
                "write the network, `{network}/{prefix}`, or the single address, `{ip}`"
            )),
            SyntaxError::LeadingZero {
                text,
                decimal,
                span,
            } => Diagnostic::new(
                Code::Syntax,
                format!("integer literal `{text}` has a leading zero"),
                *span,
            )
            .with_label("ambiguous leading zero")
            .with_help(format!(
                "write `0o{decimal}` for an octal number, or `{decimal}` for a decimal one"
            )),
            SyntaxError::InvalidDigit {
                digit,
                radix,
                text,
                span,
            } => Diagnostic::new(
                Code::Syntax,
                format!("invalid digit `{digit}` in {} literal `{text}`", radix.name()),
                *span,
            )
            .with_label(format!("not {} {} digit", radix.article(), radix.name())),
            SyntaxError::IntegerTooLarge { text, span } => Diagnostic::new(
                Code::IntegerTooLarge,
                format!("integer literal `{text}` does not fit in 64 bits"),
                *span,
            )
            .with_label(format!("larger than {}", u64::MAX)),
            SyntaxError::NoDigits {
                text,
                prefix,
                radix,
                span,
            } => Diagnostic::new(
                Code::Syntax,
                format!("integer literal `{text}` has no digits after `{prefix}`"),
                *span,
            )
            .with_label(format!("expected {} digits", radix.name())),
            SyntaxError::NonAsciiEscape { hex, span } => Diagnostic::new(
                Code::BadEscape,
                format!("escape `\\x{hex}` is not an ASCII character"),
                *span,
            )
            .with_label("above `\\x7f`")
            .with_help("strings are UTF-8: write the character itself"),
            SyntaxError::ShortHexEscape { hex, span } => Diagnostic::new(
                Code::BadEscape,
                format!("escape `\\x{hex}` needs two hex digits"),
                *span,
            )
            .with_label("incomplete escape")
            .with_help("write a byte as `\\x` and two hex digits, e.g. `\\x41`"),
            SyntaxError::UnknownEscape { text, span } => {
                Diagnostic::new(Code::BadEscape, format!("unknown escape `{text}`"), *span)
                    .with_label("unknown escape")
                    .with_help("strings accept `\\\\`, `\\\"`, `\\n`, `\\t`, `\\0` and `\\xHH`; write `\\\\` for a backslash")
            }
        }
    }
}

impl AddressFamily {
    fn name(self) -> &'static str {
        match self {
            AddressFamily::V4 => "IPv4",
            AddressFamily::V6 => "IPv6",
        }
    }

    pub fn bits(self) -> u8 {
        match self {
            AddressFamily::V4 => 32,
            AddressFamily::V6 => 128,
        }
    }
}

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
            | kw_allow | kw_audit | kw_kill | kw_test | test_case | expectation | kw_policy
            | kw_mode | policy_decl | mode_decl | EOI => Expected::Item,
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
) -> SyntaxError {
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
            return SyntaxError::ParserGaveUp {
                message: message.clone(),
                span: Span::new(at, at),
            };
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
        return SyntaxError::EndedEarly {
            wanted,
            after,
            span: Span::new(at, at),
        };
    };

    let found_text = &source[found.span.clone()];
    let span = Span::new(found.span.start, found.span.end);
    let shown = shorten(found_text);

    if let Some(chained) = context.chained_comparison(found, index.unwrap_or(0)) {
        return chained;
    }

    let wanted = context.expected_words();
    let help = context.help(found, found_text);
    if found.kind == TokenKind::Unknown {
        SyntaxError::UnexpectedCharacter {
            shown,
            wanted,
            span,
            help,
        }
    } else if expected.len() <= 2 && !expected.contains(&Expected::Item) && previous.is_some() {
        let after = previous.map_or_else(String::new, |p| context.describe_previous(p));
        SyntaxError::ExpectedAfter {
            wanted,
            after,
            shown,
            span,
            help,
        }
    } else {
        SyntaxError::Unexpected {
            shown,
            wanted,
            span,
            help,
        }
    }
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
                "deny" | "allow" | "audit" | "kill" => Some("the event name"),
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
    fn chained_comparison(&self, found: &Token, index: usize) -> Option<SyntaxError> {
        const COMPARISONS: &[&str] = &["==", "!=", "<", "<=", ">", ">=", "~", "!~", "in"];
        let text = &self.source[found.span.clone()];
        if !COMPARISONS.contains(&text)
            || self.expects(Expected::ComparisonOperator)
            || self.expects(Expected::Expression)
            || !self.expects(Expected::And)
        {
            return None;
        }
        let mut first = None;
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
                    first = Some(Span::new(span.start, span.end));
                    break;
                }
                _ => {}
            }
        }
        Some(SyntaxError::ChainedComparison {
            span: Span::new(found.span.start, found.span.end),
            first,
        })
    }

    fn help(&self, found: &Token, text: &str) -> Option<SyntaxHelp> {
        let in_expression = self.expects(Expected::ComparisonOperator)
            || self.expects(Expected::And)
            || self.expects(Expected::Or)
            || self.expects(Expected::Expression);
        match text {
            "&&" => return Some(SyntaxHelp::WriteAnd),
            "||" => return Some(SyntaxHelp::WriteOr),
            "!" => return Some(SyntaxHelp::WriteNot),
            "=" if in_expression => return Some(SyntaxHelp::CompareWithEquals),
            "'" => return Some(SyntaxHelp::DoubleQuotes),
            "where" if self.expects(Expected::Item) => return Some(SyntaxHelp::WhereBeforeErrno),
            "errno" if self.expects(Expected::Item) => return Some(SyntaxHelp::OneErrno),
            "if" | "when" | "unless" if self.expects(Expected::Where) => {
                return Some(SyntaxHelp::ConditionsStartWithWhere)
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
            return Some(SyntaxHelp::KeywordAsName(text.to_string()));
        }
        let mut candidates: Vec<&str> = self.expected.iter().filter_map(|e| e.keyword()).collect();
        if self.expects(Expected::Item) {
            candidates.extend(ITEM_KEYWORDS);
        }
        match suggest(text, candidates) {
            Some(keyword) => Some(SyntaxHelp::DidYouMean(keyword)),
            None if self.expected == [Expected::Item] => Some(SyntaxHelp::ItemKeywords),
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
