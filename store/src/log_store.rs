//! Raft log storage (openraft `RaftLogStorage`, storage-v2): an append-only, segmented log
//! file, the store's write-ahead log.
//!
//! Entries are framed records `[len u32 LE][crc32 u32 LE][codec::encode(entry)]` appended to
//! segment files `<dir>/<first index, 20 digits>.log`; a new segment starts when the current
//! one passes [`SEGMENT_BYTES`]. An append is one `pwrite`; it is acknowledged to openraft (the
//! `LogFlushed` callback) only after an `fdatasync` of the segment that covers it, done on a
//! flusher thread that groups the syncs of queued appends (group commit). The state machine's
//! sled database is not flushed on this path: after a crash openraft re-applies the log from
//! what the state machine last made durable, so only this file has to be synced per write (as
//! etcd syncs its WAL, not its backend, per commit).
//!
//! The vote, the committed log id and the purge point live in sled's `raft_meta` tree.
//! `save_vote` flushes sled before returning; `truncate` syncs the segment (and the directory
//! when it removes files) before returning. `purge` first waits until the state machine has on
//! disk every entry it is about to drop (openraft purges behind a snapshot it may still be
//! installing), then makes the purge point durable, then removes segments, so a crash never
//! leaves a hole (entries at or below the purge point found on open are ignored).
//!
//! On open, every record is checked (length, CRC-32, index). In the last segment, a record cut
//! off by the end of the file, or a bad record followed by a zeroed sector (pages of an
//! unfinished write that never reached the disk), is a write that was never acknowledged and is
//! cut off with a warning; any other bad record fails the open, naming the file and offset.
//! Empty segments (created, never written) are removed. A missing log directory is refused when
//! the member has voted: its acknowledged entries would be forgotten.
//!
//! Data dirs written by earlier builds kept the log in sled's `raft_log` tree; [`LogStore::open`]
//! moves it into a segment (written and synced in a temporary directory, then renamed) and
//! drops the tree.

use std::fmt::Debug;
use std::fs::{File, OpenOptions};
use std::ops::RangeBounds;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{Entry, LogId, OptionalSend, RaftLogReader, StorageError, StorageIOError, Vote};
use parking_lot::{Mutex, MutexGuard};

use crate::codec::{decode, encode, encode_into};
use crate::error::StoreError;
use crate::types::{NodeId, TypeConfig};

const VOTE: &[u8] = b"vote";
const COMMITTED: &[u8] = b"committed";
const LAST_PURGED: &[u8] = b"last_purged";
/// The sled tree that held the log before it moved into its own files.
const LEGACY_TREE: &str = "raft_log";

/// A segment is closed once it holds this many bytes; the next append opens a new one.
pub const SEGMENT_BYTES: u64 = 32 << 20;
/// Record header: payload length and CRC-32 of the payload.
const HEADER: usize = 8;
/// Largest record accepted when reading; anything longer is a corrupt length field.
const MAX_RECORD: u32 = 1 << 30;

type SErr = StorageError<NodeId>;

fn read_err(e: impl std::error::Error + 'static) -> SErr {
    StorageIOError::read_logs(&e).into()
}
fn write_err(e: impl std::error::Error + 'static) -> SErr {
    StorageIOError::write_logs(&e).into()
}

/// An I/O failure on one of the log's files (`what`: the operation, e.g. `writing`).
fn io_err(what: &'static str, path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Io { op: what, path: path.to_path_buf(), source: e }
}

fn corrupt(reason: String) -> StoreError {
    StoreError::Corrupt { what: "raft log", reason }
}

/// Counters of the log's writes, for metrics: how well appends group into syncs, and what the
/// syncs cost.
#[derive(Debug, Default)]
pub struct LogIoStats {
    /// `append` calls.
    pub appends: AtomicU64,
    /// Entries appended.
    pub entries: AtomicU64,
    /// Group-commit syncs (`fdatasync` rounds).
    pub flushes: AtomicU64,
    /// Time spent in those syncs, in microseconds.
    pub flush_micros: AtomicU64,
}

/// One segment file: entries `first..first + records.len()`.
struct Segment {
    first: u64,
    path: PathBuf,
    file: Arc<File>,
    /// (offset of the record header, payload length) per entry.
    records: Vec<(u64, u32)>,
    /// Bytes of whole records; the next record goes here.
    size: u64,
}

impl Segment {
    fn next_index(&self) -> u64 {
        self.first + self.records.len() as u64
    }

    fn read(&self, index: u64) -> Result<Option<Entry<TypeConfig>>, StoreError> {
        let Some(i) = index.checked_sub(self.first) else { return Ok(None) };
        let Some(&(pos, len)) = self.records.get(i as usize) else { return Ok(None) };
        let mut buf = vec![0u8; HEADER + len as usize];
        self.file.read_exact_at(&mut buf, pos).map_err(|e| io_err("reading", &self.path, e))?;
        let crc = u32::from_le_bytes([buf[4], buf[5], buf[6], buf[7]]);
        if crc32fast::hash(&buf[HEADER..]) != crc {
            return Err(corrupt(format!(
                "entry {index} in {} fails its checksum",
                self.path.display()
            )));
        }
        let entry: Entry<TypeConfig> = decode(&buf[HEADER..], "raft log entry")
            .map_err(|e| corrupt(format!("entry {index} in {}: {e}", self.path.display())))?;
        if entry.log_id.index != index {
            return Err(corrupt(format!(
                "{} holds entry {} where entry {index} belongs",
                self.path.display(),
                entry.log_id.index
            )));
        }
        Ok(Some(entry))
    }
}

/// The segments and what is known about them; guarded by a mutex that is never held across an
/// `.await`. It is held for `pwrite`/`pread` (page cache) on the write path, and for the rare
/// calls that wait on the device: a new segment's syncs, `truncate`, removing files.
struct Segments {
    dir: PathBuf,
    segs: Vec<Segment>,
    /// The last entry's id, or the purge point if that is later.
    last: Option<LogId<NodeId>>,
    purged: Option<LogId<NodeId>>,
    segment_bytes: u64,
}

impl Segments {
    fn segment_for(&self, index: u64) -> Option<&Segment> {
        let i = self.segs.partition_point(|s| s.first <= index);
        i.checked_sub(1).map(|i| &self.segs[i])
    }

    fn read(&self, index: u64) -> Result<Option<Entry<TypeConfig>>, StoreError> {
        if self.purged.is_some_and(|p| index <= p.index) {
            return Ok(None);
        }
        match self.segment_for(index) {
            Some(s) => s.read(index),
            None => Ok(None),
        }
    }

    /// Opens a new, empty segment whose first entry will be `first`, and makes its directory
    /// entry durable.
    fn open_segment(&mut self, first: u64) -> Result<(), StoreError> {
        if let Some(prev) = self.segs.last() {
            // Everything before the new segment must be durable before anything in it is.
            prev.file.sync_data().map_err(|e| io_err("syncing", &prev.path, e))?;
        }
        let path = self.dir.join(segment_name(first));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| io_err("creating", &path, e))?;
        sync_dir(&self.dir)?;
        self.segs.push(Segment { first, path, file: Arc::new(file), records: Vec::new(), size: 0 });
        Ok(())
    }
}

fn segment_name(first: u64) -> String {
    format!("{first:020}.log")
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| io_err("syncing directory", dir, e))
}

/// Frames `entry` onto `buf`; returns the payload length.
fn frame(buf: &mut Vec<u8>, entry: &Entry<TypeConfig>) -> Result<u32, StoreError> {
    // Header first (filled in below), then the entry encoded in place after it.
    let start = buf.len();
    buf.extend_from_slice(&[0; HEADER]);
    encode_into(buf, entry);
    let payload = &buf[start + HEADER..];
    let Some(len) = u32::try_from(payload.len()).ok().filter(|l| *l <= MAX_RECORD) else {
        let n = payload.len();
        buf.truncate(start);
        return Err(StoreError::Invalid(format!("raft log entry of {n} bytes")));
    };
    let crc = crc32fast::hash(payload);
    buf[start..start + 4].copy_from_slice(&len.to_le_bytes());
    buf[start + 4..start + HEADER].copy_from_slice(&crc.to_le_bytes());
    Ok(len)
}

/// What scanning a segment found.
struct Scan {
    records: Vec<(u64, u32)>,
    /// Bytes of whole, valid records.
    size: u64,
    /// The file is longer than its whole records (a torn tail).
    torn: bool,
}

/// Whether `file[from..]` holds a 512-byte sector of zeros: the mark of a write cut short by a
/// crash (the file system extended the file but some pages never reached the disk), as opposed
/// to corruption of data that was once synced.
fn has_zero_sector(file: &File, from: u64, len: u64) -> bool {
    const SECTOR: u64 = 512;
    let mut buf = [0u8; SECTOR as usize];
    let mut at = from.div_ceil(SECTOR) * SECTOR;
    while at + SECTOR <= len {
        if file.read_exact_at(&mut buf, at).is_ok() && buf.iter().all(|b| *b == 0) {
            return true;
        }
        at += SECTOR;
    }
    // A short tail (less than a sector after `from`) that is all zeros counts too.
    let n = (len - from.min(len)).min(SECTOR) as usize;
    n > 0 && {
        let mut tail = vec![0u8; n];
        file.read_exact_at(&mut tail, from).is_ok() && tail.iter().all(|b| *b == 0)
    }
}

/// Reads a segment's records. A record cut off by the end of the file is a torn write; a bad
/// record before the end is torn only in the last segment (`last`) and only when a zeroed
/// sector follows it; anything else is corruption and an error naming the file and offset.
fn scan(path: &Path, file: &File, last: bool) -> Result<Scan, StoreError> {
    let len = file.metadata().map_err(|e| io_err("reading", path, e))?.len();
    let mut records = Vec::new();
    let mut pos = 0u64;
    let mut header = [0u8; HEADER];
    let mut payload = Vec::new();
    while pos < len {
        if len - pos < HEADER as u64 {
            return Ok(Scan { records, size: pos, torn: true });
        }
        file.read_exact_at(&mut header, pos).map_err(|e| io_err("reading", path, e))?;
        let n = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        let end = pos + HEADER as u64 + n as u64;
        let bad = n == 0 || n > MAX_RECORD || end > len || {
            payload.resize(n as usize, 0);
            file.read_exact_at(&mut payload, pos + HEADER as u64)
                .map_err(|e| io_err("reading", path, e))?;
            crc32fast::hash(&payload) != crc
        };
        if bad {
            if end == len
                || (n <= MAX_RECORD && end > len)
                || (last && has_zero_sector(file, pos, len))
            {
                return Ok(Scan { records, size: pos, torn: true });
            }
            return Err(corrupt(format!(
                "record {} at offset {pos} of {} is damaged and valid data may follow it; \
                 restore this member from a peer (remove it and add it back) or from a backup",
                records.len(),
                path.display()
            )));
        }
        records.push((pos, n));
        pos = end;
    }
    Ok(Scan { records, size: pos, torn: false })
}

/// The file-backed Raft log.
#[derive(Clone)]
pub struct LogStore {
    db: sled::Db,
    meta: sled::Tree,
    log: Arc<Mutex<Segments>>,
    flusher: std::sync::mpsc::Sender<Flush>,
    stats: Arc<LogIoStats>,
    /// One past the highest log index the state machine has on disk; `purge` waits for it.
    sm_durable: Option<tokio::sync::watch::Receiver<u64>>,
}

/// A sync request: the files an append wrote and the callback to fire once they are durable.
struct Flush {
    files: Vec<Arc<File>>,
    callback: LogFlushed<TypeConfig>,
}

impl LogStore {
    /// Opens (or creates) the log in `dir`, its metadata in `db`'s `raft_meta` tree, moving a
    /// log left in `db` by an earlier build into `dir` first.
    pub fn open(db: &sled::Db, dir: &Path) -> Result<Self, StoreError> {
        Self::open_with(db, dir, SEGMENT_BYTES)
    }

    /// [`LogStore::open`] with a chosen segment size (tests use small ones).
    pub fn open_with(db: &sled::Db, dir: &Path, segment_bytes: u64) -> Result<Self, StoreError> {
        let meta = db.open_tree("raft_meta")?;
        migrate(db, dir)?;
        let purged: Option<LogId<NodeId>> = match meta.get(LAST_PURGED)? {
            Some(v) => Some(decode(&v, "raft metadata")?),
            None => None,
        };
        let segs = load(dir, purged)?;
        let mut log = Segments {
            dir: dir.to_path_buf(),
            segs,
            last: None,
            purged,
            segment_bytes: segment_bytes.max(1),
        };
        let last_entry = match log.segs.last() {
            Some(s) => log.read(s.next_index() - 1)?.map(|e| e.log_id),
            None => None,
        };
        log.last = last_entry.max(purged);
        let (tx, rx) = std::sync::mpsc::channel();
        let stats = Arc::new(LogIoStats::default());
        let st = stats.clone();
        std::thread::Builder::new()
            .name("raft-log-sync".into())
            .spawn(move || flusher(rx, st))
            .map_err(|e| io_err("starting the sync thread for", dir, e))?;
        Ok(Self {
            db: db.clone(),
            meta,
            log: Arc::new(Mutex::new(log)),
            flusher: tx,
            stats,
            sm_durable: None,
        })
    }

    /// Makes `purge` wait until the state machine has on disk every entry it removes.
    /// openraft purges behind a snapshot it is still installing (the install runs on the state
    /// machine task while the core goes on), and the state machine is not flushed per write; a
    /// crash in between must find those entries in the log. `durable` is one past the highest
    /// index the state machine has made durable ([`crate::state_machine::Shared::durable_index`]).
    pub fn with_state_machine_durability(
        mut self,
        durable: tokio::sync::watch::Receiver<u64>,
    ) -> Self {
        self.sm_durable = Some(durable);
        self
    }

    /// Index of the last entry (or of the purge point, if later); `None` for an empty log.
    pub fn last_index(&self) -> Option<u64> {
        self.lock().last.map(|l| l.index)
    }

    /// The log's write counters.
    pub fn stats(&self) -> Arc<LogIoStats> {
        self.stats.clone()
    }

    fn lock(&self) -> MutexGuard<'_, Segments> {
        self.log.lock()
    }

    /// Writes `entries` at the end of the log (not yet synced); returns the file to sync, or
    /// `None` when there was nothing to write.
    fn write(
        &self,
        entries: impl IntoIterator<Item = Entry<TypeConfig>>,
    ) -> Result<Option<Arc<File>>, StoreError> {
        let mut log = self.lock();
        // Entries at or below the purge point are already covered by the state machine (the
        // log was purged behind it); openraft's storage suite appends such entries.
        let purged = log.purged.map(|p| p.index);
        let mut entries = entries
            .into_iter()
            .skip_while(|e| purged.is_some_and(|p| e.log_id.index <= p))
            .peekable();
        let Some(first) = entries.peek().map(|e| e.log_id.index) else { return Ok(None) };
        if let Some(last) = log.last {
            if first != last.index + 1 {
                return Err(corrupt(format!(
                    "append of entry {first} after entry {}: the log must stay contiguous",
                    last.index
                )));
            }
        }
        let rotate = match log.segs.last() {
            None => true,
            Some(s) if s.next_index() != first => {
                return Err(corrupt(format!(
                    "append of entry {first} but {} ends before entry {}",
                    s.path.display(),
                    s.next_index()
                )));
            }
            Some(s) => s.size >= log.segment_bytes,
        };
        if rotate {
            log.open_segment(first)?;
        }
        let mut buf = Vec::new();
        let mut lens = Vec::new();
        let mut last_id = None;
        for e in entries {
            lens.push(frame(&mut buf, &e)?);
            last_id = Some(e.log_id);
        }
        let seg = log.segs.last_mut().ok_or_else(|| corrupt("no open segment".into()))?;
        seg.file.write_all_at(&buf, seg.size).map_err(|e| io_err("writing", &seg.path, e))?;
        let mut pos = seg.size;
        for len in &lens {
            seg.records.push((pos, *len));
            pos += HEADER as u64 + u64::from(*len);
        }
        seg.size = pos;
        let file = seg.file.clone();
        log.last = last_id;
        self.stats.appends.fetch_add(1, Ordering::Relaxed);
        self.stats.entries.fetch_add(lens.len() as u64, Ordering::Relaxed);
        Ok(Some(file))
    }

    fn get_meta<T: serde::de::DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>, SErr> {
        match self.meta.get(key).map_err(read_err)? {
            Some(v) => Ok(Some(decode(&v, "raft metadata").map_err(read_err)?)),
            None => Ok(None),
        }
    }
}

/// Opens the segments in `dir`, cutting a torn tail off the last one and dropping segments
/// wholly at or below the purge point.
fn load(dir: &Path, purged: Option<LogId<NodeId>>) -> Result<Vec<Segment>, StoreError> {
    let mut firsts = Vec::new();
    for item in std::fs::read_dir(dir).map_err(|e| io_err("listing", dir, e))? {
        let item = item.map_err(|e| io_err("listing", dir, e))?;
        let name = item.file_name();
        let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(".log")) else { continue };
        let first: u64 = stem
            .parse()
            .ok()
            .filter(|f| segment_name(*f) == name.to_string_lossy())
            .ok_or_else(|| {
            corrupt(format!("unexpected file {} in {}", name.to_string_lossy(), dir.display()))
        })?;
        firsts.push(first);
    }
    firsts.sort_unstable();
    let mut segs: Vec<Segment> = Vec::with_capacity(firsts.len());
    let mut removed = false;
    let count = firsts.len();
    for (i, first) in firsts.into_iter().enumerate() {
        let path = dir.join(segment_name(first));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| io_err("opening", &path, e))?;
        let sc = scan(&path, &file, i + 1 == count)?;
        if sc.torn {
            if i + 1 < count {
                return Err(corrupt(format!(
                    "{} ends in a partial record but is not the last segment",
                    path.display()
                )));
            }
            let cut = file.metadata().map(|m| m.len()).unwrap_or(0) - sc.size;
            tracing::warn!(segment = %path.display(), at = sc.size, bytes = cut, "cutting off an unfinished write at the end of the raft log");
            file.set_len(sc.size).map_err(|e| io_err("truncating", &path, e))?;
            file.sync_data().map_err(|e| io_err("syncing", &path, e))?;
        }
        let seg = Segment { first, path, file: Arc::new(file), records: sc.records, size: sc.size };
        // An empty segment never held an acknowledged entry (it is created, synced into the
        // directory, then written); one wholly at or below the purge point is no longer needed.
        let below = purged.is_some_and(|p| seg.next_index() <= p.index + 1);
        if seg.records.is_empty() || below {
            std::fs::remove_file(&seg.path).map_err(|e| io_err("removing", &seg.path, e))?;
            removed = true;
            continue;
        }
        let expected = match (segs.last(), purged) {
            (Some(prev), _) => Some(prev.next_index()),
            // The first kept segment must reach back to just after the purge point.
            (None, Some(p)) if seg.first > p.index + 1 => Some(p.index + 1),
            (None, _) => None,
        };
        if let Some(want) = expected.filter(|w| *w != seg.first) {
            return Err(corrupt(format!(
                "{} starts at entry {} but the log before it ends before entry {want}: entries \
                 are missing; restore this member from a peer (remove it and add it back)",
                seg.path.display(),
                seg.first,
            )));
        }
        segs.push(seg);
    }
    if removed {
        sync_dir(dir)?;
    }
    Ok(segs)
}

/// Moves a log kept in sled's `raft_log` tree (earlier builds) into `dir`, or creates an empty
/// `dir`. The new directory is complete and synced before it gets its name, and the tree is
/// dropped only after that, so a crash at any point leaves one whole log.
fn migrate(db: &sled::Db, dir: &Path) -> Result<(), StoreError> {
    let legacy = db.tree_names().iter().any(|n| n.as_ref() == LEGACY_TREE.as_bytes());
    if !dir.exists() && !legacy && db.open_tree("raft_meta")?.contains_key(VOTE)? {
        return Err(StoreError::Invalid(format!(
            "the raft log {} is missing but this member has taken part in elections: its \
             acknowledged entries would be forgotten. Restore the directory, or remove this \
             member from the cluster and add it back with an empty data directory",
            dir.display()
        )));
    }
    if !dir.exists() {
        let tmp = dir.with_extension("tmp");
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(|e| io_err("removing", &tmp, e))?;
        }
        std::fs::create_dir_all(&tmp).map_err(|e| io_err("creating", &tmp, e))?;
        if legacy {
            let tree = db.open_tree(LEGACY_TREE)?;
            let mut buf = Vec::new();
            let mut first = None;
            let mut next: Option<u64> = None;
            for item in tree.iter() {
                let (k, v) = item?;
                let index = u64::from_be_bytes(
                    k.as_ref()
                        .try_into()
                        .map_err(|_| corrupt("legacy log key is not 8 bytes".into()))?,
                );
                let entry: Entry<TypeConfig> = decode(&v, "raft log entry")?;
                if entry.log_id.index != index {
                    return Err(corrupt(format!(
                        "legacy log key {index} holds entry {}",
                        entry.log_id
                    )));
                }
                if let Some(want) = next.filter(|w| *w != index) {
                    return Err(corrupt(format!(
                        "legacy log jumps from entry {} to {index}",
                        want - 1
                    )));
                }
                first.get_or_insert(index);
                next = Some(index + 1);
                frame(&mut buf, &entry)?;
            }
            if let Some(first) = first {
                let path = tmp.join(segment_name(first));
                let file = File::create(&path).map_err(|e| io_err("creating", &path, e))?;
                file.write_all_at(&buf, 0).map_err(|e| io_err("writing", &path, e))?;
                file.sync_all().map_err(|e| io_err("syncing", &path, e))?;
                tracing::info!(
                    entries = tree.len(),
                    "moved the raft log out of sled into {}",
                    dir.display()
                );
            }
        }
        sync_dir(&tmp)?;
        std::fs::rename(&tmp, dir).map_err(|e| io_err("renaming", &tmp, e))?;
        if let Some(parent) = dir.parent() {
            sync_dir(parent)?;
        }
    }
    if legacy {
        db.drop_tree(LEGACY_TREE)?;
    }
    Ok(())
}

/// Group commit: each wake-up takes every queued request, syncs each file they wrote once,
/// then acknowledges them in order.
fn flusher(rx: std::sync::mpsc::Receiver<Flush>, stats: Arc<LogIoStats>) {
    let mut batch: Vec<Flush> = Vec::new();
    let mut files: Vec<Arc<File>> = Vec::new();
    while let Ok(first) = rx.recv() {
        batch.push(first);
        while let Ok(more) = rx.try_recv() {
            batch.push(more);
        }
        for f in batch.iter().flat_map(|b| &b.files) {
            if !files.iter().any(|g| Arc::ptr_eq(f, g)) {
                files.push(f.clone());
            }
        }
        let start = tokio::time::Instant::now();
        let mut res = Ok(());
        for f in files.drain(..) {
            if let Err(e) = f.sync_data() {
                res = Err(e);
            }
        }
        stats.flushes.fetch_add(1, Ordering::Relaxed);
        stats.flush_micros.fetch_add(start.elapsed().as_micros() as u64, Ordering::Relaxed);
        for b in batch.drain(..) {
            let r = match &res {
                Ok(()) => Ok(()),
                Err(e) => Err(std::io::Error::new(e.kind(), e.to_string())),
            };
            b.callback.log_io_completed(r);
        }
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<TypeConfig>>, SErr> {
        use std::ops::Bound;
        let log = self.lock();
        let first_kept =
            log.purged.map_or(0, |p| p.index + 1).max(log.segs.first().map_or(0, |s| s.first));
        let start = match range.start_bound() {
            Bound::Included(i) => *i,
            Bound::Excluded(i) => i.saturating_add(1),
            Bound::Unbounded => 0,
        }
        .max(first_kept);
        let end = match range.end_bound() {
            Bound::Included(i) => i.saturating_add(1),
            Bound::Excluded(i) => *i,
            Bound::Unbounded => u64::MAX,
        }
        .min(log.segs.last().map_or(0, Segment::next_index));
        let mut out = Vec::with_capacity(end.saturating_sub(start).min(4096) as usize);
        for index in start..end {
            match log.read(index).map_err(read_err)? {
                Some(e) => out.push(e),
                None => break,
            }
        }
        Ok(out)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, SErr> {
        let log = self.lock();
        Ok(LogState { last_purged_log_id: log.purged, last_log_id: log.last })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), SErr> {
        self.meta.insert(VOTE, encode(vote)).map_err(|e| StorageIOError::write_vote(&e))?;
        self.db.flush_async().await.map_err(|e| StorageIOError::write_vote(&e))?;
        Ok(())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, SErr> {
        self.get_meta(VOTE)
    }

    async fn save_committed(&mut self, committed: Option<LogId<NodeId>>) -> Result<(), SErr> {
        // Not flushed: losing it only means re-applying a little more on restart.
        self.meta.insert(COMMITTED, encode(&committed)).map_err(write_err)?;
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<NodeId>>, SErr> {
        // Never beyond the log: re-applying at start-up reads up to this point from the log.
        // (It is not flushed, and the log is another file; openraft raises it to the applied
        // index when it is lower.)
        let committed = self.get_meta::<Option<LogId<NodeId>>>(COMMITTED)?.flatten();
        let last = self.lock().last;
        Ok(match (committed, last) {
            (Some(c), Some(l)) if c.index > l.index => Some(l),
            (Some(_), None) => None,
            (c, _) => c,
        })
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> Result<(), SErr>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let Some(file) = self.write(entries).map_err(write_err)? else {
            callback.log_io_completed(Ok(()));
            return Ok(());
        };
        let files = vec![file];
        if let Err(std::sync::mpsc::SendError(req)) = self.flusher.send(Flush { files, callback }) {
            // The sync thread is gone (shutting down): sync here.
            let res = req.files.iter().try_for_each(|f| f.sync_data());
            req.callback.log_io_completed(res);
        }
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> Result<(), SErr> {
        let index = log_id.index;
        let mut log = self.lock();
        let mut removed = false;
        while log.segs.last().is_some_and(|s| s.first >= index) {
            if let Some(seg) = log.segs.pop() {
                std::fs::remove_file(&seg.path)
                    .map_err(|e| write_err(io_err("removing", &seg.path, e)))?;
                removed = true;
            }
        }
        if removed {
            let dir = log.dir.clone();
            sync_dir(&dir).map_err(write_err)?;
        }
        if let Some(seg) = log.segs.last_mut() {
            let keep = (index - seg.first) as usize;
            if keep < seg.records.len() {
                let size = seg.records[keep].0;
                seg.file
                    .set_len(size)
                    .and_then(|()| seg.file.sync_data())
                    .map_err(|e| write_err(io_err("truncating", &seg.path, e)))?;
                seg.records.truncate(keep);
                seg.size = size;
            }
        }
        let prev = match index.checked_sub(1) {
            Some(p) => log.read(p).map_err(read_err)?.map(|e| e.log_id),
            None => None,
        };
        log.last = prev.max(log.purged);
        Ok(())
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> Result<(), SErr> {
        if self.lock().purged.is_some_and(|p| p.index >= log_id.index) {
            return Ok(());
        }
        if let Some(durable) = &mut self.sm_durable {
            // Normally at once (a snapshot save or install flushed first); during an install
            // the state machine may take a while. Say so while it does.
            let started = tokio::time::Instant::now();
            loop {
                let wait = durable.wait_for(|d| *d > log_id.index);
                let waited = tokio::time::timeout(std::time::Duration::from_secs(30), wait)
                    .await
                    .map(|r| r.map(|_| ()));
                match waited {
                    Ok(r) => {
                        r.map_err(write_err)?;
                        break;
                    }
                    Err(_) => tracing::warn!(
                        upto = log_id.index,
                        durable = *durable.borrow(),
                        waited_s = started.elapsed().as_secs(),
                        "log purge is waiting for the state machine to reach the disk"
                    ),
                }
            }
        }
        // The purge point is durable before any segment goes: a crash in between leaves extra
        // entries (ignored on open), never a hole.
        self.meta.insert(LAST_PURGED, encode(&log_id)).map_err(write_err)?;
        self.db.flush_async().await.map_err(write_err)?;
        let mut log = self.lock();
        log.purged = Some(log_id);
        if log.last < Some(log_id) {
            log.last = Some(log_id);
        }
        // Remove every segment whose entries all lie at or below the purge point; the active
        // segment too when it is wholly purged (the next append opens a new one).
        while log.segs.first().is_some_and(|s| s.next_index() <= log_id.index + 1) {
            let seg = log.segs.remove(0);
            std::fs::remove_file(&seg.path)
                .map_err(|e| write_err(io_err("removing", &seg.path, e)))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::CommittedLeaderId;

    fn entry(term: u64, index: u64) -> Entry<TypeConfig> {
        openraft::testing::blank_ent::<TypeConfig>(term, 1, index)
    }

    struct Fixture {
        _dir: tempfile::TempDir,
        db: sled::Db,
        path: PathBuf,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(dir.path().join("sled")).open().unwrap();
        let path = dir.path().join("raft-log");
        Fixture { _dir: dir, db, path }
    }

    impl Fixture {
        fn open(&self, segment: u64) -> LogStore {
            LogStore::open_with(&self.db, &self.path, segment).unwrap()
        }

        /// Entries `0..n` written and the log closed; returns its one segment's path.
        async fn closed_after(&self, n: u64) -> PathBuf {
            let mut log = self.open(SEGMENT_BYTES);
            append(&mut log, (0..n).map(|i| entry(1, i)).collect()).await;
            drop(log);
            self.path.join(segment_name(0))
        }
    }

    /// Writes and syncs, as `append` and its flusher do.
    async fn append(log: &mut LogStore, entries: Vec<Entry<TypeConfig>>) {
        if let Some(f) = log.write(entries).unwrap() {
            f.sync_data().unwrap();
        }
    }

    async fn indexes(log: &mut LogStore) -> Vec<u64> {
        log.try_get_log_entries(..).await.unwrap().iter().map(|e| e.log_id.index).collect()
    }

    fn segment_files(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[tokio::test]
    async fn entries_survive_reopen_across_segments() {
        let f = fixture();
        let mut log = f.open(100);
        for i in 0..20 {
            append(&mut log, vec![entry(1, 2 * i), entry(1, 2 * i + 1)]).await;
        }
        assert!(segment_files(&f.path).len() > 3, "{:?}", segment_files(&f.path));
        assert_eq!(log.stats().entries.load(Ordering::Relaxed), 40);
        drop(log);
        let mut log = f.open(100);
        assert_eq!(indexes(&mut log).await, (0..40).collect::<Vec<_>>());
        let st = log.get_log_state().await.unwrap();
        assert_eq!(st.last_log_id.map(|l| l.index), Some(39));
        let mid = log.try_get_log_entries(17..=18).await.unwrap();
        assert_eq!(mid.iter().map(|e| e.log_id.index).collect::<Vec<_>>(), vec![17, 18]);
    }

    #[tokio::test]
    async fn a_torn_tail_is_cut_and_the_log_continues() {
        let f = fixture();
        let seg = f.closed_after(5).await;
        let full = std::fs::metadata(&seg).unwrap().len();
        // A record cut short, as a crash in the middle of a write leaves it.
        let file = OpenOptions::new().write(true).open(&seg).unwrap();
        file.set_len(full - 3).unwrap();
        drop(file);
        let mut log = f.open(SEGMENT_BYTES);
        assert_eq!(indexes(&mut log).await, vec![0, 1, 2, 3]);
        append(&mut log, vec![entry(2, 4)]).await;
        drop(log);
        // A whole-length record of zeros (the length reached the disk, the data did not).
        let file = OpenOptions::new().append(true).open(&seg).unwrap();
        let mut junk = 100u32.to_le_bytes().to_vec();
        junk.extend_from_slice(&[0u8; 104]);
        std::io::Write::write_all(&mut &file, &junk).unwrap();
        drop(file);
        let mut log = f.open(SEGMENT_BYTES);
        let all = log.try_get_log_entries(..).await.unwrap();
        assert_eq!(all.last().map(|e| e.log_id), Some(LogId::new(CommittedLeaderId::new(2, 1), 4)));
    }

    #[tokio::test]
    async fn a_bad_record_before_the_tail_fails_the_open() {
        let f = fixture();
        let seg = f.closed_after(3).await;
        let file = OpenOptions::new().write(true).open(&seg).unwrap();
        file.write_all_at(b"X", HEADER as u64 + 3).unwrap();
        drop(file);
        let err = LogStore::open(&f.db, &f.path).err().expect("corruption must fail the open");
        assert!(err.to_string().contains("is damaged"), "{err}");
    }

    #[tokio::test]
    async fn truncate_and_purge_across_segments_persist() {
        let f = fixture();
        let mut log = f.open(100);
        for i in 0..30 {
            append(&mut log, vec![entry(1, i)]).await;
        }
        log.truncate(LogId::new(CommittedLeaderId::new(1, 1), 21)).await.unwrap();
        assert_eq!(indexes(&mut log).await, (0..21).collect::<Vec<_>>());
        append(&mut log, vec![entry(2, 21), entry(2, 22)]).await;
        log.purge(LogId::new(CommittedLeaderId::new(1, 1), 9)).await.unwrap();
        let before = segment_files(&f.path);
        drop(log);
        let mut log = f.open(100);
        assert_eq!(indexes(&mut log).await, (10..23).collect::<Vec<_>>());
        let st = log.get_log_state().await.unwrap();
        assert_eq!(st.last_purged_log_id.map(|l| l.index), Some(9));
        assert_eq!(st.last_log_id.map(|l| (l.leader_id.term, l.index)), Some((2, 22)));
        assert_eq!(segment_files(&f.path), before);
        assert!(!before.contains(&segment_name(0)), "segment 0 is wholly purged: {before:?}");
        // A purge past the end (a snapshot installed on a lagging member) empties the log;
        // the next append starts a fresh segment.
        log.purge(LogId::new(CommittedLeaderId::new(3, 1), 100)).await.unwrap();
        assert!(indexes(&mut log).await.is_empty());
        assert!(segment_files(&f.path).is_empty());
        append(&mut log, vec![entry(3, 101)]).await;
        drop(log);
        let mut log = f.open(100);
        assert_eq!(indexes(&mut log).await, vec![101]);
        let st = log.get_log_state().await.unwrap();
        assert_eq!(st.last_log_id.map(|l| l.index), Some(101));
    }

    #[tokio::test]
    async fn a_log_kept_in_sled_moves_into_segments() {
        let f = fixture();
        let tree = f.db.open_tree(LEGACY_TREE).unwrap();
        for i in 5..12u64 {
            tree.insert(i.to_be_bytes(), encode(&entry(1, i))).unwrap();
        }
        let mut log = f.open(SEGMENT_BYTES);
        assert_eq!(indexes(&mut log).await, (5..12).collect::<Vec<_>>());
        assert!(!f.db.tree_names().iter().any(|n| n.as_ref() == LEGACY_TREE.as_bytes()));
        append(&mut log, vec![entry(1, 12)]).await;
        drop(log);
        let mut log = f.open(SEGMENT_BYTES);
        assert_eq!(indexes(&mut log).await, (5..13).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_gap_in_the_log_is_refused() {
        let f = fixture();
        let mut log = f.open(SEGMENT_BYTES);
        append(&mut log, vec![entry(1, 0), entry(1, 1)]).await;
        assert!(log.write(vec![entry(1, 3)]).is_err());
        assert_eq!(indexes(&mut log).await, vec![0, 1]);
    }

    #[tokio::test]
    async fn an_empty_last_segment_does_not_hide_the_log() {
        let f = fixture();
        let mut log = f.open(100);
        for i in 0..6 {
            append(&mut log, vec![entry(1, i)]).await;
        }
        drop(log);
        // A crash right after a rotation created the next segment, before anything reached it.
        std::fs::File::create(f.path.join(segment_name(6))).unwrap();
        let mut log = f.open(100);
        assert_eq!(indexes(&mut log).await, (0..6).collect::<Vec<_>>());
        let st = log.get_log_state().await.unwrap();
        assert_eq!(st.last_log_id.map(|l| l.index), Some(5));
        assert!(log.write(vec![entry(1, 9)]).is_err(), "a gap after the real last entry");
        append(&mut log, vec![entry(1, 6)]).await;
        drop(log);
        let mut log = f.open(100);
        assert_eq!(indexes(&mut log).await, (0..7).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_zeroed_gap_in_the_last_segment_is_a_torn_write() {
        let f = fixture();
        let seg = f.closed_after(3).await;
        // Later pages of an unfinished write reached the disk, earlier ones did not.
        let file = OpenOptions::new().append(true).open(&seg).unwrap();
        let mut junk = vec![0u8; 1500];
        junk.extend_from_slice(&[7u8; 300]);
        std::io::Write::write_all(&mut &file, &junk).unwrap();
        drop(file);
        let mut log = f.open(SEGMENT_BYTES);
        assert_eq!(indexes(&mut log).await, vec![0, 1, 2]);
        append(&mut log, vec![entry(1, 3)]).await;
        assert_eq!(indexes(&mut log).await, vec![0, 1, 2, 3]);
    }

    #[tokio::test]
    async fn a_missing_log_of_a_member_that_voted_is_refused() {
        let f = fixture();
        let meta = f.db.open_tree("raft_meta").unwrap();
        meta.insert(VOTE, encode(&Vote::<NodeId>::new(3, 1))).unwrap();
        let err = LogStore::open(&f.db, &f.path).err().expect("must refuse");
        assert!(err.to_string().contains("is missing"), "{err}");
    }

    #[tokio::test]
    async fn purge_waits_for_the_state_machine_on_disk() {
        let f = fixture();
        let (tx, rx) = tokio::sync::watch::channel(0u64);
        let mut log = f.open(100).with_state_machine_durability(rx);
        for i in 0..10 {
            append(&mut log, vec![entry(1, i)]).await;
        }
        {
            let mut purge = Box::pin(log.purge(LogId::new(CommittedLeaderId::new(1, 1), 5)));
            assert!(futures::poll!(&mut purge).is_pending(), "entries the state machine may lose");
            tx.send(6).unwrap();
            purge.await.unwrap();
        }
        assert_eq!(indexes(&mut log).await, (6..10).collect::<Vec<_>>());
    }

    /// A failing file operation is an I/O error naming the operation and the path (not a
    /// bad request).
    #[tokio::test]
    async fn an_io_failure_names_the_operation_and_the_path() {
        let f = fixture();
        // The log directory is a file: listing it fails.
        std::fs::write(&f.path, b"not a directory").unwrap();
        let err = LogStore::open(&f.db, &f.path).err().expect("must fail");
        let msg = err.to_string();
        let StoreError::Io { op, path, source } = err else { panic!("{msg}") };
        assert_eq!((op, path.as_path()), ("listing", f.path.as_path()));
        assert_eq!(source.kind(), std::io::ErrorKind::NotADirectory);
        assert!(msg.contains(&f.path.display().to_string()), "{msg}");
        assert!(msg.contains("check the disk and the data directory"), "{msg}");
    }

    #[tokio::test]
    async fn committed_never_points_past_the_log() {
        let f = fixture();
        let mut log = f.open(SEGMENT_BYTES);
        append(&mut log, (0..4).map(|i| entry(1, i)).collect()).await;
        log.save_committed(Some(LogId::new(CommittedLeaderId::new(1, 1), 9))).await.unwrap();
        let c = log.read_committed().await.unwrap();
        assert_eq!(c.map(|l| l.index), Some(3));
        log.save_committed(Some(LogId::new(CommittedLeaderId::new(1, 1), 2))).await.unwrap();
        assert_eq!(log.read_committed().await.unwrap().map(|l| l.index), Some(2));
    }
}
