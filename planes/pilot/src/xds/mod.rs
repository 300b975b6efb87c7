//! Translation of the registry into Envoy xDS v3 resources (types from `envoy-types`), in the
//! shape gRPC's proxyless clients accept for a target `xds:///host:port`, with Istio's
//! VirtualService and DestinationRule semantics:
//!
//! - LDS: a Listener named `host:port` whose `api_listener` is an HttpConnectionManager that
//!   takes its routes over ADS (RDS name `host:port`) and ends with the router filter; the CORS
//!   and fault filters come before the router when a route uses them ([`listener`]);
//! - RDS: a RouteConfiguration `host:port` with one virtual host for `host:port` and `host`: the
//!   VirtualService's HTTP routes, or a default route `/` to the service's cluster ([`route`]);
//! - CDS: a Cluster `outbound|port|subset|host` of type EDS over ADS per service port and
//!   DestinationRule subset, shaped by the merged traffic policy ([`policy`], [`cluster`]);
//! - EDS: its ClusterLoadAssignment, endpoints grouped by locality, every locality weighted
//!   (gRPC drops localities without a weight), unhealthy endpoints marked ([`endpoint`]).
//!
//! Pure functions: the same registry gives equal resources. (Routes carry
//! `typed_per_filter_config`, a `HashMap`: a route with both a fault and a CORS policy may
//! encode its two entries in either order.) Odd input never panics: what cannot be translated
//! is skipped and the rest goes on.

pub mod cluster;
pub mod endpoint;
pub mod incremental;
pub mod listener;
pub mod policy;
pub mod route;

use std::collections::BTreeMap;
use std::sync::Arc;

use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use envoy_types::pb::envoy::config::core::v3::config_source::ConfigSourceSpecifier;
use envoy_types::pb::envoy::config::core::v3::{AggregatedConfigSource, ApiVersion, ConfigSource};
use envoy_types::pb::envoy::config::endpoint::v3::ClusterLoadAssignment;
use envoy_types::pb::envoy::config::listener::v3::Listener;
use envoy_types::pb::envoy::config::route::v3::{RouteConfiguration, VirtualHost};
use envoy_types::pb::google::protobuf::Any;
use prost::Message;

use super::registry::Service;
use istio_planes_config::common::Duration;
use istio_planes_config::networking::{DestinationRule, VirtualService};
use policy::Scope;

/// Type URL of Listener (LDS).
pub const LISTENER: &str = "type.googleapis.com/envoy.config.listener.v3.Listener";
/// Type URL of RouteConfiguration (RDS).
pub const ROUTE: &str = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";
/// Type URL of Cluster (CDS).
pub const CLUSTER: &str = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
/// Type URL of ClusterLoadAssignment (EDS).
pub const ENDPOINT: &str = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";

/// Packs `m` as a `google.protobuf.Any` of type `type_url`.
pub fn pack<M: Message>(type_url: &str, m: &M) -> Any {
    Any { type_url: type_url.to_owned(), value: m.encode_to_vec() }
}

/// Istio's outbound cluster name: `outbound|<port>|<subset>|<host>`.
pub fn cluster_name(host: &str, port: u32, subset: &str) -> String {
    format!("outbound|{port}|{subset}|{host}")
}

/// A config source that is the ADS stream itself.
pub fn ads() -> ConfigSource {
    ConfigSource {
        resource_api_version: ApiVersion::V3 as i32,
        config_source_specifier: Some(ConfigSourceSpecifier::Ads(AggregatedConfigSource {})),
        ..Default::default()
    }
}

/// A `google.protobuf.Duration` from an Istio duration; negative ones (which validation
/// refuses) become zero, longer than `i64::MAX` seconds saturate.
pub fn duration(d: Duration) -> envoy_types::pb::google::protobuf::Duration {
    let n = d.nanos.max(0);
    envoy_types::pb::google::protobuf::Duration {
        seconds: i64::try_from(n / 1_000_000_000).unwrap_or(i64::MAX),
        nanos: i32::try_from(n % 1_000_000_000).unwrap_or(0),
    }
}

/// Every resource for the registry's services, by type URL, each keyed by resource name.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Resources {
    /// LDS.
    pub listeners: BTreeMap<String, Listener>,
    /// RDS.
    pub routes: BTreeMap<String, RouteConfiguration>,
    /// CDS.
    pub clusters: BTreeMap<String, Cluster>,
    /// EDS.
    pub endpoints: BTreeMap<String, ClusterLoadAssignment>,
}

/// Routing config the translation applies: VirtualServices and DestinationRules with their
/// namespaces, in (namespace, name) order. The specs are shared with the registry view, which
/// keeps an object's `Arc` while it does not change: two `Routing`s taken at different
/// revisions differ exactly in the entries whose `Arc`s differ ([`incremental`] relies on it).
#[derive(Clone, Debug, Default)]
pub struct Routing {
    /// VirtualServices.
    pub virtual_services: Vec<(String, Arc<VirtualService>)>,
    /// DestinationRules.
    pub destination_rules: Vec<(String, Arc<DestinationRule>)>,
}

/// Translates services into proxyless xDS resources.
///
/// A service whose host a VirtualService bound to the mesh names gets that VirtualService's
/// HTTP routes (the first such VirtualService, in `routing` order); any other gets Istio's
/// default route to its own cluster. Every service port gets a cluster, and every
/// DestinationRule subset of the service one more, `outbound|port|subset|host`, whose
/// endpoints are the ones carrying the subset's labels; each is shaped by the DestinationRule's
/// traffic policy merged for that port and subset, as Istio merges it.
pub fn translate(services: &[Service], routing: &Routing) -> Resources {
    let scope = Scope::new(services, routing);
    let mut out = Resources::default();
    for s in services {
        service(&scope, s, &mut out, false);
    }
    out
}

/// The ClusterLoadAssignments of the services at `which` (indexes into `services`), exactly as
/// [`translate`] makes them: what an endpoint-only change needs.
pub fn translate_endpoints(
    services: &[Service],
    which: &[usize],
    routing: &Routing,
) -> BTreeMap<String, ClusterLoadAssignment> {
    let scope = Scope::new(services, routing);
    let mut out = Resources::default();
    for s in which.iter().filter_map(|i| services.get(*i)) {
        service(&scope, s, &mut out, true);
    }
    out.endpoints
}

/// Translates one service into `out` (only its ClusterLoadAssignments if `endpoints_only`).
fn service(scope: &Scope<'_>, s: &Service, out: &mut Resources, endpoints_only: bool) {
    let rule = scope.destination_rule(&s.host);
    for p in &s.ports {
        let default = cluster_name(&s.host, p.number, "");
        let top = policy::Policy::merged(rule.top, None, p.number);
        out.endpoints
            .insert(default.clone(), endpoint::load_assignment(&default, s, p, None, &top));
        for sub in &rule.subsets {
            let c = cluster_name(&s.host, p.number, &sub.name);
            let merged = policy::Policy::merged(rule.top, sub.traffic_policy.as_ref(), p.number);
            out.endpoints
                .insert(c.clone(), endpoint::load_assignment(&c, s, p, Some(&sub.labels), &merged));
            if !endpoints_only {
                out.clusters.insert(c.clone(), cluster::cluster(&c, s, p, &sub.name, &merged));
            }
        }
        if endpoints_only {
            continue;
        }
        out.clusters.insert(default.clone(), cluster::cluster(&default, s, p, "", &top));
        let name = format!("{}:{}", s.host, p.number);
        let routes = match scope.virtual_service(&s.host) {
            Some((ns, vs)) => route::vs_routes(scope, ns, vs, p.number),
            None => vec![route::default_route(scope, s, p)],
        };
        out.listeners.insert(name.clone(), listener::listener(&name, &routes));
        out.routes.insert(
            name.clone(),
            RouteConfiguration {
                name: name.clone(),
                virtual_hosts: vec![VirtualHost {
                    name: name.clone(),
                    domains: vec![name.clone(), s.host.clone()],
                    routes,
                    ..Default::default()
                }],
                ..Default::default()
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use envoy_types::pb::envoy::config::cluster::v3::cluster::{
        ClusterDiscoveryType, DiscoveryType, LbPolicy,
    };
    use envoy_types::pb::envoy::config::core::v3::address::Address as AddressKind;
    use envoy_types::pb::envoy::config::core::v3::socket_address::PortSpecifier;
    use envoy_types::pb::envoy::config::endpoint::v3::lb_endpoint::HostIdentifier;
    use envoy_types::pb::envoy::config::endpoint::v3::LbEndpoint;
    use envoy_types::pb::envoy::config::route::v3::route::Action;
    use envoy_types::pb::envoy::config::route::v3::route_action::ClusterSpecifier;
    use envoy_types::pb::envoy::config::route::v3::route_match::PathSpecifier;
    use envoy_types::pb::envoy::config::route::v3::RouteAction;
    use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::http_connection_manager::RouteSpecifier;
    use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager;

    use super::*;
    use crate::registry::{Endpoint as RegEndpoint, ServicePort};
    use istio_planes_config::networking::Resolution;

    fn service() -> Service {
        let ep = |addr: &str, loc: &str, w| RegEndpoint {
            address: addr.into(),
            ports: Default::default(),
            labels: Default::default(),
            locality: loc.into(),
            weight: w,
            source: "default/x".into(),
            healthy: true,
        };
        Service {
            host: "echo.example.com".into(),
            namespace: "default".into(),
            ports: vec![ServicePort {
                number: 8080,
                name: "grpc".into(),
                protocol: "GRPC".into(),
                target_port: 9000,
            }],
            resolution: Resolution::STATIC,
            endpoints: vec![
                ep("10.0.0.1", "us/east/a", 0),
                ep("10.0.0.2", "us/east/a", 3),
                ep("10.0.0.3", "", 0),
            ],
        }
    }

    /// The proxyless shape gRPC requires: api_listener HCM over RDS ending with the router,
    /// an EDS cluster over ADS with round robin, every locality weighted and located.
    #[test]
    fn proxyless_resources_for_one_service_port() {
        let r = translate(&[service()], &Routing::default());
        let name = "echo.example.com:8080";
        let cluster = "outbound|8080||echo.example.com";
        let l = &r.listeners[name];
        let any = l.api_listener.as_ref().and_then(|a| a.api_listener.as_ref()).unwrap();
        assert_eq!(any.type_url, listener::HCM);
        let hcm = HttpConnectionManager::decode(any.value.as_slice()).unwrap();
        assert_eq!(hcm.http_filters.last().unwrap().name, "envoy.filters.http.router");
        match hcm.route_specifier {
            Some(RouteSpecifier::Rds(rds)) => assert_eq!(rds.route_config_name, name),
            other => panic!("{other:?}"),
        }
        let vh = &r.routes[name].virtual_hosts[0];
        assert_eq!(vh.domains, [name, "echo.example.com"]);
        match &vh.routes[0].action {
            Some(Action::Route(RouteAction {
                cluster_specifier: Some(ClusterSpecifier::Cluster(c)),
                ..
            })) => assert_eq!(c, cluster),
            other => panic!("{other:?}"),
        }
        let c = &r.clusters[cluster];
        assert_eq!(
            c.cluster_discovery_type,
            Some(ClusterDiscoveryType::Type(DiscoveryType::Eds as i32))
        );
        assert_eq!(c.lb_policy, LbPolicy::RoundRobin as i32);
        let cla = &r.endpoints[cluster];
        assert_eq!(cla.endpoints.len(), 2, "two localities");
        for l in &cla.endpoints {
            assert!(l.locality.is_some() && l.load_balancing_weight.as_ref().unwrap().value > 0);
        }
        let east =
            cla.endpoints.iter().find(|l| l.locality.as_ref().unwrap().region == "us").unwrap();
        assert_eq!(east.load_balancing_weight.as_ref().unwrap().value, 4);
        let port = |e: &LbEndpoint| match &e.host_identifier {
            Some(HostIdentifier::Endpoint(ep)) => match &ep.address.as_ref().unwrap().address {
                Some(AddressKind::SocketAddress(sa)) => sa.port_specifier.clone(),
                _ => None,
            },
            _ => None,
        };
        assert_eq!(port(&east.lb_endpoints[0]), Some(PortSpecifier::PortValue(9000)));
        // Deterministic: the same input gives the same resources.
        assert_eq!(translate(&[service()], &Routing::default()), r);
    }

    fn spec<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> Arc<T> {
        Arc::new(serde_json::from_value(v).unwrap())
    }

    /// A VirtualService splitting traffic between two DestinationRule subsets: weighted
    /// clusters named `outbound|port|subset|host`, each subset cluster holding only the
    /// endpoints with its labels; a URI-prefix route comes first, in order.
    #[test]
    fn virtual_service_weights_and_subsets() {
        let mut s = service();
        s.endpoints[0].labels.insert("version".into(), "v1".into());
        s.endpoints[1].labels.insert("version".into(), "v2".into());
        let routing = Routing {
            virtual_services: vec![(
                "default".into(),
                spec(serde_json::json!({
                    "hosts": ["echo.example.com"],
                    "http": [
                        {"match": [{"uri": {"prefix": "/admin"}}],
                         "route": [{"destination": {"host": "echo.example.com", "subset": "v1"}}]},
                        {"route": [
                            {"destination": {"host": "echo.example.com", "subset": "v1"}, "weight": 100},
                            {"destination": {"host": "echo.example.com", "subset": "v2"}, "weight": 0}
                        ]}
                    ]
                })),
            )],
            destination_rules: vec![(
                "default".into(),
                spec(serde_json::json!({
                    "host": "echo.example.com",
                    "subsets": [{"name": "v1", "labels": {"version": "v1"}},
                                {"name": "v2", "labels": {"version": "v2"}}]
                })),
            )],
        };
        let r = translate(&[s], &routing);
        let routes = &r.routes["echo.example.com:8080"].virtual_hosts[0].routes;
        assert_eq!(routes.len(), 2);
        assert_eq!(
            routes[0].r#match.as_ref().unwrap().path_specifier,
            Some(PathSpecifier::Prefix("/admin".into()))
        );
        match &routes[1].action {
            Some(Action::Route(RouteAction {
                cluster_specifier: Some(ClusterSpecifier::WeightedClusters(w)),
                ..
            })) => {
                let got: Vec<(&str, u32)> = w
                    .clusters
                    .iter()
                    .map(|c| (c.name.as_str(), c.weight.as_ref().unwrap().value))
                    .collect();
                assert_eq!(
                    got,
                    [
                        ("outbound|8080|v1|echo.example.com", 100),
                        ("outbound|8080|v2|echo.example.com", 0)
                    ]
                );
            }
            other => panic!("{other:?}"),
        }
        let v2 = &r.endpoints["outbound|8080|v2|echo.example.com"];
        let n: usize = v2.endpoints.iter().map(|l| l.lb_endpoints.len()).sum();
        assert_eq!(n, 1, "only the v2-labelled endpoint");
        assert!(r.clusters.contains_key("outbound|8080|v1|echo.example.com"));
    }

    /// Istio resolves a short host (`echo`) in a VirtualService or DestinationRule against the
    /// object's namespace (`echo.<ns>.svc.cluster.local`); a VirtualService bound only to
    /// gateways does not apply to the mesh.
    #[test]
    fn short_hosts_resolve_in_the_namespace_and_gateway_bound_services_are_ignored() {
        let mut s = service();
        s.host = "echo.prod.svc.cluster.local".into();
        let vs = |gateways: serde_json::Value| -> Arc<VirtualService> {
            spec(serde_json::json!({
                "hosts": ["echo"],
                "gateways": gateways,
                "http": [{"route": [{"destination": {"host": "echo", "subset": "v1"}}]}]
            }))
        };
        let routing = Routing {
            virtual_services: vec![
                ("prod".into(), vs(serde_json::json!(["ingress"]))),
                ("prod".into(), vs(serde_json::json!([]))),
            ],
            destination_rules: vec![(
                "prod".into(),
                spec(serde_json::json!({"host": "echo", "subsets": [{"name": "v1"}]})),
            )],
        };
        let r = translate(&[s], &routing);
        let name = "echo.prod.svc.cluster.local:8080";
        match &r.routes[name].virtual_hosts[0].routes[0].action {
            Some(Action::Route(RouteAction {
                cluster_specifier: Some(ClusterSpecifier::Cluster(c)),
                ..
            })) => assert_eq!(c, "outbound|8080|v1|echo.prod.svc.cluster.local"),
            other => panic!("{other:?}"),
        }
        assert!(r.clusters.contains_key("outbound|8080|v1|echo.prod.svc.cluster.local"));
    }

    /// Odd input degrades: a route without destinations, a delegate, an abort with an unknown
    /// gRPC status, a redirect with an unsupported code and a zero-weight split are skipped or
    /// repaired, never a panic, and the routes that can be translated still are.
    #[test]
    fn odd_input_is_skipped_not_fatal() {
        let routing = Routing {
            virtual_services: vec![(
                "default".into(),
                spec(serde_json::json!({
                    "hosts": ["echo.example.com"],
                    "http": [
                        {"match": [{"uri": {"prefix": "/a"}}]},
                        {"match": [{"uri": {"prefix": "/b"}}], "delegate": {"name": "x"}},
                        {"match": [{"uri": {"prefix": "/c"}}], "redirect": {"uri": "/x", "redirectCode": 399}},
                        {"match": [{"uri": {"prefix": "/d"}}],
                         "fault": {"abort": {"grpcStatus": "NOPE", "percentage": {"value": 5}}},
                         "route": [{"destination": {"host": "echo.example.com"}}]},
                        {"route": [
                            {"destination": {"host": "echo.example.com"}, "weight": 0},
                            {"destination": {"host": "echo.example.com"}, "weight": 0}
                        ]}
                    ]
                })),
            )],
            destination_rules: vec![],
        };
        let r = translate(&[service()], &routing);
        let routes = &r.routes["echo.example.com:8080"].virtual_hosts[0].routes;
        assert_eq!(routes.len(), 2, "{routes:#?}");
        assert!(routes[0].typed_per_filter_config.is_empty(), "no fault left to inject");
        match &routes[1].action {
            Some(Action::Route(RouteAction {
                cluster_specifier: Some(ClusterSpecifier::WeightedClusters(w)),
                ..
            })) => {
                let total: u32 =
                    w.clusters.iter().filter_map(|c| c.weight.as_ref()).map(|w| w.value).sum();
                assert!(total > 0);
            }
            other => panic!("{other:?}"),
        }
    }
}
