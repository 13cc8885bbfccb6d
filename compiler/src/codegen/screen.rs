//! Screening a resolved path by its names, before `bpf_d_path` resolves it: by its last names
//! where every rule requires an exact path ([`Screen::Names`]), else by its first directories
//! where every rule requires the path to begin with some ([`Screen::Top`], at the end).
//!
//! When every rule that reads a resolved path requires it to equal one of some literals
//! (`path == "/srv/app/bin/tool"`, `path in [...]`, with any other tests beside), a path whose
//! last names no literal has cannot match, and resolving it is wasted: `bpf_d_path` takes the
//! rename and mount locks and copies every name up to the root. The kernel keeps those names
//! in the dentries the `struct path` points to, each with its parent, so the program reads the
//! last few through BTF pointers first, nearest first, and compares each with the names the
//! literals have at that place from the end: its length, then its bytes against up to
//! [`SCREEN_NAMES`] names, or, where more share the place, its first bytes against the bytes
//! all of them have at each position ([`columns`]). A name shorter than the dentry's inline
//! store (`d_iname`) is loaded from it; a longer one is copied with `bpf_probe_read_kernel`
//! (three such calls cost about one `bpf_d_path` under the guests' emulation). A name no
//! literal has there leaves the path unknown without resolving it, and an unknown resolved
//! path equals no literal (`lang::eval::StringKind::decides_equality`), so every rule reading
//! it comes out as it would have with the path resolved. The screen is made only where every
//! reporting rule reads the path, since a report shows it.
//!
//! The names are the path's only where `d_path` would prepend them: the screen gives up, and
//! the path is resolved, where the file's own dentry is its own parent (a file system's root,
//! or a pseudo file's: a pipe's path is made by its file system, not from names), at the root
//! of the mount the path is seen through (above it the path goes on at the mount point), and
//! when a read fails. A dentry above the file that is its own parent, not being a mount's
//! root, has escaped the process's root, and `d_path` then makes the path `/`: no literal's
//! names, so the screen need not tell it apart. A process's root (chroot) below the names
//! read only shortens the resolved path, which then has fewer names than every literal. No
//! screen is made for a literal holding " (deleted)", which `d_path` appends to an unlinked
//! file's name.
//!
//! Unlike `d_path`, the screen does not retry under `rename_lock`: a name read while a rename
//! replaces it may be torn, and then neither the old nor the new name is compared. An open
//! racing a rename from one listed name to another may be let through; one racing a rename
//! to or from an unlisted name is decided as if before or after it.
//!
//! A directory rule (`path ~ "/srv/app1/**"`) says nothing of the last names, and a great
//! deal of the first: every path it matches begins `/srv/app1/`. Those names are at the other
//! end of the dentry chain, so the top screen walks up from the file to the process's root
//! (`task->fs->root`, the directory `bpf_d_path` resolves up to), keeping the last three
//! dentries passed: at the root they are the path's first directories, compared in turn as
//! above. One no rule has makes the path `/` (the decoy, written where `d_path` returns):
//! every rule reading the path requires a directory, so none matches, and every reporting rule
//! reads the path, so none shows it. The walk is the path's only on the root's own mount, to
//! the root, within [`TOP_DEPTH`] names; past more names than the directories compared (the
//! file's own may carry " (deleted)"); and when the names fit the path's buffer (a path too
//! long to resolve is unknown, where a deny glob fails closed). Anywhere else it resolves.

use super::sets::{Entry, Leaf, Site};
use super::{offset, ProgramGen};
use crate::bpf::helper::{GET_CURRENT_TASK_BTF, PROBE_READ_KERNEL};
use crate::bpf::{AluOp, JmpCond, Label, Reg, Size};
use crate::ir::{Cond, Pred, ValueId, ValueKind};
use lang::check::{tree_cost, PATH_SCREEN_COST};
use lang::checked::PathLayout;
use lang::glob::Token;
use std::collections::BTreeSet;

/// Names from the end the screen reads at most.
const SCREEN_LEVELS: usize = 3;
/// First directories the top screen compares at most (held in [`WALK_RING`] on the way up).
const TOP_LEVELS: usize = 3;
/// The registers the top screen's walk holds its dentries in, in turn: the one it stands on
/// and the [`TOP_LEVELS`] below it.
const WALK_RING: [Reg; TOP_LEVELS + 1] = [Reg::R8, Reg::R3, Reg::R4, Reg::R5];
/// Names the top screen climbs at most to the process's root; a deeper path is resolved.
const TOP_DEPTH: usize = 12;
/// The top screen's walk: the task's root, then each step's tests and loads, and the stub
/// where the root is reached (an estimate: about 10 a step are emitted).
const TOP_WALK_COST: usize = 24 + (TOP_DEPTH + 1) * 14;
/// What `d_path` adds to the names: " (deleted)" after an unlinked file's, and the NUL.
const DELETED_AND_NUL: i32 = 11;
/// A level whose literals have more names than this compares the name's length and, at its
/// first positions, the bytes all those names have there ([`columns`]).
const SCREEN_NAMES: usize = 16;
/// A level whose literals' names have more lengths than this is not screened (and neither
/// is any level above it).
const SCREEN_LENGTHS: usize = 16;
/// What a level costs besides its comparisons: the pointer loads and the root tests.
const LEVEL_COST: usize = 12;
/// Reading a name's bytes: loaded from `d_iname` (at most five words) or copied by a helper.
const READ_COST: usize = 24;
/// Positions of a name compared byte by byte at most, where there are too many names to
/// compare whole.
const SCREEN_COLUMNS: usize = 16;
/// A position's load and its last jump, besides two compares per range.
const COLUMN_COST: usize = 2;

/// One name from the end, as the literals have it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Level {
    /// Every length a literal's name has here.
    lengths: BTreeSet<usize>,
    /// The names themselves, when few enough to compare.
    names: Option<BTreeSet<Vec<u8>>>,
    /// Else, positions every name has and the bytes the names have there (sorted ranges):
    /// `app0` to `app9999` have a digit at 3, which `appx` has not.
    columns: Vec<(usize, Vec<(u8, u8)>)>,
}

impl Screen {
    /// The levels it compares.
    pub(super) fn levels(&self) -> &[Level] {
        let (Screen::Names(levels) | Screen::Top(levels)) = self;
        levels
    }
}

impl Level {
    /// Whether the name's bytes are compared, not its length alone.
    fn reads(&self) -> bool {
        self.names.is_some() || !self.columns.is_empty()
    }
}

/// The levels a screen for `literals` compares, nearest name first: none when some literal
/// is not an absolute path of names, or holds " (deleted)". At most as many levels as the
/// literal with the fewest names has names, and as many as fit [`PATH_SCREEN_COST`].
pub(super) fn levels(literals: &[&[u8]]) -> Vec<Level> {
    let mut names_from_end: Vec<Vec<&[u8]>> = Vec::new();
    for literal in literals {
        let Some(rest) = literal.strip_prefix(b"/") else {
            return Vec::new();
        };
        if rest.is_empty() || literal.windows(10).any(|w| w == b" (deleted)") {
            return Vec::new();
        }
        let names: Vec<&[u8]> = rest.split(|&c| c == b'/').rev().collect();
        if names.iter().any(|n| n.is_empty()) {
            return Vec::new();
        }
        names_from_end.push(names);
    }
    fit(&names_from_end, SCREEN_LEVELS, PATH_SCREEN_COST)
}

/// The levels a top screen compares for `heads`, each the directories a way of matching
/// requires the path to begin with ([`heads`]), first directory first: at most
/// [`TOP_LEVELS`], within the budget the walk to the process's root leaves.
pub(super) fn top_levels(heads: &[Vec<&[u8]>]) -> Vec<Level> {
    fit(heads, TOP_LEVELS, PATH_SCREEN_COST - TOP_WALK_COST)
}

/// Levels for `ways`, each a way of matching's names in the order the screen compares them:
/// as many as the way with the fewest names has, at most `most`, and as many as fit `budget`
/// (a place with too many lengths ends the screen there).
fn fit(ways: &[Vec<&[u8]>], most: usize, mut budget: usize) -> Vec<Level> {
    let depth = ways.iter().map(Vec::len).min().unwrap_or(0).min(most);
    let mut levels = Vec::new();
    for k in 0..depth {
        let names: BTreeSet<Vec<u8>> = ways.iter().map(|way| way[k].to_vec()).collect();
        let lengths: BTreeSet<usize> = names.iter().map(Vec::len).collect();
        let base = LEVEL_COST + lengths.len();
        if lengths.len() > SCREEN_LENGTHS || base > budget {
            break;
        }
        budget -= base;
        let compare = READ_COST + tree_cost(names.iter().map(Vec::as_slice));
        if names.len() <= SCREEN_NAMES && compare <= budget {
            budget -= compare;
            levels.push(Level {
                lengths,
                names: Some(names),
                columns: Vec::new(),
            });
            continue;
        }
        let columns = columns(&names, &mut budget);
        levels.push(Level {
            lengths,
            names: None,
            columns,
        });
    }
    levels
}

/// For a place with too many names to compare: the bytes the names have at each of their
/// first positions (every name has them), as sorted ranges, while they fit `budget`. A
/// position where every byte occurs filters nothing and is left out.
fn columns(names: &BTreeSet<Vec<u8>>, budget: &mut usize) -> Vec<(usize, Vec<(u8, u8)>)> {
    let shortest = names.iter().map(Vec::len).min().unwrap_or(0);
    let mut columns = Vec::new();
    for at in 0..shortest.min(SCREEN_COLUMNS) {
        let bytes: BTreeSet<u8> = names.iter().map(|n| n[at]).collect();
        let mut ranges: Vec<(u8, u8)> = Vec::new();
        for b in bytes {
            match ranges.last_mut() {
                Some((_, hi)) if u16::from(*hi) + 1 == u16::from(b) => *hi = b,
                _ => ranges.push((b, b)),
            }
        }
        if ranges == [(0, u8::MAX)] {
            continue;
        }
        let cost = COLUMN_COST + 2 * ranges.len() + if columns.is_empty() { READ_COST } else { 0 };
        if cost > *budget {
            break;
        }
        *budget -= cost;
        columns.push((at, ranges));
    }
    columns
}

/// What every way `cond` can hold demands of value `id`, one item a way, as `demand` reads it
/// off a test of `id`: such a test, an `or` of such tests, or an `and` with such a conjunct.
fn required<'c, T>(
    cond: &'c Cond,
    id: ValueId,
    demand: &impl Fn(&'c Pred) -> Option<Vec<T>>,
) -> Option<Vec<T>> {
    match cond {
        Cond::Test { value, pred, .. } if *value == id => demand(pred),
        Cond::Or(items) => {
            let mut all = Vec::new();
            for item in items {
                all.extend(required(item, id, demand)?);
            }
            Some(all)
        }
        Cond::And(items) => items.iter().find_map(|item| required(item, id, demand)),
        _ => None,
    }
}

/// The literals a test `== literal` requires its value to equal.
fn literal(pred: &Pred) -> Option<Vec<&[u8]>> {
    match pred {
        Pred::StrEq(bytes) => Some(vec![bytes.as_slice()]),
        _ => None,
    }
}

/// The directories a test requires its value to begin with, one list a way it can hold,
/// first directory first: a literal's directories, or for each alternative of a glob, the
/// names its literal start closes with a `/`.
fn heads(pred: &Pred) -> Option<Vec<Vec<Vec<u8>>>> {
    match pred {
        Pred::StrEq(bytes) => Some(vec![directories(bytes)]),
        Pred::Glob { alternatives, .. } => Some(
            alternatives
                .iter()
                .map(|tokens| {
                    let literal: Vec<u8> = tokens
                        .iter()
                        .map_while(|t| match t {
                            Token::Byte(b) => Some(*b),
                            _ => None,
                        })
                        .collect();
                    // What follows the literal start may be anything, `/` included: its last
                    // name, unclosed, is not required.
                    directories(&literal)
                })
                .collect(),
        ),
        _ => None,
    }
}

/// The names closed by a `/` at the start of absolute path `path`, first first:
/// `/srv/app/bin/tool` has `srv`, `app` and `bin`; `/srv/app/b` has `srv` and `app`. None
/// for a relative path, and none from an empty name on.
fn directories(path: &[u8]) -> Vec<Vec<u8>> {
    let Some(rest) = path.strip_prefix(b"/") else {
        return Vec::new();
    };
    let mut names: Vec<&[u8]> = rest.split(|&c| c == b'/').collect();
    names.pop();
    names
        .into_iter()
        .take_while(|n| !n.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

/// What a program screens a resolved path by, before resolving it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Screen {
    /// Its last names, nearest first: a name no literal has there leaves the path unknown,
    /// which equals no literal.
    Names(Vec<Level>),
    /// Its first directories, first first, read by walking up to the process's root: a
    /// directory no way of matching has there makes the path `/`, which no rule matches.
    Top(Vec<Level>),
}

impl ProgramGen<'_> {
    /// The screen of value `i`: a resolved path that every rule reading it requires to equal
    /// a literal (by its last names) or to begin with some directories (by its first ones),
    /// and that every reporting rule reads. `None` when there is no screen.
    pub(super) fn screen_of(&self, i: usize) -> Option<Screen> {
        let program = self.program;
        let id = ValueId(i as u32);
        // Only a resolved path is screened (it always has a buffer: `Layout::new`).
        let Some(ValueKind::ResolvedPath(_)) = program.values.get(i).map(|v| &v.kind) else {
            return None;
        };
        let layout = program.path_layout?;
        // A rule that reports without reading the path shows it in its report: resolved.
        if !program.reporters_read(id) {
            return None;
        }
        let readers: Vec<_> = program.readers(id).collect();
        let literals: Option<Vec<&[u8]>> = readers.iter().try_fold(Vec::new(), |mut all, rule| {
            all.extend(required(&rule.cond, id, &literal)?);
            Some(all)
        });
        let names = literals.map(|l| levels(l.as_slice())).unwrap_or_default();
        if !names.is_empty() {
            return Some(Screen::Names(names));
        }
        layout.process_root?;
        let heads: Vec<Vec<Vec<u8>>> = readers.iter().try_fold(Vec::new(), |mut all, rule| {
            all.extend(required(&rule.cond, id, &heads)?);
            Some(all)
        })?;
        let heads: Vec<Vec<&[u8]>> = heads
            .iter()
            .map(|h| h.iter().map(Vec::as_slice).collect())
            .collect();
        let top = top_levels(&heads);
        (!top.is_empty()).then_some(Screen::Top(top))
    }

    /// The screen of resolved path `i` (see the module): goes to `resolve` when the path may
    /// match, to `miss` when it cannot. Uses r0–r5, r8 and r9.
    pub(super) fn screen(&mut self, i: usize, screen: &Screen, resolve: Label, miss: Label) {
        match screen {
            Screen::Names(levels) => self.last_names(i, levels, resolve, miss),
            Screen::Top(levels) => self.first_directories(i, levels, resolve, miss),
        }
    }

    /// Whether some of `levels` compares a name too long to be kept in its dentry, which is
    /// copied into the path's buffer.
    pub(super) fn levels_copy(&self, levels: &[Level]) -> bool {
        let Some(layout) = self.program.path_layout else {
            return false;
        };
        levels
            .iter()
            .any(|level| level.reads() && inline_store(&layout, level).is_none())
    }

    /// r8 = the `struct path`'s dentry, r9 = its mount (`struct vfsmount *`), or to
    /// `resolve`. Clobbers r1.
    ///
    /// A hook's argument is tested for NULL (an anonymous mmap has no file): 6.12's verifier
    /// types it trusted, never NULL, and loads through it without a fault handler, so a load
    /// through NULL crashes the kernel. The walks' pointers are not tested: each was loaded
    /// through a kernel object's pointer, which the verifier types untrusted, so a load
    /// through one that is NULL reads 0 (`BPF_PROBE_MEM`). The kernel never leaves one NULL
    /// (a root dentry's parent is itself, a mount's root is set when it is made), and a 0
    /// read would only end a walk: the mount's root of a NULL mount reads 0, equal to a NULL
    /// dentry (resolved); a NULL parent's name is empty, which no level has (a miss, as
    /// `d_path` would find it had it not faulted); the top screen's walk stands on 0 until it
    /// is too deep (resolved). A chain's loads keep the tests
    /// `pointer_to_checked` gives them.
    fn path_start(&mut self, i: usize, resolve: Label) -> Option<PathLayout> {
        let (Some(layout), ValueKind::ResolvedPath(access)) =
            (self.program.path_layout, &self.program.values[i].kind)
        else {
            self.asm.jump(resolve);
            return None;
        };
        // &file->f_path (or wherever the hook's path is).
        self.pointer_to_checked(access, Reg::R1, resolve);
        if access.derefs.is_empty() {
            self.asm.jump_imm(JmpCond::Eq, Reg::R1, 0, resolve);
        }
        self.load_path(&layout, Reg::R1, access.offset, Reg::R8, Reg::R9);
        Some(layout)
    }

    /// `dentry` and `mnt` = the members of the `struct path` at `base + at` (the mount
    /// first, so that `dentry` may be `base`).
    fn load_path(&mut self, layout: &PathLayout, base: Reg, at: u32, dentry: Reg, mnt: Reg) {
        self.asm
            .load(Size::DW, mnt, base, offset(at + layout.mnt))
            .load(Size::DW, dentry, base, offset(at + layout.dentry));
    }

    /// The last-names screen: walks up from the file's dentry (r8), r9 is its mount's root.
    ///
    /// Only the file's own dentry is tested for being its own parent: there a pseudo file's
    /// path is made by its file system (`d_dname`), not from its name. Above it, a dentry that
    /// is its own parent and not its mount's root ends `d_path`'s walk as escaped
    /// (`prepend_path` in fs/d_path.c then discards every name, and the path is `/`), so a
    /// level that finds a name no literal has there is right to call it a miss: the path has
    /// no names at all, and every literal has more than one. A dentry's parent is loaded once
    /// its name may be one of the level's, for the next level. Where no level copies a name (a
    /// helper call would clobber r0-r5) the walk alternates its dentry between r8 and r4,
    /// which the comparisons in a dentry leave alone, the own-parent test's load being the
    /// next level's dentry; else the dentry stays in r8, and the test loads into r1.
    fn last_names(&mut self, i: usize, levels: &[Level], resolve: Label, miss: Label) {
        let Some(layout) = self.path_start(i, resolve) else {
            return;
        };
        let walk = layout.walk;
        let alternate = !self.levels_copy(levels);
        self.asm
            .load(Size::DW, Reg::R9, Reg::R9, offset(walk.mnt_root));
        let mut dentry = Reg::R8;
        for (k, level) in levels.iter().enumerate() {
            let parent = if alternate && dentry == Reg::R8 {
                Reg::R4
            } else {
                Reg::R8
            };
            // The mount's root: the path goes on at the mount point.
            self.asm.jump_reg(JmpCond::Eq, dentry, Reg::R9, resolve);
            let loaded = k == 0 && alternate;
            if k == 0 {
                // Its own parent: a file system's root, or a pseudo file's dentry.
                let tested = if alternate { parent } else { Reg::R1 };
                self.asm
                    .load(Size::DW, tested, dentry, offset(walk.d_parent))
                    .jump_reg(JmpCond::Eq, tested, dentry, resolve);
            }
            let next = self.asm.new_label();
            self.screen_name(i, level, dentry, resolve, miss, next);
            self.asm.bind(next);
            if k + 1 < levels.len() {
                if !loaded {
                    self.asm
                        .load(Size::DW, parent, dentry, offset(walk.d_parent));
                }
                dentry = parent;
            }
        }
        self.asm.jump(resolve);
    }

    /// The first-directories screen: from the file's dentry up to the process's root, on
    /// the root's own mount, summing the names' lengths (r0), then each of the last
    /// [`TOP_LEVELS`] dentries passed (at the root they are the first directories) compared
    /// in turn.
    ///
    /// The walk keeps its dentries in a ring of four registers ([`WALK_RING`]): the dentry k
    /// names up is in `WALK_RING[k % 4]`, and its parent is loaded into the next, so the three
    /// passed last are still held when the root is reached, and no step moves a register.
    /// Where the root is reached, a stub of its own puts them where the comparisons read
    /// them.
    fn first_directories(&mut self, i: usize, levels: &[Level], resolve: Label, miss: Label) {
        let Some(root) = self.program.path_layout.and_then(|l| l.process_root) else {
            self.asm.jump(resolve);
            return;
        };
        let Some(b) = self.layout.buffers[i] else {
            self.asm.jump(resolve);
            return;
        };
        let Some(layout) = self.path_start(i, resolve) else {
            return;
        };
        let walk = layout.walk;
        // The task's root (the helper call keeps r8 and r9, the path's dentry and mount). An
        // exiting task has no fs any more: its root's mount reads 0 (`fs` was loaded through
        // the task, so it is untrusted), which no path's is.
        self.asm.call_helper(GET_CURRENT_TASK_BTF).load(
            Size::DW,
            Reg::R0,
            Reg::R0,
            offset(root.task_fs),
        );
        self.load_path(&layout, Reg::R0, root.fs_root, Reg::R2, Reg::R3);
        self.asm
            // Only on the root's mount are the names up to the root the path's: below
            // another mount's root, `d_path` goes on at its mount point.
            .jump_reg(JmpCond::Ne, Reg::R9, Reg::R3, resolve)
            .load(Size::DW, Reg::R9, Reg::R9, offset(walk.mnt_root))
            .mov64_imm(Reg::R0, 0);
        let kept = levels.len();
        let slot = self.layout.slots[i];
        let at = |k: usize| WALK_RING[k % WALK_RING.len()];
        let compare = self.asm.new_label();
        let mut stubs = Vec::new();
        // The path resolves to `/name` for each name passed, " (deleted)" perhaps, and a NUL:
        // when that may not fit the buffer, the path may be unknown, and is resolved.
        let room = |names: usize| b.cap as i32 - DELETED_AND_NUL - names as i32;
        for k in 0..=TOP_DEPTH {
            let dentry = at(k);
            // The process's root, k names up: the path has k names, and a directory is
            // compared only where the file's own name (which " (deleted)" may follow) is
            // below it.
            if k > kept {
                let stub = self.asm.new_label();
                self.asm.jump_reg(JmpCond::Eq, dentry, Reg::R2, stub);
                stubs.push((k, stub));
            } else {
                self.asm.jump_reg(JmpCond::Eq, dentry, Reg::R2, resolve);
            }
            if k == TOP_DEPTH {
                // Deeper than the screen climbs.
                self.asm.jump(resolve);
                break;
            }
            let parent = at(k + 1);
            self.asm
                // A mount's root below the process's root (outside a chroot): not where
                // `d_path` stops. A dentry that is its own parent is not tested for: the walk
                // stands on it, neither the process's root nor a mount's, until it is too
                // deep and resolves.
                .jump_reg(JmpCond::Eq, dentry, Reg::R9, resolve)
                .load(Size::W, Reg::R1, dentry, offset(walk.d_name_len))
                .alu64_reg(AluOp::Add, Reg::R0, Reg::R1)
                .load(Size::DW, parent, dentry, offset(walk.d_parent));
        }
        // The root reached k names up: the first directory is k - 1 up (into r8), the second
        // k - 2 (r9), the third k - 3 (the path's own slot, written when the path is resolved
        // or made `/`). The slot and r9 are written first: neither is in the ring, and r8 is.
        for (k, stub) in stubs {
            self.asm
                .bind(stub)
                .jump_imm(JmpCond::Sgt, Reg::R0, room(k), resolve);
            if kept > 2 {
                self.asm.store_reg(Size::DW, Reg::R10, slot, at(k - 3));
            }
            if kept > 1 {
                self.asm.mov64_reg(Reg::R9, at(k - 2));
            }
            if at(k - 1) != Reg::R8 {
                self.asm.mov64_reg(Reg::R8, at(k - 1));
            }
            self.asm.jump(compare);
        }
        self.asm.bind(compare);
        for (k, level) in levels.iter().enumerate() {
            // The second directory is compared where it is, in r9, which a helper call keeps.
            let dentry = match k {
                1 => Reg::R9,
                2 => {
                    self.asm.load(Size::DW, Reg::R8, Reg::R10, slot);
                    Reg::R8
                }
                _ => Reg::R8,
            };
            let next = self.asm.new_label();
            self.screen_name(i, level, dentry, resolve, miss, next);
            self.asm.bind(next);
        }
        self.asm.jump(resolve);
    }

    /// Compares the name of the dentry in `dentry` (r8 or r9 where the name may be copied, as
    /// a helper call keeps them) with `level`'s: to `next` when it may be one of them, to
    /// `miss` when it cannot, to `resolve` when it cannot be read. Clobbers r0-r5 and the
    /// path's buffer, or only r1-r3 where the names are compared in the dentry.
    ///
    /// Where every name of the level is shorter than the dentry's inline store (`d_iname`),
    /// the name is compared there, through the dentry: the kernel keeps a name there exactly
    /// when it is that short (`__d_alloc` in fs/dcache.c allocates a longer one apart, and a
    /// rename moves or swaps a long one's storage, never keeps a short one out of the store),
    /// so a name of a listed length is in the store, and one elsewhere has a length no listed
    /// name has. Else it is copied into the path's buffer with a helper and compared there.
    /// The length is tested once: by the branches on the level's lengths, by the search of
    /// its names' lengths, or where the names have one length of 1, 3 or 7 bytes and are
    /// compared in the dentry, by the NUL loaded with them ([`Site::holds_nul`]): a name of
    /// another length has another byte there, or is kept apart, its store's stale bytes then
    /// at worst taken for a listed name, which only resolves the path.
    fn screen_name(
        &mut self,
        i: usize,
        level: &Level,
        dentry: Reg,
        resolve: Label,
        miss: Label,
        next: Label,
    ) {
        let (Some(b), Some(layout)) = (self.layout.buffers[i], self.program.path_layout) else {
            self.asm.jump(resolve);
            return;
        };
        let walk = layout.walk;
        let longest = level.lengths.last().copied().unwrap_or(0);
        let inline = inline_store(&layout, level).map(|at| (dentry, at));
        let site = Site {
            b,
            slot: self.layout.slots[i],
            miss,
            matched: next,
            split: false,
            through: inline,
        };
        let terminated = level.names.is_some()
            && level.lengths.len() == 1
            && level
                .lengths
                .first()
                .is_some_and(|&len| site.holds_nul(len));
        if !terminated {
            self.asm
                .load(Size::W, Reg::R1, dentry, offset(walk.d_name_len));
        }
        // Names of more than one length are searched by their length, which tests it.
        let searched = level.names.is_some() && level.lengths.len() > 1;
        if !searched && !terminated {
            // The lengths in turn, the last one inverted: past it, the name has one of the
            // level's lengths (a level of lengths only goes on to `next`, bound after it).
            let compare = self.asm.new_label();
            let lengths: Vec<usize> = level.lengths.iter().copied().collect();
            if let Some((&last, rest)) = lengths.split_last() {
                for &len in rest {
                    self.asm.jump_imm(JmpCond::Eq, Reg::R1, len as i32, compare);
                }
                self.asm.jump_imm(JmpCond::Ne, Reg::R1, last as i32, miss);
            } else {
                self.asm.jump(miss);
            }
            self.asm.bind(compare);
        }
        if !level.reads() {
            return;
        }
        if inline.is_none() {
            // Into the path's buffer (resolving the path overwrites it). The bound is for the
            // verifier, and a miss where the names are searched by length.
            self.asm
                .mov64_reg(Reg::R2, Reg::R1)
                .jump_imm(JmpCond::Gt, Reg::R2, longest as i32, miss)
                .mov64_reg(Reg::R1, Reg::R7);
            self.add_offset(Reg::R1, b.offset);
            self.asm
                .load(Size::DW, Reg::R3, dentry, offset(walk.d_name_name))
                .call_helper(PROBE_READ_KERNEL)
                .jump_imm(JmpCond::Ne, Reg::R0, 0, resolve);
            if searched {
                self.asm
                    .load(Size::W, Reg::R1, dentry, offset(walk.d_name_len));
            }
        }
        // The comparisons read no byte past the name's length: its words only at its own
        // length, the columns at positions every name here has.
        let (base, start) = inline.unwrap_or((Reg::R7, b.offset));
        for (at, ranges) in &level.columns {
            let held = self.asm.new_label();
            self.asm
                .load(Size::B, Reg::R2, base, offset(start + *at as u32));
            for &(lo, hi) in ranges {
                self.asm
                    .jump_imm(JmpCond::Lt, Reg::R2, i32::from(lo), miss)
                    .jump_imm(JmpCond::Le, Reg::R2, i32::from(hi), held);
            }
            self.asm.jump(miss).bind(held);
        }
        if let Some(names) = &level.names {
            let groups = group_by_length(names, next);
            match groups.as_slice() {
                // Its length is known: the words alone are left to compare.
                [(len, entries)] => self.word_trie(entries.clone(), *len, 0, site),
                _ => self.length_search(&groups, site),
            }
        }
    }
}

/// Where in the dentry `level`'s names are read when every one is shorter than its inline
/// store: the offset of `d_iname`. `None`: a name is copied into the path's buffer.
fn inline_store(layout: &PathLayout, level: &Level) -> Option<u32> {
    let longest = level.lengths.last().copied().unwrap_or(0);
    layout
        .d_iname
        .filter(|&(_, size)| longest < size as usize)
        .map(|(at, _)| at)
}

/// `names` grouped by length, each going to `next`, as `sets::length_search` takes them.
fn group_by_length(names: &BTreeSet<Vec<u8>>, next: Label) -> Vec<(usize, Vec<Entry>)> {
    let mut groups: Vec<(usize, Vec<Entry>)> = Vec::new();
    let mut sorted: Vec<&Vec<u8>> = names.iter().collect();
    sorted.sort_by_key(|n| n.len());
    for name in sorted {
        let entry = (name.clone(), Leaf::Jump(next));
        match groups.last_mut() {
            Some((len, entries)) if *len == name.len() => entries.push(entry),
            _ => groups.push((name.len(), vec![entry])),
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(literals: &[&str]) -> Vec<Level> {
        let bytes: Vec<&[u8]> = literals.iter().map(|l| l.as_bytes()).collect();
        levels(&bytes)
    }

    #[test]
    fn levels_are_the_names_from_the_end_every_literal_has() {
        let levels = of(&[
            "/srv/app1/bin/tool",
            "/srv/app22/bin/tool",
            "/etc/x/bin/tool",
        ]);
        assert_eq!(levels.len(), 3);
        let names = |k: usize| levels[k].names.clone().unwrap_or_default();
        assert_eq!(names(0), BTreeSet::from([b"tool".to_vec()]));
        assert_eq!(names(1), BTreeSet::from([b"bin".to_vec()]));
        assert_eq!(
            names(2),
            BTreeSet::from([b"app1".to_vec(), b"app22".to_vec(), b"x".to_vec()])
        );
        assert_eq!(levels[2].lengths, BTreeSet::from([1, 4, 5]));
        // As deep as the shortest literal.
        assert_eq!(of(&["/etc/shadow", "/srv/a/b/c"]).len(), 2);
    }

    #[test]
    fn many_names_are_screened_by_length_alone() {
        let literals: Vec<String> = (0..1000).map(|i| format!("/srv/app{i}/bin/tool")).collect();
        let refs: Vec<&str> = literals.iter().map(String::as_str).collect();
        let levels = of(&refs);
        assert_eq!(levels.len(), 3);
        assert!(levels[2].names.is_none());
        assert_eq!(levels[2].lengths, BTreeSet::from([4, 5, 6]));
        // `app0` to `app999`: every name has `app` and a digit; position 3 on is all digits.
        assert_eq!(
            levels[2].columns,
            vec![
                (0, vec![(b'a', b'a')]),
                (1, vec![(b'p', b'p')]),
                (2, vec![(b'p', b'p')]),
                (3, vec![(b'0', b'9')]),
            ]
        );
    }

    /// The budget decides how much a screen compares, to the instruction: a level costs
    /// `LEVEL_COST` and one per length before its names are compared, and what is left pays
    /// for reading and comparing them whole, or else for columns (`columns` keeps the rest).
    #[test]
    fn a_screen_compares_what_its_budget_pays_for_and_no_more() {
        let ways = |names: &[&'static str]| -> Vec<Vec<&'static [u8]>> {
            names.iter().map(|n| vec![n.as_bytes()]).collect()
        };
        let tool = ways(&["tool", "bin"]);
        let base = LEVEL_COST + 2;
        let whole = READ_COST + tree_cost([b"tool".as_slice(), b"bin"].into_iter());
        // Not even the lengths: no level.
        assert!(fit(&tool, 1, base - 1).is_empty());
        // The lengths alone: no bytes compared.
        let lengths_only = fit(&tool, 1, base);
        assert_eq!(lengths_only.len(), 1);
        assert_eq!(lengths_only[0].lengths, BTreeSet::from([3, 4]));
        assert_eq!(
            (
                lengths_only[0].names.as_ref(),
                lengths_only[0].columns.len()
            ),
            (None, 0)
        );
        // One instruction short of the whole names: the columns the rest pays for.
        let short = fit(&tool, 1, base + whole - 1);
        assert_eq!(short[0].names, None);
        assert!(!short[0].columns.is_empty());
        assert_eq!(
            fit(&tool, 1, base + whole)[0].names,
            Some(BTreeSet::from([b"bin".to_vec(), b"tool".to_vec()]))
        );
        // A second level is paid for from what the first left.
        let two = vec![vec![b"a".as_slice(), b"b"], vec![b"c".as_slice(), b"d"]];
        let one = LEVEL_COST + 1;
        assert_eq!(fit(&two, 2, 2 * one - 1).len(), 1);
        assert_eq!(fit(&two, 2, 2 * one).len(), 2);
        // As many lengths as SCREEN_LENGTHS are screened; one more ends the screen.
        let long: Vec<String> = (1..=SCREEN_LENGTHS + 1).map(|n| "x".repeat(n)).collect();
        let refs: Vec<&str> = long.iter().map(String::as_str).collect();
        let levels = |n: usize| {
            let names: Vec<Vec<&[u8]>> = refs[..n].iter().map(|n| vec![n.as_bytes()]).collect();
            fit(&names, 1, PATH_SCREEN_COST).len()
        };
        assert_eq!(levels(SCREEN_LENGTHS), 1);
        assert_eq!(levels(SCREEN_LENGTHS + 1), 0);
        // As many names as SCREEN_NAMES are compared whole, one more by columns.
        let many: Vec<String> = (0..=SCREEN_NAMES).map(|i| format!("n{i:02}")).collect();
        let compared = |n: usize| {
            let names: Vec<Vec<&[u8]>> = many[..n].iter().map(|m| vec![m.as_bytes()]).collect();
            fit(&names, 1, PATH_SCREEN_COST)[0].names.is_some()
        };
        assert!(compared(SCREEN_NAMES));
        assert!(!compared(SCREEN_NAMES + 1));
    }

    /// Columns: each position's bytes as ranges (only neighbours join), the first column paying
    /// for the read too, while the budget lasts; what is left of it goes back.
    #[test]
    fn columns_are_the_bytes_at_each_position_as_far_as_the_budget_goes() {
        let names: BTreeSet<Vec<u8>> = ["ax1", "bz2", "dy3"]
            .iter()
            .map(|n| n.as_bytes().to_vec())
            .collect();
        let at_0 = vec![(b'a', b'b'), (b'd', b'd')];
        let at_1 = vec![(b'x', b'z')];
        let first = COLUMN_COST + 2 * at_0.len() + READ_COST;
        let second = COLUMN_COST + 2 * at_1.len();
        let mut budget = first - 1;
        assert!(columns(&names, &mut budget).is_empty());
        assert_eq!(budget, first - 1);
        let mut budget = first;
        assert_eq!(columns(&names, &mut budget), vec![(0, at_0.clone())]);
        assert_eq!(budget, 0);
        let mut budget = first + second - 1;
        assert_eq!(columns(&names, &mut budget), vec![(0, at_0.clone())]);
        assert_eq!(budget, second - 1);
        let mut budget = first + second + 7;
        assert_eq!(
            columns(&names, &mut budget),
            vec![(0, at_0), (1, at_1), (2, vec![(b'1', b'3')])]
        );
        assert_eq!(budget, 7 - (COLUMN_COST + 2));
    }

    #[test]
    fn no_screen_where_names_are_not_the_path_s() {
        assert!(of(&["/etc/shadow", "relative/path"]).is_empty());
        assert!(of(&["/"]).is_empty());
        assert!(of(&["/tmp//x"]).is_empty());
        assert!(of(&["/tmp/x/"]).is_empty());
        assert!(of(&["/tmp/x (deleted)"]).is_empty());
    }

    #[test]
    fn directory_rules_require_the_names_their_literal_start_closes() {
        let glob = |pattern: &str| {
            let parsed = lang::glob::Glob::parse(pattern).expect("a glob");
            heads(&Pred::Glob {
                pattern: pattern.to_string(),
                alternatives: parsed.alternatives,
            })
            .unwrap_or_default()
        };
        let names = |list: &[&str]| -> Vec<Vec<u8>> {
            list.iter().map(|n| n.as_bytes().to_vec()).collect()
        };
        assert_eq!(glob("/srv/app1/**"), vec![names(&["srv", "app1"])]);
        // A name the literal start leaves open is not required: `t**` may go on past a `/`.
        assert_eq!(glob("/srv/t**"), vec![names(&["srv"])]);
        assert_eq!(glob("/srv/to[o]l/**"), vec![names(&["srv"])]);
        // Each reading of a `/**/` is a way of its own: `/srv/x` has `srv` alone.
        assert_eq!(glob("/srv/**/x"), vec![names(&["srv"]), names(&["srv"])]);
        assert_eq!(glob("**/x"), vec![names(&[]), names(&[])]);
        assert_eq!(
            heads(&Pred::StrEq(b"/etc/ssh/sshd_config".to_vec())),
            Some(vec![names(&["etc", "ssh"])])
        );
        assert!(top_levels(&[vec![b"srv".as_slice()], vec![]]).is_empty());
    }
}
