//! Typed spec of the telemetry.istio.io `Telemetry` kind (tracing, metrics, access logging),
//! with the field names of Istio's API reference, and Istio's rules for it. Every struct
//! refuses unknown fields so a typo is reported with its path. One kind, so one file holds its
//! types and its rules.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::common::{istio_enum, Duration, PolicyTargetReference, WorkloadSelector};
use crate::rules::{one_of_selector, selector, target_refs, Errs, MIN_LEN};

/// `Telemetry` spec.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Telemetry {
    /// Workloads it applies to.
    pub selector: Option<WorkloadSelector>,
    /// Resource it applies to.
    pub target_ref: Option<PolicyTargetReference>,
    /// Resources it applies to.
    #[serde(default)]
    pub target_refs: Vec<PolicyTargetReference>,
    /// Tracing configuration.
    #[serde(default)]
    pub tracing: Vec<Option<Tracing>>,
    /// Metrics configuration.
    #[serde(default)]
    pub metrics: Vec<Option<Metrics>>,
    /// Access logging configuration.
    #[serde(default)]
    pub access_logging: Vec<Option<AccessLogging>>,
}

istio_enum!(
    /// `WorkloadMode`.
    WorkloadMode { CLIENT_AND_SERVER = 0, CLIENT = 1, SERVER = 2 }
);

/// `ProviderRef`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProviderRef {
    /// Provider name from mesh config.
    #[serde(default)]
    pub name: String,
}

/// `Tracing`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Tracing {
    /// Which side of the traffic.
    pub r#match: Option<TracingSelector>,
    /// Providers.
    #[serde(default)]
    pub providers: Vec<Option<ProviderRef>>,
    /// Sampling percentage, 0 to 100.
    pub random_sampling_percentage: Option<f64>,
    /// Do not report spans.
    pub disable_span_reporting: Option<bool>,
    /// Extra span tags.
    #[serde(default)]
    pub custom_tags: BTreeMap<String, Option<CustomTag>>,
    /// Use the request id for sampling decisions.
    pub use_request_id_for_trace_sampling: Option<bool>,
    /// Add Istio's own tags.
    pub enable_istio_tags: Option<bool>,
}

/// `Tracing.TracingSelector`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TracingSelector {
    /// Mode.
    pub mode: Option<WorkloadMode>,
}

/// `Tracing.CustomTag`: one of literal, environment, header.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CustomTag {
    /// Fixed value.
    pub literal: Option<LiteralTag>,
    /// From an environment variable.
    pub environment: Option<NamedTag>,
    /// From a request header.
    pub header: Option<NamedTag>,
}

/// `Tracing.Literal`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LiteralTag {
    /// Value.
    #[serde(default)]
    pub value: String,
}

/// `Tracing.Environment` / `Tracing.RequestHeader`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NamedTag {
    /// Variable or header name.
    #[serde(default)]
    pub name: String,
    /// Value when missing.
    #[serde(default)]
    pub default_value: String,
}

/// `Metrics`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Metrics {
    /// Providers.
    #[serde(default)]
    pub providers: Vec<Option<ProviderRef>>,
    /// Per-metric overrides.
    #[serde(default)]
    pub overrides: Vec<Option<MetricsOverrides>>,
    /// Reporting interval.
    pub reporting_interval: Option<Duration>,
}

istio_enum!(
    /// `MetricSelector.IstioMetric`.
    IstioMetric {
        ALL_METRICS = 0,
        REQUEST_COUNT = 1,
        REQUEST_DURATION = 2,
        REQUEST_SIZE = 3,
        RESPONSE_SIZE = 4,
        TCP_OPENED_CONNECTIONS = 5,
        TCP_CLOSED_CONNECTIONS = 6,
        TCP_SENT_BYTES = 7,
        TCP_RECEIVED_BYTES = 8,
        GRPC_REQUEST_MESSAGES = 9,
        GRPC_RESPONSE_MESSAGES = 10,
    }
);

/// `MetricSelector`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MetricSelector {
    /// Standard metric.
    pub metric: Option<IstioMetric>,
    /// Custom metric name.
    pub custom_metric: Option<String>,
    /// Which side of the traffic.
    pub mode: Option<WorkloadMode>,
}

/// `MetricsOverrides`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MetricsOverrides {
    /// Which metrics.
    pub r#match: Option<MetricSelector>,
    /// Turn the metrics off.
    pub disabled: Option<bool>,
    /// Tag changes, keyed by tag name.
    #[serde(default)]
    pub tag_overrides: BTreeMap<String, Option<TagOverride>>,
}

istio_enum!(
    /// `MetricsOverrides.TagOverride.Operation`.
    TagOperation { UPSERT = 0, REMOVE = 1 }
);

/// `MetricsOverrides.TagOverride`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TagOverride {
    /// Operation (default UPSERT).
    pub operation: Option<TagOperation>,
    /// CEL expression for the value.
    pub value: Option<String>,
}

/// `AccessLogging`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccessLogging {
    /// Which side of the traffic.
    pub r#match: Option<LogSelector>,
    /// Providers.
    #[serde(default)]
    pub providers: Vec<Option<ProviderRef>>,
    /// Turn logging off.
    pub disabled: Option<bool>,
    /// Which requests to log.
    pub filter: Option<LogFilter>,
}

/// `AccessLogging.LogSelector`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LogSelector {
    /// Mode.
    pub mode: Option<WorkloadMode>,
}

/// `AccessLogging.Filter`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LogFilter {
    /// CEL expression.
    #[serde(default)]
    pub expression: String,
}

// ---------------------------------------------------------------------------------------------
// Rules
// ---------------------------------------------------------------------------------------------

/// Istio's rules for a `Telemetry` spec.
pub(crate) fn validate(t: &Telemetry, e: &mut Errs) {
    one_of_selector(t.selector.as_ref(), t.target_ref.as_ref(), &t.target_refs, e);
    selector(t.selector.as_ref(), "spec.selector", e);
    target_refs(t.target_ref.as_ref(), &t.target_refs, e);
    for (i, m) in t.metrics.iter().enumerate() {
        let Some(m) = m else { continue };
        let p = format!("spec.metrics[{i}]");
        providers(&m.providers, &format!("{p}.providers"), e);
        e.duration(format!("{p}.reportingInterval"), m.reporting_interval.as_ref());
        for (j, o) in m.overrides.iter().enumerate() {
            let op = format!("{p}.overrides[{j}]");
            let Some(o) = o else {
                e.add(&op, "tagOverrides may not be null");
                continue;
            };
            for (name, to) in &o.tag_overrides {
                let tp = format!("{op}.tagOverrides.{name}");
                let Some(to) = to else {
                    e.add(&tp, "tagOverrides may not be null");
                    continue;
                };
                let has_value = to.value.as_ref().is_some_and(|v| !v.is_empty());
                match to.operation.unwrap_or_default() {
                    TagOperation::UPSERT if !has_value => {
                        e.add(format!("{tp}.value"), "value must be set when operation is UPSERT");
                    }
                    TagOperation::REMOVE if has_value => {
                        e.add(
                            format!("{tp}.value"),
                            "value must not be set when operation is REMOVE",
                        );
                    }
                    _ => {}
                }
            }
            if let Some(sel) = &o.r#match {
                if sel.metric.is_some() && sel.custom_metric.is_some() {
                    e.add(format!("{op}.match"), "only one of metric or customMetric may be set");
                }
                if sel.custom_metric.as_deref() == Some("") {
                    e.add(
                        format!("{op}.match.customMetric"),
                        format!("{MIN_LEN} (customMetric may not be empty)"),
                    );
                }
            }
        }
    }
    for (i, tr) in t.tracing.iter().enumerate() {
        let Some(tr) = tr else { continue };
        let p = format!("spec.tracing[{i}]");
        providers(&tr.providers, &format!("{p}.providers"), e);
        if let Some(pc) = tr.random_sampling_percentage {
            if !(0.0..=100.0).contains(&pc) {
                e.add(
                    format!("{p}.randomSamplingPercentage"),
                    "randomSamplingPercentage must be in range [0.0, 100.0]",
                );
            }
        }
        for (name, tag) in &tr.custom_tags {
            let tp = format!("{p}.customTags.{name}");
            if name.is_empty() {
                e.add(&tp, "tag name may not be empty");
            }
            let Some(tag) = tag else {
                e.add(&tp, format!("tag '{name}' may not have a nil value"));
                continue;
            };
            let kinds = usize::from(tag.literal.is_some())
                + usize::from(tag.environment.is_some())
                + usize::from(tag.header.is_some());
            if kinds > 1 {
                e.add(&tp, "only one of literal, environment or header may be set");
            }
            if tag.literal.as_ref().is_some_and(|l| l.value.is_empty()) {
                e.add(format!("{tp}.literal.value"), "literal tag value may not be empty");
            }
            if tag.header.as_ref().is_some_and(|h| h.name.is_empty()) {
                e.add(format!("{tp}.header.name"), "header tag name may not be empty");
            }
            if tag.environment.as_ref().is_some_and(|h| h.name.is_empty()) {
                e.add(format!("{tp}.environment.name"), "environment tag name may not be empty");
            }
        }
    }
    for (i, l) in t.access_logging.iter().enumerate() {
        let Some(l) = l else { continue };
        providers(&l.providers, &format!("spec.accessLogging[{i}].providers"), e);
    }
}

fn providers(list: &[Option<ProviderRef>], p: &str, e: &mut Errs) {
    for (i, pr) in list.iter().enumerate() {
        let f = format!("{p}[{i}]");
        match pr {
            None => e.add(f, "must be of type object (providers may not be null)"),
            Some(pr) if pr.name.is_empty() => {
                e.add(format!("{f}.name"), format!("{MIN_LEN} (providers.name may not be empty)"));
            }
            Some(_) => {}
        }
    }
}
