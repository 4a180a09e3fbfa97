//! Integration tests of `storage`: the conformance suite on `MemoryStorage`, and the
//! glob matcher checked against a literal transcription of Redis' own algorithm.

mod conformance;
mod glob;
