//! `Gateway`: its types (servers and their ports) and Istio's rules for them. Server TLS
//! settings, which Sidecar shares, are in `server_tls`; the `namespace/host` rule is in
//! `rules`.

use std::collections::BTreeSet;

use serde::Deserialize;

use super::server_tls::{self, ServerTlsMode, ServerTlsSettings};
use super::Port;
use crate::common::{Protocol, StringMap};
use crate::rules::{
    is_dns1123_label, is_ip, namespace_slash_hostname, validate_port, validate_unix_address, Errs,
    HostEntryOf,
};

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

// ---------------------------------------------------------------------------------------------
// Rules
// ---------------------------------------------------------------------------------------------

/// Istio's rules for a `Gateway` spec; `name` is the object's (a gateway name must be a DNS
/// label).
pub(crate) fn validate(g: &Gateway, name: &str, e: &mut Errs) {
    if !name.is_empty() && !is_dns1123_label(name) {
        e.add("metadata.name", format!("invalid gateway name: {name:?}"));
    }
    if g.servers.is_empty() {
        e.add("spec.servers", "gateway must have at least one server");
    }
    let mut port_names = BTreeSet::new();
    for (i, s) in g.servers.iter().enumerate() {
        let p = format!("spec.servers[{i}]");
        server(s, &p, e);
        if let Some(port) = &s.port {
            if !port_names.insert(port.name.as_str()) {
                e.add(
                    format!("{p}.port.name"),
                    format!("port names in servers must be unique: duplicate name {}", port.name),
                );
            }
        }
    }
}

fn server(s: &Server, p: &str, e: &mut Errs) {
    if s.hosts.is_empty() {
        e.add(format!("{p}.hosts"), "server config must contain at least one host");
    }
    for (i, h) in s.hosts.iter().enumerate() {
        namespace_slash_hostname(h, HostEntryOf::Gateway, &format!("{p}.hosts[{i}]"), e);
    }
    let unix_bind = s.bind.starts_with("unix://");
    let mut port_ok = true;
    match &s.port {
        None => {
            e.add(format!("{p}.port"), "port is required");
            port_ok = false;
        }
        Some(port) => {
            if Protocol::parse(&port.protocol) == Protocol::Unsupported {
                e.add(
                    format!("{p}.port.protocol"),
                    format!(
                        "invalid protocol {:?}, supported protocols are HTTP, HTTP2, GRPC, GRPC-WEB, MONGO, REDIS, MYSQL, TCP",
                        port.protocol
                    ),
                );
                port_ok = false;
            }
            if port.number > 0 || !unix_bind {
                if let Err(m) = validate_port(port.number.into()) {
                    e.add(format!("{p}.port.number"), m);
                    port_ok = false;
                }
            }
            if port.target_port > 0 {
                e.add(format!("{p}.port.targetPort"), "targetPort has no impact on Gateways");
            }
            if port.name.is_empty() {
                e.add(format!("{p}.port.name"), "port name must be set");
            }
        }
    }
    if let Some(addr) = s.bind.strip_prefix("unix://") {
        e.check(format!("{p}.bind"), validate_unix_address(addr));
        if s.port.as_ref().is_some_and(|port| port.number != 0) {
            e.add(format!("{p}.port.number"), "port number must be 0 for unix domain socket");
        }
    } else if !s.bind.is_empty() && !is_ip(&s.bind) {
        e.add(format!("{p}.bind"), format!("{} is not a valid IP", s.bind));
    }
    if let Some(t) = &s.tls {
        server_tls::validate(t, &format!("{p}.tls"), e);
    }
    if let (true, Some(port)) = (port_ok, &s.port) {
        let proto = Protocol::parse(&port.protocol);
        match &s.tls {
            None if proto.is_tls() => {
                e.add(format!("{p}.tls"), "server must have TLS settings for HTTPS/TLS protocols");
            }
            Some(t) if !proto.is_tls() => {
                if proto.is_http() {
                    let passthrough = matches!(
                        t.mode.unwrap_or_default(),
                        ServerTlsMode::PASSTHROUGH | ServerTlsMode::AUTO_PASSTHROUGH
                    );
                    if !passthrough
                        || !t.ca_certificates.is_empty()
                        || !t.private_key.is_empty()
                        || !t.server_certificate.is_empty()
                    {
                        e.add(
                            format!("{p}.tls"),
                            "server cannot have TLS settings for plain text HTTP ports",
                        );
                    }
                } else {
                    e.add(
                        format!("{p}.tls"),
                        "server cannot have TLS settings for non HTTPS/TLS ports",
                    );
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::validate::spec_errors as errors;

    #[test]
    fn gateway_tls_rules() {
        let gw = |proto: &str, tls: serde_json::Value| serde_json::json!({"servers": [{"port": {"number": 443, "name": "p", "protocol": proto}, "hosts": ["*"], "tls": tls}]});
        let e = errors("Gateway", gw("HTTPS", serde_json::Value::Null));
        assert_eq!(e[0].field, "spec.servers[0].tls", "{e:?}");
        let e = errors("Gateway", gw("HTTPS", serde_json::json!({"mode": "SIMPLE"})));
        assert_eq!(e.len(), 2, "SIMPLE needs a certificate and a key: {e:?}");
        assert!(errors(
            "Gateway",
            gw("HTTPS", serde_json::json!({"mode": "SIMPLE", "credentialName": "c"}))
        )
        .is_empty());
        assert!(
            errors("Gateway", gw("HTTP", serde_json::json!({"httpsRedirect": true}))).is_empty()
        );
        assert!(!errors(
            "Gateway",
            gw("HTTP", serde_json::json!({"mode": "SIMPLE", "credentialName": "c"}))
        )
        .is_empty());
    }
}
