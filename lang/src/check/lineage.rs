//! `ancestor.comm` and `ancestor.exe`: each test on them becomes the same test on every
//! level of the lineage, as `crate::lineage` defines. The expansion is written here once, so
//! the evaluator and the compiler only ever see tests on per-level values they read like
//! `parent.comm` and `parent.exe`.

use super::finding::Finding;
use super::Checker;
use crate::ast::CmpOp;
use crate::catalog::{Attribute, Event, ANCESTOR_EXES, ANCESTOR_LEVELS};
use crate::checked::{AttrId, Cond, IntOp, Predicate, Test};
use crate::diagnostic::{Code, Diagnostic};
use crate::glob::{directory_prefix, Glob, Token};
use crate::lineage::{ANCESTOR_COMM, ANCESTOR_EXE};
use crate::span::Span;

impl<'a> Checker<'a> {
    /// `cond`, the comparison `op` as checked, with its tests on `ancestor.comm` or
    /// `ancestor.exe` expanded to every level; `None` (reported) for `!=` and `!~`, a glob on
    /// `ancestor.exe` that would need a scan, or when a level cannot be read.
    pub(super) fn expand_lineage(
        &mut self,
        cond: Cond,
        op: CmpOp,
        op_span: Span,
        span: Span,
        event: &'static Event,
    ) -> Option<Cond> {
        let (ancestor, name) = match self.tested_attribute(&cond, ANCESTOR_COMM) {
            Some(attr) => (attr, ANCESTOR_COMM),
            None => match self.tested_attribute(&cond, ANCESTOR_EXE) {
                Some(attr) => (attr, ANCESTOR_EXE),
                None => return Some(cond),
            },
        };
        if matches!(op, CmpOp::Ne | CmpOp::NotMatch) {
            self.report(Finding::Lineage(LineageFinding::AncestorNegated {
                op,
                name,
                span: op_span,
            }));
            return None;
        }
        // A glob on a name runs as an automaton unrolled over its 16 bytes without a branch
        // (compiler codegen/automaton.rs), so eight levels' scans add instructions, not paths
        // for the verifier to walk. A path's scan is a loop over up to 4,095 bytes that the
        // verifier walks to the end of the program from every length it may stop at (about
        // 185,000 processed instructions a path): eight of them are far past its budget of
        // 1,000,000. So a glob on `ancestor.exe` is taken only when it needs no scan: each
        // alternative an exact path (compared) or a directory (`prefix/**`, a prefix compare).
        let cond = if name == ANCESTOR_EXE {
            match unscanned(&cond) {
                Some(cond) => cond,
                None => {
                    self.report(Finding::Lineage(LineageFinding::AncestorExeGlob {
                        span: op_span,
                    }));
                    return None;
                }
            }
        } else {
            cond
        };
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
        let parent = if name == ANCESTOR_EXE {
            "parent.exe"
        } else {
            "parent.comm"
        };
        let mut levels: Vec<(&'static Attribute, Option<&'static Attribute>)> = vec![(
            event.attribute("parent.pid")?,
            Some(event.attribute(parent)?),
        )];
        levels.extend(ANCESTOR_LEVELS.iter().enumerate().map(|(at, (pid, comm))| {
            let value = if name == ANCESTOR_EXE {
                ANCESTOR_EXES.get(at)
            } else {
                comm.as_ref()
            };
            (pid, value)
        }));
        let mut any: Option<Cond> = None;
        for (pid, value) in levels {
            let pid = self.resolve_attribute(event, pid, span)?;
            let level = match value {
                Some(value) => {
                    let value = self.resolve_attribute(event, value, span)?;
                    Cond::And(
                        Box::new(exists(pid)),
                        Box::new(retarget(&cond, ancestor, value)),
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

/// `cond` with each glob test made of tests that need no scan: the alternatives that are
/// exact paths as `==` tests, the directory alternatives (`prefix/**`) as one glob test the
/// code generator compiles as prefix compares. `None` when an alternative is neither.
fn unscanned(cond: &Cond) -> Option<Cond> {
    Some(match cond {
        Cond::And(a, b) => Cond::And(Box::new(unscanned(a)?), Box::new(unscanned(b)?)),
        Cond::Or(a, b) => Cond::Or(Box::new(unscanned(a)?), Box::new(unscanned(b)?)),
        Cond::Not(c) => Cond::Not(Box::new(unscanned(c)?)),
        Cond::Test(Test {
            attr,
            predicate: Predicate::Glob(glob),
            span,
        }) => {
            let test = |predicate| {
                Cond::Test(Test {
                    attr: *attr,
                    predicate,
                    span: *span,
                })
            };
            let mut directories = Vec::new();
            let mut tests = Vec::new();
            for alternative in &glob.alternatives {
                if directory_prefix(alternative).is_some() {
                    directories.push(alternative.clone());
                } else {
                    let exact = alternative
                        .iter()
                        .map(|t| match t {
                            Token::Byte(c) => Some(*c),
                            _ => None,
                        })
                        .collect::<Option<Vec<u8>>>()?;
                    tests.push(test(Predicate::StrEq(exact)));
                }
            }
            if !directories.is_empty() {
                tests.push(test(Predicate::Glob(Glob {
                    pattern: glob.pattern.clone(),
                    alternatives: directories,
                })));
            }
            tests
                .into_iter()
                .reduce(|a, b| Cond::Or(Box::new(a), Box::new(b)))?
        }
        other => other.clone(),
    })
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
    /// `ancestor.comm != x` or `!~` (or `ancestor.exe`'s): true when some ancestor is not
    /// x, nearly always.
    AncestorNegated {
        op: CmpOp,
        name: &'static str,
        span: Span,
    },
    /// `ancestor.exe ~ GLOB` with an alternative that is neither an exact path nor a
    /// directory: eight path scans are more than the verifier takes.
    AncestorExeGlob { span: Span },
    /// A test item's `ancestor.comm` or `ancestor.exe` (`name`) that is not a list of
    /// strings.
    AncestorsNotList {
        name: &'static str,
        span: Span,
        name_span: Span,
    },
    /// A test item gives `ancestor.comm` or `ancestor.exe` (`name`) and `parent.pid`,
    /// `parent.comm` or `parent.exe`, its first level.
    AncestorsAndParent {
        name: &'static str,
        parent: &'static str,
        span: Span,
    },
    /// A test item's `ancestor.comm` and `ancestor.exe` lists differ in length: they name
    /// the same ancestors.
    AncestorListsDiffer {
        comms: usize,
        exes: usize,
        span: Span,
    },
}

/// The diagnostic of a finding about `ancestor.comm` or `ancestor.exe` (kept here with the expansion, so that
/// `messages.rs` stays one screenful a finding).
pub(super) fn diagnostic(finding: &LineageFinding) -> Diagnostic {
    match finding {
        LineageFinding::AncestorNegated { op, name, span } => {
            let positive = if *op == CmpOp::Ne { "== ..." } else { "~ ..." };
            Diagnostic::new(
                Code::BadOperator,
                format!(
                    "`{}` on `{name}` would hold when some ancestor differs, which nearly every process has",
                    op.symbol(),
                ),
                *span,
            )
            .with_help(format!(
                "to say that no ancestor matches, write `not {name} {positive}`"
            ))
        }
        LineageFinding::AncestorExeGlob { span } => Diagnostic::new(
            Code::BadOperator,
            format!(
                "a glob on `{ANCESTOR_EXE}` may only list exact paths and directories (`/usr/sbin/**`): scanning eight executables' paths is more than the kernel's verifier takes"
            ),
            *span,
        )
        .with_help(format!(
            "name the executables, or their directory: `{ANCESTOR_EXE} ~ [\"/usr/sbin/sshd\", \"/opt/web/**\"]`"
        )),
        LineageFinding::AncestorsNotList {
            name,
            span,
            name_span,
        } => {
            let (what, example) = if *name == ANCESTOR_EXE {
                ("executables' paths", r#"["/usr/bin/bash", "/usr/sbin/sshd", "/usr/lib/systemd/systemd"]"#)
            } else {
                ("names", r#"["bash", "sshd", "systemd"]"#)
            };
            Diagnostic::new(
                Code::TypeMismatch,
                format!("in a test, `{name}` is the list of the ancestors' {what}, nearest first"),
                *span,
            )
            .with_secondary(*name_span, "a list of strings")
            .with_help(format!(
                "e.g. `{name}: {example}`: the parent, the grandparent, ..."
            ))
        }
        LineageFinding::AncestorsAndParent { name, parent, span } => Diagnostic::new(
            Code::DuplicateDefinition,
            format!("`{name}` gives the parent too, and so does `{parent}`"),
            *span,
        )
        .with_help(format!(
            "leave out `{parent}`: the first item of `{name}` is the parent's"
        )),
        LineageFinding::AncestorListsDiffer { comms, exes, span } => Diagnostic::new(
            Code::ImpossibleTestEvent,
            format!(
                "`{ANCESTOR_EXE}` gives {exes} ancestors and `{ANCESTOR_COMM}` {comms}: both list the same processes"
            ),
            *span,
        )
        .with_help("give each ancestor's name and executable, nearest first, in lists of the same length"),
    }
}
