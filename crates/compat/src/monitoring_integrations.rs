//! The original's `backend.monitoring_integrations`, deprecated: use
//! [`crate::health::integrations`].
//!
//! `DatadogAdapter` and `NewRelicAdapter` are each a deprecated type alias and a
//! deprecated constant of the same name, so they work as types and as values, like the
//! unit structs they stand for. `MonitoringAdapter` is a deprecated subtrait every adapter
//! implements (a trait cannot be aliased); a glob import also brings the new trait's
//! methods into scope:
//!
//! ```
//! # #![allow(deprecated)]
//! use backend::monitoring_integrations::*;
//!
//! let adapter: DatadogAdapter = DatadogAdapter;
//! let alerts = adapter.parse_payload(&serde_json::json!({
//!     "alert_type": "warning", "check": "db-connection", "text": "slow"
//! }))?;
//! assert_eq!(alerts[0].component, "db-connection");
//! let error: AdapterParseError = NewRelicAdapter.parse_payload(&serde_json::json!({})).unwrap_err();
//! let boxed: &dyn MonitoringAdapter = &NewRelicAdapter;
//! assert_eq!(boxed.provider(), "newrelic");
//! # let _ = error;
//! # Ok::<(), backend::health::AdapterParseError>(())
//! ```
//!
//! The same names under `#![deny(deprecated)]` do not compile, one by one:
//!
//! ```compile_fail
//! #![deny(deprecated)]
//! let _ = backend::monitoring_integrations::DatadogAdapter;
//! ```
//! ```compile_fail
//! #![deny(deprecated)]
//! let _: Option<backend::monitoring_integrations::DatadogAdapter> = None;
//! ```
//! ```compile_fail
//! #![deny(deprecated)]
//! let _ = backend::monitoring_integrations::NewRelicAdapter;
//! ```
//! ```compile_fail
//! #![deny(deprecated)]
//! let _: Option<backend::monitoring_integrations::NewRelicAdapter> = None;
//! ```
//! ```compile_fail
//! #![deny(deprecated)]
//! let _: Option<&dyn backend::monitoring_integrations::MonitoringAdapter> = None;
//! ```
//! ```compile_fail
//! #![deny(deprecated)]
//! let _: Option<backend::monitoring_integrations::AdapterParseError> = None;
//! ```

#![allow(
    non_upper_case_globals,
    reason = "constants named like the unit structs they stand for"
)]

/// The old name of [`DatadogAdapter`](::health::alerts::DatadogAdapter), as a type.
#[deprecated(
    since = "0.1.0",
    note = "use `backend::health::integrations::DatadogAdapter`"
)]
pub type DatadogAdapter = ::health::alerts::DatadogAdapter;

/// The old name of [`DatadogAdapter`](::health::alerts::DatadogAdapter), as a value.
#[deprecated(
    since = "0.1.0",
    note = "use `backend::health::integrations::DatadogAdapter`"
)]
pub const DatadogAdapter: ::health::alerts::DatadogAdapter = ::health::alerts::DatadogAdapter;

/// The old name of [`NewRelicAdapter`](::health::alerts::NewRelicAdapter), as a type.
#[deprecated(
    since = "0.1.0",
    note = "use `backend::health::integrations::NewRelicAdapter`"
)]
pub type NewRelicAdapter = ::health::alerts::NewRelicAdapter;

/// The old name of [`NewRelicAdapter`](::health::alerts::NewRelicAdapter), as a value.
#[deprecated(
    since = "0.1.0",
    note = "use `backend::health::integrations::NewRelicAdapter`"
)]
pub const NewRelicAdapter: ::health::alerts::NewRelicAdapter = ::health::alerts::NewRelicAdapter;

/// The old name of the [`MonitoringAdapter`](::health::alerts::MonitoringAdapter) trait: a
/// deprecated subtrait every adapter implements. Use it as a bound or behind `dyn`;
/// implement the new trait.
#[deprecated(
    since = "0.1.0",
    note = "use `backend::health::integrations::MonitoringAdapter`"
)]
pub trait MonitoringAdapter: ::health::alerts::MonitoringAdapter {}

#[allow(deprecated, reason = "the blanket impl of the deprecated name itself")]
impl<T: ::health::alerts::MonitoringAdapter + ?Sized> MonitoringAdapter for T {}

/// Brings the new trait's methods into scope for `use backend::monitoring_integrations::*`.
pub use ::health::alerts::MonitoringAdapter as _;

/// The old name of [`AdapterParseError`](::health::alerts::AdapterParseError).
#[deprecated(
    since = "0.1.0",
    note = "use `backend::health::integrations::AdapterParseError`"
)]
pub type AdapterParseError = ::health::alerts::AdapterParseError;
