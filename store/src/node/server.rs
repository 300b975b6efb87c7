//! The peer gRPC service: `istio.raft.v1.RaftService` (on `--raft`), delivering the other
//! members' RPCs to this one.
//!
//! AppendEntries, Vote and InstallSnapshot go to openraft as they are; Forward goes to
//! [`StoreNode::lead`] ([`super::forward`]); Status answers
//! [`StoreNode::local_status`]. Every payload is `codec::encode`d (see `proto/raft.proto`); a
//! payload that does not decode is refused as an invalid argument. The client side is
//! [`crate::network`]. Kept apart from the rest of the node because it is the only code that
//! sees tonic's request and status types.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use istio_proto::raft::raft_service_server::{RaftService, RaftServiceServer};
use istio_proto::raft::Payload;
use tonic::{Request, Status};

use super::forward::Forward;
use super::StoreNode;
use crate::codec::{decode, encode};
use crate::error::StoreError;
use crate::types::*;

/// Server side of `RaftService`, delivering peer RPCs to this member.
pub struct RaftGrpc {
    node: Arc<StoreNode>,
}

impl StoreNode {
    /// The tonic service peers talk to.
    pub fn raft_service(self: &Arc<Self>) -> RaftServiceServer<RaftGrpc> {
        RaftServiceServer::new(RaftGrpc { node: self.clone() })
            .max_decoding_message_size(64 << 20)
            .max_encoding_message_size(64 << 20)
    }
}

fn bad_payload(e: StoreError) -> Status {
    Status::invalid_argument(e.to_string())
}

#[tonic::async_trait]
impl RaftService for RaftGrpc {
    async fn append_entries(
        &self,
        req: Request<Payload>,
    ) -> Result<tonic::Response<Payload>, Status> {
        let rpc: openraft::raft::AppendEntriesRequest<TypeConfig> =
            decode(&req.into_inner().data, "append-entries request").map_err(bad_payload)?;
        if let Some(c) = rpc.leader_commit {
            self.node.known_commit.fetch_max(c.index, Ordering::Relaxed);
        }
        let res = self.node.raft.append_entries(rpc).await;
        Ok(tonic::Response::new(Payload { data: encode(&res) }))
    }

    async fn vote(&self, req: Request<Payload>) -> Result<tonic::Response<Payload>, Status> {
        let rpc: openraft::raft::VoteRequest<NodeId> =
            decode(&req.into_inner().data, "vote request").map_err(bad_payload)?;
        let res = self.node.raft.vote(rpc).await;
        Ok(tonic::Response::new(Payload { data: encode(&res) }))
    }

    async fn install_snapshot(
        &self,
        req: Request<Payload>,
    ) -> Result<tonic::Response<Payload>, Status> {
        let rpc: openraft::raft::InstallSnapshotRequest<TypeConfig> =
            decode(&req.into_inner().data, "install-snapshot request").map_err(bad_payload)?;
        let res = self.node.raft.install_snapshot(rpc).await;
        Ok(tonic::Response::new(Payload { data: encode(&res) }))
    }

    async fn forward(&self, req: Request<Payload>) -> Result<tonic::Response<Payload>, Status> {
        let fwd: Forward =
            decode(&req.into_inner().data, "forwarded request").map_err(bad_payload)?;
        let res = self.node.lead(fwd).await;
        Ok(tonic::Response::new(Payload { data: encode(&res) }))
    }

    async fn status(&self, _req: Request<Payload>) -> Result<tonic::Response<Payload>, Status> {
        Ok(tonic::Response::new(Payload { data: encode(&self.node.local_status()) }))
    }
}
