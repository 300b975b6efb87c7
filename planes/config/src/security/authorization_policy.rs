//! `AuthorizationPolicy`: its types (rules of sources, operations and conditions) and Istio's
//! rules for them, including what the CUSTOM and DENY actions require.

use std::sync::OnceLock;

use regex::Regex;
use serde::Deserialize;

use crate::common::{istio_enum, PolicyTargetReference, WorkloadSelector};
use crate::rules::{compiled, is_ip, one_of_selector, parse_cidr, selector, target_refs, Errs};

istio_enum!(
    /// `AuthorizationPolicy.Action`.
    Action { ALLOW = 0, DENY = 1, AUDIT = 2, CUSTOM = 3 }
);

/// `AuthorizationPolicy` spec.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthorizationPolicy {
    /// Workloads it applies to.
    pub selector: Option<WorkloadSelector>,
    /// Resource it applies to.
    pub target_ref: Option<PolicyTargetReference>,
    /// Resources it applies to.
    #[serde(default)]
    pub target_refs: Vec<PolicyTargetReference>,
    /// Rules (absent and empty differ for DENY/CUSTOM).
    pub rules: Option<Vec<Option<Rule>>>,
    /// Action.
    pub action: Option<Action>,
    /// External authorizer (CUSTOM).
    pub provider: Option<ExtensionProvider>,
}

/// `AuthorizationPolicy.ExtensionProvider`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExtensionProvider {
    /// Provider name from mesh config.
    #[serde(default)]
    pub name: String,
}

/// `Rule`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rule {
    /// Sources (OR-ed).
    pub from: Option<Vec<Option<RuleFrom>>>,
    /// Operations (OR-ed).
    pub to: Option<Vec<Option<RuleTo>>>,
    /// Extra conditions (AND-ed).
    #[serde(default)]
    pub when: Vec<Condition>,
}

/// `Rule.From`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RuleFrom {
    /// Source.
    pub source: Option<Source>,
}

/// `Rule.To`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RuleTo {
    /// Operation.
    pub operation: Option<Operation>,
}

/// `Source`. Absent and empty lists differ (TCP-vs-HTTP attribute detection).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Source {
    /// Peer identities.
    pub principals: Option<Vec<String>>,
    /// Negated peer identities.
    pub not_principals: Option<Vec<String>>,
    /// Request identities.
    pub request_principals: Option<Vec<String>>,
    /// Negated request identities.
    pub not_request_principals: Option<Vec<String>>,
    /// Peer namespaces.
    pub namespaces: Option<Vec<String>>,
    /// Negated peer namespaces.
    pub not_namespaces: Option<Vec<String>>,
    /// Peer service accounts (`ns/sa` or `sa`).
    pub service_accounts: Option<Vec<String>>,
    /// Negated peer service accounts.
    pub not_service_accounts: Option<Vec<String>>,
    /// Source IP blocks.
    pub ip_blocks: Option<Vec<String>>,
    /// Negated source IP blocks.
    pub not_ip_blocks: Option<Vec<String>>,
    /// Original client IP blocks.
    pub remote_ip_blocks: Option<Vec<String>>,
    /// Negated original client IP blocks.
    pub not_remote_ip_blocks: Option<Vec<String>>,
    /// Peer trust domains.
    pub trust_domains: Option<Vec<String>>,
    /// Negated peer trust domains.
    pub not_trust_domains: Option<Vec<String>>,
}

/// `Operation`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Operation {
    /// Hosts.
    pub hosts: Option<Vec<String>>,
    /// Negated hosts.
    pub not_hosts: Option<Vec<String>>,
    /// Ports.
    pub ports: Option<Vec<String>>,
    /// Negated ports.
    pub not_ports: Option<Vec<String>>,
    /// Methods.
    pub methods: Option<Vec<String>>,
    /// Negated methods.
    pub not_methods: Option<Vec<String>>,
    /// Paths.
    pub paths: Option<Vec<String>>,
    /// Negated paths.
    pub not_paths: Option<Vec<String>>,
}

/// `Condition`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Condition {
    /// Attribute name.
    #[serde(default)]
    pub key: String,
    /// Allowed values.
    #[serde(default)]
    pub values: Vec<String>,
    /// Disallowed values.
    #[serde(default)]
    pub not_values: Vec<String>,
}

// ---------------------------------------------------------------------------------------------
// Rules
// ---------------------------------------------------------------------------------------------

/// Istio's rules for an `AuthorizationPolicy` spec.
pub(crate) fn validate(ap: &AuthorizationPolicy, e: &mut Errs) {
    use Action as A;
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
                Some(RuleFrom { source: None }) => {
                    e.add(
                        format!("{fp}.source"),
                        format!("`from.source` must not be nil, found at rule {i}"),
                    );
                }
                Some(RuleFrom { source: Some(s) }) => source(s, &format!("{fp}.source"), e),
            }
        }
        if rule.to.as_ref().is_some_and(Vec::is_empty) {
            e.add(format!("{rp}.to"), format!("`to` must not be empty, found at rule {i}"));
        }
        for (j, to) in rule.to.iter().flatten().enumerate() {
            let tp = format!("{rp}.to[{j}]");
            match to {
                None => e.add(&tp, format!("`to` must not be nil, found at rule {i}")),
                Some(RuleTo { operation: None }) => {
                    e.add(
                        format!("{tp}.operation"),
                        format!("`to.operation` must not be nil, found at rule {i}"),
                    );
                }
                Some(RuleTo { operation: Some(o) }) => operation(o, &format!("{tp}.operation"), e),
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

fn source(s: &Source, p: &str, e: &mut Errs) {
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

fn operation(o: &Operation, p: &str, e: &mut Errs) {
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
