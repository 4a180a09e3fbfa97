//! Shared test helpers: running `promtool`, reading the exposition, capturing `tracing`
//! events.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use health_sinks::MetricsSink;
use parking_lot::Mutex;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};

#[cfg(feature = "prometheus")]
pub(crate) use health_sinks::testing::{Promtool, assert_promtool, sample, samples};

/// A gauge `health_check_status` set to `value` and a histogram
/// `health_check_latency_seconds` recording `latency`, both tagged `check=<check>`: the
/// pair the `health` crate emits per check run, a realistic tagged gauge and histogram.
pub(crate) fn emit_check(sink: &dyn MetricsSink, check: &str, value: f64, latency: Duration) {
    let tags = [("check", check)];
    sink.emit("health_check_status", value, &tags, None);
    sink.emit_histogram("health_check_latency_seconds", latency.as_secs_f64(), &tags);
}

/// `# TYPE` lines: family name → type, asserting each family is typed once.
#[cfg(feature = "prometheus")]
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
#[cfg(feature = "prometheus")]
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

/// A subscriber handing every event at `max_level` or more severe to `on_event`.
struct OnEvent<F> {
    max_level: Level,
    on_event: F,
}

/// An [`OnEvent`] subscriber (the bound gives the closure its higher-ranked signature).
fn on_event<F: Fn(&Event<'_>) + Send + Sync + 'static>(
    max_level: Level,
    on_event: F,
) -> OnEvent<F> {
    OnEvent {
        max_level,
        on_event,
    }
}

/// Runs `f` with a subscriber recording events at `max_level` and more severe on this
/// thread, and returns them.
pub(crate) fn capture_events(max_level: Level, f: impl FnOnce()) -> Vec<Captured> {
    let events: Arc<Mutex<Vec<Captured>>> = Arc::default();
    let recorded = Arc::clone(&events);
    let capture = on_event(max_level, move |event| {
        let mut fields = BTreeMap::new();
        event.record(&mut FieldVisitor(&mut fields));
        let message = fields.remove("message").unwrap_or_default();
        recorded.lock().push(Captured {
            level: *event.metadata().level(),
            target: event.metadata().target().to_owned(),
            message,
            fields,
        });
    });
    tracing::subscriber::with_default(capture, f);
    std::mem::take(&mut *events.lock())
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

impl<F: Fn(&Event<'_>) + Send + Sync + 'static> Subscriber for OnEvent<F> {
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
        (self.on_event)(event);
    }

    fn enter(&self, _span: &Id) {}

    fn exit(&self, _span: &Id) {}
}

/// Runs `f` on a thread whose `tracing` warnings are counted into `sink`, and asserts it
/// finishes within 5 s: a sink that logs while holding its own lock deadlocks here.
#[cfg(any(feature = "prometheus", feature = "dogstatsd"))]
pub(crate) fn run_with_warnings_counted_into(
    sink: Arc<dyn MetricsSink>,
    f: impl FnOnce() + Send + 'static,
) {
    let (done, finished) = std::sync::mpsc::channel();
    // As a service bridging its log warnings to its metrics would.
    let warnings_to_metrics = on_event(Level::WARN, move |_event| {
        sink.emit_counter("log_warnings", 1, &[]);
    });
    std::thread::spawn(move || {
        tracing::subscriber::with_default(warnings_to_metrics, f);
        let _ = done.send(());
    });
    finished
        .recv_timeout(Duration::from_secs(5))
        .expect("deadlocked: the sink logged while holding a lock its own emit needs");
}
