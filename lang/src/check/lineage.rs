//! `ancestor.comm`: each test on it becomes the same test on every level of the lineage,
//! as `crate::lineage` defines. The expansion is written here once, so the evaluator and the
//! compiler only ever see tests on per-level values they read like `parent.comm`.

use super::finding::Finding;
use super::Checker;
use crate::ast::CmpOp;
use crate::catalog::{Event, ANCESTOR_LEVELS};
use crate::checked::{AttrId, Cond, IntOp, Predicate, Test};
use crate::diagnostic::{Code, Diagnostic};
use crate::lineage::ANCESTOR_COMM;
use crate::span::Span;

impl<'a> Checker<'a> {
    /// `cond`, the comparison `op` as checked, with its tests on `ancestor.comm` expanded to
    /// every level; `None` (reported) for `!=` and `!~`, or when a level cannot be read.
    pub(super) fn expand_lineage(
        &mut self,
        cond: Cond,
        op: CmpOp,
        op_span: Span,
        span: Span,
        event: &'static Event,
    ) -> Option<Cond> {
        let Some(ancestor) = self.tested_attribute(&cond, ANCESTOR_COMM) else {
            return Some(cond);
        };
        if matches!(op, CmpOp::Ne | CmpOp::NotMatch) {
            self.report(Finding::Lineage(LineageFinding::AncestorNegated {
                op,
                span: op_span,
            }));
            return None;
        }
        // `~` is as cheap: a glob on a name runs as an automaton unrolled over its 16 bytes
        // without a branch (compiler codegen/automaton.rs), so eight levels' scans add
        // instructions, not paths for the verifier to walk.
        let exists = |pid: AttrId| {
            Cond::Test(Test {
                attr: pid,
                predicate: Predicate::Int {
                    op: IntOp::Ne,
                    value: 0,
                },
                span,
            })
        };
        let mut levels = vec![(
            event.attribute("parent.pid")?,
            Some(event.attribute("parent.comm")?),
        )];
        levels.extend(
            ANCESTOR_LEVELS
                .iter()
                .map(|(pid, comm)| (pid, comm.as_ref())),
        );
        let mut any: Option<Cond> = None;
        for (pid, comm) in levels {
            let pid = self.resolve_attribute(event, pid, span)?;
            let level = match comm {
                Some(comm) => {
                    let comm = self.resolve_attribute(event, comm, span)?;
                    Cond::And(
                        Box::new(exists(pid)),
                        Box::new(retarget(&cond, ancestor, comm)),
                    )
                }
                // Past the depth: a lineage that goes on is unknown, resolved by polarity in
                // `fail_closed_lineage`.
                None => exists(pid),
            };
            any = Some(match any {
                None => level,
                Some(before) => Cond::Or(Box::new(before), Box::new(level)),
            });
        }
        any
    }

    /// The attribute named `name` if `cond` tests it.
    fn tested_attribute(&self, cond: &Cond, name: &str) -> Option<AttrId> {
        match cond {
            Cond::Const(_) => None,
            Cond::And(a, b) | Cond::Or(a, b) => self
                .tested_attribute(a, name)
                .or_else(|| self.tested_attribute(b, name)),
            Cond::Not(c) => self.tested_attribute(c, name),
            Cond::Test(test) => {
                (self.attributes[test.attr.0 as usize].attribute.name == name).then_some(test.attr)
            }
        }
    }

    /// `cond` with its unknown-past-the-depth tests resolved: at a polarity where an unknown
    /// test counts as true (`unknown_is`: a deny, kill or audit rule, flipped under each
    /// `not`) the test stays (`ancestor.9.pid != 0`, the lineage goes on), elsewhere it is
    /// false. A test on the last level's pid is only ever written by [`Self::expand_lineage`].
    pub(super) fn fail_closed_lineage(&self, cond: Cond, unknown_is: bool) -> Cond {
        let beyond = ANCESTOR_LEVELS.last().map(|(pid, _)| pid.name);
        match cond {
            Cond::And(a, b) => Cond::And(
                Box::new(self.fail_closed_lineage(*a, unknown_is)),
                Box::new(self.fail_closed_lineage(*b, unknown_is)),
            ),
            Cond::Or(a, b) => Cond::Or(
                Box::new(self.fail_closed_lineage(*a, unknown_is)),
                Box::new(self.fail_closed_lineage(*b, unknown_is)),
            ),
            Cond::Not(c) => Cond::Not(Box::new(self.fail_closed_lineage(*c, !unknown_is))),
            Cond::Test(test)
                if !unknown_is
                    && Some(self.attributes[test.attr.0 as usize].attribute.name) == beyond =>
            {
                Cond::Const(false)
            }
            other => other,
        }
    }
}

/// `cond` with its tests on `from` made on `to`.
fn retarget(cond: &Cond, from: AttrId, to: AttrId) -> Cond {
    match cond {
        Cond::And(a, b) => Cond::And(
            Box::new(retarget(a, from, to)),
            Box::new(retarget(b, from, to)),
        ),
        Cond::Or(a, b) => Cond::Or(
            Box::new(retarget(a, from, to)),
            Box::new(retarget(b, from, to)),
        ),
        Cond::Not(c) => Cond::Not(Box::new(retarget(c, from, to))),
        Cond::Test(test) if test.attr == from => Cond::Test(Test {
            attr: to,
            ..test.clone()
        }),
        other => other.clone(),
    }
}

/// What the checker finds wrong with a use of `ancestor.comm`.
#[derive(Clone, Debug, PartialEq)]
pub enum LineageFinding {
    /// `ancestor.comm != x` or `!~`: true when some ancestor is not x, nearly always.
    AncestorNegated { op: CmpOp, span: Span },
    /// A test item's `ancestor.comm` that is not a list of names.
    AncestorsNotList { span: Span, name_span: Span },
    /// A test item gives `ancestor.comm` and `parent.pid` or `parent.comm`, its first level.
    AncestorsAndParent { parent: &'static str, span: Span },
}

/// The diagnostic of a finding about `ancestor.comm` (kept here with the expansion, so that
/// `finding.rs` stays one screenful a finding).
pub(super) fn diagnostic(finding: &LineageFinding) -> Diagnostic {
    match finding {
        LineageFinding::AncestorNegated { op, span } => {
            let positive = if *op == CmpOp::Ne { "== ..." } else { "~ ..." };
            Diagnostic::new(
                    Code::BadOperator,
                    format!(
                        "`{}` on `{}` would hold when some ancestor differs, which nearly every process has",
                        op.symbol(),
                        ANCESTOR_COMM
                    ),
                    *span,
                )
                .with_help(format!(
                    "to say that no ancestor matches, write `not {} {positive}`",
                    ANCESTOR_COMM
                ))
        }
        LineageFinding::AncestorsNotList { span, name_span } => Diagnostic::new(
            Code::TypeMismatch,
            format!(
                "in a test, `{}` is the list of the ancestors' names, nearest first",
                ANCESTOR_COMM
            ),
            *span,
        )
        .with_secondary(*name_span, "a list of strings")
        .with_help(format!(
            "e.g. `{}: [\"bash\", \"sshd\", \"systemd\"]`: the parent, the grandparent, ...",
            ANCESTOR_COMM
        )),
        LineageFinding::AncestorsAndParent { parent, span } => Diagnostic::new(
            Code::DuplicateDefinition,
            format!(
                "`{}` gives the parent too, and so does `{parent}`",
                ANCESTOR_COMM
            ),
            *span,
        )
        .with_help(format!(
            "leave out `{parent}`: the first name of `{}` is the parent's",
            ANCESTOR_COMM
        )),
    }
}
