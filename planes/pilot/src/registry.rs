//! The service registry view: every ServiceEntry and WorkloadEntry, folded from the event log,
//! and the services they define — hosts, ports, resolution and endpoints. Endpoints are the
//! ServiceEntry's inline `endpoints` plus the WorkloadEntries of its namespace whose labels
//! match its `workloadSelector` (Istio's semantics). A WorkloadEntry whose health checks are
//! enabled (annotation `proxy.istio.io/health-checks-enabled: "true"`) is healthy only while its
//! `Healthy` status condition is `True`, as in Istio.

use std::collections::BTreeMap;
use std::sync::Arc;

use istio_store::{EventRef, KeyRef, Resource, ResourceRef, Revision};
use serde::de::DeserializeOwned;

use istio_planes_config::common::StringMap;
use istio_planes_config::networking::{
    DestinationRule, Port, Resolution, ServiceEntry, Sidecar, VirtualService, WorkloadEntry,
};
use istio_planes_view::View;

const GROUP: &str = "networking.istio.io";
const SERVICE_ENTRIES: &str = "serviceentries";
const WORKLOAD_ENTRIES: &str = "workloadentries";
const VIRTUAL_SERVICES: &str = "virtualservices";
const DESTINATION_RULES: &str = "destinationrules";
const SIDECARS: &str = "sidecars";

/// One endpoint of a service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// IP address (or hostname for DNS resolution).
    pub address: String,
    /// Port name → port number on the workload.
    pub ports: BTreeMap<String, u32>,
    /// Workload labels.
    pub labels: StringMap,
    /// `region/zone/subzone`.
    pub locality: String,
    /// Load-balancing weight (0 means the default, 1).
    pub weight: u32,
    /// Where it came from: `namespace/name` of the WorkloadEntry, or of the ServiceEntry for an
    /// inline endpoint.
    pub source: String,
    /// Whether it may take traffic (see [`workload_healthy`]); inline endpoints always may.
    pub healthy: bool,
}

/// Istio's annotation that makes a WorkloadEntry's health follow its `Healthy` condition.
pub const HEALTH_CHECKS_ENABLED: &str = "proxy.istio.io/health-checks-enabled";

/// Istio's `isHealthy` for a WorkloadEntry object (`metadata`, `status`): healthy unless
/// [`HEALTH_CHECKS_ENABLED`] is `"true"` and the `Healthy` condition is not `True`. Fields that
/// do not decode count as absent.
pub fn workload_healthy(object: &serde_json::Value) -> bool {
    let enabled = object
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(HEALTH_CHECKS_ENABLED))
        .and_then(serde_json::Value::as_str)
        == Some("true");
    if !enabled {
        return true;
    }
    object
        .pointer("/status/conditions")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .find(|c| c.get("type").and_then(serde_json::Value::as_str) == Some("Healthy"))
        .and_then(|c| c.get("status").and_then(serde_json::Value::as_str))
        == Some("True")
}

/// One service host, as a ServiceEntry declares it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Service {
    /// The host, e.g. `reviews.default.svc.cluster.local`.
    pub host: String,
    /// Namespace of the ServiceEntry.
    pub namespace: String,
    /// Ports.
    pub ports: Vec<ServicePort>,
    /// How endpoints are resolved.
    pub resolution: Resolution,
    /// Endpoints, ordered by source then address.
    pub endpoints: Vec<Endpoint>,
}

/// A service port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServicePort {
    /// Port number clients use.
    pub number: u32,
    /// Name (endpoints map it to their own port).
    pub name: String,
    /// Protocol (`HTTP`, `GRPC`, `TCP`, ...).
    pub protocol: String,
    /// Port on the endpoints when they do not name one (`0`: the same as `number`).
    pub target_port: u32,
}

impl From<&Port> for ServicePort {
    fn from(p: &Port) -> Self {
        ServicePort {
            number: p.number,
            name: p.name.clone(),
            protocol: p.protocol.clone(),
            target_port: p.target_port,
        }
    }
}

impl Service {
    /// The port an endpoint serves `port` on: its named port, else the target port, else
    /// the service port.
    pub fn endpoint_port(&self, e: &Endpoint, port: &ServicePort) -> u32 {
        match e.ports.get(&port.name) {
            Some(p) if *p != 0 => *p,
            _ if port.target_port != 0 => port.target_port,
            _ => port.number,
        }
    }
}

/// Every ServiceEntry and WorkloadEntry, keyed by `(namespace, name)`, and the routing
/// objects translation reads.
#[derive(Debug, Default, Clone)]
pub struct RegistryView {
    revision: Revision,
    /// The last revision that changed a VirtualService or DestinationRule (or the reset
    /// point): translation can skip routing work while it stays the same.
    routing_revision: Revision,
    /// The last revision that changed anything here (see [`View::content_revision`]).
    content_revision: Revision,
    service_entries: BTreeMap<(String, String), ServiceEntryDoc>,
    workload_entries: BTreeMap<(String, String), WorkloadEntryDoc>,
    /// VirtualServices, decoded once when folded: a translation clones the `Arc`s, and an
    /// object that did not change keeps its `Arc`, which is how translation tells what changed.
    virtual_services: BTreeMap<(String, String), Arc<VirtualService>>,
    /// DestinationRules, as `virtual_services`.
    destination_rules: BTreeMap<(String, String), Arc<DestinationRule>>,
    /// Sidecars, as `virtual_services`.
    sidecars: BTreeMap<(String, String), Arc<Sidecar>>,
}

#[derive(Debug, Clone, PartialEq)]
struct ServiceEntryDoc {
    hosts: Vec<String>,
    ports: Vec<ServicePort>,
    resolution: Resolution,
    endpoints: Vec<Endpoint>,
    selector: Option<StringMap>,
}

#[derive(Debug, Clone, PartialEq)]
struct WorkloadEntryDoc(Endpoint);

/// The `spec` of a stored object, typed. Stored objects were validated when written, so a
/// failure here means a newer writer or a damaged store: the object is skipped and logged.
fn spec_of<T: DeserializeOwned>(object: &[u8], what: &str) -> Option<T> {
    #[derive(serde::Deserialize)]
    struct Doc<T> {
        spec: T,
    }
    match serde_json::from_slice::<Doc<T>>(object) {
        Ok(d) => Some(d.spec),
        Err(e) => {
            tracing::warn!(error = %e, "registry: skipping a {what} whose spec does not decode");
            None
        }
    }
}

/// Decodes a routing object's spec into `map` (or drops a namesake whose spec does not decode).
fn decode_into<T: DeserializeOwned>(
    map: &mut BTreeMap<(String, String), Arc<T>>,
    id: (String, String),
    object: &[u8],
    what: &str,
) {
    match spec_of::<T>(object, what) {
        Some(spec) => map.insert(id, Arc::new(spec)),
        None => map.remove(&id),
    };
}

fn endpoint(w: &WorkloadEntry, source: String) -> Endpoint {
    Endpoint {
        address: w.address.clone(),
        ports: w.ports.clone(),
        labels: w.labels.clone(),
        locality: w.locality.clone(),
        weight: w.weight,
        source,
        healthy: true,
    }
}

impl RegistryView {
    fn remove(&mut self, key: KeyRef<'_>) {
        let id = (key.namespace.to_string(), key.name.to_string());
        match &*key.resource.to_str() {
            SERVICE_ENTRIES => self.service_entries.remove(&id).map(drop),
            WORKLOAD_ENTRIES => self.workload_entries.remove(&id).map(drop),
            VIRTUAL_SERVICES => self.virtual_services.remove(&id).map(drop),
            DESTINATION_RULES => self.destination_rules.remove(&id).map(drop),
            SIDECARS => self.sidecars.remove(&id).map(drop),
            _ => None,
        };
    }

    fn insert(&mut self, r: ResourceRef<'_>) {
        let key = r.key;
        if key.group != GROUP {
            return;
        }
        let id = (key.namespace.to_string(), key.name.to_string());
        let source = format!("{}/{}", key.namespace, key.name);
        match &*key.resource.to_str() {
            SERVICE_ENTRIES => match spec_of::<ServiceEntry>(r.object, "ServiceEntry") {
                Some(se) => {
                    let doc = ServiceEntryDoc {
                        hosts: se.hosts.clone(),
                        ports: se.ports.iter().map(ServicePort::from).collect(),
                        resolution: se.resolution.unwrap_or_default(),
                        endpoints: se
                            .endpoints
                            .iter()
                            .flatten()
                            .map(|w| endpoint(w, source.clone()))
                            .collect(),
                        selector: se.workload_selector.map(|s| s.labels),
                    };
                    self.service_entries.insert(id, doc);
                }
                None => {
                    self.service_entries.remove(&id);
                }
            },
            WORKLOAD_ENTRIES => match spec_of::<WorkloadEntry>(r.object, "WorkloadEntry") {
                Some(we) => {
                    let mut e = endpoint(&we, source);
                    e.healthy = serde_json::from_slice::<serde_json::Value>(r.object)
                        .map_or(true, |o| workload_healthy(&o));
                    self.workload_entries.insert(id, WorkloadEntryDoc(e));
                }
                None => {
                    self.workload_entries.remove(&id);
                }
            },
            VIRTUAL_SERVICES => {
                decode_into(&mut self.virtual_services, id, r.object, "VirtualService")
            }
            DESTINATION_RULES => {
                decode_into(&mut self.destination_rules, id, r.object, "DestinationRule");
            }
            SIDECARS => decode_into(&mut self.sidecars, id, r.object, "Sidecar"),
            _ => {}
        }
    }

    /// Every VirtualService, with its namespace, in (namespace, name) order.
    pub fn virtual_services(&self) -> Vec<(String, Arc<VirtualService>)> {
        self.virtual_services.iter().map(|((ns, _), vs)| (ns.clone(), vs.clone())).collect()
    }

    /// Every DestinationRule, with its namespace, in (namespace, name) order.
    pub fn destination_rules(&self) -> Vec<(String, Arc<DestinationRule>)> {
        self.destination_rules.iter().map(|((ns, _), dr)| (ns.clone(), dr.clone())).collect()
    }

    /// The last revision that changed a VirtualService or DestinationRule (or the revision
    /// the view was reset to).
    pub fn routing_revision(&self) -> Revision {
        self.routing_revision
    }

    /// Every Sidecar, with its namespace and name, in (namespace, name) order.
    pub fn sidecars(&self) -> Vec<(String, String, Sidecar)> {
        self.sidecars
            .iter()
            .map(|((ns, name), s)| (ns.clone(), name.clone(), Sidecar::clone(s)))
            .collect()
    }

    /// Every service, one per (ServiceEntry, host), ordered by host then namespace.
    pub fn services(&self) -> Vec<Service> {
        let mut out = Vec::new();
        for ((ns, _), se) in &self.service_entries {
            let mut endpoints = se.endpoints.clone();
            if let Some(sel) = &se.selector {
                // Only the ServiceEntry's own namespace: a range of the (namespace, name) map,
                // not a scan of every WorkloadEntry in the mesh.
                endpoints.extend(
                    self.workload_entries
                        .range((ns.clone(), String::new())..)
                        .take_while(|((wns, _), _)| wns == ns)
                        .filter(|(_, w)| sel.iter().all(|(k, v)| w.0.labels.get(k) == Some(v)))
                        .map(|(_, w)| w.0.clone()),
                );
            }
            endpoints.sort_by(|a, b| (&a.source, &a.address).cmp(&(&b.source, &b.address)));
            for host in &se.hosts {
                out.push(Service {
                    host: host.clone(),
                    namespace: ns.clone(),
                    ports: se.ports.clone(),
                    resolution: se.resolution,
                    endpoints: endpoints.clone(),
                });
            }
        }
        out.sort_by(|a, b| (&a.host, &a.namespace).cmp(&(&b.host, &b.namespace)));
        out
    }
}

impl View for RegistryView {
    fn reset(&mut self, revision: Revision, resources: &[Resource]) {
        *self = RegistryView {
            revision,
            routing_revision: revision,
            content_revision: revision,
            ..Default::default()
        };
        for r in resources {
            self.insert(r.as_ref());
        }
    }

    fn apply(&mut self, event: &EventRef<'_>) {
        for c in &event.changes {
            if c.key.group != GROUP {
                continue;
            }
            let resource = c.key.resource.to_str();
            if !matches!(
                &*resource,
                SERVICE_ENTRIES
                    | WORKLOAD_ENTRIES
                    | VIRTUAL_SERVICES
                    | DESTINATION_RULES
                    | SIDECARS
            ) {
                continue;
            }
            self.content_revision = event.revision;
            if matches!(&*resource, VIRTUAL_SERVICES | DESTINATION_RULES) {
                self.routing_revision = event.revision;
            }
            match c.object {
                Some(o) => self.insert(o),
                None => self.remove(c.key),
            }
        }
        self.revision = event.revision;
    }

    fn revision(&self) -> Revision {
        self.revision
    }

    fn content_revision(&self) -> Revision {
        self.content_revision
    }
}

#[cfg(test)]
mod tests {
    use istio_store::ResourceKey;

    use super::*;

    pub(crate) fn res(resource: &str, ns: &str, name: &str, spec: serde_json::Value) -> Resource {
        Resource {
            key: ResourceKey::new(GROUP, resource, ns, name),
            object: serde_json::to_vec(&serde_json::json!({"spec": spec})).unwrap(),
            create_revision: 1,
            mod_revision: 1,
            version: 1,
            create_time_ms: 0,
        }
    }

    /// Inline endpoints plus WorkloadEntries selected by labels in the same namespace only;
    /// a WorkloadEntry relabelled out of the selector leaves the service.
    #[test]
    fn services_collect_inline_and_selected_endpoints() {
        let se = res(
            SERVICE_ENTRIES,
            "default",
            "echo",
            serde_json::json!({
                "hosts": ["echo.example.com"],
                "ports": [{"number": 8080, "name": "grpc", "protocol": "GRPC", "targetPort": 9000}],
                "resolution": "STATIC",
                "endpoints": [{"address": "10.0.0.1"}],
                "workloadSelector": {"labels": {"app": "echo"}},
            }),
        );
        let a = res(
            WORKLOAD_ENTRIES,
            "default",
            "a",
            serde_json::json!({"address": "10.0.0.2", "labels": {"app": "echo", "v": "1"}, "ports": {"grpc": 7000}}),
        );
        let other_ns = res(
            WORKLOAD_ENTRIES,
            "other",
            "b",
            serde_json::json!({"address": "10.0.0.3", "labels": {"app": "echo"}}),
        );
        let mut v = RegistryView::default();
        v.reset(3, &[se, a.clone(), other_ns]);
        let s = v.services();
        assert_eq!(s.len(), 1);
        let addrs: Vec<&str> = s[0].endpoints.iter().map(|e| e.address.as_str()).collect();
        assert_eq!(addrs, ["10.0.0.2", "10.0.0.1"]);
        let port = &s[0].ports[0];
        assert_eq!(s[0].endpoint_port(&s[0].endpoints[0], port), 7000);
        assert_eq!(s[0].endpoint_port(&s[0].endpoints[1], port), 9000);
        let relabelled = res(
            WORKLOAD_ENTRIES,
            "default",
            "a",
            serde_json::json!({"address": "10.0.0.2", "labels": {"app": "other"}}),
        );
        v.insert(relabelled.as_ref());
        assert_eq!(v.services()[0].endpoints.len(), 1);
        v.remove(a.key.as_ref());
        assert_eq!(v.services()[0].endpoints.len(), 1);
    }

    /// Istio's WorkloadEntry health: only an entry with health checks enabled can be unhealthy,
    /// and then it is healthy exactly while its `Healthy` condition is `True`; the view carries
    /// it onto the service's endpoints.
    #[test]
    fn workload_entry_health_follows_the_healthy_condition() {
        let obj = |enabled: bool, healthy: Option<&str>| {
            let mut o = serde_json::json!({
                "metadata": {"annotations": {}},
                "spec": {"address": "10.0.0.2", "labels": {"app": "echo"}},
            });
            if enabled {
                o["metadata"]["annotations"][HEALTH_CHECKS_ENABLED] = "true".into();
            }
            if let Some(s) = healthy {
                o["status"] = serde_json::json!({"conditions": [{"type": "Healthy", "status": s}]});
            }
            o
        };
        assert!(workload_healthy(&obj(false, Some("False"))));
        assert!(!workload_healthy(&obj(true, None)));
        assert!(!workload_healthy(&obj(true, Some("False"))));
        assert!(workload_healthy(&obj(true, Some("True"))));
        assert!(workload_healthy(&serde_json::json!("not an object")));

        let se = res(
            SERVICE_ENTRIES,
            "default",
            "echo",
            serde_json::json!({
                "hosts": ["echo.example.com"],
                "ports": [{"number": 8080, "name": "grpc", "protocol": "GRPC"}],
                "endpoints": [{"address": "10.0.0.1"}],
                "workloadSelector": {"labels": {"app": "echo"}},
            }),
        );
        let mut we = res(WORKLOAD_ENTRIES, "default", "a", serde_json::json!({}));
        we.object = serde_json::to_vec(&obj(true, Some("False"))).unwrap();
        let mut v = RegistryView::default();
        v.reset(2, &[se, we]);
        let services = v.services();
        let health: Vec<(&str, bool)> =
            services[0].endpoints.iter().map(|e| (e.address.as_str(), e.healthy)).collect();
        assert_eq!(health, [("10.0.0.2", false), ("10.0.0.1", true)]);
    }
}
