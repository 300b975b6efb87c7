//! Istio's semantic validation (pkg/config/validation and the CRDs' schema/CEL rules), entered
//! through `validate_spec`: the spec is decoded into its kind's typed form (unknown fields and
//! bad values reported with their path), then the kind's rules run. Every problem is collected
//! with its field path; nothing stops at the first error.
//!
//! The networking kinds' rules live beside their types in [`crate::networking`]; the helpers
//! several kinds share are in the crate's `rules` module.

use std::sync::OnceLock;

use regex::Regex;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::common::{parse_cidr, validate_header_name, validate_port};
use super::networking::{
    destination_rule, gateway, service_entry, sidecar, virtual_service, workload_entry,
    workload_group,
};
use super::rules::{
    compiled, is_ip, non_empty_items, one_of_selector, selector, target_refs, Errs, MIN_LEN,
};
use super::security as sec;
use super::telemetry as tel;
use super::FieldError;

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
            return e.into_list();
        }
        None => &empty,
    };
    match kind {
        "VirtualService" => run(spec, &mut e, |s, e| virtual_service::validate(s, namespace, e)),
        "DestinationRule" => run(spec, &mut e, |s, e| destination_rule::validate(s, namespace, e)),
        "Gateway" => run(spec, &mut e, |s, e| gateway::validate(s, name, e)),
        "ServiceEntry" => run(spec, &mut e, |s, e| service_entry::validate(s, namespace, e)),
        "WorkloadEntry" => run(spec, &mut e, |s, e| {
            workload_entry::validate(s, "spec", None, true, true, e);
        }),
        "WorkloadGroup" => run(spec, &mut e, workload_group::validate),
        "Sidecar" => run(spec, &mut e, |s, e| sidecar::validate(s, namespace, e)),
        "AuthorizationPolicy" => run(spec, &mut e, authorization_policy),
        "PeerAuthentication" => run(spec, &mut e, peer_authentication),
        "RequestAuthentication" => run(spec, &mut e, request_authentication),
        "Telemetry" => run(spec, &mut e, telemetry),
        other => e.add("kind", format!("no validation rules for kind {other:?}")),
    }
    e.into_list()
}

fn run<T: DeserializeOwned>(spec: &Value, e: &mut Errs, rules: impl FnOnce(&T, &mut Errs)) {
    match decode::<T>(spec) {
        Ok(typed) => rules(&typed, e),
        Err(fe) => e.push(fe),
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

/// The problems `validate_spec` finds in `spec` for `kind` (in namespace `ns`), for the kinds'
/// unit tests.
#[cfg(test)]
pub(crate) fn spec_errors(kind: &str, spec: Value) -> Vec<FieldError> {
    validate_spec(kind, &serde_json::json!({ "spec": spec, "metadata": {"namespace": "ns"} }))
}

#[cfg(test)]
mod tests {
    use super::spec_errors as errors;

    #[test]
    fn typo_is_reported_with_path() {
        let spec = serde_json::json!({"hosts": ["a"], "http": [{"route": [{"destination": {"hostt": "a"}}]}]});
        let e = errors("VirtualService", spec);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].field, "spec.http[0].route[0].destination.hostt");
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
}
