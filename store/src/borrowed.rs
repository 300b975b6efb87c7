//! Events decoded in place: [`EventRef`] and the borrowed key, resource and change inside it.
//!
//! Rebuilding a view reads every retained event once, so this is the hot path of replay. These
//! types borrow the stored bytes: decoding allocates nothing but the change list. Their decoder
//! reads [`Event`]'s encoding (the format byte, then bincode's fixed-width little-endian layout)
//! directly, without serde's visitors, and keeps strings as [`Text`]: the bytes the store wrote
//! from a `String`, compared as bytes and turned into `&str` only when shown. The tests below
//! check the decoder against bincode's own encoding, including every truncation.

use std::borrow::Cow;
use std::fmt;

use crate::codec;
use crate::error::StoreError;
use crate::types::{ChangeType, Event, Resource, ResourceKey, Revision};

/// A string as the store holds it: UTF-8 it wrote itself, borrowed and not re-validated.
/// Compare it with a `&str` directly; [`Text::to_str`] gives the string (lossy only if the
/// stored bytes were damaged).
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Text<'a>(&'a [u8]);

impl<'a> Text<'a> {
    /// The stored bytes.
    pub fn as_bytes(self) -> &'a [u8] {
        self.0
    }

    /// The string.
    pub fn to_str(self) -> Cow<'a, str> {
        String::from_utf8_lossy(self.0)
    }

    /// Whether it is empty.
    pub fn is_empty(self) -> bool {
        self.0.is_empty()
    }

    /// Writes it over `dst`, reusing `dst`'s allocation, unless they are already equal.
    pub fn write_into(self, dst: &mut String) {
        if dst.as_bytes() != self.0 {
            dst.clear();
            dst.push_str(&self.to_str());
        }
    }
}

impl<'a> From<&'a str> for Text<'a> {
    fn from(s: &'a str) -> Self {
        Text(s.as_bytes())
    }
}

impl PartialEq<str> for Text<'_> {
    fn eq(&self, other: &str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<&str> for Text<'_> {
    fn eq(&self, other: &&str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl fmt::Debug for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.to_str(), f)
    }
}

impl fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_str())
    }
}

/// A key, borrowed from an encoded event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyRef<'a> {
    /// API group.
    pub group: Text<'a>,
    /// Lower-case plural resource name.
    pub resource: Text<'a>,
    /// Namespace, empty for cluster-scoped resources.
    pub namespace: Text<'a>,
    /// Object name.
    pub name: Text<'a>,
}

impl KeyRef<'_> {
    /// An owned copy.
    pub fn to_key(&self) -> ResourceKey {
        ResourceKey::new(
            &self.group.to_str(),
            &self.resource.to_str(),
            &self.namespace.to_str(),
            &self.name.to_str(),
        )
    }
}

/// A resource, borrowed from an encoded event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResourceRef<'a> {
    /// Where it lives.
    pub key: KeyRef<'a>,
    /// The object bytes.
    pub object: &'a [u8],
    /// Revision of the creating txn.
    pub create_revision: Revision,
    /// Revision of the last modifying txn.
    pub mod_revision: Revision,
    /// Number of writes since creation.
    pub version: u64,
    /// Wall-clock time of the creating txn.
    pub create_time_ms: i64,
}

impl ResourceRef<'_> {
    /// An owned copy.
    pub fn to_resource(&self) -> Resource {
        Resource {
            key: self.key.to_key(),
            object: self.object.to_vec(),
            create_revision: self.create_revision,
            mod_revision: self.mod_revision,
            version: self.version,
            create_time_ms: self.create_time_ms,
        }
    }

    /// Overwrites `r` with this resource, reusing its allocations.
    pub fn write_into(&self, r: &mut Resource) {
        self.key.group.write_into(&mut r.key.group);
        self.key.resource.write_into(&mut r.key.resource);
        self.key.namespace.write_into(&mut r.key.namespace);
        self.key.name.write_into(&mut r.key.name);
        self.overwrite(r);
    }

    /// Overwrites `r`, which already has this resource's key (found by it), reusing its
    /// allocations.
    pub fn overwrite(&self, r: &mut Resource) {
        debug_assert!(r.key.as_ref() == self.key, "overwrite of {:?} by {:?}", r.key, self.key);
        r.object.clear();
        r.object.extend_from_slice(self.object);
        r.create_revision = self.create_revision;
        r.mod_revision = self.mod_revision;
        r.version = self.version;
        r.create_time_ms = self.create_time_ms;
    }
}

/// One change, borrowed from an encoded event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeRef<'a> {
    /// Added, modified or deleted.
    pub kind: ChangeType,
    /// The key.
    pub key: KeyRef<'a>,
    /// The object after the change.
    pub object: Option<ResourceRef<'a>>,
    /// Whether there was an object before the change. (The previous object itself is read
    /// past, not decoded: views fold the new state; [`Event`] carries the previous object.)
    pub had_previous: bool,
}

/// A committed event decoded in place (see the module docs). Same encoding as [`Event`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventRef<'a> {
    /// Its revision.
    pub revision: Revision,
    /// Proposer wall-clock time, ms since the Unix epoch.
    pub time_ms: i64,
    /// Who.
    pub actor: Text<'a>,
    /// Where the request came from.
    pub source: Text<'a>,
    /// The request id.
    pub request_id: Text<'a>,
    /// The API verb.
    pub verb: Text<'a>,
    /// For a rollback: the revision whose state it restored.
    pub restores: Option<Revision>,
    /// What changed, in op order.
    pub changes: Vec<ChangeRef<'a>>,
}

impl<'a> EventRef<'a> {
    /// Decodes an event written by `codec::encode(&Event)`, borrowing `bytes`.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, StoreError> {
        let mut r = Reader { buf: codec::body(bytes, "event")?, pos: 0 };
        let event = r.event()?;
        if r.pos != r.buf.len() {
            return Err(corrupt(format!("{} unread bytes after the event", r.buf.len() - r.pos)));
        }
        Ok(event)
    }
}

#[cold]
fn corrupt(reason: String) -> StoreError {
    StoreError::Corrupt { what: "event", reason }
}

/// The smallest encoding of one change: kind, four empty strings, two `None`s.
const MIN_CHANGE: usize = 4 + 4 * 8 + 2;

/// A cursor over bincode's fixed-width little-endian layout.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    #[inline]
    fn take(&mut self, n: usize) -> Result<&'a [u8], StoreError> {
        match self.buf.get(self.pos..).and_then(|rest| rest.get(..n)) {
            Some(b) => {
                self.pos += n;
                Ok(b)
            }
            None => Err(corrupt(format!(
                "truncated: {n} bytes wanted at byte {} of {}",
                self.pos,
                self.buf.len()
            ))),
        }
    }

    #[inline]
    fn array<const N: usize>(&mut self) -> Result<[u8; N], StoreError> {
        let b = self.take(N)?;
        let mut a = [0; N];
        a.copy_from_slice(b);
        Ok(a)
    }

    #[inline]
    fn u64(&mut self) -> Result<u64, StoreError> {
        self.array().map(u64::from_le_bytes)
    }

    #[inline]
    fn i64(&mut self) -> Result<i64, StoreError> {
        self.array().map(i64::from_le_bytes)
    }

    #[inline]
    fn len(&mut self) -> Result<usize, StoreError> {
        let n = self.u64()?;
        usize::try_from(n).map_err(|_| corrupt(format!("length {n} at byte {}", self.pos)))
    }

    #[inline]
    fn bytes(&mut self) -> Result<&'a [u8], StoreError> {
        let n = self.len()?;
        self.take(n)
    }

    #[inline]
    fn text(&mut self) -> Result<Text<'a>, StoreError> {
        self.bytes().map(Text)
    }

    #[inline]
    fn some(&mut self) -> Result<bool, StoreError> {
        match self.array::<1>()? {
            [0] => Ok(false),
            [1] => Ok(true),
            [t] => Err(corrupt(format!("option tag {t} at byte {}", self.pos - 1))),
        }
    }

    fn key(&mut self) -> Result<KeyRef<'a>, StoreError> {
        Ok(KeyRef {
            group: self.text()?,
            resource: self.text()?,
            namespace: self.text()?,
            name: self.text()?,
        })
    }

    fn resource(&mut self) -> Result<ResourceRef<'a>, StoreError> {
        Ok(ResourceRef {
            key: self.key()?,
            object: self.bytes()?,
            create_revision: self.u64()?,
            mod_revision: self.u64()?,
            version: self.u64()?,
            create_time_ms: self.i64()?,
        })
    }

    fn change(&mut self) -> Result<ChangeRef<'a>, StoreError> {
        let kind = match u32::from_le_bytes(self.array()?) {
            0 => ChangeType::Added,
            1 => ChangeType::Modified,
            2 => ChangeType::Deleted,
            k => return Err(corrupt(format!("change kind {k} at byte {}", self.pos - 4))),
        };
        let key = self.key()?;
        let object = if self.some()? { Some(self.resource()?) } else { None };
        let had_previous = self.some()?;
        if had_previous {
            // Read past it: key, object, four numbers.
            for _ in 0..5 {
                self.bytes()?;
            }
            self.take(4 * 8)?;
        }
        Ok(ChangeRef { kind, key, object, had_previous })
    }

    fn event(&mut self) -> Result<EventRef<'a>, StoreError> {
        let revision = self.u64()?;
        let time_ms = self.i64()?;
        let actor = self.text()?;
        let source = self.text()?;
        let request_id = self.text()?;
        let verb = self.text()?;
        let restores = if self.some()? { Some(self.u64()?) } else { None };
        let n = self.len()?;
        // A corrupt count must not reserve memory the bytes cannot back.
        let mut changes = Vec::with_capacity(n.min((self.buf.len() - self.pos) / MIN_CHANGE));
        for _ in 0..n {
            changes.push(self.change()?);
        }
        Ok(EventRef { revision, time_ms, actor, source, request_id, verb, restores, changes })
    }
}

impl ResourceKey {
    /// This key, borrowed.
    pub fn as_ref(&self) -> KeyRef<'_> {
        KeyRef {
            group: self.group.as_str().into(),
            resource: self.resource.as_str().into(),
            namespace: self.namespace.as_str().into(),
            name: self.name.as_str().into(),
        }
    }
}

impl Resource {
    /// This resource, borrowed.
    pub fn as_ref(&self) -> ResourceRef<'_> {
        ResourceRef {
            key: self.key.as_ref(),
            object: &self.object,
            create_revision: self.create_revision,
            mod_revision: self.mod_revision,
            version: self.version,
            create_time_ms: self.create_time_ms,
        }
    }
}

impl Event {
    /// This event, borrowed.
    pub fn as_ref(&self) -> EventRef<'_> {
        EventRef {
            revision: self.revision,
            time_ms: self.time_ms,
            actor: self.actor.as_str().into(),
            source: self.source.as_str().into(),
            request_id: self.request_id.as_str().into(),
            verb: self.verb.as_str().into(),
            restores: self.restores,
            changes: self
                .changes
                .iter()
                .map(|c| ChangeRef {
                    kind: c.kind,
                    key: c.key.as_ref(),
                    object: c.object.as_ref().map(Resource::as_ref),
                    had_previous: c.previous.is_some(),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Change;

    fn resource(name: &str, object: &[u8], rev: u64) -> Resource {
        Resource {
            key: ResourceKey::new("networking.istio.io", "virtualservices", "ns", name),
            object: object.to_vec(),
            create_revision: rev - 1,
            mod_revision: rev,
            version: 2,
            create_time_ms: -5,
        }
    }

    fn events() -> Vec<Event> {
        let r = resource("a", br#"{"x":1}"#, 7);
        let old = resource("a", b"{}", 6);
        let change = |kind, object: Option<&Resource>, previous: Option<&Resource>| Change {
            kind,
            key: r.key.clone(),
            object: object.cloned(),
            previous: previous.cloned(),
        };
        let event = |changes, restores| Event {
            revision: 7,
            time_ms: 1_700_000_000_123,
            actor: "alice".into(),
            source: "127.0.0.1:4000".into(),
            request_id: "réq-1".into(),
            verb: "apply".into(),
            restores,
            changes,
        };
        vec![
            event(vec![], None),
            event(vec![change(ChangeType::Added, Some(&r), None)], None),
            event(vec![change(ChangeType::Modified, Some(&r), Some(&old))], Some(3)),
            event(
                vec![
                    change(ChangeType::Deleted, None, Some(&old)),
                    change(ChangeType::Added, Some(&resource("", b"", 7)), None),
                ],
                None,
            ),
        ]
    }

    #[test]
    fn decodes_what_bincode_encodes() {
        for e in events() {
            let bytes = codec::encode(&e);
            assert_eq!(EventRef::decode(&bytes).unwrap(), e.as_ref());
            // The owned decoder agrees too.
            assert_eq!(codec::decode::<Event>(&bytes, "event").unwrap(), e);
        }
    }

    #[test]
    fn every_damage_is_an_error_not_a_panic() {
        for e in events() {
            let bytes = codec::encode(&e);
            for cut in 0..bytes.len() {
                assert!(EventRef::decode(&bytes[..cut]).is_err(), "cut at {cut}");
            }
            let mut long = bytes.clone();
            long.push(0);
            assert!(EventRef::decode(&long).is_err());
            let mut v = bytes.clone();
            v[0] = 99;
            assert!(EventRef::decode(&v).is_err());
            // Any single corrupted byte either decodes to something or errors; never panics.
            for i in 1..bytes.len() {
                let mut b = bytes.clone();
                b[i] ^= 0xff;
                let _ = EventRef::decode(&b);
            }
        }
    }

    #[test]
    fn text_compares_and_shows_as_a_string() {
        let t = Text::from("réq");
        assert_eq!(t, "réq");
        assert_eq!(t.to_string(), "réq");
        assert_eq!(format!("{t:?}"), "\"réq\"");
        let mut s = String::from("other");
        t.write_into(&mut s);
        assert_eq!(s, "réq");
    }
}
