//! The integration tests of `cluster`, one binary: the store's operations on a real
//! Redis and on the in-memory model, and coordinators on one Redis.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod coordinators;
mod store;
mod support;
