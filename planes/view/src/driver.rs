//! [`ViewDriver`]: keeps one live view current on a member, from its state machine.
//!
//! A background task folds every applied event into the view, in order, and publishes the
//! revision the view reflects on a `watch`, so readers wait for the revision they need and
//! then read under a short lock. When a snapshot install compacts past the view, the view is
//! rebuilt from the new checkpoint; when the checkpoint cannot be read, the task backs off
//! (on tokio's clock) instead of spinning.

use std::sync::Arc;
use std::time::Duration;

use istio_store::state_machine::Shared;
use istio_store::{Revision, StoreError};
use parking_lot::RwLock;
use tokio::sync::watch;

use crate::{View, ViewError};

/// The first wait after a failed checkpoint read; doubled up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(10);
/// The longest wait between two checkpoint reads that keep failing.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// A live view kept current by a background task.
pub struct ViewDriver<V: View> {
    view: Arc<RwLock<V>>,
    revision: watch::Receiver<Revision>,
    content: watch::Receiver<Revision>,
}

impl<V: View> Clone for ViewDriver<V> {
    fn clone(&self) -> Self {
        Self {
            view: self.view.clone(),
            revision: self.revision.clone(),
            content: self.content.clone(),
        }
    }
}

impl<V: View + Default> ViewDriver<V> {
    /// Starts feeding a fresh `V` from `state`: checkpoint, retained events, then every new
    /// event as it is applied. A compaction that overtakes the view (after a snapshot install)
    /// rebuilds it from the new checkpoint.
    pub fn spawn(state: Arc<Shared>) -> Self {
        let view = Arc::new(RwLock::new(V::default()));
        let (tx, rx) = watch::channel(0);
        let (content_tx, content_rx) = watch::channel(0);
        let (v, st) = (view.clone(), state.clone());
        tokio::spawn(async move {
            let mut applied = st.subscribe();
            let mut need_reset = true;
            let mut backoff = FIRST_BACKOFF;
            loop {
                applied.borrow_and_update();
                if need_reset {
                    match st.checkpoint() {
                        Ok((rev, resources)) => {
                            v.write().reset(rev, &resources);
                            need_reset = false;
                            backoff = FIRST_BACKOFF;
                        }
                        Err(e) => {
                            tracing::error!(error = %e, retry_in = ?backoff, "view: cannot read the checkpoint");
                            tokio::time::sleep(backoff).await;
                            backoff = (backoff * 2).min(MAX_BACKOFF);
                            continue;
                        }
                    }
                }
                {
                    // Lock order: the view, then (inside `for_each_event`) the store.
                    let mut g = v.write();
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
                let (revision, content) = {
                    let g = v.read();
                    (g.revision(), g.content_revision())
                };
                tx.send_replace(revision);
                // Only a change of content wakes content subscribers.
                content_tx.send_if_modified(|c| std::mem::replace(c, content) != content);
                if applied.changed().await.is_err() || tx.is_closed() {
                    return;
                }
            }
        });
        Self { view, revision: rx, content: content_rx }
    }
}

impl<V: View> ViewDriver<V> {
    /// Waits until the view reflects at least `revision`, then reads it with `f` (a short,
    /// synchronous read under the view's lock).
    pub async fn read_at_least<T>(
        &self,
        revision: Revision,
        f: impl FnOnce(&V) -> T,
    ) -> Result<T, ViewError> {
        let mut rx = self.revision.clone();
        rx.wait_for(|r| *r >= revision).await.map_err(|_| ViewError::Stopped)?;
        Ok(f(&self.view.read()))
    }

    /// Reads the view as it is now.
    pub fn read_now<T>(&self, f: impl FnOnce(&V) -> T) -> T {
        f(&self.view.read())
    }

    /// The revision the view reflects, as a watch channel (changes after every applied batch).
    pub fn subscribe(&self) -> watch::Receiver<Revision> {
        self.revision.clone()
    }

    /// The view's [`View::content_revision`], as a watch channel: it changes only when an
    /// event changed what the view holds, so events of kinds the view ignores wake nobody.
    pub fn subscribe_content(&self) -> watch::Receiver<Revision> {
        self.content.clone()
    }
}
