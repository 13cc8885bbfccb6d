//! Names and scopes: list and macro definitions, what is used, macro expansion, the header,
//! errnos, and the diagnostics for names that resolve to nothing.

use super::Checker;
use crate::ast::{self, Action, ExprKind};
use crate::catalog::{self, Event};
use crate::checked::{Cond, PolicyMode};
use crate::diagnostic::{suggest, Code, Diagnostic};
use crate::span::Span;
use std::collections::HashMap;

impl<'a> Checker<'a> {
    pub(super) fn collect_definitions(&mut self, policy: &'a ast::Policy) {
        let mut first: HashMap<&str, Span> = HashMap::new();
        for item in &policy.items {
            let name = match item {
                ast::Item::List(list) => &list.name,
                ast::Item::Macro(m) => &m.name,
                _ => continue,
            };
            if let Some(previous) = first.get(name.text.as_str()) {
                self.error(
                    Diagnostic::new(
                        Code::DuplicateDefinition,
                        format!("`{}` is defined twice", name.text),
                        name.span,
                    )
                    .with_label("defined again here")
                    .with_secondary(*previous, "first defined here")
                    .with_help("rename one of them"),
                );
                continue;
            }
            first.insert(&name.text, name.span);
            match item {
                ast::Item::List(list) => {
                    self.lists.insert(&list.name.text, list);
                }
                ast::Item::Macro(m) => {
                    self.macros.insert(&m.name.text, m);
                }
                _ => {}
            }
        }
    }

    pub(super) fn report_unused(&mut self, policy: &ast::Policy) {
        for item in &policy.items {
            let (kind, name) = match item {
                ast::Item::List(list) => ("list", &list.name),
                ast::Item::Macro(m) => ("macro", &m.name),
                _ => continue,
            };
            if !self.used.contains(&name.text) {
                self.error(
                    Diagnostic::new(
                        Code::Unused,
                        format!("{kind} `{}` is never used", name.text),
                        name.span,
                    )
                    .with_label("defined here")
                    .with_help(format!(
                        "use it in a rule, or remove it{}",
                        if kind == "macro" {
                            ""
                        } else {
                            " (a list is used with `in`, `~` or `!~`)"
                        }
                    )),
                );
            }
        }
    }

    /// Marks every list and macro `expr` names (and those their macros name) as used.
    pub(super) fn mark_used(&mut self, expr: &'a ast::Expr) {
        let mut stack = vec![expr];
        while let Some(e) = stack.pop() {
            match &e.kind {
                ExprKind::And(a, b) | ExprKind::Or(a, b) | ExprKind::BitAnd(a, b) => {
                    stack.extend([a.as_ref(), b.as_ref()])
                }
                ExprKind::Compare { lhs, rhs, .. } => stack.extend([lhs.as_ref(), rhs.as_ref()]),
                ExprKind::Not(inner) => stack.push(inner),
                ExprKind::List(elements) => stack.extend(elements),
                ExprKind::Name(name) => {
                    if self.lists.contains_key(name.text.as_str()) {
                        self.used.insert(name.text.clone());
                    }
                    if let Some(m) = self.macros.get(name.text.as_str()).copied() {
                        // A name seen before is not walked again, so cycles end.
                        if self.used.insert(name.text.clone()) {
                            stack.push(&m.body);
                        }
                    }
                }
                ExprKind::Int(_) | ExprKind::Str(_) | ExprKind::Bool(_) | ExprKind::Addr(..) => {}
            }
        }
    }

    /// `policy NAME` and `mode ...`: first, in that order, once each.
    pub(super) fn header(&mut self, policy: &ast::Policy) -> (Option<String>, Option<PolicyMode>) {
        let mut name: Option<(String, Span)> = None;
        let mut mode: Option<(PolicyMode, Span)> = None;
        let mut body_started: Option<Span> = None;
        for item in &policy.items {
            match item {
                ast::Item::PolicyName { name: n, span } => {
                    let misplaced = match (&name, &mode, body_started) {
                        (Some((_, first)), _, _) => {
                            Some((*first, "the policy is already named here"))
                        }
                        (_, Some((_, at)), _) => Some((*at, "`mode` comes after `policy`")),
                        (_, _, Some(at)) => Some((at, "the header must come before this")),
                        _ => None,
                    };
                    match misplaced {
                        Some((other, why)) => self.error(
                            Diagnostic::new(
                                Code::MisplacedHeader,
                                "`policy NAME` must be the first item, once",
                                *span,
                            )
                            .with_secondary(other, why)
                            .with_help("start the file with `policy NAME`, then `mode ...`"),
                        ),
                        None => name = Some((n.text.clone(), *span)),
                    }
                }
                ast::Item::Mode { mode: m, span } => {
                    let value = match m.text.as_str() {
                        "audit" => PolicyMode::Audit,
                        "enforce" => PolicyMode::Enforce,
                        other => {
                            let mut d = Diagnostic::new(
                                Code::UnknownMode,
                                format!("unknown mode `{other}`"),
                                m.span,
                            )
                            .with_label("not a mode");
                            d = match suggest(other, ["audit", "enforce"]) {
                                Some(s) => d.with_help(format!("did you mean `{s}`?")),
                                None => d.with_help("write `mode audit` or `mode enforce`"),
                            };
                            self.error(d);
                            continue;
                        }
                    };
                    let misplaced = match (&mode, body_started) {
                        (Some((_, first)), _) => Some((*first, "the mode is already set here")),
                        (_, Some(at)) => Some((at, "the header must come before this")),
                        _ => None,
                    };
                    match misplaced {
                        Some((other, why)) => self.error(
                            Diagnostic::new(Code::MisplacedHeader, "`mode` belongs in the header, once", *span)
                                .with_secondary(other, why)
                                .with_help("put `mode ...` right after `policy NAME`, before any list, macro, rule or test"),
                        ),
                        None => mode = Some((value, *span)),
                    }
                }
                ast::Item::List(l) => {
                    body_started.get_or_insert(l.span);
                }
                ast::Item::Macro(m) => {
                    body_started.get_or_insert(m.span);
                }
                ast::Item::Rule(r) => {
                    body_started.get_or_insert(r.span);
                }
                ast::Item::Test(t) => {
                    body_started.get_or_insert(t.span);
                }
            }
        }
        (name.map(|(n, _)| n), mode.map(|(m, _)| m))
    }

    pub(super) fn unknown_event(&mut self, name: &ast::Name) {
        let mut d = Diagnostic::new(
            Code::UnknownEvent,
            format!("unknown event `{}`", name.text),
            name.span,
        )
        .with_label("not an event");
        d = match suggest(&name.text, catalog::all_events().map(|e| e.name)) {
            Some(s) => d.with_help(format!("did you mean `{s}`?")),
            None => d.with_help("`krsic events` lists every event"),
        };
        self.error(d);
    }

    pub(super) fn unknown_errno(&mut self, name: &ast::Name) {
        let upper = name.text.to_ascii_uppercase();
        let help = match catalog::errno(&upper) {
            Some(_) => format!("errno names are upper case: `{upper}`"),
            None => match suggest(&upper, catalog::ERRNOS.iter().map(|(n, _)| *n)) {
                Some(s) => format!("did you mean `{s}`?"),
                None => "use a name from errno(3), such as `EPERM` or `EACCES`".to_string(),
            },
        };
        self.error(
            Diagnostic::new(
                Code::UnknownErrno,
                format!("unknown errno `{}`", name.text),
                name.span,
            )
            .with_help(help),
        );
    }

    pub(super) fn errno(&mut self, rule: &ast::Rule) -> Option<i32> {
        let Some(name) = &rule.errno else {
            return Some(1); // EPERM
        };
        if rule.action != Action::Deny {
            self.error(
                Diagnostic::new(
                    Code::ErrnoOnNonDeny,
                    format!("an `{}` rule cannot return an errno", rule.action.keyword()),
                    name.span,
                )
                .with_secondary(rule.action_span, "this rule never denies")
                .with_help("remove the `errno` clause, or make the rule `deny`"),
            );
            return None;
        }
        let errno = catalog::errno(&name.text);
        if errno.is_none() {
            self.unknown_errno(name);
        }
        errno
    }

    pub(super) fn expand_macro(
        &mut self,
        m: &'a ast::MacroDef,
        use_span: Span,
        event: &'static Event,
        action: Action,
    ) -> Option<Cond> {
        self.used.insert(m.name.text.clone());
        if self.macro_stack.contains(&m.name.text.as_str()) {
            let chain = self.macro_stack.join("` → `");
            self.error(
                Diagnostic::new(
                    Code::RecursiveMacro,
                    format!("macro `{}` uses itself", m.name.text),
                    use_span,
                )
                .with_secondary(m.name.span, "defined here")
                .with_note(format!("expansion: `{chain}` → `{}`", m.name.text)),
            );
            return None;
        }
        self.macro_stack.push(&m.name.text);
        let body = self.condition(&m.body, event, action);
        self.macro_stack.pop();
        body
    }

    pub(super) fn unknown_name(&mut self, name: &ast::Name, event: &'static Event) {
        // Used on the wrong event?
        if catalog::all_events().any(|e| e.name != event.name && e.attribute(&name.text).is_some())
        {
            let hosts: Vec<&str> = catalog::all_events()
                .filter(|e| e.attribute(&name.text).is_some())
                .map(|e| e.name)
                .collect();
            self.error(
                Diagnostic::new(
                    Code::AttributeNotOnEvent,
                    format!("`{}` is not an attribute of `{}`", name.text, event.name),
                    name.span,
                )
                .with_label(format!(
                    "`{}` exists on {}",
                    name.text,
                    hosts
                        .iter()
                        .map(|h| format!("`{h}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
                .with_help(attribute_list(event)),
            );
            return;
        }
        let candidates: Vec<&str> = event
            .attributes()
            .map(|a| a.name)
            .chain(self.lists.keys().copied())
            .chain(self.macros.keys().copied())
            .collect();
        let mut d = Diagnostic::new(
            Code::UnknownName,
            format!("unknown name `{}`", name.text),
            name.span,
        )
        .with_label(format!(
            "not an attribute of `{}`, a list or a macro",
            event.name
        ));
        d = match suggest(&name.text, candidates.iter().copied()) {
            Some(s) => d.with_help(format!("did you mean `{s}`?")),
            None => d.with_help(attribute_list(event)),
        };
        self.error(d);
    }
}

/// "`exec` has: path, filename, uid, ...", for help lines.
fn attribute_list(event: &Event) -> String {
    let names: Vec<&str> = event.attributes().map(|a| a.name).collect();
    format!("`{}` has: {}", event.name, names.join(", "))
}
