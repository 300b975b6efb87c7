//! istio-planes: everything that gives the event log meaning.
//!
//! - [`config`]: the typed Istio configuration kinds (networking, security, telemetry), their
//!   registry (groups, versions, plurals, short names) and Istio's validation rules. Shared by
//!   istiod's API and by `istioctl validate` (offline).
//!
//! Later: the `View` framework and the Pilot, Mixer, CA and Broker projections.
#![forbid(unsafe_code)]

pub mod config;
