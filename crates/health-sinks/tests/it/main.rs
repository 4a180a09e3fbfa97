//! Integration tests of `health-sinks`: each sink through its public API, Prometheus
//! output validated with `promtool`, DogStatsD datagrams read from a loopback socket.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking"
)]

#[cfg(feature = "dogstatsd")]
mod dogstatsd;
mod logging;
#[cfg(feature = "prometheus")]
mod prometheus;
mod sinks;
mod support;
