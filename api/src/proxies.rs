//! Push status over HTTP: `GET /v1/proxies` (every proxy connected to any member, what each
//! xDS type was last sent, ACKed or NACKed) and `GET /v1/proxies/{id}/config` (what the proxy
//! was last sent, as proto3 JSON). A member answers for its own streams and asks the others
//! for theirs (`?local=true` stops the fan-out), forwarding the caller's credentials.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::{ApiError, Subject};
use crate::http::AppState;
use istio_planes_pilot::dump::any_to_json;
use istio_planes_pilot::status::ProxyStatus;

/// Query of both endpoints.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    /// Only this member's streams.
    #[serde(default)]
    local: bool,
}

const PEER_TIMEOUT: Duration = Duration::from_secs(2);

/// The other members' HTTP addresses, as this member's cluster view has them.
async fn peers(st: &AppState) -> Vec<(u64, String)> {
    let me = st.node.config().id;
    st.node
        .cluster_status()
        .await
        .members
        .into_iter()
        .filter(|m| m.id != me)
        .map(|m| (m.id, m.status.map(|s| s.http_addr).unwrap_or_default()))
        .collect()
}

/// GETs `path` from every other member; returns the bodies and, per member that did not
/// answer, why.
async fn ask_peers(st: &AppState, headers: &HeaderMap, path: &str) -> (Vec<Value>, Vec<Value>) {
    let client = reqwest::Client::new();
    let auth = headers.get(axum::http::header::AUTHORIZATION).cloned();
    let asks = peers(st).await.into_iter().map(|(id, addr)| {
        let client = client.clone();
        let auth = auth.clone();
        async move {
            if addr.is_empty() {
                return Err(json!({"member": id, "error": "member did not report its address"}));
            }
            let mut req = client.get(format!("http://{addr}{path}")).timeout(PEER_TIMEOUT);
            if let Some(a) = auth {
                req = req.header(reqwest::header::AUTHORIZATION, a);
            }
            let fail = |e: String| json!({"member": id, "address": addr, "error": e});
            match req.send().await {
                Ok(r) if r.status().is_success() => {
                    r.json::<Value>().await.map_err(|e| fail(e.to_string()))
                }
                Ok(r) if r.status() == reqwest::StatusCode::NOT_FOUND => Ok(Value::Null),
                Ok(r) => Err(fail(format!("HTTP {}", r.status()))),
                Err(e) => Err(fail(e.to_string())),
            }
        }
    });
    let mut ok = Vec::new();
    let mut failed = Vec::new();
    for r in futures::future::join_all(asks).await {
        match r {
            Ok(Value::Null) => {}
            Ok(v) => ok.push(v),
            Err(e) => failed.push(e),
        }
    }
    (ok, failed)
}

/// `GET /v1/proxies`: `{"proxies": [...], "errors": [...]}`, by proxy id.
pub async fn list(
    State(st): State<Arc<AppState>>,
    Query(scope): Query<Scope>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let mut proxies: Vec<Value> = st
        .pilot
        .proxies()
        .iter()
        .map(|p| serde_json::to_value(p).map_err(|e| ApiError::Internal(e.to_string())))
        .collect::<Result<_, _>>()?;
    let mut errors = Vec::new();
    if !scope.local {
        let (answers, failed) = ask_peers(&st, &headers, "/v1/proxies?local=true").await;
        for a in answers {
            proxies.extend(a["proxies"].as_array().cloned().unwrap_or_default());
        }
        errors = failed;
    }
    let key = |p: &Value| (p["id"].as_str().unwrap_or("").to_owned(), p["istiod"].to_string());
    proxies.sort_by_key(key);
    Ok(Json(json!({"proxies": proxies, "errors": errors})))
}

fn config_of(p: &ProxyStatus) -> Value {
    let types: BTreeMap<&str, Value> = p
        .types
        .iter()
        .map(|(short, t)| {
            let resources: Vec<Value> = t.sent.iter().map(|(_, any)| any_to_json(any)).collect();
            let v = json!({
                "typeUrl": t.type_url,
                "version": t.sent_version,
                "ackedVersion": t.acked_version,
                "status": t.status,
                "resources": resources,
            });
            (short.as_str(), v)
        })
        .collect();
    json!({"id": p.id, "istiod": p.istiod, "connection": p.connection, "types": types})
}

/// `GET /v1/proxies/{id}/config`: what the proxy was last sent, per type, as proto3 JSON.
pub async fn config(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(scope): Query<Scope>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    if let Some(p) = st.pilot.proxy(&id) {
        return Ok(Json(config_of(&p)));
    }
    if !scope.local {
        let path = format!("/v1/proxies/{}/config?local=true", encode(&id));
        let (answers, _) = ask_peers(&st, &headers, &path).await;
        if let Some(a) = answers.into_iter().next() {
            return Ok(Json(a));
        }
    }
    Err(ApiError::NotFound(Subject { group: String::new(), kind: "proxy".into(), name: id }))
}

/// Percent-encodes a path segment (proxy ids hold `~`, `.` and `/`-free text, but be safe).
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
