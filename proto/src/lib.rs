//! Generated gRPC/protobuf types for istio-rs. No logic lives here.

/// Peer-to-peer Raft transport between istiod members (`proto/raft.proto`).
pub mod raft {
    #![allow(clippy::all, missing_docs, rust_2018_idioms)]
    tonic::include_proto!("istio.raft.v1");
}

/// The configuration service on `--grpc` (`proto/config.proto`).
pub mod config {
    #![allow(clippy::all, missing_docs, rust_2018_idioms)]
    tonic::include_proto!("istio.config.v1");
}
