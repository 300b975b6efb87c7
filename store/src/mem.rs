//! The state machine's key-value map, held in memory: resources, events, idempotency entries,
//! the checkpoint and the metadata, under the key layout of [`crate::state_machine`].
//!
//! Nothing here is written to disk as it changes. The Raft log is the write-ahead log: the
//! state on disk is the last saved snapshot (the whole map), and on open the entries after it
//! are applied again from the log (see [`crate::state_machine::StateMachine::open`]). Values
//! are reference-counted ([`IVec`]), so copying the map for a snapshot copies no value bytes.

use std::collections::BTreeMap;
use std::ops::Bound;

use sled::IVec;

/// An ordered map of byte keys to shared byte values.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Mem {
    map: BTreeMap<Vec<u8>, IVec>,
}

impl Mem {
    /// The value at `key`, if any (a reference-count increment, not a copy).
    #[inline]
    pub(crate) fn get(&self, key: &[u8]) -> Option<IVec> {
        self.map.get(key).cloned()
    }

    pub(crate) fn insert(&mut self, key: impl Into<Vec<u8>>, value: impl Into<IVec>) {
        self.map.insert(key.into(), value.into());
    }

    #[cfg(test)]
    pub(crate) fn remove(&mut self, key: &[u8]) {
        self.map.remove(key);
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// Every key and value, in key order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&[u8], &IVec)> {
        self.map.iter().map(|(k, v)| (k.as_slice(), v))
    }

    /// The keys starting with `prefix` and their values, in key order.
    pub(crate) fn scan_prefix<'a>(
        &'a self,
        prefix: &'a [u8],
    ) -> impl Iterator<Item = (&'a [u8], &'a IVec)> + 'a {
        self.map
            .range::<[u8], _>((Bound::Included(prefix), Bound::Unbounded))
            .take_while(move |(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.as_slice(), v))
    }

    /// Applies a set of writes (`None`: remove).
    pub(crate) fn apply(&mut self, writes: impl IntoIterator<Item = (Vec<u8>, Option<IVec>)>) {
        for (k, v) in writes {
            match v {
                Some(v) => {
                    self.map.insert(k, v);
                }
                None => {
                    self.map.remove(&k);
                }
            }
        }
    }
}

impl FromIterator<(Vec<u8>, IVec)> for Mem {
    fn from_iter<I: IntoIterator<Item = (Vec<u8>, IVec)>>(iter: I) -> Self {
        Self { map: iter.into_iter().collect() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_scans_stop_at_the_prefix() {
        let mut m = Mem::default();
        for k in ["a", "p/", "p/a", "p/b", "p0", "q/a"] {
            m.insert(k.as_bytes(), k.as_bytes());
        }
        let keys: Vec<&[u8]> = m.scan_prefix(b"p/").map(|(k, _)| k).collect();
        assert_eq!(keys, [&b"p/"[..], b"p/a", b"p/b"]);
        assert_eq!(m.scan_prefix(b"z").count(), 0);
        m.apply([(b"p/a".to_vec(), None), (b"p/c".to_vec(), Some(IVec::from(&b"c"[..])))]);
        let keys: Vec<&[u8]> = m.scan_prefix(b"p/").map(|(k, _)| k).collect();
        assert_eq!(keys, [&b"p/"[..], b"p/b", b"p/c"]);
        assert_eq!(m.get(b"p/c").as_deref(), Some(&b"c"[..]));
        assert_eq!(m.len(), 6);
    }
}
