//! Smoke test of `bench store`: one member, 1 and 4 clients, half a second per phase, through
//! both APIs, no etcd. Checks that every cell measured something and that the JSON report and
//! the table agree in shape; the figures themselves are not asserted.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Builds istiod (same profile as this test) and returns its path.
fn istiod() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.args(["build", "-q", "-p", "istio-api", "--bin", "istiod", "--manifest-path"])
        .arg(&manifest);
    if !cfg!(debug_assertions) {
        cmd.arg("--release");
    }
    assert!(cmd.status().expect("run cargo").success(), "building istiod failed");
    // The bench binary is target/<profile>/bench; istiod lands beside it.
    let bin = Path::new(env!("CARGO_BIN_EXE_bench")).with_file_name("istiod");
    assert!(bin.exists(), "istiod not found at {}", bin.display());
    bin
}

#[test]
fn bench_store_smoke() {
    let json = std::env::temp_dir().join(format!("bench-store-smoke-{}.json", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_bench"))
        .args(["store", "--nodes", "1", "--clients", "1,4", "--value-sizes", "256"])
        .args(["--duration", "500ms", "--warmup", "100ms", "--runs", "1", "--api", "grpc,http"])
        .arg("--istiod")
        .arg(istiod())
        .arg("--json")
        .arg(&json)
        .output()
        .expect("run bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "bench store failed:\n{stdout}\n{stderr}");
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).expect("json report")).expect("json");
    let _ = std::fs::remove_file(&json);
    let cells = doc["cells"].as_array().expect("cells");
    // 2 APIs × 2 client counts × 3 ops.
    assert_eq!(cells.len(), 12, "{doc:#}");
    for c in cells {
        assert!(c["ops"].as_u64().unwrap_or(0) > 0, "cell measured nothing: {c}");
        assert_eq!(c["errors"], 0, "cell had errors: {c}");
        assert!(c["p50_ms"].as_f64().unwrap_or(0.0) > 0.0, "{c}");
    }
    for t in ["1 node(s), ours-grpc, 256 B", "1 node(s), ours-http, 256 B"] {
        assert!(stdout.contains(t), "no table {t:?} in:\n{stdout}");
    }
    assert_eq!(stdout.matches("read-local").count(), 4, "{stdout}");
}
