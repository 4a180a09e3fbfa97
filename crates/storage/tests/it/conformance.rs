//! `MemoryStorage` passes the conformance suite every backend must pass.

use std::sync::Arc;

use storage::{MemoryStorage, Storage};

async fn memory() -> Option<Arc<dyn Storage>> {
    let storage = MemoryStorage::new();
    storage.connect().await.ok()?;
    Some(Arc::new(storage))
}

storage::conformance_tests!(memory);
