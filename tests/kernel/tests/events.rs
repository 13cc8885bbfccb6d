//! Reports: a denied exec and an audited open each produce exactly one JSON line on
//! `krsic load`'s stdout, with the rule, the process and the attributes the rule read.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use kernel_tests::Expect::{Allowed, Denied};
use kernel_tests::Identity::User;
use kernel_tests::Phase::Loaded;
use kernel_tests::Place::InCgroup;
use kernel_tests::{dir_with_true, Op, Scenario, TempDir, USER};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

/// The report lines as JSON.
fn parse(lines: &[String]) -> Vec<Value> {
    lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn a_denied_exec_is_reported_once() {
    let (dir, exe) = dir_with_true();
    let run_copy = Op::exec("a copy of true", &exe);
    // The rule is on line 2.
    let lines = Scenario::for_cgroup(format!(
        "# reports\ndeny exec where path ~ \"{}/**\" and uid != 0\n",
        dir.path().display()
    ))
    .row(Loaded, User(USER), InCgroup, &run_copy, Denied(libc::EPERM))
    .wait_for_reports(1)
    .run();
    let events = parse(&lines);
    assert_eq!(events.len(), 1, "exactly one report: {events:#?}");
    let e = &events[0];
    assert_eq!(e["action"], "deny");
    assert_eq!(e["event"], "exec");
    assert_eq!(e["hook"], "bprm_check_security");
    assert_eq!(e["errno"], "EPERM");
    assert_eq!(e["policy"], "policy");
    assert_eq!(e["rule"]["line"], 2);
    assert!(e["rule"]["text"]
        .as_str()
        .unwrap()
        .starts_with("deny exec where path ~"));
    assert_eq!(e["process"]["uid"], USER);
    assert_eq!(e["attributes"]["uid"], USER);
    assert_eq!(e["attributes"]["path"], exe.display().to_string());
    assert!(e["process"]["pid"].as_u64().unwrap() > 1);
    assert!(e["process"]["parent"]["pid"].as_u64().is_some());
    let time = e["time"].as_str().unwrap();
    assert!(
        time.len() == 30 && time.ends_with('Z'),
        "RFC 3339 time: {time}"
    );
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn an_audited_open_goes_through_and_is_reported() {
    let dir = TempDir::new();
    let file = dir.write("watched", "x", 0o666);
    let write = Op::open("audited open for writing", &file, libc::O_WRONLY);
    let read = Op::open("open for reading, not audited", &file, libc::O_RDONLY);
    let lines = Scenario::for_cgroup(format!(
        "audit open where path == \"{}\" and write\n",
        file.display()
    ))
    .row(Loaded, User(USER), InCgroup, &write, Allowed)
    .row(Loaded, User(USER), InCgroup, &read, Allowed)
    .wait_for_reports(1)
    .run();
    let events = parse(&lines);
    assert_eq!(events.len(), 1, "one report, for the write: {events:#?}");
    let e = &events[0];
    assert_eq!(e["action"], "audit");
    assert_eq!(e["event"], "open");
    assert!(e.get("errno").is_none());
    assert_eq!(e["attributes"]["path"], file.display().to_string());
    assert_eq!(e["attributes"]["write"], true);
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn a_flood_is_rate_limited_and_every_denial_is_accounted_for() {
    let (dir, exe) = dir_with_true();
    let run_copy = Op::exec("flood", &exe);
    let attempts = 300;
    // A low rate, so that even an emulated guest's execs outpace it.
    let scenario = Scenario::for_cgroup(format!(
        "deny exec where path ~ \"{}/**\"\n",
        dir.path().display()
    ))
    .options(&["--report-rate", "5"]);
    let lines = (0..attempts)
        .fold(scenario, |scenario, _| {
            scenario.row(Loaded, User(USER), InCgroup, &run_copy, Denied(libc::EPERM))
        })
        // krsic reports drop counts at least once a second.
        .step(Loaded, |_| std::thread::sleep(Duration::from_millis(2500)))
        .run();
    let values = parse(&lines);
    let reported = values.iter().filter(|v| v["action"] == "deny").count() as u64;
    let (mut limited, mut full) = (0, 0);
    for v in values.iter().filter(|v| v.get("dropped").is_some()) {
        limited += v["dropped"]["rate_limited"].as_u64().unwrap();
        full += v["dropped"]["ring_full"].as_u64().unwrap();
    }
    assert!(
        limited > 0,
        "{attempts} denials should exceed the rate limit: {reported} reported"
    );
    assert_eq!(
        reported + limited + full,
        attempts,
        "every denial is reported or counted"
    );
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn audit_mode_lets_the_exec_through_and_reports_it() {
    let (dir, exe) = dir_with_true();
    let run_copy = Op::exec("audit mode allows", &exe);
    let lines = Scenario::for_cgroup(format!(
        "deny exec where path ~ \"{}/**\" and uid != 0\n",
        dir.path().display()
    ))
    .options(&["--mode", "audit"])
    .row(Loaded, User(USER), InCgroup, &run_copy, Allowed)
    .wait_for_reports(1)
    .run();
    let events = parse(&lines);
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["action"], "would-deny");
    assert_eq!(events[0]["errno"], "EPERM");
}

/// Checks `alert` against the alert schema Falco consumers decode: falcosidekick's
/// `types.FalcoPayload` (`output`, `priority`, `rule`, `time` as an RFC 3339 `time.Time`,
/// `output_fields` as a map, `source`, `tags`, `hostname`) with the validation falcosidekick-ui
/// applies to it (`output` ASCII, `rule`/`priority`/`source`/`hostname` printable ASCII), and
/// Falco's own priority names. Returns what does not conform.
fn falco_schema_violations(alert: &Value) -> Vec<String> {
    const PRIORITIES: [&str; 8] = [
        "Emergency",
        "Alert",
        "Critical",
        "Error",
        "Warning",
        "Notice",
        "Informational",
        "Debug",
    ];
    const KEYS: [&str; 9] = [
        "uuid",
        "output",
        "priority",
        "rule",
        "time",
        "output_fields",
        "source",
        "tags",
        "hostname",
    ];
    let mut wrong = Vec::new();
    let Some(object) = alert.as_object() else {
        return vec!["not a JSON object".into()];
    };
    for key in object.keys() {
        if !KEYS.contains(&key.as_str()) {
            wrong.push(format!("unknown key `{key}`"));
        }
    }
    let printable = |s: &str| s.bytes().all(|b| (0x20..0x7f).contains(&b));
    for (key, check) in [
        ("output", (|s: &str| s.is_ascii()) as fn(&str) -> bool),
        ("rule", printable),
        ("source", printable),
        ("hostname", printable),
    ] {
        match alert[key].as_str() {
            Some(s) if !s.is_empty() && check(s) => {}
            _ => wrong.push(format!(
                "`{key}` is not a non-empty ASCII string: {}",
                alert[key]
            )),
        }
    }
    if !alert["priority"]
        .as_str()
        .is_some_and(|p| PRIORITIES.contains(&p))
    {
        wrong.push(format!("`priority` {} is not Falco's", alert["priority"]));
    }
    if !alert["time"].as_str().is_some_and(is_rfc3339_utc) {
        wrong.push(format!("`time` {} is not RFC 3339", alert["time"]));
    }
    match alert["output_fields"].as_object() {
        Some(fields) => {
            for (name, value) in fields {
                if value.is_array() || value.is_object() {
                    wrong.push(format!("output field `{name}` is not a scalar: {value}"));
                }
            }
        }
        None => wrong.push("`output_fields` is not an object".into()),
    }
    match alert["tags"].as_array() {
        Some(tags) if tags.iter().all(Value::is_string) => {}
        _ => wrong.push(format!("`tags` {} is not a list of strings", alert["tags"])),
    }
    wrong
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, the form Go's `time.Time` decodes from JSON.
fn is_rfc3339_utc(text: &str) -> bool {
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        b.get(range)
            .is_some_and(|s| s.iter().all(u8::is_ascii_digit))
    };
    let fraction_ok = match b.get(19) {
        Some(b'.') => b.len() > 21 && digits(20..b.len() - 1),
        Some(b'Z') => b.len() == 20,
        _ => false,
    };
    b.len() >= 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && b.last() == Some(&b'Z')
        && fraction_ok
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn a_denied_exec_in_falco_form_is_a_falco_alert() {
    let (dir, exe) = dir_with_true();
    let run_copy = Op::exec("a copy of true", &exe);
    let lines = Scenario::for_cgroup(format!(
        "policy falco_form\ndeny exec where path ~ \"{}/**\" and uid != 0\n",
        dir.path().display()
    ))
    .options(&["--output", "falco"])
    .row(Loaded, User(USER), InCgroup, &run_copy, Denied(libc::EPERM))
    .wait_for_reports(1)
    .run();
    let alerts = parse(&lines);
    assert_eq!(alerts.len(), 1, "exactly one alert: {alerts:#?}");
    let alert = &alerts[0];
    let wrong = falco_schema_violations(alert);
    assert!(wrong.is_empty(), "not a Falco alert: {wrong:#?}\n{alert:#}");
    assert_eq!(alert["source"], "krsi");
    assert_eq!(alert["priority"], "Warning");
    assert_eq!(alert["output_fields"]["evt.type"], "exec");
    assert_eq!(alert["output_fields"]["user.uid"], USER);
    assert_eq!(alert["output_fields"]["krsi.action"], "deny");
    assert_eq!(alert["output_fields"]["krsi.errno"], "EPERM");
    let path = alert["output_fields"]["krsi.path"]
        .as_str()
        .expect("krsi.path");
    assert_eq!(Path::new(path), exe.as_path());
}

#[test]
fn the_falco_schema_check_rejects_what_falco_would() {
    let good = serde_json::json!({
        "time": "2026-11-28T20:00:00.123456789Z",
        "rule": "p: deny exec",
        "priority": "Warning",
        "output": "x",
        "output_fields": {"proc.pid": 1, "proc.name": "sh", "krsi.errno": null},
        "source": "krsi",
        "tags": ["krsi"],
        "hostname": "guest",
    });
    assert!(falco_schema_violations(&good).is_empty());
    for (key, bad) in [
        ("priority", serde_json::json!("warning!")),
        ("time", serde_json::json!("yesterday")),
        ("time", serde_json::json!("2026-11-28 20:00:00Z")),
        ("tags", serde_json::json!("krsi")),
        ("output_fields", serde_json::json!({"a": [1]})),
        ("rule", serde_json::json!("")),
        ("extra", serde_json::json!(1)),
    ] {
        let mut alert = good.clone();
        alert[key] = bad;
        assert!(
            !falco_schema_violations(&alert).is_empty(),
            "{key}: {alert}"
        );
    }
}

/// A thousand audited paths and a thousand audited directories, each run searched as one
/// tree: the file opened under each is reported once, by its own rule, and a file neither
/// lists is not reported.
#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn thousands_of_audit_rules_report_the_one_that_matched() {
    let dir = TempDir::new();
    std::fs::create_dir(dir.join("watched")).unwrap();
    let listed = dir.write("listed", "x", 0o666);
    let inside = dir.write("watched/file", "x", 0o666);
    let unlisted = dir.write("unlisted", "x", 0o666);
    let base = dir.path().display();
    let mut source = String::new();
    for i in 0..1000 {
        let path = match i {
            700 => listed.display().to_string(),
            _ => format!("{base}/pkg{}/file{i}.conf", i / 7),
        };
        source += &format!("audit open where path == \"{path}\" and uid != 0\n");
    }
    for i in 0..1000 {
        let directory = match i {
            300 => dir.join("watched").display().to_string(),
            _ => format!("{base}/pkg{}-{i}", i / 7),
        };
        source += &format!("audit open where path ~ \"{directory}/**\" and uid != 0\n");
    }
    let lines = Scenario::for_cgroup(source)
        .row(
            Loaded,
            User(USER),
            InCgroup,
            &Op::open("a listed path", &listed, libc::O_RDONLY),
            Allowed,
        )
        .row(
            Loaded,
            User(USER),
            InCgroup,
            &Op::open("under a listed directory", &inside, libc::O_RDONLY),
            Allowed,
        )
        .row(
            Loaded,
            User(USER),
            InCgroup,
            &Op::open("neither", &unlisted, libc::O_RDONLY),
            Allowed,
        )
        .wait_for_reports(2)
        .run();
    let events = parse(&lines);
    let audits: Vec<(u64, String)> = events
        .iter()
        .filter(|e| e["action"] == "audit")
        .map(|e| {
            (
                e["rule"]["line"].as_u64().unwrap(),
                e["attributes"]["path"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        audits,
        [
            (701, listed.display().to_string()),
            (1301, inside.display().to_string())
        ],
        "{events:#?}"
    );
}

/// Audited directories cost the verifier what denied ones do: a path too long to resolve
/// matches every rule of the run, and one report stands for them all, so the verifier walks
/// the report function once, not once a rule (a loop of reports did: 447 instructions a rule
/// on 6.1, 300 on 6.12).
#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn audited_directories_cost_the_verifier_what_denied_ones_do() {
    let processed = |verb: &str, n: usize| -> u32 {
        let source: String = (0..n)
            .map(|i| format!("{verb} open where path ~ \"/srv/pkg{}-{i}/**\"\n", i / 7))
            .collect();
        let stats = kernel_tests::verifier_stats(&source, compiler::ir::Scope::Global);
        stats.iter().filter_map(|(_, n)| *n).sum()
    };
    for n in [100, 1_500, 10_000] {
        let (audited, denied) = (processed("audit", n), processed("deny", n));
        println!("processed instructions, {n} directories: audited {audited}, denied {denied}");
        assert!(
            audited <= denied + denied / 4 + 2_000,
            "{n} audited directories: {audited} processed, denied {denied}"
        );
    }
}

/// Ten thousand audited directories in one event, as many as the deny rules of the scale
/// tests: a trie cut into functions, and one report for a path too long to resolve, which
/// stands for every rule. The file opened under the last is reported by its rule.
#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn ten_thousand_audited_directories_load_and_report() {
    let dir = TempDir::new();
    std::fs::create_dir(dir.join("last")).unwrap();
    let inside = dir.write("last/file", "x", 0o666);
    let base = dir.path().display();
    let source: String = (0..10_000)
        .map(|i| {
            let directory = match i {
                9_999 => dir.join("last").display().to_string(),
                _ => format!("{base}/pkg{}-{i}", i / 7),
            };
            format!("audit open where path ~ \"{directory}/**\"\n")
        })
        .collect();
    let open = Op::open("under the last directory", &inside, libc::O_RDONLY);
    let lines = Scenario::for_cgroup(source)
        .row(Loaded, User(USER), InCgroup, &open, Allowed)
        .wait_for_reports(1)
        .run();
    let events = parse(&lines);
    let audits: Vec<u64> = events
        .iter()
        .filter(|e| e["action"] == "audit")
        .map(|e| e["rule"]["line"].as_u64().unwrap())
        .collect();
    assert_eq!(audits, [10_000], "{events:#?}");
}
