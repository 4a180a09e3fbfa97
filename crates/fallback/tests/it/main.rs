//! The integration tests of `fallback`, one binary.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod callbacks;
mod concurrency;
mod detection;
mod fallbacks;
mod holds;
mod hysteresis;
mod metrics;
mod original;
mod persistence;
mod properties;
mod redis;
mod support;
