//! `backend.storage`: the [`Storage`] trait, [`MemoryStorage`] and [`RedisAdapter`].
//!
//! The original's usage, in Rust (the example `cargo run -p compat --example storage`):
//!
#![doc = concat!("```\n", include_str!("../examples/storage.rs"), "\n```")]

pub use ::storage::{
    GlobPattern, MemoryStorage, MemoryStorageBuilder, Operation, Storage, StorageError, StorageExt,
};
pub use ::storage_redis::{ConfigError, RedisAdapter, RedisConfig};
