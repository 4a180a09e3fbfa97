//! Integration tests of `storage-redis`, all against a real `redis-server`: the shared
//! conformance suite (server from `REDIS_URL`), and fault, error and glob tests on
//! private servers the tests start, freeze, kill and restart themselves.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking"
)]

mod conformance;
mod errors;
mod faults;
mod glob;

use storage_redis::testing::RedisServer;

/// A plain redis-rs connection to `server`, to write and inspect keys behind the
/// adapter's back.
async fn raw(server: &RedisServer) -> redis::aio::MultiplexedConnection {
    let client = redis::Client::open(server.url()).unwrap();
    client.get_multiplexed_async_connection().await.unwrap()
}
