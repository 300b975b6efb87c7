//! The ADS server (state of the world): one stream per proxy carries every type; each type's
//! subscription is tracked by resource names (empty = wildcard for LDS and CDS), every
//! response gets a fresh nonce, and the proxy's next request for that type ACKs (version,
//! nonce) or NACKs (`error_detail`) it. A new registry snapshot is pushed to a stream only for
//! the types whose subscribed resources changed. Delta xDS comes next (issue 6).

use std::collections::{BTreeMap, BTreeSet};
use std::pin::Pin;
use std::sync::Arc;

use envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_server::AggregatedDiscoveryService;
use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest, DiscoveryResponse,
};
use envoy_types::pb::google::protobuf::Any;
use futures::Stream;
use tokio::sync::{mpsc, watch};
use tonic::{Request, Response, Status, Streaming};

use super::xds::{pack, Resources, CLUSTER, ENDPOINT, LISTENER, ROUTE};

/// What every proxy is served: the xDS resources at one log revision.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// The log revision the resources reflect (the xDS `version_info`).
    pub revision: u64,
    /// The resources.
    pub resources: Resources,
}

impl Snapshot {
    /// The resources of `type_url` named in `names` (every one for an empty list), packed, in
    /// name order.
    pub fn select(&self, type_url: &str, names: &BTreeSet<String>) -> Vec<(String, Any)> {
        fn pick<M: prost::Message>(
            type_url: &str,
            all: &BTreeMap<String, M>,
            names: &BTreeSet<String>,
        ) -> Vec<(String, Any)> {
            all.iter()
                .filter(|(n, _)| names.is_empty() || names.contains(*n))
                .map(|(n, m)| (n.clone(), pack(type_url, m)))
                .collect()
        }
        let r = &self.resources;
        match type_url {
            LISTENER => pick(type_url, &r.listeners, names),
            ROUTE => pick(type_url, &r.routes, names),
            CLUSTER => pick(type_url, &r.clusters, names),
            ENDPOINT => pick(type_url, &r.endpoints, names),
            _ => Vec::new(),
        }
    }
}

/// The ADS service: serves the latest [`Snapshot`] from `snapshots`.
#[derive(Clone, Debug)]
pub struct Ads {
    snapshots: watch::Receiver<Arc<Snapshot>>,
}

impl Ads {
    /// A service serving what `snapshots` publishes.
    pub fn new(snapshots: watch::Receiver<Arc<Snapshot>>) -> Self {
        Ads { snapshots }
    }
}

/// One type's state on one stream.
#[derive(Debug, Default)]
struct TypeState {
    names: BTreeSet<String>,
    nonce: String,
    sent: Vec<(String, Any)>,
    sent_version: String,
    acked_version: String,
    last_nack: Option<String>,
}

type ResponseStream = Pin<Box<dyn Stream<Item = Result<DiscoveryResponse, Status>> + Send>>;
type DeltaStream = Pin<Box<dyn Stream<Item = Result<DeltaDiscoveryResponse, Status>> + Send>>;

struct Session {
    types: BTreeMap<String, TypeState>,
    nonces: u64,
    tx: mpsc::Sender<Result<DiscoveryResponse, Status>>,
    node: String,
}

impl Session {
    /// Sends `type_url`'s subscribed resources if they differ from what was last sent (or
    /// `force`). Returns false when the stream is gone.
    async fn push(&mut self, snap: &Snapshot, type_url: &str, force: bool) -> bool {
        let Some(st) = self.types.get_mut(type_url) else { return true };
        let resources = snap.select(type_url, &st.names);
        if !force && resources == st.sent {
            return true;
        }
        self.nonces += 1;
        st.nonce = self.nonces.to_string();
        st.sent_version = snap.revision.to_string();
        st.sent = resources;
        let resp = DiscoveryResponse {
            version_info: st.sent_version.clone(),
            resources: st.sent.iter().map(|(_, a)| a.clone()).collect(),
            type_url: type_url.to_owned(),
            nonce: st.nonce.clone(),
            ..Default::default()
        };
        self.tx.send(Ok(resp)).await.is_ok()
    }

    /// Handles one request: records an ACK or NACK of the last response, updates the
    /// subscription, and answers a new or changed subscription.
    async fn request(&mut self, snap: &Snapshot, r: DiscoveryRequest) -> bool {
        if let Some(n) = &r.node {
            if self.node.is_empty() {
                self.node = n.id.clone();
            }
        }
        let names: BTreeSet<String> =
            r.resource_names.iter().filter(|n| n.as_str() != "*").cloned().collect();
        let st = self.types.entry(r.type_url.clone()).or_default();
        let first = st.nonce.is_empty() && r.response_nonce.is_empty();
        if !r.response_nonce.is_empty() {
            if r.response_nonce != st.nonce {
                // A reply to a response that has since been superseded: ignore it.
                return true;
            }
            match &r.error_detail {
                Some(e) => {
                    tracing::warn!(node = %self.node, type_url = %r.type_url, error = %e.message, "xDS NACK");
                    st.last_nack = Some(e.message.clone());
                }
                None => {
                    st.acked_version = r.version_info.clone();
                    st.last_nack = None;
                }
            }
        }
        let changed = names != st.names;
        st.names = names;
        if first || changed {
            return self.push(snap, &r.type_url, true).await;
        }
        true
    }
}

#[tonic::async_trait]
impl AggregatedDiscoveryService for Ads {
    type StreamAggregatedResourcesStream = ResponseStream;
    type DeltaAggregatedResourcesStream = DeltaStream;

    async fn stream_aggregated_resources(
        &self,
        request: Request<Streaming<DiscoveryRequest>>,
    ) -> Result<Response<Self::StreamAggregatedResourcesStream>, Status> {
        let mut inbound = request.into_inner();
        let (tx, rx) = mpsc::channel(16);
        let mut snapshots = self.snapshots.clone();
        tokio::spawn(async move {
            let mut s = Session { types: BTreeMap::new(), nonces: 0, tx, node: String::new() };
            loop {
                tokio::select! {
                    req = inbound.message() => match req {
                        Ok(Some(r)) => {
                            let snap = snapshots.borrow_and_update().clone();
                            if !s.request(&snap, r).await {
                                return;
                            }
                        }
                        Ok(None) | Err(_) => return,
                    },
                    changed = snapshots.changed() => {
                        if changed.is_err() {
                            return;
                        }
                        let snap = snapshots.borrow_and_update().clone();
                        // Clusters before endpoints, listeners before routes (ADS ordering).
                        for t in [CLUSTER, ENDPOINT, LISTENER, ROUTE] {
                            if !s.push(&snap, t, false).await {
                                return;
                            }
                        }
                    }
                }
            }
        });
        let out = tokio_stream::wrappers::ReceiverStream::new(rx);
        Ok(Response::new(Box::pin(out)))
    }

    async fn delta_aggregated_resources(
        &self,
        _request: Request<Streaming<DeltaDiscoveryRequest>>,
    ) -> Result<Response<Self::DeltaAggregatedResourcesStream>, Status> {
        Err(Status::unimplemented("delta xDS is not served yet; use state-of-the-world ADS"))
    }
}
