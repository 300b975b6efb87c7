//! `Sidecar`: the listeners and outbound policy of a workload's proxy, and Istio's rules for
//! them. Ingress TLS and connection pools use the shared `server_tls` and `connection_pool`
//! rules plus the restrictions a sidecar adds.

use std::collections::BTreeSet;

use serde::Deserialize;

use super::connection_pool::{self, ConnectionPoolSettings};
use super::destination::{self, Destination};
use super::server_tls::{self, ServerTlsMode, ServerTlsSettings};
use super::workload_selector::{self, ServiceEntryWorkloadSelector};
use super::Port;
use crate::common::istio_enum;
use crate::rules::{
    is_ip, namespace_slash_hostname, validate_fqdn, validate_port, validate_port_name,
    validate_protocol, validate_unix_address, Errs, HostEntryOf,
};

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

// ---------------------------------------------------------------------------------------------
// Rules
// ---------------------------------------------------------------------------------------------

/// Istio's rules for a `Sidecar` spec.
pub(crate) fn validate(s: &Sidecar, e: &mut Errs) {
    if let Some(ws) = &s.workload_selector {
        workload_selector::validate(ws, "spec.workloadSelector", e);
    }
    if s.egress.is_empty()
        && s.ingress.is_empty()
        && s.outbound_traffic_policy.is_none()
        && s.inbound_connection_pool.is_none()
    {
        e.add("spec", "sidecar: empty configuration provided");
        return;
    }
    let mut ports = BTreeSet::new();
    for (i, l) in s.ingress.iter().enumerate() {
        let p = format!("spec.ingress[{i}]");
        let Some(port) = &l.port else {
            e.add(format!("{p}.port"), "sidecar: port is required for ingress listeners");
            continue;
        };
        if port.target_port > 0 {
            e.add(format!("{p}.port.targetPort"), "targetPort has no impact on Sidecars");
        }
        if !port.name.is_empty() {
            e.check(format!("{p}.port.name"), validate_port_name(&port.name));
        }
        e.check(format!("{p}.port.protocol"), validate_protocol(&port.protocol));
        e.check(format!("{p}.port.number"), validate_port(port.number.into()));
        if !l.bind.is_empty() && !is_ip(&l.bind) {
            e.add(format!("{p}.bind"), format!("{} is not a valid IP", l.bind));
        }
        if !ports.insert(port.number) {
            e.add(
                format!("{p}.port.number"),
                "sidecar: ports on IP bound listeners must be unique",
            );
        }
        if let Some(addr) = l.default_endpoint.strip_prefix("unix://") {
            e.check(format!("{p}.defaultEndpoint"), validate_unix_address(addr));
        } else if !l.default_endpoint.is_empty() {
            default_endpoint(&l.default_endpoint, &format!("{p}.defaultEndpoint"), e);
        }
        if let Some(t) = &l.tls {
            let tp = format!("{p}.tls");
            if !t.subject_alt_names.is_empty() {
                e.add(&tp, "sidecar: subjectAltNames is not supported in ingress tls");
            }
            if t.https_redirect {
                e.add(&tp, "sidecar: httpsRedirect is not supported");
            }
            if !t.credential_name.is_empty() {
                e.add(&tp, "sidecar: credentialName is not currently supported");
            }
            let mode = t.mode.unwrap_or_default();
            if matches!(mode, ServerTlsMode::ISTIO_MUTUAL | ServerTlsMode::AUTO_PASSTHROUGH) {
                e.add(&tp, format!("configuration is invalid: cannot set mode to {mode} in sidecar ingress tls"));
            }
            server_tls::validate(t, &tp, e);
        }
        if let Some(c) = &l.connection_pool {
            connection_pool::validate(c, &format!("{p}.connectionPool"), e);
        }
    }
    if let Some(c) = &s.inbound_connection_pool {
        connection_pool::validate(c, "spec.inboundConnectionPool", e);
    }
    let mut ports = BTreeSet::new();
    let mut sockets = BTreeSet::new();
    let mut catch_all = false;
    for (i, l) in s.egress.iter().enumerate() {
        let p = format!("spec.egress[{i}]");
        match &l.port {
            None => {
                if catch_all {
                    e.add(&p, "sidecar: egress can have only one listener with empty port");
                    continue;
                }
                if i == s.egress.len() - 1 {
                    catch_all = true;
                } else {
                    e.add(&p, "sidecar: the egress listener with empty port should be the last listener in the list");
                }
            }
            Some(port) => {
                if port.target_port > 0 {
                    e.add(format!("{p}.port.targetPort"), "targetPort has no impact on Sidecars");
                }
                if !port.name.is_empty() {
                    e.check(format!("{p}.port.name"), validate_port_name(&port.name));
                }
                e.check(format!("{p}.port.protocol"), validate_protocol(&port.protocol));
                let mode = l.capture_mode.unwrap_or_default();
                if port.number == 0 {
                    match l.bind.strip_prefix("unix://") {
                        None => e.add(format!("{p}.bind"), "sidecar: ports with 0 value must have a unix domain socket bind address"),
                        Some(addr) => e.check(format!("{p}.bind"), validate_unix_address(addr)),
                    }
                    if !matches!(mode, CaptureMode::DEFAULT | CaptureMode::NONE) {
                        e.add(format!("{p}.captureMode"), "sidecar: captureMode must be DEFAULT/NONE for unix domain socket listeners");
                    }
                    if !sockets.insert(l.bind.as_str()) {
                        e.add(
                            format!("{p}.bind"),
                            "sidecar: unix domain socket values for listeners must be unique",
                        );
                    }
                } else {
                    e.check(format!("{p}.port.number"), validate_port(port.number.into()));
                    if !l.bind.is_empty() && !is_ip(&l.bind) {
                        e.add(format!("{p}.bind"), format!("{} is not a valid IP", l.bind));
                    }
                    if !ports.insert(port.number) {
                        e.add(
                            format!("{p}.port.number"),
                            "sidecar: ports on IP bound listeners must be unique",
                        );
                    }
                }
            }
        }
        if l.hosts.is_empty() {
            e.add(format!("{p}.hosts"), "sidecar: egress listener must contain at least one host");
        }
        for (j, h) in l.hosts.iter().enumerate() {
            namespace_slash_hostname(h, HostEntryOf::Sidecar, &format!("{p}.hosts[{j}]"), e);
        }
    }
    if let Some(o) = &s.outbound_traffic_policy {
        if let Some(proxy) = &o.egress_proxy {
            let p = "spec.outboundTrafficPolicy.egressProxy";
            if o.mode.unwrap_or_default() != OutboundMode::ALLOW_ANY {
                e.add(p, "sidecar: egress_proxy must be set only with ALLOW_ANY outbound_traffic_policy mode");
            } else {
                e.check(format!("{p}.host"), validate_fqdn(&proxy.host));
                if proxy.port.is_none() {
                    e.add(format!("{p}.port"), "sidecar: egress_proxy port must be non-nil");
                } else {
                    destination::validate(proxy, p, e);
                }
            }
        }
    }
}

fn default_endpoint(ep: &str, p: &str, e: &mut Errs) {
    // 127.0.0.1:port, 0.0.0.0:port, [::1]:port, [::]:port or :port.
    let Some(colon) = ep.rfind(':') else {
        e.add(p, format!("address {ep}: missing port in address"));
        return;
    };
    let (host, port) = (&ep[..colon], &ep[colon + 1..]);
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    if !host.is_empty() && !matches!(host, "127.0.0.1" | "0.0.0.0" | "::1" | "::") {
        e.add(
            p,
            "sidecar: defaultEndpoint must be of form 127.0.0.1:<port>,0.0.0.0:<port>,[::1]:port,[::]:port,unix://filepath or unset",
        );
    }
    match port.parse::<i64>() {
        Ok(n) => e.check(p, validate_port(n)),
        Err(_) => e.add(p, format!("sidecar: defaultEndpoint port ({port}) is not a number")),
    }
}

#[cfg(test)]
mod tests {
    use crate::validate::spec_errors as errors;

    #[test]
    fn sidecar_egress_hosts() {
        let sc = |h: &str| serde_json::json!({"egress": [{"hosts": [h]}]});
        assert!(errors("Sidecar", sc("./*")).is_empty());
        assert!(errors("Sidecar", sc("istio-system/*.example.com")).is_empty());
        assert_eq!(errors("Sidecar", sc("example.com"))[0].field, "spec.egress[0].hosts[0]");
        assert!(!errors("Sidecar", sc("ns/foo*.com")).is_empty());
    }
}
