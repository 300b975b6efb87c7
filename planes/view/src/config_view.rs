//! The first view: every configuration object by kind, namespace and name, with a label index,
//! serving the API's typed reads.
//!
//! Objects are grouped per kind (`group`, `resource`) and kept in `(namespace, name)` order, so
//! folding an event touches one small map. A kind's label index is built the first time a
//! label selector asks about that kind and is kept current from then on; until then folding an
//! event never parses the object, which keeps replay cheap.

use parking_lot::Mutex;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use istio_store::{EventRef, KeyPrefix, KeyRef, Resource, ResourceKey, ResourceRef, Revision};

use crate::View;

/// `(namespace, name)` within one kind.
type Id = (String, String);
/// `(label key, label value)`.
type Label = (String, String);

/// Configuration objects, indexed.
#[derive(Debug, Default)]
pub struct ConfigView {
    revision: Revision,
    /// group -> resource -> kind. Nested maps, so lookups borrow the event's strings.
    kinds: BTreeMap<Name, BTreeMap<Name, Kind>>,
}

/// A key part, as bytes: folding an event looks it up with the stored bytes as they are
/// (byte order is the strings' order).
type Name = Box<[u8]>;

/// namespace -> name -> object. Names are hashed, not ordered: folding an event then costs one
/// hash and (usually) one compare instead of a B-tree walk of compares through scattered
/// keys; reads sort what they return.
type Objects = BTreeMap<Name, Names>;
type Names = HashMap<Name, Resource, fxhash::FxBuildHasher>;

/// One namespace's objects, in name order.
fn sorted(names: &Names) -> Vec<&Resource> {
    let mut v: Vec<&Resource> = names.values().collect();
    v.sort_unstable_by(|a, b| a.key.name.cmp(&b.key.name));
    v
}

#[derive(Debug, Default)]
struct Kind {
    objects: Objects,
    /// Built on the first label query for this kind, then maintained by every fold.
    labels: Mutex<Option<LabelIndex>>,
}

impl Kind {
    fn label_index(&mut self) -> Option<&mut LabelIndex> {
        self.labels.get_mut().as_mut()
    }
}

#[derive(Debug, Default)]
struct LabelIndex {
    by_label: HashMap<Label, BTreeSet<Id>>,
    of_object: HashMap<Id, Vec<Label>>,
}

impl LabelIndex {
    fn build(objects: &Objects) -> Self {
        let mut index = LabelIndex::default();
        for r in objects.values().flat_map(HashMap::values) {
            index.add(&id_of(r.key.as_ref()), &r.object);
        }
        index
    }

    fn add(&mut self, id: &Id, object: &[u8]) {
        let labels = labels_of(object);
        if labels.is_empty() {
            return;
        }
        for l in &labels {
            self.by_label.entry(l.clone()).or_default().insert(id.clone());
        }
        self.of_object.insert(id.clone(), labels);
    }

    fn remove(&mut self, id: &Id) {
        for l in self.of_object.remove(id).unwrap_or_default() {
            if let Some(set) = self.by_label.get_mut(&l) {
                set.remove(id);
                if set.is_empty() {
                    self.by_label.remove(&l);
                }
            }
        }
    }
}

#[derive(serde::Deserialize)]
struct Obj<'a> {
    #[serde(borrow, default)]
    metadata: Option<Meta<'a>>,
}

#[derive(serde::Deserialize)]
struct Meta<'a> {
    #[serde(borrow, default)]
    labels: Option<BTreeMap<std::borrow::Cow<'a, str>, std::borrow::Cow<'a, str>>>,
}

/// The object's `metadata.labels`, decoded without building the rest of the object.
fn labels_of(object: &[u8]) -> Vec<Label> {
    match serde_json::from_slice::<Obj<'_>>(object) {
        Ok(Obj { metadata: Some(Meta { labels: Some(l) }) }) => {
            l.into_iter().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
        }
        _ => Vec::new(),
    }
}

fn id_of(key: KeyRef<'_>) -> Id {
    (key.namespace.to_str().into_owned(), key.name.to_str().into_owned())
}

impl ConfigView {
    fn remove(&mut self, key: KeyRef<'_>) {
        let Some(kinds) = self.kinds.get_mut(key.group.as_bytes()) else { return };
        let Some(kind) = kinds.get_mut(key.resource.as_bytes()) else { return };
        let Some(names) = kind.objects.get_mut(key.namespace.as_bytes()) else { return };
        if names.remove(key.name.as_bytes()).is_none() {
            return;
        }
        if names.is_empty() {
            kind.objects.remove(key.namespace.as_bytes());
        }
        if let Some(index) = kind.label_index() {
            index.remove(&id_of(key));
        }
        if kind.objects.is_empty() {
            kinds.remove(key.resource.as_bytes());
            if kinds.is_empty() {
                self.kinds.remove(key.group.as_bytes());
            }
        }
    }

    /// Inserts or replaces one object. Every lookup borrows the event's strings; replacing an
    /// existing object reuses its allocations.
    fn insert(&mut self, r: ResourceRef<'_>) {
        let key = r.key;
        let kinds = match self.kinds.get_mut(key.group.as_bytes()) {
            Some(k) => k,
            None => self.kinds.entry(key.group.as_bytes().into()).or_default(),
        };
        let kind = match kinds.get_mut(key.resource.as_bytes()) {
            Some(k) => k,
            None => kinds.entry(key.resource.as_bytes().into()).or_default(),
        };
        if let Some(index) = kind.label_index() {
            let id = id_of(key);
            index.remove(&id);
            index.add(&id, r.object);
        }
        let names = match kind.objects.get_mut(key.namespace.as_bytes()) {
            Some(n) => n,
            None => kind.objects.entry(key.namespace.as_bytes().into()).or_default(),
        };
        match names.get_mut(key.name.as_bytes()) {
            Some(slot) => r.overwrite(slot),
            None => {
                names.insert(key.name.as_bytes().into(), r.to_resource());
            }
        }
    }

    /// One object.
    pub fn get(&self, key: &ResourceKey) -> Option<&Resource> {
        self.kinds
            .get(key.group.as_bytes())?
            .get(key.resource.as_bytes())?
            .objects
            .get(key.namespace.as_bytes())?
            .get(key.name.as_bytes())
    }

    /// Objects under `prefix`, in key order; with `label = Some((k, v))` only those labelled so
    /// (answered from the kind's label index, built on first use).
    pub fn list(&self, prefix: &KeyPrefix, label: Option<(&str, &str)>) -> Vec<Resource> {
        let mut out = Vec::new();
        let kinds = self
            .kinds
            .iter()
            .filter(|(g, _)| prefix.group.as_ref().is_none_or(|p| p.as_bytes() == &***g))
            .flat_map(|(_, kinds)| kinds.iter())
            .filter(|(res, _)| prefix.resource.as_ref().is_none_or(|p| p.as_bytes() == &***res))
            .map(|(_, kind)| kind);
        for kind in kinds {
            let wanted = |ns: &str, name: &str| {
                prefix.namespace.as_ref().is_none_or(|p| p == ns)
                    && prefix.name.as_ref().is_none_or(|p| p == name)
            };
            match label {
                Some((k, v)) => {
                    let mut guard = kind.labels.lock();
                    let index = guard.get_or_insert_with(|| LabelIndex::build(&kind.objects));
                    let ids = index.by_label.get(&(k.to_owned(), v.to_owned()));
                    out.extend(
                        ids.into_iter().flatten().filter(|(ns, name)| wanted(ns, name)).filter_map(
                            |(ns, name)| {
                                kind.objects.get(ns.as_bytes())?.get(name.as_bytes()).cloned()
                            },
                        ),
                    );
                }
                None => {
                    let namespaces: Box<dyn Iterator<Item = _>> = match &prefix.namespace {
                        Some(ns) => Box::new(kind.objects.get(ns.as_bytes()).into_iter()),
                        None => Box::new(kind.objects.values()),
                    };
                    for names in namespaces {
                        out.extend(
                            sorted(names)
                                .into_iter()
                                .filter(|r| wanted(&r.key.namespace, &r.key.name))
                                .cloned(),
                        );
                    }
                }
            }
        }
        out
    }

    /// Every object, in key order.
    pub fn all(&self) -> Vec<Resource> {
        self.objects().cloned().collect()
    }

    /// Number of objects.
    pub fn len(&self) -> usize {
        self.namespaces().map(HashMap::len).sum()
    }

    fn namespaces(&self) -> impl Iterator<Item = &Names> {
        self.kinds.values().flat_map(BTreeMap::values).flat_map(|k| k.objects.values())
    }

    /// Every object, in key order.
    fn objects(&self) -> impl Iterator<Item = &Resource> {
        self.namespaces().flat_map(sorted)
    }

    /// Whether the view holds no object.
    pub fn is_empty(&self) -> bool {
        self.kinds.is_empty()
    }
}

/// Two views are equal when they hold the same objects at the same revision (label indexes
/// are derived data and are not compared).
impl PartialEq for ConfigView {
    fn eq(&self, other: &Self) -> bool {
        self.revision == other.revision && self.objects().eq(other.objects())
    }
}

impl Clone for ConfigView {
    fn clone(&self) -> Self {
        ConfigView {
            revision: self.revision,
            kinds: self
                .kinds
                .iter()
                .map(|(g, kinds)| {
                    let kinds = kinds.iter().map(|(r, kind)| {
                        (
                            r.clone(),
                            Kind { objects: kind.objects.clone(), labels: Mutex::new(None) },
                        )
                    });
                    (g.clone(), kinds.collect())
                })
                .collect(),
        }
    }
}

impl View for ConfigView {
    fn reset(&mut self, revision: Revision, resources: &[Resource]) {
        *self = ConfigView { revision, ..Default::default() };
        for r in resources {
            self.insert(r.as_ref());
        }
    }

    fn apply(&mut self, event: &EventRef<'_>) {
        for c in &event.changes {
            match c.object {
                Some(o) => self.insert(o),
                None => self.remove(c.key),
            }
        }
        self.revision = event.revision;
    }

    fn revision(&self) -> Revision {
        self.revision
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(ns: &str, name: &str, labels: &str) -> Resource {
        Resource {
            key: ResourceKey::new("networking.istio.io", "virtualservices", ns, name),
            object: format!(r#"{{"metadata":{{"labels":{labels}}}}}"#).into_bytes(),
            create_revision: 1,
            mod_revision: 1,
            version: 1,
            create_time_ms: 0,
        }
    }

    fn names(v: Vec<Resource>) -> Vec<String> {
        v.into_iter().map(|r| format!("{}/{}", r.key.namespace, r.key.name)).collect()
    }

    /// The label index, built lazily, stays current through later inserts, relabels and
    /// deletes, and agrees with filtering every object by its labels.
    #[test]
    fn label_index_built_on_first_use_then_maintained() {
        let mut v = ConfigView::default();
        v.reset(0, &[res("a", "x", r#"{"app":"p"}"#), res("b", "y", r#"{"app":"q"}"#)]);
        let p = KeyPrefix::resource("networking.istio.io", "virtualservices", None);
        assert_eq!(names(v.list(&p, Some(("app", "p")))), ["a/x"]);
        v.insert(res("a", "z", r#"{"app":"p"}"#).as_ref());
        v.insert(res("a", "x", r#"{"app":"q"}"#).as_ref());
        assert_eq!(names(v.list(&p, Some(("app", "p")))), ["a/z"]);
        assert_eq!(names(v.list(&p, Some(("app", "q")))), ["a/x", "b/y"]);
        v.remove(ResourceKey::new("networking.istio.io", "virtualservices", "b", "y").as_ref());
        assert_eq!(names(v.list(&p, Some(("app", "q")))), ["a/x"]);
        let ns_b = KeyPrefix::resource("networking.istio.io", "virtualservices", Some("a"));
        assert_eq!(names(v.list(&ns_b, None)), ["a/x", "a/z"]);
        assert_eq!(names(v.list(&KeyPrefix::all(), Some(("app", "nope")))), Vec::<String>::new());
        assert_eq!(v.clone(), v);
    }
}
