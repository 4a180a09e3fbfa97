//! [`DiskSpaceCheck`]: the file system holding a path, through `statvfs(2)`.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;

use super::{CheckError, CheckOutcome, HealthCheck};
use crate::HealthError;
use crate::resources::{DiskUsage, Thresholds};

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

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

#[cfg(test)]
mod tests {
    use health_model::HealthCheckStatus;

    use super::*;

    #[tokio::test]
    async fn a_disk_probe_still_running_is_reported_not_repeated() {
        let check = DiskSpaceCheck::new("/");
        check.probing.store(true, Ordering::SeqCst); // as if statvfs hung
        let stuck = crate::checks::run_check(&check).await;
        assert_eq!(stuck.status, HealthCheckStatus::Unhealthy);
        assert_eq!(
            stuck.message,
            "the previous disk probe of / has not returned yet"
        );
        check.probing.store(false, Ordering::SeqCst);
        let result = crate::checks::run_check(&check).await;
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
        assert_eq!(outcome.status, HealthCheckStatus::Healthy);
        assert_eq!(outcome.message, "disk usage healthy: 50.0%");
        assert_eq!(outcome.metadata["total_gb"], 100.0);
        assert_eq!(outcome.metadata["used_gb"], 50.0);
        assert_eq!(outcome.metadata["free_gb"], 50.0);
        assert_eq!(outcome.metadata["usage_percent"], 50.0);
        assert_eq!(outcome.metadata["path"], "/data");
        let strict = check.with_thresholds(40.0, 60.0).unwrap();
        assert_eq!(
            strict.assess(&usage(50)).status,
            HealthCheckStatus::Degraded
        );
        assert!(strict.with_thresholds(70.0, 60.0).is_err());
    }
}
