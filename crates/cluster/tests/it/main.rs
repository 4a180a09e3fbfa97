//! The integration tests of `cluster`, one binary: the store's operations on a real
//! Redis and on the in-memory model, coordinators on one Redis, the legacy client, and
//! the deterministic simulation of the protocol.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod coordinators;
mod legacy;
mod sim;
mod store;
mod support;
