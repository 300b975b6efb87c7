//! `istiod`'s command line (DESIGN §4): the flags, their one duration form (`250ms`, `24h`;
//! the earlier `--*-ms` integer spellings still accepted, hidden), and the peer-list parser.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use istio_store::NodeId;

/// Command-line flags of `istiod`.
#[derive(Debug, Parser)]
#[command(
    name = "istiod",
    version,
    about = "istio-rs control plane: one member of the replicated event log"
)]
pub struct Args {
    /// This member's id (> 0, unique in the cluster).
    #[arg(long, default_value_t = 1)]
    pub id: NodeId,
    /// Data directory (created if missing); restart with the same one to resume.
    #[arg(long, default_value = "./istiod-data")]
    pub data_dir: PathBuf,
    /// HTTP API listen address.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub http: SocketAddr,
    /// gRPC listen address (config, xDS, CA services; reported in cluster status).
    #[arg(long, default_value = "127.0.0.1:15010")]
    pub grpc: SocketAddr,
    /// Raft peer listen address (cluster members only).
    #[arg(long, default_value = "127.0.0.1:15011")]
    pub raft: SocketAddr,
    /// Static cluster: `1=127.0.0.1:15011,2=…` (every founding member gets the same list).
    #[arg(long, value_parser = parse_peers, conflicts_with = "join")]
    pub peers: Option<BTreeMap<NodeId, SocketAddr>>,
    /// Dial these members at these addresses instead of the Raft address the cluster
    /// advertises for them: `2=127.0.0.1:25011,3=…` (NAT; chaos runs put a fault proxy on each
    /// link this way).
    #[arg(long, value_parser = parse_peers)]
    pub peer_dial: Option<BTreeMap<NodeId, SocketAddr>>,
    /// xDS push debounce: changes within this window become one push (e.g. `100ms`).
    #[arg(long, value_parser = parse_duration_or_zero, default_value = "100ms")]
    pub xds_debounce: Duration,
    /// `--xds-debounce` in milliseconds (the earlier spelling, still accepted).
    #[arg(long, hide = true, conflicts_with = "xds_debounce")]
    pub xds_debounce_ms: Option<u64>,
    /// How long an auto-registered WorkloadEntry outlives its proxy's disconnection before it
    /// is deleted (Istio's PILOT_WORKLOAD_ENTRY_GRACE_PERIOD), e.g. `10s`.
    #[arg(long, value_parser = parse_duration_or_zero, default_value = "10s")]
    pub workload_entry_grace: Duration,
    /// `--workload-entry-grace` in milliseconds (the earlier spelling, still accepted).
    #[arg(long, hide = true, conflicts_with = "workload_entry_grace")]
    pub workload_entry_grace_ms: Option<u64>,
    /// Join an existing cluster through any member's HTTP address, e.g. `http://127.0.0.1:8080`.
    #[arg(long)]
    pub join: Option<String>,
    /// Bearer tokens: a file of `token,user,role` lines (roles viewer, editor, admin). Without
    /// it every client is admitted as `anonymous` with role admin (loopback dev mode only).
    #[arg(long)]
    pub tokens: Option<PathBuf>,
    /// Bearer token (admin) this member presents when it asks to `--join`.
    #[arg(long, env = "ISTIOD_JOIN_TOKEN", hide_env_values = true)]
    pub join_token: Option<String>,
    /// Build a Raft snapshot (and purge the log behind it) every this many entries.
    #[arg(long, default_value_t = 10_000)]
    pub snapshot_logs: u64,
    /// Log entries kept behind a snapshot so lagging followers can catch up without one.
    #[arg(long, default_value_t = 1_000)]
    pub snapshot_keep_logs: u64,
    /// Events retained in the event log before compaction.
    #[arg(long, default_value_t = 100_000)]
    pub retain_revisions: u64,
    /// Also retain events younger than this (e.g. `24h`, `30m`, `7d`): an event is kept while it
    /// is among the last `--retain-revisions` or younger than `--retain-for`.
    #[arg(long, value_parser = parse_duration)]
    pub retain_for: Option<Duration>,
    /// Raft heartbeat interval (e.g. `50ms`).
    #[arg(long, value_parser = parse_duration, default_value = "50ms")]
    pub heartbeat: Duration,
    /// `--heartbeat` in milliseconds (the earlier spelling, still accepted).
    #[arg(long, hide = true, conflicts_with = "heartbeat")]
    pub heartbeat_ms: Option<u64>,
    /// Raft election timeout (minimum, e.g. `300ms`); the maximum is twice this.
    #[arg(long, value_parser = parse_duration, default_value = "300ms")]
    pub election_timeout: Duration,
    /// `--election-timeout` in milliseconds (the earlier spelling, still accepted).
    #[arg(long, hide = true, conflicts_with = "election_timeout")]
    pub election_timeout_ms: Option<u64>,
    /// Once serving, write the bound addresses to this file as JSON (`{"http": ADDR, "grpc":
    /// ADDR, "raft": ADDR, "id": N, "pid": N}`), written whole (to a temporary name, then
    /// renamed). With port 0 in `--http`/`--grpc`/`--raft` this is how a caller learns the ports.
    #[arg(long)]
    pub ready_file: Option<PathBuf>,
    /// Log format: `text` or `json`.
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
    /// Maintenance commands (instead of serving).
    #[command(subcommand)]
    pub command: Option<Maintenance>,
}

/// `istiod <command>`: offline maintenance of a data directory.
#[derive(Debug, clap::Subcommand)]
pub enum Maintenance {
    /// Seed a NEW data directory from an export (`istioctl export`, `GET /v1/export`). Restore
    /// every founding member of the new cluster from the same file, then start them with
    /// `--peers` (or one member alone).
    Restore {
        /// The export file.
        #[arg(long)]
        from: PathBuf,
        /// The data directory to create.
        #[arg(long)]
        data_dir: PathBuf,
    },
}

/// `1=127.0.0.1:15011,2=…`: member ids (> 0, each once) and their Raft addresses.
pub fn parse_peers(s: &str) -> Result<BTreeMap<NodeId, SocketAddr>, String> {
    let mut out = BTreeMap::new();
    for part in s.split(',').filter(|p| !p.trim().is_empty()) {
        let (id, addr) = part
            .split_once('=')
            .ok_or_else(|| format!("{part:?} is not ID=HOST:PORT (e.g. 1=127.0.0.1:15011)"))?;
        let id: NodeId =
            id.trim().parse().map_err(|_| format!("peer id {id:?} is not a number"))?;
        if id == 0 {
            return Err("peer ids start at 1".into());
        }
        let addr: SocketAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("peer address {addr:?} is not HOST:PORT with a numeric IP"))?;
        if out.insert(id, addr).is_some() {
            return Err(format!("peer id {id} appears twice"));
        }
    }
    if out.is_empty() {
        return Err("no peers given".into());
    }
    Ok(out)
}

/// `250ms`, `90s`, `30m`, `24h`, `7d`, or sums like `1h30m`: the one duration form of every
/// istiod flag.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let mut total_ms = 0u64;
    let mut chars = s.trim().chars().peekable();
    let mut any = false;
    while chars.peek().is_some() {
        let mut num = String::new();
        while let Some(c) = chars.next_if(char::is_ascii_digit) {
            num.push(c);
        }
        let Some(c) = chars.next() else {
            return Err(format!("{s:?}: {num} has no unit; use ms, s, m, h or d (e.g. 24h)"));
        };
        let unit_ms = match c {
            'm' if chars.next_if_eq(&'s').is_some() => 1,
            's' => 1_000,
            'm' => 60_000,
            'h' => 3_600_000,
            'd' => 86_400_000,
            _ => return Err(format!("{s:?}: unknown unit {c:?}; use ms, s, m, h or d (e.g. 24h)")),
        };
        let n: u64 = num.parse().map_err(|_| format!("{s:?}: expected a number before {c:?}"))?;
        total_ms = n
            .checked_mul(unit_ms)
            .and_then(|v| total_ms.checked_add(v))
            .ok_or_else(|| format!("{s:?} is too long a duration"))?;
        any = true;
    }
    if !any || total_ms == 0 {
        return Err(format!("{s:?} is not a positive duration like 250ms, 90s, 30m, 24h or 7d"));
    }
    Ok(Duration::from_millis(total_ms))
}

/// [`parse_duration`], also accepting zero (`0s`, `0ms`): for windows that may be closed
/// (`--xds-debounce 0s` pushes every change at once).
pub fn parse_duration_or_zero(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let digits = t.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    if !digits.is_empty()
        && digits.bytes().all(|b| b == b'0')
        && matches!(&t[digits.len()..], "ms" | "s" | "m" | "h" | "d")
    {
        return Ok(Duration::ZERO);
    }
    parse_duration(s)
}

impl Args {
    /// `--xds-debounce`, or the earlier `--xds-debounce-ms`.
    pub fn xds_debounce(&self) -> Duration {
        self.xds_debounce_ms.map_or(self.xds_debounce, Duration::from_millis)
    }

    /// `--workload-entry-grace`, or the earlier `--workload-entry-grace-ms`.
    pub fn workload_entry_grace(&self) -> Duration {
        self.workload_entry_grace_ms.map_or(self.workload_entry_grace, Duration::from_millis)
    }

    /// `--heartbeat`, or the earlier `--heartbeat-ms`.
    pub fn heartbeat(&self) -> Duration {
        self.heartbeat_ms.map_or(self.heartbeat, Duration::from_millis)
    }

    /// `--election-timeout`, or the earlier `--election-timeout-ms`.
    pub fn election_timeout(&self) -> Duration {
        self.election_timeout_ms.map_or(self.election_timeout, Duration::from_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_peers() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(604_800)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2m5ms"), Ok(Duration::from_millis(120_005)));
        for bad in ["", "10", "5x", "0s", "h", "0ms", "10ms5", "99999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_duration_or_zero("0ms"), Ok(Duration::ZERO));
        assert_eq!(parse_duration_or_zero("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_duration_or_zero("250ms"), Ok(Duration::from_millis(250)));
        for bad in ["", "0", "0x", "-1s"] {
            assert!(parse_duration_or_zero(bad).is_err(), "{bad}");
        }
        let a = Args::try_parse_from(["istiod", "--xds-debounce", "0s"]).unwrap();
        assert_eq!(a.xds_debounce(), Duration::ZERO);
        let a = Args::try_parse_from(["istiod", "--xds-debounce-ms", "20"]).unwrap();
        assert_eq!(a.xds_debounce(), Duration::from_millis(20));
        let a = Args::try_parse_from(["istiod", "--heartbeat", "20ms"]).unwrap();
        assert_eq!(
            (a.heartbeat(), a.election_timeout()),
            (Duration::from_millis(20), Duration::from_millis(300))
        );
        assert!(
            Args::try_parse_from(["istiod", "--heartbeat", "20ms", "--heartbeat-ms", "5"]).is_err()
        );
        assert_eq!(parse_peers("1=127.0.0.1:1,2=127.0.0.1:2").unwrap().len(), 2);
        for bad in ["1", "x=127.0.0.1:1", "0=127.0.0.1:1", "1=a:b", "1=127.0.0.1:1,1=127.0.0.1:2"] {
            assert!(parse_peers(bad).is_err(), "{bad}");
        }
    }
}
