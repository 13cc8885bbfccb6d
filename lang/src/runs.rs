//! Runs of rules of different kinds that one search decides.
//!
//! The code generator decides consecutive rules on one string together, a kind at a time:
//! exact paths in a literal tree, directory rules (`/etc/**`) in a prefix trie, globs in one
//! search of their automaton's accept sets. Each search keeps its rules' order, so the first
//! rule that matches still decides. A policy whose kinds take turns (an exact path, a
//! directory, a glob, an exact path...) forms no such run, and each rule was compiled as a
//! compare chain of its own: a thousand of them passed what one program may hold (E0207).
//!
//! Rules of different kinds may still be decided by one search each, one search after the
//! other, when no string can match two rules of different kinds: then at most one kind's search
//! can find a rule, and the order of the searches cannot change which. A [`MixedRun`] grows
//! while that holds, from what each test can reach: an exact path reaches itself only; a
//! directory rule and each alternative of a glob reach every string that starts with their
//! literal prefix (the bytes before the first wildcard). Two reaches meet when one starts the
//! other, so `/srv/app1/bin/tool` and `/srv/app10/**` never do, and `/srv/**` meets both.
//! Directory rules must also not nest among themselves, as in a run of them alone.
//!
//! The checker and the code generator both grow runs with this type, so that the runs the
//! checker estimates are the ones emitted.

use std::collections::BTreeSet;
use std::ops::Bound;

/// A run needs this many rules before its kinds are decided apart: below it, a chain costs
/// about what three small searches do.
pub const MIXED_RUN_MIN: usize = 8;

/// What search decides a rule of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// A literal tree over whole strings (`path == "..."`, `path in [...]`).
    Exact,
    /// A prefix trie (`path ~ "/etc/**"`).
    Prefix,
    /// A search of an automaton's accept sets.
    Glob,
}

const KINDS: [Kind; 3] = [Kind::Exact, Kind::Prefix, Kind::Glob];

/// The strings a test can match, bounded by a literal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reach {
    /// This string alone.
    Exactly(Vec<u8>),
    /// Any string that starts with these bytes.
    StartsWith(Vec<u8>),
}

/// The reaches of the rules of one kind in a run.
#[derive(Default, Debug)]
struct Reaches {
    exactly: BTreeSet<Vec<u8>>,
    starts: BTreeSet<Vec<u8>>,
}

impl Reaches {
    /// Whether some string can be reached by `reach` and by one of these.
    fn meets(&self, reach: &Reach) -> bool {
        match reach {
            Reach::Exactly(s) => self.exactly.contains(s) || self.starts_a_prefix_of(s),
            Reach::StartsWith(p) => {
                self.starts_a_prefix_of(p)
                    || starts_one(&self.starts, p)
                    || starts_one(&self.exactly, p)
            }
        }
    }

    /// Whether one of the `starts` is a prefix of `s` (or `s` itself).
    fn starts_a_prefix_of(&self, s: &[u8]) -> bool {
        (0..=s.len()).any(|end| self.starts.contains(&s[..end]))
    }

    fn insert(&mut self, reach: &Reach) {
        match reach {
            Reach::Exactly(s) => self.exactly.insert(s.clone()),
            Reach::StartsWith(p) => self.starts.insert(p.clone()),
        };
    }
}

/// Whether `p` is a prefix of one of `set` (in sorted order, the first at or after `p` tells).
fn starts_one(set: &BTreeSet<Vec<u8>>, p: &[u8]) -> bool {
    set.range::<[u8], _>((Bound::Included(p), Bound::Unbounded))
        .next()
        .is_some_and(|s| s.starts_with(p))
}

/// A run of rules whose kinds are decided apart, as it grows.
#[derive(Default, Debug)]
pub struct MixedRun {
    /// Per [`Kind`], the reaches of its rules so far.
    kinds: [Reaches; 3],
    len: usize,
}

impl MixedRun {
    pub fn new() -> MixedRun {
        MixedRun::default()
    }

    /// Adds the next rule, of `kind`, whose test reaches `reaches`: `false`, and the run left
    /// as it was, when a string could match it and a rule of another kind in the run, or when
    /// it is a directory rule nested with one of the run's (the same directory twice is no
    /// nesting: the first rule wins it in the trie).
    pub fn add(&mut self, kind: Kind, reaches: &[Reach]) -> bool {
        let own = kind as usize;
        let mut added = Reaches::default();
        for reach in reaches {
            let nests = |theirs: &Reaches| {
                kind == Kind::Prefix
                    && !matches!(reach, Reach::StartsWith(p) if theirs.starts.contains(p))
                    && theirs.meets(reach)
            };
            let meets_another_kind = self
                .kinds
                .iter()
                .enumerate()
                .any(|(other, theirs)| other != own && theirs.meets(reach));
            if meets_another_kind || nests(&self.kinds[own]) || nests(&added) {
                return false;
            }
            added.insert(reach);
        }
        let ours = &mut self.kinds[own];
        ours.exactly.extend(added.exactly);
        ours.starts.extend(added.starts);
        self.len += 1;
        true
    }

    /// The rules added.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many kinds the run's rules are of.
    pub fn kinds(&self) -> usize {
        KINDS
            .iter()
            .filter(|k| {
                let r = &self.kinds[**k as usize];
                !r.exactly.is_empty() || !r.starts.is_empty()
            })
            .count()
    }
}

/// How many of `rules`, from the first, form a run whose kinds are decided apart: each
/// `Some((kind, reaches))` (`None` for a rule no search can decide, or one on another string),
/// and no string reachable by rules of two kinds. 0 unless the run holds at least
/// [`MIXED_RUN_MIN`] rules of at least two kinds.
pub fn mixed_run<I>(rules: I) -> usize
where
    I: IntoIterator<Item = Option<(Kind, Vec<Reach>)>>,
{
    let mut run = MixedRun::new();
    for rule in rules {
        match rule {
            Some((kind, reaches)) if run.add(kind, &reaches) => {}
            _ => break,
        }
    }
    if run.len() >= MIXED_RUN_MIN && run.kinds() >= 2 {
        run.len()
    } else {
        0
    }
}

/// Where each block of consecutive equal items ends: `ends[i]` is one past the last item of
/// the block that holds item `i`. A run's rules share their cheap tests (its gate), so the
/// checker and the code generator find a run only within a block of rules with equal gates.
pub fn block_ends<T>(items: &[T], same: impl Fn(&T, &T) -> bool) -> Vec<usize> {
    let mut ends = vec![items.len(); items.len()];
    for i in (0..items.len().saturating_sub(1)).rev() {
        ends[i] = if same(&items[i], &items[i + 1]) {
            ends[i + 1]
        } else {
            i + 1
        };
    }
    ends
}

/// An audit run as it grows: the rules of a literal run (exact paths, or directories that do
/// not nest) that one search may decide when they are audit rules. Every audit rule that
/// matches reports, while a search finds one rule for a string: so no rule may list a
/// literal that an earlier rule of the run lists (the same directory twice nests with itself
/// here). A string that cannot be known matches every rule of the run, and the code generator
/// reports them all with one loop over their indexes, which must therefore follow each other.
/// The checker and the code generator both grow audit runs with this type.
#[derive(Default, Debug)]
pub struct AuditRun {
    seen: BTreeSet<Vec<u8>>,
    last: Option<u32>,
}

impl AuditRun {
    pub fn new() -> AuditRun {
        AuditRun::default()
    }

    /// Adds the next rule, at `index` in the policy, listing `literals`: `false`, and the run
    /// left as it was, when it cannot join.
    pub fn add(&mut self, index: u32, literals: &[Vec<u8>]) -> bool {
        if self
            .last
            .is_some_and(|last| last.checked_add(1) != Some(index))
        {
            return false;
        }
        if literals.iter().any(|literal| self.seen.contains(literal)) {
            return false;
        }
        self.seen.extend(literals.iter().cloned());
        self.last = Some(index);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(s: &str) -> Option<(Kind, Vec<Reach>)> {
        Some((Kind::Exact, vec![Reach::Exactly(s.as_bytes().to_vec())]))
    }
    fn prefix(s: &str) -> Option<(Kind, Vec<Reach>)> {
        Some((Kind::Prefix, vec![Reach::StartsWith(s.as_bytes().to_vec())]))
    }
    fn glob(s: &str) -> Option<(Kind, Vec<Reach>)> {
        Some((Kind::Glob, vec![Reach::StartsWith(s.as_bytes().to_vec())]))
    }

    /// The benchmark's mix: an exact path, a directory and a glob in turn, each under a
    /// directory of its own number.
    fn mix(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("/srv/app{i}/")).collect()
    }

    #[test]
    fn kinds_in_turn_under_numbered_directories_form_one_run() {
        let dirs = mix(30);
        let rules = dirs.iter().enumerate().map(|(i, d)| match i % 3 {
            0 => Some((Kind::Exact, vec![Reach::Exactly(d.as_bytes().to_vec())])),
            1 => Some((Kind::Prefix, vec![Reach::StartsWith(d.as_bytes().to_vec())])),
            _ => Some((Kind::Glob, vec![Reach::StartsWith(d.as_bytes().to_vec())])),
        });
        assert_eq!(mixed_run(rules), 30);
    }

    #[test]
    fn a_run_ends_where_two_kinds_could_match_one_string() {
        let mut rules = vec![
            exact("/a/x"),
            prefix("/b/"),
            glob("/c/"),
            exact("/d/x"),
            prefix("/e/"),
            glob("/f/"),
            exact("/g/x"),
            prefix("/h/"),
        ];
        // A glob whose prefix an exact path of the run starts with.
        rules.push(glob("/a/"));
        rules.push(exact("/i/x"));
        assert_eq!(mixed_run(rules.clone()), 8);
        // An exact path a directory of the run reaches; a directory starting a glob's reach.
        for late in [exact("/b/y"), prefix("/c/d/"), prefix("/"), glob("/e/f")] {
            let mut r = rules[..8].to_vec();
            r.push(late);
            r.push(exact("/z"));
            assert_eq!(mixed_run(r), 8);
        }
    }

    #[test]
    fn same_kind_overlaps_are_left_to_that_kinds_search() {
        // Two globs, two exact paths and two equal directories may overlap among themselves.
        let rules = vec![
            glob("/a/"),
            glob("/a/b"),
            exact("/x"),
            exact("/x"),
            prefix("/d/"),
            prefix("/d/"),
            exact("/y"),
            glob("/c/"),
        ];
        assert_eq!(mixed_run(rules), 8);
        // Reaches that are equal meet: a glob of a directory's own prefix, an exact path
        // that is one.
        let mut run = MixedRun::new();
        assert!(run.add(Kind::Prefix, &[Reach::StartsWith(b"/d/".to_vec())]));
        assert!(!run.add(Kind::Glob, &[Reach::StartsWith(b"/d/".to_vec())]));
        assert!(!run.add(Kind::Exact, &[Reach::Exactly(b"/d/".to_vec())]));
        // Nested directories do not share a trie.
        let mut run = MixedRun::new();
        assert!(run.add(Kind::Prefix, &[Reach::StartsWith(b"/d/".to_vec())]));
        assert!(!run.add(Kind::Prefix, &[Reach::StartsWith(b"/d/e/".to_vec())]));
        assert!(!run.add(Kind::Prefix, &[Reach::StartsWith(b"/".to_vec())]));
        assert_eq!(run.len(), 1);
    }

    #[test]
    fn a_refused_rule_leaves_the_run_as_it_was() {
        let mut run = MixedRun::new();
        assert!(run.add(Kind::Exact, &[Reach::Exactly(b"/a/x".to_vec())]));
        // Its first alternative fits, its second meets the exact path: nothing is added.
        assert!(!run.add(
            Kind::Glob,
            &[
                Reach::StartsWith(b"/b/".to_vec()),
                Reach::StartsWith(b"/a/".to_vec())
            ]
        ));
        assert!(run.add(Kind::Prefix, &[Reach::StartsWith(b"/b/".to_vec())]));
        assert_eq!((run.len(), run.kinds()), (2, 2));
    }

    #[test]
    fn short_or_single_kind_runs_are_not_mixed() {
        let seven: Vec<_> = (0..7).map(|_| exact("/x")).chain([glob("/y/")]).collect();
        assert_eq!(mixed_run(seven[..7].to_vec()), 0);
        assert_eq!(mixed_run(seven), 8);
        let dirs = mix(7);
        let short = dirs.iter().map(|d| glob(d)).chain([exact("/z")]);
        assert_eq!(mixed_run(short.take(7)), 0);
        assert_eq!(mixed_run(vec![exact("/x"); 20]), 0);
        assert_eq!(mixed_run(vec![None, exact("/x")]), 0);
    }

    #[test]
    fn blocks_end_where_an_item_differs() {
        assert_eq!(
            block_ends(&[1, 1, 2, 2, 2, 1], |a, b| a == b),
            [2, 2, 5, 5, 5, 6]
        );
        assert_eq!(block_ends::<u8>(&[], |a, b| a == b), Vec::<usize>::new());
        assert_eq!(block_ends(&[7], |a, b| a == b), [1]);
    }

    fn rule(index: u32, literals: &[&str]) -> (u32, Vec<Vec<u8>>) {
        (
            index,
            literals.iter().map(|l| l.as_bytes().to_vec()).collect(),
        )
    }

    /// How many of `rules`, from the first, join one audit run.
    fn audit_kept(rules: &[(u32, Vec<Vec<u8>>)]) -> usize {
        let mut run = AuditRun::new();
        rules.iter().take_while(|(i, l)| run.add(*i, l)).count()
    }

    #[test]
    fn an_audit_run_ends_before_a_literal_listed_twice() {
        let rules = [
            rule(3, &["/a", "/b", "/a"]),
            rule(4, &["/c"]),
            rule(5, &["/d", "/b"]),
            rule(6, &["/e"]),
        ];
        // A rule may list a literal twice (it reports once); another rule may not.
        assert_eq!(audit_kept(&rules), 2);
        assert_eq!(audit_kept(&rules[2..]), 2);
    }

    #[test]
    fn an_audit_run_ends_where_the_indexes_stop_following_each_other() {
        let rules = [rule(0, &["/a"]), rule(1, &["/b"]), rule(3, &["/c"])];
        assert_eq!(audit_kept(&rules), 2);
        assert_eq!(audit_kept(&[rule(u32::MAX, &["/a"]), rule(0, &["/b"])]), 1);
        assert_eq!(audit_kept(&[]), 0);
    }

    #[test]
    fn a_rule_refused_leaves_the_audit_run_as_it_was() {
        let mut run = AuditRun::new();
        assert!(run.add(0, &rule(0, &["/a"]).1));
        assert!(!run.add(1, &rule(1, &["/b", "/a"]).1));
        // "/b" was not kept: a later rule may list it.
        assert!(run.add(1, &rule(1, &["/b"]).1));
    }
}
