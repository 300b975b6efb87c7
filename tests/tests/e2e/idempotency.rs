//! The same `Idempotency-Key` sent twice — to different members, and again after a leader
//! change — yields one revision and the original result.

use std::time::Duration;

use istio_tests::{object, Cluster, VS};
use serde_json::Value;

async fn revision(c: &Cluster, id: u64) -> u64 {
    c.applied(id).await.expect("member status").0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_key_one_revision_even_across_leader_change() -> anyhow::Result<()> {
    let mut c = Cluster::start(3, &[]).await?;
    async fn send(
        c: &Cluster,
        id: u64,
        key: &str,
        name: &str,
    ) -> reqwest::Result<reqwest::Response> {
        c.client
            .post(c.node(id).url(VS))
            .header("Idempotency-Key", key)
            .json(&object(name, "v"))
            .send()
            .await
    }
    let r1 = send(&c, 1, "key-1", "idem").await?;
    assert_eq!(r1.status(), 201);
    assert!(r1.headers().get("idempotent-replayed").is_none());
    let o1: Value = r1.json().await?;
    let rev = revision(&c, 1).await;

    let r2 = send(&c, 2, "key-1", "idem").await?;
    assert_eq!(r2.status(), 201, "a replay returns the original result, not 409");
    assert_eq!(r2.headers().get("idempotent-replayed").map(|v| v.as_bytes()), Some(&b"true"[..]));
    let o2: Value = r2.json().await?;
    assert_eq!(o1, o2);
    assert_eq!(revision(&c, 2).await, rev, "the retry wrote a revision");

    let leader = c.wait_leader(Duration::from_secs(10)).await?;
    c.node_mut(leader).kill();
    let survivor = (1..=3).find(|i| *i != leader).unwrap();
    c.wait_leader(Duration::from_secs(10)).await?;
    let r3 = send(&c, survivor, "key-1", "idem").await?;
    assert_eq!(r3.status(), 201);
    let o3: Value = r3.json().await?;
    assert_eq!(o1, o3);
    assert_eq!(
        revision(&c, survivor).await,
        rev,
        "the retry after a leader change wrote a revision"
    );

    // A different key is a different request.
    let r4 = send(&c, survivor, "key-2", "idem").await?;
    assert_eq!(r4.status(), 409);
    Ok(())
}
