//! Kubernetes API discovery (`/api`, `/apis`, `/apis/{group}`, `/apis/{group}/{version}`), so
//! kubectl and other Kubernetes clients find the Istio kinds istiod serves.

use std::collections::BTreeMap;

use axum::Json;
use istio_planes_config::KINDS;
use serde_json::{json, Value};

use crate::error::ApiError;

const VERBS: &[&str] = &["create", "delete", "get", "list", "patch", "update", "watch"];

/// Groups and their versions, in registry order.
fn groups_map() -> BTreeMap<&'static str, &'static [&'static str]> {
    KINDS.iter().map(|k| (k.group, k.versions)).collect()
}

fn group_json(group: &str, versions: &[&str]) -> Value {
    let vs: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
        .collect();
    json!({
        "name": group,
        "versions": vs,
        "preferredVersion": {"groupVersion": format!("{group}/{}", versions[0]), "version": versions[0]},
    })
}

/// `GET /api`: the core group's versions (none of its resources are served).
pub async fn core_versions() -> Json<Value> {
    Json(json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}))
}

/// `GET /api/v1`: the core group serves no resources here.
pub async fn core_resources() -> Json<Value> {
    Json(json!({"kind": "APIResourceList", "groupVersion": "v1", "resources": []}))
}

/// `GET /apis`.
pub async fn groups() -> Json<Value> {
    let groups: Vec<Value> = groups_map().into_iter().map(|(g, v)| group_json(g, v)).collect();
    Json(json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}))
}

/// `GET /apis/{group}`.
pub fn group(group: &str) -> Result<Json<Value>, ApiError> {
    let map = groups_map();
    let versions = map
        .get(group)
        .ok_or_else(|| ApiError::NoRoute(format!("/apis/{group} (no such API group)")))?;
    let mut g = group_json(group, versions);
    g["kind"] = json!("APIGroup");
    g["apiVersion"] = json!("v1");
    Ok(Json(g))
}

/// `GET /apis/{group}/{version}`: the resources served there.
pub fn resources(group: &str, version: &str) -> Result<Json<Value>, ApiError> {
    let resources: Vec<Value> = KINDS
        .iter()
        .filter(|k| k.group == group && k.versions.contains(&version))
        .map(|k| {
            json!({
                "name": k.plural,
                "singularName": k.singular(),
                "namespaced": true,
                "kind": k.kind,
                "verbs": VERBS,
                "shortNames": k.short_names,
                "categories": ["istio-io", group.split('.').next().unwrap_or_default()],
            })
        })
        .collect();
    if resources.is_empty() {
        return Err(ApiError::NoRoute(format!("/apis/{group}/{version} (no such group/version)")));
    }
    Ok(Json(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": format!("{group}/{version}"),
        "resources": resources,
    })))
}
