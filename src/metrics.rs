//! What `krsic serve` tells Prometheus, and its health: the daemon keeps one [`Metrics`]
//! (behind a mutex shared with the HTTP thread) and renders it in Prometheus' text
//! exposition format at every scrape.
//!
//! Metric names and labels (documented in the book's "Running as a daemon" page):
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `krsi_reports_total` | counter | `policy`, `rule` (its line), `action` (`deny`, `would-deny`, `audit`, ...) |
//! | `krsi_reports_dropped_total` | counter | `policy`, `reason` (`rate_limit`, `ring_full`) |
//! | `krsi_program_runs_total` | counter | `policy`, `program`, `hook` |
//! | `krsi_program_run_time_seconds_total` | counter | `policy`, `program`, `hook` |
//! | `krsi_bpf_stats_enabled` | gauge | |
//! | `krsi_policies` | gauge | |
//! | `krsi_policy_apply_failures_total` | counter | `policy` |
//! | `krsi_applies_total` | counter | |
//! | `krsi_alerts_sent_total` | counter | |
//! | `krsi_alerts_dropped_total` | counter | `reason` (`queue_full`, `failed`) |
//! | `krsi_ready` | gauge | |

use prometheus::proto::{Counter, Gauge, LabelPair, Metric, MetricFamily, MetricType};
use prometheus::{Encoder as _, TextEncoder};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

/// Whether the daemon is doing its job, as `/healthz` tells it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Health {
    /// The first apply of the directory has not finished.
    Starting,
    Ready,
    /// Cannot enforce, and why (BPF LSM not active, ...).
    Unready(String),
}

/// A program's statistics, as the kernel counts them (zero while counting is off).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProgramStats {
    pub runs: u64,
    pub run_time_ns: u64,
}

/// Everything the daemon counts or reads.
#[derive(Debug)]
pub struct Metrics {
    pub health: Health,
    /// (policy, rule line, action) → reports received.
    pub reports: BTreeMap<(String, String, String), u64>,
    /// policy → (ring full, over the rate limit), as the kernel counted them since the daemon
    /// first followed the policy (its replaced versions included).
    pub dropped: BTreeMap<String, (u64, u64)>,
    /// policy → what the drop counters of its replaced versions had counted.
    pub dropped_retired: BTreeMap<String, (u64, u64)>,
    /// (policy, program, hook) → statistics.
    pub programs: BTreeMap<(String, String, String), ProgramStats>,
    pub bpf_stats_enabled: bool,
    pub policies: usize,
    /// policy → applies that failed for it.
    pub apply_failures: BTreeMap<String, u64>,
    pub applies: u64,
    pub alerts_sent: u64,
    pub alerts_dropped_queue_full: u64,
    pub alerts_dropped_failed: u64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            health: Health::Starting,
            reports: BTreeMap::new(),
            dropped: BTreeMap::new(),
            dropped_retired: BTreeMap::new(),
            programs: BTreeMap::new(),
            bpf_stats_enabled: false,
            policies: 0,
            apply_failures: BTreeMap::new(),
            applies: 0,
            alerts_sent: 0,
            alerts_dropped_queue_full: 0,
            alerts_dropped_failed: 0,
        }
    }
}

/// The metrics shared between the daemon and its HTTP and alert threads.
pub type SharedMetrics = Arc<Mutex<Metrics>>;

/// The metrics, also when a thread panicked while holding them (they are counters: a
/// half-done update is still worth showing).
pub fn lock(metrics: &SharedMetrics) -> MutexGuard<'_, Metrics> {
    metrics
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Metrics {
    /// Counts one report from its krsi JSON form.
    pub fn count_report(&mut self, report: &serde_json::Value) {
        let policy = report["policy"].as_str().unwrap_or_default().to_string();
        let rule = match (&report["rule"]["line"], &report["rule"]["index"]) {
            (serde_json::Value::Number(line), _) => line.to_string(),
            (_, serde_json::Value::Number(index)) => format!("#{index}"),
            _ => String::new(),
        };
        let action = report["action"].as_str().unwrap_or("unknown").to_string();
        *self.reports.entry((policy, rule, action)).or_default() += 1;
    }

    /// The Prometheus text exposition (format 0.0.4) of every metric.
    pub fn exposition(&self) -> String {
        let mut text = Vec::new();
        // Encoding families built here into a Vec cannot fail: the encoder only rejects
        // families without samples, which `families` never builds.
        if let Err(error) = TextEncoder::new().encode(&self.families(), &mut text) {
            return format!("# krsic could not encode its metrics: {error}\n");
        }
        String::from_utf8_lossy(&text).into_owned()
    }

    fn families(&self) -> Vec<MetricFamily> {
        let mut families = Vec::new();
        let mut add = |name: &str, help: &str, kind: MetricType, samples: Vec<Metric>| {
            if samples.is_empty() {
                return;
            }
            let mut family = MetricFamily::default();
            family.set_name(name.to_string());
            family.set_help(help.to_string());
            family.set_field_type(kind);
            family.set_metric(samples);
            families.push(family);
        };
        add(
            "krsi_reports_total",
            "Reports received from the kernel, by policy, rule (its line in the policy file) and action (deny, would-deny, audit).",
            MetricType::COUNTER,
            self.reports
                .iter()
                .map(|((policy, rule, action), n)| {
                    counter(&[("policy", policy), ("rule", rule), ("action", action)], *n as f64)
                })
                .collect(),
        );
        add(
            "krsi_reports_dropped_total",
            "Reports the policy's programs could not send (its versions since the daemon started): over the rate limit, or with the ring buffer full.",
            MetricType::COUNTER,
            self.dropped
                .iter()
                .flat_map(|(policy, (full, limited))| {
                    [
                        counter(&[("policy", policy), ("reason", "rate_limit")], *limited as f64),
                        counter(&[("policy", policy), ("reason", "ring_full")], *full as f64),
                    ]
                })
                .collect(),
        );
        let program = |(policy, program, hook): &(String, String, String), value: f64| {
            counter(
                &[("policy", policy), ("program", program), ("hook", hook)],
                value,
            )
        };
        add(
            "krsi_program_runs_total",
            "Runs of each program, as the kernel counts them while kernel.bpf_stats_enabled is on.",
            MetricType::COUNTER,
            self.programs
                .iter()
                .map(|(key, stats)| program(key, stats.runs as f64))
                .collect(),
        );
        add(
            "krsi_program_run_time_seconds_total",
            "Time spent in each program, as the kernel counts it while kernel.bpf_stats_enabled is on.",
            MetricType::COUNTER,
            self.programs
                .iter()
                .map(|(key, stats)| program(key, stats.run_time_ns as f64 / 1e9))
                .collect(),
        );
        add(
            "krsi_bpf_stats_enabled",
            "1 when the kernel counts program runs and run time (kernel.bpf_stats_enabled, or krsic serve --bpf-stats).",
            MetricType::GAUGE,
            vec![gauge(&[], f64::from(u8::from(self.bpf_stats_enabled)))],
        );
        add(
            "krsi_policies",
            "Policies of the directory pinned and enforced.",
            MetricType::GAUGE,
            vec![gauge(&[], self.policies as f64)],
        );
        add(
            "krsi_applies_total",
            "Times the directory was applied.",
            MetricType::COUNTER,
            vec![counter(&[], self.applies as f64)],
        );
        add(
            "krsi_policy_apply_failures_total",
            "Applies that failed for a policy (its previous version, if any, stayed enforced).",
            MetricType::COUNTER,
            self.apply_failures
                .iter()
                .map(|(policy, n)| counter(&[("policy", policy)], *n as f64))
                .collect(),
        );
        add(
            "krsi_alerts_sent_total",
            "Reports posted to the alert endpoint.",
            MetricType::COUNTER,
            vec![counter(&[], self.alerts_sent as f64)],
        );
        add(
            "krsi_alerts_dropped_total",
            "Reports not posted to the alert endpoint: the queue was full, or every attempt failed.",
            MetricType::COUNTER,
            vec![
                counter(
                    &[("reason", "queue_full")],
                    self.alerts_dropped_queue_full as f64,
                ),
                counter(&[("reason", "failed")], self.alerts_dropped_failed as f64),
            ],
        );
        add(
            "krsi_ready",
            "1 once the directory was applied at start and BPF LSM is active.",
            MetricType::GAUGE,
            vec![gauge(
                &[],
                f64::from(u8::from(self.health == Health::Ready)),
            )],
        );
        families
    }
}

fn labelled(labels: &[(&str, &str)]) -> Metric {
    let mut metric = Metric::default();
    metric.set_label(
        labels
            .iter()
            .map(|(name, value)| {
                let mut pair = LabelPair::default();
                pair.set_name(name.to_string());
                pair.set_value(value.to_string());
                pair
            })
            .collect(),
    );
    metric
}

fn counter(labels: &[(&str, &str)], value: f64) -> Metric {
    let mut metric = labelled(labels);
    let mut counter = Counter::default();
    counter.set_value(value);
    metric.set_counter(counter);
    metric
}

fn gauge(labels: &[(&str, &str)], value: f64) -> Metric {
    let mut metric = labelled(labels);
    let mut gauge = Gauge::default();
    gauge.set_value(value);
    metric.set_gauge(gauge);
    metric
}

/// Serves `/metrics` and `/healthz` on `addr` from a thread of its own; returns the address
/// it listens on (the port the kernel chose for port 0).
pub fn serve_http(addr: &str, metrics: SharedMetrics) -> Result<SocketAddr, String> {
    let server = tiny_http::Server::http(addr).map_err(|e| e.to_string())?;
    let listening = server
        .server_addr()
        .to_ip()
        .ok_or_else(|| format!("`{addr}` is not an IP address and port"))?;
    std::thread::spawn(move || {
        for request in server.incoming_requests() {
            let (status, content_type, body) = respond(request.url(), &lock(&metrics));
            let mut response = tiny_http::Response::from_string(body).with_status_code(status);
            // Fails only for bytes that are not a header value; these are constants.
            if let Ok(header) =
                tiny_http::Header::from_bytes(&b"Content-Type"[..], content_type.as_bytes())
            {
                response = response.with_header(header);
            }
            // A scraper that went away is its own business.
            let _ = request.respond(response);
        }
    });
    Ok(listening)
}

/// Status, content type and body for a request of `url`.
fn respond(url: &str, metrics: &Metrics) -> (u16, &'static str, String) {
    match url.split('?').next().unwrap_or(url) {
        "/metrics" => (
            200,
            "text/plain; version=0.0.4; charset=utf-8",
            metrics.exposition(),
        ),
        "/healthz" => match &metrics.health {
            Health::Ready => (200, "text/plain", "ready\n".into()),
            Health::Starting => (
                503,
                "text/plain",
                "not ready: applying the policy directory\n".into(),
            ),
            Health::Unready(why) => (503, "text/plain", format!("not ready: {why}\n")),
        },
        _ => (
            404,
            "text/plain",
            "krsic serves /metrics and /healthz\n".into(),
        ),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Metrics with every family present, and label values that need escaping.
    pub(crate) fn sample() -> Metrics {
        let mut metrics = Metrics {
            health: Health::Ready,
            bpf_stats_enabled: true,
            policies: 2,
            applies: 3,
            alerts_sent: 4,
            alerts_dropped_queue_full: 1,
            ..Metrics::default()
        };
        for _ in 0..3 {
            metrics.count_report(&json!({
                "policy": "no-tmp-exec", "rule": {"index": 0, "line": 2}, "action": "deny",
            }));
        }
        metrics.count_report(&json!({
            "policy": "odd\"name\\", "rule": {"index": 1}, "action": "audit",
        }));
        metrics.dropped.insert("no-tmp-exec".into(), (1, 2));
        metrics.programs.insert(
            (
                "no-tmp-exec".into(),
                "krsi_exec".into(),
                "bprm_check_security".into(),
            ),
            ProgramStats {
                runs: 10,
                run_time_ns: 1_500,
            },
        );
        metrics.apply_failures.insert("broken".into(), 1);
        metrics
    }

    #[test]
    fn reports_are_counted_per_policy_rule_and_action() {
        let text = sample().exposition();
        assert!(
            text.contains(
                "krsi_reports_total{policy=\"no-tmp-exec\",rule=\"2\",action=\"deny\"} 3\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "krsi_reports_total{policy=\"odd\\\"name\\\\\",rule=\"#1\",action=\"audit\"} 1\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("# TYPE krsi_reports_total counter\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "krsi_reports_dropped_total{policy=\"no-tmp-exec\",reason=\"rate_limit\"} 2\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("krsi_program_run_time_seconds_total{policy=\"no-tmp-exec\",program=\"krsi_exec\",hook=\"bprm_check_security\"} 0.0000015\n"),
            "{text}"
        );
        assert!(text.contains("krsi_ready 1\n"), "{text}");
    }

    #[test]
    fn health_says_why_it_is_not_ready() {
        let mut metrics = Metrics::default();
        assert_eq!(respond("/healthz", &metrics).0, 503);
        metrics.health = Health::Unready("BPF LSM is not active".into());
        let (status, _, body) = respond("/healthz", &metrics);
        assert_eq!(status, 503);
        assert!(body.contains("BPF LSM is not active"), "{body}");
        metrics.health = Health::Ready;
        assert_eq!(respond("/healthz", &metrics).0, 200);
        assert_eq!(respond("/metrics?x=1", &metrics).0, 200);
        assert_eq!(respond("/other", &metrics).0, 404);
    }

    /// `promtool check metrics` (Debian's `prometheus` package) accepts the exposition:
    /// format and naming conventions. `scripts/test-all` installs promtool and runs this.
    #[test]
    #[ignore = "needs promtool: scripts/test-all installs it"]
    fn promtool_accepts_the_exposition() {
        use std::io::Write as _;
        let mut child = std::process::Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("promtool is installed");
        let text = sample().exposition();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "promtool check metrics refused:\n{}{}\n{text}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
