//! `WorkloadEntry`: a non-Kubernetes workload, and Istio's rules for it. The same message is
//! a ServiceEntry's static endpoint and a WorkloadGroup's template, each checked a little
//! differently, so `validate` takes what the caller requires (`PortsRule`, `AddressForm`,
//! `AddressRule`).

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use crate::common::StringMap;
use crate::rules::{is_ip, labels, validate_fqdn, validate_port, validate_port_name, Errs};

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

// ---------------------------------------------------------------------------------------------
// Rules
// ---------------------------------------------------------------------------------------------

/// Which port names a workload entry may use.
#[derive(Clone, Copy, Debug)]
pub(crate) enum PortsRule<'a> {
    /// Any (a standalone WorkloadEntry, a WorkloadGroup template).
    Any,
    /// Only the named ports of the ServiceEntry it is an endpoint of; a `unix://` endpoint also
    /// needs the service to have exactly one port.
    OfService(&'a BTreeSet<&'a str>),
}

/// What a workload entry's address may be, besides a `unix://` socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AddressForm {
    /// An IP address (the endpoints of a STATIC ServiceEntry).
    IpOnly,
    /// An IP address or an FQDN.
    IpOrFqdn,
}

/// Whether a workload entry must have an address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AddressRule {
    /// Required unless `network` is set.
    Required,
    /// May be empty (a WorkloadGroup template: addresses are filled in per generated entry).
    Optional,
}

/// Istio's checks of a workload entry at `p`: standalone, as a ServiceEntry endpoint or as a
/// WorkloadGroup template, each with its own rules for ports and address.
pub(crate) fn validate(
    we: &WorkloadEntry,
    p: &str,
    ports_rule: PortsRule<'_>,
    address_form: AddressForm,
    address_rule: AddressRule,
    e: &mut Errs,
) {
    let addr = we.address.as_str();
    if addr.is_empty() && we.network.is_empty() && address_rule == AddressRule::Required {
        e.add(format!("{p}.address"), "Address is required (unless network is set)");
    }
    let unix = addr.strip_prefix("unix://");
    if let Some(path) = unix {
        if path.is_empty() {
            e.add(format!("{p}.address"), "unix address must not be empty");
        } else if !path.starts_with('@') {
            if !path.starts_with('/') {
                e.add(format!("{p}.address"), "UDS must be an absolute path or abstract socket");
            } else if path.ends_with('/') {
                e.add(format!("{p}.address"), "UDS may not be a dir");
            }
        }
        if !we.ports.is_empty() {
            e.add(
                format!("{p}.ports"),
                format!("UDS may not include ports (unix endpoint {addr} must not include ports)"),
            );
        }
    } else if !addr.is_empty() && !is_ip(addr) {
        if address_form == AddressForm::IpOnly {
            e.add(
                format!("{p}.address"),
                format!("endpoint address {addr:?} is not a valid IP address"),
            );
        } else if validate_fqdn(addr).is_err() {
            e.add(
                format!("{p}.address"),
                format!("endpoint address {addr:?} is not a valid FQDN or an IP address"),
            );
        }
    }
    if addr.len() > 256 {
        e.add(format!("{p}.address"), "may not be longer than 256 characters");
    }
    for (name, port) in &we.ports {
        if matches!(ports_rule, PortsRule::OfService(sp) if !sp.contains(name.as_str())) {
            e.add(
                format!("{p}.ports.{name}"),
                format!("endpoint port {port} is not defined by the service entry"),
            );
        }
        if name.len() >= 63 || validate_port_name(name).is_err() {
            e.add(format!("{p}.ports"), format!("Invalid value: port name {name:?} must be valid"));
        }
        if let Err(m) = validate_port((*port).into()) {
            e.add(format!("{p}.ports.{name}"), m);
        }
    }
    labels(&we.labels, &format!("{p}.labels"), e);
    for (k, v) in &we.labels {
        if v == "*" {
            e.add(format!("{p}.labels.{k}"), "wildcard not allowed in label value match");
        }
    }
    if unix.is_some() && matches!(ports_rule, PortsRule::OfService(sp) if sp.len() != 1) {
        e.add(format!("{p}.address"), "exactly 1 service port required for unix endpoints");
    }
}
