//! WorkloadGroup auto-registration on a 3-member cluster: a proxy whose node metadata names a
//! WorkloadGroup gets a WorkloadEntry committed to the log (from the group's template, with the
//! proxy's address and labels), which a ServiceEntry selects, so every member's EDS carries it
//! HEALTHY; the proxy reconnecting to another member takes the entry over (the first member's
//! late disconnect changes nothing); when the proxy goes, the entry turns UNHEALTHY and is
//! deleted after the grace period; the audit log shows each step. A group that does not exist
//! ends the stream with FAILED_PRECONDITION.

use std::time::Duration;

use anyhow::Context;
use envoy_types::pb::envoy::config::endpoint::v3::ClusterLoadAssignment;
use istio_tests::ads::{node_with, AdsStream, CDS, EDS};
use istio_tests::Cluster;
use prost::Message;
use serde_json::{json, Value};

const TEN_S: Duration = Duration::from_secs(10);
const CLUSTER: &str = "outbound|80||vm.example.com";
const ENTRY: &str = "/apis/networking.istio.io/v1/namespaces/vms/workloadentries/vm-10.1.2.3";

/// The (address, health) of every endpoint in an EDS push.
fn endpoints(
    r: &envoy_types::pb::envoy::service::discovery::v3::DiscoveryResponse,
) -> Vec<(String, i32)> {
    let mut out = Vec::new();
    for a in &r.resources {
        let cla = ClusterLoadAssignment::decode(a.value.as_slice()).expect("CLA");
        for e in cla.endpoints.iter().flat_map(|l| &l.lb_endpoints) {
            use envoy_types::pb::envoy::config::core::v3::{address, socket_address};
            use envoy_types::pb::envoy::config::endpoint::v3::lb_endpoint::HostIdentifier;
            let ip = match &e.host_identifier {
                Some(HostIdentifier::Endpoint(ep)) => {
                    match ep.address.as_ref().and_then(|a| a.address.as_ref()) {
                        Some(address::Address::SocketAddress(sa)) => {
                            assert_eq!(
                                sa.port_specifier,
                                Some(socket_address::PortSpecifier::PortValue(8080))
                            );
                            sa.address.clone()
                        }
                        _ => String::new(),
                    }
                }
                _ => String::new(),
            };
            out.push((ip, e.health_status));
        }
    }
    out
}

/// Waits for an EDS push on `s` whose endpoints are `want` (ACKing each push).
async fn wait_eds(s: &mut AdsStream, want: &[(&str, i32)]) -> anyhow::Result<()> {
    let want: Vec<(String, i32)> = want.iter().map(|(a, h)| (a.to_string(), *h)).collect();
    let mut seen = Vec::new();
    for _ in 0..20 {
        let r = s.next().await?;
        s.send(s.request(&r.type_url.clone(), &[CLUSTER], Some(&r))).await?;
        if r.type_url == EDS {
            seen = endpoints(&r);
            if seen == want {
                return Ok(());
            }
        }
    }
    anyhow::bail!("EDS never became {want:?}; last {seen:?}")
}

const HEALTHY: i32 = 1;
const UNHEALTHY: i32 = 2;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workload_group_proxies_register_and_are_cleaned_up() -> anyhow::Result<()> {
    let c = Cluster::start(3, &["--xds-debounce-ms", "20", "--workload-entry-grace-ms", "1000"])
        .await?;
    let apply = c.node(1).url("/v1/apply?namespace=vms");
    let docs = json!({"kind": "List", "items": [
        {
            "apiVersion": "networking.istio.io/v1",
            "kind": "WorkloadGroup",
            "metadata": {"name": "vm", "namespace": "vms"},
            "spec": {
                "metadata": {"labels": {"app": "vm"}, "annotations": {"team": "payments"}},
                "template": {"ports": {"http": 8080}, "serviceAccount": "vm-sa"},
            },
        },
        {
            "apiVersion": "networking.istio.io/v1",
            "kind": "ServiceEntry",
            "metadata": {"name": "vm", "namespace": "vms"},
            "spec": {
                "hosts": ["vm.example.com"],
                "ports": [{"number": 80, "name": "http", "protocol": "HTTP", "targetPort": 8080}],
                "resolution": "STATIC",
                "location": "MESH_INTERNAL",
                "workloadSelector": {"labels": {"app": "vm"}},
            },
        },
    ]});
    let r = c.client.post(&apply).body(docs.to_string()).send().await?;
    assert!(r.status().is_success(), "{}", r.text().await?);

    // An observer on member 2 watches the service's endpoints: none yet.
    let grpc = |id: u64| c.node(id).grpc.to_string();
    let mut observer = AdsStream::connect(&grpc(2), "observer").await?;
    observer.send(observer.request(CDS, &[CLUSTER], None)).await?;
    observer.send(observer.request(EDS, &[CLUSTER], None)).await?;
    wait_eds(&mut observer, &[]).await.context("observer: no endpoints")?;

    // The VM's proxy connects to member 1 asking for auto-registration.
    let vm = node_with(
        "sidecar~10.1.2.3~vm-1.vms~vms.svc.cluster.local",
        &[("AUTO_REGISTER_GROUP", "vm"), ("NAMESPACE", "vms"), ("INSTANCE_IPS", "10.1.2.3")],
        &[("version", "v2")],
    );
    let mut first = AdsStream::connect_as(&grpc(1), vm.clone()).await?;
    first.send(first.request(CDS, &[CLUSTER], None)).await?;
    assert_eq!(
        first.next().await.context("first CDS")?.type_url,
        CDS,
        "the stream is served once registered"
    );
    let url = c.node(3).url(ENTRY);
    let e = c
        .wait_json(&url, TEN_S, "the entry on member 3", |v| v["spec"]["address"] == "10.1.2.3")
        .await?;
    assert_eq!(e["spec"]["serviceAccount"], "vm-sa");
    assert_eq!(e["spec"]["ports"]["http"], 8080);
    assert_eq!(e["metadata"]["labels"], json!({"app": "vm", "version": "v2"}));
    let a = &e["metadata"]["annotations"];
    assert_eq!(a["team"], "payments");
    assert_eq!(a["istio.io/autoRegistrationGroup"], "vm");
    assert_eq!(a["istio.io/workloadController"], "istiod-1");
    assert!(a.get("istio.io/disconnectedAt").is_none());
    assert_eq!(e["status"]["conditions"][0]["status"], "True");
    wait_eds(&mut observer, &[("10.1.2.3", HEALTHY)]).await.context("healthy")?;
    let proxies = c.node(1).url("/v1/proxies?local=true");
    c.wait_json(&proxies, TEN_S, "the proxy's entry in /v1/proxies", |v| {
        v["proxies"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| p["workloadEntry"] == "vms/vm-10.1.2.3")
    })
    .await?;

    // It reconnects to member 3 (the old stream not yet gone): member 3 takes the entry over,
    // and member 1 letting go of its stream afterwards leaves it connected.
    let mut second = AdsStream::connect_as(&grpc(3), vm.clone()).await?;
    second.send(second.request(CDS, &[CLUSTER], None)).await?;
    second.next().await.context("second CDS")?;
    c.wait_json(&url, TEN_S, "member 3 controlling the entry", |v| {
        v["metadata"]["annotations"]["istio.io/workloadController"] == "istiod-3"
    })
    .await?;
    drop(first);
    let audit = c.node(1).url("/v1/audit?kind=WorkloadEntry&namespace=vms");
    // The late disconnect is decided on member 1 against the current entry: no write.
    c.wait_json(&proxies, TEN_S, "member 1 without the stream", |v| {
        v["proxies"].as_array().is_some_and(|p| p.iter().all(|p| p["id"] != vm.id.as_str()))
    })
    .await?;
    let e: Value = c.client.get(&url).send().await?.json().await?;
    assert!(e["metadata"]["annotations"].get("istio.io/disconnectedAt").is_none(), "{e}");

    // The proxy goes: UNHEALTHY, then deleted after the grace period.
    drop(second);
    let e = c
        .wait_json(&url, TEN_S, "the entry marked disconnected", |v| {
            v["metadata"]["annotations"]["istio.io/disconnectedAt"].is_string()
        })
        .await?;
    assert_eq!(e["status"]["conditions"][0]["status"], "False");
    wait_eds(&mut observer, &[("10.1.2.3", UNHEALTHY)]).await.context("unhealthy")?;
    wait_eds(&mut observer, &[]).await.context("removed")?;
    let gone = c.client.get(&url).send().await?;
    assert_eq!(gone.status(), 404);
    let a: Value = c.client.get(&audit).send().await?.json().await?;
    let steps: Vec<(String, String)> = a["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (e["verb"].as_str().unwrap_or("").into(), e["actor"].as_str().unwrap_or("").into())
        })
        .collect();
    let verbs: Vec<&str> = steps.iter().map(|(v, _)| v.as_str()).collect();
    assert_eq!(verbs, ["register", "register", "unregister", "cleanup"], "{a}");
    assert!(steps.iter().all(|(_, actor)| actor == "system:pilot"), "{a}");

    // A group that does not exist: the stream ends, saying which.
    let lost = node_with(
        "lost",
        &[("AUTO_REGISTER_GROUP", "nope"), ("NAMESPACE", "vms"), ("INSTANCE_IPS", "10.1.2.4")],
        &[],
    );
    let mut s = AdsStream::connect_as(&grpc(2), lost).await?;
    s.send(s.request(CDS, &[], None)).await?;
    let err = s.next().await.expect_err("the stream must fail");
    let status = err.downcast_ref::<tonic::Status>().map(|s| (s.code(), s.message().to_owned()));
    let (code, msg) = status.unwrap_or((tonic::Code::Unknown, err.to_string()));
    assert_eq!(code, tonic::Code::FailedPrecondition, "{msg}");
    assert!(msg.contains("WorkloadGroup vms/nope") && msg.contains("does not exist"), "{msg}");
    Ok(())
}
