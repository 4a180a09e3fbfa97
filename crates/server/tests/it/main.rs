//! The server's integration tests: the real server on an ephemeral 127.0.0.1 port,
//! in-process through `server::serve` or as the built binary, spoken to over HTTP.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic is how a test reports a failure"
)]

mod bad_input;
mod binary;
mod metrics;
mod redis;
mod routes;
mod shutdown;
mod support;
mod tls;
mod webhooks;
