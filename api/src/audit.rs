//! The audit log over HTTP: `GET /v1/audit` (filters, `follow=true` streaming) and
//! `GET /v1/history/{group}/{kind}/{namespace}/{name}` — the retained events of the log, with
//! actor, source, time and the old and new objects of every change.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use istio_planes_config::{self as config, KindInfo};
use istio_store::{Change, Consistency, Event, KeyPrefix};
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::http::AppState;
use crate::object;

/// Which events (and which of their changes) to show.
#[derive(Debug, Default)]
struct Filter {
    from: u64,
    to: u64,
    kind: Option<&'static KindInfo>,
    namespace: Option<String>,
    name: Option<String>,
    actor: Option<String>,
    verb: Option<String>,
    limit: usize,
}

pub(crate) fn num(q: &HashMap<String, String>, k: &str) -> Result<Option<u64>, ApiError> {
    q.get(k)
        .map(|v| v.parse().map_err(|_| ApiError::BadRequest(format!("{k} {v:?} is not a number"))))
        .transpose()
}

pub(crate) fn kind(name: &str) -> Result<&'static KindInfo, ApiError> {
    config::kinds::lookup_name(name).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "unknown kind {name:?}; supported: {}",
            config::kinds::supported_list()
        ))
    })
}

impl Filter {
    fn from_query(q: &HashMap<String, String>) -> Result<Self, ApiError> {
        Ok(Self {
            from: num(q, "from")?.unwrap_or(0),
            to: num(q, "to")?.unwrap_or(u64::MAX),
            kind: q.get("kind").map(|k| kind(k)).transpose()?,
            namespace: q.get("namespace").cloned(),
            name: q.get("name").cloned(),
            actor: q.get("actor").cloned(),
            verb: q.get("verb").cloned(),
            limit: num(q, "limit")?.map_or(500, |l| l.clamp(1, 10_000) as usize),
        })
    }

    fn change_matches(&self, c: &Change) -> bool {
        self.kind.is_none_or(|k| k.group == c.key.group && k.plural == c.key.resource)
            && self.namespace.as_ref().is_none_or(|n| *n == c.key.namespace)
            && self.name.as_ref().is_none_or(|n| *n == c.key.name)
    }

    /// The event as JSON with only the matching changes, or `None` if it does not match.
    fn render(&self, ev: &Event) -> Option<Value> {
        if self.actor.as_ref().is_some_and(|a| *a != ev.actor)
            || self.verb.as_ref().is_some_and(|v| *v != ev.verb)
        {
            return None;
        }
        let changes: Vec<Value> =
            ev.changes.iter().filter(|c| self.change_matches(c)).map(change_json).collect();
        if changes.is_empty() && !ev.changes.is_empty() {
            return None;
        }
        Some(json!({
            "revision": ev.revision,
            "time": object::rfc3339_ms(ev.time_ms),
            "actor": ev.actor,
            "source": ev.source,
            "requestId": ev.request_id,
            "verb": ev.verb,
            "restores": ev.restores,
            "changes": changes,
        }))
    }
}

fn change_json(c: &Change) -> Value {
    let info = object::kind_of(&c.key);
    let api_version = info.map_or_else(String::new, |k| k.preferred_api_version());
    let render = |r: &Option<istio_store::Resource>| {
        r.as_ref().map_or(Value::Null, |r| object::decorate_preferred(r, None))
    };
    json!({
        "type": c.kind.as_str(),
        "apiVersion": api_version,
        "kind": info.map_or(c.key.resource.as_str(), |k| k.kind),
        "namespace": c.key.namespace,
        "name": c.key.name,
        "object": render(&c.object),
        "previous": render(&c.previous),
    })
}

/// Reads the matching retained events in `[from, to]`, up to the limit.
async fn collect(st: &AppState, f: &Filter) -> Result<(Vec<Value>, u64), ApiError> {
    st.node.read_barrier(Consistency::Linearizable).await?;
    let applied = st.node.state().applied_state();
    let oldest = applied.compact_revision + 1;
    if f.from > 0 && f.from < oldest {
        return Err(ApiError::Expired { requested: f.from, oldest });
    }
    let mut after = f.from.saturating_sub(1).max(applied.compact_revision);
    let mut out = Vec::new();
    'outer: loop {
        let batch = st.node.state().events_after(after, 512)?;
        if batch.is_empty() {
            break;
        }
        for ev in &batch {
            after = ev.revision;
            if ev.revision > f.to || out.len() >= f.limit {
                break 'outer;
            }
            if let Some(v) = f.render(ev) {
                out.push(v);
            }
        }
    }
    Ok((out, applied.revision))
}

/// `GET /v1/audit?from=&to=&kind=&namespace=&name=&actor=&verb=&limit=&follow=true`.
pub async fn audit(
    State(st): State<Arc<AppState>>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let f = Filter::from_query(&q)?;
    let (items, revision) = collect(&st, &f).await?;
    if !matches!(q.get("follow").map(String::as_str), Some("true" | "1")) {
        return Ok(Json(json!({"revision": revision, "items": items})).into_response());
    }
    // Follow: what is retained so far, then every new event as it commits (NDJSON).
    let start = items.last().and_then(|v| v["revision"].as_u64()).unwrap_or(revision).max(revision);
    let mut events = st.node.watch(KeyPrefix::all(), start)?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::convert::Infallible>>(64);
    let mut shutdown = st.shutdown.clone();
    tokio::spawn(async move {
        let line = |v: &Value| {
            let mut b = serde_json::to_vec(v).unwrap_or_default();
            b.push(b'\n');
            Bytes::from(b)
        };
        for v in &items {
            if tx.send(Ok(line(v))).await.is_err() {
                return;
            }
        }
        loop {
            let next = tokio::select! {
                ev = events.recv() => ev,
                _ = shutdown.wait_for(|s| *s) => return,
            };
            match next {
                Some(Ok(ev)) => {
                    if let Some(v) = f.render(&ev) {
                        if tx.send(Ok(line(&v))).await.is_err() {
                            return;
                        }
                    }
                }
                Some(Err(e)) => {
                    let _ = tx.send(Ok(line(&ApiError::from(e).status()))).await;
                    return;
                }
                None => return,
            }
        }
    });
    let body = Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx));
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], body).into_response())
}

/// `GET /v1/state?revision=N`: every object as of revision `N` (default: now) and the state hash
/// at `N`.
pub async fn state(
    State(st): State<Arc<AppState>>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    st.node.read_barrier(Consistency::Linearizable).await?;
    let revision = match num(&q, "revision")? {
        Some(r) => r,
        None => st.node.state().applied_state().revision,
    };
    let resources = st.node.state().state_at(revision)?;
    let hash = istio_store::state_machine::Shared::hash_of(&resources);
    let items: Vec<Value> = resources.iter().map(|r| object::decorate_preferred(r, None)).collect();
    Ok(Json(json!({"revision": revision, "stateHash": hash, "items": items})).into_response())
}

/// `GET /v1/export` (admin): the retained log — checkpoint and events — as framed records
/// (`istio_store::export`), for `istiod restore`.
pub async fn export(State(st): State<Arc<AppState>>) -> Result<Response, ApiError> {
    st.node.read_barrier(Consistency::Linearizable).await?;
    let records = st.node.state().export()?;
    let body = istio_store::export::to_bytes(&records);
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"istio-rs.export\""),
        ],
        body,
    )
        .into_response())
}

/// `GET /v1/history/{group}/{kind}/{namespace}/{name}`: every retained event of one object.
pub async fn history(
    State(st): State<Arc<AppState>>,
    Path((group, k, namespace, name)): Path<(String, String, String, String)>,
) -> Result<Response, ApiError> {
    let info = kind(&k)?;
    if info.group != group {
        return Err(ApiError::BadRequest(format!(
            "kind {k:?} belongs to group {}, not {group:?}",
            info.group
        )));
    }
    let f = Filter {
        kind: Some(info),
        namespace: Some(namespace),
        name: Some(name),
        to: u64::MAX,
        limit: 10_000,
        ..Default::default()
    };
    let (items, revision) = collect(&st, &f).await?;
    Ok(Json(json!({"revision": revision, "items": items})).into_response())
}
