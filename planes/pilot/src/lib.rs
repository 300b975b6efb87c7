//! istio-planes-pilot: the service registry and routing, projected from the event log,
//! translated into Envoy xDS v3 resources and served over ADS.
//!
//! Pilot depends on the view framework and the config model, never on another plane; it reads
//! the log only through a [`istio_planes_view::ViewDriver`] of its own [`registry::RegistryView`].
//!
//! - [`registry`]: a [`istio_planes_view::View`] of ServiceEntry and WorkloadEntry objects:
//!   services, their ports and their endpoints (inline, or WorkloadEntries selected by labels).
//! - [`ads`]: the ADS server (state of the world and delta), pushing snapshots to every stream.
//! - [`autoreg`]: WorkloadGroup auto-registration: WorkloadEntries committed for connecting
//!   proxies, marked disconnected when they go, deleted after a grace period.
//! - [`dump`]: resources as proto3 JSON, as in Envoy's config dump.
//! - [`scope`]: per-proxy scoping: identity from node metadata, the `Sidecar` that applies
//!   (egress hosts narrow wildcard subscriptions), the workload's ports (inbound listeners).
//! - [`status`]: what every connected proxy was sent and ACKed or NACKed; push metrics.
//! - [`xds`]: pure translation of the registry into Listener / RouteConfiguration / Cluster /
//!   ClusterLoadAssignment, in the shape gRPC's proxyless xDS clients accept.
//! - [`PilotError`]: why Pilot could not do what a proxy or the API asked.
#![forbid(unsafe_code)]

pub mod ads;
pub mod autoreg;
pub mod dump;
mod error;
pub mod registry;
pub mod scope;
pub mod status;
#[cfg(test)]
mod testlog;
pub mod xds;

pub use error::PilotError;

use std::sync::Arc;
use std::time::Duration;

use istio_store::state_machine::Shared;
use tokio::sync::watch;
use tokio::time::Instant;

use ads::Snapshot;
use istio_planes_view::ViewDriver;
use registry::RegistryView;
use status::PushStatus;

/// Keeps the registry view current and publishes a translated [`Snapshot`] after each change,
/// debounced on both edges: a change after a quiet `debounce` is translated at once, and
/// changes that follow within `debounce` of a translation wait for the end of that window and
/// become one snapshot. A change that only moved endpoints (no VirtualService or
/// DestinationRule changed, every service keeps its hosts, ports and resolution) translates
/// only the changed services' ClusterLoadAssignments; a change of services under the same
/// routing translates only the hosts it touched ([`xds::incremental`]); a change of routing
/// translates everything. Translation times go to `status`. The
/// debounce runs on tokio's clock (paused-time tests drive it).
///
/// It wakes only when the registry's content changed ([`ViewDriver::subscribe_content`]): a
/// write of a kind Pilot does not fold (AuthorizationPolicy, Telemetry, Gateway, …) costs it
/// no wake-up, no translation and no snapshot; the last snapshot stays current for it.
pub fn spawn_snapshots(
    state: Arc<Shared>,
    debounce: Duration,
    status: Arc<PushStatus>,
) -> watch::Receiver<Arc<Snapshot>> {
    let driver: ViewDriver<RegistryView> = ViewDriver::spawn(state);
    let (tx, rx) = watch::channel(Arc::new(Snapshot::default()));
    let mut revisions = driver.subscribe_content();
    tokio::spawn(async move {
        let mut changed_at = None;
        // What the last snapshot was made from: services, routing revision, routing,
        // resources.
        let mut last: Option<Last> = None;
        loop {
            let start = Instant::now();
            let (revision, routing_revision, services, routing, scope) = driver.read_now(|v| {
                use istio_planes_view::View;
                let routing = xds::Routing {
                    virtual_services: v.virtual_services(),
                    destination_rules: v.destination_rules(),
                };
                let services = v.services();
                let scope = scope::ScopeIndex::new(&services, &v.sidecars());
                (v.revision(), v.routing_revision(), services, routing, scope)
            });
            let current = tx.borrow().clone();
            let next = match last.as_mut() {
                // Only endpoints moved: only their ClusterLoadAssignments are translated.
                Some(l) if l.routing_revision == routing_revision => {
                    match endpoints_moved(&l.services, &services) {
                        Some(which) => {
                            let changed = xds::translate_endpoints(&services, &which, &routing);
                            let next = current.with_endpoints(revision, changed_at, &changed);
                            l.resources.endpoints.extend(changed);
                            l.services = services;
                            next
                        }
                        None => l.incremental(&current, revision, changed_at, services, routing),
                    }
                }
                // Only the hosts the change of services or routing can affect are
                // translated again.
                Some(l) => {
                    l.routing_revision = routing_revision;
                    l.incremental(&current, revision, changed_at, services, routing)
                }
                None => {
                    let resources = xds::translate(&services, &routing);
                    let next = Snapshot::new(revision, &resources, changed_at, None);
                    last = Some(Last { services, routing_revision, routing, resources });
                    next
                }
            }
            .with_scope(scope);
            status.translated(start.elapsed());
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
            tokio::time::sleep_until(start + debounce).await;
        }
    });
    rx
}

/// What the last snapshot was translated from, and its resources.
struct Last {
    services: Vec<registry::Service>,
    routing_revision: istio_store::Revision,
    routing: xds::Routing,
    resources: xds::Resources,
}

impl Last {
    /// Translates again the hosts that `services` and `routing` may have changed (see
    /// [`xds::incremental::dirty_hosts`]), keeps them as the last, and returns `current` with
    /// the changed resources.
    fn incremental(
        &mut self,
        current: &Snapshot,
        revision: istio_store::Revision,
        changed_at: Option<Instant>,
        services: Vec<registry::Service>,
        routing: xds::Routing,
    ) -> Snapshot {
        let dirty =
            xds::incremental::dirty_hosts(&self.services, &services, &self.routing, &routing);
        let fresh = xds::incremental::translate_hosts(&services, &dirty, &routing);
        let delta = self.resources.replace_hosts(&dirty, fresh);
        self.services = services;
        self.routing = routing;
        current.with_changes(revision, changed_at, &self.resources, &delta)
    }
}

/// When `after` differs from `before` only in endpoints (same services, hosts, ports and
/// resolution, in the same order), the indexes of the services whose endpoints changed.
fn endpoints_moved(
    before: &[registry::Service],
    after: &[registry::Service],
) -> Option<Vec<usize>> {
    if before.len() != after.len() {
        return None;
    }
    let mut moved = Vec::new();
    for (i, (a, b)) in before.iter().zip(after).enumerate() {
        if a.host != b.host
            || a.namespace != b.namespace
            || a.ports != b.ports
            || a.resolution != b.resolution
        {
            return None;
        }
        if a.endpoints != b.endpoints {
            moved.push(i);
        }
    }
    Some(moved)
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::registry::{Endpoint, Service, ServicePort};
    use super::*;
    use istio_planes_config::networking::Resolution;

    fn service(i: usize, ips: &[&str]) -> Service {
        Service {
            host: format!("svc{i}.example.com"),
            namespace: "ns".into(),
            ports: vec![ServicePort {
                number: 80,
                name: "http".into(),
                protocol: "HTTP".into(),
                target_port: 0,
            }],
            resolution: Resolution::STATIC,
            endpoints: ips
                .iter()
                .map(|a| Endpoint {
                    address: (*a).into(),
                    ports: BTreeMap::new(),
                    labels: BTreeMap::new(),
                    locality: String::new(),
                    weight: 0,
                    source: "ns/se".into(),
                    healthy: true,
                })
                .collect(),
        }
    }

    /// Every resource of a snapshot, by type and name, as its packed bytes.
    fn contents(s: &Snapshot) -> Vec<(String, Vec<u8>)> {
        [xds::LISTENER, xds::ROUTE, xds::CLUSTER, xds::ENDPOINT]
            .iter()
            .flat_map(|t| {
                s.select(t, &[])
                    .iter()
                    .map(|(n, a)| (format!("{t} {n}"), a.value.clone()))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// The incremental path (only the hosts a change can affect translated again) gives
    /// exactly the resources and snapshot a full translation does, over a seeded run of random
    /// changes: services added, removed, re-ported and moved, duplicated hosts; VirtualServices
    /// added, changed and removed (exact, short and wildcard hosts, bound to the mesh or to a
    /// gateway, weighted destinations with subsets, mirrors); DestinationRules likewise (subsets,
    /// a consistent-hash policy that changes routes). And it does no work for no change.
    #[test]
    fn incremental_changes_match_a_full_translation() {
        use istio_planes_config::networking::{DestinationRule, VirtualService};
        let mut seed = 7u64;
        let mut rand = move |n: u64| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        fn host(r: &mut impl FnMut(u64) -> u64) -> String {
            match r(6) {
                0 => "*.example.com".to_owned(),
                1 => format!("svc{}", r(12)),
                _ => format!("svc{}.example.com", r(12)),
            }
        }
        fn vs(r: &mut impl FnMut(u64) -> u64) -> Arc<VirtualService> {
            let mut http = serde_json::json!({"route": [
                {"destination": {"host": host(r)}, "weight": 50},
                {"destination": {"host": host(r), "subset": "v1"}, "weight": 50},
            ]});
            if r(3) == 0 {
                http["mirror"] = serde_json::json!({"host": host(r)});
            }
            let mut spec = serde_json::json!({"hosts": [host(r)], "http": [http]});
            if r(4) == 0 {
                spec["gateways"] = serde_json::json!(["ns/gw"]);
            }
            Arc::new(serde_json::from_value(spec).unwrap())
        }
        fn dr(r: &mut impl FnMut(u64) -> u64) -> Arc<DestinationRule> {
            let mut spec = serde_json::json!({
                "host": host(r),
                "subsets": [{"name": "v1", "labels": {"version": "v1"}}],
            });
            if r(2) == 0 {
                spec["trafficPolicy"] = serde_json::json!({"loadBalancer": {"consistentHash": {"httpHeaderName": "x"}}});
            }
            Arc::new(serde_json::from_value(spec).unwrap())
        }
        // The routing objects by name, as the registry view keeps them.
        let mut vss: BTreeMap<u64, Arc<VirtualService>> = BTreeMap::new();
        let mut drs: BTreeMap<u64, Arc<DestinationRule>> = BTreeMap::new();
        let routing_of =
            |vss: &BTreeMap<u64, Arc<VirtualService>>,
             drs: &BTreeMap<u64, Arc<DestinationRule>>| xds::Routing {
                virtual_services: vss.values().map(|v| ("ns".to_owned(), v.clone())).collect(),
                destination_rules: drs.values().map(|d| ("ns".to_owned(), d.clone())).collect(),
            };
        let mut services: Vec<Service> = (0..8).map(|i| service(i, &["10.0.0.1"])).collect();
        let mut routing = routing_of(&vss, &drs);
        let mut resources = xds::translate(&services, &routing);
        let mut snap = Snapshot::new(1, &resources, None, None);
        let (mut routed, mut partial) = (0, 0);
        for step in 0..600u64 {
            let before = services.clone();
            let old = routing.clone();
            match rand(8) {
                0 => services.push(service(rand(12) as usize, &["10.0.0.9"])),
                1 if !services.is_empty() => {
                    let i = rand(services.len() as u64) as usize;
                    services.remove(i);
                }
                2 if !services.is_empty() => {
                    let i = rand(services.len() as u64) as usize;
                    services[i].ports[0].number = 80 + rand(3) as u32;
                }
                3 if !services.is_empty() => {
                    let i = rand(services.len() as u64) as usize;
                    let ip = format!("10.0.1.{}", rand(200));
                    let mut moved = service(0, &[ip.as_str()]).endpoints;
                    if rand(2) == 0 {
                        moved[0].labels.insert("version".into(), "v1".into());
                    }
                    services[i].endpoints = moved;
                }
                4 | 5 => match rand(3) {
                    0 => drop(vss.remove(&rand(4))),
                    _ => drop(vss.insert(rand(4), vs(&mut rand))),
                },
                6 => match rand(3) {
                    0 => drop(drs.remove(&rand(3))),
                    _ => drop(drs.insert(rand(3), dr(&mut rand))),
                },
                _ => {}
            }
            routing = routing_of(&vss, &drs);
            let dirty = xds::incremental::dirty_hosts(&before, &services, &old, &routing);
            let fresh = xds::incremental::translate_hosts(&services, &dirty, &routing);
            let delta = resources.replace_hosts(&dirty, fresh);
            let full = xds::translate(&services, &routing);
            assert_eq!(resources, full, "step {step}: incremental resources differ");
            let next = snap.with_changes(step + 2, None, &resources, &delta);
            let whole = Snapshot::new(step + 2, &full, None, None);
            assert_eq!(contents(&next), contents(&whole), "step {step}: snapshot differs");
            let hosts: BTreeSet<&str> = services.iter().map(|s| s.host.as_str()).collect();
            if before == services
                && same(&old.virtual_services, &routing.virtual_services)
                && same(&old.destination_rules, &routing.destination_rules)
            {
                assert!(dirty.is_empty() && delta.is_empty(), "step {step}: work for no change");
                assert!(next.same_resources(&snap), "step {step}: an unchanged snapshot moved");
            }
            if !dirty.is_empty() && dirty.len() < hosts.len() {
                partial += 1;
            }
            if !routing.virtual_services.is_empty() {
                routed += 1;
            }
            snap = next;
        }
        assert!(
            routed > 100 && partial > 100,
            "the run is not exercising much: {routed} {partial}"
        );
    }

    /// Whether two routing lists hold the same objects.
    fn same<T>(a: &[(String, Arc<T>)], b: &[(String, Arc<T>)]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| Arc::ptr_eq(&x.1, &y.1))
    }

    /// The endpoint-only path yields exactly what a full translation does, sharing every
    /// unchanged resource with the previous snapshot; any other change is not endpoint-only.
    #[test]
    fn endpoint_only_changes_match_a_full_translation() {
        let routing = xds::Routing::default();
        let before: Vec<Service> = (0..5).map(|i| service(i, &["10.0.0.1"])).collect();
        let old = xds::translate(&before, &routing);
        let first = Snapshot::new(1, &old, None, None);
        let mut after = before.clone();
        after[3] = service(3, &["10.0.0.1", "10.0.0.2"]);
        let moved = endpoints_moved(&before, &after);
        assert_eq!(moved.as_deref(), Some(&[3][..]));
        let changed = xds::translate_endpoints(&after, &[3], &routing);
        let incremental = first.with_endpoints(2, None, &changed);
        let full = Snapshot::new(2, &xds::translate(&after, &routing), None, Some((&first, &old)));
        for t in [xds::LISTENER, xds::ROUTE, xds::CLUSTER, xds::ENDPOINT] {
            let (a, b) = (incremental.select(t, &[]), full.select(t, &[]));
            assert!(ads::same(&a, &b), "{t} differs");
            if t != xds::ENDPOINT {
                assert!(Arc::ptr_eq(&a, &first.select(t, &[])), "{t} is shared");
            }
        }
        assert!(!incremental.same_resources(&first));
        let mut ported = after.clone();
        ported[1].ports[0].number = 81;
        assert_eq!(endpoints_moved(&after, &ported), None);
        assert_eq!(endpoints_moved(&after, &after[..4]), None);
    }

    // -----------------------------------------------------------------------------------------
    // The debounce of `spawn_snapshots`, under paused time, against a log (a state machine,
    // no Raft) that the registry view follows as on a live member.
    // -----------------------------------------------------------------------------------------

    use crate::testlog::TestLog;
    use istio_store::ResourceKey;
    use tokio::time::sleep;

    const DEBOUNCE: Duration = Duration::from_millis(100);

    /// Commits a ServiceEntry for `host` (a new cluster in the next translation).
    async fn add_service(log: &TestLog, host: &str) {
        let se = serde_json::json!({
            "apiVersion": "networking.istio.io/v1",
            "kind": "ServiceEntry",
            "metadata": {"name": host, "namespace": "default"},
            "spec": {
                "hosts": [host],
                "ports": [{"number": 80, "name": "http", "protocol": "HTTP"}],
                "resolution": "STATIC",
                "endpoints": [{"address": "10.0.0.1"}],
            },
        });
        let key = ResourceKey::new("networking.istio.io", "serviceentries", "default", host);
        log.put(key, &se).await;
    }

    fn clusters(s: &Snapshot) -> Vec<String> {
        s.select(xds::CLUSTER, &[]).iter().map(|(n, _)| n.clone()).collect()
    }

    /// A log and the snapshots translated from it, after a quiet `debounce` (the empty
    /// snapshots of revision 0 seen).
    async fn start() -> (Arc<TestLog>, watch::Receiver<Arc<Snapshot>>) {
        let log = TestLog::new();
        let mut rx = spawn_snapshots(log.shared(), DEBOUNCE, Arc::new(PushStatus::new("1")));
        rx.changed().await.unwrap();
        sleep(DEBOUNCE * 3).await;
        assert_eq!(rx.borrow_and_update().revision, 0);
        (log, rx)
    }

    /// After a quiet `debounce`, a change is translated at once: no time passes between the
    /// commit and its snapshot, which records when the change was seen.
    #[tokio::test(start_paused = true)]
    async fn a_change_after_a_quiet_debounce_is_translated_at_once() {
        let (log, mut rx) = start().await;
        let t0 = Instant::now();
        add_service(&log, "a.example.com").await;
        rx.changed().await.unwrap();
        assert_eq!(Instant::now(), t0, "the snapshot waited");
        let snap = rx.borrow_and_update().clone();
        assert_eq!(snap.revision, 1);
        assert_eq!(snap.changed_at, Some(t0));
        assert_eq!(clusters(&snap), ["outbound|80||a.example.com"]);

        // Quiet again: the next change is translated at once too.
        sleep(DEBOUNCE * 2).await;
        let t1 = Instant::now();
        add_service(&log, "b.example.com").await;
        rx.changed().await.unwrap();
        assert_eq!(Instant::now(), t1, "the second snapshot waited");
        assert_eq!(rx.borrow_and_update().revision, 2);
    }

    /// A write of a kind Pilot does not fold wakes nothing: no translation and no snapshot,
    /// however long one waits; the next ServiceEntry is translated at once as usual.
    #[tokio::test(start_paused = true)]
    async fn a_write_of_a_kind_pilot_does_not_fold_wakes_nothing() {
        let log = TestLog::new();
        let status = Arc::new(PushStatus::new("1"));
        let mut rx = spawn_snapshots(log.shared(), DEBOUNCE, status.clone());
        rx.changed().await.unwrap();
        sleep(DEBOUNCE * 3).await;
        rx.borrow_and_update();
        let before = status.translations();
        for i in 0..20 {
            let name = format!("deny-{i}");
            let policy = serde_json::json!({
                "apiVersion": "security.istio.io/v1",
                "kind": "AuthorizationPolicy",
                "metadata": {"name": name, "namespace": "default"},
                "spec": {"action": "DENY", "rules": [{"from": [{"source": {"namespaces": ["x"]}}]}]},
            });
            let key =
                ResourceKey::new("security.istio.io", "authorizationpolicies", "default", &name);
            log.put(key, &policy).await;
            // A networking kind Pilot does not fold either.
            let gw = serde_json::json!({
                "apiVersion": "networking.istio.io/v1",
                "kind": "Gateway",
                "metadata": {"name": name, "namespace": "default"},
                "spec": {"servers": [{"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["*"]}]},
            });
            log.put(ResourceKey::new("networking.istio.io", "gateways", "default", &name), &gw)
                .await;
        }
        sleep(DEBOUNCE * 10).await;
        assert!(!rx.has_changed().unwrap(), "a snapshot for writes Pilot does not fold");
        assert_eq!(status.translations(), before, "a translation for writes Pilot does not fold");

        let t0 = Instant::now();
        add_service(&log, "a.example.com").await;
        rx.changed().await.unwrap();
        assert_eq!(Instant::now(), t0, "the snapshot waited");
        assert_eq!(status.translations(), before + 1);
        assert_eq!(rx.borrow_and_update().revision, 41);
    }

    /// Changes that follow within `debounce` of a translation wait for the end of that window
    /// and become one snapshot, carrying all of them and the time the first was seen.
    #[tokio::test(start_paused = true)]
    async fn changes_within_the_debounce_of_a_translation_become_one_snapshot() {
        let (log, mut rx) = start().await;
        let t0 = Instant::now();
        add_service(&log, "a.example.com").await;
        rx.changed().await.unwrap();
        assert_eq!((Instant::now(), rx.borrow_and_update().revision), (t0, 1));

        // Two more changes inside the window that translation opened.
        sleep(DEBOUNCE / 10).await;
        let first_seen = Instant::now();
        add_service(&log, "b.example.com").await;
        sleep(DEBOUNCE / 10).await;
        add_service(&log, "c.example.com").await;
        sleep(DEBOUNCE / 2).await;
        assert!(!rx.has_changed().unwrap(), "a snapshot inside the debounce window");

        rx.changed().await.unwrap();
        assert_eq!(Instant::now(), t0 + DEBOUNCE, "not at the end of the window");
        let snap = rx.borrow_and_update().clone();
        assert_eq!(snap.revision, 3, "both changes in one snapshot");
        assert_eq!(snap.changed_at, Some(first_seen));
        assert_eq!(
            clusters(&snap),
            [
                "outbound|80||a.example.com",
                "outbound|80||b.example.com",
                "outbound|80||c.example.com"
            ]
        );

        // Nothing else is published for them.
        sleep(DEBOUNCE * 5).await;
        assert!(!rx.has_changed().unwrap(), "a second snapshot for the same changes");
        assert_eq!(rx.borrow().revision, 3);
    }
}
