//! `istioctl`: apply, get, delete, validate (offline), audit and time travel, proxy-status and
//! proxy-config, cluster status/add/remove, completion.
//!
//! Talks to istiod's HTTP API (`--server`, env `ISTIOCTL_SERVER`) with an optional bearer token
//! (`--token`, env `ISTIOCTL_TOKEN`). Every failure exits non-zero with a message naming the
//! file, document index, kind, name and field path where they apply.

mod client;
mod diff;
mod files;
mod proxy;
mod table;

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use istio_planes_config::{self as config, kinds::lookup_name};
use serde_json::Value;

use client::Client;

/// Command-line interface of `istioctl`.
#[derive(Debug, Parser)]
#[command(name = "istioctl", version, about = "Manage istio-rs configuration and clusters")]
pub struct Cli {
    /// istiod HTTP address.
    #[arg(long, global = true, env = "ISTIOCTL_SERVER", default_value = "http://127.0.0.1:8080")]
    pub server: String,
    /// Bearer token.
    #[arg(long, global = true, env = "ISTIOCTL_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Aligned columns.
    Table,
    /// YAML documents.
    Yaml,
    /// JSON.
    Json,
    /// `kind.group/name` per line.
    Name,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply configuration files atomically (one revision for everything).
    Apply {
        /// File, directory (recursive) or `-` for stdin; repeatable.
        #[arg(short = 'f', long = "filename", required = true)]
        files: Vec<String>,
        /// Namespace for documents that do not name one.
        #[arg(short = 'n', long, default_value = "default")]
        namespace: String,
        /// Validate and report what would change, without writing.
        #[arg(long)]
        dry_run: bool,
    },
    /// List or show objects of a kind.
    Get {
        /// Kind: name, plural or short name (vs, dr, gw, se, …).
        kind: String,
        /// Object name.
        name: Option<String>,
        /// Namespace.
        #[arg(short = 'n', long, default_value = "default")]
        namespace: String,
        /// All namespaces.
        #[arg(short = 'A', long)]
        all_namespaces: bool,
        /// Output format.
        #[arg(short = 'o', long, value_enum, default_value = "table")]
        output: Output,
        /// Show the object(s) as of this past revision.
        #[arg(long)]
        revision: Option<u64>,
    },
    /// Delete objects by kind and name, or every object in files.
    Delete {
        /// Kind (when not using -f).
        kind: Option<String>,
        /// Name (when not using -f).
        name: Option<String>,
        /// Delete the objects described in these files.
        #[arg(short = 'f', long = "filename")]
        files: Vec<String>,
        /// Namespace.
        #[arg(short = 'n', long, default_value = "default")]
        namespace: String,
    },
    /// Validate configuration files offline, with istiod's validator.
    Validate {
        /// File, directory (recursive) or `-`; repeatable.
        #[arg(short = 'f', long = "filename", required = true)]
        files: Vec<String>,
    },
    /// Every object (or one kind / object) as of a revision, as multi-document YAML.
    Replay {
        /// The revision.
        #[arg(long)]
        revision: u64,
        /// Only this kind.
        kind: Option<String>,
        /// Only this object.
        name: Option<String>,
        /// Only this namespace.
        #[arg(short = 'n', long)]
        namespace: Option<String>,
    },
    /// What changed between two revisions: a unified YAML diff per object.
    Diff {
        /// Older revision.
        #[arg(long)]
        from: u64,
        /// Newer revision (default: now).
        #[arg(long)]
        to: Option<u64>,
        /// Only this kind.
        #[arg(long)]
        kind: Option<String>,
        /// Only this namespace.
        #[arg(short = 'n', long)]
        namespace: Option<String>,
        /// Only objects with this name.
        #[arg(long)]
        name: Option<String>,
    },
    /// Commit a new revision that restores the state of an old one (admin).
    Rollback {
        /// The revision to restore.
        #[arg(long)]
        to_revision: u64,
        /// Only this kind.
        kind: Option<String>,
        /// Only this object (needs KIND).
        name: Option<String>,
        /// Only this namespace.
        #[arg(short = 'n', long)]
        namespace: Option<String>,
    },
    /// Save the retained log (checkpoint + events) for `istiod restore` (admin).
    Export {
        /// Output file.
        #[arg(short = 'o', long)]
        output: PathBuf,
    },
    /// The audit log: who changed what, when, from where.
    Audit {
        /// First revision.
        #[arg(long)]
        from: Option<u64>,
        /// Last revision.
        #[arg(long)]
        to: Option<u64>,
        /// Only changes to this kind.
        #[arg(long)]
        kind: Option<String>,
        /// Only changes in this namespace.
        #[arg(short = 'n', long)]
        namespace: Option<String>,
        /// Only changes to objects with this name.
        #[arg(long)]
        name: Option<String>,
        /// Only events by this user.
        #[arg(long)]
        actor: Option<String>,
        /// Only events with this verb (create, update, patch, delete, apply, …).
        #[arg(long)]
        verb: Option<String>,
        /// At most this many events.
        #[arg(long)]
        limit: Option<u64>,
        /// Keep streaming new events.
        #[arg(short = 'f', long)]
        follow: bool,
        /// Output format (table or json).
        #[arg(short = 'o', long, value_enum, default_value = "table")]
        output: Output,
    },
    /// The life of one object: every retained event that touched it.
    History {
        /// Kind (vs, dr, VirtualService, …).
        kind: String,
        /// Object name.
        name: String,
        /// Namespace.
        #[arg(short = 'n', long, default_value = "default")]
        namespace: String,
        /// Output format (table or json).
        #[arg(short = 'o', long, value_enum, default_value = "table")]
        output: Output,
    },
    /// Every proxy connected over xDS (to any member): per type SYNCED / STALE / NACKED /
    /// NOT SENT, and the log revision it has applied. With a proxy id: that proxy per type.
    ProxyStatus {
        /// Only this proxy (its node id).
        proxy: Option<String>,
        /// Output format (table or json).
        #[arg(short = 'o', long, value_enum, default_value = "table")]
        output: Output,
    },
    /// What a proxy was last sent: clusters, listeners, routes or endpoints.
    ProxyConfig {
        /// Which resources.
        #[arg(value_enum)]
        what: ProxyConfigKind,
        /// The proxy's node id.
        proxy: String,
        /// Output format (table, or json: Envoy's proto3 JSON).
        #[arg(short = 'o', long, value_enum, default_value = "table")]
        output: Output,
    },
    /// Inspect and change cluster membership.
    Cluster {
        /// Cluster subcommand.
        #[command(subcommand)]
        command: ClusterCommand,
    },
    /// Print a shell completion script.
    Completion {
        /// Shell.
        shell: clap_complete::Shell,
    },
}

/// What `istioctl proxy-config` shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ProxyConfigKind {
    /// CDS.
    #[value(alias = "clusters")]
    Cluster,
    /// LDS.
    #[value(alias = "listeners")]
    Listener,
    /// RDS.
    #[value(alias = "routes")]
    Route,
    /// EDS.
    #[value(alias = "endpoints")]
    Endpoint,
    /// Everything.
    All,
}

/// `istioctl cluster …`.
#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Members, roles, term, applied revision and health.
    Status {
        /// Output format (table or json).
        #[arg(short = 'o', long, value_enum, default_value = "table")]
        output: Output,
    },
    /// Add a member: `ID=RAFTADDR` (it must be running, started with the same id).
    Add {
        /// `ID=HOST:PORT`.
        member: String,
    },
    /// Remove a member by id.
    Remove {
        /// Member id.
        id: u64,
    },
}

/// Runs istioctl; returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return 1;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    }
}

async fn run(cli: Cli) -> Result<i32> {
    let client = Client::new(&cli.server, cli.token.as_deref())?;
    let mut out = std::io::stdout().lock();
    match cli.command {
        Command::Validate { files } => {
            let docs = files::load(&files)?;
            let errors = files::validate(&docs);
            for (file, n) in files::count_by_file(&docs) {
                if !errors.iter().any(|e| e.starts_with(&format!("{file}:"))) {
                    writeln!(out, "{file}: {n} document(s) valid")?;
                }
            }
            if errors.is_empty() {
                return Ok(0);
            }
            for e in &errors {
                eprintln!("{e}");
            }
            bail!("{} problem(s) found", errors.len());
        }
        Command::Apply { files, namespace, dry_run } => {
            let docs = files::load(&files)?;
            let mut errors = files::validate(&docs);
            errors.extend(files::duplicates(&docs));
            if !errors.is_empty() {
                for e in &errors {
                    eprintln!("{e}");
                }
                bail!("nothing applied: {} problem(s) found", errors.len());
            }
            let body = files::join(&docs)?;
            let res = client.apply(&body, &namespace, dry_run).await?;
            for o in res["objects"].as_array().into_iter().flatten() {
                let kind = o["kind"].as_str().unwrap_or_default();
                let group = config::KINDS.iter().find(|k| k.kind == kind).map_or("", |k| k.group);
                writeln!(
                    out,
                    "{}.{}/{} {}{}",
                    kind.to_ascii_lowercase(),
                    group,
                    o["name"].as_str().unwrap_or_default(),
                    o["result"].as_str().unwrap_or_default(),
                    if dry_run { " (dry run)" } else { "" }
                )?;
            }
            writeln!(out, "revision {}", res["revision"])?;
            Ok(0)
        }
        Command::Get { kind, name, namespace, all_namespaces, output, revision } => {
            let info = lookup_name(&kind).with_context(|| {
                format!("unknown kind {kind:?}; known: {}", config::kinds::supported_list())
            })?;
            let ns = if all_namespaces { None } else { Some(namespace.as_str()) };
            let items = match (&name, revision) {
                (_, Some(rev)) => {
                    let state =
                        client.get_json("/v1/state", &[("revision", rev.to_string())]).await?;
                    let items: Vec<Value> = select(&state, Some(info), ns, name.as_deref());
                    if items.is_empty() {
                        if let Some(n) = &name {
                            bail!("{} {namespace}/{n} did not exist at revision {rev}", info.kind);
                        }
                    }
                    items
                }
                (Some(n), None) => vec![client.get(info, &namespace, n).await?],
                (None, None) => client.list(info, ns).await?,
            };
            match output {
                Output::Json if name.is_some() => {
                    writeln!(out, "{}", serde_json::to_string_pretty(&items[0])?)?
                }
                Output::Json => writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "apiVersion": "v1", "kind": "List", "items": items
                    }))?
                )?,
                Output::Yaml => {
                    for (i, it) in items.iter().enumerate() {
                        if i > 0 {
                            writeln!(out, "---")?;
                        }
                        write!(out, "{}", serde_yaml::to_string(it)?)?;
                    }
                }
                Output::Name => {
                    for it in &items {
                        writeln!(
                            out,
                            "{}.{}/{}",
                            info.singular(),
                            info.group,
                            it["metadata"]["name"].as_str().unwrap_or_default()
                        )?;
                    }
                }
                Output::Table => {
                    if items.is_empty() {
                        match ns {
                            Some(n) => eprintln!("No resources found in {n} namespace."),
                            None => eprintln!("No resources found."),
                        }
                    } else {
                        write!(out, "{}", table::render(info, &items, all_namespaces))?;
                    }
                }
            }
            Ok(0)
        }
        Command::Delete { kind, name, files, namespace } => {
            let targets: Vec<(String, String, String)> = if !files.is_empty() {
                if kind.is_some() {
                    bail!("give either KIND NAME or -f FILE, not both");
                }
                let docs = files::load(&files)?;
                let mut t = Vec::new();
                for d in &docs {
                    let kind = d.value["kind"].as_str().unwrap_or_default().to_owned();
                    let name = d.value["metadata"]["name"].as_str().unwrap_or_default().to_owned();
                    let ns =
                        d.value["metadata"]["namespace"].as_str().unwrap_or(&namespace).to_owned();
                    t.push((kind, ns, name));
                }
                t
            } else {
                match (kind, name) {
                    (Some(k), Some(n)) => vec![(k, namespace.clone(), n)],
                    _ => bail!("give KIND NAME, or -f FILE"),
                }
            };
            let mut failed = 0;
            for (kind, ns, name) in targets {
                let Some(info) = lookup_name(&kind) else {
                    eprintln!("error: unknown kind {kind:?}");
                    failed += 1;
                    continue;
                };
                match client.delete(info, &ns, &name).await {
                    Ok(()) => writeln!(out, "{}.{}/{name} deleted", info.singular(), info.group)?,
                    Err(e) => {
                        eprintln!("error: {e:#}");
                        failed += 1;
                    }
                }
            }
            Ok(if failed > 0 { 1 } else { 0 })
        }
        Command::Cluster { command } => match command {
            ClusterCommand::Status { output } => {
                let st = client.cluster().await?;
                if output == Output::Json {
                    writeln!(out, "{}", serde_json::to_string_pretty(&st)?)?;
                } else {
                    write!(out, "{}", table::cluster(&st))?;
                }
                Ok(0)
            }
            ClusterCommand::Add { member } => {
                let (id, addr) = member
                    .split_once('=')
                    .context("member must be ID=HOST:PORT, e.g. 4=127.0.0.1:15041")?;
                let id: u64 =
                    id.parse().with_context(|| format!("member id {id:?} is not a number"))?;
                client.add_member(id, addr).await?;
                writeln!(out, "member {id} added")?;
                Ok(0)
            }
            ClusterCommand::Remove { id } => {
                client.remove_member(id).await?;
                writeln!(out, "member {id} removed")?;
                Ok(0)
            }
        },
        Command::Replay { revision, kind, name, namespace } => {
            let info = kind
                .as_deref()
                .map(|k| lookup_name(k).with_context(|| format!("unknown kind {k:?}")))
                .transpose()?;
            let state = client.get_json("/v1/state", &[("revision", revision.to_string())]).await?;
            let items = select(&state, info, namespace.as_deref(), name.as_deref());
            writeln!(
                out,
                "# state at revision {revision} (state hash {})",
                state["stateHash"].as_str().unwrap_or_default()
            )?;
            for it in &items {
                writeln!(out, "---")?;
                write!(out, "{}", serde_yaml::to_string(it)?)?;
            }
            Ok(0)
        }
        Command::Diff { from, to, kind, namespace, name } => {
            let mut q = vec![("from", from.to_string())];
            q.extend(to.map(|t| ("to", t.to_string())));
            q.extend(kind.map(|k| ("kind", k)));
            q.extend(namespace.map(|n| ("namespace", n)));
            q.extend(name.map(|n| ("name", n)));
            let res = client.get_json("/v1/diff", &q).await?;
            let to = res["to"].as_u64().unwrap_or_default();
            let color = std::io::IsTerminal::is_terminal(&std::io::stdout());
            for c in res["changes"].as_array().into_iter().flatten() {
                let id = format!(
                    "{}/{}/{}",
                    c["kind"].as_str().unwrap_or_default(),
                    c["namespace"].as_str().unwrap_or_default(),
                    c["name"].as_str().unwrap_or_default()
                );
                let yaml = |v: &Value| {
                    if v.is_null() {
                        Ok(String::new())
                    } else {
                        serde_yaml::to_string(&strip_server_fields(v))
                    }
                };
                let d = diff::unified(
                    &yaml(&c["from"])?,
                    &yaml(&c["to"])?,
                    &format!("{id}@{from}"),
                    &format!("{id}@{to}"),
                    color,
                );
                write!(out, "{d}")?;
            }
            Ok(0)
        }
        Command::Rollback { to_revision, kind, name, namespace } => {
            let mut body = serde_json::json!({"toRevision": to_revision});
            if let Some(k) = kind {
                body["kind"] = k.into();
            }
            if let Some(n) = name {
                body["name"] = n.into();
            }
            if let Some(n) = namespace {
                body["namespace"] = n.into();
            }
            let res = client.post_json("/v1/rollback", &body).await?;
            for o in res["objects"].as_array().into_iter().flatten() {
                writeln!(
                    out,
                    "{} {}/{} {}",
                    o["kind"].as_str().unwrap_or_default(),
                    o["namespace"].as_str().unwrap_or_default(),
                    o["name"].as_str().unwrap_or_default(),
                    o["result"].as_str().unwrap_or_default()
                )?;
            }
            writeln!(out, "revision {} restores revision {to_revision}", res["revision"])?;
            Ok(0)
        }
        Command::Export { output } => {
            let bytes = client.get_bytes("/v1/export").await?;
            std::fs::write(&output, &bytes)
                .with_context(|| format!("cannot write {}", output.display()))?;
            writeln!(out, "wrote {} bytes to {}", bytes.len(), output.display())?;
            Ok(0)
        }
        Command::Audit { from, to, kind, namespace, name, actor, verb, limit, follow, output } => {
            let mut q: Vec<(&str, String)> = Vec::new();
            let nums = [("from", from), ("to", to), ("limit", limit)];
            q.extend(nums.into_iter().filter_map(|(k, v)| v.map(|v| (k, v.to_string()))));
            let strs = [
                ("kind", kind),
                ("namespace", namespace),
                ("name", name),
                ("actor", actor),
                ("verb", verb),
            ];
            q.extend(strs.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))));
            if follow {
                q.push(("follow", "true".into()));
                if output != Output::Json {
                    writeln!(out, "{}", table::audit_header())?;
                }
                client
                    .stream_lines("/v1/audit", &q, |ev| {
                        let line = if output == Output::Json {
                            ev.to_string()
                        } else {
                            table::audit_row(&ev)
                        };
                        let mut o = std::io::stdout().lock();
                        let _ = writeln!(o, "{line}");
                        let _ = o.flush();
                    })
                    .await?;
                return Ok(0);
            }
            let res = client.get_json("/v1/audit", &q).await?;
            if output == Output::Json {
                writeln!(out, "{}", serde_json::to_string_pretty(&res)?)?;
            } else {
                write!(out, "{}", table::audit(&res))?;
            }
            Ok(0)
        }
        Command::History { kind, name, namespace, output } => {
            let info = lookup_name(&kind).with_context(|| format!("unknown kind {kind:?}"))?;
            let path = format!("/v1/history/{}/{}/{namespace}/{name}", info.group, info.plural);
            let res = client.get_json(&path, &[]).await?;
            if output == Output::Json {
                writeln!(out, "{}", serde_json::to_string_pretty(&res)?)?;
            } else if res["items"].as_array().is_none_or(Vec::is_empty) {
                eprintln!("no retained events for {} {namespace}/{name}", info.kind);
            } else {
                write!(out, "{}", table::history(&res))?;
            }
            Ok(0)
        }
        Command::ProxyStatus { proxy, output } => {
            let res = client.get_json("/v1/proxies", &[]).await?;
            let res = match &proxy {
                Some(id) => {
                    let one = res["proxies"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter(|p| p["id"] == id.as_str())
                        .max_by_key(|p| p["connection"].as_u64())
                        .cloned();
                    match one {
                        Some(p) => p,
                        None => bail!("no proxy {id:?} is connected to any istiod member"),
                    }
                }
                None => res,
            };
            if output == Output::Json {
                writeln!(out, "{}", serde_json::to_string_pretty(&res)?)?;
            } else if proxy.is_some() {
                write!(out, "{}", proxy::status_of(&res))?;
            } else {
                write!(out, "{}", proxy::status(&res))?;
            }
            Ok(0)
        }
        Command::ProxyConfig { what, proxy: id, output } => {
            let cfg = client.get_json(&format!("/v1/proxies/{id}/config"), &[]).await?;
            let short = |k: &str| cfg["types"][k]["resources"].clone();
            if output == Output::Json {
                let v = match what {
                    ProxyConfigKind::Cluster => short("cds"),
                    ProxyConfigKind::Listener => short("lds"),
                    ProxyConfigKind::Route => short("rds"),
                    ProxyConfigKind::Endpoint => short("eds"),
                    ProxyConfigKind::All => cfg.clone(),
                };
                writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
                return Ok(0);
            }
            type Render = fn(&Value) -> String;
            let tables: &[(&str, Render)] = match what {
                ProxyConfigKind::Cluster => &[("", proxy::clusters)],
                ProxyConfigKind::Listener => &[("", proxy::listeners)],
                ProxyConfigKind::Route => &[("", proxy::routes)],
                ProxyConfigKind::Endpoint => &[("", proxy::endpoints)],
                ProxyConfigKind::All => &[
                    ("CLUSTERS", proxy::clusters),
                    ("LISTENERS", proxy::listeners),
                    ("ROUTES", proxy::routes),
                    ("ENDPOINTS", proxy::endpoints),
                ],
            };
            for (i, (title, render)) in tables.iter().enumerate() {
                if !title.is_empty() {
                    writeln!(out, "{}{title}", if i > 0 { "\n" } else { "" })?;
                }
                write!(out, "{}", render(&cfg))?;
            }
            Ok(0)
        }
        Command::Completion { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "istioctl", &mut out);
            Ok(0)
        }
    }
}

/// The objects of a `/v1/state` answer that match kind, namespace and name.
fn select(
    state: &Value,
    info: Option<&config::KindInfo>,
    namespace: Option<&str>,
    name: Option<&str>,
) -> Vec<Value> {
    state["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|o| {
            info.is_none_or(|i| o["kind"] == i.kind)
                && namespace.is_none_or(|n| o["metadata"]["namespace"] == n)
                && name.is_none_or(|n| o["metadata"]["name"] == n)
        })
        .cloned()
        .collect()
}

/// The object without the metadata the server sets, so diffs show what people changed.
fn strip_server_fields(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        for f in ["resourceVersion", "generation", "uid", "creationTimestamp"] {
            m.remove(f);
        }
    }
    v
}

/// Renders a `Status` body as an error message: its message, or — when it lists causes — a
/// heading and one line per cause.
fn status_message(v: &Value) -> String {
    if let Some(text) = v.as_str().filter(|t| !t.trim().is_empty()) {
        return text.trim().to_owned();
    }
    let msg = v["message"].as_str().unwrap_or("request failed").to_owned();
    let Some(causes) = v["details"]["causes"].as_array().filter(|c| !c.is_empty()) else {
        return msg;
    };
    let mut out = format!("{} is invalid:", v["details"]["kind"].as_str().unwrap_or("request"));
    for c in causes {
        let field = c["field"].as_str().unwrap_or_default();
        let m = c["message"].as_str().unwrap_or_default();
        out.push_str("\n  - ");
        if !field.is_empty() {
            out.push_str(field);
            out.push_str(": ");
        }
        out.push_str(m);
    }
    out
}
