//! Istio's conformance corpus (`../shared/conformance/istio`, read in place) through the running
//! API (`POST /v1/apply?dryRun=All`, one document at a time) and through `istioctl validate`:
//! every document behaves as the corpus README says.

use std::path::{Path, PathBuf};
use std::process::Command;

use istio_tests::{istioctl_bin, Cluster};
use serde_json::Value;

fn corpus() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance/istio");
    assert!(
        p.join("README.md").exists(),
        "conformance corpus not found at {}: it lives in ../shared/conformance next to the repo",
        p.display()
    );
    p
}

const OUT_OF_SCOPE: &[&str] = &["EnvoyFilter", "WasmPlugin", "ProxyConfig"];

#[derive(Debug)]
enum Expect {
    Accept,
    Unsupported,
    /// Rejected; the error must satisfy this.
    Reject(Option<Want>),
}

/// What an `_err` requires of the error: a field path (exact when it starts at `spec`, a suffix
/// when relative, like `audiences[0]`), or else a fragment of the message.
#[derive(Debug)]
enum Want {
    Field(String),
    FieldSuffix(String),
    Text(String),
}

fn want(err: &str) -> Want {
    let err = err.trim().trim_matches('\'').trim();
    let end = [" in body", ": "].iter().filter_map(|m| err.find(m)).min().unwrap_or(err.len());
    let token = &err[..end];
    // A single token before ` in body` or `: ` is a field path (`spec`, `header`, `a.b[0]`).
    let pathlike = end < err.len() && !token.is_empty() && !token.contains(' ');
    match (pathlike, token.starts_with("spec")) {
        (true, true) => Want::Field(token.to_owned()),
        (true, false) => Want::FieldSuffix(token.to_owned()),
        _ => Want::Text(err.to_lowercase()),
    }
}

/// Whether a `Status` body satisfies `w`.
fn satisfied(status: &Value, w: &Want) -> bool {
    let causes = status["details"]["causes"].as_array().cloned().unwrap_or_default();
    let fields: Vec<&str> = causes.iter().filter_map(|c| c["field"].as_str()).collect();
    let text = format!(
        "{} {}",
        status["message"].as_str().unwrap_or_default(),
        causes
            .iter()
            .map(|c| format!(
                "{}: {}",
                c["field"].as_str().unwrap_or(""),
                c["message"].as_str().unwrap_or("")
            ))
            .collect::<Vec<_>>()
            .join("; ")
    )
    .to_lowercase();
    match w {
        Want::Field(f) => fields.contains(&f.as_str()),
        Want::FieldSuffix(f) => fields.iter().any(|x| x.ends_with(f.as_str())),
        Want::Text(t) => text.contains(t.as_str()),
    }
}

/// The documents of a file as raw text (split at `---` lines, as YAML does), each with the
/// value used to derive its expectation. The raw text is what gets sent, so parsing is the
/// server's job; the expectation is read with Go-compatible YAML rules.
fn documents(file: &Path) -> Vec<(usize, String, Value)> {
    let text = std::fs::read_to_string(file).unwrap();
    let mut chunks = vec![String::new()];
    for line in text.lines() {
        if line.starts_with("---") {
            chunks.push(String::new());
        } else if let Some(last) = chunks.last_mut() {
            last.push_str(line);
            last.push('\n');
        }
    }
    // Text before a leading `---` is not a document unless it holds something.
    if chunks.len() > 1
        && chunks[0].lines().all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        chunks.remove(0);
    }
    let mut out = Vec::new();
    for (i, chunk) in chunks.into_iter().enumerate() {
        let parsed = istio_planes_config::parse_documents(&chunk)
            .unwrap_or_else(|e| panic!("{} document {i}: {e}", file.display()));
        if let Some((_, v)) = parsed.into_iter().next() {
            let raw: String = chunk
                .lines()
                .filter(|l| !l.starts_with("_err:"))
                .map(|l| format!("{l}\n"))
                .collect();
            out.push((i, raw, v));
        }
    }
    out
}

fn expectation(folder: &str, file: &str, doc: &Value) -> Expect {
    let kind = doc["kind"].as_str().unwrap_or_default();
    let istio = doc["apiVersion"].as_str().is_some_and(|a| a.contains("istio.io"));
    if OUT_OF_SCOPE.contains(&kind) || !istio {
        return Expect::Unsupported;
    }
    if folder == "validation" && file.ends_with("-invalid.yaml") {
        return Expect::Reject(doc["_err"].as_str().map(want));
    }
    Expect::Accept
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corpus_through_api_and_istioctl() -> anyhow::Result<()> {
    let root = corpus();
    let c = Cluster::single(&[]).await?;
    let url = c.node(1).url("/v1/apply?dryRun=All&namespace=default");
    let mut failures = Vec::new();
    let mut checked = 0;
    for folder in ["validation", "testdata-config", "bookinfo"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(root.join(folder))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
            .collect();
        files.sort();
        for file in files {
            let fname = file.file_name().unwrap().to_string_lossy().into_owned();
            let mut expect_invalid_docs = Vec::new();
            for (index, raw, doc) in documents(&file) {
                let expect = expectation(folder, &fname, &doc);
                let r = c
                    .client
                    .post(&url)
                    .header("content-type", "application/yaml")
                    .body(raw)
                    .send()
                    .await?;
                let code = r.status().as_u16();
                let body = r.text().await?;
                checked += 1;
                let at = format!("{folder}/{fname} document {index}");
                match &expect {
                    Expect::Accept if code != 200 => {
                        failures.push(format!("{at}: expected accepted, got {code}: {body}"))
                    }
                    Expect::Unsupported if code < 400 || !body.contains("unsupported kind") => {
                        failures
                            .push(format!("{at}: expected 'unsupported kind', got {code}: {body}"))
                    }
                    Expect::Reject(frag) => {
                        if !(400..500).contains(&code) {
                            failures.push(format!("{at}: expected rejected, got {code}"));
                        } else if let Some(w) = frag {
                            let status: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                            if !satisfied(&status, w) {
                                failures
                                    .push(format!("{at}: error should satisfy {w:?}, got {body}"));
                            }
                        }
                    }
                    _ => {}
                }
                if !matches!(expect, Expect::Accept) {
                    expect_invalid_docs.push(index);
                }
            }
            // istioctl validate: exit status and the documents it names.
            let out = Command::new(istioctl_bin()).arg("validate").arg("-f").arg(&file).output()?;
            let stderr = String::from_utf8_lossy(&out.stderr);
            if expect_invalid_docs.is_empty() != out.status.success() {
                failures.push(format!(
                    "istioctl validate -f {folder}/{fname}: exit {:?}, expected {}: {stderr}",
                    out.status.code(),
                    if expect_invalid_docs.is_empty() { "success" } else { "failure" }
                ));
            }
            for i in expect_invalid_docs {
                if !stderr.contains(&format!("document {i} ")) {
                    failures.push(format!(
                        "istioctl validate -f {folder}/{fname}: document {i} not reported: {stderr}"
                    ));
                }
            }
        }
    }
    eprintln!("conformance: {checked} documents checked through the API and istioctl validate");
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
    Ok(())
}
