//! The whole configuration as of a past revision (`/v1/state`), and picking objects out of it:
//! shared by `get --revision` and `replay`.

use anyhow::Result;
use istio_planes_config::KindInfo;
use serde_json::Value;

use super::client::Client;

/// `GET /v1/state?revision=…`: every object as of `revision`, and the state hash.
pub(super) async fn at(client: &Client, revision: u64) -> Result<Value> {
    client.get_json("/v1/state", &[("revision", revision.to_string())]).await
}

/// The objects of a `/v1/state` answer that match kind, namespace and name.
pub(super) fn select(
    state: &Value,
    info: Option<&KindInfo>,
    namespace: Option<&str>,
    name: Option<&str>,
) -> Vec<Value> {
    state["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|o| {
            info.is_none_or(|i| o["kind"] == i.kind)
                && namespace.is_none_or(|n| o["metadata"]["namespace"] == n)
                && name.is_none_or(|n| o["metadata"]["name"] == n)
        })
        .cloned()
        .collect()
}
