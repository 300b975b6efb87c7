//! The leader's batching proposer: group commit at the proposal level.
//!
//! openraft 0.9's core appends one entry at a time and waits for its flush before taking the
//! next request, so proposing commands one by one caps writes at one flush each. Instead,
//! while one entry is being committed, the txn commands that arrive queue here, and the next
//! entry carries all of them (`CommandOp::Batch`, in arrival order); the state machine applies
//! them one by one, each with its own revision and response, and [`answer`] hands each caller
//! its own. A lone command is proposed as itself. Two entries are in flight at once
//! ([`IN_FLIGHT`]): while one is applied, the next is appended and flushed.
//!
//! The task is written against a closure that proposes one entry (`Raft::client_write` in
//! [`super::StoreNode::open`]), not the `Raft` handle itself, so that the tests below drive
//! the batching with a fake commit of known latency under paused time, without a cluster.

use std::future::Future;
use std::sync::Arc;

use openraft::error::{ClientWriteError, RaftError};
use openraft::raft::ClientWriteResponse;
use tokio::sync::{mpsc, oneshot};

use super::{Attempt, StoreNode};
use crate::clock::now_ms;
use crate::error::StoreError;
use crate::types::*;

/// A txn command to propose, and where its outcome goes: the response and the log index of
/// the entry that carried it, or why it must be retried or failed.
pub(super) type Proposal = (Command, Waiter);

/// Where a proposed command's outcome goes.
pub(super) type Waiter = oneshot::Sender<Result<Attempt<(Response, u64)>, StoreError>>;

/// What proposing one entry returns (`Raft::client_write`'s result).
pub(super) type WriteResult =
    Result<ClientWriteResponse<TypeConfig>, RaftError<NodeId, ClientWriteError<NodeId, Node>>>;

/// Entries the proposer has in flight at once: while one is applied, the next is appended and
/// flushed.
const IN_FLIGHT: usize = 2;
/// Most commands in one log entry.
const MAX_BATCH: usize = 512;
/// Most bytes of objects in one log entry (a batch stops growing past this).
const MAX_BATCH_BYTES: usize = 4 << 20;

/// Proposes the txn commands arriving on `rx` through `write` (one call per log entry),
/// grouping the ones that arrive while [`IN_FLIGHT`] entries are being committed into the
/// next entry. `id` names this member in the batches' request ids and sources.
pub(super) async fn proposer<W, F>(write: W, id: NodeId, mut rx: mpsc::UnboundedReceiver<Proposal>)
where
    W: Fn(Command) -> F,
    F: Future<Output = WriteResult> + Send + 'static,
{
    let mut seq: u64 = 0;
    let slots = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
    while let Some(first) = rx.recv().await {
        // Wait for a free slot; whatever arrives meanwhile joins this entry.
        let Ok(slot) = slots.clone().acquire_owned().await else { return };
        let size = |c: &Command| match &c.op {
            CommandOp::Txn(t) => t
                .ops
                .iter()
                .map(|o| match o {
                    Op::Put { object, .. } => object.len(),
                    Op::Delete { .. } => 0,
                })
                .sum(),
            _ => 0,
        };
        let mut bytes = size(&first.0);
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH && bytes < MAX_BATCH_BYTES {
            match rx.try_recv() {
                Ok(p) => {
                    bytes += size(&p.0);
                    batch.push(p);
                }
                Err(_) => break,
            }
        }
        let (cmds, waiters): (Vec<Command>, Vec<_>) = batch.into_iter().unzip();
        let lone = cmds.len() == 1;
        let cmd = if lone {
            cmds.into_iter().next().unwrap_or_else(|| unreachable!("one command"))
        } else {
            seq += 1;
            Command {
                request_id: format!("batch-{id}-{seq}-{}", now_ms()),
                actor: "system:proposer".into(),
                source: format!("istiod-{id}"),
                time_ms: now_ms(),
                verb: "batch".into(),
                restores: None,
                op: CommandOp::Batch(cmds),
            }
        };
        let outcome = write(cmd);
        tokio::spawn(async move {
            let _slot = slot;
            let outcome = outcome.await;
            answer(lone, outcome, waiters);
        });
    }
}

/// Hands each waiter its part of an entry's outcome.
fn answer(lone: bool, outcome: WriteResult, waiters: Vec<Waiter>) {
    let n = waiters.len();
    let results: Vec<Result<Attempt<(Response, u64)>, StoreError>> = match outcome {
        Ok(r) => {
            let index = r.log_id.index;
            match (lone, r.data) {
                (true, data) => vec![Ok(Attempt::Done((data, index)))],
                (false, Response::Batch(rs)) if rs.len() == n => {
                    rs.into_iter().map(|r| Ok(Attempt::Done((r, index)))).collect()
                }
                (false, other) => (0..n)
                    .map(|_| Err(StoreError::Raft(format!("unexpected batch response {other:?}"))))
                    .collect(),
            }
        }
        Err(RaftError::APIError(ClientWriteError::ForwardToLeader(_))) => {
            (0..n).map(|_| Ok(Attempt::Retry("leadership moved".into()))).collect()
        }
        Err(e) => {
            let m = e.to_string();
            (0..n).map(|_| Err(StoreError::Raft(m.clone()))).collect()
        }
    };
    for (w, r) in waiters.into_iter().zip(results) {
        let _ = w.send(r);
    }
}

impl StoreNode {
    /// Proposes `cmd` as leader: a txn through the [`proposer`] (grouped with concurrent
    /// ones), anything else on its own.
    pub(super) async fn propose(
        &self,
        cmd: Command,
    ) -> Result<Attempt<(Response, u64)>, StoreError> {
        if !matches!(cmd.op, CommandOp::Txn(_)) {
            return Ok(match self.raft.client_write(cmd).await {
                Ok(r) => Attempt::Done((r.data, r.log_id.index)),
                Err(RaftError::APIError(ClientWriteError::ForwardToLeader(_))) => {
                    Attempt::Retry("leadership moved".into())
                }
                Err(e) => return Err(StoreError::Raft(e.to_string())),
            });
        }
        let stopped = || StoreError::Raft("the proposer has stopped".into());
        let (tx, rx) = oneshot::channel();
        self.proposals.send((cmd, tx)).map_err(|_| stopped())?;
        rx.await.unwrap_or_else(|_| Err(stopped()))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use openraft::error::{Fatal, ForwardToLeader};
    use openraft::{CommittedLeaderId, LogId};
    use parking_lot::Mutex;
    use tokio::time::{sleep, Instant};

    use super::*;

    /// How long the fake takes to commit an entry.
    const COMMIT: Duration = Duration::from_millis(10);

    /// A fake `client_write`: records each entry proposed (when, and what), takes [`COMMIT`]
    /// to commit it, and answers with `outcome(entry number from 1, command)`.
    struct Fake {
        start: Instant,
        entries: Mutex<Vec<(u64, Command)>>,
        outcome: fn(u64, &Command) -> WriteResult,
    }

    impl Fake {
        fn new(outcome: fn(u64, &Command) -> WriteResult) -> Arc<Self> {
            Arc::new(Self { start: Instant::now(), entries: Mutex::default(), outcome })
        }

        /// Starts a proposer writing through this fake; returns where to send proposals.
        fn spawn(self: &Arc<Self>) -> mpsc::UnboundedSender<Proposal> {
            let (tx, rx) = mpsc::unbounded_channel();
            let fake = self.clone();
            let write = move |cmd: Command| {
                let n = {
                    let mut e = fake.entries.lock();
                    e.push((fake.ms(), cmd.clone()));
                    e.len() as u64
                };
                let outcome = fake.outcome;
                async move {
                    sleep(COMMIT).await;
                    outcome(n, &cmd)
                }
            };
            tokio::spawn(proposer(write, 7, rx));
            tx
        }

        fn ms(&self) -> u64 {
            self.start.elapsed().as_millis() as u64
        }

        /// Each entry proposed: when (ms from the start), and the request ids it carried
        /// (one for a lone command, the batch's commands' for a batch).
        fn entries(&self) -> Vec<(u64, Vec<String>)> {
            self.entries
                .lock()
                .iter()
                .map(|(at, c)| {
                    let ids = match &c.op {
                        CommandOp::Batch(cs) => cs.iter().map(|c| c.request_id.clone()).collect(),
                        _ => vec![c.request_id.clone()],
                    };
                    (*at, ids)
                })
                .collect()
        }
    }

    fn txn(id: &str, bytes: usize) -> Command {
        Command {
            request_id: id.into(),
            actor: "tester".into(),
            source: "test".into(),
            time_ms: 1,
            verb: "test".into(),
            restores: None,
            op: CommandOp::Txn(Txn {
                preconditions: vec![],
                ops: vec![Op::Put {
                    key: ResourceKey::new("g", "things", "ns", id),
                    object: vec![b'x'; bytes],
                }],
            }),
        }
    }

    /// The response the fake gives a command: committed at the revision its id names
    /// (`p<n>` → n), so that each caller can tell its answer from the others'.
    fn response_for(cmd: &Command) -> Response {
        let revision = cmd.request_id.trim_start_matches('p').parse().unwrap();
        Response::Txn {
            outcome: TxnOutcome::Committed { revision, results: vec![], existed: vec![] },
            deduplicated: false,
        }
    }

    /// Commits every entry: entry n at log index n, each command answered as its id says.
    fn commit(n: u64, cmd: &Command) -> WriteResult {
        let data = match &cmd.op {
            CommandOp::Batch(cs) => Response::Batch(cs.iter().map(response_for).collect()),
            _ => response_for(cmd),
        };
        Ok(ClientWriteResponse {
            log_id: LogId::new(CommittedLeaderId::new(1, 1), n),
            data,
            membership: None,
        })
    }

    type Answer = oneshot::Receiver<Result<Attempt<(Response, u64)>, StoreError>>;

    fn submit(tx: &mpsc::UnboundedSender<Proposal>, cmd: Command) -> Answer {
        let (w, r) = oneshot::channel();
        tx.send((cmd, w)).unwrap();
        r
    }

    /// The revision and log index an answer carries.
    async fn committed(answer: Answer) -> (Revision, u64) {
        match answer.await.unwrap() {
            Ok(Attempt::Done((
                Response::Txn { outcome: TxnOutcome::Committed { revision, .. }, .. },
                index,
            ))) => (revision, index),
            Ok(Attempt::Done((r, _))) => panic!("unexpected response {r:?}"),
            Ok(Attempt::Retry(why)) => panic!("retry: {why}"),
            Err(e) => panic!("{e}"),
        }
    }

    /// Two lone commands take both slots; the three that arrive while they commit go out
    /// together, in arrival order, as one batch entry as soon as the first slot frees, and each
    /// caller gets its own command's answer and the batch's log index.
    #[tokio::test(start_paused = true)]
    async fn proposals_arriving_during_a_commit_go_together_in_one_batch() {
        let fake = Fake::new(commit);
        let tx = fake.spawn();
        let mut answers = vec![submit(&tx, txn("p0", 1))];
        sleep(Duration::from_millis(1)).await;
        answers.push(submit(&tx, txn("p1", 1)));
        for id in ["p2", "p3", "p4"] {
            sleep(Duration::from_millis(1)).await;
            answers.push(submit(&tx, txn(id, 1)));
        }
        let mut got = Vec::new();
        for a in answers {
            got.push(committed(a).await);
        }
        assert_eq!(got, [(0, 1), (1, 2), (2, 3), (3, 3), (4, 3)]);
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            fake.entries(),
            [(0, ids(&["p0"])), (1, ids(&["p1"])), (10, ids(&["p2", "p3", "p4"]))],
            "a lone command as itself; the batch when the first entry has committed"
        );
        let entries = fake.entries.lock();
        let (_, lone) = &entries[0];
        assert!(matches!(lone.op, CommandOp::Txn(_)), "a lone command is not wrapped");
        let (_, batch) = &entries[2];
        assert_eq!((batch.actor.as_str(), batch.verb.as_str()), ("system:proposer", "batch"));
        assert_eq!(batch.source, "istiod-7");
        assert!(batch.request_id.starts_with("batch-7-1-"), "{}", batch.request_id);
    }

    /// A batch stops growing at [`MAX_BATCH`] commands, and at [`MAX_BATCH_BYTES`] of
    /// objects; what is left goes in the next entry, in order.
    #[tokio::test(start_paused = true)]
    async fn a_batch_stops_at_its_command_and_byte_limits() {
        let fake = Fake::new(commit);
        let tx = fake.spawn();
        let mut answers = vec![submit(&tx, txn("p0", 1))];
        sleep(Duration::from_millis(1)).await;
        answers.push(submit(&tx, txn("p1", 1)));
        sleep(Duration::from_millis(1)).await;
        for i in 2..2 + MAX_BATCH as u64 + 88 {
            answers.push(submit(&tx, txn(&format!("p{i}"), 1)));
        }
        for (i, a) in answers.into_iter().enumerate() {
            let (rev, _) = committed(a).await;
            assert_eq!(rev, i as u64);
        }
        let sizes: Vec<_> = fake.entries().into_iter().map(|(at, ids)| (at, ids.len())).collect();
        assert_eq!(sizes, [(0, 1), (1, 1), (10, MAX_BATCH), (11, 88)]);
        let all: Vec<String> = fake.entries().into_iter().flat_map(|(_, ids)| ids).collect();
        let want: Vec<String> = (0..2 + MAX_BATCH as u64 + 88).map(|i| format!("p{i}")).collect();
        assert_eq!(all, want, "every command once, in arrival order");

        // 1 MiB objects: the fourth brings the batch to the byte limit.
        let fake = Fake::new(commit);
        let tx = fake.spawn();
        let mut answers = vec![submit(&tx, txn("p0", 1))];
        sleep(Duration::from_millis(1)).await;
        answers.push(submit(&tx, txn("p1", 1)));
        sleep(Duration::from_millis(1)).await;
        for i in 2..8 {
            answers.push(submit(&tx, txn(&format!("p{i}"), MAX_BATCH_BYTES / 4)));
        }
        for a in answers {
            committed(a).await;
        }
        let sizes: Vec<_> = fake.entries().into_iter().map(|(_, ids)| ids.len()).collect();
        assert_eq!(sizes, [1, 1, 4, 2]);
    }

    /// An entry that fails answers every caller whose command it carried: a lost leadership
    /// asks each to retry, any other failure fails each, and so does a batch response that
    /// does not match the batch.
    #[tokio::test(start_paused = true)]
    async fn a_failed_entry_answers_every_caller_in_it() {
        fn fail(n: u64, cmd: &Command) -> WriteResult {
            match n {
                3 => Err(RaftError::APIError(ClientWriteError::ForwardToLeader(
                    ForwardToLeader::empty(),
                ))),
                4 => Err(RaftError::Fatal(Fatal::Stopped)),
                5 => Ok(ClientWriteResponse {
                    log_id: LogId::new(CommittedLeaderId::new(1, 1), n),
                    data: Response::Batch(vec![]),
                    membership: None,
                }),
                _ => commit(n, cmd),
            }
        }
        let fake = Fake::new(fail);
        let tx = fake.spawn();
        let first = [submit(&tx, txn("p0", 1)), {
            sleep(Duration::from_millis(1)).await;
            submit(&tx, txn("p1", 1))
        }];
        sleep(Duration::from_millis(1)).await;
        // Entry 3, proposed at 10 ms when entry 1 has committed: leadership moved.
        let moved = [submit(&tx, txn("p2", 1)), submit(&tx, txn("p3", 1))];
        sleep(Duration::from_millis(10)).await;
        // Entry 4, at 12 ms (entry 2 freed its slot at 11 ms): raft stopped.
        let stopped = [submit(&tx, txn("p4", 1)), submit(&tx, txn("p5", 1))];
        sleep(Duration::from_millis(5)).await;
        // Entry 5, at 20 ms when entry 3 has failed: a response that is not the batch's.
        let mismatched = [submit(&tx, txn("p6", 1)), submit(&tx, txn("p7", 1))];
        for a in first {
            committed(a).await;
        }
        for a in moved {
            assert!(matches!(a.await.unwrap(), Ok(Attempt::Retry(_))));
        }
        for a in stopped {
            let r = a.await.unwrap();
            assert!(
                matches!(&r, Err(StoreError::Raft(m)) if m.contains("stopped")),
                "{:?}",
                r.err()
            );
        }
        for a in mismatched {
            let r = a.await.unwrap();
            assert!(
                matches!(&r, Err(StoreError::Raft(m)) if m.contains("unexpected batch response")),
                "{:?}",
                r.err()
            );
        }
        let sizes: Vec<_> = fake.entries().into_iter().map(|(at, ids)| (at, ids.len())).collect();
        assert_eq!(sizes, [(0, 1), (1, 1), (10, 2), (12, 2), (20, 2)]);
    }
}
