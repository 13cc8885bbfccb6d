//! From a model of the proof search to an example event: for each attribute whose tests the
//! model gives values, a concrete value with exactly those test outcomes.
//!
//! The search's theories may call a set of string tests satisfiable without having built a
//! string (see `proof::str_satisfiable`), so a model is only a candidate here: each value is
//! built from a few candidates and checked against every test, and a model with an attribute
//! no candidate satisfies gives no example (the search then looks for another model).

use super::proof::{witness, Atom, Domain, Value};
use crate::catalog::{Attribute, Source, ValueType};
use crate::checked::{AttrValue, IntOp, Predicate};
use crate::eval::{glob_truth, in_range, StringKind, Truth};
use crate::test_event::impossible_values;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// How far past each bound an integer is looked for when the obvious candidates fail.
const INT_SCAN: u64 = 1024;

/// The example the model stands for: each attribute some assigned atom tests, with a value
/// that gives every such atom its assigned truth. `None` when some attribute has none.
pub(super) fn realize(
    atoms: &[Atom],
    values: &[Option<Value>],
) -> Option<Vec<(&'static Attribute, AttrValue)>> {
    let mut attributes: Vec<&'static Attribute> = Vec::new();
    for (atom, value) in atoms.iter().zip(values) {
        if let (Some(attribute), Some(Value::Known(_))) = (atom.described, value) {
            if !attributes.iter().any(|a| a.name == attribute.name) {
                attributes.push(attribute);
            }
        }
    }
    let mut example = Vec::new();
    for attribute in attributes {
        let tests: Vec<(&Predicate, bool)> = atoms
            .iter()
            .zip(values)
            .filter_map(|(atom, value)| match (atom.described, value) {
                (Some(a), Some(Value::Known(truth))) if a.name == attribute.name => {
                    Some((&atom.predicate, *truth))
                }
                _ => None,
            })
            .collect();
        let domain = atoms
            .iter()
            .find(|a| a.described.is_some_and(|d| d.name == attribute.name))
            .map(|a| a.domain)?;
        let value = match (domain, attribute.ty) {
            (_, ValueType::Addr) => address(&tests)?,
            (Domain::Int { min, max }, _) => AttrValue::Int(integer(attribute, min, max, &tests)?),
            // A port: a 16-bit integer behind an endpoint.
            (Domain::Opaque, ValueType::Int) => {
                AttrValue::Int(integer(attribute, 0, u64::from(u16::MAX), &tests)?)
            }
            (Domain::Str { .. }, _) => AttrValue::Str(string(attribute, &tests)?),
            (Domain::Bool, _) => AttrValue::Bool(tests.first().is_some_and(|(_, truth)| *truth)),
            (Domain::Opaque, _) => return None,
        };
        example.push((attribute, value));
    }
    // A value the kernel never produces (a relative path, a port on a unix socket) would be
    // an example of nothing.
    impossible_values(&example).is_empty().then_some(example)
}

fn int_holds(tests: &[(&Predicate, bool)], max: u64, x: u64) -> bool {
    x <= max
        && tests.iter().all(|(predicate, truth)| match **predicate {
            Predicate::Int { op, value } => op.holds(x, value) == *truth,
            Predicate::Masked { mask, op, value } => op.holds(x & mask, value) == *truth,
            _ => true,
        })
}

/// An integer in `0..=max` with the tests' outcomes: an enumeration's value, 1000 (an
/// ordinary user's uid), 0, a literal of the tests or its neighbours, the bounds.
fn integer(attribute: &Attribute, min: u64, max: u64, tests: &[(&Predicate, bool)]) -> Option<u64> {
    let mut candidates: Vec<u64> = Vec::new();
    if let ValueType::Enum(e) = attribute.ty {
        candidates.extend(e.values.iter().map(|(_, v)| *v));
    }
    candidates.extend([1000, 0]);
    for (predicate, _) in tests {
        if let Predicate::Int { value, .. } | Predicate::Masked { value, .. } = **predicate {
            candidates.extend([value, value.wrapping_add(1), value.wrapping_sub(1)]);
        }
        if let Predicate::Masked { mask, .. } = **predicate {
            candidates.push(mask);
        }
    }
    candidates.push(max);
    let holds = |x: u64| x >= min && int_holds(tests, max, x);
    if let Some(&x) = candidates.iter().find(|&&x| holds(x)) {
        return Some(x);
    }
    // Near each bound a full-width comparison sets.
    let bounds = tests.iter().filter_map(|(p, _)| match **p {
        Predicate::Int { op, value } if op != IntOp::Eq => Some(value),
        _ => None,
    });
    let starts: Vec<u64> = bounds.chain([min]).collect();
    starts
        .iter()
        .find_map(|&start| (start..=start.saturating_add(INT_SCAN).min(max)).find(|&x| holds(x)))
}

fn str_holds(kind: StringKind, tests: &[(&Predicate, bool)], s: &[u8]) -> bool {
    kind.known(s)
        && tests.iter().all(|(predicate, truth)| match predicate {
            Predicate::StrEq(bytes) => (bytes.as_slice() == s) == *truth,
            Predicate::Glob(glob) => glob_truth(glob, s) == Truth::from(*truth),
            _ => true,
        })
}

/// A string with the tests' outcomes: an `==` literal, a string a glob matches, or an
/// ordinary one. A path starts with `/`; `comm` fits the kernel's 15 bytes.
fn string(attribute: &Attribute, tests: &[(&Predicate, bool)]) -> Option<Vec<u8>> {
    let kind = StringKind::of(&attribute.source);
    let path = attribute.ty == ValueType::Path;
    let mut candidates: Vec<Vec<u8>> = Vec::new();
    for (predicate, truth) in tests {
        match predicate {
            Predicate::StrEq(bytes) if *truth => candidates.push(bytes.clone()),
            Predicate::Glob(glob) if *truth => {
                for alternative in &glob.alternatives {
                    for fill in [&b"example"[..], b"a/example", b"x", b""] {
                        let found = witness(alternative, fill);
                        // A pattern that starts with a wildcard (`**/xmrig`) fills it with a
                        // relative name; a path the kernel gives is absolute.
                        if path && !found.starts_with(b"/") {
                            candidates.push([&b"/"[..], &found].concat());
                        }
                        candidates.push(found);
                    }
                }
            }
            _ => {}
        }
    }
    // Strings no positive test asks for: ordinary ones, then variations of the literals the
    // negative tests name.
    let ordinary: &[&[u8]] = if path {
        &[b"/usr/bin/example", b"/srv/example", b"/"]
    } else {
        &[b"example", b"sh", b""]
    };
    candidates.extend(ordinary.iter().map(|s| s.to_vec()));
    for (predicate, _) in tests {
        if let Predicate::StrEq(bytes) = predicate {
            let mut longer = bytes.clone();
            longer.extend_from_slice(b"x");
            candidates.push(longer);
        }
    }
    let fits = |s: &[u8]| match attribute.source {
        Source::CurrentComm | Source::TaskChars { .. } => s.len() <= 15,
        _ => true,
    };
    candidates
        .into_iter()
        .find(|s| fits(s) && str_holds(kind, tests, s))
}

/// An address with the tests' outcomes: one in or out of each range the tests name.
fn address(tests: &[(&Predicate, bool)]) -> Option<AttrValue> {
    let holds = |a: IpAddr| {
        tests.iter().all(|(predicate, truth)| match **predicate {
            Predicate::Cidr { addr, prefix } => in_range(a, addr, prefix) == *truth,
            _ => true,
        })
    };
    let mut candidates: Vec<IpAddr> = Vec::new();
    for (predicate, _) in tests {
        if let Predicate::Cidr { addr, .. } = **predicate {
            candidates.push(addr);
            // The range's last address: inside unless the prefix is full.
            candidates.push(match addr {
                IpAddr::V4(v4) => IpAddr::V4(Ipv4Addr::from(u32::from(v4) | 0xff)),
                IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) | 0xffff)),
            });
        }
    }
    // Documentation addresses (RFC 5737, RFC 3849): outside every range a policy names.
    candidates.extend([
        IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7)),
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
    ]);
    candidates
        .into_iter()
        .find(|a| holds(*a))
        .map(AttrValue::Addr)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::catalog;
    use crate::glob::Glob;

    fn attribute(event: &str, name: &str) -> &'static Attribute {
        catalog::event(event).unwrap().attribute(name).unwrap()
    }

    fn int(op: IntOp, value: u64) -> Predicate {
        Predicate::Int { op, value }
    }

    fn glob(pattern: &str) -> Predicate {
        Predicate::Glob(Glob::parse(pattern).unwrap())
    }

    #[test]
    fn integers_prefer_an_ordinary_user_and_meet_every_bound() {
        let uid = attribute("exec", "uid");
        let max = u64::from(u32::MAX);
        let ne_zero = int(IntOp::Ne, 0);
        assert_eq!(integer(uid, 0, max, &[(&ne_zero, true)]), Some(1000));
        let lt_1000 = int(IntOp::Lt, 1000);
        assert_eq!(integer(uid, 0, max, &[(&lt_1000, true)]), Some(0));
        let (ge, le, ne) = (
            int(IntOp::Ge, 5000),
            int(IntOp::Le, 5002),
            int(IntOp::Ne, 5000),
        );
        let x = integer(uid, 0, max, &[(&ge, true), (&le, true), (&ne, true)]).unwrap();
        assert!(x == 5001 || x == 5002, "{x}");
        let masked = Predicate::Masked {
            mask: 0o4000,
            op: IntOp::Ne,
            value: 0,
        };
        let x = integer(uid, 0, max, &[(&masked, true)]).unwrap();
        assert_ne!(x & 0o4000, 0);
        // Nothing is both below 5 and above 10.
        let (lt, gt) = (int(IntOp::Lt, 5), int(IntOp::Gt, 10));
        assert_eq!(integer(uid, 0, max, &[(&lt, true), (&gt, true)]), None);
    }

    #[test]
    fn strings_meet_positive_and_negative_tests() {
        let path = attribute("exec", "path");
        let (tmp, ci) = (glob("/tmp/**"), Predicate::StrEq(b"/tmp/ci".to_vec()));
        let s = string(path, &[(&tmp, true), (&ci, false)]).unwrap();
        assert!(s.starts_with(b"/tmp/") && s != b"/tmp/ci", "{s:?}");
        let s = string(path, &[(&tmp, false)]).unwrap();
        assert!(s.starts_with(b"/") && !s.starts_with(b"/tmp/"), "{s:?}");
        // A leading wildcard: the path is still absolute.
        let s = string(path, &[(&glob("**/xmrig"), true)]).unwrap();
        assert!(s.starts_with(b"/") && s.ends_with(b"/xmrig"), "{s:?}");
        // A glob and a literal it does not match: no string.
        let etc = Predicate::StrEq(b"/etc/passwd".to_vec());
        assert_eq!(string(path, &[(&tmp, true), (&etc, true)]), None);
        // `comm` is at most 15 bytes.
        let comm = attribute("exec", "comm");
        let long = Predicate::StrEq(b"a-very-long-process-name".to_vec());
        assert_eq!(string(comm, &[(&long, true)]), None);
    }

    #[test]
    fn addresses_fall_inside_or_outside_ranges() {
        let inside = Predicate::Cidr {
            addr: "10.0.0.0".parse().unwrap(),
            prefix: 8,
        };
        let AttrValue::Addr(a) = address(&[(&inside, true)]).unwrap() else {
            unreachable!()
        };
        assert!(in_range(a, "10.0.0.0".parse().unwrap(), 8));
        let AttrValue::Addr(a) = address(&[(&inside, false)]).unwrap() else {
            unreachable!()
        };
        assert!(!in_range(a, "10.0.0.0".parse().unwrap(), 8));
    }
}
