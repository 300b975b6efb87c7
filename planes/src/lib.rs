//! istio-planes: everything that gives the event log meaning.
//!
//! - [`config`]: the typed Istio configuration kinds (networking, security, telemetry), their
//!   registry (groups, versions, plurals, short names) and Istio's validation rules. Shared by
//!   istiod's API and by `istioctl validate` (offline).
//!
//! - [`view`]: the View framework — `View`, `replay(view, at)`, and the `ViewDriver` that
//!   keeps a live view current on every member.
//! - [`config_view`]: the first view, configuration objects indexed by kind, namespace, name
//!   and labels; it serves the API's typed reads.
//!
//! Later: the Pilot, Mixer, CA and Broker projections.
#![forbid(unsafe_code)]

pub mod config;
pub mod config_view;
pub mod pilot;
pub mod view;
