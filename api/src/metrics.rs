//! Prometheus metrics for istiod: request latency histograms by verb and code, and the Raft
//! and store gauges read from the store node at scrape time.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

use istio_store::StoreNode;

const BUCKETS: [f64; 12] =
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// Request metrics, keyed by (verb, HTTP code).
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(&'static str, u16), Histogram>>,
}

impl Metrics {
    /// Records one request.
    pub fn observe(&self, verb: &'static str, code: u16, took: Duration) {
        let secs = took.as_secs_f64();
        let mut map = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        let h = map.entry((verb, code)).or_default();
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += secs;
    }

    /// Renders everything in the Prometheus text exposition format.
    pub fn render(&self, node: &StoreNode) -> String {
        let mut out = String::new();
        let s = node.local_status();
        let gauge = |out: &mut String, name: &str, help: &str, kind: &str, v: f64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}");
        };
        gauge(&mut out, "istio_raft_term", "Current Raft term.", "gauge", s.term as f64);
        gauge(
            &mut out,
            "istio_raft_is_leader",
            "1 if this member is the leader.",
            "gauge",
            if s.role == "leader" { 1.0 } else { 0.0 },
        );
        gauge(
            &mut out,
            "istio_raft_has_leader",
            "1 if this member knows a leader.",
            "gauge",
            if s.leader.is_some() { 1.0 } else { 0.0 },
        );
        gauge(
            &mut out,
            "istio_raft_leader_changes_total",
            "Leader changes observed by this member.",
            "counter",
            node.leader_changes() as f64,
        );
        let io = node.log_io();
        let load =
            |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed) as f64;
        for (name, help, value) in [
            ("istio_store_log_appends_total", "Raft log append calls.", load(&io.appends)),
            ("istio_store_log_entries_total", "Raft log entries appended.", load(&io.entries)),
            (
                "istio_store_log_flushes_total",
                "fdatasync rounds of the Raft log (each covers every append queued before it).",
                load(&io.flushes),
            ),
            (
                "istio_store_log_flush_seconds_total",
                "Time spent in fdatasync of the Raft log.",
                load(&io.flush_micros) / 1e6,
            ),
        ] {
            gauge(&mut out, name, help, "counter", value);
        }
        gauge(
            &mut out,
            "istio_raft_last_log_index",
            "Last index in the local Raft log.",
            "gauge",
            s.last_log_index as f64,
        );
        gauge(
            &mut out,
            "istio_raft_commit_index",
            "Highest commit index known to this member.",
            "gauge",
            s.commit_index as f64,
        );
        gauge(
            &mut out,
            "istio_raft_applied_index",
            "Last log index applied to the state machine.",
            "gauge",
            s.applied.applied_index as f64,
        );
        gauge(
            &mut out,
            "istio_raft_snapshot_index",
            "Last log index covered by the snapshot.",
            "gauge",
            s.snapshot_index as f64,
        );
        gauge(
            &mut out,
            "istio_raft_purged_index",
            "Highest purged log index.",
            "gauge",
            s.purged_index as f64,
        );
        gauge(
            &mut out,
            "istio_store_revision",
            "Current revision of the event log.",
            "gauge",
            s.applied.revision as f64,
        );
        gauge(
            &mut out,
            "istio_store_compact_revision",
            "Events at or below this revision are compacted.",
            "gauge",
            s.applied.compact_revision as f64,
        );
        gauge(
            &mut out,
            "istio_store_events_retained",
            "Events currently retained in the event log.",
            "gauge",
            s.applied.revision.saturating_sub(s.applied.compact_revision) as f64,
        );
        let name = "istio_http_request_duration_seconds";
        let _ = writeln!(out, "# HELP {name} HTTP API request latency by verb and code.");
        let _ = writeln!(out, "# TYPE {name} histogram");
        let map = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        for ((verb, code), h) in map.iter() {
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "{name}_bucket{{verb=\"{verb}\",code=\"{code}\",le=\"{b}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                out,
                "{name}_bucket{{verb=\"{verb}\",code=\"{code}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(out, "{name}_sum{{verb=\"{verb}\",code=\"{code}\"}} {}", h.sum);
            let _ = writeln!(out, "{name}_count{{verb=\"{verb}\",code=\"{code}\"}} {}", h.count);
        }
        out
    }
}
