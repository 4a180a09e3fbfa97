//! Benchmarks that cross crates; see `benches/*.rs`. This library is empty: the package
//! exists to hold bench targets whose dependencies no single crate should carry.
