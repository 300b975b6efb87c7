//! The event log's layout inside the state machine's map: each event is first written on its
//! own (`e/<revision BE>`); when the last revision of a chunk of [`CHUNK`] revisions is
//! applied, the chunk is sealed — its events move, in the same atomic batch, into one value
//! (`s/<chunk BE>`). Reading a long run of events (replay, export, catch-up watches) then costs
//! one lookup per chunk rather than one per event.
//!
//! Invariant: for every chunk, either a sealed value exists and holds every retained event of
//! that chunk, or each retained event is a single. Compaction removes singles and whole chunks
//! at or below the compaction point; a chunk straddling it stays, and readers never ask for the
//! revisions below the point.

use crate::borrowed::EventRef;
use crate::codec::{decode, FORMAT_VERSION};
use crate::error::StoreError;
use crate::pending::{Get, Pending};
use crate::types::{Event, Revision};

/// Key prefix of single events.
pub(crate) const SINGLE: &[u8] = b"e/";
/// Key prefix of sealed chunks.
pub(crate) const SEALED: &[u8] = b"s/";
/// Revisions per chunk (a chunk of typical events is ~64 KB). The layout dates from when the
/// map lived in sled, where one lookup per chunk mattered; snapshots carry it unchanged.
pub const CHUNK: u64 = 64;

pub(crate) fn single_key(rev: Revision) -> Vec<u8> {
    [SINGLE, &rev.to_be_bytes()].concat()
}

pub(crate) fn sealed_key(chunk: u64) -> Vec<u8> {
    [SEALED, &chunk.to_be_bytes()].concat()
}

/// Encodes a sealed chunk: `[version][first revision u64 LE][count u32 LE][len u32 LE]*count`
/// followed by the encoded events, back to back.
pub(crate) fn encode_chunk(first: Revision, events: &[&[u8]]) -> Vec<u8> {
    let body: usize = events.iter().map(|e| e.len()).sum();
    let mut out = Vec::with_capacity(13 + 4 * events.len() + body);
    out.push(FORMAT_VERSION);
    out.extend_from_slice(&first.to_le_bytes());
    out.extend_from_slice(&(events.len() as u32).to_le_bytes());
    for e in events {
        out.extend_from_slice(&(e.len() as u32).to_le_bytes());
    }
    for e in events {
        out.extend_from_slice(e);
    }
    out
}

/// A sealed chunk, parsed: its bytes and where each event starts and ends.
struct Sealed {
    data: sled::IVec,
    first: Revision,
    spans: Vec<(usize, usize)>,
}

fn corrupt(reason: String) -> StoreError {
    StoreError::Corrupt { what: "event chunk", reason }
}

/// Reads one byte of every cache line of `bytes`, so the loads are all in flight at once
/// rather than one miss at a time as decoding reaches them (decoding skips over objects, which
/// defeats the hardware's stream prefetch).
#[inline]
fn touch(bytes: &[u8]) {
    let mut x = 0u8;
    for b in bytes.iter().step_by(64) {
        x ^= *b;
    }
    std::hint::black_box(x);
}

fn parse_chunk(data: sled::IVec) -> Result<Sealed, StoreError> {
    let header = |at: usize, n: usize| {
        data.get(at..at + n).ok_or_else(|| corrupt(format!("truncated at byte {at}")))
    };
    match data.first() {
        Some(&FORMAT_VERSION) => {}
        Some(v) => {
            return Err(corrupt(format!(
                "unknown format version {v} (this build reads {FORMAT_VERSION})"
            )))
        }
        None => return Err(corrupt("empty record".into())),
    }
    let first = u64::from_le_bytes(header(1, 8)?.try_into().map_err(|_| corrupt("first".into()))?);
    let count =
        u32::from_le_bytes(header(9, 4)?.try_into().map_err(|_| corrupt("count".into()))?) as usize;
    if count as u64 > CHUNK {
        return Err(corrupt(format!("{count} events in one chunk")));
    }
    let mut spans = Vec::with_capacity(count);
    let mut at = 13 + 4 * count;
    for i in 0..count {
        let len = u32::from_le_bytes(
            header(13 + 4 * i, 4)?.try_into().map_err(|_| corrupt("length".into()))?,
        ) as usize;
        spans.push((at, at + len));
        at += len;
    }
    if at != data.len() {
        return Err(corrupt(format!("lengths add up to {at} bytes, the chunk has {}", data.len())));
    }
    Ok(Sealed { data, first, spans })
}

/// The error for an event that must be stored (revisions are dense above the compaction
/// point) and is not.
pub(crate) fn missing(rev: Revision, current: Revision) -> StoreError {
    StoreError::Corrupt {
        what: "event log",
        reason: format!("event {rev} is missing below revision {current}"),
    }
}

/// Reads events by revision, keeping the last sealed chunk it loaded, so sequential reads do
/// one lookup per chunk. Reads the tree, or (while an entry applies) the tree with the entry's
/// pending writes over it.
pub(crate) struct Reader<'t, S: Get + ?Sized = crate::mem::Mem> {
    tree: &'t S,
    /// The chunk number last looked up and its sealed value, if it had one.
    cached: Option<(u64, Option<Sealed>)>,
}

impl<'t, S: Get + ?Sized> Reader<'t, S> {
    pub(crate) fn new(tree: &'t S) -> Self {
        Reader { tree, cached: None }
    }

    /// Calls `f` with the encoded event at `rev`, if stored.
    fn with_bytes<T>(
        &mut self,
        rev: Revision,
        f: impl FnOnce(&[u8]) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        let chunk = rev / CHUNK;
        if self.cached.as_ref().map(|(c, _)| *c) != Some(chunk) {
            let sealed = self.tree.get(&sealed_key(chunk))?.map(parse_chunk).transpose()?;
            self.cached = Some((chunk, sealed));
        }
        match &self.cached {
            Some((_, Some(s))) => {
                match rev.checked_sub(s.first).and_then(|i| s.spans.get(i as usize)) {
                    Some(&(a, b)) => {
                        let bytes = &s.data[a..b];
                        touch(bytes);
                        f(bytes).map(Some)
                    }
                    None => Ok(None),
                }
            }
            _ => match self.tree.get(&single_key(rev))? {
                Some(v) => f(&v).map(Some),
                None => Ok(None),
            },
        }
    }

    /// The event at `rev`, if stored.
    pub(crate) fn get(&mut self, rev: Revision) -> Result<Option<Event>, StoreError> {
        self.with_bytes(rev, |b| decode(b, "event"))
    }

    /// Calls `f` with the event at `rev` decoded in place, if stored.
    pub(crate) fn with_event<T>(
        &mut self,
        rev: Revision,
        f: impl FnOnce(EventRef<'_>) -> T,
    ) -> Result<Option<T>, StoreError> {
        self.with_bytes(rev, |b| Ok(f(EventRef::decode(b)?)))
    }

    /// The event at `rev`, which must be stored (revisions are dense above the compaction
    /// point); `current` is named in the error.
    pub(crate) fn expect(&mut self, rev: Revision, current: Revision) -> Result<Event, StoreError> {
        self.get(rev)?.ok_or_else(|| missing(rev, current))
    }

    /// The encoded event at `rev`, copied.
    fn bytes(&mut self, rev: Revision) -> Result<Option<Vec<u8>>, StoreError> {
        self.with_bytes(rev, |b| Ok(b.to_vec()))
    }
}

/// Adds the event `rev` (encoded) to the pending writes, sealing its chunk if `rev` is the
/// chunk's last revision (reading the chunk's other events through `pending`, so those written
/// earlier in the same entry are found). Events `<= compact` are gone and are not sealed.
pub(crate) fn append(
    pending: &mut Pending<'_>,
    compact: Revision,
    rev: Revision,
    encoded: Vec<u8>,
) -> Result<(), StoreError> {
    if (rev + 1) % CHUNK != 0 {
        pending.insert(single_key(rev), encoded);
        return Ok(());
    }
    let first = (rev / CHUNK * CHUNK).max(compact + 1);
    let mut reader = Reader::new(&*pending);
    let mut held = Vec::with_capacity((rev - first) as usize);
    for r in first..rev {
        match reader.bytes(r)? {
            Some(b) => held.push(b),
            None => {
                return Err(StoreError::Corrupt {
                    what: "event log",
                    reason: format!("event {r} is missing while sealing chunk {}", rev / CHUNK),
                })
            }
        }
    }
    for r in first..rev {
        pending.remove(single_key(r));
    }
    let mut all: Vec<&[u8]> = held.iter().map(Vec::as_slice).collect();
    all.push(&encoded);
    pending.insert(sealed_key(rev / CHUNK), encode_chunk(first, &all));
    Ok(())
}

/// Removes every event in `(from, to]`: their singles, and each chunk that lies wholly at or
/// below `to`.
pub(crate) fn remove_through(pending: &mut Pending<'_>, from: Revision, to: Revision) {
    for r in from + 1..=to {
        pending.remove(single_key(r));
    }
    let last_whole =
        if (to + 1) % CHUNK == 0 { Some(to / CHUNK) } else { (to / CHUNK).checked_sub(1) };
    if let Some(last_whole) = last_whole {
        for c in (from + 1) / CHUNK..=last_whole {
            pending.remove(sealed_key(c));
        }
    }
}

/// Writes `events` (in revision order, dense, each paired with its encoding) into `batch` as a
/// fresh log whose current revision is `current`: complete chunks sealed, the rest as singles.
pub(crate) fn write_all(
    batch: &mut sled::Batch,
    events: &[(Revision, Vec<u8>)],
    current: Revision,
) {
    let mut i = 0;
    while i < events.len() {
        let chunk = events[i].0 / CHUNK;
        let mut j = i;
        while j < events.len() && events[j].0 / CHUNK == chunk {
            j += 1;
        }
        if chunk * CHUNK + CHUNK - 1 <= current {
            let group: Vec<&[u8]> = events[i..j].iter().map(|(_, b)| b.as_slice()).collect();
            batch.insert(sealed_key(chunk), encode_chunk(events[i].0, &group));
        } else {
            for (r, b) in &events[i..j] {
                batch.insert(single_key(*r), b.clone());
            }
        }
        i = j;
    }
}

/// A sample event with one change of each kind, shared by the tests of the event encodings.
#[cfg(test)]
pub(crate) mod sample {
    use crate::types::{Change, ChangeType, Event, Resource, ResourceKey};

    /// Resource `name` with body `v` at revision `rev`.
    pub(crate) fn resource(name: &str, v: &str, rev: u64) -> Resource {
        Resource {
            key: ResourceKey::new("g", "things", "ns", name),
            object: v.as_bytes().to_vec(),
            create_revision: 1,
            mod_revision: rev,
            version: rev,
            create_time_ms: 5,
        }
    }

    /// Revision 7: `n` modified, `m` deleted, `o` added; every field set.
    pub(crate) fn event() -> Event {
        let change = |kind, name: &str, object, previous| Change {
            kind,
            key: ResourceKey::new("g", "things", "ns", name),
            object,
            previous,
        };
        Event {
            revision: 7,
            time_ms: 9,
            actor: "alice".into(),
            source: "127.0.0.1".into(),
            request_id: "r".into(),
            verb: "update".into(),
            restores: Some(3),
            changes: vec![
                change(
                    ChangeType::Modified,
                    "n",
                    Some(resource("n", "new", 7)),
                    Some(resource("n", "old", 6)),
                ),
                change(ChangeType::Deleted, "m", None, Some(resource("m", "x", 2))),
                change(ChangeType::Added, "o", Some(resource("o", "y", 7)), None),
            ],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An event decoded in place reads the same as the owned event lent as a reference.
    #[test]
    fn event_ref_decodes_the_event_encoding() {
        use super::sample::{event, resource as res};
        let ev = event();
        let bytes = crate::codec::encode(&ev);
        let r = EventRef::decode(&bytes).unwrap();
        assert_eq!(r, ev.as_ref());
        assert_eq!(r.changes[0].object.unwrap().to_resource(), res("n", "new", 7));
        assert!(r.changes[1].had_previous && !r.changes[2].had_previous);
        for cut in 0..bytes.len() {
            assert!(EventRef::decode(&bytes[..cut]).is_err());
        }
    }

    #[test]
    fn chunk_round_trip_and_corruption() {
        let evs: Vec<&[u8]> = vec![b"ab", b"", b"cde"];
        let c = encode_chunk(7, &evs);
        let s = parse_chunk(sled::IVec::from(c.clone())).unwrap();
        assert_eq!(s.first, 7);
        let got: Vec<&[u8]> = s.spans.iter().map(|&(a, b)| &s.data[a..b]).collect();
        assert_eq!(got, evs);
        for cut in 0..c.len() {
            assert!(parse_chunk(sled::IVec::from(&c[..cut])).is_err(), "cut at {cut}");
        }
        let mut bad = c;
        bad[0] = 9;
        assert!(parse_chunk(sled::IVec::from(bad)).is_err());
    }
}
