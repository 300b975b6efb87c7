//! The one end-to-end test binary: a module per area, each driving istiod through its wire
//! contracts — in-process members (`Cluster::single`) for the API's behaviour, real processes
//! for what needs one (SIGKILL, WAL, membership, chaos) — and real clients no one here wrote
//! (kubectl, grpcio) where a wire has them. One binary links the world once.
// Test code: a failed unwrap is a failed test with its location.
#![allow(clippy::unwrap_used)]

mod apply;
mod audit;
mod auth;
mod bad_input;
mod chaos_smoke;
mod cluster;
mod conformance;
mod dev_default;
mod export_restore;
mod grpc;
mod idempotency;
mod istioctl_cli;
mod kubectl;
mod membership;
mod readme;
mod snapshot;
mod tidy;
mod timetravel;
mod wal;
mod watch;
mod xds;
mod xds_autoreg;
mod xds_delta;
mod xds_failover;
mod xds_grpcio;
mod xds_scope;
