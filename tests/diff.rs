//! `krsic diff` on pairs of policy versions: it names every event and kind of change whose
//! decision changed, nothing else, and each example it gives holds. An example is checked the
//! way a user would pin it down: pasted as a `test` item into the old version (expecting the
//! old decision) and into the new one (expecting the new), then run by `krsic test`, which
//! asks the reference evaluator and the compiled program.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::Path;

mod common;

use common::{krsic, FIXTURE};

/// A pair of versions and the (event, change) pairs the diff must name, exactly.
struct Pair {
    name: &'static str,
    old: &'static str,
    new: &'static str,
    changes: &'static [(&'static str, &'static str)],
}

const PAIRS: &[Pair] = &[
    Pair {
        name: "a new deny rule and an exception",
        old: r#"deny exec where path ~ "/tmp/**" and uid != 0
"#,
        new: r#"deny exec where path ~ "/tmp/**" and uid != 0
deny exec where path ~ "/opt/x/**" and uid >= 1000
allow exec where path == "/tmp/ci-runner"
"#,
        changes: &[("exec", "now-denied"), ("exec", "now-allowed")],
    },
    Pair {
        name: "the same meaning, written differently",
        old: r#"list tmp = ["/tmp/**", "/var/tmp/**"]
deny exec where path ~ tmp and not uid == 0
audit open where path == "/etc/shadow"
"#,
        new: r#"macro root = uid == 0
audit open where path in ["/etc/shadow"]
deny exec where (path ~ "/var/tmp/**" or path ~ "/tmp/**") and not root
"#,
        changes: &[],
    },
    Pair {
        name: "an errno, an audit rule and a new event",
        old: r#"audit open where path == "/etc/shadow"
deny open where path ~ "/etc/**" and write and uid != 0
"#,
        new: r#"deny open where path ~ "/etc/**" and write and uid != 0 errno EACCES
deny kmod_load
"#,
        changes: &[
            ("open", "errno-changed"),
            ("open", "no-longer-audited"),
            ("kmod_load", "now-denied"),
        ],
    },
    Pair {
        name: "a narrower rule: some operations are no longer denied",
        old: r#"deny exec where comm in ["curl", "wget"]
"#,
        new: r#"deny exec where comm in ["curl", "wget"] and parent.comm != "apt"
audit exec where comm == "nc"
"#,
        changes: &[("exec", "now-allowed"), ("exec", "now-audited")],
    },
    Pair {
        name: "sockets: ports and an address range",
        old: r#"deny connect where port in [3333, 4444] and family in [inet, inet6] errno ECONNREFUSED
"#,
        new: r#"deny connect where port in [3333, 4444, 5555] and family in [inet, inet6] errno ECONNREFUSED
allow connect where addr in 10.0.0.0/8
"#,
        changes: &[("connect", "now-denied"), ("connect", "now-allowed")],
    },
    Pair {
        name: "reordered deny rules: the first that matches gives the errno",
        old: r#"deny open where path ~ "/srv/**" errno EACCES
deny open where path ~ "/srv/secret/**" errno EPERM
"#,
        new: r#"deny open where path ~ "/srv/secret/**" errno EPERM
deny open where path ~ "/srv/**" errno EACCES
"#,
        changes: &[("open", "errno-changed")],
    },
    Pair {
        name: "rolling a policy out in audit mode",
        old: r#"deny exec where path ~ "/tmp/**"
"#,
        new: r#"mode audit
deny exec where path ~ "/tmp/**"
"#,
        changes: &[("exec", "now-allowed")],
    },
    Pair {
        name: "deny becomes kill, and kill becomes deny",
        old: r#"deny exec where path ~ "**/xmrig" errno EACCES
kill connect where port == 3333
"#,
        new: r#"kill exec where path ~ "**/xmrig" errno EACCES
deny connect where port == 3333
"#,
        changes: &[("exec", "now-killed"), ("connect", "no-longer-killed")],
    },
];

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn diff_names_every_changed_event_and_each_example_holds() {
    let dir = std::env::temp_dir().join(format!("krsic-diff-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for pair in PAIRS {
        let old = write(&dir, "old.krsi", pair.old);
        let new = write(&dir, "new.krsi", pair.new);
        let out = krsic(&["diff", "--btf", FIXTURE, "--json", &old, &new]);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let expected_status = if pair.changes.is_empty() { 0 } else { 1 };
        assert_eq!(
            out.status.code(),
            Some(expected_status),
            "{}:\n{stdout}\n{stderr}",
            pair.name
        );
        let changes: Vec<serde_json::Value> = stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let named: BTreeSet<(String, String)> = changes
            .iter()
            .map(|c| {
                (
                    c["event"].as_str().unwrap().to_string(),
                    c["change"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let expected: BTreeSet<(String, String)> = pair
            .changes
            .iter()
            .map(|(e, c)| (e.to_string(), c.to_string()))
            .collect();
        assert_eq!(named, expected, "{}:\n{stdout}", pair.name);
        // Each example, pasted into both versions as a test item of its decision there.
        let (mut old_tests, mut new_tests) = (pair.old.to_string(), pair.new.to_string());
        for change in &changes {
            let example = change["example"]
                .as_str()
                .unwrap_or_else(|| panic!("{}: no example in {change}", pair.name));
            old_tests.push_str(&format!(
                "test {example} => {}\n",
                change["before"].as_str().unwrap()
            ));
            new_tests.push_str(&format!(
                "test {example} => {}\n",
                change["after"].as_str().unwrap()
            ));
        }
        // `krsic test` runs a policy as enforced; an audit-mode version's decisions are the
        // diff's own, checked above through the evaluator only.
        let mut versions = vec![(old_tests, "old")];
        if !pair.new.starts_with("mode audit") {
            versions.push((new_tests, "new"));
        }
        for (text, which) in versions {
            if text.lines().all(|l| !l.starts_with("test ")) {
                continue;
            }
            let file = write(&dir, &format!("{which}-with-examples.krsi"), &text);
            let out = krsic(&["test", "--btf", FIXTURE, &file]);
            assert!(
                out.status.success(),
                "{} ({which}):\n{text}\n{}{}",
                pair.name,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A path added to a list of thousands is the one change, with itself as the example: each
/// path the old list excludes is a test made false, which the search takes at no cost while
/// no test of the path holds (it gave up past 3,000, and then also named the list's paths as
/// "now allowed, may or may not happen", which no path is).
#[test]
fn a_path_added_to_a_long_list_is_the_one_change() {
    let dir = std::env::temp_dir().join(format!("krsic-diff-long-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let paths: Vec<String> = (0..5000)
        .map(|i| format!("\"/srv/app{i}/bin/tool\""))
        .collect();
    let list = paths.join(", ");
    let old = write(
        &dir,
        "old.krsi",
        &format!("deny exec where path in [{list}]\n"),
    );
    let new = write(
        &dir,
        "new.krsi",
        &format!("deny exec where path in [{list}, \"/srv/extra/bin/tool\"]\n"),
    );
    // Either way round: the path is now denied, or now allowed, and nothing else changed.
    for (from, to, change) in [(&old, &new, "now-denied"), (&new, &old, "now-allowed")] {
        let out = krsic(&["diff", "--btf", FIXTURE, "--json", from, to]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{stdout}");
        let changes: Vec<serde_json::Value> = stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(changes.len(), 1, "{stdout}");
        assert_eq!(changes[0]["change"], change);
        assert_eq!(
            changes[0]["example"],
            r#"exec { path: "/srv/extra/bin/tool" }"#
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn diff_says_in_words_what_changed() {
    let dir = std::env::temp_dir().join(format!("krsic-diff-words-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let old = write(&dir, "old.krsi", PAIRS[0].old);
    let new = write(&dir, "new.krsi", PAIRS[0].new);
    let out = krsic(&["diff", "--btf", FIXTURE, &old, &new]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("exec: now denied (EPERM) by the rule on line 2 of"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            r#"e.g. test exec { path: "/opt/x/example", uid: 1000 } => deny EPERM (was allow)"#
        ),
        "{stdout}"
    );
    assert!(stdout.contains("exec: now allowed; was denied by the rule on line 1 of"));
    // A version with errors: its diagnostics, and status 2.
    let broken = write(&dir, "broken.krsi", "deny exce\n");
    let out = krsic(&["diff", "--btf", FIXTURE, &old, &broken]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("exce"));
    // A version that cannot be read: an error, and status 2 too (1 means "changed").
    let missing = dir.join("missing.krsi").to_string_lossy().into_owned();
    let out = krsic(&["diff", "--btf", FIXTURE, &old, &missing]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_standard_policy_decides_as_itself() {
    let mut dir: Vec<_> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("stdlib-policies"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "krsi"))
            .collect();
    dir.sort();
    assert!(dir.len() >= 10);
    for policy in &dir {
        let policy = policy.to_string_lossy();
        let out = krsic(&["diff", "--btf", FIXTURE, "--json", &policy, &policy]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{policy}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stdout.is_empty(), "{policy}");
    }
}
