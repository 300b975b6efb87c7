//! Push status: for every proxy connected to this istiod over ADS, what each type was last
//! sent (version = the log revision it reflects, nonce, resources), what the proxy ACKed, and
//! its last NACK; and the push metrics (pushes, push time, change → ACK convergence, NACKs,
//! connected proxies) in the Prometheus text format.
//!
//! ADS sessions publish their state here after every push and every ACK/NACK, under a short
//! lock; the HTTP API (`/v1/proxies`, `/v1/proxies/{id}/config`) and `/metrics` read it.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use istio_store::clock::now_ms;
use parking_lot::Mutex;
use serde::Serialize;

use super::xds::{CLUSTER, ENDPOINT, LISTENER, ROUTE};

/// The short name of an xDS type URL (`cds`, `lds`, `rds`, `eds`), or the URL itself.
pub fn short_type(type_url: &str) -> &str {
    match type_url {
        CLUSTER => "cds",
        LISTENER => "lds",
        ROUTE => "rds",
        ENDPOINT => "eds",
        other => other,
    }
}

/// RFC 3339 with milliseconds, UTC.
pub fn rfc3339(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let t = t.replace_nanosecond(t.nanosecond() / 1_000_000 * 1_000_000).unwrap_or(t);
    t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

/// A proxy's rejection of a response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Nack {
    /// The version it rejected.
    pub version: String,
    /// The nonce of the rejected response.
    pub nonce: String,
    /// The proxy's error message.
    pub message: String,
    /// When (RFC 3339).
    pub time: String,
}

/// One type's push state on one proxy's stream.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TypeStatus {
    /// The type URL.
    pub type_url: String,
    /// The subscribed resource names (empty: every resource, a wildcard subscription).
    pub subscribed: Vec<String>,
    /// Version of the last response sent (the log revision it reflects).
    pub sent_version: Option<String>,
    /// Nonce of the last response sent.
    pub sent_nonce: Option<String>,
    /// When it was sent (RFC 3339).
    pub sent_at: Option<String>,
    /// Number of resources in it.
    pub resources: usize,
    /// The last version the proxy ACKed.
    pub acked_version: Option<String>,
    /// When (RFC 3339).
    pub acked_at: Option<String>,
    /// The log revision the proxy has applied for this type (its ACKed version).
    pub revision: Option<u64>,
    /// The proxy's last NACK, cleared by its next ACK.
    pub last_nack: Option<Nack>,
    /// `SYNCED` (last response ACKed), `STALE` (sent, not yet ACKed), `NACKED` (the version
    /// last sent was rejected),
    /// or `NOT SENT`.
    pub status: &'static str,
    /// What the last response carried, by name.
    #[serde(skip)]
    pub sent: Arc<Vec<super::ads::Packed>>,
}

impl TypeStatus {
    /// Recomputes `status` from the versions and the last NACK.
    pub fn refresh(&mut self) {
        self.status = match (&self.sent_nonce, &self.last_nack) {
            (None, _) => "NOT SENT",
            (Some(_), Some(nack)) if Some(&nack.version) == self.sent_version.as_ref() => "NACKED",
            _ if self.acked_version.is_some() && self.acked_version == self.sent_version => {
                "SYNCED"
            }
            _ => "STALE",
        };
    }
}

/// One connected proxy.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProxyStatus {
    /// The proxy's node id (from its first request).
    pub id: String,
    /// The node's cluster.
    pub cluster: String,
    /// The client's user agent and version (e.g. `grpc-python 1.84.0`).
    pub version: String,
    /// This connection's number on its istiod.
    pub connection: u64,
    /// The istiod member serving it.
    pub istiod: String,
    /// The proxy's address.
    pub peer: String,
    /// When it connected (RFC 3339).
    pub connected_since: String,
    /// `sotw` (state of the world) or `delta` (incremental xDS).
    pub protocol: &'static str,
    /// The WorkloadEntry auto-registered for it (`namespace/name`), if its node metadata
    /// named a WorkloadGroup.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workload_entry: Option<String>,
    /// The lowest log revision the proxy has ACKed over the types it was sent.
    pub revision: Option<u64>,
    /// Per type (`cds`, `lds`, `rds`, `eds`).
    pub types: BTreeMap<String, TypeStatus>,
}

impl ProxyStatus {
    /// Recomputes the derived fields.
    pub fn refresh(&mut self) {
        for t in self.types.values_mut() {
            t.refresh();
        }
        self.revision = self
            .types
            .values()
            .filter(|t| t.sent_nonce.is_some())
            .map(|t| t.revision)
            .min()
            .flatten();
    }
}

const BUCKETS: [f64; 14] =
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

#[derive(Clone, Debug, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, d: Duration) {
        let secs = d.as_secs_f64();
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                self.counts[i] += 1;
            }
        }
        self.count += 1;
        self.sum += secs;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (i, b) in BUCKETS.iter().enumerate() {
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {}", self.counts[i]);
        }
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}", self.count);
        let braces = if labels.is_empty() { String::new() } else { format!("{{{labels}}}") };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum);
        let _ = writeln!(out, "{name}_count{braces} {}", self.count);
    }
}

#[derive(Debug, Default)]
struct Metrics {
    pushes: BTreeMap<String, u64>,
    nacks: BTreeMap<String, u64>,
    push_time: BTreeMap<String, Histogram>,
    convergence: Histogram,
    snapshots: u64,
    translate: Histogram,
}

/// Every proxy connected to this istiod, and the push metrics.
#[derive(Debug)]
pub struct PushStatus {
    istiod: String,
    next: AtomicU64,
    proxies: Mutex<BTreeMap<u64, ProxyStatus>>,
    metrics: Mutex<Metrics>,
}

impl PushStatus {
    /// Status for the istiod member named `istiod`.
    pub fn new(istiod: impl Into<String>) -> Self {
        PushStatus {
            istiod: istiod.into(),
            next: AtomicU64::new(1),
            proxies: Mutex::default(),
            metrics: Mutex::default(),
        }
    }

    /// Registers a new stream from `peer`; returns its initial state (its `connection`
    /// number identifies it from then on).
    pub fn connect(&self, peer: String, protocol: &'static str) -> ProxyStatus {
        let connection = self.next.fetch_add(1, Ordering::Relaxed);
        let p = ProxyStatus {
            connection,
            istiod: self.istiod.clone(),
            peer,
            protocol,
            connected_since: rfc3339(now_ms()),
            ..Default::default()
        };
        self.proxies.lock().insert(connection, p.clone());
        p
    }

    /// Publishes one type of `me` (and its identity, once known), so a push or an ACK copies
    /// only what it changed.
    pub fn publish_type(&self, me: &ProxyStatus, short: &str) {
        let Some(t) = me.types.get(short) else { return };
        let mut proxies = self.proxies.lock();
        let Some(slot) = proxies.get_mut(&me.connection) else { return };
        if slot.id != me.id {
            slot.id.clone_from(&me.id);
            slot.cluster.clone_from(&me.cluster);
            slot.version.clone_from(&me.version);
            slot.workload_entry.clone_from(&me.workload_entry);
        }
        match slot.types.get_mut(short) {
            Some(dst) => dst.clone_from(t),
            None => {
                slot.types.insert(short.to_owned(), t.clone());
            }
        }
        slot.refresh();
    }

    /// Forgets `connection`.
    pub fn disconnect(&self, connection: u64) {
        self.proxies.lock().remove(&connection);
    }

    /// Every connected proxy, by node id then connection.
    pub fn proxies(&self) -> Vec<ProxyStatus> {
        let mut v: Vec<ProxyStatus> = self.proxies.lock().values().cloned().collect();
        v.sort_by(|a, b| (&a.id, a.connection).cmp(&(&b.id, b.connection)));
        v
    }

    /// The newest connection of the proxy with node id `id`.
    pub fn proxy(&self, id: &str) -> Option<ProxyStatus> {
        self.proxies.lock().values().filter(|p| p.id == id).max_by_key(|p| p.connection).cloned()
    }

    /// Records a push of `type_url` that took `took` to build and queue.
    pub fn pushed(&self, type_url: &str, took: Duration) {
        let mut m = self.metrics.lock();
        let t = short_type(type_url).to_owned();
        *m.pushes.entry(t.clone()).or_default() += 1;
        m.push_time.entry(t).or_default().observe(took);
    }

    /// Records a NACK of `type_url`.
    pub fn nacked(&self, type_url: &str) {
        *self.metrics.lock().nacks.entry(short_type(type_url).to_owned()).or_default() += 1;
    }

    /// Records the time from a configuration change reaching this istiod to a proxy's ACK of
    /// the push that carried it.
    pub fn converged(&self, took: Duration) {
        self.metrics.lock().convergence.observe(took);
    }

    /// Records one translation of the registry into a snapshot.
    pub fn translated(&self, took: Duration) {
        let mut m = self.metrics.lock();
        m.snapshots += 1;
        m.translate.observe(took);
    }

    /// How many translations ([`PushStatus::translated`]) there have been.
    pub fn translations(&self) -> u64 {
        self.metrics.lock().snapshots
    }

    /// The metrics in the Prometheus text format.
    pub fn render(&self, out: &mut String) {
        let connected = self.proxies.lock().len();
        let m = self.metrics.lock();
        let head = |out: &mut String, name: &str, help: &str, kind: &str| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };
        head(out, "istio_pilot_xds_connected", "Proxies connected over ADS.", "gauge");
        let _ = writeln!(out, "istio_pilot_xds_connected {connected}");
        head(out, "istio_pilot_xds_pushes_total", "xDS responses sent, by type.", "counter");
        for (t, n) in &m.pushes {
            let _ = writeln!(out, "istio_pilot_xds_pushes_total{{type=\"{t}\"}} {n}");
        }
        head(out, "istio_pilot_xds_nacks_total", "xDS responses rejected, by type.", "counter");
        for (t, n) in &m.nacks {
            let _ = writeln!(out, "istio_pilot_xds_nacks_total{{type=\"{t}\"}} {n}");
        }
        let name = "istio_pilot_xds_push_seconds";
        head(out, name, "Time to build and queue one xDS response, by type.", "histogram");
        for (t, h) in &m.push_time {
            h.render(out, name, &format!("type=\"{t}\""));
        }
        let name = "istio_pilot_proxy_convergence_seconds";
        head(out, name, "From a config change applied here to the proxy's ACK.", "histogram");
        m.convergence.render(out, name, "");
        let name = "istio_pilot_translate_seconds";
        head(out, name, "Time to translate the registry into xDS resources.", "histogram");
        m.translate.render(out, name, "");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_follows_sends_acks_and_nacks() {
        let mut t = TypeStatus::default();
        t.refresh();
        assert_eq!(t.status, "NOT SENT");
        t.sent_version = Some("7".into());
        t.sent_nonce = Some("1".into());
        t.refresh();
        assert_eq!(t.status, "STALE");
        t.acked_version = Some("7".into());
        t.refresh();
        assert_eq!(t.status, "SYNCED");
        t.sent_version = Some("9".into());
        t.sent_nonce = Some("2".into());
        t.last_nack = Some(Nack {
            version: "9".into(),
            nonce: "2".into(),
            message: "bad".into(),
            time: rfc3339(0),
        });
        t.refresh();
        assert_eq!(t.status, "NACKED");
    }

    #[test]
    fn registry_publishes_and_forgets_connections() {
        let s = PushStatus::new("1");
        let mut p = s.connect("127.0.0.1:1".into(), "sotw");
        let c = p.connection;
        p.id = "sidecar~a".into();
        let mut t = TypeStatus {
            sent_version: Some("5".into()),
            sent_nonce: Some("1".into()),
            acked_version: Some("5".into()),
            revision: Some(5),
            ..Default::default()
        };
        p.types.insert("cds".into(), t.clone());
        t.revision = Some(3);
        p.types.insert("eds".into(), t);
        s.publish_type(&p, "cds");
        s.publish_type(&p, "eds");
        let got = s.proxy("sidecar~a").unwrap();
        assert_eq!(got.revision, Some(3));
        // Publishing one type updates that type and keeps the others.
        p.types.get_mut("cds").unwrap().sent_version = Some("6".into());
        p.types.get_mut("cds").unwrap().sent_nonce = Some("2".into());
        s.publish_type(&p, "cds");
        let got = s.proxy("sidecar~a").unwrap();
        assert_eq!(got.types["cds"].status, "STALE");
        assert_eq!(got.types["eds"].status, "SYNCED");
        assert_eq!(got.revision, Some(3));
        s.pushed(CLUSTER, Duration::from_millis(2));
        s.nacked(CLUSTER);
        let mut out = String::new();
        s.render(&mut out);
        assert!(out.contains("istio_pilot_xds_connected 1"));
        assert!(out.contains("istio_pilot_xds_nacks_total{type=\"cds\"} 1"));
        s.disconnect(c);
        assert!(s.proxies().is_empty());
        assert_eq!(rfc3339(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
    }
}
