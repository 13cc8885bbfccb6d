use super::*;
use crate::diagnostic::{Code, Severity};
use crate::render::render_human;

const EXAMPLE: &str = r#"# comment to end of line
list world_writable = ["/tmp/**", "/var/tmp/**",
                       "/dev/shm/**"]          # lists may span lines; trailing comma allowed
macro privileged = uid == 0
deny  exec where path ~ "/tmp/*" and uid != 0
deny  exec where path ~ world_writable and not privileged
allow exec where path == "/tmp/ci-runner"
audit open where path == "/etc/shadow" and comm != "passwd"
deny  open where path ~ "/etc/**" and write and not (privileged or comm in ["apt", "dpkg"])
deny  kmod_load
deny  exec where path ~ "/dev/shm/**" errno EACCES
deny  kill where sig == 9 and target.comm == "sshd"
"#;

/// The source followed by its diagnostics as a user sees them, and how many items survived.
fn report(source: &str) -> String {
    let (policy, diagnostics) = parse(source);
    let items = policy.map_or(0, |p| p.items.len());
    format!(
        "{source}\n---- {items} item(s) parsed\n{}",
        render_human("policy.krsi", source, &diagnostics, false)
    )
}

fn parse_ok(source: &str) -> Policy {
    let (policy, diagnostics) = parse(source);
    assert!(diagnostics.is_empty(), "{diagnostics:#?}");
    policy.unwrap()
}

#[test]
fn example_policy() {
    insta::assert_debug_snapshot!(parse_ok(EXAMPLE));
}

#[test]
fn precedence() {
    // or < and < not < comparison; spans cover each subexpression.
    let policy =
        parse_ok("macro m = not a == 1 or b and not not (c or d) and x.y in [1, 0x2, 0o3, 0b1_0,]");
    insta::assert_debug_snapshot!(policy);
}

#[test]
fn literals() {
    let policy = parse_ok(
        r#"list l = ["a\\b\"c\n\t\0\x41é", 18446744073709551615, 1_000, true, false, []]"#,
    );
    insta::assert_debug_snapshot!(policy);
}

#[test]
fn items_need_no_newlines() {
    let policy = parse_ok("deny kmod_load deny exec where uid == 0 errno EACCES audit open");
    assert_eq!(policy.items.len(), 3);
}

macro_rules! bad {
    ($($name:ident: $source:expr;)*) => {$(
        #[test]
        fn $name() {
            insta::assert_snapshot!(report($source));
        }
    )*};
}

bad! {
    where_expression_missing: "deny exec where\n";
    where_paren_unexpected: "deny exec where )";
    stray_close_paren: "deny exec where (uid == 0))";
    list_missing_assign: "list shells [\"/bin/sh\"]";
    list_missing_comma: "list shells = [\"/bin/sh\" \"/bin/bash\"]";
    list_unclosed: "list shells = [\"/bin/sh\",\nmacro m = 1";
    unterminated_string: "deny exec where path == \"/tmp\ndeny open";
    if_instead_of_where: "deny exec if path == \"/x\"";
    single_equals: "deny exec where path = \"/x\"";
    double_ampersand: "deny exec where uid == 0 && comm == \"x\"";
    double_pipe: "deny exec where uid == 0 || comm == \"x\"";
    bang_not: "deny open where !write";
    chained_comparison: "deny exec where uid == 0 == 1";
    keyword_as_name: "macro list = 1";
    keyword_as_event: "deny where uid == 0";
    typo_in_action: "deny exec\ndenny open where write";
    typo_in_and: "deny exec where uid == 0 adn comm == \"x\"";
    garbage_at_start: "hello\ndeny exec";
    unknown_character: "deny exec where uid == $1";
    errno_missing_name: "deny exec errno";
    event_missing: "deny\n\nallow exec";
    macro_missing_body: "macro m =";
    trailing_dot: "deny exec where parent. == 1";
    bad_escape: r#"deny exec where path == "/tmp/\*" or path == "\x4g" or path == "\xff""#;
    integer_too_large: "deny exec where uid == 18446744073709551616";
    octal_digit: "deny exec where mode == 0o78";
    leading_zero: "deny exec where mode == 0755";
    several_errors_reported: "deny exec where\nmacro ok = uid == 0\nallow exec where (\naudit open where path ~ \"/etc/**\"\nlist = [1]\n";
    single_quotes: "audit open where path == 'x'";
    errno_twice: "deny exec where uid == 0 errno EPERM errno EACCES";
    where_after_errno: "deny exec errno EPERM where uid == 0";
    deep_nesting: &format!("deny exec where {}x{}", "(".repeat(100), ")".repeat(100));
    long_chain: &format!("deny exec where x{}", "\n    or x".repeat(300));
}

#[test]
fn too_large() {
    let (policy, diagnostics) = parse(&" ".repeat(MAX_SOURCE_LEN + 1));
    assert!(policy.is_none());
    assert_eq!(diagnostics.len(), 1);
    assert_eq!(diagnostics[0].code, Code::BadSource);
}

/// Rule spans cover the rule and nothing after it: no trailing blanks or comments.
#[test]
fn spans_cover_exactly_the_node() {
    let policy = parse_ok(EXAMPLE);
    let texts: Vec<&str> = policy
        .items
        .iter()
        .map(|item| match item {
            ast::Item::List(l) => &EXAMPLE[l.span.range()],
            ast::Item::Macro(m) => &EXAMPLE[m.span.range()],
            ast::Item::Rule(r) => &EXAMPLE[r.span.range()],
            ast::Item::Test(t) => &EXAMPLE[t.span.range()],
            ast::Item::PolicyName { span, .. } | ast::Item::Mode { span, .. } => {
                &EXAMPLE[span.range()]
            }
        })
        .collect();
    let expected: Vec<&str> = EXAMPLE
        .lines()
        .skip(1)
        .map(|line| line.split(" #").next().unwrap_or(line).trim_end())
        .collect();
    assert_eq!(texts[0], format!("{}\n{}", expected[0], expected[1]));
    assert_eq!(texts[1..], expected[2..]);
    let ast::Item::Rule(rule) = &policy.items[6] else {
        panic!()
    };
    let Some(condition) = &rule.condition else {
        panic!()
    };
    assert_eq!(
        &EXAMPLE[condition.span.range()],
        r#"path ~ "/etc/**" and write and not (privileged or comm in ["apt", "dpkg"])"#
    );
    let ast::ExprKind::And(_, not) = &condition.kind else {
        panic!()
    };
    assert_eq!(
        &EXAMPLE[not.span.range()],
        r#"not (privileged or comm in ["apt", "dpkg"])"#
    );
    assert_eq!(&EXAMPLE[rule.action_span.range()], "deny");
}

/// Every prefix and every single-byte deletion of a valid policy: parsing never panics, every
/// diagnostic points into the source, and the source parses iff no error was reported.
#[test]
fn mutations_never_panic() {
    let mut cases: Vec<String> = Vec::new();
    let boundaries: Vec<usize> = (0..=EXAMPLE.len())
        .filter(|&i| EXAMPLE.is_char_boundary(i))
        .collect();
    for &end in boundaries.iter().step_by(3) {
        cases.push(EXAMPLE[..end].to_owned());
    }
    for pair in boundaries.windows(2).step_by(5) {
        cases.push(format!("{}{}", &EXAMPLE[..pair[0]], &EXAMPLE[pair[1]..]));
    }
    for insert in [
        "(", ")", "\"", "\\", "&&", "=", "not", "é", "[", ",", "0x", "\n",
    ] {
        for &at in boundaries.iter().step_by(37) {
            cases.push(format!("{}{insert}{}", &EXAMPLE[..at], &EXAMPLE[at..]));
        }
    }
    assert!(cases.len() >= 200, "{}", cases.len());
    for source in &cases {
        let (policy, diagnostics) = parse(source);
        assert!(policy.is_some());
        for d in &diagnostics {
            for span in std::iter::once(&d.primary)
                .chain(&d.secondary)
                .map(|l| l.span)
            {
                assert!(
                    span.start <= span.end && span.end as usize <= source.len(),
                    "{d:?} in {source:?}"
                );
                assert!(
                    source.is_char_boundary(span.start as usize)
                        && source.is_char_boundary(span.end as usize)
                );
            }
            assert_eq!(d.severity(), Severity::Error);
            assert!(!d.message.ends_with('.'));
            assert!(
                !d.message.contains("Rule::") && !d.message.contains("kw_"),
                "{}",
                d.message
            );
        }
    }
}

#[test]
fn names_may_start_with_keywords() {
    let source = "macro m = notify or android and index in inbox and order and true_x and denied";
    let policy = parse_ok(source);
    let ast::Item::Macro(m) = &policy.items[0] else {
        panic!()
    };
    assert_eq!(&source[m.body.span.range()], &source[10..]);
}

#[test]
fn nesting_up_to_the_limit_parses() {
    let parens = format!(
        "deny exec where {}x{}",
        "(".repeat(MAX_NESTING),
        ")".repeat(MAX_NESTING)
    );
    parse_ok(&parens);
    let lists = format!(
        "list l = {}1{}",
        "[".repeat(MAX_NESTING),
        "]".repeat(MAX_NESTING)
    );
    parse_ok(&lists);
    let nots = format!("deny exec where {}x", "not ".repeat(200));
    parse_ok(&nots);
}

#[test]
fn large_policies_parse() {
    let rule = "deny exec where path ~ \"/tmp/**\" and uid != 0 # comment\n";
    let source = rule.repeat(MAX_SOURCE_LEN / 4 / rule.len());
    let policy = parse_ok(&source);
    assert_eq!(policy.items.len(), MAX_SOURCE_LEN / 4 / rule.len());
    let broken = "deny exec where (\n".repeat(5000);
    let (_, diagnostics) = parse(&broken);
    assert_eq!(diagnostics.len(), 5000);
    let json = crate::render::render_json("p", &broken, &diagnostics);
    assert_eq!(json.lines().count(), diagnostics.len());
}

#[test]
fn bitand_binds_tighter_than_comparison() {
    let policy = parse_ok("deny exec where uid & 0o6000 != 0");
    let ast::Item::Rule(rule) = &policy.items[0] else {
        panic!("a rule");
    };
    let Some(ast::Expr {
        kind: ast::ExprKind::Compare { op, lhs, rhs, .. },
        ..
    }) = &rule.condition
    else {
        panic!("a comparison: {:?}", rule.condition);
    };
    assert_eq!(*op, ast::CmpOp::Ne);
    assert!(matches!(lhs.kind, ast::ExprKind::BitAnd(..)), "{lhs:?}");
    assert_eq!(rhs.kind, ast::ExprKind::Int(0));
}
