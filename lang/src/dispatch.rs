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

/// Fewer dispatchable globs than this stay merged: one scan of a small automaton costs
/// about what a search of the prefixes and a second scan do.
pub const DISPATCH_MIN: usize = 8;

/// The automaton of dispatched globs' remainders, and each remainder's start state.
pub type Remainders = (Automaton, Vec<u16>);

/// How the globs tested on one string are matched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlobPlan {
    /// Indices of the globs merged into the automaton scanned from the string's start.
    pub merged: Vec<usize>,
    /// The globs found by their prefix, if there are [`DISPATCH_MIN`] or more.
    pub dispatch: Option<Dispatch>,
}

/// Globs whose alternatives each begin with a literal prefix that starts no other.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dispatch {
    /// Indices of the dispatched globs, ascending; an [`Entry::glob`] indexes this list.
    pub globs: Vec<usize>,
    /// One per alternative of the dispatched globs, sorted by prefix.
    pub entries: Vec<Entry>,
    /// The distinct remainders after the prefixes, each a glob of one alternative.
    pub remainders: Vec<Glob>,
}

/// One alternative of a dispatched glob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub prefix: Vec<u8>,
    /// The glob: an index into [`Dispatch::globs`].
    pub glob: u32,
    /// What must match the rest of the string: an index into [`Dispatch::remainders`].
    pub remainder: u32,
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
        // Candidates: every alternative has a prefix a string can hold.
        let mut prefixed: Vec<(Vec<u8>, usize)> = Vec::new();
        for (g, glob) in globs.iter().enumerate() {
            let prefixes: Vec<Vec<u8>> = glob
                .alternatives
                .iter()
                .map(|a| literal_prefix(a).0)
                .collect();
            if !glob.alternatives.is_empty()
                && prefixes
                    .iter()
                    .all(|p| !p.is_empty() && p.len() < STRING_CAP)
            {
                prefixed.extend(prefixes.into_iter().map(|p| (p, g)));
            }
        }
        prefixed.sort();
        // A prefix that starts the next in order nests with it (and with nothing further that
        // the next does not also start): both globs stay merged. What remains is free of
        // nesting, since between a prefix and a longer one it starts every prefix in order
        // starts with it too.
        let mut nested = vec![false; globs.len()];
        for pair in prefixed.windows(2) {
            let ((a, ga), (b, gb)) = (&pair[0], &pair[1]);
            if b.starts_with(a) {
                nested[*ga] = true;
                nested[*gb] = true;
            }
        }
        let mut dispatched: Vec<usize> = prefixed
            .iter()
            .map(|(_, g)| *g)
            .filter(|g| !nested[*g])
            .collect();
        dispatched.sort_unstable();
        dispatched.dedup();
        if dispatched.len() < DISPATCH_MIN {
            return GlobPlan::merged(globs.len());
        }
        let merged = (0..globs.len())
            .filter(|g| dispatched.binary_search(g).is_err())
            .collect();
        let mut remainders: Vec<Glob> = Vec::new();
        let mut entries = Vec::new();
        for (k, &g) in dispatched.iter().enumerate() {
            for alternative in &globs[g].alternatives {
                let (prefix, rest) = literal_prefix(alternative);
                let remainder = match remainders.iter().position(|r| r.alternatives[0] == rest) {
                    Some(r) => r,
                    None => {
                        remainders.push(Glob {
                            pattern: String::new(),
                            alternatives: vec![rest.to_vec()],
                        });
                        remainders.len() - 1
                    }
                };
                entries.push(Entry {
                    prefix,
                    glob: k as u32,
                    remainder: remainder as u32,
                });
            }
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
        // `/opt/p1` starts `/opt/p1/`, `/opt/p10/`..: it and the globs it nests with stay.
        patterns.push("/opt/p1*".to_string());
        patterns.push("*.conf".to_string());
        let globs = globs(&patterns);
        let refs: Vec<&Glob> = globs.iter().collect();
        let plan = GlobPlan::new(&refs);
        assert_eq!(plan.merged, vec![1, 10, 11]);
        let dispatch = plan.dispatch.unwrap();
        assert_eq!(dispatch.globs, vec![0, 2, 3, 4, 5, 6, 7, 8, 9]);
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
    fn few_globs_stay_merged() {
        let patterns: Vec<String> = (0..DISPATCH_MIN - 1)
            .map(|i| format!("/srv/{i}/*"))
            .collect();
        let globs = globs(&patterns);
        let refs: Vec<&Glob> = globs.iter().collect();
        let plan = GlobPlan::new(&refs);
        assert_eq!(plan.merged.len(), DISPATCH_MIN - 1);
        assert!(plan.dispatch.is_none());
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
