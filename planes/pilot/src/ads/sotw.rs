//! State-of-the-world ADS streams: per type, a set of subscribed names (empty = wildcard for
//! LDS and CDS); every response carries the whole subscribed set with a fresh nonce, and the
//! proxy's next request for that type ACKs (version, nonce) or NACKs (`error_detail`) it.

use std::collections::BTreeMap;

use envoy_types::pb::envoy::config::core::v3::Node;
use envoy_types::pb::envoy::service::discovery::v3::{DiscoveryRequest, DiscoveryResponse};
use envoy_types::pb::google::protobuf::Any;
use istio_store::clock::now_ms;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tonic::Status;

use super::{same, Peer, Protocol, Snapshot};
use crate::status::{rfc3339, short_type, Nack, TypeStatus};

type Tx = mpsc::Sender<Result<DiscoveryResponse, Status>>;

/// One stream: its published state, and the changes it pushed that await an ACK.
pub(super) struct Session {
    peer: Peer,
    nonces: u64,
    tx: Tx,
    /// Per type URL: when this istiod saw the earliest change pushed and not yet ACKed.
    waiting: BTreeMap<String, Instant>,
}

impl Session {
    /// A stream for `peer`, answering on `tx`.
    pub(super) fn new(peer: Peer, tx: Tx) -> Self {
        Session { peer, nonces: 0, tx, waiting: BTreeMap::new() }
    }
}

impl Protocol for Session {
    type Request = DiscoveryRequest;
    type Response = DiscoveryResponse;

    fn peer(&mut self) -> &mut Peer {
        &mut self.peer
    }

    fn tx(&self) -> &Tx {
        &self.tx
    }

    fn node(r: &DiscoveryRequest) -> Option<&Node> {
        r.node.as_ref()
    }

    async fn handle(&mut self, snap: &Snapshot, r: DiscoveryRequest) -> Result<(), Option<Status>> {
        if self.request(snap, r).await {
            Ok(())
        } else {
            Err(None)
        }
    }

    async fn push_type(&mut self, snap: &Snapshot, type_url: &'static str) -> bool {
        self.push(snap, type_url, false).await
    }
}

impl Session {
    /// Sends `type_url`'s subscribed resources if they differ from what was last sent (or
    /// `force`). Returns false when the stream is gone.
    async fn push(&mut self, snap: &Snapshot, type_url: &str, force: bool) -> bool {
        let start = Instant::now();
        let Some(st) = self.peer.me.types.get_mut(short_type(type_url)) else { return true };
        let resources = snap.select_for(type_url, &st.subscribed, &self.peer.identity);
        if !force && same(&resources, &st.sent) {
            return true;
        }
        self.nonces += 1;
        let nonce = self.nonces.to_string();
        let version = snap.revision.to_string();
        let resp = DiscoveryResponse {
            version_info: version.clone(),
            resources: resources.iter().map(|(_, a)| Any::clone(a)).collect(),
            type_url: type_url.to_owned(),
            nonce: nonce.clone(),
            ..Default::default()
        };
        st.sent_nonce = Some(nonce);
        st.sent_version = Some(version);
        st.sent_at = Some(rfc3339(now_ms()));
        st.resources = resources.len();
        st.sent = resources;
        if let (Some(at), false) = (snap.changed_at, force) {
            self.waiting.entry(type_url.to_owned()).or_insert(at);
        }
        let ok = self.tx.send(Ok(resp)).await.is_ok();
        self.peer.status.pushed(type_url, start.elapsed());
        self.peer.status.publish_type(&self.peer.me, short_type(type_url));
        ok
    }

    /// Handles one request: records an ACK or NACK of the last response, updates the
    /// subscription, and answers a new or changed subscription.
    async fn request(&mut self, snap: &Snapshot, r: DiscoveryRequest) -> bool {
        let mut names: Vec<String> =
            r.resource_names.iter().filter(|n| n.as_str() != "*").cloned().collect();
        names.sort();
        names.dedup();
        let st =
            self.peer.me.types.entry(short_type(&r.type_url).to_owned()).or_insert_with(|| {
                TypeStatus { type_url: r.type_url.clone(), ..Default::default() }
            });
        let first = st.sent_nonce.is_none() && r.response_nonce.is_empty();
        if !r.response_nonce.is_empty() {
            if Some(&r.response_nonce) != st.sent_nonce.as_ref() {
                // A reply to a response that has since been superseded: ignore it.
                return true;
            }
            match &r.error_detail {
                Some(e) => {
                    tracing::warn!(node = %self.peer.me.id, type_url = %r.type_url, error = %e.message, "xDS NACK");
                    st.last_nack = Some(Nack {
                        version: st.sent_version.clone().unwrap_or_default(),
                        nonce: r.response_nonce.clone(),
                        message: e.message.clone(),
                        time: rfc3339(now_ms()),
                    });
                    self.peer.status.nacked(&r.type_url);
                }
                None => {
                    st.revision = r.version_info.parse().ok();
                    st.acked_version = Some(r.version_info.clone());
                    st.acked_at = Some(rfc3339(now_ms()));
                    st.last_nack = None;
                    if let Some(at) = self.waiting.remove(&r.type_url) {
                        self.peer.status.converged(at.elapsed());
                    }
                }
            }
        }
        let changed = names != st.subscribed;
        st.subscribed = names;
        if first || changed {
            return self.push(snap, &r.type_url, true).await;
        }
        self.peer.status.publish_type(&self.peer.me, short_type(&r.type_url));
        true
    }
}
