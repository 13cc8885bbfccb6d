//! The compiled glob code and the evaluator against an independent glob reference
//! (tests/common/glob_reference.rs), over every string of up to [`MAX_LEN`] bytes of a small
//! alphabet that includes `/`, for patterns covering every glob feature the book defines.
//!
//! Each pattern becomes a one-rule policy (`deny EVENT where ATTR ~ PATTERN`), compiled for
//! both scopes; the offline machine's decision, the evaluator's decision and `Glob::matches`
//! must all equal the reference's answer. Three attributes are used because the compiler
//! reads them into differently shaped buffers: `path` (from `bpf_d_path`, with a length),
//! `filename` (a string read from the kernel) and `comm` (a NUL-padded 16-byte name).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::fixture_kernel;
use common::glob_reference::reference_matches;
use compiler::btf::Btf;
use compiler::ir::Scope;
use lang::checked::AttrValue;
use lang::eval::{self, Decision, EventInput};
use lang::glob::Glob;
use std::collections::BTreeMap;
use std::sync::OnceLock;

fn kernel() -> &'static Btf {
    static KERNEL: OnceLock<Btf> = OnceLock::new();
    KERNEL.get_or_init(fixture_kernel)
}

const ALPHABET: &[u8] = b"ab/";
const MAX_LEN: usize = 6;

/// Every glob feature, and the places where `/` meets a wildcard. Raw pattern text (a policy
/// string literal escapes its backslashes).
const PATTERNS: &[&str] = &[
    "*",
    "**",
    "?",
    "a",
    "/",
    "a*",
    "*a",
    "a*b",
    "*/*",
    "a/*",
    "a/**",
    "/**",
    "**/a",
    "**/**/a",
    "/**/a",
    "a/**/b",
    "a/**/**/b",
    "/a/**/b/**",
    "a**/b",
    "a/**b",
    "a/***/b",
    "?/?",
    "a?b",
    "??",
    "[ab]",
    "[!a]*",
    "[^b]/[a-b]",
    "[a-a]?",
    "*[!b]",
    "[\\a-\\b]/",
    "[a\\-b]*",
    "\\a\\/**\\/b",
    "\\*",
    "{a,b}",
    "{a,b/}*",
    "{a,{b,/}a}",
    "a{/**/,b}b",
    "{**/,}a",
    "*{*,b}",
    "{,a}/{,b}",
    "a*/**/?b",
    "*/**/*",
    "**/?",
];

fn policy_literal(pattern: &str) -> String {
    pattern.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Every string over [`ALPHABET`] of length at most `max_len`, shortest first.
fn all_strings(max_len: usize) -> Vec<Vec<u8>> {
    let mut all = vec![Vec::new()];
    let mut layer = vec![Vec::new()];
    for _ in 0..max_len {
        layer = layer
            .iter()
            .flat_map(|s: &Vec<u8>| {
                ALPHABET.iter().map(move |c| {
                    let mut longer = s.clone();
                    longer.push(*c);
                    longer
                })
            })
            .collect();
        all.extend(layer.iter().cloned());
    }
    all
}

struct Target {
    event: &'static str,
    attribute: &'static str,
}

const TARGETS: [Target; 3] = [
    Target {
        event: "open",
        attribute: "path",
    },
    Target {
        event: "exec",
        attribute: "filename",
    },
    Target {
        event: "open",
        attribute: "comm",
    },
];

fn event(target: &Target, text: &[u8], in_scope: bool) -> EventInput {
    let mut values = BTreeMap::new();
    values.insert(target.attribute, AttrValue::Str(text.to_vec()));
    EventInput {
        event: target.event,
        values,
        in_scope,
    }
}

#[test]
fn the_reference_reads_the_book_examples() {
    let cases: &[(&str, &str, bool)] = &[
        ("/tmp/*", "/tmp/a", true),
        ("/tmp/*", "/tmp/a/b", false),
        ("/tmp/*", "/tmp", false),
        ("/tmp/**", "/tmp/a/b", true),
        ("/tmp/**", "/tmp", false),
        ("/etc/**/shadow", "/etc/shadow", true),
        ("/etc/**/shadow", "/etc/a/b/shadow", true),
        ("/etc/**/shadow", "/etc//shadow", true),
        ("/etc/**/shadow", "/etcshadow", false),
        ("**/.ssh/**", ".ssh/id", true),
        ("**/.ssh/**", "/home/u/.ssh/id", true),
        ("/a**/b", "/ab", false),
        ("[\\1-\\3]", "2", true),
        ("[\\1-\\3]", "4", false),
        ("[\\1-\\3]", "\\", false),
        ("[a\\-z]", "-", true),
        ("[a\\-z]", "b", false),
        ("[!a]", "/", false),
        ("/bin/{ba,z,}sh", "/bin/sh", true),
        ("/x/{a,{b,c}d}", "/x/cd", true),
        ("/x/{a,{b,c}d}", "/x/d", false),
        ("/etc/{**/,}shadow", "/etc/shadow", true),
    ];
    for (pattern, text, expected) in cases {
        assert_eq!(
            reference_matches(pattern.as_bytes(), text.as_bytes()),
            *expected,
            "{pattern} on {text}"
        );
    }
}

#[test]
fn compiled_globs_and_the_evaluator_agree_with_the_reference_on_every_short_string() {
    let strings = all_strings(MAX_LEN);
    let mut runs = 0u64;
    for pattern in PATTERNS {
        let glob = Glob::parse(pattern).unwrap_or_else(|e| panic!("{pattern}: {e:?}"));
        for target in &TARGETS {
            let source = format!(
                "deny {} where {} ~ \"{}\"\n",
                target.event,
                target.attribute,
                policy_literal(pattern)
            );
            let (checked, diagnostics) = lang::front_end(&source, kernel());
            let checked =
                checked.unwrap_or_else(|| panic!("{source} does not check: {diagnostics:?}"));
            let builds: Vec<_> = [Scope::Global, Scope::Cgroup]
                .into_iter()
                .map(|scope| {
                    let compiled =
                        compiler::compile(&checked, compiler::ir::Target::new(scope)).unwrap();
                    let (module, object) = (compiled.ir, compiled.spec);
                    (scope, module, object)
                })
                .collect();
            for text in &strings {
                // A comm holds at most 15 bytes and no NUL: every string here fits.
                let expected = reference_matches(pattern.as_bytes(), text);
                let shown = String::from_utf8_lossy(text);
                assert_eq!(
                    glob.matches(text),
                    expected,
                    "Glob::matches: {pattern} on {shown:?}"
                );
                for (scope, module, object) in &builds {
                    let input = event(target, text, true);
                    let scoped = *scope == Scope::Cgroup;
                    let evaluated = eval::evaluate(&checked, &input, scoped);
                    let machine = compiler::vm::decide(module, object, &input)
                        .unwrap_or_else(|e| panic!("{source} on {shown:?}: {e}"))
                        .decision;
                    runs += 1;
                    let denied = |d: &Decision| matches!(d, Decision::Deny { .. });
                    assert_eq!(
                        denied(&evaluated),
                        expected,
                        "evaluator ({scope:?}): {source} on {shown:?}"
                    );
                    assert_eq!(
                        machine, evaluated,
                        "machine vs evaluator ({scope:?}): {source} on {shown:?}"
                    );
                }
            }
        }
    }
    assert!(runs > 100_000, "only {runs} runs");
}

/// Every pattern above merged into one automaton answers, for every short string and every
/// pattern, what the reference answers for that pattern alone, from its table as the
/// compiled program reads it.
#[test]
fn the_merged_automaton_agrees_with_the_reference_for_every_pattern() {
    let globs: Vec<Glob> = PATTERNS
        .iter()
        .map(|p| Glob::parse(p).unwrap_or_else(|e| panic!("{p}: {e:?}")))
        .collect();
    let refs: Vec<&Glob> = globs.iter().collect();
    let automaton = lang::automaton::Automaton::build(&refs).unwrap();
    let table = automaton.table().unwrap();
    for text in all_strings(MAX_LEN) {
        let set = automaton.run(&text);
        assert_eq!(table.run(&text), set, "table on {text:?}");
        for (g, pattern) in PATTERNS.iter().enumerate() {
            assert_eq!(
                automaton.matches(g as u32, &text),
                reference_matches(pattern.as_bytes(), &text),
                "{pattern} on {:?}",
                String::from_utf8_lossy(&text)
            );
        }
    }
}

/// One policy holding every pattern as a rule of its own, actions and errnos mixed, some
/// rules and-ed with a uid test: the compiled program (one automaton per string) decides
/// every short string as the evaluator does, and the evaluator as the reference says the
/// first matching rule decides.
#[test]
fn one_policy_of_every_pattern_decides_as_the_reference() {
    for target in &TARGETS {
        let mut source = String::new();
        for (k, pattern) in PATTERNS.iter().enumerate() {
            let action = if k % 7 == 3 { "allow" } else { "deny" };
            let guard = if k % 5 == 2 { " and uid != 0" } else { "" };
            let errno = ["EPERM", "EACCES", "ENOENT"][k % 3];
            let errno = if action == "deny" {
                format!(" errno {errno}")
            } else {
                String::new()
            };
            source.push_str(&format!(
                "{action} {} where {} ~ \"{}\"{guard}{errno}\n",
                target.event,
                target.attribute,
                policy_literal(pattern)
            ));
        }
        let (checked, diagnostics) = lang::front_end(&source, kernel());
        let checked = checked.unwrap_or_else(|| panic!("{source} does not check: {diagnostics:?}"));
        let compiled = compiler::compile(&checked, compiler::ir::Target::new(Scope::Global))
            .unwrap_or_else(|e| panic!("{e}"));
        for text in all_strings(MAX_LEN) {
            for uid in [0, 1000] {
                let mut input = event(target, &text, true);
                input.values.insert("uid", AttrValue::Int(uid));
                let shown = String::from_utf8_lossy(&text);
                let applies = |k: usize| {
                    reference_matches(PATTERNS[k].as_bytes(), &text) && (k % 5 != 2 || uid != 0)
                };
                let allowed = (0..PATTERNS.len()).any(|k| k % 7 == 3 && applies(k));
                let expected = match (0..PATTERNS.len()).find(|&k| k % 7 != 3 && applies(k)) {
                    Some(k) if !allowed => Some(k as u32),
                    _ => None,
                };
                let evaluated = eval::evaluate(&checked, &input, false);
                let rule = |d: Decision| match d {
                    Decision::Deny { rule, .. } | Decision::Kill { rule, .. } => Some(rule),
                    Decision::Allow => None,
                };
                assert_eq!(
                    rule(evaluated),
                    expected,
                    "evaluator on {shown:?}, uid {uid}"
                );
                let machine = compiler::vm::decide(&compiled.ir, &compiled.spec, &input)
                    .unwrap_or_else(|e| panic!("{} on {shown:?}: {e}", target.event))
                    .decision;
                assert_eq!(machine, evaluated, "machine on {shown:?}, uid {uid}");
            }
        }
    }
}
