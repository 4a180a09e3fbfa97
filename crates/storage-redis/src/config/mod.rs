use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ConfigError;

mod cluster;
pub use cluster::ClusterConfig;

mod sentinel;
pub use sentinel::SentinelConfig;

mod tls;
pub use tls::TlsConfig;

mod url;
pub use url::redact_url;
use url::with_password;

/// The largest pool accepted: commands share one connection, so more only wastes
/// sockets, and the pool allocates room for all of them up front.
const MAX_POOL_SIZE: usize = 1024;

/// How a [`RedisAdapter`](crate::RedisAdapter) reaches and treats its server.
///
/// Deserializes from the original's configuration keys verbatim (`redis_url`, `timeout`
/// and `retry_delay` in seconds, `max_retries`), plus a few of our own, all optional:
///
/// ```
/// use std::time::Duration;
/// use storage_redis::RedisConfig;
///
/// let config = RedisConfig::from_value(serde_json::json!({
///     "redis_url": "redis://127.0.0.1:6379/0",
///     "timeout": 2.5,
///     "max_retries": 3,
///     "retry_delay": 0.5,
/// }))?;
/// assert_eq!(config.timeout, Duration::from_millis(2500));
/// assert_eq!(config.pool_size, 4); // defaulted
/// # Ok::<(), storage_redis::ConfigError>(())
/// ```
///
/// Unknown keys are refused, so a misspelt setting is an error instead of a silent default.
/// `Debug` and error messages never show the password in `redis_url`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct RedisConfig {
    /// The server's URL, e.g. `redis://:password@host:6379/0` (default
    /// `redis://localhost:6379`).
    pub redis_url: String,
    /// Time allowed for one attempt of an operation (connection checkout, command and
    /// decoding together), in seconds in serialized form (default 5.0).
    #[serde(with = "seconds")]
    pub timeout: Duration,
    /// How many times a failed attempt is retried (default 3). Only transient failures
    /// are retried, and a non-idempotent `increment` only when its command never left.
    pub max_retries: u32,
    /// The first backoff delay between attempts, doubled on each retry with jitter, in
    /// seconds in serialized form (default 0.5).
    #[serde(with = "seconds")]
    pub retry_delay: Duration,
    /// The longest backoff delay, in seconds in serialized form (default 5.0).
    #[serde(with = "seconds")]
    pub max_retry_delay: Duration,
    /// The most connections the pool keeps (default 4, at most 1024). Commands share one
    /// multiplexed connection; the pool supplies and replaces it.
    pub pool_size: usize,
    /// A prefix added to every key, so several users can share one database; `keys`
    /// only ever sees (and returns without the prefix) the keys under it (default none).
    pub key_prefix: String,
    /// The `COUNT` hint of each `SCAN` page (default 1000).
    pub scan_count: usize,
    /// Certificates for TLS (`rediss://`) connections; see [`TlsConfig`] (default none:
    /// `rediss://` URLs trust the system's CAs and present no client certificate).
    pub tls: Option<TlsConfig>,
    /// A master found through Redis Sentinel instead of `redis_url`; see
    /// [`SentinelConfig`] (default none).
    pub sentinel: Option<SentinelConfig>,
    /// A Redis Cluster instead of `redis_url`; see [`ClusterConfig`] (default none).
    pub cluster: Option<ClusterConfig>,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            redis_url: "redis://localhost:6379".to_owned(),
            timeout: Duration::from_secs(5),
            max_retries: 3,
            retry_delay: Duration::from_millis(500),
            max_retry_delay: Duration::from_secs(5),
            pool_size: 4,
            key_prefix: String::new(),
            scan_count: 1000,
            tls: None,
            sentinel: None,
            cluster: None,
        }
    }
}

impl RedisConfig {
    /// The default configuration for `redis_url`.
    #[must_use]
    pub fn new(redis_url: impl Into<String>) -> Self {
        Self {
            redis_url: redis_url.into(),
            ..Self::default()
        }
    }

    /// Reads a configuration from a JSON value such as `serde_json::json!({...})` and
    /// validates it.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the offending key.
    pub fn from_value(value: serde_json::Value) -> Result<Self, ConfigError> {
        let config: Self =
            serde_path_to_error::deserialize(value).map_err(|error| ConfigError::Deserialize {
                key: error.path().to_string(),
                source: error.into_inner(),
            })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every setting is usable: positive timeout, pool size from 1 to 1024, positive
    /// scan size, and a `redis_url` the client can parse.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the offending key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.timeout.is_zero() {
            return Err(ConfigError::invalid("timeout", "must be greater than zero"));
        }
        if self.pool_size == 0 {
            return Err(ConfigError::invalid("pool_size", "must be at least 1"));
        }
        if self.pool_size > MAX_POOL_SIZE {
            return Err(ConfigError::invalid(
                "pool_size",
                &format!("must be at most {MAX_POOL_SIZE}"),
            ));
        }
        if self.scan_count == 0 {
            return Err(ConfigError::invalid("scan_count", "must be at least 1"));
        }
        if self.max_retry_delay < self.retry_delay {
            return Err(ConfigError::invalid(
                "max_retry_delay",
                "must not be shorter than retry_delay",
            ));
        }
        self.validate_tls()?;
        match (&self.sentinel, &self.cluster) {
            (Some(_), Some(_)) => Err(ConfigError::invalid(
                "cluster",
                "cannot be combined with `sentinel`: a cluster fails over by itself",
            )),
            (Some(sentinel), None) => self.validate_sentinel(sentinel),
            (None, Some(cluster)) => self.validate_cluster(cluster),
            (None, None) => parse_url("redis_url", &self.redis_url).map(drop),
        }
    }

    /// The cluster rules: seed URLs of one scheme and one set of credentials, database 0,
    /// no `redis_url`, and a build with the `cluster` feature.
    fn validate_cluster(&self, cluster: &ClusterConfig) -> Result<(), ConfigError> {
        if !cfg!(feature = "cluster") {
            return Err(ConfigError::invalid(
                "cluster",
                "is set, but this build of storage-redis has no Redis Cluster support (feature `cluster`)",
            ));
        }
        self.no_redis_url("cluster")?;
        let Some(first) = cluster.nodes.first() else {
            return Err(ConfigError::invalid(
                "cluster.nodes",
                "must list at least one seed node",
            ));
        };
        let first = parse_url("cluster.nodes", first)?;
        for url in &cluster.nodes {
            let info = parse_url("cluster.nodes", url)?;
            if matches!(info.addr(), redis::ConnectionAddr::Unix(_)) {
                return Err(ConfigError::invalid(
                    "cluster.nodes",
                    "must be TCP URLs: a cluster announces its nodes by address",
                ));
            }
            let (settings, first) = (info.redis_settings(), first.redis_settings());
            if settings.db() != 0 {
                return Err(ConfigError::invalid(
                    "cluster.nodes",
                    "must not name a database: a cluster has only database 0",
                ));
            }
            if settings.password() != first.password() || settings.username() != first.username() {
                return Err(ConfigError::invalid(
                    "cluster.nodes",
                    "must all carry the same credentials",
                ));
            }
            if is_tls_url(url) != self.uses_tls() {
                return Err(ConfigError::invalid(
                    "cluster.nodes",
                    "mixes `rediss://` and plain URLs: all use TLS or none does",
                ));
            }
        }
        Ok(())
    }

    /// The Sentinel rules: a master name, sentinel URLs without credentials and of one
    /// scheme, no `redis_url`, and a build with the `sentinel` feature.
    fn validate_sentinel(&self, sentinel: &SentinelConfig) -> Result<(), ConfigError> {
        if !cfg!(feature = "sentinel") {
            return Err(ConfigError::invalid(
                "sentinel",
                "is set, but this build of storage-redis has no Sentinel support (feature `sentinel`)",
            ));
        }
        self.no_redis_url("sentinel")?;
        if sentinel.master_name.trim().is_empty() {
            return Err(ConfigError::invalid(
                "sentinel.master_name",
                "must name the master the sentinels monitor",
            ));
        }
        if sentinel.sentinels.is_empty() {
            return Err(ConfigError::invalid(
                "sentinel.sentinels",
                "must list at least one sentinel",
            ));
        }
        for url in &sentinel.sentinels {
            let info = parse_url("sentinel.sentinels", url)?;
            let settings = info.redis_settings();
            if settings.password().is_some() || settings.username().is_some() {
                return Err(ConfigError::invalid(
                    "sentinel.sentinels",
                    "must not carry credentials: set `sentinel.sentinel_password` (and `sentinel.sentinel_username`)",
                ));
            }
        }
        if sentinel
            .sentinels
            .iter()
            .any(|url| is_tls_url(url) != self.uses_tls())
        {
            return Err(ConfigError::invalid(
                "sentinel.sentinels",
                "mixes `rediss://` and plain URLs: all use TLS or none does",
            ));
        }
        Ok(())
    }

    /// Refuses an explicit `redis_url` next to `section`, which names the servers instead.
    fn no_redis_url(&self, section: &'static str) -> Result<(), ConfigError> {
        if self.redis_url == Self::default().redis_url {
            Ok(())
        } else {
            Err(ConfigError::invalid(
                "redis_url",
                &format!("names one server: leave it unset with `{section}`"),
            ))
        }
    }

    /// Whether connections use TLS: `redis_url`, or the sentinels' URLs, are `rediss://`.
    pub(crate) fn uses_tls(&self) -> bool {
        match &self.sentinel {
            Some(sentinel) => sentinel
                .sentinels
                .first()
                .is_some_and(|url| is_tls_url(url)),
            None => is_tls_url(&self.redis_url),
        }
    }

    /// Where the data lives, without passwords, for messages: `redis_url`, or the
    /// sentinels and master name.
    pub(crate) fn target(&self) -> String {
        match (&self.sentinel, &self.cluster) {
            (Some(sentinel), _) => sentinel.target(),
            (None, Some(cluster)) => cluster.target(),
            (None, None) => self.redacted_url(),
        }
    }

    /// The TLS rules: a `tls` section only with `rediss://`, a client certificate with its
    /// key, and either only in a build with the `tls` feature.
    fn validate_tls(&self) -> Result<(), ConfigError> {
        let secure = self.uses_tls();
        if let Some(tls) = &self.tls {
            if !secure {
                return Err(ConfigError::invalid(
                    "tls",
                    match (&self.sentinel, &self.cluster) {
                        (Some(_), _) => "is set, but the sentinels' URLs are not `rediss://` URLs",
                        (None, Some(_)) => {
                            "is set, but the cluster's URLs are not `rediss://` URLs"
                        }
                        (None, None) => "is set, but `redis_url` is not a `rediss://` URL",
                    },
                ));
            }
            match (&tls.cert_file, &tls.key_file) {
                (Some(_), None) => {
                    return Err(ConfigError::invalid(
                        "tls.cert_file",
                        "needs `tls.key_file`",
                    ));
                }
                (None, Some(_)) => {
                    return Err(ConfigError::invalid(
                        "tls.key_file",
                        "needs `tls.cert_file`",
                    ));
                }
                _ => {}
            }
        }
        if secure && !cfg!(feature = "tls") {
            return Err(ConfigError::invalid(
                match (&self.sentinel, &self.cluster) {
                    (Some(_), _) => "sentinel.sentinels",
                    (None, Some(_)) => "cluster.nodes",
                    (None, None) => "redis_url",
                },
                "asks for TLS (`rediss://`), but this build of storage-redis has no TLS (feature `tls`)",
            ));
        }
        Ok(())
    }

    /// `redis_url` with any password replaced by `***`, safe to log.
    #[must_use]
    pub fn redacted_url(&self) -> String {
        redact_url(&self.redis_url)
    }

    /// Sets the password of `redis_url` to `password` (percent-encoded), replacing any it
    /// had, where the client reads it: the user-info of a TCP URL
    /// (`redis://user:password@host`, the user kept), or the `pass` query parameter of a
    /// Unix socket URL (`redis+unix:///run/redis.sock?pass=password`).
    ///
    /// ```
    /// use storage_redis::RedisConfig;
    ///
    /// let mut config = RedisConfig::new("redis://app:old@db:6379/0");
    /// config.set_password("p@ss word");
    /// assert_eq!(config.redis_url, "redis://app:p%40ss%20word@db:6379/0");
    ///
    /// let mut socket = RedisConfig::new("redis+unix:///run/redis.sock?db=1");
    /// socket.set_password("s3cret");
    /// assert_eq!(socket.redis_url, "redis+unix:///run/redis.sock?db=1&pass=s3cret");
    /// assert_eq!(socket.redacted_url(), "redis+unix:///run/redis.sock?db=1&pass=***");
    /// ```
    ///
    /// A URL without a scheme is left as it is, for [`validate`](Self::validate) to refuse.
    /// With a [`sentinel`](Self::sentinel) section, the password is the master's
    /// (`sentinel.master_password`); with a [`cluster`](Self::cluster) section, every seed
    /// node's.
    pub fn set_password(&mut self, password: &str) {
        match (&mut self.sentinel, &mut self.cluster) {
            (Some(sentinel), _) => sentinel.master_password = Some(password.to_owned()),
            (None, Some(cluster)) => {
                for url in &mut cluster.nodes {
                    *url = with_password(url, password);
                }
            }
            (None, None) => self.redis_url = with_password(&self.redis_url, password),
        }
    }

    /// The backoff before retry number `retry` (0-based), before jitter.
    #[must_use]
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry);
        self.retry_delay
            .checked_mul(factor)
            .unwrap_or(self.max_retry_delay)
            .min(self.max_retry_delay)
    }

    /// The longest an operation can take before it reports its failure: every attempt
    /// timing out, with the longest backoff between attempts. A `SCAN` pays this per page.
    #[must_use]
    pub fn worst_case_latency(&self) -> Duration {
        let attempts = self.max_retries.saturating_add(1);
        let backoffs: Duration = (0..self.max_retries).map(|retry| self.backoff(retry)).sum();
        self.timeout
            .saturating_mul(attempts)
            .saturating_add(backoffs)
    }
}

impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConfig")
            .field("redis_url", &self.redacted_url())
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .field("retry_delay", &self.retry_delay)
            .field("max_retry_delay", &self.max_retry_delay)
            .field("pool_size", &self.pool_size)
            .field("key_prefix", &self.key_prefix)
            .field("scan_count", &self.scan_count)
            .field("tls", &self.tls)
            .field("sentinel", &self.sentinel)
            .field("cluster", &self.cluster)
            .finish()
    }
}

/// `url` parsed by the client, or the error naming it without its password.
fn parse_url(key: &'static str, url: &str) -> Result<redis::ConnectionInfo, ConfigError> {
    redis::IntoConnectionInfo::into_connection_info(url).map_err(|source| ConfigError::InvalidUrl {
        key,
        url: redact_url(url),
        source,
    })
}

/// Whether `url` asks for TLS (`rediss://`, `valkeys://`).
pub(crate) fn is_tls_url(url: &str) -> bool {
    url.split_once("://").is_some_and(|(scheme, _)| {
        scheme.eq_ignore_ascii_case("rediss") || scheme.eq_ignore_ascii_case("valkeys")
    })
}

/// `Duration` as a number of seconds (integer or decimal), the original's format.
mod seconds {
    use super::{Deserialize, Deserializer, Duration, Serializer};

    pub(super) fn serialize<S: Serializer>(
        value: &Duration,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(value.as_secs_f64())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(deserializer)?;
        Duration::try_from_secs_f64(secs).map_err(|_| {
            serde::de::Error::custom(format!(
                "expected a non-negative, finite number of seconds, got {secs}"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn seed_keys_deserialize_verbatim_and_the_rest_defaults() {
        let config = RedisConfig::from_value(json!({
            "redis_url": "redis://cache:6380/2",
            "timeout": 1,
            "max_retries": 5,
            "retry_delay": 0.25,
        }))
        .unwrap();
        assert_eq!(config.redis_url, "redis://cache:6380/2");
        assert_eq!(config.timeout, Duration::from_secs(1));
        assert_eq!(config.max_retries, 5);
        assert_eq!(config.retry_delay, Duration::from_millis(250));
        assert_eq!(config.pool_size, RedisConfig::default().pool_size);
    }

    #[test]
    fn empty_object_is_the_original_default() {
        let config = RedisConfig::from_value(json!({})).unwrap();
        assert_eq!(config.redis_url, "redis://localhost:6379");
        assert_eq!(config.timeout, Duration::from_secs(5));
        assert_eq!(config.max_retries, 3);
        assert_eq!(config.retry_delay, Duration::from_millis(500));
    }

    /// The message of `error` and its causes, `: `-separated, as a chain printer shows
    /// them; each level must not repeat the one below it.
    fn chain(error: &(dyn std::error::Error + 'static)) -> String {
        let mut shown = error.to_string();
        let mut current = error;
        while let Some(cause) = current.source() {
            let below = cause.to_string();
            assert!(
                !current.to_string().contains(&below),
                "{current} repeats its cause {below:?}"
            );
            shown = format!("{shown}: {below}");
            current = cause;
        }
        shown
    }

    fn check_rejected(value: &serde_json::Value, key: &str, fragment: &str) {
        let error = chain(&RedisConfig::from_value(value.clone()).unwrap_err());
        assert!(
            error.contains(&format!("`{key}`")) && error.contains(fragment),
            "config {value} gave {error:?}, expected it to name `{key}` and say {fragment:?}"
        );
    }

    #[test]
    fn bad_values_are_refused_with_the_key_named() {
        check_rejected(&json!({"timeout": -1}), "timeout", "non-negative");
        check_rejected(&json!({"timeout": 0}), "timeout", "greater than zero");
        check_rejected(&json!({"timeout": "5"}), "timeout", "invalid type");
        check_rejected(&json!({"max_retries": -1}), "max_retries", "invalid value");
        check_rejected(&json!({"pool_size": 0}), "pool_size", "at least 1");
        // The pool sizes its slot buffer up front: a huge size would abort at connect.
        check_rejected(
            &json!({"pool_size": 1_000_000_000u64}),
            "pool_size",
            "at most 1024",
        );
        assert!(RedisConfig::from_value(json!({"pool_size": 1024})).is_ok());
        check_rejected(&json!({"scan_count": 0}), "scan_count", "at least 1");
        check_rejected(
            &json!({"retry_delay": 2, "max_retry_delay": 1}),
            "max_retry_delay",
            "retry_delay",
        );
        check_rejected(
            &json!({"redis_url": "http://nope"}),
            "redis_url",
            "is not a URL the Redis client accepts",
        );
        check_rejected(
            &json!({"redis_ur": "redis://x"}),
            "redis_ur",
            "unknown field `redis_ur`",
        );
    }

    #[test]
    fn invalid_url_error_hides_the_password() {
        for url in [
            "nope://:hunter2@db",
            "redis://app:hunter2/x@db:6379",
            "redis://:hunter2#x@db",
        ] {
            let error = RedisConfig::from_value(json!({ "redis_url": url })).unwrap_err();
            let shown = format!("{} {error:?}", chain(&error));
            assert!(!shown.contains("hunter2"), "{shown}");
        }
    }

    #[test]
    fn debug_hides_the_password() {
        let config = RedisConfig::new("redis://admin:hunter2@db:6379");
        let debug = format!("{config:?}");
        assert!(
            !debug.contains("hunter2") && debug.contains("admin:***@db"),
            "{debug}"
        );
    }

    #[test]
    fn a_password_without_a_scheme_to_put_it_in_leaves_the_url_for_validate() {
        let mut config = RedisConfig::new("db:6379");
        config.set_password("pw");
        assert_eq!(config.redis_url, "db:6379");
        assert!(config.validate().is_err());
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_bounds_the_worst_case() {
        let config = RedisConfig {
            timeout: Duration::from_secs(1),
            max_retries: 3,
            retry_delay: Duration::from_millis(100),
            max_retry_delay: Duration::from_millis(300),
            ..RedisConfig::default()
        };
        let delays: Vec<_> = (0..4).map(|retry| config.backoff(retry)).collect();
        assert_eq!(delays, [100, 200, 300, 300].map(Duration::from_millis));
        assert_eq!(
            config.worst_case_latency(),
            Duration::from_millis(4000 + 600)
        );
        assert_eq!(config.backoff(u32::MAX), Duration::from_millis(300));
    }
}
