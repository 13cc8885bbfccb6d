//! Reports from the kernel as JSON lines: one object per denial or audit match.

use crate::Output;
use compiler::ir::{Module, Program};
use compiler::report::{decode, Report, ReportedValue, FLAG_DENIED, FLAG_KILL, FLAG_WOULD_DENY};
use serde_json::{json, Map, Value};

/// What a report needs besides its bytes: the compiled policy and its source, when krsic
/// compiled it (an object loaded as built has neither, and reports say less).
pub struct ReportContext<'a> {
    pub policy: &'a str,
    pub module: Option<&'a Module>,
    pub source: Option<&'a str>,
    /// CLOCK_REALTIME minus CLOCK_MONOTONIC, to date `bpf_ktime_get_ns`.
    pub realtime_offset_ns: i128,
}

impl ReportContext<'_> {
    /// The reports a record stands for (one, or one for each rule of an audit run), as JSON;
    /// `None` when it cannot be decoded.
    pub fn to_json(&self, bytes: &[u8]) -> Option<Vec<Value>> {
        let (reports, program) = decode(self.module?, bytes)?;
        reports
            .iter()
            .map(|report| self.report_json(report, program))
            .collect()
    }

    fn report_json(&self, report: &Report, program: &Program) -> Option<Value> {
        let rule = program
            .allow
            .iter()
            .chain(&program.deny)
            .chain(&program.audit)
            .find(|r| r.index == report.rule)?;
        let kill = report.flags & FLAG_KILL != 0;
        let action = if report.flags & FLAG_DENIED != 0 {
            if kill {
                "kill"
            } else {
                "deny"
            }
        } else if report.flags & FLAG_WOULD_DENY != 0 {
            if kill {
                "would-kill"
            } else {
                "would-deny"
            }
        } else {
            "audit"
        };
        let mut attributes = Map::new();
        for id in rule.cond.values() {
            let (Some(value), Some(reported)) = (
                program.values.get(id.0 as usize),
                report.values.get(id.0 as usize),
            ) else {
                continue;
            };
            let json = match reported {
                ReportedValue::Int(v) => json!(v),
                ReportedValue::Bool(b) => json!(b),
                ReportedValue::Str {
                    text,
                    truncated: false,
                } => json!(text),
                ReportedValue::Str {
                    text,
                    truncated: true,
                } => json!(format!("{text}...")),
                ReportedValue::Unknown => Value::Null,
            };
            attributes.insert(value.name.to_string(), json);
        }
        let mut rule_json = json!({ "index": report.rule });
        if let Some(source) = self.source {
            rule_json["line"] = json!(rule.span.line(source));
            rule_json["text"] = json!(source.get(rule.span.range()).unwrap_or("").trim());
        }
        let mut object = json!({
            "time": rfc3339(self.realtime_offset_ns + i128::from(report.time_ns)),
            "policy": self.policy,
            "rule": rule_json,
            "action": action,
            "event": program.event,
            "hook": program.hook,
            "process": process(report),
            "attributes": attributes,
        });
        if action != "audit" {
            object["errno"] = json!(lang::catalog::errno_name(report.errno));
        }
        Some(object)
    }
}

/// The same report as a Falco alert (`time`, `rule`, `priority`, `output`, `output_fields`,
/// `source`, `tags`, `hostname`), so falcosidekick and other consumers of Falco's JSON
/// output read krsi's reports unchanged.
pub fn to_falco(report: &Value, hostname: &str) -> Value {
    let action = report["action"].as_str().unwrap_or("audit");
    let event = report["event"].as_str().unwrap_or("");
    let process = &report["process"];
    let mut fields = Map::new();
    fields.insert("evt.time.iso8601".into(), report["time"].clone());
    fields.insert("evt.type".into(), json!(event));
    fields.insert("krsi.hook".into(), report["hook"].clone());
    fields.insert("krsi.action".into(), json!(action));
    fields.insert("krsi.policy".into(), report["policy"].clone());
    if let Some(errno) = report.get("errno") {
        fields.insert("krsi.errno".into(), errno.clone());
    }
    fields.insert("proc.pid".into(), process["pid"].clone());
    fields.insert("thread.tid".into(), process["tid"].clone());
    fields.insert("proc.name".into(), process["comm"].clone());
    fields.insert("proc.ppid".into(), process["parent"]["pid"].clone());
    fields.insert("proc.pname".into(), process["parent"]["comm"].clone());
    fields.insert("user.uid".into(), process["uid"].clone());
    fields.insert("group.gid".into(), process["gid"].clone());
    // Falco's container fields: the 12-digit short id in `container.id` ("host" for a
    // process in no container), the whole id in `container.full_id`.
    let (short, full) = match process["container_id"].as_str() {
        Some("") => (json!("host"), json!("host")),
        Some(id) => (
            json!(String::from_utf8_lossy(lang::workload::short_container_id(
                id.as_bytes()
            ))),
            json!(id),
        ),
        None => (Value::Null, Value::Null),
    };
    fields.insert("container.id".into(), short);
    fields.insert("container.full_id".into(), full);
    // Falco's `k8s.pod.uid`: "" outside a pod, as Falco prints an empty field.
    fields.insert("k8s.pod.uid".into(), process["pod_uid"].clone());
    fields.insert("krsi.cgroup".into(), process["cgroup"].clone());
    let mut details = String::new();
    if let Some(attributes) = report["attributes"].as_object() {
        for (name, value) in attributes {
            fields.insert(format!("krsi.{name}"), value.clone());
            let shown = value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_string);
            details.push_str(&format!(" {name}={shown}"));
        }
    }
    let rule_text = report["rule"]["text"].as_str().unwrap_or("");
    let priority = if action == "audit" {
        "Notice"
    } else {
        "Warning"
    };
    let verb = match action {
        "deny" => "denied",
        "would-deny" => "would deny",
        "kill" => "killed",
        "would-kill" => "would kill",
        _ => "audited",
    };
    json!({
        "time": report["time"],
        "rule": format!("{}: {rule_text}", report["policy"].as_str().unwrap_or("krsi")),
        "priority": priority,
        "output": format!(
            "{} {priority} krsi {verb} {event} (proc.name={} proc.pid={} user.uid={}{details})",
            report["time"].as_str().unwrap_or(""),
            process["comm"].as_str().unwrap_or(""),
            process["pid"],
            process["uid"],
        ),
        "output_fields": fields,
        "source": "krsi",
        "tags": ["krsi", event, action],
        "hostname": hostname,
    })
}

/// The reports of a record as krsic writes them out, in the chosen form; a record that cannot
/// be decoded (a policy pinned by another krsic) is one line: whose it is and how long.
pub fn render(
    reports: Option<Vec<Value>>,
    context: &ReportContext<'_>,
    bytes: &[u8],
    output: Output,
    hostname: &str,
) -> Vec<Value> {
    match reports {
        Some(reports) if output == Output::Falco => reports
            .iter()
            .map(|report| to_falco(report, hostname))
            .collect(),
        Some(reports) => reports,
        None => vec![json!({ "policy": context.policy, "undecoded": bytes.len() })],
    }
}

/// This machine's name, as Falco alerts carry it.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

/// The process: its ids, names, and its cgroup v2 (id, path, container id and pod UID, the path
/// resolved from the id when the report is read: `null` when the cgroup is gone by then).
fn process(report: &Report) -> Value {
    let cgroup = crate::cgroups::path_of(report.cgroup_id);
    let container_id = cgroup.as_deref().map(crate::cgroups::container_id);
    let pod_uid = cgroup.as_deref().map(crate::cgroups::pod_uid);
    json!({
        "pid": report.tgid,
        "tid": report.pid,
        "tgid": report.tgid,
        "uid": report.uid,
        "gid": report.gid,
        "comm": report.comm,
        "parent": { "pid": report.parent_tgid, "comm": report.parent_comm },
        "cgroup_id": report.cgroup_id,
        "cgroup": cgroup,
        "container_id": container_id,
        "pod_uid": pod_uid,
    })
}

fn clock_ns(clock: libc::clockid_t) -> i128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid timespec for clock_gettime to fill.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    i128::from(ts.tv_sec) * 1_000_000_000 + i128::from(ts.tv_nsec)
}

/// CLOCK_MONOTONIC, the clock of `bpf_ktime_get_ns`.
pub fn monotonic_ns() -> i128 {
    clock_ns(libc::CLOCK_MONOTONIC)
}

/// `CLOCK_REALTIME - CLOCK_MONOTONIC`, now.
pub fn realtime_offset_ns() -> i128 {
    clock_ns(libc::CLOCK_REALTIME) - monotonic_ns()
}

/// Nanoseconds since the Unix epoch as RFC 3339 UTC, e.g. `2026-11-28T18:40:00.123456789Z`.
pub fn rfc3339(ns: i128) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let nanos = ns.rem_euclid(1_000_000_000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Days to civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i128::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::{rfc3339, to_falco};
    use serde_json::json;

    #[test]
    fn falco_alerts_have_falcos_fields() {
        let report = json!({
            "time": "2026-11-28T18:40:00.000000001Z", "policy": "p",
            "rule": {"index": 0, "line": 2, "text": "deny exec where uid != 0"},
            "action": "deny", "event": "exec", "hook": "bprm_check_security", "errno": "EPERM",
            "process": {"pid": 7, "tid": 7, "tgid": 7, "uid": 1000, "gid": 1000, "comm": "sh",
                        "parent": {"pid": 1, "comm": "init"}},
            "attributes": {"uid": 1000, "path": "/tmp/x"},
        });
        let alert = to_falco(&report, "host");
        for field in [
            "time",
            "rule",
            "priority",
            "output",
            "output_fields",
            "source",
            "tags",
        ] {
            assert!(alert.get(field).is_some(), "{field}");
        }
        assert_eq!(alert["priority"], "Warning");
        assert_eq!(alert["output_fields"]["proc.name"], "sh");
        assert_eq!(alert["output_fields"]["krsi.path"], "/tmp/x");
        assert!(alert["output"].as_str().unwrap().contains("path=/tmp/x"));
    }

    #[test]
    fn dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            rfc3339(1_795_891_200_000_000_001),
            "2026-11-28T18:40:00.000000001Z"
        );
        assert_eq!(
            rfc3339(951_782_400_000_000_000),
            "2000-02-29T00:00:00.000000000Z"
        );
    }
}
