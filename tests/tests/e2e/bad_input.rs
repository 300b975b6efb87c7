//! Every bad input gets a Kubernetes `Status` error with the right code, and writes nothing.

use istio_tests::{object, Cluster, VS};
use serde_json::{json, Value};

async fn revision(c: &Cluster) -> u64 {
    let s = c.status(1).await.unwrap();
    s["members"][0]["status"]["applied"]["revision"].as_u64().unwrap()
}

fn check_status(body: &Value, code: u16, reason: &str) {
    assert_eq!(body["kind"], "Status", "{body}");
    assert_eq!(body["status"], "Failure", "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["reason"], reason, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
}

#[tokio::test]
async fn bad_inputs_get_status_errors_and_write_nothing() -> anyhow::Result<()> {
    let c = Cluster::single(&[]).await?;
    let n = c.node(1);
    let http = &c.client;
    let r = c.put(1, "existing", "v").await?;
    assert_eq!(r.status(), 201);
    let before = revision(&c).await;

    let send = |method: reqwest::Method, path: &str, body: Vec<u8>, ct: &str| {
        http.request(method, n.url(path)).header("content-type", ct).body(body).send()
    };
    let json_ct = "application/json";
    // (method, path, body, content type, expected code, expected reason, field named in causes)
    type Case<'a> = (reqwest::Method, String, Vec<u8>, &'a str, u16, &'a str, Option<&'a str>);
    let cases: Vec<Case<'_>> = vec![
        (reqwest::Method::POST, VS.into(), b"{not json".to_vec(), json_ct, 400, "BadRequest", None),
        (reqwest::Method::POST, VS.into(), b"[1,2]".to_vec(), json_ct, 400, "BadRequest", None),
        (
            reqwest::Method::POST,
            VS.into(),
            json!({"apiVersion":"networking.istio.io/v1","kind":"VirtualService","metadata":{}})
                .to_string()
                .into_bytes(),
            json_ct,
            422,
            "Invalid",
            Some("metadata.name"),
        ),
        (
            reqwest::Method::POST,
            VS.into(),
            json!({"apiVersion":"networking.istio.io/v1","kind":"VirtualService","metadata":{"name":"Bad_Name"}})
                .to_string()
                .into_bytes(),
            json_ct,
            422,
            "Invalid",
            Some("metadata.name"),
        ),
        (
            reqwest::Method::POST,
            VS.into(),
            json!({"kind":"VirtualService","metadata":{"name":"a"}}).to_string().into_bytes(),
            json_ct,
            422,
            "Invalid",
            Some("apiVersion"),
        ),
        (
            reqwest::Method::POST,
            VS.into(),
            {
                let mut o = object("big", "x");
                o["spec"]["value"] = Value::String("x".repeat(3 << 20));
                o.to_string().into_bytes()
            },
            json_ct,
            413,
            "RequestEntityTooLarge",
            None,
        ),
        (
            reqwest::Method::POST,
            VS.into(),
            {
                let mut o = object("typo", "v");
                o["spec"]["http"][0]["route"][0]["destination"]["hostt"] = "x".into();
                o.to_string().into_bytes()
            },
            json_ct,
            422,
            "Invalid",
            Some("spec.http[0].route[0].destination.hostt"),
        ),
        (
            reqwest::Method::POST,
            VS.into(),
            {
                let mut o = object("weights", "v");
                o["spec"]["http"][0]["route"][0]["weight"] = 30.into();
                o.to_string().into_bytes()
            },
            json_ct,
            422,
            "Invalid",
            None,
        ),
        (
            reqwest::Method::POST,
            VS.into(),
            b"apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: [x\n".to_vec(),
            "application/yaml",
            400,
            "BadRequest",
            None,
        ),
        (reqwest::Method::GET, "/no/such/path".into(), vec![], json_ct, 404, "NotFound", None),
        (reqwest::Method::GET, "/apis/g".into(), vec![], json_ct, 404, "NotFound", None),
        (reqwest::Method::GET, format!("{VS}/missing"), vec![], json_ct, 404, "NotFound", None),
        (reqwest::Method::DELETE, format!("{VS}/missing"), vec![], json_ct, 404, "NotFound", None),
        (reqwest::Method::POST, format!("{VS}/existing"), vec![], json_ct, 405, "MethodNotAllowed", None),
        (reqwest::Method::DELETE, VS.into(), vec![], json_ct, 405, "MethodNotAllowed", None),
        (reqwest::Method::POST, "/v1/cluster".into(), vec![], json_ct, 405, "MethodNotAllowed", None),
        (
            reqwest::Method::POST,
            VS.into(),
            object("existing", "v2").to_string().into_bytes(),
            json_ct,
            409,
            "AlreadyExists",
            None,
        ),
        (
            reqwest::Method::PUT,
            format!("{VS}/existing"),
            {
                let mut o = object("existing", "v2");
                o["metadata"]["resourceVersion"] = "999".into();
                o.to_string().into_bytes()
            },
            json_ct,
            409,
            "Conflict",
            None,
        ),
        (
            reqwest::Method::PUT,
            format!("{VS}/other"),
            object("existing", "v2").to_string().into_bytes(),
            json_ct,
            400,
            "BadRequest",
            None,
        ),
        (
            reqwest::Method::PATCH,
            format!("{VS}/existing"),
            b"[]".to_vec(),
            "application/json-patch+json",
            415,
            "UnsupportedMediaType",
            None,
        ),
        (
            reqwest::Method::GET,
            format!("{VS}?watch=true&resourceVersion=abc"),
            vec![],
            json_ct,
            400,
            "BadRequest",
            None,
        ),
        (
            reqwest::Method::POST,
            "/v1/cluster/members".into(),
            b"{\"id\":\"x\"}".to_vec(),
            json_ct,
            400,
            "BadRequest",
            None,
        ),
    ];
    for (i, (method, path, body, ct, code, reason, field)) in cases.into_iter().enumerate() {
        let what = format!("case {i}: {method} {path} ({} bytes)", body.len());
        let r =
            send(method, &path, body, ct).await.map_err(|e| anyhow::anyhow!("{what}: {e:?}"))?;
        assert_eq!(r.status().as_u16(), code, "{what}");
        let v: Value = r.json().await?;
        check_status(&v, code, reason);
        if let Some(f) = field {
            let causes = v["details"]["causes"].as_array().expect("causes");
            assert!(causes.iter().any(|c| c["field"] == f), "{what}: no cause for {f}: {v}");
        }
    }
    assert_eq!(revision(&c).await, before, "a rejected request wrote something");
    // The server is still healthy after all that.
    assert!(http.get(n.url("/healthz")).send().await?.status().is_success());
    Ok(())
}

/// A small hostile body — 250 KB of 50,000 nested flow mappings, posted as YAML to a resource
/// path and to `/v1/apply`, three at a time — gets its 400 at once and never delays
/// `/healthz` (before the depth bound it cost ~15 s of CPU each, parsed on the runtime's
/// workers, and `/healthz` took 14 s to answer). The bounds are loose on purpose: they tell a
/// stalled runtime from a working one, they are not a benchmark.
#[tokio::test]
async fn a_deeply_nested_yaml_body_costs_milliseconds_and_never_delays_health_checks(
) -> anyhow::Result<()> {
    use std::time::{Duration, Instant};
    let c = Cluster::single(&[]).await?;
    let before = revision(&c).await;
    let n = 50_000;
    let hostile = format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: deep\n\
         spec:\n  hosts: {}1{}\n",
        "{a: ".repeat(n),
        "}".repeat(n)
    );
    assert!(hostile.len() > 200_000);
    let post = |path: String| {
        let (c, body) = (&c, hostile.clone());
        async move {
            let start = Instant::now();
            let r = c
                .client
                .post(c.node(1).url(&path))
                .header("content-type", "application/yaml")
                .body(body)
                .send()
                .await?;
            let code = r.status().as_u16();
            let v: Value = r.json().await?;
            anyhow::Ok((code, v, start.elapsed()))
        }
    };
    let done = std::sync::atomic::AtomicBool::new(false);
    let hostile = async {
        let r =
            tokio::join!(post(VS.to_string()), post("/v1/apply".to_string()), post(VS.to_string()));
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        r
    };
    // Health checks back to back for as long as the hostile requests are in flight (at least
    // one): the slowest is what a kubelet's probe would have seen.
    let health = async {
        let (mut worst, mut n) = (Duration::ZERO, 0);
        while n == 0 || !done.load(std::sync::atomic::Ordering::SeqCst) {
            let start = Instant::now();
            let r = c.client.get(c.node(1).url("/healthz")).send().await?;
            anyhow::ensure!(r.status().is_success(), "/healthz: {}", r.status());
            worst = worst.max(start.elapsed());
            n += 1;
        }
        anyhow::Ok(worst)
    };
    let ((a, b, d), h) = tokio::join!(hostile, health);
    for (code, body, took) in [a?, b?, d?] {
        check_status(&body, code, "BadRequest");
        assert_eq!(code, 400, "{body}");
        let msg = body["message"].as_str().unwrap_or_default();
        assert!(msg.contains("document 0") && msg.contains("deeper than"), "{msg}");
        assert!(took < Duration::from_secs(2), "the hostile request took {took:?}");
    }
    let h = h?;
    assert!(h < Duration::from_secs(1), "/healthz took {h:?} beside hostile bodies");
    assert_eq!(revision(&c).await, before, "a refused body wrote something");
    Ok(())
}
