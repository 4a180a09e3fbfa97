//! Shared test helpers: quiet monitors, checks with knobs, a recording sink, `promtool`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use health::{CheckError, CheckOutcome, HealthCheck, HealthCheckStatus, HealthMonitor};
use health_sinks::testing::{Promtool, assert_promtool};
use parking_lot::Mutex;

/// A check whose status can be changed between runs, counting its runs and (optionally)
/// sleeping first.
#[derive(Debug, Clone)]
pub(crate) struct Knob {
    name: String,
    status: Arc<Mutex<HealthCheckStatus>>,
    runs: Arc<AtomicUsize>,
    in_flight: Arc<AtomicUsize>,
    max_in_flight: Arc<AtomicUsize>,
    delay: Duration,
}

impl Knob {
    pub(crate) fn new(name: &str, status: HealthCheckStatus) -> Self {
        Self {
            name: name.to_owned(),
            status: Arc::new(Mutex::new(status)),
            runs: Arc::default(),
            in_flight: Arc::default(),
            max_in_flight: Arc::default(),
            delay: Duration::ZERO,
        }
    }

    pub(crate) fn healthy(name: &str) -> Self {
        Self::new(name, HealthCheckStatus::Healthy)
    }

    pub(crate) fn sleeping(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Shares the run counters with `other` (for "how many at once" across checks).
    pub(crate) fn sharing_counters_with(mut self, other: &Self) -> Self {
        self.in_flight = Arc::clone(&other.in_flight);
        self.max_in_flight = Arc::clone(&other.max_in_flight);
        self.runs = Arc::clone(&other.runs);
        self
    }

    pub(crate) fn set(&self, status: HealthCheckStatus) {
        *self.status.lock() = status;
    }

    pub(crate) fn runs(&self) -> usize {
        self.runs.load(Ordering::SeqCst)
    }

    pub(crate) fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl HealthCheck for Knob {
    fn name(&self) -> &str {
        &self.name
    }

    async fn check(&self) -> Result<CheckOutcome, CheckError> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        let status = *self.status.lock();
        Ok(CheckOutcome::new(status, format!("knob says {status}")))
    }
}

/// A monitor that samples no resources (slow, and beside the point of most tests).
pub(crate) fn quiet() -> HealthMonitor {
    HealthMonitor::builder()
        .without_resources()
        .build()
        .unwrap()
}

/// A [`quiet`] monitor whose metrics go to the returned sink.
pub(crate) fn recorded() -> (HealthMonitor, Arc<RecordingSink>) {
    let sink = Arc::new(RecordingSink::default());
    let monitor = HealthMonitor::builder()
        .metrics_sink(sink.clone())
        .without_resources()
        .build()
        .unwrap();
    (monitor, sink)
}

/// Sets a flag when dropped: proves a future was cancelled rather than left running.
#[derive(Debug)]
pub(crate) struct DropFlag(pub Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

pub(crate) use health_sinks::testing::{Emitted, RecordingSink, sample};

/// Asserts `promtool check metrics` finds `exposition` lint-clean (exit code 0); see
/// [`health_sinks::testing::assert_promtool`] for where promtool comes from.
pub(crate) fn assert_promtool_clean(exposition: &str) {
    assert_promtool(exposition, Promtool::LintClean);
}
