//! Snapshots and purge happen after `--snapshot-logs` entries; a member that was down catches
//! up through a snapshot; a full SIGKILL restart from snapshot + log tail reproduces the same
//! state hash.

use std::time::Duration;

use istio_tests::{wait_for, Cluster};
use serde_json::Value;

fn member(s: &Value, id: u64) -> Value {
    s["members"].as_array().unwrap().iter().find(|m| m["id"] == id).unwrap()["status"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_purge_restart_same_hash() -> anyhow::Result<()> {
    let mut c = Cluster::start(3, &["--snapshot-logs", "20", "--snapshot-keep-logs", "5"]).await?;
    let leader = c.wait_leader(Duration::from_secs(10)).await?;
    let lagging = (1..=3).find(|i| *i != leader).unwrap();
    c.node_mut(lagging).kill();
    for i in 0..100 {
        let id = if i % 2 == 0 {
            leader
        } else {
            (1..=3).find(|x| *x != leader && *x != lagging).unwrap()
        };
        let r = c.put(id, &format!("s-{i}"), &format!("v{i}")).await?;
        assert!(r.status().is_success(), "{}", r.text().await?);
    }
    wait_for(Duration::from_secs(20), "a snapshot and a purge on the leader", || async {
        let m = member(&c.status(leader).await.ok()?, leader);
        (m["snapshotIndex"].as_u64()? > 0 && m["purgedIndex"].as_u64()? > 0).then_some(())
    })
    .await?;

    // The lagging member's log ends before the leader's purge point: it needs the snapshot.
    c.node_mut(lagging).start();
    let (rev, hash) = c.wait_converged(Duration::from_secs(30)).await?;
    let m = member(&c.status(lagging).await?, lagging);
    assert!(m["snapshotIndex"].as_u64().unwrap() > 0, "lagging member has no snapshot: {m}");
    assert_eq!(c.get_local(lagging, "s-99").await?.unwrap()["metadata"]["labels"]["value"], "v99");

    // SIGKILL everything; restart from snapshot + log tail.
    for n in &mut c.nodes {
        n.kill();
    }
    for n in &mut c.nodes {
        n.start();
    }
    c.wait_leader(Duration::from_secs(30)).await?;
    let (rev2, hash2) = c.wait_converged(Duration::from_secs(30)).await?;
    assert_eq!((rev2, &hash2), (rev, &hash), "state changed across a full SIGKILL restart");
    for id in 1..=3 {
        let m = member(&c.status(id).await?, id);
        assert_eq!(m["applied"]["stateHash"], hash);
    }
    Ok(())
}
