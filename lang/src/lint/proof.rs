//! The proof engine: a satisfiability search over the tests of one event, each test an atom,
//! with a theory per attribute type (integers in their range, strings) that answers
//! "impossible" only when it has shown it.

use super::constant::{constant_truth, int_max, int_min};
use super::witness::realize;
use crate::catalog::{Attribute, Event, ValueType};
use crate::checked::{AttrValue, Cond, IntOp, Predicate, ResolvedAttribute, Test};
use crate::eval::StringKind;
use crate::glob::Token;
use std::collections::{HashMap, HashSet};

/// How many choices deep one proof may go; deeper conditions are not linted.
const MAX_DEPTH: u32 = 200;
/// Integer ranges at most this wide are decided value by value.
const ENUMERATE: u64 = 1024;

/// What an atom's attribute can be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Domain {
    /// An integer in `min..=max` (`min` is 0 but for `argc`, see [`int_min`]).
    Int {
        min: u64,
        max: u64,
    },
    /// A string; `fallible` when the program may be unable to read it (fail closed).
    Str {
        fallible: bool,
    },
    Bool,
    /// A value the lints prove nothing about: any truth values its tests have together are
    /// taken as possible. An endpoint (port, address) is one: a socket of another family has
    /// none, and then every test on it is false, `port == 80` and `port != 80` alike.
    Opaque,
}

/// One test of the event: an attribute and a predicate on it.
pub(super) struct Atom {
    attribute: &'static str,
    /// The catalog's attribute; `None` for an atom nothing constrains.
    pub(super) described: Option<&'static Attribute>,
    pub(super) domain: Domain,
    pub(super) predicate: Predicate,
    /// The predicate is constant over the domain (see [`constant_truth`]).
    constant: bool,
    /// The test itself may be unknown: a test on a string the program may not read.
    fallible: bool,
}

/// Predicates as hashable keys; globs by their alternatives, not their pattern: a test on
/// one argument of an exec and one on any argument share a pattern's text but not its
/// meaning (two spellings of one glob are two atoms, which only makes a proof less likely,
/// never wrong).
#[derive(Clone, PartialEq, Eq, Hash)]
enum PredicateKey {
    Int(u8, u64),
    Masked(u64, u8, u64),
    Str(Vec<u8>),
    Glob(Vec<Vec<Token>>),
    Cidr(std::net::IpAddr, u8),
    IsTrue,
    IntAttr(u8, u32),
}

fn op_key(op: IntOp) -> u8 {
    op as u8
}

impl PredicateKey {
    pub(super) fn of(predicate: &Predicate) -> PredicateKey {
        match predicate {
            Predicate::Int { op, value } => PredicateKey::Int(op_key(*op), *value),
            Predicate::Masked { mask, op, value } => {
                PredicateKey::Masked(*mask, op_key(*op), *value)
            }
            Predicate::StrEq(bytes) => PredicateKey::Str(bytes.clone()),
            Predicate::Glob(glob) => PredicateKey::Glob(glob.alternatives.clone()),
            Predicate::Cidr { addr, prefix } => PredicateKey::Cidr(*addr, *prefix),
            Predicate::IsTrue => PredicateKey::IsTrue,
            Predicate::IntAttr { op, other } => PredicateKey::IntAttr(op_key(*op), other.0),
        }
    }
}

/// The atoms of one event, interned.
pub(super) struct Atoms {
    event: &'static Event,
    /// Each attribute of the checked policy, by [`crate::checked::AttrId`].
    by_id: Vec<&'static Attribute>,
    widths: HashMap<&'static str, u64>,
    atoms: Vec<Atom>,
    index: HashMap<(&'static str, PredicateKey), usize>,
}

impl Atoms {
    pub(super) fn new(attributes: &[ResolvedAttribute], event: &'static Event) -> Atoms {
        let widths = attributes
            .iter()
            .filter(|r| r.event.name == event.name)
            .map(|r| (r.attribute.name, int_max(r.attribute, Some(r))))
            .collect();
        Atoms {
            event,
            by_id: attributes.iter().map(|r| r.attribute).collect(),
            widths,
            atoms: Vec::new(),
            index: HashMap::new(),
        }
    }

    /// Reads the tests of another policy of the same event and kernel from now on (its
    /// [`crate::checked::AttrId`]s number its own attribute table): atoms stay shared, so a
    /// formula over one policy and a formula over the other speak of the same event.
    pub(super) fn read_ids_of(&mut self, attributes: &[ResolvedAttribute], event: &'static Event) {
        self.by_id = attributes.iter().map(|r| r.attribute).collect();
        for r in attributes.iter().filter(|r| r.event.name == event.name) {
            self.widths
                .entry(r.attribute.name)
                .or_insert_with(|| int_max(r.attribute, Some(r)));
        }
    }

    pub(super) fn attribute_of_test(&self, test: &Test) -> Option<&'static Attribute> {
        self.by_id.get(test.attr.0 as usize).copied()
    }

    fn unconstrained(&mut self) -> usize {
        self.atoms.push(Atom {
            attribute: "",
            described: None,
            domain: Domain::Bool,
            predicate: Predicate::IsTrue,
            constant: false,
            fallible: false,
        });
        self.atoms.len() - 1
    }

    pub(super) fn intern(&mut self, attribute: &'static Attribute, predicate: Predicate) -> usize {
        // A flag that is a bit of an integer attribute (`ptrace`'s `attach` of `mode`) is a
        // test on that integer, so `mode == 1 and attach` is known to be never true.
        if let (Predicate::IsTrue, Some((whole, mask))) = (&predicate, self.event.bit_of(attribute))
        {
            let bit = Predicate::Masked {
                mask,
                op: IntOp::Ne,
                value: 0,
            };
            return self.intern(whole, bit);
        }
        let key = (attribute.name, PredicateKey::of(&predicate));
        if let Some(&at) = self.index.get(&key) {
            return at;
        }
        let domain = match attribute.ty {
            _ if matches!(attribute.source, crate::catalog::Source::Endpoint { .. }) => {
                Domain::Opaque
            }
            // A comparison with another attribute relates two values: the theory of one
            // attribute's range cannot decide it, so any truth is taken as possible.
            _ if matches!(predicate, Predicate::IntAttr { .. }) => Domain::Opaque,
            ValueType::Addr => Domain::Opaque,
            // Membership tests are masks of the 64-bit set.
            ValueType::CapabilitySet => Domain::Int {
                min: 0,
                max: u64::MAX,
            },
            ValueType::Int | ValueType::Enum(_) => Domain::Int {
                min: int_min(attribute),
                max: self
                    .widths
                    .get(attribute.name)
                    .copied()
                    .unwrap_or_else(|| int_max(attribute, None)),
            },
            ValueType::Str | ValueType::Path => Domain::Str {
                fallible: StringKind::of(&attribute.source) != StringKind::Padded,
            },
            ValueType::Bool => Domain::Bool,
        };
        let constant = match domain {
            Domain::Int { min, max } => constant_truth(&predicate, min, max).is_some(),
            _ => constant_truth(&predicate, 0, u64::MAX).is_some(),
        };
        let fallible = matches!(domain, Domain::Str { fallible: true } | Domain::Opaque);
        self.atoms.push(Atom {
            attribute: attribute.name,
            described: Some(attribute),
            domain,
            predicate,
            constant,
            fallible,
        });
        self.index.insert(key, self.atoms.len() - 1);
        self.atoms.len() - 1
    }
}

/// A condition in negation normal form over atoms.
#[derive(Clone, Debug)]
pub(super) enum Formula {
    Const(bool),
    /// The atom is `want`; or it is unknown and `unknown_holds`.
    Leaf {
        atom: usize,
        want: bool,
        unknown_holds: bool,
    },
    And(Vec<Formula>),
    Or(Vec<Formula>),
}

impl Formula {
    /// `cond` (negated when `negate`) with negations pushed to the tests and runs of one
    /// connective flattened, so long lists do not nest deeply.
    pub(super) fn of(
        cond: &Cond,
        negate: bool,
        unknown_holds: bool,
        atoms: &mut Atoms,
        free_constants: bool,
    ) -> Formula {
        let (mut cond, mut negate) = (cond, negate);
        while let Cond::Not(inner) = cond {
            cond = inner;
            negate = !negate;
        }
        match cond {
            Cond::Const(_) if free_constants => Formula::Leaf {
                atom: atoms.unconstrained(),
                want: true,
                unknown_holds,
            },
            Cond::Const(b) => Formula::Const(*b != negate),
            Cond::Test(test) => {
                let attribute = atoms.attribute_of_test(test);
                match attribute {
                    Some(attribute) => Formula::Leaf {
                        atom: atoms.intern(attribute, test.predicate.clone()),
                        want: !negate,
                        unknown_holds,
                    },
                    // Cannot happen for a checked policy; an atom nothing constrains is
                    // safe, since it can take either value.
                    None => Formula::Leaf {
                        atom: atoms.unconstrained(),
                        want: true,
                        unknown_holds,
                    },
                }
            }
            Cond::And(..) | Cond::Or(..) => {
                let is_and = matches!(cond, Cond::And(..));
                let mut parts = Vec::new();
                let mut stack = vec![cond];
                while let Some(c) = stack.pop() {
                    match c {
                        Cond::And(a, b) if is_and => stack.extend([b.as_ref(), a.as_ref()]),
                        Cond::Or(a, b) if !is_and => stack.extend([b.as_ref(), a.as_ref()]),
                        other => parts.push(Formula::of(
                            other,
                            negate,
                            unknown_holds,
                            atoms,
                            free_constants,
                        )),
                    }
                }
                // De Morgan: a negated `and` is an `or` of negations.
                if is_and != negate {
                    Formula::And(parts)
                } else {
                    Formula::Or(parts)
                }
            }
            // Stripped by the loop above.
            Cond::Not(_) => Formula::Const(true),
        }
    }
}

/// An atom's value in a search: true or false, or unknown (only for fallible atoms).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Value {
    Known(bool),
    Unknown,
}

/// The search ran out of steps or depth: no answer, so no warning.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct GaveUp;

/// A depth-first search for values of the atoms that satisfy a conjunction of formulas,
/// backtracking at each `or` and at each atom that may be true or unknown. Every value it
/// assigns is checked against the attribute's theory, which answers "impossible" only when it
/// has shown it; so `Ok(false)` is a proof, `Ok(true)` and `Err(GaveUp)` are not needed to be.
pub(super) struct Solver<'s> {
    atoms: &'s [Atom],
    free_constants: bool,
    pub(super) steps_left: u32,
    values: Vec<Option<Value>>,
    /// Assigned atoms, in order, to undo on backtracking.
    trail: Vec<usize>,
    /// Per string attribute, how many of its atoms are assigned true: while none is, every
    /// set of its atoms' values is satisfiable (a string avoids any finite set of literals
    /// and globs), so assigning one false needs no theory check (see [`Solver::pins`]).
    string_truths: HashMap<&'static str, u32>,
    /// In a witness search, what each model found must pass (see [`Solver::witness`]).
    accept: Option<&'s mut Acceptor<'s>>,
}

/// What [`Solver::choose`] found among the deferred `or`s.
enum Choice<'f> {
    /// Every one is satisfied.
    Done,
    /// One has every part false.
    Conflict,
    /// One has a single part left open: it must hold.
    Unit(&'f Formula),
    /// The one with the fewest open parts, which are to be tried in turn.
    Branch(Vec<&'f Formula>),
}

/// Judges an example event made from a model: `true` ends the search with it.
pub(super) type Acceptor<'s> = dyn FnMut(&[(&'static Attribute, AttrValue)]) -> bool + 's;

impl<'s> Solver<'s> {
    pub(super) fn new(atoms: &'s Atoms, free_constants: bool, steps: u32) -> Solver<'s> {
        Solver {
            atoms: &atoms.atoms,
            free_constants,
            steps_left: steps,
            values: vec![None; atoms.atoms.len()],
            trail: Vec::new(),
            string_truths: HashMap::new(),
            accept: None,
        }
    }

    /// A witness search: models of `goals` in which every test is known (no string the
    /// program cannot read), each made into concrete attribute values and handed to `accept`
    /// until it takes one. `Ok(true)` when it did; `Ok(false)` when no model became an
    /// accepted example (which proves nothing: the string theory is not complete).
    pub(super) fn witness(
        atoms: &'s Atoms,
        steps: u32,
        goals: Vec<&Formula>,
        accept: &'s mut Acceptor<'s>,
    ) -> (Result<bool, GaveUp>, u32) {
        let mut solver = Solver::new(atoms, false, steps);
        solver.accept = Some(accept);
        let answer = solver.search(goals, 0);
        (answer, solver.steps_left)
    }

    pub(super) fn search(&mut self, goals: Vec<&Formula>, depth: u32) -> Result<bool, GaveUp> {
        if depth > MAX_DEPTH {
            return Err(GaveUp);
        }
        let mark = self.trail.len();
        let result = self.run(goals, depth);
        while self.trail.len() > mark {
            if let Some(atom) = self.trail.pop() {
                self.set(atom, None);
            }
        }
        result
    }

    /// Takes the goals that need no choice first (tests, conjunctions) and keeps the `or`s for
    /// last: then an `or` that one of its parts already satisfies needs no choice, one with a
    /// single part left open is that part (unit propagation), and a choice is made only where
    /// two parts or more are open, at the `or` with the fewest. A long conjunction of `or`s
    /// (a deny rule that holds for no allow rule's events, every earlier deny rule failing)
    /// then costs a choice per open `or`, not a level of the search per `or`.
    fn run<'f>(&mut self, mut goals: Vec<&'f Formula>, depth: u32) -> Result<bool, GaveUp> {
        let mut deferred: Vec<&'f Formula> = Vec::new();
        loop {
            let Some(goal) = goals.pop() else {
                match self.choose(&mut deferred)? {
                    Choice::Done => break,
                    Choice::Conflict => return Ok(false),
                    Choice::Unit(part) => goals.push(part),
                    Choice::Branch(open) => {
                        let Some((last, rest)) = open.split_last() else {
                            return Ok(false);
                        };
                        for part in rest {
                            let mut branch = deferred.clone();
                            branch.push(part);
                            if self.search(branch, depth + 1)? {
                                return Ok(true);
                            }
                        }
                        goals.push(last);
                    }
                }
                continue;
            };
            self.steps_left = self.steps_left.checked_sub(1).ok_or(GaveUp)?;
            match goal {
                Formula::Const(true) => {}
                Formula::Const(false) => return Ok(false),
                Formula::And(parts) => goals.extend(parts.iter()),
                Formula::Or(_) => deferred.push(goal),
                &Formula::Leaf {
                    atom,
                    want,
                    unknown_holds,
                } => match self.values.get(atom).copied().flatten() {
                    Some(Value::Known(value)) if value != want => return Ok(false),
                    Some(Value::Unknown) if !unknown_holds => return Ok(false),
                    Some(_) => {}
                    None => {
                        let may_be_unknown = unknown_holds
                            && self.accept.is_none()
                            && self.atoms.get(atom).is_some_and(|a| a.fallible);
                        self.assign(atom, Value::Known(want));
                        // A theory check reads every assigned atom: it costs that many steps.
                        // A string test made false while none of its attribute's holds needs
                        // none (one made true always does: it holds itself): a list of ten
                        // thousand paths, every one excluded, would otherwise cost the square
                        // of its length.
                        let consistent = if !self.pins(atom) {
                            true
                        } else {
                            let cost = u32::try_from(self.trail.len()).unwrap_or(u32::MAX);
                            self.steps_left = self.steps_left.checked_sub(cost).ok_or(GaveUp)?;
                            self.consistent(atom)
                        };
                        if !may_be_unknown {
                            if !consistent {
                                return Ok(false);
                            }
                            continue;
                        }
                        let mut rest = goals.clone();
                        rest.extend(deferred.iter().copied());
                        if consistent && self.search(rest, depth + 1)? {
                            return Ok(true);
                        }
                        // Or the program cannot read the value, which this leaf accepts.
                        self.set(atom, Some(Value::Unknown));
                    }
                },
            }
        }
        if let Some(accept) = self.accept.as_mut() {
            // Every atom the goals read has its value: some value of each attribute must give
            // them all, and the example must pass the caller's judge; else search on.
            let cost = u32::try_from(self.trail.len()).unwrap_or(u32::MAX);
            self.steps_left = self.steps_left.checked_sub(cost).ok_or(GaveUp)?;
            let Some(example) = realize(self.atoms, &self.values) else {
                return Ok(false);
            };
            return Ok(accept(&example));
        }
        Ok(true)
    }

    /// The next `or` to take among `deferred`, dropping those already satisfied.
    fn choose<'f>(&mut self, deferred: &mut Vec<&'f Formula>) -> Result<Choice<'f>, GaveUp> {
        let mut best: Option<(usize, Vec<&'f Formula>)> = None;
        let mut at = 0;
        while at < deferred.len() {
            self.steps_left = self.steps_left.checked_sub(1).ok_or(GaveUp)?;
            let Formula::Or(parts) = deferred[at] else {
                // Only `or`s are deferred; anything else is a goal like any other.
                return Ok(Choice::Unit(deferred.swap_remove(at)));
            };
            let mut open = Vec::new();
            let mut satisfied = false;
            for part in parts {
                match self.status(part) {
                    Some(true) => {
                        satisfied = true;
                        break;
                    }
                    Some(false) => {}
                    None => open.push(part),
                }
            }
            if satisfied {
                deferred.swap_remove(at);
                continue;
            }
            match open.len() {
                0 => return Ok(Choice::Conflict),
                1 => {
                    deferred.swap_remove(at);
                    return Ok(Choice::Unit(open[0]));
                }
                n if best.as_ref().is_none_or(|(_, b)| n < b.len()) => best = Some((at, open)),
                _ => {}
            }
            at += 1;
        }
        Ok(match best {
            None => Choice::Done,
            Some((at, open)) => {
                deferred.swap_remove(at);
                Choice::Branch(open)
            }
        })
    }

    /// Whether the values assigned so far already decide `formula` (a test or a constant).
    fn status(&self, formula: &Formula) -> Option<bool> {
        match *formula {
            Formula::Const(b) => Some(b),
            Formula::Leaf {
                atom,
                want,
                unknown_holds,
            } => match self.values.get(atom).copied().flatten()? {
                Value::Known(value) => Some(value == want),
                Value::Unknown => Some(unknown_holds),
            },
            _ => None,
        }
    }

    fn assign(&mut self, atom: usize, value: Value) {
        self.set(atom, Some(value));
        self.trail.push(atom);
    }

    /// Gives `atom` its value, keeping [`Solver::string_truths`].
    fn set(&mut self, atom: usize, value: Option<Value>) {
        let counted = |value: Option<Value>| value == Some(Value::Known(true));
        if let Some(a) = self
            .atoms
            .get(atom)
            .filter(|a| matches!(a.domain, Domain::Str { .. }))
        {
            let was = self.values[atom];
            if counted(was) != counted(value) {
                let truths = self.string_truths.entry(a.attribute).or_insert(0);
                if counted(value) {
                    *truths += 1;
                } else {
                    *truths = truths.saturating_sub(1);
                }
            }
        }
        self.values[atom] = value;
    }

    /// Whether some atom of `atom`'s string attribute is assigned true, which may pin the
    /// string so that a test made false contradicts it ([`str_satisfiable`] reads only the
    /// true ones to refute); `true` for an atom of any other domain.
    fn pins(&self, atom: usize) -> bool {
        match self.atoms.get(atom) {
            Some(a) if matches!(a.domain, Domain::Str { .. }) => {
                self.string_truths.get(a.attribute).copied().unwrap_or(0) > 0
            }
            _ => true,
        }
    }

    /// Whether some value of `atom`'s attribute gives every known atom of it its value. `true`
    /// when that cannot be decided cheaply.
    fn consistent(&self, atom: usize) -> bool {
        let Some(this) = self.atoms.get(atom) else {
            return true;
        };
        let known = self.trail.iter().filter_map(|&a| {
            let other = &self.atoms[a];
            let ignored = self.free_constants && other.constant;
            match self.values[a] {
                Some(Value::Known(value)) if other.attribute == this.attribute && !ignored => {
                    Some((&other.predicate, value))
                }
                _ => None,
            }
        });
        match this.domain {
            Domain::Int { min, max } => int_satisfiable(min, max, known),
            Domain::Str { .. } => str_satisfiable(known.collect()),
            // One predicate (`IsTrue`), so one atom, which has one value.
            Domain::Bool => true,
            Domain::Opaque => true,
        }
    }
}

/// Whether some integer in `0..=max` (`max` is `2^k - 1`) satisfies every `(x & mask) OP v`.
/// Exact on small ranges; elsewhere it refutes only through necessary conditions.
pub(super) fn int_satisfiable<'p>(
    min: u64,
    max: u64,
    known: impl Iterator<Item = (&'p Predicate, bool)>,
) -> bool {
    let constraints: Vec<(u64, IntOp, u64)> = known
        .filter_map(|(predicate, value)| {
            let (mask, op, v) = match *predicate {
                Predicate::Int { op, value } => (max, op, value),
                Predicate::Masked { mask, op, value } => (mask & max, op, value),
                _ => return None,
            };
            Some((mask, if value { op } else { op.negated() }, v))
        })
        .collect();
    let holds = |x: u64| {
        constraints
            .iter()
            .all(|&(mask, op, v)| op.holds(x & mask, v))
    };
    let (mut lo, mut hi) = (min, max);
    for &(_, op, v) in constraints.iter().filter(|c| c.0 == max) {
        match op {
            IntOp::Eq => (lo, hi) = (lo.max(v), hi.min(v)),
            IntOp::Lt if v == 0 => return false,
            IntOp::Lt => hi = hi.min(v - 1),
            IntOp::Le => hi = hi.min(v),
            IntOp::Gt if v == u64::MAX => return false,
            IntOp::Gt => lo = lo.max(v + 1),
            IntOp::Ge => lo = lo.max(v),
            IntOp::Ne => {}
        }
    }
    if lo > hi {
        return false;
    }
    if hi - lo < ENUMERATE {
        return (lo..=hi).any(holds);
    }
    // Bits fixed by `(x & m) == v`.
    let (mut known_mask, mut known_bits) = (0u64, 0u64);
    for &(mask, op, v) in &constraints {
        if op == IntOp::Eq && mask != max {
            if v & !mask != 0 || (known_bits ^ v) & known_mask & mask != 0 {
                return false;
            }
            known_mask |= mask;
            known_bits |= v & mask;
        }
    }
    // The least and the greatest value with those bits must reach the range.
    if known_bits > hi || (known_bits | (max & !known_mask)) < lo {
        return false;
    }
    // Each mask's masked value, decided value by value when its range is small.
    let masks: HashSet<u64> = constraints
        .iter()
        .filter(|c| c.0 != max)
        .map(|c| c.0)
        .collect();
    for mask in masks {
        let (mut ylo, mut yhi) = (0u64, mask);
        for &(_, op, v) in constraints.iter().filter(|c| c.0 == mask) {
            match op {
                IntOp::Eq => (ylo, yhi) = (ylo.max(v), yhi.min(v)),
                IntOp::Lt if v == 0 => return false,
                IntOp::Lt => yhi = yhi.min(v - 1),
                IntOp::Le => yhi = yhi.min(v),
                IntOp::Gt if v == u64::MAX => return false,
                IntOp::Gt => ylo = ylo.max(v + 1),
                IntOp::Ge => ylo = ylo.max(v),
                IntOp::Ne => {}
            }
        }
        if ylo > yhi {
            return false;
        }
        if yhi - ylo < ENUMERATE {
            let possible = (ylo..=yhi).any(|y| {
                y & !mask == 0
                    && (y ^ known_bits) & known_mask & mask == 0
                    && constraints
                        .iter()
                        .filter(|c| c.0 == mask)
                        .all(|&(_, op, v)| op.holds(y, v))
            });
            if !possible {
                return false;
            }
        }
    }
    true
}

/// Whether some string gives every known string atom its value. Exact when an `==` or a
/// wildcard-free glob pins the candidates; otherwise it tries a few strings each positive glob
/// matches, and answers `true` when none is refuted by construction.
pub(super) fn str_satisfiable(known: Vec<(&Predicate, bool)>) -> bool {
    let holds = |s: &[u8]| {
        known.iter().all(|(predicate, value)| match predicate {
            Predicate::StrEq(bytes) => (bytes.as_slice() == s) == *value,
            Predicate::Glob(glob) => glob.matches(s) == *value,
            _ => true,
        })
    };
    if let Some((Predicate::StrEq(bytes), _)) = known
        .iter()
        .find(|(p, value)| *value && matches!(p, Predicate::StrEq(_)))
    {
        return holds(bytes);
    }
    let positive_glob = known.iter().find_map(|(p, value)| match p {
        Predicate::Glob(glob) if *value => Some(glob),
        _ => None,
    });
    let Some(glob) = positive_glob else {
        return true;
    };
    let literal_only = glob
        .alternatives
        .iter()
        .all(|a| a.iter().all(|t| matches!(t, Token::Byte(_))));
    let candidates: Vec<Vec<u8>> = glob
        .alternatives
        .iter()
        .flat_map(|a| [witness(a, b""), witness(a, b"x"), witness(a, b"x/y")])
        .collect();
    if candidates.iter().any(|c| holds(c)) {
        return true;
    }
    // Every string the glob matches is a candidate: nothing else can satisfy it.
    !literal_only
}

/// A string the glob alternative matches, with each star run replaced by `fill` (dropping the
/// `/` for a single star).
pub(super) fn witness(tokens: &[Token], fill: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for token in tokens {
        match token {
            Token::Byte(b) => out.push(*b),
            Token::DoubleStar | Token::ArgDoubleStar => out.extend_from_slice(fill),
            Token::Star | Token::ArgStar => out.extend(fill.iter().filter(|b| **b != b'/')),
            Token::AnyByte | Token::Class { .. } => {
                if let Some(b) = (0x20u8..0x7f).find(|b| token.accepts(*b)) {
                    out.push(b);
                }
            }
        }
    }
    out
}
