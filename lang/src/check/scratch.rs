//! What a program keeps besides its code: the scratch area its strings are read into and the
//! stack slots of its values, refused past what one program has
//! ([`Code::StringsTooMany`](crate::diagnostic::Code::StringsTooMany),
//! [`Code::ValuesTooMany`](crate::diagnostic::Code::ValuesTooMany)).

use super::cost::{attrs, globs_of};
use super::finding::Finding;
use super::Checker;
use crate::catalog::Source;
use crate::checked::{AttrId, CheckedRule, Cond, ResolvedAttribute};
use std::collections::{BTreeSet, HashMap};

/// The bytes of the scratch area where a program keeps the strings it reads: one per-CPU map
/// value, addressed from one register with a load's or store's 16-bit offset, so at most
/// 32,767 (`codegen::check_offsets` refuses past it).
pub const SCRATCH_REACH: u32 = i16::MAX as u32;
/// An upper bound on the walk's state and work area, which every walked value of a program
/// shares (`codegen::walk::work`, whose size is asserted within it at compile time).
pub const WALK_AREA_BOUND: u32 = 4_864;
/// Beside the values: where a literal tree records its rule and a dispatched glob its match.
const SCRATCH_RESERVED: u32 = 32;
/// The stack slots a program has for its values (8 bytes each, the report function's frame
/// and the handover's apart: `codegen::Layout`, which asserts the same number). Each value
/// takes one, and each string's glob scans one or two more.
pub const VALUE_SLOTS: u32 = 59;
/// The slots beside the values': the handover's key and entry.
const SLOTS_RESERVED: u32 = 3;

impl Checker<'_> {
    /// Refuses an event whose rules read more than its program keeps: more strings than its
    /// scratch area holds ([`SCRATCH_REACH`]: each string a buffer of its own, a command line
    /// twice for the join's reads past it, and the walk's work area once for all walked
    /// values), or more values than it has stack slots for ([`VALUE_SLOTS`]: one a value,
    /// and two more for a string that globs test, for its scans). The diagnostic names the
    /// rule whose values first make it too much.
    pub(super) fn check_scratch(&mut self, rules: &[CheckedRule]) {
        #[derive(Default)]
        struct Kept {
            values: BTreeSet<AttrId>,
            scanned: BTreeSet<AttrId>,
            walks: bool,
            bytes: u32,
            slots: u32,
        }
        let mut kept: HashMap<&'static str, Kept> = HashMap::new();
        let mut findings = Vec::new();
        for rule in rules {
            let k = kept.entry(rule.event.name).or_insert_with(|| Kept {
                bytes: SCRATCH_RESERVED,
                slots: SLOTS_RESERVED,
                ..Kept::default()
            });
            let before = (k.bytes, k.slots);
            for attr in attrs(&rule.condition) {
                let Some(resolved) = self.attributes.get(attr.0 as usize) else {
                    continue;
                };
                if k.values.insert(attr) {
                    let (buffer, walks) = scratch_of(resolved);
                    k.bytes += buffer;
                    if walks && !k.walks {
                        k.walks = true;
                        k.bytes += WALK_AREA_BOUND;
                    }
                    k.slots += 1;
                }
            }
            for attr in globbed(&rule.condition) {
                if k.scanned.insert(attr) {
                    k.slots += 2;
                }
            }
            if before.0 <= SCRATCH_REACH && k.bytes > SCRATCH_REACH {
                findings.push(Finding::StringsTooMany {
                    event: rule.event.name,
                    bytes: k.bytes,
                    span: rule.span,
                });
            } else if before.1 <= VALUE_SLOTS && k.slots > VALUE_SLOTS {
                findings.push(Finding::ValuesTooMany {
                    event: rule.event.name,
                    span: rule.span,
                });
            }
        }
        for finding in findings {
            self.report(finding);
        }
    }
}

/// The scratch bytes value `resolved` takes in its program, and whether it uses the walk's
/// work area (`codegen::Layout`).
fn scratch_of(resolved: &ResolvedAttribute) -> (u32, bool) {
    const CAP: u32 = crate::limits::STRING_CAP as u32;
    match resolved.attribute.source {
        Source::ResolvedPath { .. } | Source::KernelString { .. } => (CAP, false),
        Source::CommandLine { .. } => (2 * CAP, false),
        Source::WorkloadId { .. } => (CAP, true),
        Source::WalkedPath { .. } | Source::KernfsPath { .. } => {
            let cap = resolved.walk.as_ref().map_or(CAP, |w| w.cap() as u32);
            (cap.min(CAP), true)
        }
        Source::CurrentComm => (16, false),
        Source::TaskChars { .. } | Source::ParamChars { .. } => {
            let size = resolved.access.as_ref().map_or(0, |a| a.size);
            (size.div_ceil(8) * 8, false)
        }
        Source::Endpoint { .. } => (16, false),
        _ => (0, false),
    }
}

/// The strings `cond` tests with a glob.
fn globbed(cond: &Cond) -> Vec<AttrId> {
    globs_of(cond).into_iter().map(|(attr, _)| attr).collect()
}
