//! Integration tests of `storage`: the conformance suite on `MemoryStorage`, and the
//! glob matcher checked against a literal transcription of Redis' own algorithm.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking"
)]

mod conformance;
mod glob;
