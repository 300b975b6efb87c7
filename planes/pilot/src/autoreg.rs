//! WorkloadGroup auto-registration, with Istio's semantics.
//!
//! A proxy that connects with node metadata `AUTO_REGISTER_GROUP` (and `NAMESPACE`,
//! `INSTANCE_IPS`, optionally `LABELS` and `NETWORK`) gets a WorkloadEntry committed to the
//! log, built from its WorkloadGroup's template and named `<group>-<ip>[-<network>]`. The entry
//! records which istiod controls it and when the proxy connected (`istio.io/workloadController`,
//! `istio.io/connectedAt`); its labels are the proxy's `LABELS` over the group's metadata
//! labels over the template's; its health follows a `Healthy` condition (health checks enabled), so
//! it takes traffic while connected. When the stream ends, the controlling istiod marks the entry
//! disconnected (`istio.io/disconnectedAt`, `Healthy` = `False`); a reconnection within the grace
//! period (to this or any other member) takes it over again; otherwise the leader deletes it
//! once the grace period has passed.
//!
//! Every change is a compare-and-set txn on the entry's `mod_revision`, so a reconnection on
//! another member always wins over a late disconnect or clean-up here. A periodic sweep also
//! marks disconnected the entries this member controls but has no stream for (after a restart).
//!
//! The registry reaches the log through [`EntryStore`] (a [`StoreNode`] in istiod; the unit
//! tests put a state machine behind it, without Raft). Its timestamps and the grace period
//! read the store's wall clock ([`EntryStore::now`]), the sweep runs on tokio's clock: a test
//! under paused time whose store's wall clock follows tokio's drives both.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use envoy_types::pb::envoy::config::core::v3::Node;
use envoy_types::pb::google::protobuf::value::Kind;
use istio_store::{
    Command, CommandOp, Consistency, KeyPrefix, NodeId, Op, Precondition, Resource, ResourceKey,
    Response, StoreError, StoreNode, Txn, TxnOutcome,
};
use parking_lot::Mutex;
use serde_json::{json, Map, Value};

use super::registry::HEALTH_CHECKS_ENABLED;
use istio_planes_config as config;

use crate::PilotError;

/// The WorkloadGroup an entry was registered from.
pub const GROUP_ANNOTATION: &str = "istio.io/autoRegistrationGroup";
/// The istiod that holds the entry's proxy connection.
pub const CONTROLLER_ANNOTATION: &str = "istio.io/workloadController";
/// When the proxy connected (RFC 3339, nanoseconds): identifies the connection.
pub const CONNECTED_AT_ANNOTATION: &str = "istio.io/connectedAt";
/// When the proxy disconnected; the entry is deleted a grace period later.
pub const DISCONNECTED_AT_ANNOTATION: &str = "istio.io/disconnectedAt";

const GROUP: &str = "networking.istio.io";
const ENTRIES: &str = "workloadentries";
const GROUPS: &str = "workloadgroups";
/// Attempts of one compare-and-set change before giving up.
const ATTEMPTS: usize = 5;

/// What a connecting proxy asks for, from its node metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registration {
    /// The proxy's node id.
    pub proxy: String,
    /// WorkloadGroup name (`AUTO_REGISTER_GROUP`).
    pub group: String,
    /// Its namespace (`NAMESPACE`).
    pub namespace: String,
    /// The proxy's address (first of `INSTANCE_IPS`, else the IP in a `sidecar~IP~…` node id).
    pub ip: String,
    /// `NETWORK`, if any.
    pub network: String,
    /// `LABELS`: added to the template's labels.
    pub labels: BTreeMap<String, String>,
}

impl Registration {
    /// The registration `node` asks for: `None` when its metadata names no group; an error
    /// naming the field when the group is named but the rest is unusable.
    pub fn from_node(node: &Node) -> Result<Option<Self>, PilotError> {
        let Some(meta) = &node.metadata else { return Ok(None) };
        let text = |k: &str| match meta.fields.get(k).and_then(|v| v.kind.as_ref()) {
            Some(Kind::StringValue(s)) => s.trim().to_owned(),
            _ => String::new(),
        };
        let group = text("AUTO_REGISTER_GROUP");
        if group.is_empty() {
            return Ok(None);
        }
        let fail =
            |m: String| Err(PilotError::AutoRegistration { proxy: node.id.clone(), message: m });
        let namespace = text("NAMESPACE");
        if namespace.is_empty() {
            return fail("node metadata names AUTO_REGISTER_GROUP but not NAMESPACE".into());
        }
        let ip = text("INSTANCE_IPS")
            .split(',')
            .map(str::trim)
            .find(|s| !s.is_empty())
            .map(str::to_owned)
            .or_else(|| {
                let mut parts = node.id.split('~');
                parts.next().zip(parts.next()).map(|(_, ip)| ip.to_owned())
            })
            .unwrap_or_default();
        if ip.parse::<std::net::IpAddr>().is_err() {
            return fail(format!(
                "no usable address: node metadata INSTANCE_IPS is {:?} and the node id {:?} \
                 is not of the form sidecar~IP~NAME~DOMAIN",
                text("INSTANCE_IPS"),
                node.id
            ));
        }
        let mut labels = BTreeMap::new();
        match meta.fields.get("LABELS").and_then(|v| v.kind.as_ref()) {
            None | Some(Kind::NullValue(_)) => {}
            Some(Kind::StructValue(s)) => {
                for (k, v) in &s.fields {
                    match &v.kind {
                        Some(Kind::StringValue(v)) => {
                            labels.insert(k.clone(), v.clone());
                        }
                        _ => return fail(format!("node metadata LABELS.{k} must be a string")),
                    }
                }
            }
            Some(_) => return fail("node metadata LABELS must be a map of strings".into()),
        }
        Ok(Some(Registration {
            proxy: node.id.clone(),
            group,
            namespace,
            ip,
            network: text("NETWORK"),
            labels,
        }))
    }

    /// The entry's name: `<group>-<ip>[-<network>]`, with IPv6 colons as dashes.
    pub fn entry_name(&self) -> String {
        let mut n = format!("{}-{}", self.group, self.ip);
        if !self.network.is_empty() {
            n.push('-');
            n.push_str(&self.network);
        }
        n.replace(':', "-").to_ascii_lowercase()
    }

    /// The entry's key.
    pub fn entry_key(&self) -> ResourceKey {
        ResourceKey::new(GROUP, ENTRIES, &self.namespace, &self.entry_name())
    }

    fn group_key(&self) -> ResourceKey {
        ResourceKey::new(GROUP, GROUPS, &self.namespace, &self.group)
    }
}

/// A `Healthy` condition.
fn healthy(status: bool, at: &str) -> Value {
    json!({"conditions": [{
        "type": "Healthy",
        "status": if status { "True" } else { "False" },
        "lastTransitionTime": at,
    }]})
}

/// String map at `pointer` of `v` (empty when absent).
fn string_map(v: &Value, pointer: &str) -> Map<String, Value> {
    v.pointer(pointer).and_then(Value::as_object).cloned().unwrap_or_default()
}

/// The WorkloadEntry for `reg`, from its WorkloadGroup object `group` (stored form),
/// connected to `controller` at `connected_at`. Validated as any written entry is.
pub fn entry_object(
    group: &Value,
    reg: &Registration,
    controller: &str,
    connected_at: &str,
) -> Result<Value, PilotError> {
    let mut spec = string_map(group, "/spec/template");
    // Labels: the proxy's over the group's metadata over the template's, on the entry and on
    // its spec alike (the spec's are what ServiceEntries select by).
    let mut labels = string_map(group, "/spec/template/labels");
    labels.extend(string_map(group, "/spec/metadata/labels"));
    for (k, v) in &reg.labels {
        labels.insert(k.clone(), v.clone().into());
    }
    spec.insert("address".into(), reg.ip.clone().into());
    if !labels.is_empty() {
        spec.insert("labels".into(), labels.clone().into());
    }
    if !reg.network.is_empty() {
        spec.insert("network".into(), reg.network.clone().into());
    }
    let mut annotations = string_map(group, "/spec/metadata/annotations");
    for (k, v) in [
        (GROUP_ANNOTATION, reg.group.as_str()),
        (CONTROLLER_ANNOTATION, controller),
        (CONNECTED_AT_ANNOTATION, connected_at),
        (HEALTH_CHECKS_ENABLED, "true"),
    ] {
        annotations.insert(k.into(), v.into());
    }
    let api_version = config::lookup("networking.istio.io/v1", "WorkloadEntry")
        .map_or_else(|| "networking.istio.io/v1".to_owned(), |k| k.preferred_api_version());
    let mut metadata = json!({
        "name": reg.entry_name(),
        "namespace": reg.namespace,
        "annotations": annotations,
        "ownerReferences": [{
            "apiVersion": group.get("apiVersion").cloned().unwrap_or(Value::Null),
            "kind": "WorkloadGroup",
            "name": reg.group,
            "controller": true,
        }],
    });
    if !labels.is_empty() {
        metadata["labels"] = labels.into();
    }
    let entry = json!({
        "apiVersion": api_version,
        "kind": "WorkloadEntry",
        "metadata": metadata,
        "spec": spec,
        "status": healthy(true, connected_at),
    });
    config::validate_object(&entry).map_err(|e| PilotError::AutoRegistration {
        proxy: reg.proxy.clone(),
        message: format!(
            "the WorkloadEntry built from WorkloadGroup {}/{} is invalid: {e}",
            reg.namespace, reg.group
        ),
    })?;
    Ok(entry)
}

/// `entry` marked disconnected at `at`: `istio.io/disconnectedAt`, `Healthy` = `False`.
pub fn disconnected(entry: &Value, at: &str) -> Value {
    let mut e = entry.clone();
    if let Some(a) = e.pointer_mut("/metadata/annotations").and_then(Value::as_object_mut) {
        a.insert(DISCONNECTED_AT_ANNOTATION.into(), at.into());
    }
    if let Some(o) = e.as_object_mut() {
        o.insert("status".into(), healthy(false, at));
    }
    e
}

fn annotation<'a>(entry: &'a Value, name: &str) -> Option<&'a str> {
    entry.pointer("/metadata/annotations")?.get(name)?.as_str()
}

/// What the periodic sweep does to one entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sweep {
    /// Controlled by this istiod, which holds no connection for it.
    MarkDisconnected,
    /// Disconnected for longer than the grace period.
    Delete,
}

/// The sweep's decision for `entry`, seen by istiod `me`, whose live connection for it (if
/// any) connected at `live`. Entries not auto-registered are left alone.
pub fn sweep_action(
    entry: &Value,
    me: &str,
    live: Option<&str>,
    now_ms: i64,
    grace: Duration,
) -> Option<Sweep> {
    annotation(entry, GROUP_ANNOTATION)?;
    if let Some(at) = annotation(entry, DISCONNECTED_AT_ANNOTATION) {
        let at = time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
            .map_or(0, |t| (t.unix_timestamp_nanos() / 1_000_000) as i64);
        return (now_ms - at >= grace.as_millis() as i64).then_some(Sweep::Delete);
    }
    let mine = annotation(entry, CONTROLLER_ANNOTATION) == Some(me);
    (mine && live != annotation(entry, CONNECTED_AT_ANNOTATION)).then_some(Sweep::MarkDisconnected)
}

/// `since_epoch` as RFC 3339 with nanoseconds (a connection's identity).
fn rfc3339_nanos(since_epoch: Duration) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(since_epoch.as_nanos() as i128)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The system's wall clock, to the nanosecond: a connection's `connectedAt` identifies it, and
/// two streams of one proxy can connect within the same millisecond, so the milliseconds of
/// [`istio_store::clock::now_ms`] (the wall clock everywhere else) would not do.
#[allow(clippy::disallowed_methods)] // Nanoseconds; istio_store::clock reads milliseconds only.
fn system_now() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default()
}

/// What auto-registration needs of the replicated store: [`StoreNode`] in istiod; the unit
/// tests commit to a state machine behind it, without Raft.
pub trait EntryStore: Send + Sync + 'static {
    /// This member's id (the registry's controller name is `istiod-<id>`).
    fn member_id(&self) -> NodeId;
    /// Waits until this member's state reflects every write acknowledged anywhere before the
    /// call (a linearizable read barrier).
    fn read_barrier(&self) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The object at `key` in this member's state.
    fn get(&self, key: &ResourceKey) -> Result<Option<Resource>, StoreError>;
    /// Every object under `prefix` in this member's state.
    fn list(&self, prefix: &KeyPrefix) -> Result<Vec<Resource>, StoreError>;
    /// Whether this member leads (only the leader deletes entries).
    fn is_leader(&self) -> bool;
    /// Commits `cmd` (forwarded to the leader if need be) and answers its outcome.
    fn write(&self, cmd: Command) -> impl Future<Output = Result<Response, StoreError>> + Send;
    /// Wall-clock time since the Unix epoch: the entries' `connectedAt` / `disconnectedAt`,
    /// the grace period (compared with timestamps other members wrote) and the commands'
    /// stamps. The system clock unless a store says otherwise.
    fn now(&self) -> Duration {
        system_now()
    }
}

impl EntryStore for StoreNode {
    fn member_id(&self) -> NodeId {
        self.config().id
    }

    async fn read_barrier(&self) -> Result<(), StoreError> {
        StoreNode::read_barrier(self, Consistency::Linearizable).await
    }

    fn get(&self, key: &ResourceKey) -> Result<Option<Resource>, StoreError> {
        self.state().get(key).map(|(r, _)| r)
    }

    fn list(&self, prefix: &KeyPrefix) -> Result<Vec<Resource>, StoreError> {
        self.state().list(prefix).map(|(r, _)| r)
    }

    fn is_leader(&self) -> bool {
        StoreNode::is_leader(self)
    }

    async fn write(&self, cmd: Command) -> Result<Response, StoreError> {
        StoreNode::write(self, cmd).await
    }
}

/// A change to one entry, decided from its current object.
enum Change {
    Put(Value),
    Delete,
}

/// A proxy's registration while its stream lasts: dropping it marks the entry disconnected
/// (in a task; the drop does not wait).
pub struct Registered<S: EntryStore = StoreNode> {
    registry: Arc<AutoRegistry<S>>,
    registration: Registration,
    connected_at: String,
}

impl<S: EntryStore> std::fmt::Debug for Registered<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registered")
            .field("registry", &self.registry)
            .field("registration", &self.registration)
            .field("connected_at", &self.connected_at)
            .finish()
    }
}

impl<S: EntryStore> Registered<S> {
    /// What was registered.
    pub fn registration(&self) -> &Registration {
        &self.registration
    }
}

impl<S: EntryStore> Drop for Registered<S> {
    fn drop(&mut self) {
        let registry = self.registry.clone();
        let reg = self.registration.clone();
        let at = std::mem::take(&mut self.connected_at);
        match tokio::runtime::Handle::try_current() {
            Ok(h) => {
                h.spawn(async move { registry.unregister(&reg, &at).await });
            }
            // No runtime (shutting down): the sweep marks it after a restart.
            Err(_) => tracing::warn!(entry = %reg.entry_key(), "not unregistered: no runtime"),
        }
    }
}

/// Registers and unregisters auto-registered workloads through the log, and sweeps.
pub struct AutoRegistry<S: EntryStore = StoreNode> {
    node: Arc<S>,
    controller: String,
    grace: Duration,
    /// Per entry: the `connectedAt` of this member's live connection for it.
    live: Mutex<HashMap<ResourceKey, String>>,
    seq: AtomicU64,
}

impl<S: EntryStore> std::fmt::Debug for AutoRegistry<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AutoRegistry")
            .field("controller", &self.controller)
            .field("grace", &self.grace)
            .finish_non_exhaustive()
    }
}

impl<S: EntryStore> AutoRegistry<S> {
    /// A registry committing through `node`, deleting disconnected entries `grace` after they
    /// disconnect; spawns the sweep (every `grace / 2`, at most every 5 s, on tokio's clock),
    /// which ends with the last reference.
    pub fn spawn(node: Arc<S>, grace: Duration) -> Arc<Self> {
        let controller = format!("istiod-{}", node.member_id());
        let me = Arc::new(AutoRegistry {
            node,
            controller,
            grace,
            live: Mutex::new(HashMap::new()),
            seq: AtomicU64::new(0),
        });
        let weak = Arc::downgrade(&me);
        let period = (grace / 2).clamp(Duration::from_millis(50), Duration::from_secs(5));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(me) = weak.upgrade() else { return };
                if let Err(e) = me.sweep().await {
                    tracing::warn!(error = %e, "auto-registration sweep failed; retrying");
                }
            }
        });
        me
    }

    /// The name this istiod writes into `istio.io/workloadController`.
    pub fn controller(&self) -> &str {
        &self.controller
    }

    /// Commits `reg`'s entry as connected to this istiod (creating it, or taking it over from
    /// an earlier connection anywhere). Dropping the returned guard (when the stream ends)
    /// marks the entry disconnected.
    pub async fn register(
        self: &Arc<Self>,
        reg: Registration,
    ) -> Result<Registered<S>, PilotError> {
        let connected_at = self.connect(&reg).await?;
        Ok(Registered { registry: self.clone(), registration: reg, connected_at })
    }

    /// [`AutoRegistry::register`] without the guard: returns the connection's `connectedAt`,
    /// which [`AutoRegistry::unregister`] needs.
    pub async fn connect(&self, reg: &Registration) -> Result<String, PilotError> {
        self.node.read_barrier().await?;
        let key = reg.entry_key();
        let at = rfc3339_nanos(self.node.now());
        // Live before the write, so a concurrent sweep never takes this connection's entry
        // for an orphan.
        self.live.lock().insert(key.clone(), at.clone());
        let group = self.node.get(&reg.group_key())?;
        let result = match group {
            None => Err(PilotError::AutoRegistration {
                proxy: reg.proxy.clone(),
                message: format!(
                    "WorkloadGroup {}/{} (node metadata AUTO_REGISTER_GROUP, NAMESPACE) does \
                     not exist",
                    reg.namespace, reg.group
                ),
            }),
            Some(g) => {
                let group: Value = serde_json::from_slice(&g.object).unwrap_or(Value::Null);
                let entry = entry_object(&group, reg, &self.controller, &at)?;
                self.change(&key, "register", |_| Ok(Some(Change::Put(entry.clone())))).await
            }
        };
        match result {
            Ok(()) => {
                tracing::info!(proxy = %reg.proxy, entry = %key, "workload auto-registered");
                Ok(at)
            }
            Err(e) => {
                self.forget(&key, &at);
                Err(e)
            }
        }
    }

    /// Marks `reg`'s entry disconnected, if this istiod's connection at `connected_at` still
    /// controls it (a reconnection elsewhere has taken it over otherwise).
    pub async fn unregister(&self, reg: &Registration, connected_at: &str) {
        let key = reg.entry_key();
        self.forget(&key, connected_at);
        let me = self.controller.clone();
        let result = self
            .change(&key, "unregister", |cur| {
                Ok(cur
                    .filter(|e| {
                        annotation(e, CONTROLLER_ANNOTATION) == Some(me.as_str())
                            && annotation(e, CONNECTED_AT_ANNOTATION) == Some(connected_at)
                            && annotation(e, DISCONNECTED_AT_ANNOTATION).is_none()
                    })
                    .map(|e| Change::Put(disconnected(e, &rfc3339_nanos(self.node.now())))))
            })
            .await;
        match result {
            Ok(()) => tracing::info!(proxy = %reg.proxy, entry = %key, "workload disconnected"),
            Err(e) => tracing::warn!(
                proxy = %reg.proxy, entry = %key, error = %e,
                "could not mark the auto-registered entry disconnected; the sweep will"
            ),
        }
    }

    /// The store's wall clock, in milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64 {
        self.node.now().as_millis() as i64
    }

    fn forget(&self, key: &ResourceKey, connected_at: &str) {
        let mut live = self.live.lock();
        if live.get(key).is_some_and(|a| a == connected_at) {
            live.remove(key);
        }
    }

    /// One pass over the auto-registered entries (see [`sweep_action`]); deletions only on
    /// the leader.
    pub async fn sweep(&self) -> Result<(), PilotError> {
        let prefix = KeyPrefix {
            group: Some(GROUP.into()),
            resource: Some(ENTRIES.into()),
            ..KeyPrefix::default()
        };
        let entries = self.node.list(&prefix)?;
        let leader = self.node.is_leader();
        for r in entries {
            let Ok(entry) = serde_json::from_slice::<Value>(&r.object) else { continue };
            let live = self.live.lock().get(&r.key).cloned();
            let action =
                sweep_action(&entry, &self.controller, live.as_deref(), self.now_ms(), self.grace);
            let me = self.controller.clone();
            let grace = self.grace;
            let result = match action {
                None => continue,
                Some(Sweep::Delete) if !leader => continue,
                Some(Sweep::Delete) => {
                    self.change(&r.key, "cleanup", |cur| {
                        Ok(cur
                            .filter(|e| {
                                sweep_action(e, &me, None, self.now_ms(), grace)
                                    == Some(Sweep::Delete)
                            })
                            .map(|_| Change::Delete))
                    })
                    .await
                }
                Some(Sweep::MarkDisconnected) => {
                    self.change(&r.key, "unregister", |cur| {
                        Ok(cur
                            .filter(|e| {
                                let live = self.live.lock().get(&r.key).cloned();
                                sweep_action(e, &me, live.as_deref(), self.now_ms(), grace)
                                    == Some(Sweep::MarkDisconnected)
                            })
                            .map(|e| Change::Put(disconnected(e, &rfc3339_nanos(self.node.now())))))
                    })
                    .await
                }
            };
            match result {
                Ok(()) => {
                    tracing::info!(entry = %r.key, action = ?action, "auto-registration sweep")
                }
                Err(e) => tracing::warn!(entry = %r.key, error = %e, "auto-registration sweep"),
            }
        }
        Ok(())
    }

    /// Applies `decide(current)` to `key` as a compare-and-set txn, re-deciding on a
    /// concurrent change. `None` from `decide` means nothing to do.
    async fn change(
        &self,
        key: &ResourceKey,
        verb: &str,
        decide: impl Fn(Option<&Value>) -> Result<Option<Change>, PilotError>,
    ) -> Result<(), PilotError> {
        for _ in 0..ATTEMPTS {
            let cur = self.node.get(key)?;
            let object: Option<Value> =
                cur.as_ref().and_then(|c| serde_json::from_slice(&c.object).ok());
            let Some(change) = decide(object.as_ref())? else { return Ok(()) };
            let precondition = match &cur {
                Some(c) => Precondition::ModRevision(key.clone(), c.mod_revision),
                None => Precondition::Absent(key.clone()),
            };
            let op = match change {
                Change::Put(v) => {
                    Op::Put { key: key.clone(), object: serde_json::to_vec(&v).unwrap_or_default() }
                }
                Change::Delete => Op::Delete { key: key.clone() },
            };
            let cmd = Command {
                request_id: format!(
                    "autoreg-{}-{}-{}",
                    self.controller,
                    self.now_ms(),
                    self.seq.fetch_add(1, Ordering::Relaxed)
                ),
                actor: "system:pilot".into(),
                source: self.controller.clone(),
                time_ms: self.now_ms(),
                verb: verb.into(),
                restores: None,
                op: CommandOp::Txn(Txn { preconditions: vec![precondition], ops: vec![op] }),
            };
            match self.node.write(cmd).await? {
                Response::Txn { outcome: TxnOutcome::Committed { .. }, .. } => return Ok(()),
                // Changed underneath (a reconnection elsewhere, a user's edit): decide again.
                Response::Txn { outcome: TxnOutcome::Failed { .. }, .. } => continue,
                other => {
                    return Err(PilotError::AutoRegistration {
                        proxy: String::new(),
                        message: format!("unexpected store response {other:?} for {key}"),
                    })
                }
            }
        }
        Err(PilotError::AutoRegistration {
            proxy: String::new(),
            message: format!("{key} kept changing; gave up after {ATTEMPTS} attempts"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use envoy_types::pb::google::protobuf::{Struct, Value as PbValue};

    fn s(v: &str) -> PbValue {
        PbValue { kind: Some(Kind::StringValue(v.into())) }
    }

    fn node(id: &str, fields: &[(&str, PbValue)]) -> Node {
        Node {
            id: id.into(),
            metadata: Some(Struct {
                fields: fields.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
            }),
            ..Default::default()
        }
    }

    fn group() -> Value {
        json!({
            "apiVersion": "networking.istio.io/v1",
            "kind": "WorkloadGroup",
            "metadata": {"name": "vm", "namespace": "vms"},
            "spec": {
                "metadata": {"labels": {"app": "vm"}, "annotations": {"team": "a"}},
                "template": {
                    "ports": {"http": 8080},
                    "serviceAccount": "vm-sa",
                    "labels": {"app": "vm"},
                },
            },
        })
    }

    #[test]
    fn registration_comes_from_node_metadata() {
        let labels = PbValue {
            kind: Some(Kind::StructValue(Struct {
                fields: [("version".to_string(), s("v2"))].into_iter().collect(),
            })),
        };
        let n = node(
            "vm-1",
            &[
                ("AUTO_REGISTER_GROUP", s("vm")),
                ("NAMESPACE", s("vms")),
                ("INSTANCE_IPS", s("10.0.0.7,10.0.0.8")),
                ("LABELS", labels),
            ],
        );
        let r = Registration::from_node(&n).unwrap().unwrap();
        assert_eq!(
            (r.group.as_str(), r.namespace.as_str(), r.ip.as_str()),
            ("vm", "vms", "10.0.0.7")
        );
        assert_eq!(r.labels.get("version").map(String::as_str), Some("v2"));
        assert_eq!(r.entry_name(), "vm-10.0.0.7");

        // No group: no registration. The IP may come from an Istio-style node id.
        assert_eq!(Registration::from_node(&node("x", &[("NAMESPACE", s("a"))])).unwrap(), None);
        let n = node(
            "sidecar~fd00::1~vm-1.vms~vms.svc.cluster.local",
            &[("AUTO_REGISTER_GROUP", s("vm")), ("NAMESPACE", s("vms")), ("NETWORK", s("net1"))],
        );
        let r = Registration::from_node(&n).unwrap().unwrap();
        assert_eq!(r.entry_name(), "vm-fd00--1-net1");

        // Named group, unusable rest: errors naming the field.
        for (fields, want) in [
            (vec![("AUTO_REGISTER_GROUP", s("vm"))], "NAMESPACE"),
            (vec![("AUTO_REGISTER_GROUP", s("vm")), ("NAMESPACE", s("a"))], "INSTANCE_IPS"),
            (
                vec![
                    ("AUTO_REGISTER_GROUP", s("vm")),
                    ("NAMESPACE", s("a")),
                    ("INSTANCE_IPS", s("10.0.0.1")),
                    ("LABELS", s("app=x")),
                ],
                "LABELS",
            ),
        ] {
            let e = Registration::from_node(&node("p", &fields)).unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
        }
    }

    #[test]
    fn entry_follows_the_group_template_and_the_proxy() {
        let reg = Registration {
            proxy: "vm-1".into(),
            group: "vm".into(),
            namespace: "vms".into(),
            ip: "10.0.0.7".into(),
            network: String::new(),
            labels: [("version".to_string(), "v2".to_string())].into_iter().collect(),
        };
        let e = entry_object(&group(), &reg, "istiod-1", "2026-01-01T00:00:00.000000001Z").unwrap();
        assert_eq!(e["metadata"]["name"], "vm-10.0.0.7");
        assert_eq!(e["spec"]["address"], "10.0.0.7");
        assert_eq!(e["spec"]["serviceAccount"], "vm-sa");
        assert_eq!(e["spec"]["ports"]["http"], 8080);
        assert_eq!(e["spec"]["labels"], json!({"app": "vm", "version": "v2"}));
        assert_eq!(e["metadata"]["labels"], json!({"app": "vm", "version": "v2"}));
        let a = &e["metadata"]["annotations"];
        assert_eq!(a["team"], "a");
        assert_eq!(a[GROUP_ANNOTATION], "vm");
        assert_eq!(a[CONTROLLER_ANNOTATION], "istiod-1");
        assert_eq!(a[HEALTH_CHECKS_ENABLED], "true");
        assert_eq!(e["metadata"]["ownerReferences"][0]["name"], "vm");
        assert!(super::super::registry::workload_healthy(&e));

        let d = disconnected(&e, "2026-01-01T00:00:01Z");
        assert_eq!(
            d["metadata"]["annotations"][DISCONNECTED_AT_ANNOTATION],
            "2026-01-01T00:00:01Z"
        );
        assert!(!super::super::registry::workload_healthy(&d));

        // A template the entry kind's validation rejects is an error, not a bad write.
        let mut bad = group();
        bad["spec"]["template"]["weight"] = json!(-1);
        let e = entry_object(&bad, &reg, "istiod-1", "t").unwrap_err().to_string();
        assert!(e.contains("WorkloadGroup vms/vm") && e.contains("weight"), "{e}");
    }

    #[test]
    fn sweep_marks_orphans_and_deletes_after_the_grace_period() {
        let reg = Registration {
            proxy: "p".into(),
            group: "vm".into(),
            namespace: "vms".into(),
            ip: "10.0.0.7".into(),
            network: String::new(),
            labels: BTreeMap::new(),
        };
        let at = "2026-01-01T00:00:00Z";
        let e = entry_object(&group(), &reg, "istiod-1", at).unwrap();
        let grace = Duration::from_secs(10);
        let t0 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
                                    // Connected here: nothing; connected here but the connection is gone: orphan.
        assert_eq!(sweep_action(&e, "istiod-1", Some(at), t0, grace), None);
        assert_eq!(sweep_action(&e, "istiod-1", None, t0, grace), Some(Sweep::MarkDisconnected));
        assert_eq!(
            sweep_action(&e, "istiod-1", Some("other"), t0, grace),
            Some(Sweep::MarkDisconnected)
        );
        // Another member's connection: not ours to judge.
        assert_eq!(sweep_action(&e, "istiod-2", None, t0, grace), None);
        // Disconnected: deleted once the grace period has passed, by anyone.
        let d = disconnected(&e, at);
        assert_eq!(sweep_action(&d, "istiod-2", None, t0 + 9_999, grace), None);
        assert_eq!(sweep_action(&d, "istiod-2", None, t0 + 10_000, grace), Some(Sweep::Delete));
        // Entries a user wrote are never touched.
        let mut user = e.clone();
        user["metadata"]["annotations"].as_object_mut().unwrap().remove(GROUP_ANNOTATION);
        assert_eq!(sweep_action(&user, "istiod-1", None, t0, grace), None);
    }

    // -----------------------------------------------------------------------------------------
    // The registry against a log (a state machine, no Raft), under paused time: the store's
    // wall clock and the sweep's interval both follow tokio's clock.
    // -----------------------------------------------------------------------------------------

    use crate::registry::workload_healthy;
    use crate::testlog::{TestLog, START};
    use tokio::time::{sleep, Instant};

    const GRACE: Duration = Duration::from_secs(10);

    /// istiod's registry and its guard stay `Debug`, as they were before `EntryStore`.
    #[allow(dead_code)]
    fn debug_in_istiod(r: &AutoRegistry, g: &Registered) -> String {
        format!("{r:?} {g:?}")
    }

    fn vm(ip: &str) -> Registration {
        Registration {
            proxy: format!("vm-{ip}"),
            group: "vm".into(),
            namespace: "vms".into(),
            ip: ip.into(),
            network: String::new(),
            labels: BTreeMap::new(),
        }
    }

    /// A log holding the WorkloadGroup `vms/vm`, and a registry (member 1) on it.
    async fn registry() -> (Arc<TestLog>, Arc<AutoRegistry<TestLog>>) {
        let log = TestLog::new();
        log.put(ResourceKey::new(GROUP, GROUPS, "vms", "vm"), &group()).await;
        let registry = AutoRegistry::spawn(log.clone(), GRACE);
        (log, registry)
    }

    /// The test log's wall clock now, as the registry writes it.
    fn wall_now(started: Instant) -> String {
        rfc3339_nanos(START + started.elapsed())
    }

    fn disconnected_at(entry: &Value) -> Option<&str> {
        annotation(entry, DISCONNECTED_AT_ANNOTATION)
    }

    /// An entry disconnected for less than the grace period survives the sweep; once the grace
    /// period has passed only the leader's sweep deletes it.
    #[tokio::test(start_paused = true)]
    async fn the_grace_period_keeps_a_disconnected_entry_until_the_leader_deletes_it() {
        let started = Instant::now();
        let (log, registry) = registry().await;
        let reg = vm("10.0.0.7");
        let at = registry.connect(&reg).await.unwrap();
        let entry = log.object(&reg.entry_key()).expect("registered");
        assert_eq!(annotation(&entry, CONNECTED_AT_ANNOTATION), Some(at.as_str()));
        assert_eq!(annotation(&entry, CONTROLLER_ANNOTATION), Some("istiod-1"));
        assert!(workload_healthy(&entry));

        registry.unregister(&reg, &at).await;
        let entry = log.object(&reg.entry_key()).expect("kept while in the grace period");
        assert_eq!(disconnected_at(&entry), Some(wall_now(started).as_str()));
        assert!(!workload_healthy(&entry));

        // Just short of the grace period (the periodic sweep ran at 5 s): kept.
        sleep(GRACE - Duration::from_millis(1)).await;
        registry.sweep().await.unwrap();
        assert!(log.object(&reg.entry_key()).is_some(), "deleted before the grace period");

        // Past it, on a follower: kept (deletions are the leader's).
        log.set_leader(false);
        sleep(Duration::from_millis(2)).await;
        registry.sweep().await.unwrap();
        assert!(log.object(&reg.entry_key()).is_some(), "a follower deleted it");

        // On the leader: deleted.
        log.set_leader(true);
        registry.sweep().await.unwrap();
        assert_eq!(log.object(&reg.entry_key()), None);
    }

    /// The periodic sweep (every `grace / 2`, on tokio's clock) deletes a disconnected entry
    /// once the grace period has passed, and not before.
    #[tokio::test(start_paused = true)]
    async fn the_periodic_sweep_deletes_after_the_grace_period() {
        let (log, registry) = registry().await;
        let reg = vm("10.0.0.7");
        let at = registry.connect(&reg).await.unwrap();
        registry.unregister(&reg, &at).await;
        sleep(GRACE - Duration::from_millis(1)).await;
        assert!(log.object(&reg.entry_key()).is_some(), "deleted before the grace period");
        sleep(GRACE / 2 + Duration::from_millis(2)).await;
        assert_eq!(log.object(&reg.entry_key()), None, "not deleted by the next sweep");
    }

    /// A reconnection within the grace period takes the entry over again: connected, healthy,
    /// never deleted while the connection lasts.
    #[tokio::test(start_paused = true)]
    async fn a_reconnection_within_the_grace_period_keeps_the_entry() {
        let (log, registry) = registry().await;
        let reg = vm("10.0.0.7");
        let first = registry.connect(&reg).await.unwrap();
        registry.unregister(&reg, &first).await;
        sleep(GRACE / 2).await;
        let second = registry.connect(&reg).await.unwrap();
        assert_ne!(first, second);
        sleep(GRACE * 3).await;
        let entry = log.object(&reg.entry_key()).expect("kept");
        assert_eq!(annotation(&entry, CONNECTED_AT_ANNOTATION), Some(second.as_str()));
        assert_eq!(disconnected_at(&entry), None);
        assert!(workload_healthy(&entry));
        // The first connection's late disconnect does not touch the second's entry.
        registry.unregister(&reg, &first).await;
        assert_eq!(disconnected_at(&log.object(&reg.entry_key()).unwrap()), None);
    }

    /// The sweep marks disconnected the entries this istiod controls but holds no connection
    /// for (as after a restart), leaves live connections and other members' entries alone, and
    /// the orphans then go after the grace period.
    #[tokio::test(start_paused = true)]
    async fn the_sweep_marks_orphans_disconnected() {
        let started = Instant::now();
        let (log, registry) = registry().await;
        let live = vm("10.0.0.1");
        registry.connect(&live).await.unwrap();
        let connected = rfc3339_nanos(START);
        let orphan = vm("10.0.0.2");
        let o = entry_object(&group(), &orphan, "istiod-1", &connected).unwrap();
        log.put(orphan.entry_key(), &o).await;
        let theirs = vm("10.0.0.3");
        let t = entry_object(&group(), &theirs, "istiod-2", &connected).unwrap();
        log.put(theirs.entry_key(), &t).await;

        sleep(Duration::from_secs(1)).await;
        registry.sweep().await.unwrap();
        let o = log.object(&orphan.entry_key()).expect("marked, not deleted");
        // Marked by this sweep (at 1 s) or by the periodic one's first run (at 0 s).
        let at = disconnected_at(&o).expect("marked disconnected");
        let at = time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
            .unwrap();
        let at =
            Duration::from_nanos((at.unix_timestamp_nanos() - START.as_nanos() as i128) as u64);
        assert!(at <= started.elapsed(), "marked at {at:?}");
        assert!(!workload_healthy(&o));
        for r in [&live, &theirs] {
            let e = log.object(&r.entry_key()).unwrap();
            assert_eq!(disconnected_at(&e), None, "{} marked", r.proxy);
            assert!(workload_healthy(&e));
        }

        sleep(GRACE * 2).await;
        assert_eq!(log.object(&orphan.entry_key()), None, "orphan kept past the grace period");
        assert!(log.object(&live.entry_key()).is_some());
        assert!(log.object(&theirs.entry_key()).is_some());
    }
}
