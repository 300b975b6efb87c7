//! The ADS server (state of the world): one stream per proxy carries every type; each type's
//! subscription is tracked by resource names (empty = wildcard for LDS and CDS), every
//! response gets a fresh nonce, and the proxy's next request for that type ACKs (version,
//! nonce) or NACKs (`error_detail`) it. A new registry snapshot is pushed to a stream only for
//! the types whose subscribed resources changed. Every stream publishes what it sent and what
//! came back to [`PushStatus`]. Delta xDS comes next (issue 6).

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_server::AggregatedDiscoveryService;
use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest, DiscoveryResponse,
};
use envoy_types::pb::google::protobuf::Any;
use futures::Stream;
use tokio::sync::{mpsc, watch};
use tonic::{Request, Response, Status, Streaming};

use super::status::{now_ms, rfc3339, short_type, Nack, ProxyStatus, PushStatus, TypeStatus};
use super::xds::{pack, Resources, CLUSTER, ENDPOINT, LISTENER, ROUTE};

/// One resource as sent: its name and its packed bytes, shared by every stream that has it.
pub type Packed = (String, Arc<Any>);

/// What every proxy is served: the xDS resources at one log revision, each packed once.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// The log revision the resources reflect (the xDS `version_info`).
    pub revision: u64,
    /// The resources.
    pub resources: Resources,
    /// When this istiod saw the first change the snapshot carries (for the convergence
    /// metric: change → ACK).
    pub changed_at: Option<Instant>,
    /// Per type URL, every resource packed, by name.
    packed: BTreeMap<&'static str, BTreeMap<String, Arc<Any>>>,
    /// Per type URL, every resource in name order: what a wildcard subscription gets, shared
    /// by every such stream (and kept from the previous snapshot when nothing in it changed).
    all: BTreeMap<&'static str, Arc<Vec<Packed>>>,
}

impl Snapshot {
    /// A snapshot of `resources` at `revision`. Resources unchanged since `previous` keep its
    /// packed copy, so streams see them as the same (a pointer compare), memory holds each
    /// distinct resource once, and a resource whose encoding varies (protobuf maps encode in
    /// any order) is not pushed again when it has not changed.
    pub fn new(
        revision: u64,
        resources: Resources,
        changed_at: Option<Instant>,
        previous: Option<&Snapshot>,
    ) -> Self {
        fn pack_all<M: prost::Message + PartialEq>(
            type_url: &'static str,
            all: &BTreeMap<String, M>,
            previous: Option<(&BTreeMap<String, M>, &Snapshot)>,
        ) -> BTreeMap<String, Arc<Any>> {
            all.iter()
                .map(|(n, m)| {
                    let reused = previous.and_then(|(msgs, snap)| {
                        (msgs.get(n) == Some(m)).then(|| snap.packed.get(type_url)?.get(n).cloned())
                    });
                    let shared = reused.flatten().unwrap_or_else(|| Arc::new(pack(type_url, m)));
                    (n.clone(), shared)
                })
                .collect()
        }
        let r = &resources;
        let packed = BTreeMap::from([
            (
                LISTENER,
                pack_all(LISTENER, &r.listeners, previous.map(|s| (&s.resources.listeners, s))),
            ),
            (ROUTE, pack_all(ROUTE, &r.routes, previous.map(|s| (&s.resources.routes, s)))),
            (CLUSTER, pack_all(CLUSTER, &r.clusters, previous.map(|s| (&s.resources.clusters, s)))),
            (
                ENDPOINT,
                pack_all(ENDPOINT, &r.endpoints, previous.map(|s| (&s.resources.endpoints, s))),
            ),
        ]);
        let all = packed
            .iter()
            .map(|(t, by_name)| {
                let list: Vec<Packed> =
                    by_name.iter().map(|(n, a)| (n.clone(), a.clone())).collect();
                let shared = match previous.and_then(|p| p.all.get(t)) {
                    Some(prev) if same(prev, &list) => prev.clone(),
                    _ => Arc::new(list),
                };
                (*t, shared)
            })
            .collect();
        Snapshot { revision, resources, changed_at, packed, all }
    }

    /// Whether this snapshot carries exactly the resources of `other` (every type's set is
    /// the one `other` had: [`Snapshot::new`] keeps unchanged sets).
    pub fn same_resources(&self, other: &Snapshot) -> bool {
        self.all.len() == other.all.len()
            && self.all.iter().all(|(t, a)| other.all.get(t).is_some_and(|b| Arc::ptr_eq(a, b)))
    }

    /// The resources of `type_url` named in `names` (sorted; every one for an empty list),
    /// in name order.
    pub fn select(&self, type_url: &str, names: &[String]) -> Arc<Vec<Packed>> {
        if names.is_empty() {
            return self.all.get(type_url).cloned().unwrap_or_default();
        }
        let Some(all) = self.packed.get(type_url) else { return Arc::default() };
        Arc::new(names.iter().filter_map(|n| all.get(n).map(|a| (n.clone(), a.clone()))).collect())
    }
}

/// Whether two selections carry the same resources (by pointer first, then by bytes).
fn same(a: &[Packed], b: &[Packed]) -> bool {
    std::ptr::eq(a, b)
        || a.len() == b.len()
            && a.iter().zip(b).all(|((na, x), (nb, y))| na == nb && (Arc::ptr_eq(x, y) || x == y))
}

/// The ADS service: serves the latest [`Snapshot`] from `snapshots`, recording every
/// stream in `status`.
#[derive(Clone, Debug)]
pub struct Ads {
    snapshots: watch::Receiver<Arc<Snapshot>>,
    status: Arc<PushStatus>,
}

impl Ads {
    /// A service serving what `snapshots` publishes.
    pub fn new(snapshots: watch::Receiver<Arc<Snapshot>>, status: Arc<PushStatus>) -> Self {
        Ads { snapshots, status }
    }
}

type ResponseStream = Pin<Box<dyn Stream<Item = Result<DiscoveryResponse, Status>> + Send>>;
type DeltaStream = Pin<Box<dyn Stream<Item = Result<DeltaDiscoveryResponse, Status>> + Send>>;

/// One stream: its published state, and the changes it pushed that await an ACK.
struct Session {
    status: Arc<PushStatus>,
    me: ProxyStatus,
    nonces: u64,
    tx: mpsc::Sender<Result<DiscoveryResponse, Status>>,
    /// Per type URL: when this istiod saw the earliest change pushed and not yet ACKed.
    waiting: BTreeMap<String, Instant>,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.status.disconnect(self.me.connection);
    }
}

impl Session {
    /// Sends `type_url`'s subscribed resources if they differ from what was last sent (or
    /// `force`). Returns false when the stream is gone.
    async fn push(&mut self, snap: &Snapshot, type_url: &str, force: bool) -> bool {
        let start = Instant::now();
        let Some(st) = self.me.types.get_mut(short_type(type_url)) else { return true };
        let resources = snap.select(type_url, &st.subscribed);
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
        self.status.pushed(type_url, start.elapsed());
        self.status.publish_type(&self.me, short_type(type_url));
        ok
    }

    /// Handles one request: records an ACK or NACK of the last response, updates the
    /// subscription, and answers a new or changed subscription.
    async fn request(&mut self, snap: &Snapshot, r: DiscoveryRequest) -> bool {
        if let (Some(n), true) = (&r.node, self.me.id.is_empty()) {
            self.me.id = n.id.clone();
            self.me.cluster = n.cluster.clone();
            self.me.version = user_agent(n);
        }
        let mut names: Vec<String> =
            r.resource_names.iter().filter(|n| n.as_str() != "*").cloned().collect();
        names.sort();
        names.dedup();
        let st = self
            .me
            .types
            .entry(short_type(&r.type_url).to_owned())
            .or_insert_with(|| TypeStatus { type_url: r.type_url.clone(), ..Default::default() });
        let first = st.sent_nonce.is_none() && r.response_nonce.is_empty();
        if !r.response_nonce.is_empty() {
            if Some(&r.response_nonce) != st.sent_nonce.as_ref() {
                // A reply to a response that has since been superseded: ignore it.
                return true;
            }
            match &r.error_detail {
                Some(e) => {
                    tracing::warn!(node = %self.me.id, type_url = %r.type_url, error = %e.message, "xDS NACK");
                    st.last_nack = Some(Nack {
                        version: st.sent_version.clone().unwrap_or_default(),
                        nonce: r.response_nonce.clone(),
                        message: e.message.clone(),
                        time: rfc3339(now_ms()),
                    });
                    self.status.nacked(&r.type_url);
                }
                None => {
                    st.revision = r.version_info.parse().ok();
                    st.acked_version = Some(r.version_info.clone());
                    st.acked_at = Some(rfc3339(now_ms()));
                    st.last_nack = None;
                    if let Some(at) = self.waiting.remove(&r.type_url) {
                        self.status.converged(at.elapsed());
                    }
                }
            }
        }
        let changed = names != st.subscribed;
        st.subscribed = names;
        if first || changed {
            return self.push(snap, &r.type_url, true).await;
        }
        self.status.publish_type(&self.me, short_type(&r.type_url));
        true
    }
}

/// `name version` of the client, from its node.
fn user_agent(n: &envoy_types::pb::envoy::config::core::v3::Node) -> String {
    use envoy_types::pb::envoy::config::core::v3::node::UserAgentVersionType;
    let v = match &n.user_agent_version_type {
        Some(UserAgentVersionType::UserAgentVersion(v)) => v.clone(),
        Some(UserAgentVersionType::UserAgentBuildVersion(b)) => {
            b.version.as_ref().map_or(String::new(), |v| {
                format!("{}.{}.{}", v.major_number, v.minor_number, v.patch)
            })
        }
        None => String::new(),
    };
    format!("{} {v}", n.user_agent_name).trim().to_owned()
}

#[tonic::async_trait]
impl AggregatedDiscoveryService for Ads {
    type StreamAggregatedResourcesStream = ResponseStream;
    type DeltaAggregatedResourcesStream = DeltaStream;

    async fn stream_aggregated_resources(
        &self,
        request: Request<Streaming<DiscoveryRequest>>,
    ) -> Result<Response<Self::StreamAggregatedResourcesStream>, Status> {
        let peer = request.remote_addr().map(|a| a.to_string()).unwrap_or_default();
        let mut inbound = request.into_inner();
        let (tx, rx) = mpsc::channel(16);
        let mut snapshots = self.snapshots.clone();
        let status = self.status.clone();
        tokio::spawn(async move {
            let me = status.connect(peer);
            let mut s = Session { status, me, nonces: 0, tx, waiting: BTreeMap::new() };
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
