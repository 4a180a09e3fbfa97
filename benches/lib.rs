//! Benchmarks that cross crates; see `benches/*.rs`. This library is empty: the package
//! exists to hold bench targets whose dependencies no single crate should carry, and the
//! two programs of `cargo xtask e2e-bench` (`bin/e2e_load.rs`, `bin/constant_server.rs`).
