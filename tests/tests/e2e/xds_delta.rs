//! Delta (incremental) ADS on istiod's gRPC port, driven by envoy-types' client: wildcard CDS
//! arrives split over several responses, each resource with a version; an endpoint change
//! sends only the changed ClusterLoadAssignment; a deleted service is sent as a removed name; a
//! subscription to a name that does not exist is answered as removed; a NACK shows in
//! `/v1/proxies`; a proxy reconnecting with `initial_resource_versions` is sent only what
//! changed.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use anyhow::Context;
use envoy_types::pb::envoy::config::endpoint::v3::ClusterLoadAssignment;
use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse,
};
use istio_tests::ads::{echo_service_entry, DeltaStream, CDS, EDS};
use istio_tests::Cluster;
use prost::Message;
use serde_json::json;

const TEN_S: Duration = Duration::from_secs(10);
const ECHO: &str = "outbound|8080||echo.example.com";
/// Enough ServiceEntries that wildcard CDS exceeds one response.
const SERVICES: usize = 300;

fn filler(i: usize) -> serde_json::Value {
    json!({
        "apiVersion": "networking.istio.io/v1",
        "kind": "ServiceEntry",
        "metadata": {"name": format!("svc{i}"), "namespace": "default"},
        "spec": {
            "hosts": [format!("svc{i}.example.com")],
            "ports": [{"number": 80, "name": "http", "protocol": "HTTP"}],
            "resolution": "STATIC",
            "location": "MESH_INTERNAL",
            "endpoints": [{"address": "10.9.0.1"}],
        },
    })
}

/// Reads responses of `type_url` (ACKing each) until `done` holds for the names and versions
/// received so far; returns them and the responses.
async fn collect(
    s: &mut DeltaStream,
    type_url: &str,
    done: impl Fn(&BTreeMap<String, String>) -> bool,
) -> anyhow::Result<(BTreeMap<String, String>, Vec<DeltaDiscoveryResponse>)> {
    let mut got = BTreeMap::new();
    let mut responses = Vec::new();
    while !done(&got) {
        let r = s.next().await?;
        s.ack(&r).await?;
        if r.type_url != type_url {
            continue;
        }
        for res in &r.resources {
            assert!(!res.version.is_empty(), "every delta resource has a version");
            got.insert(res.name.clone(), res.version.clone());
        }
        responses.push(r);
    }
    Ok((got, responses))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delta_ads_sends_only_what_changed() -> anyhow::Result<()> {
    let c = Cluster::single(&["--xds-debounce-ms", "20"]).await?;
    let mut items: Vec<serde_json::Value> = (0..SERVICES).map(filler).collect();
    items.push(echo_service_entry("10.0.0.1"));
    let r = c
        .client
        .post(c.node(1).url("/v1/apply"))
        .body(json!({"kind": "List", "items": items}).to_string())
        .send()
        .await?;
    assert!(r.status().is_success(), "{}", r.text().await?);
    let grpc = c.node(1).grpc.to_string();

    // Wildcard CDS: every cluster, over several responses (each its own nonce).
    let mut s = DeltaStream::connect(&grpc, "envoy-1").await?;
    s.subscribe(CDS, &[], &[]).await?;
    let (clusters, responses) =
        collect(&mut s, CDS, |got| got.len() > SERVICES).await.context("wildcard CDS")?;
    assert_eq!(clusters.len(), SERVICES + 1);
    assert!(responses.len() > 1, "a large push is split: {} response(s)", responses.len());
    let nonces: std::collections::BTreeSet<&str> =
        responses.iter().map(|r| r.nonce.as_str()).collect();
    assert_eq!(nonces.len(), responses.len());

    // EDS for echo, and for a cluster that does not exist (answered as removed).
    s.subscribe(EDS, &[ECHO], &[]).await?;
    let eds = s.next().await?;
    s.ack(&eds).await?;
    assert_eq!(eds.resources.len(), 1);
    let cla = ClusterLoadAssignment::decode(
        eds.resources[0].resource.as_ref().context("any")?.value.as_slice(),
    )?;
    assert!(format!("{cla:?}").contains("10.0.0.1"));
    s.subscribe(EDS, &["outbound|1||missing.example.com"], &[]).await?;
    let missing = s.next().await?;
    s.ack(&missing).await?;
    assert!(missing.resources.is_empty());
    assert_eq!(missing.removed_resources, ["outbound|1||missing.example.com"]);

    // An endpoint-only change: one EDS response with just echo's assignment; no CDS.
    let echo_url =
        c.node(1).url("/apis/networking.istio.io/v1/namespaces/default/serviceentries/echo");
    let r = c.client.put(&echo_url).json(&echo_service_entry("10.0.0.9")).send().await?;
    assert!(r.status().is_success(), "{}", r.text().await?);
    let push = s.next().await?;
    assert_eq!(push.type_url, EDS, "an endpoint-only change pushes EDS only");
    assert_eq!(push.resources.len(), 1);
    assert_eq!(push.resources[0].name, ECHO);
    assert_ne!(push.resources[0].version, eds.resources[0].version);
    let cla = ClusterLoadAssignment::decode(
        push.resources[0].resource.as_ref().context("any")?.value.as_slice(),
    )?;
    assert!(format!("{cla:?}").contains("10.0.0.9"));

    // The proxy rejects it: /v1/proxies shows the NACK, and that the stream is delta.
    s.send(DeltaDiscoveryRequest {
        type_url: EDS.into(),
        response_nonce: push.nonce.clone(),
        error_detail: Some(envoy_types::pb::google::rpc::Status {
            code: 3,
            message: "rejected by test".into(),
            ..Default::default()
        }),
        ..Default::default()
    })
    .await?;
    let p = c
        .wait_json(&c.node(1).url("/v1/proxies"), TEN_S, "EDS NACKED", |v| {
            v["proxies"][0]["types"]["eds"]["status"] == "NACKED"
        })
        .await?;
    let proxy = &p["proxies"][0];
    assert_eq!(proxy["protocol"], "delta");
    assert_eq!(proxy["types"]["eds"]["lastNack"]["message"], "rejected by test");
    assert_eq!(proxy["types"]["cds"]["status"], "SYNCED");
    assert_eq!(proxy["types"]["cds"]["resources"], SERVICES + 1);
    assert_eq!(
        proxy["types"]["eds"]["subscribed"],
        json!(["outbound|1||missing.example.com", ECHO])
    );

    // A deleted service: its cluster is sent as removed, nothing else.
    let r = c
        .client
        .delete(
            c.node(1).url("/apis/networking.istio.io/v1/namespaces/default/serviceentries/svc7"),
        )
        .send()
        .await?;
    assert!(r.status().is_success(), "{}", r.text().await?);
    let removed = loop {
        let r = s.next().await?;
        s.ack(&r).await?;
        if r.type_url == CDS {
            break r;
        }
    };
    assert!(removed.resources.is_empty());
    assert_eq!(removed.removed_resources, ["outbound|80||svc7.example.com"]);

    // Reconnecting with what it holds: a stale version of echo's cluster and one of a cluster
    // that no longer exists. Only those two are answered: echo resent, svc7 removed.
    drop(s);
    let mut held: HashMap<String, String> = clusters.clone().into_iter().collect();
    held.insert(ECHO.into(), "stale".into());
    let mut again = DeltaStream::connect(&grpc, "envoy-1").await?;
    again
        .send(DeltaDiscoveryRequest {
            type_url: CDS.into(),
            initial_resource_versions: held,
            ..Default::default()
        })
        .await?;
    let first = again.next().await?;
    let names: Vec<&str> = first.resources.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, [ECHO], "only the stale cluster is resent");
    assert_eq!(first.removed_resources, ["outbound|80||svc7.example.com"]);
    again.ack(&first).await?;
    c.wait_json(&c.node(1).url("/v1/proxies"), TEN_S, "the reconnected proxy SYNCED", |v| {
        v["proxies"][0]["types"]["cds"]["status"] == "SYNCED"
            && v["proxies"][0]["types"]["cds"]["resources"] == SERVICES
    })
    .await?;
    Ok(())
}
