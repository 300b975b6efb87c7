//! Watches: opened at revision N on a follower, a watch sees every later revision exactly once,
//! in order, across a leader change; a watch below the compaction point gets 410 Expired.

use std::time::Duration;

use futures::StreamExt;
use istio_tests::{wait_for, Cluster, VS};
use serde_json::Value;

fn rv(v: &Value) -> u64 {
    v["metadata"]["resourceVersion"].as_str().and_then(|s| s.parse().ok()).expect("resourceVersion")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follower_watch_is_gap_free_across_leader_change() -> anyhow::Result<()> {
    let mut c = Cluster::start(3, &[]).await?;
    let leader = c.wait_leader(Duration::from_secs(10)).await?;
    let follower = (1..=3).find(|i| *i != leader).unwrap();
    let other = (1..=3).find(|i| *i != leader && *i != follower).unwrap();
    let mut start = 0;
    for i in 0..5 {
        let r = c.put(leader, &format!("pre-{i}"), "v").await?;
        start = rv(&r.json().await?);
    }
    let resp = c
        .client
        .get(c.node(follower).url(&format!("{VS}?watch=true&resourceVersion={start}")))
        .timeout(Duration::from_secs(120))
        .send()
        .await?;
    assert_eq!(resp.status(), 200);
    let mut body = resp.bytes_stream();

    let mut last = start;
    for i in 0..10 {
        let r = c.put([leader, follower, other][i % 3], &format!("a-{i}"), "v").await?;
        assert!(r.status().is_success());
        last = last.max(rv(&r.json().await?));
    }
    c.node_mut(leader).kill();
    for i in 0..10 {
        let r = c.put([follower, other][i % 2], &format!("b-{i}"), "v").await?;
        assert!(r.status().is_success(), "{}", r.text().await?);
        last = last.max(rv(&r.json().await?));
    }

    let mut seen = Vec::new();
    let mut buf = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while seen.last().copied().unwrap_or(start) < last {
        let chunk = tokio::time::timeout_at(deadline, body.next())
            .await
            .map_err(|_| anyhow::anyhow!("watch stalled; saw {seen:?}, want up to {last}"))?
            .ok_or_else(|| anyhow::anyhow!("watch ended early; saw {seen:?}"))??;
        buf.extend_from_slice(&chunk);
        while let Some(pos) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=pos).collect();
            let ev: Value = serde_json::from_slice(&line)?;
            assert_ne!(ev["type"], "ERROR", "{ev}");
            seen.push(rv(&ev["object"]));
        }
    }
    let want: Vec<u64> = (start + 1..=last).collect();
    assert_eq!(seen, want, "watch must see every revision after {start} exactly once, in order");
    Ok(())
}

#[tokio::test]
async fn watch_below_compaction_point_is_expired() -> anyhow::Result<()> {
    let c = Cluster::single(&["--retain-revisions", "5"]).await?;
    for i in 0..20 {
        assert!(c.put(1, &format!("o-{i}"), "v").await?.status().is_success());
    }
    // Steady state: 20 revisions, 5 retained, so compacted through 15 (and no further).
    let compacted = wait_for(Duration::from_secs(30), "compaction through revision 15", || async {
        let s = c.status(1).await.ok()?;
        let cr = s["members"][0]["status"]["applied"]["compactRevision"].as_u64()?;
        (cr == 15).then_some(cr)
    })
    .await?;
    let r =
        c.client.get(c.node(1).url(&format!("{VS}?watch=true&resourceVersion=1"))).send().await?;
    assert_eq!(r.status(), 410);
    let v: Value = r.json().await?;
    assert_eq!(v["kind"], "Status");
    assert_eq!(v["reason"], "Expired");
    let msg = v["message"].as_str().unwrap_or_default();
    assert!(
        msg.contains(&format!("oldest available revision is {}", compacted + 1))
            || msg.contains("oldest available"),
        "{msg}"
    );
    // At the compaction point itself the watch is fine.
    let r = c
        .client
        .get(
            c.node(1).url(&format!("{VS}?watch=true&resourceVersion={compacted}&timeoutSeconds=1")),
        )
        .send()
        .await?;
    assert_eq!(r.status(), 200);
    let text = r.text().await?;
    let first: Value = serde_json::from_str(text.lines().next().unwrap_or("{}"))?;
    assert_eq!(rv(&first["object"]), compacted + 1, "{text}");
    Ok(())
}
