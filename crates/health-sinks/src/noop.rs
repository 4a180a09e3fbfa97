use std::time::SystemTime;

use crate::{MetricsSink, Tag};

/// A sink that discards everything: the default when nothing should be exported.
///
/// Every method is an empty function the compiler can inline away.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoOpMetricsSink;

impl NoOpMetricsSink {
    /// Creates the sink.
    #[must_use]
    pub const fn new() -> Self {
        Self
    }
}

impl MetricsSink for NoOpMetricsSink {
    #[inline]
    fn emit(&self, _name: &str, _value: f64, _tags: &[Tag<'_>], _timestamp: Option<SystemTime>) {}

    #[inline]
    fn emit_counter(&self, _name: &str, _value: u64, _tags: &[Tag<'_>]) {}

    #[inline]
    fn emit_histogram(&self, _name: &str, _value: f64, _tags: &[Tag<'_>]) {}
}
