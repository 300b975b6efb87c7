//! The ADS server: one gRPC stream per proxy carries every type, in either variant of the
//! protocol:
//!
//! - [`sotw`] (state of the world, `StreamAggregatedResources`): each type's subscription is
//!   a set of names (empty = wildcard for LDS and CDS) and every response carries all of them;
//! - [`delta`] (incremental, `DeltaAggregatedResources`): subscriptions change by
//!   subscribe/unsubscribe, responses carry only changed resources (with per-resource versions)
//!   and the names removed, and a reconnecting proxy's `initial_resource_versions` spare it
//!   what it already has.
//!
//! Both push a new registry [`Snapshot`] to a stream only for the types whose subscribed
//! resources changed, ACK/NACK by nonce, publish what they sent and what came back to
//! [`PushStatus`], and auto-register the proxy's workload when its node metadata names a
//! WorkloadGroup ([`super::autoreg`]).

pub mod delta;
pub mod sotw;

use std::collections::{BTreeMap, HashMap};
use std::pin::Pin;
use std::sync::Arc;

use envoy_types::pb::envoy::config::core::v3::Node;
use envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_server::AggregatedDiscoveryService;
use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest, DiscoveryResponse,
};
use envoy_types::pb::google::protobuf::Any;
use futures::Stream;
use parking_lot::Mutex;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tonic::{Request, Response, Status, Streaming};

use super::autoreg::{AutoRegistry, Registered, Registration};
use super::scope::{inbound_port, ProxyIdentity, ScopeIndex, INBOUND_PREFIX};
use super::status::{ProxyStatus, PushStatus};
use envoy_types::pb::envoy::config::endpoint::v3::ClusterLoadAssignment;

use super::xds::{cluster, listener, pack, Resources, CLUSTER, ENDPOINT, LISTENER, ROUTE};
use crate::PilotError;

/// One resource as sent: its name and its packed bytes, shared by every stream that has it.
pub type Packed = (String, Arc<Any>);

/// A Sidecar's key and a type URL.
type ScopedKey = (String, &'static str);

/// What every proxy is served: the xDS resources at one log revision, each packed once.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// The log revision the resources reflect (the xDS `version_info`).
    pub revision: u64,
    /// When this istiod saw the first change the snapshot carries (for the convergence
    /// metric: change → ACK).
    pub changed_at: Option<Instant>,
    /// Per type URL, every resource packed, by name (a type's map shared with the previous
    /// snapshot when nothing in it changed).
    packed: BTreeMap<&'static str, Arc<BTreeMap<String, Arc<Any>>>>,
    /// Per type URL, every resource in name order: what a wildcard subscription gets, shared
    /// by every such stream (and kept from the previous snapshot when nothing in it changed).
    all: BTreeMap<&'static str, Arc<Vec<Packed>>>,
    /// Clusters as gRPC clients get them, where that differs ([`cluster::grpc_variant`]).
    grpc_clusters: Arc<BTreeMap<String, Arc<Any>>>,
    /// Sidecars and workload ports, for what each proxy is sent.
    pub scope: ScopeIndex,
    /// Per (Sidecar, type URL): the wildcard list that Sidecar lets through, built on first use
    /// and shared by every proxy it applies to.
    scoped: Mutex<HashMap<ScopedKey, Arc<Vec<Packed>>>>,
}

impl Snapshot {
    /// A snapshot of `resources` at `revision`. Resources unchanged since `previous` (the
    /// last snapshot and the resources it was made of) keep its packed copy, so streams see
    /// them as the same (a pointer compare), memory holds each distinct resource once, and a
    /// resource whose encoding varies (protobuf maps encode in any order) is not pushed again
    /// when it has not changed.
    pub fn new(
        revision: u64,
        resources: &Resources,
        changed_at: Option<Instant>,
        previous: Option<(&Snapshot, &Resources)>,
    ) -> Self {
        fn pack_all<M: prost::Message + PartialEq>(
            type_url: &'static str,
            all: &BTreeMap<String, M>,
            previous: Option<(&Snapshot, &BTreeMap<String, M>)>,
        ) -> Arc<BTreeMap<String, Arc<Any>>> {
            all.iter()
                .map(|(n, m)| {
                    let fresh = pack(type_url, m);
                    // Same bytes, or (maps encode in any order) the same message: keep the
                    // previous copy. The byte compare settles nearly every case; it is far
                    // cheaper than comparing messages field by field.
                    let reused = previous.and_then(|(snap, msgs)| {
                        let old = snap.packed.get(type_url)?.get(n)?;
                        (old.value == fresh.value || msgs.get(n) == Some(m)).then(|| old.clone())
                    });
                    (n.clone(), reused.unwrap_or_else(|| Arc::new(fresh)))
                })
                .collect::<BTreeMap<_, _>>()
                .into()
        }
        let r = resources;
        let packed = BTreeMap::from([
            (LISTENER, pack_all(LISTENER, &r.listeners, previous.map(|(s, p)| (s, &p.listeners)))),
            (ROUTE, pack_all(ROUTE, &r.routes, previous.map(|(s, p)| (s, &p.routes)))),
            (CLUSTER, pack_all(CLUSTER, &r.clusters, previous.map(|(s, p)| (s, &p.clusters)))),
            (ENDPOINT, pack_all(ENDPOINT, &r.endpoints, previous.map(|(s, p)| (s, &p.endpoints)))),
        ]);
        let previous = previous.map(|(s, _)| s);
        let all = packed
            .iter()
            .map(|(t, by_name)| (*t, Self::list(by_name, previous.and_then(|p| p.all.get(t)))))
            .collect();
        // gRPC's variants: kept from `previous` for clusters it shared (same pointer).
        let grpc_clusters = resources
            .clusters
            .iter()
            .filter_map(|(name, c)| {
                let now = packed.get(CLUSTER)?.get(name)?;
                let kept = previous.and_then(|p| {
                    let before = p.packed.get(CLUSTER)?.get(name)?;
                    Arc::ptr_eq(before, now).then(|| p.grpc_clusters.get(name).cloned())?
                });
                let variant = match kept {
                    Some(v) => v,
                    None => Arc::new(pack(CLUSTER, &cluster::grpc_variant(c)?)),
                };
                Some((name.clone(), variant))
            })
            .collect();
        Snapshot {
            revision,
            changed_at,
            packed,
            all,
            grpc_clusters: Arc::new(grpc_clusters),
            ..Default::default()
        }
    }

    /// Every resource of `by_name` in name order, as `previous` if that is the same list.
    fn list(
        by_name: &BTreeMap<String, Arc<Any>>,
        previous: Option<&Arc<Vec<Packed>>>,
    ) -> Arc<Vec<Packed>> {
        let list: Vec<Packed> = by_name.iter().map(|(n, a)| (n.clone(), a.clone())).collect();
        match previous {
            Some(prev) if same(prev, &list) => prev.clone(),
            _ => Arc::new(list),
        }
    }

    /// This snapshot after an endpoint-only change: the same resources at `revision`, but for
    /// the ClusterLoadAssignments in `changed` (which replace their namesakes). Only those are
    /// packed; every other type is shared with `self`.
    pub fn with_endpoints(
        &self,
        revision: u64,
        changed_at: Option<Instant>,
        changed: &BTreeMap<String, ClusterLoadAssignment>,
    ) -> Self {
        let mut packed = self.packed.clone();
        let mut all = self.all.clone();
        let endpoints = packed.entry(ENDPOINT).or_default();
        let mut any = false;
        for (name, cla) in changed {
            let fresh = pack(ENDPOINT, cla);
            if endpoints.get(name).is_some_and(|old| old.value == fresh.value) {
                continue;
            }
            Arc::make_mut(endpoints).insert(name.clone(), Arc::new(fresh));
            any = true;
        }
        if any {
            all.insert(ENDPOINT, Self::list(endpoints, self.all.get(ENDPOINT)));
        }
        Snapshot {
            revision,
            changed_at,
            packed,
            all,
            grpc_clusters: self.grpc_clusters.clone(),
            ..Default::default()
        }
    }

    /// This snapshot after a change of some hosts' services: the same resources at
    /// `revision`, but for the names `delta` lists (put: taken from `resources`, the result
    /// of the change; removed: dropped). Only those are packed; a put resource whose bytes
    /// did not change keeps its packed copy, and a type nothing changed in is shared with
    /// `self`, so streams push only what changed and the cost follows the change.
    pub fn with_changes(
        &self,
        revision: u64,
        changed_at: Option<Instant>,
        resources: &Resources,
        delta: &crate::xds::incremental::Delta,
    ) -> Self {
        let mut packed = self.packed.clone();
        let mut all = self.all.clone();
        let mut grpc_clusters = self.grpc_clusters.clone();
        let fresh = |type_url: &str, name: &str| -> Option<Any> {
            Some(match type_url {
                LISTENER => pack(LISTENER, resources.listeners.get(name)?),
                ROUTE => pack(ROUTE, resources.routes.get(name)?),
                CLUSTER => pack(CLUSTER, resources.clusters.get(name)?),
                _ => pack(ENDPOINT, resources.endpoints.get(name)?),
            })
        };
        for type_url in [LISTENER, ROUTE, CLUSTER, ENDPOINT] {
            let by_name = packed.entry(type_url).or_default();
            let mut any = false;
            for name in delta.removed.get(type_url).into_iter().flatten() {
                if Arc::make_mut(by_name).remove(name).is_some() {
                    any = true;
                }
                if type_url == CLUSTER {
                    Arc::make_mut(&mut grpc_clusters).remove(name);
                }
            }
            for name in delta.upserted.get(type_url).into_iter().flatten() {
                let Some(new) = fresh(type_url, name) else { continue };
                if by_name.get(name).is_some_and(|old| old.value == new.value) {
                    continue;
                }
                Arc::make_mut(by_name).insert(name.clone(), Arc::new(new));
                any = true;
                if type_url == CLUSTER {
                    let g = Arc::make_mut(&mut grpc_clusters);
                    match resources.clusters.get(name).and_then(cluster::grpc_variant) {
                        Some(v) => g.insert(name.clone(), Arc::new(pack(CLUSTER, &v))),
                        None => g.remove(name),
                    };
                }
            }
            if any {
                all.insert(type_url, Self::list(by_name, self.all.get(type_url)));
            }
        }
        Snapshot { revision, changed_at, packed, all, grpc_clusters, ..Default::default() }
    }

    /// This snapshot with `scope` for scoping proxies.
    pub fn with_scope(mut self, scope: ScopeIndex) -> Self {
        self.scope = scope;
        self
    }

    /// Whether this snapshot carries exactly the resources of `other` (every type's set is
    /// the one `other` had: [`Snapshot::new`] keeps unchanged sets).
    pub fn same_resources(&self, other: &Snapshot) -> bool {
        self.all.len() == other.all.len()
            && self.all.iter().all(|(t, a)| other.all.get(t).is_some_and(|b| Arc::ptr_eq(a, b)))
    }

    /// What the proxy `id` gets for a subscription to `names` of `type_url` (sorted; empty
    /// for a wildcard): for a wildcard, every resource its Sidecar imports (see
    /// [`super::scope`]); for names, those that exist; and for LDS, the inbound listeners it
    /// names (or, on a wildcard, one per port its workload serves) when its workload serves
    /// that port. In name order.
    pub fn select_for(
        &self,
        type_url: &str,
        names: &[String],
        id: &ProxyIdentity,
    ) -> Arc<Vec<Packed>> {
        let Some(type_url) = known_type(type_url) else { return Arc::default() };
        let base = match (names.is_empty(), self.scope.sidecar_for(id)) {
            (true, Some(sidecar)) => {
                let key = (sidecar.key.clone(), type_url);
                let mut scoped = self.scoped.lock();
                scoped
                    .entry(key)
                    .or_insert_with(|| {
                        let all = self.select(type_url, &[]);
                        Arc::new(
                            all.iter()
                                .filter(|(n, _)| self.scope.visible(sidecar, n))
                                .cloned()
                                .collect(),
                        )
                    })
                    .clone()
            }
            _ => self.select(type_url, names),
        };
        if type_url == CLUSTER && id.grpc && !self.grpc_clusters.is_empty() {
            let swapped = base.iter().any(|(n, _)| self.grpc_clusters.contains_key(n));
            if !swapped {
                return base;
            }
            return Arc::new(
                base.iter()
                    .map(|(n, a)| (n.clone(), self.grpc_clusters.get(n).unwrap_or(a).clone()))
                    .collect(),
            );
        }
        if type_url != LISTENER {
            return base;
        }
        let Some(ip) = &id.ip else { return base };
        let inbound: Vec<String> = if names.is_empty() {
            self.scope
                .ports_of(ip)
                .into_iter()
                .flatten()
                .map(|p| format!("{INBOUND_PREFIX}0.0.0.0:{p}"))
                .collect()
        } else {
            names.iter().filter(|n| n.starts_with(INBOUND_PREFIX)).cloned().collect()
        };
        let mut extra: Vec<Packed> = inbound
            .into_iter()
            .filter_map(|n| {
                let (host, port) = inbound_port(&n)?;
                self.scope.serves(ip, port).then(|| {
                    let l = listener::inbound_listener(&n, host, port);
                    (n.clone(), Arc::new(pack(LISTENER, &l)))
                })
            })
            .collect();
        if extra.is_empty() {
            return base;
        }
        extra.extend(base.iter().cloned());
        extra.sort_by(|a, b| a.0.cmp(&b.0));
        Arc::new(extra)
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
pub(crate) fn same(a: &[Packed], b: &[Packed]) -> bool {
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
    autoreg: Option<Arc<AutoRegistry>>,
}

impl Ads {
    /// A service serving what `snapshots` publishes.
    pub fn new(snapshots: watch::Receiver<Arc<Snapshot>>, status: Arc<PushStatus>) -> Self {
        Ads { snapshots, status, autoreg: None }
    }

    /// Registers the workloads of proxies whose node metadata names a WorkloadGroup.
    pub fn with_autoregistration(mut self, registry: Arc<AutoRegistry>) -> Self {
        self.autoreg = Some(registry);
        self
    }
}

type ResponseStream = Pin<Box<dyn Stream<Item = Result<DiscoveryResponse, Status>> + Send>>;
type DeltaStream = Pin<Box<dyn Stream<Item = Result<DeltaDiscoveryResponse, Status>> + Send>>;

/// The type URL as one of ours (`None` for a type this server does not serve).
pub fn known_type(type_url: &str) -> Option<&'static str> {
    [LISTENER, ROUTE, CLUSTER, ENDPOINT].into_iter().find(|t| *t == type_url)
}

/// A resource's version for delta xDS: a hash of its encoding, so every member gives the same
/// resource the same version and a proxy that moves to another member is not sent it again.
pub fn resource_version(a: &Any) -> String {
    use std::hash::Hasher;
    let mut h = fxhash::FxHasher64::default();
    h.write(&a.value);
    format!("{:016x}", h.finish())
}

/// What every stream keeps about its proxy: the status it publishes, who the proxy is, and its
/// auto-registered workload (unregistered when the stream ends). Dropping it takes the proxy
/// out of [`PushStatus`].
pub(crate) struct Peer {
    pub(crate) status: Arc<PushStatus>,
    pub(crate) me: ProxyStatus,
    /// Namespace, labels, address: scopes what the proxy is sent.
    pub(crate) identity: ProxyIdentity,
    registered: Option<Registered>,
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.status.disconnect(self.me.connection);
    }
}

impl Peer {
    /// A new stream from `addr`, speaking `protocol`.
    fn connect(ads: &Ads, addr: String, protocol: &'static str) -> Self {
        Peer {
            status: ads.status.clone(),
            me: ads.status.connect(addr, protocol),
            identity: ProxyIdentity::default(),
            registered: None,
        }
    }

    /// On the first request that names the node: the proxy's status identity, its scope, and
    /// its workload registration when its metadata asks for one. An error ends the stream.
    async fn identify(
        &mut self,
        node: Option<&Node>,
        autoreg: Option<&Arc<AutoRegistry>>,
    ) -> Result<(), Status> {
        let Some(node) = node.filter(|_| self.me.id.is_empty()) else { return Ok(()) };
        self.identity = ProxyIdentity::from_node(node);
        self.me.id = node.id.clone();
        self.me.cluster = node.cluster.clone();
        self.me.version = user_agent(node);
        let Some(registry) = autoreg else { return Ok(()) };
        let reg =
            Registration::from_node(node).map_err(|e| Status::invalid_argument(e.to_string()))?;
        let Some(reg) = reg else { return Ok(()) };
        self.me.workload_entry = Some(format!("{}/{}", reg.namespace, reg.entry_name()));
        let registered = registry.register(reg).await.map_err(|e| match e {
            PilotError::AutoRegistration { .. } => Status::failed_precondition(e.to_string()),
            e => Status::unavailable(e.to_string()),
        })?;
        self.registered = Some(registered);
        Ok(())
    }
}

/// One ADS protocol variant's stream, as the shared loop ([`run`]) drives it.
trait Protocol: Send {
    /// What the proxy sends.
    type Request: Send + 'static;
    /// What the stream answers.
    type Response: Send + 'static;
    /// The proxy's status, identity and registration.
    fn peer(&mut self) -> &mut Peer;
    /// Where responses (and the status that ends the stream) go.
    fn tx(&self) -> &mpsc::Sender<Result<Self::Response, Status>>;
    /// The node a request names, if any.
    fn node(r: &Self::Request) -> Option<&Node>;
    /// Handles one request; `Err(Some(status))` ends the stream with it, `Err(None)` quietly.
    fn handle(
        &mut self,
        snap: &Snapshot,
        r: Self::Request,
    ) -> impl std::future::Future<Output = Result<(), Option<Status>>> + Send;
    /// Pushes what `snap` changed for `type_url`; false when the stream is gone.
    fn push_type(
        &mut self,
        snap: &Snapshot,
        type_url: &'static str,
    ) -> impl std::future::Future<Output = bool> + Send;
}

/// Serves one stream until the proxy or this istiod ends it: requests are answered against
/// the latest snapshot (the first one that names the node also identifies the proxy), and a
/// new snapshot is pushed type by type in ADS order (clusters before endpoints, listeners
/// before routes).
async fn run<S: Protocol>(mut s: S, ads: Ads, mut inbound: Streaming<S::Request>) {
    let mut snapshots = ads.snapshots.clone();
    loop {
        tokio::select! {
            req = inbound.message() => match req {
                Ok(Some(r)) => {
                    let ended = match s.peer().identify(S::node(&r), ads.autoreg.as_ref()).await {
                        Err(e) => Err(Some(e)),
                        Ok(()) => {
                            let snap = snapshots.borrow_and_update().clone();
                            s.handle(&snap, r).await
                        }
                    };
                    if let Err(e) = ended {
                        if let Some(e) = e {
                            let _ = s.tx().send(Err(e)).await;
                        }
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
                for t in [CLUSTER, ENDPOINT, LISTENER, ROUTE] {
                    if !s.push_type(&snap, t).await {
                        return;
                    }
                }
            }
        }
    }
}

/// `name version` of the client, from its node.
fn user_agent(n: &Node) -> String {
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
        let (tx, rx) = mpsc::channel(16);
        let stream = sotw::Session::new(Peer::connect(self, peer, "sotw"), tx);
        tokio::spawn(run(stream, self.clone(), request.into_inner()));
        Ok(Response::new(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))))
    }

    async fn delta_aggregated_resources(
        &self,
        request: Request<Streaming<DeltaDiscoveryRequest>>,
    ) -> Result<Response<Self::DeltaAggregatedResourcesStream>, Status> {
        let peer = request.remote_addr().map(|a| a.to_string()).unwrap_or_default();
        let (tx, rx) = mpsc::channel(1);
        let stream = delta::Session::new(Peer::connect(self, peer, "delta"), tx);
        tokio::spawn(run(stream, self.clone(), request.into_inner()));
        Ok(Response::new(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))))
    }
}
