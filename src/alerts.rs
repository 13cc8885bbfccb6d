//! Posting reports to an HTTP endpoint in Falco's alert form (`krsic serve --alerts-url`):
//! falcosidekick's `/` takes them as it takes Falco's own.
//!
//! Enforcement never waits for the network: the daemon hands each alert to a bounded queue
//! and moves on; a thread of its own posts them, retrying a failed post a few times. An
//! alert that finds the queue full, or whose every attempt failed, is dropped and counted
//! (`krsi_alerts_dropped_total`).

use crate::metrics::{self, SharedMetrics};
use serde_json::Value;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::time::Duration;

/// Alerts waiting to be posted; past this, new ones are dropped.
const QUEUE: usize = 1024;
/// Attempts per alert, and the pause before each retry.
const RETRY_PAUSES: [Duration; 2] = [Duration::from_millis(200), Duration::from_secs(1)];
/// How long one attempt may take, connecting included.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

/// The sending end: queue alerts with [`Alerts::post`].
pub struct Alerts {
    queue: SyncSender<Value>,
    metrics: SharedMetrics,
}

impl Alerts {
    /// Starts the thread that posts to `url` (`http://` only: put a TLS proxy or
    /// falcosidekick on the node to go further).
    pub fn start(url: &str, metrics: SharedMetrics) -> Alerts {
        let (queue, pending) = sync_channel(QUEUE);
        let agent = ureq::AgentBuilder::new().timeout(ATTEMPT_TIMEOUT).build();
        let url = url.to_string();
        let counted = metrics.clone();
        std::thread::spawn(move || post_all(&agent, &url, &pending, &counted));
        Alerts { queue, metrics }
    }

    /// Queues `alert` without waiting; a full queue drops it.
    pub fn post(&self, alert: Value) {
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) =
            self.queue.try_send(alert)
        {
            metrics::lock(&self.metrics).alerts_dropped_queue_full += 1;
        }
    }
}

fn post_all(agent: &ureq::Agent, url: &str, pending: &Receiver<Value>, metrics: &SharedMetrics) {
    for alert in pending {
        let body = alert.to_string();
        let mut pauses = RETRY_PAUSES.iter();
        let sent = loop {
            match agent
                .post(url)
                .set("Content-Type", "application/json")
                .send_string(&body)
            {
                Ok(_) => break true,
                // The endpoint refused this alert as such: sending it again changes nothing.
                Err(ureq::Error::Status(code, _)) if (400..500).contains(&code) => break false,
                Err(_) => match pauses.next() {
                    Some(pause) => std::thread::sleep(*pause),
                    None => break false,
                },
            }
        };
        let mut metrics = metrics::lock(metrics);
        if sent {
            metrics.alerts_sent += 1;
        } else {
            metrics.alerts_dropped_failed += 1;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::metrics::Metrics;
    use std::io::{BufRead as _, BufReader, Read as _, Write as _};
    use std::net::TcpListener;
    use std::sync::{Arc, Mutex};
    use std::time::Instant;

    fn wait_until(metrics: &SharedMetrics, done: impl Fn(&Metrics) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !done(&metrics::lock(metrics)) {
            assert!(Instant::now() < deadline, "{:?}", metrics::lock(metrics));
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn an_alert_is_posted_as_json() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let metrics: SharedMetrics = Arc::new(Mutex::new(Metrics::default()));
        let alerts = Alerts::start(&url, metrics.clone());
        alerts.post(serde_json::json!({"rule": "p: deny exec", "priority": "Warning"}));
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream);
        let mut length = 0;
        let mut request_line = String::new();
        reader.read_line(&mut request_line).unwrap();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if let Some(n) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = n.trim().parse().unwrap();
            }
            if line == "\r\n" {
                break;
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        reader
            .get_mut()
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            .unwrap();
        assert!(request_line.starts_with("POST / "), "{request_line}");
        let posted: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(posted["priority"], "Warning");
        wait_until(&metrics, |m| m.alerts_sent == 1);
    }

    #[test]
    fn an_endpoint_that_is_down_costs_a_counted_drop() {
        // A port nothing listens on: bind one, then close it.
        let addr = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let metrics: SharedMetrics = Arc::new(Mutex::new(Metrics::default()));
        let alerts = Alerts::start(&format!("http://{addr}/"), metrics.clone());
        alerts.post(serde_json::json!({"rule": "p"}));
        wait_until(&metrics, |m| m.alerts_dropped_failed == 1);
        assert_eq!(metrics::lock(&metrics).alerts_sent, 0);
    }
}
