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

use super::{offset, Buffer, ProgramGen};
use crate::bpf::{AluOp, JmpCond, Label, Reg, Size};
use crate::ir::{Cond, Pred, Rule, ValueId};
use lang::check::add_unnested;
use lang::glob::Token;
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
type Entry<'r> = (&'r [u8], Label);

impl ProgramGen<'_> {
    /// `rule`'s condition as a literal set over a counted string, if it is one.
    pub(super) fn literal_set(&self, rule: &Rule) -> Option<LiteralSet> {
        // Tests known to hold here (a gate every rule shares) leave the rest of an `and`.
        let cond = match &rule.cond {
            Cond::And(items) => {
                let mut rest = items.iter().filter(|c| !self.known_true.contains(c));
                match (rest.next(), rest.next()) {
                    (Some(only), None) => only,
                    _ => return None,
                }
            }
            other => other,
        };
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

    /// How many of `rules`, from the first, form a run over one value worth a tree: each a
    /// literal set over the same value with the same unknown outcome. 0 when none does.
    pub(super) fn literal_run(&self, rules: &[Rule]) -> usize {
        let Some(first) = rules.first().and_then(|r| self.literal_set(r)) else {
            return 0;
        };
        let mut literals = BTreeSet::new();
        let mut count = 0;
        let run = rules
            .iter()
            .map_while(|r| self.literal_set(r))
            .take_while(|s| {
                s.value == first.value
                    && s.on_unknown == first.on_unknown
                    && s.prefixes == first.prefixes
                    // A run of prefixes ends before the first rule that nests with another.
                    && (!s.prefixes || add_unnested(&mut literals, &s.literals))
            })
            .map(|s| count += s.literals.len())
            .count();
        if count < TREE_MIN_LITERALS {
            return 0;
        }
        run
    }

    /// The tree for the run `rules` (see [`Self::literal_run`]): a string equal to a literal
    /// of `rules[i]` (the first such rule) goes to `targets[i]`; an unknown string goes to the
    /// first rule's target when unknown counts as a match, else to `miss`, as does any other.
    pub(super) fn literal_tree(&mut self, rules: &[Rule], targets: &[Label], miss: Label) {
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
        let unknown = match (first.on_unknown, targets.first()) {
            (true, Some(target)) => *target,
            _ => miss,
        };
        // The first rule with a literal wins it; a literal as long as the buffer is no
        // string the kernel gave (and would be read past the buffer).
        if first.prefixes {
            let mut entries: BTreeMap<&[u8], Label> = BTreeMap::new();
            for (set, target) in sets.iter().zip(targets) {
                for literal in &set.literals {
                    if literal.len() < b.cap as usize {
                        entries.entry(literal).or_insert(*target);
                    }
                }
            }
            self.asm
                .load(Size::DW, Reg::R1, Reg::R10, self.layout.slots[i]);
            if self.program.values[i].kind.fallible() {
                self.asm.jump_imm(JmpCond::Slt, Reg::R1, 0, unknown);
            }
            let entries: Vec<Entry<'_>> = entries.into_iter().collect();
            self.prefix_trie(&entries, 0, b, miss);
            return;
        }
        let mut by_length: BTreeMap<usize, BTreeMap<&[u8], Label>> = BTreeMap::new();
        for (set, target) in sets.iter().zip(targets) {
            for literal in &set.literals {
                if literal.len() < b.cap as usize {
                    by_length
                        .entry(literal.len())
                        .or_default()
                        .entry(literal.as_slice())
                        .or_insert(*target);
                }
            }
        }
        self.asm
            .load(Size::DW, Reg::R1, Reg::R10, self.layout.slots[i]);
        if self.program.values[i].kind.fallible() {
            self.asm.jump_imm(JmpCond::Slt, Reg::R1, 0, unknown);
        }
        let groups: Vec<(usize, Vec<Entry<'_>>)> = by_length
            .into_iter()
            .map(|(len, entries)| (len, entries.into_iter().collect()))
            .collect();
        self.length_search(&groups, b, miss);
    }

    /// Binary search on the length in r1 among the groups' lengths.
    fn length_search(&mut self, groups: &[(usize, Vec<Entry<'_>>)], b: Buffer, miss: Label) {
        match groups {
            [] => {
                self.asm.jump(miss);
            }
            [(len, entries)] => {
                self.asm.jump_imm(JmpCond::Ne, Reg::R1, *len as i32, miss);
                self.word_trie(entries, *len, 0, b, miss);
            }
            _ => {
                let (low, high) = groups.split_at(groups.len() / 2);
                let right = self.asm.new_label();
                self.asm
                    .jump_imm(JmpCond::Ge, Reg::R1, high[0].0 as i32, right);
                self.length_search(low, b, miss);
                self.asm.bind(right);
                self.length_search(high, b, miss);
            }
        }
    }

    /// Literals of length `len` that agree on words `..k`: load word `k` into r2 and search
    /// among their values in it.
    fn word_trie(&mut self, entries: &[Entry<'_>], len: usize, k: usize, b: Buffer, miss: Label) {
        if k * 8 >= len {
            // Every word compared equal: one literal is left.
            match entries.first() {
                Some((_, target)) => self.asm.jump(*target),
                None => self.asm.jump(miss),
            };
            return;
        }
        let bytes = (len - k * 8).min(8);
        // Bytes past the end of a partial last word are shifted out (little endian: they are
        // the high bytes), as in `compare_words`.
        let drop = 8 * (8 - bytes as u32);
        self.asm
            .load(Size::DW, Reg::R2, Reg::R7, offset(b.offset + 8 * k as u32));
        if drop > 0 {
            self.asm.alu64_imm(AluOp::Lsh, Reg::R2, drop as i32);
        }
        let mut by_word: BTreeMap<u64, Vec<Entry<'_>>> = BTreeMap::new();
        for &(literal, target) in entries {
            let mut word = [0u8; 8];
            word[..bytes].copy_from_slice(&literal[k * 8..k * 8 + bytes]);
            by_word
                .entry(u64::from_le_bytes(word) << drop)
                .or_default()
                .push((literal, target));
        }
        let words: Vec<(u64, Vec<Entry<'_>>)> = by_word.into_iter().collect();
        self.word_search(&words, len, k, b, miss);
    }

    /// Binary search on r2 among the words' values (unsigned, as they sort).
    fn word_search(
        &mut self,
        words: &[(u64, Vec<Entry<'_>>)],
        len: usize,
        k: usize,
        b: Buffer,
        miss: Label,
    ) {
        match words {
            [] => {
                self.asm.jump(miss);
            }
            [(word, entries)] => {
                self.load_constant(Reg::R3, *word);
                self.asm.jump_reg(JmpCond::Ne, Reg::R2, Reg::R3, miss);
                self.word_trie(entries, len, k + 1, b, miss);
            }
            _ => {
                let (low, high) = words.split_at(words.len() / 2);
                let right = self.asm.new_label();
                self.load_constant(Reg::R3, high[0].0);
                self.asm.jump_reg(JmpCond::Ge, Reg::R2, Reg::R3, right);
                self.word_search(low, len, k, b, miss);
                self.asm.bind(right);
                self.word_search(high, len, k, b, miss);
            }
        }
    }

    /// Prefixes (none a prefix of another) that agree with the string on words `..k`, each
    /// longer than `8 * k` bytes: load word `k` into r2; compare the prefixes that end in it,
    /// masked to their bytes, with the string's length (r1) checked; search the longer ones.
    fn prefix_trie(&mut self, entries: &[Entry<'_>], k: usize, b: Buffer, miss: Label) {
        if entries.is_empty() {
            self.asm.jump(miss);
            return;
        }
        self.asm
            .load(Size::DW, Reg::R2, Reg::R7, offset(b.offset + 8 * k as u32));
        let mut ending: BTreeMap<usize, Vec<(u64, Entry<'_>)>> = BTreeMap::new();
        let mut longer: BTreeMap<u64, Vec<Entry<'_>>> = BTreeMap::new();
        for &(prefix, target) in entries {
            let bytes = (prefix.len() - 8 * k).min(8);
            let mut word = [0u8; 8];
            word[..bytes].copy_from_slice(&prefix[8 * k..8 * k + bytes]);
            let word = u64::from_le_bytes(word);
            if prefix.len() <= 8 * (k + 1) {
                ending
                    .entry(bytes)
                    .or_default()
                    .push((word, (prefix, target)));
            } else {
                longer.entry(word).or_default().push((prefix, target));
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
            group.sort_by_key(|(word, _)| *word);
            self.ending_search(&group, next, miss);
            self.asm.bind(next);
        }
        let longer: Vec<(u64, Vec<Entry<'_>>)> = longer.into_iter().collect();
        self.longer_search(&longer, k, b, miss);
    }

    /// Binary search on r3 among prefixes ending in this word: on the equal one, the string
    /// has it when it is at least as long (the buffer past the string is stale); none equal
    /// goes to `next`. At most one prefix matches, so a failed length check is a miss.
    fn ending_search(&mut self, group: &[(u64, Entry<'_>)], next: Label, miss: Label) {
        match group {
            [] => {
                self.asm.jump(next);
            }
            [(word, (prefix, target))] => {
                self.load_constant(Reg::R4, *word);
                self.asm
                    .jump_reg(JmpCond::Ne, Reg::R3, Reg::R4, next)
                    .jump_imm(JmpCond::Lt, Reg::R1, prefix.len() as i32, miss)
                    .jump(*target);
            }
            _ => {
                let (low, high) = group.split_at(group.len() / 2);
                let right = self.asm.new_label();
                self.load_constant(Reg::R4, high[0].0);
                self.asm.jump_reg(JmpCond::Ge, Reg::R3, Reg::R4, right);
                self.ending_search(low, next, miss);
                self.asm.bind(right);
                self.ending_search(high, next, miss);
            }
        }
    }

    /// Binary search on r2 among the longer prefixes' values in this word, then on to the
    /// next word with those that agree.
    fn longer_search(&mut self, words: &[(u64, Vec<Entry<'_>>)], k: usize, b: Buffer, miss: Label) {
        match words {
            [] => {
                self.asm.jump(miss);
            }
            [(word, entries)] => {
                self.load_constant(Reg::R4, *word);
                self.asm.jump_reg(JmpCond::Ne, Reg::R2, Reg::R4, miss);
                self.prefix_trie(entries, k + 1, b, miss);
            }
            _ => {
                let (low, high) = words.split_at(words.len() / 2);
                let right = self.asm.new_label();
                self.load_constant(Reg::R4, high[0].0);
                self.asm.jump_reg(JmpCond::Ge, Reg::R2, Reg::R4, right);
                self.longer_search(low, k, b, miss);
                self.asm.bind(right);
                self.longer_search(high, k, b, miss);
            }
        }
    }
}

/// The literal prefix of a glob alternative that is that prefix and a final `**` (a directory
/// rule); `None` for any other shape.
pub(super) fn directory_prefix(tokens: &[Token]) -> Option<Vec<u8>> {
    let (last, prefix) = tokens.split_last()?;
    if *last != Token::DoubleStar || prefix.is_empty() {
        return None;
    }
    prefix
        .iter()
        .map(|t| match t {
            Token::Byte(c) => Some(*c),
            _ => None,
        })
        .collect()
}
