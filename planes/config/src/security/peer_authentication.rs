//! `PeerAuthentication`: workload- and port-level mutual TLS modes, and Istio's rules for
//! them.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::common::{istio_enum, WorkloadSelector};
use crate::rules::{selector, validate_port, Errs};

istio_enum!(
    /// `PeerAuthentication.MutualTLS.Mode`.
    MtlsMode { UNSET = 0, DISABLE = 1, PERMISSIVE = 2, STRICT = 3 }
);

/// `PeerAuthentication` spec.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PeerAuthentication {
    /// Workloads it applies to.
    pub selector: Option<WorkloadSelector>,
    /// Workload-wide mTLS.
    pub mtls: Option<MutualTls>,
    /// Per-port mTLS, keyed by port number.
    pub port_level_mtls: Option<BTreeMap<String, MutualTls>>,
}

/// `PeerAuthentication.MutualTLS`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MutualTls {
    /// Mode.
    pub mode: Option<MtlsMode>,
}

// ---------------------------------------------------------------------------------------------
// Rules
// ---------------------------------------------------------------------------------------------

/// Istio's rules for a `PeerAuthentication` spec.
pub(crate) fn validate(pa: &PeerAuthentication, e: &mut Errs) {
    let empty_selector = pa.selector.as_ref().is_none_or(|s| s.match_labels.is_empty());
    if let Some(ports) = &pa.port_level_mtls {
        let p = "spec.portLevelMtls";
        if ports.is_empty() {
            e.add(p, "should have at least 1 properties (port level mTLS, if defined, must have at least one element)");
        } else if empty_selector {
            e.add(
                p,
                "portLevelMtls requires selector (mesh/namespace peer authentication cannot have port level mTLS)",
            );
        }
        for key in ports.keys() {
            match key.parse::<i64>() {
                Err(_) => e.add(
                    format!("{p}.{key}"),
                    format!("type conversion error from string {key:?} to integer: port must be a number"),
                ),
                Ok(n) => e.check(format!("{p}.{key}"), validate_port(n)),
            }
        }
    }
    selector(pa.selector.as_ref(), "spec.selector", e);
}

#[cfg(test)]
mod tests {
    use crate::validate::spec_errors as errors;

    #[test]
    fn enums_by_name_or_number() {
        let pa = |m: serde_json::Value| serde_json::json!({"mtls": {"mode": m}});
        assert!(errors("PeerAuthentication", pa("STRICT".into())).is_empty());
        assert!(errors("PeerAuthentication", pa(3.into())).is_empty());
        let e = errors("PeerAuthentication", pa("BLAH".into()));
        assert!(e[0].message.contains("Unsupported value: \"BLAH\""), "{e:?}");
        assert_eq!(e[0].field, "spec.mtls.mode");
    }
}
