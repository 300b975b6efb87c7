//! The View framework: every plane is a projection of the event log.
//!
//! A [`View`] folds committed events into in-memory indexes. [`replay`] builds a view at any
//! retained revision from the checkpoint plus the events after it; a [`ViewDriver`] keeps a
//! live view up to date on every member (followers too), feeding it the events its state
//! machine applied, in order, and publishing the revision it reflects so readers can wait
//! for it. Views are pure: the same events give the same view, byte for byte.

use std::sync::{Arc, RwLock, RwLockReadGuard};

use istio_store::state_machine::Shared;
use istio_store::{EventRef, Resource, Revision, StoreError};
use tokio::sync::watch;

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
}

/// Builds `V` as of `at`: checkpoint, then every retained event up to `at`. Fails with
/// `Compacted` below the compaction point and `FutureRevision` above the current revision.
pub fn replay<V: View + Default>(state: &Shared, at: Revision) -> Result<V, StoreError> {
    let (compact, resources) = state.checkpoint()?;
    let current = state.applied_state().revision;
    if at < compact {
        return Err(StoreError::Compacted { requested: at, oldest: compact });
    }
    if at > current {
        return Err(StoreError::FutureRevision { requested: at, current });
    }
    let mut v = V::default();
    v.reset(compact, &resources);
    state.for_each_event(compact, at, |ev| v.apply(ev))?;
    Ok(v)
}

/// A live view kept current by a background task.
pub struct ViewDriver<V: View> {
    view: Arc<RwLock<V>>,
    revision: watch::Receiver<Revision>,
}

impl<V: View> Clone for ViewDriver<V> {
    fn clone(&self) -> Self {
        Self { view: self.view.clone(), revision: self.revision.clone() }
    }
}

impl<V: View + Default> ViewDriver<V> {
    /// Starts feeding a fresh `V` from `state`: checkpoint, retained events, then every new
    /// event as it is applied. A compaction that overtakes the view (after a snapshot install)
    /// rebuilds it from the new checkpoint.
    pub fn spawn(state: Arc<Shared>) -> Self {
        let view = Arc::new(RwLock::new(V::default()));
        let (tx, rx) = watch::channel(0);
        let (v, st) = (view.clone(), state.clone());
        tokio::spawn(async move {
            let mut applied = st.subscribe();
            let mut need_reset = true;
            loop {
                applied.borrow_and_update();
                if need_reset {
                    match st.checkpoint() {
                        Ok((rev, resources)) => {
                            write(&v).reset(rev, &resources);
                            need_reset = false;
                        }
                        Err(e) => tracing::error!(error = %e, "view: cannot read the checkpoint"),
                    }
                }
                {
                    // Lock order: the view, then (inside `for_each_event`) the store.
                    let mut g = write(&v);
                    let after = g.revision();
                    match st.for_each_event(after, Revision::MAX, |ev| g.apply(ev)) {
                        Ok(_) => {}
                        Err(StoreError::Compacted { .. }) => need_reset = true,
                        Err(e) => tracing::error!(error = %e, "view: cannot read events"),
                    }
                }
                if need_reset {
                    continue;
                }
                tx.send_replace(read(&v).revision());
                if applied.changed().await.is_err() || tx.is_closed() {
                    return;
                }
            }
        });
        Self { view, revision: rx }
    }
}

fn read<V>(l: &RwLock<V>) -> RwLockReadGuard<'_, V> {
    l.read().unwrap_or_else(|p| p.into_inner())
}

fn write<V>(l: &RwLock<V>) -> std::sync::RwLockWriteGuard<'_, V> {
    l.write().unwrap_or_else(|p| p.into_inner())
}

impl<V: View> ViewDriver<V> {
    /// Waits until the view reflects at least `revision`, then reads it with `f` (a short,
    /// synchronous read under the view's lock).
    pub async fn read_at_least<T>(
        &self,
        revision: Revision,
        f: impl FnOnce(&V) -> T,
    ) -> Result<T, StoreError> {
        let mut rx = self.revision.clone();
        rx.wait_for(|r| *r >= revision)
            .await
            .map_err(|_| StoreError::Raft("the view driver has stopped".into()))?;
        Ok(f(&read(&self.view)))
    }

    /// Reads the view as it is now.
    pub fn read_now<T>(&self, f: impl FnOnce(&V) -> T) -> T {
        f(&read(&self.view))
    }

    /// The revision the view reflects, as a watch channel (changes after every applied batch).
    pub fn subscribe(&self) -> watch::Receiver<Revision> {
        self.revision.clone()
    }
}
