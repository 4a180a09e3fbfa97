//! The `web` crate's integration tests: the router merged into an application, the
//! layer on an application's routes, and the serve loop against real clients on
//! 127.0.0.1 (silent, trickling, idle, many, slow).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic is how a test reports a failure"
)]

mod example;
mod facade;
mod layer;
mod router;
mod serve;
mod storage;
mod support;
