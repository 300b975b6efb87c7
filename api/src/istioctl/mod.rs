//! `istioctl`: apply, get, delete, validate (offline), cluster status/add/remove, completion.
//!
//! Talks to istiod's HTTP API (`--server`, env `ISTIOCTL_SERVER`) with an optional bearer token
//! (`--token`, env `ISTIOCTL_TOKEN`). Every failure exits non-zero with a message naming the
//! file, document index, kind, name and field path where they apply.

mod client;
mod files;
mod table;

use std::io::Write;

use anyhow::{bail, Context, Result};
use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use istio_planes::config::{self, kinds::lookup_name};
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
            let errors = files::validate(&docs);
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
        Command::Get { kind, name, namespace, all_namespaces, output } => {
            let info = lookup_name(&kind).with_context(|| {
                format!("unknown kind {kind:?}; known: {}", config::kinds::supported_list())
            })?;
            let ns = if all_namespaces { None } else { Some(namespace.as_str()) };
            let items = match &name {
                Some(n) => vec![client.get(info, &namespace, n).await?],
                None => client.list(info, ns).await?,
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
        Command::Completion { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "istioctl", &mut out);
            Ok(0)
        }
    }
}

/// Renders a `Status` body as an error message: its message, or — when it lists causes — a
/// heading and one line per cause.
fn status_message(v: &Value) -> String {
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
