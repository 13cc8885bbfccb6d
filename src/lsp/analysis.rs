//! What the language server knows about one document, computed from its text alone (and the
//! target kernel's types): no I/O and no protocol here, so every answer is tested directly.
//!
//! The text is often half-typed. Nothing here assumes it parses: names are found by scanning
//! the text around the cursor, and the syntax tree is used only for what it has.

use lang::ast::{self, ExprKind, Item};
use lang::catalog::{self, Event, ValueType};
use lang::diagnostic::{Diagnostic, Severity};
use lang::kernel::KernelTypes;
use lang::span::Span;
use lang::syntax::ITEM_KEYWORDS;

/// Byte offsets ↔ LSP positions (line, UTF-16 column), the encoding LSP uses by default.
pub struct LineIndex<'s> {
    source: &'s str,
    line_starts: Vec<usize>,
}

impl<'s> LineIndex<'s> {
    pub fn new(source: &'s str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(source.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex {
            source,
            line_starts,
        }
    }

    /// The (line, UTF-16 column) of byte `offset`, clamped to the text.
    pub fn position(&self, offset: usize) -> (u32, u32) {
        let offset = offset.min(self.source.len());
        let line = self.line_starts.partition_point(|&s| s <= offset) - 1;
        let start = self.line_starts[line];
        let column: usize = self
            .source
            .get(start..offset)
            .unwrap_or("")
            .chars()
            .map(char::len_utf16)
            .sum();
        (line as u32, column as u32)
    }

    /// The byte offset of (line, UTF-16 column), clamped to the line and to the text.
    pub fn offset(&self, line: u32, column: u32) -> usize {
        let Some(&start) = self.line_starts.get(line as usize) else {
            return self.source.len();
        };
        let end = self
            .line_starts
            .get(line as usize + 1)
            .map_or(self.source.len(), |&next| next - 1);
        let mut units = 0;
        for (i, c) in self.source[start..end].char_indices() {
            if units >= column as usize {
                return start + i;
            }
            units += c.len_utf16();
        }
        end
    }
}

/// A diagnostic as the server reports it: the CLI's message with its help and notes appended
/// (LSP has no field for them), and the secondary labels as related locations.
pub struct Reported {
    pub span: Span,
    pub severity: Severity,
    pub code: &'static str,
    pub message: String,
    pub related: Vec<(Span, String)>,
    /// The replacement a "did you mean `x`?" help offers for `span`.
    pub suggestion: Option<String>,
}

/// Every diagnostic of `source`: the whole front end when the target kernel's types are known,
/// else the parser's.
pub fn diagnostics(source: &str, kernel: Option<&dyn KernelTypes>) -> Vec<Reported> {
    let found = match kernel {
        Some(kernel) => lang::front_end(source, kernel).1,
        None => lang::syntax::parse(source).1,
    };
    found.iter().map(reported).collect()
}

fn reported(d: &Diagnostic) -> Reported {
    let mut message = d.message.clone();
    if let Some(help) = &d.help {
        message.push_str("\nhelp: ");
        message.push_str(help);
    }
    for note in &d.notes {
        message.push_str("\nnote: ");
        message.push_str(note);
    }
    Reported {
        span: d.primary.span,
        severity: d.severity(),
        code: d.code.as_str(),
        message,
        related: d
            .secondary
            .iter()
            .map(|l| (l.span, l.message.clone()))
            .collect(),
        suggestion: d.suggestion.clone(),
    }
}

/// The word under or just before `offset`: an identifier, possibly dotted (`parent.comm`).
pub fn word_at(source: &str, offset: usize) -> Option<(Span, &str)> {
    let offset = floor_boundary(source, offset.min(source.len()));
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.';
    let start = source[..offset]
        .char_indices()
        .rev()
        .take_while(|&(_, c)| is_word(c))
        .last()
        .map_or(offset, |(i, _)| i);
    let end = source[offset..]
        .char_indices()
        .find(|&(_, c)| !is_word(c))
        .map_or(source.len(), |(i, _)| offset + i);
    let word = source[start..end].trim_matches('.');
    (!word.is_empty()).then(|| (Span::new(start, end), word))
}

fn floor_boundary(source: &str, mut offset: usize) -> usize {
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// The definitions (`list`, `macro`) of a parsed document, by name.
fn definitions(policy: &ast::Policy) -> Vec<(&'static str, &ast::Name, Span)> {
    policy
        .items
        .iter()
        .filter_map(|item| match item {
            Item::List(list) => Some(("list", &list.name, list.span)),
            Item::Macro(def) => Some(("macro", &def.name, def.span)),
            _ => None,
        })
        .collect()
}

/// Every use of a name in an expression of the document.
fn name_uses(policy: &ast::Policy) -> Vec<&ast::Name> {
    fn walk<'a>(expr: &'a ast::Expr, out: &mut Vec<&'a ast::Name>) {
        match &expr.kind {
            ExprKind::And(l, r) | ExprKind::Or(l, r) | ExprKind::BitAnd(l, r) => {
                walk(l, out);
                walk(r, out);
            }
            ExprKind::Compare { lhs, rhs, .. } => {
                walk(lhs, out);
                walk(rhs, out);
            }
            ExprKind::Not(inner) => walk(inner, out),
            ExprKind::List(items) => items.iter().for_each(|e| walk(e, out)),
            ExprKind::Name(name) => out.push(name),
            ExprKind::Int(_) | ExprKind::Str(_) | ExprKind::Bool(_) | ExprKind::Addr(..) => {}
        }
    }
    let mut out = Vec::new();
    for item in &policy.items {
        match item {
            Item::List(list) => list.elements.iter().for_each(|e| walk(e, &mut out)),
            Item::Macro(def) => walk(&def.body, &mut out),
            Item::Rule(rule) => {
                if let Some(c) = &rule.condition {
                    walk(c, &mut out);
                }
            }
            Item::Test(test) => test.fields.iter().for_each(|(_, v)| walk(v, &mut out)),
            Item::PolicyName { .. } | Item::Mode { .. } => {}
        }
    }
    out
}

/// The definition of the list or macro named at `offset`: the span of its name.
pub fn definition(source: &str, offset: usize) -> Option<Span> {
    let (_, word) = word_at(source, offset)?;
    let policy = lang::syntax::parse(source).0?;
    definitions(&policy)
        .into_iter()
        .find(|(_, name, _)| name.text == word)
        .map(|(_, name, _)| name.span)
}

/// The definition and every use of the list or macro named at `offset`.
pub fn references(source: &str, offset: usize) -> Vec<Span> {
    let Some((_, word)) = word_at(source, offset) else {
        return Vec::new();
    };
    let Some(policy) = lang::syntax::parse(source).0 else {
        return Vec::new();
    };
    let Some((_, defined, _)) = definitions(&policy)
        .into_iter()
        .find(|(_, name, _)| name.text == word)
    else {
        return Vec::new();
    };
    let mut spans = vec![defined.span];
    spans.extend(
        name_uses(&policy)
            .into_iter()
            .filter(|n| n.text == word)
            .map(|n| n.span),
    );
    spans
}

/// A document symbol: what it is, its name, and its span.
pub struct Symbol {
    pub kind: SymbolKind,
    pub name: String,
    pub span: Span,
    pub name_span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SymbolKind {
    Policy,
    List,
    Macro,
    Rule,
    Test,
}

pub fn symbols(source: &str) -> Vec<Symbol> {
    let Some(policy) = lang::syntax::parse(source).0 else {
        return Vec::new();
    };
    policy
        .items
        .iter()
        .filter_map(|item| {
            let (kind, name, span, name_span) = match item {
                Item::PolicyName { name, span } => {
                    (SymbolKind::Policy, name.text.clone(), *span, name.span)
                }
                Item::List(l) => (SymbolKind::List, l.name.text.clone(), l.span, l.name.span),
                Item::Macro(m) => (SymbolKind::Macro, m.name.text.clone(), m.span, m.name.span),
                Item::Rule(r) => (
                    SymbolKind::Rule,
                    format!("{} {}", r.action.keyword(), r.event.text),
                    r.span,
                    r.event.span,
                ),
                Item::Test(t) => (
                    SymbolKind::Test,
                    format!("test {}", t.event.text),
                    t.span,
                    t.event.span,
                ),
                Item::Mode { .. } => return None,
            };
            Some(Symbol {
                kind,
                name,
                span,
                name_span,
            })
        })
        .collect()
}

/// The event of the rule or test item the cursor is in, read from the text: the word after
/// the action (or `test`) that starts the cursor's item.
fn event_at(source: &str, offset: usize) -> Option<&'static Event> {
    let (start, _) = item_start(source, offset);
    let mut words = source[start..].split_whitespace();
    match words.next()? {
        "deny" | "allow" | "audit" | "kill" | "test" => {
            let name = words.next()?;
            let name = name
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .next()?;
            catalog::event(name)
        }
        _ => None,
    }
}

/// The start of the item the cursor is in (the last line at or before it that starts with an
/// item keyword, as the parser splits items) and that keyword.
fn item_start(source: &str, offset: usize) -> (usize, Option<&'static str>) {
    let offset = floor_boundary(source, offset.min(source.len()));
    let mut line_start = source[..offset].rfind('\n').map_or(0, |i| i + 1);
    loop {
        let line = &source[line_start..];
        let first = line
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .next()
            .unwrap_or("");
        if let Some(k) = ITEM_KEYWORDS.iter().find(|k| **k == first) {
            return (line_start, Some(k));
        }
        if line_start == 0 {
            return (0, None);
        }
        line_start = source[..line_start - 1].rfind('\n').map_or(0, |i| i + 1);
    }
}

/// Hover text (Markdown) for the word at `offset`.
pub fn hover(source: &str, offset: usize, kernel: Option<&dyn KernelTypes>) -> Option<String> {
    let (span, word) = word_at(source, offset)?;
    let before = source[..span.start as usize].trim_end();
    let previous = before
        .rsplit(|c: char| c.is_whitespace())
        .next()
        .unwrap_or("");
    if matches!(previous, "deny" | "allow" | "audit" | "kill" | "test") {
        if let Some(event) = catalog::event(word) {
            return Some(describe_event(event, kernel));
        }
    }
    if let Some(event) = event_at(source, offset) {
        if let Some(attribute) = event.attribute(word) {
            let mut text = format!(
                "`{}`: {} — {}",
                attribute.name,
                attribute.ty.describe(),
                attribute.doc
            );
            if let ValueType::Enum(kind) = attribute.ty {
                let names: Vec<&str> = kind.values.iter().take(8).map(|(n, _)| *n).collect();
                text.push_str(&format!(
                    "\n\nCompared with {} names: `{}`{}",
                    kind.name,
                    names.join("`, `"),
                    if kind.values.len() > names.len() {
                        ", ..."
                    } else {
                        ""
                    }
                ));
            }
            return Some(text);
        }
    }
    if let Some(policy) = lang::syntax::parse(source).0 {
        if let Some((what, name, span)) = definitions(&policy)
            .into_iter()
            .find(|(_, name, _)| name.text == word)
        {
            let text = source.get(span.range()).unwrap_or("");
            return Some(format!("{what} `{}`\n\n```krsi\n{text}\n```", name.text));
        }
    }
    if let Some(value) = catalog::errno(word) {
        return Some(format!(
            "`{word}`: error number {value}, returned as `-{word}` by a deny rule"
        ));
    }
    for kind in catalog::ENUMS {
        if let Some(value) = kind.value(word) {
            return Some(format!("`{word}`: {} {value}", kind.name));
        }
    }
    // After an action `kill` is the event (answered above); anywhere else it is the action.
    if word == "kill" {
        return keyword_doc(word).map(String::from);
    }
    if let Some(event) = catalog::event(word) {
        return Some(describe_event(event, kernel));
    }
    keyword_doc(word).map(String::from)
}

fn describe_event(event: &Event, kernel: Option<&dyn KernelTypes>) -> String {
    let mut text = format!("event `{}` — {}\n\nLSM hooks:", event.name, event.doc);
    for hook in event.hooks() {
        // A hook newer kernels added is attached where the kernel has it.
        let since = event
            .variants
            .iter()
            .find_map(|v| match v.availability {
                catalog::Availability::Since(version) if v.hook == hook => Some(version),
                _ => None,
            })
            .map(|version| format!(", Linux {version} and later"))
            .unwrap_or_default();
        let availability = match kernel {
            Some(k) if k.hook_params(hook).is_some() => format!(" (in {}{since})", k.describe()),
            Some(k) => format!(" (not in {}{since})", k.describe()),
            None if since.is_empty() => String::new(),
            None => format!(" ({})", since.trim_start_matches(", ")),
        };
        text.push_str(&format!(" `{hook}`{availability}"));
    }
    let attributes: Vec<&str> = event.attributes().map(|a| a.name).collect();
    text.push_str(&format!("\n\nAttributes: `{}`", attributes.join("`, `")));
    text
}

fn keyword_doc(word: &str) -> Option<&'static str> {
    Some(match word {
        "deny" => "`deny EVENT [where EXPR] [errno NAME]`: refuse the operation (default errno EPERM) and report it",
        "allow" => "`allow EVENT [where EXPR]`: an exception; a matching allow rule beats every deny rule of the event",
        "audit" => "`audit EVENT [where EXPR]`: report the operation and let it happen",
        "kill" => "`kill EVENT [where EXPR] [errno NAME]`: refuse the operation like `deny` and send SIGKILL to the process (reported as `kill`, or `would-kill` in audit mode); an allow rule beats it. Also the event of a signal being sent (`kill kill where ...`)",
        "list" => "`list NAME = [ELEM, ...]`: a named list, for `in` and `~`",
        "macro" => "`macro NAME = EXPR`: a named condition",
        "where" => "the rule's condition",
        "errno" => "the error number a deny or kill rule returns (default EPERM)",
        "test" => "`test EVENT { ATTRIBUTE: VALUE, ... } => allow | deny [ERRNO] | audit | kill [ERRNO]`: an expected decision, run by `krsic test`",
        "in" => "`x in LIST`: x equals an element of the list",
        "and" | "or" | "not" => "logical operators; `not` binds tightest, then `and`, then `or`",
        _ => return None,
    })
}

/// What completing at `offset` offers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completion {
    pub label: String,
    pub kind: CompletionKind,
    pub detail: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompletionKind {
    Keyword,
    Event,
    Attribute,
    Definition,
    Constant,
}

pub fn completions(source: &str, offset: usize) -> Vec<Completion> {
    let offset = floor_boundary(source, offset.min(source.len()));
    // The partial word being typed does not count as context.
    let typed_start = source[..offset]
        .char_indices()
        .rev()
        .take_while(|&(_, c)| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        .last()
        .map_or(offset, |(i, _)| i);
    let before = &source[..typed_start];
    let tokens: Vec<&str> = before
        .split(|c: char| c.is_whitespace() || c == '(' || c == '[' || c == ',')
        .filter(|t| !t.is_empty())
        .collect();
    let previous = tokens.last().copied().unwrap_or("");
    let line_prefix = &before[before.rfind('\n').map_or(0, |i| i + 1)..];
    let at_line_start = line_prefix.trim().is_empty();

    // `kill` is the action at the start of a rule, and the event after an action.
    let before_previous = tokens.len().checked_sub(2).map_or("", |i| tokens[i]);
    let action_kill = previous == "kill"
        && !matches!(
            before_previous,
            "deny" | "allow" | "audit" | "kill" | "test" | "=>"
        );
    if matches!(previous, "deny" | "allow" | "audit" | "test") || action_kill {
        return catalog::all_events()
            .map(|e| Completion {
                label: e.name.to_string(),
                kind: CompletionKind::Event,
                detail: e.doc.to_string(),
            })
            .collect();
    }
    let expectation =
        |action: &str| previous == action && before.trim_end().ends_with(&format!("=> {action}"));
    if previous == "errno" || expectation("deny") || expectation("kill") {
        return errno_completions();
    }
    if previous == "mode" && at_line_start_of_item(before) {
        return ["audit", "enforce"]
            .iter()
            .map(|m| keyword(m, "the policy's mode"))
            .collect();
    }
    let (_, keyword_of_item) = item_start(source, typed_start);
    if at_line_start && keyword_of_item.is_none_or(|k| !matches!(k, "list")) {
        let mut items: Vec<Completion> = ITEM_KEYWORDS
            .iter()
            .map(|k| keyword(k, keyword_doc(k).unwrap_or("")))
            .collect();
        // A continuation line of a condition may also go on with an operator.
        if keyword_of_item.is_some() {
            items.extend(["and", "or", "not"].iter().map(|k| keyword(k, "")));
        }
        return items;
    }
    let Some(event) = event_at(source, typed_start) else {
        return Vec::new();
    };
    // After `ATTRIBUTE ==` (or `!=`, `in`): the enum's names when the attribute has them.
    if matches!(previous, "==" | "!=" | "in") && tokens.len() >= 2 {
        if let Some(attribute) = event.attribute(tokens[tokens.len() - 2]) {
            if let ValueType::Enum(kind) = attribute.ty {
                return kind
                    .values
                    .iter()
                    .map(|(name, value)| Completion {
                        label: name.to_string(),
                        kind: CompletionKind::Constant,
                        detail: format!("{} {value}", kind.name),
                    })
                    .collect();
            }
        }
    }
    if !tokens.contains(&"where") && !before.contains('{') {
        return vec![
            keyword("where", "the rule's condition"),
            keyword("errno", ""),
        ];
    }
    let mut items: Vec<Completion> = event
        .attributes()
        .map(|a| Completion {
            label: a.name.to_string(),
            kind: CompletionKind::Attribute,
            detail: format!("{} — {}", a.ty.describe(), a.doc),
        })
        .collect();
    if let Some(policy) = lang::syntax::parse(source).0 {
        items.extend(
            definitions(&policy)
                .into_iter()
                .map(|(what, name, _)| Completion {
                    label: name.text.clone(),
                    kind: CompletionKind::Definition,
                    detail: what.to_string(),
                }),
        );
    }
    // The arguments are names of the language, not attributes of the catalog: offered where
    // the event has a command line.
    if !before.contains('{') && lang::check::takes_arguments(event) {
        let argv = lang::check::ARGV;
        items.extend([
            Completion {
                label: argv.to_string(),
                kind: CompletionKind::Attribute,
                detail: format!(
                    "any argument: `{argv} == \"-e\"`, `\"-e\" in {argv}`, `{argv} ~ \"--*\"`"
                ),
            },
            Completion {
                label: format!("{argv}[1]"),
                kind: CompletionKind::Attribute,
                detail: format!(
                    "one argument, {argv}[0] to {argv}[{}]: string",
                    lang::limits::ARGV_MAX - 1
                ),
            },
        ]);
    }
    if !before.contains('{') {
        items.extend(
            ["and", "or", "not", "in", "errno"]
                .iter()
                .map(|k| keyword(k, "")),
        );
    }
    items
}

fn at_line_start_of_item(before: &str) -> bool {
    let line = &before[before.rfind('\n').map_or(0, |i| i + 1)..];
    line.trim_start().starts_with("mode")
}

fn keyword(word: &str, detail: &str) -> Completion {
    Completion {
        label: word.to_string(),
        kind: CompletionKind::Keyword,
        detail: detail.to_string(),
    }
}

fn errno_completions() -> Vec<Completion> {
    catalog::ERRNOS
        .iter()
        .map(|(name, value)| Completion {
            label: name.to_string(),
            kind: CompletionKind::Constant,
            detail: format!("error number {value}"),
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    const POLICY: &str = "list shells = [\"/bin/sh\", \"/bin/bash\"]\nmacro root = uid == 0\n\
        deny exec where path in shells and not root errno EACCES\n\
        deny kill where sig == SIGKILL\n";

    fn at(source: &str, needle: &str) -> usize {
        source.find(needle).expect("needle present")
    }

    #[test]
    fn positions_count_utf16_units() {
        let source = "# é😀\ndeny exec";
        let index = LineIndex::new(source);
        let deny = at(source, "deny");
        assert_eq!(index.position(deny), (1, 0));
        let end_of_comment = at(source, "\n");
        // `#`, space, é (1 unit), 😀 (2 units).
        assert_eq!(index.position(end_of_comment), (0, 5));
        assert_eq!(index.offset(0, 5), end_of_comment);
        assert_eq!(index.offset(1, 2), deny + 2);
        assert_eq!(index.offset(9, 0), source.len());
        assert_eq!(index.offset(0, 99), end_of_comment);
    }

    #[test]
    fn definitions_and_references_of_lists_and_macros() {
        let use_of_shells = at(POLICY, "shells and");
        let def = definition(POLICY, use_of_shells + 2).unwrap();
        assert_eq!(&POLICY[def.range()], "shells");
        assert_eq!(def.start as usize, at(POLICY, "shells ="));
        let refs = references(POLICY, use_of_shells);
        assert_eq!(refs.len(), 2);
        let root_refs = references(POLICY, at(POLICY, "root errno"));
        assert_eq!(root_refs.len(), 2);
        assert!(definition(POLICY, at(POLICY, "path")).is_none());
    }

    #[test]
    fn hover_explains_events_attributes_definitions_enums_and_errnos() {
        let event = hover(POLICY, at(POLICY, "exec"), None).unwrap();
        assert!(event.contains("bprm_check_security"), "{event}");
        let attribute = hover(POLICY, at(POLICY, "path in"), None).unwrap();
        assert!(attribute.starts_with("`path`: path"), "{attribute}");
        let list = hover(POLICY, at(POLICY, "shells and"), None).unwrap();
        assert!(
            list.contains("list `shells`") && list.contains("/bin/bash"),
            "{list}"
        );
        let errno = hover(POLICY, at(POLICY, "EACCES"), None).unwrap();
        assert!(errno.contains("error number 13"), "{errno}");
        let signal = hover(POLICY, at(POLICY, "SIGKILL"), None).unwrap();
        assert!(signal.contains("9"), "{signal}");
        let sig = hover(POLICY, at(POLICY, "sig =="), None).unwrap();
        assert!(sig.contains("SIGHUP"), "{sig}");
    }

    #[test]
    fn completion_follows_the_context() {
        let labels = |source: &str| -> Vec<String> {
            completions(source, source.len())
                .into_iter()
                .map(|c| c.label)
                .collect()
        };
        let events = labels("deny ");
        assert!(events.contains(&"exec".to_string()) && events.contains(&"open".to_string()));
        let attributes = labels("list tools = [\"a\"]\ndeny open where ");
        assert!(attributes.contains(&"path".to_string()), "{attributes:?}");
        assert!(attributes.contains(&"write".to_string()), "{attributes:?}");
        assert!(
            attributes.contains(&"parent.comm".to_string()),
            "{attributes:?}"
        );
        assert!(attributes.contains(&"tools".to_string()), "{attributes:?}");
        assert!(!attributes.contains(&"exec".to_string()));
        // The arguments, where the event has them.
        assert!(!attributes.contains(&"argv".to_string()), "{attributes:?}");
        let exec = labels("kill exec where ");
        assert!(exec.contains(&"argv".to_string()), "{exec:?}");
        assert!(exec.contains(&"argv[1]".to_string()), "{exec:?}");
        let errnos = labels("deny open where write errno ");
        assert!(errnos.contains(&"EACCES".to_string()));
        let signals = labels("deny kill where sig == ");
        assert!(signals.contains(&"SIGKILL".to_string()), "{signals:?}");
        let partial = labels("deny open where pa");
        assert!(partial.contains(&"path".to_string()));
        let items = labels("deny exec\n");
        assert!(items.contains(&"allow".to_string()) && items.contains(&"list".to_string()));
        let after_event = labels("deny exec ");
        assert_eq!(after_event, vec!["where".to_string(), "errno".to_string()]);
        let test_fields = labels("test exec { ");
        assert!(test_fields.contains(&"uid".to_string()), "{test_fields:?}");
        // `kill` is the action at the start of a rule and the event after an action.
        assert!(labels("kill ").contains(&"exec".to_string()));
        let where_errno = vec!["where".to_string(), "errno".to_string()];
        assert_eq!(labels("deny kill "), where_errno);
        assert_eq!(labels("kill kill "), where_errno);
        assert!(labels("test exec { } => kill ").contains(&"EACCES".to_string()));
        assert!(hover(
            "kill exec
",
            0,
            None
        )
        .is_some_and(|h| h.contains("SIGKILL")));
    }

    #[test]
    fn did_you_mean_helps_become_suggestions() {
        let found = diagnostics("deny exce\n", None);
        assert!(found.is_empty(), "the parser alone does not know events");
        let syntax = diagnostics("deny exec wher uid == 0\n", None);
        assert!(!syntax.is_empty());
        let bytes = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/btf/host-6.18.btf"
        ))
        .unwrap();
        let kernel = compiler::btf::Btf::parse(&bytes).unwrap();
        let event = diagnostics("deny exce\n", Some(&kernel));
        assert_eq!(event[0].suggestion.as_deref(), Some("exec"));
        let errno = diagnostics("deny exec errno EACCESS\n", Some(&kernel));
        assert_eq!(errno[0].suggestion.as_deref(), Some("EACCES"));
        // A help that suggests nothing offers no replacement.
        let nothing = diagnostics("deny exec errno NOSUCHTHING\n", Some(&kernel));
        assert_eq!(nothing[0].suggestion, None);
    }

    #[test]
    fn symbols_name_every_item() {
        let names: Vec<String> = symbols(POLICY).into_iter().map(|s| s.name).collect();
        assert_eq!(names, ["shells", "root", "deny exec", "deny kill"]);
    }

    /// Every prefix of every shipped policy, as if typed character by character: no request
    /// panics, whatever the text.
    #[test]
    fn half_typed_files_never_panic() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut sources = vec![POLICY.to_string(), "é😀\"#[(".to_string()];
        for dir in ["examples", "stdlib-policies"] {
            for entry in std::fs::read_dir(root.join(dir)).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_some_and(|e| e == "krsi") {
                    sources.push(std::fs::read_to_string(path).unwrap());
                }
            }
        }
        for source in &sources {
            let mut cut = 0;
            while cut <= source.len() {
                let prefix = &source[..cut];
                let _ = diagnostics(prefix, None);
                let _ = completions(prefix, cut);
                let _ = hover(prefix, cut.saturating_sub(1), None);
                let _ = definition(prefix, cut.saturating_sub(2));
                let _ = references(prefix, cut.saturating_sub(2));
                let _ = symbols(prefix);
                cut += 3;
                while cut < source.len() && !source.is_char_boundary(cut) {
                    cut += 3;
                }
            }
        }
    }
}
