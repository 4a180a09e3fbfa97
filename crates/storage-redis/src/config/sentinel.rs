//! The `sentinel` section: a master found and followed through Redis Sentinel.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::url::redact_url;

/// Where the sentinels are and which master to ask them for (feature `sentinel`).
///
/// ```
/// use storage_redis::RedisConfig;
///
/// let config = RedisConfig::from_value(serde_json::json!({
///     "sentinel": {
///         "master_name": "mymaster",
///         "sentinels": ["redis://10.0.0.1:26379", "redis://10.0.0.2:26379", "redis://10.0.0.3:26379"],
///         "master_password": "data-secret",
///     },
/// }));
/// # #[cfg(feature = "sentinel")]
/// # config.unwrap();
/// ```
///
/// The adapter asks the sentinels for the master, connects to it and checks it is one;
/// when the connection breaks, or the server answers `READONLY` (it was demoted), it asks
/// again, within the usual per-attempt timeout and retry budget, so a failover costs the
/// operations that run while no master is elected. `rediss://` sentinel URLs mean TLS to
/// the sentinels and to the master, with the certificates of the `tls` section.
/// `redis_url` and `pool_size` do not apply (leave them unset).
///
/// `Debug` shows neither password.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct SentinelConfig {
    /// The name the sentinels monitor the master under (`sentinel monitor <name> ...`).
    pub master_name: String,
    /// The sentinels, as `redis://host:port` (or `rediss://`) URLs without credentials;
    /// at least one. They are asked in order.
    pub sentinels: Vec<String>,
    /// The password of the sentinels (their `requirepass`), if they need one.
    pub sentinel_password: Option<String>,
    /// The user of the sentinels (ACL), with `sentinel_password`.
    pub sentinel_username: Option<String>,
    /// The password of the master and its replicas (their `requirepass`), if they need one.
    pub master_password: Option<String>,
    /// The user of the master (ACL), with `master_password`.
    pub master_username: Option<String>,
    /// The database to use on the master (default 0).
    pub db: i64,
}

impl SentinelConfig {
    /// The sentinels at `sentinels` (URLs) watching the master named `master_name`.
    #[must_use]
    pub fn new(master_name: impl Into<String>, sentinels: Vec<String>) -> Self {
        Self {
            master_name: master_name.into(),
            sentinels,
            ..Self::default()
        }
    }

    /// The sentinels and master, without passwords, for messages.
    pub(crate) fn target(&self) -> String {
        let sentinels: Vec<String> = self.sentinels.iter().map(|url| redact_url(url)).collect();
        format!(
            "sentinel master {:?} via {}",
            self.master_name,
            sentinels.join(",")
        )
    }
}

impl fmt::Debug for SentinelConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hidden = |secret: &Option<String>| secret.as_ref().map(|_| "***");
        let sentinels: Vec<String> = self.sentinels.iter().map(|url| redact_url(url)).collect();
        f.debug_struct("SentinelConfig")
            .field("master_name", &self.master_name)
            .field("sentinels", &sentinels)
            .field("sentinel_password", &hidden(&self.sentinel_password))
            .field("sentinel_username", &self.sentinel_username)
            .field("master_password", &hidden(&self.master_password))
            .field("master_username", &self.master_username)
            .field("db", &self.db)
            .finish()
    }
}
