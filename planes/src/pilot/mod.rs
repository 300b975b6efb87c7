//! Pilot: the service registry and routing, projected from the event log, translated into
//! Envoy xDS v3 resources (issue 6, in progress).
//!
//! - [`registry`]: a [`crate::view::View`] of ServiceEntry and WorkloadEntry objects: services,
//!   their ports and their endpoints (inline, or WorkloadEntries selected by labels).
//! - [`xds`]: pure translation of the registry into Listener / RouteConfiguration / Cluster /
//!   ClusterLoadAssignment, in the shape gRPC's proxyless xDS clients accept.

pub mod registry;
pub mod xds;
