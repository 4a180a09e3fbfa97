use std::sync::Arc;
use std::time::SystemTime;

use crate::{MetricsSink, Tag};

/// A sink that passes every emission to several sinks, in the order they were added:
/// e.g. Prometheus for the `/metrics` endpoint plus DogStatsD for Datadog, plus logs.
///
/// Each sink validates on its own terms, so a name one sink has to normalize or drop
/// still reaches the others as given.
#[derive(Debug, Clone, Default)]
pub struct FanoutMetricsSink {
    sinks: Vec<Arc<dyn MetricsSink>>,
}

impl FanoutMetricsSink {
    /// Creates a sink sending to `sinks`.
    #[must_use]
    pub fn new(sinks: impl IntoIterator<Item = Arc<dyn MetricsSink>>) -> Self {
        Self {
            sinks: sinks.into_iter().collect(),
        }
    }

    /// Adds `sink` after the others.
    #[must_use]
    pub fn with(mut self, sink: impl MetricsSink + 'static) -> Self {
        self.sinks.push(Arc::new(sink));
        self
    }

    /// The sinks, in emission order.
    #[must_use]
    pub fn sinks(&self) -> &[Arc<dyn MetricsSink>] {
        &self.sinks
    }
}

impl MetricsSink for FanoutMetricsSink {
    fn emit(&self, name: &str, value: f64, tags: &[Tag<'_>], timestamp: Option<SystemTime>) {
        for sink in &self.sinks {
            sink.emit(name, value, tags, timestamp);
        }
    }

    fn emit_counter(&self, name: &str, value: u64, tags: &[Tag<'_>]) {
        for sink in &self.sinks {
            sink.emit_counter(name, value, tags);
        }
    }

    fn emit_histogram(&self, name: &str, value: f64, tags: &[Tag<'_>]) {
        for sink in &self.sinks {
            sink.emit_histogram(name, value, tags);
        }
    }
}
