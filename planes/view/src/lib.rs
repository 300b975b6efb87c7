//! istio-planes-view: the View framework — every plane is a projection of the event log.
//!
//! A [`View`] folds committed events into in-memory indexes. [`replay`] builds a view at any
//! retained revision from the checkpoint plus the events after it; a [`ViewDriver`] keeps a
//! live view up to date on every member (followers too), feeding it the events its state
//! machine applied, in order, and publishing the revision it reflects so readers can wait
//! for it. Views are pure: the same events give the same view, byte for byte, which is what
//! `replay`, audit and time travel rely on.
//!
//! The crate also holds the first view, [`config_view::ConfigView`] (every configuration
//! object by kind, namespace, name and labels), because every plane and the API read it.
//! Planes (`istio-planes-pilot`, …) depend on this crate and on `istio-planes-config`, never
//! on one another.
#![forbid(unsafe_code)]

pub mod config_view;
mod driver;
mod error;

pub use driver::ViewDriver;
pub use error::ViewError;

use istio_store::state_machine::Shared;
use istio_store::{EventRef, Resource, Revision, StoreError};

/// A projection of the event log.
pub trait View: Send + Sync + 'static {
    /// Replaces the whole view with `resources`, the state at `revision` (a checkpoint).
    fn reset(&mut self, revision: Revision, resources: &[Resource]);
    /// Folds one committed event (the next revision) into the view. The event borrows the
    /// stored bytes (an owned [`istio_store::Event`] lends one with `as_ref`): copy what the
    /// view keeps.
    fn apply(&mut self, event: &EventRef<'_>);
    /// The revision the view reflects.
    fn revision(&self) -> Revision;
    /// The last revision that changed what the view holds: the revision of the last event it
    /// folded something from (or of the checkpoint it was reset to). A view that folds only
    /// some kinds keeps it where it was for events of the others, so a plane woken on
    /// [`ViewDriver::subscribe_content`] is not woken, and does no work, for a write it
    /// ignores. A view that folds every event keeps the default: its revision.
    fn content_revision(&self) -> Revision {
        self.revision()
    }
}

/// Builds `V` as of `at`: checkpoint, then every retained event up to `at`. Fails with
/// `Compacted` below the compaction point and `FutureRevision` above the current revision.
pub fn replay<V: View + Default>(state: &Shared, at: Revision) -> Result<V, ViewError> {
    let (compact, resources) = state.checkpoint()?;
    let current = state.applied_state().revision;
    if at < compact {
        return Err(StoreError::Compacted { requested: at, oldest: compact }.into());
    }
    if at > current {
        return Err(StoreError::FutureRevision { requested: at, current }.into());
    }
    let mut v = V::default();
    v.reset(compact, &resources);
    state.for_each_event(compact, at, |ev| v.apply(ev))?;
    Ok(v)
}
