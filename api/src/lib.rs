//! istio-api: the `istiod` process (the store, the planes, and the HTTP and gRPC servers in
//! front of them) and `istioctl`.
//!
//! This is the one crate that wires everything together: planes never call each other, and
//! the servers here are the only place an error becomes an HTTP status ([`error`]) or a gRPC
//! status ([`grpc::to_status`]).
//!
//! - [`apply`]: `POST /v1/apply` and gRPC Apply: atomic multi-document apply.
//! - [`auth`]: bearer tokens, roles, the one authentication middleware.
//! - [`discovery`]: `/api`, `/apis/…` for kubectl.
//! - [`selector`]: label and field selectors.
//! - [`istioctl`]: the CLI.
//! - [`istiod`]: flags, start-up, cluster formation/join, serving, SIGTERM drain.
//! - [`grpc`]: the ConfigService on `--grpc`.
//! - [`http`]: the axum router and handlers.
//! - [`object`]: request-body checks and response decoration.
//! - [`audit`]: `/v1/audit` and `/v1/history`.
//! - [`timetravel`]: `/v1/diff` and `/v1/rollback`.
//! - [`error`]: [`error::ApiError`] and its single mapping to Kubernetes `Status`.
//! - [`metrics`]: Prometheus exposition.
//! - [`proxies`]: `/v1/proxies` push status and per-proxy config.
#![forbid(unsafe_code)]

pub mod apply;
pub mod audit;
pub mod auth;
pub mod discovery;
pub mod error;
pub mod grpc;
pub mod http;
pub mod istioctl;
pub mod istiod;
pub mod metrics;
pub mod object;
pub mod proxies;
pub mod selector;
pub mod timetravel;
