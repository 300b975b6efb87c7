//! Export from a 3-node cluster (with compaction), restore into a new 3-node cluster: identical
//! revision, state hash and audit log.

use std::process::Command;
use std::time::Duration;

use istio_tests::{istioctl_bin, istiod_bin, wait_for, Cluster, VS};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_then_restore_is_identical() -> anyhow::Result<()> {
    let src = Cluster::start(3, &["--retain-revisions", "10"]).await?;
    for i in 0..30u64 {
        let r = src.put(1 + i % 3, &format!("o{}", i % 12), &format!("v{i}")).await?;
        assert!(r.status().is_success());
    }
    for i in 0..3 {
        let r = src.client.delete(src.node(2).url(&format!("{VS}/o{i}"))).send().await?;
        assert!(r.status().is_success());
    }
    // Wait for the steady state: compacted to exactly 10 revisions behind on every member, so
    // nothing changes between the audit read, the export and the comparison.
    let (rev, hash) = src.wait_converged(Duration::from_secs(60)).await?;
    wait_for(Duration::from_secs(60), "compaction to revision - 10 everywhere", || async {
        for id in 1..=3 {
            let s = src.status(id).await.ok()?;
            let m = s["members"].as_array()?.iter().find(|m| m["id"] == id)?.clone();
            if m["status"]["applied"]["compactRevision"].as_u64()? != rev - 10 {
                return None;
            }
        }
        Some(())
    })
    .await?;
    let audit: Value = src.client.get(src.node(1).url("/v1/audit")).send().await?.json().await?;

    let dir = tempfile::tempdir()?;
    let file = dir.path().join("backup.export");
    let out = Command::new(istioctl_bin())
        .args(["--server", &src.node(3).url(""), "export", "-o", file.to_str().unwrap()])
        .output()?;
    assert!(out.status.success(), "{out:?}");

    let root = tempfile::tempdir()?;
    for id in 1..=3 {
        let data = root.path().join(format!("node{id}"));
        let out = Command::new(istiod_bin())
            .args([
                "restore",
                "--from",
                file.to_str().unwrap(),
                "--data-dir",
                data.to_str().unwrap(),
            ])
            .output()?;
        assert!(out.status.success(), "{out:?}");
        assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("restored revision {rev}")));
    }
    // Restoring over existing data is refused.
    let again = Command::new(istiod_bin())
        .args(["restore", "--from", file.to_str().unwrap(), "--data-dir"])
        .arg(root.path().join("node1"))
        .output()?;
    assert!(!again.status.success());

    let dst = Cluster::start_in(root, 3, &["--retain-revisions", "10"]).await?;
    let (rev2, hash2) = dst.wait_converged(Duration::from_secs(30)).await?;
    assert_eq!((rev2, &hash2), (rev, &hash), "restored cluster differs");
    let audit2: Value = dst.client.get(dst.node(2).url("/v1/audit")).send().await?.json().await?;
    assert_eq!(audit2["items"], audit["items"], "restored audit differs");
    // And it keeps working: the next write gets the next revision.
    let r = dst.put(3, "after-restore", "v").await?;
    let o: Value = r.json().await?;
    assert_eq!(o["metadata"]["resourceVersion"], (rev + 1).to_string());
    Ok(())
}
