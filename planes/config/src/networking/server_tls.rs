//! Server-side TLS settings (`ServerTLSSettings`), shared by Gateway servers and Sidecar
//! ingress listeners, with the rules both apply: what each mode requires and forbids. The
//! restrictions only one kind adds (a sidecar refuses some modes and fields) stay with it.

use serde::Deserialize;

use crate::common::istio_enum;
use crate::rules::Errs;

istio_enum!(
    /// `ServerTLSSettings.TLSmode`.
    ServerTlsMode {
        PASSTHROUGH = 0,
        SIMPLE = 1,
        MUTUAL = 2,
        AUTO_PASSTHROUGH = 3,
        ISTIO_MUTUAL = 4,
        OPTIONAL_MUTUAL = 5,
    }
);

istio_enum!(
    /// `ServerTLSSettings.TLSProtocol`.
    TlsProtocol { TLS_AUTO = 0, TLSV1_0 = 1, TLSV1_1 = 2, TLSV1_2 = 3, TLSV1_3 = 4 }
);

/// `ServerTLSSettings`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServerTlsSettings {
    /// Redirect HTTP to HTTPS.
    #[serde(default)]
    pub https_redirect: bool,
    /// Mode.
    pub mode: Option<ServerTlsMode>,
    /// Server certificate path.
    #[serde(default)]
    pub server_certificate: String,
    /// Private key path.
    #[serde(default)]
    pub private_key: String,
    /// CA bundle path.
    #[serde(default)]
    pub ca_certificates: String,
    /// CRL path.
    #[serde(default)]
    pub ca_crl: String,
    /// Secret name.
    #[serde(default)]
    pub credential_name: String,
    /// Secret names.
    #[serde(default)]
    pub credential_names: Vec<String>,
    /// Certificates inline.
    #[serde(default)]
    pub tls_certificates: Vec<TlsCertificate>,
    /// SANs to verify.
    #[serde(default)]
    pub subject_alt_names: Vec<String>,
    /// SPKI hashes.
    #[serde(default)]
    pub verify_certificate_spki: Vec<String>,
    /// Certificate hashes.
    #[serde(default)]
    pub verify_certificate_hash: Vec<String>,
    /// Minimum TLS version.
    pub min_protocol_version: Option<TlsProtocol>,
    /// Maximum TLS version.
    pub max_protocol_version: Option<TlsProtocol>,
    /// Cipher suites.
    #[serde(default)]
    pub cipher_suites: Vec<String>,
}

/// `ServerTLSSettings.TLSCertificate`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TlsCertificate {
    /// Server certificate path.
    #[serde(default)]
    pub server_certificate: String,
    /// Private key path.
    #[serde(default)]
    pub private_key: String,
    /// CA bundle path.
    #[serde(default)]
    pub ca_certificates: String,
}

// ---------------------------------------------------------------------------------------------
// Rules
// ---------------------------------------------------------------------------------------------

/// Istio's checks of server TLS settings at `p`.
pub(super) fn validate(t: &ServerTlsSettings, p: &str, e: &mut Errs) {
    use ServerTlsMode as M;
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
