//! Harness for end-to-end tests: builds `istiod`, runs real processes on loopback with their
//! own data dirs, kills (SIGKILL) / stops (SIGTERM) / restarts them, and offers HTTP helpers
//! and condition waits (no fixed sleeps).

pub mod ads;

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

/// The `istiod` binary, built (with every other binary of istio-api, `istioctl` included) once
/// per test process with the same profile as the tests.
pub fn istiod_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cmd.args(["build", "-q", "-p", "istio-api", "--bins", "--manifest-path"]).arg(&manifest);
        if !cfg!(debug_assertions) {
            cmd.arg("--release");
        }
        let st = cmd.status().expect("run cargo to build istiod");
        assert!(st.success(), "building istiod failed");
        // Tests run from target/<profile>/deps/<test>; the binary is in target/<profile>.
        let exe = std::env::current_exe().expect("current exe");
        let dir = exe.parent().and_then(Path::parent).expect("target dir");
        let bin = dir.join("istiod");
        assert!(bin.exists(), "istiod not found at {}", bin.display());
        bin
    })
}

/// The `istioctl` binary (built together with istiod by [`istiod_bin`]).
pub fn istioctl_bin() -> PathBuf {
    let bin = istiod_bin().with_file_name("istioctl");
    assert!(bin.exists(), "istioctl not found at {}", bin.display());
    bin
}

/// A free loopback port (bound and released; good enough for tests).
pub fn free_addr() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind :0");
    l.local_addr().expect("local addr")
}

/// One istiod process.
pub struct Istiod {
    /// Member id.
    pub id: u64,
    /// HTTP address.
    pub http: SocketAddr,
    /// Raft address.
    pub raft: SocketAddr,
    /// gRPC address.
    pub grpc: SocketAddr,
    /// Data dir.
    pub dir: PathBuf,
    /// Flags beyond id/addresses/data dir.
    pub args: Vec<String>,
    log: PathBuf,
    child: Option<Child>,
}

impl Istiod {
    /// Describes a member; nothing runs until [`Istiod::start`].
    pub fn new(root: &Path, id: u64, args: Vec<String>) -> Self {
        let dir = root.join(format!("node{id}"));
        Self {
            id,
            http: free_addr(),
            raft: free_addr(),
            grpc: free_addr(),
            log: root.join(format!("node{id}.log")),
            dir,
            args,
            child: None,
        }
    }

    /// Starts (or restarts) the process.
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "node {} already running", self.id);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open log");
        let child = Command::new(istiod_bin())
            .arg("--id")
            .arg(self.id.to_string())
            .arg("--data-dir")
            .arg(&self.dir)
            .arg("--http")
            .arg(self.http.to_string())
            .arg("--raft")
            .arg(self.raft.to_string())
            .arg("--grpc")
            .arg(self.grpc.to_string())
            .args(&self.args)
            .env("RUST_LOG", "info,openraft=warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log"))
            .stderr(log)
            .spawn()
            .expect("spawn istiod");
        self.child = Some(child);
    }

    /// Waits until the process serves (its log says so). `Ok(false)` when it exited because a
    /// port was taken — ports come from [`free_addr`], which can race with other tests — so
    /// the caller can pick new ports and try again.
    pub async fn wait_serving(&mut self) -> Result<bool> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if self.log().contains("istiod serving") {
                return Ok(true);
            }
            if let Some(c) = self.child.as_mut() {
                if let Some(status) = c.try_wait()? {
                    self.child = None;
                    let log = self.log();
                    if log.contains("cannot listen on") {
                        return Ok(false);
                    }
                    bail!("istiod {} exited with {status} at start-up:\n{log}", self.id);
                }
            }
            if Instant::now() > deadline {
                bail!("istiod {} did not start serving within 30s:\n{}", self.id, self.log());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// New ports (after a port clash) and a fresh log.
    fn new_ports(&mut self) {
        self.http = free_addr();
        self.raft = free_addr();
        self.grpc = free_addr();
        let _ = std::fs::remove_file(&self.log);
    }

    /// Whether the process is running (as far as we started it).
    pub fn running(&self) -> bool {
        self.child.is_some()
    }

    /// SIGKILL, and reap.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, and wait for the exit status.
    pub fn terminate(&mut self) -> Result<ExitStatus> {
        let mut c = self.child.take().context("not running")?;
        let st = Command::new("kill").arg("-TERM").arg(c.id().to_string()).status()?;
        if !st.success() {
            bail!("kill -TERM failed");
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(s) = c.try_wait()? {
                return Ok(s);
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                bail!("istiod {} did not exit within 20s of SIGTERM", self.id);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `http://<http addr><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.http, path)
    }

    /// The process log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Istiod {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = self.log();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!("---- istiod {} log (last 40 lines) ----", self.id);
            for l in tail.into_iter().rev() {
                eprintln!("{l}");
            }
        }
        self.kill();
    }
}

/// A cluster of istiod processes sharing one temp dir.
pub struct Cluster {
    /// Members, index = id - 1.
    pub nodes: Vec<Istiod>,
    /// HTTP client.
    pub client: reqwest::Client,
    root: tempfile::TempDir,
}

/// Polls `f` every 25 ms until it returns `Some`, or fails after `timeout` with `what`.
pub async fn wait_for<T, F, Fut>(timeout: Duration, what: &str, mut f: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return Ok(v);
        }
        if Instant::now() > deadline {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A valid VirtualService named `name`; `value` is carried in the `value` label so tests can
/// tell versions apart.
pub fn object(name: &str, value: &str) -> Value {
    json!({
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": name, "namespace": "default", "labels": {"value": value}},
        "spec": {
            "hosts": [format!("{name}.example.com")],
            "http": [{"route": [{"destination": {"host": format!("{name}.default.svc.cluster.local")}}]}],
        },
    })
}

/// Collection path of the test objects.
pub const VS: &str = "/apis/networking.istio.io/v1/namespaces/default/virtualservices";

impl Cluster {
    /// GETs `url` until `ok` holds of its JSON body (`timeout` at most; `what` names the
    /// condition in the error). Returns that body.
    pub async fn wait_json(
        &self,
        url: &str,
        timeout: Duration,
        what: &str,
        ok: impl Fn(&Value) -> bool,
    ) -> Result<Value> {
        wait_for(timeout, what, || async {
            let v: Value = self.client.get(url).send().await.ok()?.json().await.ok()?;
            ok(&v).then_some(v)
        })
        .await
    }

    /// Starts `n` members with `--peers` and `args`, and waits for a leader.
    pub async fn start(n: u64, args: &[&str]) -> Result<Self> {
        Self::start_in(tempfile::tempdir()?, n, args).await
    }

    /// Like [`Cluster::start`], with member data dirs `root/node<id>` (which may be seeded).
    pub async fn start_in(root: tempfile::TempDir, n: u64, args: &[&str]) -> Result<Self> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let mut nodes: Vec<Istiod> =
            (1..=n).map(|id| Istiod::new(root.path(), id, args.clone())).collect();
        Self::launch(&mut nodes, &args, true).await?;
        let c = Self { nodes, client: client(), root };
        c.wait_leader(Duration::from_secs(20)).await?;
        Ok(c)
    }

    /// Starts every member (with `--peers` when `peers`), retrying on fresh ports when one
    /// could not be bound. A retry also empties the data dirs this call created: the members
    /// that did start may already have formed a cluster whose membership names the old ports.
    async fn launch(nodes: &mut [Istiod], args: &[String], peers: bool) -> Result<()> {
        let fresh: Vec<bool> = nodes.iter().map(|m| !m.dir.exists()).collect();
        for attempt in 0..5 {
            if attempt > 0 {
                for (m, fresh) in nodes.iter_mut().zip(&fresh) {
                    m.kill();
                    m.new_ports();
                    if *fresh {
                        let _ = std::fs::remove_dir_all(&m.dir);
                    }
                }
            }
            let list =
                nodes.iter().map(|m| format!("{}={}", m.id, m.raft)).collect::<Vec<_>>().join(",");
            for m in nodes.iter_mut() {
                m.args = args.to_vec();
                if peers {
                    m.args.push("--peers".into());
                    m.args.push(list.clone());
                }
                m.start();
            }
            let mut all = true;
            for m in nodes.iter_mut() {
                all &= m.wait_serving().await?;
            }
            if all {
                return Ok(());
            }
        }
        bail!("could not find free ports for the cluster in 5 attempts")
    }

    /// A cluster of one node started with `args` and no `--peers` (the dev default).
    pub async fn single(args: &[&str]) -> Result<Self> {
        Self::single_as(args, None).await
    }

    /// Like [`Cluster::single`], with `token` sent as bearer token on every harness request.
    pub async fn single_as(args: &[&str], token: Option<&str>) -> Result<Self> {
        let root = tempfile::tempdir()?;
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let mut nodes = vec![Istiod::new(root.path(), 1, args.clone())];
        Self::launch(&mut nodes, &args, false).await?;
        let node = nodes.remove(0);
        let client = match token {
            Some(t) => client_with_token(t),
            None => client(),
        };
        let c = Self { nodes: vec![node], client, root };
        c.wait_leader(Duration::from_secs(20)).await?;
        Ok(c)
    }

    /// Temp root of the cluster.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// Member by id.
    pub fn node(&self, id: u64) -> &Istiod {
        self.nodes.iter().find(|n| n.id == id).expect("no such node")
    }

    /// Mutable member by id.
    pub fn node_mut(&mut self, id: u64) -> &mut Istiod {
        self.nodes.iter_mut().find(|n| n.id == id).expect("no such node")
    }

    /// `GET /v1/cluster` from member `id`.
    pub async fn status(&self, id: u64) -> Result<Value> {
        let r = self.client.get(self.node(id).url("/v1/cluster")).send().await?;
        Ok(r.error_for_status()?.json().await?)
    }

    /// Waits until every running member agrees on a leader that is itself running and
    /// ready; returns its id.
    pub async fn wait_leader(&self, timeout: Duration) -> Result<u64> {
        self.with_logs(self.wait_leader_inner(timeout).await)
    }

    /// Adds the tail of every member's log to an error, so a failed wait explains itself.
    pub fn with_logs<T>(&self, r: Result<T>) -> Result<T> {
        r.map_err(|e| {
            let mut msg = format!("{e:#}");
            for n in &self.nodes {
                let log = n.log();
                let tail: Vec<&str> = log.lines().rev().take(15).collect();
                msg.push_str(&format!("\n---- istiod {} log (tail) ----\n", n.id));
                for l in tail.into_iter().rev() {
                    msg.push_str(l);
                    msg.push('\n');
                }
            }
            anyhow::anyhow!(msg)
        })
    }

    async fn wait_leader_inner(&self, timeout: Duration) -> Result<u64> {
        wait_for(timeout, "a leader that every running member agrees on", || async {
            let mut leader = None;
            for n in self.nodes.iter().filter(|n| n.running()) {
                let s = self.status(n.id).await.ok()?;
                let l = s["leader"].as_u64()?;
                if leader.is_some_and(|x| x != l) {
                    return None;
                }
                leader = Some(l);
            }
            let l = leader?;
            let ln = self.nodes.iter().find(|n| n.id == l && n.running())?;
            let ready = self.client.get(ln.url("/readyz")).send().await.ok()?;
            ready.status().is_success().then_some(l)
        })
        .await
    }

    /// Waits until every running member has applied the same revision with the same state
    /// hash; returns `(revision, hash)`.
    pub async fn wait_converged(&self, timeout: Duration) -> Result<(u64, String)> {
        self.with_logs(self.wait_converged_inner(timeout).await)
    }

    /// Member `id`'s applied revision and state hash, as it reports them itself.
    pub async fn applied(&self, id: u64) -> Option<(u64, String)> {
        let s = self.status(id).await.ok()?;
        let me = s["members"].as_array()?.iter().find(|m| m["id"] == id)?;
        let a = &me["status"]["applied"];
        Some((a["revision"].as_u64()?, a["stateHash"].as_str()?.to_owned()))
    }

    async fn wait_converged_inner(&self, timeout: Duration) -> Result<(u64, String)> {
        wait_for(timeout, "all running members at the same revision and state hash", || async {
            let mut seen: Option<(u64, String)> = None;
            for n in self.nodes.iter().filter(|n| n.running()) {
                let cur = self.applied(n.id).await?;
                if seen.as_ref().is_some_and(|s| *s != cur) {
                    return None;
                }
                seen = Some(cur);
            }
            seen
        })
        .await
    }

    /// PUT the test object `name` through member `id`.
    pub async fn put(&self, id: u64, name: &str, value: &str) -> Result<reqwest::Response> {
        Ok(self
            .client
            .put(self.node(id).url(&format!("{VS}/{name}")))
            .json(&object(name, value))
            .send()
            .await?)
    }

    /// GET the test object `name` from member `id`, locally (no leader round trip).
    pub async fn get_local(&self, id: u64, name: &str) -> Result<Option<Value>> {
        let r = self
            .client
            .get(self.node(id).url(&format!("{VS}/{name}?consistency=local")))
            .send()
            .await?;
        if r.status() == 404 {
            return Ok(None);
        }
        Ok(Some(r.error_for_status()?.json().await?))
    }
}

/// A test client that sends `Authorization: Bearer <token>` on every request.
pub fn client_with_token(token: &str) -> reqwest::Client {
    let mut h = reqwest::header::HeaderMap::new();
    let v = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}")).expect("token");
    h.insert(reqwest::header::AUTHORIZATION, v);
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .connect_timeout(Duration::from_secs(2))
        .default_headers(h)
        .build()
        .expect("reqwest client")
}

/// An HTTP client with sane timeouts for tests.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .connect_timeout(Duration::from_secs(2))
        .build()
        .expect("reqwest client")
}
