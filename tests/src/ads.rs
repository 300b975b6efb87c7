//! A minimal ADS (state of the world) client for tests, on envoy-types' generated client: one
//! stream, requests by type with optional ACK, and responses with a timeout.

use std::time::Duration;

use anyhow::{anyhow, Result};
use envoy_types::pb::envoy::config::core::v3::Node;
use envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_client::AggregatedDiscoveryServiceClient;
use envoy_types::pb::envoy::service::discovery::v3::{DiscoveryRequest, DiscoveryResponse};
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

/// One ADS stream, as node `node`.
pub struct AdsStream {
    /// The node id sent with every request.
    pub node: String,
    tx: mpsc::Sender<DiscoveryRequest>,
    inbound: tonic::Streaming<DiscoveryResponse>,
}

impl AdsStream {
    /// Opens a stream to the gRPC address `grpc` (`host:port`).
    pub async fn connect(grpc: &str, node: &str) -> Result<Self> {
        let channel = tonic::transport::Channel::from_shared(format!("http://{grpc}"))?
            .connect_timeout(Duration::from_secs(2))
            .connect()
            .await?;
        let mut ads = AggregatedDiscoveryServiceClient::new(channel);
        let (tx, rx) = mpsc::channel(8);
        let inbound = ads
            .stream_aggregated_resources(tokio_stream::wrappers::ReceiverStream::new(rx))
            .await?
            .into_inner();
        Ok(AdsStream { node: node.to_owned(), tx, inbound })
    }

    /// A request for `names` of `type_url`, ACKing `ack` if given.
    pub fn request(
        &self,
        type_url: &str,
        names: &[&str],
        ack: Option<&DiscoveryResponse>,
    ) -> DiscoveryRequest {
        DiscoveryRequest {
            node: Some(Node { id: self.node.clone(), ..Default::default() }),
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
