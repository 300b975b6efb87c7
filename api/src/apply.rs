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
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use istio_planes_config::{self as config, ConfigError};
use istio_store::{Consistency, Op, Precondition, Txn, TxnOutcome};
use serde_json::{json, Value};

use crate::auth::Identity;
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

/// What an apply did.
pub struct ApplyOutcome {
    /// The revision holding the applied state (the current one if nothing was written).
    pub revision: u64,
    /// Per object: apiVersion, kind, namespace, name, result.
    pub objects: Vec<Value>,
    /// Whether this is the replayed result of an earlier request with the same key.
    pub replayed: bool,
}

/// Validates and applies `text` (multi-document YAML/JSON) atomically as `who`.
pub async fn apply_text(
    st: &AppState,
    who: &Identity,
    headers: &HeaderMap,
    text: &str,
    namespace: &str,
    dry_run: bool,
) -> Result<ApplyOutcome, ApiError> {
    object::check_name(namespace)
        .map_err(|m| ApiError::BadRequest(format!("invalid namespace: {m}")))?;
    let docs = if text.len() > object::LARGE_BODY {
        let (text, namespace) = (text.to_owned(), namespace.to_owned());
        object::off_runtime(text.len(), move || parse(&text, &namespace)).await?
    } else {
        parse(text, namespace)?
    };
    if docs.is_empty() {
        return Err(ApiError::BadRequest("the apply holds no documents".into()));
    }
    let keyed = headers.contains_key("idempotency-key");
    let attempts = if keyed { 1 } else { 5 };
    for attempt in 0..attempts {
        // The first attempt reads this member's state as it is, without a ReadIndex round:
        // the txn carries a precondition for every document (unchanged ones too), so it
        // commits only if each is still as read, which is what a linearizable read followed
        // by the write would have seen. A txn failing them is retried after a read barrier.
        // Not when nothing would check the read (a dry run, or every document unchanged), nor
        // with an idempotency key (whose one attempt's outcome is what a retry returns).
        let optimistic = attempt == 0 && !keyed && !dry_run;
        if !optimistic {
            st.node.read_barrier(Consistency::Linearizable).await?;
        }
        let mut txn = Txn::default();
        let mut objects = Vec::new();
        let mut current_rev = 0;
        for d in &docs {
            let key = d.target.key(&d.name);
            let (cur, rev) = st.node.state().get(&key)?;
            current_rev = rev;
            let stored: Option<Value> =
                cur.as_ref().and_then(|c| serde_json::from_slice(&c.object).ok());
            let result = match &cur {
                Some(c) => {
                    txn.preconditions.push(Precondition::ModRevision(key.clone(), c.mod_revision));
                    if stored.as_ref() == Some(&d.object) {
                        "unchanged"
                    } else {
                        "configured"
                    }
                }
                None => {
                    txn.preconditions.push(Precondition::Absent(key.clone()));
                    "created"
                }
            };
            if result != "unchanged" {
                let bytes = serde_json::to_vec(&d.object).unwrap_or_default();
                txn.ops.push(Op::Put { key, object: bytes });
            }
            objects.push(json!({
                "apiVersion": d.target.api_version(),
                "kind": d.target.info.kind,
                "namespace": d.target.namespace,
                "name": d.name,
                "result": result,
            }));
        }
        if txn.ops.is_empty() || dry_run {
            if optimistic {
                continue;
            }
            return Ok(ApplyOutcome { revision: current_rev, objects, replayed: false });
        }
        let (outcome, replayed) = submit(st, who, headers, "apply", txn).await?;
        if let TxnOutcome::Committed { revision, .. } = outcome {
            return Ok(ApplyOutcome { revision, objects, replayed });
        }
    }
    Err(ApiError::Conflict {
        subject: Subject { kind: "apply".into(), ..Default::default() },
        msg: "the objects kept changing while being applied; retry".into(),
    })
}

/// `POST /v1/apply[?namespace=NS][&dryRun=All]`.
pub async fn apply(
    State(st): State<Arc<AppState>>,
    axum::Extension(who): axum::Extension<Identity>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_body(body).await?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| ApiError::BadRequest("request body is not UTF-8".into()))?;
    let namespace = q.get("namespace").map_or("default", String::as_str);
    let dry_run = q.get("dryRun").is_some_and(|v| v == "All" || v == "true");
    let out = apply_text(&st, &who, &headers, text, namespace, dry_run).await?;
    let body = json!({"revision": out.revision, "dryRun": dry_run, "objects": out.objects});
    let mut r = (StatusCode::OK, Json(body)).into_response();
    if out.replayed {
        r.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(r)
}

impl From<ConfigError> for Cause {
    fn from(e: ConfigError) -> Self {
        Cause::new("FieldValueInvalid", "", e.to_string())
    }
}
