//! ADS (state of the world) on istiod's gRPC port, driven by envoy-types' own ADS client:
//! a ServiceEntry becomes a proxyless Listener / RouteConfiguration / Cluster /
//! ClusterLoadAssignment; ACKs are accepted; a changed endpoint pushes only EDS to the stream.
//! (The real-client test with Python grpcio comes with the rest of issue 6.)

use std::time::Duration;

use envoy_types::pb::envoy::config::core::v3::Node;
use envoy_types::pb::envoy::config::endpoint::v3::ClusterLoadAssignment;
use envoy_types::pb::envoy::config::listener::v3::Listener;
use envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_client::AggregatedDiscoveryServiceClient;
use envoy_types::pb::envoy::service::discovery::v3::{DiscoveryRequest, DiscoveryResponse};
use istio_tests::Cluster;
use prost::Message;
use tokio::sync::mpsc;

const LDS: &str = "type.googleapis.com/envoy.config.listener.v3.Listener";
const CDS: &str = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
const EDS: &str = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";

fn service_entry(ip: &str) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "networking.istio.io/v1",
        "kind": "ServiceEntry",
        "metadata": {"name": "echo", "namespace": "default"},
        "spec": {
            "hosts": ["echo.example.com"],
            "ports": [{"number": 8080, "name": "grpc", "protocol": "GRPC"}],
            "resolution": "STATIC",
            "location": "MESH_INTERNAL",
            "endpoints": [{"address": ip}],
        },
    })
}

fn request(type_url: &str, names: &[&str], ack: Option<&DiscoveryResponse>) -> DiscoveryRequest {
    DiscoveryRequest {
        node: Some(Node { id: "proxyless-1".into(), ..Default::default() }),
        type_url: type_url.into(),
        resource_names: names.iter().map(|n| n.to_string()).collect(),
        version_info: ack.map(|r| r.version_info.clone()).unwrap_or_default(),
        response_nonce: ack.map(|r| r.nonce.clone()).unwrap_or_default(),
        ..Default::default()
    }
}

async fn next(s: &mut tonic::Streaming<DiscoveryResponse>) -> anyhow::Result<DiscoveryResponse> {
    tokio::time::timeout(Duration::from_secs(10), s.message())
        .await??
        .ok_or_else(|| anyhow::anyhow!("ADS stream ended"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ads_serves_and_pushes_a_service_entry() -> anyhow::Result<()> {
    let c = Cluster::single(&["--xds-debounce-ms", "20"]).await?;
    let se_url =
        c.node(1).url("/apis/networking.istio.io/v1/namespaces/default/serviceentries/echo");
    let r = c.client.put(&se_url).json(&service_entry("10.0.0.1")).send().await?;
    assert!(r.status().is_success(), "{}", r.text().await?);

    let channel = tonic::transport::Channel::from_shared(format!("http://{}", c.node(1).grpc))?
        .connect()
        .await?;
    let mut ads = AggregatedDiscoveryServiceClient::new(channel);
    let (tx, rx) = mpsc::channel(8);
    let mut inbound = ads
        .stream_aggregated_resources(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await?
        .into_inner();
    let name = "echo.example.com:8080";
    let cluster = "outbound|8080||echo.example.com";

    // The snapshot may trail the write by the debounce: ask until the listener is there.
    tx.send(request(LDS, &[name], None)).await?;
    let mut lds = next(&mut inbound).await?;
    while lds.resources.is_empty() {
        lds = next(&mut inbound).await?;
    }
    assert_eq!(lds.type_url, LDS);
    let l = Listener::decode(lds.resources[0].value.as_slice())?;
    assert_eq!(l.name, name);
    assert!(l.api_listener.is_some(), "proxyless listeners are API listeners");
    tx.send(request(LDS, &[name], Some(&lds))).await?;

    tx.send(request(CDS, &[cluster], None)).await?;
    let cds = next(&mut inbound).await?;
    assert_eq!((cds.type_url.as_str(), cds.resources.len()), (CDS, 1));
    tx.send(request(CDS, &[cluster], Some(&cds))).await?;
    tx.send(request(EDS, &[cluster], None)).await?;
    let eds = next(&mut inbound).await?;
    let cla = ClusterLoadAssignment::decode(eds.resources[0].value.as_slice())?;
    assert!(format!("{cla:?}").contains("10.0.0.1"));
    tx.send(request(EDS, &[cluster], Some(&eds))).await?;

    // Change only the endpoint: the next push on this stream is EDS, with the new address,
    // at a newer version.
    let r = c.client.put(&se_url).json(&service_entry("10.0.0.9")).send().await?;
    assert!(r.status().is_success(), "{}", r.text().await?);
    let push = next(&mut inbound).await?;
    assert_eq!(push.type_url, EDS, "an endpoint-only change pushes EDS only");
    let cla = ClusterLoadAssignment::decode(push.resources[0].value.as_slice())?;
    assert!(format!("{cla:?}").contains("10.0.0.9"));
    assert!(push.version_info.parse::<u64>()? > eds.version_info.parse::<u64>()?);
    Ok(())
}
