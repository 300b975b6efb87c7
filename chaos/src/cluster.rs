//! The cluster under test: real `istiod` processes on loopback, each Raft link through the
//! [`crate::faultnet::FaultNet`], with the process faults the nemesis needs — SIGKILL, SIGTERM,
//! SIGSTOP/SIGCONT, restart — and membership changes through the HTTP API.

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::faultnet::FaultNet;
use crate::ChaosError;

/// A free loopback port for a member's listener, chosen below Linux's ephemeral range
/// (32768–60999): the proxies and every outgoing connection take ports from that range, so a
/// member restarted mid-run never finds its port taken by one of them.
pub fn free_addr() -> Result<SocketAddr, ChaosError> {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    for _ in 0..1000 {
        let port = rng.gen_range(20_000..32_000);
        if let Ok(l) = TcpListener::bind(("127.0.0.1", port)) {
            return Ok(l.local_addr()?);
        }
    }
    Err(ChaosError::Process("no free port in 20000..32000".into()))
}

/// One member process.
#[derive(Debug)]
pub struct Node {
    /// Member id.
    pub id: u64,
    /// HTTP API address.
    pub http: SocketAddr,
    /// gRPC address.
    pub grpc: SocketAddr,
    /// Raft address (the proxies forward to it).
    pub raft: SocketAddr,
    /// Data directory.
    pub dir: PathBuf,
    log: PathBuf,
    child: Option<Child>,
    paused: bool,
    /// `--peers` for a founding member, `--join URL` for one added later.
    start_args: Vec<String>,
}

impl Node {
    /// `http://<http addr><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http)
    }

    /// Whether the process runs (it may be paused).
    pub fn running(&self) -> bool {
        self.child.is_some()
    }

    /// Its process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether it is stopped with SIGSTOP.
    pub fn paused(&self) -> bool {
        self.paused
    }

    /// The tail of its log.
    pub fn log_tail(&self, lines: usize) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    fn signal(&self, sig: &str) -> Result<(), ChaosError> {
        let Some(c) = &self.child else { return Ok(()) };
        let st = Command::new("kill").arg(format!("-{sig}")).arg(c.id().to_string()).status()?;
        if st.success() {
            Ok(())
        } else {
            Err(ChaosError::Process(format!("kill -{sig} {} failed", c.id())))
        }
    }
}

/// The `istiod` binary next to the running one (`chaos` and `bench` are built with it).
pub fn sibling_istiod() -> Result<PathBuf, ChaosError> {
    let exe = std::env::current_exe()?;
    let bin = exe.with_file_name("istiod");
    if !bin.exists() {
        return Err(ChaosError::Process(format!(
            "no istiod next to {}; build it (`cargo build --release -p istio-api --bins`) or pass --istiod",
            exe.display()
        )));
    }
    Ok(bin)
}

/// Settings every member gets.
#[derive(Clone, Debug)]
pub struct ClusterConfig {
    /// The `istiod` binary.
    pub istiod: PathBuf,
    /// Where data dirs and logs go.
    pub root: PathBuf,
    /// Extra flags for every member.
    pub args: Vec<String>,
    /// Founding members dial each other directly instead of through the fault network (for
    /// benchmarks: no proxy hop on the Raft links; faults on those links then do nothing).
    pub direct: bool,
}

/// N members behind a fault network.
#[derive(Debug)]
pub struct Cluster {
    cfg: ClusterConfig,
    /// Members by id (including removed ones that still run until stopped).
    pub nodes: BTreeMap<u64, Node>,
    /// The fault network between them.
    pub net: FaultNet,
}

impl Cluster {
    /// Starts `n` founding members (ids 1..=n) and waits until each serves.
    pub async fn start(cfg: ClusterConfig, n: u64) -> Result<Cluster, ChaosError> {
        std::fs::create_dir_all(&cfg.root)?;
        let mut targets = BTreeMap::new();
        let mut nodes = BTreeMap::new();
        for id in 1..=n {
            let node = Node {
                id,
                http: free_addr()?,
                grpc: free_addr()?,
                raft: free_addr()?,
                dir: cfg.root.join(format!("node{id}")),
                log: cfg.root.join(format!("node{id}.log")),
                child: None,
                paused: false,
                start_args: vec![],
            };
            targets.insert(id, node.raft);
            nodes.insert(id, node);
        }
        let net = FaultNet::start(&targets).await?;
        let direct_peers =
            targets.iter().map(|(id, a)| format!("{id}={a}")).collect::<Vec<_>>().join(",");
        for node in nodes.values_mut() {
            if cfg.direct {
                node.start_args = vec!["--peers".into(), direct_peers.clone()];
                continue;
            }
            node.start_args = vec!["--peers".into(), net.peers_for(node.id)];
            let dial = dial_for(&net, node.id);
            // A one-member cluster has no links to dial.
            if !dial.is_empty() {
                node.start_args.extend(["--peer-dial".into(), dial]);
            }
        }
        let mut c = Cluster { cfg, nodes, net };
        for id in 1..=n {
            c.spawn(id)?;
        }
        for id in 1..=n {
            c.wait_serving(id).await?;
        }
        Ok(c)
    }

    fn spawn(&mut self, id: u64) -> Result<(), ChaosError> {
        let cfg = &self.cfg;
        let node = self.nodes.get_mut(&id).ok_or(ChaosError::NoSuchNode(id))?;
        if node.child.is_some() {
            return Ok(());
        }
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&node.log)?;
        let child = Command::new(&cfg.istiod)
            .arg("--id")
            .arg(id.to_string())
            .arg("--data-dir")
            .arg(&node.dir)
            .arg("--http")
            .arg(node.http.to_string())
            .arg("--grpc")
            .arg(node.grpc.to_string())
            .arg("--raft")
            .arg(node.raft.to_string())
            .args(&node.start_args)
            .args(&cfg.args)
            .env("RUST_LOG", "info,openraft=warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .map_err(|e| {
                ChaosError::Process(format!("cannot run {}: {e}", cfg.istiod.display()))
            })?;
        node.child = Some(child);
        node.paused = false;
        Ok(())
    }

    /// Waits until member `id` answers `/healthz`.
    pub async fn wait_serving(&mut self, id: u64) -> Result<(), ChaosError> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = http_client()?;
        loop {
            let node = self.nodes.get_mut(&id).ok_or(ChaosError::NoSuchNode(id))?;
            if let Some(c) = node.child.as_mut() {
                if let Some(st) = c.try_wait()? {
                    node.child = None;
                    return Err(ChaosError::Process(format!(
                        "istiod {id} exited with {st} at start-up:\n{}",
                        node.log_tail(30)
                    )));
                }
            }
            let url = node.url("/healthz");
            if client.get(&url).send().await.is_ok_and(|r| r.status().is_success()) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(ChaosError::Process(format!(
                    "istiod {id} did not serve within 30s:\n{}",
                    node.log_tail(30)
                )));
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// A member.
    pub fn node(&self, id: u64) -> Result<&Node, ChaosError> {
        self.nodes.get(&id).ok_or(ChaosError::NoSuchNode(id))
    }

    /// SIGKILL member `id` and reap it.
    pub fn kill(&mut self, id: u64) -> Result<(), ChaosError> {
        let node = self.nodes.get_mut(&id).ok_or(ChaosError::NoSuchNode(id))?;
        if let Some(mut c) = node.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        node.paused = false;
        Ok(())
    }

    /// SIGTERM member `id` and wait (up to 20 s, then SIGKILL) for it to exit.
    pub async fn terminate(&mut self, id: u64) -> Result<(), ChaosError> {
        let node = self.nodes.get_mut(&id).ok_or(ChaosError::NoSuchNode(id))?;
        if node.paused {
            node.signal("CONT")?;
            node.paused = false;
        }
        node.signal("TERM")?;
        let deadline = Instant::now() + Duration::from_secs(20);
        while let Some(c) = node.child.as_mut() {
            if c.try_wait()?.is_some() {
                node.child = None;
                break;
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                let _ = c.wait();
                node.child = None;
                return Err(ChaosError::Process(format!(
                    "istiod {id} did not exit within 20s of SIGTERM"
                )));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    /// Restarts member `id` (if not running) and waits until it serves.
    pub async fn restart(&mut self, id: u64) -> Result<(), ChaosError> {
        self.spawn(id)?;
        self.wait_serving(id).await
    }

    /// SIGSTOP member `id`.
    pub fn pause(&mut self, id: u64) -> Result<(), ChaosError> {
        let node = self.nodes.get_mut(&id).ok_or(ChaosError::NoSuchNode(id))?;
        if node.child.is_some() && !node.paused {
            node.signal("STOP")?;
            node.paused = true;
        }
        Ok(())
    }

    /// SIGCONT member `id`.
    pub fn resume(&mut self, id: u64) -> Result<(), ChaosError> {
        let node = self.nodes.get_mut(&id).ok_or(ChaosError::NoSuchNode(id))?;
        if node.paused {
            node.signal("CONT")?;
            node.paused = false;
        }
        Ok(())
    }

    /// Adds a member: starts it with `--join` through member `via` and waits until the
    /// cluster lists it as a voter.
    pub async fn add_member(&mut self, via: u64) -> Result<u64, ChaosError> {
        let id = self.nodes.keys().max().copied().unwrap_or(0) + 1;
        let raft = free_addr()?;
        self.net.add_node(id, raft).await?;
        let join = self.node(via)?.url("");
        let node = Node {
            id,
            http: free_addr()?,
            grpc: free_addr()?,
            raft,
            dir: self.cfg.root.join(format!("node{id}")),
            log: self.cfg.root.join(format!("node{id}.log")),
            child: None,
            paused: false,
            // Members started before this one dial it at its advertised address (they have no
            // proxy for it): links towards a member added mid-run bypass the fault network.
            start_args: vec!["--join".into(), join, "--peer-dial".into(), dial_for(&self.net, id)],
        };
        self.nodes.insert(id, node);
        self.restart(id).await?;
        let what = format!("voter {id}");
        poll_until(Duration::from_secs(30), &what, || async {
            Ok(self.members().await.is_ok_and(|m| m.contains(&id)).then_some(id))
        })
        .await
    }

    /// Removes member `id` from the cluster (through any other running member), then stops
    /// its process.
    pub async fn remove_member(&mut self, id: u64) -> Result<(), ChaosError> {
        let client = http_client()?;
        let what = format!("member that removes {id}");
        poll_until(Duration::from_secs(30), &what, || async {
            for via in self.running_ids().into_iter().filter(|v| *v != id) {
                let url = self.node(via)?.url(&format!("/v1/cluster/members/{id}"));
                if let Ok(r) = client.delete(&url).send().await {
                    if r.status().is_success() || r.status().as_u16() == 404 {
                        return Ok(Some(()));
                    }
                }
            }
            Ok(None)
        })
        .await?;
        self.terminate(id).await
    }

    /// Ids of members whose process runs (paused or not).
    pub fn running_ids(&self) -> Vec<u64> {
        self.nodes.values().filter(|n| n.running()).map(|n| n.id).collect()
    }

    /// The voters, as the first member that answers says.
    pub async fn members(&self) -> Result<Vec<u64>, ChaosError> {
        let status = self.status_any().await?;
        Ok(status["members"]
            .as_array()
            .map(|m| {
                m.iter()
                    .filter(|m| m["voter"].as_bool() != Some(false))
                    .filter_map(|m| m["id"].as_u64())
                    .collect()
            })
            .unwrap_or_default())
    }

    /// `/v1/cluster` from the first running, unpaused member that answers.
    pub async fn status_any(&self) -> Result<Value, ChaosError> {
        let client = http_client()?;
        for n in self.nodes.values().filter(|n| n.running() && !n.paused) {
            if let Ok(r) = client.get(n.url("/v1/cluster")).send().await {
                if let Ok(v) = r.json::<Value>().await {
                    return Ok(v);
                }
            }
        }
        Err(ChaosError::Process("no member answers /v1/cluster".into()))
    }

    /// Waits until some member reports a leader; returns it.
    pub async fn wait_leader(&self, timeout: Duration) -> Result<u64, ChaosError> {
        poll_until(timeout, "leader", || async { Ok(self.leader().await) }).await
    }

    /// The current leader, if a running member knows one.
    pub async fn leader(&self) -> Option<u64> {
        let client = http_client().ok()?;
        for n in self.nodes.values().filter(|n| n.running() && !n.paused) {
            if let Ok(r) = client.get(n.url("/v1/cluster")).send().await {
                if let Ok(v) = r.json::<Value>().await {
                    if let Some(l) = v["leader"].as_u64() {
                        return Some(l);
                    }
                }
            }
        }
        None
    }

    /// Stops everything (SIGKILL).
    pub fn shutdown(&mut self) {
        let ids: Vec<u64> = self.nodes.keys().copied().collect();
        for id in ids {
            let _ = self.resume(id);
            let _ = self.kill(id);
        }
    }

    /// Where member data and logs live.
    pub fn root(&self) -> &Path {
        &self.cfg.root
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// `--peer-dial` for member `id`: every other member through the proxy of the link `id -> it`,
/// so the link stays attributable even after the membership (and its advertised addresses)
/// comes from another member.
fn dial_for(net: &FaultNet, id: u64) -> String {
    net.nodes()
        .into_iter()
        .filter(|n| *n != id)
        .map(|n| format!("{n}={}", net.addr(id, n)))
        .collect::<Vec<_>>()
        .join(",")
}

/// Polls `f` every 25 ms until it yields a value, or fails with [`ChaosError::Liveness`] naming
/// `what` once `timeout` has passed (or at once with `f`'s own error): the one way this crate
/// and the benches wait on state they can only observe from outside a process.
pub async fn poll_until<T, F, Fut>(timeout: Duration, what: &str, mut f: F) -> Result<T, ChaosError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>, ChaosError>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f().await? {
            return Ok(v);
        }
        if Instant::now() > deadline {
            return Err(ChaosError::Liveness(format!("no {what} within {timeout:?}")));
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The HTTP client chaos uses for control requests (short timeouts).
pub fn http_client() -> Result<reqwest::Client, ChaosError> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .connect_timeout(Duration::from_millis(500))
        .build()
        .map_err(|e| ChaosError::Process(format!("http client: {e}")))
}
