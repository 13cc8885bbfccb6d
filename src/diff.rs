//! `krsic diff OLD NEW`: what a change of policy does, by meaning. For each event, each kind
//! of operation the new version decides differently, with an example event the lint engine's
//! search found and the reference evaluator confirmed (`lang::lint::diff`). `krsic apply
//! --dry-run` prints the same for each policy it would replace.
//!
//! Each example is written as a `test` item, so it can be pasted into the new policy to pin
//! the intended change down.

use crate::commands::{read_source, report, test_input};
use crate::error::Error;
use crate::record::PolicyRecord;
use crate::target::kernel_types;
use crate::MessageFormat;
use compiler::ir::Mode;
use lang::checked::{CheckedPolicy, CheckedTest, ExpectedDecision, PolicyMode};
use lang::diagnostic::Severity;
use lang::kernel::KernelTypes;
use lang::lint::diff::{decision_changes, expectation_text, Change, ChangeKind, Example};
use lang::span::Span;
use runtime::PinRoot;
use serde_json::json;
use std::path::Path;
use std::process::ExitCode;

/// A policy version: where it came from (for messages), its source and its checked form.
pub struct Version<'a> {
    pub name: &'a str,
    pub source: &'a str,
    pub policy: &'a CheckedPolicy,
}

/// `krsic diff`: exit 0 when the two versions decide every event alike, 1 when some decision
/// changes (or may: a search that gave up), 2 when either version cannot be read or has
/// errors, as diff(1) does, so that 1 always means "changed".
pub fn diff(
    old: &Path,
    new: &Path,
    btf: Option<&Path>,
    json: bool,
    format: MessageFormat,
) -> Result<ExitCode, Error> {
    compare(old, new, btf, json, format).or_else(|error| {
        eprintln!("error: {error}");
        Ok(ExitCode::from(2))
    })
}

fn compare(
    old: &Path,
    new: &Path,
    btf: Option<&Path>,
    json: bool,
    format: MessageFormat,
) -> Result<ExitCode, Error> {
    let kernel = kernel_types(btf)?;
    let (Some(old_source), Some(new_source)) =
        (read_source(old, format)?, read_source(new, format)?)
    else {
        return Ok(ExitCode::from(2));
    };
    let (Some(old_policy), Some(new_policy)) = (
        checked(old, &old_source, &kernel, format),
        checked(new, &new_source, &kernel, format),
    ) else {
        return Ok(ExitCode::from(2));
    };
    let (old_name, new_name) = (old.display().to_string(), new.display().to_string());
    let old_version = Version {
        name: &old_name,
        source: &old_source,
        policy: &old_policy,
    };
    let new_version = Version {
        name: &new_name,
        source: &new_source,
        policy: &new_policy,
    };
    let changes = changes(&old_policy, &new_policy);
    if json {
        for change in &changes {
            println!("{}", change_json(change, &old_version, &new_version));
        }
    } else {
        for line in describe_changes(&changes, &old_version, &new_version) {
            println!("{line}");
        }
    }
    Ok(if changes.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The checked policy, or `None` after reporting its errors (warnings are not the diff's
/// business: `krsic check` shows them).
fn checked(
    file: &Path,
    source: &str,
    kernel: &dyn KernelTypes,
    format: MessageFormat,
) -> Option<CheckedPolicy> {
    let (policy, diagnostics) = lang::front_end(source, kernel);
    let errors: Vec<_> = diagnostics
        .into_iter()
        .filter(|d| d.severity() == Severity::Error)
        .collect();
    report(file, source, &errors, format);
    policy
}

/// Every kind of change, each example completed as `krsic test` completes a test item.
pub fn changes(old: &CheckedPolicy, new: &CheckedPolicy) -> Vec<Change> {
    decision_changes(old, new, &|example: &Example| {
        test_input(&CheckedTest {
            event: example.event,
            values: example.values.clone(),
            expect: ExpectedDecision::Allow,
            span: Span::new(0, 0),
        })
    })
}

/// Two lines a change: what changed and by which rule, then the example as test items.
pub fn describe_changes(changes: &[Change], old: &Version<'_>, new: &Version<'_>) -> Vec<String> {
    if changes.is_empty() {
        return vec![format!(
            "{} decides every event as {} did",
            new.name, old.name
        )];
    }
    let mut lines = Vec::new();
    for change in changes {
        lines.push(format!(
            "{}: {}",
            change.event,
            headline(change.kind, old, new)
        ));
        lines.push(match &change.example {
            Some(confirmed) => format!(
                "    e.g. test {} => {} (was {})",
                confirmed.example,
                expectation_text(confirmed.after),
                expectation_text(confirmed.before)
            ),
            None => "    no example: the search gave up, so this change may or may not happen"
                .to_string(),
        });
    }
    lines
}

fn headline(kind: ChangeKind, old: &Version<'_>, new: &Version<'_>) -> String {
    let errno = lang::catalog::errno_name;
    match kind {
        ChangeKind::NowDenied { new_rule, errno: e } => {
            format!("now denied ({}) by {}", errno(e), rule_at(new, new_rule))
        }
        ChangeKind::NowAllowed { old_rule } => {
            format!("now allowed; was denied by {}", rule_at(old, old_rule))
        }
        ChangeKind::ErrnoChanged {
            old_rule,
            new_rule,
            old_errno,
            new_errno,
        } => format!(
            "now denied with {} by {}; was {} by {}",
            errno(new_errno),
            rule_at(new, new_rule),
            errno(old_errno),
            rule_at(old, old_rule)
        ),
        ChangeKind::KillChanged {
            old_rule,
            new_rule,
            kills: true,
        } => format!(
            "now refused and the process killed by {}; was refused without killing by {}",
            rule_at(new, new_rule),
            rule_at(old, old_rule)
        ),
        ChangeKind::KillChanged {
            old_rule,
            new_rule,
            kills: false,
        } => format!(
            "now refused without killing by {}; was refused and the process killed by {}",
            rule_at(new, new_rule),
            rule_at(old, old_rule)
        ),
        ChangeKind::NowAudited { new_rule } => {
            format!("now reported by {}", rule_at(new, new_rule))
        }
        ChangeKind::NoLongerAudited { old_rule } => format!(
            "no longer reported; was reported by {}",
            rule_at(old, old_rule)
        ),
    }
}

/// `line 3 of new.krsi`
fn rule_at(version: &Version<'_>, rule: u32) -> String {
    format!(
        "the rule on line {} of {}",
        rule_line(version, rule).unwrap_or(0),
        version.name
    )
}

fn rule_line(version: &Version<'_>, rule: u32) -> Option<usize> {
    version
        .policy
        .rules
        .iter()
        .find(|r| r.index == rule)
        .map(|r| r.span.line(version.source))
}

fn change_json(change: &Change, old: &Version<'_>, new: &Version<'_>) -> serde_json::Value {
    let (kind, old_rule, new_rule) = match change.kind {
        ChangeKind::NowDenied { new_rule, .. } => ("now-denied", None, Some(new_rule)),
        ChangeKind::NowAllowed { old_rule } => ("now-allowed", Some(old_rule), None),
        ChangeKind::ErrnoChanged {
            old_rule, new_rule, ..
        } => ("errno-changed", Some(old_rule), Some(new_rule)),
        ChangeKind::KillChanged {
            old_rule,
            new_rule,
            kills,
        } => (
            if kills {
                "now-killed"
            } else {
                "no-longer-killed"
            },
            Some(old_rule),
            Some(new_rule),
        ),
        ChangeKind::NowAudited { new_rule } => ("now-audited", None, Some(new_rule)),
        ChangeKind::NoLongerAudited { old_rule } => ("no-longer-audited", Some(old_rule), None),
    };
    let example = change.example.as_ref();
    json!({
        "event": change.event,
        "change": kind,
        "old_rule_line": old_rule.and_then(|r| rule_line(old, r)),
        "new_rule_line": new_rule.and_then(|r| rule_line(new, r)),
        "example": example.map(|c| c.example.to_string()),
        "before": example.map(|c| expectation_text(c.before)),
        "after": example.map(|c| expectation_text(c.after)),
    })
}

/// What replacing the pinned policy `name` with the policy in `file` changes, as lines for
/// `krsic apply --dry-run`: the old version is the source its record keeps, enforced in the
/// mode it was pinned in. One line saying why when that cannot be told.
pub fn replacement(
    root: &PinRoot,
    name: &str,
    file: &Path,
    kernel: &dyn KernelTypes,
) -> Vec<String> {
    let record = root
        .policies()
        .ok()
        .and_then(|policies| policies.into_iter().find(|p| p.name == name))
        .and_then(|policy| policy.record().ok())
        .and_then(|bytes| PolicyRecord::from_bytes(&bytes).ok());
    let Some(record) = record else {
        return vec![
            "(what changes is not known: the pinned policy's record cannot be read)".into(),
        ];
    };
    let Some(old_source) = record.source else {
        return vec!["(what changes is not known: it was pinned as a built object)".into()];
    };
    let Ok(new_source) = std::fs::read_to_string(file) else {
        return vec![format!(
            "(what changes is not known: `{}` cannot be read)",
            file.display()
        )];
    };
    let (Some(mut old_policy), _) = lang::front_end(&old_source, kernel) else {
        return vec!["(what changes is not known: the pinned version no longer checks)".into()];
    };
    let (Some(new_policy), _) = lang::front_end(&new_source, kernel) else {
        return vec![
            "(the new version has errors: applying it will fail and keep the pinned one)".into(),
        ];
    };
    if record.mode == Mode::Audit {
        old_policy.mode = Some(PolicyMode::Audit);
    }
    let (old_name, new_name) = (format!("the pinned {name}"), file.display().to_string());
    describe_changes(
        &changes(&old_policy, &new_policy),
        &Version {
            name: &old_name,
            source: &old_source,
            policy: &old_policy,
        },
        &Version {
            name: &new_name,
            source: &new_source,
            policy: &new_policy,
        },
    )
}
