//! The HTTP routes of a `VirtualService` (`HTTPRoute` and everything in it: matches,
//! destinations, redirects, direct responses, rewrites, retries, fault injection, mirroring,
//! CORS, header operations) with their rules. HTTP routing is most of the VirtualService API,
//! so it has its own file; its rules run from the service's `validate`.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{gateway_names, is_jwt_claim_route, weights, VsRole};
use crate::common::{istio_enum, Duration, StringMap, StringMatch};
use crate::networking::destination::{self, Destination};
use crate::rules::{
    is_dns1123_label, labels, percent_0_100, string_match, validate_header_name,
    validate_header_value, validate_port, validate_regex, Errs,
};

/// `HTTPRoute`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRoute {
    /// Route name (for logs).
    #[serde(default)]
    pub name: String,
    /// Match conditions (OR-ed).
    #[serde(default)]
    pub r#match: Vec<HttpMatchRequest>,
    /// Weighted destinations.
    pub route: Option<Vec<HttpRouteDestination>>,
    /// Redirect instead of routing.
    pub redirect: Option<HttpRedirect>,
    /// Fixed response instead of routing.
    pub direct_response: Option<HttpDirectResponse>,
    /// Delegate to another virtual service.
    pub delegate: Option<Delegate>,
    /// URI/authority rewrite.
    pub rewrite: Option<HttpRewrite>,
    /// Request timeout.
    pub timeout: Option<Duration>,
    /// Retry policy.
    pub retries: Option<HttpRetry>,
    /// Fault injection.
    pub fault: Option<HttpFaultInjection>,
    /// Mirror destination.
    pub mirror: Option<Destination>,
    /// Mirror destinations.
    #[serde(default)]
    pub mirrors: Vec<HttpMirrorPolicy>,
    /// Deprecated: percentage to mirror.
    pub mirror_percent: Option<u32>,
    /// Percentage to mirror.
    pub mirror_percentage: Option<Percent>,
    /// CORS policy.
    pub cors_policy: Option<CorsPolicy>,
    /// Header manipulation.
    pub headers: Option<Headers>,
    /// Deprecated, ignored: websockets are upgraded automatically.
    pub websocket_upgrade: Option<bool>,
    /// Deprecated: appended request headers (pre-1.0 API).
    pub append_headers: Option<StringMap>,
}

/// `Delegate`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Delegate {
    /// Name of the delegate virtual service.
    #[serde(default)]
    pub name: String,
    /// Its namespace.
    #[serde(default)]
    pub namespace: String,
}

/// `Headers`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Headers {
    /// Request header operations.
    pub request: Option<HeaderOperations>,
    /// Response header operations.
    pub response: Option<HeaderOperations>,
}

/// `Headers.HeaderOperations`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HeaderOperations {
    /// Overwrite.
    #[serde(default)]
    pub set: StringMap,
    /// Append.
    #[serde(default)]
    pub add: StringMap,
    /// Remove.
    #[serde(default)]
    pub remove: Vec<String>,
}

/// `HTTPMatchRequest`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpMatchRequest {
    /// Match name.
    #[serde(default)]
    pub name: String,
    /// URI match.
    pub uri: Option<StringMatch>,
    /// Scheme match.
    pub scheme: Option<StringMatch>,
    /// Method match.
    pub method: Option<StringMatch>,
    /// Authority match.
    pub authority: Option<StringMatch>,
    /// Header matches.
    #[serde(default)]
    pub headers: BTreeMap<String, Option<StringMatch>>,
    /// Port.
    #[serde(default)]
    pub port: u32,
    /// Source workload labels.
    #[serde(default)]
    pub source_labels: StringMap,
    /// Gateways.
    #[serde(default)]
    pub gateways: Vec<String>,
    /// Query parameter matches.
    #[serde(default)]
    pub query_params: BTreeMap<String, Option<StringMatch>>,
    /// Case-insensitive URI match.
    #[serde(default)]
    pub ignore_uri_case: bool,
    /// Headers that must not match.
    #[serde(default)]
    pub without_headers: BTreeMap<String, Option<StringMatch>>,
    /// Source namespace.
    #[serde(default)]
    pub source_namespace: String,
    /// Stat prefix.
    #[serde(default)]
    pub stat_prefix: String,
}

/// `HTTPRouteDestination`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRouteDestination {
    /// Where to send traffic.
    pub destination: Option<Destination>,
    /// Relative weight.
    #[serde(default)]
    pub weight: i32,
    /// Header manipulation.
    pub headers: Option<Headers>,
}

istio_enum!(
    /// `HTTPRedirect.RedirectPortSelection`.
    RedirectPortSelection { FROM_PROTOCOL_DEFAULT = 0, FROM_REQUEST_PORT = 1 }
);

/// `HTTPRedirect`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRedirect {
    /// Path to redirect to.
    #[serde(default)]
    pub uri: String,
    /// Authority to redirect to.
    #[serde(default)]
    pub authority: String,
    /// Port to redirect to.
    pub port: Option<u32>,
    /// Derive the port.
    pub derive_port: Option<RedirectPortSelection>,
    /// Scheme to redirect to.
    #[serde(default)]
    pub scheme: String,
    /// Redirect status code.
    #[serde(default)]
    pub redirect_code: u32,
}

/// `HTTPDirectResponse`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpDirectResponse {
    /// Status code.
    #[serde(default)]
    pub status: u32,
    /// Body.
    pub body: Option<HttpBody>,
}

/// `HTTPBody`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpBody {
    /// Text body.
    pub string: Option<String>,
    /// Base64 body.
    pub bytes: Option<String>,
}

/// `HTTPRewrite`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRewrite {
    /// Replacement URI (prefix).
    #[serde(default)]
    pub uri: String,
    /// Replacement authority.
    #[serde(default)]
    pub authority: String,
    /// Regex-based URI rewrite.
    pub uri_regex_rewrite: Option<RegexRewrite>,
}

/// `RegexRewrite`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegexRewrite {
    /// RE2 pattern.
    #[serde(default)]
    pub r#match: String,
    /// Substitution.
    #[serde(default)]
    pub rewrite: String,
}

/// `HTTPRetry`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRetry {
    /// Number of retries.
    #[serde(default)]
    pub attempts: i32,
    /// Timeout per attempt.
    pub per_try_timeout: Option<Duration>,
    /// Retry conditions, comma separated.
    #[serde(default)]
    pub retry_on: String,
    /// Retry in other localities.
    pub retry_remote_localities: Option<bool>,
    /// Avoid previously tried hosts.
    pub retry_ignore_previous_hosts: Option<bool>,
    /// Base backoff interval.
    pub backoff: Option<Duration>,
}

/// `Percent`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Percent {
    /// 0.0 to 100.0.
    #[serde(default)]
    pub value: f64,
}

/// `HTTPFaultInjection`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpFaultInjection {
    /// Delay before forwarding.
    pub delay: Option<FaultDelay>,
    /// Abort with an error.
    pub abort: Option<FaultAbort>,
}

/// `HTTPFaultInjection.Delay`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultDelay {
    /// Fixed delay.
    pub fixed_delay: Option<Duration>,
    /// Exponential delay (not supported).
    pub exponential_delay: Option<Duration>,
    /// Percentage of requests.
    pub percentage: Option<Percent>,
    /// Deprecated integer percentage.
    pub percent: Option<i32>,
}

/// `HTTPFaultInjection.Abort`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultAbort {
    /// HTTP status to return.
    pub http_status: Option<i32>,
    /// gRPC status to return.
    pub grpc_status: Option<String>,
    /// HTTP/2 error (not supported).
    pub http2_error: Option<String>,
    /// Percentage of requests.
    pub percentage: Option<Percent>,
}

/// `HTTPMirrorPolicy`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpMirrorPolicy {
    /// Where to mirror.
    pub destination: Option<Destination>,
    /// How much to mirror.
    pub percentage: Option<Percent>,
}

istio_enum!(
    /// `CorsPolicy.UnmatchedPreflights`.
    UnmatchedPreflights { UNSPECIFIED = 0, FORWARD = 1, IGNORE = 2 }
);

/// `CorsPolicy`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CorsPolicy {
    /// Allowed origins.
    #[serde(default)]
    pub allow_origins: Vec<StringMatch>,
    /// Deprecated exact origins.
    #[serde(default)]
    pub allow_origin: Vec<String>,
    /// Allowed methods.
    #[serde(default)]
    pub allow_methods: Vec<String>,
    /// Allowed headers.
    #[serde(default)]
    pub allow_headers: Vec<String>,
    /// Exposed headers.
    #[serde(default)]
    pub expose_headers: Vec<String>,
    /// Preflight cache duration.
    pub max_age: Option<Duration>,
    /// Allow credentials.
    pub allow_credentials: Option<bool>,
    /// Preflights that match no origin.
    pub unmatched_preflights: Option<UnmatchedPreflights>,
}

// ---------------------------------------------------------------------------------------------
// Rules
// ---------------------------------------------------------------------------------------------

/// gRPC status codes by name, as Istio accepts them (fault aborts, retry conditions).
pub const GRPC_CODES: &[&str] = &[
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

/// Istio's checks of one HTTP route at `p`, in a virtual service that plays `role`.
pub(super) fn validate(r: &HttpRoute, p: &str, role: VsRole, e: &mut Errs) {
    let delegate_vs = role == VsRole::Delegate;
    // A root route hands the request to a delegate virtual service.
    let root = !delegate_vs && r.delegate.is_some();
    let routes = r.route.as_deref().unwrap_or_default();
    // Conflicts.
    if root {
        if r.redirect.is_some() {
            e.add(
                format!("{p}.redirect"),
                format!("root HTTP route {} must not specify redirect", r.name),
            );
        }
        if r.route.is_some() {
            e.add(
                format!("{p}.route"),
                format!("root HTTP route {} must not specify route", r.name),
            );
        }
    } else {
        if delegate_vs && r.delegate.is_some() {
            e.add(format!("{p}.delegate"), "delegate HTTP route cannot contain delegate");
        }
        if r.redirect.is_some() {
            if !routes.is_empty() {
                e.add(p, "HTTP route cannot contain both route and redirect");
            }
            if r.fault.is_some() {
                e.add(p, "HTTP route cannot contain both fault and redirect");
            }
            if r.rewrite.is_some() {
                e.add(p, "HTTP route rule cannot contain both rewrite and redirect");
            }
            if r.direct_response.is_some() {
                e.add(p, "HTTP route cannot contain both redirect and direct_response");
            }
        } else if r.direct_response.is_some() {
            if !routes.is_empty() {
                e.add(p, "HTTP route cannot contain both route and direct_response");
            }
            if r.fault.is_some() {
                e.add(p, "HTTP route cannot contain both fault and direct_response");
            }
            if r.rewrite.is_some() {
                e.add(p, "HTTP route rule cannot contain both rewrite and direct_response");
            }
        } else if routes.is_empty() {
            e.add(format!("{p}.route"), "HTTP route or redirect is required");
        }
    }

    // Matches.
    let independent = !delegate_vs && !root;
    for (j, m) in r.r#match.iter().enumerate() {
        let mp = format!("{p}.match[{j}]");
        let maps = [
            ("headers", &m.headers),
            ("queryParams", &m.query_params),
            ("withoutHeaders", &m.without_headers),
        ];
        for (field, map) in maps {
            for (name, sm) in map {
                let f = format!("{mp}.{field}.{name}");
                match sm {
                    None => e.add(&f, format!("{field} match {name} cannot be null")),
                    Some(sm) => {
                        if !independent && sm.regex.is_some() {
                            e.add(&f, format!("{field} match {name} does not support regex match for delegating"));
                        }
                        string_match(sm, &f, field, e);
                    }
                }
                if field != "queryParams" {
                    if name.is_empty() {
                        e.add(&f, "header name cannot be empty");
                    } else if !is_jwt_claim_route(name) {
                        e.check(&f, validate_header_name(name));
                    }
                }
            }
        }
        let singles = [
            ("uri", &m.uri),
            ("scheme", &m.scheme),
            ("method", &m.method),
            ("authority", &m.authority),
        ];
        for (field, sm) in singles {
            if let Some(sm) = sm {
                let f = format!("{mp}.{field}");
                if !independent && sm.regex.is_some() {
                    e.add(&f, format!("{field} match does not support regex match for delegating"));
                }
                string_match(sm, &f, field, e);
            }
        }
        if m.port != 0 {
            e.check(format!("{mp}.port"), validate_port(m.port.into()));
        }
        labels(&m.source_labels, &format!("{mp}.sourceLabels"), e);
        gateway_names(&m.gateways, &format!("{mp}.gateways"), e);
        if !m.source_namespace.is_empty() && !is_dns1123_label(&m.source_namespace) {
            e.add(
                format!("{mp}.sourceNamespace"),
                format!("sourceNamespace match {} is invalid", m.source_namespace),
            );
        }
    }

    header_operations(r.headers.as_ref(), &format!("{p}.headers"), e);
    if let Some(c) = &r.cors_policy {
        cors_policy(c, &format!("{p}.corsPolicy"), e);
    }
    if let Some(f) = &r.fault {
        fault(f, &format!("{p}.fault"), e);
    }
    if let Some(v) = r.mirror_percent {
        if v > 100 {
            e.add(
                format!("{p}.mirrorPercent"),
                format!("mirror_percent must have a max value of 100 (it has {v})"),
            );
        }
    }
    if let Some(pc) = &r.mirror_percentage {
        mirror_percentage(pc.value, &format!("{p}.mirrorPercentage"), e);
    }
    if let Some(d) = &r.mirror {
        destination::validate(d, &format!("{p}.mirror"), e);
    }
    for (i, m) in r.mirrors.iter().enumerate() {
        let mp = format!("{p}.mirrors[{i}]");
        match &m.destination {
            None => e.add(format!("{mp}.destination"), "destination is required for mirrors"),
            Some(d) => destination::validate(d, &format!("{mp}.destination"), e),
        }
        if let Some(pc) = &m.percentage {
            mirror_percentage(pc.value, &format!("{mp}.percentage"), e);
        }
    }
    if let Some(rd) = &r.redirect {
        redirect(rd, &format!("{p}.redirect"), e);
    }
    if let Some(dr) = &r.direct_response {
        let dp = format!("{p}.directResponse");
        if !(200..=599).contains(&dr.status) {
            e.add(
                format!("{dp}.status"),
                format!("HTTP status {} is not in range 200-599", dr.status),
            );
        }
        if let Some(b) = &dr.body {
            if b.string.is_some() && b.bytes.is_some() {
                e.add(format!("{dp}.body"), "only one of string or bytes may be set");
            }
            let size = b.string.as_ref().or(b.bytes.as_ref()).map_or(0, String::len);
            if size > 1024 * 1024 {
                e.add(
                    format!("{dp}.body"),
                    "large direct_responses may impact control plane performance, must be less than 1MB",
                );
            }
        }
    }
    if let Some(rt) = &r.retries {
        retries(rt, &format!("{p}.retries"), e);
    }
    if let Some(rw) = &r.rewrite {
        let rp = format!("{p}.rewrite");
        if !rw.uri.is_empty() && rw.uri_regex_rewrite.is_some() {
            e.add(&rp, "rewrite may only contain one of URI or UriRegexRewrite");
        }
        if rw.uri.is_empty() && rw.uri_regex_rewrite.is_none() && rw.authority.is_empty() {
            e.add(&rp, "rewrite must specify at least one of URI, UriRegexRewrite, or authority");
        }
        if let Some(rr) = &rw.uri_regex_rewrite {
            if rr.r#match.is_empty() || rr.rewrite.is_empty() {
                e.add(
                    format!("{rp}.uriRegexRewrite"),
                    "UriRegexRewrite requires both Rewrite and Match fields to be specified",
                );
            } else {
                e.check(
                    format!("{rp}.uriRegexRewrite.match"),
                    validate_regex(&rr.r#match, "HTTPRewrite.UriRegexRewrite.Match"),
                );
            }
        }
    }
    // The authority may be rewritten in one place only.
    let mut authority_sources =
        usize::from(r.rewrite.as_ref().is_some_and(|rw| !rw.authority.is_empty()));
    if let Some(req) = r.headers.as_ref().and_then(|h| h.request.as_ref()) {
        let is_authority =
            |n: &&String| n.eq_ignore_ascii_case(":authority") || n.eq_ignore_ascii_case("host");
        authority_sources += req.set.keys().filter(is_authority).count();
        authority_sources += req.add.keys().filter(is_authority).count();
    }
    if authority_sources > 1 {
        e.add(format!("{p}.headers"), "authority header cannot be set multiple times");
    }
    http_route_destinations(routes, &format!("{p}.route"), e);
    e.duration(format!("{p}.timeout"), r.timeout.as_ref());
}

fn header_operations(h: Option<&Headers>, p: &str, e: &mut Errs) {
    let Some(h) = h else { return };
    let is_internal = |n: &str| n.starts_with(':') || n.eq_ignore_ascii_case("host");
    let is_authority =
        |n: &str| n.eq_ignore_ascii_case(":authority") || n.eq_ignore_ascii_case("host");
    if let Some(req) = &h.request {
        for (kind, map) in [("set", &req.set), ("add", &req.add)] {
            for (name, val) in map {
                let f = format!("{p}.request.{kind}.{name}");
                if name.is_empty() {
                    e.add(&f, "header name cannot be empty");
                } else if is_internal(name) && !is_authority(name) {
                    e.add(&f, format!("invalid header {name:?}: header cannot have \":\" prefix"));
                }
                e.check(f, validate_header_value(val));
            }
        }
        for (i, name) in req.remove.iter().enumerate() {
            e.check(format!("{p}.request.remove[{i}]"), header_operation_name(name));
        }
    }
    if let Some(resp) = &h.response {
        for (kind, map) in [("set", &resp.set), ("add", &resp.add)] {
            for (name, val) in map {
                let f = format!("{p}.response.{kind}.{name}");
                e.check(&f, header_operation_name(name));
                e.check(f, validate_header_value(val));
            }
        }
        for (i, name) in resp.remove.iter().enumerate() {
            e.check(format!("{p}.response.remove[{i}]"), header_operation_name(name));
        }
    }
}

fn header_operation_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        Err("header name cannot be empty".into())
    } else if name.eq_ignore_ascii_case("host") {
        Err(format!("invalid header {name:?}: cannot set Host header"))
    } else if name.starts_with(':') {
        Err(format!("invalid header {name:?}: header cannot have \":\" prefix"))
    } else {
        Ok(())
    }
}

fn mirror_percentage(v: f64, p: &str, e: &mut Errs) {
    if v > 100.0 {
        e.add(p, format!("mirror_percentage must have a max value of 100 (it has {v})"));
    }
    if v < 0.0 {
        e.add(p, format!("mirror_percentage must have a min value of 0 (it has {v})"));
    }
}

fn cors_policy(c: &CorsPolicy, p: &str, e: &mut Errs) {
    for (i, o) in c.allow_origins.iter().enumerate() {
        let f = format!("{p}.allowOrigins[{i}]");
        let value = o.exact.as_ref().or(o.prefix.as_ref()).or(o.regex.as_ref());
        if value.is_none_or(String::is_empty) {
            e.add(&f, "'' is not a valid match type for CORS allow origins");
        }
        string_match(o, &f, "corsPolicy.allowOrigins", e);
    }
    const METHODS: &[&str] =
        &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "OPTIONS", "TRACE"];
    for (i, m) in c.allow_methods.iter().enumerate() {
        if !METHODS.contains(&m.as_str()) {
            e.add(
                format!("{p}.allowMethods[{i}]"),
                format!("{m:?} is not a supported HTTP method"),
            );
        }
    }
    for (field, list) in [("allowHeaders", &c.allow_headers), ("exposeHeaders", &c.expose_headers)]
    {
        for (i, h) in list.iter().enumerate() {
            if h != "*" {
                e.check(format!("{p}.{field}[{i}]"), validate_header_name(h));
            }
        }
    }
    if let Some(age) = &c.max_age {
        e.duration(format!("{p}.maxAge"), Some(age));
        if !age.whole_seconds() {
            e.add(format!("{p}.maxAge"), "max_age duration is accurate only to seconds precision");
        }
    }
}

fn fault(f: &HttpFaultInjection, p: &str, e: &mut Errs) {
    if f.abort.is_none() && f.delay.is_none() {
        e.add(p, "HTTP fault injection must have an abort and/or a delay");
    }
    if let Some(a) = &f.abort {
        let ap = format!("{p}.abort");
        fractional_percent(a.percentage.as_ref(), &format!("{ap}.percentage"), e);
        let kinds = usize::from(a.http_status.is_some())
            + usize::from(a.grpc_status.is_some())
            + usize::from(a.http2_error.is_some());
        if kinds > 1 {
            e.add(&ap, "only one of httpStatus, grpcStatus or http2Error may be set");
        }
        if let Some(s) = a.http_status {
            if !(200..=600).contains(&s) {
                e.add(
                    format!("{ap}.httpStatus"),
                    format!("HTTP status {s} is not in range 200-599"),
                );
            }
        }
        if let Some(g) = &a.grpc_status {
            if !GRPC_CODES.contains(&g.as_str()) {
                e.add(
                    format!("{ap}.grpcStatus"),
                    format!("gRPC status {g:?} is not supported, for example use 'NOT_FOUND'"),
                );
            }
        }
        if a.http2_error.is_some() {
            e.add(format!("{ap}.http2Error"), "HTTP/2 abort fault injection not supported yet");
        }
    }
    if let Some(d) = &f.delay {
        let dp = format!("{p}.delay");
        fractional_percent(d.percentage.as_ref(), &format!("{dp}.percentage"), e);
        if let Some(pc) = d.percent {
            percent_0_100(pc, &format!("{dp}.percent"), e);
        }
        if d.fixed_delay.is_some() && d.exponential_delay.is_some() {
            e.add(&dp, "only one of fixedDelay or exponentialDelay may be set");
        }
        e.duration(format!("{dp}.fixedDelay"), d.fixed_delay.as_ref());
        if let Some(x) = &d.exponential_delay {
            e.duration(format!("{dp}.exponentialDelay"), Some(x));
            e.add(format!("{dp}.exponentialDelay"), "exponentialDelay not supported yet");
        }
    }
}

fn fractional_percent(v: Option<&Percent>, p: &str, e: &mut Errs) {
    if let Some(pc) = v {
        let x = pc.value;
        if !(0.0..=100.0).contains(&x) || (x > 0.0 && x < 0.0001) {
            e.add(
                format!("{p}.value"),
                format!("percentage {x} is neither 0.0, nor in range [0.0001, 100.0]"),
            );
        }
    }
}

fn redirect(r: &HttpRedirect, p: &str, e: &mut Errs) {
    if r.uri.is_empty()
        && r.authority.is_empty()
        && r.port.is_none()
        && r.derive_port.is_none()
        && r.scheme.is_empty()
    {
        e.add(p, "redirect must specify URI, authority, scheme, or port");
    }
    if r.port.is_some() && r.derive_port.is_some() {
        e.add(p, "only one of port or derivePort may be set");
    }
    if r.redirect_code != 0 && !(300..=399).contains(&r.redirect_code) {
        e.add(
            format!("{p}.redirectCode"),
            format!("{} is not a valid redirect code, must be 3xx", r.redirect_code),
        );
    }
    if !r.scheme.is_empty() && r.scheme != "http" && r.scheme != "https" {
        e.add(format!("{p}.scheme"), "invalid redirect scheme, must be \"http\" or \"https\"");
    }
    if let Some(port) = r.port.filter(|p| *p > 0) {
        e.check(format!("{p}.port"), validate_port(port.into()));
    }
}

fn retries(r: &HttpRetry, p: &str, e: &mut Errs) {
    if r.attempts < 0 {
        e.add(format!("{p}.attempts"), "attempts cannot be negative");
    }
    if r.attempts == 0
        && (r.per_try_timeout.is_some()
            || !r.retry_on.is_empty()
            || r.retry_remote_localities.is_some())
    {
        e.add(p, "http retry policy configured when attempts are set to 0 (disabled)");
    }
    e.duration(format!("{p}.perTryTimeout"), r.per_try_timeout.as_ref());
    e.duration(format!("{p}.backoff"), r.backoff.as_ref());
    const POLICIES: &[&str] = &[
        "5xx",
        "gateway-error",
        "reset",
        "reset-before-request",
        "connect-failure",
        "retriable-4xx",
        "refused-stream",
        "retriable-status-codes",
        "retriable-headers",
        "envoy-ratelimited",
        "http3-post-connect-failure",
        "cancelled",
        "deadline-exceeded",
        "internal",
        "resource-exhausted",
        "unavailable",
    ];
    if !r.retry_on.is_empty() {
        for policy in r.retry_on.split(',') {
            let status = policy.parse::<u16>().is_ok_and(|c| (100..=599).contains(&c));
            if !status && !POLICIES.contains(&policy) {
                e.add(format!("{p}.retryOn"), format!("{policy:?} is not a valid retryOn policy"));
            }
        }
    }
}

fn http_route_destinations(routes: &[HttpRouteDestination], p: &str, e: &mut Errs) {
    for (i, r) in routes.iter().enumerate() {
        let rp = format!("{p}[{i}]");
        match &r.destination {
            None => e.add(format!("{rp}.destination"), "destination is required"),
            Some(d) => destination::validate(d, &format!("{rp}.destination"), e),
        }
        header_operations(r.headers.as_ref(), &format!("{rp}.headers"), e);
    }
    weights(&routes.iter().map(|r| r.weight).collect::<Vec<_>>(), p, e);
}
