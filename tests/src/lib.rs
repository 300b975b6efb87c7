//! Harness for end-to-end tests: runs istiod members on loopback with their own data dirs and
//! offers HTTP helpers and condition waits (no fixed sleeps).
//!
//! A member runs either as a real process (built once per test run; killed with SIGKILL,
//! stopped with SIGTERM, restarted — for what needs a process: durability, membership, chaos)
//! or in-process ([`Cluster::single`]: `istio_api::istiod::bind` + `serve_until` on a runtime
//! thread of its own, so a test that blocks its own thread — running kubectl, say — never
//! stalls the server). Either way the member binds port 0 where it can and reports the ports
//! it got (`--ready-file` for a process), so tests never race for free ports.

pub mod ads;

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Parser;
use serde_json::{json, Value};
use tokio::sync::oneshot;

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

/// Whether a test that needs a real peer (`peer`, installed by `install`) must skip here
/// because it is missing. It says so loudly; with `ISTIO_RS_REQUIRE_PEERS=1` (set by `.ci/run`)
/// a missing peer fails the test instead, so CI never passes by skipping.
pub fn skip_without(test: &str, peer: &str, available: bool, install: &str) -> bool {
    if available {
        return false;
    }
    let required = std::env::var("ISTIO_RS_REQUIRE_PEERS").is_ok_and(|v| v == "1");
    assert!(
        !required,
        "{test} needs {peer}, which is missing, and ISTIO_RS_REQUIRE_PEERS=1 makes that a \
         failure: {install}"
    );
    eprintln!(
        "\n!!!! SKIPPED {test}: {peer} is missing. {install} (.ci/run does; with \
         ISTIO_RS_REQUIRE_PEERS=1 this is a failure) !!!!\n"
    );
    true
}

/// A free loopback port (bound and released; good enough for tests).
pub fn free_addr() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind :0");
    l.local_addr().expect("local addr")
}

/// "Any free loopback port": what a member binds until it has started once (then it keeps
/// the ports it got, so a restart answers at the same addresses).
const ANY_PORT: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 0);

/// How a member runs.
enum Runner {
    /// A real `istiod` process.
    Process(Option<Child>),
    /// Inside the test process, on a runtime thread of its own.
    InProcess(Option<InProcess>),
}

/// The HTTP, gRPC and Raft addresses a member bound.
type BoundAddrs = (SocketAddr, SocketAddr, SocketAddr);

/// A member served by `istio_api::istiod` on its own thread and runtime.
struct InProcess {
    stop: Option<oneshot::Sender<()>>,
    bound: Option<oneshot::Receiver<Result<BoundAddrs, String>>>,
    thread: Option<std::thread::JoinHandle<Result<()>>>,
}

impl InProcess {
    /// Starts a member with `flags`; its log goes to `log`, as a process's would.
    fn start(flags: Vec<String>, log: &Path) -> Result<Self> {
        let args = istio_api::istiod::Args::try_parse_from(
            std::iter::once("istiod".to_owned()).chain(flags),
        )?;
        let file = std::fs::OpenOptions::new().create(true).append(true).open(log)?;
        let logger = tracing::Dispatch::new(
            tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new("info,openraft=warn"))
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(file))
                .finish(),
        );
        let (bound_tx, bound_rx) = oneshot::channel();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let thread =
            std::thread::Builder::new().name("istiod-in-process".into()).spawn(move || {
                // Every thread of the member's runtime logs to its file (and only its
                // threads: the test's own output stays the test's).
                let _log = tracing::dispatcher::set_default(&logger);
                let on_start = logger.clone();
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name("istiod-in-process")
                    .on_thread_start(move || {
                        // The guard would restore the previous logger when dropped; the
                        // thread ends with the runtime, so it is kept for its whole life.
                        std::mem::forget(tracing::dispatcher::set_default(&on_start));
                    })
                    .enable_all()
                    .build()?;
                rt.block_on(async move {
                    let bound = match istio_api::istiod::bind(args).await {
                        Ok(b) => b,
                        Err(e) => {
                            let _ = bound_tx.send(Err(format!("{e:#}")));
                            return Err(e);
                        }
                    };
                    let _ = bound_tx.send(Ok((bound.http, bound.grpc, bound.raft)));
                    bound
                        .serve_until(async move {
                            let _ = stop_rx.await;
                        })
                        .await
                })
            })?;
        Ok(Self { stop: Some(stop_tx), bound: Some(bound_rx), thread: Some(thread) })
    }

    /// Stops serving, drains, and waits for the member's thread.
    fn stop(&mut self) -> Result<()> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        match self.thread.take().map(std::thread::JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => bail!("the in-process istiod thread panicked"),
            None => Ok(()),
        }
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            eprintln!("in-process istiod: {e:#}");
        }
    }
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
    ready: PathBuf,
    runner: Runner,
}

impl Istiod {
    /// Describes a member run as a process; nothing runs until [`Istiod::start`]. Its HTTP
    /// and gRPC ports are chosen by istiod at the first start; its Raft port is picked here,
    /// because the other founding members' `--peers` must name it before anything starts.
    pub fn new(root: &Path, id: u64, args: Vec<String>) -> Self {
        let dir = root.join(format!("node{id}"));
        Self {
            id,
            http: ANY_PORT,
            raft: free_addr(),
            grpc: ANY_PORT,
            log: root.join(format!("node{id}.log")),
            ready: root.join(format!("node{id}.ready.json")),
            dir,
            args,
            runner: Runner::Process(None),
        }
    }

    /// Describes a member run in-process; nothing runs until [`Istiod::start`]. Every port is
    /// chosen at the first start.
    pub fn new_in_process(root: &Path, id: u64, args: Vec<String>) -> Self {
        let mut m = Self::new(root, id, args);
        m.raft = ANY_PORT;
        m.runner = Runner::InProcess(None);
        m
    }

    /// The flags every start passes: id, data dir, addresses, then [`Istiod::args`].
    fn flags(&self) -> Vec<String> {
        let mut f: Vec<String> = vec![
            "--id".into(),
            self.id.to_string(),
            "--data-dir".into(),
            self.dir.display().to_string(),
            "--http".into(),
            self.http.to_string(),
            "--raft".into(),
            self.raft.to_string(),
            "--grpc".into(),
            self.grpc.to_string(),
        ];
        f.extend(self.args.iter().cloned());
        f
    }

    /// Starts (or restarts) the member.
    pub fn start(&mut self) {
        assert!(!self.running(), "node {} already running", self.id);
        let flags = self.flags();
        if let Runner::InProcess(slot) = &mut self.runner {
            *slot = Some(InProcess::start(flags, &self.log).expect("start istiod in-process"));
            return;
        }
        let _ = std::fs::remove_file(&self.ready);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open log");
        let child = Command::new(istiod_bin())
            .args(flags)
            .arg("--ready-file")
            .arg(&self.ready)
            .env("RUST_LOG", "info,openraft=warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log"))
            .stderr(log)
            .spawn()
            .expect("spawn istiod");
        self.runner = Runner::Process(Some(child));
    }

    /// Waits until the member serves, and records the addresses it bound. A process reports
    /// them in its `--ready-file`. `Ok(false)` when it exited because a port was taken — a
    /// Raft port from [`free_addr`] can race with other tests — so the caller can pick a new
    /// one and try again.
    pub async fn wait_serving(&mut self) -> Result<bool> {
        let (http, grpc, raft) = match &mut self.runner {
            Runner::InProcess(Some(p)) => {
                let rx = p.bound.take().context("wait_serving called twice")?;
                match rx.await {
                    Ok(Ok(addrs)) => addrs,
                    Ok(Err(e)) => bail!("in-process istiod {} could not start: {e}", self.id),
                    Err(_) => bail!("in-process istiod {} stopped at start-up", self.id),
                }
            }
            Runner::InProcess(None) | Runner::Process(None) => {
                bail!("node {} not started", self.id)
            }
            Runner::Process(Some(_)) => {
                let deadline = Instant::now() + Duration::from_secs(30);
                loop {
                    if let Ok(text) = std::fs::read_to_string(&self.ready) {
                        let v: Value = serde_json::from_str(&text)
                            .with_context(|| format!("{}: {text}", self.ready.display()))?;
                        let addr = |k: &str| -> Result<SocketAddr> {
                            v[k].as_str()
                                .with_context(|| format!("no {k} in {text}"))?
                                .parse()
                                .context(k.to_owned())
                        };
                        break (addr("http")?, addr("grpc")?, addr("raft")?);
                    }
                    if let Runner::Process(Some(c)) = &mut self.runner {
                        if let Some(status) = c.try_wait()? {
                            self.runner = Runner::Process(None);
                            let log = self.log();
                            if log.contains("cannot listen on") {
                                return Ok(false);
                            }
                            bail!("istiod {} exited with {status} at start-up:\n{log}", self.id);
                        }
                    }
                    if Instant::now() > deadline {
                        bail!(
                            "istiod {} did not start serving within 30s:\n{}",
                            self.id,
                            self.log()
                        );
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        };
        (self.http, self.grpc, self.raft) = (http, grpc, raft);
        Ok(true)
    }

    /// New ports (after a port clash) and a fresh log.
    fn new_ports(&mut self) {
        self.http = ANY_PORT;
        self.grpc = ANY_PORT;
        self.raft = match self.runner {
            Runner::Process(_) => free_addr(),
            Runner::InProcess(_) => ANY_PORT,
        };
        let _ = std::fs::remove_file(&self.log);
    }

    /// Whether the member is running (as far as we started it).
    pub fn running(&self) -> bool {
        matches!(self.runner, Runner::Process(Some(_)) | Runner::InProcess(Some(_)))
    }

    /// SIGKILL, and reap. An in-process member cannot be killed: it is stopped (drained), as
    /// [`Istiod::terminate`] does; tests that need a SIGKILL run members as processes.
    pub fn kill(&mut self) {
        match &mut self.runner {
            Runner::Process(c) => {
                if let Some(mut c) = c.take() {
                    let _ = c.kill();
                    let _ = c.wait();
                }
            }
            Runner::InProcess(p) => drop(p.take()),
        }
    }

    /// SIGTERM (an in-process member: its shutdown), and wait for the exit status.
    pub fn terminate(&mut self) -> Result<ExitStatus> {
        let mut c = match &mut self.runner {
            Runner::Process(c) => c.take().context("not running")?,
            Runner::InProcess(p) => {
                let mut p = p.take().context("not running")?;
                p.stop()?;
                return Ok(std::os::unix::process::ExitStatusExt::from_raw(0));
            }
        };
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

    /// The member's log so far (an in-process member's runtime logs to the same file).
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

    /// A cluster of one member, in-process, started with `args` and no `--peers` (the dev
    /// default): for tests of the API's behaviour.
    pub async fn single(args: &[&str]) -> Result<Self> {
        Self::single_as(args, None).await
    }

    /// Like [`Cluster::single`], with `token` sent as bearer token on every harness request.
    pub async fn single_as(args: &[&str], token: Option<&str>) -> Result<Self> {
        Self::one(args, token, true).await
    }

    /// A cluster of one member run as a process (for tests that kill or restart it).
    pub async fn single_process(args: &[&str]) -> Result<Self> {
        Self::one(args, None, false).await
    }

    async fn one(args: &[&str], token: Option<&str>, in_process: bool) -> Result<Self> {
        let root = tempfile::tempdir()?;
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let member = if in_process {
            Istiod::new_in_process(root.path(), 1, args.clone())
        } else {
            Istiod::new(root.path(), 1, args.clone())
        };
        let mut nodes = vec![member];
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
