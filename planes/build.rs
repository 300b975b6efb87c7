//! Finds the protobuf descriptor set that the `envoy-types` crate ships with its sources and
//! copies it to `OUT_DIR`, so `pilot::dump` can render the xDS resources it serves as
//! proto3 JSON (the form Envoy's own config dump uses). `cargo metadata` names the crate's
//! directory, wherever cargo keeps it (registry, vendor directory, git checkout). It runs
//! offline and filtered to the target platform: a fresh machine has downloaded only the
//! packages this platform's build needs, and an unfiltered resolve would want them all.

use std::path::PathBuf;
use std::process::Command;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=build.rs");
    let out = PathBuf::from(std::env::var("OUT_DIR")?).join("envoy-descriptors.bin");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let target = std::env::var("TARGET")?;
    let meta = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--offline", "--filter-platform", &target])
        .current_dir(std::env::var("CARGO_MANIFEST_DIR")?)
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
    let src = PathBuf::from(manifest)
        .parent()
        .ok_or("envoy-types manifest has no parent directory")?
        .join("src/generated/types.bin");
    println!("cargo:rerun-if-changed={}", src.display());
    std::fs::copy(&src, &out)
        .map_err(|e| format!("cannot copy {} to {}: {e}", src.display(), out.display()))?;
    Ok(())
}
