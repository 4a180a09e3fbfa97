//! The integration tests of `cluster`, one binary: the store's operations on a real
//! Redis and on the in-memory model, coordinators on one Redis, and the legacy client.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod coordinators;
mod legacy;
mod store;
mod support;
