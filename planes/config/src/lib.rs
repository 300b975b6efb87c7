//! istio-planes-config: the Istio configuration model — which kinds exist ([`kinds`]), how
//! documents are read ([`parse_documents`]) and how an object is checked ([`validate_object`]).
//!
//! It depends on no store and no runtime: istiod validates every write with it, and `istioctl
//! validate` runs the same rules offline. Planes read the typed specs ([`networking`],
//! [`security`], [`telemetry`]) from here.
//!
//! Validation is Istio's: unknown fields are rejected with their path (typed specs with
//! `deny_unknown_fields`, decoded through `serde_path_to_error`), then the semantic rules of
//! Istio's validator run. Every problem is reported with a field path such as
//! `spec.http[0].route[1].weight`.
//!
//! The code is laid out by kind, not by job: each kind's typed spec and its rules share one file
//! (`networking/virtual_service/`, `networking/destination_rule.rs`, …, `security/*.rs`,
//! `telemetry.rs`), so a field and its checks change together. Messages several networking kinds
//! use have small modules of their own (ports, destinations, server TLS, connection pools);
//! `validate` only decodes a spec and calls its kind's rules; the checks several kinds share
//! (field paths, hosts, ports, labels, regexes, `exportTo`, …) are in `rules`.
#![forbid(unsafe_code)]

pub mod common;
pub mod depth;
pub mod kinds;
pub mod networking;
mod rules;
pub mod security;
pub mod telemetry;
mod validate;
pub mod yaml;

use serde_json::Value;

pub use kinds::{lookup, lookup_resource, KindInfo, KINDS};
pub use networking::virtual_service::GRPC_CODES;

/// One problem with one field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// Dotted path with indexes, e.g. `spec.http[0].route[1].weight`.
    pub field: String,
    /// What is wrong, phrased so the user knows what to change.
    pub message: String,
}

impl FieldError {
    /// A problem at `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Why a configuration document was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `apiVersion`/`kind` is not one of the kinds istio-rs serves.
    #[error(
        "unsupported kind {kind:?} (apiVersion {api_version:?}); supported kinds: {supported}"
    )]
    UnsupportedKind {
        /// As given.
        api_version: String,
        /// As given.
        kind: String,
        /// A readable list of what is supported.
        supported: String,
    },
    /// The object is invalid; every problem is listed.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    /// A document could not be parsed.
    #[error("document {index}: {message}")]
    Syntax {
        /// 0-based document index in the stream.
        index: usize,
        /// 1-based line in the whole text, when known.
        line: Option<usize>,
        /// Parser message.
        message: String,
    },
}

/// Splits a YAML (or JSON) stream into documents, skipping empty ones. Each document is
/// returned with its 0-based index among all documents in the text (empty ones included) so
/// that errors can name it.
pub fn parse_documents(text: &str) -> Result<Vec<(usize, Value)>, ConfigError> {
    // Bounded before the parser sees it: deep flow nesting costs libyaml quadratic time.
    depth::check_flow_depth(text)?;
    match parse_strict(text) {
        Ok(docs) => Ok(docs),
        // Go's YAML (Istio's) accepts `:` inside flow scalars; retry the way it reads them.
        Err(e) => parse_strict(&yaml::quote_flow_scalars(text)).map_err(|_| e),
    }
}

fn parse_strict(text: &str) -> Result<Vec<(usize, Value)>, ConfigError> {
    use serde::Deserialize;
    let mut out = Vec::new();
    for (index, doc) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let v = Value::deserialize(doc).map_err(|e| ConfigError::Syntax {
            index,
            line: e.location().map(|l| l.line()),
            message: e.to_string(),
        })?;
        if !v.is_null() {
            out.push((index, v));
        }
    }
    Ok(out)
}

/// Checks an object (`apiVersion`, `kind`, `metadata`, `spec`) against its kind: supported
/// kind and version, no unknown fields, and Istio's semantic rules. Returns the kind's entry.
pub fn validate_object(obj: &Value) -> Result<&'static KindInfo, ConfigError> {
    let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or_default();
    let info = lookup(api_version, kind).ok_or_else(|| ConfigError::UnsupportedKind {
        api_version: api_version.into(),
        kind: kind.into(),
        supported: kinds::supported_list(),
    })?;
    let mut errors = Vec::new();
    for (k, _) in obj.as_object().into_iter().flatten() {
        if !matches!(k.as_str(), "apiVersion" | "kind" | "metadata" | "spec" | "status") {
            errors.push(FieldError::new(k.clone(), "unknown field"));
        }
    }
    errors.extend(validate::validate_spec(info.kind, obj));
    if errors.is_empty() {
        Ok(info)
    } else {
        Err(ConfigError::Invalid(errors))
    }
}
