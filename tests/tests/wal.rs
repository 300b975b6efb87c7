//! The Raft log is the write-ahead log: the state machine's sled database is written in the
//! background and not flushed per write, so a member SIGKILLed right after it acknowledged
//! writes must rebuild them from its log on restart — same objects, same revisions, same state
//! hash — and go on from there.

use std::time::Duration;

use futures::future::join_all;
use istio_tests::{wait_for, Cluster, VS};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill_before_the_state_is_flushed() -> anyhow::Result<()> {
    let mut c = Cluster::single(&[]).await?;
    // 240 writes, 16 at a time, each acknowledged with its resourceVersion.
    let mut acked: Vec<(String, String)> = Vec::new();
    for round in 0..15 {
        let puts = (0..16).map(|i| {
            let name = format!("wal-{round}-{i}");
            let c = &c;
            async move {
                let r = c.put(1, &name, &format!("v{round}")).await?;
                anyhow::ensure!(r.status().is_success(), "PUT {name}: {}", r.status());
                let v: Value = r.json().await?;
                let rv = v["metadata"]["resourceVersion"].as_str().unwrap_or_default().to_owned();
                Ok((name, rv))
            }
        });
        for r in join_all(puts).await {
            acked.push(r?);
        }
    }
    let before = c.applied(1).await.expect("status before the kill");
    assert_eq!(before.0, 240, "one revision per write");
    // At once: well inside sled's 1 s background flush, so the state machine on disk lags.
    c.node_mut(1).kill();
    c.node_mut(1).start();
    anyhow::ensure!(c.node_mut(1).wait_serving().await?, "restart could not bind its ports");
    let after = wait_for(Duration::from_secs(30), "the log re-applied after restart", || async {
        c.applied(1).await.filter(|a| a.0 >= before.0)
    })
    .await?;
    assert_eq!(after, before, "revision and state hash after the SIGKILL restart");
    for (name, rv) in &acked {
        let got = c.get_local(1, name).await?;
        let got = got.unwrap_or_else(|| panic!("{name} was acknowledged and is gone"));
        assert_eq!(got["metadata"]["resourceVersion"].as_str(), Some(rv.as_str()), "{name}");
    }
    // The log goes on where it stopped.
    let r = c.put(1, "wal-after", "v").await?;
    assert!(r.status().is_success(), "{}", r.status());
    let v: Value = r.json().await?;
    assert_eq!(v["metadata"]["resourceVersion"], "241");
    // The log is segment files in the member's data dir.
    let segs = std::fs::read_dir(c.node(1).dir.join("raft-log"))?
        .filter_map(Result::ok)
        .filter(|f| f.file_name().to_string_lossy().ends_with(".log"))
        .count();
    assert!(segs > 0, "no raft log segments in the data dir");
    // The restart found its state machine behind its log (the case this test is about).
    let log = c.node(1).log();
    let opened: Vec<&str> = log.lines().filter(|l| l.contains("store opened")).collect();
    assert_eq!(opened.len(), 2, "{log}");
    eprintln!("{}", opened[1]);
    let list: Value = c
        .client
        .get(c.node(1).url(&format!("{VS}?consistency=local")))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(241));
    Ok(())
}
