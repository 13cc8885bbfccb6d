//! Names and scopes: list and macro definitions, what is used, macro expansion, the header,
//! errnos, and the diagnostics for names that resolve to nothing.

use super::finding::{Definition, Finding, HeaderConflict};
use super::Checker;
use crate::ast::{self, Action, ExprKind};
use crate::catalog::{self, Event};
use crate::checked::{Cond, PolicyMode};
use crate::diagnostic::suggest;
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
                self.report(Finding::DuplicateDefinition {
                    name: name.text.clone(),
                    span: name.span,
                    first: *previous,
                });
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
                ast::Item::List(list) => (Definition::List, &list.name),
                ast::Item::Macro(m) => (Definition::Macro, &m.name),
                _ => continue,
            };
            if !self.used.contains(&name.text) {
                self.report(Finding::Unused {
                    kind,
                    name: name.text.clone(),
                    span: name.span,
                });
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
                        (Some((_, first)), _, _) => Some((HeaderConflict::AlreadyNamed, *first)),
                        (_, Some((_, at)), _) => Some((HeaderConflict::ModeBeforeName, *at)),
                        (_, _, Some(at)) => Some((HeaderConflict::BodyStarted, at)),
                        _ => None,
                    };
                    match misplaced {
                        Some((conflict, other)) => self.report(Finding::MisplacedName {
                            span: *span,
                            conflict,
                            other,
                        }),
                        None => name = Some((n.text.clone(), *span)),
                    }
                }
                ast::Item::Mode { mode: m, span } => {
                    let value = match m.text.as_str() {
                        "audit" => PolicyMode::Audit,
                        "enforce" => PolicyMode::Enforce,
                        other => {
                            self.report(Finding::UnknownMode {
                                mode: other.to_string(),
                                span: m.span,
                                suggestion: suggest(other, ["audit", "enforce"]),
                            });
                            continue;
                        }
                    };
                    let misplaced = match (&mode, body_started) {
                        (Some((_, first)), _) => Some((HeaderConflict::ModeAlreadySet, *first)),
                        (_, Some(at)) => Some((HeaderConflict::BodyStarted, at)),
                        _ => None,
                    };
                    match misplaced {
                        Some((conflict, other)) => self.report(Finding::MisplacedMode {
                            span: *span,
                            conflict,
                            other,
                        }),
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
        self.report(Finding::UnknownEvent {
            name: name.text.clone(),
            span: name.span,
            suggestion: suggest(&name.text, catalog::all_events().map(|e| e.name)),
        });
    }

    pub(super) fn unknown_errno(&mut self, name: &ast::Name) {
        let upper = name.text.to_ascii_uppercase();
        let upper_case_known = catalog::errno(&upper).is_some();
        let suggestion = suggest(&upper, catalog::ERRNOS.iter().map(|(n, _)| *n));
        self.report(Finding::UnknownErrno {
            name: name.text.clone(),
            span: name.span,
            upper_case_known,
            suggestion,
        });
    }

    pub(super) fn errno(&mut self, rule: &ast::Rule) -> Option<i32> {
        let Some(name) = &rule.errno else {
            return Some(1); // EPERM
        };
        if !rule.action.refuses() {
            self.report(Finding::ErrnoOnNonDeny {
                action: rule.action,
                span: name.span,
                action_span: rule.action_span,
            });
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
            self.report(Finding::RecursiveMacro {
                name: m.name.text.clone(),
                span: use_span,
                definition: m.name.span,
                expanding: self.macro_stack.iter().map(|n| n.to_string()).collect(),
            });
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
            self.report(Finding::AttributeNotOnEvent {
                name: name.text.clone(),
                span: name.span,
                event,
                hosts,
            });
            return;
        }
        let candidates: Vec<&str> = event
            .attributes()
            .map(|a| a.name)
            .chain(self.lists.keys().copied())
            .chain(self.macros.keys().copied())
            .collect();
        self.report(Finding::UnknownName {
            name: name.text.clone(),
            span: name.span,
            event,
            suggestion: suggest(&name.text, candidates.iter().copied()).map(str::to_string),
        });
    }
}
