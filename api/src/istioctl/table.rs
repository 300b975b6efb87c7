//! Table output for istioctl: per-kind columns like Istio's, and the cluster status table.

use istio_planes_config::KindInfo;
use serde_json::Value;

fn join(v: &Value) -> String {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(","))
        .unwrap_or_default()
}

fn quote_list(v: &Value) -> String {
    let items: Vec<String> = v
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).map(|s| format!("{s:?}")).collect())
        .unwrap_or_default();
    format!("[{}]", items.join(","))
}

/// Kubernetes-style age (`45s`, `3m`, `5h`, `2d`) of an RFC 3339 timestamp.
pub(super) fn age(ts: &str) -> String {
    let Ok(t) = time::OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339)
    else {
        return "<unknown>".into();
    };
    let secs = (time::OffsetDateTime::now_utc() - t).whole_seconds().max(0);
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

fn columns(info: &KindInfo, o: &Value) -> (Vec<&'static str>, Vec<String>) {
    let s = &o["spec"];
    match info.kind {
        "VirtualService" => {
            (vec!["GATEWAYS", "HOSTS"], vec![quote_list(&s["gateways"]), quote_list(&s["hosts"])])
        }
        "DestinationRule" => (vec!["HOST"], vec![s["host"].as_str().unwrap_or_default().into()]),
        "ServiceEntry" => (
            vec!["HOSTS", "LOCATION", "RESOLUTION"],
            vec![
                quote_list(&s["hosts"]),
                s["location"].as_str().unwrap_or_default().into(),
                s["resolution"].as_str().unwrap_or_default().into(),
            ],
        ),
        "WorkloadEntry" => {
            (vec!["ADDRESS"], vec![s["address"].as_str().unwrap_or_default().into()])
        }
        "PeerAuthentication" => {
            (vec!["MODE"], vec![s["mtls"]["mode"].as_str().unwrap_or_default().into()])
        }
        "AuthorizationPolicy" => {
            (vec!["ACTION"], vec![s["action"].as_str().unwrap_or("ALLOW").into()])
        }
        "Gateway" => {
            (vec!["SERVERS"], vec![s["servers"].as_array().map_or(0, Vec::len).to_string()])
        }
        "Sidecar" => (
            vec!["EGRESS"],
            vec![s["egress"]
                .as_array()
                .map(|e| e.iter().map(|x| join(&x["hosts"])).collect::<Vec<_>>().join(";"))
                .unwrap_or_default()],
        ),
        _ => (vec![], vec![]),
    }
}

pub(super) fn render_rows(header: Vec<String>, rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = header.iter().map(String::len).collect();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.len());
        }
    }
    let mut out = String::new();
    for r in std::iter::once(&header).chain(rows.iter()) {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(
                |(i, c)| {
                    if i + 1 == r.len() {
                        c.clone()
                    } else {
                        format!("{c:<w$}", w = widths[i])
                    }
                },
            )
            .collect();
        out.push_str(line.join("   ").trim_end());
        out.push('\n');
    }
    out
}

/// `NAME <kind columns> AGE`, with `NAMESPACE` first for `-A`.
pub(super) fn render(info: &KindInfo, items: &[Value], with_ns: bool) -> String {
    let mut header: Vec<String> = Vec::new();
    if with_ns {
        header.push("NAMESPACE".into());
    }
    header.push("NAME".into());
    let extra = items.first().map(|o| columns(info, o).0).unwrap_or_default();
    header.extend(extra.iter().map(|s| s.to_string()));
    header.push("AGE".into());
    let rows = items
        .iter()
        .map(|o| {
            let mut r = Vec::new();
            if with_ns {
                r.push(o["metadata"]["namespace"].as_str().unwrap_or_default().to_owned());
            }
            r.push(o["metadata"]["name"].as_str().unwrap_or_default().to_owned());
            r.extend(columns(info, o).1);
            r.push(age(o["metadata"]["creationTimestamp"].as_str().unwrap_or_default()));
            r
        })
        .collect();
    render_rows(header, rows)
}

/// The `istioctl cluster status` table.
pub(super) fn cluster(st: &Value) -> String {
    let leader = st["leader"].as_u64();
    let header = [
        "ID",
        "ROLE",
        "VOTER",
        "RAFT",
        "HTTP",
        "TERM",
        "LEADER",
        "APPLIED",
        "REVISION",
        "STATE-HASH",
        "HEALTH",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let rows = st["members"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            let s = &m["status"];
            let health = if s.is_null() {
                format!("unreachable: {}", m["error"].as_str().unwrap_or_default())
            } else if s["leader"].is_null() {
                "no leader".into()
            } else {
                "ok".into()
            };
            let get = |v: &Value| match v {
                Value::Null => "-".to_owned(),
                Value::String(s) => s.clone(),
                o => o.to_string(),
            };
            vec![
                m["id"].to_string(),
                if s.is_null() { "-".into() } else { get(&s["role"]) },
                m["voter"].to_string(),
                get(&m["raftAddr"]),
                get(&s["httpAddr"]),
                get(&s["term"]),
                get(&s["leader"]),
                get(&s["applied"]["appliedIndex"]),
                get(&s["applied"]["revision"]),
                get(&s["applied"]["stateHash"]).chars().take(12).collect(),
                health,
            ]
        })
        .collect();
    let mut out = render_rows(header, rows);
    out.push_str(&format!("leader: {}\n", leader.map_or("none".into(), |l| l.to_string())));
    out
}

fn objects(ev: &Value) -> String {
    ev["changes"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .map(|c| {
                    format!(
                        "{} {}/{} ({})",
                        c["kind"].as_str().unwrap_or_default(),
                        c["namespace"].as_str().unwrap_or_default(),
                        c["name"].as_str().unwrap_or_default(),
                        c["type"].as_str().unwrap_or_default()
                    )
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

/// Header of the audit table.
pub(super) fn audit_header() -> String {
    format!("{:<9} {:<24} {:<16} {:<8} OBJECTS", "REVISION", "TIME", "ACTOR", "VERB")
}

/// One audit row (fixed widths, for streaming).
pub(super) fn audit_row(ev: &Value) -> String {
    format!(
        "{:<9} {:<24} {:<16} {:<8} {}",
        ev["revision"],
        ev["time"].as_str().unwrap_or_default(),
        ev["actor"].as_str().unwrap_or_default(),
        ev["verb"].as_str().unwrap_or_default(),
        objects(ev)
    )
}

/// `REVISION TIME ACTOR VERB OBJECTS`.
pub(super) fn audit(res: &Value) -> String {
    let header = ["REVISION", "TIME", "ACTOR", "VERB", "OBJECTS"].map(String::from).to_vec();
    let rows = res["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|ev| {
            vec![
                ev["revision"].to_string(),
                ev["time"].as_str().unwrap_or_default().to_owned(),
                ev["actor"].as_str().unwrap_or_default().to_owned(),
                ev["verb"].as_str().unwrap_or_default().to_owned(),
                objects(ev),
            ]
        })
        .collect();
    render_rows(header, rows)
}

/// `REVISION TIME ACTOR VERB CHANGE RESOURCE-VERSION` for one object.
pub(super) fn history(res: &Value) -> String {
    let header =
        ["REVISION", "TIME", "ACTOR", "VERB", "CHANGE", "GENERATION"].map(String::from).to_vec();
    let rows = res["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|ev| {
            let c = &ev["changes"][0];
            let generation = match &c["object"] {
                Value::Null => "-".to_owned(),
                o => o["metadata"]["generation"].to_string(),
            };
            vec![
                ev["revision"].to_string(),
                ev["time"].as_str().unwrap_or_default().to_owned(),
                ev["actor"].as_str().unwrap_or_default().to_owned(),
                ev["verb"].as_str().unwrap_or_default().to_owned(),
                c["type"].as_str().unwrap_or_default().to_owned(),
                generation,
            ]
        })
        .collect();
    render_rows(header, rows)
}
