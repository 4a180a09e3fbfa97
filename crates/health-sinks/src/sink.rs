use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

/// One tag: a `(key, value)` pair. Prometheus exports it as a label, DogStatsD as `key:value`.
///
/// The order of tags in a slice never matters: every sink treats `[("a", "1"), ("b", "2")]`
/// and `[("b", "2"), ("a", "1")]` as the same series.
pub type Tag<'a> = (&'a str, &'a str);

/// Where metrics go: the one interface the health monitor and the fallback cascade emit
/// through.
///
/// Every method is synchronous and cheap, and never blocks on I/O, so it can be called
/// from async code, from hot paths and while holding locks. No method returns an error or
/// panics on input: a sink that cannot export a metric (an empty name, a non-finite value,
/// a name already used by a metric of another kind) drops it, logs a warning once and
/// counts it. Sinks that have to rewrite a name or tag key into their wire format's
/// character set do so consistently and say so the same way.
///
/// Implement the three `emit*` methods. `Arc<S>`, `Box<S>` and `&S` are sinks whenever `S`
/// is, so `Arc<dyn MetricsSink>` can be passed wherever a sink is expected. Domain
/// metrics are built on top by the crates that define them (the `health` crate's
/// `emit_health_check` is a gauge and a histogram emitted through this trait).
pub trait MetricsSink: Send + Sync + fmt::Debug {
    /// Sets the gauge `name` with `tags` to `value`.
    ///
    /// `timestamp` is when the value was observed, if the caller knows. Sinks whose format
    /// can carry it (DogStatsD, logs) do; Prometheus scrapes are timestamped by the server
    /// and ignore it.
    fn emit(&self, name: &str, value: f64, tags: &[Tag<'_>], timestamp: Option<SystemTime>);

    /// Adds `value` to the counter `name` with `tags`.
    ///
    /// Counters only go up, so the increment is unsigned. Prometheus exports the counter
    /// with a `_total` suffix (added unless the name already ends with it).
    fn emit_counter(&self, name: &str, value: u64, tags: &[Tag<'_>]);

    /// Records `value` into the histogram `name` with `tags`.
    ///
    /// Use base units, seconds for durations, as the default Prometheus buckets do.
    fn emit_histogram(&self, name: &str, value: f64, tags: &[Tag<'_>]);
}

macro_rules! forward_sink {
    ($($pointer:ty),* $(,)?) => {$(
        impl<S: MetricsSink + ?Sized> MetricsSink for $pointer {
            fn emit(&self, name: &str, value: f64, tags: &[Tag<'_>], timestamp: Option<SystemTime>) {
                (**self).emit(name, value, tags, timestamp);
            }

            fn emit_counter(&self, name: &str, value: u64, tags: &[Tag<'_>]) {
                (**self).emit_counter(name, value, tags);
            }

            fn emit_histogram(&self, name: &str, value: f64, tags: &[Tag<'_>]) {
                (**self).emit_histogram(name, value, tags);
            }
        }
    )*};
}

forward_sink!(Arc<S>, Box<S>, &S);
