//! istio-store: the Raft-replicated event log at the centre of istio-rs.
//!
//! Every change in the mesh is a [`Command`] proposed to openraft, persisted in the Raft log
//! (the write-ahead log, synced per commit), and applied identically on every member into the
//! state machine (in memory, saved as snapshots), where it becomes one [`Event`] at one dense
//! [`Revision`]. See `DESIGN.md` §2 and the crate modules:
//!
//! - [`types`]: keys, resources, txns, events, the openraft type config.
//! - [`borrowed`]: events decoded in place, for replay.
//! - [`clock`]: the wall clock, read in one place, for stamping commands.
//! - [`log_store`]: the Raft log: append-only segment files, `fdatasync`ed before an entry
//!   counts as durable.
//! - [`state_machine`]: resources, events, idempotency table, snapshots.
//! - [`network`]: the peer transport over tonic, client and server.
//! - [`export`]: backups — export the retained log, restore a fresh data directory.
//! - [`node`]: [`StoreNode`], the handle the rest of istiod uses (writes with leader
//!   forwarding, linearizable reads, watches, membership, compaction).
#![forbid(unsafe_code)]

pub mod borrowed;
pub mod clock;
pub mod codec;
pub mod error;
pub mod events;
pub mod export;
pub mod log_store;
mod mem;
pub mod network;
pub mod node;
mod pending;
pub mod state_machine;
pub mod types;

pub use borrowed::{ChangeRef, EventRef, KeyRef, ResourceRef, Text};
pub use error::StoreError;
pub use node::{ClusterMember, ClusterStatus, StoreConfig, StoreNode, WatchStream};
pub use state_machine::AppliedState;
pub use types::*;
