//! The writes of one log entry while it is being applied: the state machine applies every
//! command of an entry into one [`Pending`], reading through it (so each command sees what the
//! commands before it wrote), then commits it to the map at once, or drops it if the entry
//! fails.

use std::collections::HashMap;

use sled::IVec;

use crate::error::StoreError;
use crate::mem::Mem;

/// A key-value source to read from: the state machine's map, or the map with pending writes
/// over it.
pub(crate) trait Get {
    /// The value at `key`, if any.
    fn get(&self, key: &[u8]) -> Result<Option<IVec>, StoreError>;
}

impl Get for Mem {
    #[inline]
    fn get(&self, key: &[u8]) -> Result<Option<IVec>, StoreError> {
        Ok(Mem::get(self, key))
    }
}

/// Writes not yet committed over a map. Each key keeps only its last write (`None`: removed).
pub(crate) struct Pending<'m> {
    tree: &'m Mem,
    writes: HashMap<Vec<u8>, Option<IVec>>,
}

impl<'m> Pending<'m> {
    pub(crate) fn new(tree: &'m Mem) -> Self {
        Self { tree, writes: HashMap::new() }
    }

    pub(crate) fn insert(&mut self, key: Vec<u8>, value: impl Into<IVec>) {
        self.writes.insert(key, Some(value.into()));
    }

    pub(crate) fn remove(&mut self, key: Vec<u8>) {
        self.writes.insert(key, None);
    }

    /// Calls `f` with every key under `prefix` and its value, pending writes included, in no
    /// particular order.
    pub(crate) fn for_each_prefix(
        &self,
        prefix: &[u8],
        mut f: impl FnMut(&[u8], &[u8]) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        for (k, v) in self.tree.scan_prefix(prefix) {
            if !self.writes.contains_key(k) {
                f(k, v)?;
            }
        }
        for (k, v) in &self.writes {
            if let (true, Some(v)) = (k.starts_with(prefix), v) {
                f(k, v)?;
            }
        }
        Ok(())
    }

    /// The writes (`None`: remove), to apply to the map.
    pub(crate) fn into_writes(self) -> HashMap<Vec<u8>, Option<IVec>> {
        self.writes
    }
}

impl Get for Pending<'_> {
    #[inline]
    fn get(&self, key: &[u8]) -> Result<Option<IVec>, StoreError> {
        match self.writes.get(key) {
            Some(v) => Ok(v.clone()),
            None => Ok(self.tree.get(key)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_see_pending_writes_over_the_tree() {
        let mut tree = Mem::default();
        tree.insert(b"p/a", b"1");
        tree.insert(b"p/b", b"2");
        tree.insert(b"q/c", b"3");
        let mut p = Pending::new(&tree);
        p.insert(b"p/a".to_vec(), b"10".to_vec());
        p.remove(b"p/b".to_vec());
        p.insert(b"p/d".to_vec(), b"4".to_vec());
        p.insert(b"p/e".to_vec(), b"5".to_vec());
        p.remove(b"p/e".to_vec());
        assert_eq!(Get::get(&p, b"p/a").unwrap().as_deref(), Some(&b"10"[..]));
        assert_eq!(Get::get(&p, b"p/b").unwrap(), None);
        assert_eq!(Get::get(&p, b"q/c").unwrap().as_deref(), Some(&b"3"[..]));
        let mut seen = Vec::new();
        p.for_each_prefix(b"p/", |k, v| {
            seen.push((k.to_vec(), v.to_vec()));
            Ok(())
        })
        .unwrap();
        seen.sort();
        assert_eq!(seen, [(b"p/a".to_vec(), b"10".to_vec()), (b"p/d".to_vec(), b"4".to_vec())]);
        assert_eq!(tree.get(b"p/a").as_deref(), Some(&b"1"[..]), "nothing written yet");
        let writes = p.into_writes();
        tree.apply(writes);
        let all: Vec<(Vec<u8>, Vec<u8>)> =
            tree.iter().map(|(k, v)| (k.to_vec(), v.to_vec())).collect();
        assert_eq!(
            all,
            [
                (b"p/a".to_vec(), b"10".to_vec()),
                (b"p/d".to_vec(), b"4".to_vec()),
                (b"q/c".to_vec(), b"3".to_vec())
            ]
        );
    }
}
