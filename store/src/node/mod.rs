//! [`StoreNode`]: one member of the replicated event log, as the rest of istiod sees it.
//!
//! It owns the openraft `Raft` handle, the sled database and the peer transport, and offers:
//! writes that are forwarded to the leader transparently (and retried safely thanks to the
//! idempotency table), linearizable reads through ReadIndex (asked of the leader when this
//! node is a follower), gap-free watches from any retained revision, membership changes,
//! cluster status, and the leader's periodic compaction.
//!
//! The leader-side machinery is split out by concern, each part testable on its own:
//!
//! - `proposer`: the leader's batching proposer task (txns arriving while an entry commits
//!   go together in the next entry, `CommandOp::Batch`; two entries in flight).
//! - `read_index`: the shared ReadIndex rounds and the `StartupLog` floor after a restart.
//! - `forward`: the follower → leader forwarding of writes, reads and membership changes.
//! - `compactor`: the periodic compaction loop (`--retain-revisions`, `--retain-for`, the
//!   dedup window).
//! - `server`: [`RaftGrpc`], the peer gRPC service.
//!
//! This file keeps the configuration and status types, opening a member, and the public
//! operations, which route each request to the leader (here, or forwarded) and wait for this
//! member to apply it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use openraft::error::RaftError;
use openraft::{Raft, RaftMetrics, ServerState, SnapshotPolicy};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::error::StoreError;
use crate::log_store::LogStore;
use crate::network::{NetworkFactory, Peers, Rpc};
use crate::state_machine::{AppliedState, Shared, StateMachine};
use crate::types::*;

mod compactor;
mod forward;
mod proposer;
mod read_index;
mod server;

use forward::Forward;
use proposer::Proposal;
use read_index::{ReadIndex, ReadWaiter, StartupLog};
pub use server::RaftGrpc;

/// How a member is configured. Addresses are the ones peers and clients should use.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// This member's id (unique in the cluster, > 0).
    pub id: NodeId,
    /// Where the Raft log (`raft-log/`), and the vote, log metadata and saved snapshot
    /// (`sled/`) are kept.
    pub data_dir: PathBuf,
    /// Raft peer address (`--raft`).
    pub raft_addr: String,
    /// HTTP API address (`--http`), reported in cluster status.
    pub http_addr: String,
    /// gRPC address (`--grpc`), reported in cluster status.
    pub grpc_addr: String,
    /// Build a snapshot after this many log entries since the last one.
    pub snapshot_logs: u64,
    /// Log entries kept behind a snapshot (lagging followers catch up from them).
    pub snapshot_keep_logs: u64,
    /// Events retained before compaction folds them away.
    pub retain_revisions: u64,
    /// Events younger than this are retained even beyond `retain_revisions` (an event is kept
    /// while it is among the last `retain_revisions` OR younger than `retain_for`).
    pub retain_for: Option<Duration>,
    /// How long an idempotency key is remembered.
    pub dedup_window: Duration,
    /// Raft heartbeat interval.
    pub heartbeat: Duration,
    /// Raft election timeout range (min; max is twice this).
    pub election_timeout: Duration,
    /// How long a client request may wait for a leader / commit before it times out.
    pub request_timeout: Duration,
    /// Members to dial at these addresses instead of the Raft address the membership
    /// advertises for them (NAT, or a fault-injecting proxy per link in chaos runs).
    pub peer_dial: BTreeMap<NodeId, String>,
}

impl StoreConfig {
    /// Defaults for a member with the given id and data dir, on the dev loopback ports.
    pub fn new(id: NodeId, data_dir: impl Into<PathBuf>) -> Self {
        Self {
            id,
            data_dir: data_dir.into(),
            raft_addr: "127.0.0.1:15011".into(),
            http_addr: "127.0.0.1:8080".into(),
            grpc_addr: "127.0.0.1:15010".into(),
            snapshot_logs: 10_000,
            snapshot_keep_logs: 1_000,
            retain_revisions: 100_000,
            retain_for: None,
            dedup_window: Duration::from_secs(600),
            heartbeat: Duration::from_millis(50),
            election_timeout: Duration::from_millis(300),
            request_timeout: Duration::from_secs(10),
            peer_dial: BTreeMap::new(),
        }
    }
}

/// A member's own account of itself, served over the `Status` peer RPC.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct MemberStatus {
    /// Member id.
    pub id: NodeId,
    /// Raft address.
    pub raft_addr: String,
    /// HTTP address.
    pub http_addr: String,
    /// gRPC address.
    pub grpc_addr: String,
    /// `leader`, `follower`, `candidate`, `learner` or `shutdown`.
    pub role: String,
    /// Current term.
    pub term: u64,
    /// Leader this member follows, if known.
    pub leader: Option<NodeId>,
    /// Last index in its log.
    pub last_log_index: u64,
    /// Highest commit index it knows of.
    pub commit_index: u64,
    /// Snapshot's last index.
    pub snapshot_index: u64,
    /// Highest purged log index.
    pub purged_index: u64,
    /// Applied state (index, revision, compaction point, hash).
    pub applied: AppliedState,
}

/// One member as seen in the cluster status.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterMember {
    /// Member id.
    pub id: NodeId,
    /// Raft address from the membership config.
    pub raft_addr: String,
    /// Voter (true) or learner.
    pub voter: bool,
    /// What it said about itself, if it answered.
    pub status: Option<MemberStatus>,
    /// Why it did not answer.
    pub error: Option<String>,
}

/// The cluster as seen from one member.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterStatus {
    /// Member that produced this view.
    pub reporter: NodeId,
    /// Leader, if known.
    pub leader: Option<NodeId>,
    /// Reporter's term.
    pub term: u64,
    /// Every member of the membership config.
    pub members: Vec<ClusterMember>,
}

/// Events streamed by [`StoreNode::watch`]; ends with an error if the watch cannot continue.
pub type WatchStream = mpsc::Receiver<Result<Event, StoreError>>;

enum Attempt<T> {
    Done(T),
    Retry(String),
}

/// One member of the replicated event log.
pub struct StoreNode {
    cfg: StoreConfig,
    raft: Raft<TypeConfig>,
    sm: Arc<Shared>,
    peers: Peers,
    db: sled::Db,
    known_commit: AtomicU64,
    leader_changes: AtomicU64,
    log_io: Arc<crate::log_store::LogIoStats>,
    /// Txn commands this member proposes as leader, grouped into log entries
    /// ([`proposer::proposer`]).
    proposals: mpsc::UnboundedSender<Proposal>,
    /// Linearizable reads this member serves as leader, sharing ReadIndex rounds
    /// ([`read_index::read_indexer`]).
    read_indexes: mpsc::UnboundedSender<ReadWaiter>,
}

impl StoreNode {
    /// Opens the data dir and starts the Raft member (not yet part of any cluster unless the
    /// data dir says so; see [`StoreNode::initialize`]).
    pub async fn open(cfg: StoreConfig) -> Result<Arc<Self>, StoreError> {
        std::fs::create_dir_all(&cfg.data_dir).map_err(|e| StoreError::Io {
            op: "creating the data dir",
            path: cfg.data_dir.clone(),
            source: e,
        })?;
        let db = sled::Config::new()
            .path(cfg.data_dir.join("sled"))
            .cache_capacity(256 << 20)
            .flush_every_ms(Some(1000))
            .open()?;
        let sm = StateMachine::open(&db)?;
        let shared = sm.shared();
        let mut log = LogStore::open(&db, &cfg.data_dir.join("raft-log"))?
            .with_state_machine_durability(shared.durable_index());
        let vote = openraft::storage::RaftLogStorage::read_vote(&mut log)
            .await
            .map_err(|e| StoreError::Raft(e.to_string()))?;
        let log_io = log.stats();
        let log_last_index = log.last_index();
        let applied = shared.applied_state();
        tracing::info!(
            applied_index = applied.applied_index,
            revision = applied.revision,
            log_last_index,
            "store opened; committed entries after the applied index are re-applied from the log"
        );
        let hb = cfg.heartbeat.as_millis() as u64;
        let el = cfg.election_timeout.as_millis() as u64;
        let raft_cfg = openraft::Config {
            cluster_name: "istio-rs".into(),
            heartbeat_interval: hb,
            election_timeout_min: el,
            election_timeout_max: el * 2,
            install_snapshot_timeout: 5_000,
            snapshot_policy: SnapshotPolicy::LogsSinceLast(cfg.snapshot_logs.max(1)),
            max_in_snapshot_log_to_keep: cfg.snapshot_keep_logs,
            snapshot_max_chunk_size: 1 << 20,
            max_payload_entries: 512,
            ..Default::default()
        }
        .validate()
        .map_err(|e| StoreError::Invalid(format!("raft config: {e}")))?;
        let peers = Peers::with_dial_overrides(cfg.peer_dial.clone());
        let net = NetworkFactory { peers: peers.clone() };
        let raft = Raft::new(cfg.id, Arc::new(raft_cfg), net, log, sm)
            .await
            .map_err(|e| StoreError::Raft(e.to_string()))?;
        let (proposals, rx) = mpsc::unbounded_channel();
        let writer = raft.clone();
        let write = move |cmd| {
            let raft = writer.clone();
            async move { raft.client_write(cmd).await }
        };
        tokio::spawn(proposer::proposer(write, cfg.id, rx));
        let startup = StartupLog {
            term: vote.map_or(0, |v| v.leader_id.term),
            last_index: log_last_index.unwrap_or(0),
        };
        let (read_indexes, rx) = mpsc::unbounded_channel();
        let reader = raft.clone();
        let round = move || {
            let raft = reader.clone();
            async move { raft.get_read_log_id().await }
        };
        tokio::spawn(read_index::read_indexer(round, startup, rx));
        let node = Arc::new(Self {
            cfg,
            raft,
            sm: shared,
            peers,
            db,
            known_commit: AtomicU64::new(0),
            leader_changes: AtomicU64::new(0),
            log_io,
            proposals,
            read_indexes,
        });
        tokio::spawn(Self::observe(Arc::downgrade(&node), node.raft.metrics()));
        tokio::spawn(compactor::run(Arc::downgrade(&node)));
        Ok(node)
    }

    /// Counts leader changes and logs role transitions.
    async fn observe(
        node: std::sync::Weak<Self>,
        mut rx: watch::Receiver<RaftMetrics<NodeId, Node>>,
    ) {
        let mut last: Option<(Option<NodeId>, ServerState)> = None;
        loop {
            let cur = {
                let m = rx.borrow_and_update();
                (m.current_leader, m.state)
            };
            if let Some(prev) = last {
                if prev.0 != cur.0 {
                    let Some(n) = node.upgrade() else { return };
                    if cur.0.is_some() {
                        n.leader_changes.fetch_add(1, Ordering::Relaxed);
                    }
                    tracing::info!(leader = ?cur.0, state = ?cur.1, "leader changed");
                }
            }
            last = Some(cur);
            if rx.changed().await.is_err() {
                return;
            }
        }
    }

    /// This member's configuration.
    pub fn config(&self) -> &StoreConfig {
        &self.cfg
    }

    /// The openraft handle (for metrics and tests).
    pub fn raft(&self) -> &Raft<TypeConfig> {
        &self.raft
    }

    /// The applied-state reader.
    pub fn state(&self) -> &Arc<Shared> {
        &self.sm
    }

    /// Number of times a new leader was observed.
    pub fn leader_changes(&self) -> u64 {
        self.leader_changes.load(Ordering::Relaxed)
    }

    /// The Raft log's write counters (appends, entries, group-commit flushes and their time).
    pub fn log_io(&self) -> &crate::log_store::LogIoStats {
        &self.log_io
    }

    /// Whether this member currently believes it is the leader.
    pub fn is_leader(&self) -> bool {
        let m = self.raft.metrics();
        let m = m.borrow();
        m.state == ServerState::Leader
    }

    /// Whether the raft log/state are initialized (this member belongs to a cluster).
    pub async fn is_initialized(&self) -> Result<bool, StoreError> {
        self.raft.is_initialized().await.map_err(|e| StoreError::Raft(e.to_string()))
    }

    /// Forms a cluster of `members` (id → raft address). Every founding member may call it
    /// with the same map; a member that already has state ignores it.
    pub async fn initialize(&self, members: BTreeMap<NodeId, String>) -> Result<(), StoreError> {
        if self.is_initialized().await? {
            return Ok(());
        }
        let nodes: BTreeMap<NodeId, Node> =
            members.into_iter().map(|(id, addr)| (id, Node { addr })).collect();
        match self.raft.initialize(nodes).await {
            Ok(()) => Ok(()),
            Err(RaftError::APIError(openraft::error::InitializeError::NotAllowed(_))) => Ok(()),
            Err(e) => Err(StoreError::Membership(e.to_string())),
        }
    }

    /// Ready: a member of a cluster that has a leader, and not far behind its commit index.
    pub fn is_ready(&self) -> bool {
        let m = self.raft.metrics().borrow().clone();
        let member = m.membership_config.membership().get_node(&self.cfg.id).is_some();
        let applied = m.last_applied.map_or(0, |l| l.index);
        let commit = self.known_commit.load(Ordering::Relaxed);
        member
            && m.current_leader.is_some()
            && m.running_state.is_ok()
            && (m.state == ServerState::Leader || applied + 1000 >= commit)
    }

    /// This member's status.
    pub fn local_status(&self) -> MemberStatus {
        let m = self.raft.metrics().borrow().clone();
        let voter = m.membership_config.membership().voter_ids().any(|v| v == self.cfg.id);
        let role = match m.state {
            ServerState::Leader => "leader",
            ServerState::Candidate => "candidate",
            ServerState::Follower if voter => "follower",
            ServerState::Follower | ServerState::Learner => "learner",
            ServerState::Shutdown => "shutdown",
        };
        let applied = self.sm.applied_state();
        let commit = if m.state == ServerState::Leader {
            applied.applied_index
        } else {
            self.known_commit.load(Ordering::Relaxed).max(applied.applied_index)
        };
        MemberStatus {
            id: self.cfg.id,
            raft_addr: self.cfg.raft_addr.clone(),
            http_addr: self.cfg.http_addr.clone(),
            grpc_addr: self.cfg.grpc_addr.clone(),
            role: role.into(),
            term: m.current_term,
            leader: m.current_leader,
            last_log_index: m.last_log_index.unwrap_or(0),
            commit_index: commit,
            snapshot_index: m.snapshot.map_or(0, |l| l.index),
            purged_index: m.purged.map_or(0, |l| l.index),
            applied,
        }
    }

    /// Every member's status, asked of each member directly (1 s timeout each).
    pub async fn cluster_status(&self) -> ClusterStatus {
        let m = self.raft.metrics().borrow().clone();
        let membership = m.membership_config.membership().clone();
        let voters: BTreeSet<NodeId> = membership.voter_ids().collect();
        let asks = membership.nodes().map(|(id, node)| {
            let (id, addr) = (*id, node.addr.clone());
            let voter = voters.contains(&id);
            async move {
                let res = if id == self.cfg.id {
                    Ok(self.local_status())
                } else {
                    self.peers
                        .call::<_, MemberStatus>(
                            id,
                            &addr,
                            Rpc::Status,
                            &(),
                            Duration::from_secs(1),
                        )
                        .await
                };
                let (status, error) = match res {
                    Ok(s) => (Some(s), None),
                    Err(e) => (None, Some(e.to_string())),
                };
                ClusterMember { id, raft_addr: addr, voter, status, error }
            }
        });
        let members = futures::future::join_all(asks).await;
        ClusterStatus {
            reporter: self.cfg.id,
            leader: m.current_leader,
            term: m.current_term,
            members,
        }
    }

    /// Waits (until `deadline`) for a known leader; returns its id and raft address.
    async fn leader(&self, deadline: Instant) -> Result<(NodeId, String), StoreError> {
        let mut rx = self.raft.metrics();
        loop {
            {
                let m = rx.borrow_and_update();
                if let Some(l) = m.current_leader {
                    if let Some(n) = m.membership_config.membership().get_node(&l) {
                        return Ok((l, n.addr.clone()));
                    }
                }
                if m.running_state.is_err() || m.state == ServerState::Shutdown {
                    return Err(StoreError::Raft("this member has stopped".into()));
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(StoreError::NoLeader(format!(
                    "none elected within {:?}",
                    self.cfg.request_timeout
                )));
            }
            let _ = tokio::time::timeout(left, rx.changed()).await;
        }
    }

    /// Runs `attempt` against the current leader until it succeeds, fails definitively, or
    /// the request timeout passes. Retried attempts must be idempotent.
    async fn with_leader<T, F, Fut>(&self, mut attempt: F) -> Result<T, StoreError>
    where
        F: FnMut(NodeId, String) -> Fut,
        Fut: std::future::Future<Output = Result<Attempt<T>, StoreError>>,
    {
        let deadline = Instant::now() + self.cfg.request_timeout;
        let mut backoff = Duration::from_millis(10);
        loop {
            let (leader, addr) = self.leader(deadline).await?;
            let why = match attempt(leader, addr).await? {
                Attempt::Done(t) => return Ok(t),
                Attempt::Retry(why) => why,
            };
            if Instant::now() + backoff >= deadline {
                tracing::warn!(reason = %why, "request timed out");
                return Err(StoreError::Timeout(self.cfg.request_timeout));
            }
            tracing::debug!(reason = %why, "retrying against the leader");
            // Wake early if the leader changes.
            let mut rx = self.raft.metrics();
            let _ = tokio::time::timeout(backoff, rx.changed()).await;
            backoff = (backoff * 2).min(Duration::from_millis(200));
        }
    }

    /// Proposes `cmd` (through the leader) and waits until this member has applied it, so a
    /// following local read sees it. Safe to retry: the request id makes it apply once.
    pub async fn write(&self, cmd: Command) -> Result<Response, StoreError> {
        let (response, index) = self
            .with_leader(|leader, addr| {
                let cmd = cmd.clone();
                async move {
                    if leader == self.cfg.id {
                        return self.propose(cmd).await;
                    }
                    self.forward_write(leader, &addr, cmd).await
                }
            })
            .await?;
        self.wait_applied(index).await?;
        Ok(response)
    }

    async fn wait_applied(&self, index: u64) -> Result<(), StoreError> {
        if self.sm.applied_state().applied_index >= index {
            return Ok(());
        }
        self.raft
            .wait(Some(self.cfg.request_timeout))
            .applied_index_at_least(Some(index), "wait for apply")
            .await
            .map(|_| ())
            .map_err(|_| StoreError::Timeout(self.cfg.request_timeout))
    }

    /// Makes a following local read reflect every write acknowledged before this call
    /// (ReadIndex through the leader). `Local` returns at once.
    pub async fn read_barrier(&self, consistency: Consistency) -> Result<(), StoreError> {
        if consistency == Consistency::Local {
            return Ok(());
        }
        let index = self
            .with_leader(|leader, addr| async move {
                if leader == self.cfg.id {
                    return match self.read_index().await {
                        ReadIndex::At(i) => Ok(Attempt::Done(i)),
                        ReadIndex::NotLeader(m) => Ok(Attempt::Retry(m)),
                        ReadIndex::Failed(m) => Err(StoreError::Raft(m)),
                    };
                }
                self.forward_read_index(leader, &addr).await
            })
            .await?;
        self.wait_applied(index).await
    }

    /// Reads one resource at the given consistency.
    pub async fn get(
        &self,
        key: &ResourceKey,
        consistency: Consistency,
    ) -> Result<(Option<Resource>, Revision), StoreError> {
        self.read_barrier(consistency).await?;
        self.sm.get(key)
    }

    /// Lists resources under `prefix` at the given consistency.
    pub async fn list(
        &self,
        prefix: &KeyPrefix,
        consistency: Consistency,
    ) -> Result<(Vec<Resource>, Revision), StoreError> {
        self.read_barrier(consistency).await?;
        self.sm.list(prefix)
    }

    /// Streams every event after revision `after` whose changes touch `prefix` (other changes
    /// are filtered out of each event), in order, without gaps, until the receiver is dropped.
    /// Fails at once with `Compacted` if events after `after` are no longer retained.
    pub fn watch(&self, prefix: KeyPrefix, after: Revision) -> Result<WatchStream, StoreError> {
        self.sm.events_after(after, 0)?;
        let (tx, rx) = mpsc::channel(256);
        let sm = self.sm.clone();
        let mut notify = sm.subscribe();
        tokio::spawn(async move {
            let mut next = after;
            loop {
                notify.borrow_and_update();
                loop {
                    let batch = match sm.events_after(next, 256) {
                        Ok(b) => b,
                        Err(e) => {
                            let _ = tx.send(Err(e)).await;
                            return;
                        }
                    };
                    let n = batch.len();
                    for mut ev in batch {
                        next = ev.revision;
                        ev.changes.retain(|c| c.key.matches(&prefix));
                        if !ev.changes.is_empty() && tx.send(Ok(ev)).await.is_err() {
                            return;
                        }
                    }
                    if n < 256 {
                        break;
                    }
                }
                tokio::select! {
                    r = notify.changed() => if r.is_err() { return },
                    _ = tx.closed() => return,
                }
            }
        });
        Ok(rx)
    }

    /// Adds a member: as a learner first, then — once it has caught up — as a voter.
    pub async fn add_member(&self, id: NodeId, addr: String) -> Result<(), StoreError> {
        self.membership(Forward::AddMember { id, addr }).await
    }

    /// Removes a member (voter or learner) from the cluster.
    pub async fn remove_member(&self, id: NodeId) -> Result<(), StoreError> {
        self.membership(Forward::RemoveMember { id }).await
    }

    /// Stops Raft and flushes storage.
    pub async fn shutdown(&self) -> Result<(), StoreError> {
        let _ = self.raft.shutdown().await;
        self.db.flush_async().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A data dir that cannot be created is an I/O error naming it (not a bad request).
    #[tokio::test]
    async fn a_data_dir_that_cannot_be_created_is_an_io_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, b"").unwrap();
        let data_dir = file.join("data");
        let Err(err) = StoreNode::open(StoreConfig::new(1, &data_dir)).await else {
            panic!("a data dir under a file opened");
        };
        let msg = err.to_string();
        let StoreError::Io { op, path, .. } = err else { panic!("{msg}") };
        assert_eq!((op, path), ("creating the data dir", data_dir));
    }
}
