//! Translation of the registry into Envoy xDS v3 resources (types from `envoy-types`), in the
//! shape gRPC's proxyless clients accept for a target `xds:///host:port`:
//!
//! - LDS: a Listener named `host:port` whose `api_listener` is an HttpConnectionManager that
//!   takes its routes over ADS (RDS name `host:port`) and ends with the router filter;
//! - RDS: a RouteConfiguration `host:port` with one virtual host for `host:port` and `host`,
//!   routing `/` to the service's cluster;
//! - CDS: a Cluster `outbound|port||host` of type EDS over ADS, round robin;
//! - EDS: its ClusterLoadAssignment, endpoints grouped by locality, every locality weighted
//!   (gRPC drops localities without a weight).
//!
//! Pure functions: the same registry gives the same resources, byte for byte.

use std::collections::BTreeMap;

use envoy_types::pb::envoy::config::cluster::v3::cluster::{
    ClusterDiscoveryType, DiscoveryType, EdsClusterConfig, LbPolicy,
};
use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use envoy_types::pb::envoy::config::core::v3::address::Address as AddressKind;
use envoy_types::pb::envoy::config::core::v3::config_source::ConfigSourceSpecifier;
use envoy_types::pb::envoy::config::core::v3::socket_address::PortSpecifier;
use envoy_types::pb::envoy::config::core::v3::{
    Address, AggregatedConfigSource, ApiVersion, ConfigSource, Locality, SocketAddress,
};
use envoy_types::pb::envoy::config::endpoint::v3::lb_endpoint::HostIdentifier;
use envoy_types::pb::envoy::config::endpoint::v3::{
    ClusterLoadAssignment, Endpoint, LbEndpoint, LocalityLbEndpoints,
};
use envoy_types::pb::envoy::config::listener::v3::{ApiListener, Listener};
use envoy_types::pb::envoy::config::route::v3::route::Action;
use envoy_types::pb::envoy::config::route::v3::route_action::ClusterSpecifier;
use envoy_types::pb::envoy::config::route::v3::route_match::PathSpecifier;
use envoy_types::pb::envoy::config::route::v3::weighted_cluster::ClusterWeight;
use envoy_types::pb::envoy::config::route::v3::{
    Route, RouteAction, RouteConfiguration, RouteMatch, VirtualHost, WeightedCluster,
};
use envoy_types::pb::envoy::r#type::matcher::v3::RegexMatcher;
use envoy_types::pb::envoy::extensions::filters::http::router::v3::Router;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::http_connection_manager::RouteSpecifier;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::http_filter::ConfigType;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::{
    HttpConnectionManager, HttpFilter, Rds,
};
use envoy_types::pb::google::protobuf::{Any, UInt32Value};
use prost::Message;

use super::registry::{Service, ServicePort};
use crate::config::common::{StringMap, StringMatch};
use crate::config::networking::{DestinationRule, HttpMatchRequest, Subset, VirtualService};

/// Type URL of Listener (LDS).
pub const LISTENER: &str = "type.googleapis.com/envoy.config.listener.v3.Listener";
/// Type URL of RouteConfiguration (RDS).
pub const ROUTE: &str = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";
/// Type URL of Cluster (CDS).
pub const CLUSTER: &str = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
/// Type URL of ClusterLoadAssignment (EDS).
pub const ENDPOINT: &str = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";
const HCM: &str = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
const ROUTER: &str = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router";

/// Packs `m` as a `google.protobuf.Any` of type `type_url`.
pub fn pack<M: Message>(type_url: &str, m: &M) -> Any {
    Any { type_url: type_url.to_owned(), value: m.encode_to_vec() }
}

/// Istio's outbound cluster name: `outbound|<port>|<subset>|<host>`.
pub fn cluster_name(host: &str, port: u32, subset: &str) -> String {
    format!("outbound|{port}|{subset}|{host}")
}

fn ads() -> ConfigSource {
    ConfigSource {
        resource_api_version: ApiVersion::V3 as i32,
        config_source_specifier: Some(ConfigSourceSpecifier::Ads(AggregatedConfigSource {})),
        ..Default::default()
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
/// namespaces.
#[derive(Debug, Default)]
pub struct Routing {
    /// VirtualServices.
    pub virtual_services: Vec<(String, VirtualService)>,
    /// DestinationRules.
    pub destination_rules: Vec<(String, DestinationRule)>,
}

/// Translates services into proxyless xDS resources. A service whose host a VirtualService
/// names gets that VirtualService's HTTP routes (matches on the URI, weighted destinations,
/// subsets); any other gets a default route to its own cluster. Every DestinationRule subset
/// of a service becomes a cluster `outbound|port|subset|host` whose endpoints are the ones
/// carrying the subset's labels.
pub fn translate(services: &[Service], routing: &Routing) -> Resources {
    let mut out = Resources::default();
    for s in services {
        let subsets: Vec<&Subset> = routing
            .destination_rules
            .iter()
            .filter(|(_, dr)| dr.host == s.host)
            .flat_map(|(_, dr)| dr.subsets.iter())
            .collect();
        let vs = routing
            .virtual_services
            .iter()
            .find(|(_, vs)| vs.hosts.contains(&s.host))
            .map(|(_, vs)| vs);
        for p in &s.ports {
            let name = format!("{}:{}", s.host, p.number);
            let cluster = cluster_name(&s.host, p.number, "");
            out.listeners.insert(name.clone(), listener(&name));
            let routes = match vs {
                Some(vs) => vs_routes(vs, &s.host, p.number),
                None => vec![route_to(prefix("/"), ClusterSpecifier::Cluster(cluster.clone()))],
            };
            out.routes.insert(name.clone(), route_config(&name, &s.host, routes));
            out.clusters.insert(cluster.clone(), eds_cluster(&cluster));
            out.endpoints.insert(cluster.clone(), load_assignment(&cluster, s, p, None));
            for sub in &subsets {
                let c = cluster_name(&s.host, p.number, &sub.name);
                out.clusters.insert(c.clone(), eds_cluster(&c));
                out.endpoints.insert(c.clone(), load_assignment(&c, s, p, Some(&sub.labels)));
            }
        }
    }
    out
}

fn prefix(p: &str) -> RouteMatch {
    RouteMatch { path_specifier: Some(PathSpecifier::Prefix(p.to_owned())), ..Default::default() }
}

fn route_to(m: RouteMatch, to: ClusterSpecifier) -> Route {
    Route {
        r#match: Some(m),
        action: Some(Action::Route(RouteAction {
            cluster_specifier: Some(to),
            ..Default::default()
        })),
        ..Default::default()
    }
}

fn uri_match(m: &HttpMatchRequest) -> RouteMatch {
    let path = match &m.uri {
        Some(StringMatch { exact: Some(e), .. }) => PathSpecifier::Path(e.clone()),
        Some(StringMatch { prefix: Some(p), .. }) => PathSpecifier::Prefix(p.clone()),
        Some(StringMatch { regex: Some(r), .. }) => {
            PathSpecifier::SafeRegex(RegexMatcher { regex: r.clone(), ..Default::default() })
        }
        _ => PathSpecifier::Prefix("/".into()),
    };
    RouteMatch { path_specifier: Some(path), ..Default::default() }
}

/// A VirtualService's HTTP routes for `host:port`, in order: each match of each route is one
/// Envoy route (an `http` route without matches matches everything).
fn vs_routes(vs: &VirtualService, host: &str, port: u32) -> Vec<Route> {
    let mut out = Vec::new();
    for http in &vs.http {
        let dests: Vec<(String, u32)> = http
            .route
            .iter()
            .flatten()
            .filter_map(|d| {
                let dest = d.destination.as_ref()?;
                let p = dest.port.as_ref().map_or(port, |p| p.number);
                let h = if dest.host.is_empty() { host } else { &dest.host };
                Some((cluster_name(h, p, &dest.subset), d.weight.max(0) as u32))
            })
            .collect();
        let to = match dests.as_slice() {
            [] => continue,
            [(c, _)] => ClusterSpecifier::Cluster(c.clone()),
            many => ClusterSpecifier::WeightedClusters(WeightedCluster {
                clusters: many
                    .iter()
                    .map(|(c, w)| ClusterWeight {
                        name: c.clone(),
                        weight: Some(UInt32Value { value: *w }),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }),
        };
        if http.r#match.is_empty() {
            out.push(route_to(prefix("/"), to));
        } else {
            for m in &http.r#match {
                out.push(route_to(uri_match(m), to.clone()));
            }
        }
    }
    out
}

fn listener(name: &str) -> Listener {
    let hcm = HttpConnectionManager {
        stat_prefix: name.to_owned(),
        route_specifier: Some(RouteSpecifier::Rds(Rds {
            config_source: Some(ads()),
            route_config_name: name.to_owned(),
        })),
        http_filters: vec![HttpFilter {
            name: "envoy.filters.http.router".into(),
            config_type: Some(ConfigType::TypedConfig(pack(ROUTER, &Router::default()))),
            ..Default::default()
        }],
        ..Default::default()
    };
    Listener {
        name: name.to_owned(),
        api_listener: Some(ApiListener { api_listener: Some(pack(HCM, &hcm)) }),
        ..Default::default()
    }
}

fn route_config(name: &str, host: &str, routes: Vec<Route>) -> RouteConfiguration {
    RouteConfiguration {
        name: name.to_owned(),
        virtual_hosts: vec![VirtualHost {
            name: name.to_owned(),
            domains: vec![name.to_owned(), host.to_owned()],
            routes,
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn eds_cluster(name: &str) -> Cluster {
    Cluster {
        name: name.to_owned(),
        cluster_discovery_type: Some(ClusterDiscoveryType::Type(DiscoveryType::Eds as i32)),
        eds_cluster_config: Some(EdsClusterConfig {
            eds_config: Some(ads()),
            service_name: name.to_owned(),
        }),
        lb_policy: LbPolicy::RoundRobin as i32,
        ..Default::default()
    }
}

fn locality(l: &str) -> Locality {
    let mut parts = l.splitn(3, '/');
    Locality {
        region: parts.next().unwrap_or("").to_owned(),
        zone: parts.next().unwrap_or("").to_owned(),
        sub_zone: parts.next().unwrap_or("").to_owned(),
    }
}

fn load_assignment(
    name: &str,
    s: &Service,
    p: &ServicePort,
    subset: Option<&StringMap>,
) -> ClusterLoadAssignment {
    let mut by_locality: BTreeMap<&str, Vec<LbEndpoint>> = BTreeMap::new();
    let selected = s.endpoints.iter().filter(|e| {
        subset.is_none_or(|labels| labels.iter().all(|(k, v)| e.labels.get(k) == Some(v)))
    });
    for e in selected {
        let addr = Address {
            address: Some(AddressKind::SocketAddress(SocketAddress {
                address: e.address.clone(),
                port_specifier: Some(PortSpecifier::PortValue(s.endpoint_port(e, p))),
                ..Default::default()
            })),
        };
        by_locality.entry(e.locality.as_str()).or_default().push(LbEndpoint {
            host_identifier: Some(HostIdentifier::Endpoint(Endpoint {
                address: Some(addr),
                ..Default::default()
            })),
            load_balancing_weight: Some(UInt32Value { value: e.weight.max(1) }),
            ..Default::default()
        });
    }
    ClusterLoadAssignment {
        cluster_name: name.to_owned(),
        endpoints: by_locality
            .into_iter()
            .map(|(l, lb_endpoints)| LocalityLbEndpoints {
                locality: Some(locality(l)),
                load_balancing_weight: Some(UInt32Value {
                    value: lb_endpoints
                        .iter()
                        .filter_map(|e| e.load_balancing_weight.as_ref())
                        .map(|w| w.value)
                        .sum::<u32>()
                        .max(1),
                }),
                lb_endpoints,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::networking::Resolution;
    use crate::pilot::registry::Endpoint as RegEndpoint;

    fn service() -> Service {
        let ep = |addr: &str, loc: &str, w| RegEndpoint {
            address: addr.into(),
            ports: Default::default(),
            labels: Default::default(),
            locality: loc.into(),
            weight: w,
            source: "default/x".into(),
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
        assert_eq!(any.type_url, HCM);
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
        // Deterministic: the same input encodes to the same bytes.
        assert_eq!(translate(&[service()], &Routing::default()), r);
    }

    fn spec<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
        serde_json::from_value(v).unwrap()
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
}
