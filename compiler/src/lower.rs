//! Lowering: the checked policy becomes one decision program per LSM hook.
//!
//! Rules are grouped by event, each attribute a program reads becomes one value computed once,
//! constant conditions are folded, and every test of a fallible value gets its fail-closed
//! outcome from its polarity.

use crate::ir::{Cond, Mode, Module, Pred, Program, Rule, Target, Value, ValueId, ValueKind};
use lang::ast::Action;
use lang::catalog::{EndpointPart, Source, VariantRules};
use lang::checked::{self, CheckedPolicy, PolicyMode, Predicate, Stage, VariantHook};
use lang::eval::StringKind;
use std::collections::HashMap;

/// A broken invariant between checker and compiler: a bug in krsi, never the policy's fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InternalError(pub String);

impl std::fmt::Display for InternalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InternalError {}

/// The policy's module for `target`. Most callers want [`crate::compile`], which goes on to
/// the object; this stage alone is for tests that inspect the IR.
pub fn lower(policy: &CheckedPolicy, target: Target) -> Result<Module, InternalError> {
    let mut programs: Vec<Program> = Vec::new();
    let mut value_maps: Vec<HashMap<ValueKind, ValueId>> = Vec::new();
    // One program per hook: an event with several hooks gets each of its rules in each of
    // them that the target kernel has; a hook that reads late values (`cmdline` on
    // `bprm_committing_creds`) gets the rules on them, which the event's own hook does not,
    // and the allow rules, which both get (`lang::checked::Stage`).
    let rule_hooks = policy.rules.iter().flat_map(|rule| {
        let stage = policy.stage(rule);
        (stage != Stage::Late)
            .then_some((rule, None))
            .into_iter()
            .chain(
                policy
                    .variant_hooks
                    .iter()
                    .filter(move |v| std::ptr::eq(v.event, rule.event))
                    .filter(move |v| match v.variant.rules {
                        VariantRules::All => true,
                        VariantRules::LateValues => stage != Stage::Early,
                    })
                    .map(move |variant| (rule, Some(variant))),
            )
    });
    for (rule, variant) in rule_hooks {
        let hook = variant.map_or(rule.event.hook, |v| v.variant.hook);
        // Audit rules fail closed like deny rules: an unknown value reports.
        let deny = rule.action != Action::Allow;
        let at = match programs
            .iter()
            .position(|p| p.event == rule.event.name && p.hook == hook)
        {
            Some(at) => at,
            None => {
                let guard = variant.and_then(|v| v.guard.clone());
                if variant.is_some_and(|v| v.variant.only_when.is_some()) && guard.is_none() {
                    return Err(InternalError(format!(
                        "no guard was resolved for `{}` on `{hook}`",
                        rule.event.name
                    )));
                }
                // An event with several hooks: each program starts with its constants, so a
                // report says which hook sent it even when no rule reads them.
                let mut values = Vec::new();
                let mut value_map = HashMap::new();
                if !rule.event.variants.is_empty() {
                    for attribute in rule.event.attributes {
                        let source = match variant {
                            None => Some(attribute.source),
                            Some(v) => v
                                .variant
                                .sources
                                .iter()
                                .find(|(n, _)| *n == attribute.name)
                                .map(|(_, s)| *s),
                        };
                        if let Some(Source::Constant(c)) = source {
                            value_map.insert(ValueKind::Const(c), ValueId(values.len() as u32));
                            values.push(Value {
                                name: attribute.name,
                                kind: ValueKind::Const(c),
                            });
                        }
                    }
                }
                programs.push(Program {
                    path_layout: policy.path_layout,
                    event: rule.event.name,
                    hook,
                    variant: variant.is_some(),
                    guard,
                    values,
                    allow: Vec::new(),
                    deny: Vec::new(),
                    audit: Vec::new(),
                });
                value_maps.push(value_map);
                programs.len() - 1
            }
        };
        let mut lowering = RuleLowering {
            policy,
            program: &mut programs[at],
            values: &mut value_maps[at],
            deny,
            variant,
            internal_error: None,
        };
        let cond = fold(lowering.cond(&rule.condition, false));
        if let Some(message) = lowering.internal_error {
            return Err(InternalError(message));
        }
        if cond == Cond::Const(false) {
            continue;
        }
        let lowered = Rule {
            index: rule.index,
            span: rule.span,
            errno: rule.errno,
            kill: rule.action == Action::Kill,
            cond,
        };
        match rule.action {
            // A kill rule is a deny rule that also kills: they decide together, in order.
            Action::Deny | Action::Kill => programs[at].deny.push(lowered),
            Action::Allow => programs[at].allow.push(lowered),
            Action::Audit => programs[at].audit.push(lowered),
        }
    }
    // A hook with nothing to deny or report needs no program: allow rules only override
    // denials.
    programs.retain(|p| !p.deny.is_empty() || !p.audit.is_empty());
    let header_mode = match policy.mode {
        Some(PolicyMode::Audit) => Mode::Audit,
        Some(PolicyMode::Enforce) | None => Mode::Enforce,
    };
    Ok(Module {
        scope: target.scope,
        mode: target.mode.unwrap_or(header_mode),
        programs,
        parent: policy.parent.clone(),
        report_rate: target
            .report_rate
            .unwrap_or(crate::report::REPORTS_PER_SECOND),
        loads_may_be_null: policy.loads_may_be_null,
        attach: target.attach,
    })
}

struct RuleLowering<'a> {
    policy: &'a CheckedPolicy,
    program: &'a mut Program,
    values: &'a mut HashMap<ValueKind, ValueId>,
    deny: bool,
    /// The hook variant this program serves, `None` for the event's own hook.
    variant: Option<&'a VariantHook>,
    internal_error: Option<String>,
}

impl RuleLowering<'_> {
    fn cond(&mut self, cond: &checked::Cond, negated: bool) -> Cond {
        match cond {
            checked::Cond::Const(b) => Cond::Const(*b),
            checked::Cond::And(a, b) => {
                Cond::And(vec![self.cond(a, negated), self.cond(b, negated)])
            }
            checked::Cond::Or(a, b) => Cond::Or(vec![self.cond(a, negated), self.cond(b, negated)]),
            checked::Cond::Not(c) => Cond::Not(Box::new(self.cond(c, !negated))),
            checked::Cond::Test(test) => {
                let value = self.value(test.attr);
                // A value this hook does not have: every test on it is false.
                if matches!(
                    self.program.values[value.0 as usize].kind,
                    ValueKind::Absent(_)
                ) {
                    return Cond::Const(false);
                }
                let pred = match &test.predicate {
                    Predicate::IntAttr { op, other } => {
                        let other = self.value(*other);
                        if matches!(
                            self.program.values[other.0 as usize].kind,
                            ValueKind::Absent(_)
                        ) {
                            return Cond::Const(false);
                        }
                        Pred::Value { op: *op, other }
                    }
                    Predicate::Masked { mask, op, value } => Pred::Masked {
                        mask: *mask,
                        op: *op,
                        value: *value,
                    },
                    Predicate::Int { op, value } => Pred::Int {
                        op: *op,
                        value: *value,
                    },
                    Predicate::StrEq(bytes) => Pred::StrEq(bytes.clone()),
                    Predicate::Glob(glob) => Pred::Glob {
                        pattern: glob.pattern.clone(),
                        alternatives: glob.alternatives.clone(),
                    },
                    Predicate::IsTrue => Pred::IsTrue,
                    Predicate::Cidr { addr, prefix } => {
                        let (v6, bytes) = match addr {
                            std::net::IpAddr::V4(v4) => {
                                let mut bytes = [0u8; 16];
                                bytes[..4].copy_from_slice(&v4.octets());
                                (false, bytes)
                            }
                            std::net::IpAddr::V6(v6) => (true, v6.octets()),
                        };
                        Pred::Cidr {
                            v6,
                            bytes,
                            prefix: *prefix,
                        }
                    }
                };
                // Fail closed: an unknown value makes a deny rule match and an allow rule not
                // match. Under an odd number of `not`s the test must take the opposite value
                // for the rule to come out that way. But an unknown resolved path equals no
                // literal: that test is false (`StringKind::decides_equality`).
                let decided = matches!(pred, Pred::StrEq(_))
                    && self
                        .policy
                        .attributes
                        .get(test.attr.0 as usize)
                        .is_some_and(|r| StringKind::of(&r.attribute.source).decides_equality());
                Cond::Test {
                    value,
                    pred,
                    on_unknown: !decided && self.deny != negated,
                }
            }
        }
    }

    /// Where attribute `name` of `attr`'s event lives on this program's hook: the count of a
    /// command line, which the checker resolved with it.
    fn count(&self, attr: checked::AttrId, name: &str) -> Option<lang::checked::Access> {
        let event = self.policy.attributes.get(attr.0 as usize)?.event;
        let resolved = self
            .policy
            .attributes
            .iter()
            .find(|r| std::ptr::eq(r.event, event) && r.attribute.name == name)?;
        match self.variant {
            None => resolved.access.clone(),
            Some(variant) => resolved
                .on_variants
                .iter()
                .find(|r| r.hook == variant.variant.hook)
                .and_then(|r| r.access.clone()),
        }
    }

    fn value(&mut self, attr: checked::AttrId) -> ValueId {
        let resolved = &self.policy.attributes[attr.0 as usize];
        // On a variant hook an event attribute comes from the variant's own source, or is
        // absent there. Either way the programs of one event get the same values in the same
        // order (an absent one laid out as what it stands for), so a report decodes alike
        // whichever of them sent it.
        let (source, absent) = match self.variant {
            Some(variant) if resolved.event.attributes.contains(resolved.attribute) => {
                match variant
                    .variant
                    .sources
                    .iter()
                    .find(|(n, _)| *n == resolved.attribute.name)
                {
                    Some((_, source)) => (*source, false),
                    None => (resolved.attribute.source, true),
                }
            }
            _ => (resolved.attribute.source, false),
        };
        // Where the value lives: on the variant's hook when the variant reads it from its
        // own parameters, else where the checker resolved it on the event's own hook.
        let on_variant = self.variant.and_then(|variant| {
            resolved
                .on_variants
                .iter()
                .find(|r| r.hook == variant.variant.hook)
        });
        let reads_own_parameters = !absent && !matches!(source, Source::Constant(_));
        if self.variant.is_some()
            && resolved.event.attributes.contains(resolved.attribute)
            && reads_own_parameters
            && on_variant.is_none()
        {
            self.internal_error = Some(format!(
                "`{}` was not resolved on `{}`",
                resolved.attribute.name, self.program.hook
            ));
        }
        let (access, walk, endpoint) = match on_variant {
            Some(r) => (r.access.clone(), r.walk.clone(), r.endpoint.clone()),
            None => (
                resolved.access.clone(),
                resolved.walk.clone(),
                resolved.endpoint.clone(),
            ),
        };
        let kind = match (source, access) {
            (Source::Constant(v), _) => ValueKind::Const(v),
            (Source::Endpoint { part, .. }, _) => match (&endpoint, part) {
                (Some(e), EndpointPart::Port) => ValueKind::Port(e.clone()),
                (Some(e), EndpointPart::Addr) => ValueKind::Addr(e.clone()),
                (None, _) => {
                    self.internal_error =
                        Some("no endpoint was resolved for an endpoint attribute".into());
                    ValueKind::Uid
                }
            },
            (Source::CurrentUid, _) => ValueKind::Uid,
            (Source::CurrentGid, _) => ValueKind::Gid,
            (Source::CurrentPid, _) => ValueKind::Pid,
            (Source::CurrentTgid, _) => ValueKind::Tgid,
            (Source::CurrentComm, _) => ValueKind::Comm,
            (Source::ResolvedPath { .. }, Some(a)) => ValueKind::ResolvedPath(a),
            (Source::CommandLine { count, .. }, Some(strings)) => match self.count(attr, count) {
                Some(count) => ValueKind::CommandLine { strings, count },
                None => {
                    self.internal_error = Some(format!(
                        "`{count}`, the count of `{}`, was not resolved on `{}`",
                        resolved.attribute.name, self.program.hook
                    ));
                    ValueKind::Uid
                }
            },
            (Source::KernelString { .. }, Some(a)) => ValueKind::KernelString(a),
            (Source::Flag { mask, .. }, Some(a)) => ValueKind::Flag { access: a, mask },
            (Source::TaskInt { .. } | Source::Int { .. }, Some(a)) => ValueKind::Field(a),
            (Source::TaskChars { .. } | Source::ParamChars { .. }, Some(a)) => ValueKind::Chars(a),
            (Source::WorkloadId { workload, .. }, _) => match walk {
                Some(checked::PathWalk::Kernfs(walk)) => ValueKind::WorkloadId(workload, walk),
                _ => {
                    self.internal_error =
                        Some("no kernfs walk was resolved for a container id or pod UID".into());
                    ValueKind::Uid
                }
            },
            (Source::WalkedPath { .. } | Source::KernfsPath { .. }, _) => match walk {
                Some(walk) => ValueKind::WalkedPath(walk),
                None => {
                    self.internal_error =
                        Some("no dentry walk was resolved for a walked path".into());
                    ValueKind::Uid
                }
            },
            (Source::Expanded, _) => {
                self.internal_error = Some(format!(
                    "`{}` reached the compiler: the checker expands its tests",
                    resolved.attribute.name
                ));
                ValueKind::Uid
            }
            // The checker resolves an access for every chained source; a missing one is a
            // checker bug, reported as an internal error rather than compiled into a guess.
            (source, None) => {
                self.internal_error = Some(format!("no access path was resolved for {source:?}"));
                ValueKind::Uid
            }
        };
        let kind = if absent {
            ValueKind::Absent(Box::new(kind))
        } else {
            kind
        };
        if let Some(id) = self.values.get(&kind) {
            return *id;
        }
        let id = ValueId(self.program.values.len() as u32);
        self.program.values.push(Value {
            name: resolved.attribute.name,
            kind: kind.clone(),
        });
        self.values.insert(kind, id);
        id
    }
}

/// Folds constants and flattens nested `and`/`or`.
pub fn fold(cond: Cond) -> Cond {
    match cond {
        Cond::And(items) => {
            let mut out = Vec::new();
            for item in items.into_iter().map(fold) {
                match item {
                    Cond::Const(true) => {}
                    Cond::Const(false) => return Cond::Const(false),
                    Cond::And(inner) => out.extend(inner),
                    other => out.push(other),
                }
            }
            match out.len() {
                0 => Cond::Const(true),
                1 => out.pop().unwrap_or(Cond::Const(true)),
                _ => Cond::And(out),
            }
        }
        Cond::Or(items) => {
            let mut out = Vec::new();
            for item in items.into_iter().map(fold) {
                match item {
                    Cond::Const(false) => {}
                    Cond::Const(true) => return Cond::Const(true),
                    Cond::Or(inner) => out.extend(inner),
                    other => out.push(other),
                }
            }
            match out.len() {
                0 => Cond::Const(false),
                1 => out.pop().unwrap_or(Cond::Const(false)),
                _ => Cond::Or(out),
            }
        }
        Cond::Not(inner) => match fold(*inner) {
            Cond::Const(b) => Cond::Const(!b),
            Cond::Not(c) => *c,
            other => Cond::Not(Box::new(other)),
        },
        test @ (Cond::Test { .. } | Cond::Const(_)) => test,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Pred, ValueId};
    use lang::checked::IntOp;

    /// `uid == n`-like tests, told apart by their value.
    fn test(n: u32) -> Cond {
        Cond::Test {
            value: ValueId(n),
            pred: Pred::Int {
                op: IntOp::Eq,
                value: u64::from(n),
            },
            on_unknown: false,
        }
    }

    fn and(items: Vec<Cond>) -> Cond {
        Cond::And(items)
    }

    fn or(items: Vec<Cond>) -> Cond {
        Cond::Or(items)
    }

    fn not(c: Cond) -> Cond {
        Cond::Not(Box::new(c))
    }

    /// What the code generator relies on: no constant left beside a test, no `and` directly
    /// inside an `and` (nor `or` inside `or`), no one-item `and` or `or`, and no double `not`,
    /// so that the shapes it recognises (a chain of literals, a run's shared gate) are not
    /// hidden behind a wrapper.
    #[test]
    fn folding_leaves_only_the_tests_that_decide() {
        let cases = [
            (and(vec![Cond::Const(true), test(1)]), test(1)),
            (
                and(vec![test(1), Cond::Const(false), test(2)]),
                Cond::Const(false),
            ),
            (and(vec![Cond::Const(true)]), Cond::Const(true)),
            (and(vec![]), Cond::Const(true)),
            (or(vec![Cond::Const(false), test(1)]), test(1)),
            (
                or(vec![test(1), Cond::Const(true), test(2)]),
                Cond::Const(true),
            ),
            (or(vec![Cond::Const(false)]), Cond::Const(false)),
            (or(vec![]), Cond::Const(false)),
            (or(vec![or(vec![test(1)])]), test(1)),
            (and(vec![and(vec![test(1)])]), test(1)),
            (
                and(vec![and(vec![test(1), test(2)]), test(3)]),
                and(vec![test(1), test(2), test(3)]),
            ),
            (
                or(vec![test(1), or(vec![test(2), or(vec![test(3)])])]),
                or(vec![test(1), test(2), test(3)]),
            ),
            // An `or` inside an `and` is a different shape: kept.
            (
                and(vec![or(vec![test(1), test(2)]), test(3)]),
                and(vec![or(vec![test(1), test(2)]), test(3)]),
            ),
            (not(not(test(1))), test(1)),
            (not(Cond::Const(true)), Cond::Const(false)),
            (
                not(and(vec![Cond::Const(false), test(1)])),
                Cond::Const(true),
            ),
            (not(or(vec![test(1)])), not(test(1))),
        ];
        for (cond, folded) in cases {
            assert_eq!(fold(cond.clone()), folded, "{cond:?}");
        }
    }
}
