//! Typed specs of the networking.istio.io kinds (VirtualService, DestinationRule, Gateway,
//! ServiceEntry, WorkloadEntry, WorkloadGroup, Sidecar), with the field names of Istio's API
//! reference. Every struct refuses unknown fields so a typo is reported with its path.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::common::{istio_enum, Duration, StringMap, StringMatch, WorkloadSelector, U64};

// ---------------------------------------------------------------------------------------------
// VirtualService
// ---------------------------------------------------------------------------------------------

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

/// `Destination`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Destination {
    /// Service host.
    #[serde(default)]
    pub host: String,
    /// Subset of the service.
    #[serde(default)]
    pub subset: String,
    /// Port on the host.
    pub port: Option<PortSelector>,
}

/// `PortSelector`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PortSelector {
    /// Port number.
    #[serde(default)]
    pub number: u32,
}

/// `HTTPRoute`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRoute {
    /// Route name (for logs).
    #[serde(default)]
    pub name: String,
    /// Match conditions (OR-ed).
    #[serde(default)]
    pub r#match: Vec<HttpMatchRequest>,
    /// Weighted destinations.
    pub route: Option<Vec<HttpRouteDestination>>,
    /// Redirect instead of routing.
    pub redirect: Option<HttpRedirect>,
    /// Fixed response instead of routing.
    pub direct_response: Option<HttpDirectResponse>,
    /// Delegate to another virtual service.
    pub delegate: Option<Delegate>,
    /// URI/authority rewrite.
    pub rewrite: Option<HttpRewrite>,
    /// Request timeout.
    pub timeout: Option<Duration>,
    /// Retry policy.
    pub retries: Option<HttpRetry>,
    /// Fault injection.
    pub fault: Option<HttpFaultInjection>,
    /// Mirror destination.
    pub mirror: Option<Destination>,
    /// Mirror destinations.
    #[serde(default)]
    pub mirrors: Vec<HttpMirrorPolicy>,
    /// Deprecated: percentage to mirror.
    pub mirror_percent: Option<u32>,
    /// Percentage to mirror.
    pub mirror_percentage: Option<Percent>,
    /// CORS policy.
    pub cors_policy: Option<CorsPolicy>,
    /// Header manipulation.
    pub headers: Option<Headers>,
    /// Deprecated, ignored: websockets are upgraded automatically.
    pub websocket_upgrade: Option<bool>,
    /// Deprecated: appended request headers (pre-1.0 API).
    pub append_headers: Option<StringMap>,
}

/// `Delegate`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Delegate {
    /// Name of the delegate virtual service.
    #[serde(default)]
    pub name: String,
    /// Its namespace.
    #[serde(default)]
    pub namespace: String,
}

/// `Headers`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Headers {
    /// Request header operations.
    pub request: Option<HeaderOperations>,
    /// Response header operations.
    pub response: Option<HeaderOperations>,
}

/// `Headers.HeaderOperations`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HeaderOperations {
    /// Overwrite.
    #[serde(default)]
    pub set: StringMap,
    /// Append.
    #[serde(default)]
    pub add: StringMap,
    /// Remove.
    #[serde(default)]
    pub remove: Vec<String>,
}

/// `HTTPMatchRequest`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpMatchRequest {
    /// Match name.
    #[serde(default)]
    pub name: String,
    /// URI match.
    pub uri: Option<StringMatch>,
    /// Scheme match.
    pub scheme: Option<StringMatch>,
    /// Method match.
    pub method: Option<StringMatch>,
    /// Authority match.
    pub authority: Option<StringMatch>,
    /// Header matches.
    #[serde(default)]
    pub headers: BTreeMap<String, Option<StringMatch>>,
    /// Port.
    #[serde(default)]
    pub port: u32,
    /// Source workload labels.
    #[serde(default)]
    pub source_labels: StringMap,
    /// Gateways.
    #[serde(default)]
    pub gateways: Vec<String>,
    /// Query parameter matches.
    #[serde(default)]
    pub query_params: BTreeMap<String, Option<StringMatch>>,
    /// Case-insensitive URI match.
    #[serde(default)]
    pub ignore_uri_case: bool,
    /// Headers that must not match.
    #[serde(default)]
    pub without_headers: BTreeMap<String, Option<StringMatch>>,
    /// Source namespace.
    #[serde(default)]
    pub source_namespace: String,
    /// Stat prefix.
    #[serde(default)]
    pub stat_prefix: String,
}

/// `HTTPRouteDestination`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRouteDestination {
    /// Where to send traffic.
    pub destination: Option<Destination>,
    /// Relative weight.
    #[serde(default)]
    pub weight: i32,
    /// Header manipulation.
    pub headers: Option<Headers>,
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

istio_enum!(
    /// `HTTPRedirect.RedirectPortSelection`.
    RedirectPortSelection { FROM_PROTOCOL_DEFAULT = 0, FROM_REQUEST_PORT = 1 }
);

/// `HTTPRedirect`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRedirect {
    /// Path to redirect to.
    #[serde(default)]
    pub uri: String,
    /// Authority to redirect to.
    #[serde(default)]
    pub authority: String,
    /// Port to redirect to.
    pub port: Option<u32>,
    /// Derive the port.
    pub derive_port: Option<RedirectPortSelection>,
    /// Scheme to redirect to.
    #[serde(default)]
    pub scheme: String,
    /// Redirect status code.
    #[serde(default)]
    pub redirect_code: u32,
}

/// `HTTPDirectResponse`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpDirectResponse {
    /// Status code.
    #[serde(default)]
    pub status: u32,
    /// Body.
    pub body: Option<HttpBody>,
}

/// `HTTPBody`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpBody {
    /// Text body.
    pub string: Option<String>,
    /// Base64 body.
    pub bytes: Option<String>,
}

/// `HTTPRewrite`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRewrite {
    /// Replacement URI (prefix).
    #[serde(default)]
    pub uri: String,
    /// Replacement authority.
    #[serde(default)]
    pub authority: String,
    /// Regex-based URI rewrite.
    pub uri_regex_rewrite: Option<RegexRewrite>,
}

/// `RegexRewrite`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegexRewrite {
    /// RE2 pattern.
    #[serde(default)]
    pub r#match: String,
    /// Substitution.
    #[serde(default)]
    pub rewrite: String,
}

/// `HTTPRetry`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRetry {
    /// Number of retries.
    #[serde(default)]
    pub attempts: i32,
    /// Timeout per attempt.
    pub per_try_timeout: Option<Duration>,
    /// Retry conditions, comma separated.
    #[serde(default)]
    pub retry_on: String,
    /// Retry in other localities.
    pub retry_remote_localities: Option<bool>,
    /// Avoid previously tried hosts.
    pub retry_ignore_previous_hosts: Option<bool>,
    /// Base backoff interval.
    pub backoff: Option<Duration>,
}

/// `Percent`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Percent {
    /// 0.0 to 100.0.
    #[serde(default)]
    pub value: f64,
}

/// `HTTPFaultInjection`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpFaultInjection {
    /// Delay before forwarding.
    pub delay: Option<FaultDelay>,
    /// Abort with an error.
    pub abort: Option<FaultAbort>,
}

/// `HTTPFaultInjection.Delay`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultDelay {
    /// Fixed delay.
    pub fixed_delay: Option<Duration>,
    /// Exponential delay (not supported).
    pub exponential_delay: Option<Duration>,
    /// Percentage of requests.
    pub percentage: Option<Percent>,
    /// Deprecated integer percentage.
    pub percent: Option<i32>,
}

/// `HTTPFaultInjection.Abort`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultAbort {
    /// HTTP status to return.
    pub http_status: Option<i32>,
    /// gRPC status to return.
    pub grpc_status: Option<String>,
    /// HTTP/2 error (not supported).
    pub http2_error: Option<String>,
    /// Percentage of requests.
    pub percentage: Option<Percent>,
}

/// `HTTPMirrorPolicy`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpMirrorPolicy {
    /// Where to mirror.
    pub destination: Option<Destination>,
    /// How much to mirror.
    pub percentage: Option<Percent>,
}

istio_enum!(
    /// `CorsPolicy.UnmatchedPreflights`.
    UnmatchedPreflights { UNSPECIFIED = 0, FORWARD = 1, IGNORE = 2 }
);

/// `CorsPolicy`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CorsPolicy {
    /// Allowed origins.
    #[serde(default)]
    pub allow_origins: Vec<StringMatch>,
    /// Deprecated exact origins.
    #[serde(default)]
    pub allow_origin: Vec<String>,
    /// Allowed methods.
    #[serde(default)]
    pub allow_methods: Vec<String>,
    /// Allowed headers.
    #[serde(default)]
    pub allow_headers: Vec<String>,
    /// Exposed headers.
    #[serde(default)]
    pub expose_headers: Vec<String>,
    /// Preflight cache duration.
    pub max_age: Option<Duration>,
    /// Allow credentials.
    pub allow_credentials: Option<bool>,
    /// Preflights that match no origin.
    pub unmatched_preflights: Option<UnmatchedPreflights>,
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

// ---------------------------------------------------------------------------------------------
// DestinationRule
// ---------------------------------------------------------------------------------------------

/// `DestinationRule` spec.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DestinationRule {
    /// Service host.
    #[serde(default)]
    pub host: String,
    /// Default policy.
    pub traffic_policy: Option<TrafficPolicy>,
    /// Named subsets.
    #[serde(default)]
    pub subsets: Vec<Subset>,
    /// Visibility.
    #[serde(default)]
    pub export_to: Vec<String>,
    /// Workloads the rule applies to.
    pub workload_selector: Option<WorkloadSelector>,
}

/// `TrafficPolicy`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TrafficPolicy {
    /// Load balancing.
    pub load_balancer: Option<LoadBalancerSettings>,
    /// Connection pool.
    pub connection_pool: Option<ConnectionPoolSettings>,
    /// Outlier detection.
    pub outlier_detection: Option<OutlierDetection>,
    /// Upstream TLS.
    pub tls: Option<ClientTlsSettings>,
    /// Per-port overrides.
    pub port_level_settings: Option<Vec<PortTrafficPolicy>>,
    /// Tunnel settings.
    pub tunnel: Option<TunnelSettings>,
    /// PROXY protocol.
    pub proxy_protocol: Option<ProxyProtocol>,
    /// Retry budget.
    pub retry_budget: Option<RetryBudget>,
}

/// `TrafficPolicy.RetryBudget`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RetryBudget {
    /// Percentage of active requests that may be retries.
    pub percent: Option<f64>,
    /// Minimum concurrent retries allowed.
    pub min_retry_concurrency: Option<u32>,
}

istio_enum!(
    /// `TrafficPolicy.ProxyProtocol.VERSION`.
    ProxyProtocolVersion { V1 = 0, V2 = 1 }
);

/// `TrafficPolicy.ProxyProtocol`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProxyProtocol {
    /// Version.
    pub version: Option<ProxyProtocolVersion>,
}

/// `TrafficPolicy.TunnelSettings`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TunnelSettings {
    /// `CONNECT` or `POST`.
    #[serde(default)]
    pub protocol: String,
    /// Target host.
    #[serde(default)]
    pub target_host: String,
    /// Target port.
    #[serde(default)]
    pub target_port: u32,
}

/// `TrafficPolicy.PortTrafficPolicy`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PortTrafficPolicy {
    /// Port.
    pub port: Option<PortSelector>,
    /// Load balancing.
    pub load_balancer: Option<LoadBalancerSettings>,
    /// Connection pool.
    pub connection_pool: Option<ConnectionPoolSettings>,
    /// Outlier detection.
    pub outlier_detection: Option<OutlierDetection>,
    /// Upstream TLS.
    pub tls: Option<ClientTlsSettings>,
}

/// `Subset`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Subset {
    /// Subset name.
    #[serde(default)]
    pub name: String,
    /// Endpoint labels.
    #[serde(default)]
    pub labels: StringMap,
    /// Policy overrides.
    pub traffic_policy: Option<TrafficPolicy>,
}

istio_enum!(
    /// `LoadBalancerSettings.SimpleLB`.
    SimpleLb {
        UNSPECIFIED = 0,
        LEAST_CONN = 1,
        RANDOM = 2,
        PASSTHROUGH = 3,
        ROUND_ROBIN = 4,
        LEAST_REQUEST = 5,
    }
);

/// `LoadBalancerSettings`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoadBalancerSettings {
    /// Simple policy.
    pub simple: Option<SimpleLb>,
    /// Consistent hashing.
    pub consistent_hash: Option<ConsistentHashLb>,
    /// Locality load balancing.
    pub locality_lb_setting: Option<LocalityLbSetting>,
    /// Slow-start window.
    pub warmup_duration_secs: Option<Duration>,
    /// Slow-start configuration.
    pub warmup: Option<Warmup>,
}

/// `WarmupConfiguration`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Warmup {
    /// Length of the warm-up window (required).
    pub duration: Option<Duration>,
    /// Minimum percentage of the weight at the start, 0 to 100.
    pub minimum_percent: Option<f64>,
    /// Speed of the ramp-up.
    pub aggression: Option<f64>,
}

/// `LoadBalancerSettings.ConsistentHashLB`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConsistentHashLb {
    /// Hash on a header.
    pub http_header_name: Option<String>,
    /// Hash on a cookie.
    pub http_cookie: Option<HttpCookie>,
    /// Hash on the source IP.
    pub use_source_ip: Option<bool>,
    /// Hash on a query parameter.
    pub http_query_parameter_name: Option<String>,
    /// Ring hash.
    pub ring_hash: Option<RingHash>,
    /// Maglev.
    pub maglev: Option<Maglev>,
    /// Deprecated ring size.
    pub minimum_ring_size: Option<U64>,
}

/// `ConsistentHashLB.HTTPCookie`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpCookie {
    /// Cookie name.
    #[serde(default)]
    pub name: String,
    /// Cookie path.
    #[serde(default)]
    pub path: String,
    /// Cookie lifetime.
    pub ttl: Option<Duration>,
    /// Cookie attributes.
    #[serde(default)]
    pub attributes: Vec<CookieAttribute>,
}

/// `ConsistentHashLB.HTTPCookie.Attribute`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CookieAttribute {
    /// Attribute name.
    #[serde(default)]
    pub name: String,
    /// Attribute value.
    #[serde(default)]
    pub value: String,
}

/// `ConsistentHashLB.RingHash`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RingHash {
    /// Minimum ring size.
    pub minimum_ring_size: Option<U64>,
}

/// `ConsistentHashLB.MagLev`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Maglev {
    /// Lookup table size (prime).
    pub table_size: Option<U64>,
}

/// `LocalityLoadBalancerSetting`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LocalityLbSetting {
    /// Weighted distribution.
    #[serde(default)]
    pub distribute: Vec<LocalityDistribute>,
    /// Region failover.
    #[serde(default)]
    pub failover: Vec<LocalityFailover>,
    /// Label-based failover priority.
    #[serde(default)]
    pub failover_priority: Vec<String>,
    /// Enable/disable.
    pub enabled: Option<bool>,
}

/// `LocalityLoadBalancerSetting.Distribute`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LocalityDistribute {
    /// Origin locality.
    #[serde(default)]
    pub from: String,
    /// Destination localities and weights.
    #[serde(default)]
    pub to: BTreeMap<String, u32>,
}

/// `LocalityLoadBalancerSetting.Failover`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LocalityFailover {
    /// Origin region.
    #[serde(default)]
    pub from: String,
    /// Failover region.
    #[serde(default)]
    pub to: String,
}

/// `ConnectionPoolSettings`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConnectionPoolSettings {
    /// TCP settings.
    pub tcp: Option<TcpSettings>,
    /// HTTP settings.
    pub http: Option<HttpSettings>,
}

/// `ConnectionPoolSettings.TCPSettings`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TcpSettings {
    /// Maximum connections.
    #[serde(default)]
    pub max_connections: i32,
    /// Connect timeout.
    pub connect_timeout: Option<Duration>,
    /// Keepalive.
    pub tcp_keepalive: Option<TcpKeepalive>,
    /// Maximum connection lifetime.
    pub max_connection_duration: Option<Duration>,
    /// Idle timeout.
    pub idle_timeout: Option<Duration>,
}

/// `ConnectionPoolSettings.TCPSettings.TcpKeepalive`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TcpKeepalive {
    /// Probe count.
    #[serde(default)]
    pub probes: u32,
    /// Idle time before probing.
    pub time: Option<Duration>,
    /// Probe interval.
    pub interval: Option<Duration>,
}

istio_enum!(
    /// `ConnectionPoolSettings.HTTPSettings.H2UpgradePolicy`.
    H2UpgradePolicy { DEFAULT = 0, DO_NOT_UPGRADE = 1, UPGRADE = 2 }
);

/// `ConnectionPoolSettings.HTTPSettings`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpSettings {
    /// Maximum pending HTTP/1.1 requests.
    #[serde(default)]
    pub http1_max_pending_requests: i32,
    /// Maximum active requests.
    #[serde(default)]
    pub http2_max_requests: i32,
    /// Maximum requests per connection.
    #[serde(default)]
    pub max_requests_per_connection: i32,
    /// Maximum outstanding retries.
    #[serde(default)]
    pub max_retries: i32,
    /// Idle timeout.
    pub idle_timeout: Option<Duration>,
    /// HTTP/2 upgrade policy.
    pub h2_upgrade_policy: Option<H2UpgradePolicy>,
    /// Keep the client's protocol.
    #[serde(default)]
    pub use_client_protocol: bool,
    /// Maximum concurrent streams.
    #[serde(default)]
    pub max_concurrent_streams: i32,
    /// HTTP/2 keepalive pings.
    pub http2_keep_alive: Option<Http2KeepAlive>,
}

/// HTTP/2 keepalive (PING) settings.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Http2KeepAlive {
    /// Interval between pings.
    pub interval: Option<Duration>,
    /// Time to wait for a ping response.
    pub timeout: Option<Duration>,
    /// Idle time before a ping is sent.
    pub connection_idle_interval: Option<Duration>,
}

/// `OutlierDetection`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OutlierDetection {
    /// Deprecated.
    #[serde(default)]
    pub consecutive_errors: i32,
    /// Split local-origin errors.
    #[serde(default)]
    pub split_external_local_origin_errors: bool,
    /// Local-origin failures before ejection.
    pub consecutive_local_origin_failures: Option<u32>,
    /// Gateway errors before ejection.
    pub consecutive_gateway_errors: Option<u32>,
    /// 5xx errors before ejection.
    pub consecutive_5xx_errors: Option<u32>,
    /// Sweep interval.
    pub interval: Option<Duration>,
    /// Minimum ejection time.
    pub base_ejection_time: Option<Duration>,
    /// Maximum ejected percentage.
    #[serde(default)]
    pub max_ejection_percent: i32,
    /// Minimum healthy percentage.
    #[serde(default)]
    pub min_health_percent: i32,
}

istio_enum!(
    /// `ClientTLSSettings.TLSmode`.
    ClientTlsMode { DISABLE = 0, SIMPLE = 1, MUTUAL = 2, ISTIO_MUTUAL = 3 }
);

/// `ClientTLSSettings`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClientTlsSettings {
    /// Mode.
    pub mode: Option<ClientTlsMode>,
    /// Client certificate path.
    #[serde(default)]
    pub client_certificate: String,
    /// Private key path.
    #[serde(default)]
    pub private_key: String,
    /// CA bundle path.
    #[serde(default)]
    pub ca_certificates: String,
    /// Secret name.
    #[serde(default)]
    pub credential_name: String,
    /// SANs to verify.
    pub subject_alt_names: Option<Vec<String>>,
    /// SNI.
    #[serde(default)]
    pub sni: String,
    /// Skip verification.
    pub insecure_skip_verify: Option<bool>,
    /// CRL path.
    #[serde(default)]
    pub ca_crl: String,
}

// ---------------------------------------------------------------------------------------------
// Gateway
// ---------------------------------------------------------------------------------------------

/// `Gateway` spec.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Gateway {
    /// Servers.
    #[serde(default)]
    pub servers: Vec<Server>,
    /// Gateway pod labels.
    #[serde(default)]
    pub selector: StringMap,
}

/// `Server`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Server {
    /// Port to listen on.
    pub port: Option<Port>,
    /// Bind address.
    #[serde(default)]
    pub bind: String,
    /// Hosts exposed.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// TLS settings.
    pub tls: Option<ServerTlsSettings>,
    /// Deprecated.
    #[serde(default)]
    pub default_endpoint: String,
    /// Server name.
    #[serde(default)]
    pub name: String,
}

/// `Port` (Gateway and ServiceEntry).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Port {
    /// Port number.
    #[serde(default)]
    pub number: u32,
    /// Protocol.
    #[serde(default)]
    pub protocol: String,
    /// Port name.
    #[serde(default)]
    pub name: String,
    /// Target port.
    #[serde(default)]
    pub target_port: u32,
}

istio_enum!(
    /// `ServerTLSSettings.TLSmode`.
    ServerTlsMode {
        PASSTHROUGH = 0,
        SIMPLE = 1,
        MUTUAL = 2,
        AUTO_PASSTHROUGH = 3,
        ISTIO_MUTUAL = 4,
        OPTIONAL_MUTUAL = 5,
    }
);

istio_enum!(
    /// `ServerTLSSettings.TLSProtocol`.
    TlsProtocol { TLS_AUTO = 0, TLSV1_0 = 1, TLSV1_1 = 2, TLSV1_2 = 3, TLSV1_3 = 4 }
);

/// `ServerTLSSettings`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServerTlsSettings {
    /// Redirect HTTP to HTTPS.
    #[serde(default)]
    pub https_redirect: bool,
    /// Mode.
    pub mode: Option<ServerTlsMode>,
    /// Server certificate path.
    #[serde(default)]
    pub server_certificate: String,
    /// Private key path.
    #[serde(default)]
    pub private_key: String,
    /// CA bundle path.
    #[serde(default)]
    pub ca_certificates: String,
    /// CRL path.
    #[serde(default)]
    pub ca_crl: String,
    /// Secret name.
    #[serde(default)]
    pub credential_name: String,
    /// Secret names.
    #[serde(default)]
    pub credential_names: Vec<String>,
    /// Certificates inline.
    #[serde(default)]
    pub tls_certificates: Vec<TlsCertificate>,
    /// SANs to verify.
    #[serde(default)]
    pub subject_alt_names: Vec<String>,
    /// SPKI hashes.
    #[serde(default)]
    pub verify_certificate_spki: Vec<String>,
    /// Certificate hashes.
    #[serde(default)]
    pub verify_certificate_hash: Vec<String>,
    /// Minimum TLS version.
    pub min_protocol_version: Option<TlsProtocol>,
    /// Maximum TLS version.
    pub max_protocol_version: Option<TlsProtocol>,
    /// Cipher suites.
    #[serde(default)]
    pub cipher_suites: Vec<String>,
}

/// `ServerTLSSettings.TLSCertificate`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TlsCertificate {
    /// Server certificate path.
    #[serde(default)]
    pub server_certificate: String,
    /// Private key path.
    #[serde(default)]
    pub private_key: String,
    /// CA bundle path.
    #[serde(default)]
    pub ca_certificates: String,
}

// ---------------------------------------------------------------------------------------------
// ServiceEntry, WorkloadEntry, WorkloadGroup
// ---------------------------------------------------------------------------------------------

istio_enum!(
    /// `ServiceEntry.Location`.
    Location { MESH_EXTERNAL = 0, MESH_INTERNAL = 1 }
);

istio_enum!(
    /// `ServiceEntry.Resolution`.
    Resolution { NONE = 0, STATIC = 1, DNS = 2, DNS_ROUND_ROBIN = 3 }
);

/// `ServiceEntry` spec.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceEntry {
    /// Hostnames.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Virtual IPs.
    #[serde(default)]
    pub addresses: Vec<String>,
    /// Ports.
    #[serde(default)]
    pub ports: Vec<Port>,
    /// Inside or outside the mesh.
    pub location: Option<Location>,
    /// Endpoint discovery.
    pub resolution: Option<Resolution>,
    /// Static endpoints.
    pub endpoints: Option<Vec<WorkloadEntry>>,
    /// Workloads backing the service.
    pub workload_selector: Option<ServiceEntryWorkloadSelector>,
    /// Visibility.
    #[serde(default)]
    pub export_to: Vec<String>,
    /// SANs to verify.
    #[serde(default)]
    pub subject_alt_names: Vec<String>,
}

/// `networking.v1alpha3.WorkloadSelector` (ServiceEntry, Sidecar).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceEntryWorkloadSelector {
    /// Labels to select on.
    #[serde(default)]
    pub labels: StringMap,
}

/// `WorkloadEntry` spec (also a ServiceEntry endpoint and a WorkloadGroup template).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkloadEntry {
    /// IP, hostname or `unix://` socket.
    #[serde(default)]
    pub address: String,
    /// Named ports.
    #[serde(default)]
    pub ports: BTreeMap<String, u32>,
    /// Labels.
    #[serde(default)]
    pub labels: StringMap,
    /// Network.
    #[serde(default)]
    pub network: String,
    /// Locality.
    #[serde(default)]
    pub locality: String,
    /// Load-balancing weight.
    #[serde(default)]
    pub weight: u32,
    /// Service account.
    #[serde(default)]
    pub service_account: String,
}

/// `WorkloadGroup` spec.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkloadGroup {
    /// Metadata for generated entries.
    pub metadata: Option<WorkloadGroupMetadata>,
    /// Template for generated entries.
    pub template: Option<WorkloadEntry>,
    /// Readiness probe.
    pub probe: Option<ReadinessProbe>,
}

/// `WorkloadGroup.ObjectMeta`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkloadGroupMetadata {
    /// Labels.
    #[serde(default)]
    pub labels: StringMap,
    /// Annotations.
    #[serde(default)]
    pub annotations: StringMap,
}

/// `ReadinessProbe`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReadinessProbe {
    /// Delay before the first probe.
    #[serde(default)]
    pub initial_delay_seconds: i32,
    /// Probe timeout.
    #[serde(default)]
    pub timeout_seconds: i32,
    /// Probe period.
    #[serde(default)]
    pub period_seconds: i32,
    /// Successes to be ready.
    #[serde(default)]
    pub success_threshold: i32,
    /// Failures to be unready.
    #[serde(default)]
    pub failure_threshold: i32,
    /// HTTP GET probe.
    pub http_get: Option<HttpHealthCheck>,
    /// TCP probe.
    pub tcp_socket: Option<TcpHealthCheck>,
    /// Command probe.
    pub exec: Option<ExecHealthCheck>,
    /// gRPC probe.
    pub grpc: Option<GrpcHealthCheck>,
}

/// `HTTPHealthCheckConfig`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpHealthCheck {
    /// Path.
    #[serde(default)]
    pub path: String,
    /// Port.
    #[serde(default)]
    pub port: u32,
    /// Host.
    #[serde(default)]
    pub host: String,
    /// `HTTP` or `HTTPS`.
    #[serde(default)]
    pub scheme: String,
    /// Headers to send.
    #[serde(default)]
    pub http_headers: Vec<HttpHeader>,
}

/// `HTTPHeader`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpHeader {
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Value.
    #[serde(default)]
    pub value: String,
}

/// `TCPHealthCheckConfig`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TcpHealthCheck {
    /// Host.
    #[serde(default)]
    pub host: String,
    /// Port.
    #[serde(default)]
    pub port: u32,
}

/// `ExecHealthCheckConfig`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExecHealthCheck {
    /// Command line.
    #[serde(default)]
    pub command: Vec<String>,
}

/// `GrpcHealthCheckConfig`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GrpcHealthCheck {
    /// Port.
    #[serde(default)]
    pub port: u32,
    /// Service name.
    #[serde(default)]
    pub service: String,
}

// ---------------------------------------------------------------------------------------------
// Sidecar
// ---------------------------------------------------------------------------------------------

/// `Sidecar` spec.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Sidecar {
    /// Workloads it applies to.
    pub workload_selector: Option<ServiceEntryWorkloadSelector>,
    /// Inbound listeners.
    #[serde(default)]
    pub ingress: Vec<IstioIngressListener>,
    /// Outbound listeners.
    #[serde(default)]
    pub egress: Vec<IstioEgressListener>,
    /// Default inbound connection pool.
    pub inbound_connection_pool: Option<ConnectionPoolSettings>,
    /// Outbound traffic policy.
    pub outbound_traffic_policy: Option<OutboundTrafficPolicy>,
}

istio_enum!(
    /// `CaptureMode`.
    CaptureMode { DEFAULT = 0, IPTABLES = 1, NONE = 2 }
);

/// `IstioIngressListener`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IstioIngressListener {
    /// Port.
    pub port: Option<Port>,
    /// Bind address.
    #[serde(default)]
    pub bind: String,
    /// Capture mode.
    pub capture_mode: Option<CaptureMode>,
    /// Where to forward.
    #[serde(default)]
    pub default_endpoint: String,
    /// TLS termination.
    pub tls: Option<ServerTlsSettings>,
    /// Connection pool.
    pub connection_pool: Option<ConnectionPoolSettings>,
}

/// `IstioEgressListener`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IstioEgressListener {
    /// Port.
    pub port: Option<Port>,
    /// Bind address.
    #[serde(default)]
    pub bind: String,
    /// Capture mode.
    pub capture_mode: Option<CaptureMode>,
    /// Imported hosts (`namespace/dnsName`).
    #[serde(default)]
    pub hosts: Vec<String>,
}

istio_enum!(
    /// `OutboundTrafficPolicy.Mode`.
    OutboundMode { REGISTRY_ONLY = 0, ALLOW_ANY = 1 }
);

/// `OutboundTrafficPolicy`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OutboundTrafficPolicy {
    /// Mode.
    pub mode: Option<OutboundMode>,
    /// Egress proxy.
    pub egress_proxy: Option<Destination>,
}
