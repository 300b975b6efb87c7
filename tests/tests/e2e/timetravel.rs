//! Apply v1, apply v2, delete, roll back to v1's revision: audit shows four events with actors,
//! history shows the lifecycle, replay at each revision shows the right object, diff between v1
//! and v2 shows exactly the changed fields — over HTTP and through istioctl.

use std::process::Command;

use istio_tests::{istioctl_bin, Cluster, VS};
use serde_json::Value;

fn vs(weight_v1: u32) -> String {
    format!(
        "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: reviews}}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {{host: reviews, subset: v1}}
      weight: {weight_v1}
    - destination: {{host: reviews, subset: v2}}
      weight: {}
",
        100 - weight_v1
    )
}

#[tokio::test]
async fn apply_change_delete_rollback() -> anyhow::Result<()> {
    let c = Cluster::single(&[]).await?;
    let n = c.node(1);
    let dir = tempfile::tempdir()?;
    let istioctl = |args: &[&str]| {
        let out = Command::new(istioctl_bin())
            .args(["--server", &n.url("")])
            .args(args)
            .output()
            .expect("istioctl");
        assert!(out.status.success(), "istioctl {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let file = dir.path().join("vs.yaml");
    std::fs::write(&file, vs(90))?;
    assert!(istioctl(&["apply", "-f", file.to_str().unwrap()]).contains("revision 1"));
    std::fs::write(&file, vs(50))?;
    assert!(istioctl(&["apply", "-f", file.to_str().unwrap()]).contains("revision 2"));
    assert!(istioctl(&["delete", "vs", "reviews"]).contains("deleted"));
    let out = istioctl(&["rollback", "--to-revision", "1"]);
    assert!(out.contains("recreated") && out.contains("revision 4 restores revision 1"), "{out}");

    // Four events with their actors; the rollback records what it restored.
    let audit: Value = c.client.get(n.url("/v1/audit")).send().await?.json().await?;
    let items = audit["items"].as_array().unwrap();
    let verbs: Vec<&str> = items.iter().map(|e| e["verb"].as_str().unwrap()).collect();
    assert_eq!(verbs, ["apply", "apply", "delete", "rollback"]);
    assert!(items.iter().all(|e| e["actor"] == "anonymous"));
    assert_eq!(items[3]["restores"], 1);
    let table = istioctl(&["audit"]);
    assert_eq!(table.lines().count(), 5, "{table}");

    // History: the lifecycle of the object.
    let h = istioctl(&["history", "vs", "reviews"]);
    for want in ["ADDED", "MODIFIED", "DELETED"] {
        assert!(h.contains(want), "{h}");
    }
    assert_eq!(h.matches("ADDED").count(), 2, "created, then recreated by the rollback: {h}");

    // Replay: the right object at every revision.
    let url = n.url(&format!("{VS}/reviews"));
    for (rev, w) in [(1, Some(90)), (2, Some(50)), (3, None), (4, Some(90))] {
        let r = c.client.get(format!("{url}?revision={rev}")).send().await?;
        match w {
            Some(w) => {
                let o: Value = r.json().await?;
                assert_eq!(o["spec"]["http"][0]["route"][0]["weight"], w, "at {rev}");
            }
            None => assert_eq!(r.status(), 404),
        }
    }
    let replay = istioctl(&["replay", "--revision", "2"]);
    assert!(replay.contains("weight: 50") && replay.contains("kind: VirtualService"), "{replay}");
    let got = istioctl(&["get", "vs", "reviews", "--revision", "1", "-o", "json"]);
    assert!(got.contains("\"weight\": 90"), "{got}");

    // Diff v1..v2: exactly the two weights.
    let d: Value = c.client.get(n.url("/v1/diff?from=1&to=2")).send().await?.json().await?;
    assert_eq!(d["changes"].as_array().unwrap().len(), 1);
    assert_eq!(d["changes"][0]["type"], "MODIFIED");
    let text = istioctl(&["diff", "--from", "1", "--to", "2"]);
    let minus: Vec<&str> =
        text.lines().filter(|l| l.starts_with('-') && !l.starts_with("---")).collect();
    let plus: Vec<&str> =
        text.lines().filter(|l| l.starts_with('+') && !l.starts_with("+++")).collect();
    assert_eq!(minus, ["-      weight: 90", "-      weight: 10"], "{text}");
    assert_eq!(plus, ["+      weight: 50", "+      weight: 50"], "{text}");
    // The rollback brought back v1 exactly.
    let d: Value = c.client.get(n.url("/v1/diff?from=1&to=4")).send().await?.json().await?;
    assert_eq!(d["changes"][0]["from"]["spec"], d["changes"][0]["to"]["spec"]);
    Ok(())
}
