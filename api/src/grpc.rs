//! The gRPC ConfigService on `--grpc`: the HTTP API's operations, validation and errors over
//! tonic. Errors map to gRPC codes in one place ([`to_status`]), with a `google.rpc.BadRequest`
//! listing every field violation.

use std::pin::Pin;
use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue};
use futures::Stream;
use istio_planes_config::{self as config, KindInfo};
use istio_proto::config::config_service_server::{ConfigService, ConfigServiceServer};
use istio_proto::config::{
    ApplyRequest, ApplyResponse, ApplyResult, DeleteRequest, GetRequest, ListRequest, ListResponse,
    Object, WatchEvent, WatchRequest,
};
use istio_store::{Consistency, KeyPrefix, Op, Precondition, Resource, Txn, TxnOutcome};
use serde_json::Value;
use tonic::{Code, Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::apply::apply_text;
use crate::auth::{Authenticator, Identity, Role};
use crate::error::ApiError;
use crate::http::{submit, AppState};
use crate::object::{self, Target};

/// Maps an API error to a gRPC status (the only such mapping).
pub fn to_status(e: ApiError) -> Status {
    let code = match &e {
        ApiError::BadRequest(_) | ApiError::Invalid { .. } | ApiError::UnsupportedMediaType(_) => {
            Code::InvalidArgument
        }
        ApiError::NotFound(_) | ApiError::NoRoute(_) => Code::NotFound,
        ApiError::AlreadyExists(_) => Code::AlreadyExists,
        ApiError::Conflict { .. } => Code::Aborted,
        ApiError::Expired { .. } => Code::OutOfRange,
        ApiError::TooLarge { .. } => Code::ResourceExhausted,
        ApiError::MethodNotAllowed { .. } => Code::Unimplemented,
        ApiError::Unauthorized(_) => Code::Unauthenticated,
        ApiError::Forbidden(_) => Code::PermissionDenied,
        ApiError::Unavailable(_) => Code::Unavailable,
        ApiError::Timeout(_) => Code::DeadlineExceeded,
        ApiError::Internal(_) => Code::Internal,
    };
    let msg = e.to_string();
    match e {
        ApiError::Invalid { causes, .. } => {
            let violations: Vec<(String, String)> =
                causes.into_iter().map(|c| (c.field, c.message)).collect();
            let details = ErrorDetails::with_bad_request(
                violations
                    .into_iter()
                    .map(|(f, m)| tonic_types::FieldViolation::new(f, m))
                    .collect::<Vec<_>>(),
            );
            Status::with_error_details(code, msg, details)
        }
        _ => Status::new(code, msg),
    }
}

/// The ConfigService implementation.
pub struct ConfigGrpc {
    st: Arc<AppState>,
    auth: Arc<Authenticator>,
}

/// The tonic service for `--grpc`.
pub fn service(st: Arc<AppState>, auth: Arc<Authenticator>) -> ConfigServiceServer<ConfigGrpc> {
    ConfigServiceServer::new(ConfigGrpc { st, auth })
        .max_decoding_message_size(crate::object::MAX_BODY + 4096)
}

fn kind(name: &str) -> Result<&'static KindInfo, Status> {
    config::kinds::lookup_name(name).ok_or_else(|| {
        to_status(ApiError::BadRequest(format!(
            "unknown kind {name:?}; supported: {}",
            config::kinds::supported_list()
        )))
    })
}

fn target(info: &'static KindInfo, namespace: &str) -> Result<Target, Status> {
    let ns = if namespace.is_empty() { "default" } else { namespace };
    object::check_name(ns)
        .map_err(|m| to_status(ApiError::BadRequest(format!("invalid namespace: {m}"))))?;
    Ok(Target {
        info,
        group: info.group.into(),
        version: info.versions[0].into(),
        resource: info.plural.into(),
        namespace: Some(ns.into()),
        name: None,
    })
}

fn obj(r: &Resource, resource_version: Option<u64>) -> Object {
    Object { json: object::decorate_preferred(r, resource_version).to_string() }
}

fn idempotency(key: &str) -> Result<HeaderMap, Status> {
    let mut h = HeaderMap::new();
    if !key.is_empty() {
        let v = HeaderValue::from_str(key).map_err(|_| {
            to_status(ApiError::BadRequest("idempotency_key must be visible ASCII".into()))
        })?;
        h.insert("idempotency-key", v);
    }
    Ok(h)
}

impl ConfigGrpc {
    fn who<T>(&self, req: &Request<T>, need: Role) -> Result<Identity, Status> {
        let authz = req.metadata().get("authorization").and_then(|v| v.to_str().ok());
        let mut who = self.auth.identify(authz).map_err(to_status)?;
        if let Some(a) = req.remote_addr() {
            who.source = a.to_string();
        }
        if who.role < need {
            return Err(to_status(ApiError::Forbidden(format!(
                "user {:?} has role {} but this call needs {}",
                who.user,
                who.role.name(),
                need.name()
            ))));
        }
        Ok(who)
    }
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<WatchEvent, Status>> + Send>>;

#[tonic::async_trait]
impl ConfigService for ConfigGrpc {
    async fn apply(&self, req: Request<ApplyRequest>) -> Result<Response<ApplyResponse>, Status> {
        let who = self.who(&req, Role::Editor)?;
        let r = req.into_inner();
        let ns = if r.namespace.is_empty() { "default" } else { r.namespace.as_str() };
        let headers = idempotency(&r.idempotency_key)?;
        let out = apply_text(&self.st, &who, &headers, &r.documents, ns, r.dry_run)
            .await
            .map_err(to_status)?;
        let field = |o: &Value, k: &str| o[k].as_str().unwrap_or_default().to_owned();
        Ok(Response::new(ApplyResponse {
            revision: out.revision,
            objects: out
                .objects
                .iter()
                .map(|o| ApplyResult {
                    api_version: field(o, "apiVersion"),
                    kind: field(o, "kind"),
                    namespace: field(o, "namespace"),
                    name: field(o, "name"),
                    result: field(o, "result"),
                })
                .collect(),
        }))
    }

    async fn get(&self, req: Request<GetRequest>) -> Result<Response<Object>, Status> {
        self.who(&req, Role::Viewer)?;
        let r = req.into_inner();
        let t = target(kind(&r.kind)?, &r.namespace)?;
        let c = if r.local { Consistency::Local } else { Consistency::Linearizable };
        let (res, _) = self.st.get(&t.key(&r.name), c).await.map_err(to_status)?;
        match res {
            Some(res) => Ok(Response::new(obj(&res, None))),
            None => Err(to_status(ApiError::NotFound(t.subject(&r.name)))),
        }
    }

    async fn list(&self, req: Request<ListRequest>) -> Result<Response<ListResponse>, Status> {
        self.who(&req, Role::Viewer)?;
        let r = req.into_inner();
        let info = kind(&r.kind)?;
        let ns = (!r.namespace.is_empty()).then_some(r.namespace.as_str());
        let prefix = KeyPrefix::resource(info.group, info.plural, ns);
        let c = if r.local { Consistency::Local } else { Consistency::Linearizable };
        let (items, revision) = self.st.list(&prefix, None, c).await.map_err(to_status)?;
        Ok(Response::new(ListResponse {
            revision,
            items: items.iter().map(|r| obj(r, None)).collect(),
        }))
    }

    async fn delete(&self, req: Request<DeleteRequest>) -> Result<Response<Object>, Status> {
        let who = self.who(&req, Role::Editor)?;
        let r = req.into_inner();
        let t = target(kind(&r.kind)?, &r.namespace)?;
        let key = t.key(&r.name);
        let mut txn = Txn { preconditions: vec![], ops: vec![Op::Delete { key: key.clone() }] };
        if r.resource_version > 0 {
            txn.preconditions.push(Precondition::ModRevision(key, r.resource_version));
        }
        let headers = idempotency(&r.idempotency_key)?;
        let (outcome, _) =
            submit(&self.st, &who, &headers, "delete", txn).await.map_err(to_status)?;
        match outcome {
            TxnOutcome::Committed { revision, results, .. } => match results.first() {
                Some(res) => Ok(Response::new(obj(res, Some(revision)))),
                None => Err(to_status(ApiError::Internal("empty delete result".into()))),
            },
            TxnOutcome::Failed { failure, .. } => {
                Err(to_status(crate::http::failure(&t, &r.name, failure)))
            }
        }
    }

    type WatchStream = WatchStream;

    async fn watch(&self, req: Request<WatchRequest>) -> Result<Response<WatchStream>, Status> {
        self.who(&req, Role::Viewer)?;
        let r = req.into_inner();
        let mut prefix = KeyPrefix::all();
        if !r.kind.is_empty() {
            let info = kind(&r.kind)?;
            prefix = KeyPrefix::resource(info.group, info.plural, None);
        }
        if !r.namespace.is_empty() {
            prefix.namespace = Some(r.namespace.clone());
        }
        let node = self.st.node.clone();
        let (initial, after) = if r.revision == 0 {
            node.list(&prefix, Consistency::Linearizable).await.map_err(|e| to_status(e.into()))?
        } else {
            (Vec::new(), r.revision)
        };
        let mut events = node.watch(prefix, after).map_err(|e| to_status(e.into()))?;
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let mut shutdown = self.st.shutdown.clone();
        tokio::spawn(async move {
            for res in &initial {
                let ev = WatchEvent {
                    r#type: "ADDED".into(),
                    revision: after,
                    object: Some(obj(res, None)),
                };
                if tx.send(Ok(ev)).await.is_err() {
                    return;
                }
            }
            loop {
                let next = tokio::select! {
                    ev = events.recv() => ev,
                    _ = shutdown.wait_for(|s| *s) => return,
                };
                match next {
                    None => return,
                    Some(Err(e)) => {
                        let _ = tx.send(Err(to_status(e.into()))).await;
                        return;
                    }
                    Some(Ok(ev)) => {
                        for c in &ev.changes {
                            let object = match (&c.object, &c.previous) {
                                (Some(o), _) => obj(o, None),
                                (None, Some(p)) => obj(p, Some(ev.revision)),
                                (None, None) => continue,
                            };
                            let we = WatchEvent {
                                r#type: c.kind.as_str().into(),
                                revision: ev.revision,
                                object: Some(object),
                            };
                            if tx.send(Ok(we)).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))))
    }
}
