//! Compiles the etcd KV subset `bench store --vs-etcd` drives (`proto/etcd_kv.proto`) with
//! `protox` (pure Rust, no system protoc), client side only.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = ["proto/etcd_kv.proto"];
    for f in files {
        println!("cargo:rerun-if-changed={f}");
    }
    let fds = protox::compile(files, ["proto"])?;
    tonic_build::configure().build_server(false).build_client(true).compile_fds(fds)?;
    Ok(())
}
