//! Golden tests of Pilot's xDS translation, from documents folded through the registry view.
//!
//! Each case is a folder `tests/golden/<case>/`, found by listing `tests/golden/` (adding a
//! case is adding a folder):
//!
//! - `input.yaml`: ServiceEntries, WorkloadEntries, VirtualServices, DestinationRules (and
//!   kinds the translation does not read), validated with the project's own config parsing
//!   and committed in order, one txn per document as `kubectl apply` writes them, to a state
//!   machine. The [`RegistryView`] is replayed from that log as a live member's view driver
//!   folds it, and its services and routing are translated as `spawn_snapshots` does.
//! - `expected.yaml`: the translated xDS resources themselves, as proto3 JSON ([`dump`], the
//!   form of Envoy's config dump and of `istioctl proxy-config -o yaml`) written as YAML:
//!   `listeners`, `routes`, `clusters`, `endpoints`, each sorted by name, object keys sorted,
//!   so diffs are stable.
//!
//! `golden_cases_match_expected` compares every case; a mismatch prints, per case and per
//! resource that differs, a unified diff. `UPDATE_GOLDEN=1 cargo test -p istio-planes-pilot
//! --test golden` rewrites the expected files after an intended change (review their diff).
//! Every case's output also passes the structural checks a gRPC xDS client makes, and the
//! named tests (`vs_matches`, `dr_tls`, …) assert the key fields of each mapping explicitly.
//!
//! `bookinfo_corpus_translates` translates Istio's bookinfo samples (read from the shared
//! conformance corpus at test time; it fails, loudly, when the corpus is missing) and applies
//! the same structural checks.
//!
//! It is one file of ~1.4k lines because it is one job — the golden harness and the checks
//! each case's output must pass — and most of its length is the per-mapping assertions,
//! which read best next to the checks they share.
// Test code: a failed unwrap is a failed test with its location.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use envoy_types::pb::envoy::config::cluster::v3::cluster::{
    ClusterDiscoveryType, DiscoveryType, LbConfig, LbPolicy,
};
use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use envoy_types::pb::envoy::config::core::v3::config_source::ConfigSourceSpecifier;
use envoy_types::pb::envoy::config::core::v3::data_source::Specifier as DataSpecifier;
use envoy_types::pb::envoy::config::core::v3::header_value_option::HeaderAppendAction;
use envoy_types::pb::envoy::config::core::v3::transport_socket::ConfigType as SocketConfig;
use envoy_types::pb::envoy::config::core::v3::{ConfigSource, HealthStatus, HeaderValueOption};
use envoy_types::pb::envoy::config::route::v3::header_matcher::HeaderMatchSpecifier;
use envoy_types::pb::envoy::config::route::v3::query_parameter_matcher::QueryParameterMatchSpecifier;
use envoy_types::pb::envoy::config::route::v3::redirect_action::{
    PathRewriteSpecifier, RedirectResponseCode, SchemeRewriteSpecifier,
};
use envoy_types::pb::envoy::config::route::v3::route::Action;
use envoy_types::pb::envoy::config::route::v3::route_action::{
    hash_policy::PolicySpecifier, ClusterSpecifier, HostRewriteSpecifier,
};
use envoy_types::pb::envoy::config::route::v3::route_match::PathSpecifier;
use envoy_types::pb::envoy::config::route::v3::weighted_cluster::cluster_weight;
use envoy_types::pb::envoy::config::route::v3::{FilterConfig, Route, RouteAction};
use envoy_types::pb::envoy::extensions::filters::common::fault::v3::fault_delay::FaultDelaySecifier;
use envoy_types::pb::envoy::extensions::filters::http::cors::v3::CorsPolicy;
use envoy_types::pb::envoy::extensions::filters::http::fault::v3::fault_abort::ErrorType;
use envoy_types::pb::envoy::extensions::filters::http::fault::v3::HttpFault;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::http_connection_manager::RouteSpecifier;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::http_filter::ConfigType;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager;
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::common_tls_context::ValidationContextType;
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::UpstreamTlsContext;
use envoy_types::pb::envoy::extensions::upstreams::http::v3::http_protocol_options::explicit_http_config::ProtocolConfig;
use envoy_types::pb::envoy::extensions::upstreams::http::v3::http_protocol_options::UpstreamProtocolOptions;
use envoy_types::pb::envoy::extensions::upstreams::http::v3::HttpProtocolOptions;
use envoy_types::pb::envoy::r#type::matcher::v3::string_matcher::MatchPattern;
use envoy_types::pb::envoy::r#type::v3::fractional_percent::DenominatorType;
use envoy_types::pb::envoy::r#type::v3::FractionalPercent;
use envoy_types::pb::google::protobuf::{Any, Duration};
use istio_planes_config::{parse_documents, validate_object};
use istio_planes_pilot::dump;
use istio_planes_pilot::registry::RegistryView;
use istio_planes_pilot::xds::{
    cluster, listener, pack, route, translate, Resources, Routing, CLUSTER, ENDPOINT, LISTENER,
    ROUTE,
};
use istio_planes_view::{replay, View};
use istio_store::state_machine::StateMachine;
use istio_store::{Command, CommandOp, Op, ResourceKey, Response, Txn, TxnOutcome};
use openraft::storage::RaftStateMachine;
use openraft::{CommittedLeaderId, Entry, EntryPayload, LogId};
use prost::Message;
use serde_json::Value;

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden");
const BOOKINFO: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/conformance/istio/bookinfo");

// ---------------------------------------------------------------------------------------------
// Input: the project's config parsing, committed to a log, folded by the registry view
// ---------------------------------------------------------------------------------------------

/// A one-member log without Raft: a state machine on a temporary data dir, applying each
/// write as the next entry, as openraft would once it committed.
struct Log {
    runtime: tokio::runtime::Runtime,
    sm: StateMachine,
    index: u64,
    _dir: tempfile::TempDir,
}

impl Log {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = sled::Config::new().path(dir.path()).open().expect("sled");
        let sm = StateMachine::open(&db).expect("state machine");
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        Log { runtime, sm, index: 0, _dir: dir }
    }

    /// Commits `object` (a whole document) at its key; `what` names it in failures.
    fn put(&mut self, key: ResourceKey, object: &Value, what: &str) {
        self.index += 1;
        let cmd = Command {
            request_id: format!("golden-{}", self.index),
            actor: "golden".into(),
            source: "golden".into(),
            time_ms: 0,
            verb: "apply".into(),
            restores: None,
            op: CommandOp::Txn(Txn {
                preconditions: vec![],
                ops: vec![Op::Put { key, object: serde_json::to_vec(object).expect("JSON") }],
            }),
        };
        let entry = Entry {
            log_id: LogId::new(CommittedLeaderId::new(1, 1), self.index),
            payload: EntryPayload::Normal(cmd),
        };
        let sm = &mut self.sm;
        let response = self.runtime.block_on(async { sm.apply([entry]).await });
        match response.as_deref() {
            Ok([Response::Txn { outcome: TxnOutcome::Committed { .. }, .. }]) => {}
            other => panic!("{what}: not committed: {other:?}"),
        }
    }

    /// Parses and validates every document of `text` (named `what` in failures) and commits
    /// each, in order, at the key the API stores it under (namespace `default` when it names
    /// none, as the API's request path would).
    fn apply(&mut self, text: &str, what: &str) {
        self.apply_renamed(text, what, &|name| name.to_owned());
    }

    /// [`Log::apply`], each object named `rename(its name)`.
    fn apply_renamed(&mut self, text: &str, what: &str, rename: &dyn Fn(&str) -> String) {
        let docs = parse_documents(text).unwrap_or_else(|e| panic!("{what}: {e}"));
        for (i, mut doc) in docs {
            let info = validate_object(&doc).unwrap_or_else(|e| panic!("{what} document {i}: {e}"));
            let meta = doc
                .get_mut("metadata")
                .and_then(Value::as_object_mut)
                .unwrap_or_else(|| panic!("{what} document {i}: no metadata"));
            let ns = meta
                .entry("namespace")
                .or_insert_with(|| "default".into())
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let name = rename(meta.get("name").and_then(Value::as_str).unwrap_or_default());
            meta.insert("name".into(), name.clone().into());
            let key = ResourceKey::new(info.group, info.plural, &ns, &name);
            self.put(key, &doc, &format!("{what} document {i} ({} {ns}/{name})", info.kind));
        }
    }

    /// The registry view of everything committed, replayed from the log.
    fn view(&self) -> RegistryView {
        let shared = self.sm.shared();
        let v: RegistryView =
            replay(&shared, shared.applied_state().revision).expect("replay the registry view");
        assert_eq!(v.revision(), self.index);
        v
    }
}

/// The registry's resources, translated as `spawn_snapshots` translates them.
fn translate_view(v: &RegistryView) -> Resources {
    let routing = Routing {
        virtual_services: v.virtual_services(),
        destination_rules: v.destination_rules(),
    };
    translate(&v.services(), &routing)
}

/// Case `name`'s input, folded and translated, checked as a gRPC client would check it.
fn case(name: &str) -> Resources {
    let path = Path::new(GOLDEN).join(name).join("input.yaml");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("golden case {name}: cannot read {}: {e}", path.display()));
    let mut log = Log::new();
    log.apply(&text, &format!("golden case {name}"));
    let r = translate_view(&log.view());
    let problems = structural_problems(&r);
    assert!(
        problems.is_empty(),
        "golden case {name}: structural problems:\n{}",
        problems.join("\n")
    );
    r
}

fn decoded<M: Message + Default + std::fmt::Debug>(any: &Any) -> M {
    M::decode(any.value.as_slice())
        .unwrap_or_else(|e| panic!("{} does not decode: {e}", any.type_url))
}

// ---------------------------------------------------------------------------------------------
// Rendering: proto3 JSON (pilot::dump) as YAML
// ---------------------------------------------------------------------------------------------

/// The sections of an expected file: key, type URL, the field naming a resource.
const SECTIONS: [(&str, &str, &str); 4] = [
    ("listeners", LISTENER, "name"),
    ("routes", ROUTE, "name"),
    ("clusters", CLUSTER, "name"),
    ("endpoints", ENDPOINT, "clusterName"),
];

const HEADER: &str = "# The xDS resources Pilot translates input.yaml into, as proto3 JSON (pilot::dump).\n\
                      # Regenerate: UPDATE_GOLDEN=1 cargo test -p istio-planes-pilot --test golden\n";

/// `v` with every object's keys in order (whatever map order serde_json was built with).
fn canonical(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let sorted: BTreeMap<String, Value> =
                m.into_iter().map(|(k, v)| (k, canonical(v))).collect();
            Value::Object(sorted.into_iter().collect())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(canonical).collect()),
        other => other,
    }
}

/// One resource as proto3 JSON; a resource `dump` cannot render fails the test.
fn resource_json<M: Message>(type_url: &str, name: &str, m: &M) -> Value {
    let v = canonical(dump::any_to_json(&pack(type_url, m)));
    if let Some(e) = v.get("error") {
        panic!("{type_url} {name} does not render as proto3 JSON: {e}");
    }
    v
}

/// Every resource of `r`, per section, in name order.
fn rendered(r: &Resources) -> Value {
    fn all<M: Message>(type_url: &str, m: &BTreeMap<String, M>) -> Value {
        m.iter().map(|(n, m)| resource_json(type_url, n, m)).collect::<Vec<_>>().into()
    }
    let mut out = serde_json::Map::new();
    for (key, type_url, _) in SECTIONS {
        let v = match type_url {
            LISTENER => all(type_url, &r.listeners),
            ROUTE => all(type_url, &r.routes),
            CLUSTER => all(type_url, &r.clusters),
            _ => all(type_url, &r.endpoints),
        };
        out.insert(key.into(), v);
    }
    Value::Object(out)
}

fn yaml(v: &Value) -> String {
    serde_yaml::to_string(v).expect("YAML")
}

/// The text of an expected file for `rendered` resources: the header, then the sections in
/// xDS order (listeners, routes, clusters, endpoints).
fn file_text(rendered: &Value) -> String {
    let mut out = HEADER.to_owned();
    for (key, _, _) in SECTIONS {
        let section = serde_json::json!({ key: rendered.get(key).cloned().unwrap_or_default() });
        out.push_str(&yaml(&section));
    }
    out
}

/// The text of the expected file for `r`.
fn render(r: &Resources) -> String {
    file_text(&rendered(r))
}

// ---------------------------------------------------------------------------------------------
// Golden comparison
// ---------------------------------------------------------------------------------------------

/// The case folders under `tests/golden/`, in name order.
fn golden_cases() -> Vec<String> {
    let mut cases: Vec<String> = std::fs::read_dir(GOLDEN)
        .unwrap_or_else(|e| panic!("cannot list {GOLDEN}: {e}"))
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    cases.sort();
    cases
}

/// Every case's translation equals its `expected.yaml` (with `UPDATE_GOLDEN=1`: becomes it).
/// All cases are compared before failing, so one run shows every difference.
#[test]
fn golden_cases_match_expected() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1");
    let cases = golden_cases();
    assert!(!cases.is_empty(), "no golden cases under {GOLDEN}");
    let mut failures = Vec::new();
    for name in &cases {
        let got = rendered(&case(name));
        let text = file_text(&got);
        let path = Path::new(GOLDEN).join(name).join("expected.yaml");
        if update {
            std::fs::write(&path, &text)
                .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(want) if want == text => {}
            Ok(want) => failures.push(explain(name, &want, &got, &text)),
            Err(e) => failures.push(format!(
                "golden case {name}: cannot read {} ({e}); run with UPDATE_GOLDEN=1 to write it",
                path.display()
            )),
        }
    }
    if !failures.is_empty() {
        panic!(
            "{} of {} golden cases differ from their expected.yaml:\n\n{}\n(run with \
             UPDATE_GOLDEN=1 to accept the new output, then review the diff)",
            failures.len(),
            cases.len(),
            failures.join("\n")
        );
    }
}

/// What differs between case `name`'s expected text `want` and its output `got` (`text` as
/// a file): a unified diff per resource that changed, appeared or went away; the whole
/// file's diff when `want` does not parse or only its layout differs.
fn explain(name: &str, want: &str, got: &Value, text: &str) -> String {
    let whole = || format!("golden case {name}: expected.yaml\n{}", unified_diff(want, text));
    let Ok(want) = serde_yaml::from_str::<Value>(want) else { return whole() };
    let by_name = |v: &Value, key: &str, field: &str| -> BTreeMap<String, String> {
        v.get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|r| (r.get(field).and_then(Value::as_str).unwrap_or("?").to_owned(), yaml(r)))
            .collect()
    };
    let mut out = String::new();
    for (key, _, field) in SECTIONS {
        let (w, g) = (by_name(&want, key, field), by_name(got, key, field));
        let names: BTreeSet<&String> = w.keys().chain(g.keys()).collect();
        for n in names {
            let (a, b) = (w.get(n).map_or("", String::as_str), g.get(n).map_or("", String::as_str));
            if a == b {
                continue;
            }
            let how = match (a.is_empty(), b.is_empty()) {
                (true, _) => "is new",
                (_, true) => "is gone",
                _ => "differs",
            };
            let one = key.trim_end_matches('s');
            out.push_str(&format!("golden case {name}: {one} {n} {how}\n{}", unified_diff(a, b)));
        }
    }
    if out.is_empty() {
        return whole();
    }
    out
}

/// A unified diff of `a` (`-`, expected) and `b` (`+`, got), three lines of context.
fn unified_diff(a: &str, b: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    // Longest common subsequence, from the ends.
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] =
                if a[i] == b[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    // The edit script: (' ' | '-' | '+', line in a, line in b, text).
    let mut ops = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            ops.push((' ', i, j, a[i]));
            (i, j) = (i + 1, j + 1);
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            ops.push(('-', i, j, a[i]));
            i += 1;
        } else {
            ops.push(('+', i, j, b[j]));
            j += 1;
        }
    }
    const CONTEXT: usize = 3;
    let changed: Vec<usize> = (0..ops.len()).filter(|&k| ops[k].0 != ' ').collect();
    let mut out = String::new();
    let mut k = 0;
    while k < changed.len() {
        // One hunk: changes closer than twice the context go together.
        let start = changed[k].saturating_sub(CONTEXT);
        let mut end = changed[k];
        while k < changed.len() && changed[k] <= end + 2 * CONTEXT {
            end = changed[k];
            k += 1;
        }
        let end = (end + CONTEXT + 1).min(ops.len());
        let hunk = &ops[start..end];
        let count = |c: char| hunk.iter().filter(|o| o.0 == ' ' || o.0 == c).count();
        out.push_str(&format!(
            "@@ -{},{} +{},{} @@\n",
            hunk[0].1 + 1,
            count('-'),
            hunk[0].2 + 1,
            count('+')
        ));
        for (c, _, _, line) in hunk {
            out.push_str(&format!("{c}{line}\n"));
        }
    }
    out
}

/// The diff names the case and the resource, and shows the changed lines in context.
#[test]
fn a_mismatch_shows_a_diff_per_resource() {
    let r = case("default-route");
    let got = rendered(&r);
    let text = render(&r);
    let name = "outbound|80||plain.example.com";
    let edited = |edit: &dyn Fn(&mut Value)| {
        let mut v = got.clone();
        edit(&mut v);
        file_text(&v)
    };
    let want = edited(&|v| {
        let c = v["clusters"].as_array_mut().unwrap().iter_mut().find(|c| c["name"] == name);
        c.unwrap()["type"] = "STATIC".into();
    });
    let e = explain("default-route", &want, &got, &text);
    assert!(
        e.starts_with(&format!("golden case default-route: cluster {name} differs\n@@ ")),
        "{e}"
    );
    assert!(
        e.contains("\n name: outbound|80||plain.example.com\n-type: STATIC\n+type: EDS\n"),
        "{e}"
    );
    assert_eq!(e.matches("golden case").count(), 1, "only the changed resource: {e}");
    let want = edited(&|v| {
        let l =
            v["endpoints"].as_array_mut().unwrap().iter_mut().find(|l| l["clusterName"] == name);
        l.unwrap()["clusterName"] = "elsewhere".into();
    });
    let e = explain("default-route", &want, &got, &text);
    assert!(e.contains("endpoint elsewhere is gone"), "{e}");
    assert!(e.contains(&format!("endpoint {name} is new")), "{e}");
    assert!(unified_diff("a\nb\nc\n", "a\nx\nc\n").contains("@@ -1,3 +1,3 @@\n a\n-b\n+x\n c\n"));
}

// ---------------------------------------------------------------------------------------------
// Structural checks a gRPC xDS client makes
// ---------------------------------------------------------------------------------------------

fn is_ads(c: Option<&ConfigSource>) -> bool {
    matches!(
        c.and_then(|c| c.config_source_specifier.as_ref()),
        Some(ConfigSourceSpecifier::Ads(_))
    )
}

/// Every problem a gRPC xDS client (and Envoy) would have with `r`.
fn structural_problems(r: &Resources) -> Vec<String> {
    let mut p = Vec::new();
    for (name, l) in &r.listeners {
        let Some(any) = l.api_listener.as_ref().and_then(|a| a.api_listener.as_ref()) else {
            p.push(format!("listener {name}: no api_listener"));
            continue;
        };
        if any.type_url != listener::HCM {
            p.push(format!("listener {name}: api_listener is {}", any.type_url));
            continue;
        }
        let Ok(hcm) = HttpConnectionManager::decode(any.value.as_slice()) else {
            p.push(format!("listener {name}: HCM does not decode"));
            continue;
        };
        match &hcm.route_specifier {
            Some(RouteSpecifier::Rds(rds)) => {
                if !is_ads(rds.config_source.as_ref()) {
                    p.push(format!("listener {name}: RDS not over ADS"));
                }
                if !r.routes.contains_key(&rds.route_config_name) {
                    p.push(format!("listener {name}: no route config {}", rds.route_config_name));
                }
            }
            other => p.push(format!("listener {name}: route specifier {other:?}")),
        }
        let names: BTreeSet<&str> = hcm.http_filters.iter().map(|f| f.name.as_str()).collect();
        if names.len() != hcm.http_filters.len() {
            p.push(format!("listener {name}: duplicate filter names"));
        }
        for (i, f) in hcm.http_filters.iter().enumerate() {
            let last = i + 1 == hcm.http_filters.len();
            let typed = match &f.config_type {
                Some(ConfigType::TypedConfig(a)) => a.type_url.as_str(),
                _ => "",
            };
            if typed.is_empty() {
                p.push(format!("listener {name}: filter {} without typed config", f.name));
            }
            if last != (typed == listener::ROUTER) {
                p.push(format!("listener {name}: router must be last and only last ({})", f.name));
            }
        }
        // Per-route filter configs must name a filter of the chain, or be optional.
        if let Some(rc) = r.routes.get(name) {
            for rt in rc.virtual_hosts.iter().flat_map(|v| &v.routes) {
                for (k, a) in &rt.typed_per_filter_config {
                    let optional = a.type_url == route::FILTER_CONFIG
                        && FilterConfig::decode(a.value.as_slice()).is_ok_and(|f| f.is_optional);
                    if !names.contains(k.as_str()) || (k == route::CORS_FILTER && !optional) {
                        p.push(format!("route {name}/{}: per-filter config {k} unusable", rt.name));
                    }
                }
            }
        }
    }
    for (name, rc) in &r.routes {
        if rc.virtual_hosts.is_empty() {
            p.push(format!("route {name}: no virtual host"));
        }
        for rt in rc.virtual_hosts.iter().flat_map(|v| &v.routes) {
            let what = format!("route {name}/{}", rt.name);
            if rt.r#match.as_ref().and_then(|m| m.path_specifier.as_ref()).is_none() {
                p.push(format!("{what}: no path match"));
            }
            match &rt.action {
                Some(Action::Route(a)) => {
                    match &a.cluster_specifier {
                        Some(ClusterSpecifier::Cluster(c)) => {
                            if !r.clusters.contains_key(c) {
                                p.push(format!("{what}: unknown cluster {c}"));
                            }
                        }
                        Some(ClusterSpecifier::WeightedClusters(w)) => {
                            let total: u64 = w
                                .clusters
                                .iter()
                                .map(|c| u64::from(c.weight.as_ref().map_or(0, |w| w.value)))
                                .sum();
                            if total == 0 {
                                p.push(format!("{what}: weighted clusters total 0"));
                            }
                            for c in &w.clusters {
                                if !r.clusters.contains_key(&c.name) {
                                    p.push(format!("{what}: unknown weighted cluster {}", c.name));
                                }
                            }
                        }
                        other => p.push(format!("{what}: cluster specifier {other:?}")),
                    }
                    for m in &a.request_mirror_policies {
                        if !r.clusters.contains_key(&m.cluster) {
                            p.push(format!("{what}: unknown mirror cluster {}", m.cluster));
                        }
                    }
                    if let Some(rp) = &a.retry_policy {
                        if rp.num_retries.as_ref().is_some_and(|n| n.value == 0) {
                            p.push(format!("{what}: num_retries 0"));
                        }
                    }
                }
                Some(Action::Redirect(_) | Action::DirectResponse(_)) => {}
                other => p.push(format!("{what}: action {other:?}")),
            }
        }
    }
    for (name, c) in &r.clusters {
        if c.cluster_discovery_type != Some(ClusterDiscoveryType::Type(DiscoveryType::Eds as i32)) {
            p.push(format!("cluster {name}: not EDS"));
        }
        match &c.eds_cluster_config {
            Some(e) if is_ads(e.eds_config.as_ref()) && e.service_name == *name => {}
            other => p.push(format!("cluster {name}: eds config {other:?}")),
        }
        if !r.endpoints.contains_key(name) {
            p.push(format!("cluster {name}: no load assignment"));
        }
        if let Some(t) = &c.transport_socket {
            if t.name != cluster::TLS_SOCKET {
                p.push(format!("cluster {name}: transport socket {}", t.name));
            }
        }
    }
    for (name, cla) in &r.endpoints {
        if cla.cluster_name != *name {
            p.push(format!("endpoints {name}: cluster_name {}", cla.cluster_name));
        }
        for l in &cla.endpoints {
            if l.locality.is_none() || l.load_balancing_weight.as_ref().is_none_or(|w| w.value == 0)
            {
                p.push(format!("endpoints {name}: locality {:?} without weight", l.locality));
            }
        }
    }
    p
}

// ---------------------------------------------------------------------------------------------
// Accessors for the assertions
// ---------------------------------------------------------------------------------------------

fn routes<'a>(r: &'a Resources, listener: &str) -> &'a [Route] {
    &r.routes[listener].virtual_hosts[0].routes
}

fn route_named<'a>(r: &'a Resources, listener: &str, name: &str) -> &'a Route {
    routes(r, listener)
        .iter()
        .find(|rt| rt.name == name)
        .unwrap_or_else(|| panic!("no route {name} in {listener}"))
}

fn action(rt: &Route) -> &RouteAction {
    match &rt.action {
        Some(Action::Route(a)) => a,
        other => panic!("route {}: not a route action: {other:?}", rt.name),
    }
}

fn cluster_of(rt: &Route) -> &str {
    match &action(rt).cluster_specifier {
        Some(ClusterSpecifier::Cluster(c)) => c,
        other => panic!("route {}: {other:?}", rt.name),
    }
}

fn weighted(rt: &Route) -> Vec<(&str, u32)> {
    match &action(rt).cluster_specifier {
        Some(ClusterSpecifier::WeightedClusters(w)) => w
            .clusters
            .iter()
            .map(|c| (c.name.as_str(), c.weight.as_ref().map_or(0, |w| w.value)))
            .collect(),
        other => panic!("route {}: {other:?}", rt.name),
    }
}

fn dur(seconds: i64, nanos: i32) -> Option<Duration> {
    Some(Duration { seconds, nanos })
}

fn millionths(n: u32) -> Option<FractionalPercent> {
    Some(FractionalPercent { numerator: n, denominator: DenominatorType::Million as i32 })
}

fn per_filter<M: Message + Default + std::fmt::Debug>(rt: &Route, filter: &str) -> M {
    let a = rt
        .typed_per_filter_config
        .get(filter)
        .unwrap_or_else(|| panic!("route {}: no {filter} config", rt.name));
    if a.type_url == route::FILTER_CONFIG {
        let f: FilterConfig = decoded(a);
        assert!(f.is_optional, "wrapped per-filter config must be optional");
        return decoded(f.config.as_ref().expect("wrapped config"));
    }
    decoded(a)
}

fn hcm(r: &Resources, name: &str) -> HttpConnectionManager {
    decoded(r.listeners[name].api_listener.as_ref().unwrap().api_listener.as_ref().unwrap())
}

fn filter_names(r: &Resources, name: &str) -> Vec<String> {
    hcm(r, name).http_filters.into_iter().map(|f| f.name).collect()
}

fn header_pairs(h: &[HeaderValueOption]) -> Vec<(&str, &str, i32)> {
    h.iter()
        .map(|o| {
            let hv = o.header.as_ref().unwrap();
            (hv.key.as_str(), hv.value.as_str(), o.append_action)
        })
        .collect()
}

fn thresholds(c: &Cluster) -> [Option<u32>; 4] {
    let t = &c.circuit_breakers.as_ref().unwrap().thresholds[0];
    [&t.max_connections, &t.max_pending_requests, &t.max_requests, &t.max_retries]
        .map(|v| v.as_ref().map(|v| v.value))
}

fn protocol_options(c: &Cluster) -> HttpProtocolOptions {
    decoded(&c.typed_extension_protocol_options[cluster::HTTP_PROTOCOL_OPTIONS])
}

fn tls(c: &Cluster) -> Option<UpstreamTlsContext> {
    c.transport_socket.as_ref().map(|t| match &t.config_type {
        Some(SocketConfig::TypedConfig(a)) => decoded(a),
        other => panic!("{other:?}"),
    })
}

const SET: i32 = HeaderAppendAction::OverwriteIfExistsOrAdd as i32;
const ADD: i32 = HeaderAppendAction::AppendIfExistsOrAdd as i32;
const MAX: Option<u32> = Some(u32::MAX);

// ---------------------------------------------------------------------------------------------
// The cases
// ---------------------------------------------------------------------------------------------

const REVIEWS: &str = "reviews.default.svc.cluster.local:9080";

/// URI exact/prefix/regex, headers exact/prefix/regex/present, withoutHeaders (inverted),
/// method/authority/scheme as pseudo-headers, query parameters, ignoreUriCase; a match for
/// another port is left out, and nothing follows the catch-all.
#[test]
fn vs_matches() {
    let r = case("vs-matches");
    let rs = routes(&r, REVIEWS);
    let names: Vec<&str> = rs.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["uri.exact", "uri", "headers", "catch-all"]);
    let m = rs[0].r#match.as_ref().unwrap();
    assert_eq!(m.path_specifier, Some(PathSpecifier::Path("/reviews/1".into())));
    assert_eq!(m.case_sensitive.as_ref().map(|b| b.value), Some(false));
    assert!(matches!(&rs[1].r#match.as_ref().unwrap().path_specifier,
        Some(PathSpecifier::SafeRegex(re)) if re.regex == "/reviews/[0-9]+"));
    assert_eq!(cluster_of(&rs[0]), "outbound|9080|v2|reviews.default.svc.cluster.local");

    let m = rs[2].r#match.as_ref().unwrap();
    let h: BTreeMap<&str, (&HeaderMatchSpecifier, bool)> = m
        .headers
        .iter()
        .map(|h| (h.name.as_str(), (h.header_match_specifier.as_ref().unwrap(), h.invert_match)))
        .collect();
    let sm = |s: &HeaderMatchSpecifier| match s {
        HeaderMatchSpecifier::StringMatch(s) => s.match_pattern.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(sm(h["end-user"].0), Some(MatchPattern::Exact("jason".into())));
    assert_eq!(sm(h["x-canary"].0), Some(MatchPattern::Prefix("yes".into())));
    assert!(
        matches!(sm(h["x-trace"].0), Some(MatchPattern::SafeRegex(r)) if r.regex == "[a-f0-9]+")
    );
    assert_eq!(h["x-present"].0, &HeaderMatchSpecifier::PresentMatch(true));
    assert_eq!(sm(h["x-debug"].0), Some(MatchPattern::Exact("1".into())));
    assert!(h["x-debug"].1, "withoutHeaders inverts");
    assert!(m.headers.iter().find(|h| h.name == "x-debug").unwrap().treat_missing_header_as_empty);
    assert_eq!(sm(h[":method"].0), Some(MatchPattern::Exact("GET".into())));
    assert_eq!(sm(h[":authority"].0), Some(MatchPattern::Prefix("reviews".into())));
    assert_eq!(sm(h[":scheme"].0), Some(MatchPattern::Exact("https".into())));
    let q: Vec<(&str, &QueryParameterMatchSpecifier)> = m
        .query_parameters
        .iter()
        .map(|q| (q.name.as_str(), q.query_parameter_match_specifier.as_ref().unwrap()))
        .collect();
    assert_eq!(q.len(), 2);
    assert!(matches!(q[0], ("id", QueryParameterMatchSpecifier::StringMatch(s))
        if s.match_pattern == Some(MatchPattern::Exact("7".into()))));
    assert!(matches!(q[1], ("q", QueryParameterMatchSpecifier::StringMatch(s))
        if matches!(&s.match_pattern, Some(MatchPattern::SafeRegex(r)) if r.regex == "^a.*")));
    assert_eq!(
        rs[3].r#match.as_ref().unwrap().path_specifier,
        Some(PathSpecifier::Prefix("/".into()))
    );
    assert_eq!(
        weighted(&rs[3]),
        [
            ("outbound|9080|v1|reviews.default.svc.cluster.local", 90),
            ("outbound|9080|v2|reviews.default.svc.cluster.local", 10)
        ]
    );
}

/// `timeout` → RouteAction.timeout and max_stream_duration; `retries` → RetryPolicy (status
/// codes split out, per-try timeout, remote localities); attempts 0 → no retry policy; no
/// `retries` → Istio's mesh default.
#[test]
fn vs_retries_timeouts() {
    let r = case("vs-retries-timeouts");
    let fast = action(route_named(&r, REVIEWS, "fast"));
    assert_eq!(fast.timeout, dur(1, 500_000_000));
    assert_eq!(fast.max_stream_duration.as_ref().unwrap().max_stream_duration, dur(1, 500_000_000));
    let rp = fast.retry_policy.as_ref().unwrap();
    assert_eq!(rp.num_retries.as_ref().unwrap().value, 3);
    assert_eq!(rp.retry_on, "gateway-error,connect-failure,retriable-status-codes");
    assert_eq!(rp.retriable_status_codes, [503]);
    assert_eq!(rp.per_try_timeout, dur(0, 100_000_000));
    let prio = rp.retry_priority.as_ref().unwrap();
    assert_eq!(prio.name, "envoy.retry_priorities.previous_priorities");
    let none = action(route_named(&r, REVIEWS, "no-retry"));
    assert!(none.retry_policy.is_none());
    assert_eq!(none.timeout, dur(0, 250_000_000));
    let default = action(route_named(&r, REVIEWS, "default-policy"));
    assert_eq!(default.timeout, dur(0, 0));
    let rp = default.retry_policy.as_ref().unwrap();
    assert_eq!(rp.retry_on, route::DEFAULT_RETRY_ON);
    assert_eq!(rp.num_retries.as_ref().unwrap().value, 2);
    assert_eq!(rp.retry_host_predicate[0].name, "envoy.retry_host_predicates.previous_hosts");
}

/// `fault` → per-route HTTPFault (fixed delay, HTTP and gRPC aborts, percentages in
/// millionths) and the fault filter in the chain before the router.
#[test]
fn vs_fault() {
    let r = case("vs-fault");
    let l = "ratings.default.svc.cluster.local:9080";
    assert_eq!(filter_names(&r, l), ["envoy.filters.http.fault", "envoy.filters.http.router"]);
    let f: HttpFault = per_filter(route_named(&r, l, "delay-jason"), route::FAULT_FILTER);
    let d = f.delay.unwrap();
    assert_eq!(d.percentage, millionths(1_000_000));
    assert_eq!(
        d.fault_delay_secifier,
        Some(FaultDelaySecifier::FixedDelay(Duration { seconds: 7, nanos: 0 }))
    );
    assert!(f.abort.is_none());
    let f: HttpFault = per_filter(route_named(&r, l, "abort-grpc"), route::FAULT_FILTER);
    let a = f.abort.unwrap();
    assert_eq!(a.error_type, Some(ErrorType::GrpcStatus(14)));
    assert_eq!(a.percentage, millionths(125_000));
    let f: HttpFault = per_filter(route_named(&r, l, "both"), route::FAULT_FILTER);
    assert_eq!(f.delay.unwrap().percentage, millionths(1_000));
    assert_eq!(f.abort.unwrap().error_type, Some(ErrorType::HttpStatus(503)));
    // The HCM's own fault filter config is empty: faults are per route.
    let h = hcm(&r, l);
    match &h.http_filters[0].config_type {
        Some(ConfigType::TypedConfig(a)) => assert_eq!(a.type_url, route::HTTP_FAULT),
        other => panic!("{other:?}"),
    }
    // A listener without faults has only the router.
    assert_eq!(
        filter_names(&r, "details.default.svc.cluster.local:9080"),
        ["envoy.filters.http.router"]
    );
}

/// `rewrite` (prefix, authority, regex) and `redirect` (uri, authority, port, scheme, code;
/// derived port; default 301).
#[test]
fn vs_rewrite_redirect() {
    let r = case("vs-rewrite-redirect");
    let a = action(route_named(&r, REVIEWS, "prefix"));
    assert_eq!(a.prefix_rewrite, "/api");
    assert_eq!(
        a.host_rewrite_specifier,
        Some(HostRewriteSpecifier::HostRewriteLiteral("backend.internal".into()))
    );
    let a = action(route_named(&r, REVIEWS, "regex"));
    let rw = a.regex_rewrite.as_ref().unwrap();
    assert_eq!(rw.pattern.as_ref().unwrap().regex, "^/regex/(.*)$");
    assert_eq!(rw.substitution, "/\\1");
    let redirect = |name: &str| match &route_named(&r, REVIEWS, name).action {
        Some(Action::Redirect(rd)) => rd.clone(),
        other => panic!("{other:?}"),
    };
    let rd = redirect("old");
    assert_eq!(rd.path_rewrite_specifier, Some(PathRewriteSpecifier::PathRedirect("/new".into())));
    assert_eq!(rd.host_redirect, "new.example.com");
    assert_eq!(rd.port_redirect, 8443);
    assert_eq!(
        rd.scheme_rewrite_specifier,
        Some(SchemeRewriteSpecifier::SchemeRedirect("https".into()))
    );
    assert_eq!(rd.response_code, RedirectResponseCode::PermanentRedirect as i32);
    let rd = redirect("moved");
    assert_eq!(rd.response_code, RedirectResponseCode::MovedPermanently as i32);
    assert_eq!(rd.port_redirect, 0);
    let rd = redirect("derive");
    assert_eq!(rd.port_redirect, 9080, "FROM_REQUEST_PORT is the listener's port");
    assert_eq!(rd.response_code, RedirectResponseCode::Found as i32);
}

/// `directResponse` → DirectResponseAction with an inline string or (base64-decoded) bytes.
#[test]
fn vs_direct_response() {
    let r = case("vs-direct-response");
    let dr = |name: &str| match &route_named(&r, REVIEWS, name).action {
        Some(Action::DirectResponse(d)) => d.clone(),
        other => panic!("{other:?}"),
    };
    let d = dr("health");
    assert_eq!(d.status, 200);
    assert_eq!(d.body.unwrap().specifier, Some(DataSpecifier::InlineString("ok".into())));
    let d = dr("teapot");
    assert_eq!(d.status, 418);
    assert_eq!(d.body.unwrap().specifier, Some(DataSpecifier::InlineBytes(b"hello".to_vec())));
    let d = dr("gone");
    assert_eq!((d.status, d.body), (410, None));
}

/// `mirror` + `mirrorPercentage` (millionths), default 100%, explicit 0 → no mirror, and
/// `mirrors` (each with its own percentage and port).
#[test]
fn vs_mirror() {
    let r = case("vs-mirror");
    let mirrors = |name: &str| {
        action(route_named(&r, REVIEWS, name))
            .request_mirror_policies
            .iter()
            .map(|m| {
                (m.cluster.clone(), m.runtime_fraction.as_ref().unwrap().default_value.unwrap())
            })
            .collect::<Vec<_>>()
    };
    let v2 = "outbound|9080|v2|reviews.default.svc.cluster.local".to_owned();
    let hundred =
        FractionalPercent { numerator: 100, denominator: DenominatorType::Hundred as i32 };
    assert_eq!(mirrors("half"), [(v2.clone(), millionths(500_000).unwrap())]);
    assert_eq!(mirrors("legacy"), [(v2.clone(), hundred)]);
    assert_eq!(mirrors("zero"), []);
    assert_eq!(
        mirrors("many"),
        [(v2, millionths(250_000).unwrap()), ("outbound|8080||shadow.example.com".into(), hundred)]
    );
}

/// `headers` request/response set/add/remove per route and per destination (weighted: on the
/// cluster weight); `:authority`/`host` set becomes a host rewrite, pseudo-headers are never
/// added or removed.
#[test]
fn vs_headers() {
    let r = case("vs-headers");
    let single = route_named(&r, REVIEWS, "single");
    assert_eq!(
        header_pairs(&single.request_headers_to_add),
        [("x-route", "r", SET), ("x-dest", "d", SET)]
    );
    assert_eq!(single.response_headers_to_remove, ["x-internal"]);
    let split = route_named(&r, REVIEWS, "split");
    assert_eq!(
        header_pairs(&split.request_headers_to_add),
        [("x-set", "a", SET), ("x-add", "b", ADD)]
    );
    assert_eq!(split.request_headers_to_remove, ["x-remove"]);
    assert_eq!(
        header_pairs(&split.response_headers_to_add),
        [("x-resp-set", "c", SET), ("x-resp-add", "d", ADD)]
    );
    assert_eq!(split.response_headers_to_remove, ["server"]);
    assert_eq!(
        action(split).host_rewrite_specifier,
        Some(HostRewriteSpecifier::HostRewriteLiteral("rewritten.example.com".into()))
    );
    assert_eq!(
        weighted(split),
        [
            ("outbound|9080|v1|reviews.default.svc.cluster.local", 80),
            ("outbound|9080|v2|reviews.default.svc.cluster.local", 20)
        ]
    );
    let Some(ClusterSpecifier::WeightedClusters(w)) = &action(split).cluster_specifier else {
        unreachable!()
    };
    assert_eq!(header_pairs(&w.clusters[0].request_headers_to_add), [("x-dest", "v1", SET)]);
    assert_eq!(w.clusters[0].response_headers_to_remove, ["x-internal"]);
    assert_eq!(
        w.clusters[1].host_rewrite_specifier,
        Some(cluster_weight::HostRewriteSpecifier::HostRewriteLiteral("v2.example.com".into()))
    );
}

/// `corsPolicy` → CorsPolicy per route (wrapped optional), the CORS filter (optional) first in
/// the chain, then fault, then router.
#[test]
fn vs_cors() {
    let r = case("vs-cors");
    assert_eq!(
        filter_names(&r, REVIEWS),
        ["envoy.filters.http.cors", "envoy.filters.http.fault", "envoy.filters.http.router"]
    );
    assert!(hcm(&r, REVIEWS).http_filters[0].is_optional);
    let c: CorsPolicy = per_filter(route_named(&r, REVIEWS, "both"), route::CORS_FILTER);
    let origins: Vec<_> =
        c.allow_origin_string_match.iter().map(|m| m.match_pattern.clone()).collect();
    assert_eq!(origins[0], Some(MatchPattern::Exact("https://example.com".into())));
    assert!(
        matches!(&origins[1], Some(MatchPattern::SafeRegex(r)) if r.regex == "https://.*\\.example\\.org")
    );
    assert_eq!(c.allow_methods, "GET,POST");
    assert_eq!(c.allow_headers, "x-custom");
    assert_eq!(c.expose_headers, "x-expose");
    assert_eq!(c.max_age, "86400");
    assert_eq!(c.allow_credentials.map(|b| b.value), Some(true));
    assert_eq!(c.forward_not_matching_preflights.map(|b| b.value), Some(false));
    let _: HttpFault = per_filter(route_named(&r, REVIEWS, "both"), route::FAULT_FILTER);
    let c: CorsPolicy = per_filter(route_named(&r, REVIEWS, "cors-only"), route::CORS_FILTER);
    assert_eq!(c.forward_not_matching_preflights.map(|b| b.value), Some(true));
}

/// Simple load balancers per port and subset, slow start, PASSTHROUGH kept EDS, locality
/// distribution `from: "*"` applied to the load assignment.
#[test]
fn dr_lb() {
    let r = case("dr-lb");
    let c = |n: &str| &r.clusters[n];
    let lr = c("outbound|80||lb.example.com");
    assert_eq!(lr.lb_policy, LbPolicy::LeastRequest as i32);
    assert!(matches!(&lr.lb_config, Some(LbConfig::LeastRequestLbConfig(l))
        if l.slow_start_config.as_ref().unwrap().slow_start_window == dur(60, 0)));
    assert_eq!(c("outbound|81||lb.example.com").lb_policy, LbPolicy::Random as i32);
    let pass = c("outbound|82||lb.example.com");
    assert_eq!(pass.lb_policy, LbPolicy::RoundRobin as i32);
    assert_eq!(
        pass.cluster_discovery_type,
        Some(ClusterDiscoveryType::Type(DiscoveryType::Eds as i32))
    );
    let rr = c("outbound|80|rr|lb.example.com");
    assert_eq!(rr.lb_policy, LbPolicy::RoundRobin as i32);
    assert!(rr.common_lb_config.as_ref().unwrap().locality_config_specifier.is_some());
    let weights: Vec<(String, u32)> = r.endpoints["outbound|80|rr|lb.example.com"]
        .endpoints
        .iter()
        .map(|l| {
            let loc = l.locality.as_ref().unwrap();
            (format!("{}/{}", loc.region, loc.zone), l.load_balancing_weight.unwrap().value)
        })
        .collect();
    assert_eq!(weights, [("us/east".to_owned(), 80), ("us/west".to_owned(), 20)]);
}

/// Consistent hash: RING_HASH / MAGLEV on the cluster (ring size, table size, default 1024),
/// and the hash key on every route to the cluster (header, cookie, source IP, query
/// parameter), including the default route of a service without a VirtualService; retries
/// under consistent hashing keep the same host.
#[test]
fn dr_consistent_hash() {
    let r = case("dr-consistent-hash");
    let c80 = &r.clusters["outbound|80||hash.example.com"];
    assert_eq!(c80.lb_policy, LbPolicy::RingHash as i32);
    assert!(matches!(&c80.lb_config, Some(LbConfig::RingHashLbConfig(h))
        if h.minimum_ring_size.unwrap().value == 2048));
    let c81 = &r.clusters["outbound|81||hash.example.com"];
    assert_eq!(c81.lb_policy, LbPolicy::Maglev as i32);
    assert!(
        matches!(&c81.lb_config, Some(LbConfig::MaglevLbConfig(m)) if m.table_size.unwrap().value == 65537)
    );
    let hashes = |l: &str, name: &str| -> Vec<PolicySpecifier> {
        action(route_named(&r, l, name))
            .hash_policy
            .iter()
            .map(|h| h.policy_specifier.clone().unwrap())
            .collect()
    };
    let l80 = "hash.example.com:80";
    assert!(
        matches!(&hashes(l80, "src")[..], [PolicySpecifier::ConnectionProperties(c)] if c.source_ip)
    );
    assert!(action(route_named(&r, l80, "src"))
        .retry_policy
        .as_ref()
        .unwrap()
        .retry_host_predicate
        .is_empty());
    let split = hashes(l80, "split");
    assert_eq!(split.len(), 2);
    assert!(matches!(&split[0], PolicySpecifier::QueryParameter(q) if q.name == "user"));
    assert!(
        matches!(&hashes(l80, "rest")[..], [PolicySpecifier::Header(h)] if h.header_name == "x-user")
    );
    assert!(matches!(&hashes("hash.example.com:81", "rest")[..],
        [PolicySpecifier::Cookie(c)] if c.name == "session" && c.ttl == dur(60, 0) && c.path == "/"));
    let sticky = &routes(&r, "sticky.example.com:80")[0];
    assert_eq!(sticky.name, "default");
    assert!(
        matches!(&action(sticky).hash_policy[0].policy_specifier, Some(PolicySpecifier::Header(h)) if h.header_name == "x-sticky")
    );
    assert!(matches!(&r.clusters["outbound|80||sticky.example.com"].lb_config,
        Some(LbConfig::RingHashLbConfig(h)) if h.minimum_ring_size.unwrap().value == 1024));
}

/// Connection pool → circuit breaker thresholds, connect timeout, upstream HTTP options (idle
/// timeout, requests per connection, connection lifetime, HTTP/2 upgrade with max streams),
/// retry budget; unset values keep Istio's defaults.
#[test]
fn dr_connection_pool() {
    let r = case("dr-connection-pool");
    let c = &r.clusters["outbound|9080||pool.example.com"];
    assert_eq!(thresholds(c), [Some(100), Some(10), Some(1000), Some(3)]);
    let t = &c.circuit_breakers.as_ref().unwrap().thresholds[0];
    let budget = t.retry_budget.as_ref().unwrap();
    assert_eq!(budget.budget_percent.as_ref().unwrap().value, 25.0);
    assert_eq!(budget.min_retry_concurrency.unwrap().value, 3);
    assert_eq!(c.connect_timeout, dur(0, 30_000_000));
    let o = protocol_options(c);
    let common = o.common_http_protocol_options.unwrap();
    assert_eq!(common.idle_timeout, dur(30, 0), "http idleTimeout wins over tcp's");
    assert_eq!(common.max_requests_per_connection.unwrap().value, 5);
    assert_eq!(common.max_connection_duration, dur(3600, 0));
    match o.upstream_protocol_options {
        Some(UpstreamProtocolOptions::ExplicitHttpConfig(e)) => match e.protocol_config {
            Some(ProtocolConfig::Http2ProtocolOptions(h2)) => {
                assert_eq!(h2.max_concurrent_streams.unwrap().value, 64);
            }
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
    let d = &r.clusters["outbound|9080||plain.example.com"];
    assert_eq!(thresholds(d), [MAX; 4]);
    assert_eq!(d.connect_timeout, dur(10, 0));
    assert!(d.typed_extension_protocol_options.is_empty());
}

/// Outlier detection fields, success-rate ejection off, minHealthPercent as the panic
/// threshold, locality failover (with outlier detection) → locality-weighted balancing.
#[test]
fn dr_outlier() {
    let r = case("dr-outlier");
    let c = &r.clusters["outbound|9080||outlier.example.com"];
    let o = c.outlier_detection.as_ref().unwrap();
    assert_eq!(o.consecutive_5xx.unwrap().value, 5);
    assert_eq!(o.enforcing_consecutive_5xx.unwrap().value, 100);
    assert_eq!(o.consecutive_gateway_failure.unwrap().value, 3);
    assert_eq!(o.enforcing_consecutive_gateway_failure.unwrap().value, 100);
    assert_eq!(o.interval, dur(10, 0));
    assert_eq!(o.base_ejection_time, dur(30, 0));
    assert_eq!(o.max_ejection_percent.unwrap().value, 50);
    assert_eq!(o.enforcing_success_rate.unwrap().value, 0);
    assert!(o.split_external_local_origin_errors);
    assert_eq!(o.consecutive_local_origin_failure.unwrap().value, 2);
    let lb = c.common_lb_config.as_ref().unwrap();
    assert_eq!(lb.healthy_panic_threshold.as_ref().unwrap().value, 25.0);
    assert!(lb.locality_config_specifier.is_some());
}

/// TLS modes per port: ISTIO_MUTUAL (SDS `default`/`ROOTCA` over ADS, Istio SNI, ALPN with h2
/// for gRPC), SIMPLE (SNI, SANs, file CA over SDS), MUTUAL (client cert over SDS), DISABLE.
#[test]
#[allow(deprecated)] // match_subject_alt_names: what Istio sends and gRPC reads
fn dr_tls() {
    let r = case("dr-tls");
    let istio = tls(&r.clusters["outbound|8000|v1|secure.example.com"]).unwrap();
    assert_eq!(istio.sni, "outbound_.8000_.v1_.secure.example.com");
    let common = istio.common_tls_context.unwrap();
    assert_eq!(common.tls_certificate_sds_secret_configs[0].name, "default");
    assert!(is_ads(common.tls_certificate_sds_secret_configs[0].sds_config.as_ref()));
    assert_eq!(common.alpn_protocols, ["istio-peer-exchange", "istio", "h2"]);
    match common.validation_context_type {
        Some(ValidationContextType::CombinedValidationContext(v)) => {
            let sds = v.validation_context_sds_secret_config.unwrap();
            assert_eq!(sds.name, "ROOTCA");
            assert!(is_ads(sds.sds_config.as_ref()));
        }
        other => panic!("{other:?}"),
    }
    let simple = tls(&r.clusters["outbound|8443||secure.example.com"]).unwrap();
    assert_eq!(simple.sni, "api.example.com");
    let common = simple.common_tls_context.unwrap();
    assert!(common.tls_certificate_sds_secret_configs.is_empty());
    match common.validation_context_type {
        Some(ValidationContextType::CombinedValidationContext(v)) => {
            assert_eq!(
                v.validation_context_sds_secret_config.unwrap().name,
                "file-root:/etc/certs/ca.pem"
            );
            let sans = v.default_validation_context.unwrap().match_subject_alt_names;
            assert_eq!(sans[0].match_pattern, Some(MatchPattern::Exact("api.example.com".into())));
        }
        other => panic!("{other:?}"),
    }
    let mutual = tls(&r.clusters["outbound|9443||secure.example.com"]).unwrap();
    assert_eq!(
        mutual.common_tls_context.unwrap().tls_certificate_sds_secret_configs[0].name,
        "file-cert:/etc/certs/cert.pem~/etc/certs/key.pem"
    );
    assert!(tls(&r.clusters["outbound|8080||secure.example.com"]).is_none());
    assert_eq!(
        r.clusters["outbound|8000||secure.example.com"].transport_socket.as_ref().unwrap().name,
        cluster::TLS_SOCKET
    );
}

/// Istio's merge: port-level settings replace all components, a subset's components replace
/// the top level's, the subset's port-level settings come last.
#[test]
fn dr_subset_override() {
    let r = case("dr-subset-override");
    let c = |n: &str| &r.clusters[&format!("outbound|{n}|over.example.com")];
    let top = c("9080|");
    assert_eq!(top.lb_policy, LbPolicy::LeastRequest as i32);
    assert_eq!(thresholds(top)[0], Some(10));
    assert_eq!(top.outlier_detection.as_ref().unwrap().consecutive_5xx.unwrap().value, 7);
    let pls = c("9081|");
    assert_eq!(pls.lb_policy, LbPolicy::RoundRobin as i32);
    assert_eq!(thresholds(pls), [MAX, MAX, Some(5), MAX]);
    assert!(pls.outlier_detection.is_none());
    let v1 = c("9080|v1");
    assert_eq!((v1.lb_policy, thresholds(v1)[0]), (LbPolicy::LeastRequest as i32, Some(10)));
    let v2 = c("9080|v2");
    assert_eq!(v2.lb_policy, LbPolicy::RoundRobin as i32, "subset port settings replace the LB");
    assert_eq!(thresholds(v2), [MAX; 4]);
    assert!(v2.outlier_detection.is_none());
    assert!(tls(v2).is_some());
    let v2_81 = c("9081|v2");
    assert_eq!(v2_81.lb_policy, LbPolicy::Random as i32);
    assert_eq!(thresholds(v2_81)[2], Some(5));
    assert!(tls(v2_81).is_none());
}

/// A service without a VirtualService: the route `default`, `/` to its cluster, no timeout,
/// the mesh-default retry policy; a gRPC port's cluster speaks HTTP/2.
#[test]
fn default_route() {
    let r = case("default-route");
    for port in [80, 9000] {
        let rs = routes(&r, &format!("plain.example.com:{port}"));
        assert_eq!(rs.len(), 1);
        assert_eq!(rs[0].name, "default");
        assert_eq!(
            rs[0].r#match.as_ref().unwrap().path_specifier,
            Some(PathSpecifier::Prefix("/".into()))
        );
        assert_eq!(cluster_of(&rs[0]), format!("outbound|{port}||plain.example.com"));
        let a = action(&rs[0]);
        assert_eq!(a.timeout, dur(0, 0));
        assert_eq!(a.retry_policy.as_ref().unwrap().retry_on, route::DEFAULT_RETRY_ON);
        assert!(a.hash_policy.is_empty());
    }
    assert!(r.clusters["outbound|80||plain.example.com"]
        .typed_extension_protocol_options
        .is_empty());
    assert!(matches!(
        protocol_options(&r.clusters["outbound|9000||plain.example.com"]).upstream_protocol_options,
        Some(UpstreamProtocolOptions::ExplicitHttpConfig(_))
    ));
}

/// WorkloadEntry health: an entry with health checks enabled and `Healthy: False` is sent
/// UNHEALTHY, the others HEALTHY; locality weights sum endpoint weights.
#[test]
fn eds_health() {
    let r = case("eds-health");
    let cla = &r.endpoints["outbound|8080||health.example.com"];
    let mut health = BTreeMap::new();
    for l in &cla.endpoints {
        for e in &l.lb_endpoints {
            let Some(
                envoy_types::pb::envoy::config::endpoint::v3::lb_endpoint::HostIdentifier::Endpoint(
                    ep,
                ),
            ) = &e.host_identifier
            else {
                panic!()
            };
            let Some(envoy_types::pb::envoy::config::core::v3::address::Address::SocketAddress(sa)) =
                &ep.address.as_ref().unwrap().address
            else {
                panic!()
            };
            health.insert(sa.address.clone(), e.health_status);
        }
    }
    assert_eq!(health["10.1.0.1"], HealthStatus::Healthy as i32);
    assert_eq!(health["10.1.0.2"], HealthStatus::Unhealthy as i32);
    assert_eq!(health["10.1.0.3"], HealthStatus::Healthy as i32);
    let weights: Vec<u32> =
        cla.endpoints.iter().map(|l| l.load_balancing_weight.unwrap().value).collect();
    assert_eq!(weights, [5, 2]);
}

// ---------------------------------------------------------------------------------------------
// Bookinfo
// ---------------------------------------------------------------------------------------------

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    files
}

/// Commits a ServiceEntry for every host the view's routing names that no ServiceEntry
/// defines: port 9080, endpoints labelled `version: v1/v2/v3` (and the bookinfo subsets' other
/// versions) in two localities.
fn synthesize(log: &mut Log) {
    let view = log.view();
    let mut hosts = BTreeSet::new();
    for (_, vs) in &view.virtual_services() {
        hosts.extend(vs.hosts.iter().cloned());
        for http in &vs.http {
            for d in http.route.iter().flatten().filter_map(|d| d.destination.as_ref()) {
                hosts.insert(d.host.clone());
            }
            hosts.extend(http.mirror.iter().map(|m| m.host.clone()));
        }
        for d in vs.tcp.iter().flat_map(|t| &t.route).chain(vs.tls.iter().flat_map(|t| &t.route)) {
            hosts.extend(d.destination.iter().map(|d| d.host.clone()));
        }
    }
    for (_, dr) in &view.destination_rules() {
        hosts.insert(dr.host.clone());
    }
    let defined: BTreeSet<String> = view.services().into_iter().map(|s| s.host).collect();
    for host in hosts {
        if host.contains('*') || defined.contains(&host) {
            continue;
        }
        let endpoints: Vec<Value> = ["v1", "v2", "v3", "v2-mysql", "v2-mysql-vm"]
            .iter()
            .enumerate()
            .map(|(i, v)| {
                serde_json::json!({
                    "address": format!("10.0.0.{}", i + 1),
                    "labels": {"app": host, "version": v},
                    "locality": if i % 2 == 0 { "us/east/a" } else { "us/west/b" },
                })
            })
            .collect();
        let name = format!("synth-{host}");
        let se = serde_json::json!({
            "apiVersion": "networking.istio.io/v1",
            "kind": "ServiceEntry",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {
                "hosts": [host],
                "ports": [{"number": 9080, "name": "http", "protocol": "HTTP"}],
                "resolution": "STATIC",
                "endpoints": endpoints,
            },
        });
        let key = ResourceKey::new("networking.istio.io", "serviceentries", "default", &name);
        log.put(key, &se, &format!("synthesized ServiceEntry {name}"));
    }
}

fn translate_checked(log: &mut Log, what: &str) -> Resources {
    synthesize(log);
    let r = translate_view(&log.view());
    let problems = structural_problems(&r);
    assert!(problems.is_empty(), "{what}: structural problems:\n{}", problems.join("\n"));
    assert!(!r.listeners.is_empty(), "{what}: nothing translated");
    r
}

/// gRPC clients get clusters they accept (Istio's grpc generator): random and least request
/// become round robin (without the slow-start config), ISTIO_MUTUAL's SDS secrets become the
/// bootstrap's certificate provider `default` (keeping the SANs), and what gRPC takes as it is
/// (round robin, ring hash, SIMPLE TLS) has no variant. Maglev stays, as Istio sends it.
#[test]
fn grpc_variants() {
    let lb = case("dr-lb");
    let v = |r: &Resources, n: &str| cluster::grpc_variant(&r.clusters[n]);
    let least = v(&lb, "outbound|80||lb.example.com").expect("least request changes");
    assert_eq!((least.lb_policy, least.lb_config.is_none()), (LbPolicy::RoundRobin as i32, true));
    let random = v(&lb, "outbound|81||lb.example.com").expect("random changes");
    assert_eq!(random.lb_policy, LbPolicy::RoundRobin as i32);
    assert!(v(&lb, "outbound|80|rr|lb.example.com").is_none());
    let hash = case("dr-consistent-hash");
    assert!(v(&hash, "outbound|80||hash.example.com").is_none(), "ring hash is gRPC's");
    assert!(v(&hash, "outbound|81||hash.example.com").is_none(), "maglev stays (gRPC NACKs it)");

    let t = case("dr-tls");
    let mutual = v(&t, "outbound|8000|v1|secure.example.com").expect("ISTIO_MUTUAL changes");
    let common = tls(&mutual).unwrap().common_tls_context.unwrap();
    assert!(common.tls_certificate_sds_secret_configs.is_empty());
    let cert = common.tls_certificate_provider_instance.unwrap();
    assert_eq!(
        (cert.instance_name.as_str(), cert.certificate_name.as_str()),
        ("default", "default")
    );
    match common.validation_context_type {
        Some(ValidationContextType::ValidationContext(vc)) => {
            let ca = vc.ca_certificate_provider_instance.unwrap();
            assert_eq!(
                (ca.instance_name.as_str(), ca.certificate_name.as_str()),
                ("default", "ROOTCA")
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(v(&t, "outbound|8443||secure.example.com").is_none(), "SIMPLE TLS is left as it is");
}

/// What a gRPC client would reject in `r`'s clusters, as it gets them.
fn grpc_cluster_problems(r: &Resources) -> Vec<String> {
    let mut p = Vec::new();
    for (name, c) in &r.clusters {
        let g = cluster::grpc_variant(c).unwrap_or_else(|| c.clone());
        if g.lb_policy != LbPolicy::RoundRobin as i32 && g.lb_policy != LbPolicy::RingHash as i32 {
            p.push(format!("cluster {name}: lb_policy {} for gRPC", g.lb_policy));
        }
        if let Some(ctx) = tls(&g) {
            if ctx
                .common_tls_context
                .is_some_and(|c| !c.tls_certificate_sds_secret_configs.is_empty())
            {
                p.push(format!("cluster {name}: SDS certificates for gRPC"));
            }
        }
    }
    p
}

/// Istio's bookinfo samples translate without panics into resources a gRPC xDS client
/// accepts: each file on its own, applied after the DestinationRules of
/// `destination-rule-all.yaml` (which define the subsets the routes name; the file's own
/// objects replace those of the same name), and all of them together: every object of every
/// file, each file's under names of its own (`f<index>-<name>`, in file order) so that none
/// replaces another's and the translation sees several VirtualServices and DestinationRules
/// for one host.
#[test]
fn bookinfo_corpus_translates() {
    let dir = Path::new(BOOKINFO);
    // The corpus is part of the shared checkout, as the config crate's conformance test needs.
    assert!(dir.is_dir(), "\n\n*** CONFORMANCE CORPUS MISSING at {} ***\n\n", dir.display());
    let read_file =
        |p: &Path| std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let base = read_file(&dir.join("destination-rule-all.yaml"));
    let mut all = Log::new();
    let mut translated = 0;
    for (i, file) in yaml_files(dir).into_iter().enumerate() {
        let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let text = read_file(&file);
        let mut one = Log::new();
        one.apply(&base, "destination-rule-all.yaml");
        one.apply(&text, &name);
        all.apply_renamed(&text, &name, &|n| format!("f{i:02}-{n}"));
        let r = translate_checked(&mut one, &name);
        translated += r.listeners.len();
    }
    let r = translate_checked(&mut all, "all bookinfo files");
    // `destination-rule-reviews.yaml` asks for RANDOM: gRPC clients get round robin.
    assert_eq!(grpc_cluster_problems(&r), Vec::<String>::new());
    // The reviews VirtualService applies, with the subsets of the reviews DestinationRule.
    assert!(r.clusters.contains_key("outbound|9080|v3|reviews"));
    assert!(r.routes.contains_key("reviews:9080"));
    // The gateway-bound VirtualService (hosts `*`) does not apply to the mesh.
    assert!(!r.routes.keys().any(|k| k.starts_with('*')));
    eprintln!("bookinfo: {translated} listeners over the files, {} together", r.listeners.len());
}
