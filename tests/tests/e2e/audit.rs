//! The audit log: `/v1/audit` (filters, follow), `/v1/history/…`, and `istioctl audit|history`.

use std::time::Duration;

use futures::StreamExt;
use istio_tests::{istioctl_bin, object, Cluster, VS};
use serde_json::Value;

#[tokio::test]
async fn audit_and_history() -> anyhow::Result<()> {
    let c = Cluster::single(&[]).await?;
    let n = c.node(1);
    let url = n.url(&format!("{VS}/reviews"));
    assert_eq!(c.put(1, "reviews", "v1").await?.status(), 201);
    assert_eq!(c.put(1, "reviews", "v2").await?.status(), 200);
    assert_eq!(c.put(1, "other", "x").await?.status(), 201);
    assert_eq!(c.client.delete(&url).send().await?.status(), 200);

    let all: Value = c.client.get(n.url("/v1/audit")).send().await?.json().await?;
    let items = all["items"].as_array().unwrap();
    assert_eq!(items.len(), 4, "{all}");
    let verbs: Vec<&str> = items.iter().map(|e| e["verb"].as_str().unwrap()).collect();
    assert_eq!(verbs, ["update", "update", "update", "delete"]);
    for (i, e) in items.iter().enumerate() {
        assert_eq!(e["revision"], i as u64 + 1);
        assert_eq!(e["actor"], "anonymous");
        assert!(e["time"].as_str().unwrap().ends_with('Z'));
        assert!(!e["requestId"].as_str().unwrap().is_empty());
    }
    let second = &items[1]["changes"][0];
    assert_eq!(second["type"], "MODIFIED");
    assert_eq!(second["previous"]["metadata"]["labels"]["value"], "v1");
    assert_eq!(second["object"]["metadata"]["labels"]["value"], "v2");
    assert_eq!(items[3]["changes"][0]["object"], Value::Null);

    let filtered: Value = c
        .client
        .get(n.url("/v1/audit?name=reviews&verb=update&from=2&limit=5"))
        .send()
        .await?
        .json()
        .await?;
    let revs: Vec<u64> = filtered["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["revision"].as_u64().unwrap())
        .collect();
    assert_eq!(revs, [2]);

    let h: Value = c
        .client
        .get(n.url("/v1/history/networking.istio.io/virtualservices/default/reviews"))
        .send()
        .await?
        .json()
        .await?;
    let types: Vec<&str> = h["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["changes"][0]["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["ADDED", "MODIFIED", "DELETED"]);

    // Reads at past revisions, and the state hash at each.
    for (rev, want) in [(1, Some("v1")), (2, Some("v2")), (3, Some("v2")), (4, None)] {
        let r = c.client.get(format!("{url}?revision={rev}")).send().await?;
        match want {
            Some(v) => {
                let o: Value = r.json().await?;
                assert_eq!(o["metadata"]["labels"]["value"], v, "at revision {rev}");
            }
            None => assert_eq!(r.status(), 404, "deleted at revision 4"),
        }
    }
    let now: Value = c.client.get(n.url("/v1/state")).send().await?.json().await?;
    let status = c.status(1).await?;
    assert_eq!(now["stateHash"], status["members"][0]["status"]["applied"]["stateHash"]);
    let at2: Value = c.client.get(n.url("/v1/state?revision=2")).send().await?.json().await?;
    assert_eq!(at2["items"].as_array().unwrap().len(), 1);
    let future = c.client.get(n.url("/v1/state?revision=99")).send().await?;
    assert_eq!(future.status(), 400);

    // Follow: retained events first, then new ones as they commit.
    let resp = c
        .client
        .get(n.url("/v1/audit?follow=true&kind=vs&name=late"))
        .timeout(Duration::from_secs(20))
        .send()
        .await?;
    let mut body = resp.bytes_stream();
    let r = c.client.put(n.url(&format!("{VS}/late"))).json(&object("late", "v")).send().await?;
    assert_eq!(r.status(), 201);
    let mut buf = Vec::new();
    while !buf.contains(&b'\n') {
        let chunk = tokio::time::timeout(Duration::from_secs(10), body.next())
            .await?
            .expect("stream open")?;
        buf.extend_from_slice(&chunk);
    }
    let ev: Value = serde_json::from_slice(buf.split(|b| *b == b'\n').next().unwrap())?;
    assert_eq!(ev["revision"], 5);
    assert_eq!(ev["changes"][0]["name"], "late");

    // istioctl renders both.
    let run = |args: &[&str]| {
        std::process::Command::new(istioctl_bin())
            .args(["--server", &n.url("")])
            .args(args)
            .output()
            .expect("istioctl")
    };
    let out = run(&["audit"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(
        text.starts_with("REVISION") && text.contains("VirtualService default/reviews (DELETED)"),
        "{text}"
    );
    let out = run(&["completion", "bash"]);
    assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("_istioctl"));
    let out = run(&["history", "vs", "reviews"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("ADDED") && text.contains("MODIFIED") && text.contains("DELETED"),
        "{text}"
    );
    Ok(())
}
