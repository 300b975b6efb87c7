//! Per-proxy scoping over ADS: a `Sidecar` narrows what a wildcard subscription carries to its
//! egress hosts (and a change to it is pushed), a proxy without one sees every service, and a
//! proxy whose workload serves a port gets the inbound server listener for it (by name, as a
//! gRPC xDS server asks, and in its wildcard LDS), but not for a port it does not serve.

use std::collections::BTreeSet;

use envoy_types::pb::envoy::config::core::v3::{address, socket_address};
use envoy_types::pb::envoy::config::listener::v3::Listener;
use envoy_types::pb::envoy::service::discovery::v3::DiscoveryResponse;
use istio_tests::ads::{node_with, AdsStream, CDS, LDS};
use istio_tests::Cluster;
use prost::Message;
use serde_json::json;

const WEB: &str = "outbound|8080||web.shop.example.com";
const PAY: &str = "outbound|8080||pay.billing.example.com";
const EXT: &str = "outbound|8080||ext.other.example.com";
const INBOUND: &str = "xds.istio.io/grpc/lds/inbound/";

fn service_entry(ns: &str, name: &str, selector: Option<&str>) -> serde_json::Value {
    let mut spec = json!({
        "hosts": [format!("{name}.{ns}.example.com")],
        "ports": [{"number": 8080, "name": "grpc", "protocol": "GRPC", "targetPort": 9090}],
        "resolution": "STATIC",
        "location": "MESH_INTERNAL",
    });
    match selector {
        Some(app) => spec["workloadSelector"] = json!({"labels": {"app": app}}),
        None => spec["endpoints"] = json!([{"address": "10.9.0.1"}]),
    }
    json!({
        "apiVersion": "networking.istio.io/v1",
        "kind": "ServiceEntry",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    })
}

fn sidecar(hosts: &[&str]) -> serde_json::Value {
    json!({
        "apiVersion": "networking.istio.io/v1",
        "kind": "Sidecar",
        "metadata": {"name": "default", "namespace": "shop"},
        "spec": {"egress": [{"hosts": hosts}]},
    })
}

fn names(r: &DiscoveryResponse) -> BTreeSet<String> {
    r.resources
        .iter()
        .map(|a| {
            if r.type_url == LDS {
                Listener::decode(a.value.as_slice()).expect("listener").name
            } else {
                envoy_types::pb::envoy::config::cluster::v3::Cluster::decode(a.value.as_slice())
                    .expect("cluster")
                    .name
            }
        })
        .collect()
}

/// Requests `names` of `type_url` and returns the first response of that type (ACKed) that
/// carries `want` resources (the snapshot may trail the apply by a debounce window).
async fn get(
    s: &mut AdsStream,
    type_url: &str,
    names: &[&str],
    want: usize,
) -> anyhow::Result<DiscoveryResponse> {
    s.send(s.request(type_url, names, None)).await?;
    loop {
        let r = s.next().await?;
        s.send(s.request(&r.type_url.clone(), names, Some(&r))).await?;
        if r.type_url == type_url && r.resources.len() == want {
            return Ok(r);
        }
    }
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sidecar_scopes_and_inbound_listeners() -> anyhow::Result<()> {
    let c = Cluster::single(&["--xds-debounce-ms", "20"]).await?;
    let items = json!({"kind": "List", "items": [
        service_entry("shop", "web", Some("web")),
        service_entry("billing", "pay", None),
        service_entry("other", "ext", None),
        {
            "apiVersion": "networking.istio.io/v1",
            "kind": "WorkloadEntry",
            "metadata": {"name": "web-1", "namespace": "shop"},
            "spec": {"address": "10.2.0.5", "labels": {"app": "web"}},
        },
        sidecar(&["./*", "billing/*"]),
    ]});
    let r = c.client.post(c.node(1).url("/v1/apply")).body(items.to_string()).send().await?;
    assert!(r.status().is_success(), "{}", r.text().await?);
    let grpc = c.node(1).grpc.to_string();

    // The web workload's proxy, in namespace shop: its Sidecar imports shop and billing.
    let web = node_with("sidecar~10.2.0.5~web-1.shop~shop.svc.cluster.local", &[], &[]);
    let mut a = AdsStream::connect_as(&grpc, web).await?;
    let cds = get(&mut a, CDS, &[], 2).await?;
    assert_eq!(names(&cds), set(&[PAY, WEB]), "the Sidecar hides ext");
    let lds = get(&mut a, LDS, &[], 3).await?;
    let inbound = format!("{INBOUND}0.0.0.0:9090");
    assert_eq!(
        names(&lds),
        set(&["pay.billing.example.com:8080", "web.shop.example.com:8080", &inbound]),
        "outbound listeners for imported services, and the workload's inbound listener"
    );

    // A proxy in another namespace has no Sidecar: it sees everything; no workload, no inbound.
    let mut b =
        AdsStream::connect_as(&grpc, node_with("b", &[("NAMESPACE", "other")], &[])).await?;
    let cds = get(&mut b, CDS, &[], 3).await?;
    assert_eq!(names(&cds), set(&[EXT, PAY, WEB]));

    // The gRPC server on the workload asks for its listener by name: served for the port its
    // workload serves (address and port from the name, routes inline, non-forwarding), not
    // for another.
    let mut server = AdsStream::connect_as(
        &grpc,
        node_with("web-server", &[("INSTANCE_IPS", "10.2.0.5"), ("NAMESPACE", "shop")], &[]),
    )
    .await?;
    let want = format!("{INBOUND}[::]:9090");
    let other = format!("{INBOUND}[::]:7777");
    let lds = get(&mut server, LDS, &[&want, &other], 1).await?;
    assert_eq!(lds.resources.len(), 1, "only the port the workload serves");
    let l = Listener::decode(lds.resources[0].value.as_slice())?;
    assert_eq!(l.name, want);
    let sa = match l.address.and_then(|a| a.address) {
        Some(address::Address::SocketAddress(sa)) => sa,
        other => anyhow::bail!("no socket address: {other:?}"),
    };
    assert_eq!(sa.address, "::");
    assert_eq!(sa.port_specifier, Some(socket_address::PortSpecifier::PortValue(9090)));
    assert_eq!(l.filter_chains.len(), 1);
    let hcm = format!("{:?}", l.filter_chains[0].filters[0]);
    assert!(l.filter_chains[0].filters[0].name.contains("http_connection_manager"), "{hcm}");

    // Widening the Sidecar is pushed to the proxy it applies to.
    let url = c.node(1).url("/apis/networking.istio.io/v1/namespaces/shop/sidecars/default");
    let r = c.client.put(&url).json(&sidecar(&["./*", "billing/*", "other/*"])).send().await?;
    assert!(r.status().is_success(), "{}", r.text().await?);
    loop {
        let r = a.next().await?;
        a.send(a.request(&r.type_url.clone(), &[], Some(&r))).await?;
        if r.type_url == CDS {
            assert_eq!(names(&r), set(&[EXT, PAY, WEB]));
            break;
        }
    }
    Ok(())
}
