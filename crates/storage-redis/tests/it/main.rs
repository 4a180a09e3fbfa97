//! Integration tests of `storage-redis`, all against a real `redis-server`: the shared
//! conformance suite (server from `REDIS_URL`), and fault, error and glob tests on
//! private servers the tests start, freeze, kill and restart themselves.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking"
)]

mod beyond;
#[cfg(feature = "cluster")]
mod cluster;
mod conformance;
mod errors;
mod faults;
mod glob;
mod redaction;
#[cfg(feature = "sentinel")]
mod sentinel;
#[cfg(feature = "tls")]
mod tls;

use storage_redis::testing::RedisServer;

/// The message of `error` and its causes, `: `-separated, as a chain printer shows them.
/// Fails if a level repeats the cause below it (an error either prints its cause or
/// returns it from `source()`, never both).
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut shown = error.to_string();
    let mut current = error;
    while let Some(cause) = current.source() {
        let below = cause.to_string();
        assert!(
            !current.to_string().contains(&below),
            "{current} repeats its cause {below:?}"
        );
        shown = format!("{shown}: {below}");
        current = cause;
    }
    shown
}

/// A plain redis-rs connection to `server`, to write and inspect keys behind the
/// adapter's back.
async fn raw(server: &RedisServer) -> redis::aio::MultiplexedConnection {
    let client = redis::Client::open(server.url()).unwrap();
    client.get_multiplexed_async_connection().await.unwrap()
}
