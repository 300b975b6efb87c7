//! The registry of configuration kinds istio-rs serves: group, kind, plural, short names and
//! served versions (one stored form; every served version reads and writes it).

/// One served kind.
#[derive(Debug, PartialEq, Eq)]
pub struct KindInfo {
    /// API group.
    pub group: &'static str,
    /// Kind, e.g. `VirtualService`.
    pub kind: &'static str,
    /// Lower-case plural used in paths, e.g. `virtualservices`.
    pub plural: &'static str,
    /// Short names (`vs`, `dr`, …).
    pub short_names: &'static [&'static str],
    /// Served versions; the first is preferred.
    pub versions: &'static [&'static str],
}

impl KindInfo {
    /// `group/<preferred version>`.
    pub fn preferred_api_version(&self) -> String {
        format!("{}/{}", self.group, self.versions[0])
    }

    /// Lower-case singular name (`virtualservice`).
    pub fn singular(&self) -> String {
        self.kind.to_ascii_lowercase()
    }
}

const NET: &[&str] = &["v1", "v1beta1", "v1alpha3"];
const SEC: &[&str] = &["v1", "v1beta1"];
const TEL: &[&str] = &["v1", "v1alpha1"];

/// Every served kind. All are namespaced.
pub static KINDS: &[KindInfo] = &[
    KindInfo {
        group: "networking.istio.io",
        kind: "VirtualService",
        plural: "virtualservices",
        short_names: &["vs"],
        versions: NET,
    },
    KindInfo {
        group: "networking.istio.io",
        kind: "DestinationRule",
        plural: "destinationrules",
        short_names: &["dr"],
        versions: NET,
    },
    KindInfo {
        group: "networking.istio.io",
        kind: "Gateway",
        plural: "gateways",
        short_names: &["gw"],
        versions: NET,
    },
    KindInfo {
        group: "networking.istio.io",
        kind: "ServiceEntry",
        plural: "serviceentries",
        short_names: &["se"],
        versions: NET,
    },
    KindInfo {
        group: "networking.istio.io",
        kind: "WorkloadEntry",
        plural: "workloadentries",
        short_names: &["we"],
        versions: NET,
    },
    KindInfo {
        group: "networking.istio.io",
        kind: "WorkloadGroup",
        plural: "workloadgroups",
        short_names: &["wg"],
        versions: NET,
    },
    KindInfo {
        group: "networking.istio.io",
        kind: "Sidecar",
        plural: "sidecars",
        short_names: &[],
        versions: NET,
    },
    KindInfo {
        group: "security.istio.io",
        kind: "AuthorizationPolicy",
        plural: "authorizationpolicies",
        short_names: &["ap"],
        versions: SEC,
    },
    KindInfo {
        group: "security.istio.io",
        kind: "PeerAuthentication",
        plural: "peerauthentications",
        short_names: &["pa"],
        versions: SEC,
    },
    KindInfo {
        group: "security.istio.io",
        kind: "RequestAuthentication",
        plural: "requestauthentications",
        short_names: &["ra"],
        versions: SEC,
    },
    KindInfo {
        group: "telemetry.istio.io",
        kind: "Telemetry",
        plural: "telemetries",
        short_names: &["telemetry"],
        versions: TEL,
    },
];

/// The kind for `apiVersion` + `kind`, if served at that version.
pub fn lookup(api_version: &str, kind: &str) -> Option<&'static KindInfo> {
    let (group, version) = api_version.split_once('/')?;
    KINDS.iter().find(|k| k.group == group && k.kind == kind && k.versions.contains(&version))
}

/// The kind served at `/apis/{group}/{version}/…/{plural}`.
pub fn lookup_resource(group: &str, version: &str, plural: &str) -> Option<&'static KindInfo> {
    KINDS.iter().find(|k| k.group == group && k.plural == plural && k.versions.contains(&version))
}

/// The kind a user means by `name`: kind, plural, singular or short name, case-insensitive
/// (`VirtualService`, `virtualservices`, `virtualservice`, `vs`), optionally qualified with a
/// group (`virtualservices.networking.istio.io`).
pub fn lookup_name(name: &str) -> Option<&'static KindInfo> {
    let lower = name.to_ascii_lowercase();
    let (base, group) = match lower.split_once('.') {
        Some((b, g)) => (b.to_owned(), Some(g.to_owned())),
        None => (lower, None),
    };
    KINDS.iter().find(|k| {
        group.as_deref().is_none_or(|g| g == k.group)
            && (base == k.plural
                || base == k.singular()
                || k.short_names.iter().any(|s| *s == base))
    })
}

/// `VirtualService (networking.istio.io/v1, v1beta1, v1alpha3), …`, for error messages.
pub fn supported_list() -> String {
    KINDS
        .iter()
        .map(|k| format!("{} ({}/{})", k.kind, k.group, k.versions.join(", ")))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups() {
        assert_eq!(
            lookup("networking.istio.io/v1alpha3", "VirtualService").unwrap().plural,
            "virtualservices"
        );
        assert!(lookup("networking.istio.io/v2", "VirtualService").is_none());
        assert!(lookup("networking.istio.io/v1alpha3", "EnvoyFilter").is_none());
        assert_eq!(lookup_name("vs").unwrap().kind, "VirtualService");
        assert_eq!(lookup_name("DestinationRules").unwrap().kind, "DestinationRule");
        assert_eq!(lookup_name("gateway.networking.istio.io").unwrap().kind, "Gateway");
        assert_eq!(
            lookup_resource("telemetry.istio.io", "v1alpha1", "telemetries").unwrap().kind,
            "Telemetry"
        );
    }
}
