//! The etcd baseline for `bench store --vs-etcd`: an N-member etcd cluster on loopback (the
//! Debian `etcd-server` binary, default flags, so it fsyncs its WAL and backend on every
//! commit), and the KV client generated from `proto/etcd_kv.proto` (Put and Range only).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use istio_chaos::cluster::free_addr;
use istio_chaos::cluster::poll_until;
use istio_chaos::ChaosError;

/// etcd's v3 KV messages and client (the subset the bench uses).
pub(crate) mod pb {
    #![allow(clippy::all, missing_docs, unreachable_pub, rust_2018_idioms)]
    tonic::include_proto!("etcdserverpb");
}

/// A running etcd cluster; SIGKILLed on drop.
#[derive(Debug)]
pub(crate) struct EtcdCluster {
    /// Each member's client URL address (gRPC and HTTP on one port).
    pub clients: Vec<SocketAddr>,
    children: Vec<Child>,
    logs: Vec<PathBuf>,
}

impl EtcdCluster {
    /// The members' process ids.
    pub(crate) fn pids(&self) -> Vec<u32> {
        self.children.iter().map(std::process::Child::id).collect()
    }

    /// Starts `n` members with data dirs under `root` and waits until each reports healthy.
    pub(crate) async fn start(bin: &Path, root: &Path, n: usize) -> Result<EtcdCluster> {
        if !bin.exists() {
            bail!(
                "no etcd at {}: install it (`apt-get install -y etcd-server`) or pass --etcd",
                bin.display()
            );
        }
        std::fs::create_dir_all(root)?;
        let mut peers = Vec::new();
        let mut clients = Vec::new();
        for _ in 0..n {
            peers.push(free_addr()?);
            clients.push(free_addr()?);
        }
        let initial: Vec<String> =
            peers.iter().enumerate().map(|(i, p)| format!("e{i}=http://{p}")).collect();
        let token = format!("bench-{}-{}", std::process::id(), root.display());
        let mut c =
            EtcdCluster { clients: clients.clone(), children: Vec::new(), logs: Vec::new() };
        for i in 0..n {
            let log = root.join(format!("etcd{i}.log"));
            let out = std::fs::File::create(&log)?;
            let child = Command::new(bin)
                .arg("--name")
                .arg(format!("e{i}"))
                .arg("--data-dir")
                .arg(root.join(format!("etcd{i}")))
                .arg("--listen-client-urls")
                .arg(format!("http://{}", clients[i]))
                .arg("--advertise-client-urls")
                .arg(format!("http://{}", clients[i]))
                .arg("--listen-peer-urls")
                .arg(format!("http://{}", peers[i]))
                .arg("--initial-advertise-peer-urls")
                .arg(format!("http://{}", peers[i]))
                .arg("--initial-cluster")
                .arg(initial.join(","))
                .arg("--initial-cluster-state")
                .arg("new")
                .arg("--initial-cluster-token")
                .arg(&token)
                .arg("--logger")
                .arg("zap")
                .stdin(Stdio::null())
                .stdout(out.try_clone()?)
                .stderr(out)
                .spawn()
                .with_context(|| format!("run {}", bin.display()))?;
            c.children.push(child);
            c.logs.push(log);
        }
        c.wait_healthy().await?;
        Ok(c)
    }

    /// Polls every member's `/health` until all say `true` (30 s deadline).
    async fn wait_healthy(&mut self) -> Result<()> {
        let http = istio_chaos::cluster::http_client()?;
        for i in 0..self.clients.len() {
            let url = format!("http://{}/health", self.clients[i]);
            let what = format!("healthy etcd member {i}");
            let children = &mut self.children;
            let healthy = poll_until(Duration::from_secs(30), &what, || {
                let exited = children[i].try_wait();
                let (http, url) = (&http, &url);
                async move {
                    if let Some(st) = exited? {
                        return Err(ChaosError::Process(format!(
                            "etcd member {i} exited with {st}"
                        )));
                    }
                    let Ok(r) = http.get(url).send().await else { return Ok(None) };
                    let body: serde_json::Value = r.json().await.unwrap_or_default();
                    Ok((body["health"] == "true").then_some(()))
                }
            })
            .await;
            if let Err(e) = healthy {
                bail!("{e}:\n{}", self.log_tail(i));
            }
        }
        Ok(())
    }

    fn log_tail(&self, i: usize) -> String {
        let log = std::fs::read_to_string(&self.logs[i]).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for EtcdCluster {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
