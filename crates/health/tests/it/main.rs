//! Integration tests of `health`: the original's health, checks, sinks and integrations
//! suites re-expressed against real backends (MemoryStorage, Redis, a local HTTP server,
//! the real disk, promtool), plus timeouts, panic isolation, concurrency, caching and
//! staleness.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking"
)]

#[cfg(feature = "alerts")]
mod alert_book;
mod cache;
mod checks;
mod concurrency;
#[cfg(feature = "http-check")]
mod http_server;
#[cfg(feature = "alerts")]
mod integrations;
mod monitor;
mod probes;
mod registry;
mod runner;
mod sinks;
mod support;
#[cfg(feature = "http-check")]
mod tls_server;
