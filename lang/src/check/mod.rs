//! The checker: resolves names, types every condition, resolves every attribute's access path
//! against the target kernel, and produces the [checked policy](crate::checked) the compiler
//! lowers.
//!
//! It keeps going after an error so that one run reports every error of a file (Cedar's
//! validator does the same). Macros and lists are resolved where they are used, in the
//! context of the rule's event, so one macro can serve rules on different events.
//!
//! One file a job: `names` (definitions, scopes, the header, errnos), `types` (conditions and
//! comparisons), `enums` (comparisons with the kernel's named values), `btf` (hooks and access
//! paths on the target kernel) and `cost` (the size estimate of each event's program, and what it keeps). What
//! they find is data: a [`Finding`] (with an [`Unreadable`] when the kernel's types are what
//! is missing), rendered to a diagnostic in `messages.rs` alone.

mod argv;
mod btf;
mod cost;
mod enums;
mod finding;
mod late;
mod lineage;
mod messages;
mod names;
mod pair;
mod scratch;
mod types;
mod unreadable;
mod workload;

pub use argv::{takes_arguments, ARGV};
pub use btf::{hook_availability, resolve_access, resolve_endpoint};
pub use cost::{
    add_unnested, dispatch_cost, estimated_sizes, tree_cost, GLOB_RUN_MIN, GLOB_RUN_RECORDED_COST,
    INLINE_TREE_COST, MAX_EVENT_COST, PATH_SCREEN_COST, UNCOUNTED_ROOM,
};
pub use finding::Finding;
pub use scratch::{SCRATCH_REACH, VALUE_SLOTS, WALK_AREA_BOUND};
pub use unreadable::{Owner, Pointer, Unreadable};

use crate::ast::{self, ExprKind};
use crate::catalog::{self, Attribute, ValueType};
use crate::checked::{
    AttrId, AttrValue, CheckedPolicy, CheckedRule, CheckedTest, Cond, ExpectedDecision,
    ResolvedAttribute, VariantHook,
};
use crate::diagnostic::{Diagnostic, Severity};
use crate::kernel::{KernelTypes, Param};
use std::collections::{HashMap, HashSet};

/// Checks a parsed policy against the target kernel. Returns the checked policy when there
/// are no errors; the diagnostics (warnings, and errors if any) either way.
pub fn check(
    policy: &ast::Policy,
    kernel: &dyn KernelTypes,
) -> (Option<CheckedPolicy>, Vec<Diagnostic>) {
    check_with_lints(policy, kernel, true)
}

/// [`check`], with the lints of [`crate::lint`] or without them. A policy the parser had to
/// patch up (a placeholder where an expression failed to parse) gets none: its rules are not
/// what the author wrote.
pub fn check_with_lints(
    policy: &ast::Policy,
    kernel: &dyn KernelTypes,
    lints: bool,
) -> (Option<CheckedPolicy>, Vec<Diagnostic>) {
    let mut checker = Checker {
        kernel,
        diagnostics: Vec::new(),
        lists: HashMap::new(),
        macros: HashMap::new(),
        used: HashSet::new(),
        hooks: HashMap::new(),
        attributes: Vec::new(),
        attribute_ids: HashMap::new(),
        macro_stack: Vec::new(),
        variant_hooks: Vec::new(),
    };
    checker.collect_definitions(policy);
    let (name, mode) = checker.header(policy);
    let mut rules = Vec::new();
    let mut conditions = Vec::new();
    let mut incomplete_events = HashSet::new();
    for rule in policy.items.iter().filter_map(|item| match item {
        ast::Item::Rule(rule) => Some(rule),
        _ => None,
    }) {
        let index = rules.len() as u32;
        match checker.rule(index, rule) {
            Some(checked) => {
                rules.push(checked);
                conditions.push(rule.condition.as_ref().map(|c| c.span));
            }
            None => {
                incomplete_events.extend(catalog::event(&rule.event.text).map(|e| e.name));
            }
        }
    }
    checker.check_late_rules(&rules);
    checker.check_sizes(&rules);
    checker.check_scratch(&rules);
    checker.check_automata(&rules);
    // A policy too large to compile is refused at once: its lints would be quadratic work on
    // thousands of rules (10,000 took 1.5 s) for warnings about a policy that cannot load.
    let too_large = checker
        .diagnostics
        .iter()
        .any(|d| d.code == crate::diagnostic::Code::EventTooLarge);
    if lints && !too_large {
        checker
            .diagnostics
            .extend(crate::lint::lint(&crate::lint::LintInput {
                rules: &rules,
                conditions: &conditions,
                attributes: &checker.attributes,
                incomplete_events: &incomplete_events,
                mode,
            }));
    }
    let tests = policy
        .items
        .iter()
        .filter_map(|item| match item {
            ast::Item::Test(test) => checker.test(test),
            _ => None,
        })
        .collect();
    checker.report_unused(policy);
    let mut diagnostics = dedup(checker.diagnostics);
    diagnostics.sort_by_key(|d| (d.primary.span.start, d.code));
    let has_errors = diagnostics.iter().any(|d| d.severity() == Severity::Error);
    let parent = btf::parent_access(kernel);
    let variant_hooks = checker.variant_hooks;
    let checked = (!has_errors).then_some(CheckedPolicy {
        variant_hooks,
        rules,
        attributes: checker.attributes,
        tests,
        parent,
        name,
        mode,
        loads_may_be_null: crate::kernel::loads_may_be_null(kernel),
        path_layout: crate::checked::PathLayout::resolve(kernel).ok(),
    });
    (checked, diagnostics)
}

/// A macro used by several rules reports an error in its body once.
fn dedup(diagnostics: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let mut seen = HashSet::new();
    diagnostics
        .into_iter()
        .filter(|d| seen.insert((d.code, d.primary.span, d.message.clone())))
        .collect()
}

struct Checker<'a> {
    kernel: &'a dyn KernelTypes,
    diagnostics: Vec<Diagnostic>,
    lists: HashMap<&'a str, &'a ast::ListDef>,
    macros: HashMap<&'a str, &'a ast::MacroDef>,
    used: HashSet<String>,
    /// Hook parameters per hook, `None` when the kernel lacks the hook.
    hooks: HashMap<&'static str, Option<Vec<Param>>>,
    attributes: Vec<ResolvedAttribute>,
    /// Resolution results, so a failing access path is reported once.
    attribute_ids: HashMap<(&'static str, &'static str), Option<AttrId>>,
    macro_stack: Vec<&'a str>,
    variant_hooks: Vec<VariantHook>,
}

impl<'a> Checker<'a> {
    pub(super) fn report(&mut self, finding: Finding) {
        self.diagnostics.push(finding.diagnostic());
    }

    fn rule(&mut self, index: u32, rule: &'a ast::Rule) -> Option<CheckedRule> {
        let Some(event) = catalog::event(&rule.event.text) else {
            // Without an event no attribute can resolve, so the condition is not checked; the
            // lists and macros it names still count as used.
            self.unknown_event(&rule.event);
            if let Some(condition) = &rule.condition {
                self.mark_used(condition);
            }
            return None;
        };
        let errno = self.errno(rule);
        let hook_ok = self.hook(event, rule.event.span);
        let condition = match &rule.condition {
            Some(expr) => self.condition(expr, event, rule.action),
            None => Some(Cond::Const(true)),
        };
        let (condition, errno) = (condition?, errno?);
        // An unknown test makes a deny, kill or audit rule match, an allow rule not.
        let condition = self.fail_closed_lineage(condition, rule.action != ast::Action::Allow);
        hook_ok.then_some(CheckedRule {
            index,
            action: rule.action,
            event,
            condition,
            errno,
            span: rule.span,
        })
    }

    /// A test item's `ancestor.comm: [NAME, ...]` or `ancestor.exe: [PATH, ...]`: the list,
    /// or `None` (reported) when it is not a list of strings or the parent is given too.
    fn test_ancestor_list(
        &mut self,
        name: &'static str,
        name_span: crate::span::Span,
        value: &ast::Expr,
        values: &[(&'static Attribute, AttrValue)],
    ) -> Option<Vec<Vec<u8>>> {
        let list = match &value.kind {
            ExprKind::List(elements) => elements
                .iter()
                .map(|e| match &e.kind {
                    ExprKind::Str(s) => Some(s.clone().into_bytes()),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>(),
            _ => None,
        };
        let Some(list) = list else {
            self.report(Finding::Lineage(
                lineage::LineageFinding::AncestorsNotList {
                    name,
                    span: value.span,
                    name_span,
                },
            ));
            return None;
        };
        if let Some((parent, _)) = values.iter().find(|(a, _)| PARENT.contains(&a.name)) {
            self.report(Finding::Lineage(
                lineage::LineageFinding::AncestorsAndParent {
                    name,
                    parent: parent.name,
                    span: name_span,
                },
            ));
            return None;
        }
        Some(list)
    }

    /// The values of every level of the lineage a test item's `ancestor.comm` and
    /// `ancestor.exe` lists give (`crate::lineage::lineage_values`), pushed to `values`; a
    /// list not given is "" at every level. Whether they agree on the lineage's length.
    fn test_ancestors(
        &mut self,
        event: &'static catalog::Event,
        comms: Option<Vec<Vec<u8>>>,
        exes: Option<(Vec<Vec<u8>>, crate::span::Span)>,
        values: &mut Vec<(&'static Attribute, AttrValue)>,
    ) -> bool {
        let (comms, exes) = match (comms, exes) {
            (None, None) => return true,
            (Some(comms), Some((exes, span))) if comms.len() != exes.len() => {
                self.report(Finding::Lineage(
                    lineage::LineageFinding::AncestorListsDiffer {
                        comms: comms.len(),
                        exes: exes.len(),
                        span,
                    },
                ));
                return false;
            }
            (comms, exes) => {
                let exes = exes.map(|(exes, _)| exes);
                let len = comms.as_ref().or(exes.as_ref()).map_or(0, Vec::len);
                let or_empty =
                    |list: Option<Vec<Vec<u8>>>| list.unwrap_or_else(|| vec![Vec::new(); len]);
                (or_empty(comms), or_empty(exes))
            }
        };
        let lineage: Vec<crate::lineage::Ancestor> = comms
            .into_iter()
            .zip(exes)
            .enumerate()
            .map(|(at, (comm, exe))| crate::lineage::Ancestor {
                pid: crate::lineage::ancestor_pid(at + 1),
                comm,
                exe,
            })
            .collect();
        let levels = catalog::ANCESTOR_LEVELS
            .iter()
            .flat_map(|(pid, comm)| std::iter::once(pid).chain(comm.as_ref()))
            .chain(catalog::ANCESTOR_EXES);
        let attributes: Vec<&'static Attribute> = event.attributes().chain(levels).collect();
        for (name, value) in crate::lineage::lineage_values(&lineage) {
            // Every value is of an attribute: `parent.*` of the event's, the others a level's.
            if let Some(attribute) = attributes.iter().find(|a| a.name == name) {
                values.push((attribute, value));
            }
        }
        true
    }

    fn test(&mut self, test: &ast::TestCase) -> Option<CheckedTest> {
        let Some(event) = catalog::event(&test.event.text) else {
            self.unknown_event(&test.event);
            return None;
        };
        let mut values: Vec<(&'static Attribute, AttrValue)> = Vec::new();
        let mut value_spans = Vec::new();
        let mut ok = true;
        // The lineage's lists, read whole once every field is seen.
        let mut comms: Option<Vec<Vec<u8>>> = None;
        let mut exes: Option<(Vec<Vec<u8>>, crate::span::Span)> = None;
        let mut lineage_span = None;
        for (name, value) in &test.fields {
            let value_span = value.span;
            // `argv: ["xmrig", "--donate-level", "1"]`: the arguments, which the event holds
            // as its command line (`crate::cmdline`).
            let command_line = event.attributes().find(|a| a.source.is_late());
            if let Some(attribute) = command_line.filter(|_| name.text == "argv") {
                let args = match &value.kind {
                    ExprKind::List(elements) => elements
                        .iter()
                        .map(|e| match &e.kind {
                            ExprKind::Str(s) => Some(s.clone().into_bytes()),
                            _ => None,
                        })
                        .collect::<Option<Vec<_>>>(),
                    _ => None,
                };
                let Some(args) = args else {
                    self.report(Finding::Late(late::LateFinding::ArgvNotList {
                        span: value.span,
                        name_span: name.span,
                    }));
                    ok = false;
                    continue;
                };
                if values.iter().any(|(a, _)| a.name == attribute.name) {
                    self.report(Finding::TestValueTwice {
                        name: name.text.clone(),
                        span: name.span,
                    });
                    ok = false;
                    continue;
                }
                values.push((attribute, AttrValue::Str(crate::cmdline::block(&args))));
                value_spans.push(value_span);
                continue;
            }
            let Some(attribute) = event.attribute(&name.text) else {
                self.unknown_name(name, event);
                ok = false;
                continue;
            };
            if PARENT.contains(&attribute.name) && (comms.is_some() || exes.is_some()) {
                let list = if comms.is_some() {
                    crate::lineage::ANCESTOR_COMM
                } else {
                    crate::lineage::ANCESTOR_EXE
                };
                self.report(Finding::Lineage(
                    lineage::LineageFinding::AncestorsAndParent {
                        name: list,
                        parent: attribute.name,
                        span: name.span,
                    },
                ));
                ok = false;
                continue;
            }
            if values.iter().any(|(a, _)| a.name == attribute.name)
                || (attribute.name == crate::lineage::ANCESTOR_COMM && comms.is_some())
                || (attribute.name == crate::lineage::ANCESTOR_EXE && exes.is_some())
            {
                self.report(Finding::TestValueTwice {
                    name: name.text.clone(),
                    span: name.span,
                });
                ok = false;
                continue;
            }
            if attribute.name == crate::lineage::ANCESTOR_COMM {
                comms = self.test_ancestor_list(attribute.name, name.span, value, &values);
                ok &= comms.is_some();
                lineage_span = Some(value_span);
                continue;
            }
            if attribute.name == crate::lineage::ANCESTOR_EXE {
                exes = self
                    .test_ancestor_list(attribute.name, name.span, value, &values)
                    .map(|list| (list, name.span));
                ok &= exes.is_some();
                lineage_span = Some(value_span);
                continue;
            }
            let value = match (&value.kind, attribute.ty) {
                (ExprKind::Int(v), ValueType::Int) => {
                    // A value wider than the kernel's field is no event: the evaluator
                    // would compare all 64 bits where the program reads the field's 32.
                    let max = crate::checked::int_max(attribute, self.resolved(event, attribute));
                    if *v > max {
                        self.report(Finding::ImpossibleTestEvent {
                            impossible: crate::test_event::Impossible {
                                value: values.len(),
                                message: format!(
                                    "`{}` is never {v}: the kernel's value is at most {max}",
                                    attribute.name
                                ),
                                help: format!("give a value from 0 to {max}"),
                            },
                            span: value_span,
                        });
                        ok = false;
                        continue;
                    }
                    AttrValue::Int(*v)
                }
                // A command line given as one string: its arguments are its words.
                (ExprKind::Str(s), _) if attribute.source.is_late() => {
                    AttrValue::Str(crate::cmdline::block(&s.split(' ').collect::<Vec<_>>()))
                }
                (ExprKind::Str(s), ty) if ty.is_string() => AttrValue::Str(s.clone().into_bytes()),
                (ExprKind::Bool(b), ValueType::Bool) => AttrValue::Bool(*b),
                (ExprKind::Addr(ip, prefix), ValueType::Addr)
                    if *prefix == types::full_prefix(*ip) =>
                {
                    AttrValue::Addr(ip.to_canonical())
                }
                // `caps.effective: [CAP_SYS_ADMIN, CAP_NET_ADMIN]`: the set's bits, as the
                // kernel's kernel_cap_t holds them (bit n is capability n).
                (ExprKind::List(elements), ValueType::CapabilitySet) => {
                    let bits: Option<Vec<u64>> = elements
                        .iter()
                        .map(|e| self.enum_value(e, attribute, &catalog::CAPABILITIES, event))
                        .collect();
                    match bits {
                        Some(bits) => AttrValue::Int(bits.iter().fold(0, |set, bit| {
                            set | 1u64.checked_shl(*bit as u32).unwrap_or(0)
                        })),
                        None => {
                            ok = false;
                            continue;
                        }
                    }
                }
                (_, ValueType::Enum(kind)) => {
                    match self.enum_value(value, attribute, kind, event) {
                        Some(v) => AttrValue::Int(v),
                        None => {
                            ok = false;
                            continue;
                        }
                    }
                }
                _ => {
                    self.report(Finding::TestValueMismatch {
                        attribute,
                        span: value.span,
                        name_span: name.span,
                    });
                    ok = false;
                    continue;
                }
            };
            values.push((attribute, value));
            value_spans.push(value_span);
        }
        ok &= self.test_ancestors(event, comms, exes, &mut values);
        if let Some(span) = lineage_span {
            value_spans.resize(values.len(), span);
        }
        for impossible in crate::test_event::impossible_values(&values) {
            let span = value_spans[impossible.value];
            self.report(Finding::ImpossibleTestEvent { impossible, span });
            ok = false;
        }
        let expect = match &test.expect {
            ast::Expectation::Allow => ExpectedDecision::Allow,
            ast::Expectation::Audit => ExpectedDecision::Audit,
            ast::Expectation::Deny(None) => ExpectedDecision::Deny(None),
            ast::Expectation::Deny(Some(name)) => match catalog::errno(&name.text) {
                Some(errno) => ExpectedDecision::Deny(Some(errno)),
                None => {
                    self.unknown_errno(name);
                    return None;
                }
            },
            ast::Expectation::Kill(None) => ExpectedDecision::Kill(None),
            ast::Expectation::Kill(Some(name)) => match catalog::errno(&name.text) {
                Some(errno) => ExpectedDecision::Kill(Some(errno)),
                None => {
                    self.unknown_errno(name);
                    return None;
                }
            },
        };
        ok.then_some(CheckedTest {
            event,
            values,
            expect,
            span: test.span,
        })
    }
}

/// The parent's values in a test item, which an ancestor list gives as its first level.
const PARENT: [&str; 3] = ["parent.pid", "parent.comm", "parent.exe"];
