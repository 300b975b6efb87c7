//! Connection pool settings (`ConnectionPoolSettings`, TCP and HTTP), shared by
//! DestinationRule traffic policies and Sidecar inbound listeners, with their rules
//! (non-negative limits, durations, the HTTP/2 upgrade conflict).

use serde::Deserialize;

use crate::common::{istio_enum, Duration};
use crate::rules::Errs;

/// `ConnectionPoolSettings`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConnectionPoolSettings {
    /// TCP settings.
    pub tcp: Option<TcpSettings>,
    /// HTTP settings.
    pub http: Option<HttpSettings>,
}

/// `ConnectionPoolSettings.TCPSettings`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TcpSettings {
    /// Maximum connections.
    #[serde(default)]
    pub max_connections: i32,
    /// Connect timeout.
    pub connect_timeout: Option<Duration>,
    /// Keepalive.
    pub tcp_keepalive: Option<TcpKeepalive>,
    /// Maximum connection lifetime.
    pub max_connection_duration: Option<Duration>,
    /// Idle timeout.
    pub idle_timeout: Option<Duration>,
}

/// `ConnectionPoolSettings.TCPSettings.TcpKeepalive`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TcpKeepalive {
    /// Probe count.
    #[serde(default)]
    pub probes: u32,
    /// Idle time before probing.
    pub time: Option<Duration>,
    /// Probe interval.
    pub interval: Option<Duration>,
}

istio_enum!(
    /// `ConnectionPoolSettings.HTTPSettings.H2UpgradePolicy`.
    H2UpgradePolicy { DEFAULT = 0, DO_NOT_UPGRADE = 1, UPGRADE = 2 }
);

/// `ConnectionPoolSettings.HTTPSettings`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpSettings {
    /// Maximum pending HTTP/1.1 requests.
    #[serde(default)]
    pub http1_max_pending_requests: i32,
    /// Maximum active requests.
    #[serde(default)]
    pub http2_max_requests: i32,
    /// Maximum requests per connection.
    #[serde(default)]
    pub max_requests_per_connection: i32,
    /// Maximum outstanding retries.
    #[serde(default)]
    pub max_retries: i32,
    /// Idle timeout.
    pub idle_timeout: Option<Duration>,
    /// HTTP/2 upgrade policy.
    pub h2_upgrade_policy: Option<H2UpgradePolicy>,
    /// Keep the client's protocol.
    #[serde(default)]
    pub use_client_protocol: bool,
    /// Maximum concurrent streams.
    #[serde(default)]
    pub max_concurrent_streams: i32,
    /// HTTP/2 keepalive pings.
    pub http2_keep_alive: Option<Http2KeepAlive>,
}

/// HTTP/2 keepalive (PING) settings.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Http2KeepAlive {
    /// Interval between pings.
    pub interval: Option<Duration>,
    /// Time to wait for a ping response.
    pub timeout: Option<Duration>,
    /// Idle time before a ping is sent.
    pub connection_idle_interval: Option<Duration>,
}

// ---------------------------------------------------------------------------------------------
// Rules
// ---------------------------------------------------------------------------------------------

/// Istio's checks of a connection pool at `p`.
pub(super) fn validate(c: &ConnectionPoolSettings, p: &str, e: &mut Errs) {
    if c.http.is_none() && c.tcp.is_none() {
        e.add(p, "connection pool must have at least one field");
        return;
    }
    if let Some(h) = &c.http {
        let hp = format!("{p}.http");
        let non_negative = [
            ("http1MaxPendingRequests", h.http1_max_pending_requests),
            ("http2MaxRequests", h.http2_max_requests),
            ("maxRequestsPerConnection", h.max_requests_per_connection),
            ("maxRetries", h.max_retries),
            ("maxConcurrentStreams", h.max_concurrent_streams),
        ];
        for (name, v) in non_negative {
            if v < 0 {
                e.add(format!("{hp}.{name}"), format!("{name} must be non-negative"));
            }
        }
        e.duration(format!("{hp}.idleTimeout"), h.idle_timeout.as_ref());
        if h.h2_upgrade_policy == Some(H2UpgradePolicy::UPGRADE) && h.use_client_protocol {
            e.add(&hp, "use client protocol must not be true when H2UpgradePolicy is UPGRADE");
        }
        if let Some(k) = &h.http2_keep_alive {
            let kp = format!("{hp}.http2KeepAlive");
            e.duration(format!("{kp}.interval"), k.interval.as_ref());
            e.duration(format!("{kp}.timeout"), k.timeout.as_ref());
            e.duration(format!("{kp}.connectionIdleInterval"), k.connection_idle_interval.as_ref());
        }
    }
    if let Some(t) = &c.tcp {
        let tp = format!("{p}.tcp");
        if t.max_connections < 0 {
            e.add(format!("{tp}.maxConnections"), "max connections must be non-negative");
        }
        e.duration(format!("{tp}.connectTimeout"), t.connect_timeout.as_ref());
        e.duration(format!("{tp}.maxConnectionDuration"), t.max_connection_duration.as_ref());
        e.duration(format!("{tp}.idleTimeout"), t.idle_timeout.as_ref());
        if let Some(k) = &t.tcp_keepalive {
            e.duration(format!("{tp}.tcpKeepalive.time"), k.time.as_ref());
            e.duration(format!("{tp}.tcpKeepalive.interval"), k.interval.as_ref());
        }
    }
}
