//! `istiod` with no flags at all (the README's run command): one-node cluster in
//! `./istiod-data` on the default loopback ports; a PUT then GET round-trips, and the object
//! survives a SIGTERM restart and a SIGKILL restart.

use std::process::{Command, Stdio};
use std::time::Duration;

use istio_tests::{client, istiod_bin, object, wait_for, VS};

/// Kills the process when dropped (also on a failed assertion).
struct Proc(Option<std::process::Child>);

impl Proc {
    fn take(&mut self) -> std::process::Child {
        self.0.take().expect("running")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn spawn(dir: &std::path::Path) -> Proc {
    Proc(Some(
        Command::new(istiod_bin())
            .current_dir(dir)
            .env("RUST_LOG", "info,openraft=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn istiod"),
    ))
}

#[tokio::test]
async fn dev_default_serves_and_survives_restarts() -> anyhow::Result<()> {
    for port in [8080, 15011] {
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
            anyhow::bail!(
                "port {port} is busy: this test runs istiod with its default ports; stop whatever \
                 listens on 127.0.0.1:{port} and rerun"
            );
        }
    }
    let dir = tempfile::tempdir()?;
    let http = client();
    let base = "http://127.0.0.1:8080";
    let ready = || async {
        let r = http.get(format!("{base}/readyz")).send().await.ok()?;
        r.status().is_success().then_some(())
    };
    let mut child = spawn(dir.path());
    wait_for(Duration::from_secs(30), "istiod ready", ready).await?;

    let url = format!("{base}{VS}/reviews");
    let r = http.put(&url).json(&object("reviews", "v1")).send().await?;
    assert_eq!(r.status(), 201, "{}", r.text().await?);
    let got: serde_json::Value = http.get(&url).send().await?.json().await?;
    assert_eq!(got["spec"], object("reviews", "v1")["spec"]);
    assert_eq!(got["metadata"]["resourceVersion"], "1");
    assert!(dir.path().join("istiod-data").is_dir(), "data dir ./istiod-data was not created");

    // SIGTERM drains and exits 0; a restart resumes from the same data dir.
    let pid = child.0.as_ref().map(|c| c.id()).expect("running");
    let st = Command::new("kill").arg("-TERM").arg(pid.to_string()).status()?;
    assert!(st.success());
    let mut term = child.take();
    let code = tokio::task::spawn_blocking(move || term.wait()).await??;
    assert!(code.success(), "istiod exited with {code} after SIGTERM");
    let child = spawn(dir.path());
    wait_for(Duration::from_secs(30), "istiod ready after restart", ready).await?;
    let again: serde_json::Value = http.get(&url).send().await?.json().await?;
    assert_eq!(again, got, "object changed across a clean restart");

    // An acknowledged write survives SIGKILL right after the acknowledgement.
    let r = http.put(&url).json(&object("reviews", "v2")).send().await?;
    assert_eq!(r.status(), 200);
    drop(child); // SIGKILL
    let child = spawn(dir.path());
    wait_for(Duration::from_secs(30), "istiod ready after SIGKILL", ready).await?;
    let after: serde_json::Value = http.get(&url).send().await?.json().await?;
    assert_eq!(after["metadata"]["labels"]["value"], "v2");
    assert_eq!(after["metadata"]["resourceVersion"], "2");
    // Health, readiness and Prometheus metrics.
    assert!(http.get(format!("{base}/healthz")).send().await?.status().is_success());
    let metrics = http.get(format!("{base}/metrics")).send().await?.text().await?;
    for want in [
        "istio_raft_term 1",
        "istio_raft_is_leader 1",
        "istio_store_revision 2",
        "istio_store_events_retained 2",
        "istio_raft_leader_changes_total",
        "istio_raft_commit_index",
        "istio_raft_applied_index",
        "istio_http_request_duration_seconds_bucket{verb=\"get\",code=\"200\",le=\"+Inf\"}",
    ] {
        assert!(metrics.contains(want), "/metrics lacks {want:?}:\n{metrics}");
    }
    drop(child);
    Ok(())
}
