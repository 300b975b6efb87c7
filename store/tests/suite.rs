//! openraft's storage conformance suite against the file-backed log store and the sled state
//! machine.

use istio_store::log_store::LogStore;
use istio_store::state_machine::StateMachine;
use istio_store::{NodeId, TypeConfig};
use openraft::testing::{StoreBuilder, Suite};
use openraft::{StorageError, StorageIOError};

struct SledBuilder;

impl StoreBuilder<TypeConfig, LogStore, StateMachine, tempfile::TempDir> for SledBuilder {
    async fn build(
        &self,
    ) -> Result<(tempfile::TempDir, LogStore, StateMachine), StorageError<NodeId>> {
        let dir = tempfile::tempdir().map_err(|e| StorageIOError::write(&e))?;
        let db = sled::Config::new()
            .path(dir.path().join("sled"))
            .temporary(true)
            .open()
            .map_err(|e| StorageIOError::write(&e))?;
        let log = LogStore::open(&db, &dir.path().join("raft-log"))
            .map_err(|e| StorageIOError::write(&e))?;
        let sm = StateMachine::open(&db).map_err(|e| StorageIOError::write(&e))?;
        Ok((dir, log, sm))
    }
}

#[test]
fn openraft_storage_suite() -> Result<(), StorageError<NodeId>> {
    Suite::test_all(SledBuilder)
}
