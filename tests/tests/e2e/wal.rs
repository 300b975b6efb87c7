//! The Raft log is the write-ahead log: the state machine is held in memory and only its
//! snapshots are written, so a member SIGKILLed right after it acknowledged writes must rebuild
//! them from its log on restart — same objects, same revisions, same state hash — and go on
//! from there; and a cluster restarted as a whole must not answer a linearizable read before
//! it has re-applied every write it acknowledged.

use std::time::Duration;

use futures::future::join_all;
use istio_tests::{wait_for, Cluster, VS};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill_before_the_state_is_flushed() -> anyhow::Result<()> {
    let mut c = Cluster::single_process(&[]).await?;
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
    // At once: no snapshot was taken (the state machine on disk is empty), and the commit
    // index saved for the log lags it (it is not synced per commit).
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

/// Every member SIGKILLed at once right after writes were acknowledged, then restarted, the
/// leader first: it comes back as leader in the same term, with a commit index saved before
/// the last writes and a state machine rebuilt only up to it. A linearizable read on any member must
/// still see the last acknowledged value of every object (the read index covers the leader's
/// whole log at start), never an older one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linearizable_reads_after_a_full_restart_see_every_acknowledged_write() -> anyhow::Result<()>
{
    let mut c = Cluster::start(3, &[]).await?;
    let names: Vec<String> = (0..12).map(|i| format!("full-{i}")).collect();
    // Five times, as the window is short: the leader's first rounds after its restart.
    for cycle in 0..5 {
        for round in 0..6 {
            let puts = names.iter().map(|name| {
                let c = &c;
                async move {
                    let r = c.put(1 + round % 3, name, &format!("c{cycle}-v{round}")).await?;
                    anyhow::ensure!(r.status().is_success(), "PUT {name}: {}", r.status());
                    Ok(())
                }
            });
            for r in join_all(puts).await {
                r?;
            }
        }
        let leader = c.wait_leader(Duration::from_secs(10)).await?;
        for id in 1..=3 {
            c.node_mut(id).kill();
        }
        // Readers poll every object on every member from the moment the members start, so the
        // first answers come as early as a member can give them.
        let reads: Vec<_> = (1..=3u64)
            .flat_map(|id| names.iter().map(move |name| (id, name.clone())))
            .map(|(id, name)| {
                let client = c.client.clone();
                let url = c.node(id).url(&format!("{VS}/{name}"));
                tokio::spawn(async move {
                    let v = wait_for(Duration::from_secs(30), "an answer", || async {
                        // Refused while the member starts, 5xx while there is no leader yet.
                        let r = client.get(&url).send().await.ok()?;
                        if r.status().is_server_error() {
                            return None;
                        }
                        r.json::<Value>().await.ok()
                    })
                    .await?;
                    anyhow::Ok((id, name, v))
                })
            })
            .collect();
        // The leader first: it is leader again at once, and its replication to the members
        // still down backs off, so it can confirm its leadership to the others before it has
        // sent them its log.
        let order = std::iter::once(leader).chain((1..=3).filter(|&id| id != leader));
        for id in order {
            c.node_mut(id).start();
            anyhow::ensure!(
                c.node_mut(id).wait_serving().await?,
                "restart could not bind its ports"
            );
        }
        for r in join_all(reads).await {
            let (id, name, got) = r??;
            assert_eq!(
                got["metadata"]["labels"]["value"],
                format!("c{cycle}-v5").as_str(),
                "cycle {cycle}: member {id} read an older {name} after the restart: {got}"
            );
        }
    }
    Ok(())
}
