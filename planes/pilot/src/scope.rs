//! What one proxy is sent, beyond the shared snapshot: its identity (namespace, labels and
//! address, from node metadata), the `Sidecar` that applies to it (Istio's selection), whose
//! egress hosts narrow the services a wildcard subscription carries, and the ports its own
//! workload serves, for which it gets inbound (server) listeners.
//!
//! Sidecar selection, as in Istio: a Sidecar in the proxy's namespace whose
//! `workloadSelector` matches its labels; else the namespace's Sidecar without a selector; else
//! the root namespace's (`istio-system`) Sidecar without a selector; else none, and every
//! service is visible. An egress host is `namespace/dnsName`: namespace `*` (any), `.` (the
//! proxy's), `~` (none) or a name; dnsName `*`, `*.suffix` or an exact host. Only the
//! ServiceEntry namespace and host are matched (`exportTo` is not modelled).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use envoy_types::pb::envoy::config::core::v3::Node;
use envoy_types::pb::google::protobuf::value::Kind;

use super::registry::Service;
use istio_planes_config::common::StringMap;
use istio_planes_config::networking::Sidecar;

/// Istio's root namespace: its selector-less Sidecar is the mesh default.
pub const ROOT_NAMESPACE: &str = "istio-system";

/// The resource name prefix gRPC xDS servers ask LDS for (Istio's bootstrap template
/// `xds.istio.io/grpc/lds/inbound/%s`, `%s` being the listening `address:port`).
pub const INBOUND_PREFIX: &str = "xds.istio.io/grpc/lds/inbound/";

/// A proxy's identity, from its node.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProxyIdentity {
    /// `NAMESPACE` metadata, else the namespace in a `sidecar~IP~name.ns~…` node id.
    pub namespace: String,
    /// `LABELS` metadata.
    pub labels: StringMap,
    /// First of `INSTANCE_IPS`, else the IP of a `sidecar~IP~…` node id.
    pub ip: Option<String>,
    /// A gRPC proxyless client (metadata `GENERATOR: grpc`, as Istio's gRPC bootstrap sets, or
    /// a user agent starting with `gRPC`): gets clusters in the form gRPC accepts.
    pub grpc: bool,
}

impl ProxyIdentity {
    /// Reads what `node` says about the proxy; anything missing stays empty.
    pub fn from_node(node: &Node) -> Self {
        let meta = node.metadata.as_ref();
        let text = |k: &str| match meta.and_then(|m| m.fields.get(k)).and_then(|v| v.kind.as_ref())
        {
            Some(Kind::StringValue(s)) => s.trim().to_owned(),
            _ => String::new(),
        };
        let parts: Vec<&str> = node.id.split('~').collect();
        let mut namespace = text("NAMESPACE");
        if namespace.is_empty() && parts.len() == 4 {
            namespace = parts[2].split_once('.').map(|(_, ns)| ns.to_owned()).unwrap_or_default();
        }
        let ip = text("INSTANCE_IPS")
            .split(',')
            .map(str::trim)
            .find(|s| !s.is_empty())
            .map(str::to_owned)
            .or_else(|| (parts.len() == 4).then(|| parts[1].to_owned()))
            .filter(|ip| ip.parse::<std::net::IpAddr>().is_ok());
        let mut labels = StringMap::new();
        if let Some(Kind::StructValue(s)) =
            meta.and_then(|m| m.fields.get("LABELS")).and_then(|v| v.kind.as_ref())
        {
            for (k, v) in &s.fields {
                if let Some(Kind::StringValue(v)) = &v.kind {
                    labels.insert(k.clone(), v.clone());
                }
            }
        }
        let grpc = text("GENERATOR") == "grpc"
            || node.user_agent_name.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("grpc"));
        ProxyIdentity { namespace, labels, ip, grpc }
    }
}

/// The namespace half of an egress host.
#[derive(Clone, Debug, PartialEq, Eq)]
enum NsPattern {
    Any,
    Own,
    None,
    Named(String),
}

/// One Sidecar's egress imports, compiled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SidecarScope {
    /// `namespace/name`: identifies the scope (and its cached resource lists).
    pub key: String,
    namespace: String,
    selector: Option<StringMap>,
    /// `None`: the Sidecar has no egress section, so it imports everything.
    hosts: Option<Vec<(NsPattern, String)>>,
}

impl SidecarScope {
    /// Compiles the Sidecar `namespace/name`.
    pub fn new(namespace: &str, name: &str, sidecar: &Sidecar) -> Self {
        let hosts = (!sidecar.egress.is_empty()).then(|| {
            sidecar
                .egress
                .iter()
                .flat_map(|e| &e.hosts)
                .filter_map(|h| h.split_once('/'))
                .map(|(ns, host)| {
                    let ns = match ns {
                        "*" => NsPattern::Any,
                        "." => NsPattern::Own,
                        "~" => NsPattern::None,
                        n => NsPattern::Named(n.to_owned()),
                    };
                    (ns, host.to_ascii_lowercase())
                })
                .collect()
        });
        SidecarScope {
            key: format!("{namespace}/{name}"),
            namespace: namespace.to_owned(),
            selector: sidecar.workload_selector.as_ref().map(|s| s.labels.clone()),
            hosts,
        }
    }

    /// Whether the service `host` of namespace `service_ns` is imported.
    pub fn imports(&self, service_ns: &str, host: &str) -> bool {
        let Some(hosts) = &self.hosts else { return true };
        hosts.iter().any(|(ns, pattern)| {
            let ns_ok = match ns {
                NsPattern::Any => true,
                NsPattern::Own => service_ns == self.namespace,
                NsPattern::None => false,
                NsPattern::Named(n) => n == service_ns,
            };
            ns_ok
                && (pattern == "*"
                    || pattern == host
                    || pattern.strip_prefix('*').is_some_and(|suffix| host.ends_with(suffix)))
        })
    }
}

/// What the snapshot knows for scoping proxies: the Sidecars, the namespaces each host is
/// declared in, and the ports each workload address serves.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScopeIndex {
    sidecars: Vec<SidecarScope>,
    host_namespaces: HashMap<String, BTreeSet<String>>,
    workload_ports: HashMap<String, BTreeSet<u32>>,
}

impl ScopeIndex {
    /// The index for `services` and the Sidecars `(namespace, name, spec)`.
    pub fn new(services: &[Service], sidecars: &[(String, String, Sidecar)]) -> Self {
        let mut host_namespaces: HashMap<String, BTreeSet<String>> = HashMap::new();
        let mut workload_ports: HashMap<String, BTreeSet<u32>> = HashMap::new();
        for s in services {
            host_namespaces.entry(s.host.clone()).or_default().insert(s.namespace.clone());
            for e in &s.endpoints {
                for p in &s.ports {
                    workload_ports
                        .entry(e.address.clone())
                        .or_default()
                        .insert(s.endpoint_port(e, p));
                }
            }
        }
        let sidecars =
            sidecars.iter().map(|(ns, name, s)| SidecarScope::new(ns, name, s)).collect();
        ScopeIndex { sidecars, host_namespaces, workload_ports }
    }

    /// The Sidecar that applies to `id`, if any (see the module doc).
    pub fn sidecar_for(&self, id: &ProxyIdentity) -> Option<&SidecarScope> {
        let own = || self.sidecars.iter().filter(|s| s.namespace == id.namespace);
        own()
            .find(|s| {
                s.selector.as_ref().is_some_and(|sel| {
                    !sel.is_empty() && sel.iter().all(|(k, v)| id.labels.get(k) == Some(v))
                })
            })
            .or_else(|| own().find(|s| s.selector.is_none()))
            .or_else(|| {
                self.sidecars.iter().find(|s| s.namespace == ROOT_NAMESPACE && s.selector.is_none())
            })
    }

    /// Whether a resource named `name` (of any of our types) is visible through `scope`.
    pub fn visible(&self, scope: &SidecarScope, name: &str) -> bool {
        let Some(host) = host_of(name) else { return true };
        self.host_namespaces
            .get(host)
            .is_none_or(|namespaces| namespaces.iter().any(|ns| scope.imports(ns, host)))
    }

    /// Whether the workload at `ip` serves `port`.
    pub fn serves(&self, ip: &str, port: u32) -> bool {
        self.workload_ports.get(ip).is_some_and(|ports| ports.contains(&port))
    }

    /// The ports the workload at `ip` serves.
    pub fn ports_of(&self, ip: &str) -> Option<&BTreeSet<u32>> {
        self.workload_ports.get(ip)
    }
}

/// The service host a resource name belongs to: `outbound|port|subset|host` (clusters and
/// their assignments) or `host:port` (listeners and routes).
pub fn host_of(name: &str) -> Option<&str> {
    if name.starts_with("outbound|") {
        return name.rsplit('|').next();
    }
    name.rsplit_once(':').map(|(h, _)| h)
}

/// The port of an inbound listener name (`xds.istio.io/grpc/lds/inbound/ADDR:PORT`).
pub fn inbound_port(name: &str) -> Option<(&str, u32)> {
    let addr = name.strip_prefix(INBOUND_PREFIX)?;
    let (host, port) = addr.rsplit_once(':')?;
    Some((host, port.parse().ok()?))
}

/// Labels as a map (for tests and callers building identities).
pub fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use istio_planes_config::networking::{IstioEgressListener, ServiceEntryWorkloadSelector};

    fn sidecar(selector: Option<&[(&str, &str)]>, hosts: &[&str]) -> Sidecar {
        Sidecar {
            workload_selector: selector.map(|s| ServiceEntryWorkloadSelector { labels: labels(s) }),
            egress: if hosts.is_empty() {
                Vec::new()
            } else {
                vec![IstioEgressListener {
                    hosts: hosts.iter().map(|h| h.to_string()).collect(),
                    ..Default::default()
                }]
            },
            ..Default::default()
        }
    }

    #[test]
    fn egress_hosts_match_namespace_and_host() {
        let s = SidecarScope::new(
            "shop",
            "default",
            &sidecar(
                None,
                &["./*", "istio-system/*", "*/*.payments.example.com", "ext/api.example.com"],
            ),
        );
        assert!(s.imports("shop", "cart.shop.svc"));
        assert!(s.imports("istio-system", "istiod.example.com"));
        assert!(s.imports("billing", "eu.payments.example.com"));
        assert!(!s.imports("billing", "payments.example.com"));
        assert!(s.imports("ext", "api.example.com"));
        assert!(!s.imports("ext", "other.example.com"));
        assert!(!s.imports("other", "cart.other.svc"));
        let none = SidecarScope::new("shop", "none", &sidecar(None, &["~/*"]));
        assert!(!none.imports("shop", "cart.shop.svc"));
        let all = SidecarScope::new("shop", "all", &sidecar(None, &[]));
        assert!(all.imports("anywhere", "anything"));
    }

    #[test]
    fn selection_prefers_selector_then_namespace_then_root() {
        let idx = ScopeIndex::new(
            &[],
            &[
                ("istio-system".into(), "mesh".into(), sidecar(None, &["./*"])),
                ("shop".into(), "ns".into(), sidecar(None, &["./*"])),
                ("shop".into(), "cart".into(), sidecar(Some(&[("app", "cart")]), &["./*"])),
            ],
        );
        let id = |ns: &str, l: &[(&str, &str)]| ProxyIdentity {
            namespace: ns.into(),
            labels: labels(l),
            ..Default::default()
        };
        let key = |id: &ProxyIdentity| idx.sidecar_for(id).map(|s| s.key.clone());
        assert_eq!(key(&id("shop", &[("app", "cart")])).as_deref(), Some("shop/cart"));
        assert_eq!(key(&id("shop", &[("app", "web")])).as_deref(), Some("shop/ns"));
        assert_eq!(key(&id("other", &[])).as_deref(), Some("istio-system/mesh"));
        let empty = ScopeIndex::default();
        assert_eq!(empty.sidecar_for(&id("shop", &[])), None);
    }

    #[test]
    fn names_and_identities_parse() {
        assert_eq!(host_of("outbound|80|v1|a.example.com"), Some("a.example.com"));
        assert_eq!(host_of("a.example.com:80"), Some("a.example.com"));
        assert_eq!(inbound_port("xds.istio.io/grpc/lds/inbound/[::]:8080"), Some(("[::]", 8080)));
        assert_eq!(inbound_port("xds.istio.io/grpc/lds/inbound/0.0.0.0:x"), None);
        let node = Node {
            id: "sidecar~10.0.0.5~web-1.shop~shop.svc.cluster.local".into(),
            ..Default::default()
        };
        let id = ProxyIdentity::from_node(&node);
        assert_eq!((id.namespace.as_str(), id.ip.as_deref()), ("shop", Some("10.0.0.5")));
        assert_eq!(
            ProxyIdentity::from_node(&Node { id: "plain".into(), ..Default::default() }),
            ProxyIdentity::default()
        );
    }
}
