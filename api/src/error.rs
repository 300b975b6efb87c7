//! API errors and their one mapping to HTTP: Kubernetes `Status` objects.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use istio_store::StoreError;
use serde::Serialize;
use serde_json::json;

/// One field-level problem, reported in `details.causes`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Cause {
    /// Machine-readable reason, e.g. `FieldValueRequired`, `FieldValueInvalid`.
    pub reason: String,
    /// What is wrong and what to do.
    pub message: String,
    /// Field path, e.g. `metadata.name`.
    pub field: String,
}

impl Cause {
    /// A cause for `field`.
    pub fn new(reason: &str, field: &str, message: impl Into<String>) -> Self {
        Self { reason: reason.into(), field: field.into(), message: message.into() }
    }
}

/// What the object an error is about is called, for `details`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Subject {
    /// API group.
    pub group: String,
    /// Resource (plural) name.
    pub kind: String,
    /// Object name.
    pub name: String,
}

/// Every way an API request can fail.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request itself is malformed (bad JSON, bad query parameter).
    #[error("{0}")]
    BadRequest(String),
    /// 404: no such object.
    #[error("{kind} {name:?} not found", kind = .0.kind, name = .0.name)]
    NotFound(Subject),
    /// 404: no such path.
    #[error("the server could not find the requested resource: {0}")]
    NoRoute(String),
    /// 405.
    #[error("method {method} is not allowed on {path}; allowed: {allowed}")]
    MethodNotAllowed {
        /// Method used.
        method: String,
        /// Path.
        path: String,
        /// Allowed methods.
        allowed: &'static str,
    },
    /// 409: create of an existing object.
    #[error("{kind} {name:?} already exists", kind = .0.kind, name = .0.name)]
    AlreadyExists(Subject),
    /// 409: compare-and-set failed.
    #[error("Operation cannot be fulfilled on {kind} {name:?}: {msg}", kind = .subject.kind, name = .subject.name)]
    Conflict {
        /// What.
        subject: Subject,
        /// Why.
        msg: String,
    },
    /// 410: the requested revision was compacted.
    #[error("too old resource version: {requested} (the oldest available revision is {oldest})")]
    Expired {
        /// Asked revision.
        requested: u64,
        /// Oldest retained.
        oldest: u64,
    },
    /// 413.
    #[error("request body too large: the limit is {limit} bytes")]
    TooLarge {
        /// Limit in bytes.
        limit: usize,
    },
    /// 415.
    #[error("unsupported media type {0:?}; send application/json")]
    UnsupportedMediaType(String),
    /// 422: the object is invalid; every problem is in `causes`.
    #[error("{} is invalid: {}", label(.subject), summarize(.causes))]
    Invalid {
        /// What.
        subject: Subject,
        /// Every problem found.
        causes: Vec<Cause>,
    },
    /// 401: no or bad credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: authenticated, but the role does not allow it.
    #[error("{0}")]
    Forbidden(String),
    /// 503: no leader, not ready, or this member's storage failed (the data dir's disk: the
    /// message names the operation and the path). The request was not applied; another
    /// member, or this one once fixed, can take it.
    #[error("{0}")]
    Unavailable(String),
    /// 504: timed out; the write may still be applied.
    #[error("{0}")]
    Timeout(String),
    /// 500.
    #[error("internal error: {0}")]
    Internal(String),
}

fn label(s: &Subject) -> String {
    if s.name.is_empty() {
        s.kind.clone()
    } else {
        format!("{} {:?}", s.kind, s.name)
    }
}

fn summarize(causes: &[Cause]) -> String {
    let one = |c: &Cause| {
        if c.field.is_empty() {
            c.message.clone()
        } else {
            format!("{}: {}", c.field, c.message)
        }
    };
    causes.iter().map(one).collect::<Vec<_>>().join("; ")
}

impl From<istio_planes_config::ConfigError> for ApiError {
    fn from(e: istio_planes_config::ConfigError) -> Self {
        use istio_planes_config::ConfigError;
        match e {
            ConfigError::Invalid(errors) => ApiError::Invalid {
                subject: Subject::default(),
                causes: errors
                    .into_iter()
                    .map(|f| Cause::new("FieldValueInvalid", &f.field, f.message))
                    .collect(),
            },
            ConfigError::Syntax { index, line, message } => ApiError::BadRequest(match line {
                Some(l) => format!("YAML syntax error in document {index} (line {l}): {message}"),
                None => format!("syntax error in document {index}: {message}"),
            }),
            e @ ConfigError::UnsupportedKind { .. } => ApiError::BadRequest(e.to_string()),
        }
    }
}

impl From<istio_planes_view::ViewError> for ApiError {
    fn from(e: istio_planes_view::ViewError) -> Self {
        use istio_planes_view::ViewError;
        match e {
            ViewError::Store(e) => e.into(),
            e @ ViewError::Stopped => ApiError::Unavailable(e.to_string()),
        }
    }
}

impl From<istio_planes_pilot::PilotError> for ApiError {
    fn from(e: istio_planes_pilot::PilotError) -> Self {
        use istio_planes_pilot::PilotError;
        match e {
            e @ PilotError::AutoRegistration { .. } => ApiError::Internal(e.to_string()),
            PilotError::Store(e) => e.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Compacted { requested, oldest } => ApiError::Expired { requested, oldest },
            StoreError::FutureRevision { .. } | StoreError::Invalid(_) => {
                ApiError::BadRequest(e.to_string())
            }
            StoreError::NoLeader(_) | StoreError::Peer { .. } | StoreError::Raft(_) => {
                ApiError::Unavailable(e.to_string())
            }
            StoreError::Timeout(_) => ApiError::Timeout(e.to_string()),
            StoreError::Membership(_) => ApiError::BadRequest(e.to_string()),
            // The member's own storage failed: never the request's fault. The message names
            // the operation and the path; `into_response` logs every 5xx with it.
            StoreError::Io { .. } | StoreError::Sled(_) => ApiError::Unavailable(e.to_string()),
            StoreError::Corrupt { .. } => ApiError::Internal(e.to_string()),
        }
    }
}

impl ApiError {
    /// HTTP status and Kubernetes `reason`.
    pub fn code_reason(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "BadRequest"),
            ApiError::NotFound(_) | ApiError::NoRoute(_) => (StatusCode::NOT_FOUND, "NotFound"),
            ApiError::MethodNotAllowed { .. } => {
                (StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed")
            }
            ApiError::AlreadyExists(_) => (StatusCode::CONFLICT, "AlreadyExists"),
            ApiError::Conflict { .. } => (StatusCode::CONFLICT, "Conflict"),
            ApiError::Expired { .. } => (StatusCode::GONE, "Expired"),
            ApiError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "RequestEntityTooLarge"),
            ApiError::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "UnsupportedMediaType")
            }
            ApiError::Invalid { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "Invalid"),
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "Unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "Forbidden"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable"),
            ApiError::Timeout(_) => (StatusCode::GATEWAY_TIMEOUT, "Timeout"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "InternalError"),
        }
    }

    /// The Kubernetes `Status` object for this error.
    pub fn status(&self) -> serde_json::Value {
        let (code, reason) = self.code_reason();
        let mut details = serde_json::Map::new();
        let subject = match self {
            ApiError::NotFound(s) | ApiError::AlreadyExists(s) => Some(s),
            ApiError::Conflict { subject, .. } | ApiError::Invalid { subject, .. } => Some(subject),
            _ => None,
        };
        if let Some(s) = subject {
            details.insert("name".into(), json!(s.name));
            details.insert("group".into(), json!(s.group));
            details.insert("kind".into(), json!(s.kind));
        }
        if let ApiError::Invalid { causes, .. } = self {
            details.insert("causes".into(), json!(causes));
        }
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.to_string(),
            "reason": reason,
            "code": code.as_u16(),
        });
        if !details.is_empty() {
            status["details"] = serde_json::Value::Object(details);
        }
        status
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (code, _) = self.code_reason();
        if code.is_server_error() {
            tracing::warn!(error = %self, "request failed");
        }
        let mut resp = (code, axum::Json(self.status())).into_response();
        if let ApiError::MethodNotAllowed { allowed, .. } = &self {
            if let Ok(v) = axum::http::HeaderValue::from_str(allowed) {
                resp.headers_mut().insert(axum::http::header::ALLOW, v);
            }
        }
        resp
    }
}
