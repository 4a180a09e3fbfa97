//! Shared test helpers: running `promtool`, reading the exposition, capturing `tracing`
//! events.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};

pub(crate) use health_sinks::testing::{Promtool, assert_promtool};

/// The exposition's samples: `name{labels}` exactly as rendered → value.
pub(crate) fn samples(exposition: &str) -> BTreeMap<String, String> {
    exposition
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').unwrap();
            (series.to_owned(), value.to_owned())
        })
        .collect()
}

/// The value of one rendered series, e.g. `sample(&text, "up{check=\"redis\"}")`.
#[track_caller]
pub(crate) fn sample(exposition: &str, series: &str) -> String {
    samples(exposition)
        .remove(series)
        .unwrap_or_else(|| panic!("no sample {series} in\n{exposition}"))
}

/// `# TYPE` lines: family name → type, asserting each family is typed once.
pub(crate) fn types(exposition: &str) -> BTreeMap<String, String> {
    let mut types = BTreeMap::new();
    for line in exposition.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            let previous = types.insert(name.to_owned(), kind.to_owned());
            assert!(
                previous.is_none(),
                "second TYPE line for {name} in\n{exposition}"
            );
        }
    }
    types
}

/// `# HELP` lines: family name → help text.
pub(crate) fn helps(exposition: &str) -> BTreeMap<String, String> {
    exposition
        .lines()
        .filter_map(|line| line.strip_prefix("# HELP "))
        .map(|rest| {
            let (name, help) = rest.split_once(' ').unwrap();
            (name.to_owned(), help.to_owned())
        })
        .collect()
}

/// One captured `tracing` event.
#[derive(Debug, Clone)]
pub(crate) struct Captured {
    pub level: Level,
    pub target: String,
    pub message: String,
    pub fields: BTreeMap<String, String>,
}

/// A subscriber that records events up to `max_level`, for the current thread only.
#[derive(Clone)]
struct Capture {
    max_level: Level,
    events: Arc<Mutex<Vec<Captured>>>,
}

/// Runs `f` with a subscriber recording events at `max_level` and more severe on this
/// thread, and returns them.
pub(crate) fn capture_events(max_level: Level, f: impl FnOnce()) -> Vec<Captured> {
    let capture = Capture {
        max_level,
        events: Arc::default(),
    };
    tracing::subscriber::with_default(capture.clone(), f);
    capture.events.lock().unwrap().clone()
}

struct FieldVisitor<'a>(&'a mut BTreeMap<String, String>);

impl Visit for FieldVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl Subscriber for Capture {
    fn register_callsite(&self, _metadata: &'static Metadata<'static>) -> Interest {
        // Ask `enabled` every time: other tests' subscribers run at other levels.
        Interest::sometimes()
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        *metadata.level() <= self.max_level
    }

    fn new_span(&self, _span: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _span: &Id, _values: &Record<'_>) {}

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = BTreeMap::new();
        event.record(&mut FieldVisitor(&mut fields));
        let message = fields.remove("message").unwrap_or_default();
        self.events.lock().unwrap().push(Captured {
            level: *event.metadata().level(),
            target: event.metadata().target().to_owned(),
            message,
            fields,
        });
    }

    fn enter(&self, _span: &Id) {}

    fn exit(&self, _span: &Id) {}
}

/// A subscriber that counts every warning into a metrics sink, as a service bridging its
/// logs to its metrics would.
struct WarningsToMetrics(Arc<dyn health_sinks::MetricsSink>);

impl Subscriber for WarningsToMetrics {
    fn register_callsite(&self, _metadata: &'static Metadata<'static>) -> Interest {
        Interest::sometimes()
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        *metadata.level() <= Level::WARN
    }

    fn new_span(&self, _span: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _span: &Id, _values: &Record<'_>) {}

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

    fn event(&self, _event: &Event<'_>) {
        self.0.emit_counter("log_warnings", 1, &[]);
    }

    fn enter(&self, _span: &Id) {}

    fn exit(&self, _span: &Id) {}
}

/// Runs `f` on a thread whose `tracing` warnings are counted into `sink`, and asserts it
/// finishes within 5 s: a sink that logs while holding its own lock deadlocks here.
pub(crate) fn run_with_warnings_counted_into(
    sink: Arc<dyn health_sinks::MetricsSink>,
    f: impl FnOnce() + Send + 'static,
) {
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        tracing::subscriber::with_default(WarningsToMetrics(sink), f);
        let _ = done.send(());
    });
    finished
        .recv_timeout(std::time::Duration::from_secs(5))
        .expect("deadlocked: the sink logged while holding a lock its own emit needs");
}
