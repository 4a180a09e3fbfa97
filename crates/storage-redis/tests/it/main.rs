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
