//! Which config applies to which service, the way Istio decides it: host resolution (short names
//! expand to `name.<namespace>.svc.cluster.local`, `*.suffix` wildcards, the most specific rule
//! wins), the VirtualService bound to the mesh for a host, the DestinationRule(s) for a host, and
//! Istio's traffic-policy merge (top level, then its port-level settings for the port, then the
//! subset's policy, then the subset's port-level settings).

use std::collections::{BTreeMap, HashMap};

use super::Routing;
use crate::registry::Service;
use istio_planes_config::networking::{
    ClientTlsSettings, ConnectionPoolSettings, ConsistentHashLb, LoadBalancerSettings,
    OutlierDetection, RetryBudget, Subset, TrafficPolicy, VirtualService,
};

/// Kubernetes' cluster domain, which Istio appends to short names.
const DOMAIN: &str = "svc.cluster.local";

/// The services and routing config one translation works with.
pub struct Scope<'a> {
    services: BTreeMap<&'a str, &'a Service>,
    routing: &'a Routing,
    /// The VirtualServices bound to the mesh, by the hosts they name.
    virtual_services: HostIndex,
    /// The DestinationRules, by their host.
    destination_rules: HostIndex,
}

/// Config objects (indexes into a `Routing` list) by the hosts they name, so finding the
/// objects for a service host costs a lookup plus the wildcard objects, not a scan of all:
/// every object whose [`specificity`] for a host can be `Some` is among its [`candidates`](
/// HostIndex::candidates).
#[derive(Debug, Default)]
struct HostIndex {
    /// By each config host as written and as expanded in its namespace.
    exact: HashMap<String, Vec<usize>>,
    /// The objects with a `*.suffix` host.
    wildcard: Vec<usize>,
}

impl HostIndex {
    fn new<'h>(objects: impl Iterator<Item = (usize, &'h str, &'h str)>) -> Self {
        let mut index = HostIndex::default();
        for (i, ns, host) in objects {
            for key in [host.to_owned(), fqdn(host, ns)] {
                let list = index.exact.entry(key).or_default();
                if list.last() != Some(&i) {
                    list.push(i);
                }
            }
            if host.starts_with("*.") && index.wildcard.last() != Some(&i) {
                index.wildcard.push(i);
            }
        }
        index
    }

    /// The objects that may name `host`, in list order.
    fn candidates(&self, host: &str) -> Vec<usize> {
        let mut out: Vec<usize> = self.exact.get(host).into_iter().flatten().copied().collect();
        out.extend(&self.wildcard);
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// How well a config host names a service host: higher is more specific.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Specificity {
    /// `*.suffix`, by suffix length.
    Wildcard(usize),
    /// The same name (after short-name expansion).
    Exact,
}

/// Istio's `ResolveShortnameToFQDN`: a name without a dot is relative to the namespace.
pub fn fqdn(host: &str, namespace: &str) -> String {
    if host.contains('.')
        || host == "*"
        || namespace.is_empty()
        || host.parse::<std::net::IpAddr>().is_ok()
    {
        host.to_owned()
    } else {
        format!("{host}.{namespace}.{DOMAIN}")
    }
}

/// How `config_host` (written in `namespace`) names `service_host`, if it does.
fn specificity(config_host: &str, namespace: &str, service_host: &str) -> Option<Specificity> {
    if config_host == service_host || fqdn(config_host, namespace) == service_host {
        return Some(Specificity::Exact);
    }
    let suffix = config_host.strip_prefix('*')?;
    (suffix.starts_with('.') && service_host.ends_with(suffix) && service_host.len() > suffix.len())
        .then_some(Specificity::Wildcard(suffix.len()))
}

/// Whether `config_host`, written in `namespace`, names `service_host` (exactly, after
/// short-name expansion, or as a `*.suffix` wildcard).
pub(crate) fn names(config_host: &str, namespace: &str, service_host: &str) -> bool {
    specificity(config_host, namespace, service_host).is_some()
}

/// Whether a VirtualService applies to sidecars and proxyless clients (no `gateways`, or
/// `mesh` among them).
pub(crate) fn bound_to_mesh(vs: &VirtualService) -> bool {
    vs.gateways.is_empty() || vs.gateways.iter().any(|g| g == "mesh")
}

/// The DestinationRule config for one service host: the top-level traffic policy and the
/// subsets, merged over every rule naming the host equally specifically (Istio merges them;
/// the first traffic policy and the first subset of a name win).
#[derive(Debug, Default)]
pub struct Rule<'a> {
    /// Top-level traffic policy.
    pub top: Option<&'a TrafficPolicy>,
    /// Subsets, unique by name.
    pub subsets: Vec<&'a Subset>,
}

impl<'a> Rule<'a> {
    /// The subset named `name`.
    pub fn subset(&self, name: &str) -> Option<&'a Subset> {
        self.subsets.iter().copied().find(|s| s.name == name)
    }
}

impl<'a> Scope<'a> {
    /// A scope over `services` (the first service of a host wins) and `routing`.
    pub fn new(services: &'a [Service], routing: &'a Routing) -> Self {
        let mut by_host = BTreeMap::new();
        for s in services {
            by_host.entry(s.host.as_str()).or_insert(s);
        }
        let virtual_services = HostIndex::new(
            routing
                .virtual_services
                .iter()
                .enumerate()
                .filter(|(_, (_, vs))| bound_to_mesh(vs))
                .flat_map(|(i, (ns, vs))| {
                    vs.hosts.iter().map(move |h| (i, ns.as_str(), h.as_str()))
                }),
        );
        let destination_rules = HostIndex::new(
            routing
                .destination_rules
                .iter()
                .enumerate()
                .map(|(i, (ns, dr))| (i, ns.as_str(), dr.host.as_str())),
        );
        Scope { services: by_host, routing, virtual_services, destination_rules }
    }

    /// The service with exactly this host.
    pub fn service(&self, host: &str) -> Option<&'a Service> {
        self.services.get(host).copied()
    }

    /// The registry host a config host written in `namespace` refers to: itself if a service
    /// has it, else its expansion (whether or not a service has that).
    pub fn resolve(&self, host: &str, namespace: &str) -> String {
        if self.services.contains_key(host) {
            host.to_owned()
        } else {
            fqdn(host, namespace)
        }
    }

    /// The VirtualService for `host` among those bound to the mesh (no `gateways`, or `mesh`
    /// among them), with its namespace: the most specific host match, first in order.
    pub fn virtual_service(&self, host: &str) -> Option<(&'a str, &'a VirtualService)> {
        let mut best: Option<(Specificity, &'a str, &'a VirtualService)> = None;
        for i in self.virtual_services.candidates(host) {
            let Some((ns, vs)) = self.routing.virtual_services.get(i) else { continue };
            let Some(spec) = vs.hosts.iter().filter_map(|h| specificity(h, ns, host)).max() else {
                continue;
            };
            if best.as_ref().is_none_or(|(b, _, _)| spec > *b) {
                best = Some((spec, ns.as_str(), &**vs));
            }
        }
        best.map(|(_, ns, vs)| (ns, vs))
    }

    /// The DestinationRule config for `host` (see [`Rule`]).
    pub fn destination_rule(&self, host: &str) -> Rule<'a> {
        let matching: Vec<(Specificity, &'a istio_planes_config::networking::DestinationRule)> =
            self.destination_rules
                .candidates(host)
                .into_iter()
                .filter_map(|i| self.routing.destination_rules.get(i))
                .filter_map(|(ns, dr)| specificity(&dr.host, ns, host).map(|s| (s, &**dr)))
                .collect();
        let Some(best) = matching.iter().map(|(s, _)| *s).max() else {
            return Rule::default();
        };
        let mut rule = Rule::default();
        for (_, dr) in matching.into_iter().filter(|(s, _)| *s == best) {
            if rule.top.is_none() {
                rule.top = dr.traffic_policy.as_ref();
            }
            for sub in &dr.subsets {
                if rule.subset(&sub.name).is_none() {
                    rule.subsets.push(sub);
                }
            }
        }
        rule
    }

    /// The merged traffic policy of cluster `outbound|port|subset|host`.
    pub fn policy(&self, host: &str, subset: &str, port: u32) -> Policy<'a> {
        let rule = self.destination_rule(host);
        let sub = if subset.is_empty() { None } else { rule.subset(subset) };
        Policy::merged(rule.top, sub.and_then(|s| s.traffic_policy.as_ref()), port)
    }
}

/// A traffic policy merged for one port and subset, as Istio's `MergeTrafficPolicy` does:
/// every component a level sets replaces the one before; port-level settings for the port
/// replace all four components (unset ones fall back to defaults, they do not inherit).
#[derive(Clone, Copy, Debug, Default)]
pub struct Policy<'a> {
    /// Load balancing.
    pub load_balancer: Option<&'a LoadBalancerSettings>,
    /// Connection pool.
    pub connection_pool: Option<&'a ConnectionPoolSettings>,
    /// Outlier detection.
    pub outlier_detection: Option<&'a OutlierDetection>,
    /// Upstream TLS.
    pub tls: Option<&'a ClientTlsSettings>,
    /// Retry budget (no port-level form).
    pub retry_budget: Option<&'a RetryBudget>,
}

impl<'a> Policy<'a> {
    /// `top` then `subset`, each with its port-level settings for `port`.
    pub fn merged(
        top: Option<&'a TrafficPolicy>,
        subset: Option<&'a TrafficPolicy>,
        port: u32,
    ) -> Self {
        let mut p = Policy::default();
        for tp in [top, subset].into_iter().flatten() {
            p.apply(tp, port);
        }
        p
    }

    fn apply(&mut self, tp: &'a TrafficPolicy, port: u32) {
        if tp.load_balancer.is_some() {
            self.load_balancer = tp.load_balancer.as_ref();
        }
        if tp.connection_pool.is_some() {
            self.connection_pool = tp.connection_pool.as_ref();
        }
        if tp.outlier_detection.is_some() {
            self.outlier_detection = tp.outlier_detection.as_ref();
        }
        if tp.tls.is_some() {
            self.tls = tp.tls.as_ref();
        }
        if tp.retry_budget.is_some() {
            self.retry_budget = tp.retry_budget.as_ref();
        }
        let pls = tp
            .port_level_settings
            .iter()
            .flatten()
            .find(|pls| pls.port.as_ref().is_some_and(|p| p.number == port));
        if let Some(pls) = pls {
            self.load_balancer = pls.load_balancer.as_ref();
            self.connection_pool = pls.connection_pool.as_ref();
            self.outlier_detection = pls.outlier_detection.as_ref();
            self.tls = pls.tls.as_ref();
        }
    }

    /// The consistent-hash settings, if the policy balances by consistent hash.
    pub fn consistent_hash(&self) -> Option<&'a ConsistentHashLb> {
        self.load_balancer.and_then(|lb| lb.consistent_hash.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(v: serde_json::Value) -> TrafficPolicy {
        serde_json::from_value(v).unwrap()
    }

    /// Istio's merge: port-level settings replace all components (unset ones revert to the
    /// default), a subset's components replace the top level's, the subset's port-level
    /// settings come last.
    #[test]
    fn merge_follows_istio() {
        let top = tp(serde_json::json!({
            "loadBalancer": {"simple": "RANDOM"},
            "connectionPool": {"tcp": {"maxConnections": 7}},
            "portLevelSettings": [{"port": {"number": 80}, "tls": {"mode": "SIMPLE"}}]
        }));
        let sub = tp(serde_json::json!({
            "outlierDetection": {"consecutive5xxErrors": 3},
            "portLevelSettings": [{"port": {"number": 81}, "loadBalancer": {"simple": "LEAST_REQUEST"}}]
        }));
        let p = Policy::merged(Some(&top), None, 80);
        assert!(p.load_balancer.is_none() && p.connection_pool.is_none() && p.tls.is_some());
        let p = Policy::merged(Some(&top), Some(&sub), 9);
        assert!(p.load_balancer.is_some() && p.connection_pool.is_some());
        assert!(p.outlier_detection.is_some());
        let p = Policy::merged(Some(&top), Some(&sub), 81);
        assert!(p.outlier_detection.is_none() && p.connection_pool.is_none());
        assert!(p.load_balancer.is_some_and(|lb| lb.simple.is_some()));
    }

    #[test]
    fn host_specificity() {
        assert_eq!(specificity("a", "ns", "a.ns.svc.cluster.local"), Some(Specificity::Exact));
        assert_eq!(specificity("a.b", "ns", "a.b"), Some(Specificity::Exact));
        assert_eq!(specificity("*.b.c", "ns", "a.b.c"), Some(Specificity::Wildcard(4)));
        assert_eq!(specificity("*.b.c", "ns", "b.c"), None);
        assert_eq!(specificity("a", "ns", "a.other.svc.cluster.local"), None);
        assert!(Specificity::Exact > Specificity::Wildcard(100));
    }
}
