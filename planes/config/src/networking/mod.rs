//! Typed specs of the networking.istio.io kinds (VirtualService, DestinationRule, Gateway,
//! ServiceEntry, WorkloadEntry, WorkloadGroup, Sidecar), with the field names of Istio's API
//! reference, and Istio's rules for them. Every struct refuses unknown fields so a typo is
//! reported with its path.
//!
//! Each kind's types and rules share one file (`virtual_service`, `destination_rule`,
//! `gateway`, `service_entry`, `workload_entry`, `workload_group`, `sidecar`), so a field and
//! its checks change together. Messages several kinds use have a small module named for what
//! they are (`port`, `destination`, `server_tls`, `connection_pool`, `workload_selector`).
//! Everything is re-exported here: `networking::VirtualService` and the like are the public
//! paths, the file layout is not.

mod connection_pool;
mod destination;
pub(crate) mod destination_rule;
pub(crate) mod gateway;
mod port;
mod server_tls;
pub(crate) mod service_entry;
pub(crate) mod sidecar;
pub(crate) mod virtual_service;
pub(crate) mod workload_entry;
pub(crate) mod workload_group;
mod workload_selector;

pub use connection_pool::{
    ConnectionPoolSettings, H2UpgradePolicy, Http2KeepAlive, HttpSettings, TcpKeepalive,
    TcpSettings,
};
pub use destination::Destination;
pub use destination_rule::{
    ClientTlsMode, ClientTlsSettings, ConsistentHashLb, CookieAttribute, DestinationRule,
    HttpCookie, LoadBalancerSettings, LocalityDistribute, LocalityFailover, LocalityLbSetting,
    Maglev, OutlierDetection, PortTrafficPolicy, ProxyProtocol, ProxyProtocolVersion, RetryBudget,
    RingHash, SimpleLb, Subset, TrafficPolicy, TunnelSettings, Warmup,
};
pub use gateway::{Gateway, Server};
pub use port::{Port, PortSelector};
pub use server_tls::{ServerTlsMode, ServerTlsSettings, TlsCertificate, TlsProtocol};
pub use service_entry::{Location, Resolution, ServiceEntry};
pub use sidecar::{
    CaptureMode, IstioEgressListener, IstioIngressListener, OutboundMode, OutboundTrafficPolicy,
    Sidecar,
};
pub use virtual_service::{
    CorsPolicy, Delegate, FaultAbort, FaultDelay, HeaderOperations, Headers, HttpBody,
    HttpDirectResponse, HttpFaultInjection, HttpMatchRequest, HttpMirrorPolicy, HttpRedirect,
    HttpRetry, HttpRewrite, HttpRoute, HttpRouteDestination, L4MatchAttributes, Percent,
    RedirectPortSelection, RegexRewrite, RouteDestination, TcpRoute, TlsMatchAttributes, TlsRoute,
    UnmatchedPreflights, VirtualService,
};
pub use workload_entry::WorkloadEntry;
pub use workload_group::{
    ExecHealthCheck, GrpcHealthCheck, HttpHeader, HttpHealthCheck, ReadinessProbe, TcpHealthCheck,
    WorkloadGroup, WorkloadGroupMetadata,
};
pub use workload_selector::ServiceEntryWorkloadSelector;
