//! Time travel over the event log: `GET /v1/diff?from=N&to=M` (what changed between two
//! revisions, object by object) and `POST /v1/rollback` (commit a *new* revision that restores
//! the state of an old one, for every object or a selection; history is never rewritten).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use istio_planes_config::KindInfo;
use istio_store::{Consistency, Op, Precondition, Resource, ResourceKey, Txn, TxnOutcome};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::audit::{kind, num};
use crate::auth::Identity;
use crate::error::{ApiError, Subject};
use crate::http::{read_body, submit_restoring, AppState};
use crate::object;

/// Which objects a diff or rollback covers.
#[derive(Debug, Default)]
struct Scope {
    kind: Option<&'static KindInfo>,
    namespace: Option<String>,
    name: Option<String>,
}

impl Scope {
    fn covers(&self, k: &ResourceKey) -> bool {
        self.kind.is_none_or(|i| i.group == k.group && i.plural == k.resource)
            && self.namespace.as_ref().is_none_or(|n| *n == k.namespace)
            && self.name.as_ref().is_none_or(|n| *n == k.name)
    }
}

fn render(r: &Resource) -> Value {
    object::decorate_preferred(r, None)
}

fn by_key(rs: Vec<Resource>, scope: &Scope) -> BTreeMap<ResourceKey, Resource> {
    rs.into_iter().filter(|r| scope.covers(&r.key)).map(|r| (r.key.clone(), r)).collect()
}

fn describe(k: &ResourceKey) -> Value {
    json!({
        "apiVersion": object::kind_of(k).map_or_else(String::new, |i| i.preferred_api_version()),
        "kind": object::kind_of(k).map_or(k.resource.as_str(), |i| i.kind),
        "namespace": k.namespace,
        "name": k.name,
    })
}

/// `GET /v1/diff?from=N&to=M[&kind=&namespace=&name=]`.
pub async fn diff(
    State(st): State<Arc<AppState>>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let from = num(&q, "from")?.ok_or_else(|| ApiError::BadRequest("from is required".into()))?;
    st.node.read_barrier(Consistency::Linearizable).await?;
    let to = match num(&q, "to")? {
        Some(t) => t,
        None => st.node.state().applied_state().revision,
    };
    let scope = Scope {
        kind: q.get("kind").map(|k| kind(k)).transpose()?,
        namespace: q.get("namespace").cloned(),
        name: q.get("name").cloned(),
    };
    let a = by_key(st.node.state().state_at(from)?, &scope);
    let b = by_key(st.node.state().state_at(to)?, &scope);
    let mut changes = Vec::new();
    let keys: std::collections::BTreeSet<&ResourceKey> = a.keys().chain(b.keys()).collect();
    for k in keys {
        let (old, new) = (a.get(k), b.get(k));
        let kind = match (old, new) {
            (None, Some(_)) => "ADDED",
            (Some(_), None) => "DELETED",
            (Some(o), Some(n)) if o.mod_revision != n.mod_revision => "MODIFIED",
            _ => continue,
        };
        let mut c = describe(k);
        c["type"] = json!(kind);
        c["from"] = old.map_or(Value::Null, render);
        c["to"] = new.map_or(Value::Null, render);
        changes.push(c);
    }
    Ok(Json(json!({"from": from, "to": to, "changes": changes})).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RollbackRequest {
    to_revision: u64,
    kind: Option<String>,
    namespace: Option<String>,
    name: Option<String>,
}

/// `POST /v1/rollback` with `{"toRevision": N, "kind"?, "namespace"?, "name"?}` (admin).
pub async fn rollback(
    State(st): State<Arc<AppState>>,
    axum::Extension(who): axum::Extension<Identity>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_body(body).await?;
    let req: RollbackRequest = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::BadRequest(format!(
            "body must be {{\"toRevision\": N, \"kind\"?, \"namespace\"?, \"name\"?}}: {e}"
        ))
    })?;
    if req.name.is_some() && req.kind.is_none() {
        return Err(ApiError::BadRequest("name needs kind".into()));
    }
    let scope = Scope {
        kind: req.kind.as_deref().map(kind).transpose()?,
        namespace: req.namespace.clone(),
        name: req.name.clone(),
    };
    let attempts = if headers.contains_key("idempotency-key") { 1 } else { 5 };
    for _ in 0..attempts {
        st.node.read_barrier(Consistency::Linearizable).await?;
        let state = st.node.state();
        let target = by_key(state.state_at(req.to_revision)?, &scope);
        let current = by_key(state.state_at(state.applied_state().revision)?, &scope);
        let mut txn = Txn::default();
        let mut objects = Vec::new();
        let keys: std::collections::BTreeSet<&ResourceKey> =
            target.keys().chain(current.keys()).collect();
        for k in keys {
            let (want, cur) = (target.get(k), current.get(k));
            let result = match (want, cur) {
                (Some(w), Some(c)) if w.object == c.object => continue,
                (Some(w), Some(c)) => {
                    txn.preconditions.push(Precondition::ModRevision(k.clone(), c.mod_revision));
                    txn.ops.push(Op::Put { key: k.clone(), object: w.object.clone() });
                    "restored"
                }
                (Some(w), None) => {
                    txn.preconditions.push(Precondition::Absent(k.clone()));
                    txn.ops.push(Op::Put { key: k.clone(), object: w.object.clone() });
                    "recreated"
                }
                (None, Some(c)) => {
                    txn.preconditions.push(Precondition::ModRevision(k.clone(), c.mod_revision));
                    txn.ops.push(Op::Delete { key: k.clone() });
                    "deleted"
                }
                (None, None) => continue,
            };
            let mut o = describe(k);
            o["result"] = json!(result);
            objects.push(o);
        }
        if txn.ops.is_empty() {
            let revision = state.applied_state().revision;
            return Ok(Json(
                json!({"revision": revision, "restores": req.to_revision, "objects": objects}),
            )
            .into_response());
        }
        let (outcome, _) =
            submit_restoring(&st, &who, &headers, "rollback", Some(req.to_revision), txn).await?;
        if let TxnOutcome::Committed { revision, .. } = outcome {
            return Ok(Json(
                json!({"revision": revision, "restores": req.to_revision, "objects": objects}),
            )
            .into_response());
        }
    }
    Err(ApiError::Conflict {
        subject: Subject { kind: "rollback".into(), ..Default::default() },
        msg: "the objects kept changing during the rollback; retry".into(),
    })
}
