//! Sets of literal strings: a run of consecutive rules that each match when one counted string
//! (a path, a kernel string) equals one of their literals (`path == "..."`, `path in [...]`)
//! becomes one decision tree instead of a compare chain. The tree dispatches on the length
//! (binary search), then on the string's 8-byte words in turn (binary search among the values
//! the remaining literals have in that word), so an event costs about log2(literals) + words
//! compares whatever the set's size, and ends at the first matching rule of the run, as the
//! chain would.

use super::{offset, Buffer, ProgramGen};
use crate::bpf::{AluOp, JmpCond, Label, Reg, Size};
use crate::ir::{Cond, Pred, Rule, ValueId};
use std::collections::BTreeMap;

/// Below this many literals a run stays a chain: the tree's setup costs about as much.
const TREE_MIN_LITERALS: usize = 4;

/// The literal set a rule's whole condition tests: the value, the literals, and the outcome
/// when the value is unknown.
pub(super) struct LiteralSet<'r> {
    value: ValueId,
    literals: Vec<&'r [u8]>,
    on_unknown: bool,
}

/// A literal and where the tree goes when the string equals it.
type Entry<'r> = (&'r [u8], Label);

impl ProgramGen<'_> {
    /// `rule`'s condition as a literal set over a counted string, if it is one.
    pub(super) fn literal_set<'r>(&self, rule: &'r Rule) -> Option<LiteralSet<'r>> {
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
        let mut set: Option<LiteralSet<'r>> = None;
        for test in tests {
            let Cond::Test {
                value,
                pred: Pred::StrEq(bytes),
                on_unknown,
            } = test
            else {
                return None;
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
                        literals: vec![bytes.as_slice()],
                        on_unknown: *on_unknown,
                    })
                }
                Some(s) if s.value == *value && s.on_unknown == *on_unknown => {
                    s.literals.push(bytes.as_slice())
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
        let mut literals = 0;
        let run = rules
            .iter()
            .map_while(|r| self.literal_set(r))
            .take_while(|s| s.value == first.value && s.on_unknown == first.on_unknown)
            .inspect(|s| literals += s.literals.len())
            .count();
        if literals >= TREE_MIN_LITERALS {
            run
        } else {
            0
        }
    }

    /// The tree for the run `rules` (see [`Self::literal_run`]): a string equal to a literal
    /// of `rules[i]` (the first such rule) goes to `targets[i]`; an unknown string goes to the
    /// first rule's target when unknown counts as a match, else to `miss`, as does any other.
    pub(super) fn literal_tree(&mut self, rules: &[Rule], targets: &[Label], miss: Label) {
        let sets: Vec<LiteralSet<'_>> = rules.iter().filter_map(|r| self.literal_set(r)).collect();
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
        let mut by_length: BTreeMap<usize, BTreeMap<&[u8], Label>> = BTreeMap::new();
        for (set, target) in sets.iter().zip(targets) {
            for literal in &set.literals {
                if literal.len() < b.cap as usize {
                    by_length
                        .entry(literal.len())
                        .or_default()
                        .entry(literal)
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
}
