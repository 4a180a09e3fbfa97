//! The original's `backend.fallback_manager`, deprecated: use [`crate::fallback`].
//!
//! The original's shim built its own `MemoryStorage`; so does
//! [`FallbackManager::in_memory`](::fallback::FallbackManager::in_memory), reached through
//! the old name:
//!
//! ```
//! # #![allow(deprecated)]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use backend::fallback_manager::{FallbackManager, FallbackMode};
//!
//! let manager = FallbackManager::in_memory();
//! assert_eq!(manager.get_current_mode(), FallbackMode::Primary);
//! assert_eq!(FallbackManager::default().get_mode_string(), "primary");
//! # }
//! ```
//!
//! The same names under `#![deny(deprecated)]` do not compile:
//!
//! ```compile_fail
//! #![deny(deprecated)]
//! let manager = backend::fallback_manager::FallbackManager::in_memory();
//! ```
//! ```compile_fail
//! #![deny(deprecated)]
//! let _ = backend::fallback_manager::FallbackMode::Primary;
//! ```

/// The old name of [`FallbackManager`](::fallback::FallbackManager);
/// `FallbackManager::in_memory()` is the original's storage-less constructor.
#[deprecated(
    since = "0.1.0",
    note = "use `backend::fallback::FallbackManager` with a storage (`FallbackManager::new(storage)`); `FallbackManager::in_memory()` keeps the old storage-less behaviour"
)]
pub type FallbackManager = ::fallback::FallbackManager;

/// The old name of [`FallbackMode`](::fallback::FallbackMode).
#[deprecated(since = "0.1.0", note = "use `backend::fallback::FallbackMode`")]
pub type FallbackMode = ::fallback::FallbackMode;
