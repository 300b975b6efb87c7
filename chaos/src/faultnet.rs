//! A fault-injecting TCP network for the Raft links of an istiod cluster.
//!
//! Every directed link `i→j` (node `i` dialing node `j`'s `--raft` port) gets its own loopback
//! TCP proxy, and node `i` is started with `--peers` naming, for every other member `j`, the
//! proxy of `i→j` ([`FaultNet::peers_for`]). Each link has a [`LinkMode`] the nemesis can change
//! at any time; a change applies at once to the link's open connections, not only to new ones:
//!
//! - [`LinkMode::Pass`] forwards bytes as they come.
//! - [`LinkMode::Blackhole`] forwards nothing in either byte direction of the link's connections
//!   (requests `i→j` and their responses `j→i` alike), and new connections are accepted but never
//!   reach the target. Nothing is reset and no error is returned: the bytes are *held*, the way
//!   TCP keeps retransmitting into a partition. The proxy reads up to [`HELD_CHUNKS`] chunks per
//!   byte direction, then stops reading, so the sender's socket buffer fills and its writes block.
//! - [`LinkMode::Delay`] delivers each chunk of bytes `base + uniform(0, jitter)` after the proxy
//!   read it, never before the chunk read before it (no reordering within a stream).
//!
//! **Healing resumes** held connections: the held bytes (and any FIN or reset the sender issued
//! meanwhile) are delivered in order, as TCP would after a partition that ended before its
//! retransmission timeout — so the target may receive late, stale RPCs, which Raft must
//! tolerate. A connection accepted while blackholed dials the target only once the link no
//! longer blackholes. To model connections that died in the partition instead, call
//! [`FaultNet::reset`] / [`FaultNet::reset_all`] (e.g. right after [`FaultNet::heal`]): every open
//! connection of the link is dropped at once and the clients (tonic channels) reconnect.
//!
//! Attribution: istiod dials the address the Raft *membership* holds for a member, and the
//! membership is replicated (after a membership change or a snapshot install every member holds
//! the leader's map). So each member is also started with `--peer-dial` naming, for every other
//! member `j`, the proxy of its own link `i→j`: the dial override wins over the membership, and
//! every byte from `i` to `j` crosses `i→j` ([`crate::cluster`] does this). Members started
//! before a member added mid-run have no proxy for it and dial its advertised address: links
//! towards added members bypass the fault network.

use std::collections::BTreeMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

/// The largest chunk the proxy reads (and delays) at once.
pub const CHUNK_BYTES: usize = 16 * 1024;
/// How many chunks per byte direction of a connection the proxy holds (blackholed or delayed)
/// before it stops reading from the sender.
pub const HELD_CHUNKS: usize = 64;

/// What a directed link does to the bytes of its connections.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum LinkMode {
    /// Forward everything at once.
    #[default]
    Pass,
    /// Forward nothing, in either byte direction; hold the bytes silently (see the module docs).
    Blackhole,
    /// Deliver each chunk `base + uniform(0, jitter)` after it was read, in order.
    Delay {
        /// The fixed part of the delay.
        base: Duration,
        /// The upper bound of the uniformly random extra delay.
        jitter: Duration,
    },
}

/// One directed link's configuration and counters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkStats {
    /// The dialing node.
    pub from: u64,
    /// The node dialed.
    pub to: u64,
    /// The proxy's listening address (what `from` dials).
    pub proxy: SocketAddr,
    /// Where the proxy forwards to (`to`'s Raft address).
    pub target: SocketAddr,
    /// The link's current mode.
    pub mode: LinkMode,
    /// Connections accepted since the start.
    pub connections_accepted: u64,
    /// Connections open now.
    pub connections_open: u64,
    /// Bytes delivered from `from` to `to` (requests).
    pub bytes_to_target: u64,
    /// Bytes delivered from `to` back to `from` (responses).
    pub bytes_from_target: u64,
}

impl LinkStats {
    /// Bytes delivered in both directions.
    pub fn bytes_forwarded(&self) -> u64 {
        self.bytes_to_target + self.bytes_from_target
    }
}

/// What every connection of a link watches.
#[derive(Clone, Copy, Debug, Default)]
struct LinkState {
    mode: LinkMode,
    /// Bumped by [`FaultNet::reset`]: connections accepted under an older epoch close.
    epoch: u64,
}

#[derive(Debug, Default)]
struct Counters {
    accepted: AtomicU64,
    open: AtomicU64,
    to_target: AtomicU64,
    from_target: AtomicU64,
}

/// Counts a connection as open while it lives.
struct OpenGuard(Arc<Counters>);

impl OpenGuard {
    fn new(counters: &Arc<Counters>) -> OpenGuard {
        counters.open.fetch_add(1, Ordering::Relaxed);
        OpenGuard(counters.clone())
    }
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

struct Link {
    proxy: SocketAddr,
    target: SocketAddr,
    state: watch::Sender<LinkState>,
    counters: Arc<Counters>,
    /// The accept loop; it owns the connection tasks, so aborting it aborts them too.
    task: JoinHandle<()>,
}

/// A loopback proxy per directed link between cluster nodes, with per-link faults.
///
/// Dropping it stops every proxy and closes every proxied connection.
pub struct FaultNet {
    targets: BTreeMap<u64, SocketAddr>,
    links: BTreeMap<(u64, u64), Link>,
}

impl std::fmt::Debug for FaultNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultNet")
            .field("targets", &self.targets)
            .field("links", &self.links.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Drop for FaultNet {
    fn drop(&mut self) {
        for link in self.links.values() {
            link.task.abort();
        }
    }
}

impl FaultNet {
    /// Starts a proxy for every ordered pair of distinct nodes in `targets` (node id → its real
    /// Raft address), each listening on `127.0.0.1:0`, every link in [`LinkMode::Pass`].
    pub async fn start(targets: &BTreeMap<u64, SocketAddr>) -> io::Result<FaultNet> {
        let mut net = FaultNet { targets: BTreeMap::new(), links: BTreeMap::new() };
        for (&id, &target) in targets {
            net.add_node(id, target).await?;
        }
        Ok(net)
    }

    /// Adds node `id` (Raft address `target`) and proxies for the links between it and every
    /// node already present, both directions, in [`LinkMode::Pass`] (whatever partition is in
    /// force). On error nothing was added.
    pub async fn add_node(&mut self, id: u64, target: SocketAddr) -> io::Result<()> {
        if self.targets.contains_key(&id) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("node {id} is already in the fault network"),
            ));
        }
        let mut bound = Vec::new();
        for (&other, &other_target) in &self.targets {
            for (pair, to) in [((id, other), other_target), ((other, id), target)] {
                let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
                let proxy = listener.local_addr()?;
                bound.push((pair, to, listener, proxy));
            }
        }
        for (pair, to, listener, proxy) in bound {
            let (state, rx) = watch::channel(LinkState::default());
            let counters = Arc::new(Counters::default());
            let task = tokio::spawn(accept_loop(listener, to, rx, counters.clone()));
            self.links.insert(pair, Link { proxy, target: to, state, counters, task });
        }
        self.targets.insert(id, target);
        Ok(())
    }

    /// The node ids, ascending.
    pub fn nodes(&self) -> Vec<u64> {
        self.targets.keys().copied().collect()
    }

    /// Node `node`'s real Raft address.
    pub fn target(&self, node: u64) -> Option<SocketAddr> {
        self.targets.get(&node).copied()
    }

    /// The proxy address `from` must dial to reach `to`.
    ///
    /// # Panics
    /// If there is no link `from→to` (unknown node, or `from == to`).
    pub fn addr(&self, from: u64, to: u64) -> SocketAddr {
        self.link(from, to).proxy
    }

    /// The `--peers` value for `node`: `1=ADDR,2=ADDR,...` in id order, where `node`'s own entry
    /// is its real Raft address and every other entry is the proxy for `node→other`.
    ///
    /// # Panics
    /// If `node` is not in the network.
    pub fn peers_for(&self, node: u64) -> String {
        assert!(self.targets.contains_key(&node), "node {node} is not in the fault network");
        self.targets
            .iter()
            .map(|(&id, &target)| {
                let addr = if id == node { target } else { self.addr(node, id) };
                format!("{id}={addr}")
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Sets the mode of link `from→to`; it applies to the link's open connections at once.
    ///
    /// # Panics
    /// If there is no link `from→to`.
    pub fn set(&self, from: u64, to: u64, mode: LinkMode) {
        self.link(from, to).state.send_if_modified(|s| {
            let changed = s.mode != mode;
            s.mode = mode;
            changed
        });
    }

    /// The mode of link `from→to`.
    ///
    /// # Panics
    /// If there is no link `from→to`.
    pub fn mode(&self, from: u64, to: u64) -> LinkMode {
        self.link(from, to).state.borrow().mode
    }

    /// Blackholes every link between nodes of different groups and passes every link within a
    /// group. A node in no group is cut off from every other node (a group of its own).
    pub fn partition(&self, groups: &[Vec<u64>]) {
        let group_of = |n: u64| groups.iter().position(|g| g.contains(&n));
        for &(from, to) in self.links.keys() {
            let same = matches!((group_of(from), group_of(to)), (Some(a), Some(b)) if a == b);
            self.set(from, to, if same { LinkMode::Pass } else { LinkMode::Blackhole });
        }
    }

    /// Blackholes every link from and to `node`; other links keep their modes.
    pub fn isolate(&self, node: u64) {
        for &(from, to) in self.links.keys() {
            if from == node || to == node {
                self.set(from, to, LinkMode::Blackhole);
            }
        }
    }

    /// Blackholes link `from→to` and passes the reverse link `to→from`: `from` cannot reach
    /// `to` (nor hear back on those connections), while `to` can reach `from`.
    ///
    /// # Panics
    /// If there is no link `from→to`.
    pub fn one_way(&self, from: u64, to: u64) {
        self.set(from, to, LinkMode::Blackhole);
        self.set(to, from, LinkMode::Pass);
    }

    /// Passes every link. Held connections resume (see the module docs).
    pub fn heal(&self) {
        self.set_all(LinkMode::Pass);
    }

    /// Delays every link by `base + uniform(0, jitter)` per chunk (replacing blackholes too).
    pub fn delay_all(&self, base: Duration, jitter: Duration) {
        self.set_all(LinkMode::Delay { base, jitter });
    }

    /// Sets every link to `mode`.
    pub fn set_all(&self, mode: LinkMode) {
        for &(from, to) in self.links.keys() {
            self.set(from, to, mode);
        }
    }

    /// Closes every connection open on link `from→to` now (held bytes are discarded); new
    /// connections are unaffected.
    ///
    /// # Panics
    /// If there is no link `from→to`.
    pub fn reset(&self, from: u64, to: u64) {
        self.link(from, to).state.send_modify(|s| s.epoch += 1);
    }

    /// [`FaultNet::reset`] on every link.
    pub fn reset_all(&self) {
        for &(from, to) in self.links.keys() {
            self.reset(from, to);
        }
    }

    /// Every link's mode and counters, ordered by `(from, to)`.
    pub fn stats(&self) -> Vec<LinkStats> {
        self.links
            .iter()
            .map(|(&(from, to), link)| LinkStats {
                from,
                to,
                proxy: link.proxy,
                target: link.target,
                mode: link.state.borrow().mode,
                connections_accepted: link.counters.accepted.load(Ordering::Relaxed),
                connections_open: link.counters.open.load(Ordering::Relaxed),
                bytes_to_target: link.counters.to_target.load(Ordering::Relaxed),
                bytes_from_target: link.counters.from_target.load(Ordering::Relaxed),
            })
            .collect()
    }

    fn link(&self, from: u64, to: u64) -> &Link {
        match self.links.get(&(from, to)) {
            Some(link) => link,
            None => panic!("no link {from}->{to} in the fault network"),
        }
    }
}

/// Accepts connections on one link's proxy until aborted; dropping it (abort) drops the
/// `JoinSet`, which aborts every connection task.
async fn accept_loop(
    listener: TcpListener,
    target: SocketAddr,
    state: watch::Receiver<LinkState>,
    counters: Arc<Counters>,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((client, _)) => {
                    counters.accepted.fetch_add(1, Ordering::Relaxed);
                    let guard = OpenGuard::new(&counters);
                    conns.spawn(connection(client, target, state.clone(), counters.clone(), guard));
                }
                // E.g. out of file descriptors: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

/// One proxied connection, until both directions end, either side fails, or the link is reset.
async fn connection(
    client: TcpStream,
    target: SocketAddr,
    state: watch::Receiver<LinkState>,
    counters: Arc<Counters>,
    _open: OpenGuard,
) {
    let epoch = state.borrow().epoch;
    tokio::select! {
        _ = reset_signal(state.clone(), epoch) => {}
        _ = relay(client, target, state, &counters) => {}
    }
}

/// Resolves once the link's connections of `epoch` must close (or the network is gone).
async fn reset_signal(mut state: watch::Receiver<LinkState>, epoch: u64) {
    while state.borrow_and_update().epoch == epoch {
        if state.changed().await.is_err() {
            return;
        }
    }
}

fn gone() -> io::Error {
    io::Error::other("the fault network shut down")
}

async fn relay(
    client: TcpStream,
    target: SocketAddr,
    mut state: watch::Receiver<LinkState>,
    counters: &Counters,
) -> io::Result<()> {
    // Hold a connection accepted during a blackhole, unread, until the link lets bytes through:
    // the target must not even see it.
    while state.borrow_and_update().mode == LinkMode::Blackhole {
        state.changed().await.map_err(|_| gone())?;
    }
    let server = TcpStream::connect(target).await?;
    // Raft RPCs are small and latency-bound; don't add Nagle delays on top of the faults.
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    tokio::try_join!(
        pump(client_read, server_write, state.clone(), &counters.to_target),
        pump(server_read, client_write, state, &counters.from_target),
    )?;
    Ok(())
}

/// What the reader of one byte direction hands its writer.
enum Item {
    Data(Vec<u8>),
    /// The sender closed its side: forward the FIN.
    Eof,
    /// Reading failed (e.g. reset by the peer): close the whole connection, in turn.
    Failed(io::Error),
}

/// Copies one byte direction, applying the link's mode to every chunk. The reader keeps
/// reading (up to [`HELD_CHUNKS`] ahead) while the writer waits, so a delay is latency, not a
/// throughput cap.
async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    mut state: watch::Receiver<LinkState>,
    delivered: &AtomicU64,
) -> io::Result<()> {
    let (tx, mut rx) = mpsc::channel::<(Instant, Item)>(HELD_CHUNKS);
    let reader = async move {
        let mut buf = vec![0u8; CHUNK_BYTES];
        loop {
            let (item, last) = match from.read(&mut buf).await {
                Ok(0) => (Item::Eof, true),
                Ok(n) => (Item::Data(buf[..n].to_vec()), false),
                Err(e) => (Item::Failed(e), true),
            };
            if tx.send((Instant::now(), item)).await.is_err() || last {
                return Ok::<(), io::Error>(());
            }
        }
    };
    let writer = async move {
        // Chunks leave in order: never before the previous one did.
        let mut not_before = Instant::now();
        while let Some((read_at, item)) = rx.recv().await {
            not_before = wait_for_delivery(&mut state, read_at, not_before).await?;
            match item {
                Item::Data(chunk) => {
                    to.write_all(&chunk).await?;
                    delivered.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                }
                Item::Eof => {
                    to.shutdown().await?;
                    return Ok(());
                }
                Item::Failed(e) => return Err(e),
            }
        }
        Ok(())
    };
    tokio::try_join!(reader, writer)?;
    Ok(())
}

/// Waits until a chunk read at `read_at` may be delivered under the link's mode (re-evaluated
/// whenever it changes) and returns the delivery time, which is not before `not_before`.
async fn wait_for_delivery(
    state: &mut watch::Receiver<LinkState>,
    read_at: Instant,
    not_before: Instant,
) -> io::Result<Instant> {
    loop {
        let mode = state.borrow_and_update().mode;
        match mode {
            LinkMode::Pass => return Ok(Instant::now().max(not_before)),
            LinkMode::Blackhole => state.changed().await.map_err(|_| gone())?,
            LinkMode::Delay { base, jitter } => {
                let at = (read_at + base + uniform(jitter)).max(not_before);
                tokio::select! {
                    _ = tokio::time::sleep_until(at) => return Ok(at),
                    changed = state.changed() => changed.map_err(|_| gone())?,
                }
            }
        }
    }
}

/// A uniformly random duration in `[0, max]`.
fn uniform(max: Duration) -> Duration {
    if max.is_zero() {
        return Duration::ZERO;
    }
    let nanos = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(rand::thread_rng().gen_range(0..=nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUND: Duration = Duration::from_secs(10);
    const QUIET: Duration = Duration::from_millis(200);

    /// An echo server on loopback; returns its address.
    async fn echo_server() -> SocketAddr {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = s.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        addr
    }

    /// A network of `n` nodes (ids 1..=n), each "node" an echo server.
    async fn net(n: u64) -> FaultNet {
        let mut targets = BTreeMap::new();
        for id in 1..=n {
            targets.insert(id, echo_server().await);
        }
        FaultNet::start(&targets).await.unwrap()
    }

    async fn connect(net: &FaultNet, from: u64, to: u64) -> TcpStream {
        tokio::time::timeout(BOUND, TcpStream::connect(net.addr(from, to))).await.unwrap().unwrap()
    }

    /// Reads exactly `want.len()` bytes within `limit` and compares them.
    async fn expect_read(s: &mut TcpStream, want: &[u8], limit: Duration) -> Result<(), String> {
        let mut got = vec![0u8; want.len()];
        match tokio::time::timeout(limit, s.read_exact(&mut got)).await {
            Err(_) => Err("timed out".into()),
            Ok(Err(e)) => Err(format!("read failed: {e}")),
            Ok(Ok(_)) if got != want => Err(format!("got {got:?}, want {want:?}")),
            Ok(Ok(_)) => Ok(()),
        }
    }

    async fn roundtrip(s: &mut TcpStream, msg: &[u8]) -> Result<(), String> {
        s.write_all(msg).await.map_err(|e| format!("write failed: {e}"))?;
        expect_read(s, msg, BOUND).await
    }

    /// Asserts that nothing comes back within [`QUIET`] after writing `msg`.
    async fn assert_blocked(s: &mut TcpStream, msg: &[u8]) {
        s.write_all(msg).await.unwrap();
        let mut buf = [0u8; 64];
        let r = tokio::time::timeout(QUIET, s.read(&mut buf)).await;
        assert!(r.is_err(), "expected nothing within {QUIET:?}, got {r:?}");
    }

    /// Asserts that a fresh connection over `from→to` echoes.
    async fn assert_link_passes(net: &FaultNet, from: u64, to: u64) {
        let mut s = connect(net, from, to).await;
        if let Err(e) = roundtrip(&mut s, b"probe").await {
            panic!("link {from}->{to} does not pass: {e}");
        }
    }

    /// Asserts that a fresh connection over `from→to` echoes nothing within [`QUIET`].
    async fn assert_link_blocked(net: &FaultNet, from: u64, to: u64) {
        let mut s = connect(net, from, to).await;
        assert_blocked(&mut s, b"probe").await;
    }

    async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
        let deadline = Instant::now() + BOUND;
        while !cond() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    fn stats(net: &FaultNet, from: u64, to: u64) -> LinkStats {
        net.stats().into_iter().find(|s| s.from == from && s.to == to).unwrap()
    }

    #[tokio::test]
    async fn pass_delivers_and_counts() {
        let net = net(2).await;
        let mut s = connect(&net, 1, 2).await;
        roundtrip(&mut s, b"hello").await.unwrap();
        roundtrip(&mut s, b"again").await.unwrap();
        eventually("counters", || {
            let st = stats(&net, 1, 2);
            st.bytes_to_target == 10 && st.bytes_from_target == 10
        })
        .await;
        let st = stats(&net, 1, 2);
        assert_eq!((st.connections_accepted, st.connections_open, st.mode), (1, 1, LinkMode::Pass));
        assert_eq!(st.bytes_forwarded(), 20);
        assert_eq!(stats(&net, 2, 1).connections_accepted, 0);
        let json = serde_json::to_value(net.stats()).unwrap();
        assert_eq!(json.as_array().unwrap().len(), 2);
        drop(s);
        eventually("connection closed", || stats(&net, 1, 2).connections_open == 0).await;
    }

    #[tokio::test]
    async fn peers_for_names_proxies_and_own_address() {
        let net = net(3).await;
        let own = net.target(2).unwrap();
        let want = format!("1={},2={own},3={}", net.addr(2, 1), net.addr(2, 3));
        assert_eq!(net.peers_for(2), want);
        assert_ne!(net.addr(1, 2), net.addr(2, 1));
        assert_eq!(net.stats().len(), 6);
        assert_eq!(net.nodes(), vec![1, 2, 3]);
        fn shareable<T: Send + Sync>(_: &T) {}
        shareable(&net);
    }

    #[tokio::test]
    async fn blackhole_stops_open_and_new_connections_and_heal_resumes() {
        let net = net(2).await;
        let mut old = connect(&net, 1, 2).await;
        roundtrip(&mut old, b"before").await.unwrap();

        net.set(1, 2, LinkMode::Blackhole);
        assert_eq!(net.mode(1, 2), LinkMode::Blackhole);
        assert_blocked(&mut old, b"held-old").await;
        let mut new = connect(&net, 1, 2).await;
        assert_blocked(&mut new, b"held-new").await;
        eventually("both accepted", || stats(&net, 1, 2).connections_accepted == 2).await;
        assert_eq!(stats(&net, 1, 2).bytes_to_target, 6);
        // The reverse link is a different link: unaffected.
        assert_link_passes(&net, 2, 1).await;

        net.heal();
        expect_read(&mut old, b"held-old", BOUND).await.unwrap();
        expect_read(&mut new, b"held-new", BOUND).await.unwrap();
        roundtrip(&mut old, b"after").await.unwrap();
        roundtrip(&mut new, b"after").await.unwrap();
        assert_link_passes(&net, 1, 2).await;
    }

    #[tokio::test]
    async fn blackhole_holds_responses_too() {
        let net = net(2).await;
        let mut s = connect(&net, 1, 2).await;
        roundtrip(&mut s, b"x").await.unwrap();
        // Let the request through, then blackhole while the (delayed) echo is on its way back:
        // the response must not come back either.
        net.set(1, 2, LinkMode::Delay { base: Duration::from_millis(300), jitter: Duration::ZERO });
        s.write_all(b"request").await.unwrap();
        eventually("request delivered", || stats(&net, 1, 2).bytes_to_target == 8).await;
        net.set(1, 2, LinkMode::Blackhole);
        let mut buf = [0u8; 16];
        let r = tokio::time::timeout(QUIET, s.read(&mut buf)).await;
        assert!(r.is_err(), "the response came back through a blackhole: {r:?}");
        net.heal();
        expect_read(&mut s, b"request", BOUND).await.unwrap();
    }

    #[tokio::test]
    async fn reset_closes_open_connections() {
        let net = net(2).await;
        let mut s = connect(&net, 1, 2).await;
        roundtrip(&mut s, b"hi").await.unwrap();
        net.set(1, 2, LinkMode::Blackhole);
        net.heal();
        net.reset(1, 2);
        let mut buf = [0u8; 8];
        let r = tokio::time::timeout(BOUND, s.read(&mut buf)).await.unwrap();
        assert!(matches!(r, Ok(0) | Err(_)), "expected EOF or reset, got {r:?}");
        let mut fresh = connect(&net, 1, 2).await;
        roundtrip(&mut fresh, b"reconnected").await.unwrap();
        eventually("old connection gone", || stats(&net, 1, 2).connections_open == 1).await;
    }

    #[tokio::test]
    async fn delay_delays_by_at_least_base_and_keeps_order() {
        let net = net(2).await;
        let mut s = connect(&net, 1, 2).await;
        roundtrip(&mut s, b"warm").await.unwrap();
        let base = Duration::from_millis(100);
        net.delay_all(base, Duration::from_millis(30));
        let started = Instant::now();
        roundtrip(&mut s, b"slow").await.unwrap();
        // The request and the echo both cross the link.
        assert!(started.elapsed() >= 2 * base, "took only {:?}", started.elapsed());

        net.set(1, 2, LinkMode::Delay { base: Duration::ZERO, jitter: Duration::from_millis(20) });
        let mut sent = Vec::new();
        for i in 0..100u32 {
            let msg = format!("{i},");
            s.write_all(msg.as_bytes()).await.unwrap();
            sent.extend_from_slice(msg.as_bytes());
            if i % 10 == 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        expect_read(&mut s, &sent, BOUND).await.unwrap();
    }

    #[tokio::test]
    async fn one_way_blocks_exactly_one_link() {
        let net = net(2).await;
        net.set(2, 1, LinkMode::Blackhole);
        net.one_way(1, 2);
        assert_eq!(net.mode(1, 2), LinkMode::Blackhole);
        assert_eq!(net.mode(2, 1), LinkMode::Pass);
        assert_link_blocked(&net, 1, 2).await;
        assert_link_passes(&net, 2, 1).await;
    }

    #[tokio::test]
    async fn partition_isolate_and_heal() {
        let net = net(3).await;
        net.partition(&[vec![1, 2], vec![3]]);
        for (from, to, pass) in
            [(1, 2, true), (2, 1, true), (1, 3, false), (3, 1, false), (2, 3, false), (3, 2, false)]
        {
            let want = if pass { LinkMode::Pass } else { LinkMode::Blackhole };
            assert_eq!(net.mode(from, to), want, "{from}->{to}");
        }
        assert_link_passes(&net, 1, 2).await;
        assert_link_blocked(&net, 1, 3).await;
        assert_link_blocked(&net, 3, 2).await;

        net.heal();
        assert!(net.stats().iter().all(|s| s.mode == LinkMode::Pass));
        assert_link_passes(&net, 3, 2).await;

        net.isolate(2);
        for s in net.stats() {
            let cut = s.from == 2 || s.to == 2;
            assert_eq!(s.mode == LinkMode::Blackhole, cut, "{}->{}", s.from, s.to);
        }
        assert_link_passes(&net, 1, 3).await;
        assert_link_blocked(&net, 1, 2).await;

        // A node in no group is cut off.
        net.partition(&[vec![1, 3]]);
        assert_eq!(net.mode(1, 3), LinkMode::Pass);
        assert_eq!(net.mode(2, 1), LinkMode::Blackhole);
    }

    #[tokio::test]
    async fn add_node_binds_both_directions() {
        let mut net = net(2).await;
        let echo = echo_server().await;
        net.add_node(3, echo).await.unwrap();
        assert!(net.add_node(3, echo).await.is_err());
        assert_eq!(net.stats().len(), 6);
        assert_link_passes(&net, 1, 3).await;
        assert_link_passes(&net, 3, 2).await;
        assert!(net.peers_for(3).contains(&format!("3={echo}")));
    }

    #[tokio::test]
    async fn drop_closes_listeners_and_connections() {
        let net = net(2).await;
        let addr = net.addr(1, 2);
        let mut s = connect(&net, 1, 2).await;
        roundtrip(&mut s, b"hi").await.unwrap();
        drop(net);
        let mut buf = [0u8; 8];
        let r = tokio::time::timeout(BOUND, s.read(&mut buf)).await.unwrap();
        assert!(matches!(r, Ok(0) | Err(_)), "expected EOF or reset, got {r:?}");
        let deadline = Instant::now() + BOUND;
        while TcpStream::connect(addr).await.is_ok() {
            assert!(Instant::now() < deadline, "the proxy still accepts after drop");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}
