//! EDS: a cluster's ClusterLoadAssignment. Endpoints (those carrying the subset's labels) are
//! grouped by locality; every locality is located and weighted (the sum of its endpoints'
//! weights), since gRPC drops localities without a weight. Unhealthy endpoints are sent marked
//! `UNHEALTHY`, healthy ones `HEALTHY`, as Istio marks them.
//!
//! Locality load balancing: a `distribute` rule `from: "*"` applies to every client, so its
//! weights are applied here the way Istio's `applyLocalityWeights` applies them (each `to`
//! pattern's weight shared among the localities it matches, in proportion to their own
//! weights; localities no pattern matches get no traffic and are left out). Rules for a
//! particular client locality, and failover priorities, depend on the client and are not
//! carried: this translation is not per proxy.

use std::collections::BTreeMap;

use envoy_types::pb::envoy::config::core::v3::address::Address as AddressKind;
use envoy_types::pb::envoy::config::core::v3::socket_address::PortSpecifier;
use envoy_types::pb::envoy::config::core::v3::{Address, HealthStatus, Locality, SocketAddress};
use envoy_types::pb::envoy::config::endpoint::v3::lb_endpoint::HostIdentifier;
use envoy_types::pb::envoy::config::endpoint::v3::{
    ClusterLoadAssignment, Endpoint, LbEndpoint, LocalityLbEndpoints,
};
use envoy_types::pb::google::protobuf::UInt32Value;

use super::policy::Policy;
use crate::registry::{Service, ServicePort};
use istio_planes_config::common::StringMap;
use istio_planes_config::networking::LocalityDistribute;

fn locality(l: &str) -> Locality {
    let mut parts = l.splitn(3, '/');
    Locality {
        region: parts.next().unwrap_or("").to_owned(),
        zone: parts.next().unwrap_or("").to_owned(),
        sub_zone: parts.next().unwrap_or("").to_owned(),
    }
}

/// Istio's `LocalityMatch`: `region[/zone[/subzone]]`, `*` matching anything from there on.
fn locality_matches(l: &Locality, rule: &str) -> bool {
    let mut parts = rule.splitn(3, '/');
    let (region, zone, sub_zone) = (parts.next(), parts.next(), parts.next());
    let part = |r: Option<&str>, v: &str, optional: bool| match r {
        Some("*") => true,
        None | Some("") => optional,
        Some(r) => r == v,
    };
    part(region, &l.region, false) && part(zone, &l.zone, true) && part(sub_zone, &l.sub_zone, true)
}

/// The load assignment of cluster `name`: port `p` of `s`, only endpoints carrying `subset`'s
/// labels when given, weighted by the policy's client-independent locality distribution.
pub fn load_assignment(
    name: &str,
    s: &Service,
    p: &ServicePort,
    subset: Option<&StringMap>,
    policy: &Policy<'_>,
) -> ClusterLoadAssignment {
    let mut by_locality: BTreeMap<&str, Vec<LbEndpoint>> = BTreeMap::new();
    let selected = s.endpoints.iter().filter(|e| {
        subset.is_none_or(|labels| labels.iter().all(|(k, v)| e.labels.get(k) == Some(v)))
    });
    for e in selected {
        let addr = Address {
            address: Some(AddressKind::SocketAddress(SocketAddress {
                address: e.address.clone(),
                port_specifier: Some(PortSpecifier::PortValue(s.endpoint_port(e, p))),
                ..Default::default()
            })),
        };
        by_locality.entry(e.locality.as_str()).or_default().push(LbEndpoint {
            host_identifier: Some(HostIdentifier::Endpoint(Endpoint {
                address: Some(addr),
                ..Default::default()
            })),
            health_status: if e.healthy { HealthStatus::Healthy } else { HealthStatus::Unhealthy }
                as i32,
            load_balancing_weight: Some(UInt32Value { value: e.weight.max(1) }),
            ..Default::default()
        });
    }
    let mut endpoints: Vec<LocalityLbEndpoints> = by_locality
        .into_iter()
        .map(|(l, lb_endpoints)| LocalityLbEndpoints {
            locality: Some(locality(l)),
            load_balancing_weight: Some(UInt32Value {
                value: lb_endpoints
                    .iter()
                    .filter_map(|e| e.load_balancing_weight.as_ref())
                    .map(|w| w.value)
                    .fold(0u32, u32::saturating_add)
                    .max(1),
            }),
            lb_endpoints,
            ..Default::default()
        })
        .collect();
    let setting = policy.load_balancer.and_then(|lb| lb.locality_lb_setting.as_ref());
    if let Some(l) = setting.filter(|l| l.enabled != Some(false)) {
        if let Some(d) = l.distribute.iter().find(|d| d.from == "*") {
            distribute(&mut endpoints, d);
        }
    }
    ClusterLoadAssignment { cluster_name: name.to_owned(), endpoints, ..Default::default() }
}

/// Istio's `applyLocalityWeights` for one rule.
fn distribute(endpoints: &mut Vec<LocalityLbEndpoints>, rule: &LocalityDistribute) {
    let weight = |l: &LocalityLbEndpoints| l.load_balancing_weight.as_ref().map_or(1, |w| w.value);
    let mut unmatched: Vec<bool> = vec![true; endpoints.len()];
    let mut new_weights: Vec<Option<u32>> = vec![None; endpoints.len()];
    for (pattern, to) in &rule.to {
        let matched: Vec<usize> = (0..endpoints.len())
            .filter(|&i| {
                unmatched[i]
                    && endpoints[i].locality.as_ref().is_some_and(|l| locality_matches(l, pattern))
            })
            .collect();
        let total: u64 = matched.iter().map(|&i| u64::from(weight(&endpoints[i]))).sum();
        for &i in &matched {
            unmatched[i] = false;
            let share = u64::from(weight(&endpoints[i])) * u64::from(*to);
            if total > 0 && share > 0 {
                new_weights[i] = u32::try_from(share.div_ceil(total)).ok();
            }
        }
    }
    let mut i = 0;
    endpoints.retain_mut(|l| {
        let keep = !unmatched[i];
        if let Some(w) = new_weights[i] {
            l.load_balancing_weight = Some(UInt32Value { value: w.max(1) });
        }
        i += 1;
        keep
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locality_patterns() {
        let l = locality("us/east/a");
        assert!(locality_matches(&l, "us"));
        assert!(locality_matches(&l, "us/*"));
        assert!(locality_matches(&l, "us/east/a"));
        assert!(locality_matches(&l, "*"));
        assert!(!locality_matches(&l, "us/west"));
        assert!(!locality_matches(&l, "eu/*"));
    }

    #[test]
    fn distribute_shares_weights_and_drops_unmatched() {
        let loc = |l: &str, w| LocalityLbEndpoints {
            locality: Some(locality(l)),
            load_balancing_weight: Some(UInt32Value { value: w }),
            ..Default::default()
        };
        let mut e =
            vec![loc("us/east/a", 1), loc("us/east/b", 3), loc("us/west/a", 1), loc("eu/x/y", 1)];
        let rule: LocalityDistribute = serde_json::from_value(
            serde_json::json!({"from": "*", "to": {"us/east/*": 80, "us/west/*": 20}}),
        )
        .unwrap();
        distribute(&mut e, &rule);
        let got: Vec<(String, u32)> = e
            .iter()
            .map(|l| {
                (l.locality.as_ref().unwrap().zone.clone(), l.load_balancing_weight.unwrap().value)
            })
            .collect();
        assert_eq!(got, [("east".into(), 20), ("east".into(), 60), ("west".into(), 20)]);
    }
}
