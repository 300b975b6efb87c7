//! The toolkit every kind's rules are written with: `Errs`, which collects each problem with
//! its field path (`spec.http[0].route[1].weight`) rather than stopping at the first; the rules
//! several kinds share (string matches, labels and selectors, policy target references,
//! `exportTo`, `namespace/host` entries, percentages); and Istio's primitive checks (DNS labels
//! and hostnames, ports, IP addresses and CIDRs, label maps, protocols, header names and values,
//! regexes, Unix sockets).
//!
//! A rule used by one kind lives beside that kind's types (`networking::gateway`, …); only what
//! two or more kinds use is here, so each kind's file reads top to bottom on its own. The
//! primitive checks are public and re-exported from [`crate::common`], where they were first
//! published.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::OnceLock;

use regex::Regex;

use crate::common::{
    Duration, PolicyTargetReference, Protocol, StringMap, StringMatch, WorkloadSelector,
};
use crate::FieldError;

// ---------------------------------------------------------------------------------------------
// Collecting problems
// ---------------------------------------------------------------------------------------------

/// Collects problems with their paths.
#[derive(Default)]
pub(crate) struct Errs {
    list: Vec<FieldError>,
}

impl Errs {
    /// A problem at `field`.
    pub(crate) fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.list.push(FieldError::new(field, message));
    }

    /// A problem at `field` if `result` is one.
    pub(crate) fn check(&mut self, field: impl Into<String>, result: Result<(), String>) {
        if let Err(m) = result {
            self.add(field, m);
        }
    }

    /// Istio's duration rule (at least 1ms, whole milliseconds) for `d`, when set.
    pub(crate) fn duration(&mut self, field: impl Into<String>, d: Option<&Duration>) {
        if let Some(m) = d.and_then(Duration::check) {
            self.add(field, m);
        }
    }

    /// A problem found while decoding (its path is already built).
    pub(crate) fn push(&mut self, error: FieldError) {
        self.list.push(error);
    }

    /// Every problem, in the order found.
    pub(crate) fn into_list(self) -> Vec<FieldError> {
        self.list
    }
}

// ---------------------------------------------------------------------------------------------
// Rules several kinds share
// ---------------------------------------------------------------------------------------------

/// A `StringMatch` at `p`: at most one of exact, prefix or regex, and a regex that compiles
/// (`what` names the match in messages).
pub(crate) fn string_match(sm: &StringMatch, p: &str, what: &str, e: &mut Errs) {
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

/// Kubernetes label rules for `map`, each problem at `{p}.<key>`.
pub(crate) fn labels(map: &StringMap, p: &str, e: &mut Errs) {
    for (k, m) in validate_labels(map) {
        e.add(format!("{p}.{k}"), m);
    }
}

/// A workload selector's `matchLabels` (no empty keys, no wildcards), when set.
pub(crate) fn selector(sel: Option<&WorkloadSelector>, p: &str, e: &mut Errs) {
    if let Some(s) = sel {
        for (k, m) in validate_selector_labels(&s.match_labels) {
            e.add(format!("{p}.matchLabels.{k}"), m);
        }
    }
}

/// A policy is attached by a selector, a `targetRef` or `targetRefs`: at most one of them.
pub(crate) fn one_of_selector(
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

/// One policy target reference: a well-formed group, kind and name, in the policy's own
/// namespace, to a Service, ServiceEntry or Gateway.
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

/// `spec.targetRef` and every `spec.targetRefs[i]`.
pub(crate) fn target_refs(
    one: Option<&PolicyTargetReference>,
    many: &[PolicyTargetReference],
    e: &mut Errs,
) {
    if let Some(r) = one {
        target_ref(r, "spec.targetRef", e);
    }
    for (i, r) in many.iter().enumerate() {
        target_ref(r, &format!("spec.targetRefs[{i}]"), e);
    }
}

/// The regex in `cell`, compiled from `pattern` on first use (`None` if it does not compile).
pub(crate) fn compiled(
    cell: &'static OnceLock<Option<Regex>>,
    pattern: &str,
) -> Option<&'static Regex> {
    cell.get_or_init(|| Regex::new(pattern).ok()).as_ref()
}

/// Whether `exportTo` may name `~`, "no one": only a ServiceEntry may be hidden that way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ExportToNoOne {
    /// `~` is accepted (alone).
    Allowed,
    /// `~` is refused.
    Refused,
}

/// How far `exportTo` may reach.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ExportReach {
    /// Any namespace.
    AnyNamespace,
    /// Only the object's own namespace, named once (a destination rule with a workload
    /// selector applies only there).
    OwnNamespace,
}

/// `spec.exportTo`: `.`, `*` or namespace names, without duplicates or contradictions.
pub(crate) fn export_to(
    namespace: &str,
    export: &[String],
    no_one: ExportToNoOne,
    reach: ExportReach,
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
            "~" => no_one == ExportToNoOne::Allowed,
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
    if reach == ExportReach::OwnNamespace && !seen.is_empty() {
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

/// An integer percentage in 0..=100.
pub(crate) fn percent_0_100(v: i32, p: &str, e: &mut Errs) {
    if !(0..=100).contains(&v) {
        e.add(p, format!("percentage {v} is not in range 0..100"));
    }
}

/// Whose host entry `namespace_slash_hostname` checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HostEntryOf {
    /// A Gateway server's: a bare `dnsName` and an IP are accepted too.
    Gateway,
    /// A Sidecar egress listener's: `~` is accepted as the namespace.
    Sidecar,
}

/// Gateway/Sidecar hosts: `namespace/dnsName` (gateways also accept a bare `dnsName`).
pub(crate) fn namespace_slash_hostname(host: &str, of: HostEntryOf, p: &str, e: &mut Errs) {
    let Some((ns, name)) = host.split_once('/') else {
        match of {
            HostEntryOf::Gateway => hostname_part(host, of, p, e),
            HostEntryOf::Sidecar => e.add(p, "host must be of form namespace/dnsName"),
        }
        return;
    };
    if ns.is_empty() || name.is_empty() {
        e.add(p, "config namespace and dnsName in host entry cannot be empty");
    }
    let (special, what) = match of {
        HostEntryOf::Gateway => (matches!(ns, "*" | "."), "gateway"),
        HostEntryOf::Sidecar => (matches!(ns, "*" | "." | "~"), "sidecar"),
    };
    if !special && !is_dns1123_label(ns) {
        e.add(p, format!("invalid namespace value {ns:?} in {what}"));
    }
    hostname_part(name, of, p, e);
}

/// The `dnsName` of a host entry: an FQDN (or `*`), possibly with a leading wildcard label,
/// never a partial wildcard.
fn hostname_part(host: &str, of: HostEntryOf, p: &str, e: &mut Errs) {
    if host != "*" && !host.contains('.') {
        e.add(p, "short names (non FQDN) are not allowed");
    }
    if let Err(m) = validate_wildcard_domain(host) {
        if !(of == HostEntryOf::Gateway && is_ip(host)) {
            e.add(p, m);
        }
    }
    if is_partial_wildcard(host) {
        e.add(p, format!("partial wildcard {host:?} not allowed"));
    }
}

/// Kubernetes' wording for an empty string where one is required.
pub(crate) const MIN_LEN: &str = "should be at least 1 chars long";

/// No empty strings in `list` (`what` names an item in messages).
pub(crate) fn non_empty_items(list: &[String], p: &str, what: &str, e: &mut Errs) {
    for (i, v) in list.iter().enumerate() {
        if v.is_empty() {
            e.add(format!("{p}[{i}]"), format!("{MIN_LEN} ({what} must be non-empty string)"));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Primitive checks
// ---------------------------------------------------------------------------------------------

fn matches(cell: &'static OnceLock<Option<Regex>>, pattern: &str, s: &str) -> bool {
    compiled(cell, pattern).is_some_and(|r| r.is_match(s))
}

const DNS1123_LABEL: &str = "[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?";

/// A DNS-1123 label: at most 63 alphanumerics and dashes, not starting or ending with a dash.
pub fn is_dns1123_label(s: &str) -> bool {
    static R: OnceLock<Option<Regex>> = OnceLock::new();
    s.len() <= 63 && matches(&R, &format!("^{DNS1123_LABEL}$"), s)
}

/// A DNS-1123 label that may start with a wildcard: `*`, `*foo`, `*-foo`.
pub fn is_wildcard_dns1123_label(s: &str) -> bool {
    static R: OnceLock<Option<Regex>> = OnceLock::new();
    s.len() <= 63 && matches(&R, &format!(r"^(\*|(\*|\*-)?{DNS1123_LABEL})$"), s)
}

fn dns1123_preconditions(name: &str) -> Result<(), String> {
    if name.len() > 255 {
        return Err(format!("domain name {name:?} too long (max 255)"));
    }
    if name.is_empty() {
        return Err("empty domain name not allowed".into());
    }
    Ok(())
}

fn dns1123_labels(domain: &str) -> Result<(), String> {
    let parts: Vec<&str> = domain.split('.').collect();
    let last = parts.last().copied().unwrap_or_default();
    if !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "domain name {domain:?} invalid (top level domain {last:?} cannot be all-numeric)"
        ));
    }
    for (i, label) in parts.iter().enumerate() {
        // A trailing dot (`istio.io.`) is allowed.
        if i == parts.len() - 1 && label.is_empty() {
            return Ok(());
        }
        if !is_dns1123_label(label) {
            return Err(format!("domain name {domain:?} invalid (label {label:?} invalid)"));
        }
    }
    Ok(())
}

/// A fully-qualified domain name (no wildcard).
pub fn validate_fqdn(fqdn: &str) -> Result<(), String> {
    dns1123_preconditions(fqdn)?;
    dns1123_labels(fqdn)
}

/// A domain name whose first label may be a wildcard (`*`, `*.example.com`, `*x`).
pub fn validate_wildcard_domain(domain: &str) -> Result<(), String> {
    dns1123_preconditions(domain)?;
    let (first, rest) = match domain.split_once('.') {
        Some((f, r)) => (f, Some(r)),
        None => (domain, None),
    };
    if !is_wildcard_dns1123_label(first) {
        return Err(format!("domain name {domain:?} invalid (label {first:?} invalid)"));
    }
    match rest {
        Some(r) => dns1123_labels(r),
        None => Ok(()),
    }
}

/// Whether [`validate_wildcard_domain_for_gateway`] accepts an auto-generated
/// `outbound_.<port>_._.<host>` SNI name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutboundSni {
    /// Accepted (where the host is matched against SNI).
    Allowed,
    /// Checked like any other name.
    Refused,
}

/// Like [`validate_wildcard_domain`], for virtual services bound to gateways: where SNI is
/// matched (`OutboundSni::Allowed`), a host may also be an auto-generated
/// `outbound_.<port>_._.<host>` name.
pub fn validate_wildcard_domain_for_gateway(
    outbound_sni: OutboundSni,
    domain: &str,
) -> Result<(), String> {
    dns1123_preconditions(domain)?;
    let first = domain.split('.').next().unwrap_or_default();
    if outbound_sni == OutboundSni::Allowed && first == "outbound_" {
        static R: OnceLock<Option<Regex>> = OnceLock::new();
        if matches(&R, "outbound_.([0-8].*).*", domain) {
            return Ok(());
        }
        return Err(format!("domain name {domain:?} invalid (label {first:?} invalid)"));
    }
    validate_wildcard_domain(domain)
}

/// A partial wildcard (`foo*`, `*foo.com`) is only a warning in Istio; callers decide.
pub fn is_partial_wildcard(host: &str) -> bool {
    host.contains('*') && host.len() != 1 && !host.starts_with("*.")
}

/// Istio's port range check.
pub fn validate_port(port: i64) -> Result<(), String> {
    if (1..=65535).contains(&port) {
        Ok(())
    } else {
        Err(format!("port must be between 1-65535 (got {port})"))
    }
}

/// An IPv4 or IPv6 address.
pub fn is_ip(s: &str) -> bool {
    s.parse::<IpAddr>().is_ok()
}

/// An address or a CIDR block (`a.b.c.d/xx`, `2001:db8::/64`).
pub fn validate_ip_subnet(s: &str) -> Result<(), String> {
    if s.matches('/').count() == 1 {
        if parse_cidr(s) {
            Ok(())
        } else {
            Err(format!("{s} is not a valid CIDR block"))
        }
    } else if is_ip(s) {
        Ok(())
    } else {
        Err(format!("{s} is not a valid IP"))
    }
}

/// Whether `s` is a CIDR block (host bits may be set, as Go's `netip.ParsePrefix` allows).
pub fn parse_cidr(s: &str) -> bool {
    let Some((addr, bits)) = s.split_once('/') else { return false };
    let Ok(ip) = addr.parse::<IpAddr>() else { return false };
    if bits.is_empty() || !bits.bytes().all(|b| b.is_ascii_digit()) || bits.len() > 3 {
        return false;
    }
    let Ok(bits) = bits.parse::<u32>() else { return false };
    bits <= if ip.is_ipv4() { 32 } else { 128 }
}

/// Kubernetes label key and value rules (`labels.Instance.Validate`). Returns one message per
/// bad entry, with the key it concerns.
pub fn validate_labels(labels: &StringMap) -> Vec<(String, String)> {
    static KEY: OnceLock<Option<Regex>> = OnceLock::new();
    static VALUE: OnceLock<Option<Regex>> = OnceLock::new();
    const QUALIFIED: &str = "(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
    let key_re =
        compiled(&KEY, &format!(r"^({DNS1123_LABEL}(?:\.{DNS1123_LABEL})*/)?({QUALIFIED})$"));
    let mut out = Vec::new();
    for (k, v) in labels {
        match key_re.and_then(|r| r.captures(k)) {
            None => out.push((k.clone(), format!("invalid tag key: {k:?}"))),
            Some(c) => {
                let prefix = c.get(1).map_or(0, |m| m.as_str().len());
                let name = c.get(2).map_or(0, |m| m.as_str().len());
                if prefix > 0 && prefix - 1 > 253 {
                    out.push((
                        k.clone(),
                        format!("invalid tag key: {k:?} (DNS prefix is too long)"),
                    ));
                }
                if name > 63 {
                    out.push((k.clone(), format!("invalid tag key: {k:?} (name is too long)")));
                }
            }
        }
        if !(v.is_empty() || matches(&VALUE, &format!("^{QUALIFIED}$"), v)) {
            out.push((k.clone(), format!("invalid tag value: {v:?}")));
        }
    }
    out
}

/// Selector rule shared by every kind: no empty keys and no `*` in keys or values.
pub fn validate_selector_labels(labels: &StringMap) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (k, v) in labels {
        if k.is_empty() {
            out.push((k.clone(), format!("empty key is not supported in selector: \"{k}={v}\"")));
        }
        if k.contains('*') || v.contains('*') {
            out.push((k.clone(), format!("wildcard is not supported in selector: \"{k}={v}\"")));
        }
    }
    out
}

/// A protocol name is known (empty means "sniff").
pub fn validate_protocol(p: &str) -> Result<(), String> {
    if !p.is_empty() && Protocol::parse(p) == Protocol::Unsupported {
        Err(format!("unsupported protocol: {p}"))
    } else {
        Ok(())
    }
}

/// A port name must be a DNS-1123 label.
pub fn validate_port_name(name: &str) -> Result<(), String> {
    if is_dns1123_label(name) {
        Ok(())
    } else {
        Err(format!("invalid port name: {name:?}"))
    }
}

/// An HTTP header name: `^[-_A-Za-z0-9]+$`.
pub fn validate_header_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("header name cannot be empty".into());
    }
    if name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        Ok(())
    } else {
        Err(format!(
            "header name {name:?} is not a valid header name (should match ^[-_A-Za-z0-9]+$)"
        ))
    }
}

/// A header value for Envoy: no control characters, and `%` only as `%%` or `%VARIABLE%`.
pub fn validate_header_value(value: &str) -> Result<(), String> {
    if value.chars().any(|c| matches!(c as u32, 0x00..=0x08 | 0x0A..=0x1F | 0x7F)) {
        return Err(format!("header value configuration {value:?} is invalid"));
    }
    let bytes = value.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if bytes.get(i + 1) == Some(&b'%') {
                i += 2;
                continue;
            }
            match bytes[i + 1..].iter().position(|&b| b == b'%') {
                Some(end) => i += end + 2,
                None => {
                    return Err(format!(
                        "header value configuration: invalid header value {value:?}: unterminated '%' (use '%%' for a literal '%')"
                    ))
                }
            }
        } else {
            i += 1;
        }
    }
    Ok(())
}

/// A regex in RE2 syntax (checked with the `regex` crate, which implements the same language).
pub fn validate_regex(re: &str, what: &str) -> Result<(), String> {
    if re.len() > 1024 {
        return Err(format!("{what:?}: regex is too large, max length allowed is 1024"));
    }
    Regex::new(re).map(|_| ()).map_err(|e| {
        format!(
            "{what:?}: {}; Istio uses RE2 style regex-based match (https://github.com/google/re2/wiki/Syntax)",
            e.to_string().lines().last().unwrap_or("invalid regex").trim()
        )
    })
}

/// A Unix domain socket path: absolute (not a directory) or abstract (`@name`).
pub fn validate_unix_address(addr: &str) -> Result<(), String> {
    if addr.is_empty() {
        return Err("unix address must not be empty".into());
    }
    if addr.starts_with('@') {
        return Ok(());
    }
    if !addr.starts_with('/') || addr.ends_with('/') {
        return Err(format!("{addr} is not an absolute path to a file"));
    }
    Ok(())
}

/// Istio hostnames (`host.Name`): does `a` fall within `b` (wildcards allowed on either)?
pub fn host_subset_of(a: &str, b: &str) -> bool {
    match (a.strip_prefix('*'), b.strip_prefix('*')) {
        (_, None) => a == b && !a.starts_with('*'),
        (Some(a_rest), Some(b_rest)) => a_rest.ends_with(b_rest),
        (None, Some(b_rest)) => a.ends_with(b_rest),
    }
}

/// Istio hostnames (`host.Name.Matches`): do `a` and `b` overlap?
pub fn host_matches(a: &str, b: &str) -> bool {
    match (a.strip_prefix('*'), b.strip_prefix('*')) {
        (None, None) => a == b,
        (Some(a_rest), None) => b.ends_with(a_rest),
        (None, Some(b_rest)) => a.ends_with(b_rest),
        (Some(a_rest), Some(b_rest)) => a_rest.ends_with(b_rest) || b_rest.ends_with(a_rest),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        for ok in ["example.com", "*.example.com", "*", "*x", "productpage", "istio.io.", "a-b.c"] {
            assert!(validate_wildcard_domain(ok).is_ok(), "{ok}");
        }
        for bad in ["", "foo*", "*.*.com", "a..b", "-a.com", "a.123", "exa mple.com", "a_b.com"] {
            assert!(validate_wildcard_domain(bad).is_err(), "{bad}");
        }
        assert!(validate_fqdn("*.example.com").is_err());
        assert!(validate_fqdn("example.com").is_ok());
        assert!(validate_fqdn(&"a".repeat(256)).is_err());
        assert!(validate_fqdn(&format!("{}.com", "a".repeat(64))).is_err());
        assert!(host_subset_of("a.foo.com", "*.foo.com"));
        assert!(host_subset_of("*.a.foo.com", "*.foo.com"));
        assert!(!host_subset_of("*.foo.com", "a.foo.com"));
        assert!(host_subset_of("x", "*"));
        assert!(host_matches("*.com", "*.foo.com"));
        assert!(host_matches("a.com", "a.com"));
        assert!(!host_matches("a.com", "b.com"));
    }

    #[test]
    fn addresses() {
        assert!(validate_ip_subnet("1.2.3.4").is_ok());
        assert!(validate_ip_subnet("001:db8::").is_ok());
        assert!(validate_ip_subnet("1.2.3.4/16").is_ok());
        assert!(validate_ip_subnet("1.2.3.4/99").is_err());
        assert!(validate_ip_subnet("2001:db8::/64").is_ok());
        assert!(validate_ip_subnet("example.com").is_err());
        assert!(validate_port(65535).is_ok());
        assert!(validate_port(0).is_err());
        assert!(validate_port(65536).is_err());
    }

    #[test]
    fn labels_and_headers() {
        let mut m = StringMap::new();
        m.insert("app".into(), "v1".into());
        m.insert("example.com/team".into(), "".into());
        assert!(validate_labels(&m).is_empty());
        m.insert("bad key".into(), "-x".into());
        assert_eq!(validate_labels(&m).len(), 2);
        assert!(validate_header_name("x-foo_1").is_ok());
        assert!(validate_header_name(":authority").is_err());
        assert!(validate_header_value("100%% %HOSTNAME% x").is_ok());
        assert!(validate_header_value("abc%123").is_err());
        assert!(validate_header_value("%START_TIME%%").is_err());
        assert!(validate_regex("^(.*?;)?(user=dev-123)(;.*)?", "headers").is_ok());
        assert!(validate_regex("(", "uri").is_err());
    }
}
