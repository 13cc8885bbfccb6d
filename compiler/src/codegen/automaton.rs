//! Globs: every glob test on one string value of a program runs as one automaton
//! ([`lang::automaton`]), scanned once when the value is computed, so that an event costs one
//! pass over the string however many globs the rules test it against.
//!
//! The automaton's table lives in the object's read-only data (`.rodata`, a frozen array
//! map); the scan of a counted string is one bounded loop over its bytes with no branch but
//! the loop's own, and the scan of a NUL-padded name (a comm, 16 bytes) the same steps
//! unrolled, each taken or kept without a branch, so that the verifier walks it once. A step
//! is a class lookup and then, for an automaton of few states, one byte of its whole table;
//! otherwise the state's record, its comb entry and a branch-free choice between the entry
//! and the default (see [`lang::automaton::Table`]). A dead state ends the
//! loop by pulling the length in to the current index, again without a branch. Every index
//! is masked to its region, so the verifier bounds each load without a compare. The final
//! state's accept set goes to a stack slot; a glob test asks whether that set holds its glob:
//! a few compares, or one bit of a bitmap in the read-only data when the sets are many.
//!
//! The loop is written `if len > i goto body; goto end`: the verifier explores the
//! fall-through first and pushes the branch target, so it walks the rest of the program once
//! per iteration count it may exit at (where states prune) while only one iteration waits on
//! its stack, far from the 8,192 pending-branch limit whatever the string's length.

use super::sets::{tree_cost, Leaf, Site, INLINE_TREE_COST};
use super::{offset, Buffer, CodegenError, ProgramGen, STRING_CAP};
use crate::bpf::{AluOp, JmpCond, Label, Reg, Size};
use crate::elf::RODATA_SECTION;
use crate::ir::{Cond, Pred, Program, Rule};
use lang::automaton::{Step, Table};
use lang::check::GLOB_RUN_MIN;
use lang::dispatch::GlobPlan;
use lang::glob::{directory_prefix, is_directory_rule, Glob, Token};
use std::collections::HashMap;

/// Past this many runs of consecutive accept sets, a glob test reads a bitmap instead of
/// comparing.
const MAX_RANGES: usize = 4;

/// The accept set ranges a glob run's search may have per rule: each costs two instructions
/// (a compare on the way, a jump at the leaf), and the checker counts a glob test as
/// [`lang::glob::GLOB_TEST_COST`].
const RANGES_PER_RULE: usize = lang::glob::GLOB_TEST_COST as usize / 2;

/// The scans of one string value: its merged globs' automaton from the string's start, and
/// its dispatched globs (see [`lang::dispatch`]): a search of their prefixes, then their
/// remainders' automaton from the prefix's end.
pub(super) struct Scan {
    merged: Option<Side>,
    dispatch: Option<Dispatched>,
    /// Each glob tested on the value: whether it is dispatched, and how a test asks for it.
    globs: Vec<(Vec<Vec<Token>>, bool, Membership)>,
}

/// One automaton's result: its table, and the stack slot its final accept set goes to.
struct Side {
    slot: i16,
    /// Where the table starts in the read-only data.
    at: u32,
    table: Table,
    /// The globs (indices into [`Scan::globs`]) each accept set number holds.
    accept_sets: Vec<Vec<u32>>,
}

/// The dispatched globs of a value. Their [`Side`]'s slot holds the matched glob's number
/// (1 + its index among them), 0 when none matched, and its accept sets are numbered so.
struct Dispatched {
    side: Side,
    /// Each alternative's prefix, glob number and remainder's start state and offset, as a
    /// leaf records them.
    entries: Vec<(Vec<u8>, Leaf)>,
    /// A tree past [`INLINE_TREE_COST`] is cut into functions.
    split: bool,
}

impl Scan {
    pub(super) fn dispatches(&self) -> bool {
        self.dispatch.is_some()
    }

    fn side(&self, dispatched: bool) -> Option<&Side> {
        if dispatched {
            self.dispatch.as_ref().map(|d| &d.side)
        } else {
            self.merged.as_ref()
        }
    }

    /// The side that decides `alternatives`, and its number among the value's globs.
    fn find(&self, alternatives: &[Vec<Token>]) -> Option<(bool, usize)> {
        let number = self.globs.iter().position(|(g, ..)| g == alternatives)?;
        Some((self.globs[number].1, number))
    }
}

/// A rule decided by one glob test (see [`ProgramGen::sole_glob`]).
pub(super) struct SoleGlob<'r> {
    pub value: usize,
    pub on_unknown: bool,
    pub glob: &'r [Vec<Token>],
    pub dispatched: bool,
}

/// How a glob test recognizes the accept sets that hold its glob.
enum Membership {
    /// Inclusive runs of accept set numbers.
    Ranges(Vec<(u16, u16)>),
    /// A bit per accept set at this offset of the read-only data; `mask` bounds the byte
    /// index.
    Bitmap { at: u32, mask: u32 },
}

/// The globs `program` tests on value `value`, distinct, in the order rules test them.
fn globs_on(program: &Program, value: usize) -> Vec<Vec<Vec<Token>>> {
    fn walk(cond: &Cond, value: usize, out: &mut Vec<Vec<Vec<Token>>>) {
        match cond {
            Cond::And(items) | Cond::Or(items) => items.iter().for_each(|c| walk(c, value, out)),
            Cond::Not(inner) => walk(inner, value, out),
            Cond::Test {
                value: v,
                pred: Pred::Glob { alternatives, .. },
                ..
            } if v.0 as usize == value
                && !out.contains(alternatives)
                && !is_directory_rule(alternatives) =>
            {
                out.push(alternatives.clone());
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for rule in program
        .audit
        .iter()
        .chain(&program.allow)
        .chain(&program.deny)
    {
        walk(&rule.cond, value, &mut out);
    }
    out
}

/// The scans of `program`'s string values that globs test: the tables are appended to
/// `rodata`, and each scan's accept set gets the stack slot `next_slot` hands out.
pub(super) fn scans(
    program: &Program,
    buffers: &[Option<Buffer>],
    rodata: &mut Vec<u8>,
    mut next_slot: impl FnMut() -> Result<i16, CodegenError>,
) -> Result<Vec<Option<Scan>>, CodegenError> {
    let mut scans = Vec::new();
    for (value, buffer) in buffers.iter().enumerate() {
        let tested = globs_on(program, value);
        let (Some(b), false) = (buffer, tested.is_empty()) else {
            scans.push(None);
            continue;
        };
        let globs: Vec<Glob> = tested
            .iter()
            .map(|alternatives| Glob {
                pattern: String::new(),
                alternatives: alternatives.clone(),
            })
            .collect();
        let refs: Vec<&Glob> = globs.iter().collect();
        let too_large = |error| CodegenError::Automaton {
            program: program.event.to_string(),
            error,
        };
        // A NUL-padded name has no length for a prefix search to bound.
        let plan = if b.padded {
            GlobPlan::merged(refs.len())
        } else {
            GlobPlan::new(&refs)
        };
        let (merged, dispatched) = plan.automata(&refs).map_err(too_large)?;
        let mut memberships: Vec<Option<(bool, Membership)>> =
            (0..tested.len()).map(|_| None).collect();
        let merged = match merged {
            Some(automaton) => {
                let table = automaton.table().map_err(too_large)?;
                let at = append_table(rodata, &table.bytes);
                // The automaton numbers the merged globs among themselves.
                let accept_sets: Vec<Vec<u32>> = automaton
                    .accept_sets
                    .iter()
                    .map(|set| {
                        set.iter()
                            .map(|k| plan.merged[*k as usize] as u32)
                            .collect()
                    })
                    .collect();
                for (k, &g) in plan.merged.iter().enumerate() {
                    let membership = membership(
                        &automaton.accept_sets_with(k as u32),
                        automaton.accept_sets.len(),
                        rodata,
                    );
                    memberships[g] = Some((false, membership));
                }
                Some(Side {
                    slot: next_slot()?,
                    at,
                    table,
                    accept_sets,
                })
            }
            None => None,
        };
        let dispatch = match (plan.dispatch, dispatched) {
            (Some(dispatch), Some((automaton, starts))) => {
                let table = automaton.table().map_err(too_large)?;
                let at = append_table(rodata, &table.bytes);
                let mut accept_sets = vec![Vec::new()];
                for (k, &g) in dispatch.globs.iter().enumerate() {
                    accept_sets.push(vec![g as u32]);
                    let number = k as u16 + 1;
                    memberships[g] = Some((true, Membership::Ranges(vec![(number, number)])));
                }
                // A prefix as long as the buffer is no string the kernel gave.
                let entries = dispatch
                    .entries
                    .iter()
                    .filter(|e| e.prefix.len() < b.cap as usize)
                    .map(|e| {
                        let start = i32::from(starts[e.remainder as usize]);
                        let leaf = Leaf::Dispatch {
                            glob: e.glob as i32 + 1,
                            begin: e.prefix.len() as i32 | start << 16,
                        };
                        (e.prefix.clone(), leaf)
                    })
                    .collect::<Vec<_>>();
                let split = tree_cost(entries.iter().map(|(p, _)| p.as_slice())) > INLINE_TREE_COST;
                Some(Dispatched {
                    side: Side {
                        slot: next_slot()?,
                        at,
                        table,
                        accept_sets,
                    },
                    entries,
                    split,
                })
            }
            _ => None,
        };
        let globs = tested
            .into_iter()
            .zip(memberships)
            .filter_map(|(g, m)| m.map(|(dispatched, m)| (g, dispatched, m)))
            .collect();
        scans.push(Some(Scan {
            merged,
            dispatch,
            globs,
        }));
    }
    Ok(scans)
}

/// Appends a table to the read-only data, 8-byte aligned; its offset there.
fn append_table(rodata: &mut Vec<u8>, bytes: &[u8]) -> u32 {
    rodata.resize(rodata.len().next_multiple_of(8), 0);
    let at = rodata.len() as u32;
    rodata.extend_from_slice(bytes);
    at
}

/// How a test asks for a glob held by the accept sets `sets` (ascending, of `count`): a few
/// ranges of numbers, or a bitmap appended to the read-only data, long enough that every
/// accept set's bit is its own under the mask.
fn membership(sets: &[u16], count: usize, rodata: &mut Vec<u8>) -> Membership {
    let mut ranges: Vec<(u16, u16)> = Vec::new();
    for &set in sets {
        match ranges.last_mut() {
            Some((_, hi)) if *hi + 1 == set => *hi = set,
            _ => ranges.push((set, set)),
        }
    }
    if ranges.len() <= MAX_RANGES {
        return Membership::Ranges(ranges);
    }
    let bytes = count.div_ceil(8).next_power_of_two();
    let mut bitmap = vec![0u8; bytes];
    for set in sets {
        bitmap[usize::from(set / 8)] |= 1 << (set % 8);
    }
    let at = rodata.len() as u32;
    rodata.extend_from_slice(&bitmap);
    Membership::Bitmap {
        at,
        mask: bytes as u32 - 1,
    }
}

impl ProgramGen<'_> {
    /// Runs value `i`'s scans, if globs test it, over its string (just computed into its
    /// buffer; a counted string's length in its slot, negative when unknown, which no glob
    /// test reads past).
    pub(super) fn scan(&mut self, i: usize) {
        let (Some(Some(scan)), Some(b)) = (self.layout.scans.get(i), self.layout.buffers[i]) else {
            return;
        };
        if let Some(side) = &scan.merged {
            self.scan_merged(i, b, side);
        }
        if let Some(dispatch) = &scan.dispatch {
            self.scan_dispatched(i, b, dispatch);
        }
    }

    /// The merged globs' automaton, from the string's start; its final accept set to the
    /// side's slot.
    fn scan_merged(&mut self, i: usize, b: Buffer, side: &Side) {
        let skip = self.asm.new_label();
        let table = &side.table;
        self.asm
            .ld_map_value(Reg::R4, RODATA_SECTION, side.at)
            .mov64_imm(Reg::R8, i32::from(table.start));
        if b.padded {
            self.scan_unrolled(b, table);
        } else {
            // The mask keeps a known length (below STRING_CAP) and gives r5 a fresh identity:
            // newer verifiers (6.12) link a register filled from a stack slot to the slot and
            // would carry what the loop learns back into it, so that nothing could be pruned.
            self.asm
                .load(Size::DW, Reg::R5, Reg::R10, self.layout.slots[i])
                .jump_imm(JmpCond::Slt, Reg::R5, 0, skip)
                .alu64_imm(AluOp::And, Reg::R5, (STRING_CAP - 1) as i32);
            self.scan_loop(b, table, None);
        }
        self.final_accept_set(table);
        self.asm
            .store_reg(Size::DW, Reg::R10, side.slot, Reg::R1)
            .bind(skip);
    }

    /// The dispatched globs: the search of their prefixes, whose leaf records the one
    /// candidate (see [`Leaf::Dispatch`]), then the remainders' automaton from the prefix's
    /// end, begun in the candidate's start state. The side's slot gets the candidate's number
    /// when the automaton accepts, 0 otherwise. Every leaf reaches the scan in one state
    /// (what it recorded is map memory, which the verifier does not track), so the scan is
    /// verified as often as a merged one, however many globs there are.
    fn scan_dispatched(&mut self, i: usize, b: Buffer, dispatch: &Dispatched) {
        let side = &dispatch.side;
        let (found, none, done) = (
            self.asm.new_label(),
            self.asm.new_label(),
            self.asm.new_label(),
        );
        let at = self.layout.dispatch.unwrap_or(0);
        self.asm
            .store_imm(Size::DW, Reg::R10, side.slot, 0)
            .load(Size::DW, Reg::R1, Reg::R10, self.layout.slots[i])
            .jump_imm(JmpCond::Slt, Reg::R1, 0, done);
        let site = Site {
            b,
            slot: self.layout.slots[i],
            miss: done,
            matched: found,
            split: dispatch.split,
            through: None,
        };
        self.prefix_trie(dispatch.entries.clone(), 0, site);
        let table = &side.table;
        self.asm
            .bind(found)
            // r8 = the start state; the slot holds where the remainder begins for the loop.
            .load(Size::DW, Reg::R8, Reg::R7, offset(at))
            .mov64_reg(Reg::R1, Reg::R8)
            .alu64_imm(AluOp::And, Reg::R1, (STRING_CAP - 1) as i32)
            .store_reg(Size::DW, Reg::R10, side.slot, Reg::R1)
            .alu64_imm(AluOp::Rsh, Reg::R8, 16)
            .alu64_imm(AluOp::And, Reg::R8, table.state_mask as i32)
            // r5 = the remainder's length (the search checked the string is that long)
            .load(Size::DW, Reg::R5, Reg::R10, self.layout.slots[i])
            .alu64_imm(AluOp::And, Reg::R5, (STRING_CAP - 1) as i32)
            .alu64_reg(AluOp::Sub, Reg::R5, Reg::R1)
            .alu64_imm(AluOp::And, Reg::R5, (STRING_CAP - 1) as i32)
            .ld_map_value(Reg::R4, RODATA_SECTION, side.at);
        self.scan_loop(b, table, Some(side.slot));
        self.final_accept_set(table);
        self.asm
            .jump_imm(JmpCond::Eq, Reg::R1, 0, none)
            .load(Size::DW, Reg::R1, Reg::R7, offset(at + 8))
            .store_reg(Size::DW, Reg::R10, side.slot, Reg::R1)
            .jump(done)
            .bind(none)
            .store_imm(Size::DW, Reg::R10, side.slot, 0)
            .bind(done);
    }

    /// The scan of a counted string: state r8 stepped (table at r4) over r5 bytes of value's
    /// buffer `b`, from its start or from the offset in stack slot `from`. Each byte's index
    /// is masked into the buffer, and a dead state ends the loop by pulling the length in to
    /// the current index, without a branch.
    fn scan_loop(&mut self, b: Buffer, table: &Table, from: Option<i16>) {
        let (top, body, end) = (
            self.asm.new_label(),
            self.asm.new_label(),
            self.asm.new_label(),
        );
        self.asm
            .mov64_imm(Reg::R9, 0)
            .bind(top)
            // 6.1's verifier does not decide a compare of two registers from their ranges
            // (measured: it entered the body with i = 4096 and refused the load), so the
            // buffer's end is also tested against an immediate, which it decides for the
            // known index without pushing a state.
            .jump_imm(JmpCond::Ge, Reg::R9, b.cap as i32, end)
            .jump_reg(JmpCond::Gt, Reg::R5, Reg::R9, body)
            .jump(end)
            .bind(body);
        match from {
            None => {
                self.asm
                    .mov64_reg(Reg::R1, Reg::R7)
                    .alu64_reg(AluOp::Add, Reg::R1, Reg::R9);
            }
            Some(slot) => {
                // From an offset: the byte's index is bounded by an immediate too.
                self.asm
                    .load(Size::DW, Reg::R2, Reg::R10, slot)
                    .alu64_reg(AluOp::Add, Reg::R2, Reg::R9)
                    .alu64_imm(AluOp::And, Reg::R2, (STRING_CAP - 1) as i32)
                    .jump_imm(JmpCond::Ge, Reg::R2, b.cap as i32, end)
                    .mov64_reg(Reg::R1, Reg::R7)
                    .alu64_reg(AluOp::Add, Reg::R1, Reg::R2);
            }
        }
        self.asm.load(Size::B, Reg::R0, Reg::R1, offset(b.offset));
        self.step(table);
        self.asm
            .mov64_reg(Reg::R8, Reg::R1)
            // In the dead state (0) no glob can match any more: len = dead ? i : len.
            .mov64_reg(Reg::R3, Reg::R8)
            .alu64_imm(AluOp::Sub, Reg::R3, 1)
            .alu64_imm(AluOp::Rsh, Reg::R3, 63)
            .neg64(Reg::R3)
            .mov64_reg(Reg::R2, Reg::R9)
            .alu64_reg(AluOp::Xor, Reg::R2, Reg::R5)
            .alu64_reg(AluOp::And, Reg::R2, Reg::R3)
            .alu64_reg(AluOp::Xor, Reg::R5, Reg::R2)
            .alu64_imm(AluOp::Add, Reg::R9, 1)
            .jump(top)
            .bind(end);
    }

    /// `r1 = ` the accept set of state r8 (table at r4).
    fn final_accept_set(&mut self, table: &Table) {
        self.asm
            .alu64_imm(AluOp::And, Reg::R8, table.state_mask as i32)
            .alu64_imm(AluOp::Lsh, Reg::R8, 1)
            .mov64_reg(Reg::R1, Reg::R4)
            .alu64_reg(AluOp::Add, Reg::R1, Reg::R8);
        self.load_table(Size::H, Reg::R1, Reg::R1, table.accepts);
    }

    /// The scan of a NUL-padded name (a comm, 16 bytes: TASK_COMM_LEN), unrolled: one step
    /// per byte of the buffer, each taken or not without a branch, so the verifier walks the
    /// scan once whatever the name's length. The loop of a counted string makes it walk the
    /// rest of the program once per length the loop may stop at; a test on eight ancestors'
    /// names, eight such scans, took 6.1 past its 1,000,000 processed instructions that way.
    /// A step past the name's end (its first NUL) computes a next state and keeps the old one.
    fn scan_unrolled(&mut self, b: Buffer, table: &Table) {
        // r5 counts the bytes before the first NUL, branch free (r2 stays 1 until a NUL).
        self.asm.mov64_imm(Reg::R5, 0).mov64_imm(Reg::R2, 1);
        for k in 0..b.cap {
            self.asm
                .load(Size::B, Reg::R1, Reg::R7, offset(b.offset + k))
                .neg64(Reg::R1)
                .alu64_imm(AluOp::Rsh, Reg::R1, 63)
                .alu64_reg(AluOp::And, Reg::R2, Reg::R1)
                .alu64_reg(AluOp::Add, Reg::R5, Reg::R2);
        }
        for k in 0..b.cap {
            self.asm
                .load(Size::B, Reg::R0, Reg::R7, offset(b.offset + k));
            self.step(table);
            self.asm
                // r3 = all ones when byte k is before the end (k < len: k - len is negative)
                .mov64_imm(Reg::R3, k as i32)
                .alu64_reg(AluOp::Sub, Reg::R3, Reg::R5)
                .alu64_imm(AluOp::Rsh, Reg::R3, 63)
                .neg64(Reg::R3)
                // r8 = taken ? next : r8
                .alu64_reg(AluOp::Xor, Reg::R1, Reg::R8)
                .alu64_reg(AluOp::And, Reg::R1, Reg::R3)
                .alu64_reg(AluOp::Xor, Reg::R8, Reg::R1);
        }
    }

    /// One step of the automaton (table at r4) from state r8 on the byte in r0: the next
    /// state in r1, branch free. Uses r0 to r3.
    fn step(&mut self, table: &Table) {
        self.asm
            // r0 = the byte's class
            .mov64_reg(Reg::R1, Reg::R4)
            .alu64_reg(AluOp::Add, Reg::R1, Reg::R0)
            .load(Size::B, Reg::R0, Reg::R1, 0)
            .mov64_reg(Reg::R1, Reg::R8)
            .alu64_imm(AluOp::And, Reg::R1, table.state_mask as i32);
        match table.step {
            Step::Dense {
                at,
                class_bits,
                mask,
            } => {
                // r1 = next[state << class_bits | class]
                self.asm
                    .alu64_imm(AluOp::Lsh, Reg::R1, class_bits as i32)
                    .alu64_reg(AluOp::Or, Reg::R1, Reg::R0)
                    .alu64_imm(AluOp::And, Reg::R1, mask as i32)
                    .alu64_reg(AluOp::Add, Reg::R1, Reg::R4);
                self.load_table(Size::B, Reg::R1, Reg::R1, at);
            }
            Step::Comb {
                states,
                comb,
                comb_mask,
            } => {
                // r1 = the state's record: base | default << 16
                self.asm
                    .alu64_imm(AluOp::Lsh, Reg::R1, 2)
                    .mov64_reg(Reg::R2, Reg::R4)
                    .alu64_reg(AluOp::Add, Reg::R2, Reg::R1);
                self.load_table(Size::W, Reg::R1, Reg::R2, states);
                // r2 = the comb entry at base + class: owner | next << 16
                self.asm
                    .mov64_reg(Reg::R2, Reg::R1)
                    .alu64_imm(AluOp::And, Reg::R2, 0xffff)
                    .alu64_reg(AluOp::Add, Reg::R2, Reg::R0)
                    .alu64_imm(AluOp::And, Reg::R2, comb_mask as i32)
                    .alu64_imm(AluOp::Lsh, Reg::R2, 2)
                    .mov64_reg(Reg::R3, Reg::R4)
                    .alu64_reg(AluOp::Add, Reg::R3, Reg::R2);
                self.load_table(Size::W, Reg::R2, Reg::R3, comb);
                self.asm
                    // r1 = default; r3 = all ones when the entry is the state's own
                    .alu64_imm(AluOp::Rsh, Reg::R1, 16)
                    .mov64_reg(Reg::R3, Reg::R2)
                    .alu64_imm(AluOp::And, Reg::R3, 0xffff)
                    .alu64_reg(AluOp::Xor, Reg::R3, Reg::R8)
                    .alu64_imm(AluOp::Sub, Reg::R3, 1)
                    .alu64_imm(AluOp::Rsh, Reg::R3, 63)
                    .neg64(Reg::R3)
                    // r1 = own ? next : default
                    .alu64_imm(AluOp::Rsh, Reg::R2, 16)
                    .alu64_reg(AluOp::Xor, Reg::R2, Reg::R1)
                    .alu64_reg(AluOp::And, Reg::R2, Reg::R3)
                    .alu64_reg(AluOp::Xor, Reg::R1, Reg::R2);
            }
        }
    }

    /// `dst = *(size *)(base + at)`, for table offsets beyond a load's 16-bit reach too.
    fn load_table(&mut self, size: Size, dst: Reg, base: Reg, at: u32) {
        match i16::try_from(at) {
            Ok(off) => {
                self.asm.load(size, dst, base, off);
            }
            Err(_) => {
                self.asm
                    .alu64_imm(AluOp::Add, base, at as i32)
                    .load(size, dst, base, 0);
            }
        }
    }

    /// A glob test on value `i` once its string is known: does the scan's final accept set
    /// hold the glob `alternatives`? Jumps to `on_true` or `on_false`.
    pub(super) fn glob_test(
        &mut self,
        i: usize,
        alternatives: &[Vec<Token>],
        on_true: Label,
        on_false: Label,
    ) {
        if is_directory_rule(alternatives) {
            self.directory_test(i, alternatives, on_true, on_false);
            return;
        }
        let Some(Some(scan)) = self.layout.scans.get(i) else {
            self.asm.jump(on_false);
            return;
        };
        let Some((side, membership)) = scan
            .find(alternatives)
            .and_then(|(dispatched, number)| Some((scan.side(dispatched)?, &scan.globs[number].2)))
        else {
            self.asm.jump(on_false);
            return;
        };
        self.load_accept_set(side.slot);
        match membership {
            Membership::Ranges(ranges) => {
                for &(lo, hi) in ranges {
                    if lo == hi {
                        self.asm
                            .jump_imm(JmpCond::Eq, Reg::R1, i32::from(lo), on_true);
                    } else {
                        let next = self.asm.new_label();
                        self.asm
                            .jump_imm(JmpCond::Lt, Reg::R1, i32::from(lo), next)
                            .jump_imm(JmpCond::Le, Reg::R1, i32::from(hi), on_true)
                            .bind(next);
                    }
                }
            }
            &Membership::Bitmap { at, mask } => {
                self.asm
                    .ld_map_value(Reg::R2, RODATA_SECTION, at)
                    .mov64_reg(Reg::R3, Reg::R1)
                    .alu64_imm(AluOp::Rsh, Reg::R3, 3)
                    .alu64_imm(AluOp::And, Reg::R3, mask as i32)
                    .alu64_reg(AluOp::Add, Reg::R2, Reg::R3)
                    .load(Size::B, Reg::R2, Reg::R2, 0)
                    .alu64_imm(AluOp::And, Reg::R1, 7)
                    .alu64_reg(AluOp::Rsh, Reg::R2, Reg::R1)
                    .alu64_imm(AluOp::And, Reg::R2, 1)
                    .jump_imm(JmpCond::Ne, Reg::R2, 0, on_true);
            }
        }
        self.asm.jump(on_false);
    }

    /// The value, unknown outcome, glob and whether it is dispatched, of `rule`, when what
    /// decides it here (see [`Self::deciding_cond`]) is one glob test on a scanned value.
    pub(super) fn sole_glob<'r>(&self, rule: &'r Rule) -> Option<SoleGlob<'r>> {
        match self.deciding_cond(rule)? {
            Cond::Test {
                value,
                pred: Pred::Glob { alternatives, .. },
                on_unknown,
            } => {
                // A directory rule's glob is in no scan (`globs_on`): `find` leaves it out.
                let scan = self.layout.scans.get(value.0 as usize)?.as_ref()?;
                let (dispatched, _) = scan.find(alternatives)?;
                Some(SoleGlob {
                    value: value.0 as usize,
                    on_unknown: *on_unknown,
                    glob: alternatives,
                    dispatched,
                })
            }
            _ => None,
        }
    }

    /// How many of `rules`, from the first, each test one glob on the same scanned value with
    /// the same unknown outcome, when they are enough to be decided together (see
    /// [`Self::glob_run_search`]); 0 otherwise.
    pub(super) fn glob_run(&self, rules: &[Rule]) -> usize {
        let Some(first) = rules.first().and_then(|r| self.sole_glob(r)) else {
            return 0;
        };
        // One slot decides a run: the globs of its rules are all merged or all dispatched.
        let run = rules
            .iter()
            .map_while(|r| self.sole_glob(r))
            .take_while(|g| {
                g.value == first.value
                    && g.on_unknown == first.on_unknown
                    && g.dispatched == first.dispatched
            })
            .count();
        if run < GLOB_RUN_MIN {
            return 0;
        }
        if self.glob_search_fits(&rules[..run]) {
            run
        } else {
            0
        }
    }

    /// Whether the search of [`Self::glob_run_search`] over `rules` stays within what the
    /// checker's size estimate counts for each rule's glob test as a chain would have it
    /// (GLOB_TEST_COST); a search over more ranges than that pays for stays a chain.
    pub(super) fn glob_search_fits(&self, rules: &[Rule]) -> bool {
        self.accept_set_ranges(rules)
            .is_some_and(|ranges| ranges.len() <= RANGES_PER_RULE * rules.len())
    }

    /// For the glob run `rules`, the first rule each accept set number of their scan
    /// matches, as runs of consecutive numbers: (first number, rule position or none).
    fn accept_set_ranges(&self, rules: &[Rule]) -> Option<Vec<(u16, Option<usize>)>> {
        let first = self.sole_glob(rules.first()?)?;
        let scan = self.layout.scans.get(first.value)?.as_ref()?;
        // Each of the scan's globs, the first rule of the run that tests it.
        let mut first_rule: HashMap<u32, usize> = HashMap::new();
        for (k, rule) in rules.iter().enumerate() {
            let (dispatched, number) = scan.find(self.sole_glob(rule)?.glob)?;
            if dispatched != first.dispatched {
                return None;
            }
            first_rule.entry(number as u32).or_insert(k);
        }
        let side = scan.side(first.dispatched)?;
        let mut ranges: Vec<(u16, Option<usize>)> = Vec::new();
        for (set, holds) in side.accept_sets.iter().enumerate() {
            let first = holds
                .iter()
                .filter_map(|g| first_rule.get(g))
                .min()
                .copied();
            if ranges.last().is_none_or(|(_, rule)| *rule != first) {
                ranges.push((u16::try_from(set).ok()?, first));
            }
        }
        Some(ranges)
    }

    /// Decides the glob run `rules` (see [`Self::glob_run`]) at once: the scan's final accept
    /// set holds exactly the globs the string matches, so each accept set number has a first
    /// rule of the run that matches, or none. A binary search over the numbers goes to that
    /// rule's target (`targets[k]` for `rules[k]`) or to `miss`: a thousand glob rules cost
    /// about ten compares, where testing each rule's glob in turn cost five instructions a
    /// rule. An unknown string goes to the first rule's target when unknown counts as a
    /// match, as the chain of tests would.
    pub(super) fn glob_run_search(&mut self, rules: &[Rule], targets: &[Label], miss: Label) {
        let (Some(first), Some(ranges)) = (
            rules.first().and_then(|r| self.sole_glob(r)),
            self.accept_set_ranges(rules),
        ) else {
            self.asm.jump(miss);
            return;
        };
        let (i, on_unknown) = (first.value, first.on_unknown);
        let (Some(side), Some(Some(b))) = (
            self.layout
                .scans
                .get(i)
                .and_then(Option::as_ref)
                .and_then(|scan| scan.side(first.dispatched)),
            self.layout.buffers.get(i).copied(),
        ) else {
            self.asm.jump(miss);
            return;
        };
        let slot = side.slot;
        if !b.padded {
            let unknown = match (on_unknown, targets.first()) {
                (true, Some(first)) => *first,
                _ => miss,
            };
            let fallible = self.program.values[i].kind.fallible();
            self.load_length(self.layout.slots[i], fallible, unknown);
        }
        self.load_accept_set(slot);
        self.accept_set_search(&ranges, targets, miss);
    }

    /// `r1 = ` the accept set a scan stored in `slot`. The mask (a no-op: accept sets are
    /// 16-bit numbers) gives r1 an identity of its own. Filled from the slot, r1 would share
    /// the slot's, and the verifier would narrow the slot with every compare that follows: a
    /// failed `lo <= set <= hi` leaves it in two states (below, above), which never prune
    /// against each other. Eight levels of `ancestor.comm ~ GLOB` made 3^8 states that way
    /// and took 6.1 past 1,000,000 processed instructions (6,541 states, measured in a 6.1
    /// guest).
    fn load_accept_set(&mut self, slot: i16) {
        self.asm
            .load(Size::DW, Reg::R1, Reg::R10, slot)
            .alu64_imm(AluOp::And, Reg::R1, 0xffff);
    }

    /// Binary search on the accept set number in r1 among `ranges` (each from its number to
    /// the next range's), to the range's rule target or `miss`.
    fn accept_set_search(
        &mut self,
        ranges: &[(u16, Option<usize>)],
        targets: &[Label],
        miss: Label,
    ) {
        if let [_, _, ..] = ranges {
            let (low, high) = ranges.split_at(ranges.len() / 2);
            let right = self.asm.new_label();
            self.asm
                .jump_imm(JmpCond::Ge, Reg::R1, i32::from(high[0].0), right);
            self.accept_set_search(low, targets, miss);
            self.asm.bind(right);
            self.accept_set_search(high, targets, miss);
            return;
        }
        // One range left, and its rule decides (no caller passes none: that misses).
        let to = ranges
            .first()
            .and_then(|(_, rule)| *rule)
            .and_then(|k| targets.get(k))
            .copied()
            .unwrap_or(miss);
        self.asm.jump(to);
    }

    /// A directory glob test (`prefix/**`, see [`directory_rule`]) on value `i` once its string
    /// is known (a counted string's length in r1): some alternative's prefix starts the string.
    fn directory_test(
        &mut self,
        i: usize,
        alternatives: &[Vec<Token>],
        on_true: Label,
        on_false: Label,
    ) {
        let Some(b) = self.layout.buffers[i] else {
            self.asm.jump(on_false);
            return;
        };
        for alternative in alternatives {
            let Some(prefix) = directory_prefix(alternative) else {
                continue;
            };
            // Longer than any string the buffer holds, or a NUL a padded name cannot contain.
            if prefix.len() >= b.cap as usize || (b.padded && prefix.contains(&0)) {
                continue;
            }
            let next = self.asm.new_label();
            if !b.padded {
                self.asm
                    .load(Size::DW, Reg::R1, Reg::R10, self.layout.slots[i])
                    .jump_imm(JmpCond::Lt, Reg::R1, prefix.len() as i32, next);
            }
            self.compare_words(b.offset, &prefix, next);
            self.asm.jump(on_true).bind(next);
        }
        self.asm.jump(on_false);
    }
}

#[cfg(test)]
#[allow(clippy::panic)]
mod tests {
    use super::*;

    /// A glob's accept sets become as few ranges as they allow (consecutive numbers join),
    /// and past [`MAX_RANGES`] of them a bitmap appended to the read-only data: one bit per
    /// set, bytes rounded up to a power of two so that a mask bounds the index.
    #[test]
    fn a_globs_accept_sets_are_few_ranges_or_a_bitmap() {
        let mut rodata = vec![0xee; 3];
        let ranges = |m: Membership| match m {
            Membership::Ranges(r) => r,
            Membership::Bitmap { .. } => Vec::new(),
        };
        assert_eq!(
            ranges(membership(&[1, 2, 3, 7], 8, &mut rodata)),
            vec![(1, 3), (7, 7)]
        );
        assert_eq!(
            ranges(membership(&[0, 2, 4, 6], 8, &mut rodata)),
            vec![(0, 0), (2, 2), (4, 4), (6, 6)]
        );
        assert_eq!(rodata, [0xee; 3], "ranges append nothing");
        match membership(&[0, 2, 4, 6, 17], 20, &mut rodata) {
            Membership::Bitmap { at, mask } => {
                assert_eq!((at, mask), (3, 3), "20 sets: 3 bytes, rounded up to 4");
                assert_eq!(rodata[3..], [0b0101_0101, 0, 0b10, 0]);
            }
            Membership::Ranges(r) => panic!("five ranges kept as ranges: {r:?}"),
        }
    }
}
