//! Every `curl` and `istioctl` example in README.md runs, in the README's order, against an
//! in-process istiod, and succeeds: a newcomer's first steps must work as written.
//!
//! The examples are read from the README's `sh` blocks (continuation lines joined, trailing
//! comments dropped, `[optional]` parts left out), the README's server address is replaced
//! by the test server's, and each runs under `bash` with the built `istioctl` first on `PATH`
//! and a working directory holding the repository's `samples/`. A few need what a single
//! fresh member cannot give (a connected proxy, a second member, an endless stream): they are
//! listed in [`NOT_RUN`] with the test that covers them instead, and the test fails if an
//! entry there no longer matches any README line, so the list cannot go stale.

use std::path::{Path, PathBuf};
use std::process::Command;

use istio_tests::{istioctl_bin, Cluster};

/// README lines not run here (a fragment of the line, and why).
const NOT_RUN: &[(&str, &str)] = &[
    ("watch=true", "an endless watch stream (e2e::watch, e2e::kubectl cover watches)"),
    ("follow=true", "an endless audit stream (e2e::audit covers --follow)"),
    ("/v1/cluster/members/3", "membership change (e2e::membership)"),
    ("cluster add", "membership change (e2e::membership)"),
    ("cluster remove", "membership change (e2e::membership)"),
    ("grpcio-client-1", "needs a connected gRPC proxy (e2e::xds_grpcio)"),
    ("completion bash >", "writes to /etc (e2e::istioctl_cli covers completion)"),
];

fn readme() -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The `curl` and `istioctl` command lines of the README's `sh` blocks, in order.
fn examples(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    // Inside a fenced block, and whether that block is shell.
    let (mut in_block, mut is_sh) = (false, false);
    let mut pending = String::new();
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with("```") {
            if in_block {
                in_block = false;
            } else {
                in_block = true;
                is_sh = matches!(t, "```sh" | "```" | "```bash");
            }
            continue;
        }
        if !in_block || !is_sh {
            continue;
        }
        if let Some(head) = t.strip_suffix('\\') {
            pending.push_str(head);
            pending.push(' ');
            continue;
        }
        pending.push_str(t);
        let cmd = std::mem::take(&mut pending);
        let cmd = strip_comment(&cmd).trim().to_owned();
        for part in cmd.split(" ; ") {
            let part = drop_optional(part.trim());
            if part.starts_with("curl ") || part.starts_with("istioctl ") {
                out.push(part);
            }
        }
    }
    out
}

/// The line without a trailing `# comment` (outside quotes).
fn strip_comment(line: &str) -> &str {
    let (mut single, mut double) = (false, false);
    let b = line.as_bytes();
    for (i, c) in line.char_indices() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '#' if !single && !double && (i == 0 || b[i - 1] == b' ') => return &line[..i],
            _ => {}
        }
    }
    line
}

/// The line without `[optional]` parts (the README's notation for optional arguments).
fn drop_optional(line: &str) -> String {
    let mut out = String::new();
    let mut depth = 0;
    let (mut single, mut double) = (false, false);
    for c in line.chars() {
        let quoted = single || double;
        match c {
            '\'' if !double && depth == 0 => {
                single = !single;
                out.push(c);
            }
            '"' if !single && depth == 0 => {
                double = !double;
                out.push(c);
            }
            '[' if !quoted && out.ends_with(' ') => depth += 1,
            ']' if !quoted && depth > 0 => depth -= 1,
            _ if depth > 0 => {}
            _ => out.push(c),
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn examples_are_found_and_read_as_written() {
    let ex = examples(readme().as_str());
    assert!(ex.len() >= 20, "only {} examples found: {ex:#?}", ex.len());
    assert!(ex[0].starts_with("curl -X PUT ") && ex[0].contains("-d '{"), "{}", ex[0]);
    assert_eq!(
        drop_optional("istioctl rollback --to-revision 40 [vs reviews]"),
        "istioctl rollback --to-revision 40"
    );
    assert_eq!(strip_comment("curl 'http://x/?a=1#b' # note"), "curl 'http://x/?a=1#b' ");
    assert_eq!(drop_optional(r#"curl -d "it's [x]" [--opt]"#), r#"curl -d "it's [x]""#);
    // A non-shell block does not swallow the shell block after it.
    let md = "```yaml\na: [1]\n```\ntext\n```sh\ncurl http://x/\n```\n";
    assert_eq!(examples(md), ["curl http://x/"]);
}

#[tokio::test]
async fn every_readme_example_works_as_written() -> anyhow::Result<()> {
    let c = Cluster::single(&[]).await?;
    let server = c.node(1).url("");
    let work = tempfile::tempdir()?;
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples");
    std::os::unix::fs::symlink(samples.canonicalize()?, work.path().join("samples"))?;
    let bin_dir: PathBuf = istioctl_bin().parent().expect("bin dir").to_owned();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());

    let text = readme();
    let all = examples(&text);
    for (fragment, why) in NOT_RUN {
        assert!(
            all.iter().any(|e| e.contains(fragment)),
            "NOT_RUN names {fragment:?} ({why}), which no README example contains any more"
        );
    }
    let mut ran = 0;
    for (i, ex) in all.iter().enumerate() {
        if NOT_RUN.iter().any(|(f, _)| ex.contains(f)) {
            continue;
        }
        // The revisions the time-travel examples name must exist: fill the log up to them
        // once the examples before have made their own changes.
        if ex.contains("--revision 42") || ex.contains("revision=42") {
            fill_to(&c, 45).await?;
        }
        let cmd = ex
            .replace("http://127.0.0.1:8080", server.trim_end_matches('/'))
            .replace("localhost:8080", server.trim_start_matches("http://").trim_end_matches('/'));
        let cmd = match cmd.strip_prefix("curl ") {
            Some(rest) => format!("curl -sS --fail-with-body {rest}"),
            None => cmd,
        };
        let out = tokio::task::spawn_blocking({
            let (cmd, path, dir, server) =
                (cmd.clone(), path.clone(), work.path().to_owned(), server.clone());
            move || {
                Command::new("bash")
                    .args(["-c", &cmd])
                    .current_dir(dir)
                    .env("PATH", path)
                    .env("ISTIOCTL_SERVER", server.trim_end_matches('/'))
                    .output()
            }
        })
        .await??;
        assert!(
            out.status.success(),
            "README example {i} failed ({}):\n  {ex}\nstdout:\n{}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        ran += 1;
    }
    assert!(ran >= 20, "only {ran} README examples ran");
    Ok(())
}

/// Puts `reviews` back (an earlier example deletes it; the time-travel examples read it at
/// revision 42), then writes throwaway objects until the log has at least `revision`
/// revisions.
async fn fill_to(c: &Cluster, revision: u64) -> anyhow::Result<()> {
    let r = c.put(1, "reviews", "again").await?;
    anyhow::ensure!(r.status().is_success(), "reviews: {}", r.status());
    let mut i = 0;
    loop {
        let s = c.status(1).await?;
        let now = s["members"][0]["status"]["applied"]["revision"].as_u64().unwrap_or(0);
        if now >= revision {
            return Ok(());
        }
        let r = c.put(1, &format!("filler-{i}"), "x").await?;
        anyhow::ensure!(r.status().is_success(), "filler write: {}", r.status());
        i += 1;
    }
}
