//! Sets of literal strings: a run of consecutive rules that each match when one counted string
//! (a path, a kernel string) equals one of their literals (`path == "..."`, `path in [...]`)
//! becomes one decision tree instead of a compare chain. The tree dispatches on the length
//! (binary search), then on the string's 8-byte words in turn (binary search among the values
//! the remaining literals have in that word), so an event costs about log2(literals) + words
//! compares whatever the set's size, and ends at the first matching rule of the run, as the
//! chain would.
//!
//! A run of directory rules (`path ~ "/etc/**"`: globs that are a literal prefix and a final
//! `**`) is a trie over the same words: at each word, the prefixes that end in it are compared
//! masked to their bytes (and the string's length checked), the longer ones by binary search
//! on the whole word. It is built when no prefix of the run is a prefix of another, so that at
//! most one can match and the order of the rules cannot matter; nested prefixes stay a chain.
//!
//! A tree past [`INLINE_TREE_COST`] (about 500 paths) is cut into BPF functions: the program
//! keeps the top of the searches and calls a function for each node of at most [`CHUNK_COST`]
//! instructions, so that every jump stays within the ±32,767 slots it reaches whatever the
//! set's size. A leaf then records its rule's index and errno in map memory and answers
//! "matched"; the run's rules share one report-and-refuse exit that reads them back. The
//! verifier walks each function once, from its one call, and since it does not track what a
//! leaf stored, every match reaches the shared exit in one state: its work stays about one
//! visit per emitted instruction (10,000 exact paths: about 110,000).

use super::{offset, Buffer, ProgramGen};
use crate::bpf::{AluOp, JmpCond, Label, Reg, Size};
use crate::ir::{Cond, Pred, Rule, ValueId};
pub(super) use lang::check::{add_unnested, tree_cost, INLINE_TREE_COST};
use lang::glob::directory_prefix;
use lang::runs::{AuditRun, Kind, Reach};
use std::collections::{BTreeMap, BTreeSet};

/// Below this many literals a run stays a chain: the tree's setup costs about as much.
const TREE_MIN_LITERALS: usize = 4;

/// The literal set a rule's whole condition tests: the value, the literals, and the outcome
/// when the value is unknown.
pub(super) struct LiteralSet {
    value: ValueId,
    literals: Vec<Vec<u8>>,
    /// The literals are prefixes (`literal/**`) rather than whole strings.
    prefixes: bool,
    on_unknown: bool,
}

/// A literal and where the tree goes when the string equals it (or starts with it).
pub(super) type Entry = (Vec<u8>, Leaf);

/// Where a literal's match goes.
#[derive(Clone, Copy, Debug)]
pub(super) enum Leaf {
    /// To the rule's own code.
    Jump(Label),
    /// To the tree's `matched` exit (an allow run: every rule's match allows).
    Matched,
    /// To the tree's `matched` exit, with the rule's index and errno stored in the program's
    /// decision area ([`super::Layout::decision`]): one exit for a whole deny run, so that a
    /// run of ten thousand rules does not need ten thousand blocks out of jump reach.
    Record { rule: u32, errno: i32 },
    /// To the tree's `matched` exit, with a dispatched glob's number and where and in which
    /// state its remainder's scan begins (`offset | state << 16`) stored in the program's
    /// dispatch area ([`super::Layout::dispatch`]): one scan for every glob, verified once.
    Dispatch { glob: i32, begin: i32 },
}

/// The largest node made a function of its own: well inside a jump's reach, and small enough
/// that a large tree has more nodes than the program has functions to spare (the kernel
/// allows 256 subprograms) only past a million instructions, which E0207 refuses first.
const CHUNK_COST: usize = 8_000;
/// A prefix in a search among prefixes ending in one word.
const ENDING_COST: usize = 10;
/// What a tree function answers in r0.
const CHUNK_MISS: i32 = 0;
const CHUNK_MATCHED: i32 = 1;
const CHUNK_NEXT: i32 = 2;

/// Where a tree is being emitted.
#[derive(Clone, Copy)]
pub(super) struct Site {
    pub b: Buffer,
    /// The string's length: its value slot.
    pub slot: i16,
    /// No literal matches.
    pub miss: Label,
    /// Where [`Leaf::Matched`], [`Leaf::Record`] and [`Leaf::Dispatch`] go.
    pub matched: Label,
    /// Nodes small enough become functions (a large tree, in the program's own code).
    pub split: bool,
    /// The string's bytes are read through this register, from this offset, instead of from
    /// the buffer: a name compared where its dentry keeps it (`screen`).
    pub through: Option<(Reg, u32)>,
}

impl Site {
    /// How the last word of a string is loaded when `bytes` of it are the string's: the
    /// load's size, and the bits then shifted out (little endian: the bytes past the string
    /// are the high ones, shifted out as in `compare_words`). One, two, four or eight bytes
    /// are loaded as they are. A name compared where its dentry keeps it is followed there by
    /// its NUL (`__d_alloc` in fs/dcache.c writes it, a rename copies it), whose zero is what
    /// the compared word has past the name: one, three or seven bytes load as two, four or
    /// eight ([`Site::holds_nul`]).
    fn tail(&self, bytes: usize) -> (Size, u32) {
        match bytes {
            _ if self.holds_nul(bytes) => match bytes {
                1 => (Size::H, 0),
                3 => (Size::W, 0),
                _ => (Size::DW, 0),
            },
            1 => (Size::B, 0),
            2 => (Size::H, 0),
            4 => (Size::W, 0),
            _ => (Size::DW, 8 * (8 - bytes as u32)),
        }
    }

    /// Whether a last word of `bytes` of the string is loaded with the NUL after it, which
    /// then tests the length too: a name in its dentry's inline store, of 1, 3 or 7 bytes.
    pub(super) fn holds_nul(&self, bytes: usize) -> bool {
        self.through.is_some() && matches!(bytes, 1 | 3 | 7)
    }

    /// Where the string's word `k` is loaded from.
    fn word(&self, k: usize) -> (Reg, i16) {
        let at = 8 * k as u32;
        match self.through {
            None => (Reg::R7, offset(self.b.offset + at)),
            Some((reg, start)) => (reg, offset(start + at)),
        }
    }
}

/// A node of a large tree compiled as a function of its own (a bpf-to-bpf call): the
/// verifier walks it once, from its one call, and its jumps stay within its own code however
/// large the tree. Its leaves record the rule in map memory, which the verifier does not
/// track, so that every match returns to the caller in one state.
pub(super) struct Chunk {
    start: Label,
    body: ChunkBody,
    b: Buffer,
    slot: i16,
    origin: Option<u32>,
}

/// The search a [`Chunk`] runs: one of the tree's binary searches.
enum ChunkBody {
    Lengths(Vec<(usize, Vec<Entry>)>),
    Words {
        words: Vec<(u64, Vec<Entry>)>,
        len: usize,
        k: usize,
    },
    /// Prefixes ending in word `k`.
    Ending {
        group: Vec<(u64, Entry)>,
        k: usize,
    },
    Longer {
        words: Vec<(u64, Vec<Entry>)>,
        k: usize,
    },
}

impl LiteralSet {
    /// The value tested and the outcome when it is unknown.
    pub(super) fn value(&self) -> (usize, bool) {
        (self.value.0 as usize, self.on_unknown)
    }

    /// What search decides the set within a mixed run, and the strings it can match.
    pub(super) fn reaches(&self) -> (Kind, Vec<Reach>) {
        let reach = |l: &Vec<u8>| match self.prefixes {
            true => Reach::StartsWith(l.clone()),
            false => Reach::Exactly(l.clone()),
        };
        let kind = match self.prefixes {
            true => Kind::Prefix,
            false => Kind::Exact,
        };
        (kind, self.literals.iter().map(reach).collect())
    }
}

impl ProgramGen<'_> {
    /// `rule`'s condition as a literal set over a counted string, if it is one.
    pub(super) fn literal_set(&self, rule: &Rule) -> Option<LiteralSet> {
        let cond = self.deciding_cond(rule)?;
        let tests: Vec<&Cond> = match cond {
            Cond::Or(items) => items.iter().collect(),
            test @ Cond::Test { .. } => vec![test],
            _ => return None,
        };
        let mut set: Option<LiteralSet> = None;
        for test in tests {
            let Cond::Test {
                value,
                pred,
                on_unknown,
            } = test
            else {
                return None;
            };
            let (literals, prefixes) = match pred {
                Pred::StrEq(bytes) => (vec![bytes.clone()], false),
                Pred::Glob { alternatives, .. } => {
                    let prefixes: Option<Vec<Vec<u8>>> =
                        alternatives.iter().map(|a| directory_prefix(a)).collect();
                    (prefixes?, true)
                }
                _ => return None,
            };
            let counted = self
                .layout
                .buffers
                .get(value.0 as usize)
                .copied()
                .flatten()
                .is_some_and(|b| !b.padded);
            if !counted {
                return None;
            }
            match &mut set {
                None => {
                    set = Some(LiteralSet {
                        value: *value,
                        literals,
                        prefixes,
                        on_unknown: *on_unknown,
                    })
                }
                Some(s)
                    if s.value == *value
                        && s.on_unknown == *on_unknown
                        && s.prefixes == prefixes =>
                {
                    s.literals.extend(literals)
                }
                Some(_) => return None,
            }
        }
        set
    }

    /// What decides `rule` here: its condition, or the one item of its `and` that tests known
    /// to hold here (a gate every rule shares, see `values`) leave.
    pub(super) fn deciding_cond<'r>(&self, rule: &'r Rule) -> Option<&'r Cond> {
        match &rule.cond {
            Cond::And(items) => {
                let mut rest = items.iter().filter(|c| !self.known_true.contains(c));
                match (rest.next(), rest.next()) {
                    (Some(only), None) => Some(only),
                    _ => None,
                }
            }
            other => Some(other),
        }
    }

    /// How many of `rules`, from the first, form a run over one value worth a tree: each a
    /// literal set over the same value with the same unknown outcome. 0 when none does.
    pub(super) fn literal_run(&self, rules: &[Rule]) -> usize {
        self.literal_run_of(rules, None)
    }

    /// [`Self::literal_run`], where the rules also join `audit` when given (audit rules).
    fn literal_run_of(&self, rules: &[Rule], mut audit: Option<AuditRun>) -> usize {
        let Some(first) = rules.first().and_then(|r| self.literal_set(r)) else {
            return 0;
        };
        let mut literals = BTreeSet::new();
        let mut count = 0;
        let run = rules
            .iter()
            .map_while(|r| Some((r.index, self.literal_set(r)?)))
            .take_while(|(index, s)| {
                s.value == first.value
                    && s.on_unknown == first.on_unknown
                    && s.prefixes == first.prefixes
                    // A run of prefixes ends before the first rule that nests with another.
                    && (!s.prefixes || add_unnested(&mut literals, &s.literals))
                    && audit.as_mut().is_none_or(|run| run.add(*index, &s.literals))
            })
            .map(|(_, s)| count += s.literals.len())
            .count();
        if count < TREE_MIN_LITERALS {
            return 0;
        }
        run
    }

    /// How many of `rules`, audit rules from the first, one literal tree decides: the
    /// [`Self::literal_run`] of those that join one [`AuditRun`]. 0 when none.
    pub(super) fn audit_literal_run(&self, rules: &[Rule]) -> usize {
        self.literal_run_of(rules, Some(AuditRun::new()))
    }

    /// The tree for the run `rules` (see [`Self::literal_run`]): a string equal to a literal
    /// of `rules[i]` (the first such rule) goes to `leaves[i]`; an unknown string goes to the
    /// first rule's leaf when unknown counts as a match, else to `miss`, as does any other.
    /// `matched` is where a [`Leaf::Record`] or [`Leaf::Matched`] goes. A tree larger than
    /// [`INLINE_TREE_COST`] is cut into functions (see [`Chunk`]), whose leaves must then all
    /// be of those two kinds.
    pub(super) fn literal_tree(
        &mut self,
        rules: &[Rule],
        leaves: &[Leaf],
        matched: Label,
        miss: Label,
    ) {
        self.literal_tree_or(rules, leaves, None, matched, miss);
    }

    /// [`Self::literal_tree`], where an unknown string that counts as a match goes to
    /// `unknown` when given (an audit run: every rule matches it) rather than the first
    /// rule's leaf.
    pub(super) fn literal_tree_or(
        &mut self,
        rules: &[Rule],
        leaves: &[Leaf],
        unknown: Option<Label>,
        matched: Label,
        miss: Label,
    ) {
        let sets: Vec<LiteralSet> = rules.iter().filter_map(|r| self.literal_set(r)).collect();
        let Some(first) = sets.first() else {
            self.asm.jump(miss);
            return;
        };
        let i = first.value.0 as usize;
        let Some(b) = self.layout.buffers[i] else {
            self.asm.jump(miss);
            return;
        };
        let site = Site {
            b,
            slot: self.layout.slots[i],
            miss,
            matched,
            split: self.split_tree(&sets),
            through: None,
        };
        let unknown = match (first.on_unknown, unknown, leaves.first()) {
            (true, Some(all), _) => Some(Leaf::Jump(all)),
            (true, None, Some(leaf)) => Some(*leaf),
            _ => None,
        };
        // The first rule with a literal wins it; a literal as long as the buffer is no
        // string the kernel gave (and would be read past the buffer).
        let mut entries: BTreeMap<&[u8], Leaf> = BTreeMap::new();
        for (set, leaf) in sets.iter().zip(leaves) {
            for literal in &set.literals {
                if literal.len() < b.cap as usize {
                    entries.entry(literal).or_insert(*leaf);
                }
            }
        }
        self.asm
            .load(Size::DW, Reg::R1, Reg::R10, self.layout.slots[i]);
        if self.program.values[i].kind.fallible() {
            let known = self.asm.new_label();
            self.asm.jump_imm(JmpCond::Sge, Reg::R1, 0, known);
            match unknown {
                Some(leaf) => self.leaf(leaf, site),
                None => {
                    self.asm.jump(miss);
                }
            }
            self.asm.bind(known);
        }
        if first.prefixes {
            let entries: Vec<Entry> = entries
                .into_iter()
                .map(|(literal, leaf)| (literal.to_vec(), leaf))
                .collect();
            self.prefix_trie(entries, 0, site);
            return;
        }
        let mut by_length: BTreeMap<usize, Vec<Entry>> = BTreeMap::new();
        for (literal, leaf) in entries {
            by_length
                .entry(literal.len())
                .or_default()
                .push((literal.to_vec(), leaf));
        }
        let groups: Vec<(usize, Vec<Entry>)> = by_length.into_iter().collect();
        self.length_search(&groups, site);
    }

    /// Whether the run `rules` (see [`Self::literal_run`]) compiles to a tree cut into
    /// functions, whose leaves are [`Leaf::Matched`] or [`Leaf::Record`].
    pub(super) fn split_run(&self, rules: &[Rule]) -> bool {
        let sets: Vec<LiteralSet> = rules.iter().filter_map(|r| self.literal_set(r)).collect();
        self.split_tree(&sets)
    }

    /// Whether the tree of `sets` is cut into functions: past [`INLINE_TREE_COST`], when the
    /// program has the decision area its leaves record the rule in.
    pub(super) fn split_tree(&self, sets: &[LiteralSet]) -> bool {
        self.layout.decision.is_some()
            && tree_cost(
                sets.iter()
                    .flat_map(|s| s.literals.iter().map(Vec::as_slice)),
            ) > INLINE_TREE_COST
    }

    /// Where a literal's match goes, at `site`.
    fn leaf(&mut self, leaf: Leaf, site: Site) {
        match leaf {
            Leaf::Jump(target) => {
                self.asm.jump(target);
            }
            Leaf::Matched => {
                self.asm.jump(site.matched);
            }
            Leaf::Record { rule, errno } => self.record(rule, errno, site.matched),
            Leaf::Dispatch { glob, begin } => {
                let at = self.layout.dispatch.unwrap_or(0);
                self.asm
                    .store_imm(Size::DW, Reg::R7, offset(at), begin)
                    .store_imm(Size::DW, Reg::R7, offset(at + 8), glob)
                    .jump(site.matched);
            }
        }
    }

    /// Records rule `rule` and its errno in the decision area and goes to `matched`, its
    /// run's shared exit. Stores of constants to map memory, which the verifier does not
    /// track: every rule reaches `matched` in one state, verified once.
    pub(super) fn record(&mut self, rule: u32, errno: i32, matched: Label) {
        let at = self.layout.decision.unwrap_or(0);
        self.asm
            .store_imm(Size::DW, Reg::R7, offset(at), rule as i32)
            .store_imm(Size::DW, Reg::R7, offset(at + 8), errno)
            .jump(matched);
    }

    /// In a tree being cut (`site.split`, outside any function), a node of at most
    /// [`CHUNK_COST`] becomes a call of a function of its own, emitted after the program:
    /// `true` when it did. The call passes r1–r3 as they are (the length, the word, the masked
    /// word) and the scratch pointer in r5; the function answers [`CHUNK_MISS`],
    /// [`CHUNK_MATCHED`] (its leaf recorded the rule) or [`CHUNK_NEXT`] (to `next`).
    fn call_chunk(&mut self, body: ChunkBody, cost: usize, site: Site, next: Label) -> bool {
        if !site.split || site.through.is_some() || cost > CHUNK_COST {
            return false;
        }
        let start = self.asm.new_label();
        self.asm
            .mov64_reg(Reg::R5, Reg::R7)
            .call_function(start)
            .jump_imm(JmpCond::Eq, Reg::R0, CHUNK_MATCHED, site.matched);
        if let ChunkBody::Ending { k, .. } = body {
            // On to the prefixes ending in the word's next bytes, with the length and the
            // word the call clobbered loaded again.
            self.asm
                .jump_imm(JmpCond::Ne, Reg::R0, CHUNK_NEXT, site.miss)
                .load(Size::DW, Reg::R1, Reg::R10, site.slot);
            let (base, at) = site.word(k);
            self.asm.load(Size::DW, Reg::R2, base, at).jump(next);
        } else {
            self.asm.jump(site.miss);
        }
        self.chunks.push(Chunk {
            start,
            body,
            b: site.b,
            slot: site.slot,
            origin: self.asm.current_origin(),
        });
        true
    }

    /// The functions [`Self::call_chunk`] called, after the program's code.
    pub(super) fn emit_chunks(&mut self) {
        let chunks = std::mem::take(&mut self.chunks);
        for (n, chunk) in chunks.into_iter().enumerate() {
            let (miss, matched, next) = (
                self.asm.new_label(),
                self.asm.new_label(),
                self.asm.new_label(),
            );
            self.asm.set_origin(chunk.origin);
            self.asm
                .function(&format!("set{n}"), chunk.start)
                .mov64_reg(Reg::R7, Reg::R5);
            let site = Site {
                b: chunk.b,
                slot: chunk.slot,
                miss,
                matched,
                split: false,
                through: None,
            };
            match chunk.body {
                ChunkBody::Lengths(groups) => self.length_search(&groups, site),
                ChunkBody::Words { words, len, k } => self.word_search(&words, len, k, site),
                ChunkBody::Ending { group, k } => self.ending_search(&group, k, next, site),
                ChunkBody::Longer { words, k } => self.longer_search(&words, k, site),
            }
            for (label, answer) in [
                (miss, CHUNK_MISS),
                (matched, CHUNK_MATCHED),
                (next, CHUNK_NEXT),
            ] {
                self.asm.bind(label).mov64_imm(Reg::R0, answer).exit();
            }
        }
        self.asm.set_origin(None);
    }

    /// Binary search on the length in r1 among the groups' lengths.
    pub(super) fn length_search(&mut self, groups: &[(usize, Vec<Entry>)], site: Site) {
        let cost = groups.iter().map(|(_, e)| entries_cost(e, 0)).sum();
        if groups.len() > 1
            && self.call_chunk(ChunkBody::Lengths(groups.to_vec()), cost, site, site.miss)
        {
            return;
        }
        match groups {
            [] => {
                self.asm.jump(site.miss);
            }
            [(len, entries)] => {
                self.asm
                    .jump_imm(JmpCond::Ne, Reg::R1, *len as i32, site.miss);
                self.word_trie(entries.clone(), *len, 0, site);
            }
            [_, _, ..] => {
                let (low, high) = groups.split_at(groups.len() / 2);
                let right = self.asm.new_label();
                self.asm
                    .jump_imm(JmpCond::Ge, Reg::R1, high[0].0 as i32, right);
                self.length_search(low, site);
                self.asm.bind(right);
                self.length_search(high, site);
            }
        }
    }

    /// Literals of length `len` that agree on words `..k`: load word `k` into r2 and search
    /// among their values in it.
    pub(super) fn word_trie(&mut self, entries: Vec<Entry>, len: usize, k: usize, site: Site) {
        if k * 8 >= len {
            // Every word compared equal: one literal is left.
            match entries.first() {
                Some((_, leaf)) => self.leaf(*leaf, site),
                None => {
                    self.asm.jump(site.miss);
                }
            };
            return;
        }
        let bytes = (len - k * 8).min(8);
        let (size, drop) = site.tail(bytes);
        let (base, at) = site.word(k);
        self.asm.load(size, Reg::R2, base, at);
        if drop > 0 {
            self.asm.alu64_imm(AluOp::Lsh, Reg::R2, drop as i32);
        }
        let mut by_word: BTreeMap<u64, Vec<Entry>> = BTreeMap::new();
        for (literal, leaf) in entries {
            let mut word = [0u8; 8];
            word[..bytes].copy_from_slice(&literal[k * 8..k * 8 + bytes]);
            by_word
                .entry(u64::from_le_bytes(word) << drop)
                .or_default()
                .push((literal, leaf));
        }
        let words: Vec<(u64, Vec<Entry>)> = by_word.into_iter().collect();
        self.word_search(&words, len, k, site);
    }

    /// Binary search on r2 among the words' values (unsigned, as they sort).
    fn word_search(&mut self, words: &[(u64, Vec<Entry>)], len: usize, k: usize, site: Site) {
        let cost = words.iter().map(|(_, e)| entries_cost(e, k)).sum();
        if words.len() > 1
            && self.call_chunk(
                ChunkBody::Words {
                    words: words.to_vec(),
                    len,
                    k,
                },
                cost,
                site,
                site.miss,
            )
        {
            return;
        }
        match words {
            [] => {
                self.asm.jump(site.miss);
            }
            [(word, entries)] => {
                self.jump_word(JmpCond::Ne, *word, site.miss);
                self.word_trie(entries.clone(), len, k + 1, site);
            }
            [_, _, ..] => {
                let (low, high) = words.split_at(words.len() / 2);
                let right = self.asm.new_label();
                self.jump_word(JmpCond::Ge, high[0].0, right);
                self.word_search(low, len, k, site);
                self.asm.bind(right);
                self.word_search(high, len, k, site);
            }
        }
    }

    /// Jumps to `target` when r2, a word `word_trie` loaded, compares with `word` as `cond`
    /// (unsigned): against an immediate where one holds it, else through r3. A word of at
    /// most four bytes was loaded zero-extended, so a 32-bit compare sees all of it.
    fn jump_word(&mut self, cond: JmpCond, word: u64, target: Label) {
        if word <= i32::MAX as u64 {
            self.asm.jump_imm(cond, Reg::R2, word as i32, target);
        } else if word <= u64::from(u32::MAX) {
            self.asm
                .jump32_imm(cond, Reg::R2, word as u32 as i32, target);
        } else {
            self.load_constant(Reg::R3, word);
            self.asm.jump_reg(cond, Reg::R2, Reg::R3, target);
        }
    }

    /// Prefixes (none a prefix of another) that agree with the string on words `..k`, each
    /// longer than `8 * k` bytes: load word `k` into r2; compare the prefixes that end in it,
    /// masked to their bytes, with the string's length (r1) checked; search the longer ones.
    pub(super) fn prefix_trie(&mut self, entries: Vec<Entry>, k: usize, site: Site) {
        if entries.is_empty() {
            self.asm.jump(site.miss);
            return;
        }
        let (base, at) = site.word(k);
        self.asm.load(Size::DW, Reg::R2, base, at);
        let mut ending: BTreeMap<usize, Vec<(u64, Entry)>> = BTreeMap::new();
        let mut longer: BTreeMap<u64, Vec<Entry>> = BTreeMap::new();
        for (prefix, leaf) in entries {
            let bytes = (prefix.len() - 8 * k).min(8);
            let mut word = [0u8; 8];
            word[..bytes].copy_from_slice(&prefix[8 * k..8 * k + bytes]);
            let word = u64::from_le_bytes(word);
            if prefix.len() <= 8 * (k + 1) {
                ending
                    .entry(bytes)
                    .or_default()
                    .push((word, (prefix, leaf)));
            } else {
                longer.entry(word).or_default().push((prefix, leaf));
            }
        }
        for (bytes, mut group) in ending {
            let next = self.asm.new_label();
            if bytes < 8 {
                // The string's bytes past the prefix's are masked out (little endian: the
                // high ones).
                self.load_constant(Reg::R4, (1u64 << (8 * bytes)) - 1);
                self.asm
                    .mov64_reg(Reg::R3, Reg::R2)
                    .alu64_reg(AluOp::And, Reg::R3, Reg::R4);
            } else {
                self.asm.mov64_reg(Reg::R3, Reg::R2);
            }
            if let Some(last) = shared_last_byte(&group, bytes) {
                // Directory prefixes of one length in a word all end in `/`: a string whose
                // byte there is not the shared one can match none of them, so one compare
                // spares it the search. Without it every length's search runs on every
                // string, and ten thousand numbered directories (`/srv/app0/` ..
                // `/srv/app9999/`, four lengths of about 13 compares each) cost a miss three
                // times what ten do.
                self.asm
                    .mov64_reg(Reg::R4, Reg::R3)
                    .alu64_imm(AluOp::Rsh, Reg::R4, 8 * (bytes as i32 - 1))
                    .jump_imm(JmpCond::Ne, Reg::R4, last as i32, next);
            }
            group.sort_by_key(|(word, _)| *word);
            self.ending_search(&group, k, next, site);
            self.asm.bind(next);
        }
        let longer: Vec<(u64, Vec<Entry>)> = longer.into_iter().collect();
        self.longer_search(&longer, k, site);
    }

    /// Binary search on r3 among prefixes ending in this word: on the equal one, the string
    /// has it when it is at least as long (the buffer past the string is stale); none equal
    /// goes to `next`. At most one prefix matches, so a failed length check is a miss.
    fn ending_search(&mut self, group: &[(u64, Entry)], k: usize, next: Label, site: Site) {
        let cost = group.len() * ENDING_COST;
        let body = ChunkBody::Ending {
            group: group.to_vec(),
            k,
        };
        if group.len() > 1 && self.call_chunk(body, cost, site, next) {
            return;
        }
        match group {
            [] => {
                self.asm.jump(next);
            }
            [(word, (prefix, leaf))] => {
                self.load_constant(Reg::R4, *word);
                self.asm
                    .jump_reg(JmpCond::Ne, Reg::R3, Reg::R4, next)
                    .jump_imm(JmpCond::Lt, Reg::R1, prefix.len() as i32, site.miss);
                self.leaf(*leaf, site);
            }
            [_, _, ..] => {
                let (low, high) = group.split_at(group.len() / 2);
                let right = self.asm.new_label();
                self.load_constant(Reg::R4, high[0].0);
                self.asm.jump_reg(JmpCond::Ge, Reg::R3, Reg::R4, right);
                self.ending_search(low, k, next, site);
                self.asm.bind(right);
                self.ending_search(high, k, next, site);
            }
        }
    }

    /// Binary search on r2 among the longer prefixes' values in this word, then on to the
    /// next word with those that agree.
    fn longer_search(&mut self, words: &[(u64, Vec<Entry>)], k: usize, site: Site) {
        let cost = words.iter().map(|(_, e)| entries_cost(e, k)).sum();
        if words.len() > 1
            && self.call_chunk(
                ChunkBody::Longer {
                    words: words.to_vec(),
                    k,
                },
                cost,
                site,
                site.miss,
            )
        {
            return;
        }
        match words {
            [] => {
                self.asm.jump(site.miss);
            }
            [(word, entries)] => {
                self.load_constant(Reg::R4, *word);
                self.asm.jump_reg(JmpCond::Ne, Reg::R2, Reg::R4, site.miss);
                self.prefix_trie(entries.clone(), k + 1, site);
            }
            [_, _, ..] => {
                let (low, high) = words.split_at(words.len() / 2);
                let right = self.asm.new_label();
                self.load_constant(Reg::R4, high[0].0);
                self.asm.jump_reg(JmpCond::Ge, Reg::R2, Reg::R4, right);
                self.longer_search(low, k, site);
                self.asm.bind(right);
                self.longer_search(high, k, site);
            }
        }
    }
}

/// The [`tree_cost`] of every literal `cond` compares a string with or starts a directory
/// glob with: the most a literal tree of its rule could take.
pub(super) fn cond_tree_cost(cond: &Cond) -> usize {
    match cond {
        Cond::And(items) | Cond::Or(items) => items.iter().map(cond_tree_cost).sum(),
        Cond::Not(inner) => cond_tree_cost(inner),
        Cond::Test {
            pred: Pred::StrEq(bytes),
            ..
        } => tree_cost(std::iter::once(bytes.as_slice())),
        Cond::Test {
            pred: Pred::Glob { alternatives, .. },
            ..
        } => {
            let prefixes: Vec<Vec<u8>> = alternatives
                .iter()
                .filter_map(|a| directory_prefix(a))
                .collect();
            tree_cost(prefixes.iter().map(Vec::as_slice))
        }
        Cond::Test { .. } | Cond::Const(_) => 0,
    }
}

/// Below this many prefixes ending in one word at one length, their search is already as
/// cheap as the filter on their last byte that would precede it.
const LAST_BYTE_FILTER_MIN: usize = 3;

/// The byte that every prefix of `group` (prefixes ending in one word after `bytes` of it)
/// has last, when they share one and are enough to be worth testing it first.
fn shared_last_byte(group: &[(u64, Entry)], bytes: usize) -> Option<u8> {
    if group.len() < LAST_BYTE_FILTER_MIN {
        return None;
    }
    let last = |word: u64| (word >> (8 * (bytes - 1))) as u8;
    let first = last(group.first()?.0);
    group
        .iter()
        .all(|(word, _)| last(*word) == first)
        .then_some(first)
}

/// [`tree_cost`] of entries that agree on their first `k` words (which cost nothing more).
fn entries_cost(entries: &[Entry], k: usize) -> usize {
    entries
        .iter()
        .map(|(l, _)| tree_cost(std::iter::once(l.get(8 * k..).unwrap_or_default())))
        .sum()
}
