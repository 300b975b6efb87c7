//! Building blocks shared by every Istio kind: Istio's JSON conventions (durations as strings,
//! enums by name or number, 64-bit integers that may arrive as strings), the common messages
//! (`StringMatch`, workload selectors, policy target references) and Istio's protocol names.
//!
//! The primitive checks Istio's validator applies everywhere (DNS labels and hostnames, ports,
//! IP addresses and CIDRs, label maps, protocols, header names and values, regexes) live with
//! the other shared validation helpers in the crate's `rules` module; they are re-exported here
//! so `common::validate_port` and the like keep their published paths.

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;

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
        // The variants are Istio's own enum values, named as Istio's API reference documents
        // them; a variant carries a doc here only where istio-rs treats it specially.
        #[allow(non_camel_case_types, clippy::upper_case_acronyms, missing_docs)]
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
// Protocols
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Primitive checks (in `rules`)
// ---------------------------------------------------------------------------------------------

pub use crate::rules::{
    host_matches, host_subset_of, is_dns1123_label, is_ip, is_partial_wildcard,
    is_wildcard_dns1123_label, parse_cidr, validate_fqdn, validate_header_name,
    validate_header_value, validate_ip_subnet, validate_labels, validate_port, validate_port_name,
    validate_protocol, validate_regex, validate_selector_labels, validate_unix_address,
    validate_wildcard_domain, validate_wildcard_domain_for_gateway, OutboundSni,
};

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
}
