//! Translation proportional to the change: when the routing (VirtualServices and
//! DestinationRules) is what the last translation used, only the hosts whose services changed
//! are translated again, and their resources replace their namesakes in the last result.
//!
//! Every resource belongs to one host — the one in its name (`outbound|PORT|SUBSET|HOST` for
//! clusters and load assignments, `HOST:PORT` for listeners and route configurations) — and is
//! made from the services of that host alone, the routing, and, for routes a VirtualService
//! gives, the services its destinations name (their ports). So a change of services changes
//! the resources of the changed hosts and of the hosts a VirtualService routes; every other
//! resource is what it was. [`translate`](super::translate) of the whole registry gives the
//! same result (a unit test checks it against random changes).

use std::collections::{BTreeMap, BTreeSet};

use super::policy::Scope;
use super::{service, Resources, Routing, CLUSTER, ENDPOINT, LISTENER, ROUTE};
use crate::registry::Service;

/// The host a resource of `type_url` named `name` was translated from.
pub fn owner<'n>(type_url: &str, name: &'n str) -> &'n str {
    if type_url == CLUSTER || type_url == ENDPOINT {
        name.splitn(4, '|').nth(3).unwrap_or(name)
    } else {
        name.rsplit_once(':').map_or(name, |(host, _)| host)
    }
}

/// The services of each host, in list order (the order [`translate`](super::translate)
/// folds them in, later ones overwriting namesakes).
fn by_host(services: &[Service]) -> BTreeMap<&str, Vec<&Service>> {
    let mut out: BTreeMap<&str, Vec<&Service>> = BTreeMap::new();
    for s in services {
        out.entry(s.host.as_str()).or_default().push(s);
    }
    out
}

/// The hosts whose resources may differ between a translation of `before` and one of
/// `after` under the same `routing`: those whose services were added, removed or changed and,
/// when there are any, every host a VirtualService routes (its routes read the services their
/// destinations name). Empty when the services are the same.
pub fn dirty_hosts(before: &[Service], after: &[Service], routing: &Routing) -> BTreeSet<String> {
    let (old, new) = (by_host(before), by_host(after));
    let mut dirty: BTreeSet<String> = old
        .iter()
        .filter(|(h, s)| new.get(*h) != Some(*s))
        .map(|(h, _)| (*h).to_owned())
        .chain(new.keys().filter(|h| !old.contains_key(*h)).map(|h| (*h).to_owned()))
        .collect();
    if !dirty.is_empty() && !routing.virtual_services.is_empty() {
        let scope = Scope::new(after, routing);
        dirty.extend(
            new.keys().filter(|h| scope.virtual_service(h).is_some()).map(|h| (*h).to_owned()),
        );
    }
    dirty
}

/// The resources of the services of `hosts`, exactly as [`translate`](super::translate) of
/// all of `services` makes them.
pub fn translate_hosts(
    services: &[Service],
    hosts: &BTreeSet<String>,
    routing: &Routing,
) -> Resources {
    let scope = Scope::new(services, routing);
    let mut out = Resources::default();
    for s in services.iter().filter(|s| hosts.contains(&s.host)) {
        service(&scope, s, &mut out, false);
    }
    out
}

/// What [`Resources::replace_hosts`] changed, per type URL: the names put (new or replaced)
/// and the names removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Delta {
    /// Names put, per type URL.
    pub upserted: BTreeMap<&'static str, BTreeSet<String>>,
    /// Names removed, per type URL.
    pub removed: BTreeMap<&'static str, BTreeSet<String>>,
}

impl Delta {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.upserted.values().all(BTreeSet::is_empty)
            && self.removed.values().all(BTreeSet::is_empty)
    }
}

impl Resources {
    /// Replaces every resource of `hosts` with those in `fresh` (the translation of exactly
    /// those hosts), returning what was put and removed.
    pub fn replace_hosts(&mut self, hosts: &BTreeSet<String>, fresh: Resources) -> Delta {
        fn one<M>(
            type_url: &'static str,
            all: &mut BTreeMap<String, M>,
            hosts: &BTreeSet<String>,
            fresh: BTreeMap<String, M>,
            delta: &mut Delta,
        ) {
            let gone: Vec<String> = all
                .keys()
                .filter(|n| hosts.contains(owner(type_url, n)) && !fresh.contains_key(*n))
                .cloned()
                .collect();
            for n in gone {
                all.remove(&n);
                delta.removed.entry(type_url).or_default().insert(n);
            }
            for (n, m) in fresh {
                delta.upserted.entry(type_url).or_default().insert(n.clone());
                all.insert(n, m);
            }
        }
        let mut delta = Delta::default();
        one(LISTENER, &mut self.listeners, hosts, fresh.listeners, &mut delta);
        one(ROUTE, &mut self.routes, hosts, fresh.routes, &mut delta);
        one(CLUSTER, &mut self.clusters, hosts, fresh.clusters, &mut delta);
        one(ENDPOINT, &mut self.endpoints, hosts, fresh.endpoints, &mut delta);
        delta
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_come_from_names() {
        assert_eq!(owner(CLUSTER, "outbound|80|v1|a.example.com"), "a.example.com");
        assert_eq!(owner(ENDPOINT, "outbound|80||a.example.com"), "a.example.com");
        assert_eq!(owner(LISTENER, "a.example.com:80"), "a.example.com");
        assert_eq!(owner(ROUTE, "a.example.com:9080"), "a.example.com");
    }
}
