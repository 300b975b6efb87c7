//! Minimal ADS clients for tests (state of the world and delta), on envoy-types' generated client: one
//! stream, requests by type with optional ACK, and responses with a timeout.

use std::time::Duration;

use anyhow::{anyhow, Result};
use envoy_types::pb::envoy::config::core::v3::Node;
use envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_client::AggregatedDiscoveryServiceClient;
use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest, DiscoveryResponse,
};
use tokio::sync::mpsc;

/// LDS type URL.
pub const LDS: &str = "type.googleapis.com/envoy.config.listener.v3.Listener";
/// RDS type URL.
pub const RDS: &str = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";
/// CDS type URL.
pub const CDS: &str = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
/// EDS type URL.
pub const EDS: &str = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";

/// A STATIC ServiceEntry `default/echo` for `echo.example.com:8080` (port `grpc`) with one
/// endpoint at `ip`.
pub fn echo_service_entry(ip: &str) -> serde_json::Value {
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

/// A node with `id` and string `metadata` (e.g. `AUTO_REGISTER_GROUP`), plus `LABELS`.
pub fn node_with(id: &str, metadata: &[(&str, &str)], labels: &[(&str, &str)]) -> Node {
    use envoy_types::pb::google::protobuf::{value::Kind, Struct, Value};
    let s = |v: &str| Value { kind: Some(Kind::StringValue(v.to_owned())) };
    let mut fields: std::collections::HashMap<String, Value> =
        metadata.iter().map(|(k, v)| (k.to_string(), s(v))).collect();
    if !labels.is_empty() {
        let labels = labels.iter().map(|(k, v)| (k.to_string(), s(v))).collect();
        fields.insert(
            "LABELS".into(),
            Value { kind: Some(Kind::StructValue(Struct { fields: labels })) },
        );
    }
    Node { id: id.to_owned(), metadata: Some(Struct { fields }), ..Default::default() }
}

async fn ads_client(
    grpc: &str,
) -> Result<AggregatedDiscoveryServiceClient<tonic::transport::Channel>> {
    let channel = tonic::transport::Channel::from_shared(format!("http://{grpc}"))?
        .connect_timeout(Duration::from_secs(2))
        .connect()
        .await?;
    Ok(AggregatedDiscoveryServiceClient::new(channel))
}

/// One ADS stream (state of the world), as node `node`.
pub struct AdsStream {
    /// The node id sent with every request.
    pub node: String,
    node_proto: Node,
    tx: mpsc::Sender<DiscoveryRequest>,
    inbound: tonic::Streaming<DiscoveryResponse>,
}

impl AdsStream {
    /// Opens a stream to the gRPC address `grpc` (`host:port`).
    pub async fn connect(grpc: &str, node: &str) -> Result<Self> {
        Self::connect_as(grpc, Node { id: node.to_owned(), ..Default::default() }).await
    }

    /// Opens a stream as `node` (with its metadata).
    pub async fn connect_as(grpc: &str, node: Node) -> Result<Self> {
        let mut ads = ads_client(grpc).await?;
        let (tx, rx) = mpsc::channel(8);
        let inbound = ads
            .stream_aggregated_resources(tokio_stream::wrappers::ReceiverStream::new(rx))
            .await?
            .into_inner();
        Ok(AdsStream { node: node.id.clone(), node_proto: node, tx, inbound })
    }

    /// A request for `names` of `type_url`, ACKing `ack` if given.
    pub fn request(
        &self,
        type_url: &str,
        names: &[&str],
        ack: Option<&DiscoveryResponse>,
    ) -> DiscoveryRequest {
        DiscoveryRequest {
            node: Some(self.node_proto.clone()),
            type_url: type_url.into(),
            resource_names: names.iter().map(|n| n.to_string()).collect(),
            version_info: ack.map(|r| r.version_info.clone()).unwrap_or_default(),
            response_nonce: ack.map(|r| r.nonce.clone()).unwrap_or_default(),
            ..Default::default()
        }
    }

    /// Sends a request.
    pub async fn send(&self, r: DiscoveryRequest) -> Result<()> {
        self.tx.send(r).await.map_err(|_| anyhow!("ADS stream closed"))
    }

    /// The next response (10 s at most).
    pub async fn next(&mut self) -> Result<DiscoveryResponse> {
        tokio::time::timeout(Duration::from_secs(10), self.inbound.message())
            .await??
            .ok_or_else(|| anyhow!("ADS stream ended"))
    }
}

/// One delta (incremental) ADS stream, as node `node`.
pub struct DeltaStream {
    node: Node,
    tx: mpsc::Sender<DeltaDiscoveryRequest>,
    inbound: tonic::Streaming<DeltaDiscoveryResponse>,
    sent_node: bool,
}

impl DeltaStream {
    /// Opens a delta stream to the gRPC address `grpc` (`host:port`).
    pub async fn connect(grpc: &str, node: &str) -> Result<Self> {
        let mut ads = ads_client(grpc).await?;
        let (tx, rx) = mpsc::channel(8);
        let inbound = ads
            .delta_aggregated_resources(tokio_stream::wrappers::ReceiverStream::new(rx))
            .await?
            .into_inner();
        let node = Node { id: node.to_owned(), ..Default::default() };
        Ok(DeltaStream { node, tx, inbound, sent_node: false })
    }

    /// Sends `r`, with the node on the stream's first request.
    pub async fn send(&mut self, mut r: DeltaDiscoveryRequest) -> Result<()> {
        if !self.sent_node {
            r.node = Some(self.node.clone());
            self.sent_node = true;
        }
        self.tx.send(r).await.map_err(|_| anyhow!("delta ADS stream closed"))
    }

    /// Subscribes to `subscribe` and unsubscribes from `unsubscribe` of `type_url`.
    pub async fn subscribe(
        &mut self,
        type_url: &str,
        subscribe: &[&str],
        unsubscribe: &[&str],
    ) -> Result<()> {
        self.send(DeltaDiscoveryRequest {
            type_url: type_url.into(),
            resource_names_subscribe: subscribe.iter().map(|n| n.to_string()).collect(),
            resource_names_unsubscribe: unsubscribe.iter().map(|n| n.to_string()).collect(),
            ..Default::default()
        })
        .await
    }

    /// ACKs `r`.
    pub async fn ack(&mut self, r: &DeltaDiscoveryResponse) -> Result<()> {
        self.send(DeltaDiscoveryRequest {
            type_url: r.type_url.clone(),
            response_nonce: r.nonce.clone(),
            ..Default::default()
        })
        .await
    }

    /// The next response (10 s at most).
    pub async fn next(&mut self) -> Result<DeltaDiscoveryResponse> {
        tokio::time::timeout(Duration::from_secs(10), self.inbound.message())
            .await??
            .ok_or_else(|| anyhow!("delta ADS stream ended"))
    }
}
