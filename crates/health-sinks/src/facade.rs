//! [`FacadeMetricsSink`]: every emission forwarded to the `metrics` facade's recorder, so
//! whatever exporter the program installed receives it (feature `facade`).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use metrics::{Key, KeyName, Label, Metadata, SharedString};

use crate::report::Reporter;
use crate::tags::SortedTags;
use crate::{DropReason, MetricsSink, SinkStats, Tag};

static METADATA: Metadata<'static> =
    Metadata::new("health_sinks", metrics::Level::INFO, Some(module_path!()));

/// A sink that forwards every emission to the [`metrics`] facade: gauges, counters and
/// histograms go to the recorder the program installed (`metrics::set_global_recorder`,
/// which every exporter's `install` calls), or to a thread's local default recorder
/// (`metrics::set_default_local_recorder`, as tests do). Any exporter then receives
/// every health and fallback metric: Prometheus, StatsD, an OpenTelemetry bridge.
///
/// With no recorder installed an emission costs building its key and little more: the
/// facade's no-op recorder takes it. The sink never installs a recorder itself (a
/// library must not; the program picks its exporter).
///
/// - Names and tag values are passed as given; the exporter normalizes them its own way
///   (a counter's `_total` suffix, for one, is the exporter's business). Tags are
///   passed sorted by key, so tag order never makes a second series.
/// - Dropped, counted ([`stats`](Self::stats)) and logged once per name, because no
///   exporter could render them: an empty name, an empty or repeated tag key, a NaN or
///   infinite gauge or histogram value.
/// - Help texts given to [`describe`](FacadeSinkBuilder::describe) are described to the
///   recorder at a metric's first emission, with the kind it was emitted as (the facade
///   ignores descriptions made before a recorder is installed, and so does this sink:
///   install the recorder first, as for the metrics themselves).
/// - The `timestamp` of [`MetricsSink::emit`] is dropped: the facade has no place for it.
///
/// Clones share their state.
///
/// ```
/// use health_sinks::{FacadeMetricsSink, MetricsSink};
///
/// let sink = FacadeMetricsSink::builder()
///     .describe("queue_depth", "Jobs waiting, by queue")
///     .build();
/// // With no recorder installed, this goes to the facade's no-op recorder.
/// sink.emit("queue_depth", 7.0, &[("queue", "emails")], None);
/// sink.emit_counter("", 1, &[]); // dropped: empty name
/// assert_eq!(sink.stats().dropped_total(), 1);
/// ```
#[derive(Clone, Default)]
pub struct FacadeMetricsSink {
    inner: Arc<Inner>,
}

struct Inner {
    /// Help texts by name, each with whether it has been described yet.
    descriptions: HashMap<String, Description>,
    reporter: Reporter,
}

struct Description {
    help: SharedString,
    described: AtomicBool,
}

impl Default for Inner {
    fn default() -> Self {
        Self {
            descriptions: HashMap::new(),
            reporter: Reporter::new("facade"),
        }
    }
}

/// Builds a [`FacadeMetricsSink`].
#[derive(Debug, Default)]
#[must_use]
pub struct FacadeSinkBuilder {
    descriptions: Vec<(String, String)>,
}

impl FacadeSinkBuilder {
    /// No descriptions.
    pub fn new() -> Self {
        Self::default()
    }

    /// Describes `name` with `help` to the recorder at its first emission. The last
    /// description of a name wins.
    pub fn describe(mut self, name: &str, help: &str) -> Self {
        self.descriptions.push((name.to_owned(), help.to_owned()));
        self
    }

    /// The sink.
    pub fn build(self) -> FacadeMetricsSink {
        let descriptions = self
            .descriptions
            .into_iter()
            .map(|(name, help)| {
                let description = Description {
                    help: SharedString::from(help),
                    described: AtomicBool::new(false),
                };
                (name, description)
            })
            .collect();
        FacadeMetricsSink {
            inner: Arc::new(Inner {
                descriptions,
                reporter: Reporter::new("facade"),
            }),
        }
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Gauge,
    Counter,
    Histogram,
}

impl FacadeMetricsSink {
    /// A sink describing nothing.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts configuring a sink.
    pub fn builder() -> FacadeSinkBuilder {
        FacadeSinkBuilder::new()
    }

    /// What this sink has dropped so far (it normalizes nothing).
    #[must_use]
    pub fn stats(&self) -> SinkStats {
        self.inner.reporter.stats()
    }

    /// The key to register, or `None` (counted and logged) when no exporter could
    /// render the emission.
    fn key(&self, kind: Kind, name: &str, value: Option<f64>, tags: &[Tag<'_>]) -> Option<Key> {
        let reporter = &self.inner.reporter;
        let refuse = |reason: DropReason, detail: fmt::Arguments<'_>| {
            reporter.count_dropped(reason);
            reporter.warn_dropped(reason, name, detail);
        };
        if name.is_empty() {
            refuse(
                DropReason::EmptyName,
                format_args!("the metric name is empty"),
            );
            return None;
        }
        if let Some(value) = value
            && !value.is_finite()
        {
            refuse(
                DropReason::NonFiniteValue,
                format_args!("value {value} is not finite"),
            );
            return None;
        }
        let sorted = SortedTags::new(tags);
        let mut labels = Vec::with_capacity(tags.len());
        let mut previous: Option<&str> = None;
        for (key, value) in sorted.iter() {
            if key.is_empty() {
                refuse(DropReason::EmptyTagKey, format_args!("a tag key is empty"));
                return None;
            }
            if previous == Some(key) {
                refuse(
                    DropReason::DuplicateTagKey,
                    format_args!("the tag key {key:?} appears more than once"),
                );
                return None;
            }
            previous = Some(key);
            labels.push(Label::new(key.to_owned(), value.to_owned()));
        }
        self.describe_once(kind, name);
        Some(Key::from_parts(name.to_owned(), labels))
    }

    /// Describes `name` to the recorder the first time it is emitted, if it has a help
    /// text.
    fn describe_once(&self, kind: Kind, name: &str) {
        let Some(description) = self.inner.descriptions.get(name) else {
            return;
        };
        if description.described.load(Ordering::Relaxed)
            || description.described.swap(true, Ordering::Relaxed)
        {
            return;
        }
        let key = KeyName::from(name.to_owned());
        let help = description.help.clone();
        metrics::with_recorder(|recorder| match kind {
            Kind::Gauge => recorder.describe_gauge(key, None, help),
            Kind::Counter => recorder.describe_counter(key, None, help),
            Kind::Histogram => recorder.describe_histogram(key, None, help),
        });
    }
}

impl MetricsSink for FacadeMetricsSink {
    fn emit(&self, name: &str, value: f64, tags: &[Tag<'_>], _timestamp: Option<SystemTime>) {
        if let Some(key) = self.key(Kind::Gauge, name, Some(value), tags) {
            metrics::with_recorder(|recorder| recorder.register_gauge(&key, &METADATA).set(value));
        }
    }

    fn emit_counter(&self, name: &str, value: u64, tags: &[Tag<'_>]) {
        if let Some(key) = self.key(Kind::Counter, name, None, tags) {
            metrics::with_recorder(|recorder| {
                recorder.register_counter(&key, &METADATA).increment(value);
            });
        }
    }

    fn emit_histogram(&self, name: &str, value: f64, tags: &[Tag<'_>]) {
        if let Some(key) = self.key(Kind::Histogram, name, Some(value), tags) {
            metrics::with_recorder(|recorder| {
                recorder.register_histogram(&key, &METADATA).record(value);
            });
        }
    }
}

impl fmt::Debug for FacadeMetricsSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FacadeMetricsSink")
            .field("descriptions", &self.inner.descriptions.len())
            .field("stats", &self.stats())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
    use metrics_util::{CompositeKey, MetricKind};

    use super::*;

    /// One series the recorder got: its kind, name, labels and value.
    type Seen = (MetricKind, String, Vec<(String, String)>, DebugValue);

    /// What the recorder got, sorted by name and labels, read once (a snapshot resets
    /// counters and drains histograms).
    fn seen(snapshotter: &Snapshotter) -> Vec<Seen> {
        let mut seen: Vec<_> = snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .map(|(key, _unit, _help, value): (CompositeKey, _, _, _)| {
                let (kind, key) = key.into_parts();
                let labels = key
                    .labels()
                    .map(|label| (label.key().to_owned(), label.value().to_owned()))
                    .collect();
                (kind, key.name().to_owned(), labels, value)
            })
            .collect();
        seen.sort_by(|a, b| (a.1.as_str(), &a.2).cmp(&(b.1.as_str(), &b.2)));
        seen
    }

    fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect()
    }

    #[test]
    fn drops_what_no_exporter_could_render_and_says_why() {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        let _local = metrics::set_default_local_recorder(&recorder);
        let sink = FacadeMetricsSink::new();
        sink.emit("", 1.0, &[], None);
        sink.emit("g", f64::NAN, &[], None);
        sink.emit_histogram("h", f64::INFINITY, &[]);
        sink.emit_counter("c", 1, &[("", "x")]);
        sink.emit_counter("c", 1, &[("a", "1"), ("a", "2")]);
        assert!(seen(&snapshotter).is_empty());
        let stats = sink.stats();
        assert_eq!(stats.dropped(DropReason::EmptyName), 1);
        assert_eq!(stats.dropped(DropReason::NonFiniteValue), 2);
        assert_eq!(stats.dropped(DropReason::EmptyTagKey), 1);
        assert_eq!(stats.dropped(DropReason::DuplicateTagKey), 1);
    }

    #[test]
    fn tags_in_any_order_are_one_series() {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        let _local = metrics::set_default_local_recorder(&recorder);
        let sink = FacadeMetricsSink::new();
        sink.emit_counter("c", 2, &[("b", "2"), ("a", "1")]);
        sink.emit_counter("c", 3, &[("a", "1"), ("b", "2")]);
        assert_eq!(
            seen(&snapshotter),
            [(
                MetricKind::Counter,
                "c".to_owned(),
                labels(&[("a", "1"), ("b", "2")]),
                DebugValue::Counter(5)
            )]
        );
    }

    #[test]
    fn each_kind_reaches_the_recorder_described_once_at_its_first_emission() {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        let _local = metrics::set_default_local_recorder(&recorder);
        let sink = FacadeMetricsSink::builder()
            .describe("g", "a gauge")
            .describe("h", "a histogram")
            .build();
        sink.emit("g", 1.5, &[("check", "redis")], Some(SystemTime::now()));
        sink.emit("g", 2.5, &[("check", "redis")], None);
        sink.emit_counter("c", 4, &[]);
        sink.emit_histogram("h", 0.25, &[]);
        sink.emit_histogram("h", 0.5, &[]);
        let snapshot = snapshotter.snapshot().into_vec();
        let help = |name: &str| {
            snapshot
                .iter()
                .find(|(key, ..)| key.key().name() == name)
                .and_then(|(_, _, help, _)| help.as_ref().map(ToString::to_string))
        };
        assert_eq!(help("g").as_deref(), Some("a gauge"));
        assert_eq!(help("h").as_deref(), Some("a histogram"));
        assert_eq!(help("c"), None);
        let mut values: Vec<(String, DebugValue)> = snapshot
            .into_iter()
            .map(|(key, _, _, value)| (key.key().name().to_owned(), value))
            .collect();
        values.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            values,
            [
                ("c".to_owned(), DebugValue::Counter(4)),
                ("g".to_owned(), DebugValue::Gauge(2.5.into())),
                (
                    "h".to_owned(),
                    DebugValue::Histogram(vec![0.25.into(), 0.5.into()])
                ),
            ]
        );
        // A snapshot resets what it read: the next one shows only what came since.
        sink.emit_counter("c", 1, &[]);
        assert_eq!(
            seen(&snapshotter)
                .into_iter()
                .filter(|(_, name, ..)| name == "c")
                .map(|(.., value)| value)
                .collect::<Vec<_>>(),
            [DebugValue::Counter(1)]
        );
        assert_eq!(sink.stats().dropped_total(), 0);
    }
}
