//! `krsic fmt`: the layout is canonical (formatting twice changes nothing), meaning-preserving
//! (the syntax tree, and for policies that check the checked policy, is the same before and
//! after, spans aside), and keeps every comment. Checked on random policies written with
//! random spacing, line breaks, parentheses and comments, and on every policy the project has.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::krsi_files;
use std::path::{Path, PathBuf};

use proptest::prelude::*;

/// `text` with every `Span { start: A, end: B }` written as `Span`, so trees from two layouts
/// of one policy compare equal.
fn without_spans(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("Span { start: ") {
        out.push_str(&rest[..at]);
        out.push_str("Span");
        let after = &rest[at..];
        let close = after.find('}').expect("a closing brace");
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

fn tree(source: &str) -> String {
    let (policy, diagnostics) = lang::syntax::parse(source);
    assert!(
        diagnostics
            .iter()
            .all(|d| d.severity() != lang::diagnostic::Severity::Error),
        "syntax errors in:\n{source}\n{diagnostics:#?}"
    );
    without_spans(&format!("{:?}", policy.expect("a policy")))
}

fn comment_texts(source: &str) -> Vec<String> {
    // Test inputs put `#` only in comments, never in strings.
    let mut texts: Vec<String> = source
        .lines()
        .filter_map(|l| l.find('#').map(|at| l[at..].trim_end().to_string()))
        .collect();
    texts.sort();
    texts
}

/// The properties every formatted policy has.
fn assert_formats(source: &str) -> String {
    let formatted = lang::format::format(source).unwrap_or_else(|e| {
        panic!("refused to format:\n{source}\n{e:#?}");
    });
    assert_eq!(
        tree(source),
        tree(&formatted),
        "meaning changed:\n{source}\n---\n{formatted}"
    );
    let again = lang::format::format(&formatted).expect("formats its own output");
    assert_eq!(
        formatted, again,
        "not idempotent:\n{source}\n---\n{formatted}"
    );
    assert!(formatted.ends_with('\n') || formatted.is_empty());
    for line in formatted.lines() {
        assert_eq!(line, line.trim_end(), "trailing spaces in:\n{formatted}");
    }
    formatted
}

// ---------------------------------------------------------------- random policies

/// Space between two tokens inside an item: never a line break followed by an item keyword,
/// since items start at lines that begin with one.
fn gap() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => Just(" ".to_string()),
        1 => Just("   ".to_string()),
        1 => Just("\t".to_string()),
        1 => Just("\n      ".to_string()),
        1 => comment().prop_map(|c| format!(" {c}\n  ")),
    ]
}

fn comment() -> impl Strategy<Value = String> {
    "[ a-zA-Z0-9_,.:\"()=~*/-]{0,30}".prop_map(|t| format!("#{}", t.trim_end()))
}

fn operand() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "path",
            "uid",
            "comm",
            "write",
            "parent.comm",
            "privileged",
            "shells",
            "daddr",
        ])
        .prop_map(String::from),
        prop::sample::select(vec!["0", "1000", "0o755", "0x1f", "1_000", "0b101"])
            .prop_map(String::from),
        prop::sample::select(vec![
            "\"/tmp/**\"",
            "\"/etc/sh\\\"adow\"",
            "\"a\\\\b\"",
            "\"{x,y}[a-z]?\"",
            "\"\"",
        ])
        .prop_map(String::from),
        prop::sample::select(vec!["10.0.0.0/8", "::1", "fe80::/10", "true", "false"])
            .prop_map(String::from),
    ]
}

fn expr() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        3 => (operand(), prop::sample::select(vec!["==", "!=", "<", ">=", "~", "!~", "in"]), operand(), gap())
            .prop_map(|(l, op, r, g)| format!("{l}{g}{op} {r}")),
        1 => operand(),
        1 => (operand(), operand()).prop_map(|(a, b)| format!("{a} & {b} != 0")),
        1 => prop::collection::vec(operand(), 0..4)
            .prop_map(|items| format!("comm in [{}]", items.join(", "))),
    ];
    leaf.prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            (inner.clone(), gap(), inner.clone()).prop_map(|(a, g, b)| format!("{a}{g}and {b}")),
            (inner.clone(), gap(), inner.clone()).prop_map(|(a, g, b)| format!("{a}{g}or {b}")),
            inner.clone().prop_map(|a| format!("not {a}")),
            inner.prop_map(|a| format!("( {a} )")),
        ]
    })
}

fn item() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (
            prop::sample::select(vec!["deny", "allow", "audit"]),
            prop::sample::select(vec!["exec", "open", "connect", "kmod_load"]),
            prop::option::of(expr()),
            prop::option::of(prop::sample::select(vec!["EACCES", "EPERM"])),
        )
            .prop_map(|(action, event, condition, errno)| {
                let mut text = format!("{action}  {event}");
                if let Some(c) = condition {
                    text.push_str(&format!(" where {c}"));
                }
                if let Some(e) = errno {
                    text.push_str(&format!(" errno {e}"));
                }
                text
            }),
        1 => (prop::collection::vec((operand(), gap()), 0..14))
            .prop_map(|items| {
                let body: Vec<String> = items.iter().map(|(o, g)| format!("{o},{g}")).collect();
                format!("list shells = [{}]", body.concat())
            }),
        1 => expr().prop_map(|e| format!("macro privileged =  {e}")),
        1 => (prop::collection::vec(operand(), 0..3), prop::sample::select(vec!["allow", "deny", "deny EPERM"]))
            .prop_map(|(values, expect)| {
                let names = ["path", "uid", "comm"];
                let fields: Vec<String> =
                    values.iter().zip(names).map(|(v, n)| format!("{n}:{v}")).collect();
                format!("test exec {{{}}} =>{expect}", fields.join(" , "))
            }),
    ]
}

fn policy_text() -> impl Strategy<Value = String> {
    let header = prop::option::of(Just("policy   random_policy\nmode audit\n".to_string()));
    let entry = (
        item(),
        prop::option::of(comment()),
        prop::sample::select(vec!["\n", "\n\n", "\n\n\n", "\n  \n"]),
        prop::option::of(comment()),
    )
        .prop_map(|(item, trailing, breaks, standalone)| {
            let mut text = item;
            if let Some(c) = trailing {
                text.push_str(&format!("   {c}"));
            }
            text.push_str(breaks);
            if let Some(c) = standalone {
                text.push_str(&format!("{c}\n"));
            }
            text
        });
    (header, prop::collection::vec(entry, 0..8)).prop_map(|(h, entries)| {
        let mut text = h.unwrap_or_default();
        text.push_str(&entries.concat());
        text
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, ..ProptestConfig::default() })]

    #[test]
    fn random_policies_format_canonically_and_keep_their_meaning(source in policy_text()) {
        let formatted = assert_formats(&source);
        prop_assert_eq!(comment_texts(&source), comment_texts(&formatted));
    }
}

// ---------------------------------------------------------------- the project's policies

/// Every UI case that parses, every example and every standard policy: formatting keeps the
/// tree, is idempotent, and where the policy checks, the checked policy is the same.
#[test]
fn the_projects_policies_format_without_changing_meaning() {
    let kernel = common::fixture_kernel();
    let mut formatted_count = 0;
    let mut checked_count = 0;
    for dir in ["tests/ui", "examples", "stdlib-policies"] {
        for file in krsi_files(dir) {
            let Ok(source) = std::fs::read_to_string(&file) else {
                continue; // a UI case that is deliberately not UTF-8
            };
            let Ok(formatted) = lang::format::format(&source) else {
                continue; // a UI case with syntax errors: refused, tested below
            };
            assert_eq!(tree(&source), tree(&formatted), "{}", file.display());
            assert_eq!(
                lang::format::format(&formatted).unwrap(),
                formatted,
                "{}",
                file.display()
            );
            assert_eq!(
                comment_texts(&source),
                comment_texts(&formatted),
                "{}",
                file.display()
            );
            formatted_count += 1;
            let (before, _) = lang::front_end(&source, &kernel);
            let (after, _) = lang::front_end(&formatted, &kernel);
            assert_eq!(before.is_some(), after.is_some(), "{}", file.display());
            if let (Some(before), Some(after)) = (before, after) {
                assert_eq!(
                    without_spans(&format!("{before:?}")),
                    without_spans(&format!("{after:?}")),
                    "the checked policy changed: {}",
                    file.display()
                );
                checked_count += 1;
            }
        }
    }
    assert!(
        formatted_count >= 100,
        "only {formatted_count} policies formatted"
    );
    assert!(checked_count >= 20, "only {checked_count} policies checked");
}

/// UI cases whose layout is what they test: formatting them would remove it.
const LAYOUT_CASES: &[(&str, &str)] = &[
    (
        "tests/ui/crlf_line_endings.krsi",
        "spans and snippets on CRLF line endings",
    ),
    (
        "tests/ui/tabs_and_comments.krsi",
        "columns of diagnostics after tabs",
    ),
];

/// Every `.krsi` file in the repository, wherever it is (build output and hidden directories
/// aside), so that a new directory of policies cannot escape the check.
fn every_policy_file() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy();
            if name.starts_with('.') || name == "target" || name == "node_modules" {
                continue;
            }
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "krsi") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(Path::new(env!("CARGO_MANIFEST_DIR")), &mut files);
    files.sort();
    files
}

/// What `krsic fmt --check` says of every policy in the repository: formatted. The only
/// exceptions are UI cases that cannot be formatted because they test a syntax error (fmt
/// refuses them with their diagnostics, like the compiler) and the layout cases above.
#[test]
fn every_policy_in_the_repository_is_formatted() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut formatted = 0;
    for file in every_policy_file() {
        let relative = file
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if LAYOUT_CASES.iter().any(|(case, _)| *case == relative) {
            continue;
        }
        let bytes = std::fs::read(&file).unwrap();
        let verdict = std::str::from_utf8(&bytes)
            .map_err(|_| ())
            .and_then(|source| {
                lang::format::format(source)
                    .map_err(|_| ())
                    .map(|f| (source, f))
            });
        match verdict {
            Ok((source, canonical)) => {
                assert_eq!(
                    canonical, source,
                    "{relative} is not formatted: run `krsic fmt {relative}`"
                );
                formatted += 1;
            }
            Err(()) => assert!(
                relative.starts_with("tests/ui/"),
                "{relative} does not parse; only UI cases may hold syntax errors"
            ),
        }
    }
    assert!(formatted >= 150, "only {formatted} policies were checked");
}

// ---------------------------------------------------------------- the layout itself

fn fmt(source: &str) -> String {
    assert_formats(source)
}

#[test]
fn rules_in_a_run_align_their_events() {
    assert_eq!(
        fmt("deny exec where uid != 0\nallow   exec where path == \"/tmp/ci\"\n\ndeny open\n"),
        "deny  exec where uid != 0\nallow exec where path == \"/tmp/ci\"\n\ndeny open\n"
    );
}

#[test]
fn blank_lines_collapse_to_one_and_spacing_is_single() {
    assert_eq!(
        fmt("\n\npolicy  p\n\n\n\nmode   audit\ndeny exec   where(uid!=0)and comm==\"x\"\n\n"),
        "policy p\n\nmode audit\ndeny exec where uid != 0 and comm == \"x\"\n"
    );
}

#[test]
fn parentheses_stay_where_the_tree_needs_them_and_go_where_it_does_not() {
    assert_eq!(
        fmt("deny exec where ((uid == 0)) and (comm == \"a\" or comm == \"b\") and not (write)\n"),
        "deny exec where uid == 0 and (comm == \"a\" or comm == \"b\") and not write\n"
    );
    // `a and (b and c)` is another tree than `a and b and c`: its parentheses stay.
    assert_eq!(
        fmt("deny exec where uid == 0 and (gid == 0 and euid == 0)\n"),
        "deny exec where uid == 0 and (gid == 0 and euid == 0)\n"
    );
    assert_eq!(
        fmt("deny exec where not (uid == 0 or gid == 0)\n"),
        "deny exec where not (uid == 0 or gid == 0)\n"
    );
}

#[test]
fn literals_keep_their_spelling() {
    assert_eq!(
        fmt("deny chmod where mode&0o6000!=0 and uid==0x0 and path==\"/a\\\"b\"\n"),
        "deny chmod where mode & 0o6000 != 0 and uid == 0x0 and path == \"/a\\\"b\"\n"
    );
}

#[test]
fn long_rules_break_before_each_and() {
    let source = format!(
        "deny open where path ~ \"/{}/**\" and write and not (euid == 0 and comm in tools) errno EACCES\n",
        "x".repeat(40)
    );
    assert_eq!(
        fmt(&source),
        format!(
            "deny open where path ~ \"/{}/**\"\n    and write\n    and not (euid == 0 and comm in tools) errno EACCES\n",
            "x".repeat(40)
        )
    );
}

#[test]
fn long_lists_put_one_element_on_a_line_and_keep_comments_beside_them() {
    let source =
        "list tools = [\"apt\",   # the package manager\n  \"dpkg\",\n  # compilers\n  \"cc\"]\n";
    assert_eq!(
        fmt(source),
        "list tools = [\n    \"apt\",  # the package manager\n    \"dpkg\",\n    # compilers\n    \"cc\",\n]\n"
    );
    let short = "list tools = [\n  \"apt\",\n  \"dpkg\"\n]\n";
    assert_eq!(fmt(short), "list tools = [\"apt\", \"dpkg\"]\n");
}

#[test]
fn comments_stay_before_or_beside_their_item() {
    let source = "# who may exec\ndeny exec where uid != 0  # not root\n\n# trailing remark\n";
    assert_eq!(fmt(source), source);
    assert_eq!(
        fmt("deny exec   # no errno\ndeny open\n"),
        "deny exec  # no errno\ndeny open\n"
    );
    // A comment inside a rule moves to the line before it.
    assert_eq!(
        fmt("deny exec where uid != 0 # first\n    and comm == \"x\"\n"),
        "# first\ndeny exec where uid != 0 and comm == \"x\"\n"
    );
    // A `#` inside a string is not a comment.
    assert_eq!(
        fmt("deny open where path == \"/tmp/#x\"   # real\n"),
        "deny open where path == \"/tmp/#x\"  # real\n"
    );
}

#[test]
fn tests_items_are_laid_out_on_one_line() {
    assert_eq!(
        fmt("test exec {path:\"/tmp/x\" ,uid:1000,} =>   deny   EPERM\ntest open {} => allow\n"),
        "test exec { path: \"/tmp/x\", uid: 1000 } => deny EPERM\ntest open {} => allow\n"
    );
}

#[test]
fn text_with_syntax_errors_is_refused_with_its_diagnostics() {
    let errors = lang::format::format("deny exec where uid ==\n").unwrap_err();
    assert!(!errors.is_empty());
    assert!(errors
        .iter()
        .all(|d| d.severity() == lang::diagnostic::Severity::Error));
}

#[test]
fn the_cli_checks_and_rewrites_files() {
    let dir = std::env::temp_dir().join(format!("krsic-fmt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("p.krsi");
    std::fs::write(&file, "deny  exec where uid!=0\n").unwrap();
    let krsic = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_krsic"))
            .args(args)
            .output()
            .unwrap()
    };
    let check = krsic(&["fmt", "--check", file.to_str().unwrap()]);
    assert_eq!(check.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&check.stdout).contains("is not formatted"));
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "deny  exec where uid!=0\n"
    );
    let write = krsic(&["fmt", file.to_str().unwrap()]);
    assert!(write.status.success());
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "deny exec where uid != 0\n"
    );
    assert!(krsic(&["fmt", "--check", file.to_str().unwrap()])
        .status
        .success());
    std::fs::write(&file, "deny exec where\n").unwrap();
    let broken = krsic(&["fmt", file.to_str().unwrap()]);
    assert_eq!(broken.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&broken.stderr).contains("error"));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "deny exec where\n");
    std::fs::remove_dir_all(&dir).unwrap();
}
