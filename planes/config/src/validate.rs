//! The entry to Istio's semantic validation (pkg/config/validation and the CRDs' schema/CEL
//! rules): `validate_spec` decodes a spec into its kind's typed form (unknown fields and bad
//! values reported with their path) and hands it to that kind's `validate`. This file is only
//! that dispatch and the decoding; each kind's rules live beside its types (in
//! [`crate::networking`], [`crate::security`] and [`crate::telemetry`]), and the helpers several
//! kinds share are in the crate's `rules` module. Every problem is collected with its field
//! path; nothing stops at the first error.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::networking::workload_entry::{AddressForm, AddressRule, PortsRule};
use crate::networking::{
    destination_rule, gateway, service_entry, sidecar, virtual_service, workload_entry,
    workload_group,
};
use crate::rules::Errs;
use crate::security::{authorization_policy, peer_authentication, request_authentication};
use crate::telemetry;
use crate::FieldError;

/// Decodes `spec` into its typed form and runs the kind's rules. `kind` is a served kind.
pub(crate) fn validate_spec(kind: &str, obj: &Value) -> Vec<FieldError> {
    let mut e = Errs::default();
    let spec = obj.get("spec").filter(|v| !v.is_null());
    let meta = obj.get("metadata");
    let namespace = meta.and_then(|m| m.get("namespace")).and_then(Value::as_str).unwrap_or("");
    let name = meta.and_then(|m| m.get("name")).and_then(Value::as_str).unwrap_or("");
    let spec_required = matches!(
        kind,
        "VirtualService"
            | "DestinationRule"
            | "Gateway"
            | "ServiceEntry"
            | "WorkloadEntry"
            | "WorkloadGroup"
            | "Sidecar"
    );
    let empty = Value::Object(serde_json::Map::new());
    let spec = match spec {
        Some(s) => s,
        None if spec_required => {
            e.add("spec", "Required value");
            return e.into_list();
        }
        None => &empty,
    };
    match kind {
        "VirtualService" => run(spec, &mut e, |s, e| virtual_service::validate(s, namespace, e)),
        "DestinationRule" => run(spec, &mut e, |s, e| destination_rule::validate(s, namespace, e)),
        "Gateway" => run(spec, &mut e, |s, e| gateway::validate(s, name, e)),
        "ServiceEntry" => run(spec, &mut e, |s, e| service_entry::validate(s, namespace, e)),
        "WorkloadEntry" => run(spec, &mut e, |s, e| {
            workload_entry::validate(
                s,
                "spec",
                PortsRule::Any,
                AddressForm::IpOrFqdn,
                AddressRule::Required,
                e,
            );
        }),
        "WorkloadGroup" => run(spec, &mut e, workload_group::validate),
        "Sidecar" => run(spec, &mut e, sidecar::validate),
        "AuthorizationPolicy" => run(spec, &mut e, authorization_policy::validate),
        "PeerAuthentication" => run(spec, &mut e, peer_authentication::validate),
        "RequestAuthentication" => run(spec, &mut e, request_authentication::validate),
        "Telemetry" => run(spec, &mut e, telemetry::validate),
        other => e.add("kind", format!("no validation rules for kind {other:?}")),
    }
    e.into_list()
}

/// Decodes `spec` as `T` and, if that succeeds, runs `rules` on it.
fn run<T: DeserializeOwned>(spec: &Value, e: &mut Errs, rules: impl FnOnce(&T, &mut Errs)) {
    match decode::<T>(spec) {
        Ok(typed) => rules(&typed, e),
        Err(fe) => e.push(fe),
    }
}

/// Decodes through `serde_path_to_error` so the error names the field (`spec.x[0].y`).
fn decode<T: DeserializeOwned>(spec: &Value) -> Result<T, FieldError> {
    serde_path_to_error::deserialize::<_, T>(spec).map_err(|err| {
        let path = err.path().to_string();
        let message = err.into_inner().to_string();
        let mut field = match path.as_str() {
            "." => "spec".to_string(),
            p if p.starts_with('[') => format!("spec{p}"),
            p => format!("spec.{p}"),
        };
        if let Some(name) =
            message.strip_prefix("missing field `").and_then(|r| r.split('`').next())
        {
            field.push('.');
            field.push_str(name);
            return FieldError::new(field, "Required value");
        }
        let message = match message.strip_prefix("invalid type: null, expected ") {
            Some(what) => format!("must be of type object (got null, expected {what})"),
            None => message,
        };
        FieldError::new(field, message)
    })
}

/// The problems `validate_spec` finds in `spec` for `kind` (in namespace `ns`), for the kinds'
/// unit tests.
#[cfg(test)]
pub(crate) fn spec_errors(kind: &str, spec: Value) -> Vec<FieldError> {
    validate_spec(kind, &serde_json::json!({ "spec": spec, "metadata": {"namespace": "ns"} }))
}

#[cfg(test)]
mod tests {
    use super::spec_errors as errors;

    #[test]
    fn typo_is_reported_with_path() {
        let spec = serde_json::json!({"hosts": ["a"], "http": [{"route": [{"destination": {"hostt": "a"}}]}]});
        let e = errors("VirtualService", spec);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].field, "spec.http[0].route[0].destination.hostt");
    }
}
