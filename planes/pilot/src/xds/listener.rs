//! LDS: the proxyless api_listener for `host:port`. Its HttpConnectionManager takes its routes
//! over ADS (RDS name `host:port`) and runs, in Istio's order, the CORS filter (only when a
//! route has a CORS policy; marked optional, since gRPC has no CORS filter), the fault filter
//! (only when a route injects faults) and the router, always last.
//!
//! Inbound: the server listener a gRPC xDS server asks for on one of its workload's ports
//! (`xds.istio.io/grpc/lds/inbound/ADDR:PORT`): that address and port, one filter chain whose
//! HttpConnectionManager carries its route configuration inline, every request matched and
//! served locally (a non-forwarding action), then the router.

use envoy_types::pb::envoy::config::core::v3::{address, socket_address, Address, SocketAddress, TrafficDirection};
use envoy_types::pb::envoy::config::listener::v3::filter::ConfigType as FilterConfig;
use envoy_types::pb::envoy::config::listener::v3::{ApiListener, Filter, FilterChain, Listener};
use envoy_types::pb::envoy::config::route::v3::route::Action;
use envoy_types::pb::envoy::config::route::v3::route_match::PathSpecifier;
use envoy_types::pb::envoy::config::route::v3::{
    NonForwardingAction, Route, RouteConfiguration, RouteMatch, VirtualHost,
};
use envoy_types::pb::envoy::extensions::filters::http::cors::v3::Cors;
use envoy_types::pb::envoy::extensions::filters::http::fault::v3::HttpFault;
use envoy_types::pb::envoy::extensions::filters::http::router::v3::Router;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::http_connection_manager::RouteSpecifier;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::http_filter::ConfigType;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::{
    HttpConnectionManager, HttpFilter, Rds,
};

use super::route::{CORS_FILTER, FAULT_FILTER, HTTP_FAULT};
use super::{ads, pack};

/// Type URL of HttpConnectionManager.
pub const HCM: &str = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
/// Type URL of the router filter's config.
pub const ROUTER: &str = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router";
/// Type URL of the CORS filter's config.
pub const CORS: &str = "type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors";
/// Name of the router filter.
pub const ROUTER_FILTER: &str = "envoy.filters.http.router";

fn filter(
    name: &str,
    config: envoy_types::pb::google::protobuf::Any,
    optional: bool,
) -> HttpFilter {
    HttpFilter {
        name: name.to_owned(),
        config_type: Some(ConfigType::TypedConfig(config)),
        is_optional: optional,
        ..Default::default()
    }
}

/// The Listener `name` (`host:port`) for a route configuration holding `routes`.
pub fn listener(name: &str, routes: &[Route]) -> Listener {
    let uses = |f: &str| routes.iter().any(|r| r.typed_per_filter_config.contains_key(f));
    let mut http_filters = Vec::new();
    if uses(CORS_FILTER) {
        http_filters.push(filter(CORS_FILTER, pack(CORS, &Cors {}), true));
    }
    if uses(FAULT_FILTER) {
        http_filters.push(filter(FAULT_FILTER, pack(HTTP_FAULT, &HttpFault::default()), false));
    }
    http_filters.push(filter(ROUTER_FILTER, pack(ROUTER, &Router::default()), false));
    let hcm = HttpConnectionManager {
        stat_prefix: name.to_owned(),
        route_specifier: Some(RouteSpecifier::Rds(Rds {
            config_source: Some(ads()),
            route_config_name: name.to_owned(),
        })),
        http_filters,
        ..Default::default()
    };
    Listener {
        name: name.to_owned(),
        api_listener: Some(ApiListener { api_listener: Some(pack(HCM, &hcm)) }),
        ..Default::default()
    }
}

/// Name of the HttpConnectionManager network filter.
pub const HCM_FILTER: &str = "envoy.filters.network.http_connection_manager";

/// The inbound server listener `name` for `host:port` (see the module doc).
pub fn inbound_listener(name: &str, host: &str, port: u32) -> Listener {
    let ip = host.trim_start_matches('[').trim_end_matches(']');
    let route_config = RouteConfiguration {
        name: format!("inbound|{port}"),
        virtual_hosts: vec![VirtualHost {
            name: format!("inbound|{port}"),
            domains: vec!["*".into()],
            routes: vec![Route {
                r#match: Some(RouteMatch {
                    path_specifier: Some(PathSpecifier::Prefix("/".into())),
                    ..Default::default()
                }),
                action: Some(Action::NonForwardingAction(NonForwardingAction {})),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let hcm = HttpConnectionManager {
        stat_prefix: format!("inbound_{port}"),
        route_specifier: Some(RouteSpecifier::RouteConfig(route_config)),
        http_filters: vec![filter(ROUTER_FILTER, pack(ROUTER, &Router::default()), false)],
        ..Default::default()
    };
    Listener {
        name: name.to_owned(),
        address: Some(Address {
            address: Some(address::Address::SocketAddress(SocketAddress {
                address: ip.to_owned(),
                port_specifier: Some(socket_address::PortSpecifier::PortValue(port)),
                ..Default::default()
            })),
        }),
        filter_chains: vec![FilterChain {
            name: format!("inbound|{port}"),
            filters: vec![Filter {
                name: HCM_FILTER.into(),
                config_type: Some(FilterConfig::TypedConfig(pack(HCM, &hcm))),
            }],
            ..Default::default()
        }],
        traffic_direction: TrafficDirection::Inbound as i32,
        ..Default::default()
    }
}
