//! xDS translation cost of an endpoint-only change (one service's endpoint moved), for N
//! services: the incremental path istiod takes (`translate_endpoints` for the changed service,
//! `Snapshot::with_endpoints`) next to the full path as the baseline, in the same run (a full
//! `translate` and `Snapshot::new` against the previous snapshot, which compares every
//! resource and packs only the changed ones).
//!
//! `cargo bench -p istio-planes-pilot --bench translate` (or `-- 1000 5000` for other sizes).

use std::collections::BTreeMap;
use std::time::Duration;

use istio_planes_config::networking::Resolution;
use istio_planes_pilot::ads::Snapshot;
use istio_planes_pilot::registry::{Endpoint, Service, ServicePort};
use istio_planes_pilot::xds::{translate, translate_endpoints, Routing};
// tokio's clock, as everywhere in planes (clippy.toml); nothing pauses it here, so it is the
// monotonic wall clock the measurement needs.
use tokio::time::Instant;

fn services(n: usize, changed_ip: &str) -> Vec<Service> {
    (0..n)
        .map(|i| Service {
            host: format!("svc{i}.bench.example.com"),
            namespace: "bench".into(),
            ports: vec![ServicePort {
                number: 8080,
                name: "grpc".into(),
                protocol: "GRPC".into(),
                target_port: 0,
            }],
            resolution: Resolution::STATIC,
            endpoints: ["10.0.0.1", "10.9.9.9"]
                .iter()
                .map(|a| Endpoint {
                    address: if i == 0 && *a == "10.0.0.1" {
                        changed_ip.into()
                    } else {
                        (*a).into()
                    },
                    ports: BTreeMap::new(),
                    labels: BTreeMap::new(),
                    locality: "us/east/a".into(),
                    weight: 0,
                    source: format!("bench/svc{i}"),
                    healthy: true,
                })
                .collect(),
        })
        .collect()
}

fn best<T>(rounds: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut out = None;
    for _ in 0..rounds {
        let t = Instant::now();
        let r = f();
        best = best.min(t.elapsed());
        out = Some(r);
    }
    (best, out.expect("at least one round"))
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect::<Vec<_>>()
        .into_iter()
        .chain(std::iter::once(0))
        .take_while(|n| *n != 0)
        .collect();
    let sizes = if sizes.is_empty() { vec![1000, 5000] } else { sizes };
    let routing = Routing::default();
    println!(
        "{:>9} {:>14} {:>14} {:>16} {:>18} {:>8}",
        "services", "translate ms", "snapshot ms", "incremental ms", "of which pack ms", "ratio"
    );
    for n in sizes {
        let old = translate(&services(n, "10.0.0.1"), &routing);
        let before = Snapshot::new(1, &old, None, None);
        let changed = services(n, "10.1.1.1");
        let (t_translate, resources) = best(5, || translate(&changed, &routing));
        let (t_snapshot, _) = best(5, || Snapshot::new(2, &resources, None, Some((&before, &old))));
        let (t_endpoints, clas) = best(5, || translate_endpoints(&changed, &[0], &routing));
        let (t_with, next) = best(5, || before.with_endpoints(2, None, &clas));
        assert!(!next.same_resources(&before), "the change must show");
        let full = t_translate + t_snapshot;
        let incremental = t_endpoints + t_with;
        println!(
            "{:>9} {:>14.3} {:>14.3} {:>16.3} {:>18.3} {:>8.4}",
            n,
            t_translate.as_secs_f64() * 1e3,
            t_snapshot.as_secs_f64() * 1e3,
            incremental.as_secs_f64() * 1e3,
            t_with.as_secs_f64() * 1e3,
            incremental.as_secs_f64() / full.as_secs_f64().max(1e-9),
        );
    }
}
