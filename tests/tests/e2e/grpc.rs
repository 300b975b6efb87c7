//! The gRPC ConfigService: Apply, Get, List, Delete and Watch from a revision, with the same
//! validation and errors as HTTP (field violations in a google.rpc.BadRequest).

use istio_proto::config::config_service_client::ConfigServiceClient;
use istio_proto::config::{ApplyRequest, DeleteRequest, GetRequest, ListRequest, WatchRequest};
use istio_tests::Cluster;
use serde_json::Value;
use tonic::Code;
use tonic_types::StatusExt;

const VS: &str = "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings}
spec:
  hosts: [ratings]
  http:
  - route:
    - destination: {host: ratings}
";

#[tokio::test]
async fn config_service_round_trips() -> anyhow::Result<()> {
    let c = Cluster::single(&["--retain-revisions", "3"]).await?;
    let mut g = ConfigServiceClient::connect(format!("http://{}", c.node(1).grpc)).await?;

    let r = g
        .apply(ApplyRequest {
            documents: VS.into(),
            namespace: "prod".into(),
            ..Default::default()
        })
        .await?
        .into_inner();
    assert_eq!(r.revision, 1);
    assert_eq!(r.objects[0].result, "created");
    assert_eq!(r.objects[0].namespace, "prod");
    let again = g
        .apply(ApplyRequest {
            documents: VS.into(),
            namespace: "prod".into(),
            ..Default::default()
        })
        .await?
        .into_inner();
    assert_eq!((again.revision, again.objects[0].result.as_str()), (1, "unchanged"));

    let get = |name: &str| GetRequest {
        kind: "vs".into(),
        namespace: "prod".into(),
        name: name.into(),
        local: false,
    };
    let o: Value = serde_json::from_str(&g.get(get("ratings")).await?.into_inner().json)?;
    assert_eq!(o["metadata"]["resourceVersion"], "1");
    assert_eq!(o["spec"]["hosts"][0], "ratings");
    let l = g
        .list(ListRequest { kind: "VirtualService".into(), namespace: String::new(), local: true })
        .await?
        .into_inner();
    assert_eq!((l.revision, l.items.len()), (1, 1));

    // Watch from revision 1 sees the next change, in order.
    let mut w = g
        .watch(WatchRequest {
            kind: "virtualservices".into(),
            namespace: "prod".into(),
            revision: 1,
        })
        .await?
        .into_inner();
    let changed =
        VS.replace("hosts: [ratings]", "hosts: [ratings, ratings.prod.svc.cluster.local]");
    g.apply(ApplyRequest { documents: changed, namespace: "prod".into(), ..Default::default() })
        .await?;
    let ev = w.message().await?.expect("watch event");
    assert_eq!((ev.r#type.as_str(), ev.revision), ("MODIFIED", 2));
    let d = g
        .delete(DeleteRequest {
            kind: "vs".into(),
            namespace: "prod".into(),
            name: "ratings".into(),
            ..Default::default()
        })
        .await?
        .into_inner();
    let d: Value = serde_json::from_str(&d.json)?;
    assert_eq!(d["metadata"]["resourceVersion"], "3");
    let ev = w.message().await?.expect("watch event");
    assert_eq!((ev.r#type.as_str(), ev.revision), ("DELETED", 3));
    assert_eq!(g.get(get("ratings")).await.unwrap_err().code(), Code::NotFound);

    // Validation errors carry one field violation per problem.
    let bad = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {}\nspec: {hosts: [a]}\n";
    let err =
        g.apply(ApplyRequest { documents: bad.into(), ..Default::default() }).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let br = err.get_details_bad_request().expect("BadRequest details");
    assert!(br.field_violations.iter().any(|v| v.field == "metadata.name"), "{br:?}");
    let err = g
        .apply(ApplyRequest { documents: "kind: [".into(), ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("line"), "{}", err.message());

    // Below the compaction point: OutOfRange, naming the oldest revision.
    for i in 0..8 {
        let doc = VS.replace("name: ratings", &format!("name: r{i}"));
        g.apply(ApplyRequest { documents: doc, ..Default::default() }).await?;
    }
    istio_tests::wait_for(std::time::Duration::from_secs(20), "compaction", || async {
        let s = c.status(1).await.ok()?;
        (s["members"][0]["status"]["applied"]["compactRevision"].as_u64()? >= 5).then_some(())
    })
    .await?;
    let mut w =
        g.watch(WatchRequest { revision: 1, ..Default::default() }).await.map(|r| r.into_inner());
    let code = match &mut w {
        Err(e) => e.code(),
        Ok(s) => s.message().await.unwrap_err().code(),
    };
    assert_eq!(code, Code::OutOfRange);
    Ok(())
}

#[tokio::test]
async fn config_service_requires_tokens_when_configured() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, "v,vera,viewer\n")?;
    let c = Cluster::single_as(&["--tokens", tokens.to_str().unwrap()], Some("v")).await?;
    let mut g = ConfigServiceClient::connect(format!("http://{}", c.node(1).grpc)).await?;
    let err =
        g.apply(ApplyRequest { documents: VS.into(), ..Default::default() }).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    let mut req = tonic::Request::new(ApplyRequest { documents: VS.into(), ..Default::default() });
    req.metadata_mut().insert("authorization", "Bearer v".parse()?);
    assert_eq!(g.apply(req).await.unwrap_err().code(), Code::PermissionDenied);
    let mut req = tonic::Request::new(ListRequest { kind: "vs".into(), ..Default::default() });
    req.metadata_mut().insert("authorization", "Bearer v".parse()?);
    assert!(g.list(req).await.is_ok());
    Ok(())
}
