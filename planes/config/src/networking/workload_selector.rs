//! `networking.v1alpha3.WorkloadSelector`, the selector of ServiceEntry and Sidecar (a plain
//! `labels` map, unlike the `matchLabels` of `common::WorkloadSelector`), and the rule both
//! apply to it.

use serde::Deserialize;

use crate::common::StringMap;
use crate::rules::{validate_selector_labels, Errs};

/// `networking.v1alpha3.WorkloadSelector` (ServiceEntry, Sidecar).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceEntryWorkloadSelector {
    /// Labels to select on.
    #[serde(default)]
    pub labels: StringMap,
}

// ---------------------------------------------------------------------------------------------
// Rules
// ---------------------------------------------------------------------------------------------

/// No empty keys and no wildcards; each problem is reported at `{p}.labels.<key>`.
pub(super) fn validate(ws: &ServiceEntryWorkloadSelector, p: &str, e: &mut Errs) {
    for (k, m) in validate_selector_labels(&ws.labels) {
        e.add(format!("{p}.labels.{k}"), m);
    }
}
