//! The HTTP API (axum): Kubernetes-style resource paths, cluster membership, health, metrics.
//!
//! Resource paths are routed by hand (`/apis/{group}/{version}/…` and `/api/{version}/…`) so
//! that every unknown path, wrong method and bad segment gets a Kubernetes `Status` error.
//! All error-to-HTTP mapping happens in [`crate::error`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, delete, get, post};
use axum::{Json, Router};
use istio_store::{
    Command, CommandOp, Consistency, Event, KeyPrefix, NodeId, Op, Precondition, Resource,
    ResourceKey, StoreNode, Txn, TxnFailure, TxnOutcome,
};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::auth::Identity;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::object::{self, Target, MAX_BODY};
use crate::selector::Selector;
use crate::{apply, audit, discovery, proxies, timetravel};
use istio_planes_config as config;
use istio_planes_pilot::status::PushStatus;
use istio_planes_view::config_view::ConfigView;
use istio_planes_view::{View, ViewDriver};

/// Shared state of the HTTP server.
pub struct AppState {
    /// The local store member.
    pub node: Arc<StoreNode>,
    /// Request metrics.
    pub metrics: Metrics,
    /// Becomes `true` when istiod starts draining; open watches end.
    pub shutdown: watch::Receiver<bool>,
    /// Configuration objects, indexed; serves the typed reads.
    pub config: ViewDriver<ConfigView>,
    /// Every proxy connected to this member over ADS, and the push metrics.
    pub pilot: Arc<PushStatus>,
}

impl AppState {
    /// The state for `node`, starting its configuration view.
    pub fn new(node: Arc<StoreNode>, shutdown: watch::Receiver<bool>) -> Self {
        let config = ViewDriver::spawn(node.state().clone());
        let pilot = Arc::new(PushStatus::new(node.config().id.to_string()));
        Self { node, metrics: Metrics::default(), shutdown, config, pilot }
    }

    /// Waits for the read barrier of `c`, then for the view to reflect what was applied.
    async fn view_revision(&self, c: Consistency) -> Result<u64, ApiError> {
        self.node.read_barrier(c).await?;
        Ok(self.node.state().applied_state().revision)
    }

    /// One object, from the configuration view, at consistency `c`.
    pub async fn get(
        &self,
        key: &ResourceKey,
        c: Consistency,
    ) -> Result<(Option<Resource>, u64), ApiError> {
        let rev = self.view_revision(c).await?;
        Ok(self.config.read_at_least(rev, |v| (v.get(key).cloned(), v.revision())).await?)
    }

    /// Objects under `prefix` (only those with `label`, if given), from the view.
    pub async fn list(
        &self,
        prefix: &KeyPrefix,
        label: Option<(&str, &str)>,
        c: Consistency,
    ) -> Result<(Vec<Resource>, u64), ApiError> {
        let rev = self.view_revision(c).await?;
        Ok(self.config.read_at_least(rev, |v| (v.list(prefix, label), v.revision())).await?)
    }
}

type Shared = State<Arc<AppState>>;

/// Builds the router; every request passes `auth` first.
pub fn router(state: Arc<AppState>, auth: Arc<crate::auth::Authenticator>) -> Router {
    Router::new()
        .route("/healthz", get(healthz).fallback(wrong_method))
        .route("/readyz", get(readyz).fallback(wrong_method))
        .route("/metrics", get(metrics).fallback(wrong_method))
        .route("/v1/cluster", get(cluster).fallback(wrong_method))
        .route("/v1/cluster/members", post(add_member).fallback(wrong_method))
        .route("/v1/cluster/members/:id", delete(remove_member).fallback(wrong_method))
        .route("/api", get(discovery::core_versions).fallback(wrong_method))
        .route("/api/v1", get(discovery::core_resources).fallback(wrong_method))
        .route("/apis", get(discovery::groups).fallback(wrong_method))
        .route("/apis/*rest", any(resources))
        .route("/v1/apply", post(apply::apply).fallback(wrong_method))
        .route("/v1/audit", get(audit::audit).fallback(wrong_method))
        .route("/v1/state", get(audit::state).fallback(wrong_method))
        .route("/v1/export", get(audit::export).fallback(wrong_method))
        .route("/v1/diff", get(timetravel::diff).fallback(wrong_method))
        .route("/v1/rollback", post(timetravel::rollback).fallback(wrong_method))
        .route("/v1/proxies", get(proxies::list).fallback(wrong_method))
        .route("/v1/proxies/:id/config", get(proxies::config).fallback(wrong_method))
        .route(
            "/v1/history/:group/:kind/:namespace/:name",
            get(audit::history).fallback(wrong_method),
        )
        .fallback(no_route)
        // Bodies are bounded by `read_body` (MAX_BODY, with a 413 Status), not axum's default.
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn_with_state(auth, crate::auth::layer))
        .with_state(state)
}

async fn no_route(uri: Uri) -> ApiError {
    ApiError::NoRoute(uri.path().to_owned())
}

async fn wrong_method(method: Method, uri: Uri) -> ApiError {
    let allowed = match uri.path() {
        "/v1/cluster/members" | "/v1/apply" | "/v1/rollback" => "POST",
        p if p.starts_with("/v1/cluster/members/") => "DELETE",
        _ => "GET",
    };
    ApiError::MethodNotAllowed { method: method.to_string(), path: uri.path().into(), allowed }
}

async fn healthz(State(st): Shared) -> Response {
    if st.node.raft().metrics().borrow().running_state.is_ok() {
        (StatusCode::OK, "ok\n").into_response()
    } else {
        ApiError::Unavailable("raft has stopped".into()).into_response()
    }
}

async fn readyz(State(st): Shared) -> Response {
    if st.node.is_ready() {
        (StatusCode::OK, "ok\n").into_response()
    } else {
        let s = st.node.local_status();
        ApiError::Unavailable(format!(
            "not ready: role {}, leader {:?}, applied index {}, commit index {}",
            s.role, s.leader, s.applied.applied_index, s.commit_index
        ))
        .into_response()
    }
}

async fn metrics(State(st): Shared) -> Response {
    let mut body = st.metrics.render(&st.node);
    st.pilot.render(&mut body);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body).into_response()
}

async fn cluster(State(st): Shared) -> Json<istio_store::ClusterStatus> {
    Json(st.node.cluster_status().await)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AddMember {
    id: NodeId,
    raft_address: String,
}

async fn add_member(State(st): Shared, body: Body) -> Result<Response, ApiError> {
    let bytes = read_body(body).await?;
    let req: AddMember = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::BadRequest(format!(
            "body must be {{\"id\": <number>, \"raftAddress\": \"host:port\"}}: {e}"
        ))
    })?;
    if req.id == 0 {
        return Err(ApiError::BadRequest("id must be > 0".into()));
    }
    if req.raft_address.parse::<std::net::SocketAddr>().is_err() {
        return Err(ApiError::BadRequest(format!(
            "raftAddress {:?} is not host:port with a numeric IP",
            req.raft_address
        )));
    }
    st.node.add_member(req.id, req.raft_address).await?;
    Ok(Json(st.node.cluster_status().await).into_response())
}

async fn remove_member(State(st): Shared, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id: NodeId = id
        .parse()
        .map_err(|_| ApiError::BadRequest(format!("member id {id:?} is not a number")))?;
    st.node.remove_member(id).await?;
    Ok(Json(st.node.cluster_status().await).into_response())
}

/// Reads a body, enforcing [`MAX_BODY`]. An oversized body is still drained (up to
/// [`DRAIN_LIMIT`]) so the client, which is still sending it, reliably receives the 413 instead
/// of a connection reset.
pub(crate) async fn read_body(body: Body) -> Result<Bytes, ApiError> {
    use futures::StreamExt;
    let mut stream = body.into_data_stream();
    let mut buf = Vec::new();
    let mut total = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk
            .map_err(|e| ApiError::BadRequest(format!("could not read the request body: {e}")))?;
        total += chunk.len();
        if total <= MAX_BODY {
            buf.extend_from_slice(&chunk);
        } else if total > DRAIN_LIMIT {
            break;
        }
    }
    if total > MAX_BODY {
        return Err(ApiError::TooLarge { limit: MAX_BODY });
    }
    Ok(Bytes::from(buf))
}

/// How much of an oversized body is read (and discarded) before answering 413.
const DRAIN_LIMIT: usize = 16 << 20;

/// Parses `/apis/{group}/{version}/[namespaces/{ns}/]{plural}[/{name}]` and resolves the
/// served kind. Every served kind is namespaced: without a namespace only list and watch (across
/// all namespaces) exist.
fn parse_target(path: &str) -> Result<Target, ApiError> {
    let segs: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    let (group, version, rest) = match segs.as_slice() {
        ["apis", group, version, rest @ ..] if !rest.is_empty() => (*group, *version, rest),
        _ => return Err(ApiError::NoRoute(path.into())),
    };
    let (namespace, resource, name) = match rest {
        ["namespaces", ns, resource] => (Some(*ns), *resource, None),
        ["namespaces", ns, resource, name] => (Some(*ns), *resource, Some(*name)),
        [resource] => (None, *resource, None),
        _ => return Err(ApiError::NoRoute(path.into())),
    };
    let info = config::lookup_resource(group, version, resource).ok_or_else(|| {
        ApiError::NoRoute(format!(
            "{path} (the server doesn't have a resource type {resource:?} in {group}/{version})"
        ))
    })?;
    if let Some(ns) = namespace {
        object::check_name(ns)
            .map_err(|m| ApiError::BadRequest(format!("invalid namespace in path: {m}")))?;
    }
    if let Some(n) = name {
        object::check_name(n)
            .map_err(|m| ApiError::BadRequest(format!("invalid name in path: {m}")))?;
    }
    Ok(Target {
        info,
        group: group.into(),
        version: version.into(),
        resource: resource.into(),
        namespace: namespace.map(str::to_owned),
        name: name.map(str::to_owned),
    })
}

fn consistency(q: &HashMap<String, String>) -> Result<Consistency, ApiError> {
    match q.get("consistency").map(String::as_str) {
        None | Some("linearizable") => Ok(Consistency::Linearizable),
        Some("local") => Ok(Consistency::Local),
        Some(o) => Err(ApiError::BadRequest(format!(
            "consistency must be 'linearizable' or 'local', got {o:?}"
        ))),
    }
}

fn revision_param(q: &HashMap<String, String>) -> Result<Option<u64>, ApiError> {
    match q.get("resourceVersion").map(String::as_str) {
        None | Some("") => Ok(None),
        Some(s) => s.parse().map(Some).map_err(|_| {
            ApiError::BadRequest(format!(
                "resourceVersion {s:?} is not a revision (a decimal number)"
            ))
        }),
    }
}

fn is_true(q: &HashMap<String, String>, k: &str) -> bool {
    matches!(q.get(k).map(String::as_str), Some("true" | "1" | ""))
}

fn request_id(headers: &HeaderMap, actor: &str) -> Result<String, ApiError> {
    match headers.get("idempotency-key") {
        None => Ok(format!("req-{:032x}", rand::random::<u128>())),
        Some(v) => {
            let k =
                v.to_str().ok().filter(|k| !k.is_empty() && k.len() <= 255).ok_or_else(|| {
                    ApiError::BadRequest(
                        "Idempotency-Key must be 1-255 visible ASCII characters".into(),
                    )
                })?;
            Ok(format!("idem/{actor}/{k}"))
        }
    }
}

/// Verb label for metrics, and the event's verb.
fn verb_of(method: &Method, item: bool, q: &HashMap<String, String>) -> &'static str {
    match (method.as_str(), item) {
        ("GET", _) if is_true(q, "watch") => "watch",
        ("GET", true) => "get",
        ("GET", false) => "list",
        ("POST", false) => "create",
        ("PUT", true) => "update",
        ("PATCH", true) => "patch",
        ("DELETE", true) => "delete",
        _ => "other",
    }
}

async fn resources(
    State(st): Shared,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    axum::Extension(who): axum::Extension<Identity>,
    query: Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>,
    body: Body,
) -> Response {
    let segs: Vec<&str> = uri.path().trim_end_matches('/').split('/').skip(2).collect();
    if segs.len() <= 2 {
        // Discovery: /apis/{group}[/{version}].
        let res = match (method.as_str(), segs.as_slice()) {
            ("GET", [g]) => discovery::group(g).map(IntoResponse::into_response),
            ("GET", [g, v]) => discovery::resources(g, v).map(IntoResponse::into_response),
            _ => Err(ApiError::MethodNotAllowed {
                method: method.to_string(),
                path: uri.path().into(),
                allowed: "GET",
            }),
        };
        return res.unwrap_or_else(IntoResponse::into_response);
    }
    let start = Instant::now();
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let item = parse_target(uri.path()).map(|t| t.name.is_some()).unwrap_or(false);
    let verb = verb_of(&method, item, &q);
    let resp = match handle(&st, &who, &method, &uri, &headers, &q, body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    if verb != "watch" {
        st.metrics.observe(verb, resp.status().as_u16(), start.elapsed());
    }
    resp
}

async fn handle(
    st: &Arc<AppState>,
    who: &Identity,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    q: &HashMap<String, String>,
    body: Body,
) -> Result<Response, ApiError> {
    let target = parse_target(uri.path())?;
    if let Some(len) = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()) {
        // Too large even to drain: answer at once (the connection will be closed).
        if len.parse::<usize>().is_ok_and(|n| n > DRAIN_LIMIT) {
            return Err(ApiError::TooLarge { limit: MAX_BODY });
        }
    }
    let wrong = |allowed| ApiError::MethodNotAllowed {
        method: method.to_string(),
        path: uri.path().into(),
        allowed,
    };
    match (&target.name, method.as_str()) {
        (None, "GET") if is_true(q, "watch") => watch(st, &target, q).await,
        (None, "GET") => list(st, &target, q).await,
        (None, "POST") if target.namespace.is_some() => {
            create(st, &target, headers, who, read_body(body).await?).await
        }
        (None, _) if target.namespace.is_some() => Err(wrong("GET, POST")),
        (None, _) => Err(wrong("GET")),
        (Some(_), "GET") if is_true(q, "watch") => watch(st, &target, q).await,
        (Some(name), "GET") => get_one(st, &target, name, q).await,
        (Some(name), "PUT") => {
            replace(st, &target, name, headers, who, read_body(body).await?).await
        }
        (Some(name), "PATCH") => {
            patch(st, &target, name, headers, who, read_body(body).await?).await
        }
        (Some(name), "DELETE") => {
            remove(st, &target, name, headers, who, read_body(body).await?).await
        }
        (Some(_), _) => Err(wrong("GET, PUT, PATCH, DELETE")),
    }
}

/// The request's content type (default JSON).
pub(crate) fn content_type(headers: &HeaderMap) -> &str {
    headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("application/json")
}

fn json_response(code: StatusCode, v: Value, replayed: bool) -> Response {
    let mut r = (code, Json(v)).into_response();
    if replayed {
        r.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    r
}

async fn get_one(
    st: &AppState,
    t: &Target,
    name: &str,
    q: &HashMap<String, String>,
) -> Result<Response, ApiError> {
    let res = match q.get("revision") {
        // A past revision: replayed from the checkpoint and the retained events.
        Some(r) => {
            let rev: u64 = r
                .parse()
                .map_err(|_| ApiError::BadRequest(format!("revision {r:?} is not a number")))?;
            st.node.read_barrier(consistency(q)?).await?;
            let key = t.key(name);
            st.node.state().state_at(rev)?.into_iter().find(|r| r.key == key)
        }
        None => st.get(&t.key(name), consistency(q)?).await?.0,
    };
    match res {
        Some(r) => Ok(json_response(
            StatusCode::OK,
            object::decorate_as(&r, &t.api_version(), None),
            false,
        )),
        None => Err(ApiError::NotFound(t.subject(name))),
    }
}

fn prefix_of(t: &Target) -> KeyPrefix {
    let mut p = KeyPrefix::resource(&t.group, &t.resource, t.namespace.as_deref());
    p.name = t.name.clone();
    p
}

/// The selectors of a list/watch and the narrowest store prefix that covers them.
fn selection(t: &Target, q: &HashMap<String, String>) -> Result<(Selector, KeyPrefix), ApiError> {
    let sel = Selector::parse(
        q.get("labelSelector").map(String::as_str),
        q.get("fieldSelector").map(String::as_str),
    )?;
    let mut prefix = prefix_of(t);
    if let Some(n) = sel.name() {
        prefix.name = Some(n.to_owned());
    }
    Ok((sel, prefix))
}

async fn list(
    st: &AppState,
    t: &Target,
    q: &HashMap<String, String>,
) -> Result<Response, ApiError> {
    let (sel, prefix) = selection(t, q)?;
    let (items, rev) = st.list(&prefix, sel.label(), consistency(q)?).await?;
    let items: Vec<Value> = items
        .iter()
        .map(|r| object::decorate_as(r, &t.api_version(), None))
        .filter(|o| sel.matches(o))
        .collect();
    Ok(json_response(
        StatusCode::OK,
        json!({
            "apiVersion": t.api_version(),
            "kind": format!("{}List", t.info.kind),
            "metadata": {"resourceVersion": rev.to_string()},
            "items": items,
        }),
        false,
    ))
}

/// Submits a txn as `verb`, returning its outcome and whether it was a replay.
pub(crate) async fn submit(
    st: &AppState,
    who: &Identity,
    headers: &HeaderMap,
    verb: &str,
    txn: Txn,
) -> Result<(TxnOutcome, bool), ApiError> {
    submit_restoring(st, who, headers, verb, None, txn).await
}

/// [`submit`], recording in the event that it restores the state of revision `restores`.
pub(crate) async fn submit_restoring(
    st: &AppState,
    who: &Identity,
    headers: &HeaderMap,
    verb: &str,
    restores: Option<u64>,
    txn: Txn,
) -> Result<(TxnOutcome, bool), ApiError> {
    let actor = who.user.clone();
    let cmd = Command {
        request_id: request_id(headers, &actor)?,
        actor,
        source: who.source.clone(),
        time_ms: istio_store::clock::now_ms(),
        verb: verb.into(),
        restores,
        op: CommandOp::Txn(txn),
    };
    match st.node.write(cmd).await? {
        istio_store::Response::Txn { outcome, deduplicated } => Ok((outcome, deduplicated)),
        other => Err(ApiError::Internal(format!("unexpected store response {other:?}"))),
    }
}

fn encode_object(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

/// Maps a failed txn on the object `name` to its API error.
pub(crate) fn failure(t: &Target, name: &str, f: TxnFailure) -> ApiError {
    match f {
        TxnFailure::Precondition { condition: Precondition::Absent(_), .. } => {
            ApiError::AlreadyExists(t.subject(name))
        }
        TxnFailure::Precondition { actual: None, .. } | TxnFailure::NotFound { .. } => {
            ApiError::NotFound(t.subject(name))
        }
        TxnFailure::Precondition { condition, actual: Some(a), .. } => ApiError::Conflict {
            subject: t.subject(name),
            msg: match condition {
                Precondition::ModRevision(_, want) => format!(
                    "the object has been modified (resourceVersion {a}, you sent {want}); \
                     get the latest version and apply your changes to it"
                ),
                _ => format!("precondition failed at resourceVersion {a}"),
            },
        },
    }
}

fn committed(t: &Target, name: &str, outcome: TxnOutcome) -> Result<(Resource, bool), ApiError> {
    match outcome {
        TxnOutcome::Committed { mut results, existed, .. } if !results.is_empty() => {
            Ok((results.swap_remove(0), existed.first().copied().unwrap_or(false)))
        }
        TxnOutcome::Committed { .. } => Err(ApiError::Internal("empty txn result".into())),
        TxnOutcome::Failed { failure: f, .. } => Err(failure(t, name, f)),
    }
}

async fn create(
    st: &AppState,
    t: &Target,
    headers: &HeaderMap,
    who: &Identity,
    body: Bytes,
) -> Result<Response, ApiError> {
    let inc =
        object::parse_incoming_owned(body, content_type(headers).into(), t.clone(), None).await?;
    let key = t.key(&inc.name);
    let txn = Txn {
        preconditions: vec![Precondition::Absent(key.clone())],
        ops: vec![Op::Put { key, object: encode_object(&inc.object) }],
    };
    let (outcome, replayed) = submit(st, who, headers, "create", txn).await?;
    let (res, _) = committed(t, &inc.name, outcome)?;
    Ok(json_response(
        StatusCode::CREATED,
        object::decorate_as(&res, &t.api_version(), None),
        replayed,
    ))
}

async fn replace(
    st: &AppState,
    t: &Target,
    name: &str,
    headers: &HeaderMap,
    who: &Identity,
    body: Bytes,
) -> Result<Response, ApiError> {
    let inc = object::parse_incoming_owned(
        body,
        content_type(headers).into(),
        t.clone(),
        Some(name.into()),
    )
    .await?;
    let key = t.key(name);
    let preconditions = match inc.resource_version {
        Some(rv) => vec![Precondition::ModRevision(key.clone(), rv)],
        None => vec![],
    };
    let txn = Txn { preconditions, ops: vec![Op::Put { key, object: encode_object(&inc.object) }] };
    let (outcome, replayed) = submit(st, who, headers, "update", txn).await?;
    let (res, existed) = committed(t, name, outcome)?;
    let code = if existed { StatusCode::OK } else { StatusCode::CREATED };
    Ok(json_response(code, object::decorate_as(&res, &t.api_version(), None), replayed))
}

async fn patch(
    st: &AppState,
    t: &Target,
    name: &str,
    headers: &HeaderMap,
    who: &Identity,
    body: Bytes,
) -> Result<Response, ApiError> {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !ct.starts_with("application/merge-patch+json") {
        return Err(ApiError::UnsupportedMediaType(format!(
            "{ct}; PATCH supports application/merge-patch+json"
        )));
    }
    let patch: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("patch is not valid JSON: {e}")))?;
    if !patch.is_object() {
        return Err(ApiError::BadRequest("a merge patch must be a JSON object".into()));
    }
    // Without an Idempotency-Key, a lost compare-and-set race is retried on the new version.
    let attempts = if headers.contains_key("idempotency-key") { 1 } else { 5 };
    let key = t.key(name);
    let mut last = None;
    for _ in 0..attempts {
        let (cur, _) = st.get(&key, Consistency::Linearizable).await?;
        let cur = cur.ok_or_else(|| ApiError::NotFound(t.subject(name)))?;
        let mut v = object::decorate_as(&cur, &t.api_version(), None);
        let explicit_rv = patch.pointer("/metadata/resourceVersion").is_some();
        object::merge_patch(&mut v, &patch);
        let inc = object::validate(v, t, Some(name))?;
        let rv = if explicit_rv { inc.resource_version.unwrap_or(0) } else { cur.mod_revision };
        let txn = Txn {
            preconditions: vec![Precondition::ModRevision(key.clone(), rv)],
            ops: vec![Op::Put { key: key.clone(), object: encode_object(&inc.object) }],
        };
        let (outcome, replayed) = submit(st, who, headers, "patch", txn).await?;
        match committed(t, name, outcome) {
            Ok((res, _)) => {
                return Ok(json_response(
                    StatusCode::OK,
                    object::decorate_as(&res, &t.api_version(), None),
                    replayed,
                ))
            }
            Err(e @ ApiError::Conflict { .. }) if !explicit_rv => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| ApiError::Internal("patch retry loop ended".into())))
}

async fn remove(
    st: &AppState,
    t: &Target,
    name: &str,
    headers: &HeaderMap,
    who: &Identity,
    body: Bytes,
) -> Result<Response, ApiError> {
    let key = t.key(name);
    let mut preconditions = vec![];
    if !body.is_empty() {
        let opts: Value = serde_json::from_slice(&body).map_err(|e| {
            ApiError::BadRequest(format!("DeleteOptions body is not valid JSON: {e}"))
        })?;
        if let Some(rv) = opts.pointer("/preconditions/resourceVersion") {
            let rv = rv.as_str().and_then(|s| s.parse::<u64>().ok()).ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "preconditions.resourceVersion must be a decimal string, got {rv}"
                ))
            })?;
            preconditions.push(Precondition::ModRevision(key.clone(), rv));
        }
    }
    let txn = Txn { preconditions, ops: vec![Op::Delete { key }] };
    let (outcome, replayed) = submit(st, who, headers, "delete", txn).await?;
    let rev = match &outcome {
        TxnOutcome::Committed { revision, .. } => Some(*revision),
        TxnOutcome::Failed { .. } => None,
    };
    let (res, _) = committed(t, name, outcome)?;
    Ok(json_response(StatusCode::OK, object::decorate_as(&res, &t.api_version(), rev), replayed))
}

fn watch_lines(ev: &Event, api_version: &str, sel: &Selector) -> Vec<u8> {
    let mut out = Vec::new();
    for c in &ev.changes {
        let object = match (&c.object, &c.previous) {
            (Some(o), _) => object::decorate_as(o, api_version, None),
            (None, Some(p)) => object::decorate_as(p, api_version, Some(ev.revision)),
            (None, None) => continue,
        };
        if !sel.matches(&object) {
            continue;
        }
        let line = json!({"type": c.kind.as_str(), "object": object});
        if serde_json::to_writer(&mut out, &line).is_ok() {
            out.push(b'\n');
        }
    }
    out
}

async fn watch(
    st: &Arc<AppState>,
    t: &Target,
    q: &HashMap<String, String>,
) -> Result<Response, ApiError> {
    let (sel, prefix) = selection(t, q)?;
    let (initial, after) = match revision_param(q)? {
        Some(n) if n > 0 => (Vec::new(), n),
        _ => {
            let (items, rev) = st.list(&prefix, sel.label(), consistency(q)?).await?;
            (items, rev)
        }
    };
    let mut events = st.node.watch(prefix, after)?;
    let timeout =
        match q.get("timeoutSeconds") {
            Some(s) => Some(Duration::from_secs(s.parse().map_err(|_| {
                ApiError::BadRequest(format!("timeoutSeconds {s:?} is not a number"))
            })?)),
            None => None,
        };
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::convert::Infallible>>(64);
    let mut shutdown = st.shutdown.clone();
    let api_version = t.api_version();
    tokio::spawn(async move {
        for r in &initial {
            let object = object::decorate_as(r, &api_version, None);
            if !sel.matches(&object) {
                continue;
            }
            let line = json!({"type": "ADDED", "object": object});
            let mut b = serde_json::to_vec(&line).unwrap_or_default();
            b.push(b'\n');
            if tx.send(Ok(Bytes::from(b))).await.is_err() {
                return;
            }
        }
        let deadline = timeout.map(|d| tokio::time::Instant::now() + d);
        loop {
            let next = tokio::select! {
                ev = events.recv() => ev,
                _ = shutdown.wait_for(|s| *s) => return,
                _ = async { match deadline { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } } => return,
            };
            let chunk = match next {
                None => return,
                Some(Ok(ev)) => watch_lines(&ev, &api_version, &sel),
                Some(Err(e)) => {
                    let status = ApiError::from(e).status();
                    let mut b = serde_json::to_vec(&json!({"type": "ERROR", "object": status}))
                        .unwrap_or_default();
                    b.push(b'\n');
                    let _ = tx.send(Ok(Bytes::from(b))).await;
                    return;
                }
            };
            if !chunk.is_empty() && tx.send(Ok(Bytes::from(chunk))).await.is_err() {
                return;
            }
        }
    });
    let body = Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx));
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let t = parse_target("/apis/networking.istio.io/v1/namespaces/default/virtualservices/r")
            .unwrap();
        assert_eq!(t.group, "networking.istio.io");
        assert_eq!(t.info.kind, "VirtualService");
        assert_eq!(t.namespace.as_deref(), Some("default"));
        assert_eq!(t.name.as_deref(), Some("r"));
        let t = parse_target("/apis/security.istio.io/v1beta1/authorizationpolicies").unwrap();
        assert_eq!((t.namespace, t.name), (None, None));
        assert!(matches!(parse_target("/apis/g/v1/widgets"), Err(ApiError::NoRoute(_))));
        assert!(matches!(
            parse_target("/apis/networking.istio.io/v9/virtualservices"),
            Err(ApiError::NoRoute(_))
        ));
        assert!(matches!(
            parse_target("/api/v1/namespaces/ns/configmaps"),
            Err(ApiError::NoRoute(_))
        ));
        assert!(matches!(
            parse_target("/apis/networking.istio.io/v1/virtualservices/name"),
            Err(ApiError::NoRoute(_))
        ));
        assert!(matches!(
            parse_target("/apis/networking.istio.io/v1/namespaces/NS/gateways"),
            Err(ApiError::BadRequest(_))
        ));
    }
}
