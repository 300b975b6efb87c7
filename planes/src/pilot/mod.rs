//! Pilot: the service registry and routing, projected from the event log, translated into
//! Envoy xDS v3 resources (issue 6, in progress).
//!
//! - [`registry`]: a [`crate::view::View`] of ServiceEntry and WorkloadEntry objects: services,
//!   their ports and their endpoints (inline, or WorkloadEntries selected by labels).
//! - [`ads`]: the ADS server (state of the world), pushing snapshots to every stream.
//! - [`autoreg`]: WorkloadGroup auto-registration: WorkloadEntries committed for connecting
//!   proxies, marked disconnected when they go, deleted after a grace period.
//! - [`dump`]: resources as proto3 JSON, as in Envoy's config dump.
//! - [`scope`]: per-proxy scoping: identity from node metadata, the `Sidecar` that applies
//!   (egress hosts narrow wildcard subscriptions), the workload's ports (inbound listeners).
//! - [`status`]: what every connected proxy was sent and ACKed or NACKed; push metrics.
//! - [`xds`]: pure translation of the registry into Listener / RouteConfiguration / Cluster /
//!   ClusterLoadAssignment, in the shape gRPC's proxyless xDS clients accept.

pub mod ads;
pub mod autoreg;
pub mod dump;
pub mod registry;
pub mod scope;
pub mod status;
pub mod xds;

use std::sync::Arc;
use std::time::{Duration, Instant};

use istio_store::state_machine::Shared;
use tokio::sync::watch;

use crate::view::ViewDriver;
use ads::Snapshot;
use registry::RegistryView;
use status::PushStatus;

/// Keeps the registry view current and publishes a translated [`Snapshot`] after each change,
/// debounced on both edges: a change after a quiet `debounce` is translated at once, and
/// changes that follow within `debounce` of a translation wait for the end of that window and
/// become one snapshot. Translation times go to `status`.
pub fn spawn_snapshots(
    state: Arc<Shared>,
    debounce: Duration,
    status: Arc<PushStatus>,
) -> watch::Receiver<Arc<Snapshot>> {
    let driver: ViewDriver<RegistryView> = ViewDriver::spawn(state);
    let (tx, rx) = watch::channel(Arc::new(Snapshot::default()));
    let mut revisions = driver.subscribe();
    tokio::spawn(async move {
        let mut changed_at = None;
        loop {
            let start = Instant::now();
            let snapshot = driver.read_now(|v| {
                use crate::view::View;
                let routing = xds::Routing {
                    virtual_services: v.virtual_services(),
                    destination_rules: v.destination_rules(),
                };
                let services = v.services();
                let scope = scope::ScopeIndex::new(&services, &v.sidecars());
                (v.revision(), xds::translate(&services, &routing), scope)
            });
            let (revision, resources, scope) = snapshot;
            status.translated(start.elapsed());
            let current = tx.borrow().clone();
            let next =
                Snapshot::new(revision, resources, changed_at, Some(&current)).with_scope(scope);
            if !next.same_resources(&current)
                || next.scope != current.scope
                || current.revision == 0
            {
                tx.send_replace(Arc::new(next));
            }
            if revisions.changed().await.is_err() || tx.is_closed() {
                return;
            }
            changed_at = Some(Instant::now());
            tokio::time::sleep_until((start + debounce).into()).await;
        }
    });
    rx
}
