//! Shared ReadIndex rounds: how the leader serves linearizable reads.
//!
//! A round confirms leadership with a quorum (`Raft::get_read_log_id`); every read queued
//! before a round starts may use its index, because that index was read after the read
//! arrived (the ReadIndex rule). So one round serves every read that queued while the previous
//! one ran, and a read costs one quorum round trip however many arrive together. Reads of a
//! follower join the same rounds through `Forward::ReadIndex` ([`super::forward`]).
//!
//! After a restart the read index has a floor ([`StartupLog`]): a member that led before it
//! restarts as leader in the same term with a stale commit index, and its read index must not
//! fall below what it acknowledged before.
//!
//! [`read_indexer`] is written against a closure that runs one round (`get_read_log_id` in
//! [`super::StoreNode::open`]), so that the tests below drive the sharing of rounds with a
//! fake round of known latency under paused time, without a cluster.

use std::future::Future;

use openraft::error::{CheckIsLeaderError, RaftError};
use openraft::LogId;
use tokio::sync::{mpsc, oneshot};

use super::StoreNode;
use crate::types::{Node, NodeId};

/// The outcome of one ReadIndex round, for each read that waited on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum ReadIndex {
    /// Reads may be served once this index is applied.
    At(u64),
    /// This member is not (or no longer) the leader.
    NotLeader(String),
    /// The round failed.
    Failed(String),
}

/// Where a read waiting for a round gets its outcome.
pub(super) type ReadWaiter = oneshot::Sender<ReadIndex>;

/// What one round returns (`Raft::get_read_log_id`'s result: the read log id and the last
/// applied one).
pub(super) type ReadLogIds = Result<
    (Option<LogId<NodeId>>, Option<LogId<NodeId>>),
    RaftError<NodeId, CheckIsLeaderError<NodeId, Node>>,
>;

/// What this member's log held when it started: the term it had voted in and its last index.
///
/// A member that was leader before a restart is leader again at once in the same term
/// (openraft 0.9 restores it without an election), so the first entry of its term — the
/// ReadIndex floor of a fresh leader — is old, and the commit index it restarts with is the
/// last one saved, which is not synced per commit. Entries it acknowledged before the restart
/// can lie beyond both, and its state machine restarts from its snapshot. So while it leads in
/// that term, a read index is at least the last index its log had at start: every acknowledged
/// entry is at or below it, and all of it is committed once one entry of the term is.
#[derive(Clone, Copy, Debug)]
pub(super) struct StartupLog {
    pub(super) term: u64,
    pub(super) last_index: u64,
}

/// Shares ReadIndex rounds between concurrent linearizable reads: takes every read queued on
/// `rx`, runs one round through `round`, answers them all, and starts again. See
/// [`StartupLog`] for the floor after a restart.
pub(super) async fn read_indexer<R, F>(
    mut round: R,
    startup: StartupLog,
    mut rx: mpsc::UnboundedReceiver<ReadWaiter>,
) where
    R: FnMut() -> F,
    F: Future<Output = ReadLogIds>,
{
    while let Some(first) = rx.recv().await {
        let mut waiters = vec![first];
        while let Ok(more) = rx.try_recv() {
            waiters.push(more);
        }
        let outcome = match round().await {
            // The term of the read index is the term this member led in when it confirmed its
            // leadership (a leader's first entry and everything after it are of its term).
            Ok((Some(read), _)) if read.leader_id.term == startup.term => {
                ReadIndex::At(read.index.max(startup.last_index))
            }
            Ok((read, _)) => ReadIndex::At(read.map_or(0, |l| l.index)),
            Err(RaftError::APIError(e)) => ReadIndex::NotLeader(e.to_string()),
            Err(e) => ReadIndex::Failed(e.to_string()),
        };
        for w in waiters {
            let _ = w.send(outcome.clone());
        }
    }
}

impl StoreNode {
    /// One ReadIndex, as leader, from a round shared with concurrent reads.
    pub(super) async fn read_index(&self) -> ReadIndex {
        let (tx, rx) = oneshot::channel();
        if self.read_indexes.send(tx).is_err() {
            return ReadIndex::Failed("the read indexer has stopped".into());
        }
        rx.await.unwrap_or_else(|_| ReadIndex::Failed("the read indexer has stopped".into()))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use openraft::error::{Fatal, ForwardToLeader};
    use openraft::CommittedLeaderId;
    use parking_lot::Mutex;
    use tokio::time::{sleep, Instant};

    use super::*;

    /// How long the fake takes to confirm leadership.
    const ROUND: Duration = Duration::from_millis(10);

    /// A fake `get_read_log_id`: records when each round starts, takes [`ROUND`], and
    /// answers round n (from 1) with `outcome(n)`.
    struct Fake {
        start: Instant,
        rounds: Mutex<Vec<u64>>,
    }

    impl Fake {
        /// Starts a read indexer running its rounds through a fake; returns the fake and
        /// where to queue reads.
        fn spawn(
            startup: StartupLog,
            outcome: fn(u64) -> ReadLogIds,
        ) -> (Arc<Self>, mpsc::UnboundedSender<ReadWaiter>) {
            let fake = Arc::new(Self { start: Instant::now(), rounds: Mutex::default() });
            let (tx, rx) = mpsc::unbounded_channel();
            let f = fake.clone();
            let round = move || {
                let n = {
                    let mut r = f.rounds.lock();
                    r.push(f.ms());
                    r.len() as u64
                };
                async move {
                    sleep(ROUND).await;
                    outcome(n)
                }
            };
            tokio::spawn(read_indexer(round, startup, rx));
            (fake, tx)
        }

        fn ms(&self) -> u64 {
            self.start.elapsed().as_millis() as u64
        }
    }

    fn at(term: u64, index: u64) -> ReadLogIds {
        Ok((Some(LogId::new(CommittedLeaderId::new(term, 1), index)), None))
    }

    /// Round n reads index 100 + n, in term 3.
    fn hundred_and(n: u64) -> ReadLogIds {
        at(3, 100 + n)
    }

    const NO_FLOOR: StartupLog = StartupLog { term: 9, last_index: 1_000_000 };

    /// Queues a read; the receiver yields its outcome and when it came (ms from the start).
    fn read(
        fake: &Arc<Fake>,
        tx: &mpsc::UnboundedSender<ReadWaiter>,
    ) -> tokio::task::JoinHandle<(ReadIndex, u64)> {
        let (w, r) = oneshot::channel();
        tx.send(w).unwrap();
        let fake = fake.clone();
        tokio::spawn(async move { (r.await.unwrap(), fake.ms()) })
    }

    /// Reads queued before a round starts share it; a read that arrives while a round runs
    /// waits for the next one, which it shares with every other read that arrived meanwhile.
    #[tokio::test(start_paused = true)]
    async fn reads_share_a_round_and_later_reads_get_the_next() {
        let (fake, tx) = Fake::spawn(NO_FLOOR, hundred_and);
        let before: Vec<_> = (0..3).map(|_| read(&fake, &tx)).collect();
        sleep(Duration::from_millis(5)).await;
        let during_first = read(&fake, &tx);
        sleep(Duration::from_millis(7)).await;
        let during_second = [read(&fake, &tx), {
            sleep(Duration::from_millis(3)).await;
            read(&fake, &tx)
        }];
        for r in before {
            assert_eq!(r.await.unwrap(), (ReadIndex::At(101), 10));
        }
        assert_eq!(during_first.await.unwrap(), (ReadIndex::At(102), 20));
        for r in during_second {
            assert_eq!(r.await.unwrap(), (ReadIndex::At(103), 30));
        }
        assert_eq!(*fake.rounds.lock(), [0, 10, 20], "three rounds for six reads");
        // Idle: no round runs without a read waiting for it.
        sleep(Duration::from_secs(1)).await;
        assert_eq!(fake.rounds.lock().len(), 3);
    }

    /// In the term this member had voted in when it started, a read index is at least the
    /// last index its log had then; in any other term it is the round's own.
    #[tokio::test(start_paused = true)]
    async fn the_startup_log_is_the_floor_in_its_own_term() {
        fn rounds(n: u64) -> ReadLogIds {
            match n {
                1 => at(3, 120),
                2 => at(3, 600),
                3 => at(4, 130),
                _ => Ok((None, None)),
            }
        }
        let startup = StartupLog { term: 3, last_index: 500 };
        let (fake, tx) = Fake::spawn(startup, rounds);
        let mut got = Vec::new();
        for _ in 0..4 {
            got.push(read(&fake, &tx).await.unwrap().0);
        }
        use ReadIndex::At;
        assert_eq!(got, [At(500), At(600), At(130), At(0)]);
    }

    /// A round that fails answers every read waiting on it: not the leader (try the leader
    /// again) or failed; the next round is tried afresh.
    #[tokio::test(start_paused = true)]
    async fn a_failed_round_answers_every_read_waiting_on_it() {
        fn rounds(n: u64) -> ReadLogIds {
            match n {
                1 => Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(
                    ForwardToLeader::empty(),
                ))),
                2 => Err(RaftError::Fatal(Fatal::Stopped)),
                n => hundred_and(n),
            }
        }
        let (fake, tx) = Fake::spawn(NO_FLOOR, rounds);
        let first: Vec<_> = (0..2).map(|_| read(&fake, &tx)).collect();
        sleep(Duration::from_millis(1)).await;
        let second: Vec<_> = (0..2).map(|_| read(&fake, &tx)).collect();
        for r in first {
            assert!(matches!(r.await.unwrap().0, ReadIndex::NotLeader(_)));
        }
        for r in second {
            let (outcome, _) = r.await.unwrap();
            assert!(
                matches!(&outcome, ReadIndex::Failed(m) if m.contains("stopped")),
                "{outcome:?}"
            );
        }
        assert_eq!(read(&fake, &tx).await.unwrap().0, ReadIndex::At(103));
    }
}
