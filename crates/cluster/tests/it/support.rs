//! Shared helpers: stores on the test Redis.

use std::time::Duration;

use cluster::{KeySpace, RedisStore};
use storage_redis::RedisConfig;
use storage_redis::testing::{redis_url, unique_prefix};

/// A prefix of its own for a test on the shared server.
pub(crate) fn prefix(test: &str) -> String {
    unique_prefix(test).trim_end_matches(':').to_owned()
}

/// A Redis configuration for `url` with a short timeout.
pub(crate) fn redis_config(url: &str) -> RedisConfig {
    let mut config = RedisConfig::new(url);
    config.timeout = Duration::from_millis(500);
    config.max_retries = 1;
    config.retry_delay = Duration::from_millis(20);
    config
}

/// A store on the shared test server under a fresh prefix, or `None` (a skip).
pub(crate) fn redis_store(test: &str) -> Option<RedisStore> {
    let url = redis_url(test)?;
    Some(RedisStore::new(redis_config(&url), KeySpace::new(&prefix(test)).unwrap()).unwrap())
}
