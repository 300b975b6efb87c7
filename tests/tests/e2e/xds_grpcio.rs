//! The real-client xDS test: Python grpcio (a client no one here wrote) with an xDS bootstrap
//! pointing at istiod calls `xds:///echo.example.com:8080`. Two grpcio backends are registered
//! through a ServiceEntry; a DestinationRule names their subsets; a VirtualService moves all
//! traffic from one subset to the other (100/0 → 0/100), and the client follows within 2 s on
//! the same channel (one ADS stream). Then a DestinationRule asks for Maglev consistent
//! hashing, which gRPC does not implement: the client NACKs the clusters, `/v1/proxies` shows
//! the NACK and its message, and calls keep working on the last accepted config.
//!
//! Needs Python's `grpcio` (`.ci/run` installs it); elsewhere, without it, the test says so
//! loudly and passes without running.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use istio_tests::{free_addr, Cluster};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

fn py(script: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("py").join(script)
}

/// Whether the test must skip (no Python `grpcio` here), saying so loudly.
fn skipped() -> bool {
    istio_tests::skip_without(
        "xds_grpcio",
        "Python `grpcio`",
        grpcio_available(),
        "Install it with `pip install grpcio==1.84.0`.",
    )
}

fn grpcio_available() -> bool {
    std::process::Command::new("python3")
        .args(["-c", "import grpc"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

async fn backend(name: &str, port: u16) -> anyhow::Result<Child> {
    backend_with(name, port, None).await
}

/// A backend; with `xds_bootstrap`, a gRPC xDS server fetching its listener from istiod.
async fn backend_with(
    name: &str,
    port: u16,
    xds_bootstrap: Option<&Value>,
) -> anyhow::Result<Child> {
    let mut cmd = Command::new("python3");
    cmd.arg(py("backend.py")).args([name, &port.to_string()]);
    if let Some(b) = xds_bootstrap {
        cmd.arg("xds").env("GRPC_XDS_BOOTSTRAP_CONFIG", b.to_string());
    }
    let mut child = cmd.stdout(Stdio::piped()).kill_on_drop(true).spawn()?;
    let out = child.stdout.take().context("backend stdout")?;
    let mut lines = BufReader::new(out).lines();
    let ready = tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await??;
    if ready.as_deref() != Some("ready") {
        bail!("backend {name} did not start: {ready:?}");
    }
    Ok(child)
}

fn virtual_service(v1: i32, v2: i32) -> Value {
    let dest = |subset: &str, weight: i32| json!({"destination": {"host": "echo.example.com", "subset": subset}, "weight": weight});
    json!({
        "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
        "metadata": {"name": "echo", "namespace": "default"},
        "spec": {"hosts": ["echo.example.com"], "http": [{"route": [dest("v1", v1), dest("v2", v2)]}]},
    })
}

/// The DestinationRule `default/echo` with subsets v1 and v2 and `traffic_policy` (none when
/// empty).
fn destination_rule(traffic_policy: Value) -> Value {
    let mut spec = json!({"host": "echo.example.com", "subsets": [
        {"name": "v1", "labels": {"version": "v1"}},
        {"name": "v2", "labels": {"version": "v2"}},
    ]});
    if traffic_policy.as_object().is_some_and(|o| !o.is_empty()) {
        spec["trafficPolicy"] = traffic_policy;
    }
    json!({
        "apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
        "metadata": {"name": "echo", "namespace": "default"},
        "spec": spec,
    })
}

struct Client {
    child: Child,
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
}

impl Client {
    /// A client process calling `target`, with `bootstrap` for `xds:///` targets.
    fn spawn(target: &str, bootstrap: &Value) -> anyhow::Result<Self> {
        let mut child = Command::new("python3")
            .arg(py("client.py"))
            .arg(target)
            .env("GRPC_XDS_BOOTSTRAP_CONFIG", bootstrap.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let lines = BufReader::new(child.stdout.take().context("client stdout")?).lines();
        Ok(Client { child, lines })
    }

    /// `n` calls that fail fast when the channel is not ready.
    async fn call(&mut self, n: u32) -> anyhow::Result<Value> {
        self.command(&format!("call {n}")).await
    }

    /// `n` calls that each wait (up to 20 s) for the channel to become ready.
    async fn call_when_ready(&mut self, n: u32) -> anyhow::Result<Value> {
        self.command(&format!("ready {n}")).await
    }

    async fn command(&mut self, line: &str) -> anyhow::Result<Value> {
        let stdin = self.child.stdin.as_mut().context("client stdin")?;
        stdin.write_all(format!("{line}\n").as_bytes()).await?;
        stdin.flush().await?;
        let line = tokio::time::timeout(Duration::from_secs(60), self.lines.next_line())
            .await??
            .context("client exited")?;
        Ok(serde_json::from_str(&line)?)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpcio_client_follows_virtual_service_weights() -> anyhow::Result<()> {
    if skipped() {
        return Ok(());
    }
    let c = Cluster::single(&["--xds-debounce-ms", "20"]).await?;
    let (a, b) = (free_addr().port(), free_addr().port());
    let _ba = backend("A", a).await?;
    let _bb = backend("B", b).await?;
    let put = |path: &str, body: Value| {
        let url = c.node(1).url(&format!("/apis/networking.istio.io/v1/namespaces/default/{path}"));
        let req = c.client.put(url).json(&body);
        let path = path.to_owned();
        async move {
            let r = req.send().await?;
            let status = r.status();
            if !status.is_success() {
                bail!("{path}: {status} {}", r.text().await?);
            }
            anyhow::Ok(())
        }
    };
    put(
        "serviceentries/echo",
        json!({
            "apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
            "metadata": {"name": "echo", "namespace": "default"},
            "spec": {
                "hosts": ["echo.example.com"], "location": "MESH_INTERNAL", "resolution": "STATIC",
                "ports": [{"number": 8080, "name": "grpc", "protocol": "GRPC"}],
                "endpoints": [
                    {"address": "127.0.0.1", "ports": {"grpc": a}, "labels": {"version": "v1"}},
                    {"address": "127.0.0.1", "ports": {"grpc": b}, "labels": {"version": "v2"}},
                ],
            },
        }),
    )
    .await?;
    put("destinationrules/echo", destination_rule(json!({}))).await?;
    put("virtualservices/echo", virtual_service(100, 0)).await?;

    let bootstrap = json!({
        "xds_servers": [{"server_uri": c.node(1).grpc.to_string(),
                         "channel_creds": [{"type": "insecure"}], "server_features": ["xds_v3"]}],
        "node": {"id": "grpcio-client-1", "locality": {}},
    });
    let mut client = Client::spawn("xds:///echo.example.com:8080", &bootstrap)?;

    let first = client.call(20).await?;
    assert_eq!(first["A"], 20, "100/0 sends every call to subset v1 (backend A): {first}");

    put("virtualservices/echo", virtual_service(0, 100)).await?;
    let switched = Instant::now();
    loop {
        let r = client.call(10).await?;
        if r["B"] == 10 {
            break;
        }
        // The bound: all traffic moves within 2 s of the committed write.
        assert!(switched.elapsed() < Duration::from_secs(2), "traffic did not move to B: {r}");
    }

    let url = c.node(1).url("/v1/proxies");
    let grpc_proxy = |v: &Value| {
        v["proxies"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["id"] == "grpcio-client-1")
            .cloned()
    };

    // RANDOM, which gRPC does not implement: istiod sends gRPC clients round robin instead,
    // so the client ACKs it (with the new request limit, which it does implement) and keeps
    // calling.
    put(
        "destinationrules/echo",
        destination_rule(json!({
            "loadBalancer": {"simple": "RANDOM"},
            "connectionPool": {"http": {"http2MaxRequests": 1000}},
        })),
    )
    .await?;
    let dr: Value = c
        .client
        .get(c.node(1).url("/apis/networking.istio.io/v1/namespaces/default/destinationrules/echo"))
        .send()
        .await?
        .json()
        .await?;
    let rev: u64 = dr["metadata"]["resourceVersion"].as_str().unwrap_or("0").parse()?;
    c.wait_json(&url, Duration::from_secs(10), "the RANDOM clusters ACKed by gRPC", |v| {
        grpc_proxy(v).is_some_and(|p| {
            p["types"]["cds"]["status"] == "SYNCED"
                && p["types"]["cds"]["revision"].as_u64().is_some_and(|r| r >= rev)
        })
    })
    .await?;
    let cfg: Value = c
        .client
        .get(c.node(1).url("/v1/proxies/grpcio-client-1/config"))
        .send()
        .await?
        .json()
        .await?;
    let sent = &cfg["types"]["cds"]["resources"][0];
    assert_eq!(sent["circuitBreakers"]["thresholds"][0]["maxRequests"], 1000, "{sent:#}");
    assert!(sent.get("lbPolicy").is_none_or(|p| p == "ROUND_ROBIN"), "{sent:#}");
    let r = client.call(10).await?;
    assert_eq!(r["B"], 10, "calls keep working under RANDOM: {r}");

    // A push the client rejects shows up as a NACK in /v1/proxies.
    put(
        "destinationrules/echo",
        destination_rule(json!({"loadBalancer": {"consistentHash": {
            "httpHeaderName": "x-user", "maglev": {"tableSize": 65537},
        }}})),
    )
    .await?;
    let v = c
        .wait_json(&url, Duration::from_secs(10), "the gRPC client's CDS NACK", |v| {
            grpc_proxy(v).is_some_and(|p| p["types"]["cds"]["status"] == "NACKED")
        })
        .await?;
    let cds = grpc_proxy(&v).unwrap_or_default()["types"]["cds"].clone();
    let message = cds["lastNack"]["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "the NACK carries gRPC's reason: {cds:#}");
    eprintln!("gRPC NACKed the clusters: {message}");
    assert_ne!(cds["ackedVersion"], cds["sentVersion"], "{cds:#}");
    let r = client.call(10).await?;
    assert_eq!(r["B"], 10, "the client keeps its last accepted config: {r}");
    Ok(())
}

/// A gRPC xDS server (grpcio) asks istiod for its inbound listener: while no service says its
/// workload serves that port it gets none and refuses calls; once a ServiceEntry puts its
/// address and port in the registry, istiod pushes the listener, gRPC accepts it and serves,
/// and `/v1/proxies` shows the server's LDS SYNCED.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpcio_xds_server_serves_once_its_port_is_registered() -> anyhow::Result<()> {
    if skipped() {
        return Ok(());
    }
    let c = Cluster::single(&["--xds-debounce-ms", "20"]).await?;
    let port = free_addr().port();
    let bootstrap = json!({
        "xds_servers": [{"server_uri": c.node(1).grpc.to_string(),
                         "channel_creds": [{"type": "insecure"}], "server_features": ["xds_v3"]}],
        "node": {"id": "grpcio-server-1", "metadata": {"INSTANCE_IPS": "127.0.0.1", "NAMESPACE": "default"}},
        "server_listener_resource_name_template": "xds.istio.io/grpc/lds/inbound/%s",
    });
    let _server = backend_with("X", port, Some(&bootstrap)).await?;
    let name = format!("xds.istio.io/grpc/lds/inbound/127.0.0.1:{port}");
    let url = c.node(1).url("/v1/proxies");
    let server_lds = |v: &Value| {
        v["proxies"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["id"] == "grpcio-server-1")
            .map(|p| p["types"]["lds"].clone())
    };
    // It asked for its listener and got an empty answer: not serving.
    c.wait_json(&url, Duration::from_secs(20), "the xDS server's LDS request", |v| {
        server_lds(v).is_some_and(|l| {
            l["subscribed"][0] == name.as_str() && l["status"] == "SYNCED" && l["resources"] == 0
        })
    })
    .await?;
    let mut direct = Client::spawn(&format!("127.0.0.1:{port}"), &bootstrap)?;
    let r = direct.call(1).await?;
    assert_eq!(r["X"], Value::Null, "not serving before its port is registered: {r}");

    let se = json!({
        "apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
        "metadata": {"name": "x", "namespace": "default"},
        "spec": {
            "hosts": ["x.example.com"], "location": "MESH_INTERNAL", "resolution": "STATIC",
            "ports": [{"number": 80, "name": "grpc", "protocol": "GRPC", "targetPort": port}],
            "endpoints": [{"address": "127.0.0.1"}],
        },
    });
    let se_url = c.node(1).url("/apis/networking.istio.io/v1/namespaces/default/serviceentries/x");
    let r = c.client.put(&se_url).json(&se).send().await?;
    assert!(r.status().is_success(), "{}", r.text().await?);
    c.wait_json(&url, Duration::from_secs(10), "the listener pushed and ACKed", |v| {
        server_lds(v).is_some_and(|l| l["status"] == "SYNCED" && l["resources"] == 1)
    })
    .await?;
    // Calls that wait for the channel to be ready (through gRPC's connection backoff) are
    // served.
    let r = direct.call_when_ready(1).await?;
    assert_eq!(r["X"], 1, "the xDS server serves once its listener is pushed: {r}");
    Ok(())
}
