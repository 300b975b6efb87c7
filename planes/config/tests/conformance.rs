//! Conformance of istio-rs validation against Istio's own test inputs (the shared corpus in
//! `shared/conformance/istio`, see its README): every valid document is accepted, every invalid
//! one is rejected with the field path (or message fragment) Istio names, out-of-scope kinds get
//! `UnsupportedKind`. Prints a per-folder summary and lists every mismatch.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use istio_planes_config::{parse_documents, validate_object, ConfigError, FieldError};
use serde_json::Value;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/conformance/istio");

/// Kinds Istio has that istio-rs does not serve yet.
const OUT_OF_SCOPE: &[&str] = &["EnvoyFilter", "WasmPlugin", "ProxyConfig"];

#[derive(Debug)]
enum Expect {
    Accept,
    Unsupported,
    /// Rejected; the `_err` text, if the document has one.
    Reject(Option<String>),
}

#[derive(Default)]
struct Tally {
    documents: usize,
    accepted: usize,
    rejected: usize,
    unsupported: usize,
    mismatches: usize,
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    files
}

/// Does the error list satisfy what `_err` says? A field path in `_err` (`spec.x.y: …`,
/// `spec.x in body …`, or a relative `name in body …`) must be one of the reported fields;
/// otherwise `_err` must appear (case-insensitively) in the joined error text.
fn matches_expectation(expected: &str, errors: &[FieldError]) -> bool {
    let expected = expected.trim();
    let text = errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
    let path_end = expected.find(": ").or_else(|| expected.find(" in body"));
    let candidate = path_end.map(|i| &expected[..i]).filter(|p| {
        !p.is_empty()
            && !p.contains(' ')
            && p.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '[' | ']' | '_'))
    });
    match candidate {
        Some(path) if path == "spec" || path.starts_with("spec.") || path.starts_with("spec[") => {
            errors.iter().any(|e| e.field == path)
        }
        // `x in body …` names a field relative to some parent.
        Some(path) if expected[path.len()..].starts_with(" in body") => {
            let suffix = format!(".{path}");
            errors.iter().any(|e| e.field == path || e.field.ends_with(&suffix))
        }
        _ => text.to_lowercase().contains(&expected.to_lowercase()),
    }
}

fn describe(result: &Result<&'static istio_planes_config::KindInfo, ConfigError>) -> String {
    match result {
        Ok(info) => format!("accepted as {}", info.kind),
        Err(ConfigError::UnsupportedKind { kind, .. }) => format!("UnsupportedKind {kind:?}"),
        Err(e) => format!("rejected: {e}"),
    }
}

#[test]
fn istio_conformance_corpus() {
    let root = PathBuf::from(CORPUS);
    assert!(
        root.join("validation").is_dir(),
        "\n\n*** CONFORMANCE CORPUS MISSING ***\nexpected Istio's test inputs at {}\n(see shared/conformance/istio/README.md); this test cannot run without them.\n\n",
        root.display()
    );

    // CONFORMANCE_VERBOSE=1 prints every rejection next to what Istio says.
    let verbose = std::env::var_os("CONFORMANCE_VERBOSE").is_some();
    let mut summary = String::new();
    let mut failures = String::new();
    let mut total_mismatches = 0;
    for folder in ["validation", "testdata-config", "bookinfo"] {
        let mut tally = Tally::default();
        for file in yaml_files(&root.join(folder)) {
            let name =
                file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let text = std::fs::read_to_string(&file)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
            let docs = match parse_documents(&text) {
                Ok(d) => d,
                Err(e) => {
                    tally.mismatches += 1;
                    let _ = writeln!(
                        failures,
                        "{folder}/{name}: whole file: expected to parse, got {e}"
                    );
                    continue;
                }
            };
            for (index, mut doc) in docs {
                tally.documents += 1;
                let err = doc.as_object_mut().and_then(|o| o.remove("_err"));
                let kind = doc.get("kind").and_then(Value::as_str).unwrap_or_default().to_string();
                let group = doc
                    .get("apiVersion")
                    .and_then(Value::as_str)
                    .and_then(|v| v.split_once('/'))
                    .map(|(g, _)| g.to_string())
                    .unwrap_or_default();
                let expect =
                    if OUT_OF_SCOPE.contains(&kind.as_str()) || !group.ends_with("istio.io") {
                        Expect::Unsupported
                    } else if folder == "validation" && name.ends_with("-invalid.yaml") {
                        Expect::Reject(err.as_ref().and_then(Value::as_str).map(str::to_string))
                    } else {
                        Expect::Accept
                    };
                let result = validate_object(&doc);
                match &result {
                    Ok(_) => tally.accepted += 1,
                    Err(ConfigError::UnsupportedKind { .. }) => tally.unsupported += 1,
                    Err(_) => tally.rejected += 1,
                }
                let ok = match (&expect, &result) {
                    (Expect::Accept, Ok(_)) => true,
                    (Expect::Unsupported, Err(ConfigError::UnsupportedKind { .. })) => true,
                    (Expect::Reject(None), Err(ConfigError::Invalid(_))) => true,
                    (Expect::Reject(Some(want)), Err(ConfigError::Invalid(errors))) => {
                        matches_expectation(want, errors)
                    }
                    _ => false,
                };
                if verbose && matches!(expect, Expect::Reject(_)) {
                    println!(
                        "{folder}/{name} #{index} want {expect:?}\n    got {}",
                        describe(&result)
                    );
                }
                if !ok {
                    tally.mismatches += 1;
                    let doc_name = doc
                        .pointer("/metadata/name")
                        .and_then(Value::as_str)
                        .unwrap_or("?")
                        .to_string();
                    let _ = writeln!(
                        failures,
                        "{folder}/{name} doc #{index} ({kind} {doc_name}): expected {expect:?}, got {}",
                        describe(&result)
                    );
                }
            }
        }
        total_mismatches += tally.mismatches;
        let _ = writeln!(
            summary,
            "{folder:<16} {:>4} documents: {:>3} accepted, {:>3} rejected, {:>3} unsupported kind, {:>3} mismatches",
            tally.documents, tally.accepted, tally.rejected, tally.unsupported, tally.mismatches
        );
    }
    println!("Istio conformance corpus ({}):\n{summary}", root.display());
    assert!(
        total_mismatches == 0,
        "{total_mismatches} conformance mismatches:\n{failures}\nsummary:\n{summary}"
    );
}

/// Every leaf of every corpus document, replaced by hostile values: validation must return an
/// answer (accept or reject), never panic.
#[test]
fn mutated_corpus_never_panics() {
    fn leaves(v: &Value, path: &mut Vec<String>, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    path.push(k.replace('~', "~0").replace('/', "~1"));
                    leaves(x, path, out);
                    path.pop();
                }
            }
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    path.push(i.to_string());
                    leaves(x, path, out);
                    path.pop();
                }
            }
            _ => out.push(format!("/{}", path.join("/"))),
        }
    }
    let root = PathBuf::from(CORPUS);
    assert!(root.is_dir(), "\n\n*** CONFORMANCE CORPUS MISSING at {} ***\n\n", root.display());
    let hostile = [
        Value::Null,
        Value::from(-1),
        Value::from(0),
        Value::from(u64::MAX),
        Value::from(1e300),
        Value::from(""),
        Value::from("*"),
        Value::from("unix://"),
        Value::from("%"),
        Value::from("[(*"),
        Value::from("9999999999999999999999h"),
        serde_json::json!({}),
        serde_json::json!([null]),
    ];
    let mut checked = 0usize;
    for folder in ["validation", "testdata-config", "bookinfo"] {
        for file in yaml_files(&root.join(folder)) {
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            for (_, doc) in parse_documents(&text).unwrap_or_default() {
                let mut paths = Vec::new();
                leaves(&doc, &mut Vec::new(), &mut paths);
                for p in paths.iter().filter(|p| p.starts_with("/spec")) {
                    for h in &hostile {
                        let mut d = doc.clone();
                        if let Some(slot) = d.pointer_mut(p) {
                            *slot = h.clone();
                        }
                        let _ = validate_object(&d);
                        checked += 1;
                    }
                }
            }
        }
    }
    println!("{checked} mutated documents validated without panicking");
}
