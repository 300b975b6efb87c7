//! Typed spec of the telemetry.istio.io `Telemetry` kind (tracing, metrics, access logging),
//! with the field names of Istio's API reference. Every struct refuses unknown fields so a
//! typo is reported with its path.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::common::{istio_enum, Duration, PolicyTargetReference, WorkloadSelector};

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
