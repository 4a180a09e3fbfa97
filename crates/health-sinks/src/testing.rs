//! Test support (feature `testing`): checking an exposition with `promtool`, the strict
//! Prometheus text-format checker, reading its samples ([`sample`], [`samples`]), and a
//! [`RecordingSink`] that keeps what it is given, for every crate whose tests emit or
//! render metrics.
//!
//! promtool is found through the `PROMTOOL` environment variable or `PATH` (Debian ships
//! it in the `prometheus` package; `.ci/run` extracts it without installing the server).
//! Without it a check fails when `RESILIENCE_CI=1` is set (as `cargo xtask ci` does) and
//! is skipped with a loud message otherwise.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::SystemTime;

use parking_lot::{Mutex, MutexGuard};

use crate::{MetricsSink, Tag};

/// How strict `promtool check metrics` must be about an exposition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Promtool {
    /// Exit code 0: parses and has no lint findings.
    LintClean,
    /// Exit code 0 or 3: parses; lint findings (names the caller chose, such as a gauge
    /// ending in `_count`) are allowed.
    Parses,
}

/// Where promtool is: `$PROMTOOL`, else the first `promtool` on `$PATH`.
///
/// # Panics
///
/// When `PROMTOOL` names a file that does not exist: a configured tool that is missing
/// is a mistake, not a reason to skip.
#[must_use]
pub fn promtool_path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PROMTOOL") {
        let path = PathBuf::from(path);
        assert!(path.is_file(), "PROMTOOL={} does not exist", path.display());
        return Some(path);
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join("promtool"))
        .find(|candidate| candidate.is_file())
}

/// Runs `promtool check metrics` on `exposition` and asserts its verdict.
///
/// # Panics
///
/// When promtool rejects the exposition (the message holds promtool's report and the
/// exposition), or cannot be run, or is missing while `RESILIENCE_CI=1`.
#[allow(clippy::print_stderr, reason = "a skipped check must be visible")]
pub fn assert_promtool(exposition: &str, expected: Promtool) {
    let Some(promtool) = promtool_path() else {
        assert!(
            std::env::var("RESILIENCE_CI").as_deref() != Ok("1"),
            "promtool not found (set PROMTOOL or put it on PATH); it is required when RESILIENCE_CI=1"
        );
        eprintln!(
            "\n!!!!! promtool not found: SKIPPING the exposition check. Set PROMTOOL or put \
             promtool on PATH (see the health-sinks README) !!!!!\n"
        );
        return;
    };
    let outcome = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            if let Some(mut stdin) = child.stdin.take() {
                stdin.write_all(exposition.as_bytes())?;
            }
            child.wait_with_output()
        });
    let output = match outcome {
        Ok(output) => output,
        Err(error) => panic!("cannot run {}: {error}", promtool.display()),
    };
    let code = output.status.code();
    let accepted = match expected {
        Promtool::LintClean => code == Some(0),
        Promtool::Parses => matches!(code, Some(0 | 3)),
    };
    assert!(
        accepted,
        "promtool exited {code:?} ({expected:?} wanted):\n{}{}\n--- exposition ---\n{exposition}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The samples of a text exposition: each series (`name{labels}`, exactly as rendered) and
/// its value, as text.
///
/// # Panics
///
/// On a line that is neither a comment nor a sample.
#[must_use]
pub fn samples(exposition: &str) -> BTreeMap<String, String> {
    exposition
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| match line.rsplit_once(' ') {
            Some((series, value)) => (series.to_owned(), value.to_owned()),
            None => panic!("not a sample line: {line:?}"),
        })
        .collect()
}

/// The value of one rendered series, e.g. `sample(&text, r#"up{check="redis"}"#)`.
///
/// # Panics
///
/// When the exposition holds no such series (the message shows the exposition).
#[must_use]
#[track_caller]
pub fn sample(exposition: &str, series: &str) -> String {
    samples(exposition)
        .remove(series)
        .unwrap_or_else(|| panic!("no sample {series} in\n{exposition}"))
}

/// One emission a [`RecordingSink`] saw: name, value and tags (in the order given).
#[derive(Debug, Clone, PartialEq)]
pub enum Emitted {
    /// [`MetricsSink::emit`].
    Gauge(String, f64, Vec<(String, String)>),
    /// [`MetricsSink::emit_counter`].
    Counter(String, u64, Vec<(String, String)>),
    /// [`MetricsSink::emit_histogram`].
    Histogram(String, f64, Vec<(String, String)>),
}

/// A sink that keeps every emission, for tests of code that emits metrics.
#[derive(Debug, Default)]
pub struct RecordingSink {
    emitted: Mutex<Vec<Emitted>>,
}

impl RecordingSink {
    /// A sink that has recorded nothing yet.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything recorded so far, oldest first.
    #[must_use]
    pub fn all(&self) -> Vec<Emitted> {
        self.lock().clone()
    }

    /// Everything recorded so far, oldest first, forgetting it.
    #[must_use]
    pub fn take(&self) -> Vec<Emitted> {
        std::mem::take(&mut *self.lock())
    }

    /// Forgets everything recorded so far.
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Emitted>> {
        self.emitted.lock()
    }

    fn record(&self, emitted: Emitted) {
        self.lock().push(emitted);
    }
}

fn owned(tags: &[Tag<'_>]) -> Vec<(String, String)> {
    tags.iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect()
}

impl MetricsSink for RecordingSink {
    fn emit(&self, name: &str, value: f64, tags: &[Tag<'_>], _timestamp: Option<SystemTime>) {
        self.record(Emitted::Gauge(name.to_owned(), value, owned(tags)));
    }

    fn emit_counter(&self, name: &str, value: u64, tags: &[Tag<'_>]) {
        self.record(Emitted::Counter(name.to_owned(), value, owned(tags)));
    }

    fn emit_histogram(&self, name: &str, value: f64, tags: &[Tag<'_>]) {
        self.record(Emitted::Histogram(name.to_owned(), value, owned(tags)));
    }
}
