//! [`PrometheusMetricsSink`]: a private Prometheus registry rendered as the text
//! exposition format, with its builder and defaults (feature `prometheus`).

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::hash::{BuildHasher, Hash, Hasher, RandomState};
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use hashbrown::HashTable;
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Label, Metadata, Recorder, SharedString};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};
use parking_lot::RwLock;

use crate::names::{normalize_label_key, normalize_metric_name, prepare_for_exporter_escaping};
use crate::report::Reporter;
use crate::tags::SortedTags;
use crate::{
    DROPPED_METRIC, DropReason, METRIC_DESCRIPTIONS, MetricsSink, Result, SinkError, SinkStats, Tag,
};

/// The `Content-Type` of [`PrometheusMetricsSink::render`]'s output: the Prometheus text
/// exposition format, version 0.0.4.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Default histogram bucket bounds, in seconds: the Prometheus client libraries' defaults
/// (5 ms to 10 s), so dashboards built for them keep working.
pub const DEFAULT_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// Default for [`PrometheusSinkBuilder::max_series`].
pub const DEFAULT_MAX_SERIES: usize = 10_000;

/// Histogram samples wait in lock-free buffers until drained; draining every this many
/// records bounds that memory even if nobody scrapes.
const UPKEEP_EVERY: u64 = 1024;

static METADATA: Metadata<'static> =
    Metadata::new("health_sinks", metrics::Level::INFO, Some(module_path!()));

/// The reasons that can happen in this sink; they are exported from the start, at zero,
/// so `increase()` over the drop counter works without waiting for the first drop.
const PROMETHEUS_DROP_REASONS: [DropReason; 7] = [
    DropReason::EmptyName,
    DropReason::NonFiniteValue,
    DropReason::EmptyTagKey,
    DropReason::DuplicateTagKey,
    DropReason::ReservedTagKey,
    DropReason::NameConflict,
    DropReason::SeriesLimit,
];

/// A sink that keeps metrics in its own Prometheus registry and renders them as the text
/// exposition format for a `/metrics` endpoint.
///
/// Each sink owns a `metrics-exporter-prometheus` recorder; nothing is installed globally,
/// so two sinks in one process (or in parallel tests) never see each other's metrics.
/// Cloning is cheap and shares the registry: keep one clone for the HTTP handler and give
/// another to the health monitor.
///
/// What it guarantees about [`render`](Self::render)'s output, whatever it is fed:
///
/// - Names are normalized to `[a-zA-Z_][a-zA-Z0-9_]*` (`db-pool.size` → `db_pool_size`,
///   `5xx` → `_5xx`), label keys too, with a leading `__` collapsed to `_`. Label values
///   are kept exactly (escaped). Each rewrite is logged once per name and counted.
/// - Counters end in `_total` (appended if missing). Histograms are true histograms with
///   buckets ([`DEFAULT_BUCKETS`], in seconds, unless configured), never summaries.
/// - Every metric has a `# HELP` line (from [`PrometheusSinkBuilder::describe`], or a
///   generic one) and one `# TYPE` line: a name first used as one kind cannot later be
///   used as another, nor can a name collide with the samples of another metric (a gauge
///   `x_count` beside a histogram `x`). Such emissions are dropped.
/// - Tag order never creates a second series. Emissions with an empty name, an empty or
///   duplicate tag key, a `le` tag on a histogram, or a NaN/infinite value are dropped;
///   so is any new series beyond [`PrometheusSinkBuilder::max_series`]. Drops are logged
///   once per name and exported as [`DROPPED_METRIC`]`{reason="..."}`.
///
/// The `timestamp` of [`MetricsSink::emit`] is ignored: the Prometheus server stamps
/// samples at scrape time. Output order of metric families is not specified.
///
/// Cost: an emission to an already seen series hashes the name and tags and takes a
/// shared read lock (a few hundred nanoseconds; see `docs/PROFILING_BENCHMARKS.md`).
/// The first emission of a series validates, registers and describes it.
#[derive(Clone)]
pub struct PrometheusMetricsSink {
    inner: Arc<Inner>,
}

struct Inner {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    hasher: RandomState,
    state: RwLock<State>,
    max_series: usize,
    /// Help texts from the builder, by normalized name.
    descriptions: HashMap<String, String>,
    histogram_records: AtomicU64,
    /// `health_sinks_dropped_total{reason}`, indexed like `DropReason::ALL`.
    dropped: [Counter; DropReason::ALL.len()],
    reporter: Reporter,
}

#[derive(Default)]
struct State {
    /// Every (kind, name, tags) seen, as given, with where its samples go.
    series: HashTable<Series>,
    /// Every sample name a family renders (`x`, `x_bucket`, ...) → that family.
    claimed: HashMap<String, Family>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Family {
    kind: Kind,
    name: String,
}

struct Series {
    hash: u64,
    kind: Kind,
    name: Box<str>,
    /// Tags as given, in `(key, value)` order.
    tags: Box<[(Box<str>, Box<str>)]>,
    target: Target,
    /// Whether the name or a tag key was rewritten, counted on every emission.
    normalized: bool,
}

enum Target {
    Gauge(Gauge),
    Counter(Counter),
    Histogram(Histogram),
    Dropped(DropReason),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Gauge,
    Counter,
    Histogram,
}

/// What the read-locked lookup found.
enum Lookup {
    Seen,
    Full,
    New,
}

#[derive(Clone, Copy)]
enum Sample {
    Gauge(f64),
    Counter(u64),
    Histogram(f64),
}

impl Sample {
    const fn kind(self) -> Kind {
        match self {
            Self::Gauge(_) => Kind::Gauge,
            Self::Counter(_) => Kind::Counter,
            Self::Histogram(_) => Kind::Histogram,
        }
    }
}

impl Kind {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Gauge => "gauge",
            Self::Counter => "counter",
            Self::Histogram => "histogram",
        }
    }

    /// The family name the exposition shows for a metric of this kind named `name`.
    fn family_name(self, name: &str) -> String {
        match self {
            Self::Counter if !name.ends_with("_total") => format!("{name}_total"),
            _ => name.to_owned(),
        }
    }

    /// Every name a family of this kind renders or is known by. A counter also claims its
    /// name without `_total`: OpenMetrics parsers name the family that way, so a gauge
    /// `x` beside a counter `x_total` would be two families called `x`.
    fn sample_names(self, family: &str) -> Vec<String> {
        match self {
            Self::Gauge => vec![family.to_owned()],
            Self::Counter => {
                let base = family.strip_suffix("_total").unwrap_or(family);
                vec![family.to_owned(), base.to_owned()]
            }
            Self::Histogram => ["", "_bucket", "_sum", "_count"]
                .iter()
                .map(|suffix| format!("{family}{suffix}"))
                .collect(),
        }
    }
}

impl Series {
    fn is(&self, kind: Kind, name: &str, tags: &SortedTags<'_, '_>) -> bool {
        self.kind == kind
            && *self.name == *name
            && self.tags.len() == tags.len()
            && self
                .tags
                .iter()
                .zip(tags.iter())
                .all(|((k, v), (key, value))| **k == *key && **v == *value)
    }
}

impl PrometheusMetricsSink {
    /// Creates a sink with the defaults: [`DEFAULT_BUCKETS`] and [`DEFAULT_MAX_SERIES`].
    #[must_use]
    pub fn new() -> Self {
        PrometheusSinkBuilder::new().build_valid()
    }

    /// Starts configuring a sink.
    #[must_use]
    pub fn builder() -> PrometheusSinkBuilder {
        PrometheusSinkBuilder::new()
    }

    /// Renders every metric in the Prometheus text exposition format (see
    /// [`content_type`](Self::content_type)). Also drains buffered histogram samples.
    ///
    /// Emitters wait while it runs (about 5 µs per histogram family): see
    /// [`run_upkeep`](Self::run_upkeep) for why draining is exclusive.
    #[must_use]
    pub fn render(&self) -> String {
        let _exclusive = self.inner.state.write();
        self.inner.handle.render()
    }

    /// Renders like [`render`](Self::render), then writes the text into `output` (outside
    /// the lock, so a slow writer never holds up emitters).
    ///
    /// # Errors
    ///
    /// Whatever `output` returns.
    pub fn render_to_write(&self, output: &mut impl io::Write) -> io::Result<()> {
        output.write_all(self.render().as_bytes())
    }

    /// The `Content-Type` header value to serve [`render`](Self::render)'s output with:
    /// [`CONTENT_TYPE`].
    #[must_use]
    pub const fn content_type(&self) -> &'static str {
        CONTENT_TYPE
    }

    /// Drains buffered histogram samples into their buckets. The sink does this by itself
    /// every 1024 histogram records and on every render; call it to bound memory sooner.
    ///
    /// Draining is exclusive: the exporter's lock-free sample buffer (metrics-util's
    /// `AtomicBucket`) loses a sample that is pushed while a drain detaches the block it
    /// is written to. Emitters push under the sink's read lock, so the drain takes the
    /// write lock.
    pub fn run_upkeep(&self) {
        self.inner.drain();
    }

    /// What this sink has normalized and dropped so far.
    #[must_use]
    pub fn stats(&self) -> SinkStats {
        self.inner.reporter.stats()
    }

    fn record(&self, name: &str, tags: &[Tag<'_>], sample: Sample) {
        let inner = &*self.inner;
        if let Sample::Gauge(value) | Sample::Histogram(value) = sample
            && !value.is_finite()
        {
            inner.reporter.warn_dropped(
                DropReason::NonFiniteValue,
                name,
                format_args!("{} value {value} is not finite", sample.kind().as_str()),
            );
            inner.count_drop(DropReason::NonFiniteValue);
            return;
        }

        let kind = sample.kind();
        let tags = SortedTags::new(tags);
        let hash = inner.hash(kind, name, &tags);
        let seen = {
            let state = inner.state.read();
            match state
                .series
                .find(hash, |series| series.is(kind, name, &tags))
            {
                Some(series) => {
                    inner.apply(series, sample);
                    Lookup::Seen
                }
                // Checked under the read lock so a flood of new series past the limit
                // does not serialize every emitter on the write lock.
                None if state.series.len() >= inner.max_series => Lookup::Full,
                None => Lookup::New,
            }
        };
        match seen {
            Lookup::Seen => {}
            Lookup::Full => inner.drop_over_limit(name),
            Lookup::New => inner.record_new(hash, kind, name, &tags, sample),
        }
        if kind == Kind::Histogram
            && inner.histogram_records.fetch_add(1, Ordering::Relaxed) % UPKEEP_EVERY
                == UPKEEP_EVERY - 1
        {
            inner.drain();
        }
    }
}

impl Default for PrometheusMetricsSink {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for PrometheusMetricsSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let series = self.inner.state.read().series.len();
        f.debug_struct("PrometheusMetricsSink")
            .field("series", &series)
            .field("max_series", &self.inner.max_series)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl MetricsSink for PrometheusMetricsSink {
    fn emit(&self, name: &str, value: f64, tags: &[Tag<'_>], _timestamp: Option<SystemTime>) {
        self.record(name, tags, Sample::Gauge(value));
    }

    fn emit_counter(&self, name: &str, value: u64, tags: &[Tag<'_>]) {
        self.record(name, tags, Sample::Counter(value));
    }

    fn emit_histogram(&self, name: &str, value: f64, tags: &[Tag<'_>]) {
        self.record(name, tags, Sample::Histogram(value));
    }
}

impl Inner {
    /// Drains histogram buffers with no sample push in flight (see
    /// [`PrometheusMetricsSink::run_upkeep`]).
    fn drain(&self) {
        let _exclusive = self.state.write();
        self.handle.run_upkeep();
    }

    fn hash(&self, kind: Kind, name: &str, tags: &SortedTags<'_, '_>) -> u64 {
        let mut hasher = self.hasher.build_hasher();
        kind.hash(&mut hasher);
        name.hash(&mut hasher);
        for tag in tags.iter() {
            tag.hash(&mut hasher);
        }
        hasher.finish()
    }

    fn apply(&self, series: &Series, sample: Sample) {
        if series.normalized {
            self.reporter.count_normalized();
        }
        match (&series.target, sample) {
            (Target::Gauge(gauge), Sample::Gauge(value)) => gauge.set(value),
            (Target::Counter(counter), Sample::Counter(value)) => counter.increment(value),
            (Target::Histogram(histogram), Sample::Histogram(value)) => histogram.record(value),
            (Target::Dropped(reason), _) => self.count_drop(*reason),
            // A series is found by its kind, so its target always has the sample's kind.
            _ => {}
        }
    }

    fn count_drop(&self, reason: DropReason) {
        self.reporter.count_dropped(reason);
        self.dropped[reason.index()].increment(1);
    }

    /// Drops a new series once the limit is reached. Not remembered: remembering it would
    /// be the unbounded growth the limit prevents.
    fn drop_over_limit(&self, name: &str) {
        self.reporter.warn_dropped(
            DropReason::SeriesLimit,
            name,
            format_args!("the sink already holds {} series", self.max_series),
        );
        self.count_drop(DropReason::SeriesLimit);
    }

    /// The slow path: the first emission of a (kind, name, tags) combination.
    fn record_new(
        &self,
        hash: u64,
        kind: Kind,
        name: &str,
        tags: &SortedTags<'_, '_>,
        sample: Sample,
    ) {
        let mut state = self.state.write();
        // Another thread may have added it between our read and write locks.
        if let Some(series) = state
            .series
            .find(hash, |series| series.is(kind, name, tags))
        {
            self.apply(series, sample);
            return;
        }
        if state.series.len() >= self.max_series {
            drop(state);
            self.drop_over_limit(name);
            return;
        }
        let (target, note) = match self.resolve(&mut state.claimed, kind, name, tags) {
            Ok((target, rewrites)) => (target, rewrites.map(Ok)),
            Err((reason, detail)) => (Target::Dropped(reason), Some(Err((reason, detail)))),
        };
        let normalized = matches!(note, Some(Ok(_)));
        let series = Series {
            hash,
            kind,
            name: name.into(),
            tags: tags.iter().map(|(k, v)| (k.into(), v.into())).collect(),
            target,
            normalized,
        };
        let entry = state
            .series
            .insert_unique(hash, series, |series| series.hash);
        self.apply(entry.get(), sample);
        // Logged after the lock is released: a `tracing` subscriber may emit metrics into
        // this very sink, and would deadlock on it.
        drop(state);
        match note {
            Some(Ok(rewrites)) => self.reporter.normalized(
                name,
                format_args!("{name:?} is exported with its {rewrites}"),
            ),
            Some(Err((reason, detail))) => {
                self.reporter
                    .warn_dropped(reason, name, format_args!("{detail}"));
            }
            None => {}
        }
    }

    /// Validates and normalizes a new series, claims its family and registers it. Returns
    /// what was rewritten, if anything, for the caller to log.
    fn resolve(
        &self,
        claimed: &mut HashMap<String, Family>,
        kind: Kind,
        name: &str,
        tags: &SortedTags<'_, '_>,
    ) -> std::result::Result<(Target, Option<String>), (DropReason, String)> {
        if name.is_empty() {
            return Err((DropReason::EmptyName, "the metric name is empty".to_owned()));
        }
        let metric = normalize_metric_name(name);
        let mut rewrites = String::new();
        if metric != name {
            let _ = write!(rewrites, "name as {metric:?}");
        }

        let mut labels: Vec<(Cow<'_, str>, &str)> = Vec::with_capacity(tags.len());
        for (key, value) in tags.iter() {
            if key.is_empty() {
                return Err((DropReason::EmptyTagKey, "a tag key is empty".to_owned()));
            }
            let label = normalize_label_key(key);
            if kind == Kind::Histogram && label == "le" {
                return Err((
                    DropReason::ReservedTagKey,
                    "the tag key `le` is reserved for histogram buckets".to_owned(),
                ));
            }
            if label != key {
                let separator = if rewrites.is_empty() { "" } else { ", " };
                let _ = write!(rewrites, "{separator}tag key {key:?} as {label:?}");
            }
            labels.push((label, value));
        }
        labels.sort_by(|a, b| a.0.cmp(&b.0));
        if let Some(pair) = labels.windows(2).find(|pair| pair[0].0 == pair[1].0) {
            return Err((
                DropReason::DuplicateTagKey,
                format!("the tag key {:?} appears more than once", pair[0].0),
            ));
        }

        let family = kind.family_name(&metric);
        self.claim(claimed, kind, &metric, &family)?;

        let key = Key::from_parts(
            family,
            labels
                .into_iter()
                .map(|(key, value)| {
                    Label::new(
                        key.into_owned(),
                        prepare_for_exporter_escaping(value).into_owned(),
                    )
                })
                .collect::<Vec<_>>(),
        );
        let target = match kind {
            Kind::Gauge => Target::Gauge(self.recorder.register_gauge(&key, &METADATA)),
            Kind::Counter => Target::Counter(self.recorder.register_counter(&key, &METADATA)),
            Kind::Histogram => Target::Histogram(self.recorder.register_histogram(&key, &METADATA)),
        };
        Ok((target, (!rewrites.is_empty()).then_some(rewrites)))
    }

    /// Claims every sample name of `family` for it, describing it the first time.
    fn claim(
        &self,
        claimed: &mut HashMap<String, Family>,
        kind: Kind,
        metric: &str,
        family: &str,
    ) -> std::result::Result<(), (DropReason, String)> {
        let wanted = Family {
            kind,
            name: family.to_owned(),
        };
        if claimed.get(family) == Some(&wanted) {
            return Ok(());
        }
        let samples = kind.sample_names(family);
        if let Some((sample, owner)) = samples
            .iter()
            .find_map(|sample| claimed.get(sample).map(|owner| (sample, owner)))
        {
            return Err((
                DropReason::NameConflict,
                format!(
                    "{} {family:?} clashes with the name {sample:?} of the {} {:?}",
                    kind.as_str(),
                    owner.kind.as_str(),
                    owner.name,
                ),
            ));
        }
        for sample in samples {
            claimed.insert(sample, wanted.clone());
        }
        let help = self
            .descriptions
            .get(metric)
            .or_else(|| self.descriptions.get(family))
            .map_or_else(
                || default_help(kind, metric),
                |help| prepare_for_exporter_escaping(help).into_owned(),
            );
        self.describe(kind, family, help);
        Ok(())
    }

    fn describe(&self, kind: Kind, family: &str, help: String) {
        let name = KeyName::from(family.to_owned());
        let help = SharedString::from(help);
        match kind {
            Kind::Gauge => self.recorder.describe_gauge(name, None, help),
            Kind::Counter => self.recorder.describe_counter(name, None, help),
            Kind::Histogram => self.recorder.describe_histogram(name, None, help),
        }
    }
}

fn default_help(kind: Kind, metric: &str) -> String {
    let kind = match kind {
        Kind::Gauge => "Gauge",
        Kind::Counter => "Counter",
        Kind::Histogram => "Histogram",
    };
    format!("{kind} metric: {metric}")
}

/// Configures a [`PrometheusMetricsSink`]; every setting is checked by
/// [`build`](Self::build).
#[derive(Debug, Clone)]
pub struct PrometheusSinkBuilder {
    buckets: Vec<f64>,
    bucket_overrides: Vec<(String, Vec<f64>)>,
    descriptions: Vec<(String, String)>,
    max_series: usize,
}

impl Default for PrometheusSinkBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl PrometheusSinkBuilder {
    /// The defaults: [`DEFAULT_BUCKETS`], [`DEFAULT_MAX_SERIES`], no descriptions.
    #[must_use]
    pub fn new() -> Self {
        Self {
            buckets: DEFAULT_BUCKETS.to_vec(),
            bucket_overrides: Vec::new(),
            descriptions: Vec::new(),
            max_series: DEFAULT_MAX_SERIES,
        }
    }

    /// The bucket upper bounds of every histogram without its own
    /// ([`buckets_for`](Self::buckets_for)); finite and strictly increasing. `+Inf` is
    /// always added.
    #[must_use]
    pub fn buckets(mut self, bounds: &[f64]) -> Self {
        bounds.clone_into(&mut self.buckets);
        self
    }

    /// The bucket upper bounds of the histogram `name` (normalized like emitted names).
    #[must_use]
    pub fn buckets_for(mut self, name: &str, bounds: &[f64]) -> Self {
        self.bucket_overrides
            .push((name.to_owned(), bounds.to_vec()));
        self
    }

    /// The `# HELP` text of the metric `name` (normalized like emitted names; for a
    /// counter, with or without its `_total`). Metrics without one get `<Kind> metric: <name>`.
    #[must_use]
    pub fn describe(mut self, name: &str, help: &str) -> Self {
        self.descriptions.push((name.to_owned(), help.to_owned()));
        self
    }

    /// The most distinct series (name, kind and tag set combinations, including rejected
    /// ones) the sink remembers; emissions of new series beyond it are dropped and
    /// counted. Bounds memory when a tag value is unbounded (a user id, a URL).
    #[must_use]
    pub fn max_series(mut self, max_series: usize) -> Self {
        self.max_series = max_series;
        self
    }

    /// Builds the sink.
    ///
    /// # Errors
    ///
    /// [`SinkError::InvalidBuckets`] for empty, non-finite or unsorted bounds,
    /// [`SinkError::InvalidName`] for an empty name in [`buckets_for`](Self::buckets_for)
    /// or [`describe`](Self::describe), [`SinkError::InvalidSetting`] for a zero
    /// `max_series`.
    pub fn build(self) -> Result<PrometheusMetricsSink> {
        validate_buckets(&self.buckets)?;
        for (name, bounds) in &self.bucket_overrides {
            validate_name(name)?;
            validate_buckets(bounds)?;
        }
        for (name, _) in &self.descriptions {
            validate_name(name)?;
        }
        if self.max_series == 0 {
            return Err(SinkError::InvalidSetting {
                setting: "max_series",
                reason: "must be at least 1".to_owned(),
            });
        }
        Ok(self.build_valid())
    }

    /// Builds from settings already validated (or the defaults, which are valid).
    fn build_valid(self) -> PrometheusMetricsSink {
        // The exporter only rejects empty bounds, which `build` ruled out and the defaults
        // are not; falling back to its defaults keeps this total without a panic path.
        let builder = configure_exporter(&self.buckets, &self.bucket_overrides)
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();

        let mut descriptions: HashMap<String, String> = METRIC_DESCRIPTIONS
            .iter()
            .map(|(name, help)| ((*name).to_owned(), (*help).to_owned()))
            .collect();
        for (name, help) in self.descriptions {
            descriptions.insert(normalize_metric_name(&name).into_owned(), help);
        }

        let dropped = std::array::from_fn(|i| {
            let reason = DropReason::ALL[i];
            if PROMETHEUS_DROP_REASONS.contains(&reason) {
                let key =
                    Key::from_parts(DROPPED_METRIC, vec![Label::new("reason", reason.as_str())]);
                recorder.register_counter(&key, &METADATA)
            } else {
                Counter::noop()
            }
        });

        let inner = Inner {
            recorder,
            handle,
            hasher: RandomState::new(),
            state: RwLock::new(State::default()),
            max_series: self.max_series,
            descriptions,
            histogram_records: AtomicU64::new(0),
            dropped,
            reporter: Reporter::new("prometheus"),
        };
        {
            // Reserve the name this crate gives meaning to, so it keeps its kind.
            let mut state = inner.state.write();
            // Fresh state: nothing is claimed yet, so this cannot conflict.
            let _ = inner.claim(
                &mut state.claimed,
                Kind::Counter,
                DROPPED_METRIC,
                DROPPED_METRIC,
            );
        }
        PrometheusMetricsSink {
            inner: Arc::new(inner),
        }
    }
}

fn configure_exporter(
    buckets: &[f64],
    overrides: &[(String, Vec<f64>)],
) -> std::result::Result<PrometheusBuilder, metrics_exporter_prometheus::BuildError> {
    let mut builder = PrometheusBuilder::new().set_buckets(buckets)?;
    for (name, bounds) in overrides {
        let matcher = Matcher::Full(normalize_metric_name(name).into_owned());
        builder = builder.set_buckets_for_metric(matcher, bounds)?;
    }
    Ok(builder)
}

fn validate_buckets(bounds: &[f64]) -> Result<()> {
    let reason = if bounds.is_empty() {
        Some("at least one bound is needed")
    } else if bounds.iter().any(|bound| !bound.is_finite()) {
        Some("bounds must be finite (+Inf is always added)")
    } else if bounds.windows(2).any(|pair| pair[0] >= pair[1]) {
        Some("bounds must be strictly increasing")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(SinkError::InvalidBuckets {
            buckets: bounds.to_vec(),
            reason,
        }),
        None => Ok(()),
    }
}

fn validate_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(SinkError::InvalidName {
            name: name.to_owned(),
            reason: "a metric name cannot be empty",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_lists_are_validated() {
        fn check(bounds: &[f64], expected: Option<&str>) {
            let reason = match validate_buckets(bounds) {
                Ok(()) => None,
                Err(SinkError::InvalidBuckets { reason, .. }) => Some(reason),
                Err(other) => panic!("unexpected error {other}"),
            };
            assert_eq!(reason, expected, "{bounds:?}");
        }
        check(&DEFAULT_BUCKETS, None);
        check(&[1.0], None);
        check(&[-1.0, 0.0, 1.0], None);
        check(&[], Some("at least one bound is needed"));
        check(
            &[0.1, f64::INFINITY],
            Some("bounds must be finite (+Inf is always added)"),
        );
        check(
            &[f64::NAN],
            Some("bounds must be finite (+Inf is always added)"),
        );
        check(&[0.1, 0.1], Some("bounds must be strictly increasing"));
        check(&[1.0, 0.5], Some("bounds must be strictly increasing"));
    }

    #[test]
    fn families_claim_every_sample_name_they_render() {
        fn check(kind: Kind, name: &str, family: &str, samples: &[&str]) {
            assert_eq!(kind.family_name(name), family);
            assert_eq!(kind.sample_names(family), samples);
        }
        check(Kind::Gauge, "up", "up", &["up"]);
        check(
            Kind::Counter,
            "requests",
            "requests_total",
            &["requests_total", "requests"],
        );
        check(
            Kind::Counter,
            "requests_total",
            "requests_total",
            &["requests_total", "requests"],
        );
        check(
            Kind::Histogram,
            "latency_seconds",
            "latency_seconds",
            &[
                "latency_seconds",
                "latency_seconds_bucket",
                "latency_seconds_sum",
                "latency_seconds_count",
            ],
        );
    }
}
