//! `VirtualService`: its types and Istio's rules for it. This file holds the service as a whole
//! (hosts, gateways, delegation, `exportTo`) and its TLS and TCP routes; the HTTP routes, which
//! are most of the API, are in `http_route`.

mod http_route;

pub use http_route::{
    CorsPolicy, Delegate, FaultAbort, FaultDelay, HeaderOperations, Headers, HttpBody,
    HttpDirectResponse, HttpFaultInjection, HttpMatchRequest, HttpMirrorPolicy, HttpRedirect,
    HttpRetry, HttpRewrite, HttpRoute, HttpRouteDestination, Percent, RedirectPortSelection,
    RegexRewrite, UnmatchedPreflights, GRPC_CODES,
};

use serde::Deserialize;

use super::destination::{self, Destination};
use crate::common::StringMap;
use crate::rules::{
    export_to, host_matches, host_subset_of, is_dns1123_label, is_ip, labels, validate_fqdn,
    validate_ip_subnet, validate_port, validate_wildcard_domain,
    validate_wildcard_domain_for_gateway, Errs, ExportReach, ExportToNoOne, OutboundSni,
};

/// `VirtualService` spec.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VirtualService {
    /// Destination hosts the rules apply to.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Gateways (and/or `mesh`) the rules apply to.
    #[serde(default)]
    pub gateways: Vec<String>,
    /// HTTP routes.
    #[serde(default)]
    pub http: Vec<HttpRoute>,
    /// TLS (SNI) routes.
    #[serde(default)]
    pub tls: Vec<TlsRoute>,
    /// TCP routes.
    #[serde(default)]
    pub tcp: Vec<TcpRoute>,
    /// Namespaces the service is visible to.
    #[serde(default)]
    pub export_to: Vec<String>,
}

/// `TLSRoute`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TlsRoute {
    /// Match conditions.
    #[serde(default)]
    pub r#match: Vec<TlsMatchAttributes>,
    /// Destinations.
    #[serde(default)]
    pub route: Vec<RouteDestination>,
}

/// `TLSMatchAttributes`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TlsMatchAttributes {
    /// SNI values.
    #[serde(default)]
    pub sni_hosts: Vec<String>,
    /// Destination subnets.
    #[serde(default)]
    pub destination_subnets: Vec<String>,
    /// Port.
    #[serde(default)]
    pub port: u32,
    /// Source labels.
    #[serde(default)]
    pub source_labels: StringMap,
    /// Gateways.
    #[serde(default)]
    pub gateways: Vec<String>,
    /// Source namespace.
    #[serde(default)]
    pub source_namespace: String,
}

/// `TCPRoute`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TcpRoute {
    /// Match conditions.
    #[serde(default)]
    pub r#match: Vec<L4MatchAttributes>,
    /// Destinations.
    #[serde(default)]
    pub route: Vec<RouteDestination>,
}

/// `L4MatchAttributes`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct L4MatchAttributes {
    /// Destination subnets.
    #[serde(default)]
    pub destination_subnets: Vec<String>,
    /// Port.
    #[serde(default)]
    pub port: u32,
    /// Source subnet (deprecated).
    #[serde(default)]
    pub source_subnet: String,
    /// Source labels.
    #[serde(default)]
    pub source_labels: StringMap,
    /// Gateways.
    #[serde(default)]
    pub gateways: Vec<String>,
    /// Source namespace.
    #[serde(default)]
    pub source_namespace: String,
}

/// `RouteDestination` (TCP/TLS).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RouteDestination {
    /// Where to send traffic.
    pub destination: Option<Destination>,
    /// Relative weight.
    #[serde(default)]
    pub weight: i32,
}

// ---------------------------------------------------------------------------------------------
// Rules
// ---------------------------------------------------------------------------------------------

/// A header match on a JWT claim (`@request.auth.claims…`), which only gateways support.
pub(super) fn is_jwt_claim_route(header: &str) -> bool {
    header.starts_with("@request.auth.claims")
}

/// Gateway references: `name` (an FQDN) or `namespace/name` (two DNS labels).
pub(super) fn gateway_names(names: &[String], p: &str, e: &mut Errs) {
    for (i, g) in names.iter().enumerate() {
        let f = format!("{p}[{i}]");
        match g.split_once('/') {
            None => e.check(f, validate_fqdn(g)),
            Some((ns, name)) => {
                if ns.is_empty() || name.is_empty() {
                    e.add(&f, "config namespace and gateway name cannot be empty");
                }
                if !is_dns1123_label(ns) {
                    e.add(&f, format!("invalid value for namespace: {ns:?}"));
                }
                if !is_dns1123_label(name) {
                    e.add(&f, format!("invalid value for gateway name: {name:?}"));
                }
            }
        }
    }
}

/// What a virtual service is to the services that refer to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum VsRole {
    /// It names hosts: it is reached directly, and its HTTP routes may delegate to other
    /// virtual services.
    Hosted,
    /// It names no hosts: it is a delegate, reached only through another service's delegating
    /// route, and may not delegate further.
    Delegate,
}

/// Where a virtual service applies; hosts and SNI names are checked differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BoundTo {
    /// The mesh's sidecars (no `gateways`, or `mesh` among them).
    Mesh,
    /// Only the named gateways.
    GatewaysOnly,
}

/// Istio's rules for a `VirtualService` spec in `namespace`.
pub(crate) fn validate(vs: &VirtualService, namespace: &str, e: &mut Errs) {
    let role = if vs.hosts.is_empty() { VsRole::Delegate } else { VsRole::Hosted };
    if role == VsRole::Delegate {
        if !vs.gateways.is_empty() {
            e.add("spec.gateways", "delegate virtual service must have no gateways specified");
        }
        if !vs.tls.is_empty() {
            e.add("spec.tls", "delegate virtual service must have no tls route specified");
        }
        if !vs.tcp.is_empty() {
            e.add("spec.tcp", "delegate virtual service must have no tcp route specified");
        }
    }
    let bound = if !vs.gateways.is_empty() && !vs.gateways.iter().any(|g| g == "mesh") {
        BoundTo::GatewaysOnly
    } else {
        BoundTo::Mesh
    };
    gateway_names(&vs.gateways, "spec.gateways", e);

    if bound == BoundTo::Mesh {
        for (i, h) in vs.http.iter().enumerate() {
            for (j, m) in h.r#match.iter().enumerate() {
                for key in m.headers.keys().chain(m.without_headers.keys()) {
                    if is_jwt_claim_route(key) {
                        e.add(
                            format!("spec.http[{i}].match[{j}].headers.{key}"),
                            format!("JWT claim based routing (key: {key}) is only supported for gateway"),
                        );
                    }
                }
            }
        }
    }

    // Generated `outbound_` SNI names are accepted as hosts when TLS routes match on SNI.
    let outbound_sni = if vs.tls.iter().any(|t| t.r#match.iter().any(|m| !m.sni_hosts.is_empty())) {
        OutboundSni::Allowed
    } else {
        OutboundSni::Refused
    };
    let mut all_hosts_valid = true;
    for (i, h) in vs.hosts.iter().enumerate() {
        let r = match bound {
            BoundTo::GatewaysOnly => validate_wildcard_domain_for_gateway(outbound_sni, h),
            BoundTo::Mesh => validate_wildcard_domain(h),
        };
        match r {
            Err(m) if !is_ip(h) => {
                e.add(format!("spec.hosts[{i}]"), m);
                all_hosts_valid = false;
            }
            Ok(()) if bound == BoundTo::Mesh && h == "*" => {
                e.add(
                    format!("spec.hosts[{i}]"),
                    "wildcard host * is not allowed for virtual services bound to the mesh gateway",
                );
                all_hosts_valid = false;
            }
            _ => {}
        }
    }
    if all_hosts_valid {
        for i in 0..vs.hosts.len() {
            for j in i + 1..vs.hosts.len() {
                if host_matches(&vs.hosts[i], &vs.hosts[j]) {
                    e.add(
                        format!("spec.hosts[{j}]"),
                        format!(
                            "duplicate hosts in virtual service: {} & {}",
                            vs.hosts[i], vs.hosts[j]
                        ),
                    );
                }
            }
        }
    }

    if vs.http.is_empty() && vs.tcp.is_empty() && vs.tls.is_empty() {
        e.add("spec", "http, tcp or tls must be provided in virtual service");
    }
    for (i, r) in vs.http.iter().enumerate() {
        http_route::validate(r, &format!("spec.http[{i}]"), role, e);
    }
    for (i, r) in vs.tls.iter().enumerate() {
        let p = format!("spec.tls[{i}]");
        if r.r#match.is_empty() {
            e.add(format!("{p}.match"), "TLS route must have at least one match condition");
        }
        for (j, m) in r.r#match.iter().enumerate() {
            tls_match(m, &format!("{p}.match[{j}]"), vs, bound, e);
        }
        if r.route.is_empty() {
            e.add(format!("{p}.route"), "TLS route is required");
        }
        route_destinations(&r.route, &format!("{p}.route"), e);
    }
    for (i, r) in vs.tcp.iter().enumerate() {
        let p = format!("spec.tcp[{i}]");
        for (j, m) in r.r#match.iter().enumerate() {
            let mp = format!("{p}.match[{j}]");
            for (k, s) in m.destination_subnets.iter().enumerate() {
                e.check(format!("{mp}.destinationSubnets[{k}]"), validate_ip_subnet(s));
            }
            if m.port != 0 {
                e.check(format!("{mp}.port"), validate_port(m.port.into()));
            }
            labels(&m.source_labels, &format!("{mp}.sourceLabels"), e);
            gateway_names(&m.gateways, &format!("{mp}.gateways"), e);
            if !m.source_subnet.is_empty() {
                e.check(format!("{mp}.sourceSubnet"), validate_ip_subnet(&m.source_subnet));
            }
            if !m.source_namespace.is_empty() && !is_dns1123_label(&m.source_namespace) {
                e.add(format!("{mp}.sourceNamespace"), "sourceNamespace is invalid");
            }
        }
        if r.route.is_empty() {
            e.add(format!("{p}.route"), "TCP route is required");
        }
        route_destinations(&r.route, &format!("{p}.route"), e);
    }
    export_to(namespace, &vs.export_to, ExportToNoOne::Refused, ExportReach::AnyNamespace, e);
}

fn tls_match(m: &TlsMatchAttributes, p: &str, vs: &VirtualService, bound: BoundTo, e: &mut Errs) {
    if m.sni_hosts.is_empty() {
        e.add(format!("{p}.sniHosts"), "TLS match must have at least one SNI host");
    }
    for (k, sni) in m.sni_hosts.iter().enumerate() {
        let f = format!("{p}.sniHosts[{k}]");
        let r = match bound {
            BoundTo::GatewaysOnly => {
                validate_wildcard_domain_for_gateway(OutboundSni::Allowed, sni)
            }
            BoundTo::Mesh => validate_wildcard_domain(sni),
        };
        match r {
            // An IP is only a warning (against the SNI spec).
            Err(_) if is_ip(sni) => {}
            Err(msg) => e.add(f, msg),
            Ok(()) => {
                if !vs.hosts.iter().any(|h| host_subset_of(sni, h)) {
                    e.add(
                        f,
                        format!(
                            "SNI host {sni:?} is not a compatible subset of any of the virtual service hosts: [{}]",
                            vs.hosts.join(", ")
                        ),
                    );
                }
            }
        }
    }
    for (k, s) in m.destination_subnets.iter().enumerate() {
        e.check(format!("{p}.destinationSubnets[{k}]"), validate_ip_subnet(s));
    }
    if m.port != 0 {
        e.check(format!("{p}.port"), validate_port(m.port.into()));
    }
    labels(&m.source_labels, &format!("{p}.sourceLabels"), e);
    gateway_names(&m.gateways, &format!("{p}.gateways"), e);
}

/// Weights are optional; when given they must add up to 100 (several destinations all at
/// weight 0 are refused too).
pub(super) fn weights(ws: &[i32], p: &str, e: &mut Errs) {
    let mut total: i64 = 0;
    for (i, w) in ws.iter().enumerate() {
        if *w < 0 {
            e.add(format!("{p}[{i}].weight"), format!("weight {w} < 0"));
        }
        total += i64::from(*w);
    }
    if ws.iter().any(|w| *w != 0) {
        if total != 100 {
            e.add(p, format!("total destination weight {total} != 100"));
        }
    } else if ws.len() > 1 {
        e.add(p, "total destination weight = 0");
    }
}

fn route_destinations(routes: &[RouteDestination], p: &str, e: &mut Errs) {
    for (i, r) in routes.iter().enumerate() {
        let rp = format!("{p}[{i}]");
        match &r.destination {
            None => e.add(format!("{rp}.destination"), "destination is required"),
            Some(d) => destination::validate(d, &format!("{rp}.destination"), e),
        }
    }
    weights(&routes.iter().map(|r| r.weight).collect::<Vec<_>>(), p, e);
}

#[cfg(test)]
mod tests {
    use crate::validate::spec_errors as errors;

    fn vs_with_weights(ws: &[i64]) -> serde_json::Value {
        let routes: Vec<_> = ws
            .iter()
            .map(|w| serde_json::json!({"destination": {"host": "a"}, "weight": w}))
            .collect();
        serde_json::json!({"hosts": ["a"], "http": [{"route": routes}]})
    }

    #[test]
    fn weights_must_sum_to_100() {
        assert!(errors("VirtualService", vs_with_weights(&[80, 20])).is_empty());
        assert!(errors("VirtualService", vs_with_weights(&[100])).is_empty());
        assert!(errors("VirtualService", vs_with_weights(&[0])).is_empty());
        let e = errors("VirtualService", vs_with_weights(&[80, 30]));
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].field, "spec.http[0].route");
        assert!(e[0].message.contains("!= 100"));
        let e = errors("VirtualService", vs_with_weights(&[0, 0]));
        assert!(e[0].message.contains("total destination weight = 0"));
        let e = errors("VirtualService", vs_with_weights(&[-10, 110]));
        assert!(e.iter().any(|x| x.field == "spec.http[0].route[0].weight"), "{e:?}");
    }

    #[test]
    fn tls_route_sni_hosts() {
        let vs = |sni: &str| serde_json::json!({"hosts": ["*.example.com"], "tls": [{"match": [{"sniHosts": [sni]}], "route": [{"destination": {"host": "a"}}]}]});
        assert!(errors("VirtualService", vs("a.example.com")).is_empty());
        let e = errors("VirtualService", vs("a.other.com"));
        assert_eq!(e[0].field, "spec.tls[0].match[0].sniHosts[0]");
    }

    #[test]
    fn host_rules() {
        let vs = |h: &str| serde_json::json!({"hosts": [h], "http": [{"route": [{"destination": {"host": "a"}}]}]});
        assert!(errors("VirtualService", vs("*.example.com")).is_empty());
        assert!(!errors("VirtualService", vs("*")).is_empty(), "mesh-bound * is refused");
        assert!(!errors("VirtualService", vs("foo*.com")).is_empty());
    }
}
