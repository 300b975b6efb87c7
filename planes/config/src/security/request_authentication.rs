//! `RequestAuthentication`: the JWT rules a workload accepts, and Istio's rules for them
//! (issuer or JWKS URI, well-formed JWKS, token locations, claim-to-header names).

use serde::Deserialize;

use serde_json::Value;

use crate::common::{istio_enum, Duration, PolicyTargetReference, WorkloadSelector};
use crate::rules::{
    non_empty_items, one_of_selector, selector, target_refs, validate_header_name, Errs, MIN_LEN,
};

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

// ---------------------------------------------------------------------------------------------
// Rules
// ---------------------------------------------------------------------------------------------

/// Istio's rules for a `RequestAuthentication` spec.
pub(crate) fn validate(ra: &RequestAuthentication, e: &mut Errs) {
    one_of_selector(ra.selector.as_ref(), ra.target_ref.as_ref(), &ra.target_refs, e);
    selector(ra.selector.as_ref(), "spec.selector", e);
    target_refs(ra.target_ref.as_ref(), &ra.target_refs, e);
    for (i, rule) in ra.jwt_rules.iter().enumerate() {
        jwt_rule(rule, &format!("spec.jwtRules[{i}]"), e);
    }
}

fn jwt_rule(r: &JwtRule, p: &str, e: &mut Errs) {
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
