//! The globs one string is tested against, merged into one deterministic automaton.
//!
//! Every glob test on one value of one event (each `path ~ "..."` of exec's rules) becomes a
//! position of one automaton over bytes, so that a compiled program scans the string once,
//! whatever the number of globs: a step costs the same for one glob as for a thousand. The
//! automaton is built by subset construction over the globs' alternatives (a state is the set
//! of pattern positions still alive, states with equal sets are one state) and runs over byte
//! classes (bytes no pattern tells apart share a column). Each state carries an *accept set*:
//! the globs that match a string ending there. After the scan, a glob test is "is the final
//! state's accept set one that holds this glob?", so the rules keep their own order, actions
//! and other conditions exactly as they are written.
//!
//! The transition table is compressed for the kernel (a read-only BPF array map): each state
//! keeps its most frequent successor as a default, and only the transitions that differ are
//! stored, in one comb vector shared by all states (row displacement, as lex does): entry
//! `base(state) + class` holds `(owner, next)`, and a state reads its own transition there
//! when `owner` is itself, its default otherwise. An automaton of few states and classes
//! keeps its whole table instead, one byte per transition: a step is then one load in place
//! of two and a compare, and both the scan's run time and the verifier's walk of it (a loop
//! it follows byte by byte, on 6.1 once per state it arrives in) take about half the
//! instructions. See [`Table`] and [`Step`].

use crate::glob::{Glob, Token};
use crate::limits::STRING_CAP;
use std::collections::{BTreeMap, HashMap};

/// State 0 is the dead state: no pattern position is alive, no glob can match any longer.
pub const DEAD: u16 = 0;

/// The most states an automaton may have: state numbers are 16 bits, and the comb's free
/// entries are owned by `u16::MAX`.
pub const MAX_STATES: usize = 16_384;

/// The most bytes one automaton's table may take in kernel memory. A policy's maps beyond
/// the report ring buffer stay within 64 KiB; the string buffers and report maps take the
/// rest.
pub const MAX_TABLE_BYTES: usize = 48 * 1024;

/// The most bytes an automaton's full transition table may take to be kept whole
/// ([`Step::Dense`]) rather than compressed.
pub const MAX_DENSE_BYTES: usize = 8 * 1024;

/// The most tokens a trie-shaped pattern may have to be known to fit without building its
/// automaton ([`Automaton::check_alone`]).
const TRIE_TOKENS: usize = 40;

/// Why the globs could not be merged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AutomatonError {
    /// Subset construction passed [`MAX_STATES`].
    TooManyStates,
    /// The compressed table passed [`MAX_TABLE_BYTES`].
    TableTooLarge { bytes: usize },
}

impl std::fmt::Display for AutomatonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AutomatonError::TooManyStates => {
                write!(f, "its automaton needs more than {MAX_STATES} states")
            }
            AutomatonError::TableTooLarge { bytes } => write!(
                f,
                "its automaton table needs {bytes} bytes, more than {MAX_TABLE_BYTES}"
            ),
        }
    }
}

impl std::error::Error for AutomatonError {}

/// A deterministic automaton over bytes for a list of globs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Automaton {
    /// The class of each byte.
    pub classes: [u8; 256],
    pub class_count: usize,
    /// `transitions[state * class_count + class]`; row [`DEAD`] loops on itself.
    pub transitions: Vec<u16>,
    pub start: u16,
    /// The accept set of each state (an index into `accept_sets`).
    pub accepts: Vec<u16>,
    /// Sorted indices of the globs each accept set holds; set 0 is empty.
    pub accept_sets: Vec<Vec<u32>>,
}

/// One pattern position: alternative `alternative` (an index into the flattened list) after
/// its first `at` tokens.
type Position = (u32, u32);

impl Automaton {
    /// Merges `globs` (the tests, in any order: glob `i` is reported as `i`).
    ///
    /// An alternative that needs [`STRING_CAP`] bytes or more matches no string a program can
    /// hold (a known string is shorter), so it is left out rather than spelled out in states.
    pub fn build(globs: &[&Glob]) -> Result<Automaton, AutomatonError> {
        Automaton::construct(globs, false).map(|(automaton, _)| automaton)
    }

    /// Merges `globs` with a start state of its own for each: a scan begun in glob `i`'s
    /// (the `i`th state returned) can only accept glob `i`. Used for the remainders of globs
    /// found by their literal prefix ([`crate::dispatch`]), which one table then holds
    /// however many of them there are. [`Automaton::start`] is the first glob's.
    pub fn build_each(globs: &[&Glob]) -> Result<(Automaton, Vec<u16>), AutomatonError> {
        Automaton::construct(globs, true)
    }

    /// Whether `glob` alone fits an automaton table, as every pattern must before it can be
    /// merged with others.
    ///
    /// A pattern whose alternatives are literal bytes, each with at most a star at its end
    /// (`/etc/**`, `/usr/bin/{ls,cat}`, `/srv/app1/bin/tool`), is a trie. Its states are the
    /// trie's nodes, each node again once past it with its single stars alive and once with
    /// them ended by a `/`, and the dead state: `3 × (tokens + 1) + 1`. Its classes are one
    /// per distinct test and one for the rest. With [`TRIE_TOKENS`] tokens or fewer that is
    /// at most 128 states and 64 classes, whose dense table (8 KiB) is kept whole, so the
    /// pattern fits without being built. Building it is what the checker did for each of ten
    /// thousand rules; every other pattern still is.
    pub fn check_alone(glob: &Glob) -> Result<(), AutomatonError> {
        let trie = glob.alternatives.iter().all(|alternative| {
            let body = match alternative.split_last() {
                Some((last, body)) if last.is_star() => body,
                _ => alternative.as_slice(),
            };
            body.iter().all(|token| matches!(token, Token::Byte(_)))
        });
        let tokens: usize = glob.alternatives.iter().map(Vec::len).sum();
        if trie && tokens <= TRIE_TOKENS {
            return Ok(());
        }
        Automaton::build(&[glob])?.table().map(drop)
    }

    fn construct(globs: &[&Glob], each: bool) -> Result<(Automaton, Vec<u16>), AutomatonError> {
        let alternatives: Vec<(u32, &[Token])> = globs
            .iter()
            .enumerate()
            .flat_map(|(g, glob)| {
                glob.alternatives
                    .iter()
                    .filter(|a| a.iter().filter(|t| !t.is_star()).count() < STRING_CAP)
                    .map(move |a| (g as u32, a.as_slice()))
            })
            .collect();
        let (classes, class_count, representatives) = byte_classes(&alternatives);

        let close = |set: &mut Vec<Position>| {
            // Stars are never adjacent after parsing, so one pass reaches the closure.
            let mut closed = Vec::with_capacity(set.len());
            for &(a, at) in set.iter() {
                closed.push((a, at));
                let tokens = alternatives[a as usize].1;
                if tokens.get(at as usize).is_some_and(Token::is_star) {
                    closed.push((a, at + 1));
                }
            }
            closed.sort_unstable();
            closed.dedup();
            *set = closed;
        };
        let accept_of = |set: &[Position]| -> Vec<u32> {
            let mut globs: Vec<u32> = set
                .iter()
                .filter(|(a, at)| alternatives[*a as usize].1.len() == *at as usize)
                .map(|(a, _)| alternatives[*a as usize].0)
                .collect();
            globs.sort_unstable();
            globs.dedup();
            globs
        };

        let mut ids: HashMap<Vec<Position>, u16> = HashMap::new();
        let mut sets: Vec<Vec<Position>> = vec![Vec::new()];
        ids.insert(Vec::new(), DEAD);
        // The start sets: every alternative alive, or (each) one glob's alternatives.
        let initial: Vec<Vec<Position>> = if each {
            // One pass over the alternatives, not one per glob: ten thousand dispatched
            // globs made that a hundred million steps.
            let mut per_glob = vec![Vec::new(); globs.len()];
            for (a, (g, _)) in alternatives.iter().enumerate() {
                per_glob[*g as usize].push((a as u32, 0));
            }
            per_glob
        } else {
            vec![(0..alternatives.len() as u32).map(|a| (a, 0)).collect()]
        };
        let mut starts = Vec::with_capacity(initial.len());
        for mut start in initial {
            close(&mut start);
            let id = match ids.get(&start) {
                Some(id) => *id,
                None => {
                    let id = sets.len() as u16;
                    ids.insert(start.clone(), id);
                    sets.push(start);
                    id
                }
            };
            starts.push(id);
        }
        if sets.len() > MAX_STATES {
            return Err(AutomatonError::TooManyStates);
        }
        let start_id = starts.first().copied().unwrap_or(DEAD);
        let mut transitions: Vec<u16> = vec![DEAD; class_count];
        let mut next_state = 1;
        while next_state < sets.len() {
            let set = sets[next_state].clone();
            next_state += 1;
            for &byte in &representatives {
                let mut next: Vec<Position> = Vec::new();
                for &(a, at) in &set {
                    let Some(token) = alternatives[a as usize].1.get(at as usize) else {
                        continue;
                    };
                    if token.accepts(byte) {
                        next.push((a, if token.is_star() { at } else { at + 1 }));
                    }
                }
                close(&mut next);
                let id = match ids.get(&next) {
                    Some(id) => *id,
                    None => {
                        if sets.len() >= MAX_STATES {
                            return Err(AutomatonError::TooManyStates);
                        }
                        let id = sets.len() as u16;
                        ids.insert(next.clone(), id);
                        sets.push(next);
                        id
                    }
                };
                transitions.push(id);
            }
        }
        let mut accept_ids: BTreeMap<Vec<u32>, u16> = BTreeMap::new();
        accept_ids.insert(Vec::new(), 0);
        let mut accept_sets = vec![Vec::new()];
        let mut accepts = Vec::with_capacity(sets.len());
        for set in &sets {
            let globs = accept_of(set);
            let id = *accept_ids.entry(globs.clone()).or_insert_with(|| {
                accept_sets.push(globs);
                (accept_sets.len() - 1) as u16
            });
            accepts.push(id);
        }
        let automaton = Automaton {
            classes,
            class_count,
            transitions,
            start: start_id,
            accepts,
            accept_sets,
        };
        Ok((automaton, starts))
    }

    pub fn state_count(&self) -> usize {
        self.accepts.len()
    }

    /// The accept set of the state `text` leads to.
    pub fn run(&self, text: &[u8]) -> u16 {
        self.run_from(self.start, text)
    }

    /// The accept set of the state `text` leads to from state `state`.
    pub fn run_from(&self, mut state: u16, text: &[u8]) -> u16 {
        for &byte in text {
            let class = usize::from(self.classes[usize::from(byte)]);
            state = self.transitions[usize::from(state) * self.class_count + class];
            if state == DEAD {
                break;
            }
        }
        self.accepts[usize::from(state)]
    }

    /// Whether glob `glob` matches `text`.
    pub fn matches(&self, glob: u32, text: &[u8]) -> bool {
        self.accept_sets[usize::from(self.run(text))]
            .binary_search(&glob)
            .is_ok()
    }

    /// The accept sets that hold glob `glob`, ascending.
    pub fn accept_sets_with(&self, glob: u32) -> Vec<u16> {
        self.accept_sets
            .iter()
            .enumerate()
            .filter(|(_, set)| set.binary_search(&glob).is_ok())
            .map(|(id, _)| id as u16)
            .collect()
    }

    /// The compressed table (see [`Table`]).
    pub fn table(&self) -> Result<Table, AutomatonError> {
        Table::new(self)
    }
}

/// Bytes that every token treats alike form one class. Returns the class of each byte, the
/// number of classes and one byte of each class.
///
/// Classes are refined one distinct test at a time (each class splits into the bytes the
/// test accepts and the rest), and each refinement numbers classes in the order of their
/// lowest byte, so the result is numbered as the bytes first show each signature. Every
/// pattern of a policy is built alone once by the checker; refining in place keeps that free
/// of an allocation per byte.
fn byte_classes(alternatives: &[(u32, &[Token])]) -> ([u8; 256], usize, Vec<u8>) {
    // The distinct single-byte tests the patterns make (stars test as `?` does; `**` and a
    // literal test nothing beyond their own byte).
    let mut literals = [false; 256];
    let mut tests: Vec<Token> = Vec::new();
    for (_, tokens) in alternatives {
        for token in tokens.iter() {
            let test = match token {
                Token::DoubleStar => continue,
                Token::Byte(b) if literals[usize::from(*b)] => continue,
                Token::Byte(b) => {
                    literals[usize::from(*b)] = true;
                    Token::Byte(*b)
                }
                Token::Star => Token::AnyByte,
                other => other.clone(),
            };
            if !tests.contains(&test) {
                tests.push(test);
            }
        }
    }
    let mut classes = [0u8; 256];
    let mut class_count = 1;
    for test in &tests {
        // The class of (old class, accepted) pairs, numbered as bytes first reach them.
        const UNSEEN: u16 = u16::MAX;
        let mut renumber = [UNSEEN; 512];
        let mut next = 0u16;
        for byte in 0..=255u8 {
            let key = usize::from(classes[usize::from(byte)]) * 2 + usize::from(test.accepts(byte));
            if renumber[key] == UNSEEN {
                renumber[key] = next;
                next += 1;
            }
            // At most 256 classes: one per byte.
            classes[usize::from(byte)] = renumber[key] as u8;
        }
        class_count = usize::from(next);
    }
    let mut representatives = Vec::with_capacity(class_count);
    for byte in 0..=255u8 {
        if usize::from(classes[usize::from(byte)]) == representatives.len() {
            representatives.push(byte);
        }
    }
    (classes, class_count, representatives)
}

/// The automaton as the compiled program reads it, one byte string:
///
/// ```text
///   offset 0              classes: 256 × u8, the class of each byte
///   offset accepts        per state u16: the accept set
///   and, by the Step:
///   Dense: offset at      per (state << class_bits | class) u8: the successor
///   Comb:  offset states  per state u32: base (low 16 bits) | default (high 16 bits)
///          offset comb    per entry u32: owner (low 16 bits) | next (high 16 bits)
/// ```
///
/// The program masks every index with a power of two less one ([`Table::state_mask`] and
/// those of the [`Step`]) so that the verifier can bound each load; the bytes are long
/// enough that a masked index stays inside them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    pub bytes: Vec<u8>,
    pub accepts: u32,
    /// Masks a state number (before scaling).
    pub state_mask: u32,
    pub step: Step,
    pub start: u16,
}

/// How a step finds a state's successor in a [`Table`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// The whole table, for at most 256 states: the successor of `state` on `class` is the
    /// byte at `at + ((state << class_bits | class) & mask)`.
    Dense { at: u32, class_bits: u32, mask: u32 },
    /// Row displacement: the entry at `comb + 4 * ((base + class) & comb_mask)` is the
    /// state's own when its owner is `state`, and then its `next` is the successor;
    /// otherwise the successor is the state's default.
    Comb {
        states: u32,
        comb: u32,
        comb_mask: u32,
    },
}

/// Which layout [`Table::with_layout`] writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    /// Dense when it fits [`MAX_DENSE_BYTES`], compressed otherwise.
    Smallest,
    #[cfg(test)]
    Comb,
}

/// A comb entry no state owns.
const FREE: u16 = u16::MAX;

impl Table {
    fn new(automaton: &Automaton) -> Result<Table, AutomatonError> {
        Table::with_layout(automaton, Layout::Smallest)
    }

    fn with_layout(automaton: &Automaton, layout: Layout) -> Result<Table, AutomatonError> {
        let n = automaton.state_count();
        let c = automaton.class_count;
        let state_mask = n.next_power_of_two() - 1;
        let class_bits = c.next_power_of_two().trailing_zeros();
        let dense_len = (state_mask + 1) << class_bits;
        if layout == Layout::Smallest && n <= 256 && dense_len <= MAX_DENSE_BYTES {
            let accepts = 256;
            let at = (accepts + 2 * (state_mask + 1)).next_multiple_of(8);
            let mut bytes = vec![0u8; at + dense_len];
            bytes[..256].copy_from_slice(&automaton.classes);
            for s in 0..n {
                bytes[accepts + 2 * s..accepts + 2 * s + 2]
                    .copy_from_slice(&automaton.accepts[s].to_le_bytes());
                for (class, next) in automaton.transitions[s * c..(s + 1) * c].iter().enumerate() {
                    // At most 256 states: every successor is one byte.
                    bytes[at + (s << class_bits | class)] = *next as u8;
                }
            }
            return Ok(Table {
                bytes,
                accepts: accepts as u32,
                state_mask: state_mask as u32,
                step: Step::Dense {
                    at: at as u32,
                    class_bits,
                    mask: (dense_len - 1) as u32,
                },
                start: automaton.start,
            });
        }
        let row = |s: usize| &automaton.transitions[s * c..(s + 1) * c];
        let mut defaults = vec![DEAD; n];
        let mut exceptions: Vec<Vec<(usize, u16)>> = vec![Vec::new(); n];
        for s in 0..n {
            let mut counts: HashMap<u16, usize> = HashMap::new();
            for &next in row(s) {
                *counts.entry(next).or_default() += 1;
            }
            // The most frequent successor, the lowest on a tie (deterministic output).
            let default = counts
                .iter()
                .max_by_key(|(next, count)| (**count, std::cmp::Reverse(**next)))
                .map_or(DEAD, |(next, _)| *next);
            defaults[s] = default;
            exceptions[s] = row(s)
                .iter()
                .enumerate()
                .filter(|(_, next)| **next != default)
                .map(|(class, next)| (class, *next))
                .collect();
        }
        // First fit, the states with most exceptions first.
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by_key(|s| std::cmp::Reverse(exceptions[*s].len()));
        let mut comb: Vec<(u16, u16)> = Vec::new();
        let mut bases = vec![0usize; n];
        let mut first_free = 0usize;
        for s in order {
            if exceptions[s].is_empty() {
                continue;
            }
            let lowest = exceptions[s][0].0;
            let mut base = first_free.saturating_sub(lowest);
            loop {
                let fits = exceptions[s]
                    .iter()
                    .all(|(class, _)| comb.get(base + class).is_none_or(|e| e.0 == FREE));
                if fits {
                    break;
                }
                base += 1;
            }
            if comb.len() < base + c {
                comb.resize(base + c, (FREE, DEAD));
            }
            for (class, next) in &exceptions[s] {
                comb[base + class] = (s as u16, *next);
            }
            bases[s] = base;
            while comb.get(first_free).is_some_and(|e| e.0 != FREE) {
                first_free += 1;
            }
        }
        if comb.len() < c {
            comb.resize(c, (FREE, DEAD));
        }
        // Every base is below the comb's length, so a table that fits MAX_TABLE_BYTES (checked
        // below) has bases that fit the 16 bits of a state's record.
        const _: () = assert!(MAX_TABLE_BYTES / 4 <= u16::MAX as usize);
        let comb_mask = comb.len().next_power_of_two() - 1;
        let states = 256;
        let accepts = states + 4 * n;
        let comb_at = (accepts + 2 * n).next_multiple_of(4);
        // Masked indices reach at most mask + 1 entries past each region's start. The state
        // records' reach, 4 (mask + 1) bytes past `states`, ends before the accepts' does:
        // `accepts` is 4 n bytes past `states`, and mask + 1 is below 2 n.
        let len = (comb_at + 4 * (comb_mask + 1)).max(accepts + 2 * (state_mask + 1));
        if len > MAX_TABLE_BYTES {
            return Err(AutomatonError::TableTooLarge { bytes: len });
        }
        let mut bytes = vec![0u8; len];
        bytes[..256].copy_from_slice(&automaton.classes);
        for s in 0..n {
            let record = (bases[s] as u32) | (u32::from(defaults[s]) << 16);
            bytes[states + 4 * s..states + 4 * s + 4].copy_from_slice(&record.to_le_bytes());
            bytes[accepts + 2 * s..accepts + 2 * s + 2]
                .copy_from_slice(&automaton.accepts[s].to_le_bytes());
        }
        for (i, (owner, next)) in comb.iter().enumerate() {
            let entry = u32::from(*owner) | (u32::from(*next) << 16);
            bytes[comb_at + 4 * i..comb_at + 4 * i + 4].copy_from_slice(&entry.to_le_bytes());
        }
        Ok(Table {
            bytes,
            accepts: accepts as u32,
            state_mask: state_mask as u32,
            step: Step::Comb {
                states: states as u32,
                comb: comb_at as u32,
                comb_mask: comb_mask as u32,
            },
            start: automaton.start,
        })
    }

    /// The accept set `text` leads to, read from the bytes exactly as the compiled program
    /// reads them (masks included): the model the code generator follows.
    pub fn run(&self, text: &[u8]) -> u16 {
        let u32_at = |at: usize| {
            let mut word = [0u8; 4];
            word.copy_from_slice(&self.bytes[at..at + 4]);
            u32::from_le_bytes(word)
        };
        let mut state = u32::from(self.start);
        for &byte in text {
            let class = u32::from(self.bytes[usize::from(byte)]);
            state = match self.step {
                Step::Dense {
                    at,
                    class_bits,
                    mask,
                } => {
                    let index = ((state & self.state_mask) << class_bits | class) & mask;
                    u32::from(self.bytes[(at + index) as usize])
                }
                Step::Comb {
                    states,
                    comb,
                    comb_mask,
                } => {
                    let record = u32_at((states + 4 * (state & self.state_mask)) as usize);
                    let (base, default) = (record & 0xffff, record >> 16);
                    let entry = u32_at((comb + 4 * ((base + class) & comb_mask)) as usize);
                    if entry & 0xffff == state {
                        entry >> 16
                    } else {
                        default
                    }
                }
            };
            if state == u32::from(DEAD) {
                break;
            }
        }
        let at = (self.accepts + 2 * (state & self.state_mask)) as usize;
        u16::from_le_bytes([self.bytes[at], self.bytes[at + 1]])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn globs(patterns: &[&str]) -> Vec<Glob> {
        patterns
            .iter()
            .map(|p| match Glob::parse(p) {
                Ok(g) => g,
                Err(e) => panic!("{p}: {e:?}"),
            })
            .collect()
    }

    fn strings(alphabet: &[u8], max: usize) -> Vec<Vec<u8>> {
        let mut all = vec![Vec::new()];
        let mut last = vec![Vec::new()];
        for _ in 0..max {
            let mut next = Vec::new();
            for s in &last {
                for &b in alphabet {
                    let mut t: Vec<u8> = s.clone();
                    t.push(b);
                    next.push(t);
                }
            }
            all.extend(next.iter().cloned());
            last = next;
        }
        all
    }

    #[test]
    fn merged_globs_agree_with_each_glob() {
        let patterns = [
            "/a/*",
            "/a/**",
            "**/b",
            "/a/?b",
            "[ab]*",
            "/{a,b}/**/b",
            "*",
            "/",
            "a",
            "",
        ];
        let globs = globs(&patterns);
        let refs: Vec<&Glob> = globs.iter().collect();
        let automaton = Automaton::build(&refs).unwrap_or_else(|e| panic!("{e}"));
        let table = automaton.table().unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(table.step, Step::Dense { .. }), "{:?}", table.step);
        let comb = Table::with_layout(&automaton, Layout::Comb).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(comb.step, Step::Comb { .. }), "{:?}", comb.step);
        for text in strings(b"ab/c", 6) {
            let set = automaton.run(&text);
            assert_eq!(table.run(&text), set, "{text:?}");
            assert_eq!(comb.run(&text), set, "{text:?}");
            for (g, glob) in globs.iter().enumerate() {
                assert_eq!(
                    automaton.matches(g as u32, &text),
                    glob.matches(&text),
                    "{} on {:?}",
                    glob.pattern,
                    String::from_utf8_lossy(&text)
                );
            }
        }
    }

    #[test]
    fn a_thousand_globs_fit() {
        let patterns: Vec<String> = (0..1000).map(|i| format!("/opt/*/bin/tool{i}")).collect();
        let refs: Vec<&str> = patterns.iter().map(String::as_str).collect();
        let globs = globs(&refs);
        let refs: Vec<&Glob> = globs.iter().collect();
        let automaton = Automaton::build(&refs).unwrap_or_else(|e| panic!("{e}"));
        let table = automaton.table().unwrap_or_else(|e| panic!("{e}"));
        assert!(table.bytes.len() <= MAX_TABLE_BYTES);
        // Thousands of states: compressed.
        assert!(matches!(table.step, Step::Comb { .. }), "{:?}", table.step);
        assert!(!automaton.matches(417, b"/opt/x/y/bin/tool417"));
        // Every tool: past 256 accept sets their numbers need both bytes of a table entry,
        // so this also checks that the table is read as 16-bit little-endian numbers.
        for i in 0..1000u32 {
            let text = format!("/opt/x/bin/tool{i}");
            assert!(automaton.matches(i, text.as_bytes()), "{text}");
            assert_eq!(
                table.run(text.as_bytes()),
                automaton.run(text.as_bytes()),
                "{text}"
            );
        }
    }

    #[test]
    fn no_globs_is_the_dead_state() {
        let automaton = Automaton::build(&[]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(automaton.run(b"/x"), 0);
        let table = automaton.table().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(table.run(b"/x"), 0);
    }

    /// Every read the compiled program can form lies inside the table. The verifier does not
    /// know which states are reachable: it takes a masked state as any value up to the mask,
    /// so each region must hold its mask's whole range, not only the states there are.
    fn assert_masked_reads_fit(table: &Table) {
        let len = table.bytes.len();
        let last_state = table.state_mask as usize;
        assert!(len >= 256, "the class bytes");
        assert!(
            table.accepts as usize + 2 * last_state + 2 <= len,
            "the accept set of state {last_state}: {len} bytes"
        );
        match table.step {
            Step::Dense { at, mask, .. } => {
                assert!(at as usize + (mask as usize) < len, "the dense rows");
            }
            Step::Comb {
                states,
                comb,
                comb_mask,
            } => {
                assert!(
                    states as usize + 4 * last_state + 4 <= len,
                    "the state records"
                );
                assert!(
                    comb as usize + 4 * comb_mask as usize + 4 <= len,
                    "the comb"
                );
            }
        }
    }

    #[test]
    fn masked_reads_fit_whichever_region_ends_last() {
        // Nine states and one class, each state its own successor: no state has an exception,
        // so the comb is a single entry and the accept region (sixteen masked states) ends last.
        let idle = Automaton {
            classes: [0; 256],
            class_count: 1,
            transitions: (0..9).collect(),
            start: 1,
            accepts: vec![0, 1, 0, 1, 0, 1, 0, 1, 0],
            accept_sets: vec![Vec::new(), vec![0]],
        };
        // The merged globs of the other tests: every region in use.
        let globs = globs(&["/a/*", "/{a,b}/**/b", "**/c", "[ab]?"]);
        let refs: Vec<&Glob> = globs.iter().collect();
        let merged = Automaton::build(&refs).unwrap_or_else(|e| panic!("{e}"));
        for automaton in [&idle, &merged] {
            for layout in [Layout::Smallest, Layout::Comb] {
                let table = Table::with_layout(automaton, layout).unwrap_or_else(|e| panic!("{e}"));
                assert_masked_reads_fit(&table);
                assert_eq!(table.run(b"ab"), automaton.run(b"ab"));
            }
        }
    }

    #[test]
    fn a_table_of_exactly_the_limit_is_built_and_one_state_more_is_refused() {
        // States that are their own successors on the one class have no exceptions, so the
        // length is the accept region's end: 256 + 4 n (records) + 2 * 8192 (masked accepts),
        // which is MAX_TABLE_BYTES at n = 8128.
        let idle = |n: u16| Automaton {
            classes: [0; 256],
            class_count: 1,
            transitions: (0..n).collect(),
            start: 1,
            accepts: vec![0; usize::from(n)],
            accept_sets: vec![Vec::new()],
        };
        let table = Table::new(&idle(8128)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(table.bytes.len(), MAX_TABLE_BYTES);
        assert_masked_reads_fit(&table);
        assert!(matches!(
            Table::new(&idle(8129)),
            Err(AutomatonError::TableTooLarge { bytes }) if bytes == MAX_TABLE_BYTES + 4
        ));
    }

    /// A small deterministic generator (the tests draw the same patterns on every run).
    struct Draw(u64);

    impl Draw {
        fn below(&mut self, n: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 33) % n
        }
    }

    /// Refining classes one test at a time gives what the definition says: two bytes share a
    /// class exactly when every test treats them alike, classes are numbered in the order of
    /// their lowest byte, and that byte represents each.
    #[test]
    fn byte_classes_group_the_bytes_every_test_treats_alike() {
        let samples = [
            "/etc/**",
            "/a?[b-d]*x",
            "{/usr/bin/[!a-c]?,/tmp/*.sh}",
            "**/[0-9][0-9]*[!.]",
            "[a-zA-Z_][!x-z]?",
            "",
        ];
        for pattern in samples {
            let glob = &globs(&[pattern])[0];
            let alternatives: Vec<(u32, &[Token])> = glob
                .alternatives
                .iter()
                .map(|a| (0, a.as_slice()))
                .collect();
            let (classes, count, representatives) = byte_classes(&alternatives);
            let tests: Vec<&Token> = glob.alternatives.iter().flatten().collect();
            let signature = |byte: u8| -> Vec<bool> {
                tests
                    .iter()
                    .filter(|t| !matches!(t, Token::DoubleStar))
                    .map(|t| t.accepts(byte))
                    .collect()
            };
            for a in 0..=255u8 {
                for b in 0..=255u8 {
                    assert_eq!(
                        classes[usize::from(a)] == classes[usize::from(b)],
                        signature(a) == signature(b),
                        "{pattern}: bytes {a} and {b}"
                    );
                }
            }
            assert_eq!(representatives.len(), count, "{pattern}");
            for (class, byte) in representatives.iter().enumerate() {
                assert_eq!(usize::from(classes[usize::from(*byte)]), class, "{pattern}");
                assert!(
                    (0..*byte).all(|lower| usize::from(classes[usize::from(lower)]) < class),
                    "{pattern}: class {class} is numbered before a class of a lower byte"
                );
            }
        }
    }

    /// What [`Automaton::check_alone`] assumes of the trie-shaped patterns it does not build:
    /// at most 128 states and 64 classes, a dense table. Drawn at the token limit, with many
    /// alternatives sharing prefixes, `/` where it ends single stars, both kinds of star.
    #[test]
    fn trie_patterns_at_the_limit_fit_as_check_alone_assumes() {
        let mut draw = Draw(0x6b727369);
        // Few bytes make long shared prefixes; many make many classes.
        let alphabets: [&[u8]; 2] = [
            b"ab/c.",
            b"/abcdefghijklmnopqrstuvwxyz0123456789.-_ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        ];
        for round in 0..3000 {
            let bytes = alphabets[round % 2];
            let mut alternatives: Vec<Vec<Token>> = Vec::new();
            let mut tokens = 0;
            while tokens < TRIE_TOKENS {
                let room = (TRIE_TOKENS - tokens) as u64;
                // Often a prefix of an earlier alternative, so that they share trie nodes.
                let mut body: Vec<Token> = match alternatives.last() {
                    Some(last) if draw.below(2) == 0 => {
                        let keep = draw.below(last.len() as u64 + 1) as usize;
                        last.iter()
                            .take(keep)
                            .filter(|t| !t.is_star())
                            .cloned()
                            .collect()
                    }
                    _ => Vec::new(),
                };
                let grow = draw.below(room.min(12) + 1) as usize;
                body.extend(
                    (0..grow).map(|_| Token::Byte(bytes[draw.below(bytes.len() as u64) as usize])),
                );
                match draw.below(3) {
                    0 => body.push(Token::Star),
                    1 => body.push(Token::DoubleStar),
                    _ => {}
                }
                if body.is_empty() || tokens + body.len() > TRIE_TOKENS {
                    break;
                }
                tokens += body.len();
                alternatives.push(body);
            }
            if round % 3 == 2 {
                // The most classes: one alternative of distinct bytes and a star.
                let mut body: Vec<Token> = (b'!'..=b'~')
                    .filter(|b| *b != b'/')
                    .take(TRIE_TOKENS - 1)
                    .map(Token::Byte)
                    .collect();
                body.push(Token::Star);
                alternatives = vec![body];
            }
            let glob = Glob {
                pattern: String::new(),
                alternatives,
            };
            let automaton = Automaton::build(&[&glob]).unwrap_or_else(|e| panic!("{e}"));
            assert!(automaton.state_count() <= 128, "{glob:?}");
            assert!(automaton.class_count <= 64, "{glob:?}");
            let table = automaton.table().unwrap_or_else(|e| panic!("{e}"));
            assert!(matches!(table.step, Step::Dense { .. }), "{glob:?}");
            assert_eq!(Automaton::check_alone(&glob), Ok(()));
        }
    }

    /// An alternative of [`STRING_CAP`] bytes or more matches no string a program holds (at
    /// most `STRING_CAP - 1` bytes and a NUL), so it is left out of the automaton rather
    /// than grow it past what a table holds; one a byte shorter is kept.
    #[test]
    fn alternatives_longer_than_any_string_are_left_out() {
        let long = |c: char, len: usize| format!("/{}", c.to_string().repeat(len - 1));
        let never = globs(&[&format!(
            "{{/a/*,{},{}}}",
            long('x', STRING_CAP),
            long('y', STRING_CAP)
        )]);
        let automaton = Automaton::build(&[&never[0]]).unwrap_or_else(|e| panic!("{e}"));
        assert!(automaton.state_count() < 10, "{}", automaton.state_count());
        assert!(automaton.matches(0, b"/a/b"));
        assert_eq!(Automaton::check_alone(&never[0]), Ok(()));
        let longest = long('x', STRING_CAP - 1);
        let kept = globs(&[&format!("{{/a/*,{longest}}}")]);
        let automaton = Automaton::build(&[&kept[0]]).unwrap_or_else(|e| panic!("{e}"));
        assert!(automaton.matches(0, longest.as_bytes()));
        assert!(!automaton.matches(0, &longest.as_bytes()[..STRING_CAP - 2]));
    }

    /// A scan begun at glob `i`'s start accepts only glob `i`, whatever the others match.
    #[test]
    fn each_globs_start_scans_that_glob_alone() {
        let patterns = globs(&["/a*", "/{a,b}x", "**"]);
        let refs: Vec<&Glob> = patterns.iter().collect();
        let (automaton, starts) = Automaton::build_each(&refs).unwrap_or_else(|e| panic!("{e}"));
        for text in [&b"/ax"[..], b"/bx", b"/c", b""] {
            for (g, start) in starts.iter().enumerate() {
                let accepted =
                    &automaton.accept_sets[usize::from(automaton.run_from(*start, text))];
                let expected: Vec<u32> = Vec::from_iter(refs[g].matches(text).then_some(g as u32));
                assert_eq!(accepted, &expected, "glob {g} on {text:?}");
            }
        }
    }

    /// Start states count against [`MAX_STATES`] like any other: globs that each begin a scan
    /// of their own fit while they and the dead state are at most the limit, and one more is
    /// refused, even when no state follows them (an empty glob's start leads only to the dead
    /// state).
    #[test]
    fn start_states_count_against_the_limit() {
        let empty = Glob {
            pattern: String::new(),
            alternatives: vec![Vec::new()],
        };
        let fitting = vec![&empty; MAX_STATES - 1];
        let (automaton, starts) = Automaton::build_each(&fitting).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(automaton.state_count(), MAX_STATES);
        assert_eq!(starts.len(), MAX_STATES - 1);
        let one_more = vec![&empty; MAX_STATES];
        assert!(matches!(
            Automaton::build_each(&one_more),
            Err(AutomatonError::TooManyStates)
        ));
    }

    /// A pattern that is not a trie is built, and refused when it does not fit.
    #[test]
    fn check_alone_builds_what_is_not_a_trie() {
        let blown = &globs(&["**a??????????????"])[0];
        assert_eq!(
            Automaton::check_alone(blown),
            Err(AutomatonError::TooManyStates)
        );
        let long = "/x".repeat(TRIE_TOKENS) + "/**";
        assert_eq!(Automaton::check_alone(&globs(&[&long])[0]), Ok(()));
        // A trie past TRIE_TOKENS is built too, and may not fit: 64 alternatives of 120
        // bytes each make 3 × 7,680 states and more.
        let alternatives: Vec<String> = (0..64)
            .map(|i| format!("/{i:02}{}", "abcdefgh".repeat(15)))
            .collect();
        let wide = format!("{{{}}}", alternatives.join(","));
        assert!(Automaton::check_alone(&globs(&[&wide])[0]).is_err());
    }
}
