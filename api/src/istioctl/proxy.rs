//! `istioctl proxy-status` and `istioctl proxy-config`: tables over `/v1/proxies` and
//! `/v1/proxies/{id}/config` (whose resources are Envoy's proto3 JSON).

use serde_json::Value;

use super::table::{age, render_rows};

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A type's cell: `SYNCED`, `STALE`, `NACKED`, `NOT SENT` (or `-` when not subscribed).
fn type_cell(t: &Value) -> String {
    if t.is_null() {
        return "-".into();
    }
    s(&t["status"])
}

/// `NAME CLUSTER CDS LDS EDS RDS ISTIOD VERSION REVISION AGE`, one row per stream.
pub(super) fn status(res: &Value) -> String {
    let header = ["NAME", "CLUSTER", "CDS", "LDS", "EDS", "RDS", "ISTIOD", "VERSION", "REVISION"]
        .iter()
        .chain(&["CONNECTED"])
        .map(|h| h.to_string())
        .collect();
    let rows = res["proxies"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            let t = &p["types"];
            vec![
                s(&p["id"]),
                s(&p["cluster"]),
                type_cell(&t["cds"]),
                type_cell(&t["lds"]),
                type_cell(&t["eds"]),
                type_cell(&t["rds"]),
                s(&p["istiod"]),
                s(&p["version"]),
                p["revision"].as_u64().map_or("-".into(), |r| r.to_string()),
                age(p["connectedSince"].as_str().unwrap_or_default()),
            ]
        })
        .collect();
    let mut out = render_rows(header, rows);
    for e in res["errors"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "warning: member {} did not answer: {}\n",
            s(&e["member"]),
            s(&e["error"])
        ));
    }
    out
}

/// One proxy, per type: `TYPE STATUS SENT ACKED RESOURCES SUBSCRIBED LAST NACK`.
pub(super) fn status_of(p: &Value) -> String {
    let header = ["TYPE", "STATUS", "SENT", "ACKED", "RESOURCES", "SUBSCRIBED", "LAST NACK"]
        .iter()
        .map(|h| h.to_string())
        .collect();
    let rows = p["types"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(short, t)| {
            let subscribed = t["subscribed"].as_array().map_or(0, Vec::len);
            vec![
                short.to_uppercase(),
                s(&t["status"]),
                s(&t["sentVersion"]),
                s(&t["ackedVersion"]),
                s(&t["resources"]),
                if subscribed == 0 { "*".into() } else { subscribed.to_string() },
                s(&t["lastNack"]["message"]),
            ]
        })
        .collect();
    format!(
        "{} on istiod {} (connected {}, applied revision {})\n{}",
        s(&p["id"]),
        s(&p["istiod"]),
        age(p["connectedSince"].as_str().unwrap_or_default()),
        p["revision"].as_u64().map_or("-".into(), |r| r.to_string()),
        render_rows(header, rows)
    )
}

fn resources<'a>(cfg: &'a Value, short: &str) -> impl Iterator<Item = &'a Value> {
    cfg["types"][short]["resources"].as_array().into_iter().flatten()
}

/// `SERVICE FQDN PORT SUBSET DIRECTION TYPE LB POLICY` from a proxy's clusters.
pub(super) fn clusters(cfg: &Value) -> String {
    let header = ["SERVICE FQDN", "PORT", "SUBSET", "DIRECTION", "TYPE", "LB POLICY"]
        .iter()
        .map(|h| h.to_string())
        .collect();
    let rows = resources(cfg, "cds")
        .map(|c| {
            let name = s(&c["name"]);
            let parts: Vec<&str> = name.splitn(4, '|').collect();
            let (dir, port, subset, host) = match parts.as_slice() {
                [d, p, sub, h] => (d.to_string(), p.to_string(), sub.to_string(), h.to_string()),
                _ => ("-".into(), "-".into(), "-".into(), name.clone()),
            };
            let kind = if c["type"].is_null() { "STATIC".into() } else { s(&c["type"]) };
            let lb = if c["lbPolicy"].is_null() { "ROUND_ROBIN".into() } else { s(&c["lbPolicy"]) };
            vec![host, port, if subset.is_empty() { "-".into() } else { subset }, dir, kind, lb]
        })
        .collect();
    render_rows(header, rows)
}

/// `NAME ADDRESS PORT DESTINATION` from a proxy's listeners (API listeners name their route).
pub(super) fn listeners(cfg: &Value) -> String {
    let header = ["NAME", "ADDRESS", "PORT", "DESTINATION"].iter().map(|h| h.to_string()).collect();
    let rows = resources(cfg, "lds")
        .map(|l| {
            let sa = &l["address"]["socketAddress"];
            let api = &l["apiListener"]["apiListener"];
            let dest = match api["rds"]["routeConfigName"].as_str() {
                Some(r) => format!("Route: {r}"),
                None if !api.is_null() => "Inline routes".into(),
                None => "-".into(),
            };
            let addr = if sa.is_null() { "(API listener)".into() } else { s(&sa["address"]) };
            vec![s(&l["name"]), addr, s(&sa["portValue"]), dest]
        })
        .collect();
    render_rows(header, rows)
}

fn route_match(m: &Value) -> String {
    for (k, label) in [("prefix", ""), ("path", "="), ("pathSeparatedPrefix", "")] {
        if let Some(p) = m[k].as_str() {
            let suffix = if k == "prefix" && p != "/" { "*" } else { "" };
            return format!("{label}{p}{suffix}");
        }
    }
    if let Some(r) = m["safeRegex"]["regex"].as_str() {
        return format!("~{r}");
    }
    "/*".into()
}

fn route_destination(r: &Value) -> String {
    if let Some(c) = r["route"]["cluster"].as_str() {
        return c.to_owned();
    }
    if let Some(w) = r["route"]["weightedClusters"]["clusters"].as_array() {
        return w
            .iter()
            .map(|c| format!("{}={}", s(&c["name"]), s(&c["weight"])))
            .collect::<Vec<_>>()
            .join(",");
    }
    if !r["redirect"].is_null() {
        return "redirect".into();
    }
    if !r["directResponse"].is_null() {
        return format!("direct response {}", s(&r["directResponse"]["status"]));
    }
    "-".into()
}

/// `NAME DOMAINS MATCH DESTINATION`, one row per route.
pub(super) fn routes(cfg: &Value) -> String {
    let header =
        ["NAME", "DOMAINS", "MATCH", "DESTINATION"].iter().map(|h| h.to_string()).collect();
    let mut rows = Vec::new();
    for rc in resources(cfg, "rds") {
        for vh in rc["virtualHosts"].as_array().into_iter().flatten() {
            let domains = vh["domains"]
                .as_array()
                .map(|d| d.iter().map(s).collect::<Vec<_>>().join(","))
                .unwrap_or_default();
            for r in vh["routes"].as_array().into_iter().flatten() {
                rows.push(vec![
                    s(&rc["name"]),
                    domains.clone(),
                    route_match(&r["match"]),
                    route_destination(r),
                ]);
            }
        }
    }
    render_rows(header, rows)
}

/// `ENDPOINT STATUS LOCALITY WEIGHT CLUSTER`, one row per endpoint.
pub(super) fn endpoints(cfg: &Value) -> String {
    let header = ["ENDPOINT", "STATUS", "LOCALITY", "WEIGHT", "CLUSTER"]
        .iter()
        .map(|h| h.to_string())
        .collect();
    let mut rows = Vec::new();
    for cla in resources(cfg, "eds") {
        for l in cla["endpoints"].as_array().into_iter().flatten() {
            let loc = &l["locality"];
            let locality = [&loc["region"], &loc["zone"], &loc["subZone"]]
                .iter()
                .map(|v| s(v))
                .collect::<Vec<_>>()
                .join("/");
            for e in l["lbEndpoints"].as_array().into_iter().flatten() {
                let sa = &e["endpoint"]["address"]["socketAddress"];
                let status = match e["healthStatus"].as_str() {
                    None | Some("UNKNOWN") => "HEALTHY".into(),
                    Some(h) => h.to_owned(),
                };
                rows.push(vec![
                    format!("{}:{}", s(&sa["address"]), s(&sa["portValue"])),
                    status,
                    locality.trim_matches('/').to_owned(),
                    s(&e["loadBalancingWeight"]),
                    s(&cla["clusterName"]),
                ]);
            }
        }
    }
    render_rows(header, rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cfg() -> Value {
        json!({"types": {
            "cds": {"resources": [
                {"name": "outbound|8080|v1|echo.example.com", "type": "EDS"},
                {"name": "outbound|8080||echo.example.com", "type": "EDS", "lbPolicy": "RANDOM"}
            ]},
            "lds": {"resources": [{"name": "echo.example.com:8080", "apiListener": {"apiListener": {
                "@type": "x", "rds": {"routeConfigName": "echo.example.com:8080"}}}}]},
            "rds": {"resources": [{"name": "echo.example.com:8080", "virtualHosts": [{
                "domains": ["echo.example.com:8080", "echo.example.com"],
                "routes": [
                    {"match": {"prefix": "/admin"}, "route": {"cluster": "outbound|8080|v1|echo.example.com"}},
                    {"match": {"prefix": "/"}, "route": {"weightedClusters": {"clusters": [
                        {"name": "a", "weight": 90}, {"name": "b", "weight": 10}]}}}
                ]}]}]},
            "eds": {"resources": [{"clusterName": "outbound|8080||echo.example.com", "endpoints": [{
                "locality": {"region": "us", "zone": "east"},
                "lbEndpoints": [{"endpoint": {"address": {"socketAddress": {"address": "10.0.0.1", "portValue": 9000}}},
                                 "loadBalancingWeight": 3, "healthStatus": "UNHEALTHY"}]}]}]}
        }})
    }

    #[test]
    fn tables_read_envoy_json() {
        let c = clusters(&cfg());
        assert!(
            c.contains("echo.example.com   8080   v1       outbound    EDS    ROUND_ROBIN"),
            "{c}"
        );
        assert!(c.contains("RANDOM"));
        let l = listeners(&cfg());
        assert!(l.contains("Route: echo.example.com:8080") && l.contains("(API listener)"), "{l}");
        let r = routes(&cfg());
        assert!(r.contains("/admin*") && r.contains("a=90,b=10"), "{r}");
        let e = endpoints(&cfg());
        assert!(e.contains("10.0.0.1:9000   UNHEALTHY   us/east    3"), "{e}");
    }

    #[test]
    fn status_table_shows_each_type() {
        let res = json!({"proxies": [{
            "id": "p1", "cluster": "c", "istiod": "2", "version": "grpc-python 1.84.0",
            "revision": 12, "connectedSince": "2026-01-01T00:00:00Z",
            "types": {"cds": {"status": "SYNCED"}, "eds": {"status": "NACKED",
                      "lastNack": {"message": "bad"}}}
        }], "errors": [{"member": 3, "error": "timed out"}]});
        let t = status(&res);
        assert!(t.starts_with("NAME"), "{t}");
        assert!(t.contains("p1     c         SYNCED   -     NACKED   -     2"), "{t}");
        assert!(t.contains("warning: member 3 did not answer: timed out"));
        let one = status_of(&res["proxies"][0]);
        assert!(one.contains("EDS    NACKED") && one.contains("bad"), "{one}");
    }
}
