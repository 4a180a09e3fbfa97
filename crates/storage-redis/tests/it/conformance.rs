//! `RedisAdapter` passes the conformance suite every backend must pass.

use std::sync::Arc;

use storage::Storage;
use storage_redis::testing;

async fn redis() -> Option<Arc<dyn Storage>> {
    let adapter = testing::shared_adapter("storage-redis conformance").await?;
    Some(Arc::new(adapter))
}

storage::conformance_tests!(redis);
