//! `Destination`, where a VirtualService route or mirror and a Sidecar's egress proxy send
//! traffic, with the rules every destination obeys: a host that is a valid (wildcard) domain but
//! not `*`, a DNS-label subset, a valid port. DestinationRule subsets are named by the same rule,
//! hence `subset_name` is here too.

use serde::Deserialize;

use super::PortSelector;
use crate::rules::{is_dns1123_label, validate_port, validate_wildcard_domain, Errs};

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

// ---------------------------------------------------------------------------------------------
// Rules
// ---------------------------------------------------------------------------------------------

/// A destination's host, subset and port.
pub(super) fn validate(d: &Destination, p: &str, e: &mut Errs) {
    if d.host.is_empty() {
        e.add(format!("{p}.host"), "Required value");
    } else if d.host == "*" {
        e.add(format!("{p}.host"), format!("invalid destination host {}", d.host));
    } else {
        e.check(format!("{p}.host"), validate_wildcard_domain(&d.host));
    }
    if !d.subset.is_empty() {
        e.check(format!("{p}.subset"), subset_name(&d.subset));
    }
    if let Some(port) = &d.port {
        e.check(format!("{p}.port.number"), validate_port(port.number.into()));
    }
}

/// A subset name: a DNS-1123 label.
pub(super) fn subset_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        Err("subset name cannot be empty".into())
    } else if !is_dns1123_label(name) {
        Err(format!("subset name is invalid: {name}"))
    } else {
        Ok(())
    }
}
