//! Typed specs of the security.istio.io kinds (AuthorizationPolicy, PeerAuthentication,
//! RequestAuthentication), with the field names of Istio's API reference, and Istio's rules for
//! them. Every struct refuses unknown fields so a typo is reported with its path.
//!
//! One file per kind holds its types and its rules, as in [`crate::networking`]; everything is
//! re-exported here, so `security::AuthorizationPolicy` and the like are the public paths.

pub(crate) mod authorization_policy;
pub(crate) mod peer_authentication;
pub(crate) mod request_authentication;

pub use authorization_policy::{
    Action, AuthorizationPolicy, Condition, ExtensionProvider, Operation, Rule, RuleFrom, RuleTo,
    Source,
};
pub use peer_authentication::{MtlsMode, MutualTls, PeerAuthentication};
pub use request_authentication::{
    ClaimToHeader, JwtHeader, JwtPresence, JwtRule, RequestAuthentication,
};
