//! Building blocks shared by every Istio kind: Istio's JSON conventions (durations as strings,
//! enums by name or number, 64-bit integers that may arrive as strings), the common messages
//! (`StringMatch`, workload selectors, policy target references) and the primitive checks
//! Istio's validator applies everywhere (DNS labels and hostnames, ports, IP addresses and
//! CIDRs, label maps, protocols, header names and values, regexes).

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::OnceLock;

use regex::Regex;
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

/// A string-to-string map (labels, annotations, headers to set).
pub type StringMap = BTreeMap<String, String>;

// ---------------------------------------------------------------------------------------------
// Enums
// ---------------------------------------------------------------------------------------------

/// Declares a protobuf enum read from its name (the usual form) or its number (which proto
/// JSON also allows). Anything else is refused with `Unsupported value: "X"`.
macro_rules! istio_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $num:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[allow(non_camel_case_types, clippy::upper_case_acronyms)]
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
        pub enum $name {
            #[default]
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every accepted name, in declaration order.
            pub const NAMES: &'static [&'static str] = &[$(stringify!($variant)),+];

            /// The name as written in configuration.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => stringify!($variant)),+ }
            }

            fn from_name(s: &str) -> Option<Self> {
                match s { $(stringify!($variant) => Some(Self::$variant),)+ _ => None }
            }

            fn from_number(n: i64) -> Option<Self> {
                match n { $($num => Some(Self::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> serde::de::Visitor<'de> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        write!(f, "one of {}", $name::NAMES.join(", "))
                    }
                    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<$name, E> {
                        $name::from_name(s).ok_or_else(|| {
                            E::custom($crate::common::unsupported_value(s, $name::NAMES))
                        })
                    }
                    fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<$name, E> {
                        $name::from_number(n).ok_or_else(|| {
                            E::custom($crate::common::unsupported_value(
                                &n.to_string(),
                                $name::NAMES,
                            ))
                        })
                    }
                    fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<$name, E> {
                        match i64::try_from(n) {
                            Ok(n) => self.visit_i64(n),
                            Err(_) => Err(E::custom($crate::common::unsupported_value(
                                &n.to_string(),
                                $name::NAMES,
                            ))),
                        }
                    }
                }
                d.deserialize_any(V)
            }
        }
    };
}
pub(crate) use istio_enum;

/// Kubernetes' wording for a value outside an enum.
pub fn unsupported_value(got: &str, names: &[&str]) -> String {
    let list = names.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", ");
    format!("Unsupported value: {got:?}: supported values: {list}")
}

// ---------------------------------------------------------------------------------------------
// Durations
// ---------------------------------------------------------------------------------------------

/// A `google.protobuf.Duration`, written as a string such as `"1.5s"`, `"100ms"` or `"1h30m"`
/// (Go duration syntax, which also covers the proto JSON form `"<seconds>s"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration {
    /// Length in nanoseconds (may be negative).
    pub nanos: i128,
}

impl Duration {
    const MS: i128 = 1_000_000;

    /// Parses Go duration syntax: an optional sign, then one or more decimal numbers (with
    /// optional fraction) each followed by a unit (`ns`, `us`, `µs`, `ms`, `s`, `m`, `h`).
    /// `"0"` alone is also accepted.
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || format!("invalid duration {s:?}");
        let (neg, mut rest) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        if rest == "0" {
            return Ok(Self { nanos: 0 });
        }
        if rest.is_empty() {
            return Err(bad());
        }
        let mut total: i128 = 0;
        while !rest.is_empty() {
            let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
            let int_part = &rest[..int_len];
            rest = &rest[int_len..];
            let mut frac_part = "";
            if let Some(after) = rest.strip_prefix('.') {
                let frac_len = after.bytes().take_while(u8::is_ascii_digit).count();
                frac_part = &after[..frac_len];
                rest = &after[frac_len..];
            }
            if int_part.is_empty() && frac_part.is_empty() {
                return Err(bad());
            }
            let unit_len = rest
                .char_indices()
                .find(|(_, c)| c.is_ascii_digit() || *c == '.')
                .map_or(rest.len(), |(i, _)| i);
            let unit: i128 = match &rest[..unit_len] {
                "ns" => 1,
                "us" | "µs" | "μs" => 1_000,
                "ms" => Self::MS,
                "s" => 1_000_000_000,
                "m" => 60_000_000_000,
                "h" => 3_600_000_000_000,
                _ => return Err(bad()),
            };
            rest = &rest[unit_len..];
            let whole: i128 = if int_part.is_empty() {
                0
            } else {
                int_part.parse::<i128>().map_err(|_| bad())?
            };
            let mut value = whole.checked_mul(unit).ok_or_else(bad)?;
            // Fractional digits beyond nanosecond resolution are dropped, as Go does.
            let mut scale = unit;
            for d in frac_part.bytes() {
                scale /= 10;
                if scale == 0 {
                    break;
                }
                value += i128::from(d - b'0') * scale;
            }
            total = total.checked_add(value).ok_or_else(bad)?;
            // Go limits durations to ~292 years.
            if total > i128::from(i64::MAX) {
                return Err(bad());
            }
        }
        Ok(Self { nanos: if neg { -total } else { total } })
    }

    /// Istio's `ValidateDuration`: at least 1ms, and a whole number of milliseconds.
    pub fn check(&self) -> Option<&'static str> {
        if self.nanos < Self::MS {
            Some("duration must be greater than 1ms")
        } else if self.nanos % Self::MS != 0 {
            Some("only durations to ms precision are supported")
        } else {
            None
        }
    }

    /// Whether the duration is a whole number of seconds.
    pub fn whole_seconds(&self) -> bool {
        self.nanos % 1_000_000_000 == 0
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.nanos / Self::MS)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration string such as \"1s\", \"100ms\" or \"1h30m\"")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Duration, E> {
                Duration::parse(s).map_err(|e| {
                    E::custom(format!(
                        "{e}: must be a valid duration greater than 1ms (e.g. \"1s\", \"100ms\", \"1h30m\")"
                    ))
                })
            }
        }
        d.deserialize_str(V)
    }
}

// ---------------------------------------------------------------------------------------------
// 64-bit integers
// ---------------------------------------------------------------------------------------------

/// A `uint64`, accepted as a JSON number or (proto JSON's form) a decimal string.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct U64(pub u64);

impl<'de> Deserialize<'de> for U64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = U64;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a non-negative integer")
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<U64, E> {
                Ok(U64(n))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<U64, E> {
                u64::try_from(n)
                    .map(U64)
                    .map_err(|_| E::custom(format!("{n} must be non-negative")))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<U64, E> {
                s.parse::<u64>().map(U64).map_err(|_| E::custom(format!("{s:?} is not an integer")))
            }
        }
        d.deserialize_any(V)
    }
}

// ---------------------------------------------------------------------------------------------
// Shared messages
// ---------------------------------------------------------------------------------------------

/// `StringMatch`: exactly one of exact, prefix or regex (RE2 syntax).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StringMatch {
    /// Exact string match.
    pub exact: Option<String>,
    /// Prefix match.
    pub prefix: Option<String>,
    /// RE2 regex match.
    pub regex: Option<String>,
}

/// `istio.type.v1beta1.WorkloadSelector`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkloadSelector {
    /// Labels a workload must carry.
    #[serde(default)]
    pub match_labels: StringMap,
}

/// `istio.type.v1beta1.PolicyTargetReference`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicyTargetReference {
    /// API group of the target (empty for core).
    #[serde(default)]
    pub group: String,
    /// Kind of the target.
    #[serde(default)]
    pub kind: String,
    /// Name of the target.
    #[serde(default)]
    pub name: String,
    /// Namespace of the target (must be empty: cross-namespace is not supported).
    #[serde(default)]
    pub namespace: String,
}

// ---------------------------------------------------------------------------------------------
// Primitive checks
// ---------------------------------------------------------------------------------------------

fn re(cell: &'static OnceLock<Option<Regex>>, pattern: &str) -> Option<&'static Regex> {
    cell.get_or_init(|| Regex::new(pattern).ok()).as_ref()
}

fn matches(cell: &'static OnceLock<Option<Regex>>, pattern: &str, s: &str) -> bool {
    re(cell, pattern).is_some_and(|r| r.is_match(s))
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

/// Like [`validate_wildcard_domain`], for virtual services bound to gateways: an SNI host may
/// also be an auto-generated `outbound_.<port>_._.<host>` name.
pub fn validate_wildcard_domain_for_gateway(sni: bool, domain: &str) -> Result<(), String> {
    dns1123_preconditions(domain)?;
    let first = domain.split('.').next().unwrap_or_default();
    if sni && first == "outbound_" {
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
    let key_re = re(&KEY, &format!(r"^({DNS1123_LABEL}(?:\.{DNS1123_LABEL})*/)?({QUALIFIED})$"));
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

/// Istio's protocol names (`protocol.Parse`), case-insensitive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// Plain TCP.
    Tcp,
    /// UDP.
    Udp,
    /// gRPC.
    Grpc,
    /// gRPC-Web.
    GrpcWeb,
    /// HTTP/1.1.
    Http,
    /// HTTP proxy.
    HttpProxy,
    /// HTTP/2.
    Http2,
    /// HTTPS.
    Https,
    /// TLS.
    Tls,
    /// MongoDB.
    Mongo,
    /// Redis.
    Redis,
    /// MySQL.
    MySql,
    /// HBONE tunnel.
    Hbone,
    /// Unknown name.
    Unsupported,
}

impl Protocol {
    /// Parses a protocol name; unknown names give [`Protocol::Unsupported`].
    pub fn parse(s: &str) -> Self {
        match s.to_ascii_lowercase().as_str() {
            "tcp" => Self::Tcp,
            "udp" => Self::Udp,
            "grpc" => Self::Grpc,
            "grpc-web" => Self::GrpcWeb,
            "http" => Self::Http,
            "http_proxy" => Self::HttpProxy,
            "http2" => Self::Http2,
            "https" => Self::Https,
            "tls" => Self::Tls,
            "mongo" => Self::Mongo,
            "redis" => Self::Redis,
            "mysql" => Self::MySql,
            "hbone" => Self::Hbone,
            _ => Self::Unsupported,
        }
    }

    /// HTTP-family protocols.
    pub fn is_http(self) -> bool {
        matches!(self, Self::Http | Self::Http2 | Self::HttpProxy | Self::Grpc | Self::GrpcWeb)
    }

    /// TLS-terminated or TLS-passthrough protocols.
    pub fn is_tls(self) -> bool {
        matches!(self, Self::Https | Self::Tls)
    }

    /// Protocols carried over raw TCP.
    pub fn is_tcp(self) -> bool {
        matches!(
            self,
            Self::Tcp | Self::Https | Self::Tls | Self::Mongo | Self::Redis | Self::MySql
        )
    }
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
    fn durations() {
        let ms = |s: &str| Duration::parse(s).map(|d| d.nanos / 1_000_000);
        assert_eq!(ms("1.5s"), Ok(1500));
        assert_eq!(ms("100ms"), Ok(100));
        assert_eq!(ms("1h"), Ok(3_600_000));
        assert_eq!(ms("1h30m"), Ok(5_400_000));
        assert_eq!(ms("300s"), Ok(300_000));
        assert_eq!(ms("0"), Ok(0));
        assert_eq!(ms("-2s"), Ok(-2000));
        assert_eq!(ms(".5s"), Ok(500));
        for bad in ["apple", "", "1", "s", "1x", "1.s.", "1ss", "-", "99999999999h"] {
            assert!(Duration::parse(bad).is_err(), "{bad} should not parse");
        }
        assert!(Duration::parse("1ms").unwrap().check().is_none());
        assert!(Duration::parse("0s").unwrap().check().is_some());
        assert!(Duration::parse("500us").unwrap().check().is_some());
        assert!(Duration::parse("1500us").unwrap().check().is_some());
        assert!(Duration::parse("-1s").unwrap().check().is_some());
    }

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
