//! `DestinationRule`: its types (traffic policy, subsets, load balancing, locality, outlier
//! detection, tunnels, client TLS) and Istio's rules for them. Connection pools, which Sidecar
//! shares, are in `connection_pool`.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use super::connection_pool::{self, ConnectionPoolSettings};
use super::destination::subset_name;
use super::PortSelector;
use crate::common::{istio_enum, Duration, StringMap, WorkloadSelector, U64};
use crate::rules::{
    export_to, is_ip, labels, percent_0_100, selector, validate_fqdn, validate_port,
    validate_wildcard_domain, Errs, ExportReach, ExportToNoOne,
};

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
// Rules
// ---------------------------------------------------------------------------------------------

/// Istio's rules for a `DestinationRule` spec in `namespace`.
pub(crate) fn validate(dr: &DestinationRule, namespace: &str, e: &mut Errs) {
    if dr.host.is_empty() {
        e.add("spec.host", "Required value");
    } else {
        e.check("spec.host", validate_wildcard_domain(&dr.host));
    }
    if let Some(tp) = &dr.traffic_policy {
        traffic_policy(tp, "spec.trafficPolicy", e);
    }
    let mut names = BTreeSet::new();
    for (i, s) in dr.subsets.iter().enumerate() {
        let p = format!("spec.subsets[{i}]");
        if !names.insert(s.name.as_str()) {
            e.add(format!("{p}.name"), format!("duplicate subset names: {}", s.name));
        }
        e.check(format!("{p}.name"), subset_name(&s.name));
        labels(&s.labels, &format!("{p}.labels"), e);
        if let Some(tp) = &s.traffic_policy {
            traffic_policy(tp, &format!("{p}.trafficPolicy"), e);
        }
    }
    let reach = match dr.workload_selector {
        Some(_) => ExportReach::OwnNamespace,
        None => ExportReach::AnyNamespace,
    };
    export_to(namespace, &dr.export_to, ExportToNoOne::Refused, reach, e);
    selector(dr.workload_selector.as_ref(), "spec.workloadSelector", e);
}

fn traffic_policy(tp: &TrafficPolicy, p: &str, e: &mut Errs) {
    if tp.outlier_detection.is_none()
        && tp.connection_pool.is_none()
        && tp.load_balancer.is_none()
        && tp.tls.is_none()
        && tp.port_level_settings.is_none()
        && tp.tunnel.is_none()
        && tp.proxy_protocol.is_none()
        && tp.retry_budget.is_none()
    {
        e.add(p, "traffic policy must have at least one field");
        return;
    }
    if tp.tunnel.is_some() && tp.proxy_protocol.is_some() {
        e.add(p, "tunnel and proxyProtocol must not be set together");
    }
    if let Some(o) = &tp.outlier_detection {
        outlier_detection(o, &format!("{p}.outlierDetection"), e);
    }
    if let Some(c) = &tp.connection_pool {
        connection_pool::validate(c, &format!("{p}.connectionPool"), e);
    }
    if let Some(lb) = &tp.load_balancer {
        load_balancer(lb, &format!("{p}.loadBalancer"), e);
    }
    if let Some(t) = &tp.tls {
        client_tls(t, &format!("{p}.tls"), e);
    }
    for (i, pl) in tp.port_level_settings.iter().flatten().enumerate() {
        let pp = format!("{p}.portLevelSettings[{i}]");
        match &pl.port {
            None => e.add(format!("{pp}.port"), "portTrafficPolicy must have valid port"),
            Some(port) => e.check(format!("{pp}.port.number"), validate_port(port.number.into())),
        }
        if pl.outlier_detection.is_none()
            && pl.connection_pool.is_none()
            && pl.load_balancer.is_none()
            && pl.tls.is_none()
        {
            e.add(&pp, "port traffic policy must have at least one field");
            continue;
        }
        if let Some(o) = &pl.outlier_detection {
            outlier_detection(o, &format!("{pp}.outlierDetection"), e);
        }
        if let Some(c) = &pl.connection_pool {
            connection_pool::validate(c, &format!("{pp}.connectionPool"), e);
        }
        if let Some(lb) = &pl.load_balancer {
            load_balancer(lb, &format!("{pp}.loadBalancer"), e);
        }
        if let Some(t) = &pl.tls {
            client_tls(t, &format!("{pp}.tls"), e);
        }
    }
    if let Some(t) = &tp.tunnel {
        let tpath = format!("{p}.tunnel");
        if !t.protocol.is_empty() && t.protocol != "CONNECT" && t.protocol != "POST" {
            e.add(format!("{tpath}.protocol"), "tunnel protocol must be \"CONNECT\" or \"POST\"");
        }
        if validate_fqdn(&t.target_host).is_err() && !is_ip(&t.target_host) {
            e.add(
                format!("{tpath}.targetHost"),
                "tunnel target host must be valid FQDN or IP address",
            );
        }
        e.check(format!("{tpath}.targetPort"), validate_port(t.target_port.into()));
    }
    if let Some(rb) = &tp.retry_budget {
        if let Some(pc) = rb.percent {
            if !(0.0..=100.0).contains(&pc) {
                e.add(format!("{p}.retryBudget.percent"), "percent must be in range [0.0, 100.0]");
            }
        }
    }
}

fn outlier_detection(o: &OutlierDetection, p: &str, e: &mut Errs) {
    e.duration(format!("{p}.baseEjectionTime"), o.base_ejection_time.as_ref());
    e.duration(format!("{p}.interval"), o.interval.as_ref());
    if !o.split_external_local_origin_errors && o.consecutive_local_origin_failures.unwrap_or(0) > 0
    {
        e.add(
            format!("{p}.consecutiveLocalOriginFailures"),
            "outlier detection consecutive local origin failures is specified, but split external local origin errors is set to false",
        );
    }
    percent_0_100(o.max_ejection_percent, &format!("{p}.maxEjectionPercent"), e);
    percent_0_100(o.min_health_percent, &format!("{p}.minHealthPercent"), e);
}

fn is_prime(x: u64) -> bool {
    if x != 0 && x < 4 {
        return true;
    }
    if x & 1 == 0 {
        return false;
    }
    let mut f = 3u64;
    while f.saturating_mul(f) <= x {
        if x.checked_rem(f) == Some(0) {
            return false;
        }
        f += 2;
    }
    true
}

fn load_balancer(lb: &LoadBalancerSettings, p: &str, e: &mut Errs) {
    if lb.simple.is_some() && lb.consistent_hash.is_some() {
        e.add(p, "only one of simple or consistentHash may be set");
    }
    if let Some(ch) = &lb.consistent_hash {
        let cp = format!("{p}.consistentHash");
        let keys = usize::from(ch.http_header_name.is_some())
            + usize::from(ch.http_cookie.is_some())
            + usize::from(ch.use_source_ip.is_some())
            + usize::from(ch.http_query_parameter_name.is_some());
        if keys > 1 {
            e.add(&cp, "only one of httpHeaderName, httpCookie, useSourceIp or httpQueryParameterName may be set");
        }
        if let Some(c) = &ch.http_cookie {
            if c.name.is_empty() {
                e.add(format!("{cp}.httpCookie.name"), "name required for HttpCookie");
            }
            if let Some(ttl) = &c.ttl {
                if ttl.nanos < 0 {
                    e.add(format!("{cp}.httpCookie.ttl"), "ttl must not be negative");
                }
            }
        }
        if ch.ring_hash.is_some() && ch.maglev.is_some() {
            e.add(&cp, "only one of ringHash or maglev may be set");
        }
        if ch.minimum_ring_size.is_some_and(|v| v.0 != 0)
            && (ch.ring_hash.is_some() || ch.maglev.is_some())
        {
            e.add(&cp, "only one of MinimumRingSize or Maglev/Ringhash can be specified");
        }
        if let Some(m) = &ch.maglev {
            let size = m.table_size.map_or(0, |v| v.0);
            let f = format!("{cp}.maglev.tableSize");
            if size == 0 {
                e.add(&f, "tableSize must be set for maglev");
            }
            if size >= 5_000_011 {
                e.add(&f, "tableSize must be less than 5000011 for maglev");
            } else if !is_prime(size) {
                e.add(&f, "tableSize must be a prime number for maglev");
            }
        }
    }
    if let Some(l) = &lb.locality_lb_setting {
        locality_lb(l, &format!("{p}.localityLbSetting"), e);
    }
    e.duration(format!("{p}.warmupDurationSecs"), lb.warmup_duration_secs.as_ref());
    if let Some(w) = &lb.warmup {
        let wp = format!("{p}.warmup");
        match &w.duration {
            None => e.add(format!("{wp}.duration"), "Required value"),
            Some(d) => e.duration(format!("{wp}.duration"), Some(d)),
        }
        if let Some(mp) = w.minimum_percent {
            if !(0.0..=100.0).contains(&mp) {
                e.add(
                    format!("{wp}.minimumPercent"),
                    format!("Invalid value: {mp}: must be between 0 and 100"),
                );
            }
        }
        if let Some(a) = w.aggression {
            if a.is_nan() || a <= 0.0 {
                e.add(
                    format!("{wp}.aggression"),
                    format!("Invalid value: {a}: must be greater than 0"),
                );
            }
        }
        if lb.warmup_duration_secs.is_some() {
            e.add(&wp, "only one of warmup or warmupDurationSecs may be set");
        }
    }
}

/// Locality load balancing. Istio only warns when it is set without outlier detection, so that
/// is not reported.
fn locality_lb(l: &LocalityLbSetting, p: &str, e: &mut Errs) {
    if !l.distribute.is_empty() && !l.failover.is_empty() {
        e.add(p, "can not simultaneously specify 'distribute' and 'failover'");
        return;
    }
    if !l.failover.is_empty() {
        for (i, label) in l.failover_priority.iter().enumerate() {
            if matches!(
                label.as_str(),
                "topology.kubernetes.io/region"
                    | "topology.kubernetes.io/zone"
                    | "topology.istio.io/subzone"
            ) {
                e.add(
                    format!("{p}.failoverPriority[{i}]"),
                    format!("can not simultaneously set 'failover' and topology label '{label}' in 'failover_priority'"),
                );
                return;
            }
        }
    }
    let mut sources = Vec::new();
    for (i, d) in l.distribute.iter().enumerate() {
        let dp = format!("{p}.distribute[{i}]");
        sources.push(d.from.clone());
        let mut total: u64 = 0;
        for (loc, w) in &d.to {
            if *w == 0 || *w > 100 {
                e.add(format!("{dp}.to.{loc}"), "locality weight must be in range [1, 100]");
                return;
            }
            total += u64::from(*w);
        }
        if total != 100 {
            e.add(format!("{dp}.to"), format!("total locality weight {total} != 100"));
            return;
        }
        e.check(format!("{dp}.to"), localities(d.to.keys().map(String::as_str)));
    }
    e.check(format!("{p}.distribute"), localities(sources.iter().map(String::as_str)));
    for (i, f) in l.failover.iter().enumerate() {
        let fp = format!("{p}.failover[{i}]");
        if f.from == f.to {
            e.add(&fp, "locality lb failover settings must specify different regions");
        }
        if f.from.contains('/') || f.to.contains('/') {
            e.add(&fp, "locality lb failover only specify region");
        }
        if f.from.contains('*') || f.to.contains('*') {
            e.add(&fp, "locality lb failover region should not contain '*' wildcard");
        }
    }
}

/// Localities (`region/zone/subzone`, trailing `*` allowed) must not overlap.
fn localities<'a>(list: impl Iterator<Item = &'a str>) -> Result<(), String> {
    // region -> zone -> subzones; "*" marks "everything below".
    let mut seen: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    let overlap = |l: &str| Err(format!("locality {l} overlap with previous specified ones"));
    for loc in list {
        let stars = loc.matches('*').count();
        if stars > 1 || (stars == 1 && !loc.ends_with('*')) {
            return Err(format!(
                "locality {loc} wildcard '*' number can not exceed 1 and must be in the end"
            ));
        }
        if seen.contains_key("*") {
            return overlap(loc);
        }
        let items: Vec<&str> = loc.splitn(3, '/').collect();
        if items.iter().any(|i| i.is_empty()) {
            return Err(format!("locality {loc} must not contain empty region/zone/subzone info"));
        }
        let region = items[0].to_string();
        match items.len() {
            1 => {
                if seen.contains_key(&region) {
                    return overlap(loc);
                }
                seen.insert(
                    region,
                    BTreeMap::from([("*".to_string(), BTreeSet::from(["*".to_string()]))]),
                );
            }
            2 => {
                let zone = items[1].to_string();
                let zones = seen.entry(region).or_default();
                if zones.contains_key("*") || zones.contains_key(&zone) {
                    return overlap(loc);
                }
                zones.insert(zone, BTreeSet::from(["*".to_string()]));
            }
            _ => {
                let zone = items[1].to_string();
                let sub = items[2].to_string();
                let zones = seen.entry(region).or_default();
                if zones.contains_key("*") {
                    return overlap(loc);
                }
                let subs = zones.entry(zone).or_default();
                if subs.contains("*") || subs.contains(&sub) {
                    return overlap(loc);
                }
                subs.insert(sub);
            }
        }
    }
    Ok(())
}

fn client_tls(t: &ClientTlsSettings, p: &str, e: &mut Errs) {
    use ClientTlsMode as M;
    let mode = t.mode.unwrap_or_default();
    if t.insecure_skip_verify == Some(true) {
        if mode == M::SIMPLE
            && (!t.ca_certificates.is_empty()
                || !t.credential_name.is_empty()
                || t.subject_alt_names.is_some())
        {
            e.add(p, "cannot specify CaCertificates or CredentialName or SubjectAltNames when InsecureSkipVerify is set true");
        }
        if mode == M::MUTUAL && (!t.ca_certificates.is_empty() || t.subject_alt_names.is_some()) {
            e.add(p, "cannot specify CaCertificates or SubjectAltNames when InsecureSkipVerify is set true");
        }
    }
    if matches!(mode, M::SIMPLE | M::MUTUAL) && !t.credential_name.is_empty() {
        if !t.client_certificate.is_empty()
            || !t.ca_certificates.is_empty()
            || !t.private_key.is_empty()
            || !t.ca_crl.is_empty()
        {
            e.add(p, "cannot specify client certificates or CA certificate or CA CRL If credentialName is set");
        }
        return;
    }
    if mode == M::MUTUAL {
        if t.client_certificate.is_empty() {
            e.add(format!("{p}.clientCertificate"), "client certificate required for mutual tls");
        }
        if t.private_key.is_empty() {
            e.add(format!("{p}.privateKey"), "private key required for mutual tls");
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::validate::spec_errors as errors;

    #[test]
    fn durations_in_specs() {
        let dr = |d: &str| serde_json::json!({"host": "a", "trafficPolicy": {"connectionPool": {"tcp": {"connectTimeout": d}}}});
        assert!(errors("DestinationRule", dr("1.5s")).is_empty());
        let e = errors("DestinationRule", dr("0s"));
        assert_eq!(e[0].field, "spec.trafficPolicy.connectionPool.tcp.connectTimeout");
        let e = errors("DestinationRule", dr("soon"));
        assert_eq!(e[0].field, "spec.trafficPolicy.connectionPool.tcp.connectTimeout");
        assert!(e[0].message.contains("must be a valid duration"));
    }
}
