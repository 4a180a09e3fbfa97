//! Health checks: the [`HealthCheck`] trait, the shared runner ([`run_check`]) that adds
//! timeouts, latency and panic isolation to every check, and the built-in checks.
//!
//! | Check | Probes | Feature |
//! |-------|--------|---------|
//! | [`StorageHealthCheck`] ([`RedisHealthCheck`]) | any `storage::Storage` backend | always |
//! | [`ComponentHealthCheck`] | one component of a [`ComponentRegistry`](crate::ComponentRegistry) | always |
//! | [`check_fn`] | an async closure of yours | always |
//! | `DownstreamServiceCheck` | an HTTP dependency over `http://` or `https://` (rustls), with any method and headers | `http-check` |
//! | `DiskSpaceCheck` | the file system holding a path | `disk` |

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

#[cfg(feature = "http-check")]
mod http;
#[cfg(feature = "http-check")]
pub use http::{DEFAULT_MAX_BODY_BYTES, DownstreamServiceCheck};

#[cfg(feature = "disk")]
mod disk;
#[cfg(feature = "disk")]
pub use disk::DiskSpaceCheck;
