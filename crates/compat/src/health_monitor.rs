//! The original's `backend.health_monitor`, deprecated: use [`crate::health`].
//!
//! ```
//! # #![allow(deprecated)]
//! use backend::health_monitor::{FallbackMode, HealthMonitor};
//!
//! let monitor = HealthMonitor::new();
//! assert_eq!(monitor.failure_window().as_secs(), 3600);
//! assert_eq!(FallbackMode::Primary.as_str(), "primary");
//! ```
//!
//! The same names under `#![deny(deprecated)]` do not compile:
//!
//! ```compile_fail
//! #![deny(deprecated)]
//! let monitor = backend::health_monitor::HealthMonitor::new();
//! ```
//! ```compile_fail
//! #![deny(deprecated)]
//! let _ = backend::health_monitor::FallbackMode::Primary.as_str();
//! ```

/// The old name of [`HealthMonitor`](::health::HealthMonitor).
#[deprecated(since = "0.1.0", note = "use `backend::health::HealthMonitor`")]
pub type HealthMonitor = ::health::HealthMonitor;

/// The old name of [`FallbackMode`](::fallback::FallbackMode), which the original's
/// monitor module also exported. The monitor no longer keeps a mode of its own: the
/// [`FallbackManager`](::fallback::FallbackManager) does.
#[deprecated(since = "0.1.0", note = "use `backend::fallback::FallbackMode`")]
pub type FallbackMode = ::fallback::FallbackMode;
