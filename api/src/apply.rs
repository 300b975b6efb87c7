//! `POST /v1/apply`: a multi-document YAML/JSON stream applied atomically as one revision.
//!
//! Every document is validated first (all problems reported, nothing written if any). Objects
//! equal to what is stored are `unchanged` and write nothing; the rest are `created` or
//! `configured` in one txn whose preconditions pin the versions that were compared, so a
//! concurrent change makes the txn fail and the comparison is redone.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use istio_planes::config::{self, ConfigError};
use istio_store::{Consistency, Op, Precondition, Txn, TxnOutcome};
use serde_json::{json, Value};

use crate::error::{ApiError, Cause, Subject};
use crate::http::{read_body, submit, AppState};
use crate::object::{self, Target};

/// One validated document of an apply.
struct Doc {
    target: Target,
    name: String,
    object: Value,
}

/// Parses and validates every document; on any problem, one `Invalid` error listing them all
/// with their document index.
fn parse(text: &str, namespace: &str) -> Result<Vec<Doc>, ApiError> {
    let docs = config::parse_documents(text).map_err(ApiError::from)?;
    let mut out = Vec::new();
    let mut causes = Vec::new();
    let mut seen = BTreeSet::new();
    let mut expanded = Vec::new();
    for (index, doc) in docs {
        if doc.get("kind").and_then(Value::as_str) == Some("List") {
            for item in doc.get("items").and_then(Value::as_array).into_iter().flatten() {
                expanded.push((index, item.clone()));
            }
        } else {
            expanded.push((index, doc));
        }
    }
    for (index, doc) in expanded {
        let kind = doc.get("kind").and_then(Value::as_str).unwrap_or("?").to_owned();
        let label = doc.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("?").to_owned();
        let prefix = format!("document {index} ({kind} {label})");
        let res = Target::for_object(&doc, namespace)
            .and_then(|t| object::validate(doc, &t, None).map(|inc| (t, inc)));
        match res {
            Ok((target, inc)) => {
                let key = target.key(&inc.name);
                if !seen.insert(key.clone()) {
                    causes.push(Cause::new(
                        "FieldValueDuplicate",
                        "metadata.name",
                        format!("{prefix}: {key} appears more than once in this apply"),
                    ));
                }
                out.push(Doc { target, name: inc.name, object: inc.object });
            }
            Err(ApiError::Invalid { causes: cs, .. }) => causes.extend(
                cs.into_iter().map(|c| Cause { message: format!("{prefix}: {}", c.message), ..c }),
            ),
            Err(e) => causes.push(Cause::new("FieldValueInvalid", "", format!("{prefix}: {e}"))),
        }
    }
    if causes.is_empty() {
        Ok(out)
    } else {
        Err(ApiError::Invalid {
            subject: Subject { kind: "apply".into(), ..Default::default() },
            causes,
        })
    }
}

/// `POST /v1/apply[?namespace=NS][&dryRun=All]`.
pub async fn apply(
    State(st): State<Arc<AppState>>,
    axum::Extension(who): axum::Extension<crate::auth::Identity>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_body(body).await?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| ApiError::BadRequest("request body is not UTF-8".into()))?;
    let namespace = q.get("namespace").map_or("default", String::as_str);
    object::check_name(namespace)
        .map_err(|m| ApiError::BadRequest(format!("invalid namespace: {m}")))?;
    let dry_run = q.get("dryRun").is_some_and(|v| v == "All" || v == "true");
    let docs = parse(text, namespace)?;
    if docs.is_empty() {
        return Err(ApiError::BadRequest("the apply holds no documents".into()));
    }
    let attempts = if headers.contains_key("idempotency-key") { 1 } else { 5 };
    for _ in 0..attempts {
        st.node.read_barrier(Consistency::Linearizable).await?;
        let mut txn = Txn::default();
        let mut results = Vec::new();
        let mut current_rev = 0;
        for d in &docs {
            let key = d.target.key(&d.name);
            let (cur, rev) = st.node.state().get(&key)?;
            current_rev = rev;
            let result = match &cur {
                Some(c)
                    if serde_json::from_slice::<Value>(&c.object).ok().as_ref()
                        == Some(&d.object) =>
                {
                    "unchanged"
                }
                Some(c) => {
                    txn.preconditions.push(Precondition::ModRevision(key.clone(), c.mod_revision));
                    "configured"
                }
                None => {
                    txn.preconditions.push(Precondition::Absent(key.clone()));
                    "created"
                }
            };
            if result != "unchanged" {
                txn.ops.push(Op::Put {
                    key,
                    object: serde_json::to_vec(&d.object).unwrap_or_default(),
                });
            }
            results.push(json!({
                "apiVersion": d.target.api_version(),
                "kind": d.target.info.kind,
                "namespace": d.target.namespace,
                "name": d.name,
                "result": result,
            }));
        }
        if txn.ops.is_empty() || dry_run {
            return Ok((
                StatusCode::OK,
                Json(json!({"revision": current_rev, "dryRun": dry_run, "objects": results})),
            )
                .into_response());
        }
        let (outcome, replayed) = submit(&st, &who, &headers, "apply", txn).await?;
        match outcome {
            TxnOutcome::Committed { revision, .. } => {
                let mut r = (
                    StatusCode::OK,
                    Json(json!({"revision": revision, "dryRun": false, "objects": results})),
                )
                    .into_response();
                if replayed {
                    r.headers_mut().insert(
                        "idempotent-replayed",
                        axum::http::HeaderValue::from_static("true"),
                    );
                }
                return Ok(r);
            }
            TxnOutcome::Failed { .. } => continue,
        }
    }
    Err(ApiError::Conflict {
        subject: Subject { kind: "apply".into(), ..Default::default() },
        msg: "the objects kept changing while being applied; retry".into(),
    })
}

impl From<ConfigError> for Cause {
    fn from(e: ConfigError) -> Self {
        Cause::new("FieldValueInvalid", "", e.to_string())
    }
}
