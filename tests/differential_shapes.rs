//! Random cases aimed at the shapes a miscompile hides in, each checked three ways: the
//! offline machine runs the compiled program, the evaluator decides, and an independent
//! expectation (byte equality, the glob reference in tests/common/glob_reference.rs, a
//! bit-by-bit CIDR membership) says what should happen.
//!
//! - strings of equal length that differ from a literal at exactly one byte, at every position
//!   (a compare that checks only the first word passes them);
//! - `/` put where a `?`, `*` or class matched a byte, or inserted anywhere;
//! - CIDR ranges of every prefix length from 0 to the family's width, with the first and last
//!   addresses inside and the addresses just outside on either side;
//! - integer comparisons with the constant on either side (`5 <= uid`), which the checker
//!   mirrors before the evaluator and the compiler see them;
//! - `or` chains over two strings, mixing kinds, that make sets and mixed runs;
//! - wide globs among many narrow ones, so that a glob's accept sets are too scattered to
//!   compare and its test reads a bitmap;
//! - many deny rules that share a few errnos, among kill, audit and allow rules, in both
//!   modes, so that rules pass their index to the refusing exit they share.
//!
//! The cases come from a fixed seed; `KRSI_SHAPES_SEED=<n>` tries others.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::glob_reference::reference_matches;
use common::{fixture_kernel, Rng};
use compiler::btf::Btf;
use compiler::elf::ObjectSpec;
use compiler::ir::{Module, Scope};
use lang::checked::AttrValue;
use lang::checked::CheckedPolicy;
use lang::eval::{self, Decision, EventInput};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::OnceLock;

/// Replays another set of cases.
const SEED_VARIABLE: &str = "KRSI_SHAPES_SEED";

fn kernel() -> &'static Btf {
    static KERNEL: OnceLock<Btf> = OnceLock::new();
    KERNEL.get_or_init(fixture_kernel)
}

struct Compiled {
    source: String,
    checked: CheckedPolicy,
    builds: Vec<(Scope, Module, ObjectSpec)>,
}

fn compile(source: String) -> Compiled {
    let (checked, diagnostics) = lang::front_end(&source, kernel());
    let checked = checked.unwrap_or_else(|| panic!("{source} does not check: {diagnostics:?}"));
    let builds = [Scope::Global, Scope::Cgroup]
        .into_iter()
        .map(|scope| {
            let compiled = compiler::compile(&checked, compiler::ir::Target::new(scope)).unwrap();
            let (module, object) = (compiled.ir, compiled.spec);
            (scope, module, object)
        })
        .collect();
    Compiled {
        source,
        checked,
        builds,
    }
}

/// The machine and the evaluator decide `input` alike in both scopes, and deny exactly when
/// `expected` says the rule's test holds.
fn check(compiled: &Compiled, input: &EventInput, expected: bool, what: &str) {
    for (scope, module, object) in &compiled.builds {
        let scoped = *scope == Scope::Cgroup;
        let evaluated = eval::evaluate(&compiled.checked, input, scoped);
        let machine = compiler::vm::decide(module, object, input)
            .unwrap_or_else(|e| panic!("{}: {what}: {e}", compiled.source))
            .decision;
        assert_eq!(
            machine, evaluated,
            "machine vs evaluator ({scope:?})\n{}{what}",
            compiled.source
        );
        assert_eq!(
            matches!(evaluated, Decision::Deny { .. }),
            expected,
            "evaluator vs expectation ({scope:?})\n{}{what}",
            compiled.source
        );
    }
}

/// A policy string literal holding exactly `bytes`.
fn literal(bytes: &[u8]) -> String {
    let mut out = String::new();
    for &b in bytes {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(b as char);
            }
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out
}

fn event(name: &'static str, values: Vec<(&'static str, AttrValue)>) -> EventInput {
    EventInput {
        event: name,
        values: values.into_iter().collect::<BTreeMap<_, _>>(),
        in_scope: true,
    }
}

// ---------------------------------------------------------------------------------------------
// Equal-length near misses

struct StringTarget {
    event: &'static str,
    attribute: &'static str,
    /// The longest value the attribute holds (a comm keeps 15 bytes).
    max_len: usize,
}

const STRING_TARGETS: [StringTarget; 4] = [
    StringTarget {
        event: "open",
        attribute: "path",
        max_len: 48,
    },
    StringTarget {
        event: "exec",
        attribute: "filename",
        max_len: 48,
    },
    StringTarget {
        event: "open",
        attribute: "comm",
        max_len: 15,
    },
    StringTarget {
        event: "open",
        attribute: "parent.comm",
        max_len: 15,
    },
];

const BYTES: &[u8] = b"abcz/._-019AZ";

/// The literal, then for each position a string of the same length differing there only
/// (by a random byte and by the neighbouring byte value), then one byte shorter and longer.
fn near_misses(rng: &mut Rng, literal: &[u8], max_len: usize) -> Vec<Vec<u8>> {
    let mut out = vec![literal.to_vec()];
    for i in 0..literal.len() {
        for replacement in [*rng.pick(BYTES), literal[i] ^ 1] {
            if replacement != literal[i] && replacement != 0 {
                let mut miss = literal.to_vec();
                miss[i] = replacement;
                out.push(miss);
            }
        }
    }
    out.push(literal[..literal.len() - 1].to_vec());
    if literal.len() < max_len {
        let mut longer = literal.to_vec();
        longer.push(*rng.pick(BYTES));
        out.push(longer);
    }
    out
}

#[test]
fn near_misses_at_every_byte_position() {
    let mut rng = Rng::from_env(SEED_VARIABLE, 1);
    let mut runs = 0;
    for target in &STRING_TARGETS {
        for round in 0..40 {
            // Lengths around every word boundary, then random ones.
            let len = if round < 6 {
                [1, 7, 8, 9, 15, 16][round].min(target.max_len)
            } else {
                1 + rng.below(target.max_len as u64) as usize
            };
            let text: Vec<u8> = (0..len).map(|_| *rng.pick(BYTES)).collect();
            let other: Vec<u8> = (0..len).map(|_| *rng.pick(BYTES)).collect();
            let tests = [
                format!("{} == \"{}\"", target.attribute, literal(&text)),
                format!(
                    "{} in [\"{}\", \"{}\"]",
                    target.attribute,
                    literal(&other),
                    literal(&text)
                ),
                format!("{} ~ \"{}\"", target.attribute, glob_literal(&text)),
            ];
            for test in tests {
                let compiled = compile(format!("deny {} where {test}\n", target.event));
                for value in near_misses(&mut rng, &text, target.max_len) {
                    let expected = value == text || (test.contains(" in ") && value == other);
                    let input = event(
                        target.event,
                        vec![(target.attribute, AttrValue::Str(value.clone()))],
                    );
                    let what = format!("on {:?}", String::from_utf8_lossy(&value));
                    check(&compiled, &input, expected, &what);
                    runs += 1;
                }
            }
        }
    }
    assert!(runs > 1_000, "{runs} runs");
}

/// A glob matching exactly `bytes`: wildcard characters escaped.
fn glob_literal(bytes: &[u8]) -> String {
    let mut escaped = Vec::new();
    for &b in bytes {
        if b"*?[]{}\\,".contains(&b) {
            escaped.push(b'\\');
        }
        escaped.push(b);
    }
    literal(&escaped)
}

// ---------------------------------------------------------------------------------------------
// `/` where wildcards sit

/// One piece of a random pattern and how to produce a byte string it matches.
#[derive(Clone, Copy)]
enum Piece {
    Literal(&'static str),
    AnyByte,
    Star,
    DoubleStar,
    Class(&'static str),
}

const PIECES: &[Piece] = &[
    Piece::Literal("a"),
    Piece::Literal("bc"),
    Piece::Literal("/"),
    Piece::Literal("x.so"),
    Piece::AnyByte,
    Piece::AnyByte,
    Piece::Star,
    Piece::Star,
    Piece::DoubleStar,
    Piece::Class("[abc]"),
    Piece::Class("[!a]"),
    Piece::Class("[a-c]"),
    Piece::Class("[^x-z.]"),
];

fn instance(rng: &mut Rng, piece: Piece) -> Vec<u8> {
    let letters = b"abcxyz.";
    match piece {
        Piece::Literal(text) => text.as_bytes().to_vec(),
        Piece::AnyByte => vec![*rng.pick(letters)],
        Piece::Star => (0..rng.below(4)).map(|_| *rng.pick(letters)).collect(),
        Piece::DoubleStar => (0..rng.below(4)).map(|_| *rng.pick(b"ab/")).collect(),
        Piece::Class(class) => {
            let accepted: Vec<u8> = letters
                .iter()
                .copied()
                .filter(|b| reference_matches(class.as_bytes(), &[*b]))
                .collect();
            vec![*rng.pick(&accepted)]
        }
    }
}

fn pattern_text(piece: Piece) -> &'static str {
    match piece {
        Piece::Literal(text) | Piece::Class(text) => text,
        Piece::AnyByte => "?",
        Piece::Star => "*",
        Piece::DoubleStar => "**",
    }
}

#[test]
fn slashes_where_wildcards_and_classes_match() {
    let mut rng = Rng::from_env(SEED_VARIABLE, 2);
    let mut runs = 0;
    for _ in 0..400 {
        let mut pattern = String::from("/p/");
        let mut pieces = Vec::new();
        for _ in 0..1 + rng.below(5) {
            let piece = *rng.pick(PIECES);
            // Adjacent stars would merge into one; keep each piece its own.
            let star = |p: &Piece| matches!(p, Piece::Star | Piece::DoubleStar);
            if pieces.last().is_some_and(star) && star(&piece) {
                continue;
            }
            pattern.push_str(pattern_text(piece));
            pieces.push(piece);
        }
        let compiled = compile(format!(
            "deny open where path ~ \"{}\"\n",
            literal(pattern.as_bytes())
        ));
        for _ in 0..3 {
            let mut witness = b"/p/".to_vec();
            for piece in &pieces {
                witness.extend(instance(&mut rng, *piece));
            }
            let mut texts = vec![witness.clone()];
            for i in 3..witness.len() {
                let mut replaced = witness.clone();
                replaced[i] = b'/';
                texts.push(replaced);
            }
            for i in 3..=witness.len() {
                let mut inserted = witness.clone();
                inserted.insert(i, b'/');
                texts.push(inserted);
            }
            for text in texts {
                let expected = reference_matches(pattern.as_bytes(), &text);
                let input = event("open", vec![("path", AttrValue::Str(text.clone()))]);
                let what = format!("on {:?}", String::from_utf8_lossy(&text));
                check(&compiled, &input, expected, &what);
                runs += 1;
            }
        }
    }
    assert!(runs > 1_000, "{runs} runs");
}

// ---------------------------------------------------------------------------------------------
// CIDR prefixes of every length

/// Is `addr` in `network/prefix`? Bit by bit, from the most significant.
fn in_range(addr: u128, network: u128, prefix: u32, width: u32) -> bool {
    (0..prefix).all(|i| {
        let bit = width - 1 - i;
        (addr >> bit) & 1 == (network >> bit) & 1
    })
}

fn ip(value: u128, width: u32) -> IpAddr {
    if width == 32 {
        IpAddr::V4(Ipv4Addr::from(value as u32))
    } else {
        IpAddr::V6(Ipv6Addr::from(value))
    }
}

/// IPv6 addresses in `::ffff:0:0/96` are IPv4 addresses to krsi; they are not IPv6 cases.
fn is_v4_mapped(value: u128) -> bool {
    value >> 32 == 0xffff
}

#[test]
fn cidr_prefixes_of_every_length_with_addresses_just_inside_and_outside() {
    let mut rng = Rng::from_env(SEED_VARIABLE, 3);
    let mut runs = 0;
    for width in [32u32, 128] {
        let max = if width == 32 {
            u128::from(u32::MAX)
        } else {
            u128::MAX
        };
        for prefix in 0..=width {
            for _ in 0..4 {
                let random = (u128::from(rng.next()) << 64 | u128::from(rng.next())) & max;
                let host_bits = if prefix == width { 0 } else { max >> prefix };
                let network = random & !host_bits & max;
                let last = network | host_bits;
                let family = if width == 32 { 2 } else { 10 };
                let range = format!("{}/{prefix}", ip(network, width));
                let compiled = compile(format!(
                    "deny connect where addr in {range} and port != 7\n\
                     deny connect where addr in [{}/{width}, {range}] and port == 7\n",
                    ip(last ^ 1, width)
                ));
                let mut candidates = vec![network, last, network | (random & host_bits)];
                candidates.extend(network.checked_sub(1));
                if last < max {
                    candidates.push(last + 1);
                }
                for addr in candidates {
                    if width == 128 && is_v4_mapped(addr) {
                        continue;
                    }
                    for port in [7u64, 80] {
                        let expected = in_range(addr, network, prefix, width)
                            || (port == 7 && addr == last ^ 1);
                        let input = event(
                            "connect",
                            vec![
                                ("family", AttrValue::Int(family)),
                                ("addr", AttrValue::Addr(ip(addr, width))),
                                ("port", AttrValue::Int(port)),
                            ],
                        );
                        let what = format!("on {} port {port}", ip(addr, width));
                        check(&compiled, &input, expected, &what);
                        runs += 1;
                    }
                }
            }
        }
    }
    assert!(runs > 1_000, "{runs} runs");
}

// ---------------------------------------------------------------------------------------------
// Integer comparisons, both ways round

/// `a OP b` as Rust says it, for the policy operators.
fn holds(a: u64, op: &str, b: u64) -> bool {
    match op {
        "==" => a == b,
        "!=" => a != b,
        "<" => a < b,
        "<=" => a <= b,
        ">" => a > b,
        ">=" => a >= b,
        _ => unreachable!("{op}"),
    }
}

#[test]
fn integer_comparisons_with_the_constant_on_either_side() {
    let mut rng = Rng::from_env(SEED_VARIABLE, 4);
    let mut runs = 0;
    for op in ["==", "!=", "<", "<=", ">", ">="] {
        for _ in 0..6 {
            let constant = *rng.pick(&[0u64, 1, 5, 999, 1000, 1001, 0x7fff_ffff, 0xffff_fffe]);
            for constant_first in [false, true] {
                let test = if constant_first {
                    format!("{constant} {op} uid")
                } else {
                    format!("uid {op} {constant}")
                };
                let compiled = compile(format!("deny open where {test}\n"));
                for uid in [
                    0,
                    constant.saturating_sub(1),
                    constant,
                    constant + 1,
                    u64::from(u32::MAX),
                ] {
                    let expected = if constant_first {
                        holds(constant, op, uid)
                    } else {
                        holds(uid, op, constant)
                    };
                    let input = event("open", vec![("uid", AttrValue::Int(uid))]);
                    check(&compiled, &input, expected, &format!("on uid {uid}"));
                    runs += 1;
                }
            }
        }
    }
    assert!(runs > 300, "{runs} runs");
}

// ---------------------------------------------------------------------------------------------
// `or` chains over two strings

/// One test of an `or` chain: on `path` (false) or `exe` (true).
#[derive(Clone, Debug)]
enum StringTest {
    Equal(bool, &'static str),
    Listed(bool, [&'static str; 2]),
    /// `~ "D/**"`: everything under a directory (not the directory itself).
    Under(bool, &'static str),
    /// `~ "D/*.so"`: a glob the code generator keeps as an automaton.
    Library(bool, &'static str),
}

/// Literals that share prefixes and differ in one byte.
const OR_LITERALS: [&str; 6] = [
    "/usr/bin/a",
    "/usr/bin/ab",
    "/usr/bin/b",
    "/etc/passwd",
    "/etc/passwe",
    "/opt/app/run",
];
/// Directories that hold the literals and each other: a string can match tests of two kinds.
const NESTING_DIRECTORIES: [&str; 5] = ["/usr/bin", "/usr", "/etc", "/opt/app", "/opt/apq"];
/// Directories apart from the literals and from each other, for `**` and for `*.so`: no
/// string matches tests of two kinds, so rules of all three kinds in turn form a mixed run.
const PREFIX_DIRECTORIES: [&str; 3] = ["/opt/apq", "/var/lib", "/var/lic"];
const LIBRARY_DIRECTORIES: [&str; 3] = ["/usr/lib", "/usr/lib64", "/srv"];

/// One of `items`, at random.
fn one(rng: &mut Rng, items: &[&'static str]) -> &'static str {
    items[rng.below(items.len() as u64) as usize]
}

impl StringTest {
    fn random(rng: &mut Rng, on_exe: bool, nesting: bool) -> StringTest {
        let literal = |rng: &mut Rng| one(rng, &OR_LITERALS);
        let (prefixes, libraries): (&[&'static str], &[&'static str]) = match nesting {
            true => (&NESTING_DIRECTORIES, &NESTING_DIRECTORIES),
            false => (&PREFIX_DIRECTORIES, &LIBRARY_DIRECTORIES),
        };
        match rng.below(4) {
            0 => StringTest::Equal(on_exe, literal(rng)),
            1 => StringTest::Listed(on_exe, [literal(rng), literal(rng)]),
            2 => StringTest::Under(on_exe, one(rng, prefixes)),
            _ => StringTest::Library(on_exe, one(rng, libraries)),
        }
    }

    fn text(&self) -> String {
        let name = |on_exe: bool| if on_exe { "exe" } else { "path" };
        match self {
            StringTest::Equal(e, l) => format!("{} == \"{l}\"", name(*e)),
            StringTest::Listed(e, [a, b]) => format!("{} in [\"{a}\", \"{b}\"]", name(*e)),
            StringTest::Under(e, d) => format!("{} ~ \"{d}/**\"", name(*e)),
            StringTest::Library(e, d) => format!("{} ~ \"{d}/*.so\"", name(*e)),
        }
    }

    /// Whether the test holds for `(path, exe)`; `unknown_is` is what a test on a string too
    /// long for the program counts as (`==` on a resolved path is false whatever the rule: no
    /// literal equals it).
    fn on_exe(&self) -> bool {
        match self {
            StringTest::Equal(e, _)
            | StringTest::Listed(e, _)
            | StringTest::Under(e, _)
            | StringTest::Library(e, _) => *e,
        }
    }

    /// The literals or directory it names.
    fn bases(&self) -> Vec<&'static str> {
        match self {
            StringTest::Equal(_, l) | StringTest::Under(_, l) | StringTest::Library(_, l) => {
                vec![l]
            }
            StringTest::Listed(_, ls) => ls.to_vec(),
        }
    }

    fn holds(&self, path: &[u8], exe: &[u8], unknown_is: bool) -> bool {
        let value = |on_exe: bool| if on_exe { exe } else { path };
        let known = |on_exe: bool| value(on_exe).len() < 4096;
        match self {
            // `exe` is walked, not resolved: an unknown one fails closed.
            StringTest::Equal(true, _) | StringTest::Listed(true, _) if !known(true) => unknown_is,
            StringTest::Equal(e, l) => value(*e) == l.as_bytes(),
            StringTest::Listed(e, ls) => ls.iter().any(|l| value(*e) == l.as_bytes()),
            StringTest::Under(e, d) if known(*e) => {
                let v = value(*e);
                v.starts_with(d.as_bytes()) && v.get(d.len()) == Some(&b'/')
            }
            StringTest::Library(e, d) if known(*e) => value(*e)
                .strip_prefix(d.as_bytes())
                .and_then(|rest| rest.strip_prefix(b"/"))
                .is_some_and(|name| name.ends_with(b".so") && !name.contains(&b'/')),
            StringTest::Under(..) | StringTest::Library(..) => unknown_is,
        }
    }
}

/// Paths near what `bases` name: each, one below it, one byte short of it (unless that ends
/// in `/`, which no resolved path does), a library in it; and one too long to resolve.
fn or_probes<'a>(bases: impl Iterator<Item = &'a str>) -> Vec<Vec<u8>> {
    let mut probes: Vec<Vec<u8>> = vec![b"/q".to_vec()];
    for base in bases {
        probes.push(base.as_bytes().to_vec());
        probes.push(format!("{base}/x").into_bytes());
        probes.push(format!("{base}/lib.so").into_bytes());
        let short = &base.as_bytes()[..base.len() - 1];
        if !short.ends_with(b"/") {
            probes.push(short.to_vec());
        }
    }
    // Names no longer than a dentry's (NAME_MAX), 4,105 bytes in all.
    probes.push(format!("/usr{}/x", "/abcdefgh".repeat(455)).into_bytes());
    probes
}

/// Rules whose conditions are `or` chains of string tests, grouped in runs over one string
/// (which the code generator merges into one search when each chain is a set of literals of
/// one kind on one string, or a mixed run when the kinds take turns) and now and then
/// crossing to the other string or to another kind on the same string. A chain merged across
/// strings or kinds, or a run searched on the wrong string, decides some probe differently.
#[test]
fn or_chains_over_two_strings_mixing_kinds() {
    let mut rng = Rng::from_env(SEED_VARIABLE, 5);
    let mut runs = 0;
    for _ in 0..40 {
        let mut rules: Vec<(bool, Vec<StringTest>, bool)> = Vec::new();
        // The string of the policy's first test is its first value: runs alternate between
        // the two, so that later runs search a string that is not.
        let first_on_exe = rng.below(2) == 1;
        for run in 0..2 + rng.below(2) {
            // A run shares its string, its action and its gate: mixed runs need eight rules
            // of one gate (`lang::runs::MIXED_RUN_MIN`).
            let on_exe = first_on_exe ^ (run % 2 == 1);
            let nesting = rng.below(3) == 0;
            let allow = rng.below(6) == 0;
            let gated = rng.below(3) == 0;
            for _ in 0..8 + rng.below(7) {
                // Mostly one test, else a chain (of one kind, which makes a set when it stays
                // on one string, or of any tests), or a lone glob on the other string, which a
                // run searching the wrong string would take in.
                let tests = match rng.below(16) {
                    0 => vec![StringTest::Library(
                        !on_exe,
                        one(&mut rng, &LIBRARY_DIRECTORIES),
                    )],
                    1 | 2 => {
                        let under = rng.below(2) == 0;
                        (0..2 + rng.below(2))
                            .map(|_| {
                                let on = on_exe ^ (rng.below(3) == 0);
                                match under {
                                    true => {
                                        StringTest::Under(on, one(&mut rng, &PREFIX_DIRECTORIES))
                                    }
                                    false => StringTest::Equal(on, one(&mut rng, &OR_LITERALS)),
                                }
                            })
                            .collect()
                    }
                    3 => (0..2 + rng.below(2))
                        .map(|_| {
                            let crosses = rng.below(3) == 0;
                            StringTest::random(&mut rng, on_exe ^ crosses, nesting)
                        })
                        .collect(),
                    _ => vec![StringTest::random(&mut rng, on_exe, nesting)],
                };
                rules.push((allow, tests, gated));
            }
        }
        let source: String = rules
            .iter()
            .enumerate()
            .map(|(i, (allow, tests, gated))| {
                let chain: Vec<String> = tests.iter().map(StringTest::text).collect();
                let gate = if *gated { " and uid != 0" } else { "" };
                match allow {
                    true => format!("allow open where ({}){gate}\n", chain.join(" or ")),
                    false => format!(
                        "deny open where ({}){gate} errno {}\n",
                        chain.join(" or "),
                        ["EPERM", "EACCES", "ENOENT"][i % 3]
                    ),
                }
            })
            .collect();
        let compiled = compile(source);
        // Probes near what the policy names on each string, so that events often match
        // rules on both.
        let near = |on_exe: bool| {
            let tests = rules.iter().flat_map(|(_, tests, _)| tests);
            or_probes(
                tests
                    .filter(|t| t.on_exe() == on_exe)
                    .flat_map(StringTest::bases),
            )
        };
        let (paths, exes) = (near(false), near(true));
        for _ in 0..40 {
            let path = rng.pick(&paths).clone();
            let exe = rng.pick(&exes).clone();
            let uid = *rng.pick(&[0u64, 1000]);
            let matches = |allow: bool, tests: &[StringTest], gated: bool| {
                (!gated || uid != 0) && tests.iter().any(|t| t.holds(&path, &exe, !allow))
            };
            let expected = !rules.iter().any(|(a, t, g)| *a && matches(true, t, *g))
                && rules.iter().any(|(a, t, g)| !*a && matches(false, t, *g));
            let input = event(
                "open",
                vec![
                    ("path", AttrValue::Str(path.clone())),
                    ("exe", AttrValue::Str(exe.clone())),
                    ("uid", AttrValue::Int(uid)),
                ],
            );
            let what = format!(
                "on path {:?}, exe {:?}, uid {uid}",
                String::from_utf8_lossy(&path[..path.len().min(40)]),
                String::from_utf8_lossy(&exe[..exe.len().min(40)])
            );
            check(&compiled, &input, expected, &what);
            runs += 1;
        }
    }
    assert!(runs >= 1_600, "{runs} runs");
}

// ---------------------------------------------------------------------------------------------
// Overlapping globs

/// Globs that overlap a family of narrower ones: `/dJ/*/*.so` holds every `/dJ/*/fI.so`, so in
/// the merged automaton it belongs to accept sets scattered among the narrow globs' own. Past
/// four runs of consecutive sets (`codegen::automaton::MAX_RANGES`) its test reads a bitmap in
/// the read-only data instead of comparing ranges.
const WIDE_GLOBS: [&str; 5] = ["*/*.so", "*/*.{so,py}", "**/*.py", "[ab]/*", "*/f*"];
const NARROW_GLOBS: [&str; 4] = ["*/f{i}.*", "[ab]/f{i}*", "*/f{i}.so", "a/f{i}.?y"];

/// Whether some glob of `patterns` lies in more than four runs of consecutive accept sets of
/// their merged automaton, which the code generator tests through a bitmap.
fn tested_through_a_bitmap(patterns: &[String]) -> bool {
    let globs: Vec<lang::glob::Glob> = patterns
        .iter()
        .map(|p| lang::glob::Glob::parse(p).unwrap())
        .collect();
    let refs: Vec<&lang::glob::Glob> = globs.iter().collect();
    let Ok(automaton) = lang::automaton::Automaton::build(&refs) else {
        return false;
    };
    (0..globs.len() as u32).any(|g| {
        let sets: Vec<usize> = (0..automaton.accept_sets.len())
            .filter(|s| automaton.accept_sets[*s].contains(&g))
            .collect();
        let runs = sets.windows(2).filter(|w| w[1] != w[0] + 1).count() + 1;
        !sets.is_empty() && runs > 4
    })
}

/// Random families of a few wide globs among many narrow ones, in any order, on `path` or on
/// `exe`, with allow and gated rules among them; probes under the family's directory named by
/// the narrow globs and by none. The glob reference (sharing no code with the product) says
/// which rules hold; the machine and the evaluator must both decide accordingly. Most
/// policies put some glob in accept sets too scattered to compare, which only the bitmap
/// membership decides.
#[test]
fn overlapping_globs_reach_bitmap_memberships() {
    let mut rng = Rng::from_env(SEED_VARIABLE, 6);
    let (mut bitmaps, mut runs) = (0, 0);
    for policy in 0..30 {
        let on_exe = rng.below(2) == 1;
        let dir = format!("/d{policy}");
        let n = 5 + rng.below(20) as usize;
        let mut patterns: Vec<String> = (0..n)
            .map(|i| {
                let narrow = one(&mut rng, &NARROW_GLOBS).replace("{i}", &i.to_string());
                format!("{dir}/{narrow}")
            })
            .collect();
        for _ in 0..1 + rng.below(3) {
            let at = rng.below(patterns.len() as u64 + 1) as usize;
            patterns.insert(at, format!("{dir}/{}", one(&mut rng, &WIDE_GLOBS)));
        }
        bitmaps += usize::from(tested_through_a_bitmap(&patterns));
        // (allow, gated) per rule: mostly deny rules, now and then under `uid != 0`.
        let rules: Vec<(bool, bool)> = patterns
            .iter()
            .map(|_| (rng.below(8) == 0, rng.below(4) == 0))
            .collect();
        let attribute = if on_exe { "exe" } else { "path" };
        let source: String = patterns
            .iter()
            .zip(&rules)
            .enumerate()
            .map(|(i, (pattern, (allow, gated)))| {
                let gate = if *gated { " and uid != 0" } else { "" };
                match allow {
                    true => format!("allow open where {attribute} ~ \"{pattern}\"{gate}\n"),
                    false => format!(
                        "deny open where {attribute} ~ \"{pattern}\"{gate} errno {}\n",
                        ["EPERM", "EACCES", "ENOENT"][i % 3]
                    ),
                }
            })
            .collect();
        let compiled = compile(source);
        for _ in 0..40 {
            let value = format!(
                "{}/{}/{}.{}",
                if rng.below(8) == 0 { "/d" } else { &dir },
                one(&mut rng, &["a", "b", "ab", "x/y"]),
                match rng.below(6) {
                    0 => "x".to_string(),
                    _ => format!("f{}", rng.below(n as u64 + 2)),
                },
                one(&mut rng, &["so", "py", "ry", "txt"]),
            )
            .into_bytes();
            let other = b"/usr/bin/cat".to_vec();
            let uid = *rng.pick(&[0u64, 1000]);
            let holds = |pattern: &String, gated: bool| {
                (!gated || uid != 0) && reference_matches(pattern.as_bytes(), &value)
            };
            let matched = |allow: bool| {
                patterns
                    .iter()
                    .zip(&rules)
                    .any(|(p, (a, gated))| *a == allow && holds(p, *gated))
            };
            let expected = !matched(true) && matched(false);
            let (path, exe) = match on_exe {
                true => (other, value.clone()),
                false => (value.clone(), other),
            };
            let input = event(
                "open",
                vec![
                    ("path", AttrValue::Str(path)),
                    ("exe", AttrValue::Str(exe)),
                    ("uid", AttrValue::Int(uid)),
                ],
            );
            let what = format!(
                "{attribute} {:?}, uid {uid}",
                String::from_utf8_lossy(&value)
            );
            check(&compiled, &input, expected, &what);
            runs += 1;
        }
    }
    assert_eq!(runs, 1_200);
    assert!(
        bitmaps >= 15,
        "only {bitmaps} of 30 policies test a glob through a bitmap"
    );
}

/// Deny rules that share an errno share one refusing exit, to which each passes its index: a
/// wrong index, errno or exit shows as another deciding rule, errno or report. Random
/// policies of many rules on one event, deny rules with two or three errnos among kill,
/// audit and allow rules, in enforce and audit mode; the machine's decision, and the rules
/// and flags it reports, against the evaluator's.
#[test]
fn deny_rules_sharing_errnos_decide_and_report_like_the_reference() {
    let mut rng = Rng::from_env(SEED_VARIABLE, 7);
    let mut denied = 0;
    for _ in 0..60 {
        let mut source = String::new();
        for _ in 0..6 + rng.below(10) {
            let action = *rng.pick(&[
                "deny ", "deny ", "deny ", "deny ", "kill ", "audit", "allow",
            ]);
            let n = rng.below(4);
            let test = match rng.below(3) {
                0 => format!("uid == {n}"),
                1 => format!("path == \"/d/{n}\""),
                _ => format!("path ~ \"/d/{n}/**\""),
            };
            let gate = match rng.below(3) {
                0 => format!(" and gid != {}", rng.below(3)),
                _ => String::new(),
            };
            let errno = match (action, rng.below(3)) {
                ("deny " | "kill ", 0) => " errno EACCES",
                ("deny " | "kill ", 1) => " errno ENOENT",
                _ => "",
            };
            source += &format!("{action} open where {test}{gate}{errno}\n");
        }
        let (checked, diagnostics) = lang::front_end(&source, kernel());
        let checked = checked.unwrap_or_else(|| panic!("{source} does not check: {diagnostics:?}"));
        for (mode, compiled) in common::compiled_in_both_modes(&checked) {
            for uid in 0..4 {
                for path in ["/d/0", "/d/1", "/d/2/x", "/d/3/y/z", "/e/1"] {
                    for gid in 0..3 {
                        let input = event(
                            "open",
                            vec![
                                ("path", AttrValue::Str(path.into())),
                                ("uid", AttrValue::Int(uid)),
                                ("gid", AttrValue::Int(gid)),
                            ],
                        );
                        let what = format!("{source}{mode:?}, uid {uid} gid {gid} {path}");
                        let (refusal, _) = common::assert_decides_and_reports_as_the_reference(
                            &checked, &compiled, &input, mode, &what,
                        );
                        denied += u32::from(matches!(refusal, Decision::Deny { .. }));
                    }
                }
            }
        }
    }
    assert!(denied > 1000, "{denied} refusals by deny rules");
}
