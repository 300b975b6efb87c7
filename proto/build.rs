//! Compiles `proto/*.proto` with `protox` (pure Rust), so building needs only cargo.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = ["proto/raft.proto", "proto/config.proto"];
    for f in files {
        println!("cargo:rerun-if-changed={f}");
    }
    let fds = protox::compile(files, ["proto"])?;
    tonic_build::configure().build_server(true).build_client(true).compile_fds(fds)?;
    Ok(())
}
