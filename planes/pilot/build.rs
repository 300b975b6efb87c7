//! Finds the protobuf descriptor set that the `envoy-types` crate ships with its sources and
//! copies it to `OUT_DIR`, so `pilot::dump` can render the xDS resources it serves as
//! proto3 JSON (the form Envoy's own config dump uses).
//!
//! Where the crate's sources are: first the registry cache under `CARGO_HOME`, at the version
//! the workspace's `Cargo.lock` pins (cargo unpacks every package it downloads there before
//! building); failing that (a vendor directory, a git source), `cargo metadata`, offline and
//! filtered to the target platform. Not `cargo metadata` first: it resolves the whole
//! workspace, dev-dependencies included, and a fresh machine that only builds `istiod` has
//! not downloaded all of those.

use std::path::{Path, PathBuf};
use std::process::Command;

const DESCRIPTORS: &str = "src/generated/types.bin";

/// The envoy-types version `Cargo.lock` (in `dir` or a parent) pins.
fn locked_version(dir: &Path) -> Option<String> {
    let lock = dir.ancestors().map(|d| d.join("Cargo.lock")).find(|p| p.exists())?;
    println!("cargo:rerun-if-changed={}", lock.display());
    let text = std::fs::read_to_string(lock).ok()?;
    let mut lines = text.lines();
    while let Some(l) = lines.next() {
        if l.trim() == "name = \"envoy-types\"" {
            let v = lines.next()?.trim().strip_prefix("version = \"")?.strip_suffix('"')?;
            return Some(v.to_owned());
        }
    }
    None
}

/// `CARGO_HOME/registry/src/<index>/envoy-types-<version>/…`, if unpacked there.
fn from_registry(manifest_dir: &Path) -> Option<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))?;
    let version = locked_version(manifest_dir)?;
    let indexes = std::fs::read_dir(home.join("registry").join("src")).ok()?;
    indexes
        .flatten()
        .map(|index| index.path().join(format!("envoy-types-{version}")).join(DESCRIPTORS))
        .find(|p| p.exists())
}

/// Asks cargo where the package is.
fn from_metadata(manifest_dir: &Path) -> Result<PathBuf, Box<dyn std::error::Error>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let target = std::env::var("TARGET")?;
    let meta = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--offline", "--filter-platform", &target])
        .current_dir(manifest_dir)
        .output()?;
    if !meta.status.success() {
        return Err(
            format!("cargo metadata failed: {}", String::from_utf8_lossy(&meta.stderr)).into()
        );
    }
    let v: serde_json::Value = serde_json::from_slice(&meta.stdout)?;
    let manifest = v["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["name"] == "envoy-types")
        .and_then(|p| p["manifest_path"].as_str())
        .ok_or("cargo metadata does not list the envoy-types package")?;
    Ok(PathBuf::from(manifest)
        .parent()
        .ok_or("envoy-types manifest has no parent directory")?
        .join(DESCRIPTORS))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=build.rs");
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let out = PathBuf::from(std::env::var("OUT_DIR")?).join("envoy-descriptors.bin");
    let src = match from_registry(&manifest_dir) {
        Some(p) => p,
        None => from_metadata(&manifest_dir)?,
    };
    println!("cargo:rerun-if-changed={}", src.display());
    std::fs::copy(&src, &out)
        .map_err(|e| format!("cannot copy {} to {}: {e}", src.display(), out.display()))?;
    Ok(())
}
