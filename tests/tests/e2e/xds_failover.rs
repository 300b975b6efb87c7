//! xDS failover: a proxy's istiod dies (SIGKILL, and it is the Raft leader); the proxy
//! reconnects to another member, which serves the same configuration from its own applied
//! state, and keeps receiving updates written after the failure.

use std::time::Duration;

use envoy_types::pb::envoy::config::endpoint::v3::ClusterLoadAssignment;
use envoy_types::pb::envoy::service::discovery::v3::DiscoveryResponse;
use istio_tests::ads::{echo_service_entry, AdsStream, CDS, EDS};
use istio_tests::{wait_for, Cluster};
use prost::Message;

const SE: &str = "/apis/networking.istio.io/v1/namespaces/default/serviceentries/echo";
const CLUSTER: &str = "outbound|8080||echo.example.com";

fn addresses(r: &DiscoveryResponse) -> String {
    r.resources
        .iter()
        .filter_map(|a| ClusterLoadAssignment::decode(a.value.as_slice()).ok())
        .map(|c| format!("{c:?}"))
        .collect()
}

/// Subscribes CDS and EDS for the echo cluster and returns the first EDS response that holds
/// `ip`, ACKing everything on the way.
async fn subscribe_until(ads: &mut AdsStream, ip: &str) -> anyhow::Result<DiscoveryResponse> {
    ads.send(ads.request(CDS, &[], None)).await?;
    ads.send(ads.request(EDS, &[CLUSTER], None)).await?;
    wait_eds(ads, ip).await
}

async fn wait_eds(ads: &mut AdsStream, ip: &str) -> anyhow::Result<DiscoveryResponse> {
    loop {
        let r = ads.next().await?;
        let names: Vec<&str> = if r.type_url == EDS { vec![CLUSTER] } else { vec![] };
        ads.send(ads.request(&r.type_url, &names, Some(&r))).await?;
        if r.type_url == EDS && addresses(&r).contains(ip) {
            return Ok(r);
        }
    }
}

async fn put_se(c: &Cluster, via: u64, ip: &str) -> anyhow::Result<()> {
    let url = c.node(via).url(SE);
    wait_for(Duration::from_secs(30), "the ServiceEntry write", || async {
        match c.client.put(&url).json(&echo_service_entry(ip)).send().await {
            Ok(r) if r.status().is_success() => Some(()),
            _ => None,
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_fails_over_to_another_member_and_keeps_receiving_updates() -> anyhow::Result<()> {
    let mut c = Cluster::start(3, &["--xds-debounce-ms", "20"]).await?;
    let leader = c.wait_leader(Duration::from_secs(20)).await?;
    put_se(&c, leader, "10.0.0.1").await?;

    // Connected to the leader, the proxy has the endpoint.
    let mut ads = AdsStream::connect(&c.node(leader).grpc.to_string(), "failover-1").await?;
    let first = c.with_logs(subscribe_until(&mut ads, "10.0.0.1").await)?;

    // Its istiod dies. The stream breaks.
    c.node_mut(leader).kill();
    let broken = loop {
        match ads.next().await {
            Ok(_) => continue,
            Err(e) => break e,
        }
    };
    eprintln!("stream to member {leader} ended: {broken}");

    // It reconnects to another member, which serves the same state at least as new.
    let other = (1..=3).find(|id| *id != leader).unwrap_or(1);
    let mut ads = AdsStream::connect(&c.node(other).grpc.to_string(), "failover-1").await?;
    let again = c.with_logs(subscribe_until(&mut ads, "10.0.0.1").await)?;
    assert!(again.version_info.parse::<u64>()? >= first.version_info.parse::<u64>()?);

    // An update committed after the failure (through the new leader) reaches it.
    put_se(&c, other, "10.0.0.2").await?;
    let pushed = c.with_logs(wait_eds(&mut ads, "10.0.0.2").await)?;
    assert!(pushed.version_info.parse::<u64>()? > again.version_info.parse::<u64>()?);

    // The member serving it reports it, synced at that version.
    let url = c.node(other).url("/v1/proxies?local=true");
    let v = pushed.version_info.clone();
    c.wait_json(&url, Duration::from_secs(10), "the proxy's EDS ACK in /v1/proxies", |p| {
        let eds = &p["proxies"][0]["types"]["eds"];
        p["proxies"][0]["id"] == "failover-1"
            && eds["status"] == "SYNCED"
            && eds["ackedVersion"] == v.as_str()
    })
    .await?;
    Ok(())
}
