//! Follower → leader forwarding: what a member that does not lead sends the leader, and how the
//! leader serves it.
//!
//! Writes, ReadIndex requests and membership changes all need the leader. A follower sends
//! them as a [`Forward`] over the `Forward` peer RPC ([`super::server`]); the leader serves
//! them in [`StoreNode::lead`] exactly as it serves its own (a forwarded write joins the
//! proposer's batches, a forwarded ReadIndex joins the shared rounds), and answers a
//! [`ForwardReply`] or a [`ForwardError`]. `NotLeader` and transport failures become
//! [`Attempt::Retry`], which [`StoreNode::with_leader`] retries against whoever leads next
//! (safe: a write's request id makes it apply once); anything else is final.
//!
//! The wire types live here, beside both ends, so that a change to one is seen next to the
//! other; every payload is `codec::encode`d, so a change to them is a change of the peer
//! protocol.

use std::collections::BTreeSet;

use openraft::error::{ClientWriteError, RaftError};
use openraft::ChangeMembers;
use serde::{Deserialize, Serialize};

use super::read_index::ReadIndex;
use super::{Attempt, StoreNode};
use crate::error::StoreError;
use crate::network::Rpc;
use crate::types::*;

/// Requests a follower forwards to the leader.
#[derive(Debug, Serialize, Deserialize)]
pub(super) enum Forward {
    Write(Command),
    ReadIndex,
    AddMember { id: NodeId, addr: String },
    RemoveMember { id: NodeId },
}

#[derive(Debug, Serialize, Deserialize)]
pub(super) enum ForwardReply {
    Write { response: Response, log_index: u64 },
    ReadIndex(u64),
    Done,
}

#[derive(Debug, Serialize, Deserialize)]
pub(super) enum ForwardError {
    /// The receiver is not (or no longer) the leader; try again.
    NotLeader,
    /// A definitive failure, with its message.
    Failed(String),
}

pub(super) fn clone_forward(f: &Forward) -> Forward {
    match f {
        Forward::Write(c) => Forward::Write(c.clone()),
        Forward::ReadIndex => Forward::ReadIndex,
        Forward::AddMember { id, addr } => Forward::AddMember { id: *id, addr: addr.clone() },
        Forward::RemoveMember { id } => Forward::RemoveMember { id: *id },
    }
}

impl StoreNode {
    /// Forwards a write to the leader: its response and log index, or why to retry.
    pub(super) async fn forward_write(
        &self,
        leader: NodeId,
        addr: &str,
        cmd: Command,
    ) -> Result<Attempt<(Response, u64)>, StoreError> {
        let timeout = self.cfg.request_timeout;
        match self
            .peers
            .call::<_, Result<ForwardReply, ForwardError>>(
                leader,
                addr,
                Rpc::Forward,
                &Forward::Write(cmd),
                timeout,
            )
            .await
        {
            Ok(Ok(ForwardReply::Write { response, log_index })) => {
                Ok(Attempt::Done((response, log_index)))
            }
            Ok(Ok(other)) => Err(StoreError::Raft(format!("unexpected reply {other:?}"))),
            Ok(Err(ForwardError::NotLeader)) => Ok(Attempt::Retry("not leader".into())),
            Ok(Err(ForwardError::Failed(m))) => Err(StoreError::Raft(m)),
            Err(e) => Ok(Attempt::Retry(e.to_string())),
        }
    }

    /// Asks the leader for a read index (from its shared rounds), or why to retry.
    pub(super) async fn forward_read_index(
        &self,
        leader: NodeId,
        addr: &str,
    ) -> Result<Attempt<u64>, StoreError> {
        match self
            .peers
            .call::<_, Result<ForwardReply, ForwardError>>(
                leader,
                addr,
                Rpc::Forward,
                &Forward::ReadIndex,
                self.cfg.request_timeout,
            )
            .await
        {
            Ok(Ok(ForwardReply::ReadIndex(i))) => Ok(Attempt::Done(i)),
            Ok(Ok(other)) => Err(StoreError::Raft(format!("unexpected reply {other:?}"))),
            Ok(Err(ForwardError::NotLeader)) => Ok(Attempt::Retry("not leader".into())),
            Ok(Err(ForwardError::Failed(m))) => Ok(Attempt::Retry(m)),
            Err(e) => Ok(Attempt::Retry(e.to_string())),
        }
    }

    /// Runs a membership change on the leader (here, or forwarded to it).
    pub(super) async fn membership(&self, req: Forward) -> Result<(), StoreError> {
        let req = &req;
        self.with_leader(|leader, addr| async move {
            let res = if leader == self.cfg.id {
                self.lead(clone_forward(req)).await
            } else {
                match self
                    .peers
                    .call::<_, Result<ForwardReply, ForwardError>>(
                        leader,
                        &addr,
                        Rpc::Forward,
                        req,
                        self.cfg.request_timeout * 3,
                    )
                    .await
                {
                    Ok(r) => r,
                    Err(e) => return Ok(Attempt::Retry(e.to_string())),
                }
            };
            match res {
                Ok(_) => Ok(Attempt::Done(())),
                Err(ForwardError::NotLeader) => Ok(Attempt::Retry("not leader".into())),
                Err(ForwardError::Failed(m)) => Err(StoreError::Membership(m)),
            }
        })
        .await
    }

    /// Serves a forwarded request, as the leader.
    pub(super) async fn lead(&self, req: Forward) -> Result<ForwardReply, ForwardError> {
        fn write_err(e: RaftError<NodeId, ClientWriteError<NodeId, Node>>) -> ForwardError {
            match e {
                RaftError::APIError(ClientWriteError::ForwardToLeader(_)) => {
                    ForwardError::NotLeader
                }
                e => ForwardError::Failed(e.to_string()),
            }
        }
        match req {
            Forward::Write(cmd) => match self.propose(cmd).await {
                Ok(Attempt::Done((response, log_index))) => {
                    Ok(ForwardReply::Write { response, log_index })
                }
                Ok(Attempt::Retry(_)) => Err(ForwardError::NotLeader),
                Err(e) => Err(ForwardError::Failed(e.to_string())),
            },
            Forward::ReadIndex => match self.read_index().await {
                ReadIndex::At(i) => Ok(ForwardReply::ReadIndex(i)),
                ReadIndex::NotLeader(_) => Err(ForwardError::NotLeader),
                ReadIndex::Failed(m) => Err(ForwardError::Failed(m)),
            },
            Forward::AddMember { id, addr } => {
                let m = self.raft.metrics().borrow().clone();
                let mem = m.membership_config.membership();
                if mem.voter_ids().any(|v| v == id) {
                    if mem.get_node(&id).is_some_and(|n| n.addr == addr) {
                        return Ok(ForwardReply::Done);
                    }
                    return Err(ForwardError::Failed(format!(
                        "member {id} already exists with address {}; remove it first",
                        mem.get_node(&id).map_or("?", |n| n.addr.as_str())
                    )));
                }
                tracing::info!(id, %addr, "adding learner");
                self.raft.add_learner(id, Node { addr }, true).await.map_err(write_err)?;
                tracing::info!(id, "promoting learner to voter");
                self.raft
                    .change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([id])), false)
                    .await
                    .map_err(write_err)?;
                Ok(ForwardReply::Done)
            }
            Forward::RemoveMember { id } => {
                let m = self.raft.metrics().borrow().clone();
                let mem = m.membership_config.membership();
                if mem.get_node(&id).is_none() {
                    return Err(ForwardError::Failed(format!("{id} is not a member")));
                }
                let change = if mem.voter_ids().any(|v| v == id) {
                    if mem.voter_ids().count() == 1 {
                        return Err(ForwardError::Failed(format!(
                            "{id} is the only voter; a cluster cannot remove its last voter"
                        )));
                    }
                    ChangeMembers::RemoveVoters(BTreeSet::from([id]))
                } else {
                    ChangeMembers::RemoveNodes(BTreeSet::from([id]))
                };
                tracing::info!(id, "removing member");
                self.raft.change_membership(change, false).await.map_err(write_err)?;
                Ok(ForwardReply::Done)
            }
        }
    }
}
