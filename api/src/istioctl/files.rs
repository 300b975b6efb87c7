//! Reading configuration files for istioctl: files, recursive directories and stdin, split
//! into documents that remember where they came from, and offline validation.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use istio_planes_config::{self as config, ConfigError};
use serde_json::Value;

/// One document and its origin.
pub(super) struct Doc {
    /// File name (`-` for stdin).
    pub file: String,
    /// 0-based index of the document in its file.
    pub index: usize,
    /// The document.
    pub value: Value,
}

fn collect(path: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .with_context(|| format!("cannot read directory {}", path.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for e in entries {
            if e.is_dir() {
                collect(&e, out)?;
            } else if e.extension().is_some_and(|x| x == "yaml" || x == "yml" || x == "json") {
                out.push(e);
            }
        }
    } else {
        out.push(path.to_owned());
    }
    Ok(())
}

/// Loads every document of `inputs` (files, directories, `-`). Syntax errors name the file,
/// document and line.
pub(super) fn load(inputs: &[String]) -> Result<Vec<Doc>> {
    let mut docs = Vec::new();
    for input in inputs {
        let sources: Vec<(String, String)> = if input == "-" {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s).context("cannot read stdin")?;
            vec![("-".into(), s)]
        } else {
            let mut paths = Vec::new();
            collect(Path::new(input), &mut paths)?;
            let mut v = Vec::new();
            for p in paths {
                let text = std::fs::read_to_string(&p)
                    .with_context(|| format!("cannot read {}", p.display()))?;
                v.push((p.display().to_string(), text));
            }
            v
        };
        for (file, text) in sources {
            let parsed = config::parse_documents(&text).map_err(|e| match e {
                ConfigError::Syntax { index, line: Some(l), message } => {
                    anyhow::anyhow!(
                        "{file}: document {index} (line {l}): YAML syntax error: {message}"
                    )
                }
                other => anyhow::anyhow!("{file}: {other}"),
            })?;
            for (index, value) in parsed {
                docs.push(Doc { file: file.clone(), index, value });
            }
        }
    }
    Ok(docs)
}

fn label(d: &Doc) -> String {
    let kind = d.value["kind"].as_str().unwrap_or("<no kind>");
    let name = d.value["metadata"]["name"].as_str().unwrap_or("<no name>");
    format!("{}: document {} ({kind} {name})", d.file, d.index)
}

/// For an apply: objects defined more than once (an apply holds each object once).
pub(super) fn duplicates(docs: &[Doc]) -> Vec<String> {
    let mut errors = Vec::new();
    let mut seen: std::collections::HashMap<(String, String, String), String> =
        std::collections::HashMap::new();
    for d in docs {
        let field = |k: &str| d.value["metadata"][k].as_str().unwrap_or("").to_owned();
        let key =
            (d.value["kind"].as_str().unwrap_or("").to_owned(), field("namespace"), field("name"));
        match seen.get(&key) {
            Some(first) => errors.push(format!(
                "{}: metadata.name: defined again (first at {first}); an apply holds each object once",
                label(d)
            )),
            None => {
                seen.insert(key, format!("{} document {}", d.file, d.index));
            }
        }
    }
    errors
}

/// Validates every document offline; one message per problem, naming file, document, kind,
/// name and field path.
pub(super) fn validate(docs: &[Doc]) -> Vec<String> {
    let mut errors = Vec::new();
    for d in docs {
        let at = label(d);
        if d.value["metadata"]["name"].as_str().is_none_or(str::is_empty) {
            errors.push(format!("{at}: metadata.name: required"));
        }
        match config::validate_object(&d.value) {
            Ok(_) => {}
            Err(ConfigError::Invalid(fields)) => errors
                .extend(fields.into_iter().map(|f| format!("{at}: {}: {}", f.field, f.message))),
            Err(e) => errors.push(format!("{at}: {e}")),
        }
    }
    errors
}

/// Documents per file, in order of first appearance.
pub(super) fn count_by_file(docs: &[Doc]) -> Vec<(String, usize)> {
    let mut out: Vec<(String, usize)> = Vec::new();
    for d in docs {
        match out.iter_mut().find(|(f, _)| *f == d.file) {
            Some((_, n)) => *n += 1,
            None => out.push((d.file.clone(), 1)),
        }
    }
    out
}

/// All documents as one multi-document YAML stream.
pub(super) fn join(docs: &[Doc]) -> Result<String> {
    let mut s = String::new();
    for d in docs {
        s.push_str("---\n");
        s.push_str(&serde_yaml::to_string(&d.value)?);
    }
    Ok(s)
}
