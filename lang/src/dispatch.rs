//! Globs found by their literal prefix before any automaton runs.
//!
//! Policies often hold many globs that each begin with a literal of their own: a thousand
//! `/srv/appN/bin/t*l`. Merged into one automaton ([`crate::automaton`]) such globs share
//! nothing past their prefixes, so each adds its own chain of states, about 114 bytes of
//! table: 372 of them passed the 48 KiB one table may take. But when no glob's prefix starts
//! another's, a string starts with at most one of them, and only that glob can match it.
//! Such globs are *dispatched*: a decision tree over the prefixes (the trie directory rules
//! compile to) finds the one candidate, and one automaton of the distinct remainders (`*l`),
//! begun in that remainder's own start state ([`Automaton::build_each`]), scans the string's
//! tail from the prefix's end. The table grows with the distinct remainders, not with the
//! globs, and an event pays a search of the prefixes and a scan of the tail alone.
//!
//! The other globs on the string stay merged into the one automaton scanned from its start;
//! a glob test asks whichever holds its glob. The checker and the code generator both plan
//! with [`GlobPlan::new`], so that the table sizes the checker refuses are the ones built.

use crate::automaton::{Automaton, AutomatonError};
use crate::glob::{Glob, Token};
use crate::limits::STRING_CAP;
use std::collections::HashMap;

/// Fewer dispatchable globs than this stay merged when other globs on the string must be
/// merged anyway: one scan of a small automaton costs about what a search of the prefixes and
/// a second scan do. When every glob on the string is dispatchable, any number is dispatched:
/// there is no second scan, and the search of a few prefixes costs less than scanning them
/// (ten `/srv/appN/...` rules, exact paths, directories and globs in turn: 309-390 executed
/// instructions an event with their three globs merged, 74-164 dispatched).
pub const DISPATCH_MIN: usize = 8;

/// The automaton of dispatched globs' remainders, and each remainder's start state.
pub type Remainders = (Automaton, Vec<u16>);

/// How the globs tested on one string are matched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlobPlan {
    /// Indices of the globs merged into the automaton scanned from the string's start.
    pub merged: Vec<usize>,
    /// The globs found by their prefix: [`DISPATCH_MIN`] or more, or every glob on the string.
    pub dispatch: Option<Dispatch>,
}

/// Globs whose alternatives all begin with a literal prefix of the glob's own, which starts no
/// other's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dispatch {
    /// Indices of the dispatched globs, ascending; an [`Entry::glob`] indexes this list.
    pub globs: Vec<usize>,
    /// One per dispatched glob, sorted by prefix.
    pub entries: Vec<Entry>,
    /// The distinct remainders after the prefixes, each a glob of one alternative.
    pub remainders: Vec<Glob>,
}

/// A dispatched glob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub prefix: Vec<u8>,
    /// The glob: an index into [`Dispatch::globs`].
    pub glob: u32,
    /// What must match the rest of the string: an index into [`Dispatch::remainders`].
    pub remainder: u32,
}

/// The literal bytes every alternative of `glob` starts with (a prefix of each one's
/// [`literal_prefix`]); `None` for a glob of no alternative.
fn common_prefix(glob: &Glob) -> Option<Vec<u8>> {
    let mut alternatives = glob.alternatives.iter().map(|a| literal_prefix(a).0);
    let mut common = alternatives.next()?;
    for prefix in alternatives {
        let shared = common
            .iter()
            .zip(&prefix)
            .take_while(|(a, b)| a == b)
            .count();
        common.truncate(shared);
    }
    Some(common)
}

/// The bytes an alternative starts with before its first wildcard, and the tokens after.
pub fn literal_prefix(tokens: &[Token]) -> (Vec<u8>, &[Token]) {
    let literal = tokens
        .iter()
        .take_while(|t| matches!(t, Token::Byte(_)))
        .count();
    let prefix = tokens[..literal]
        .iter()
        .filter_map(|t| match t {
            Token::Byte(b) => Some(*b),
            _ => None,
        })
        .collect();
    (prefix, &tokens[literal..])
}

impl GlobPlan {
    /// Every one of `count` globs merged: the plan for a NUL-padded name (a comm), which
    /// has no length for a prefix search to bound.
    pub fn merged(count: usize) -> GlobPlan {
        GlobPlan {
            merged: (0..count).collect(),
            dispatch: None,
        }
    }

    /// Plans `globs` (the distinct globs tested on one string with a length).
    pub fn new(globs: &[&Glob]) -> GlobPlan {
        // Candidates: a glob's prefix is what all its alternatives start with before any
        // wildcard (`/usr/{bin,sbin}/*` has `/usr/`, `/etc/**/shadow` with its reading
        // `/etc/shadow` has `/etc/`), when a string can hold it.
        let mut prefixed: Vec<(Vec<u8>, usize)> = globs
            .iter()
            .enumerate()
            .filter_map(|(g, glob)| {
                let prefix = common_prefix(glob)?;
                (!prefix.is_empty() && prefix.len() < STRING_CAP).then_some((prefix, g))
            })
            .collect();
        prefixed.sort();
        // A prefix that starts the next in order stays merged. What remains starts no other:
        // between a prefix and a longer one that it starts, it starts every prefix in order,
        // the one right after it included.
        let mut nests = vec![false; prefixed.len()];
        for (k, pair) in prefixed.windows(2).enumerate() {
            nests[k] = pair[1].0.starts_with(&pair[0].0);
        }
        let mut chosen: Vec<(Vec<u8>, usize)> = prefixed
            .into_iter()
            .zip(nests)
            .filter(|(_, nests)| !nests)
            .map(|(entry, _)| entry)
            .collect();
        let all = chosen.len() == globs.len();
        if chosen.is_empty() || (chosen.len() < DISPATCH_MIN && !all) {
            return GlobPlan::merged(globs.len());
        }
        chosen.sort_by_key(|(_, g)| *g);
        let dispatched: Vec<usize> = chosen.iter().map(|(_, g)| *g).collect();
        let merged = (0..globs.len())
            .filter(|g| dispatched.binary_search(g).is_err())
            .collect();
        let mut remainders: Vec<Glob> = Vec::new();
        let mut known: HashMap<Vec<Vec<Token>>, u32> = HashMap::new();
        let mut entries: Vec<Entry> = Vec::new();
        for (k, (prefix, g)) in chosen.into_iter().enumerate() {
            let rest: Vec<Vec<Token>> = globs[g]
                .alternatives
                .iter()
                .map(|a| a[prefix.len()..].to_vec())
                .collect();
            let remainder = *known.entry(rest.clone()).or_insert_with(|| {
                remainders.push(Glob {
                    pattern: String::new(),
                    alternatives: rest,
                });
                remainders.len() as u32 - 1
            });
            entries.push(Entry {
                prefix,
                glob: k as u32,
                remainder,
            });
        }
        entries.sort_by(|a, b| a.prefix.cmp(&b.prefix));
        GlobPlan {
            merged,
            dispatch: Some(Dispatch {
                globs: dispatched,
                entries,
                remainders,
            }),
        }
    }

    /// The automaton of the merged globs among `globs`, if any, and that of the dispatched
    /// globs' remainders with each remainder's start state, if any: what the program's
    /// tables hold.
    pub fn automata(
        &self,
        globs: &[&Glob],
    ) -> Result<(Option<Automaton>, Option<Remainders>), AutomatonError> {
        let merged = if self.merged.is_empty() {
            None
        } else {
            let refs: Vec<&Glob> = self.merged.iter().map(|g| globs[*g]).collect();
            Some(Automaton::build(&refs)?)
        };
        let dispatched = self
            .dispatch
            .as_ref()
            .map(Dispatch::automaton)
            .transpose()?;
        Ok((merged, dispatched))
    }

    /// The size checks of [`Self::automata`]: both tables within their limits.
    pub fn check(&self, globs: &[&Glob]) -> Result<(), AutomatonError> {
        let (merged, dispatched) = self.automata(globs)?;
        if let Some(automaton) = merged {
            automaton.table()?;
        }
        if let Some((automaton, _)) = dispatched {
            automaton.table()?;
        }
        Ok(())
    }
}

impl Dispatch {
    /// The automaton of the remainders, with each remainder's start state.
    pub fn automaton(&self) -> Result<Remainders, AutomatonError> {
        let refs: Vec<&Glob> = self.remainders.iter().collect();
        Automaton::build_each(&refs)
    }

    /// The entry whose prefix starts `text`: at most one does.
    pub fn candidate(&self, text: &[u8]) -> Option<&Entry> {
        // The greatest prefix not above the text is the only one that can start it.
        let at = self
            .entries
            .partition_point(|e| e.prefix.as_slice() <= text);
        let entry = self.entries.get(at.checked_sub(1)?)?;
        text.starts_with(&entry.prefix).then_some(entry)
    }

    /// The dispatched glob (an index into [`Self::globs`]) `text` matches, if any, as the
    /// compiled program finds it: the candidate's remainder run over the text's tail.
    pub fn matching(&self, automaton: &Automaton, starts: &[u16], text: &[u8]) -> Option<u32> {
        let entry = self.candidate(text)?;
        let start = starts[entry.remainder as usize];
        let accepted = automaton.run_from(start, &text[entry.prefix.len()..]) != 0;
        accepted.then_some(entry.glob)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn globs(patterns: &[String]) -> Vec<Glob> {
        patterns.iter().map(|p| Glob::parse(p).unwrap()).collect()
    }

    #[test]
    fn unique_prefixes_are_dispatched_and_the_table_holds_the_remainders_once() {
        let patterns: Vec<String> = (0..1000).map(|i| format!("/srv/app{i}/bin/t*l")).collect();
        let globs = globs(&patterns);
        let refs: Vec<&Glob> = globs.iter().collect();
        let plan = GlobPlan::new(&refs);
        assert!(plan.merged.is_empty());
        let dispatch = plan.dispatch.unwrap();
        assert_eq!(dispatch.globs.len(), 1000);
        assert_eq!(dispatch.remainders.len(), 1);
        let (automaton, starts) = dispatch.automaton().unwrap();
        assert!(automaton.state_count() <= 4);
        assert!(automaton.table().unwrap().bytes.len() < 1024);
        assert_eq!(
            dispatch.matching(&automaton, &starts, b"/srv/app999/bin/tool"),
            Some(999)
        );
        assert_eq!(
            dispatch.matching(&automaton, &starts, b"/srv/app99/bin/tool"),
            Some(99)
        );
        assert_eq!(
            dispatch.matching(&automaton, &starts, b"/srv/app99/bin/toolx"),
            None
        );
        assert_eq!(
            dispatch.matching(&automaton, &starts, b"/srv/app9999/bin/tool"),
            None
        );
        assert_eq!(
            dispatch.matching(&automaton, &starts, b"/srv/app/bin/tool"),
            None
        );
    }

    #[test]
    fn nested_prefixes_stay_merged() {
        let mut patterns: Vec<String> = (0..10).map(|i| format!("/opt/p{i}/*.so")).collect();
        // `/opt/p1` starts `/opt/p1/`: it stays merged, and `/opt/p1/*.so` is dispatched.
        patterns.push("/opt/p1*".to_string());
        patterns.push("*.conf".to_string());
        // Its own readings (`/opt/q/**/x`, `/opt/q/x`) never keep a glob from dispatch.
        patterns.push("/opt/q/**/x".to_string());
        let globs = globs(&patterns);
        let refs: Vec<&Glob> = globs.iter().collect();
        let plan = GlobPlan::new(&refs);
        assert_eq!(plan.merged, vec![10, 11]);
        let dispatch = plan.dispatch.unwrap();
        assert_eq!(dispatch.globs, vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 12]);
        let prefixes: Vec<&[u8]> = dispatch
            .entries
            .iter()
            .map(|e| e.prefix.as_slice())
            .collect();
        for pair in prefixes.windows(2) {
            assert!(!pair[1].starts_with(pair[0]), "{pair:?}");
        }
    }

    #[test]
    fn the_check_refuses_the_tables_the_plan_would_build_too_large() {
        // Merged (as on a NUL-padded name), 400 of these pass the 48 KiB a table may take;
        // dispatched, their one remainder is a few states.
        let patterns: Vec<String> = (0..400).map(|i| format!("/srv/app{i}/bin/t*l")).collect();
        let globs = globs(&patterns);
        let refs: Vec<&Glob> = globs.iter().collect();
        assert!(matches!(
            GlobPlan::merged(refs.len()).check(&refs),
            Err(AutomatonError::TableTooLarge { .. })
        ));
        assert_eq!(GlobPlan::new(&refs).check(&refs), Ok(()));
    }

    #[test]
    fn few_globs_stay_merged_beside_globs_that_must_be() {
        let patterns: Vec<String> = (0..DISPATCH_MIN - 1)
            .map(|i| format!("/srv/{i}/*"))
            .chain(["*.so".to_string()])
            .collect();
        let globs = globs(&patterns);
        let refs: Vec<&Glob> = globs.iter().collect();
        let plan = GlobPlan::new(&refs);
        assert_eq!(plan.merged.len(), DISPATCH_MIN);
        assert!(plan.dispatch.is_none());
        // Without the glob that has no prefix, even one is dispatched: no second scan.
        for n in [1, DISPATCH_MIN - 1] {
            let plan = GlobPlan::new(&refs[..n]);
            assert!(plan.merged.is_empty(), "{n} globs");
            assert_eq!(plan.dispatch.map(|d| d.globs.len()), Some(n));
        }
        assert_eq!(GlobPlan::new(&[]), GlobPlan::merged(0));
    }

    #[test]
    fn dispatch_decides_as_the_globs_do() {
        // Braces give a glob several prefixes; an alternative without a wildcard has an
        // empty remainder.
        let patterns: Vec<String> = (0..12)
            .map(|i| match i % 3 {
                0 => format!("/d{i}/*.c"),
                1 => format!("/e{i}/{{bin,sbin}}/*"),
                _ => format!("/f{i}/{{x,y?}}"),
            })
            .collect();
        let globs = globs(&patterns);
        let refs: Vec<&Glob> = globs.iter().collect();
        let plan = GlobPlan::new(&refs);
        let dispatch = plan.dispatch.unwrap();
        assert_eq!(dispatch.globs.len(), 12);
        let (automaton, starts) = dispatch.automaton().unwrap();
        let mut texts: Vec<String> = Vec::new();
        for i in 0..13 {
            for tail in [
                "a.c", "a.h", "bin/ls", "sbin/x/y", "x", "yz", "y", "", "b.c/d",
            ] {
                texts.push(format!("/d{i}/{tail}"));
                texts.push(format!("/e{i}/{tail}"));
                texts.push(format!("/f{i}/{tail}"));
            }
        }
        for text in &texts {
            let expected: Vec<u32> = (0..12u32)
                .filter(|g| globs[*g as usize].matches(text.as_bytes()))
                .collect();
            let found = dispatch.matching(&automaton, &starts, text.as_bytes());
            assert_eq!(found.into_iter().collect::<Vec<_>>(), expected, "{text}");
        }
    }
}
