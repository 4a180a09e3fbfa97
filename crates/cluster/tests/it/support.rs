//! Shared helpers: health states, stores and coordinators on the test Redis, waiting.

use std::sync::Arc;
use std::time::Duration;

use cluster::{ClusterConfig, Coordinator, KeySpace, RedisStore};
use fallback::FallbackManager;
use health_model::HealthState;
use serde_json::json;
use storage_redis::RedisConfig;
use storage_redis::testing::{redis_url, unique_prefix};

/// CLOSED breaker, no failed component: PRIMARY.
pub(crate) fn healthy() -> HealthState {
    serde_json::from_value(json!({"system": {"status": "healthy", "failed_components": 0}, "circuit_breaker": {"state": "CLOSED"}})).unwrap()
}

/// Two failed components: SAFE.
pub(crate) fn failing() -> HealthState {
    serde_json::from_value(json!({"system": {"status": "failed", "failed_components": 2}, "circuit_breaker": {"state": "CLOSED"}})).unwrap()
}

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

/// Fast settings for coordinators in tests: heartbeats every 200 ms, a 1.5 s lease.
pub(crate) fn fast_config(prefix: &str) -> ClusterConfig {
    let mut config = ClusterConfig::default();
    config.prefix = prefix.to_owned();
    config.heartbeat_interval = Duration::from_millis(200);
    config.vote_ttl = Duration::from_millis(600);
    config.lease_ttl = Duration::from_millis(1500);
    config.command_timeout = Duration::from_millis(200);
    config
}

/// A coordinator named `id` with a fresh manager, on `url` under `config`.
pub(crate) fn coordinator(id: &str, url: &str, config: &ClusterConfig) -> Coordinator {
    Coordinator::builder(Arc::new(FallbackManager::in_memory()))
        .config(config.clone())
        .instance_id(id)
        .redis(redis_config(url))
        .build()
        .unwrap()
}

/// Polls `condition` every 5 ms until it holds or `limit` passes; how long it took.
pub(crate) async fn until(
    limit: Duration,
    mut condition: impl FnMut() -> bool,
) -> Option<Duration> {
    let start = tokio::time::Instant::now();
    loop {
        if condition() {
            return Some(start.elapsed());
        }
        if start.elapsed() > limit {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
