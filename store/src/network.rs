//! The peer transport: openraft's `RaftNetwork` over tonic (client side), and the generic
//! peer-call helper used for forwarding. The server side lives in [`crate::node`], which owns
//! the `Raft` handle the RPCs are delivered to.
//!
//! Every payload is `codec::encode`d; see `proto/raft.proto`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use istio_proto::raft::raft_service_client::RaftServiceClient;
use istio_proto::raft::Payload;
use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use parking_lot::Mutex;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tonic::transport::{Channel, Endpoint};

use crate::codec::{decode, encode};
use crate::error::StoreError;
use crate::types::{Node, NodeId, TypeConfig};

/// Which RPC of `RaftService` to call.
#[derive(Clone, Copy, Debug)]
pub enum Rpc {
    /// openraft AppendEntries.
    AppendEntries,
    /// openraft Vote.
    Vote,
    /// openraft InstallSnapshot (one chunk).
    InstallSnapshot,
    /// A client request forwarded to the leader.
    Forward,
    /// A member's status.
    Status,
}

/// A pool of lazily connected channels to peers, keyed by raft address.
#[derive(Clone, Default)]
pub struct Peers {
    channels: Arc<Mutex<HashMap<String, Channel>>>,
    /// Where to dial a member instead of the Raft address the membership advertises for it
    /// (`--peer-dial`: NAT, or a fault-injecting proxy per link).
    dial: Arc<BTreeMap<NodeId, String>>,
}

impl Peers {
    /// A pool that dials the members in `dial` at the given addresses instead of their
    /// advertised ones.
    pub fn with_dial_overrides(dial: BTreeMap<NodeId, String>) -> Self {
        Peers { channels: Arc::default(), dial: Arc::new(dial) }
    }

    /// A (cached, lazily connecting) client for `addr`.
    pub fn client(&self, addr: &str) -> Result<RaftServiceClient<Channel>, StoreError> {
        let mut map = self.channels.lock();
        if let Some(ch) = map.get(addr) {
            return Ok(RaftServiceClient::new(ch.clone()).max_decoding_message_size(usize::MAX));
        }
        let ep = Endpoint::from_shared(format!("http://{addr}"))
            .map_err(|e| StoreError::Invalid(format!("bad peer address {addr:?}: {e}")))?
            .connect_timeout(Duration::from_secs(1))
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(5))
            .keep_alive_timeout(Duration::from_secs(5));
        let ch = ep.connect_lazy();
        map.insert(addr.to_owned(), ch.clone());
        Ok(RaftServiceClient::new(ch).max_decoding_message_size(usize::MAX))
    }

    /// Calls `rpc` on the peer at `addr` with an encoded `req`, decoding the reply as `Resp`.
    pub async fn call<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        peer: NodeId,
        addr: &str,
        rpc: Rpc,
        req: &Req,
        timeout: Duration,
    ) -> Result<Resp, StoreError> {
        let addr = self.dial.get(&peer).map_or(addr, String::as_str);
        let mut client = self.client(addr)?;
        let payload = Payload { data: encode(req) };
        let fut = async move {
            match rpc {
                Rpc::AppendEntries => client.append_entries(payload).await,
                Rpc::Vote => client.vote(payload).await,
                Rpc::InstallSnapshot => client.install_snapshot(payload).await,
                Rpc::Forward => client.forward(payload).await,
                Rpc::Status => client.status(payload).await,
            }
        };
        let peer_err = |reason: String| StoreError::Peer { peer, addr: addr.to_owned(), reason };
        let reply = tokio::time::timeout(timeout, fut)
            .await
            .map_err(|_| peer_err(format!("no reply within {timeout:?}")))?
            .map_err(|s| peer_err(format!("{}: {}", s.code(), s.message())))?;
        decode(&reply.into_inner().data, "peer reply")
    }
}

/// openraft's network factory: one [`PeerNetwork`] per target.
#[derive(Clone, Default)]
pub struct NetworkFactory {
    /// The shared channel pool.
    pub peers: Peers,
}

impl RaftNetworkFactory<TypeConfig> for NetworkFactory {
    type Network = PeerNetwork;

    async fn new_client(&mut self, target: NodeId, node: &Node) -> Self::Network {
        PeerNetwork { peers: self.peers.clone(), target, addr: node.addr.clone() }
    }
}

/// Connection to one peer.
pub struct PeerNetwork {
    peers: Peers,
    target: NodeId,
    addr: String,
}

impl PeerNetwork {
    async fn send<Req, Resp, E>(
        &self,
        rpc: Rpc,
        req: &Req,
        option: &RPCOption,
    ) -> Result<Resp, RPCError<NodeId, Node, RaftError<NodeId, E>>>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let reply: Result<Resp, RaftError<NodeId, E>> =
            self.peers.call(self.target, &self.addr, rpc, req, option.hard_ttl()).await.map_err(
                |e| match &e {
                    StoreError::Peer { reason, .. } if reason.starts_with("no reply") => {
                        RPCError::Network(NetworkError::new(&e))
                    }
                    _ => RPCError::Unreachable(Unreachable::new(&e)),
                },
            )?;
        reply.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

impl RaftNetwork<TypeConfig> for PeerNetwork {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, Node, RaftError<NodeId>>> {
        self.send(Rpc::AppendEntries, &rpc, &option).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, Node, RaftError<NodeId, InstallSnapshotError>>,
    > {
        self.send(Rpc::InstallSnapshot, &rpc, &option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, Node, RaftError<NodeId>>> {
        self.send(Rpc::Vote, &rpc, &option).await
    }
}
