//! Istio's semantic validation rules (pkg/config/validation and the CRDs' schema/CEL rules),
//! applied to the typed specs. Every problem is collected with its field path; nothing stops
//! at the first error.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use regex::Regex;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::common::{
    host_matches, host_subset_of, is_dns1123_label, is_ip, is_partial_wildcard, parse_cidr,
    validate_fqdn, validate_header_name, validate_header_value, validate_ip_subnet,
    validate_labels, validate_port, validate_port_name, validate_protocol, validate_regex,
    validate_selector_labels, validate_wildcard_domain, validate_wildcard_domain_for_gateway,
    Duration, PolicyTargetReference, Protocol, StringMap, StringMatch, WorkloadSelector,
};
use super::networking as net;
use super::security as sec;
use super::telemetry as tel;
use super::FieldError;

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

/// Collects problems with their paths.
#[derive(Default)]
pub(crate) struct Errs {
    list: Vec<FieldError>,
}

impl Errs {
    fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.list.push(FieldError::new(field, message));
    }

    fn check(&mut self, field: impl Into<String>, result: Result<(), String>) {
        if let Err(m) = result {
            self.add(field, m);
        }
    }

    fn duration(&mut self, field: impl Into<String>, d: Option<&Duration>) {
        if let Some(m) = d.and_then(Duration::check) {
            self.add(field, m);
        }
    }
}

/// Decodes `spec` into its typed form and runs the kind's rules. `kind` is a served kind.
pub(crate) fn validate_spec(kind: &str, obj: &Value) -> Vec<FieldError> {
    let mut e = Errs::default();
    let spec = obj.get("spec").filter(|v| !v.is_null());
    let meta = obj.get("metadata");
    let namespace = meta.and_then(|m| m.get("namespace")).and_then(Value::as_str).unwrap_or("");
    let name = meta.and_then(|m| m.get("name")).and_then(Value::as_str).unwrap_or("");
    let spec_required = matches!(
        kind,
        "VirtualService"
            | "DestinationRule"
            | "Gateway"
            | "ServiceEntry"
            | "WorkloadEntry"
            | "WorkloadGroup"
            | "Sidecar"
    );
    let empty = Value::Object(serde_json::Map::new());
    let spec = match spec {
        Some(s) => s,
        None if spec_required => {
            e.add("spec", "Required value");
            return e.list;
        }
        None => &empty,
    };
    match kind {
        "VirtualService" => run(spec, &mut e, |s, e| virtual_service(s, namespace, e)),
        "DestinationRule" => run(spec, &mut e, |s, e| destination_rule(s, namespace, e)),
        "Gateway" => run(spec, &mut e, |s, e| gateway(s, name, e)),
        "ServiceEntry" => run(spec, &mut e, |s, e| service_entry(s, namespace, e)),
        "WorkloadEntry" => run(spec, &mut e, |s, e| {
            workload_entry(s, "spec", None, true, true, e);
        }),
        "WorkloadGroup" => run(spec, &mut e, workload_group),
        "Sidecar" => run(spec, &mut e, |s, e| sidecar(s, namespace, e)),
        "AuthorizationPolicy" => run(spec, &mut e, authorization_policy),
        "PeerAuthentication" => run(spec, &mut e, peer_authentication),
        "RequestAuthentication" => run(spec, &mut e, request_authentication),
        "Telemetry" => run(spec, &mut e, telemetry),
        other => e.add("kind", format!("no validation rules for kind {other:?}")),
    }
    e.list
}

fn run<T: DeserializeOwned>(spec: &Value, e: &mut Errs, rules: impl FnOnce(&T, &mut Errs)) {
    match decode::<T>(spec) {
        Ok(typed) => rules(&typed, e),
        Err(fe) => e.list.push(fe),
    }
}

/// Decodes through `serde_path_to_error` so the error names the field (`spec.x[0].y`).
fn decode<T: DeserializeOwned>(spec: &Value) -> Result<T, FieldError> {
    serde_path_to_error::deserialize::<_, T>(spec).map_err(|err| {
        let path = err.path().to_string();
        let message = err.into_inner().to_string();
        let mut field = match path.as_str() {
            "." => "spec".to_string(),
            p if p.starts_with('[') => format!("spec{p}"),
            p => format!("spec.{p}"),
        };
        if let Some(name) =
            message.strip_prefix("missing field `").and_then(|r| r.split('`').next())
        {
            field.push('.');
            field.push_str(name);
            return FieldError::new(field, "Required value");
        }
        let message = match message.strip_prefix("invalid type: null, expected ") {
            Some(what) => format!("must be of type object (got null, expected {what})"),
            None => message,
        };
        FieldError::new(field, message)
    })
}

// ---------------------------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------------------------

fn string_match(sm: &StringMatch, p: &str, what: &str, e: &mut Errs) {
    let set = [sm.exact.is_some(), sm.prefix.is_some(), sm.regex.is_some()];
    if set.iter().filter(|x| **x).count() > 1 {
        e.add(p, "only one of exact, prefix or regex may be set");
    }
    if let Some(re) = &sm.regex {
        if re.is_empty() {
            e.add(
                format!("{p}.regex"),
                format!("{what:?}: regex string match should not be empty"),
            );
        } else {
            e.check(format!("{p}.regex"), validate_regex(re, what));
        }
    }
}

fn labels(map: &StringMap, p: &str, e: &mut Errs) {
    for (k, m) in validate_labels(map) {
        e.add(format!("{p}.{k}"), m);
    }
}

fn selector(sel: Option<&WorkloadSelector>, p: &str, e: &mut Errs) {
    if let Some(s) = sel {
        for (k, m) in validate_selector_labels(&s.match_labels) {
            e.add(format!("{p}.matchLabels.{k}"), m);
        }
    }
}

fn one_of_selector(
    sel: Option<&WorkloadSelector>,
    target_ref: Option<&PolicyTargetReference>,
    target_refs: &[PolicyTargetReference],
    e: &mut Errs,
) {
    let set = usize::from(sel.is_some())
        + usize::from(target_ref.is_some())
        + usize::from(!target_refs.is_empty());
    if set > 1 {
        e.add("spec", "only one of targetRefs or selector can be set");
    }
}

fn target_ref(r: &PolicyTargetReference, p: &str, e: &mut Errs) {
    static GROUP: OnceLock<Option<Regex>> = OnceLock::new();
    static KIND: OnceLock<Option<Regex>> = OnceLock::new();
    const GROUP_RE: &str = r"^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
    const KIND_RE: &str = r"^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$";
    let group_ok =
        r.group.len() <= 253 && compiled(&GROUP, GROUP_RE).is_some_and(|re| re.is_match(&r.group));
    if !group_ok {
        e.add(format!("{p}.group"), format!("{:?}: should match '{GROUP_RE}'", r.group));
    }
    if r.kind.is_empty() {
        e.add(format!("{p}.kind"), "Required value");
    } else if r.kind.len() > 63 || !compiled(&KIND, KIND_RE).is_some_and(|re| re.is_match(&r.kind))
    {
        e.add(format!("{p}.kind"), format!("{:?}: should match '{KIND_RE}'", r.kind));
    }
    if r.name.is_empty() {
        e.add(format!("{p}.name"), "Required value");
    } else if r.name.len() > 253 {
        e.add(format!("{p}.name"), "may not be longer than 253 characters");
    }
    if !r.namespace.is_empty() {
        e.add(format!("{p}.namespace"), "cross namespace referencing is not currently supported");
    }
    let group = if r.group.is_empty() { "core" } else { r.group.as_str() };
    let allowed = matches!(
        (group, r.kind.as_str()),
        ("core", "Service")
            | ("networking.istio.io", "ServiceEntry")
            | ("gateway.networking.k8s.io", "Gateway")
    );
    if group_ok && !r.kind.is_empty() && !allowed {
        e.add(
            p,
            format!(
                "targetRef must be to one of core/Service, networking.istio.io/ServiceEntry, gateway.networking.k8s.io/Gateway but was {}/{}",
                r.group, r.kind
            ),
        );
    }
}

fn target_refs(one: Option<&PolicyTargetReference>, many: &[PolicyTargetReference], e: &mut Errs) {
    if let Some(r) = one {
        target_ref(r, "spec.targetRef", e);
    }
    for (i, r) in many.iter().enumerate() {
        target_ref(r, &format!("spec.targetRefs[{i}]"), e);
    }
}

fn compiled(cell: &'static OnceLock<Option<Regex>>, pattern: &str) -> Option<&'static Regex> {
    cell.get_or_init(|| Regex::new(pattern).ok()).as_ref()
}

fn export_to(
    namespace: &str,
    export: &[String],
    service_entry: bool,
    dr_selector: bool,
    e: &mut Errs,
) {
    if export.is_empty() {
        return;
    }
    let p = "spec.exportTo";
    let mut seen: BTreeSet<String> = BTreeSet::new();
    for (i, entry) in export.iter().enumerate() {
        let key = if entry == "." && !namespace.is_empty() {
            namespace.to_string()
        } else {
            entry.clone()
        };
        if seen.contains(&key) {
            if key != *entry {
                e.add(
                    format!("{p}[{i}]"),
                    format!("duplicate entries in exportTo: . and current namespace {namespace}"),
                );
            } else {
                e.add(
                    format!("{p}[{i}]"),
                    format!("duplicate entries in exportTo for entry {entry}"),
                );
            }
            continue;
        }
        let ok = match key.as_str() {
            "." | "*" => true,
            "~" => service_entry,
            k => is_dns1123_label(k),
        };
        if ok {
            seen.insert(key);
        } else if key == "~" {
            e.add(
                format!("{p}[{i}]"),
                "exportTo ~ (none) is not allowed for Istio configuration objects",
            );
        } else {
            e.add(
                format!("{p}[{i}]"),
                format!(
                    "{entry:?}: only ., *, or a valid DNS 1123 label is allowed as exportTo entry"
                ),
            );
        }
    }
    if dr_selector && !seen.is_empty() {
        let own = if namespace.is_empty() { "." } else { namespace };
        if seen.contains(own) {
            if seen.len() > 1 {
                e.add(p, "destination rule with workload selector cannot have multiple entries in exportTo");
            }
        } else {
            e.add(p, "destination rule with workload selector cannot have exportTo beyond current namespace");
        }
    }
    if seen.contains("*") && export.len() > 1 {
        e.add(p, "cannot have both public (*) and non-public exportTo values for a resource");
    }
    if seen.contains("~") && export.len() > 1 {
        e.add(p, "cannot export service entry to no one (~) and someone");
    }
}

fn percent_0_100(v: i32, p: &str, e: &mut Errs) {
    if !(0..=100).contains(&v) {
        e.add(p, format!("percentage {v} is not in range 0..100"));
    }
}

fn fractional_percent(v: Option<&net::Percent>, p: &str, e: &mut Errs) {
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

// ---------------------------------------------------------------------------------------------
// VirtualService
// ---------------------------------------------------------------------------------------------

fn is_jwt_claim_route(header: &str) -> bool {
    header.starts_with("@request.auth.claims")
}

fn gateway_names(names: &[String], p: &str, e: &mut Errs) {
    for (i, g) in names.iter().enumerate() {
        let f = format!("{p}[{i}]");
        match g.split_once('/') {
            None => e.check(f, validate_fqdn(g)),
            Some((ns, name)) => {
                if ns.is_empty() || name.is_empty() {
                    e.add(&f, "config namespace and gateway name cannot be empty");
                }
                if !is_dns1123_label(ns) {
                    e.add(&f, format!("invalid value for namespace: {ns:?}"));
                }
                if !is_dns1123_label(name) {
                    e.add(&f, format!("invalid value for gateway name: {name:?}"));
                }
            }
        }
    }
}

fn virtual_service(vs: &net::VirtualService, namespace: &str, e: &mut Errs) {
    let delegate = vs.hosts.is_empty();
    if delegate {
        if !vs.gateways.is_empty() {
            e.add("spec.gateways", "delegate virtual service must have no gateways specified");
        }
        if !vs.tls.is_empty() {
            e.add("spec.tls", "delegate virtual service must have no tls route specified");
        }
        if !vs.tcp.is_empty() {
            e.add("spec.tcp", "delegate virtual service must have no tcp route specified");
        }
    }
    let applies_to_gateway = !vs.gateways.is_empty() && !vs.gateways.iter().any(|g| g == "mesh");
    let applies_to_mesh = !applies_to_gateway;
    gateway_names(&vs.gateways, "spec.gateways", e);

    if !applies_to_gateway {
        for (i, h) in vs.http.iter().enumerate() {
            for (j, m) in h.r#match.iter().enumerate() {
                for key in m.headers.keys().chain(m.without_headers.keys()) {
                    if is_jwt_claim_route(key) {
                        e.add(
                            format!("spec.http[{i}].match[{j}].headers.{key}"),
                            format!("JWT claim based routing (key: {key}) is only supported for gateway"),
                        );
                    }
                }
            }
        }
    }

    let sni = vs.tls.iter().any(|t| t.r#match.iter().any(|m| !m.sni_hosts.is_empty()));
    let mut all_hosts_valid = true;
    for (i, h) in vs.hosts.iter().enumerate() {
        let r = if applies_to_gateway {
            validate_wildcard_domain_for_gateway(sni, h)
        } else {
            validate_wildcard_domain(h)
        };
        match r {
            Err(m) if !is_ip(h) => {
                e.add(format!("spec.hosts[{i}]"), m);
                all_hosts_valid = false;
            }
            Ok(()) if applies_to_mesh && h == "*" => {
                e.add(
                    format!("spec.hosts[{i}]"),
                    "wildcard host * is not allowed for virtual services bound to the mesh gateway",
                );
                all_hosts_valid = false;
            }
            _ => {}
        }
    }
    if all_hosts_valid {
        for i in 0..vs.hosts.len() {
            for j in i + 1..vs.hosts.len() {
                if host_matches(&vs.hosts[i], &vs.hosts[j]) {
                    e.add(
                        format!("spec.hosts[{j}]"),
                        format!(
                            "duplicate hosts in virtual service: {} & {}",
                            vs.hosts[i], vs.hosts[j]
                        ),
                    );
                }
            }
        }
    }

    if vs.http.is_empty() && vs.tcp.is_empty() && vs.tls.is_empty() {
        e.add("spec", "http, tcp or tls must be provided in virtual service");
    }
    for (i, r) in vs.http.iter().enumerate() {
        http_route(r, &format!("spec.http[{i}]"), delegate, e);
    }
    for (i, r) in vs.tls.iter().enumerate() {
        let p = format!("spec.tls[{i}]");
        if r.r#match.is_empty() {
            e.add(format!("{p}.match"), "TLS route must have at least one match condition");
        }
        for (j, m) in r.r#match.iter().enumerate() {
            tls_match(m, &format!("{p}.match[{j}]"), vs, applies_to_gateway, e);
        }
        if r.route.is_empty() {
            e.add(format!("{p}.route"), "TLS route is required");
        }
        route_destinations(&r.route, &format!("{p}.route"), e);
    }
    for (i, r) in vs.tcp.iter().enumerate() {
        let p = format!("spec.tcp[{i}]");
        for (j, m) in r.r#match.iter().enumerate() {
            let mp = format!("{p}.match[{j}]");
            for (k, s) in m.destination_subnets.iter().enumerate() {
                e.check(format!("{mp}.destinationSubnets[{k}]"), validate_ip_subnet(s));
            }
            if m.port != 0 {
                e.check(format!("{mp}.port"), validate_port(m.port.into()));
            }
            labels(&m.source_labels, &format!("{mp}.sourceLabels"), e);
            gateway_names(&m.gateways, &format!("{mp}.gateways"), e);
            if !m.source_subnet.is_empty() {
                e.check(format!("{mp}.sourceSubnet"), validate_ip_subnet(&m.source_subnet));
            }
            if !m.source_namespace.is_empty() && !is_dns1123_label(&m.source_namespace) {
                e.add(format!("{mp}.sourceNamespace"), "sourceNamespace is invalid");
            }
        }
        if r.route.is_empty() {
            e.add(format!("{p}.route"), "TCP route is required");
        }
        route_destinations(&r.route, &format!("{p}.route"), e);
    }
    export_to(namespace, &vs.export_to, false, false, e);
}

fn tls_match(
    m: &net::TlsMatchAttributes,
    p: &str,
    vs: &net::VirtualService,
    gateway: bool,
    e: &mut Errs,
) {
    if m.sni_hosts.is_empty() {
        e.add(format!("{p}.sniHosts"), "TLS match must have at least one SNI host");
    }
    for (k, sni) in m.sni_hosts.iter().enumerate() {
        let f = format!("{p}.sniHosts[{k}]");
        let r = if gateway {
            validate_wildcard_domain_for_gateway(true, sni)
        } else {
            validate_wildcard_domain(sni)
        };
        match r {
            // An IP is only a warning (against the SNI spec).
            Err(_) if is_ip(sni) => {}
            Err(msg) => e.add(f, msg),
            Ok(()) => {
                if !vs.hosts.iter().any(|h| host_subset_of(sni, h)) {
                    e.add(
                        f,
                        format!(
                            "SNI host {sni:?} is not a compatible subset of any of the virtual service hosts: [{}]",
                            vs.hosts.join(", ")
                        ),
                    );
                }
            }
        }
    }
    for (k, s) in m.destination_subnets.iter().enumerate() {
        e.check(format!("{p}.destinationSubnets[{k}]"), validate_ip_subnet(s));
    }
    if m.port != 0 {
        e.check(format!("{p}.port"), validate_port(m.port.into()));
    }
    labels(&m.source_labels, &format!("{p}.sourceLabels"), e);
    gateway_names(&m.gateways, &format!("{p}.gateways"), e);
}

fn header_operations(h: Option<&net::Headers>, p: &str, e: &mut Errs) {
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

fn http_route(r: &net::HttpRoute, p: &str, delegate_vs: bool, e: &mut Errs) {
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
        destination(d, &format!("{p}.mirror"), e);
    }
    for (i, m) in r.mirrors.iter().enumerate() {
        let mp = format!("{p}.mirrors[{i}]");
        match &m.destination {
            None => e.add(format!("{mp}.destination"), "destination is required for mirrors"),
            Some(d) => destination(d, &format!("{mp}.destination"), e),
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

fn mirror_percentage(v: f64, p: &str, e: &mut Errs) {
    if v > 100.0 {
        e.add(p, format!("mirror_percentage must have a max value of 100 (it has {v})"));
    }
    if v < 0.0 {
        e.add(p, format!("mirror_percentage must have a min value of 0 (it has {v})"));
    }
}

fn cors_policy(c: &net::CorsPolicy, p: &str, e: &mut Errs) {
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

fn fault(f: &net::HttpFaultInjection, p: &str, e: &mut Errs) {
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

fn redirect(r: &net::HttpRedirect, p: &str, e: &mut Errs) {
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

fn retries(r: &net::HttpRetry, p: &str, e: &mut Errs) {
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

fn destination(d: &net::Destination, p: &str, e: &mut Errs) {
    if d.host.is_empty() {
        e.add(format!("{p}.host"), "Required value");
    } else if d.host == "*" {
        e.add(format!("{p}.host"), format!("invalid destination host {}", d.host));
    } else {
        e.check(format!("{p}.host"), validate_wildcard_domain(&d.host));
    }
    if !d.subset.is_empty() {
        e.check(format!("{p}.subset"), subset_name(&d.subset));
    }
    if let Some(port) = &d.port {
        e.check(format!("{p}.port.number"), validate_port(port.number.into()));
    }
}

fn subset_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        Err("subset name cannot be empty".into())
    } else if !is_dns1123_label(name) {
        Err(format!("subset name is invalid: {name}"))
    } else {
        Ok(())
    }
}

/// Weights are optional; when given they must add up to 100 (several destinations all at
/// weight 0 are refused too).
fn weights(ws: &[i32], p: &str, e: &mut Errs) {
    let mut total: i64 = 0;
    for (i, w) in ws.iter().enumerate() {
        if *w < 0 {
            e.add(format!("{p}[{i}].weight"), format!("weight {w} < 0"));
        }
        total += i64::from(*w);
    }
    if ws.iter().any(|w| *w != 0) {
        if total != 100 {
            e.add(p, format!("total destination weight {total} != 100"));
        }
    } else if ws.len() > 1 {
        e.add(p, "total destination weight = 0");
    }
}

fn http_route_destinations(routes: &[net::HttpRouteDestination], p: &str, e: &mut Errs) {
    for (i, r) in routes.iter().enumerate() {
        let rp = format!("{p}[{i}]");
        match &r.destination {
            None => e.add(format!("{rp}.destination"), "destination is required"),
            Some(d) => destination(d, &format!("{rp}.destination"), e),
        }
        header_operations(r.headers.as_ref(), &format!("{rp}.headers"), e);
    }
    weights(&routes.iter().map(|r| r.weight).collect::<Vec<_>>(), p, e);
}

fn route_destinations(routes: &[net::RouteDestination], p: &str, e: &mut Errs) {
    for (i, r) in routes.iter().enumerate() {
        let rp = format!("{p}[{i}]");
        match &r.destination {
            None => e.add(format!("{rp}.destination"), "destination is required"),
            Some(d) => destination(d, &format!("{rp}.destination"), e),
        }
    }
    weights(&routes.iter().map(|r| r.weight).collect::<Vec<_>>(), p, e);
}

// ---------------------------------------------------------------------------------------------
// DestinationRule
// ---------------------------------------------------------------------------------------------

fn destination_rule(dr: &net::DestinationRule, namespace: &str, e: &mut Errs) {
    if dr.host.is_empty() {
        e.add("spec.host", "Required value");
    } else {
        e.check("spec.host", validate_wildcard_domain(&dr.host));
    }
    if let Some(tp) = &dr.traffic_policy {
        traffic_policy(tp, "spec.trafficPolicy", e);
    }
    let mut names = BTreeSet::new();
    for (i, s) in dr.subsets.iter().enumerate() {
        let p = format!("spec.subsets[{i}]");
        if !names.insert(s.name.as_str()) {
            e.add(format!("{p}.name"), format!("duplicate subset names: {}", s.name));
        }
        e.check(format!("{p}.name"), subset_name(&s.name));
        labels(&s.labels, &format!("{p}.labels"), e);
        if let Some(tp) = &s.traffic_policy {
            traffic_policy(tp, &format!("{p}.trafficPolicy"), e);
        }
    }
    export_to(namespace, &dr.export_to, false, dr.workload_selector.is_some(), e);
    selector(dr.workload_selector.as_ref(), "spec.workloadSelector", e);
}

fn traffic_policy(tp: &net::TrafficPolicy, p: &str, e: &mut Errs) {
    if tp.outlier_detection.is_none()
        && tp.connection_pool.is_none()
        && tp.load_balancer.is_none()
        && tp.tls.is_none()
        && tp.port_level_settings.is_none()
        && tp.tunnel.is_none()
        && tp.proxy_protocol.is_none()
        && tp.retry_budget.is_none()
    {
        e.add(p, "traffic policy must have at least one field");
        return;
    }
    if tp.tunnel.is_some() && tp.proxy_protocol.is_some() {
        e.add(p, "tunnel and proxyProtocol must not be set together");
    }
    if let Some(o) = &tp.outlier_detection {
        outlier_detection(o, &format!("{p}.outlierDetection"), e);
    }
    if let Some(c) = &tp.connection_pool {
        connection_pool(c, &format!("{p}.connectionPool"), e);
    }
    if let Some(lb) = &tp.load_balancer {
        load_balancer(lb, tp.outlier_detection.is_some(), &format!("{p}.loadBalancer"), e);
    }
    if let Some(t) = &tp.tls {
        client_tls(t, &format!("{p}.tls"), e);
    }
    for (i, pl) in tp.port_level_settings.iter().flatten().enumerate() {
        let pp = format!("{p}.portLevelSettings[{i}]");
        match &pl.port {
            None => e.add(format!("{pp}.port"), "portTrafficPolicy must have valid port"),
            Some(port) => e.check(format!("{pp}.port.number"), validate_port(port.number.into())),
        }
        if pl.outlier_detection.is_none()
            && pl.connection_pool.is_none()
            && pl.load_balancer.is_none()
            && pl.tls.is_none()
        {
            e.add(&pp, "port traffic policy must have at least one field");
            continue;
        }
        if let Some(o) = &pl.outlier_detection {
            outlier_detection(o, &format!("{pp}.outlierDetection"), e);
        }
        if let Some(c) = &pl.connection_pool {
            connection_pool(c, &format!("{pp}.connectionPool"), e);
        }
        if let Some(lb) = &pl.load_balancer {
            load_balancer(lb, pl.outlier_detection.is_some(), &format!("{pp}.loadBalancer"), e);
        }
        if let Some(t) = &pl.tls {
            client_tls(t, &format!("{pp}.tls"), e);
        }
    }
    if let Some(t) = &tp.tunnel {
        let tpath = format!("{p}.tunnel");
        if !t.protocol.is_empty() && t.protocol != "CONNECT" && t.protocol != "POST" {
            e.add(format!("{tpath}.protocol"), "tunnel protocol must be \"CONNECT\" or \"POST\"");
        }
        if validate_fqdn(&t.target_host).is_err() && !is_ip(&t.target_host) {
            e.add(
                format!("{tpath}.targetHost"),
                "tunnel target host must be valid FQDN or IP address",
            );
        }
        e.check(format!("{tpath}.targetPort"), validate_port(t.target_port.into()));
    }
    if let Some(rb) = &tp.retry_budget {
        if let Some(pc) = rb.percent {
            if !(0.0..=100.0).contains(&pc) {
                e.add(format!("{p}.retryBudget.percent"), "percent must be in range [0.0, 100.0]");
            }
        }
    }
}

fn outlier_detection(o: &net::OutlierDetection, p: &str, e: &mut Errs) {
    e.duration(format!("{p}.baseEjectionTime"), o.base_ejection_time.as_ref());
    e.duration(format!("{p}.interval"), o.interval.as_ref());
    if !o.split_external_local_origin_errors && o.consecutive_local_origin_failures.unwrap_or(0) > 0
    {
        e.add(
            format!("{p}.consecutiveLocalOriginFailures"),
            "outlier detection consecutive local origin failures is specified, but split external local origin errors is set to false",
        );
    }
    percent_0_100(o.max_ejection_percent, &format!("{p}.maxEjectionPercent"), e);
    percent_0_100(o.min_health_percent, &format!("{p}.minHealthPercent"), e);
}

fn connection_pool(c: &net::ConnectionPoolSettings, p: &str, e: &mut Errs) {
    if c.http.is_none() && c.tcp.is_none() {
        e.add(p, "connection pool must have at least one field");
        return;
    }
    if let Some(h) = &c.http {
        let hp = format!("{p}.http");
        let non_negative = [
            ("http1MaxPendingRequests", h.http1_max_pending_requests),
            ("http2MaxRequests", h.http2_max_requests),
            ("maxRequestsPerConnection", h.max_requests_per_connection),
            ("maxRetries", h.max_retries),
            ("maxConcurrentStreams", h.max_concurrent_streams),
        ];
        for (name, v) in non_negative {
            if v < 0 {
                e.add(format!("{hp}.{name}"), format!("{name} must be non-negative"));
            }
        }
        e.duration(format!("{hp}.idleTimeout"), h.idle_timeout.as_ref());
        if h.h2_upgrade_policy == Some(net::H2UpgradePolicy::UPGRADE) && h.use_client_protocol {
            e.add(&hp, "use client protocol must not be true when H2UpgradePolicy is UPGRADE");
        }
        if let Some(k) = &h.http2_keep_alive {
            let kp = format!("{hp}.http2KeepAlive");
            e.duration(format!("{kp}.interval"), k.interval.as_ref());
            e.duration(format!("{kp}.timeout"), k.timeout.as_ref());
            e.duration(format!("{kp}.connectionIdleInterval"), k.connection_idle_interval.as_ref());
        }
    }
    if let Some(t) = &c.tcp {
        let tp = format!("{p}.tcp");
        if t.max_connections < 0 {
            e.add(format!("{tp}.maxConnections"), "max connections must be non-negative");
        }
        e.duration(format!("{tp}.connectTimeout"), t.connect_timeout.as_ref());
        e.duration(format!("{tp}.maxConnectionDuration"), t.max_connection_duration.as_ref());
        e.duration(format!("{tp}.idleTimeout"), t.idle_timeout.as_ref());
        if let Some(k) = &t.tcp_keepalive {
            e.duration(format!("{tp}.tcpKeepalive.time"), k.time.as_ref());
            e.duration(format!("{tp}.tcpKeepalive.interval"), k.interval.as_ref());
        }
    }
}

fn is_prime(x: u64) -> bool {
    if x != 0 && x < 4 {
        return true;
    }
    if x & 1 == 0 {
        return false;
    }
    let mut f = 3u64;
    while f.saturating_mul(f) <= x {
        if x.checked_rem(f) == Some(0) {
            return false;
        }
        f += 2;
    }
    true
}

fn load_balancer(lb: &net::LoadBalancerSettings, has_outlier: bool, p: &str, e: &mut Errs) {
    if lb.simple.is_some() && lb.consistent_hash.is_some() {
        e.add(p, "only one of simple or consistentHash may be set");
    }
    if let Some(ch) = &lb.consistent_hash {
        let cp = format!("{p}.consistentHash");
        let keys = usize::from(ch.http_header_name.is_some())
            + usize::from(ch.http_cookie.is_some())
            + usize::from(ch.use_source_ip.is_some())
            + usize::from(ch.http_query_parameter_name.is_some());
        if keys > 1 {
            e.add(&cp, "only one of httpHeaderName, httpCookie, useSourceIp or httpQueryParameterName may be set");
        }
        if let Some(c) = &ch.http_cookie {
            if c.name.is_empty() {
                e.add(format!("{cp}.httpCookie.name"), "name required for HttpCookie");
            }
            if let Some(ttl) = &c.ttl {
                if ttl.nanos < 0 {
                    e.add(format!("{cp}.httpCookie.ttl"), "ttl must not be negative");
                }
            }
        }
        if ch.ring_hash.is_some() && ch.maglev.is_some() {
            e.add(&cp, "only one of ringHash or maglev may be set");
        }
        if ch.minimum_ring_size.is_some_and(|v| v.0 != 0)
            && (ch.ring_hash.is_some() || ch.maglev.is_some())
        {
            e.add(&cp, "only one of MinimumRingSize or Maglev/Ringhash can be specified");
        }
        if let Some(m) = &ch.maglev {
            let size = m.table_size.map_or(0, |v| v.0);
            let f = format!("{cp}.maglev.tableSize");
            if size == 0 {
                e.add(&f, "tableSize must be set for maglev");
            }
            if size >= 5_000_011 {
                e.add(&f, "tableSize must be less than 5000011 for maglev");
            } else if !is_prime(size) {
                e.add(&f, "tableSize must be a prime number for maglev");
            }
        }
    }
    if let Some(l) = &lb.locality_lb_setting {
        locality_lb(l, has_outlier, &format!("{p}.localityLbSetting"), e);
    }
    e.duration(format!("{p}.warmupDurationSecs"), lb.warmup_duration_secs.as_ref());
    if let Some(w) = &lb.warmup {
        let wp = format!("{p}.warmup");
        match &w.duration {
            None => e.add(format!("{wp}.duration"), "Required value"),
            Some(d) => e.duration(format!("{wp}.duration"), Some(d)),
        }
        if let Some(mp) = w.minimum_percent {
            if !(0.0..=100.0).contains(&mp) {
                e.add(
                    format!("{wp}.minimumPercent"),
                    format!("Invalid value: {mp}: must be between 0 and 100"),
                );
            }
        }
        if let Some(a) = w.aggression {
            if a.is_nan() || a <= 0.0 {
                e.add(
                    format!("{wp}.aggression"),
                    format!("Invalid value: {a}: must be greater than 0"),
                );
            }
        }
        if lb.warmup_duration_secs.is_some() {
            e.add(&wp, "only one of warmup or warmupDurationSecs may be set");
        }
    }
}

fn locality_lb(l: &net::LocalityLbSetting, has_outlier: bool, p: &str, e: &mut Errs) {
    let _ = has_outlier; // Missing outlier detection is only a warning in Istio.
    if !l.distribute.is_empty() && !l.failover.is_empty() {
        e.add(p, "can not simultaneously specify 'distribute' and 'failover'");
        return;
    }
    if !l.failover.is_empty() {
        for (i, label) in l.failover_priority.iter().enumerate() {
            if matches!(
                label.as_str(),
                "topology.kubernetes.io/region"
                    | "topology.kubernetes.io/zone"
                    | "topology.istio.io/subzone"
            ) {
                e.add(
                    format!("{p}.failoverPriority[{i}]"),
                    format!("can not simultaneously set 'failover' and topology label '{label}' in 'failover_priority'"),
                );
                return;
            }
        }
    }
    let mut sources = Vec::new();
    for (i, d) in l.distribute.iter().enumerate() {
        let dp = format!("{p}.distribute[{i}]");
        sources.push(d.from.clone());
        let mut total: u64 = 0;
        for (loc, w) in &d.to {
            if *w == 0 || *w > 100 {
                e.add(format!("{dp}.to.{loc}"), "locality weight must be in range [1, 100]");
                return;
            }
            total += u64::from(*w);
        }
        if total != 100 {
            e.add(format!("{dp}.to"), format!("total locality weight {total} != 100"));
            return;
        }
        e.check(format!("{dp}.to"), localities(d.to.keys().map(String::as_str)));
    }
    e.check(format!("{p}.distribute"), localities(sources.iter().map(String::as_str)));
    for (i, f) in l.failover.iter().enumerate() {
        let fp = format!("{p}.failover[{i}]");
        if f.from == f.to {
            e.add(&fp, "locality lb failover settings must specify different regions");
        }
        if f.from.contains('/') || f.to.contains('/') {
            e.add(&fp, "locality lb failover only specify region");
        }
        if f.from.contains('*') || f.to.contains('*') {
            e.add(&fp, "locality lb failover region should not contain '*' wildcard");
        }
    }
}

/// Localities (`region/zone/subzone`, trailing `*` allowed) must not overlap.
fn localities<'a>(list: impl Iterator<Item = &'a str>) -> Result<(), String> {
    // region -> zone -> subzones; "*" marks "everything below".
    let mut seen: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    let overlap = |l: &str| Err(format!("locality {l} overlap with previous specified ones"));
    for loc in list {
        let stars = loc.matches('*').count();
        if stars > 1 || (stars == 1 && !loc.ends_with('*')) {
            return Err(format!(
                "locality {loc} wildcard '*' number can not exceed 1 and must be in the end"
            ));
        }
        if seen.contains_key("*") {
            return overlap(loc);
        }
        let items: Vec<&str> = loc.splitn(3, '/').collect();
        if items.iter().any(|i| i.is_empty()) {
            return Err(format!("locality {loc} must not contain empty region/zone/subzone info"));
        }
        let region = items[0].to_string();
        match items.len() {
            1 => {
                if seen.contains_key(&region) {
                    return overlap(loc);
                }
                seen.insert(
                    region,
                    BTreeMap::from([("*".to_string(), BTreeSet::from(["*".to_string()]))]),
                );
            }
            2 => {
                let zone = items[1].to_string();
                let zones = seen.entry(region).or_default();
                if zones.contains_key("*") || zones.contains_key(&zone) {
                    return overlap(loc);
                }
                zones.insert(zone, BTreeSet::from(["*".to_string()]));
            }
            _ => {
                let zone = items[1].to_string();
                let sub = items[2].to_string();
                let zones = seen.entry(region).or_default();
                if zones.contains_key("*") {
                    return overlap(loc);
                }
                let subs = zones.entry(zone).or_default();
                if subs.contains("*") || subs.contains(&sub) {
                    return overlap(loc);
                }
                subs.insert(sub);
            }
        }
    }
    Ok(())
}

fn client_tls(t: &net::ClientTlsSettings, p: &str, e: &mut Errs) {
    use net::ClientTlsMode as M;
    let mode = t.mode.unwrap_or_default();
    if t.insecure_skip_verify == Some(true) {
        if mode == M::SIMPLE
            && (!t.ca_certificates.is_empty()
                || !t.credential_name.is_empty()
                || t.subject_alt_names.is_some())
        {
            e.add(p, "cannot specify CaCertificates or CredentialName or SubjectAltNames when InsecureSkipVerify is set true");
        }
        if mode == M::MUTUAL && (!t.ca_certificates.is_empty() || t.subject_alt_names.is_some()) {
            e.add(p, "cannot specify CaCertificates or SubjectAltNames when InsecureSkipVerify is set true");
        }
    }
    if matches!(mode, M::SIMPLE | M::MUTUAL) && !t.credential_name.is_empty() {
        if !t.client_certificate.is_empty()
            || !t.ca_certificates.is_empty()
            || !t.private_key.is_empty()
            || !t.ca_crl.is_empty()
        {
            e.add(p, "cannot specify client certificates or CA certificate or CA CRL If credentialName is set");
        }
        return;
    }
    if mode == M::MUTUAL {
        if t.client_certificate.is_empty() {
            e.add(format!("{p}.clientCertificate"), "client certificate required for mutual tls");
        }
        if t.private_key.is_empty() {
            e.add(format!("{p}.privateKey"), "private key required for mutual tls");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Gateway
// ---------------------------------------------------------------------------------------------

fn gateway(g: &net::Gateway, name: &str, e: &mut Errs) {
    if !name.is_empty() && !is_dns1123_label(name) {
        e.add("metadata.name", format!("invalid gateway name: {name:?}"));
    }
    if g.servers.is_empty() {
        e.add("spec.servers", "gateway must have at least one server");
    }
    let mut port_names = BTreeSet::new();
    for (i, s) in g.servers.iter().enumerate() {
        let p = format!("spec.servers[{i}]");
        server(s, &p, e);
        if let Some(port) = &s.port {
            if !port_names.insert(port.name.as_str()) {
                e.add(
                    format!("{p}.port.name"),
                    format!("port names in servers must be unique: duplicate name {}", port.name),
                );
            }
        }
    }
}

fn server(s: &net::Server, p: &str, e: &mut Errs) {
    if s.hosts.is_empty() {
        e.add(format!("{p}.hosts"), "server config must contain at least one host");
    }
    for (i, h) in s.hosts.iter().enumerate() {
        namespace_slash_hostname(h, true, &format!("{p}.hosts[{i}]"), e);
    }
    let unix_bind = s.bind.starts_with("unix://");
    let mut port_ok = true;
    match &s.port {
        None => {
            e.add(format!("{p}.port"), "port is required");
            port_ok = false;
        }
        Some(port) => {
            if Protocol::parse(&port.protocol) == Protocol::Unsupported {
                e.add(
                    format!("{p}.port.protocol"),
                    format!(
                        "invalid protocol {:?}, supported protocols are HTTP, HTTP2, GRPC, GRPC-WEB, MONGO, REDIS, MYSQL, TCP",
                        port.protocol
                    ),
                );
                port_ok = false;
            }
            if port.number > 0 || !unix_bind {
                if let Err(m) = validate_port(port.number.into()) {
                    e.add(format!("{p}.port.number"), m);
                    port_ok = false;
                }
            }
            if port.target_port > 0 {
                e.add(format!("{p}.port.targetPort"), "targetPort has no impact on Gateways");
            }
            if port.name.is_empty() {
                e.add(format!("{p}.port.name"), "port name must be set");
            }
        }
    }
    if let Some(addr) = s.bind.strip_prefix("unix://") {
        e.check(format!("{p}.bind"), super::common::validate_unix_address(addr));
        if s.port.as_ref().is_some_and(|port| port.number != 0) {
            e.add(format!("{p}.port.number"), "port number must be 0 for unix domain socket");
        }
    } else if !s.bind.is_empty() && !is_ip(&s.bind) {
        e.add(format!("{p}.bind"), format!("{} is not a valid IP", s.bind));
    }
    if let Some(t) = &s.tls {
        server_tls(t, &format!("{p}.tls"), e);
    }
    if let (true, Some(port)) = (port_ok, &s.port) {
        let proto = Protocol::parse(&port.protocol);
        match &s.tls {
            None if proto.is_tls() => {
                e.add(format!("{p}.tls"), "server must have TLS settings for HTTPS/TLS protocols");
            }
            Some(t) if !proto.is_tls() => {
                if proto.is_http() {
                    let passthrough = matches!(
                        t.mode.unwrap_or_default(),
                        net::ServerTlsMode::PASSTHROUGH | net::ServerTlsMode::AUTO_PASSTHROUGH
                    );
                    if !passthrough
                        || !t.ca_certificates.is_empty()
                        || !t.private_key.is_empty()
                        || !t.server_certificate.is_empty()
                    {
                        e.add(
                            format!("{p}.tls"),
                            "server cannot have TLS settings for plain text HTTP ports",
                        );
                    }
                } else {
                    e.add(
                        format!("{p}.tls"),
                        "server cannot have TLS settings for non HTTPS/TLS ports",
                    );
                }
            }
            _ => {}
        }
    }
}

fn server_tls(t: &net::ServerTlsSettings, p: &str, e: &mut Errs) {
    use net::ServerTlsMode as M;
    let mode = t.mode.unwrap_or_default();
    if mode == M::ISTIO_MUTUAL {
        let fields = [
            (
                &t.server_certificate,
                "serverCertificate",
                "ISTIO_MUTUAL TLS cannot have associated server certificate",
            ),
            (&t.private_key, "privateKey", "ISTIO_MUTUAL TLS cannot have associated private key"),
            (
                &t.ca_certificates,
                "caCertificates",
                "ISTIO_MUTUAL TLS cannot have associated CA bundle",
            ),
            (
                &t.credential_name,
                "credentialName",
                "ISTIO_MUTUAL TLS cannot have associated credentialName",
            ),
        ];
        for (v, f, m) in fields {
            if !v.is_empty() {
                e.add(format!("{p}.{f}"), m);
            }
        }
        return;
    }
    let has_credential = !t.credential_name.is_empty()
        || !t.credential_names.is_empty()
        || !t.tls_certificates.is_empty();
    if matches!(mode, M::SIMPLE | M::MUTUAL | M::OPTIONAL_MUTUAL) && has_credential {
        return;
    }
    if mode == M::SIMPLE {
        if t.server_certificate.is_empty() {
            e.add(format!("{p}.serverCertificate"), "SIMPLE TLS requires a server certificate");
        }
        if t.private_key.is_empty() {
            e.add(format!("{p}.privateKey"), "SIMPLE TLS requires a private key");
        }
    } else if matches!(mode, M::MUTUAL | M::OPTIONAL_MUTUAL) {
        if t.server_certificate.is_empty() {
            e.add(format!("{p}.serverCertificate"), "MUTUAL TLS requires a server certificate");
        }
        if t.private_key.is_empty() {
            e.add(format!("{p}.privateKey"), "MUTUAL TLS requires a private key");
        }
        if t.ca_certificates.is_empty() {
            e.add(format!("{p}.caCertificates"), "MUTUAL TLS requires a client CA bundle");
        }
    }
    if !t.ca_crl.is_empty() {
        if !t.credential_name.is_empty() {
            e.add(format!("{p}.caCrl"), "CRL is not supported with credentialName. CRL has to be specified in the credential");
        }
        if mode == M::SIMPLE {
            e.add(format!("{p}.caCrl"), "CRL is not supported with SIMPLE TLS");
        }
    }
}

/// Gateway/Sidecar hosts: `namespace/dnsName` (gateways also accept a bare `dnsName`).
fn namespace_slash_hostname(host: &str, gateway: bool, p: &str, e: &mut Errs) {
    let Some((ns, name)) = host.split_once('/') else {
        if gateway {
            hostname_part(host, true, p, e);
        } else {
            e.add(p, "host must be of form namespace/dnsName");
        }
        return;
    };
    if ns.is_empty() || name.is_empty() {
        e.add(p, "config namespace and dnsName in host entry cannot be empty");
    }
    let special = if gateway { matches!(ns, "*" | ".") } else { matches!(ns, "*" | "." | "~") };
    if !special && !is_dns1123_label(ns) {
        let what = if gateway { "gateway" } else { "sidecar" };
        e.add(p, format!("invalid namespace value {ns:?} in {what}"));
    }
    hostname_part(name, gateway, p, e);
}

fn hostname_part(host: &str, gateway: bool, p: &str, e: &mut Errs) {
    if host != "*" && !host.contains('.') {
        e.add(p, "short names (non FQDN) are not allowed");
    }
    if let Err(m) = validate_wildcard_domain(host) {
        if !(gateway && is_ip(host)) {
            e.add(p, m);
        }
    }
    if is_partial_wildcard(host) {
        e.add(p, format!("partial wildcard {host:?} not allowed"));
    }
}

// ---------------------------------------------------------------------------------------------
// ServiceEntry and WorkloadEntry
// ---------------------------------------------------------------------------------------------

fn service_entry(se: &net::ServiceEntry, namespace: &str, e: &mut Errs) {
    use net::Resolution as R;
    let resolution = se.resolution.unwrap_or_default();
    if let Some(ws) = &se.workload_selector {
        for (k, m) in validate_selector_labels(&ws.labels) {
            e.add(format!("spec.workloadSelector.labels.{k}"), m);
        }
        if se.endpoints.is_some() {
            e.add("spec", "only one of WorkloadSelector or Endpoints can be set");
        }
    }
    if se.hosts.is_empty() {
        e.add("spec.hosts", "Required value: service entry must have at least one host");
    }
    for (i, h) in se.hosts.iter().enumerate() {
        if h == "*" {
            e.add(format!("spec.hosts[{i}]"), "hostname cannot be wildcard");
        } else {
            e.check(format!("spec.hosts[{i}]"), validate_wildcard_domain(h));
        }
    }
    let mut cidr = false;
    for (i, a) in se.addresses.iter().enumerate() {
        cidr |= a.contains('/');
        e.check(format!("spec.addresses[{i}]"), validate_ip_subnet(a));
    }
    if cidr && !matches!(resolution, R::NONE | R::STATIC) {
        e.add("spec.addresses", "CIDR addresses are allowed only for NONE/STATIC resolution types");
    }
    let mut names = BTreeSet::new();
    let mut numbers = BTreeSet::new();
    for (i, port) in se.ports.iter().enumerate() {
        let p = format!("spec.ports[{i}]");
        if !names.insert(port.name.as_str()) {
            e.add(format!("{p}.name"), format!("Duplicate value: {:?}", port.name));
        }
        if !numbers.insert(port.number) {
            e.add(
                format!("{p}.number"),
                format!("port number cannot be duplicated: {}", port.number),
            );
        }
        if port.target_port != 0 {
            e.check(format!("{p}.targetPort"), validate_port(port.target_port.into()));
        }
        e.check(format!("{p}.name"), validate_port_name(&port.name));
        e.check(format!("{p}.protocol"), validate_protocol(&port.protocol));
        e.check(format!("{p}.number"), validate_port(port.number.into()));
    }
    let endpoints = se.endpoints.as_deref().unwrap_or_default();
    match resolution {
        R::NONE => {
            if !endpoints.is_empty() {
                e.add(
                    "spec.endpoints",
                    "NONE mode cannot set endpoints (no endpoints should be provided for resolution type none)",
                );
            }
        }
        R::STATIC => {
            for (i, ep) in endpoints.iter().enumerate() {
                workload_entry(ep, &format!("spec.endpoints[{i}]"), Some(&names), false, true, e);
            }
        }
        R::DNS | R::DNS_ROUND_ROBIN => {
            if endpoints.is_empty() {
                for (i, h) in se.hosts.iter().enumerate() {
                    if validate_fqdn(h).is_err() && h != "*" {
                        e.add(
                            format!("spec.hosts[{i}]"),
                            format!("hosts must be FQDN if no endpoints are provided for resolution mode {resolution}"),
                        );
                    }
                }
            }
            if resolution == R::DNS_ROUND_ROBIN && endpoints.len() > 1 {
                e.add("spec.endpoints", "DNS_ROUND_ROBIN mode cannot have multiple endpoints");
            }
            for (i, ep) in endpoints.iter().enumerate() {
                workload_entry(ep, &format!("spec.endpoints[{i}]"), Some(&names), true, true, e);
            }
        }
    }
    if resolution != R::NONE && se.hosts.len() > 1 {
        if let Some(i) = se.ports.iter().position(|p| {
            let proto = Protocol::parse(&p.protocol);
            !proto.is_http() && !proto.is_tls()
        }) {
            e.add(
                format!("spec.ports[{i}]"),
                "multiple hosts provided with non-HTTP, non-TLS ports",
            );
        }
    }
    export_to(namespace, &se.export_to, true, false, e);
}

/// A workload entry, standalone (`service_ports` is `None`) or as a ServiceEntry endpoint.
fn workload_entry(
    we: &net::WorkloadEntry,
    p: &str,
    service_ports: Option<&BTreeSet<&str>>,
    allow_fqdn: bool,
    address_required: bool,
    e: &mut Errs,
) {
    let addr = we.address.as_str();
    if addr.is_empty() && we.network.is_empty() && address_required {
        e.add(format!("{p}.address"), "Address is required (unless network is set)");
    }
    let unix = addr.strip_prefix("unix://");
    if let Some(path) = unix {
        if path.is_empty() {
            e.add(format!("{p}.address"), "unix address must not be empty");
        } else if !path.starts_with('@') {
            if !path.starts_with('/') {
                e.add(format!("{p}.address"), "UDS must be an absolute path or abstract socket");
            } else if path.ends_with('/') {
                e.add(format!("{p}.address"), "UDS may not be a dir");
            }
        }
        if !we.ports.is_empty() {
            e.add(
                format!("{p}.ports"),
                format!("UDS may not include ports (unix endpoint {addr} must not include ports)"),
            );
        }
    } else if !addr.is_empty() && !is_ip(addr) {
        if !allow_fqdn {
            e.add(
                format!("{p}.address"),
                format!("endpoint address {addr:?} is not a valid IP address"),
            );
        } else if validate_fqdn(addr).is_err() {
            e.add(
                format!("{p}.address"),
                format!("endpoint address {addr:?} is not a valid FQDN or an IP address"),
            );
        }
    }
    if addr.len() > 256 {
        e.add(format!("{p}.address"), "may not be longer than 256 characters");
    }
    for (name, port) in &we.ports {
        if service_ports.is_some_and(|sp| !sp.contains(name.as_str())) {
            e.add(
                format!("{p}.ports.{name}"),
                format!("endpoint port {port} is not defined by the service entry"),
            );
        }
        if name.len() >= 63 || validate_port_name(name).is_err() {
            e.add(format!("{p}.ports"), format!("Invalid value: port name {name:?} must be valid"));
        }
        if let Err(m) = validate_port((*port).into()) {
            e.add(format!("{p}.ports.{name}"), m);
        }
    }
    labels(&we.labels, &format!("{p}.labels"), e);
    for (k, v) in &we.labels {
        if v == "*" {
            e.add(format!("{p}.labels.{k}"), "wildcard not allowed in label value match");
        }
    }
    if unix.is_some() && service_ports.is_some_and(|sp| sp.len() != 1) {
        e.add(format!("{p}.address"), "exactly 1 service port required for unix endpoints");
    }
}

fn workload_group(wg: &net::WorkloadGroup, e: &mut Errs) {
    match &wg.template {
        None => e.add("spec.template", "Required value: template is required"),
        // Address and the like are filled in when entries are generated.
        Some(t) => workload_entry(t, "spec.template", None, true, false, e),
    }
    if let Some(m) = &wg.metadata {
        labels(&m.labels, "spec.metadata.labels", e);
    }
    let Some(probe) = &wg.probe else { return };
    let p = "spec.probe";
    let counts = [
        ("periodSeconds", probe.period_seconds),
        ("initialDelaySeconds", probe.initial_delay_seconds),
        ("timeoutSeconds", probe.timeout_seconds),
        ("successThreshold", probe.success_threshold),
        ("failureThreshold", probe.failure_threshold),
    ];
    for (name, v) in counts {
        if v < 0 {
            e.add(format!("{p}.{name}"), format!("{name} must be non-negative"));
        }
    }
    let methods = usize::from(probe.http_get.is_some())
        + usize::from(probe.tcp_socket.is_some())
        + usize::from(probe.exec.is_some())
        + usize::from(probe.grpc.is_some());
    if methods == 0 {
        e.add(p, "probe must set one of httpGet, tcpSocket, exec or grpc");
    } else if methods > 1 {
        e.add(p, "only one of httpGet, tcpSocket, exec or grpc may be set");
    }
    if let Some(h) = &probe.http_get {
        e.check(format!("{p}.httpGet.port"), validate_port(h.port.into()));
        if !h.scheme.is_empty() && h.scheme != "HTTP" && h.scheme != "HTTPS" {
            e.add(
                format!("{p}.httpGet.scheme"),
                "httpGet.scheme must be one of \"HTTPS\", \"HTTP\"",
            );
        }
        for (i, hd) in h.http_headers.iter().enumerate() {
            e.check(format!("{p}.httpGet.httpHeaders[{i}].name"), validate_header_name(&hd.name));
        }
    }
    if let Some(t) = &probe.tcp_socket {
        e.check(format!("{p}.tcpSocket.port"), validate_port(t.port.into()));
    }
    if let Some(x) = &probe.exec {
        if x.command.is_empty() {
            e.add(format!("{p}.exec.command"), "exec.command is required");
        }
    }
    if let Some(g) = &probe.grpc {
        e.check(format!("{p}.grpc.port"), validate_port(g.port.into()));
    }
}

// ---------------------------------------------------------------------------------------------
// Sidecar
// ---------------------------------------------------------------------------------------------

fn sidecar(s: &net::Sidecar, namespace: &str, e: &mut Errs) {
    if let Some(ws) = &s.workload_selector {
        for (k, m) in validate_selector_labels(&ws.labels) {
            e.add(format!("spec.workloadSelector.labels.{k}"), m);
        }
    }
    if s.egress.is_empty()
        && s.ingress.is_empty()
        && s.outbound_traffic_policy.is_none()
        && s.inbound_connection_pool.is_none()
    {
        e.add("spec", "sidecar: empty configuration provided");
        return;
    }
    let mut ports = BTreeSet::new();
    for (i, l) in s.ingress.iter().enumerate() {
        let p = format!("spec.ingress[{i}]");
        let Some(port) = &l.port else {
            e.add(format!("{p}.port"), "sidecar: port is required for ingress listeners");
            continue;
        };
        if port.target_port > 0 {
            e.add(format!("{p}.port.targetPort"), "targetPort has no impact on Sidecars");
        }
        if !port.name.is_empty() {
            e.check(format!("{p}.port.name"), validate_port_name(&port.name));
        }
        e.check(format!("{p}.port.protocol"), validate_protocol(&port.protocol));
        e.check(format!("{p}.port.number"), validate_port(port.number.into()));
        if !l.bind.is_empty() && !is_ip(&l.bind) {
            e.add(format!("{p}.bind"), format!("{} is not a valid IP", l.bind));
        }
        if !ports.insert(port.number) {
            e.add(
                format!("{p}.port.number"),
                "sidecar: ports on IP bound listeners must be unique",
            );
        }
        if let Some(addr) = l.default_endpoint.strip_prefix("unix://") {
            e.check(format!("{p}.defaultEndpoint"), super::common::validate_unix_address(addr));
        } else if !l.default_endpoint.is_empty() {
            default_endpoint(&l.default_endpoint, &format!("{p}.defaultEndpoint"), e);
        }
        if let Some(t) = &l.tls {
            let tp = format!("{p}.tls");
            if !t.subject_alt_names.is_empty() {
                e.add(&tp, "sidecar: subjectAltNames is not supported in ingress tls");
            }
            if t.https_redirect {
                e.add(&tp, "sidecar: httpsRedirect is not supported");
            }
            if !t.credential_name.is_empty() {
                e.add(&tp, "sidecar: credentialName is not currently supported");
            }
            let mode = t.mode.unwrap_or_default();
            if matches!(
                mode,
                net::ServerTlsMode::ISTIO_MUTUAL | net::ServerTlsMode::AUTO_PASSTHROUGH
            ) {
                e.add(&tp, format!("configuration is invalid: cannot set mode to {mode} in sidecar ingress tls"));
            }
            server_tls(t, &tp, e);
        }
        if let Some(c) = &l.connection_pool {
            connection_pool(c, &format!("{p}.connectionPool"), e);
        }
    }
    if let Some(c) = &s.inbound_connection_pool {
        connection_pool(c, "spec.inboundConnectionPool", e);
    }
    let mut ports = BTreeSet::new();
    let mut sockets = BTreeSet::new();
    let mut catch_all = false;
    for (i, l) in s.egress.iter().enumerate() {
        let p = format!("spec.egress[{i}]");
        match &l.port {
            None => {
                if catch_all {
                    e.add(&p, "sidecar: egress can have only one listener with empty port");
                    continue;
                }
                if i == s.egress.len() - 1 {
                    catch_all = true;
                } else {
                    e.add(&p, "sidecar: the egress listener with empty port should be the last listener in the list");
                }
            }
            Some(port) => {
                if port.target_port > 0 {
                    e.add(format!("{p}.port.targetPort"), "targetPort has no impact on Sidecars");
                }
                if !port.name.is_empty() {
                    e.check(format!("{p}.port.name"), validate_port_name(&port.name));
                }
                e.check(format!("{p}.port.protocol"), validate_protocol(&port.protocol));
                let mode = l.capture_mode.unwrap_or_default();
                if port.number == 0 {
                    match l.bind.strip_prefix("unix://") {
                        None => e.add(format!("{p}.bind"), "sidecar: ports with 0 value must have a unix domain socket bind address"),
                        Some(addr) => e.check(format!("{p}.bind"), super::common::validate_unix_address(addr)),
                    }
                    if !matches!(mode, net::CaptureMode::DEFAULT | net::CaptureMode::NONE) {
                        e.add(format!("{p}.captureMode"), "sidecar: captureMode must be DEFAULT/NONE for unix domain socket listeners");
                    }
                    if !sockets.insert(l.bind.as_str()) {
                        e.add(
                            format!("{p}.bind"),
                            "sidecar: unix domain socket values for listeners must be unique",
                        );
                    }
                } else {
                    e.check(format!("{p}.port.number"), validate_port(port.number.into()));
                    if !l.bind.is_empty() && !is_ip(&l.bind) {
                        e.add(format!("{p}.bind"), format!("{} is not a valid IP", l.bind));
                    }
                    if !ports.insert(port.number) {
                        e.add(
                            format!("{p}.port.number"),
                            "sidecar: ports on IP bound listeners must be unique",
                        );
                    }
                }
            }
        }
        if l.hosts.is_empty() {
            e.add(format!("{p}.hosts"), "sidecar: egress listener must contain at least one host");
        }
        for (j, h) in l.hosts.iter().enumerate() {
            namespace_slash_hostname(h, false, &format!("{p}.hosts[{j}]"), e);
        }
    }
    if let Some(o) = &s.outbound_traffic_policy {
        if let Some(proxy) = &o.egress_proxy {
            let p = "spec.outboundTrafficPolicy.egressProxy";
            if o.mode.unwrap_or_default() != net::OutboundMode::ALLOW_ANY {
                e.add(p, "sidecar: egress_proxy must be set only with ALLOW_ANY outbound_traffic_policy mode");
            } else {
                e.check(format!("{p}.host"), validate_fqdn(&proxy.host));
                if proxy.port.is_none() {
                    e.add(format!("{p}.port"), "sidecar: egress_proxy port must be non-nil");
                } else {
                    destination(proxy, p, e);
                }
            }
        }
    }
    let _ = namespace;
}

fn default_endpoint(ep: &str, p: &str, e: &mut Errs) {
    // 127.0.0.1:port, 0.0.0.0:port, [::1]:port, [::]:port or :port.
    let Some(colon) = ep.rfind(':') else {
        e.add(p, format!("address {ep}: missing port in address"));
        return;
    };
    let (host, port) = (&ep[..colon], &ep[colon + 1..]);
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    if !host.is_empty() && !matches!(host, "127.0.0.1" | "0.0.0.0" | "::1" | "::") {
        e.add(
            p,
            "sidecar: defaultEndpoint must be of form 127.0.0.1:<port>,0.0.0.0:<port>,[::1]:port,[::]:port,unix://filepath or unset",
        );
    }
    match port.parse::<i64>() {
        Ok(n) => e.check(p, validate_port(n)),
        Err(_) => e.add(p, format!("sidecar: defaultEndpoint port ({port}) is not a number")),
    }
}

// ---------------------------------------------------------------------------------------------
// AuthorizationPolicy
// ---------------------------------------------------------------------------------------------

fn empty_values(list: Option<&Vec<String>>, p: &str, e: &mut Errs) {
    for (i, v) in list.into_iter().flatten().enumerate() {
        if v.is_empty() {
            e.add(format!("{p}[{i}]"), "empty value not allowed");
        }
    }
}

fn ip_list(list: Option<&Vec<String>>, p: &str, e: &mut Errs) {
    for (i, v) in list.into_iter().flatten().enumerate() {
        if v.is_empty() {
            continue;
        }
        let ok = if v.contains('/') { parse_cidr(v) } else { is_ip(v) };
        if !ok {
            let what = if v.contains('/') { "bad CIDR range" } else { "bad IP address" };
            e.add(format!("{p}[{i}]"), format!("{what} ({v})"));
        }
    }
}

fn port_list(list: Option<&Vec<String>>, p: &str, e: &mut Errs) {
    for (i, v) in list.into_iter().flatten().enumerate() {
        if !v.is_empty() && !v.parse::<u32>().is_ok_and(|n| n <= 65535) {
            e.add(format!("{p}[{i}]"), format!("bad port ({v})"));
        }
    }
}

fn path_templates(list: Option<&Vec<String>>, p: &str, e: &mut Errs) {
    static UNSUPPORTED: OnceLock<Option<Regex>> = OnceLock::new();
    let re = compiled(&UNSUPPORTED, r"/\{\w+=\*\*?\}|\{\w*\}|/\*\*?|\*\*?/");
    for (i, v) in list.into_iter().flatten().enumerate() {
        let template = v.contains("{*}") || v.contains("{**}");
        if template && re.is_some_and(|r| r.is_match(v)) {
            e.add(format!("{p}[{i}]"), "invalid or unsupported path template");
        }
    }
}

fn has_values(l: Option<&Vec<String>>) -> bool {
    l.is_some_and(|v| !v.is_empty())
}

fn source(s: &sec::Source, p: &str, e: &mut Errs) {
    let identities = [&s.principals, &s.not_principals, &s.namespaces, &s.not_namespaces];
    let accounts = [&s.service_accounts, &s.not_service_accounts];
    if identities.iter().any(|l| has_values(l.as_ref()))
        && accounts.iter().any(|l| has_values(l.as_ref()))
    {
        e.add(p, "cannot set serviceAccounts with namespaces or principals");
    }
    let fields: [(&str, &Option<Vec<String>>); 14] = [
        ("principals", &s.principals),
        ("notPrincipals", &s.not_principals),
        ("requestPrincipals", &s.request_principals),
        ("notRequestPrincipals", &s.not_request_principals),
        ("namespaces", &s.namespaces),
        ("notNamespaces", &s.not_namespaces),
        ("serviceAccounts", &s.service_accounts),
        ("notServiceAccounts", &s.not_service_accounts),
        ("ipBlocks", &s.ip_blocks),
        ("notIpBlocks", &s.not_ip_blocks),
        ("remoteIpBlocks", &s.remote_ip_blocks),
        ("notRemoteIpBlocks", &s.not_remote_ip_blocks),
        ("trustDomains", &s.trust_domains),
        ("notTrustDomains", &s.not_trust_domains),
    ];
    if fields.iter().all(|(_, l)| !has_values(l.as_ref())) {
        e.add(p, "`from.source` must not be empty");
    }
    for (name, list) in fields {
        empty_values(list.as_ref(), &format!("{p}.{name}"), e);
    }
    for (name, list) in [
        ("ipBlocks", &s.ip_blocks),
        ("notIpBlocks", &s.not_ip_blocks),
        ("remoteIpBlocks", &s.remote_ip_blocks),
        ("notRemoteIpBlocks", &s.not_remote_ip_blocks),
    ] {
        ip_list(list.as_ref(), &format!("{p}.{name}"), e);
    }
    for (name, list) in
        [("serviceAccounts", &s.service_accounts), ("notServiceAccounts", &s.not_service_accounts)]
    {
        for (i, sa) in list.iter().flatten().enumerate() {
            let parts: Vec<&str> = sa.split('/').collect();
            if !sa.is_empty() && (parts.len() > 2 || parts.iter().any(|x| x.is_empty())) {
                e.add(
                    format!("{p}.{name}[{i}]"),
                    format!("invalid service account {sa:?}: must be <namespace>/<name> or <name>"),
                );
            }
        }
    }
}

fn operation(o: &sec::Operation, p: &str, e: &mut Errs) {
    let fields: [(&str, &Option<Vec<String>>); 8] = [
        ("hosts", &o.hosts),
        ("notHosts", &o.not_hosts),
        ("ports", &o.ports),
        ("notPorts", &o.not_ports),
        ("methods", &o.methods),
        ("notMethods", &o.not_methods),
        ("paths", &o.paths),
        ("notPaths", &o.not_paths),
    ];
    if fields.iter().all(|(_, l)| !has_values(l.as_ref())) {
        e.add(p, "`to.operation` must not be empty");
    }
    for (name, list) in fields {
        empty_values(list.as_ref(), &format!("{p}.{name}"), e);
    }
    port_list(o.ports.as_ref(), &format!("{p}.ports"), e);
    port_list(o.not_ports.as_ref(), &format!("{p}.notPorts"), e);
    path_templates(o.paths.as_ref(), &format!("{p}.paths"), e);
    path_templates(o.not_paths.as_ref(), &format!("{p}.notPaths"), e);
}

/// The attribute names a `when` condition may use, and their value rules.
fn condition_values(key: &str, values: &[String], p: &str, e: &mut Errs) {
    if values.iter().any(String::is_empty) {
        e.add(p, format!("invalid value for key {key}: empty value not allowed"));
        return;
    }
    let map_key = |k: &str| {
        let open = k.find('[');
        if k.ends_with(']') && open.is_some_and(|o| o > 0 && o + 2 < k.len()) {
            Ok(())
        } else {
            Err(format!("bad key ({k}): should have format a[b]"))
        }
    };
    let list = Some(values.to_vec());
    let result = match key {
        k if k.starts_with("request.headers") => map_key(k),
        "source.ip" | "remote.ip" | "destination.ip" => {
            ip_list(list.as_ref(), p, e);
            Ok(())
        }
        "destination.port" => {
            port_list(list.as_ref(), p, e);
            Ok(())
        }
        "source.namespace"
        | "source.principal"
        | "source.serviceAccount"
        | "source.trustDomain"
        | "request.auth.principal"
        | "request.auth.audiences"
        | "request.auth.presenter"
        | "connection.sni" => Ok(()),
        k if k.starts_with("request.auth.claims") => map_key(k),
        k if k.starts_with("experimental.envoy.filters.") => map_key(k),
        "destination.namespace" => {
            Err(format!("attribute {key} is replaced by the metadata.namespace"))
        }
        k if k.starts_with("destination.labels") => {
            Err(format!("attribute {key} is replaced by the workload selector"))
        }
        "destination.name" | "destination.user" => {
            Err(format!("deprecated attribute {key}: only supported in v1alpha1"))
        }
        _ => Err(format!("unknown attribute: {key}")),
    };
    e.check(p, result);
}

fn authorization_policy(ap: &sec::AuthorizationPolicy, e: &mut Errs) {
    use sec::Action as A;
    one_of_selector(ap.selector.as_ref(), ap.target_ref.as_ref(), &ap.target_refs, e);
    selector(ap.selector.as_ref(), "spec.selector", e);
    target_refs(ap.target_ref.as_ref(), &ap.target_refs, e);
    let action = ap.action.unwrap_or_default();
    let rules = ap.rules.as_deref();
    if action == A::CUSTOM {
        match rules {
            None => e.add(
                "spec.rules",
                "CUSTOM action without `rules` is meaningless as it will never be triggered, add an empty rule `{}` if you want it be triggered for every request",
            ),
            Some(_) => {
                if ap.provider.as_ref().is_none_or(|p| p.name.is_empty()) {
                    e.add("spec.provider.name", "`provider.name` must not be empty");
                }
            }
        }
        for (i, rule) in rules.into_iter().flatten().enumerate() {
            let Some(rule) = rule else { continue };
            for (j, from) in rule.from.iter().flatten().enumerate() {
                let Some(src) = from.as_ref().and_then(|f| f.source.as_ref()) else { continue };
                let checks = [
                    ("namespaces", &src.namespaces),
                    ("notNamespaces", &src.not_namespaces),
                    ("serviceAccounts", &src.service_accounts),
                    ("notServiceAccounts", &src.not_service_accounts),
                    ("principals", &src.principals),
                    ("notPrincipals", &src.not_principals),
                    ("requestPrincipals", &src.request_principals),
                    ("notRequestPrincipals", &src.not_request_principals),
                ];
                for (name, list) in checks {
                    if has_values(list.as_ref()) {
                        e.add(
                            format!("spec.rules[{i}].from[{j}].source.{name}"),
                            format!("{name} is currently not supported with CUSTOM action"),
                        );
                    }
                }
            }
            for (j, w) in rule.when.iter().enumerate() {
                let k = w.key.as_str();
                if matches!(k, "source.namespace" | "source.serviceAccount" | "source.principal")
                    || k.starts_with("request.auth.")
                {
                    e.add(
                        format!("spec.rules[{i}].when[{j}].key"),
                        format!("{k} is currently not supported with CUSTOM action"),
                    );
                }
            }
        }
    }
    if ap.provider.is_some() && action != A::CUSTOM {
        e.add(
            "spec.provider",
            format!("`provider` must not be with non CUSTOM action, found {action}"),
        );
    }
    if action == A::DENY && rules.is_none() {
        e.add(
            "spec.rules",
            "DENY action without `rules` is meaningless as it will never be triggered, add an empty rule `{}` if you want it be triggered for every request",
        );
    }
    for (i, rule) in rules.into_iter().flatten().enumerate() {
        let rp = format!("spec.rules[{i}]");
        let Some(rule) = rule else {
            e.add(&rp, format!("`rule` must not be nil, found at rule {i}"));
            continue;
        };
        if rule.from.as_ref().is_some_and(Vec::is_empty) {
            e.add(format!("{rp}.from"), format!("`from` must not be empty, found at rule {i}"));
        }
        for (j, from) in rule.from.iter().flatten().enumerate() {
            let fp = format!("{rp}.from[{j}]");
            match from {
                None => e.add(&fp, format!("`from` must not be nil, found at rule {i}")),
                Some(sec::RuleFrom { source: None }) => {
                    e.add(
                        format!("{fp}.source"),
                        format!("`from.source` must not be nil, found at rule {i}"),
                    );
                }
                Some(sec::RuleFrom { source: Some(s) }) => source(s, &format!("{fp}.source"), e),
            }
        }
        if rule.to.as_ref().is_some_and(Vec::is_empty) {
            e.add(format!("{rp}.to"), format!("`to` must not be empty, found at rule {i}"));
        }
        for (j, to) in rule.to.iter().flatten().enumerate() {
            let tp = format!("{rp}.to[{j}]");
            match to {
                None => e.add(&tp, format!("`to` must not be nil, found at rule {i}")),
                Some(sec::RuleTo { operation: None }) => {
                    e.add(
                        format!("{tp}.operation"),
                        format!("`to.operation` must not be nil, found at rule {i}"),
                    );
                }
                Some(sec::RuleTo { operation: Some(o) }) => {
                    operation(o, &format!("{tp}.operation"), e)
                }
            }
        }
        for (j, c) in rule.when.iter().enumerate() {
            let cp = format!("{rp}.when[{j}]");
            if c.key.is_empty() {
                e.add(format!("{cp}.key"), "`key` must not be empty");
            } else if c.values.is_empty() && c.not_values.is_empty() {
                e.add(
                    &cp,
                    format!(
                        "at least one of `values` or `notValues` must be set for key {}",
                        c.key
                    ),
                );
            } else {
                condition_values(&c.key, &c.values, &format!("{cp}.values"), e);
                condition_values(&c.key, &c.not_values, &format!("{cp}.notValues"), e);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// PeerAuthentication and RequestAuthentication
// ---------------------------------------------------------------------------------------------

fn peer_authentication(pa: &sec::PeerAuthentication, e: &mut Errs) {
    let empty_selector = pa.selector.as_ref().is_none_or(|s| s.match_labels.is_empty());
    if let Some(ports) = &pa.port_level_mtls {
        let p = "spec.portLevelMtls";
        if ports.is_empty() {
            e.add(p, "should have at least 1 properties (port level mTLS, if defined, must have at least one element)");
        } else if empty_selector {
            e.add(
                p,
                "portLevelMtls requires selector (mesh/namespace peer authentication cannot have port level mTLS)",
            );
        }
        for key in ports.keys() {
            match key.parse::<i64>() {
                Err(_) => e.add(
                    format!("{p}.{key}"),
                    format!("type conversion error from string {key:?} to integer: port must be a number"),
                ),
                Ok(n) => e.check(format!("{p}.{key}"), validate_port(n)),
            }
        }
    }
    selector(pa.selector.as_ref(), "spec.selector", e);
}

fn request_authentication(ra: &sec::RequestAuthentication, e: &mut Errs) {
    one_of_selector(ra.selector.as_ref(), ra.target_ref.as_ref(), &ra.target_refs, e);
    selector(ra.selector.as_ref(), "spec.selector", e);
    target_refs(ra.target_ref.as_ref(), &ra.target_refs, e);
    for (i, rule) in ra.jwt_rules.iter().enumerate() {
        jwt_rule(rule, &format!("spec.jwtRules[{i}]"), e);
    }
}

const MIN_LEN: &str = "should be at least 1 chars long";

fn non_empty_items(list: &[String], p: &str, what: &str, e: &mut Errs) {
    for (i, v) in list.iter().enumerate() {
        if v.is_empty() {
            e.add(format!("{p}[{i}]"), format!("{MIN_LEN} ({what} must be non-empty string)"));
        }
    }
}

fn jwt_rule(r: &sec::JwtRule, p: &str, e: &mut Errs) {
    non_empty_items(&r.audiences, &format!("{p}.audiences"), "audience", e);
    if r.issuer.is_empty() && r.jwks_uri.is_empty() {
        e.add(format!("{p}.issuer"), "issuer or jwksUri must be non-empty string");
    }
    if !r.jwks_uri.is_empty() {
        e.check(format!("{p}.jwksUri"), jwks_uri(&r.jwks_uri));
    }
    if !r.jwks.is_empty() && !serde_json::from_str::<Value>(&r.jwks).is_ok_and(|v| v.is_object()) {
        e.add(format!("{p}.jwks"), "jwks parse error: not a JSON Web Key Set");
    }
    for (i, h) in r.from_headers.iter().enumerate() {
        let f = format!("{p}.fromHeaders[{i}].name");
        match h.name.as_deref() {
            None => e.add(f, "Required value"),
            Some("") => {
                e.add(f, format!("{MIN_LEN} (location header name must be non-empty string)"))
            }
            Some(_) => {}
        }
    }
    non_empty_items(&r.from_params, &format!("{p}.fromParams"), "location query", e);
    non_empty_items(&r.from_cookies, &format!("{p}.fromCookies"), "cookie name", e);
    non_empty_items(&r.space_delimited_claims, &format!("{p}.spaceDelimitedClaims"), "claim", e);
    for (i, c) in r.output_claim_to_headers.iter().enumerate() {
        let cp = format!("{p}.outputClaimToHeaders[{i}]");
        match c.header.as_deref() {
            None => e.add(format!("{cp}.header"), "Required value"),
            Some("") => e.add(format!("{cp}.header"), MIN_LEN),
            Some(h) => {
                if validate_header_name(h).is_err() {
                    e.add(
                        format!("{cp}.header"),
                        format!("{h:?}: should match '^[-_A-Za-z0-9]+$'"),
                    );
                }
            }
        }
        match c.claim.as_deref() {
            None => e.add(format!("{cp}.claim"), "Required value"),
            Some("") => e.add(format!("{cp}.claim"), MIN_LEN),
            Some(_) => {}
        }
    }
    e.duration(format!("{p}.timeout"), r.timeout.as_ref());
}

/// `jwksUri` must be an `http://` or `https://` URL.
fn jwks_uri(uri: &str) -> Result<(), String> {
    if uri.chars().any(|c| c.is_control() || c == ' ') {
        return Err(format!(
            "{uri:?}: invalid character in URL; url must have scheme http:// or https://"
        ));
    }
    let scheme = uri.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    match scheme.as_deref() {
        Some("http" | "https") => {
            let rest = uri.split_once("://").map_or("", |(_, r)| r);
            if rest.is_empty() || rest.starts_with('/') {
                Err(format!("{uri:?}: url must have a host"))
            } else {
                Ok(())
            }
        }
        _ => Err(format!("{uri:?}: url must have scheme http:// or https://")),
    }
}

// ---------------------------------------------------------------------------------------------
// Telemetry
// ---------------------------------------------------------------------------------------------

fn providers(list: &[Option<tel::ProviderRef>], p: &str, e: &mut Errs) {
    for (i, pr) in list.iter().enumerate() {
        let f = format!("{p}[{i}]");
        match pr {
            None => e.add(f, "must be of type object (providers may not be null)"),
            Some(pr) if pr.name.is_empty() => {
                e.add(format!("{f}.name"), format!("{MIN_LEN} (providers.name may not be empty)"));
            }
            Some(_) => {}
        }
    }
}

fn telemetry(t: &tel::Telemetry, e: &mut Errs) {
    one_of_selector(t.selector.as_ref(), t.target_ref.as_ref(), &t.target_refs, e);
    selector(t.selector.as_ref(), "spec.selector", e);
    target_refs(t.target_ref.as_ref(), &t.target_refs, e);
    for (i, m) in t.metrics.iter().enumerate() {
        let Some(m) = m else { continue };
        let p = format!("spec.metrics[{i}]");
        providers(&m.providers, &format!("{p}.providers"), e);
        e.duration(format!("{p}.reportingInterval"), m.reporting_interval.as_ref());
        for (j, o) in m.overrides.iter().enumerate() {
            let op = format!("{p}.overrides[{j}]");
            let Some(o) = o else {
                e.add(&op, "tagOverrides may not be null");
                continue;
            };
            for (name, to) in &o.tag_overrides {
                let tp = format!("{op}.tagOverrides.{name}");
                let Some(to) = to else {
                    e.add(&tp, "tagOverrides may not be null");
                    continue;
                };
                let has_value = to.value.as_ref().is_some_and(|v| !v.is_empty());
                match to.operation.unwrap_or_default() {
                    tel::TagOperation::UPSERT if !has_value => {
                        e.add(format!("{tp}.value"), "value must be set when operation is UPSERT");
                    }
                    tel::TagOperation::REMOVE if has_value => {
                        e.add(
                            format!("{tp}.value"),
                            "value must not be set when operation is REMOVE",
                        );
                    }
                    _ => {}
                }
            }
            if let Some(sel) = &o.r#match {
                if sel.metric.is_some() && sel.custom_metric.is_some() {
                    e.add(format!("{op}.match"), "only one of metric or customMetric may be set");
                }
                if sel.custom_metric.as_deref() == Some("") {
                    e.add(
                        format!("{op}.match.customMetric"),
                        format!("{MIN_LEN} (customMetric may not be empty)"),
                    );
                }
            }
        }
    }
    for (i, tr) in t.tracing.iter().enumerate() {
        let Some(tr) = tr else { continue };
        let p = format!("spec.tracing[{i}]");
        providers(&tr.providers, &format!("{p}.providers"), e);
        if let Some(pc) = tr.random_sampling_percentage {
            if !(0.0..=100.0).contains(&pc) {
                e.add(
                    format!("{p}.randomSamplingPercentage"),
                    "randomSamplingPercentage must be in range [0.0, 100.0]",
                );
            }
        }
        for (name, tag) in &tr.custom_tags {
            let tp = format!("{p}.customTags.{name}");
            if name.is_empty() {
                e.add(&tp, "tag name may not be empty");
            }
            let Some(tag) = tag else {
                e.add(&tp, format!("tag '{name}' may not have a nil value"));
                continue;
            };
            let kinds = usize::from(tag.literal.is_some())
                + usize::from(tag.environment.is_some())
                + usize::from(tag.header.is_some());
            if kinds > 1 {
                e.add(&tp, "only one of literal, environment or header may be set");
            }
            if tag.literal.as_ref().is_some_and(|l| l.value.is_empty()) {
                e.add(format!("{tp}.literal.value"), "literal tag value may not be empty");
            }
            if tag.header.as_ref().is_some_and(|h| h.name.is_empty()) {
                e.add(format!("{tp}.header.name"), "header tag name may not be empty");
            }
            if tag.environment.as_ref().is_some_and(|h| h.name.is_empty()) {
                e.add(format!("{tp}.environment.name"), "environment tag name may not be empty");
            }
        }
    }
    for (i, l) in t.access_logging.iter().enumerate() {
        let Some(l) = l else { continue };
        providers(&l.providers, &format!("spec.accessLogging[{i}].providers"), e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(kind: &str, spec: serde_json::Value) -> Vec<FieldError> {
        validate_spec(kind, &serde_json::json!({ "spec": spec, "metadata": {"namespace": "ns"} }))
    }

    fn vs_with_weights(ws: &[i64]) -> serde_json::Value {
        let routes: Vec<_> = ws
            .iter()
            .map(|w| serde_json::json!({"destination": {"host": "a"}, "weight": w}))
            .collect();
        serde_json::json!({"hosts": ["a"], "http": [{"route": routes}]})
    }

    #[test]
    fn weights_must_sum_to_100() {
        assert!(errors("VirtualService", vs_with_weights(&[80, 20])).is_empty());
        assert!(errors("VirtualService", vs_with_weights(&[100])).is_empty());
        assert!(errors("VirtualService", vs_with_weights(&[0])).is_empty());
        let e = errors("VirtualService", vs_with_weights(&[80, 30]));
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].field, "spec.http[0].route");
        assert!(e[0].message.contains("!= 100"));
        let e = errors("VirtualService", vs_with_weights(&[0, 0]));
        assert!(e[0].message.contains("total destination weight = 0"));
        let e = errors("VirtualService", vs_with_weights(&[-10, 110]));
        assert!(e.iter().any(|x| x.field == "spec.http[0].route[0].weight"), "{e:?}");
    }

    #[test]
    fn typo_is_reported_with_path() {
        let spec = serde_json::json!({"hosts": ["a"], "http": [{"route": [{"destination": {"hostt": "a"}}]}]});
        let e = errors("VirtualService", spec);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].field, "spec.http[0].route[0].destination.hostt");
    }

    #[test]
    fn every_problem_is_collected() {
        let spec = serde_json::json!({
            "hosts": ["example.com"],
            "ports": [{"name": "a", "number": 0}, {"name": "a", "number": 0}],
        });
        let e = errors("ServiceEntry", spec);
        let fields: Vec<_> = e.iter().map(|x| x.field.as_str()).collect();
        assert!(fields.contains(&"spec.ports[0].number"), "{fields:?}");
        assert!(fields.contains(&"spec.ports[1].number"), "{fields:?}");
        assert!(fields.contains(&"spec.ports[1].name"), "{fields:?}");
    }

    #[test]
    fn durations_in_specs() {
        let dr = |d: &str| serde_json::json!({"host": "a", "trafficPolicy": {"connectionPool": {"tcp": {"connectTimeout": d}}}});
        assert!(errors("DestinationRule", dr("1.5s")).is_empty());
        let e = errors("DestinationRule", dr("0s"));
        assert_eq!(e[0].field, "spec.trafficPolicy.connectionPool.tcp.connectTimeout");
        let e = errors("DestinationRule", dr("soon"));
        assert_eq!(e[0].field, "spec.trafficPolicy.connectionPool.tcp.connectTimeout");
        assert!(e[0].message.contains("must be a valid duration"));
    }

    #[test]
    fn enums_by_name_or_number() {
        let pa = |m: serde_json::Value| serde_json::json!({"mtls": {"mode": m}});
        assert!(errors("PeerAuthentication", pa("STRICT".into())).is_empty());
        assert!(errors("PeerAuthentication", pa(3.into())).is_empty());
        let e = errors("PeerAuthentication", pa("BLAH".into()));
        assert!(e[0].message.contains("Unsupported value: \"BLAH\""), "{e:?}");
        assert_eq!(e[0].field, "spec.mtls.mode");
    }

    #[test]
    fn gateway_sidecar_and_tls_rules() {
        let gw = |proto: &str, tls: serde_json::Value| serde_json::json!({"servers": [{"port": {"number": 443, "name": "p", "protocol": proto}, "hosts": ["*"], "tls": tls}]});
        let e = errors("Gateway", gw("HTTPS", serde_json::Value::Null));
        assert_eq!(e[0].field, "spec.servers[0].tls", "{e:?}");
        let e = errors("Gateway", gw("HTTPS", serde_json::json!({"mode": "SIMPLE"})));
        assert_eq!(e.len(), 2, "SIMPLE needs a certificate and a key: {e:?}");
        assert!(errors(
            "Gateway",
            gw("HTTPS", serde_json::json!({"mode": "SIMPLE", "credentialName": "c"}))
        )
        .is_empty());
        assert!(
            errors("Gateway", gw("HTTP", serde_json::json!({"httpsRedirect": true}))).is_empty()
        );
        assert!(!errors(
            "Gateway",
            gw("HTTP", serde_json::json!({"mode": "SIMPLE", "credentialName": "c"}))
        )
        .is_empty());

        let sc = |h: &str| serde_json::json!({"egress": [{"hosts": [h]}]});
        assert!(errors("Sidecar", sc("./*")).is_empty());
        assert!(errors("Sidecar", sc("istio-system/*.example.com")).is_empty());
        assert_eq!(errors("Sidecar", sc("example.com"))[0].field, "spec.egress[0].hosts[0]");
        assert!(!errors("Sidecar", sc("ns/foo*.com")).is_empty());

        let vs = |sni: &str| serde_json::json!({"hosts": ["*.example.com"], "tls": [{"match": [{"sniHosts": [sni]}], "route": [{"destination": {"host": "a"}}]}]});
        assert!(errors("VirtualService", vs("a.example.com")).is_empty());
        let e = errors("VirtualService", vs("a.other.com"));
        assert_eq!(e[0].field, "spec.tls[0].match[0].sniHosts[0]");
    }

    #[test]
    fn service_entry_static_endpoints() {
        let se = |addr: &str, port: &str| {
            serde_json::json!({"hosts": ["a.example.com"], "resolution": "STATIC",
                "ports": [{"number": 80, "name": "http"}], "endpoints": [{"address": addr, "ports": {port: 8080}}]})
        };
        assert!(errors("ServiceEntry", se("10.0.0.1", "http")).is_empty());
        let e = errors("ServiceEntry", se("a.example.com", "http"));
        assert_eq!(e[0].field, "spec.endpoints[0].address", "STATIC needs IPs: {e:?}");
        let e = errors("ServiceEntry", se("10.0.0.1", "grpc"));
        assert_eq!(e[0].field, "spec.endpoints[0].ports.grpc", "{e:?}");
    }

    #[test]
    fn host_rules() {
        let vs = |h: &str| serde_json::json!({"hosts": [h], "http": [{"route": [{"destination": {"host": "a"}}]}]});
        assert!(errors("VirtualService", vs("*.example.com")).is_empty());
        assert!(!errors("VirtualService", vs("*")).is_empty(), "mesh-bound * is refused");
        assert!(!errors("VirtualService", vs("foo*.com")).is_empty());
        let se = |h: &str| serde_json::json!({"hosts": [h], "resolution": "DNS"});
        assert!(!errors("ServiceEntry", se("*.example.com")).is_empty(), "DNS needs FQDN hosts");
        assert!(errors("ServiceEntry", se("example.com")).is_empty());
    }
}
