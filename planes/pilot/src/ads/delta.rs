//! Delta (incremental) ADS streams, as in Envoy's incremental xDS protocol.
//!
//! Per type the stream keeps the subscription (explicit names, and wildcard: a first request
//! for LDS or CDS that names nothing, or `*`; unsubscribing `*` ends it) and what the proxy
//! has: the resources of the last push, shared with the snapshot. A new snapshot is compared
//! with that by name and pointer, and only changed resources (each with its content-hash
//! version, [`super::resource_version`]) and the names that disappeared are sent. A proxy's
//! first request may carry `initial_resource_versions` (it reconnected with a cache): whatever
//! it holds at the current version is not sent again, and what no longer exists is removed.
//! A subscription to a name that does not exist is answered with that name in
//! `removed_resources`, so the proxy need not wait for it.
//!
//! A push larger than [`CHUNK_BYTES`] is split over several responses (each with its own
//! nonce); the push counts as ACKed when its last response is. Each response is built only
//! when the one before it has been queued, so a stream holds copies of a few responses'
//! resources at a time, never of a whole push. Both bound what a connected proxy costs in
//! memory: tonic's per-stream encode buffer keeps the capacity of the most it ever encoded at
//! once, and a whole wildcard push built up front (~400 KiB of copies per proxy for 1,000
//! clusters) left freed holes between the allocations connections keep, which stayed resident.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use envoy_types::pb::envoy::config::core::v3::Node;
use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse, Resource,
};
use envoy_types::pb::google::protobuf::Any;
use istio_store::clock::now_ms;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tonic::Status;

use super::{known_type, resource_version, Packed, Peer, Protocol, Snapshot};
use crate::scope::ProxyIdentity;
use crate::status::{rfc3339, short_type, Nack, TypeStatus};
use crate::xds::{CLUSTER, ENDPOINT, LISTENER, ROUTE};

/// Resource bytes per response before a push is split.
pub const CHUNK_BYTES: usize = 16 * 1024;

type Tx = mpsc::Sender<Result<DeltaDiscoveryResponse, Status>>;

/// One type's subscription and what the proxy holds.
#[derive(Default)]
struct Subscription {
    wildcard: bool,
    names: BTreeSet<String>,
    /// What the proxy holds (name order), as of the last push.
    known: Arc<Vec<Packed>>,
    /// Nonces sent and not yet answered, with the version (revision) they carried.
    in_flight: BTreeMap<String, String>,
    /// Whether a response of the push in flight was NACKed.
    nacked: bool,
}

/// What one push sends: changed resources and removed names.
#[derive(Debug, Default, PartialEq)]
struct Diff<'a> {
    changed: Vec<&'a Packed>,
    removed: Vec<String>,
}

/// Compares what the proxy holds with `target` (both in name order).
fn diff<'a>(known: &[Packed], target: &'a [Packed]) -> Diff<'a> {
    let mut d = Diff::default();
    let (mut i, mut j) = (0, 0);
    while i < known.len() || j < target.len() {
        match (known.get(i), target.get(j)) {
            (Some(k), Some(t)) if k.0 == t.0 => {
                if !Arc::ptr_eq(&k.1, &t.1) && k.1 != t.1 {
                    d.changed.push(t);
                }
                i += 1;
                j += 1;
            }
            (Some(k), Some(t)) if k.0 < t.0 => {
                d.removed.push(k.0.clone());
                i += 1;
            }
            (Some(k), None) => {
                d.removed.push(k.0.clone());
                i += 1;
            }
            (_, Some(t)) => {
                d.changed.push(t);
                j += 1;
            }
            (None, None) => break,
        }
    }
    d
}

/// How many of `changed` go in the next response: as many as fit in [`CHUNK_BYTES`] of
/// resource bytes, and at least one.
fn chunk_len(changed: &[&Packed]) -> usize {
    let mut bytes = 0;
    for (i, (_, any)) in changed.iter().enumerate() {
        bytes += any.value.len();
        if i > 0 && bytes > CHUNK_BYTES {
            return i;
        }
    }
    changed.len()
}

impl Subscription {
    /// The resources the subscription covers in `snap`, in name order.
    fn target(
        &self,
        snap: &Snapshot,
        type_url: &'static str,
        id: &ProxyIdentity,
    ) -> Arc<Vec<Packed>> {
        if self.wildcard {
            let all = snap.select_for(type_url, &[], id);
            if self.names.is_empty() {
                return all;
            }
            // Wildcard plus names: the names may reach past the Sidecar or be inbound.
            let names: Vec<String> = self.names.iter().cloned().collect();
            let named = snap.select_for(type_url, &names, id);
            let mut merged: BTreeMap<String, Arc<Any>> =
                all.iter().chain(named.iter()).map(|(n, a)| (n.clone(), a.clone())).collect();
            return Arc::new(std::mem::take(&mut merged).into_iter().collect());
        }
        let names: Vec<String> = self.names.iter().cloned().collect();
        if names.is_empty() {
            return Arc::default();
        }
        snap.select_for(type_url, &names, id)
    }
}

/// One stream.
pub(super) struct Session {
    peer: Peer,
    nonces: u64,
    tx: Tx,
    subs: BTreeMap<&'static str, Subscription>,
    /// Per type URL: when this istiod saw the earliest change pushed and not yet ACKed.
    waiting: BTreeMap<&'static str, Instant>,
}

impl Session {
    /// A stream for `peer`, answering on `tx`.
    pub(super) fn new(peer: Peer, tx: Tx) -> Self {
        Session { peer, nonces: 0, tx, subs: BTreeMap::new(), waiting: BTreeMap::new() }
    }
}

impl Protocol for Session {
    type Request = DeltaDiscoveryRequest;
    type Response = DeltaDiscoveryResponse;

    fn peer(&mut self) -> &mut Peer {
        &mut self.peer
    }

    fn tx(&self) -> &Tx {
        &self.tx
    }

    fn node(r: &DeltaDiscoveryRequest) -> Option<&Node> {
        r.node.as_ref()
    }

    async fn handle(
        &mut self,
        snap: &Snapshot,
        r: DeltaDiscoveryRequest,
    ) -> Result<(), Option<Status>> {
        self.request(snap, r).await
    }

    async fn push_type(&mut self, snap: &Snapshot, type_url: &'static str) -> bool {
        self.push(snap, type_url, None, Vec::new()).await
    }
}

impl Session {
    /// Sends what changed in `type_url` since the last push. `initial` (the proxy's first
    /// request's versions) stands for what it holds when nothing was pushed yet;
    /// `absent` are subscribed names known not to exist, reported as removed. A first
    /// response for a type is always sent, empty or not. Returns false when the stream is gone.
    async fn push(
        &mut self,
        snap: &Snapshot,
        type_url: &'static str,
        initial: Option<HashMap<String, String>>,
        absent: Vec<String>,
    ) -> bool {
        let start = Instant::now();
        let short = short_type(type_url);
        let Some(sub) = self.subs.get_mut(type_url) else { return true };
        let Some(st) = self.peer.me.types.get_mut(short) else { return true };
        let target = sub.target(snap, type_url, &self.peer.identity);
        let first = st.sent_nonce.is_none();
        if !first && Arc::ptr_eq(&target, &sub.known) && absent.is_empty() {
            return true;
        }
        let held: Vec<Packed>;
        let known: &[Packed] = match &initial {
            // What the proxy says it holds: unchanged ones count as held, others as stale.
            Some(versions) => {
                held = versions
                    .keys()
                    .map(|n| {
                        let current = target
                            .binary_search_by(|(t, _)| t.as_str().cmp(n))
                            .ok()
                            .map(|i| &target[i].1)
                            .filter(|a| Some(&resource_version(a)) == versions.get(n));
                        // A stand-in that compares unequal to anything but itself.
                        (n.clone(), current.cloned().unwrap_or_default())
                    })
                    .collect::<BTreeMap<_, _>>()
                    .into_iter()
                    .collect();
                &held
            }
            None => &sub.known,
        };
        let mut d = diff(known, &target);
        d.removed.extend(absent);
        d.removed.sort();
        d.removed.dedup();
        if d.changed.is_empty() && d.removed.is_empty() && !first {
            sub.known = target;
            return true;
        }
        let version = snap.revision.to_string();
        // Split into responses of about CHUNK_BYTES of resources; removals go with the last.
        // Each response's copies are made only when it is its turn to be queued: building a
        // whole push up front (a wildcard CDS is ~400 KiB per proxy) left that much freed heap
        // per connecting proxy between allocations connections keep, resident for good.
        let mut rest: &[&Packed] = &d.changed;
        let mut ok = true;
        loop {
            let (now, later) = rest.split_at(chunk_len(rest));
            rest = later;
            let last = rest.is_empty();
            self.nonces += 1;
            let nonce = self.nonces.to_string();
            let resp = DeltaDiscoveryResponse {
                system_version_info: version.clone(),
                resources: now
                    .iter()
                    .map(|(name, any)| Resource {
                        name: name.clone(),
                        version: resource_version(any),
                        resource: Some(Any::clone(any)),
                        ..Default::default()
                    })
                    .collect(),
                type_url: type_url.to_owned(),
                removed_resources: if last { std::mem::take(&mut d.removed) } else { Vec::new() },
                nonce: nonce.clone(),
                ..Default::default()
            };
            sub.in_flight.insert(nonce.clone(), version.clone());
            st.sent_nonce = Some(nonce);
            if self.tx.send(Ok(resp)).await.is_err() {
                ok = false;
                break;
            }
            if last {
                break;
            }
        }
        sub.nacked = false;
        st.sent_version = Some(version);
        st.sent_at = Some(rfc3339(now_ms()));
        st.resources = target.len();
        st.sent = target.clone();
        sub.known = target;
        if let (Some(at), None) = (snap.changed_at, &initial) {
            self.waiting.entry(type_url).or_insert(at);
        }
        self.peer.status.pushed(type_url, start.elapsed());
        self.peer.status.publish_type(&self.peer.me, short);
        ok
    }

    /// Handles one request: an ACK or NACK of a response, and subscription changes, answered
    /// with what they add. `Err(Some(status))` ends the stream with that status.
    async fn request(
        &mut self,
        snap: &Snapshot,
        r: DeltaDiscoveryRequest,
    ) -> Result<(), Option<Status>> {
        let Some(type_url) = known_type(&r.type_url) else {
            return Err(Some(Status::invalid_argument(format!(
                "type {:?} is not served; this server serves {LISTENER}, {ROUTE}, {CLUSTER} \
                 and {ENDPOINT}",
                r.type_url
            ))));
        };
        let short = short_type(type_url);
        let new = !self.subs.contains_key(type_url);
        let sub = self.subs.entry(type_url).or_default();
        let st =
            self.peer.me.types.entry(short.to_owned()).or_insert_with(|| TypeStatus {
                type_url: type_url.to_owned(),
                ..Default::default()
            });
        if !r.response_nonce.is_empty() {
            if let Some(version) = sub.in_flight.remove(&r.response_nonce) {
                match &r.error_detail {
                    Some(e) => {
                        tracing::warn!(node = %self.peer.me.id, type_url, error = %e.message, "xDS NACK");
                        st.last_nack = Some(Nack {
                            version,
                            nonce: r.response_nonce.clone(),
                            message: e.message.clone(),
                            time: rfc3339(now_ms()),
                        });
                        sub.nacked = true;
                        self.peer.status.nacked(type_url);
                    }
                    None if sub.in_flight.is_empty() && !sub.nacked => {
                        st.revision = version.parse().ok();
                        st.acked_version = Some(version);
                        st.acked_at = Some(rfc3339(now_ms()));
                        st.last_nack = None;
                        if let Some(at) = self.waiting.remove(type_url) {
                            self.peer.status.converged(at.elapsed());
                        }
                    }
                    None => {}
                }
            }
        }
        let subscribe: Vec<&String> = r.resource_names_subscribe.iter().collect();
        let was_wildcard = sub.wildcard;
        if new {
            sub.wildcard = subscribe.is_empty() && (type_url == LISTENER || type_url == CLUSTER);
        }
        let mut added = Vec::new();
        for n in subscribe {
            if n == "*" {
                sub.wildcard = true;
            } else if sub.names.insert(n.clone()) {
                added.push(n.clone());
            }
        }
        let mut dropped = BTreeSet::new();
        for n in &r.resource_names_unsubscribe {
            if n == "*" {
                sub.wildcard = false;
            } else if sub.names.remove(n) {
                dropped.insert(n.as_str());
            }
        }
        // The proxy forgets what it unsubscribed from; it must not be told it was removed.
        if !dropped.is_empty() || was_wildcard && !sub.wildcard {
            let keep: Vec<Packed> = sub
                .known
                .iter()
                .filter(|(n, _)| {
                    sub.wildcard || sub.names.contains(n) && !dropped.contains(n.as_str())
                })
                .cloned()
                .collect();
            if keep.len() != sub.known.len() {
                sub.known = Arc::new(keep);
            }
        }
        st.subscribed = sub.names.iter().cloned().collect();
        if sub.wildcard && !st.subscribed.is_empty() {
            st.subscribed.insert(0, "*".into());
        }
        // Subscribed names with nothing behind them: say so at once.
        let absent: Vec<String> = added
            .into_iter()
            .filter(|n| {
                snap.select_for(type_url, std::slice::from_ref(n), &self.peer.identity).is_empty()
            })
            .collect();
        let initial = (new && !r.initial_resource_versions.is_empty())
            .then(|| r.initial_resource_versions.clone());
        if !self.push(snap, type_url, initial, absent).await {
            return Err(None);
        }
        self.peer.status.publish_type(&self.peer.me, short);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str, bytes: &[u8]) -> Packed {
        (name.into(), Arc::new(Any { type_url: CLUSTER.into(), value: bytes.to_vec() }))
    }

    #[test]
    fn diff_sends_changed_and_removes_gone() {
        let a = p("a", b"1");
        let b = p("b", b"2");
        let c = p("c", b"3");
        let known = vec![a.clone(), b.clone(), c.clone()];
        // Same pointers: nothing.
        assert_eq!(diff(&known, &known), Diff::default());
        // Same bytes behind another pointer: nothing either.
        assert_eq!(diff(&known, &[p("a", b"1"), b.clone(), c.clone()]), Diff::default());
        // b changed, c gone, d new.
        let b2 = p("b", b"22");
        let d = p("d", b"4");
        let target = vec![a.clone(), b2.clone(), d.clone()];
        let got = diff(&known, &target);
        assert_eq!(got.changed, vec![&b2, &d]);
        assert_eq!(got.removed, vec!["c".to_string()]);
        // From nothing: everything; to nothing: every name removed.
        assert_eq!(diff(&[], &known).changed.len(), 3);
        assert_eq!(diff(&known, &[]).removed, ["a", "b", "c"]);
    }

    #[test]
    fn chunks_fill_up_to_the_limit_and_take_at_least_one() {
        let half = p("h", &vec![0; CHUNK_BYTES / 2]);
        let big = p("b", &vec![0; CHUNK_BYTES * 2]);
        assert_eq!(chunk_len(&[]), 0);
        assert_eq!(chunk_len(&[&half, &half, &half]), 2);
        assert_eq!(chunk_len(&[&big, &half]), 1);
        assert_eq!(chunk_len(&[&half, &big]), 1);
        assert_eq!(chunk_len(&[&half]), 1);
    }
}
