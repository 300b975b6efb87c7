//! The first view: every configuration object by kind, namespace and name, with a label index,
//! serving the API's typed reads.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use istio_store::{Event, KeyPrefix, Resource, ResourceKey, Revision};

use crate::view::View;

/// `(group, resource, label key, label value)`.
type LabelKey = (String, String, String, String);

/// Configuration objects, indexed.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ConfigView {
    revision: Revision,
    objects: BTreeMap<ResourceKey, Resource>,
    /// Each object's labels, kept so removal need not parse the object again.
    object_labels: HashMap<ResourceKey, Vec<(String, String)>>,
    labels: HashMap<LabelKey, BTreeSet<ResourceKey>>,
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
fn labels_of(r: &Resource) -> Vec<(String, String)> {
    match serde_json::from_slice::<Obj<'_>>(&r.object) {
        Ok(Obj { metadata: Some(Meta { labels: Some(l) }) }) => {
            l.into_iter().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
        }
        _ => Vec::new(),
    }
}

impl ConfigView {
    fn remove(&mut self, key: &ResourceKey) {
        if self.objects.remove(key).is_some() {
            for (k, v) in self.object_labels.remove(key).unwrap_or_default() {
                let lk = (key.group.clone(), key.resource.clone(), k, v);
                if let Some(set) = self.labels.get_mut(&lk) {
                    set.remove(key);
                    if set.is_empty() {
                        self.labels.remove(&lk);
                    }
                }
            }
        }
    }

    fn insert(&mut self, r: Resource) {
        self.remove(&r.key);
        let labels = labels_of(&r);
        for (k, v) in &labels {
            let lk = (r.key.group.clone(), r.key.resource.clone(), k.clone(), v.clone());
            self.labels.entry(lk).or_default().insert(r.key.clone());
        }
        if !labels.is_empty() {
            self.object_labels.insert(r.key.clone(), labels);
        }
        self.objects.insert(r.key.clone(), r);
    }

    /// One object.
    pub fn get(&self, key: &ResourceKey) -> Option<&Resource> {
        self.objects.get(key)
    }

    /// Objects under `prefix`, in key order; with `label = Some((k, v))` only those labelled so
    /// (answered from the label index).
    pub fn list(&self, prefix: &KeyPrefix, label: Option<(&str, &str)>) -> Vec<Resource> {
        if let (Some((k, v)), Some(g), Some(res)) = (label, &prefix.group, &prefix.resource) {
            let lk = (g.clone(), res.clone(), k.to_owned(), v.to_owned());
            return self
                .labels
                .get(&lk)
                .into_iter()
                .flatten()
                .filter(|key| key.matches(prefix))
                .filter_map(|key| self.objects.get(key).cloned())
                .collect();
        }
        self.objects.values().filter(|r| r.key.matches(prefix)).cloned().collect()
    }

    /// Every object, in key order.
    pub fn all(&self) -> Vec<Resource> {
        self.objects.values().cloned().collect()
    }

    /// Number of objects.
    pub fn len(&self) -> usize {
        self.objects.len()
    }

    /// Whether the view holds no object.
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }
}

impl View for ConfigView {
    fn reset(&mut self, revision: Revision, resources: &[Resource]) {
        *self = ConfigView { revision, ..Default::default() };
        for r in resources {
            self.insert(r.clone());
        }
    }

    fn apply(&mut self, event: &Event) {
        for c in &event.changes {
            match &c.object {
                Some(o) => self.insert(o.clone()),
                None => self.remove(&c.key),
            }
        }
        self.revision = event.revision;
    }

    fn revision(&self) -> Revision {
        self.revision
    }
}
