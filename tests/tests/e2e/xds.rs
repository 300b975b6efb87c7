//! ADS (state of the world) on istiod's gRPC port, driven by envoy-types' own ADS client:
//! a ServiceEntry becomes a proxyless Listener / RouteConfiguration / Cluster /
//! ClusterLoadAssignment; ACKs are accepted; a changed endpoint pushes only EDS to the stream;
//! a NACK shows in `/v1/proxies` and the metrics; `/v1/proxies/{id}/config` shows what was
//! sent as Envoy JSON. (`xds_grpcio.rs` is the real-client test.)

use std::time::Duration;

use envoy_types::pb::envoy::config::endpoint::v3::ClusterLoadAssignment;
use envoy_types::pb::envoy::config::listener::v3::Listener;
use istio_tests::ads::{echo_service_entry, AdsStream, CDS, EDS, LDS};
use istio_tests::Cluster;
use prost::Message;

const TEN_S: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ads_serves_and_pushes_a_echo_service_entry() -> anyhow::Result<()> {
    let c = Cluster::single(&["--xds-debounce-ms", "20"]).await?;
    let se_url =
        c.node(1).url("/apis/networking.istio.io/v1/namespaces/default/serviceentries/echo");
    let r = c.client.put(&se_url).json(&echo_service_entry("10.0.0.1")).send().await?;
    assert!(r.status().is_success(), "{}", r.text().await?);

    let mut ads = AdsStream::connect(&c.node(1).grpc.to_string(), "proxyless-1").await?;
    let name = "echo.example.com:8080";
    let cluster = "outbound|8080||echo.example.com";

    // The snapshot may trail the write by the debounce: ask until the listener is there.
    ads.send(ads.request(LDS, &[name], None)).await?;
    let mut lds = ads.next().await?;
    while lds.resources.is_empty() {
        lds = ads.next().await?;
    }
    assert_eq!(lds.type_url, LDS);
    let l = Listener::decode(lds.resources[0].value.as_slice())?;
    assert_eq!(l.name, name);
    assert!(l.api_listener.is_some(), "proxyless listeners are API listeners");
    ads.send(ads.request(LDS, &[name], Some(&lds))).await?;

    ads.send(ads.request(CDS, &[cluster], None)).await?;
    let cds = ads.next().await?;
    assert_eq!((cds.type_url.as_str(), cds.resources.len()), (CDS, 1));
    ads.send(ads.request(CDS, &[cluster], Some(&cds))).await?;
    ads.send(ads.request(EDS, &[cluster], None)).await?;
    let eds = ads.next().await?;
    let cla = ClusterLoadAssignment::decode(eds.resources[0].value.as_slice())?;
    assert!(format!("{cla:?}").contains("10.0.0.1"));
    ads.send(ads.request(EDS, &[cluster], Some(&eds))).await?;

    // Change only the endpoint: the next push on this stream is EDS, with the new address,
    // at a newer version.
    let r = c.client.put(&se_url).json(&echo_service_entry("10.0.0.9")).send().await?;
    assert!(r.status().is_success(), "{}", r.text().await?);
    let push = ads.next().await?;
    assert_eq!(push.type_url, EDS, "an endpoint-only change pushes EDS only");
    let cla = ClusterLoadAssignment::decode(push.resources[0].value.as_slice())?;
    assert!(format!("{cla:?}").contains("10.0.0.9"));
    assert!(push.version_info.parse::<u64>()? > eds.version_info.parse::<u64>()?);

    // The proxy rejects that push: /v1/proxies shows the NACK on EDS with its message while
    // the other types stay SYNCED at the revisions they ACKed.
    let mut nack = ads.request(EDS, &[cluster], Some(&push));
    nack.version_info = eds.version_info.clone();
    nack.error_detail = Some(envoy_types::pb::google::rpc::Status {
        code: 3,
        message: "endpoint 10.0.0.9 rejected by test".into(),
        ..Default::default()
    });
    ads.send(nack).await?;
    let proxies_url = c.node(1).url("/v1/proxies");
    let p = c
        .wait_json(&proxies_url, TEN_S, "EDS NACKED", |v| {
            v["proxies"][0]["types"]["eds"]["status"] == "NACKED"
        })
        .await?;
    let proxy = &p["proxies"][0];
    assert_eq!(proxy["id"], "proxyless-1");
    assert_eq!(proxy["istiod"], "1");
    let eds_status = &proxy["types"]["eds"];
    assert_eq!(eds_status["lastNack"]["message"], "endpoint 10.0.0.9 rejected by test");
    assert_eq!(eds_status["lastNack"]["version"], push.version_info.as_str());
    assert_eq!(eds_status["ackedVersion"], eds.version_info.as_str());
    assert_eq!(eds_status["sentVersion"], push.version_info.as_str());
    assert_eq!(proxy["types"]["cds"]["status"], "SYNCED");
    assert_eq!(proxy["types"]["lds"]["status"], "SYNCED");
    assert_eq!(proxy["types"]["cds"]["revision"], cds.version_info.parse::<u64>()?);
    // The proxy's applied revision is the lowest it ACKed over its types.
    let lowest = [&lds, &cds, &eds].iter().map(|r| r.version_info.parse::<u64>().unwrap()).min();
    assert_eq!(proxy["revision"].as_u64(), lowest);

    // What it was last sent, as Envoy's JSON.
    let cfg: serde_json::Value =
        c.client.get(c.node(1).url("/v1/proxies/proxyless-1/config")).send().await?.json().await?;
    assert_eq!(cfg["types"]["cds"]["resources"][0]["name"], cluster);
    assert_eq!(cfg["types"]["cds"]["resources"][0]["type"], "EDS");
    assert_eq!(cfg["types"]["lds"]["resources"][0]["name"], name);
    let missing = c.client.get(c.node(1).url("/v1/proxies/nobody/config")).send().await?;
    assert_eq!(missing.status(), 404);

    // istioctl shows the same, as tables and as Envoy JSON.
    let server = c.node(1).url("");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(istio_tests::istioctl_bin())
            .args(["--server", &server])
            .args(args)
            .output()
            .expect("istioctl");
        assert!(out.status.success(), "istioctl {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let t = run(&["proxy-status"]);
    let row = t.lines().find(|l| l.starts_with("proxyless-1")).unwrap_or_default();
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells.get(1..5), Some(&["SYNCED", "SYNCED", "NACKED", "-"][..]), "{t}");
    let t = run(&["proxy-status", "proxyless-1"]);
    assert!(t.contains("endpoint 10.0.0.9 rejected by test"), "{t}");
    let t = run(&["proxy-config", "cluster", "proxyless-1"]);
    assert!(t.contains("echo.example.com") && t.contains("EDS"), "{t}");
    let t = run(&["proxy-config", "endpoint", "proxyless-1"]);
    assert!(t.contains("10.0.0.9:8080"), "{t}");
    let t = run(&["proxy-config", "listener", "proxyless-1"]);
    assert!(t.contains("Route: echo.example.com:8080"), "{t}");
    let j: serde_json::Value =
        serde_json::from_str(&run(&["proxy-config", "cluster", "proxyless-1", "-o", "json"]))?;
    assert_eq!(j[0]["name"], cluster);

    // A fixed endpoint is pushed and ACKed: EDS is SYNCED again, the NACK cleared, and the
    // change → ACK time recorded.
    let r = c.client.put(&se_url).json(&echo_service_entry("10.0.0.7")).send().await?;
    assert!(r.status().is_success(), "{}", r.text().await?);
    let fixed = ads.next().await?;
    assert_eq!(fixed.type_url, EDS);
    ads.send(ads.request(EDS, &[cluster], Some(&fixed))).await?;
    let p = c
        .wait_json(&proxies_url, TEN_S, "EDS SYNCED", |v| {
            v["proxies"][0]["types"]["eds"]["status"] == "SYNCED"
        })
        .await?;
    assert!(p["proxies"][0]["types"]["eds"]["lastNack"].is_null());

    let metrics = c.client.get(c.node(1).url("/metrics")).send().await?.text().await?;
    for want in ["istio_pilot_xds_connected 1", "istio_pilot_xds_nacks_total{type=\"eds\"} 1"] {
        assert!(metrics.contains(want), "{want} missing from:\n{metrics}");
    }
    let converged = metrics
        .lines()
        .find_map(|l| l.strip_prefix("istio_pilot_proxy_convergence_seconds_count "))
        .and_then(|n| n.parse::<u64>().ok());
    assert!(converged >= Some(1), "no convergence recorded:\n{metrics}");

    // The stream ends: the proxy is gone from the list.
    drop(ads);
    c.wait_json(&proxies_url, TEN_S, "no proxies", |v| {
        v["proxies"].as_array().is_some_and(|a| a.is_empty())
    })
    .await?;
    Ok(())
}
