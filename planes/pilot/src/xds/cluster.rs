//! CDS: one EDS-over-ADS cluster `outbound|port|subset|host`, shaped by its merged
//! DestinationRule traffic policy the way Istio's cluster builder shapes it
//! (`pilot/pkg/networking/core/cluster_traffic_policy.go`, `cluster_tls.go`):
//!
//! - connection pool → `circuit_breakers` (Istio's defaults: every threshold `u32::MAX`),
//!   `connect_timeout` (default 10 s), and the upstream `HttpProtocolOptions` (idle timeout,
//!   requests per connection, connection lifetime, HTTP/2 for gRPC and HTTP/2 ports);
//! - outlier detection → `outlier_detection` and the healthy panic threshold;
//! - load balancer → `lb_policy` (+ ring hash / maglev / slow start config) and locality-weighted
//!   balancing; the consistent-hash *key* goes on the routes (see [`super::route`]);
//! - TLS → an `UpstreamTlsContext` transport socket (ISTIO_MUTUAL: SDS secrets `default` and
//!   `ROOTCA` over ADS).
//!
//! gRPC clients get [`grpc_variant`] of a cluster where it differs, as Istio's grpc generator
//! does: random and least request become round robin (gRPC implements neither through
//! `lb_policy`; it NACKs them), and ISTIO_MUTUAL's SDS secrets become the certificate provider
//! instance `default` of the client's bootstrap (gRPC does not speak SDS). Maglev stays, as
//! Istio sends it (gRPC NACKs it, which `/v1/proxies` shows).
//!
//! Proxyless clients take endpoints from EDS, so every cluster stays EDS: `PASSTHROUGH` (which
//! Istio's sidecars turn into an ORIGINAL_DST cluster) keeps round robin, as Istio's own
//! proxyless generator does. Without a simple policy the cluster is round robin (Istio's
//! sidecars default to least request; its proxyless generator to round robin).

use envoy_types::pb::envoy::config::cluster::v3::circuit_breakers::{thresholds, Thresholds};
use envoy_types::pb::envoy::config::cluster::v3::cluster::common_lb_config::{
    LocalityConfigSpecifier, LocalityWeightedLbConfig,
};
use envoy_types::pb::envoy::config::cluster::v3::cluster::{
    ClusterDiscoveryType, DiscoveryType, EdsClusterConfig, LbConfig, LbPolicy,
    LeastRequestLbConfig, MaglevLbConfig, RingHashLbConfig, RoundRobinLbConfig, SlowStartConfig,
};
use envoy_types::pb::envoy::config::cluster::v3::{
    CircuitBreakers, Cluster, OutlierDetection as EnvoyOutlier,
};
use envoy_types::pb::envoy::config::core::v3::transport_socket::ConfigType as SocketConfig;
use envoy_types::pb::envoy::config::core::v3::{
    data_source, DataSource, Http2ProtocolOptions, HttpProtocolOptions, RuntimeDouble,
    TransportSocket,
};
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::common_tls_context::{
    CombinedCertificateValidationContext, ValidationContextType,
};
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::{
    CertificateProviderPluginInstance, CertificateValidationContext, CommonTlsContext,
    SdsSecretConfig, UpstreamTlsContext,
};
use envoy_types::pb::envoy::extensions::upstreams::http::v3::http_protocol_options::explicit_http_config::ProtocolConfig;
use envoy_types::pb::envoy::extensions::upstreams::http::v3::http_protocol_options::{
    ExplicitHttpConfig, UpstreamProtocolOptions,
};
use envoy_types::pb::envoy::extensions::upstreams::http::v3::HttpProtocolOptions as UpstreamHttp;
use envoy_types::pb::envoy::r#type::matcher::v3::string_matcher::MatchPattern;
use envoy_types::pb::envoy::r#type::matcher::v3::StringMatcher;
use envoy_types::pb::envoy::r#type::v3::Percent as EnvoyPercent;
use envoy_types::pb::google::protobuf::{UInt32Value, UInt64Value};

use prost::Message;

use super::policy::Policy;
use super::{ads, duration, pack};
use crate::registry::{Service, ServicePort};
use istio_planes_config::common::Duration;
use istio_planes_config::networking::{
    ClientTlsMode, ClientTlsSettings, ConnectionPoolSettings, H2UpgradePolicy,
    LoadBalancerSettings, OutlierDetection, RetryBudget, SimpleLb,
};

/// Key of the upstream HTTP options in `typed_extension_protocol_options`.
pub const HTTP_PROTOCOL_OPTIONS: &str = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";
/// Type URL of the upstream HTTP options.
pub const HTTP_PROTOCOL_OPTIONS_TYPE: &str =
    "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions";
/// Type URL of UpstreamTlsContext.
pub const UPSTREAM_TLS: &str =
    "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext";
/// Name of the TLS transport socket (gRPC requires exactly this).
pub const TLS_SOCKET: &str = "envoy.transport_sockets.tls";
/// Istio's default `connectTimeout` (mesh config).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration { nanos: 10_000_000_000 };

/// The cluster `name` for port `p` of `s` (subset `subset`, empty for the service itself)
/// under the merged policy.
pub fn cluster(
    name: &str,
    s: &Service,
    p: &ServicePort,
    subset: &str,
    policy: &Policy<'_>,
) -> Cluster {
    let mut c = Cluster {
        name: name.to_owned(),
        cluster_discovery_type: Some(ClusterDiscoveryType::Type(DiscoveryType::Eds as i32)),
        eds_cluster_config: Some(EdsClusterConfig {
            eds_config: Some(ads()),
            service_name: name.to_owned(),
        }),
        lb_policy: LbPolicy::RoundRobin as i32,
        ..Default::default()
    };
    let h2 = connection_pool(&mut c, policy.connection_pool, policy.retry_budget, p);
    outlier_detection(&mut c, policy.outlier_detection);
    load_balancer(&mut c, policy.load_balancer);
    if let Some(tls) = policy.tls {
        c.transport_socket = upstream_tls(tls, s, p, subset, h2).map(|ctx| TransportSocket {
            name: TLS_SOCKET.into(),
            config_type: Some(SocketConfig::TypedConfig(pack(UPSTREAM_TLS, &ctx))),
        });
    }
    c
}

fn u32_value(n: i32) -> Option<UInt32Value> {
    u32::try_from(n).ok().filter(|n| *n > 0).map(|value| UInt32Value { value })
}

/// A gRPC or HTTP/2 port: Istio talks HTTP/2 to it.
fn http2_port(p: &ServicePort) -> bool {
    matches!(p.protocol.to_ascii_uppercase().as_str(), "GRPC" | "GRPC-WEB" | "HTTP2")
}

/// Istio's `applyConnectionPool` (applied with an empty pool when none is set) and
/// `applyH2Upgrade`. Returns whether the cluster speaks HTTP/2.
fn connection_pool(
    c: &mut Cluster,
    pool: Option<&ConnectionPoolSettings>,
    budget: Option<&RetryBudget>,
    p: &ServicePort,
) -> bool {
    let max = Some(UInt32Value { value: u32::MAX });
    let mut t = Thresholds {
        max_connections: max,
        max_pending_requests: max,
        max_requests: max,
        max_retries: max,
        track_remaining: true,
        ..Default::default()
    };
    let mut common = HttpProtocolOptions::default();
    let mut h2 = http2_port(p);
    let mut max_streams = None;
    let mut connect_timeout = DEFAULT_CONNECT_TIMEOUT;
    if let Some(http) = pool.and_then(|p| p.http.as_ref()) {
        t.max_requests = u32_value(http.http2_max_requests).or(t.max_requests);
        t.max_pending_requests =
            u32_value(http.http1_max_pending_requests).or(t.max_pending_requests);
        t.max_retries = u32_value(http.max_retries).or(t.max_retries);
        common.idle_timeout = http.idle_timeout.map(duration);
        common.max_requests_per_connection = u32_value(http.max_requests_per_connection);
        max_streams = u32_value(http.max_concurrent_streams);
        match http.h2_upgrade_policy {
            Some(H2UpgradePolicy::UPGRADE) => h2 = true,
            Some(H2UpgradePolicy::DO_NOT_UPGRADE) => h2 = false,
            _ => {}
        }
    }
    if let Some(tcp) = pool.and_then(|p| p.tcp.as_ref()) {
        if let Some(d) = tcp.connect_timeout {
            connect_timeout = d;
        }
        t.max_connections = u32_value(tcp.max_connections).or(t.max_connections);
        common.max_connection_duration = tcp.max_connection_duration.map(duration);
        if common.idle_timeout.is_none() {
            common.idle_timeout = tcp.idle_timeout.map(duration);
        }
    }
    if let Some(b) = budget {
        t.retry_budget = Some(thresholds::RetryBudget {
            budget_percent: b.percent.map(|value| EnvoyPercent { value }),
            min_retry_concurrency: b.min_retry_concurrency.map(|value| UInt32Value { value }),
        });
    }
    c.connect_timeout = Some(duration(connect_timeout));
    c.circuit_breakers = Some(CircuitBreakers { thresholds: vec![t], ..Default::default() });
    let mut options = UpstreamHttp::default();
    if common != HttpProtocolOptions::default() {
        options.common_http_protocol_options = Some(common);
    }
    if h2 {
        options.upstream_protocol_options =
            Some(UpstreamProtocolOptions::ExplicitHttpConfig(ExplicitHttpConfig {
                protocol_config: Some(ProtocolConfig::Http2ProtocolOptions(Http2ProtocolOptions {
                    max_concurrent_streams: max_streams,
                    ..Default::default()
                })),
            }));
    }
    if options != UpstreamHttp::default() {
        c.typed_extension_protocol_options
            .insert(HTTP_PROTOCOL_OPTIONS.into(), pack(HTTP_PROTOCOL_OPTIONS_TYPE, &options));
    }
    h2
}

/// Istio's `applyOutlierDetection`: consecutive 5xx / gateway errors enforced at 100% when
/// set, success-rate ejection off, `minHealthPercent` as the healthy panic threshold.
fn outlier_detection(c: &mut Cluster, o: Option<&OutlierDetection>) {
    let Some(o) = o else { return };
    let enforcing = |v: u32| Some(UInt32Value { value: if v > 0 { 100 } else { 0 } });
    let mut out = EnvoyOutlier {
        enforcing_success_rate: Some(UInt32Value { value: 0 }),
        interval: o.interval.map(duration),
        base_ejection_time: o.base_ejection_time.map(duration),
        max_ejection_percent: u32_value(o.max_ejection_percent),
        ..Default::default()
    };
    if let Some(v) = o.consecutive_5xx_errors {
        out.consecutive_5xx = Some(UInt32Value { value: v });
        out.enforcing_consecutive_5xx = enforcing(v);
    }
    if let Some(v) = o.consecutive_gateway_errors {
        out.consecutive_gateway_failure = Some(UInt32Value { value: v });
        out.enforcing_consecutive_gateway_failure = enforcing(v);
    }
    if o.split_external_local_origin_errors {
        out.split_external_local_origin_errors = true;
        if let Some(v) = o.consecutive_local_origin_failures.filter(|v| *v > 0) {
            out.consecutive_local_origin_failure = Some(UInt32Value { value: v });
            out.enforcing_consecutive_local_origin_failure = Some(UInt32Value { value: 100 });
        }
        out.enforcing_local_origin_success_rate = Some(UInt32Value { value: 0 });
    }
    c.outlier_detection = Some(out);
    if o.min_health_percent >= 0 {
        c.common_lb_config.get_or_insert_with(Default::default).healthy_panic_threshold =
            Some(EnvoyPercent { value: f64::from(o.min_health_percent) });
    }
}

/// Istio's `applyLoadBalancer` for an EDS cluster.
fn load_balancer(c: &mut Cluster, lb: Option<&LoadBalancerSettings>) {
    let Some(lb) = lb else { return };
    if let Some(l) = &lb.locality_lb_setting {
        // Failover only works with outlier detection; distribution always needs
        // locality-weighted balancing. (Priorities per client locality are not carried: this
        // translation is not per proxy.)
        let failover = c.outlier_detection.is_some()
            && (!l.failover.is_empty() || !l.failover_priority.is_empty());
        if l.enabled != Some(false) && (failover || !l.distribute.is_empty()) {
            c.common_lb_config.get_or_insert_with(Default::default).locality_config_specifier =
                Some(LocalityConfigSpecifier::LocalityWeightedLbConfig(
                    LocalityWeightedLbConfig {},
                ));
        }
    }
    let warmup = lb.warmup.as_ref();
    let slow_start =
        lb.warmup_duration_secs.or(warmup.and_then(|w| w.duration)).map(|d| SlowStartConfig {
            slow_start_window: Some(duration(d)),
            aggression: warmup
                .and_then(|w| w.aggression)
                .map(|default_value| RuntimeDouble { default_value, runtime_key: String::new() }),
            min_weight_percent: warmup
                .and_then(|w| w.minimum_percent)
                .map(|value| EnvoyPercent { value }),
        });
    match lb.simple {
        Some(SimpleLb::LEAST_CONN | SimpleLb::LEAST_REQUEST) => {
            c.lb_policy = LbPolicy::LeastRequest as i32;
            c.lb_config = slow_start.map(|s| {
                LbConfig::LeastRequestLbConfig(LeastRequestLbConfig {
                    slow_start_config: Some(s),
                    ..Default::default()
                })
            });
        }
        Some(SimpleLb::RANDOM) => c.lb_policy = LbPolicy::Random as i32,
        Some(SimpleLb::PASSTHROUGH) => {
            tracing::debug!(cluster = %c.name, "xds: PASSTHROUGH needs an original-destination cluster; proxyless clusters stay EDS, round robin");
        }
        Some(SimpleLb::ROUND_ROBIN | SimpleLb::UNSPECIFIED) | None => {
            c.lb_policy = LbPolicy::RoundRobin as i32;
            c.lb_config = slow_start.map(|s| {
                LbConfig::RoundRobinLbConfig(RoundRobinLbConfig { slow_start_config: Some(s) })
            });
        }
    }
    // Istio's `ApplyRingHashLoadBalancer`.
    let Some(h) = &lb.consistent_hash else { return };
    if let Some(m) = &h.maglev {
        c.lb_policy = LbPolicy::Maglev as i32;
        c.lb_config = m.table_size.filter(|t| t.0 != 0).map(|t| {
            LbConfig::MaglevLbConfig(MaglevLbConfig {
                table_size: Some(UInt64Value { value: t.0 }),
            })
        });
    } else if let Some(r) = &h.ring_hash {
        c.lb_policy = LbPolicy::RingHash as i32;
        c.lb_config = r.minimum_ring_size.filter(|s| s.0 != 0).map(|s| {
            LbConfig::RingHashLbConfig(RingHashLbConfig {
                minimum_ring_size: Some(UInt64Value { value: s.0 }),
                ..Default::default()
            })
        });
    } else {
        let size = h.minimum_ring_size.map_or(0, |s| s.0);
        c.lb_policy = LbPolicy::RingHash as i32;
        c.lb_config = Some(LbConfig::RingHashLbConfig(RingHashLbConfig {
            minimum_ring_size: Some(UInt64Value { value: if size == 0 { 1024 } else { size } }),
            ..Default::default()
        }));
    }
}

/// What a gRPC client is sent instead of `c`, or `None` when `c` suits it (see the module doc).
pub fn grpc_variant(c: &Cluster) -> Option<Cluster> {
    let mut g = c.clone();
    let mut changed = false;
    if c.lb_policy == LbPolicy::Random as i32 || c.lb_policy == LbPolicy::LeastRequest as i32 {
        tracing::debug!(cluster = %c.name, "xds: gRPC clients get round robin for random and least request");
        g.lb_policy = LbPolicy::RoundRobin as i32;
        g.lb_config = None;
        changed = true;
    }
    let tls = c.transport_socket.as_ref().and_then(|t| match &t.config_type {
        Some(SocketConfig::TypedConfig(a)) if a.type_url == UPSTREAM_TLS => {
            UpstreamTlsContext::decode(a.value.as_slice()).ok()
        }
        _ => None,
    });
    if let Some(mut ctx) = tls {
        let mutual = ctx.common_tls_context.as_ref().is_some_and(|common| {
            common.tls_certificate_sds_secret_configs.iter().any(|s| s.name == "default")
        });
        if let (true, Some(common)) = (mutual, ctx.common_tls_context.as_mut()) {
            let provider = |certificate_name: &str| CertificateProviderPluginInstance {
                instance_name: "default".into(),
                certificate_name: certificate_name.into(),
            };
            common.tls_certificate_sds_secret_configs.clear();
            common.tls_certificate_provider_instance = Some(provider("default"));
            let mut validation = match common.validation_context_type.take() {
                Some(ValidationContextType::CombinedValidationContext(c)) => {
                    c.default_validation_context.unwrap_or_default()
                }
                Some(ValidationContextType::ValidationContext(v)) => v,
                _ => CertificateValidationContext::default(),
            };
            validation.ca_certificate_provider_instance = Some(provider("ROOTCA"));
            common.validation_context_type =
                Some(ValidationContextType::ValidationContext(validation));
            if let Some(t) = g.transport_socket.as_mut() {
                t.config_type = Some(SocketConfig::TypedConfig(pack(UPSTREAM_TLS, &ctx)));
            }
            changed = true;
        }
    }
    changed.then_some(g)
}

/// An SDS secret by name, fetched over ADS.
fn sds(name: &str) -> SdsSecretConfig {
    SdsSecretConfig { name: name.to_owned(), sds_config: Some(ads()) }
}

/// SANs to verify, exactly. (`match_subject_alt_names` is deprecated in favour of typed SAN
/// matchers, but it is what Istio sends and what gRPC reads.)
fn exact(names: &[String]) -> Vec<StringMatcher> {
    names
        .iter()
        .map(|n| StringMatcher {
            match_pattern: Some(MatchPattern::Exact(n.clone())),
            ignore_case: false,
        })
        .collect()
}

/// Istio's `buildUpstreamClusterTLSContext`; `None` for DISABLE, or for MUTUAL without a
/// client certificate (Istio logs and sends none).
#[allow(deprecated)]
fn upstream_tls(
    tls: &ClientTlsSettings,
    s: &Service,
    p: &ServicePort,
    subset: &str,
    h2: bool,
) -> Option<UpstreamTlsContext> {
    let sans = tls.subject_alt_names.as_deref().unwrap_or_default();
    let mut common = CommonTlsContext::default();
    let mut sni = tls.sni.clone();
    match tls.mode.unwrap_or_default() {
        ClientTlsMode::DISABLE => return None,
        ClientTlsMode::ISTIO_MUTUAL => {
            common.tls_certificate_sds_secret_configs = vec![sds("default")];
            common.validation_context_type =
                Some(ValidationContextType::CombinedValidationContext(
                    CombinedCertificateValidationContext {
                        default_validation_context: Some(CertificateValidationContext {
                            match_subject_alt_names: exact(sans),
                            ..Default::default()
                        }),
                        validation_context_sds_secret_config: Some(sds("ROOTCA")),
                        ..Default::default()
                    },
                ));
            if sni.is_empty() {
                sni = format!("outbound_.{}_.{}_.{}", p.number, subset, s.host);
            }
            common.alpn_protocols = ["istio-peer-exchange", "istio"].map(String::from).to_vec();
            if h2 {
                common.alpn_protocols.push("h2".into());
            }
        }
        mode @ (ClientTlsMode::SIMPLE | ClientTlsMode::MUTUAL) => {
            let root = if !tls.credential_name.is_empty() {
                if mode == ClientTlsMode::MUTUAL {
                    common.tls_certificate_sds_secret_configs = vec![sds(&tls.credential_name)];
                }
                format!("{}-cacert", tls.credential_name)
            } else {
                if mode == ClientTlsMode::MUTUAL {
                    if tls.client_certificate.is_empty() || tls.private_key.is_empty() {
                        tracing::warn!(host = %s.host, "xds: MUTUAL TLS without client certificate and key; no TLS");
                        return None;
                    }
                    common.tls_certificate_sds_secret_configs = vec![sds(&format!(
                        "file-cert:{}~{}",
                        tls.client_certificate, tls.private_key
                    ))];
                }
                let ca =
                    if tls.ca_certificates.is_empty() { "system" } else { &tls.ca_certificates };
                format!("file-root:{ca}")
            };
            common.validation_context_type = Some(if tls.insecure_skip_verify == Some(true) {
                ValidationContextType::ValidationContext(CertificateValidationContext::default())
            } else {
                ValidationContextType::CombinedValidationContext(
                    CombinedCertificateValidationContext {
                        default_validation_context: Some(CertificateValidationContext {
                            match_subject_alt_names: exact(sans),
                            crl: (!tls.ca_crl.is_empty()).then(|| DataSource {
                                specifier: Some(data_source::Specifier::Filename(
                                    tls.ca_crl.clone(),
                                )),
                                ..Default::default()
                            }),
                            ..Default::default()
                        }),
                        validation_context_sds_secret_config: Some(sds(&root)),
                        ..Default::default()
                    },
                )
            });
            if h2 {
                common.alpn_protocols = vec!["h2".into()];
            }
        }
    }
    Some(UpstreamTlsContext { common_tls_context: Some(common), sni, ..Default::default() })
}
