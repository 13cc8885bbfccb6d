//! The size estimate of each event's program, refused past what BPF branches reach
//! ([`Code::EventTooLarge`](crate::diagnostic::Code::EventTooLarge)). Self-contained: the estimate and its constants live here alone.

use super::finding::Finding;
use super::Checker;
use crate::ast::Action;
use crate::catalog::Source;
use crate::checked::{
    AttrId, CheckedPolicy, CheckedRule, Cond, Predicate, ResolvedAttribute, Test,
};
use crate::dispatch::{literal_prefix, Dispatch, GlobPlan};
use crate::glob::{directory_prefix, is_directory_rule, Glob, Token, GLOB_TEST_COST};
use crate::runs::{self, Kind, Reach};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// Code estimates, in about-one-instruction units; see [`Code::EventTooLarge`](crate::diagnostic::Code::EventTooLarge). The limit
/// leaves room under the 32,767 a branch reaches for what the estimate does not count.
pub const MAX_EVENT_COST: u32 = 24_000;
/// What the estimate leaves uncounted, each value's computation (a path walk, a cgroup's,
/// an ancestor's executable), must fit here: between [`MAX_EVENT_COST`] and the 32,767 slots
/// a BPF jump reaches.
pub const UNCOUNTED_ROOM: u32 = i16::MAX as u32 - MAX_EVENT_COST;
/// The prologue and the program's one report function (ring buffer, rate limit, process,
/// values), which every reporting rule calls; the prologue holds the version gate and its
/// handover (about 50).
const PROGRAM_BASE_COST: u32 = 575;
/// The most a program's screen of a resolved path may cost (`codegen::screen`: the path's
/// last names compared before it is resolved), counted for every event whose rules read one.
pub const PATH_SCREEN_COST: usize = 400;
/// A deny or audit rule's call of the report function (its arguments, the call, the exit).
const REPORT_COST: u32 = 8;
/// An audit run's report for an unknown string, which stands for every rule of the run
/// (`codegen`'s `audit_run`): the report's arguments and call, the jump past.
const AUDIT_UNKNOWN_COST: usize = 7;
/// A deny rule whose errno another deny rule of its event shares: it passes its index to the
/// exit they share (`codegen`'s `deny`), which costs [`REPORT_COST`] once per errno.
const SHARED_REPORT_COST: u32 = 2;
/// A kill rule's report, and its signal sent (`SIGKILL` in r1, the helper's call).
const KILL_REPORT_COST: u32 = REPORT_COST + 2;
/// Fewer literals than this stay a compare chain (`codegen::sets`).
const SET_TREE_MIN: usize = 4;
/// Fewer consecutive rules that each test one glob on one string than this stay a chain of
/// glob tests; more are decided together from the scan's accept set (`codegen::automaton`,
/// which reads this number from here).
pub const GLOB_RUN_MIN: usize = 4;
/// A literal set's decision tree past this many instructions (by [`tree_cost`]) is cut into
/// BPF functions (bpf-to-bpf calls), each within a branch's reach, and leaves the program only
/// its calls. The code generator reads these three numbers from here, so that the estimate is
/// the one it acts on.
pub const INLINE_TREE_COST: usize = 6_000;
/// A literal's leaf and its share of the searches above it, in instructions, an upper bound
/// (10,000 three-word paths take about 11 slots a literal).
const TREE_LEAF_COST: usize = 10;
/// Each 8-byte word compared on the way to a literal.
const TREE_WORD_COST: usize = 6;
/// What a tree cut into functions leaves in the program: the length check, the searches
/// above the functions' nodes, their calls, one shared exit.
const SPLIT_TREE_COST: u32 = 200;
/// A rule of a glob run that records itself (see [`RunCost::shared_exit`]): its share of
/// the search over accept sets (a compare and a jump), its two stores and jump, and its
/// errno's or kill's compare in the shared exit.
pub const GLOB_RUN_RECORDED_COST: usize = 7;
/// A dispatched glob's leaf beyond a literal's: it records the glob, where its remainder
/// starts and in which state.
const DISPATCH_LEAF_COST: usize = 3;
/// The scan of a dispatched glob's remainder, and storing what it found.
const DISPATCH_SCAN_COST: u32 = 60;
/// All the code of one event's program, its functions included: the verifier walks each
/// instruction of a tree once (1,000,000 is its budget of processed instructions), and the
/// estimate is about twice what is emitted.
const MAX_PROGRAM_COST: u32 = 1_000_000;

/// An upper bound on the instructions a decision tree over `literals` takes.
pub fn tree_cost<'l>(literals: impl Iterator<Item = &'l [u8]>) -> usize {
    literals
        .map(|l| TREE_LEAF_COST + TREE_WORD_COST * l.len().div_ceil(8))
        .sum()
}

/// The attribute and literals a condition tests when it is only `attr == literal` tests
/// joined by `or` (`==`, `in [...]`) on a string with a length (not a NUL-padded name).
/// Directory rules (`path ~ "/etc/**"`: a literal prefix and a final `**`) count too, as
/// prefixes; the attribute, whether the literals are prefixes, and the literals.
fn literal_set(
    cond: &Cond,
    attributes: &[ResolvedAttribute],
) -> Option<(AttrId, bool, Vec<Vec<u8>>)> {
    match cond {
        Cond::Test(Test {
            attr, predicate, ..
        }) => {
            if is_padded(*attr, attributes) {
                return None;
            }
            match predicate {
                Predicate::StrEq(bytes) => Some((*attr, false, vec![bytes.clone()])),
                Predicate::Glob(glob) => {
                    let prefixes: Option<Vec<Vec<u8>>> = glob
                        .alternatives
                        .iter()
                        .map(|tokens| directory_prefix(tokens))
                        .collect();
                    Some((*attr, true, prefixes?))
                }
                _ => None,
            }
        }
        Cond::Or(a, b) => {
            let (x, p, mut l) = literal_set(a, attributes)?;
            let (y, q, m) = literal_set(b, attributes)?;
            l.extend(m);
            (x == y && p == q).then_some((x, p, l))
        }
        _ => None,
    }
}

/// The tests the code generator knows to hold where an event's rules are evaluated: the
/// conjuncts of one gate (the cheap tests, reading no string) that every rule reading a costly
/// value shares, when every reporting rule reads that value. It tests the gate once, before
/// computing the value, and leaves it out of each rule (`codegen::values`), so that
/// `path == "/x" and uid != 0` rules are a literal set. Each conjunct by its [`shape`].
fn known_gate(rules: &[&CheckedRule], attributes: &[ResolvedAttribute]) -> BTreeSet<String> {
    let mut known = BTreeSet::new();
    let mut costly: Vec<AttrId> = rules
        .iter()
        .flat_map(|r| attrs(&r.condition))
        .filter(|a| is_costly(*a, attributes))
        .collect();
    costly.sort_by_key(|a| a.0);
    costly.dedup();
    for attr in costly {
        let reads = |r: &&&CheckedRule| attrs(&r.condition).contains(&attr);
        let decides = rules
            .iter()
            .filter(|r| r.action != Action::Allow)
            .all(|r| reads(&r));
        if !decides {
            continue;
        }
        let mut gates: BTreeSet<Vec<String>> = BTreeSet::new();
        let mut usable = true;
        for rule in rules.iter().filter(reads) {
            let gate: Vec<&Cond> = conjuncts(&rule.condition)
                .into_iter()
                .filter(|c| !attrs(c).iter().any(|a| is_costly(*a, attributes)))
                .collect();
            // No gate: the value is always computed. A gate reading a string (comm) is not
            // tested before the string buffers exist.
            if gate.is_empty()
                || !matches!(rule.condition, Cond::And(..))
                || gate
                    .iter()
                    .any(|c| attrs(c).iter().any(|a| is_string(*a, attributes)))
            {
                usable = false;
                break;
            }
            gates.insert(gate.into_iter().map(shape).collect());
        }
        if usable && gates.len() == 1 {
            known.extend(gates.into_iter().flatten());
        }
    }
    known
}

/// The conjuncts of a condition (itself when it is no `and`).
fn conjuncts(cond: &Cond) -> Vec<&Cond> {
    match cond {
        Cond::And(a, b) => {
            let mut out = conjuncts(a);
            out.extend(conjuncts(b));
            out
        }
        other => vec![other],
    }
}

/// The attributes a condition tests.
pub(super) fn attrs(cond: &Cond) -> Vec<AttrId> {
    match cond {
        Cond::Const(_) => Vec::new(),
        Cond::And(a, b) | Cond::Or(a, b) => {
            let mut out = attrs(a);
            out.extend(attrs(b));
            out
        }
        Cond::Not(c) => attrs(c),
        Cond::Test(test) => vec![test.attr],
    }
}

/// Computed only when a rule could need it (a path, a kernel string, an endpoint).
fn is_costly(attr: AttrId, attributes: &[ResolvedAttribute]) -> bool {
    attributes.get(attr.0 as usize).is_some_and(|a| {
        matches!(
            a.attribute.source,
            Source::ResolvedPath { .. }
                | Source::KernelString { .. }
                | Source::WalkedPath { .. }
                | Source::KernfsPath { .. }
                | Source::WorkloadId { .. }
                | Source::Endpoint { .. }
                | Source::CommandLine { .. }
        )
    })
}

/// Kept in a buffer: any string, and an endpoint's address.
fn is_string(attr: AttrId, attributes: &[ResolvedAttribute]) -> bool {
    is_costly(attr, attributes) || is_padded(attr, attributes)
}

/// A condition's form without its spans, to compare the gates of different rules.
fn shape(cond: &Cond) -> String {
    match cond {
        Cond::Const(b) => b.to_string(),
        Cond::And(a, b) => format!("({} and {})", shape(a), shape(b)),
        Cond::Or(a, b) => format!("({} or {})", shape(a), shape(b)),
        Cond::Not(c) => format!("not {}", shape(c)),
        Cond::Test(test) => format!("{}:{:?}", test.attr.0, test.predicate),
    }
}

/// A rule's own gate: the cheap conjuncts of its `and` (reading no costly value) beyond the
/// `known` ones, by [`shape`], sorted. The code generator tests a run's gate once in front of
/// it (`codegen::runs`), so a run is of rules with one gate.
fn own_gate(cond: &Cond, known: &BTreeSet<String>, attributes: &[ResolvedAttribute]) -> Gate {
    if !matches!(cond, Cond::And(..)) {
        return Gate::default();
    }
    let mut gate = Gate::default();
    for conjunct in conjuncts(cond) {
        let cheap = !attrs(conjunct).iter().any(|a| is_costly(*a, attributes));
        let shaped = shape(conjunct);
        if cheap && !known.contains(&shaped) && !gate.tests.contains(&shaped) {
            gate.tests.push(shaped);
            gate.cost += estimated_cost(conjunct);
        }
    }
    gate.tests.sort();
    gate
}

/// The cheap tests a run shares (see [`own_gate`]) and what testing them costs.
#[derive(Default)]
struct Gate {
    tests: Vec<String>,
    cost: u32,
}

/// The one conjunct of a rule that decides it in a run: itself when it is no `and`, else its
/// only conjunct that reads a costly value, when the others are cheap (its gate, or known).
fn deciding<'c>(cond: &'c Cond, attributes: &[ResolvedAttribute]) -> Option<&'c Cond> {
    if !matches!(cond, Cond::And(..)) {
        return Some(cond);
    }
    let mut costly = conjuncts(cond)
        .into_iter()
        .filter(|c| attrs(c).iter().any(|a| is_costly(*a, attributes)));
    match (costly.next(), costly.next()) {
        (Some(only), None) => Some(only),
        _ => None,
    }
}

/// The attribute `cond` tests one glob on: a rule of a glob run (a directory rule is a
/// literal set instead).
fn sole_glob(cond: &Cond) -> Option<(AttrId, &Glob)> {
    match cond {
        Cond::Test(Test {
            attr,
            predicate: Predicate::Glob(glob),
            ..
        }) if !is_directory_rule(&glob.alternatives) => Some((*attr, glob)),
        _ => None,
    }
}

/// Adds `new` to `prefixes` unless one of them would then be a prefix of another (the same
/// prefix twice counts once); whether it did (when not, `prefixes` is left as it was). In
/// sorted order a prefix comes right before the strings it starts, so neighbours tell.
pub fn add_unnested(prefixes: &mut BTreeSet<Vec<u8>>, new: &[Vec<u8>]) -> bool {
    let mut inserted: Vec<&Vec<u8>> = Vec::new();
    for prefix in new {
        if prefixes.contains(prefix) {
            continue;
        }
        let before = prefixes.range(..prefix.clone()).next_back();
        let after = prefixes.range(prefix.clone()..).next();
        if before.is_some_and(|b| prefix.starts_with(b))
            || after.is_some_and(|a| a.starts_with(prefix))
        {
            for undo in inserted {
                prefixes.remove(undo);
            }
            return false;
        }
        prefixes.insert(prefix.clone());
        inserted.push(prefix);
    }
    true
}

/// What a run of rules decided together costs.
struct RunCost {
    /// In the program's own code, beside its functions.
    own: usize,
    /// All of it, functions included.
    all: usize,
    /// Its rules record themselves and share one report-and-refuse exit (a tree cut into
    /// functions, a deny run where the program has dispatched globs, an audit run): reported
    /// once, not per rule.
    shared_exit: bool,
}

impl RunCost {
    /// A literal tree over `literals`, which past [`INLINE_TREE_COST`] is cut into functions.
    fn tree<'l>(literals: impl Iterator<Item = &'l [u8]>) -> RunCost {
        let cost = tree_cost(literals);
        let splits = cost > INLINE_TREE_COST;
        RunCost {
            own: if splits {
                SPLIT_TREE_COST as usize
            } else {
                cost
            },
            all: cost,
            shared_exit: splits,
        }
    }

    /// A search over the accept sets of `rules` glob tests, always in the program's own code.
    fn globs(rules: usize, shared_exit: bool) -> RunCost {
        let per_rule = if shared_exit {
            GLOB_RUN_RECORDED_COST
        } else {
            GLOB_TEST_COST as usize
        };
        RunCost {
            own: per_rule * rules,
            all: per_rule * rules,
            shared_exit,
        }
    }
}

/// One rule's test, as the run it may join sees it, with the attribute it tests.
type RunItem<'r> = (AttrId, RunTest<'r>);

/// What a rule of a run tests.
enum RunTest<'r> {
    /// A literal set: directory prefixes, or whole strings.
    Literals {
        prefixes: bool,
        literals: Vec<Vec<u8>>,
    },
    /// One glob.
    Glob(&'r Glob),
}

/// How many of `items`, from the first, are literal sets of one attribute and kind (prefixes
/// not nested), and their literals, when at least [`SET_TREE_MIN`]; else 0 rules. Audit
/// rules, given with their indexes in the policy, also join only an [`runs::AuditRun`].
fn tree_run<'i>(items: &'i [Option<RunItem>], audit: Option<&[u32]>) -> (usize, Vec<&'i [u8]>) {
    let Some(Some((attr, RunTest::Literals { prefixes, .. }))) = items.first() else {
        return (0, Vec::new());
    };
    let mut literals: Vec<&[u8]> = Vec::new();
    let mut seen = BTreeSet::new();
    let mut audit_run = runs::AuditRun::new();
    let mut end = 0;
    while let Some(Some((
        a,
        RunTest::Literals {
            prefixes: p,
            literals: l,
        },
    ))) = items.get(end)
    {
        // A run of prefixes ends before the first rule that nests with another.
        let joins_audit = |run: &mut runs::AuditRun| match audit {
            Some(indexes) => indexes.get(end).is_some_and(|&i| run.add(i, l)),
            None => true,
        };
        if a != attr
            || p != prefixes
            || (*p && !add_unnested(&mut seen, l))
            || !joins_audit(&mut audit_run)
        {
            break;
        }
        literals.extend(l.iter().map(Vec::as_slice));
        end += 1;
    }
    if literals.len() < SET_TREE_MIN {
        return (0, Vec::new());
    }
    (end, literals)
}

/// How many of `items`, from the first, each test one glob on one attribute, when at least
/// [`GLOB_RUN_MIN`]; else 0.
fn glob_run(items: &[Option<RunItem>]) -> usize {
    let Some(Some((attr, RunTest::Glob(_)))) = items.first() else {
        return 0;
    };
    let run = items
        .iter()
        .take_while(|item| matches!(item, Some((a, RunTest::Glob(_))) if a == attr))
        .count();
    if run < GLOB_RUN_MIN {
        0
    } else {
        run
    }
}

/// How many of `items`, from the first, form a mixed run ([`runs::mixed_run`]) on one
/// attribute.
fn mixed_run(items: &[Option<RunItem>]) -> usize {
    let Some(Some((attr, _))) = items.first() else {
        return 0;
    };
    runs::mixed_run(items.iter().map(|item| {
        let (a, test) = item.as_ref()?;
        if a != attr {
            return None;
        }
        Some(match test {
            RunTest::Literals {
                prefixes: true,
                literals,
            } => (
                Kind::Prefix,
                literals.iter().cloned().map(Reach::StartsWith).collect(),
            ),
            RunTest::Literals {
                prefixes: false,
                literals,
            } => (
                Kind::Exact,
                literals.iter().cloned().map(Reach::Exactly).collect(),
            ),
            RunTest::Glob(glob) => (
                Kind::Glob,
                glob.alternatives
                    .iter()
                    .map(|a| Reach::StartsWith(literal_prefix(a).0))
                    .collect(),
            ),
        })
    }))
}

/// What the mixed run `items` costs: a tree of its exact strings, one of its prefixes, a
/// search of its globs; one shared exit when a tree is cut into functions or `recorded` (a
/// deny run where the program dispatches globs, so has the decision area).
fn mixed_cost(items: &[Option<RunItem>], recorded: bool) -> RunCost {
    let literals = |prefixes: bool| {
        items
            .iter()
            .flatten()
            .flat_map(move |(_, test)| match test {
                RunTest::Literals {
                    prefixes: p,
                    literals,
                } if *p == prefixes => literals.as_slice(),
                _ => &[],
            })
    };
    let trees = [
        RunCost::tree(literals(false).map(Vec::as_slice)),
        RunCost::tree(literals(true).map(Vec::as_slice)),
    ];
    let shared_exit = recorded || trees.iter().any(|t| t.shared_exit);
    let globs = items
        .iter()
        .filter(|item| matches!(item, Some((_, RunTest::Glob(_)))))
        .count();
    let parts = trees
        .into_iter()
        .chain([RunCost::globs(globs, shared_exit)]);
    parts.fold(
        RunCost {
            own: 0,
            all: 0,
            shared_exit,
        },
        |sum, part| RunCost {
            own: sum.own + part.own,
            all: sum.all + part.all,
            shared_exit,
        },
    )
}

/// The runs the code generator decides together, found as it finds them, from each event's
/// first rule of one action on: a literal tree (rules whose conditions are literal sets on one
/// attribute, with at least [`SET_TREE_MIN`] literals in all, costing their [`tree_cost`]), a
/// glob run (at least [`GLOB_RUN_MIN`] rules that each test one glob on one attribute: a search
/// over accept sets), or a longer mixed run of both ([`runs`]). Audit rules, each of which
/// reports when it matches, form literal trees only, as far as [`runs::AuditRun`] lets one
/// search decide them. Per rule, the run it is in; per run, its cost.
fn literal_trees(
    rules: &[CheckedRule],
    attributes: &[ResolvedAttribute],
    dispatching: &BTreeSet<&'static str>,
) -> (Vec<Option<usize>>, Vec<RunCost>) {
    let mut run_of = vec![None; rules.len()];
    let mut costs = Vec::new();
    let mut by_event: HashMap<&'static str, Vec<&CheckedRule>> = HashMap::new();
    let mut groups: HashMap<(&'static str, Action), Vec<usize>> = HashMap::new();
    for (i, rule) in rules.iter().enumerate() {
        by_event.entry(rule.event.name).or_default().push(rule);
        // Kill rules are deny rules that also send a signal: the code generator decides them
        // in one list, in order, and runs span both.
        let list = if rule.action.refuses() {
            Action::Deny
        } else {
            rule.action
        };
        groups.entry((rule.event.name, list)).or_default().push(i);
    }
    let known: HashMap<&'static str, BTreeSet<String>> = by_event
        .iter()
        .map(|(event, rules)| (*event, known_gate(rules, attributes)))
        .collect();
    let mut groups: Vec<_> = groups.into_iter().collect();
    groups.sort_by_key(|(_, members)| members.first().copied());
    for ((event, action), members) in groups {
        let empty = BTreeSet::new();
        let known = known.get(event).unwrap_or(&empty);
        let items: Vec<Option<RunItem>> = members
            .iter()
            .map(|&i| {
                let cond = deciding(&rules[i].condition, attributes)?;
                match literal_set(cond, attributes) {
                    Some((attr, prefixes, literals)) => {
                        Some((attr, RunTest::Literals { prefixes, literals }))
                    }
                    None => sole_glob(cond).map(|(attr, glob)| (attr, RunTest::Glob(glob))),
                }
            })
            .collect();
        let gates: Vec<Gate> = members
            .iter()
            .map(|&i| own_gate(&rules[i].condition, known, attributes))
            .collect();
        let block_end = runs::block_ends(&gates, |a, b| a.tests == b.tests);
        let indexes: Vec<u32> = members.iter().map(|&i| rules[i].index).collect();
        // Where the program dispatches globs, a deny run's glob rules each record themselves
        // and share one exit (`codegen`, the decision area).
        let recorded = action != Action::Allow && dispatching.contains(event);
        let mut at = 0;
        while at < members.len() {
            let rest = &items[at..block_end[at]];
            let audit = action == Action::Audit;
            let (tree, literals) = tree_run(rest, audit.then(|| &indexes[at..]));
            let globs = if tree > 0 || audit { 0 } else { glob_run(rest) };
            let mixed = if audit { 0 } else { mixed_run(rest) };
            let (run, mut cost) = if mixed > tree.max(globs) {
                (mixed, mixed_cost(&rest[..mixed], recorded))
            } else if tree > 0 {
                let mut cost = RunCost::tree(literals.into_iter());
                if audit {
                    // One report for the whole run, and one for an unknown string; below the
                    // cut, each leaf passes its rule's index to it (`codegen`'s `audit_run`).
                    let leaves = match cost.shared_exit {
                        true => 0,
                        false => SHARED_REPORT_COST as usize * tree,
                    };
                    cost.shared_exit = true;
                    cost.own += AUDIT_UNKNOWN_COST + leaves;
                    cost.all += AUDIT_UNKNOWN_COST + leaves;
                }
                (tree, cost)
            } else if globs > 0 {
                (globs, RunCost::globs(globs, recorded))
            } else {
                at += 1;
                continue;
            };
            // The run's gate, tested once in front of it.
            cost.own += gates[at].cost as usize;
            cost.all += gates[at].cost as usize;
            for &i in &members[at..at + run] {
                run_of[i] = Some(costs.len());
            }
            costs.push(cost);
            at += run;
        }
    }
    (run_of, costs)
}

/// An estimate as the checker's totals count it (saturating: no estimate that large passes).
fn as_cost(estimate: usize) -> u32 {
    u32::try_from(estimate).unwrap_or(u32::MAX)
}

fn estimated_cost(cond: &Cond) -> u32 {
    match cond {
        Cond::Const(_) => 1,
        Cond::And(a, b) | Cond::Or(a, b) => estimated_cost(a) + estimated_cost(b) + 1,
        Cond::Not(c) => estimated_cost(c),
        Cond::Test(test) => match &test.predicate {
            Predicate::Int { .. } | Predicate::IsTrue => 4,
            Predicate::IntAttr { .. } => 5,
            Predicate::Cidr { .. } => 12,
            Predicate::Masked { .. } => 7,
            Predicate::StrEq(bytes) => 6 + 5 * (bytes.len() as u32).div_ceil(8),
            Predicate::Glob(glob) => glob.cost(),
        },
    }
}

impl Checker<'_> {
    /// Refuses an event whose rules would compile past what BPF branches can reach, or past
    /// what the verifier walks.
    pub(super) fn check_sizes(&mut self, rules: &[CheckedRule]) {
        let over = |(own, all): (u32, u32)| {
            if own > MAX_EVENT_COST {
                Some((own, MAX_EVENT_COST))
            } else if all > MAX_PROGRAM_COST {
                Some((all, MAX_PROGRAM_COST))
            } else {
                None
            }
        };
        let mut findings = Vec::new();
        running_estimates(rules, &self.attributes, |rule, before, after| {
            // The rule that first takes its event past a limit is the one to blame.
            if let (None, Some((estimate, limit))) = (over(before), over(after)) {
                findings.push(Finding::EventTooLarge {
                    event: rule.event.name,
                    estimate,
                    limit,
                    span: rule.span,
                });
            }
        });
        for finding in findings {
            self.report(finding);
        }
    }

    /// Refuses an event whose globs on one string, planned as the code generator plans them
    /// ([`GlobPlan`]: merged into one automaton, or found by their literal prefix and their
    /// remainders merged into another), pass an automaton's limits: each glob alone was
    /// checked where it was written, but a state of a merged automaton is a set of positions
    /// in all of them. Directory rules (`/etc/**`) are prefix compares, not part of it. The
    /// diagnostic names the rule whose globs first make it too large.
    pub(super) fn check_automata(&mut self, rules: &[CheckedRule]) {
        for (attr, globs) in globs_by_string(rules) {
            let padded = is_padded(attr, &self.attributes);
            let fits = |n: usize| {
                let refs: Vec<&Glob> = globs[..n].iter().map(|(g, _)| *g).collect();
                plan(&refs, padded).check(&refs).err()
            };
            let Some(error) = fits(globs.len()) else {
                continue;
            };
            // The fewest globs that do not fit: about monotone in the globs added (a glob
            // whose prefix nests with a dispatched one's takes both back into the merged
            // automaton), which is enough to name a rule to blame.
            let (mut fit, mut over) = (0, globs.len());
            while over - fit > 1 {
                let mid = (fit + over) / 2;
                if fits(mid).is_some() {
                    over = mid;
                } else {
                    fit = mid;
                }
            }
            let rule = &rules[globs[over - 1].1];
            let attribute = self
                .attributes
                .get(attr.0 as usize)
                .map(|a| a.attribute.name);
            self.report(Finding::GlobsTooComplex {
                event: rule.event.name,
                attribute: attribute.unwrap_or("?"),
                message: error.to_string(),
                span: rule.span,
            });
        }
    }
}

/// The estimate of each event's program, in about-one-instruction units: its own code (which
/// one jump must cross, limited to [`MAX_EVENT_COST`]) and all of it, its functions included
/// (which the verifier walks, limited to [`MAX_PROGRAM_COST`]). E0207 refuses past either.
/// The values the rules read are not counted: for a policy the checker took, the code
/// generator emits at most this and [`UNCOUNTED_ROOM`] more.
pub fn estimated_sizes(policy: &CheckedPolicy) -> BTreeMap<&'static str, (u32, u32)> {
    let mut sizes = BTreeMap::new();
    running_estimates(&policy.rules, &policy.attributes, |rule, _, after| {
        sizes.insert(rule.event.name, after);
    });
    sizes
}

/// Adds up the estimate rule by rule, calling `counted` with each rule and its event's
/// (own, all) estimate before and after the rule.
fn running_estimates(
    rules: &[CheckedRule],
    attributes: &[ResolvedAttribute],
    mut counted: impl FnMut(&CheckedRule, (u32, u32), (u32, u32)),
) {
    let mut totals: HashMap<&'static str, (u32, u32)> = HashMap::new();
    let dispatch = dispatch_costs(rules, attributes);
    let dispatching = dispatch.keys().copied().collect();
    let (run_of, run_costs) = literal_trees(rules, attributes, &dispatching);
    let mut counted_runs = vec![false; run_costs.len()];
    // Per event and errno, how many deny rules refuse with it; and the exits counted so far.
    let mut refusing: HashMap<(&'static str, i32), usize> = HashMap::new();
    for rule in rules.iter().filter(|r| r.action == Action::Deny) {
        *refusing.entry((rule.event.name, rule.errno)).or_default() += 1;
    }
    let mut shared_exits: HashSet<(&'static str, i32)> = HashSet::new();
    let screened: HashSet<&'static str> = rules
        .iter()
        .filter(|r| {
            attrs(&r.condition).iter().any(|a| {
                attributes
                    .get(a.0 as usize)
                    .is_some_and(|a| matches!(a.attribute.source, Source::ResolvedPath { .. }))
            })
        })
        .map(|r| r.event.name)
        .collect();
    for (rule, run) in rules.iter().zip(run_of) {
        let (own, all) = totals.entry(rule.event.name).or_insert_with(|| {
            let (own, all) = dispatch.get(rule.event.name).copied().unwrap_or_default();
            let screen = match screened.contains(rule.event.name) {
                true => PATH_SCREEN_COST as u32,
                false => 0,
            };
            let base = PROGRAM_BASE_COST + screen;
            (base + own, base + all)
        });
        let before = (*own, *all);
        let key = (rule.event.name, rule.errno);
        let report = match rule.action {
            Action::Allow => 2,
            Action::Deny if refusing.get(&key).is_some_and(|&n| n >= 2) => {
                match shared_exits.insert(key) {
                    true => SHARED_REPORT_COST + REPORT_COST,
                    false => SHARED_REPORT_COST,
                }
            }
            Action::Kill => KILL_REPORT_COST,
            Action::Deny | Action::Audit => REPORT_COST,
        };
        match run {
            // A run is counted once, at its first rule; each rule's report where it has
            // its own.
            Some(r) => {
                let run = &run_costs[r];
                let shared = if run.shared_exit { REPORT_COST } else { 0 };
                if !counted_runs[r] {
                    counted_runs[r] = true;
                    *own = own.saturating_add(as_cost(run.own)).saturating_add(shared);
                    *all = all.saturating_add(as_cost(run.all));
                }
                if !run.shared_exit {
                    *own = own.saturating_add(report);
                }
                *all = all.saturating_add(report);
            }
            None => {
                let cost = estimated_cost(&rule.condition) + report;
                *own = own.saturating_add(cost);
                *all = all.saturating_add(cost);
            }
        }
        counted(rule, before, (*own, *all));
    }
}

/// The globs `cond` tests, with the string each tests; directory rules (`/etc/**`) are
/// prefix compares, not globs an automaton scans.
pub(super) fn globs_of(cond: &Cond) -> Vec<(AttrId, &Glob)> {
    fn walk<'c>(cond: &'c Cond, out: &mut Vec<(AttrId, &'c Glob)>) {
        match cond {
            Cond::And(a, b) | Cond::Or(a, b) => {
                walk(a, out);
                walk(b, out);
            }
            Cond::Not(inner) => walk(inner, out),
            Cond::Test(Test {
                attr,
                predicate: Predicate::Glob(glob),
                ..
            }) if !is_directory_rule(&glob.alternatives) => out.push((*attr, glob)),
            Cond::Test(_) | Cond::Const(_) => {}
        }
    }
    let mut out = Vec::new();
    walk(cond, &mut out);
    out
}

/// Per tested string (not counting directory rules): its distinct globs, each with the
/// index of the rule that first tests it, in the rules' order.
fn globs_by_string(rules: &[CheckedRule]) -> BTreeMap<AttrId, Vec<(&Glob, usize)>> {
    let mut strings: BTreeMap<AttrId, Vec<(&Glob, usize)>> = BTreeMap::new();
    // A set beside each list: comparing every glob with all kept ones made a refusal of
    // thousands of glob rules take seconds.
    let mut seen: HashSet<(AttrId, &Vec<Vec<Token>>)> = HashSet::new();
    for (r, rule) in rules.iter().enumerate() {
        for (attr, glob) in globs_of(&rule.condition) {
            if seen.insert((attr, &glob.alternatives)) {
                strings.entry(attr).or_default().push((glob, r));
            }
        }
    }
    strings
}

/// How the code generator matches `globs` on one string: a NUL-padded name has no length
/// for a prefix search, so its globs all stay merged.
fn plan(globs: &[&Glob], padded: bool) -> GlobPlan {
    if padded {
        GlobPlan::merged(globs.len())
    } else {
        GlobPlan::new(globs)
    }
}

/// A NUL-padded name (a comm), rather than a string with a length.
fn is_padded(attr: AttrId, attributes: &[ResolvedAttribute]) -> bool {
    attributes.get(attr.0 as usize).is_some_and(|a| {
        matches!(
            a.attribute.source,
            Source::CurrentComm | Source::TaskChars { .. } | Source::ParamChars { .. }
        )
    })
}

/// The code of dispatched globs' prefix search and scan (see [`GlobPlan`]): in the program
/// (a search past [`INLINE_TREE_COST`] is cut into functions, leaving its calls), and all.
pub fn dispatch_cost(dispatch: &Dispatch) -> (u32, u32) {
    let tree = tree_cost(dispatch.entries.iter().map(|e| e.prefix.as_slice()))
        + DISPATCH_LEAF_COST * dispatch.entries.len();
    let all = u32::try_from(tree).unwrap_or(u32::MAX) + DISPATCH_SCAN_COST;
    if tree > INLINE_TREE_COST {
        (SPLIT_TREE_COST + DISPATCH_SCAN_COST, all)
    } else {
        (all, all)
    }
}

/// Per event, the code of its strings' prefix searches (see [`GlobPlan`]): in the program
/// (a search past [`INLINE_TREE_COST`] is cut into functions, leaving its calls), and all.
fn dispatch_costs(
    rules: &[CheckedRule],
    attributes: &[ResolvedAttribute],
) -> HashMap<&'static str, (u32, u32)> {
    let mut costs: HashMap<&'static str, (u32, u32)> = HashMap::new();
    for (attr, globs) in globs_by_string(rules) {
        let refs: Vec<&Glob> = globs.iter().map(|(g, _)| *g).collect();
        let Some(dispatch) = plan(&refs, is_padded(attr, attributes)).dispatch else {
            continue;
        };
        let (own, all) = dispatch_cost(&dispatch);
        let event = rules[globs[0].1].event.name;
        let cost = costs.entry(event).or_default();
        *cost = (cost.0.saturating_add(own), cost.1.saturating_add(all));
    }
    costs
}
