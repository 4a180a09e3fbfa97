//! [`StorageHealthCheck`]: any `storage::Storage` backend, Redis included.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use storage::Storage;

use super::check::error_chain;
use super::{CheckError, CheckOutcome, HealthCheck};

/// The key [`StorageHealthCheck`] probes when the backend says it is down, to learn why.
pub const HEALTH_CHECK_KEY: &str = "__health_check__";

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
/// use health::HealthCheckStatus;
/// use health::checks::{StorageHealthCheck, run_check};
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
