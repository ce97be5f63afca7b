//! Operational metrics in the Prometheus text format: requests by route and status with their
//! latency, submissions, group-commit batch sizes, waits for a pooled connection, the sweep's
//! duration, and (read when scraped) the outbox backlog and the pool's connections.
//!
//! One [`Metrics`] per running application, shared by the HTTP middleware, the recorder, the
//! pool and the scheduler; served by `web::metrics` on a listener of its own.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Latency buckets, in seconds.
const SECONDS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Batch-size buckets (the group committer takes at most 64).
const SIZES: [f64; 7] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0];

/// A cumulative histogram with fixed buckets.
#[derive(Debug)]
struct Histogram {
    bounds: &'static [f64],
    /// One count per bound, then the overflow (`+Inf` minus the rest).
    counts: Vec<AtomicU64>,
    /// The sum of observations, in millionths (of seconds or of items).
    sum_micros: AtomicU64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_micros: AtomicU64::new(0),
        }
    }

    fn observe(&self, value: f64) {
        let slot = self
            .bounds
            .iter()
            .position(|b| value <= *b)
            .unwrap_or(self.bounds.len());
        if let Some(c) = self.counts.get(slot) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        self.sum_micros
            .fetch_add((value * 1e6).round() as u64, Ordering::Relaxed);
    }

    /// Writes the `_bucket`, `_sum` and `_count` lines; `labels` is empty or `key="value",…`.
    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (bound, count) in self.bounds.iter().zip(&self.counts) {
            cumulative += count.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {cumulative}"
            );
        }
        cumulative += self.counts.last().map_or(0, |c| c.load(Ordering::Relaxed));
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {cumulative}"
        );
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {sum}");
        let _ = writeln!(out, "{name}_count{braces} {cumulative}");
    }
}

/// What became of a citizen's submission, as counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SubmitOutcome {
    Stored,
    AlreadyUsed,
    Failed,
}

impl SubmitOutcome {
    fn label(self) -> &'static str {
        match self {
            SubmitOutcome::Stored => "stored",
            SubmitOutcome::AlreadyUsed => "already_used",
            SubmitOutcome::Failed => "failed",
        }
    }
}

/// Figures read from the database when scraped.
#[derive(Debug, Clone, Copy, Default)]
pub struct Gauges {
    /// Messages in the outbox not yet sent (nor given up).
    pub outbox_pending: i64,
    /// Seconds since the oldest of them was queued (0 when none).
    pub outbox_oldest_seconds: i64,
    /// Connections the pool holds, and how many of them are idle.
    pub pool_connections: u32,
    pub pool_idle: u32,
}

/// The application's metrics.
#[derive(Debug)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
    submits: Mutex<BTreeMap<SubmitOutcome, u64>>,
    batch_sizes: Histogram,
    pool_wait: Histogram,
    pool_timeouts: AtomicU64,
    sweeps: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            requests: Mutex::default(),
            latency: Mutex::default(),
            submits: Mutex::default(),
            batch_sizes: Histogram::new(&SIZES),
            pool_wait: Histogram::new(&SECONDS),
            pool_timeouts: AtomicU64::new(0),
            sweeps: Histogram::new(&SECONDS),
        }
    }
}

impl Metrics {
    /// Counts a request answered with `status` by the route `pattern` (the route's pattern such
    /// as `/s/{token}`, never the path: tokens stay out of the metrics).
    pub fn request(&self, pattern: &str, status: u16, took: Duration) {
        {
            let mut requests = self.requests.lock().unwrap_or_else(|p| p.into_inner());
            *requests.entry((pattern.to_owned(), status)).or_default() += 1;
        }
        let mut latency = self.latency.lock().unwrap_or_else(|p| p.into_inner());
        latency
            .entry(pattern.to_owned())
            .or_insert_with(|| Histogram::new(&SECONDS))
            .observe(took.as_secs_f64());
    }

    /// Counts a citizen's submission.
    pub fn submit(&self, outcome: SubmitOutcome) {
        let mut submits = self.submits.lock().unwrap_or_else(|p| p.into_inner());
        *submits.entry(outcome).or_default() += 1;
    }

    /// Records the size of a committed group-commit batch.
    pub fn batch(&self, size: usize) {
        self.batch_sizes.observe(size as f64);
    }

    /// Records the wait for a pooled connection.
    pub fn pool_checkout(&self, waited: Duration) {
        self.pool_wait.observe(waited.as_secs_f64());
    }

    /// Counts a wait for a pooled connection that timed out.
    pub fn pool_timeout(&self) {
        self.pool_timeouts.fetch_add(1, Ordering::Relaxed);
    }

    /// Records how long a monitoring sweep took.
    pub fn sweep(&self, took: Duration) {
        self.sweeps.observe(took.as_secs_f64());
    }

    /// The text exposition (Prometheus format 0.0.4) with `gauges` read just now.
    pub fn render(&self, gauges: &Gauges) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP sipas_http_requests_total HTTP requests by route pattern and status.\n\
             # TYPE sipas_http_requests_total counter\n",
        );
        for ((route, status), n) in self
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "sipas_http_requests_total{{route=\"{}\",status=\"{status}\"}} {n}",
                escape(route)
            );
        }
        out.push_str(
            "# HELP sipas_http_request_duration_seconds Time to answer a request, by route pattern.\n\
             # TYPE sipas_http_request_duration_seconds histogram\n",
        );
        for (route, h) in self
            .latency
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            h.render(
                &mut out,
                "sipas_http_request_duration_seconds",
                &format!("route=\"{}\"", escape(route)),
            );
        }
        out.push_str(
            "# HELP sipas_submissions_total Citizens' submissions (link and walk-in) by outcome.\n\
             # TYPE sipas_submissions_total counter\n",
        );
        let submits = self.submits.lock().unwrap_or_else(|p| p.into_inner());
        for outcome in [
            SubmitOutcome::Stored,
            SubmitOutcome::AlreadyUsed,
            SubmitOutcome::Failed,
        ] {
            let n = submits.get(&outcome).copied().unwrap_or(0);
            let _ = writeln!(
                out,
                "sipas_submissions_total{{outcome=\"{}\"}} {n}",
                outcome.label()
            );
        }
        drop(submits);
        out.push_str(
            "# HELP sipas_commit_batch_size Responses committed together by the group committer.\n\
             # TYPE sipas_commit_batch_size histogram\n",
        );
        self.batch_sizes
            .render(&mut out, "sipas_commit_batch_size", "");
        out.push_str(
            "# HELP sipas_pool_wait_seconds Wait for a pooled database connection.\n\
             # TYPE sipas_pool_wait_seconds histogram\n",
        );
        self.pool_wait
            .render(&mut out, "sipas_pool_wait_seconds", "");
        let _ = write!(
            out,
            "# HELP sipas_pool_timeouts_total Waits for a pooled connection that timed out.\n\
             # TYPE sipas_pool_timeouts_total counter\n\
             sipas_pool_timeouts_total {}\n\
             # HELP sipas_pool_connections Connections held by the pool.\n\
             # TYPE sipas_pool_connections gauge\n\
             sipas_pool_connections {}\n\
             # HELP sipas_pool_idle_connections Idle connections in the pool.\n\
             # TYPE sipas_pool_idle_connections gauge\n\
             sipas_pool_idle_connections {}\n\
             # HELP sipas_outbox_pending Messages waiting in the outbox.\n\
             # TYPE sipas_outbox_pending gauge\n\
             sipas_outbox_pending {}\n\
             # HELP sipas_outbox_oldest_pending_seconds Age of the oldest waiting message.\n\
             # TYPE sipas_outbox_oldest_pending_seconds gauge\n\
             sipas_outbox_oldest_pending_seconds {}\n",
            self.pool_timeouts.load(Ordering::Relaxed),
            gauges.pool_connections,
            gauges.pool_idle,
            gauges.outbox_pending,
            gauges.outbox_oldest_seconds,
        );
        out.push_str(
            "# HELP sipas_sweep_duration_seconds Duration of the monitoring sweep.\n\
             # TYPE sipas_sweep_duration_seconds histogram\n",
        );
        self.sweeps
            .render(&mut out, "sipas_sweep_duration_seconds", "");
        out
    }
}

/// Escapes a label value (backslash, quote, newline).
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Feeds the pool's checkout waits into [`Metrics`] (r2d2's event hook).
#[derive(Debug)]
pub struct PoolEvents(pub std::sync::Arc<Metrics>);

impl diesel::r2d2::HandleEvent for PoolEvents {
    fn handle_checkout(&self, event: diesel::r2d2::event::CheckoutEvent) {
        self.0.pool_checkout(event.duration());
    }

    fn handle_timeout(&self, _event: diesel::r2d2::event::TimeoutEvent) {
        self.0.pool_timeout();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative_with_sum_and_count() {
        let m = Metrics::default();
        m.request("/s/{token}", 303, Duration::from_millis(3));
        m.request("/s/{token}", 303, Duration::from_millis(30));
        m.request("/s/{token}", 409, Duration::from_secs(20));
        let text = m.render(&Gauges::default());
        assert!(text.contains("sipas_http_requests_total{route=\"/s/{token}\",status=\"303\"} 2"));
        assert!(text.contains("sipas_http_requests_total{route=\"/s/{token}\",status=\"409\"} 1"));
        // 3 ms is under 5 ms; 30 ms under 50 ms; 20 s only under +Inf.
        assert!(text.contains(
            "sipas_http_request_duration_seconds_bucket{route=\"/s/{token}\",le=\"0.0025\"} 0"
        ));
        assert!(text.contains(
            "sipas_http_request_duration_seconds_bucket{route=\"/s/{token}\",le=\"0.005\"} 1"
        ));
        assert!(text.contains(
            "sipas_http_request_duration_seconds_bucket{route=\"/s/{token}\",le=\"0.05\"} 2"
        ));
        assert!(text.contains(
            "sipas_http_request_duration_seconds_bucket{route=\"/s/{token}\",le=\"10\"} 2"
        ));
        assert!(text.contains(
            "sipas_http_request_duration_seconds_bucket{route=\"/s/{token}\",le=\"+Inf\"} 3"
        ));
        assert!(
            text.contains("sipas_http_request_duration_seconds_sum{route=\"/s/{token}\"} 20.033")
        );
        assert!(text.contains("sipas_http_request_duration_seconds_count{route=\"/s/{token}\"} 3"));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
