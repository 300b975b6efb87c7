//! `--join`: a new member asks an existing one, over its HTTP API, to add it to the cluster
//! (as a learner, then a voter), retrying with backoff until it is a voter.

use std::sync::Arc;
use std::time::Duration;

use istio_store::StoreNode;

/// Asks the cluster at `url` to add this member, until it is one.
pub(super) async fn join(node: Arc<StoreNode>, url: String, token: Option<String>) {
    let cfg = node.config().clone();
    let client = reqwest::Client::new();
    let body = serde_json::json!({"id": cfg.id, "raftAddress": cfg.raft_addr});
    let mut delay = Duration::from_millis(200);
    loop {
        let member = node
            .raft()
            .metrics()
            .borrow()
            .membership_config
            .membership()
            .voter_ids()
            .any(|v| v == cfg.id);
        if member {
            tracing::info!("joined the cluster as a voter");
            return;
        }
        tracing::info!(%url, "asking to join the cluster");
        let mut req = client.post(format!("{url}/v1/cluster/members")).json(&body);
        if let Some(t) = &token {
            req = req.bearer_auth(t);
        }
        let res = req.timeout(Duration::from_secs(120)).send().await;
        match res {
            Ok(r) if r.status().is_success() => {
                tracing::info!("join accepted");
                return;
            }
            Ok(r) => {
                let code = r.status();
                let text = r.text().await.unwrap_or_default();
                tracing::warn!(%code, body = %text, "join refused; retrying");
            }
            Err(e) => tracing::warn!(error = %e, "join request failed; retrying"),
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}
