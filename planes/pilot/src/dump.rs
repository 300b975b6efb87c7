//! xDS resources as proto3 JSON, the form Envoy's own config dump uses: nested `Any`s are
//! expanded with their `@type`. Descriptors come from the set `envoy-types` ships (copied
//! into the build by `build.rs`) and are decoded once, on first use.

use std::sync::OnceLock;

use envoy_types::pb::google::protobuf::Any;
use prost_reflect::{DescriptorPool, DynamicMessage};

static DESCRIPTORS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/envoy-descriptors.bin"));

fn pool() -> Result<&'static DescriptorPool, String> {
    static POOL: OnceLock<Result<DescriptorPool, String>> = OnceLock::new();
    POOL.get_or_init(|| {
        DescriptorPool::decode(DESCRIPTORS)
            .map_err(|e| format!("the envoy-types descriptor set does not decode: {e}"))
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// `any` as proto3 JSON with its `@type`; a resource whose type or bytes cannot be read is
/// rendered as an object naming the problem (with the raw bytes' length), never an error.
pub fn any_to_json(any: &Any) -> serde_json::Value {
    let problem = |why: String| serde_json::json!({"@type": any.type_url, "error": why, "bytes": any.value.len()});
    let pool = match pool() {
        Ok(p) => p,
        Err(e) => return problem(e),
    };
    let name = any.type_url.rsplit('/').next().unwrap_or_default();
    let Some(desc) = pool.get_message_by_name(name) else {
        return problem(format!("unknown message type {name}"));
    };
    let msg = match DynamicMessage::decode(desc, any.value.as_slice()) {
        Ok(m) => m,
        Err(e) => return problem(format!("does not decode as {name}: {e}")),
    };
    match serde_json::to_value(&msg) {
        Ok(serde_json::Value::Object(mut fields)) => {
            let mut out = serde_json::Map::new();
            out.insert("@type".into(), any.type_url.clone().into());
            out.append(&mut fields);
            serde_json::Value::Object(out)
        }
        Ok(other) => other,
        Err(e) => problem(format!("cannot render as JSON: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xds::{pack, CLUSTER};
    use envoy_types::pb::envoy::config::cluster::v3::cluster::{
        ClusterDiscoveryType, DiscoveryType,
    };
    use envoy_types::pb::envoy::config::cluster::v3::Cluster;

    #[test]
    fn cluster_renders_as_envoy_json() {
        let c = Cluster {
            name: "outbound|80||a.example.com".into(),
            cluster_discovery_type: Some(ClusterDiscoveryType::Type(DiscoveryType::Eds as i32)),
            ..Default::default()
        };
        let j = any_to_json(&pack(CLUSTER, &c));
        assert_eq!(j["@type"], CLUSTER);
        assert_eq!(j["name"], "outbound|80||a.example.com");
        assert_eq!(j["type"], "EDS");
        let bad =
            any_to_json(&Any { type_url: "type.googleapis.com/no.Such".into(), value: vec![] });
        assert!(bad["error"].as_str().unwrap().contains("unknown message type"));
    }
}
