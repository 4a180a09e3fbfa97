//! Shared test helpers: quiet monitors, checks with knobs, a recording sink, a tiny HTTP
//! server, `promtool`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use health::{CheckError, CheckOutcome, HealthCheck, HealthCheckStatus, HealthMonitor};
use health_sinks::testing::{Promtool, assert_promtool};
use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

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

/// What the test HTTP server saw of one request.
#[derive(Debug, Clone, Default)]
pub(crate) struct SeenRequest {
    pub head: String,
    /// Whether the client closed the connection after the request.
    pub closed_by_client: bool,
}

/// A tiny HTTP/1.1 server on 127.0.0.1: `/ok` → 200, `/fail` → 500, `/teapot` → 418,
/// `/hang` → never answers. Records each request head and whether the client hung up.
pub(crate) struct TestServer {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<SeenRequest>>>,
    task: tokio::task::JoinHandle<()>,
}

impl TestServer {
    pub(crate) async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen: Arc<Mutex<Vec<SeenRequest>>> = Arc::default();
        let log = Arc::clone(&seen);
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let log = Arc::clone(&log);
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buffer = [0_u8; 1024];
                    while !head.windows(4).any(|window| window == b"\r\n\r\n") {
                        match stream.read(&mut buffer).await {
                            Ok(0) | Err(_) => return,
                            Ok(read) => head.extend_from_slice(&buffer[..read]),
                        }
                    }
                    let head = String::from_utf8_lossy(&head).into_owned();
                    let index = {
                        let mut log = log.lock();
                        log.push(SeenRequest {
                            head: head.clone(),
                            closed_by_client: false,
                        });
                        log.len() - 1
                    };
                    let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                    let status = match path.as_str() {
                        "/ok" => "200 OK",
                        "/fail" => "500 Internal Server Error",
                        "/teapot" => "418 I'm a teapot",
                        "/hang" => {
                            // Wait for the client to give up and hang up.
                            let closed = matches!(stream.read(&mut buffer).await, Ok(0) | Err(_));
                            log.lock()[index].closed_by_client = closed;
                            return;
                        }
                        _ => "404 Not Found",
                    };
                    let body = "{\"status\": \"whatever\"}";
                    let response = format!(
                        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(response.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        Self { addr, seen, task }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub(crate) fn seen(&self) -> Vec<SeenRequest> {
        self.seen.lock().clone()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Asserts `promtool check metrics` finds `exposition` lint-clean (exit code 0); see
/// [`health_sinks::testing::assert_promtool`] for where promtool comes from.
pub(crate) fn assert_promtool_clean(exposition: &str) {
    assert_promtool(exposition, Promtool::LintClean);
}
