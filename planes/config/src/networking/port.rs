//! The port messages several networking kinds share: `Port` (a Gateway server's, a
//! ServiceEntry's or a Sidecar listener's port) and `PortSelector` (a route destination's or a
//! per-port traffic policy's). Each kind checks its ports with its own rules (a gateway port
//! needs a name, sidecar ports must be unique), so only the types live here.

use serde::Deserialize;

/// `Port` (Gateway and ServiceEntry).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Port {
    /// Port number.
    #[serde(default)]
    pub number: u32,
    /// Protocol.
    #[serde(default)]
    pub protocol: String,
    /// Port name.
    #[serde(default)]
    pub name: String,
    /// Target port.
    #[serde(default)]
    pub target_port: u32,
}

/// `PortSelector`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PortSelector {
    /// Port number.
    #[serde(default)]
    pub number: u32,
}
