//! Translation proportional to the change: only the hosts a change of services or routing
//! can affect are translated again, and their resources replace their namesakes in the last
//! result.
//!
//! Every resource belongs to one host — the one in its name (`outbound|PORT|SUBSET|HOST` for
//! clusters and load assignments, `HOST:PORT` for listeners and route configurations) — and is
//! made from the services of that host alone, the VirtualService and DestinationRules that name
//! it, and, for routes a VirtualService gives, the services and DestinationRules of the hosts
//! its destinations name. [`dirty_hosts`] follows exactly these reads back from a change, so
//! every other resource is what it was. [`translate`](super::translate) of the whole registry
//! gives the same result (a unit test checks it against random changes of services,
//! VirtualServices and DestinationRules).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

use super::policy::{bound_to_mesh, fqdn, names, Scope};
use super::{route, service, Resources, Routing, CLUSTER, ENDPOINT, LISTENER, ROUTE};
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

/// The entries of `after` that are not in `before` (by `Arc`: an unchanged object keeps its
/// `Arc` in the registry view), and those of `before` gone from `after`: the changed objects,
/// each version of a changed one on its side.
fn changed<'r, T>(
    before: &'r [(String, Arc<T>)],
    after: &'r [(String, Arc<T>)],
) -> Vec<&'r (String, Arc<T>)> {
    let ptrs = |l: &[(String, Arc<T>)]| -> HashSet<*const T> {
        l.iter().map(|(_, o)| Arc::as_ptr(o)).collect()
    };
    let (old, new) = (ptrs(before), ptrs(after));
    before
        .iter()
        .filter(|(_, o)| !new.contains(&Arc::as_ptr(o)))
        .chain(after.iter().filter(|(_, o)| !old.contains(&Arc::as_ptr(o))))
        .collect()
}

/// The hosts of `hosts` that `config_host`, written in `namespace`, names (exactly or as a
/// wildcard).
fn named<'h>(
    config_host: &str,
    namespace: &str,
    hosts: &BTreeMap<&'h str, Vec<&Service>>,
) -> Vec<&'h str> {
    if config_host.starts_with("*.") {
        hosts.keys().copied().filter(|h| names(config_host, namespace, h)).collect()
    } else {
        [config_host.to_owned(), fqdn(config_host, namespace)]
            .iter()
            .filter_map(|h| hosts.get_key_value(h.as_str()).map(|(k, _)| *k))
            .collect()
    }
}

/// The hosts whose resources may differ between a translation of `before` under `old` and
/// one of `after` under `new`; the resources of every other host are the same.
///
/// A host's resources read its own services, the VirtualService bound to it and the
/// DestinationRules naming it; its VirtualService's routes also read the services and
/// DestinationRules of the hosts its destinations name ([`route::destination_hosts`]). So the
/// dirty hosts are: those whose services were added, removed or changed; those a changed
/// VirtualService or DestinationRule names (either version); and those of a VirtualService
/// with a destination among the former two kinds. Empty when nothing changed.
pub fn dirty_hosts(
    before: &[Service],
    after: &[Service],
    old: &Routing,
    new: &Routing,
) -> BTreeSet<String> {
    let (was, now) = (by_host(before), by_host(after));
    // Hosts whose services changed, and those a changed DestinationRule names: what a route
    // that names them as a destination reads.
    let mut read: BTreeSet<&str> = was
        .iter()
        .filter(|(h, s)| now.get(*h) != Some(*s))
        .map(|(h, _)| *h)
        .chain(now.keys().filter(|h| !was.contains_key(*h)).copied())
        .collect();
    let rules = changed(&old.destination_rules, &new.destination_rules);
    for (ns, dr) in &rules {
        read.extend(named(&dr.host, ns, &now));
    }
    let mut dirty: BTreeSet<&str> = read.clone();
    for (ns, vs) in changed(&old.virtual_services, &new.virtual_services) {
        for h in &vs.hosts {
            dirty.extend(named(h, ns, &now));
        }
    }
    if !read.is_empty() || !rules.is_empty() {
        // A destination is read as written and as expanded in the VirtualService's
        // namespace; a changed rule may also name a destination no service has.
        let reads = |d: &str, ns: &str| {
            let full = fqdn(d, ns);
            read.contains(d)
                || read.contains(full.as_str())
                || rules
                    .iter()
                    .any(|(rns, dr)| names(&dr.host, rns, d) || names(&dr.host, rns, &full))
        };
        for (ns, vs) in new.virtual_services.iter().filter(|(_, vs)| bound_to_mesh(vs)) {
            if route::destination_hosts(vs).any(|d| reads(d, ns)) {
                for h in &vs.hosts {
                    dirty.extend(named(h, ns, &now));
                }
            }
        }
    }
    dirty.into_iter().map(str::to_owned).collect()
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
