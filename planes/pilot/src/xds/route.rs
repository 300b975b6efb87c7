//! RDS: a VirtualService's HTTP routes as Envoy routes, the way Istio's Pilot translates them
//! (`pilot/pkg/networking/core/route`): matches, weighted destinations, timeouts, retries,
//! fault injection, rewrites, redirects, direct responses, mirroring, header manipulation,
//! CORS, and the consistent-hash policy of the destination clusters; plus the default route of
//! a service without a VirtualService.
//!
//! Proxyless gRPC reads the route timeout from `max_stream_duration`, Envoy from `timeout`:
//! both are set. The CORS policy is wrapped in a `FilterConfig` marked optional, because gRPC
//! refuses a per-route config for a filter it does not know unless it is optional.

use envoy_types::pb::envoy::config::core::v3::data_source::Specifier as DataSpecifier;
use envoy_types::pb::envoy::config::core::v3::header_value_option::HeaderAppendAction;
use envoy_types::pb::envoy::config::core::v3::{
    DataSource, HeaderValue, HeaderValueOption, RuntimeFractionalPercent,
};
use envoy_types::pb::envoy::config::route::v3::header_matcher::HeaderMatchSpecifier;
use envoy_types::pb::envoy::config::route::v3::query_parameter_matcher::QueryParameterMatchSpecifier;
use envoy_types::pb::envoy::config::route::v3::redirect_action::{
    PathRewriteSpecifier, RedirectResponseCode, SchemeRewriteSpecifier,
};
use envoy_types::pb::envoy::config::route::v3::retry_policy::{
    retry_host_predicate, retry_priority, RetryBackOff, RetryHostPredicate, RetryPriority,
};
use envoy_types::pb::envoy::config::route::v3::route::Action;
use envoy_types::pb::envoy::config::route::v3::route_action::{
    hash_policy, ClusterSpecifier, HashPolicy, HostRewriteSpecifier, MaxStreamDuration,
    RequestMirrorPolicy,
};
use envoy_types::pb::envoy::config::route::v3::route_match::PathSpecifier;
use envoy_types::pb::envoy::config::route::v3::weighted_cluster::{cluster_weight, ClusterWeight};
use envoy_types::pb::envoy::config::route::v3::{
    DirectResponseAction, FilterConfig, HeaderMatcher, QueryParameterMatcher, RedirectAction,
    RetryPolicy, Route, RouteAction, RouteMatch, WeightedCluster,
};
use envoy_types::pb::envoy::extensions::filters::common::fault::v3::fault_delay::FaultDelaySecifier;
use envoy_types::pb::envoy::extensions::filters::common::fault::v3::FaultDelay;
use envoy_types::pb::envoy::extensions::filters::http::cors::v3::CorsPolicy as EnvoyCors;
use envoy_types::pb::envoy::extensions::filters::http::fault::v3::fault_abort::ErrorType;
use envoy_types::pb::envoy::extensions::filters::http::fault::v3::{FaultAbort, HttpFault};
use envoy_types::pb::envoy::extensions::retry::host::previous_hosts::v3::PreviousHostsPredicate;
use envoy_types::pb::envoy::extensions::retry::priority::previous_priorities::v3::PreviousPrioritiesConfig;
use envoy_types::pb::envoy::r#type::matcher::v3::string_matcher::MatchPattern;
use envoy_types::pb::envoy::r#type::matcher::v3::{
    RegexMatchAndSubstitute, RegexMatcher, StringMatcher,
};
use envoy_types::pb::envoy::r#type::v3::fractional_percent::DenominatorType;
use envoy_types::pb::envoy::r#type::v3::FractionalPercent;
use envoy_types::pb::google::protobuf::{BoolValue, UInt32Value};
use istio_planes_config::GRPC_CODES;

use super::policy::Scope;
use super::{cluster_name, duration, pack};
use crate::registry::{Service, ServicePort};
use istio_planes_config::common::{Duration, StringMap, StringMatch};
use istio_planes_config::networking::{
    ConsistentHashLb, CorsPolicy, Destination, HttpFaultInjection, HttpMatchRequest, HttpRedirect,
    HttpRetry, HttpRoute, Percent, RedirectPortSelection, UnmatchedPreflights, VirtualService,
};

/// Name of Envoy's fault filter (the key of its per-route config).
pub const FAULT_FILTER: &str = "envoy.filters.http.fault";
/// Name of Envoy's CORS filter (the key of its per-route config).
pub const CORS_FILTER: &str = "envoy.filters.http.cors";
/// Type URL of the fault filter's config, also its per-route config.
pub const HTTP_FAULT: &str = "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault";
/// Type URL of the CORS filter's per-route config.
pub const CORS_POLICY: &str =
    "type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy";
/// Type URL of the wrapper that marks a per-route filter config optional.
pub const FILTER_CONFIG: &str = "type.googleapis.com/envoy.config.route.v3.FilterConfig";
/// Type URL of the previous-hosts retry predicate.
pub const PREVIOUS_HOSTS: &str =
    "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate";
/// Type URL of the previous-priorities retry priority.
pub const PREVIOUS_PRIORITIES: &str = "type.googleapis.com/envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig";
/// Istio's mesh-default `retryOn`.
pub const DEFAULT_RETRY_ON: &str =
    "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes";

/// Istio's default route of a service without a VirtualService: `/` to the service's cluster,
/// no timeout, the mesh-default retry policy, the cluster's consistent-hash policy if any.
pub fn default_route(scope: &Scope<'_>, s: &Service, p: &ServicePort) -> Route {
    let hash = scope.policy(&s.host, "", p.number).consistent_hash().and_then(hash_policy);
    let mut action = RouteAction {
        cluster_specifier: Some(ClusterSpecifier::Cluster(cluster_name(&s.host, p.number, ""))),
        retry_policy: Some(default_retry(hash.is_some())),
        hash_policy: hash.into_iter().collect(),
        ..Default::default()
    };
    set_timeout(&mut action, None);
    Route {
        name: "default".into(),
        r#match: Some(route_match(None)),
        action: Some(Action::Route(action)),
        ..Default::default()
    }
}

/// A VirtualService's HTTP routes for listener `port`, in order: one Envoy route per match of
/// each `http` route (an `http` route without matches matches everything). Matches for another
/// port, for gateways only, or for particular sources (this translation is not per proxy) are
/// left out; nothing follows a catch-all route.
pub fn vs_routes(scope: &Scope<'_>, ns: &str, vs: &VirtualService, port: u32) -> Vec<Route> {
    let mut out = Vec::new();
    for http in &vs.http {
        let mut catch_all = http.r#match.is_empty();
        let matches: Vec<Option<&HttpMatchRequest>> = if http.r#match.is_empty() {
            vec![None]
        } else {
            http.r#match.iter().map(Some).collect()
        };
        for m in matches {
            if m.is_some_and(|m| !applies(m, port)) {
                continue;
            }
            let Some(r) = translate_route(scope, ns, http, m, port) else { continue };
            let last = is_catch_all(&r);
            out.push(r);
            if last {
                catch_all = true;
                break;
            }
        }
        if catch_all {
            break;
        }
    }
    out
}

/// Whether a match condition can apply on listener `port` of a mesh client we know nothing
/// about.
fn applies(m: &HttpMatchRequest, port: u32) -> bool {
    (m.port == 0 || m.port == port)
        && (m.gateways.is_empty() || m.gateways.iter().any(|g| g == "mesh"))
        && m.source_labels.is_empty()
        && m.source_namespace.is_empty()
}

/// Istio's `IsCatchAllRoute`: `/` prefix or `.*` regex, no header or query conditions.
fn is_catch_all(r: &Route) -> bool {
    let Some(m) = &r.r#match else { return false };
    let any_path = match &m.path_specifier {
        Some(PathSpecifier::Prefix(p)) => p == "/",
        Some(PathSpecifier::SafeRegex(re)) => re.regex == ".*",
        _ => false,
    };
    any_path && m.headers.is_empty() && m.query_parameters.is_empty()
}

fn translate_route(
    scope: &Scope<'_>,
    ns: &str,
    http: &HttpRoute,
    m: Option<&HttpMatchRequest>,
    port: u32,
) -> Option<Route> {
    let mut name = http.name.clone();
    if let Some(m) = m.filter(|m| !m.name.is_empty()) {
        name = format!("{name}.{}", m.name);
    }
    let mut out = Route {
        name,
        r#match: Some(route_match(m)),
        stat_prefix: m.map(|m| m.stat_prefix.clone()).unwrap_or_default(),
        ..Default::default()
    };
    let mut authority = String::new();
    if let Some(h) = &http.headers {
        let ops = HeaderOps::of(h);
        out.request_headers_to_add = ops.request_add;
        out.request_headers_to_remove = ops.request_remove;
        out.response_headers_to_add = ops.response_add;
        out.response_headers_to_remove = ops.response_remove;
        authority = ops.authority;
    }
    out.action = Some(if let Some(r) = &http.redirect {
        Action::Redirect(redirect(r, port)?)
    } else if let Some(d) = &http.direct_response {
        Action::DirectResponse(DirectResponseAction {
            status: d.status,
            body: d.body.as_ref().and_then(|b| match (&b.string, &b.bytes) {
                (Some(s), _) => Some(DataSource {
                    specifier: Some(DataSpecifier::InlineString(s.clone())),
                    ..Default::default()
                }),
                (None, Some(b)) => match base64_decode(b) {
                    Some(bytes) => Some(DataSource {
                        specifier: Some(DataSpecifier::InlineBytes(bytes)),
                        ..Default::default()
                    }),
                    None => {
                        tracing::warn!(
                            "xds: direct response body is not base64; sent without body"
                        );
                        None
                    }
                },
                (None, None) => None,
            }),
        })
    } else if http.delegate.is_some() {
        tracing::warn!("xds: delegate VirtualServices are not supported; route skipped");
        return None;
    } else {
        Action::Route(route_action(scope, ns, http, &mut out, authority, port)?)
    });
    if let Some(f) = http.fault.as_ref().and_then(fault) {
        out.typed_per_filter_config.insert(FAULT_FILTER.into(), pack(HTTP_FAULT, &f));
    }
    if let Some(c) = &http.cors_policy {
        let wrapped = FilterConfig {
            config: Some(pack(CORS_POLICY, &cors(c))),
            is_optional: true,
            disabled: false,
        };
        out.typed_per_filter_config.insert(CORS_FILTER.into(), pack(FILTER_CONFIG, &wrapped));
    }
    Some(out)
}

/// Istio's `setTimeout`: the VirtualService's timeout, else none (zero); also as the
/// `max_stream_duration` proxyless gRPC reads.
fn set_timeout(action: &mut RouteAction, timeout: Option<Duration>) {
    let t = duration(timeout.unwrap_or(Duration { nanos: 0 }));
    action.max_stream_duration =
        Some(MaxStreamDuration { max_stream_duration: Some(t), ..Default::default() });
    action.timeout = Some(t);
}

/// Every destination host (as written) that [`vs_routes`] of `vs` reads the services and
/// DestinationRules of: route destinations, `mirror` and `mirrors`. The incremental translation
/// retranslates a VirtualService's hosts when one of these changes, so a new read of another
/// service in this module must be listed here.
pub fn destination_hosts(vs: &VirtualService) -> impl Iterator<Item = &str> {
    vs.http.iter().flat_map(|http| {
        let routes = http.route.iter().flatten().filter_map(|d| d.destination.as_ref());
        let mirrors = http.mirrors.iter().filter_map(|m| m.destination.as_ref());
        routes.chain(http.mirror.as_ref()).chain(mirrors).map(|d| d.host.as_str())
    })
}

/// A destination's cluster: its resolved host, its port (else the service's only port, else
/// the listener's), its subset.
fn destination_cluster(
    scope: &Scope<'_>,
    ns: &str,
    d: &Destination,
    port: u32,
) -> (String, String, u32) {
    let host = scope.resolve(&d.host, ns);
    let port = match d.port.as_ref().map(|p| p.number).filter(|n| *n != 0) {
        Some(n) => n,
        None => match scope.service(&host).map(|s| s.ports.as_slice()) {
            Some([only]) => only.number,
            _ => port,
        },
    };
    (cluster_name(&host, port, &d.subset), host, port)
}

fn route_action(
    scope: &Scope<'_>,
    ns: &str,
    http: &HttpRoute,
    out: &mut Route,
    mut authority: String,
    port: u32,
) -> Option<RouteAction> {
    let dests: Vec<_> = http
        .route
        .iter()
        .flatten()
        .filter_map(|d| d.destination.as_ref().map(|dest| (d, dest)))
        .collect();
    if dests.is_empty() {
        tracing::warn!("xds: HTTP route without destinations skipped");
        return None;
    }
    let mut a = RouteAction::default();
    set_timeout(&mut a, http.timeout);
    if let Some(rw) = &http.rewrite {
        if let Some(re) = &rw.uri_regex_rewrite {
            a.regex_rewrite = Some(RegexMatchAndSubstitute {
                pattern: Some(RegexMatcher { regex: re.r#match.clone(), ..Default::default() }),
                substitution: re.rewrite.clone(),
            });
        } else if !rw.uri.is_empty() {
            a.prefix_rewrite = rw.uri.clone();
        }
        if !rw.authority.is_empty() {
            authority = rw.authority.clone();
        }
    }
    if !authority.is_empty() {
        a.host_rewrite_specifier = Some(HostRewriteSpecifier::HostRewriteLiteral(authority));
    }
    if let Some(m) = &http.mirror {
        if let Some(f) = mirror_fraction(http) {
            a.request_mirror_policies.push(mirror(destination_cluster(scope, ns, m, port).0, f));
        }
    }
    for m in &http.mirrors {
        let Some(dest) = &m.destination else { continue };
        if let Some(f) = percent_or_all(m.percentage.as_ref()) {
            a.request_mirror_policies.push(mirror(destination_cluster(scope, ns, dest, port).0, f));
        }
    }
    let mut consistent = false;
    if let [(d, dest)] = dests.as_slice() {
        let (cluster, host, p) = destination_cluster(scope, ns, dest, port);
        a.cluster_specifier = Some(ClusterSpecifier::Cluster(cluster));
        if let Some(h) = &d.headers {
            let ops = HeaderOps::of(h);
            out.request_headers_to_add.extend(ops.request_add);
            out.request_headers_to_remove.extend(ops.request_remove);
            out.response_headers_to_add.extend(ops.response_add);
            out.response_headers_to_remove.extend(ops.response_remove);
            if !ops.authority.is_empty() && a.host_rewrite_specifier.is_none() {
                a.host_rewrite_specifier =
                    Some(HostRewriteSpecifier::HostRewriteLiteral(ops.authority));
            }
        }
        if let Some(h) =
            scope.policy(&host, &dest.subset, p).consistent_hash().and_then(hash_policy)
        {
            a.hash_policy.push(h);
            consistent = true;
        }
    } else {
        let total: i64 = dests.iter().map(|(d, _)| i64::from(d.weight.max(0))).sum();
        let mut clusters = Vec::new();
        for (d, dest) in &dests {
            let (cluster, host, p) = destination_cluster(scope, ns, dest, port);
            // All weights zero (validation refuses it): split evenly rather than send nothing.
            let weight = if total == 0 { 1 } else { d.weight.max(0).unsigned_abs() };
            let mut cw = ClusterWeight {
                name: cluster,
                weight: Some(UInt32Value { value: weight }),
                ..Default::default()
            };
            if let Some(h) = &d.headers {
                let ops = HeaderOps::of(h);
                cw.request_headers_to_add = ops.request_add;
                cw.request_headers_to_remove = ops.request_remove;
                cw.response_headers_to_add = ops.response_add;
                cw.response_headers_to_remove = ops.response_remove;
                if !ops.authority.is_empty() {
                    cw.host_rewrite_specifier = Some(
                        cluster_weight::HostRewriteSpecifier::HostRewriteLiteral(ops.authority),
                    );
                }
            }
            clusters.push(cw);
            let hash = scope.policy(&host, &dest.subset, p).consistent_hash().and_then(hash_policy);
            if let Some(h) = hash.filter(|h| !a.hash_policy.contains(h)) {
                a.hash_policy.push(h);
            }
        }
        a.cluster_specifier = Some(ClusterSpecifier::WeightedClusters(WeightedCluster {
            clusters,
            ..Default::default()
        }));
    }
    a.retry_policy = match &http.retries {
        Some(r) => retry_policy(r, consistent),
        None => Some(default_retry(consistent)),
    };
    Some(a)
}

/// Istio's `TranslateRouteMatch`.
fn route_match(m: Option<&HttpMatchRequest>) -> RouteMatch {
    let mut out = RouteMatch {
        path_specifier: Some(PathSpecifier::Prefix("/".into())),
        ..Default::default()
    };
    let Some(m) = m else { return out };
    for (name, sm) in &m.headers {
        out.headers.push(header_matcher(name, sm.as_ref()));
    }
    for (name, sm) in &m.without_headers {
        let mut h = header_matcher(name, sm.as_ref());
        h.invert_match = true;
        // treat_missing_header_as_empty conflicts with present_match.
        h.treat_missing_header_as_empty = !present(sm.as_ref());
        out.headers.push(h);
    }
    out.headers.sort_by(|a, b| a.name.cmp(&b.name));
    match &m.uri {
        Some(StringMatch { exact: Some(e), .. }) => {
            out.path_specifier = Some(PathSpecifier::Path(e.clone()));
        }
        Some(StringMatch { prefix: Some(p), .. }) => {
            out.path_specifier = Some(PathSpecifier::Prefix(p.clone()));
        }
        Some(StringMatch { regex: Some(r), .. }) => {
            out.path_specifier = Some(PathSpecifier::SafeRegex(regex(r)));
        }
        _ => {}
    }
    out.case_sensitive = Some(BoolValue { value: !m.ignore_uri_case });
    for (name, sm) in [(":method", &m.method), (":authority", &m.authority), (":scheme", &m.scheme)]
    {
        if let Some(sm) = sm {
            out.headers.push(header_matcher(name, Some(sm)));
        }
    }
    for (name, sm) in &m.query_params {
        out.query_parameters.push(QueryParameterMatcher {
            name: name.clone(),
            query_parameter_match_specifier: Some(match string_matcher(sm.as_ref()) {
                Some(s) => QueryParameterMatchSpecifier::StringMatch(s),
                None => QueryParameterMatchSpecifier::PresentMatch(true),
            }),
        });
    }
    out
}

fn regex(r: &str) -> RegexMatcher {
    RegexMatcher { regex: r.to_owned(), ..Default::default() }
}

/// Istio's `canBeConvertedToPresentMatch`: no match value, or the regex `*`.
fn present(sm: Option<&StringMatch>) -> bool {
    match sm {
        None | Some(StringMatch { exact: None, prefix: None, regex: None }) => true,
        Some(StringMatch { exact: None, prefix: None, regex: Some(r) }) => r == "*",
        Some(_) => false,
    }
}

/// An Envoy string matcher, or `None` where Istio matches on presence.
fn string_matcher(sm: Option<&StringMatch>) -> Option<StringMatcher> {
    if present(sm) {
        return None;
    }
    let sm = sm?;
    let pattern = match (&sm.exact, &sm.prefix, &sm.regex) {
        (Some(e), _, _) => MatchPattern::Exact(e.clone()),
        (None, Some(p), _) => MatchPattern::Prefix(p.clone()),
        (None, None, Some(r)) => MatchPattern::SafeRegex(regex(r)),
        (None, None, None) => return None,
    };
    Some(StringMatcher { match_pattern: Some(pattern), ignore_case: false })
}

fn header_matcher(name: &str, sm: Option<&StringMatch>) -> HeaderMatcher {
    HeaderMatcher {
        name: name.to_owned(),
        header_match_specifier: Some(match string_matcher(sm) {
            Some(s) => HeaderMatchSpecifier::StringMatch(s),
            None => HeaderMatchSpecifier::PresentMatch(true),
        }),
        ..Default::default()
    }
}

/// Istio's `TranslateHeadersOperations`.
#[derive(Default)]
struct HeaderOps {
    request_add: Vec<HeaderValueOption>,
    request_remove: Vec<String>,
    response_add: Vec<HeaderValueOption>,
    response_remove: Vec<String>,
    /// `:authority`/`host` set (or added), which Envoy takes as a host rewrite.
    authority: String,
}

impl HeaderOps {
    fn of(h: &istio_planes_config::networking::Headers) -> Self {
        let mut out = HeaderOps::default();
        if let Some(req) = &h.request {
            let set_auth = append_headers(&req.set, false, &mut out.request_add);
            let add_auth = append_headers(&req.add, true, &mut out.request_add);
            out.authority = set_auth.or(add_auth).unwrap_or_default();
            out.request_remove = req.remove.iter().filter(|k| !internal(k)).cloned().collect();
        }
        if let Some(resp) = &h.response {
            append_headers(&resp.set, false, &mut out.response_add);
            append_headers(&resp.add, true, &mut out.response_add);
            out.response_remove = resp.remove.iter().filter(|k| !internal(k)).cloned().collect();
        }
        out
    }
}

/// A pseudo-header or `host`, which Envoy does not let a route modify.
fn internal(key: &str) -> bool {
    key.starts_with(':') || key.eq_ignore_ascii_case("host")
}

/// Appends `headers` (sorted by key) as set (`append` false) or add operations; returns the
/// authority they set, if any.
fn append_headers(
    headers: &StringMap,
    append: bool,
    out: &mut Vec<HeaderValueOption>,
) -> Option<String> {
    let mut authority = None;
    for (k, v) in headers {
        if k.eq_ignore_ascii_case(":authority") || k.eq_ignore_ascii_case("host") {
            authority = Some(v.clone());
        }
        if internal(k) {
            continue;
        }
        out.push(HeaderValueOption {
            header: Some(HeaderValue { key: k.clone(), value: v.clone(), ..Default::default() }),
            append_action: if append {
                HeaderAppendAction::AppendIfExistsOrAdd
            } else {
                HeaderAppendAction::OverwriteIfExistsOrAdd
            } as i32,
            ..Default::default()
        });
    }
    authority
}

/// Istio's `ApplyRedirect` (mesh semantics); `None` for a redirect code Envoy cannot send.
fn redirect(r: &HttpRedirect, port: u32) -> Option<RedirectAction> {
    let code = match r.redirect_code {
        0 | 301 => RedirectResponseCode::MovedPermanently,
        302 => RedirectResponseCode::Found,
        303 => RedirectResponseCode::SeeOther,
        307 => RedirectResponseCode::TemporaryRedirect,
        308 => RedirectResponseCode::PermanentRedirect,
        other => {
            tracing::warn!(code = other, "xds: unsupported redirect code; route skipped");
            return None;
        }
    };
    let mut out = RedirectAction {
        host_redirect: r.authority.clone(),
        response_code: code as i32,
        ..Default::default()
    };
    if !r.uri.is_empty() {
        out.path_rewrite_specifier = Some(PathRewriteSpecifier::PathRedirect(r.uri.clone()));
    }
    if !r.scheme.is_empty() {
        out.scheme_rewrite_specifier =
            Some(SchemeRewriteSpecifier::SchemeRedirect(r.scheme.clone()));
    }
    let redirect_port = match (r.port, r.derive_port) {
        (Some(p), _) => Some(p),
        (None, Some(RedirectPortSelection::FROM_REQUEST_PORT)) => Some(port),
        (None, Some(RedirectPortSelection::FROM_PROTOCOL_DEFAULT)) => Some(0),
        (None, None) => None,
    };
    if let Some(p) = redirect_port {
        let scheme = if r.scheme.is_empty() { "http" } else { r.scheme.as_str() };
        // No explicit :80 for http or :443 for https.
        out.port_redirect = match (p, scheme) {
            (80, "http") | (443, "https") => 0,
            _ => p,
        };
    }
    Some(out)
}

/// `value` percent (0–100, clamped) in millionths.
fn fraction(p: &Percent) -> FractionalPercent {
    let v = if p.value.is_nan() { 0.0 } else { p.value.clamp(0.0, 100.0) };
    FractionalPercent {
        // In 0..=1e6 after the clamp: the cast cannot truncate.
        numerator: (v * 10_000.0) as u32,
        denominator: DenominatorType::Million as i32,
    }
}

fn hundredths(n: u32) -> FractionalPercent {
    FractionalPercent { numerator: n.min(100), denominator: DenominatorType::Hundred as i32 }
}

/// Istio's `MirrorPercent`: `mirrorPercentage`, else the deprecated `mirrorPercent`, else all;
/// an explicit zero means no mirroring.
fn mirror_fraction(http: &HttpRoute) -> Option<FractionalPercent> {
    match (&http.mirror_percentage, http.mirror_percent) {
        (Some(p), _) => (p.value > 0.0).then(|| fraction(p)),
        (None, Some(n)) => (n > 0).then(|| hundredths(n)),
        (None, None) => Some(hundredths(100)),
    }
}

/// Istio's `MirrorPercentByPolicy`.
fn percent_or_all(p: Option<&Percent>) -> Option<FractionalPercent> {
    match p {
        Some(p) => (p.value > 0.0).then(|| fraction(p)),
        None => Some(hundredths(100)),
    }
}

fn mirror(cluster: String, f: FractionalPercent) -> RequestMirrorPolicy {
    RequestMirrorPolicy {
        cluster,
        runtime_fraction: Some(RuntimeFractionalPercent {
            default_value: Some(f),
            runtime_key: String::new(),
        }),
        trace_sampled: Some(BoolValue { value: false }),
        ..Default::default()
    }
}

fn grpc_code(s: &str) -> Option<u32> {
    GRPC_CODES
        .iter()
        .position(|c| *c == s)
        .and_then(|i| u32::try_from(i).ok())
        .or_else(|| s.parse::<u32>().ok().filter(|n| *n < 17))
}

/// Istio's `TranslateFault`; `None` when nothing injectable remains.
fn fault(f: &HttpFaultInjection) -> Option<HttpFault> {
    let delay = f.delay.as_ref().and_then(|d| {
        let Some(fixed) = d.fixed_delay else {
            tracing::warn!("xds: only fixed fault delays are supported; delay dropped");
            return None;
        };
        Some(FaultDelay {
            percentage: Some(match &d.percentage {
                Some(p) => fraction(p),
                None => hundredths(d.percent.unwrap_or(0).max(0).unsigned_abs()),
            }),
            fault_delay_secifier: Some(FaultDelaySecifier::FixedDelay(duration(fixed))),
        })
    });
    let abort = f.abort.as_ref().and_then(|a| {
        let error = match (a.http_status, &a.grpc_status) {
            (Some(s), _) => ErrorType::HttpStatus(u32::try_from(s).ok()?),
            (None, Some(g)) => match grpc_code(g) {
                Some(c) => ErrorType::GrpcStatus(c),
                None => {
                    tracing::warn!(status = %g, "xds: unknown gRPC status; abort dropped");
                    return None;
                }
            },
            (None, None) => {
                tracing::warn!("xds: only HTTP and gRPC aborts are supported; abort dropped");
                return None;
            }
        };
        Some(FaultAbort {
            percentage: a.percentage.as_ref().map(fraction),
            error_type: Some(error),
        })
    });
    if delay.is_none() && abort.is_none() {
        return None;
    }
    Some(HttpFault { delay, abort, ..Default::default() })
}

/// Istio's `TranslateCORSPolicy`.
fn cors(c: &CorsPolicy) -> EnvoyCors {
    let origins: Vec<StringMatcher> = if c.allow_origins.is_empty() {
        c.allow_origin
            .iter()
            .map(|o| StringMatcher {
                match_pattern: Some(MatchPattern::Exact(o.clone())),
                ignore_case: false,
            })
            .collect()
    } else {
        c.allow_origins.iter().filter_map(|o| string_matcher(Some(o))).collect()
    };
    EnvoyCors {
        allow_origin_string_match: origins,
        allow_methods: c.allow_methods.join(","),
        allow_headers: c.allow_headers.join(","),
        expose_headers: c.expose_headers.join(","),
        max_age: c
            .max_age
            .map(|d| (d.nanos.max(0) / 1_000_000_000).to_string())
            .unwrap_or_default(),
        allow_credentials: c.allow_credentials.map(|value| BoolValue { value }),
        filter_enabled: Some(RuntimeFractionalPercent {
            default_value: Some(hundredths(100)),
            runtime_key: String::new(),
        }),
        forward_not_matching_preflights: Some(BoolValue {
            value: c.unmatched_preflights != Some(UnmatchedPreflights::IGNORE),
        }),
        ..Default::default()
    }
}

/// Istio's `consistentHashToHashPolicy`.
pub fn hash_policy(h: &ConsistentHashLb) -> Option<HashPolicy> {
    use hash_policy::PolicySpecifier;
    let spec = if let Some(name) = &h.http_header_name {
        PolicySpecifier::Header(hash_policy::Header {
            header_name: name.clone(),
            regex_rewrite: None,
        })
    } else if let Some(c) = &h.http_cookie {
        PolicySpecifier::Cookie(hash_policy::Cookie {
            name: c.name.clone(),
            ttl: c.ttl.map(duration),
            path: c.path.clone(),
            attributes: c
                .attributes
                .iter()
                .map(|a| hash_policy::CookieAttribute {
                    name: a.name.clone(),
                    value: a.value.clone(),
                })
                .collect(),
        })
    } else if h.use_source_ip == Some(true) {
        PolicySpecifier::ConnectionProperties(hash_policy::ConnectionProperties { source_ip: true })
    } else if let Some(q) = &h.http_query_parameter_name {
        PolicySpecifier::QueryParameter(hash_policy::QueryParameter { name: q.clone() })
    } else {
        return None;
    };
    Some(HashPolicy { policy_specifier: Some(spec), terminal: false })
}

fn previous_hosts() -> RetryHostPredicate {
    RetryHostPredicate {
        name: "envoy.retry_host_predicates.previous_hosts".into(),
        config_type: Some(retry_host_predicate::ConfigType::TypedConfig(pack(
            PREVIOUS_HOSTS,
            &PreviousHostsPredicate {},
        ))),
    }
}

/// Istio's mesh-default retry policy (`DefaultPolicy`); under consistent hashing retries stay
/// on the same host (no previous-hosts predicate).
pub fn default_retry(consistent_hash: bool) -> RetryPolicy {
    RetryPolicy {
        retry_on: DEFAULT_RETRY_ON.into(),
        num_retries: Some(UInt32Value { value: 2 }),
        retriable_status_codes: vec![503],
        host_selection_retry_max_attempts: 5,
        retry_host_predicate: if consistent_hash { vec![] } else { vec![previous_hosts()] },
        ..Default::default()
    }
}

/// Istio's `retry.ConvertPolicy`: `attempts` 0 disables retries; otherwise the default policy
/// with the VirtualService's values (HTTP status codes in `retryOn` become
/// `retriable_status_codes`).
fn retry_policy(r: &HttpRetry, consistent_hash: bool) -> Option<RetryPolicy> {
    if r.attempts <= 0 {
        return None;
    }
    let mut out = default_retry(consistent_hash);
    out.num_retries = Some(UInt32Value { value: r.attempts.unsigned_abs() });
    if !r.retry_on.is_empty() {
        let mut on = Vec::new();
        let mut codes = Vec::new();
        for part in r.retry_on.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part.parse::<u32>() {
                Ok(c) if (100..=599).contains(&c) => codes.push(c),
                _ => on.push(part),
            }
        }
        out.retry_on = on.join(",");
        if !codes.is_empty() && !out.retry_on.contains("retriable-status-codes") {
            if !out.retry_on.is_empty() {
                out.retry_on.push(',');
            }
            out.retry_on.push_str("retriable-status-codes");
        }
        out.retriable_status_codes = codes;
    }
    out.per_try_timeout = r.per_try_timeout.map(duration);
    if let Some(ignore) = r.retry_ignore_previous_hosts {
        out.retry_host_predicate = if ignore { vec![previous_hosts()] } else { vec![] };
    }
    if r.retry_remote_localities == Some(true) {
        out.retry_priority = Some(RetryPriority {
            name: "envoy.retry_priorities.previous_priorities".into(),
            config_type: Some(retry_priority::ConfigType::TypedConfig(pack(
                PREVIOUS_PRIORITIES,
                &PreviousPrioritiesConfig { update_frequency: 2 },
            ))),
        });
    }
    if let Some(b) = r.backoff {
        out.retry_back_off =
            Some(RetryBackOff { base_interval: Some(duration(b)), max_interval: None });
    }
    Some(out)
}

/// Standard base64 (padding optional, whitespace ignored), as proto JSON writes `bytes`.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes().filter(|c| !c.is_ascii_whitespace()) {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            _ => return None,
        };
        acc = ((acc << 6) | u32::from(v)) & 0xffff;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_standard_and_url_alphabets() {
        assert_eq!(base64_decode("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(base64_decode("aGVsbG8").unwrap(), b"hello");
        assert_eq!(base64_decode("+/8=").unwrap(), [0xfb, 0xff]);
        assert!(base64_decode("a b*").is_none());
    }

    #[test]
    fn retry_on_splits_status_codes() {
        let r: HttpRetry = serde_json::from_value(
            serde_json::json!({"attempts": 3, "retryOn": "5xx, 503,gateway-error"}),
        )
        .unwrap();
        let p = retry_policy(&r, false).unwrap();
        assert_eq!(p.retry_on, "5xx,gateway-error,retriable-status-codes");
        assert_eq!(p.retriable_status_codes, [503]);
        let zero: HttpRetry = serde_json::from_value(serde_json::json!({"attempts": 0})).unwrap();
        assert!(retry_policy(&zero, false).is_none());
    }
}
