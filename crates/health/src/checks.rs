//! The built-in checks.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use http_body_util::Empty;
use hyper::body::Bytes;
use hyper::{Request, StatusCode, Uri, header};
use hyper_util::rt::TokioIo;
use storage::Storage;
use tokio::net::TcpStream;

use crate::check::error_chain;
use crate::error::HealthError;
use crate::resources::{DiskUsage, Thresholds};
use crate::{
    CheckError, CheckOutcome, ComponentRegistry, ComponentStatus, DEFAULT_CHECK_TIMEOUT,
    HealthCheck,
};

/// The key [`StorageHealthCheck`] probes when the backend says it is down, to learn why.
pub const HEALTH_CHECK_KEY: &str = "__health_check__";

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// Checks a [`Storage`] backend (Redis, memory, any other): healthy when it answers its
/// own health check, unhealthy with the backend's error otherwise.
///
/// Named after the backend (`"redis"` for `RedisAdapter`, `"memory"` for
/// `MemoryStorage`) unless renamed; 2 s timeout. [`RedisHealthCheck`] is the original's
/// name for it.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> storage::Result<()> {
/// use std::sync::Arc;
/// use health::{HealthCheckStatus, StorageHealthCheck, run_check};
/// use storage::{MemoryStorage, Storage};
///
/// let storage = Arc::new(MemoryStorage::new());
/// storage.connect().await?;
/// let check = StorageHealthCheck::new(storage.clone());
/// assert_eq!(run_check(&check).await.status, HealthCheckStatus::Healthy);
///
/// storage.close().await?;
/// assert_eq!(run_check(&check).await.status, HealthCheckStatus::Unhealthy);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct StorageHealthCheck {
    storage: Arc<dyn Storage>,
    name: String,
    timeout: Duration,
}

/// The original's name for [`StorageHealthCheck`]; with a `RedisAdapter` it is named
/// `"redis"`, as the original was.
pub type RedisHealthCheck = StorageHealthCheck;

impl StorageHealthCheck {
    /// A check of `storage`, named after its backend, with a 2 s timeout.
    pub fn new(storage: Arc<dyn Storage>) -> Self {
        Self {
            name: storage.backend().to_owned(),
            storage,
            timeout: Duration::from_secs(2),
        }
    }

    /// Renames the check.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Sets the timeout.
    #[must_use]
    pub const fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

#[async_trait]
impl HealthCheck for StorageHealthCheck {
    fn name(&self) -> &str {
        &self.name
    }

    fn timeout(&self) -> Duration {
        self.timeout
    }

    async fn check(&self) -> Result<CheckOutcome, CheckError> {
        let backend = self.storage.backend();
        if self.storage.health_check().await {
            return Ok(
                CheckOutcome::healthy(format!("{backend} connection healthy"))
                    .with_metadata("backend", backend),
            );
        }
        // `health_check` only says no; one real request says why.
        let reason = match self.storage.exists(HEALTH_CHECK_KEY).await {
            Err(error) => error_chain(&error),
            Ok(_) => "backend reports it is not connected".to_owned(),
        };
        Ok(
            CheckOutcome::unhealthy(format!("{backend} connection failed: {reason}"))
                .with_metadata("backend", backend),
        )
    }
}

/// Checks an HTTP dependency with a `GET`: the expected status (default 200) is healthy,
/// any other status degraded, no answer unhealthy. Metadata: `url` and `status_code`.
///
/// Plain `http://` only: TLS would pull a whole TLS stack into every user of this crate,
/// and health endpoints are usually probed inside the cluster. An `https://` URL is
/// refused when the check is built. Each run opens a fresh connection (a pooled one could
/// hide a dependency that stopped accepting connections) and reads only the status line
/// and headers.
///
/// Named `"downstream"` unless renamed; 5 s timeout.
#[derive(Debug, Clone)]
pub struct DownstreamServiceCheck {
    url: String,
    uri: Uri,
    host: String,
    /// The `Host` header: the URL's host and explicit port, never its credentials.
    host_header: String,
    port: u16,
    name: String,
    timeout: Duration,
    expected_status: u16,
}

impl DownstreamServiceCheck {
    /// A check of `url`.
    ///
    /// # Errors
    ///
    /// [`HealthError::InvalidUrl`] when `url` does not parse or has no host, and
    /// [`HealthError::UnsupportedScheme`] for any scheme but `http`.
    pub fn new(url: impl Into<String>) -> Result<Self, HealthError> {
        let url = url.into();
        let invalid = |reason: &str| HealthError::InvalidUrl {
            url: url.clone(),
            reason: reason.to_owned(),
        };
        let uri: Uri = url
            .parse()
            .map_err(|error: hyper::http::uri::InvalidUri| invalid(&error.to_string()))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(scheme) => {
                return Err(HealthError::UnsupportedScheme {
                    url: url.clone(),
                    scheme: scheme.to_owned(),
                });
            }
            None => return Err(invalid("no scheme (expected http://host/path)")),
        }
        if let Some(authority) = uri.authority()
            && let Some((_credentials, host)) = authority.as_str().rsplit_once('@')
        {
            // The URL is reported in every result (and this error); credentials must not be.
            return Err(HealthError::InvalidUrl {
                url: format!("{}://***@{host}", uri.scheme_str().unwrap_or("http")),
                reason: "credentials in the url are not supported".to_owned(),
            });
        }
        let host_header = uri
            .host()
            .filter(|host| !host.is_empty())
            .ok_or_else(|| invalid("no host"))?;
        // `Uri::host` keeps the brackets of an IPv6 literal; connecting needs them off.
        let host = host_header
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = uri.port_u16().unwrap_or(80);
        let host_header = match uri.port() {
            Some(port) => format!("{host_header}:{port}"),
            None => host_header.to_owned(),
        };
        Ok(Self {
            url,
            uri,
            host,
            host_header,
            port,
            name: "downstream".to_owned(),
            timeout: DEFAULT_CHECK_TIMEOUT,
            expected_status: 200,
        })
    }

    /// Renames the check.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Sets the timeout.
    #[must_use]
    pub const fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the status code that means healthy.
    #[must_use]
    pub const fn with_expected_status(mut self, status: u16) -> Self {
        self.expected_status = status;
        self
    }

    /// The URL probed.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    async fn get(&self) -> Result<StatusCode, CheckError> {
        let stream = TcpStream::connect((self.host.as_str(), self.port)).await?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(stream)).await?;
        let path = self
            .uri
            .path_and_query()
            .map_or("/", hyper::http::uri::PathAndQuery::as_str);
        let request = Request::get(path)
            .header(header::HOST, self.host_header.as_str())
            .header(
                header::USER_AGENT,
                concat!("health/", env!("CARGO_PKG_VERSION")),
            )
            .header(header::CONNECTION, "close")
            .body(Empty::new())?;
        // The connection is driven here rather than on a spawned task, so a timeout that
        // drops this future closes the socket and leaves nothing running.
        let response = sender.send_request(request);
        tokio::pin!(connection, response);
        let response = tokio::select! {
            biased;
            response = &mut response => response?,
            closed = &mut connection => {
                // With `connection: close` the connection may finish first, having
                // already handed the response over; otherwise this is its error.
                closed?;
                response.await?
            }
        };
        Ok(response.status())
    }
}

#[async_trait]
impl HealthCheck for DownstreamServiceCheck {
    fn name(&self) -> &str {
        &self.name
    }

    fn timeout(&self) -> Duration {
        self.timeout
    }

    async fn check(&self) -> Result<CheckOutcome, CheckError> {
        Ok(match self.get().await {
            Ok(status) if status.as_u16() == self.expected_status => CheckOutcome::healthy(
                format!("downstream service healthy (status={})", status.as_u16()),
            )
            .with_metadata("status_code", status.as_u16()),
            Ok(status) => {
                CheckOutcome::degraded(format!("unexpected status code: {}", status.as_u16()))
                    .with_metadata("status_code", status.as_u16())
            }
            Err(error) => CheckOutcome::unhealthy(format!(
                "downstream service check failed: {}",
                error_chain(error.as_ref())
            )),
        }
        .with_metadata("url", self.url.as_str()))
    }
}

/// Checks the file system holding a path: healthy below the warning level (default
/// 80 %), degraded from it, unhealthy from the critical level (default 95 %) or when the
/// usage cannot be read. Metadata: `path`, `total_gb`, `used_gb`, `free_gb` (GiB, two
/// decimals) and `usage_percent`.
///
/// `statvfs(2)` runs on a blocking thread; while one is still running (a hung network
/// mount), further runs report `unhealthy` at once instead of starting another. Named
/// `"disk"` unless renamed; 2 s timeout.
#[derive(Debug, Clone)]
pub struct DiskSpaceCheck {
    path: PathBuf,
    name: String,
    timeout: Duration,
    thresholds: Thresholds,
    /// Set while a `statvfs` call runs: a call stuck on a dead network mount cannot be
    /// cancelled, so later runs report it instead of piling up blocking threads.
    probing: Arc<AtomicBool>,
}

impl DiskSpaceCheck {
    /// A check of the file system holding `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            name: "disk".to_owned(),
            timeout: Duration::from_secs(2),
            thresholds: Thresholds {
                warning: 80.0,
                critical: 95.0,
            },
            probing: Arc::default(),
        }
    }

    /// Renames the check.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Sets the timeout.
    #[must_use]
    pub const fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the warning and critical levels, in percent.
    ///
    /// # Errors
    ///
    /// [`HealthError::InvalidConfig`] unless `0 <= warning <= critical <= 100`.
    pub fn with_thresholds(mut self, warning: f64, critical: f64) -> Result<Self, HealthError> {
        self.thresholds = Thresholds::new(warning, critical)?;
        Ok(self)
    }

    /// The verdict on `usage`: what [`check`](HealthCheck::check) reports once it has read
    /// the usage.
    #[must_use]
    pub fn assess(&self, usage: &DiskUsage) -> CheckOutcome {
        let percent = usage.usage_percent();
        let outcome = if percent >= self.thresholds.critical {
            CheckOutcome::unhealthy(format!("disk usage critical: {percent:.1}%"))
        } else if percent >= self.thresholds.warning {
            CheckOutcome::degraded(format!("disk usage warning: {percent:.1}%"))
        } else {
            CheckOutcome::healthy(format!("disk usage healthy: {percent:.1}%"))
        };
        outcome
            .with_metadata("path", self.path.display().to_string())
            .with_metadata("total_gb", gib(usage.total_bytes))
            .with_metadata("used_gb", gib(usage.used_bytes))
            .with_metadata("free_gb", gib(usage.free_bytes))
            .with_metadata("usage_percent", round2(percent))
    }
}

#[allow(clippy::cast_precision_loss, reason = "GiB with two decimals")]
fn gib(bytes: u64) -> f64 {
    round2(bytes as f64 / GIB)
}

fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

#[async_trait]
impl HealthCheck for DiskSpaceCheck {
    fn name(&self) -> &str {
        &self.name
    }

    fn timeout(&self) -> Duration {
        self.timeout
    }

    async fn check(&self) -> Result<CheckOutcome, CheckError> {
        if self.probing.swap(true, Ordering::AcqRel) {
            return Ok(CheckOutcome::unhealthy(format!(
                "the previous disk probe of {} has not returned yet",
                self.path.display()
            ))
            .with_metadata("path", self.path.display().to_string()));
        }
        let path = self.path.clone();
        let probing = Arc::clone(&self.probing);
        let usage = tokio::task::spawn_blocking(move || {
            let usage = DiskUsage::of(&path);
            probing.store(false, Ordering::Release);
            usage
        })
        .await?;
        Ok(match usage {
            Ok(usage) => self.assess(&usage),
            Err(error) => CheckOutcome::unhealthy(format!(
                "failed to check disk space of {}: {error}",
                self.path.display()
            ))
            .with_metadata("path", self.path.display().to_string()),
        })
    }
}

/// Reports one component of a [`ComponentRegistry`] as a check: healthy, degraded,
/// failed (unhealthy) or unknown as registered. The message is the component's last
/// error while it is not healthy; metadata: `component` (the component's name, which
/// makes the [`HealthMonitor`](crate::HealthMonitor) count the check and the component
/// once, whatever the check is named), `error_count`, `warning_count`, `fallback_active`.
/// Reading never registers the component.
///
/// Named after the component unless renamed; 1 s timeout.
#[derive(Clone)]
pub struct ComponentHealthCheck {
    component: String,
    registry: ComponentRegistry,
    name: String,
    timeout: Duration,
}

impl fmt::Debug for ComponentHealthCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ComponentHealthCheck")
            .field("component", &self.component)
            .field("name", &self.name)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl ComponentHealthCheck {
    /// A check of `component` in `registry`.
    pub fn new(component: impl Into<String>, registry: ComponentRegistry) -> Self {
        let component = component.into();
        Self {
            name: component.clone(),
            component,
            registry,
            timeout: Duration::from_secs(1),
        }
    }

    /// Renames the check.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Sets the timeout.
    #[must_use]
    pub const fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

#[async_trait]
impl HealthCheck for ComponentHealthCheck {
    fn name(&self) -> &str {
        &self.name
    }

    fn timeout(&self) -> Duration {
        self.timeout
    }

    async fn check(&self) -> Result<CheckOutcome, CheckError> {
        let component = self.registry.get_component_health(&self.component);
        let message = match (&component.last_error, component.status) {
            (Some(error), ComponentStatus::Degraded | ComponentStatus::Failed) => error.clone(),
            _ => format!("component status: {}", component.status),
        };
        Ok(CheckOutcome::new(component.status.into(), message)
            .with_metadata("component", self.component.as_str())
            .with_metadata("error_count", component.error_count)
            .with_metadata("warning_count", component.warning_count)
            .with_metadata("fallback_active", component.fallback_active))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_when_the_check_is_built() {
        fn check(url: &str, expected: Result<(&str, u16), &str>) {
            match (DownstreamServiceCheck::new(url), expected) {
                (Ok(check), Ok((host, port))) => {
                    assert_eq!((check.host.as_str(), check.port), (host, port), "{url}");
                }
                (Err(error), Err(text)) => {
                    assert!(error.to_string().contains(text), "{url}: {error}");
                }
                (got, want) => panic!("{url}: got {got:?}, want {want:?}"),
            }
        }
        check("http://example.com/health", Ok(("example.com", 80)));
        check("http://127.0.0.1:8080/ready?x=1", Ok(("127.0.0.1", 8080)));
        check("http://[::1]:9000/", Ok(("::1", 9000)));
        check(
            "https://example.com/",
            Err("unsupported url scheme \"https\""),
        );
        check("ftp://example.com/", Err("unsupported url scheme \"ftp\""));
        check("example.com:8080", Err("no scheme"));
        check("example.com/health", Err("invalid url"));
        check("http://", Err("invalid url"));
        check("http://exa mple.com/", Err("invalid url"));
        check(
            "http://user:hunter2@example.com/",
            Err("invalid url \"http://***@example.com\": credentials in the url are not supported"),
        );
    }

    #[tokio::test]
    async fn a_disk_probe_still_running_is_reported_not_repeated() {
        let check = DiskSpaceCheck::new("/");
        check.probing.store(true, Ordering::SeqCst); // as if statvfs hung
        let stuck = crate::run_check(&check).await;
        assert_eq!(stuck.status, crate::HealthCheckStatus::Unhealthy);
        assert_eq!(
            stuck.message,
            "the previous disk probe of / has not returned yet"
        );
        check.probing.store(false, Ordering::SeqCst);
        let result = crate::run_check(&check).await;
        assert!(result.metadata.contains_key("usage_percent"), "{result:?}");
        assert!(!check.probing.load(Ordering::SeqCst));
    }

    #[test]
    fn disk_verdicts_follow_the_thresholds() {
        fn usage(percent: u64) -> DiskUsage {
            DiskUsage {
                total_bytes: 100 * 1024 * 1024 * 1024,
                used_bytes: percent * 1024 * 1024 * 1024,
                free_bytes: (100 - percent) * 1024 * 1024 * 1024,
            }
        }
        let check = DiskSpaceCheck::new("/data");
        let outcome = check.assess(&usage(50));
        assert_eq!(outcome.status, crate::HealthCheckStatus::Healthy);
        assert_eq!(outcome.message, "disk usage healthy: 50.0%");
        assert_eq!(outcome.metadata["total_gb"], 100.0);
        assert_eq!(outcome.metadata["used_gb"], 50.0);
        assert_eq!(outcome.metadata["free_gb"], 50.0);
        assert_eq!(outcome.metadata["usage_percent"], 50.0);
        assert_eq!(outcome.metadata["path"], "/data");
        let strict = check.with_thresholds(40.0, 60.0).unwrap();
        assert_eq!(
            strict.assess(&usage(50)).status,
            crate::HealthCheckStatus::Degraded
        );
        assert!(strict.with_thresholds(70.0, 60.0).is_err());
    }
}
