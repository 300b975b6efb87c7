//! `WorkloadGroup`: the template and readiness probe from which WorkloadEntries are generated,
//! and Istio's rules for them. The template is a `WorkloadEntry` whose address is filled in
//! later, so it is checked by `workload_entry::validate` without requiring one.

use serde::Deserialize;

use super::workload_entry::{self, AddressForm, AddressRule, PortsRule, WorkloadEntry};
use crate::common::StringMap;
use crate::rules::{labels, validate_header_name, validate_port, Errs};

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
// Rules
// ---------------------------------------------------------------------------------------------

/// Istio's rules for a `WorkloadGroup` spec.
pub(crate) fn validate(wg: &WorkloadGroup, e: &mut Errs) {
    match &wg.template {
        None => e.add("spec.template", "Required value: template is required"),
        // Address and the like are filled in when entries are generated.
        Some(t) => workload_entry::validate(
            t,
            "spec.template",
            PortsRule::Any,
            AddressForm::IpOrFqdn,
            AddressRule::Optional,
            e,
        ),
    }
    if let Some(m) = &wg.metadata {
        labels(&m.labels, "spec.metadata.labels", e);
    }
    let Some(probe) = &wg.probe else { return };
    let p = "spec.probe";
    let counts = [
        ("periodSeconds", probe.period_seconds),
        ("initialDelaySeconds", probe.initial_delay_seconds),
        ("timeoutSeconds", probe.timeout_seconds),
        ("successThreshold", probe.success_threshold),
        ("failureThreshold", probe.failure_threshold),
    ];
    for (name, v) in counts {
        if v < 0 {
            e.add(format!("{p}.{name}"), format!("{name} must be non-negative"));
        }
    }
    let methods = usize::from(probe.http_get.is_some())
        + usize::from(probe.tcp_socket.is_some())
        + usize::from(probe.exec.is_some())
        + usize::from(probe.grpc.is_some());
    if methods == 0 {
        e.add(p, "probe must set one of httpGet, tcpSocket, exec or grpc");
    } else if methods > 1 {
        e.add(p, "only one of httpGet, tcpSocket, exec or grpc may be set");
    }
    if let Some(h) = &probe.http_get {
        e.check(format!("{p}.httpGet.port"), validate_port(h.port.into()));
        if !h.scheme.is_empty() && h.scheme != "HTTP" && h.scheme != "HTTPS" {
            e.add(
                format!("{p}.httpGet.scheme"),
                "httpGet.scheme must be one of \"HTTPS\", \"HTTP\"",
            );
        }
        for (i, hd) in h.http_headers.iter().enumerate() {
            e.check(format!("{p}.httpGet.httpHeaders[{i}].name"), validate_header_name(&hd.name));
        }
    }
    if let Some(t) = &probe.tcp_socket {
        e.check(format!("{p}.tcpSocket.port"), validate_port(t.port.into()));
    }
    if let Some(x) = &probe.exec {
        if x.command.is_empty() {
            e.add(format!("{p}.exec.command"), "exec.command is required");
        }
    }
    if let Some(g) = &probe.grpc {
        e.check(format!("{p}.grpc.port"), validate_port(g.port.into()));
    }
}
