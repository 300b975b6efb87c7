//! Backups: export the retained event log (checkpoint + events) as a stream of framed records,
//! and restore a fresh member's data directory from one.
//!
//! Format: a sequence of frames, each a big-endian `u32` length followed by that many bytes of
//! `codec::encode(Record)`; the first record is the header, the last the trailer. Restoring
//! rebuilds exactly the exported state: same revision, same compaction point, same events, same
//! state hash — so a restored cluster's audit log and hash equal the source's.

use std::io::{Read, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::codec::{decode, encode};
use crate::error::StoreError;
use crate::types::{Event, Resource, Revision};

/// One frame of an export.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Record {
    /// First frame.
    Header {
        /// Compaction point: the checkpoint is the state at this revision.
        compact_revision: Revision,
        /// Last revision included.
        revision: Revision,
        /// State hash at `revision` (hex).
        state_hash: String,
    },
    /// A resource of the checkpoint.
    Checkpoint(Resource),
    /// A retained event, in revision order.
    Event(Event),
    /// Last frame: counts, so a truncated file is detected.
    Trailer {
        /// Checkpoint resources written.
        checkpoint: u64,
        /// Events written.
        events: u64,
    },
}

/// Writes one frame.
pub fn write_frame(w: &mut impl Write, r: &Record) -> std::io::Result<()> {
    let bytes = encode(r);
    let len = u32::try_from(bytes.len())
        .map_err(|_| std::io::Error::other("export record larger than 4 GiB"))?;
    w.write_all(&len.to_be_bytes())?;
    w.write_all(&bytes)
}

/// Encodes a whole export into memory.
pub fn to_bytes(records: &[Record]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in records {
        // Writing into a Vec cannot fail.
        let _ = write_frame(&mut out, r);
    }
    out
}

/// Reads every frame of an export and checks its structure (header first, trailer last with
/// matching counts, events in order starting after the checkpoint).
pub fn read_all(r: &mut impl Read) -> Result<Vec<Record>, StoreError> {
    let bad = |reason: String| StoreError::Corrupt { what: "export", reason };
    let mut out = Vec::new();
    loop {
        let mut len = [0u8; 4];
        match r.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(bad(e.to_string())),
        }
        let len = u32::from_be_bytes(len) as usize;
        let mut buf = vec![0u8; len];
        r.read_exact(&mut buf).map_err(|e| bad(format!("truncated frame: {e}")))?;
        out.push(decode::<Record>(&buf, "export record")?);
    }
    let (
        Some(Record::Header { compact_revision, revision, .. }),
        Some(Record::Trailer { checkpoint, events }),
    ) = (out.first(), out.last())
    else {
        return Err(bad("missing header or trailer (is the file complete?)".into()));
    };
    let n_cp = out.iter().filter(|r| matches!(r, Record::Checkpoint(_))).count() as u64;
    let evs: Vec<Revision> = out
        .iter()
        .filter_map(|r| match r {
            Record::Event(e) => Some(e.revision),
            _ => None,
        })
        .collect();
    if n_cp != *checkpoint || evs.len() as u64 != *events {
        return Err(bad(format!(
            "trailer says {checkpoint} checkpoint objects and {events} events, found {n_cp} and {}",
            evs.len()
        )));
    }
    let expected: Vec<Revision> = (compact_revision + 1..=*revision).collect();
    if evs != expected {
        return Err(bad(format!(
            "events must be revisions {}..={revision} in order",
            compact_revision + 1
        )));
    }
    Ok(out)
}

/// Seeds a new data directory from an export (refuses a directory that already has data).
pub fn restore(records: &[Record], data_dir: &Path) -> Result<crate::AppliedState, StoreError> {
    if data_dir.join("sled").exists() || data_dir.join("raft-log").exists() {
        return Err(StoreError::Invalid(format!(
            "{} already holds a store; restore only into a new data directory",
            data_dir.display()
        )));
    }
    std::fs::create_dir_all(data_dir).map_err(|e| StoreError::Io {
        op: "creating the data dir",
        path: data_dir.to_path_buf(),
        source: e,
    })?;
    let db = sled::Config::new().path(data_dir.join("sled")).open()?;
    let state = crate::state_machine::seed(&db, records)?;
    db.flush()?;
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::ResourceKey;

    fn sample() -> Vec<Record> {
        let res = Resource {
            key: ResourceKey::new("g", "r", "n", "a"),
            object: b"{}".to_vec(),
            create_revision: 1,
            mod_revision: 1,
            version: 1,
            create_time_ms: 0,
        };
        let ev = Event {
            revision: 2,
            time_ms: 0,
            actor: "a".into(),
            source: "s".into(),
            request_id: "r".into(),
            verb: "v".into(),
            restores: None,
            changes: vec![],
        };
        vec![
            Record::Header { compact_revision: 1, revision: 2, state_hash: String::new() },
            Record::Checkpoint(res),
            Record::Event(ev),
            Record::Trailer { checkpoint: 1, events: 1 },
        ]
    }

    #[test]
    fn frames_round_trip_and_damage_is_detected() {
        let bytes = to_bytes(&sample());
        assert_eq!(read_all(&mut &bytes[..]).unwrap(), sample());
        assert!(read_all(&mut &bytes[..bytes.len() - 3]).is_err(), "truncated");
        let mut short = sample();
        short.remove(2);
        assert!(read_all(&mut &to_bytes(&short)[..]).is_err(), "missing event");
        assert!(read_all(&mut &b""[..]).is_err(), "empty");
    }
}
