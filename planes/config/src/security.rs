//! Typed specs of the security.istio.io kinds (AuthorizationPolicy, PeerAuthentication,
//! RequestAuthentication), with the field names of Istio's API reference. Every struct refuses
//! unknown fields so a typo is reported with its path.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::common::{istio_enum, Duration, PolicyTargetReference, WorkloadSelector};

// ---------------------------------------------------------------------------------------------
// AuthorizationPolicy
// ---------------------------------------------------------------------------------------------

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
// PeerAuthentication
// ---------------------------------------------------------------------------------------------

istio_enum!(
    /// `PeerAuthentication.MutualTLS.Mode`.
    MtlsMode { UNSET = 0, DISABLE = 1, PERMISSIVE = 2, STRICT = 3 }
);

/// `PeerAuthentication` spec.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PeerAuthentication {
    /// Workloads it applies to.
    pub selector: Option<WorkloadSelector>,
    /// Workload-wide mTLS.
    pub mtls: Option<MutualTls>,
    /// Per-port mTLS, keyed by port number.
    pub port_level_mtls: Option<BTreeMap<String, MutualTls>>,
}

/// `PeerAuthentication.MutualTLS`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MutualTls {
    /// Mode.
    pub mode: Option<MtlsMode>,
}

// ---------------------------------------------------------------------------------------------
// RequestAuthentication
// ---------------------------------------------------------------------------------------------

/// `RequestAuthentication` spec.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RequestAuthentication {
    /// Workloads it applies to.
    pub selector: Option<WorkloadSelector>,
    /// Resource it applies to.
    pub target_ref: Option<PolicyTargetReference>,
    /// Resources it applies to.
    #[serde(default)]
    pub target_refs: Vec<PolicyTargetReference>,
    /// JWT rules.
    #[serde(default)]
    pub jwt_rules: Vec<JwtRule>,
}

istio_enum!(
    /// Whether a token must be present.
    JwtPresence { OPTIONAL = 0, REQUIRED = 1 }
);

/// `JWTRule`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JwtRule {
    /// Issuer.
    #[serde(default)]
    pub issuer: String,
    /// Accepted audiences.
    #[serde(default)]
    pub audiences: Vec<String>,
    /// JWKS URL.
    #[serde(default)]
    pub jwks_uri: String,
    /// Inline JWKS.
    #[serde(default)]
    pub jwks: String,
    /// Headers carrying the token.
    #[serde(default)]
    pub from_headers: Vec<JwtHeader>,
    /// Query parameters carrying the token.
    #[serde(default)]
    pub from_params: Vec<String>,
    /// Header to receive the payload.
    #[serde(default)]
    pub output_payload_to_header: String,
    /// Cookies carrying the token.
    #[serde(default)]
    pub from_cookies: Vec<String>,
    /// Forward the token upstream.
    #[serde(default)]
    pub forward_original_token: bool,
    /// Claims copied to headers.
    #[serde(default)]
    pub output_claim_to_headers: Vec<ClaimToHeader>,
    /// JWKS fetch timeout.
    pub timeout: Option<Duration>,
    /// Claims split on spaces.
    #[serde(default)]
    pub space_delimited_claims: Vec<String>,
    /// Whether a token is required.
    pub presence: Option<JwtPresence>,
}

/// `JWTHeader`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JwtHeader {
    /// Header name (required).
    pub name: Option<String>,
    /// Prefix before the token.
    #[serde(default)]
    pub prefix: String,
}

/// `ClaimToHeader`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClaimToHeader {
    /// Header name (required).
    pub header: Option<String>,
    /// Claim name (required).
    pub claim: Option<String>,
}
