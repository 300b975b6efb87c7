//! `--tokens`: missing or bad token → 401, insufficient role → 403, each role allowed what it
//! should be; health endpoints stay open; istioctl passes `--token`.

use istio_tests::{object, Cluster, VS};
use serde_json::Value;

#[tokio::test]
async fn tokens_and_roles() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let tokens = dir.path().join("tokens.csv");
    std::fs::write(
        &tokens,
        "# token,user,role\nv-tok,vera,viewer\ne-tok,eddie,editor\na-tok,ada,admin\n",
    )?;
    let c = Cluster::single_as(&["--tokens", tokens.to_str().unwrap()], Some("a-tok")).await?;
    let n = c.node(1);
    let http = &istio_tests::client();
    let url = n.url(&format!("{VS}/reviews"));

    let status = |v: &Value, code: u16, reason: &str| {
        assert_eq!(v["kind"], "Status", "{v}");
        assert_eq!(v["code"], code, "{v}");
        assert_eq!(v["reason"], reason, "{v}");
    };
    let r = http.get(&url).send().await?;
    assert_eq!(r.status(), 401);
    status(&r.json().await?, 401, "Unauthorized");
    let r = http.get(&url).bearer_auth("wrong").send().await?;
    assert_eq!(r.status(), 401);
    assert_eq!(http.get(n.url("/healthz")).send().await?.status(), 200);

    let r = http.put(&url).bearer_auth("v-tok").json(&object("reviews", "v1")).send().await?;
    assert_eq!(r.status(), 403);
    let v: Value = r.json().await?;
    status(&v, 403, "Forbidden");
    assert!(v["message"].as_str().unwrap().contains("vera"), "{v}");

    let r = http.put(&url).bearer_auth("e-tok").json(&object("reviews", "v1")).send().await?;
    assert_eq!(r.status(), 201);
    let r = http.get(&url).bearer_auth("v-tok").send().await?;
    assert_eq!(r.status(), 200);

    // The event records the authenticated user and the client address.
    let audit: Value = c.client.get(n.url("/v1/audit")).send().await?.json().await?;
    let ev = &audit["items"][0];
    assert_eq!(ev["actor"], "eddie", "{audit}");
    assert!(ev["source"].as_str().unwrap().starts_with("127.0.0.1:"), "{audit}");

    let members = n.url("/v1/cluster/members");
    let r = http.post(&members).bearer_auth("e-tok").body("{}").send().await?;
    assert_eq!(r.status(), 403, "editors may not change membership");
    let r = http.post(&members).bearer_auth("a-tok").body("{}").send().await?;
    assert_eq!(r.status(), 400, "admins get past authorization to body validation");
    // istioctl: --token (or ISTIOCTL_TOKEN) is sent; without it the error says why.
    let istioctl = istio_tests::istioctl_bin();
    let out = std::process::Command::new(&istioctl)
        .args(["--server", &n.url(""), "get", "vs"])
        .env_remove("ISTIOCTL_TOKEN")
        .output()?;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("credentials"), "{out:?}");
    let out = std::process::Command::new(&istioctl)
        .args(["--server", &n.url(""), "--token", "v-tok", "get", "vs"])
        .output()?;
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("reviews"));
    Ok(())
}
