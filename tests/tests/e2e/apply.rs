//! `POST /v1/apply` (multi-document, atomic, one revision, unchanged objects write nothing),
//! served versions sharing one stored form, and API discovery.

use istio_tests::{Cluster, VS};
use serde_json::Value;

const BUNDLE: &str = r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v1}
      weight: 80
    - destination: {host: reviews, subset: v2}
      weight: 20
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata:
  name: reviews
spec:
  host: reviews
  subsets:
  - name: v1
    labels: {version: v1}
  - name: v2
    labels: {version: v2}
---
apiVersion: networking.istio.io/v1alpha3
kind: Gateway
metadata:
  name: gw
  namespace: edge
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
"#;

async fn apply(c: &Cluster, body: &str) -> reqwest::Response {
    c.client
        .post(c.node(1).url("/v1/apply"))
        .header("content-type", "application/yaml")
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

fn results(v: &Value) -> Vec<String> {
    v["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["result"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn apply_is_atomic_and_idempotent() -> anyhow::Result<()> {
    let c = Cluster::single(&[]).await?;
    let r = apply(&c, BUNDLE).await;
    assert_eq!(r.status(), 200, "{}", r.text().await?);
    let v: Value = r.json().await?;
    assert_eq!(results(&v), ["created", "created", "created"]);
    let rev = v["revision"].as_u64().unwrap();
    assert_eq!(rev, 1, "three objects, one revision");

    let v: Value = apply(&c, BUNDLE).await.json().await?;
    assert_eq!(results(&v), ["unchanged", "unchanged", "unchanged"]);
    assert_eq!(v["revision"].as_u64(), Some(rev), "an unchanged apply wrote a revision");

    let changed = BUNDLE.replace("weight: 80", "weight: 70").replace("weight: 20", "weight: 30");
    let v: Value = apply(&c, &changed).await.json().await?;
    assert_eq!(results(&v), ["configured", "unchanged", "unchanged"]);
    assert_eq!(v["revision"].as_u64(), Some(rev + 1));

    // One bad document: nothing is applied, every problem is named with its document.
    let bad = format!("{changed}\n---\napiVersion: networking.istio.io/v1\nkind: EnvoyFilter\nmetadata: {{name: x}}\nspec: {{}}\n");
    let bad = bad.replace("weight: 70", "weight: 75");
    let r = apply(&c, &bad).await;
    assert_eq!(r.status(), 422);
    let v: Value = r.json().await?;
    let msg = v.to_string();
    assert!(msg.contains("document 3") && msg.contains("unsupported kind"), "{msg}");
    assert!(msg.contains("weight") || msg.contains("100"), "weights no longer sum to 100: {msg}");
    let got: Value =
        c.client.get(c.node(1).url(&format!("{VS}/reviews"))).send().await?.json().await?;
    assert_eq!(got["spec"]["http"][0]["route"][0]["weight"], 70, "a rejected apply changed state");

    // YAML syntax errors name the line.
    let r = apply(&c, "apiVersion: v1\nkind: [unclosed\n").await;
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await?;
    assert!(v["message"].as_str().unwrap().contains("line"), "{v}");
    Ok(())
}

#[tokio::test]
async fn istioctl_apply_directory_is_one_revision() -> anyhow::Result<()> {
    let c = Cluster::single(&[]).await?;
    let dir = tempfile::tempdir()?;
    let docs: Vec<&str> = BUNDLE.split("---").collect();
    std::fs::create_dir(dir.path().join("sub"))?;
    std::fs::write(dir.path().join("a.yaml"), docs[0])?;
    std::fs::write(dir.path().join("sub/b.yml"), format!("{}---{}", docs[1], docs[2]))?;
    std::fs::write(dir.path().join("notes.txt"), "not configuration")?;
    let run = |args: &[&str]| {
        std::process::Command::new(istio_tests::istioctl_bin())
            .args(["--server", &c.node(1).url("")])
            .args(args)
            .output()
            .expect("istioctl")
    };
    let d = dir.path().to_str().unwrap();
    let out = run(&["apply", "-f", d]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(text.matches(" created").count(), 3, "{text}");
    assert!(text.contains("revision 1"), "{text}");
    let out = run(&["apply", "-f", d]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.matches(" unchanged").count(), 3, "{text}");
    assert!(text.contains("revision 1"), "{text}");

    // One bad document anywhere: nothing applied, the error names file, document and field.
    let bad = docs[1].replace("host: reviews", "host: reviews\n  hostt: typo");
    std::fs::write(dir.path().join("sub/b.yml"), format!("{bad}---{}", docs[2]))?;
    std::fs::write(dir.path().join("a.yaml"), docs[0].replace("weight: 80", "weight: 60"))?;
    let out = run(&["apply", "-f", d]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("b.yml: document 0 (DestinationRule reviews)") && err.contains("spec.hostt"),
        "{err}"
    );
    let s = c.status(1).await?;
    assert_eq!(
        s["members"][0]["status"]["applied"]["revision"], 1,
        "a failed apply wrote something"
    );
    Ok(())
}

#[tokio::test]
async fn versions_share_one_stored_form_and_discovery_lists_kinds() -> anyhow::Result<()> {
    let c = Cluster::single(&[]).await?;
    let r = apply(&c, BUNDLE).await;
    assert_eq!(r.status(), 200);
    for v in ["v1", "v1beta1", "v1alpha3"] {
        let got: Value = c
            .client
            .get(c.node(1).url(&format!(
                "/apis/networking.istio.io/{v}/namespaces/default/destinationrules/reviews"
            )))
            .send()
            .await?
            .json()
            .await?;
        assert_eq!(got["apiVersion"], format!("networking.istio.io/{v}"));
        assert_eq!(got["spec"]["subsets"][1]["name"], "v2");
    }
    let groups: Value = c.client.get(c.node(1).url("/apis")).send().await?.json().await?;
    let names: Vec<&str> =
        groups["groups"].as_array().unwrap().iter().filter_map(|g| g["name"].as_str()).collect();
    for g in ["networking.istio.io", "security.istio.io", "telemetry.istio.io"] {
        assert!(names.contains(&g), "{groups}");
    }
    let res: Value = c
        .client
        .get(c.node(1).url("/apis/networking.istio.io/v1alpha3"))
        .send()
        .await?
        .json()
        .await?;
    let vs = res["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "virtualservices")
        .unwrap();
    assert_eq!(vs["kind"], "VirtualService");
    assert_eq!(vs["shortNames"][0], "vs");
    assert_eq!(vs["namespaced"], true);
    // Kinds istiod does not serve are 404 on the resource paths.
    let r = c
        .client
        .get(c.node(1).url("/apis/networking.istio.io/v1alpha3/namespaces/default/envoyfilters"))
        .send()
        .await?;
    assert_eq!(r.status(), 404);
    let list: Value = c
        .client
        .get(c.node(1).url("/apis/networking.istio.io/v1/gateways"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(list["kind"], "GatewayList");
    // Field and label selectors on lists.
    let sel = |q: &str| {
        let url = c.node(1).url(&format!("/apis/networking.istio.io/v1/destinationrules?{q}"));
        let http = c.client.clone();
        async move { http.get(url).send().await.unwrap().json::<Value>().await.unwrap() }
    };
    assert_eq!(
        sel("fieldSelector=metadata.name%3Dreviews").await["items"].as_array().unwrap().len(),
        1
    );
    assert_eq!(
        sel("fieldSelector=metadata.name%3Dnone").await["items"].as_array().unwrap().len(),
        0
    );
    assert_eq!(sel("labelSelector=app%3Dnone").await["items"].as_array().unwrap().len(), 0);
    assert_eq!(sel("labelSelector=%21app").await["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["metadata"]["namespace"], "edge");
    Ok(())
}

/// An apply reads the answering member's state without a ReadIndex round first, and lets the
/// txn's preconditions check that read at commit. Through members that may lag, each apply
/// still answers from the latest committed state: a changed object is "configured" at a new
/// revision, and the same document applied at once through another member is "unchanged"
/// at that revision, never a second write.
#[tokio::test]
async fn applies_through_followers_answer_from_the_committed_state() -> anyhow::Result<()> {
    let c = Cluster::start(3, &[]).await?;
    let doc = |round: u64| {
        format!(
            "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: lag\n\
             \x20 labels: {{round: \"{round}\"}}\nspec:\n  hosts: [lag]\n  http:\n  - route:\n    - destination: {{host: lag}}\n"
        )
    };
    let apply_via = |id: u64, body: String| {
        let c = &c;
        async move {
            let r = c
                .client
                .post(c.node(id).url("/v1/apply"))
                .header("content-type", "application/yaml")
                .body(body)
                .send()
                .await?;
            let status = r.status();
            let v: Value = r.json().await?;
            anyhow::ensure!(status.is_success(), "apply via {id}: {status}: {v}");
            anyhow::Ok((results(&v), v["revision"].as_u64().unwrap_or_default()))
        }
    };
    let mut last = 0;
    for round in 0..20u64 {
        let (writer, echo) = (1 + round % 3, 1 + (round + 1) % 3);
        let (res, rev) = apply_via(writer, doc(round)).await?;
        let want = if round == 0 { "created" } else { "configured" };
        assert_eq!(res, [want], "round {round} via member {writer}");
        assert_eq!(rev, last + 1, "round {round}: one revision per change");
        last = rev;
        let (res, rev) = apply_via(echo, doc(round)).await?;
        assert_eq!(res, ["unchanged"], "round {round}: the same document via member {echo}");
        assert_eq!(rev, last, "round {round}: an unchanged apply writes nothing");
    }
    Ok(())
}
