//! Health checks: the [`HealthCheck`] trait, the shared runner ([`run_check`]) that adds
//! timeouts, latency and panic isolation to every check, and the built-in checks.
//!
//! | Check | Probes |
//! |-------|--------|
//! | [`StorageHealthCheck`] ([`RedisHealthCheck`]) | any `storage::Storage` backend |
//! | [`ComponentHealthCheck`] | one component of a [`ComponentRegistry`](crate::ComponentRegistry) |
//! | [`check_fn`] | an async closure of yours |
//! | [`DownstreamServiceCheck`] | an HTTP dependency, with a `GET` |
//! | [`DiskSpaceCheck`] | the file system holding a path |

mod check;
pub use check::{
    CheckError, CheckOutcome, DEFAULT_CHECK_TIMEOUT, FnHealthCheck, HealthCheck, check_fn,
    run_check,
};
pub(crate) use check::{panic_message, run_check_timed};

mod storage;
pub use storage::{HEALTH_CHECK_KEY, RedisHealthCheck, StorageHealthCheck};

mod component;
pub use component::ComponentHealthCheck;

mod http;
pub use http::DownstreamServiceCheck;

mod disk;
pub use disk::DiskSpaceCheck;
