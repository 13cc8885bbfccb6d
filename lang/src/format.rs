//! The canonical layout of a policy (`krsic fmt`).
//!
//! The layout is a function of the syntax tree and the comments, never of the old spacing, so
//! formatting is idempotent. What the author chose is kept: the order of items, literals as
//! written (`0o755`, escapes in strings), parentheses that the tree needs, blank lines between
//! items (collapsed to one), and every comment. The rules:
//!
//! - one item a line, single spaces around operators and after commas;
//! - in a run of rules without a blank line between them, actions are padded to the widest, so
//!   their events line up (`deny  exec` under `allow exec`);
//! - a rule or macro longer than [`WIDTH`] breaks before each `and` (or `or`) of its top-level
//!   chain, continuation lines indented by four spaces;
//! - a list definition longer than [`WIDTH`], or with comments between its elements, puts one
//!   element on a line with a trailing comma;
//! - a comment on its own line stays before the item it preceded; a comment after an item on
//!   its line stays after it; a comment between the parts of a rule, macro or test item moves
//!   to the line before that item (the only place a one-line item can keep it).
//!
//! The formatter refuses text with syntax errors: it never guesses what a broken item meant.

use crate::ast::{self, ExprKind, Item, Policy};
use crate::diagnostic::{Diagnostic, Severity};
use crate::span::Span;

/// Lines longer than this are wrapped where the layout allows.
pub const WIDTH: usize = 100;
const INDENT: &str = "    ";

/// The canonical text of `source`, or the syntax errors that prevent formatting it.
pub fn format(source: &str) -> Result<String, Vec<Diagnostic>> {
    let (policy, diagnostics) = crate::syntax::parse(source);
    let errors: Vec<Diagnostic> = diagnostics
        .into_iter()
        .filter(|d| d.severity() == Severity::Error)
        .collect();
    match policy {
        Some(policy) if errors.is_empty() => Ok(Printer::new(source).policy(&policy)),
        _ => Err(errors),
    }
}

/// A `#` comment: where it starts, its text (without the line break), and whether code
/// precedes it on its line.
#[derive(Clone, Debug)]
struct Comment {
    at: usize,
    text: String,
    trailing: bool,
}

/// The comments of `source`, found by the same rules as the grammar: `#` to the end of the line,
/// except inside a string (strings cannot span lines, and `\` escapes the next character).
fn comments(source: &str) -> Vec<Comment> {
    let mut found = Vec::new();
    let mut line_start = 0;
    for line in source.split_inclusive('\n') {
        let mut in_string = false;
        let mut escaped = false;
        for (i, c) in line.char_indices() {
            if in_string {
                match (escaped, c) {
                    (true, _) => escaped = false,
                    (false, '\\') => escaped = true,
                    (false, '"') => in_string = false,
                    _ => {}
                }
            } else if c == '"' {
                in_string = true;
            } else if c == '#' {
                let text = line[i..].trim_end_matches(['\n', '\r']).trim_end();
                found.push(Comment {
                    at: line_start + i,
                    text: text.to_string(),
                    trailing: !line[..i].trim().is_empty(),
                });
                break;
            }
        }
        line_start += line.len();
    }
    found
}

/// What the top level of the file is made of, in source order.
enum Entry<'p> {
    /// An item and its index in the policy.
    Item(&'p Item, usize),
    Comment(Comment),
}

struct Printer<'s> {
    source: &'s str,
    comments: Vec<Comment>,
}

impl<'s> Printer<'s> {
    fn new(source: &'s str) -> Self {
        Printer {
            source,
            comments: comments(source),
        }
    }

    /// `span` without the whitespace and comments at its end: a rule that ends in an optional
    /// part it does not have (`errno`) has a span that runs on over the space and comments
    /// the parser skipped while looking for that part.
    fn without_trailing_comments(&self, span: Span) -> Span {
        let start = span.start as usize;
        let mut end = span.end as usize;
        loop {
            let text = self.source.get(start..end).unwrap_or("");
            end = start + text.trim_end().len();
            let comment = self
                .comments
                .iter()
                .find(|c| c.at >= start && c.at < end && c.at + c.text.len() >= end);
            match comment {
                Some(c) => end = c.at,
                None => break,
            }
        }
        Span::new(start, end)
    }

    fn text(&self, span: Span) -> &'s str {
        self.source.get(span.range()).unwrap_or("")
    }

    fn policy(&self, policy: &Policy) -> String {
        let spans: Vec<Span> = policy
            .items
            .iter()
            .map(|item| self.without_trailing_comments(item_span(item)))
            .collect();
        // Comments inside an item's span belong to the item; a trailing comment just after an
        // item on its last line too. The rest stand on their own lines between items.
        let mut entries: Vec<(usize, Entry)> = Vec::new();
        let mut owned: Vec<Vec<Comment>> = vec![Vec::new(); spans.len()];
        let mut trailing: Vec<Option<Comment>> = vec![None; spans.len()];
        for comment in &self.comments {
            let inside = spans
                .iter()
                .position(|s| (s.start as usize) < comment.at && comment.at < s.end as usize);
            if let Some(index) = inside {
                owned[index].push(comment.clone());
                continue;
            }
            if comment.trailing {
                // The item that ends last before the comment, on the comment's line.
                let before = spans
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| (s.end as usize) <= comment.at)
                    .max_by_key(|(_, s)| s.end)
                    .map(|(i, _)| i);
                if let Some(index) = before {
                    if trailing[index].is_none() {
                        trailing[index] = Some(comment.clone());
                        continue;
                    }
                }
            }
            entries.push((comment.at, Entry::Comment(comment.clone())));
        }
        for (index, (item, span)) in policy.items.iter().zip(&spans).enumerate() {
            entries.push((span.start as usize, Entry::Item(item, index)));
        }
        entries.sort_by_key(|(at, _)| *at);

        let ends: Vec<usize> = entries
            .iter()
            .map(|(_, entry)| match entry {
                Entry::Item(_, index) => trailing[*index]
                    .as_ref()
                    .map_or(spans[*index].end as usize, |c| c.at + c.text.len()),
                Entry::Comment(c) => c.at + c.text.len().max(1),
            })
            .collect();
        let blank_before: Vec<bool> = (0..entries.len())
            .map(|k| k > 0 && self.blank_line_between(ends[k - 1], entries[k].0))
            .collect();
        let action_widths = self.action_widths(&entries, &blank_before);

        let mut out = String::new();
        for (k, (_, entry)) in entries.iter().enumerate() {
            if blank_before[k] {
                out.push('\n');
            }
            match entry {
                Entry::Comment(comment) => {
                    out.push_str(&comment.text);
                    out.push('\n');
                }
                Entry::Item(item, index) => {
                    let index = *index;
                    // A list keeps its comments between its elements; other items keep
                    // theirs on the lines before them.
                    if !matches!(item, Item::List(_)) {
                        for comment in &owned[index] {
                            out.push_str(&comment.text);
                            out.push('\n');
                        }
                    }
                    let mut text = self.item(item, action_widths[k], &owned[index]);
                    if let Some(comment) = &trailing[index] {
                        text.push_str("  ");
                        text.push_str(&comment.text);
                    }
                    out.push_str(&text);
                    out.push('\n');
                }
            }
        }
        out
    }

    /// Whether a blank line separates `from` and `to` in the source.
    fn blank_line_between(&self, from: usize, to: usize) -> bool {
        let gap = self.source.get(from..to).unwrap_or("");
        let lines: Vec<&str> = gap.split('\n').collect();
        // The first piece ends the line of `from`, the last starts the line of `to`; any
        // piece between them is a whole line.
        lines.len() > 2
            && lines[1..lines.len() - 1]
                .iter()
                .any(|l| l.trim().is_empty())
    }

    /// For each entry, the width rules of its run pad their action to (0 for other entries).
    fn action_widths(&self, entries: &[(usize, Entry)], blank_before: &[bool]) -> Vec<usize> {
        let mut widths = vec![0; entries.len()];
        let mut start = 0;
        while start < entries.len() {
            let mut end = start + 1;
            while end < entries.len() && !blank_before[end] {
                end += 1;
            }
            let widest = entries[start..end]
                .iter()
                .filter_map(|(_, e)| match e {
                    Entry::Item(Item::Rule(rule), _) => Some(rule.action.keyword().len()),
                    _ => None,
                })
                .max()
                .unwrap_or(0);
            for width in &mut widths[start..end] {
                *width = widest;
            }
            start = end;
        }
        widths
    }

    fn item(&self, item: &Item, action_width: usize, inner_comments: &[Comment]) -> String {
        match item {
            Item::PolicyName { name, .. } => format!("policy {}", name.text),
            Item::Mode { mode, .. } => format!("mode {}", mode.text),
            Item::List(list) => self.list_def(list, inner_comments),
            Item::Macro(def) => {
                let head = format!("macro {} =", def.name.text);
                self.wrapped(&head, &def.body, "")
            }
            Item::Rule(rule) => {
                let action = rule.action.keyword();
                let mut head = format!("{action:<action_width$} {}", rule.event.text);
                let tail = rule
                    .errno
                    .as_ref()
                    .map(|errno| format!(" errno {}", errno.text))
                    .unwrap_or_default();
                match &rule.condition {
                    Some(condition) => {
                        head.push_str(" where");
                        self.wrapped(&head, condition, &tail)
                    }
                    None => head + &tail,
                }
            }
            Item::Test(test) => self.test_case(test),
        }
    }

    /// `head EXPR tail` on one line, or broken before each operator of the expression's
    /// top-level `and`/`or` chain when that line is too long.
    fn wrapped(&self, head: &str, expr: &ast::Expr, tail: &str) -> String {
        let line = format!("{head} {}{tail}", self.expr(expr, 0));
        if line.len() <= WIDTH {
            return line;
        }
        let (keyword, operands) = match &expr.kind {
            ExprKind::And(..) => ("and", chain(expr, is_and)),
            ExprKind::Or(..) => ("or", chain(expr, is_or)),
            _ => return line,
        };
        let own = if keyword == "and" { 2 } else { 1 };
        let mut out = format!("{head} {}", self.operand(operands[0], own, false));
        for operand in &operands[1..] {
            out.push('\n');
            out.push_str(INDENT);
            out.push_str(keyword);
            out.push(' ');
            out.push_str(&self.operand(operand, own, true));
        }
        out.push_str(tail);
        out
    }

    fn list_def(&self, list: &ast::ListDef, inner_comments: &[Comment]) -> String {
        let elements: Vec<String> = list.elements.iter().map(|e| self.expr(e, 6)).collect();
        let head = format!("list {} = [", list.name.text);
        let line = format!("{head}{}]", elements.join(", "));
        if line.len() <= WIDTH && inner_comments.is_empty() {
            return line;
        }
        // One element a line; each comment goes after the element it followed on its line,
        // or before the element it preceded.
        let mut out = head;
        let mut pending = inner_comments.iter().peekable();
        for (element, text) in list.elements.iter().zip(&elements) {
            let start = element.span.start as usize;
            while let Some(c) = pending.next_if(|c| c.at < start) {
                out.push('\n');
                out.push_str(INDENT);
                out.push_str(&c.text);
            }
            out.push('\n');
            out.push_str(INDENT);
            out.push_str(text);
            out.push(',');
            let end = element.span.end as usize;
            while let Some(c) = pending.next_if(|c| c.trailing && self.same_line(end, c.at)) {
                out.push_str("  ");
                out.push_str(&c.text);
            }
        }
        for c in pending {
            out.push('\n');
            out.push_str(INDENT);
            out.push_str(&c.text);
        }
        out.push_str("\n]");
        out
    }

    fn same_line(&self, from: usize, to: usize) -> bool {
        from <= to && !self.source.get(from..to).unwrap_or("\n").contains('\n')
    }

    fn test_case(&self, test: &ast::TestCase) -> String {
        let fields: Vec<String> = test
            .fields
            .iter()
            .map(|(name, value)| format!("{}: {}", name.text, self.expr(value, 6)))
            .collect();
        let fields = if fields.is_empty() {
            "{}".to_string()
        } else {
            format!("{{ {} }}", fields.join(", "))
        };
        let expect = match &test.expect {
            ast::Expectation::Allow => "allow".to_string(),
            ast::Expectation::Audit => "audit".to_string(),
            ast::Expectation::Deny(None) => "deny".to_string(),
            ast::Expectation::Deny(Some(errno)) => format!("deny {}", errno.text),
            ast::Expectation::Kill(None) => "kill".to_string(),
            ast::Expectation::Kill(Some(errno)) => format!("kill {}", errno.text),
        };
        format!("test {} {fields} => {expect}", test.event.text)
    }

    /// An operand of a chain whose operator binds with `own`: the left-most operand needs
    /// parentheses only if it binds looser, the others also if it binds the same (the tree is
    /// left-associative, and `a and (b and c)` must keep its shape).
    fn operand(&self, expr: &ast::Expr, own: u8, right: bool) -> String {
        let needed = if right { own + 1 } else { own };
        self.expr(expr, needed)
    }

    /// `expr` as text, in parentheses if it binds looser than `min` (see [`binding`]).
    fn expr(&self, expr: &ast::Expr, min: u8) -> String {
        let text = match &expr.kind {
            ExprKind::Or(l, r) => format!("{} or {}", self.expr(l, 1), self.expr(r, 2)),
            ExprKind::And(l, r) => format!("{} and {}", self.expr(l, 2), self.expr(r, 3)),
            ExprKind::Not(inner) => format!("not {}", self.expr(inner, 3)),
            ExprKind::Compare { op, lhs, rhs, .. } => {
                format!(
                    "{} {} {}",
                    self.expr(lhs, 5),
                    op.symbol(),
                    self.expr(rhs, 5)
                )
            }
            ExprKind::BitAnd(l, r) => format!("{} & {}", self.expr(l, 5), self.expr(r, 6)),
            ExprKind::Name(name) => name.text.clone(),
            ExprKind::List(elements) => {
                let elements: Vec<String> = elements.iter().map(|e| self.expr(e, 6)).collect();
                format!("[{}]", elements.join(", "))
            }
            ExprKind::Bool(value) => value.to_string(),
            // Literals as written: the radix of an integer, the escapes of a string and the
            // spelling of an address are the author's.
            ExprKind::Int(_) | ExprKind::Str(_) | ExprKind::Addr(..) => {
                self.text(expr.span).to_string()
            }
        };
        if binding(expr) < min {
            format!("({text})")
        } else {
            text
        }
    }
}

/// How tightly an expression binds: `or` 1, `and` 2, `not` 3, comparisons 4, `&` 5, operands 6.
fn binding(expr: &ast::Expr) -> u8 {
    match expr.kind {
        ExprKind::Or(..) => 1,
        ExprKind::And(..) => 2,
        ExprKind::Not(_) => 3,
        ExprKind::Compare { .. } => 4,
        ExprKind::BitAnd(..) => 5,
        _ => 6,
    }
}

fn is_and(expr: &ast::Expr) -> Option<(&ast::Expr, &ast::Expr)> {
    match &expr.kind {
        ExprKind::And(l, r) => Some((l, r)),
        _ => None,
    }
}

fn is_or(expr: &ast::Expr) -> Option<(&ast::Expr, &ast::Expr)> {
    match &expr.kind {
        ExprKind::Or(l, r) => Some((l, r)),
        _ => None,
    }
}

/// The operands of a left-associative chain: `((a and b) and c)` gives `[a, b, c]`.
fn chain(
    expr: &ast::Expr,
    split: fn(&ast::Expr) -> Option<(&ast::Expr, &ast::Expr)>,
) -> Vec<&ast::Expr> {
    let mut operands = Vec::new();
    let mut left = expr;
    while let Some((l, r)) = split(left) {
        operands.push(r);
        left = l;
    }
    operands.push(left);
    operands.reverse();
    operands
}

fn item_span(item: &Item) -> Span {
    match item {
        Item::List(list) => list.span,
        Item::Macro(def) => def.span,
        Item::Rule(rule) => rule.span,
        Item::Test(test) => test.span,
        Item::PolicyName { span, .. } | Item::Mode { span, .. } => *span,
    }
}
