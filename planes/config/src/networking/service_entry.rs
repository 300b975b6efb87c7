//! `ServiceEntry`: its types (hosts, addresses, ports, resolution, endpoints) and Istio's
//! rules for them. Endpoints are `WorkloadEntry` messages and are checked by
//! `workload_entry::validate`.

use std::collections::BTreeSet;

use serde::Deserialize;

use super::workload_entry::{self, AddressForm, AddressRule, PortsRule, WorkloadEntry};
use super::workload_selector::{self, ServiceEntryWorkloadSelector};
use super::Port;
use crate::common::{istio_enum, Protocol};
use crate::rules::{
    export_to, validate_fqdn, validate_ip_subnet, validate_port, validate_port_name,
    validate_protocol, validate_wildcard_domain, Errs, ExportReach, ExportToNoOne,
};

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

// ---------------------------------------------------------------------------------------------
// Rules
// ---------------------------------------------------------------------------------------------

/// Istio's rules for a `ServiceEntry` spec in `namespace`.
pub(crate) fn validate(se: &ServiceEntry, namespace: &str, e: &mut Errs) {
    use Resolution as R;
    let resolution = se.resolution.unwrap_or_default();
    if let Some(ws) = &se.workload_selector {
        workload_selector::validate(ws, "spec.workloadSelector", e);
        if se.endpoints.is_some() {
            e.add("spec", "only one of WorkloadSelector or Endpoints can be set");
        }
    }
    if se.hosts.is_empty() {
        e.add("spec.hosts", "Required value: service entry must have at least one host");
    }
    for (i, h) in se.hosts.iter().enumerate() {
        if h == "*" {
            e.add(format!("spec.hosts[{i}]"), "hostname cannot be wildcard");
        } else {
            e.check(format!("spec.hosts[{i}]"), validate_wildcard_domain(h));
        }
    }
    let mut cidr = false;
    for (i, a) in se.addresses.iter().enumerate() {
        cidr |= a.contains('/');
        e.check(format!("spec.addresses[{i}]"), validate_ip_subnet(a));
    }
    if cidr && !matches!(resolution, R::NONE | R::STATIC) {
        e.add("spec.addresses", "CIDR addresses are allowed only for NONE/STATIC resolution types");
    }
    let mut names = BTreeSet::new();
    let mut numbers = BTreeSet::new();
    for (i, port) in se.ports.iter().enumerate() {
        let p = format!("spec.ports[{i}]");
        if !names.insert(port.name.as_str()) {
            e.add(format!("{p}.name"), format!("Duplicate value: {:?}", port.name));
        }
        if !numbers.insert(port.number) {
            e.add(
                format!("{p}.number"),
                format!("port number cannot be duplicated: {}", port.number),
            );
        }
        if port.target_port != 0 {
            e.check(format!("{p}.targetPort"), validate_port(port.target_port.into()));
        }
        e.check(format!("{p}.name"), validate_port_name(&port.name));
        e.check(format!("{p}.protocol"), validate_protocol(&port.protocol));
        e.check(format!("{p}.number"), validate_port(port.number.into()));
    }
    let endpoints = se.endpoints.as_deref().unwrap_or_default();
    match resolution {
        R::NONE => {
            if !endpoints.is_empty() {
                e.add(
                    "spec.endpoints",
                    "NONE mode cannot set endpoints (no endpoints should be provided for resolution type none)",
                );
            }
        }
        R::STATIC => {
            for (i, ep) in endpoints.iter().enumerate() {
                workload_entry::validate(
                    ep,
                    &format!("spec.endpoints[{i}]"),
                    PortsRule::OfService(&names),
                    AddressForm::IpOnly,
                    AddressRule::Required,
                    e,
                );
            }
        }
        R::DNS | R::DNS_ROUND_ROBIN => {
            if endpoints.is_empty() {
                for (i, h) in se.hosts.iter().enumerate() {
                    if validate_fqdn(h).is_err() && h != "*" {
                        e.add(
                            format!("spec.hosts[{i}]"),
                            format!("hosts must be FQDN if no endpoints are provided for resolution mode {resolution}"),
                        );
                    }
                }
            }
            if resolution == R::DNS_ROUND_ROBIN && endpoints.len() > 1 {
                e.add("spec.endpoints", "DNS_ROUND_ROBIN mode cannot have multiple endpoints");
            }
            for (i, ep) in endpoints.iter().enumerate() {
                workload_entry::validate(
                    ep,
                    &format!("spec.endpoints[{i}]"),
                    PortsRule::OfService(&names),
                    AddressForm::IpOrFqdn,
                    AddressRule::Required,
                    e,
                );
            }
        }
    }
    if resolution != R::NONE && se.hosts.len() > 1 {
        if let Some(i) = se.ports.iter().position(|p| {
            let proto = Protocol::parse(&p.protocol);
            !proto.is_http() && !proto.is_tls()
        }) {
            e.add(
                format!("spec.ports[{i}]"),
                "multiple hosts provided with non-HTTP, non-TLS ports",
            );
        }
    }
    export_to(namespace, &se.export_to, ExportToNoOne::Allowed, ExportReach::AnyNamespace, e);
}

#[cfg(test)]
mod tests {
    use crate::validate::spec_errors as errors;

    #[test]
    fn every_problem_is_collected() {
        let spec = serde_json::json!({
            "hosts": ["example.com"],
            "ports": [{"name": "a", "number": 0}, {"name": "a", "number": 0}],
        });
        let e = errors("ServiceEntry", spec);
        let fields: Vec<_> = e.iter().map(|x| x.field.as_str()).collect();
        assert!(fields.contains(&"spec.ports[0].number"), "{fields:?}");
        assert!(fields.contains(&"spec.ports[1].number"), "{fields:?}");
        assert!(fields.contains(&"spec.ports[1].name"), "{fields:?}");
    }

    #[test]
    fn service_entry_static_endpoints() {
        let se = |addr: &str, port: &str| {
            serde_json::json!({"hosts": ["a.example.com"], "resolution": "STATIC",
                "ports": [{"number": 80, "name": "http"}], "endpoints": [{"address": addr, "ports": {port: 8080}}]})
        };
        assert!(errors("ServiceEntry", se("10.0.0.1", "http")).is_empty());
        let e = errors("ServiceEntry", se("a.example.com", "http"));
        assert_eq!(e[0].field, "spec.endpoints[0].address", "STATIC needs IPs: {e:?}");
        let e = errors("ServiceEntry", se("10.0.0.1", "grpc"));
        assert_eq!(e[0].field, "spec.endpoints[0].ports.grpc", "{e:?}");
    }

    #[test]
    fn host_rules() {
        let se = |h: &str| serde_json::json!({"hosts": [h], "resolution": "DNS"});
        assert!(!errors("ServiceEntry", se("*.example.com")).is_empty(), "DNS needs FQDN hosts");
        assert!(errors("ServiceEntry", se("example.com")).is_empty());
    }
}
