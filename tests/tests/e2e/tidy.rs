//! Tidy: the documents say what the tree holds. Every crate, module and path ARCHITECTURE.md
//! names exists; no `//!` overview calls something unfinished, or says that an existing crate
//! or module is yet to come.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().expect("workspace root")
}

/// Where each crate short name used in ARCHITECTURE.md (`store::node`) keeps its modules.
const CRATES: &[(&str, &str)] = &[
    ("store", "store/src"),
    ("config", "planes/config/src"),
    ("view", "planes/view/src"),
    ("pilot", "planes/pilot/src"),
    ("api", "api/src"),
    ("chaos", "chaos/src"),
    ("tests", "tests/src"),
];

/// Every `.rs` file of the workspace outside `target/`.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        let name = e.file_name();
        if p.is_dir() {
            if name != "target" && !name.to_string_lossy().starts_with('.') {
                sources(&p, out);
            }
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The backticked spans of a Markdown text.
fn code_spans(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_block = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_block = !in_block;
            continue;
        }
        if in_block {
            continue;
        }
        let mut parts = line.split('`');
        parts.next();
        while let (Some(code), Some(_)) = (parts.next(), parts.next()) {
            out.push(code.to_owned());
        }
    }
    out
}

/// Whether `crate::a::b` names a module of a crate in [`CRATES`] (or an item in one).
fn module_exists(root: &Path, path: &str) -> Result<bool, String> {
    let mut segs = path.split("::");
    let krate = segs.next().unwrap_or_default();
    let Some((_, dir)) = CRATES.iter().find(|(k, _)| *k == krate) else {
        return Err(format!("unknown crate short name {krate:?}"));
    };
    let segs: Vec<&str> = segs.collect();
    let file_of = |mods: &[&str]| -> Option<PathBuf> {
        if mods.is_empty() {
            return Some(root.join(dir).join("lib.rs"));
        }
        let base = root.join(dir).join(mods.join("/"));
        [base.with_extension("rs"), base.join("mod.rs")].into_iter().find(|p| p.exists())
    };
    if file_of(&segs).is_some() {
        return Ok(true);
    }
    // `api::grpc::to_status`: the last segment is an item of the module before it.
    let (item, parent) = segs.split_last().expect("at least one segment");
    Ok(file_of(parent).and_then(|f| std::fs::read_to_string(f).ok()).is_some_and(|src| {
        src.split(|c: char| !(c.is_alphanumeric() || c == '_')).any(|w| w == *item)
    }))
}

#[test]
fn every_crate_module_and_path_named_in_architecture_exists() {
    let root = root();
    let text = std::fs::read_to_string(root.join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let manifests: String = {
        let mut all = Vec::new();
        sources(&root, &mut all);
        let dirs: BTreeSet<PathBuf> = all
            .iter()
            .filter_map(|p| p.ancestors().find(|a| a.join("Cargo.toml").exists()))
            .map(Path::to_owned)
            .collect();
        dirs.iter().filter_map(|d| std::fs::read_to_string(d.join("Cargo.toml")).ok()).collect()
    };
    let tops = ["proto/", "store/", "planes/", "api/", "chaos/", "tests/", "proxy/"];
    let mut missing = Vec::new();
    let mut checked = 0;
    for code in code_spans(&text) {
        let code = code.trim();
        if code.starts_with("istio-") && !code.contains(' ') {
            checked += 1;
            if !manifests.contains(&format!("name = \"{code}\"")) {
                missing.push(format!("crate {code}"));
            }
        } else if code.contains("::")
            && code
                .split("::")
                .all(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
            && CRATES.iter().any(|(k, _)| code.starts_with(&format!("{k}::")))
        {
            checked += 1;
            match module_exists(&root, code) {
                Ok(true) => {}
                Ok(false) => missing.push(format!("module {code}")),
                Err(e) => missing.push(format!("{code}: {e}")),
            }
        } else if tops.iter().any(|t| code.starts_with(t))
            && !code.contains(['<', '{', '*', ' '])
            && !code.starts_with("proxy/")
        {
            checked += 1;
            if !root.join(code.trim_end_matches('/')).exists() {
                missing.push(format!("path {code}"));
            }
        }
    }
    assert!(checked >= 40, "only {checked} names checked: has ARCHITECTURE.md lost its code map?");
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md names what does not exist:\n  {}",
        missing.join("\n  ")
    );
}

#[test]
fn no_overview_calls_what_exists_later_or_in_progress() {
    let root = root();
    let mut files = Vec::new();
    sources(&root, &mut files);
    // What exists: every module file stem and crate directory, plus the planes' names.
    let mut existing: BTreeSet<String> = files
        .iter()
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .filter(|s| !matches!(s.as_str(), "mod" | "lib" | "main" | "build"))
        .collect();
    existing.extend(["Pilot", "istioctl", "istiod", "xDS", "ADS"].map(String::from));
    let mut bad = Vec::new();
    for f in &files {
        let Ok(src) = std::fs::read_to_string(f) else { continue };
        for (i, line) in src.lines().enumerate() {
            let Some(doc) = line.trim_start().strip_prefix("//!") else { continue };
            let lower = doc.to_lowercase();
            let at = || {
                format!(
                    "{}:{}: {}",
                    f.strip_prefix(&root).unwrap_or(f).display(),
                    i + 1,
                    doc.trim()
                )
            };
            if lower.contains("in progress") {
                bad.push(at());
            } else if lower.split(|c: char| !c.is_alphanumeric()).any(|w| w == "later") {
                let names: Vec<&str> = doc
                    .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .filter(|w| existing.contains(*w))
                    .collect();
                let promise = ["later:", "(later", "and later"].iter().any(|p| lower.contains(p));
                if promise && !names.is_empty() {
                    bad.push(format!("{} (names {names:?}, which exist)", at()));
                }
            }
        }
    }
    assert!(
        bad.is_empty(),
        "overviews that call existing things later or in progress:\n  {}",
        bad.join("\n  ")
    );
}

/// The workspace crates a manifest depends on (`istio-…` names in its dependency tables).
fn workspace_deps(manifest: &Path) -> BTreeSet<String> {
    let text =
        std::fs::read_to_string(manifest).unwrap_or_else(|e| panic!("{}: {e}", manifest.display()));
    let mut out = BTreeSet::new();
    let mut in_deps = false;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            // Build and dev dependencies do not shape the crate graph of what ships.
            in_deps = t == "[dependencies]";
            continue;
        }
        if in_deps {
            if let Some(name) = t.split(['.', ' ', '=']).next().filter(|n| n.starts_with("istio-"))
            {
                out.insert(name.to_owned());
            }
        }
    }
    out
}

/// The crate graph points one way (DESIGN §1): `proto ← store ← planes/{view,config,pilot,…} ←
/// api`; `planes/config` depends on no store; a plane depends on `view` and `config` only,
/// never on another plane.
#[test]
fn the_crate_graph_points_one_way() {
    let root = root();
    let deps = |dir: &str| workspace_deps(&root.join(dir).join("Cargo.toml"));
    assert_eq!(deps("proto"), BTreeSet::new());
    assert_eq!(deps("store"), BTreeSet::from(["istio-proto".to_owned()]));
    assert_eq!(deps("planes/config"), BTreeSet::new(), "the config model needs no store");
    assert_eq!(deps("planes/view"), BTreeSet::from(["istio-store".to_owned()]));
    for e in std::fs::read_dir(root.join("planes")).expect("planes/").flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !e.path().join("Cargo.toml").exists() || matches!(name.as_str(), "view" | "config") {
            continue;
        }
        let planes: Vec<String> = deps(&format!("planes/{name}"))
            .into_iter()
            .filter(|d| {
                d.starts_with("istio-planes-")
                    && !matches!(d.as_str(), "istio-planes-view" | "istio-planes-config")
            })
            .collect();
        assert!(planes.is_empty(), "plane {name} depends on other planes: {planes:?}");
        assert!(
            !deps(&format!("planes/{name}")).contains("istio-api"),
            "plane {name} depends on the api"
        );
    }
    let chaos = deps("chaos");
    assert_eq!(
        chaos,
        BTreeSet::from(["istio-proto".to_owned()]),
        "chaos talks to istiod over the wire"
    );
    if root.join("proxy/Cargo.toml").exists() {
        let proxy = deps("proxy");
        assert!(
            proxy.iter().all(|d| d == "istio-proto"),
            "proxy depends on {proxy:?}; only istio-proto is allowed"
        );
    }
}

/// The commands and source paths the top-level documents give work: every `-p CRATE` names a
/// workspace crate, and every `….rs` path under a crate directory exists.
#[test]
fn the_documents_name_crates_and_files_that_exist() {
    let root = root();
    let mut crates = BTreeSet::new();
    let mut all = Vec::new();
    sources(&root, &mut all);
    for dir in all.iter().filter_map(|p| p.ancestors().find(|a| a.join("Cargo.toml").exists())) {
        let text = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap_or_default();
        if let Some(name) = text.lines().find_map(|l| l.strip_prefix("name = \"")) {
            crates.insert(name.trim_end_matches('"').to_owned());
        }
    }
    let tops = ["proto/", "store/", "planes/", "api/", "chaos/", "tests/"];
    let mut bad = Vec::new();
    for doc in ["README.md", "ARCHITECTURE.md", "BENCHMARKS.md"] {
        let text = std::fs::read_to_string(root.join(doc)).unwrap_or_else(|e| panic!("{doc}: {e}"));
        let words: Vec<&str> =
            text.split(|c: char| c.is_whitespace() || c == '`' || c == '(' || c == ')').collect();
        for pair in words.windows(2) {
            if pair[0] == "-p" && !pair[1].is_empty() && !pair[1].starts_with('-') {
                let name = pair[1].trim_end_matches([',', ';', '.', ':']);
                if name.starts_with("istio-") && !crates.contains(name) {
                    bad.push(format!("{doc}: -p {name}: no such crate"));
                }
            }
        }
        for w in &words {
            let w = w.trim_end_matches([',', ';', '.', ':', '"', '\'']);
            let source_path = tops.iter().any(|t| w.starts_with(t))
                && w.ends_with(".rs")
                && !w.contains(['<', '*', '{']);
            if source_path && !root.join(w).exists() {
                bad.push(format!("{doc}: {w}: no such file"));
            }
        }
    }
    assert!(bad.is_empty(), "documents name what does not exist:\n  {}", bad.join("\n  "));
}
