//! The configuration: a TOML file, environment variables for secrets, flags on top.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use fallback::{FallbackConfig, FallbackMode, ThresholdPolicy};
use health::{ResourceConfig, Thresholds};
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use serde_json::{Map, Value};
use storage_redis::RedisConfig;

use crate::auth::{MIN_SECRET_LEN, Secret};
use crate::error::ServerError;

/// The whole configuration. [`Config::default`] is the embedded default that needs nothing
/// installed: `MemoryStorage`, a disk check on `/`, a storage check, a cascade every 5 s,
/// listening on `127.0.0.1:8000`.
///
/// Every section and key is optional; an unknown key is an error, never ignored:
///
/// ```
/// use server::Config;
///
/// let config = Config::from_toml_str(r#"
///     [server]
///     listen = "0.0.0.0:9000"
///
///     [storage]
///     redis_url = "redis://127.0.0.1:6379/0"
///     timeout = 2.5
///
///     [cascade]
///     interval = "10s"
///     safe_failed_components = 3
/// "#)?;
/// assert_eq!(config.server.listen.port(), 9000);
/// assert_eq!(config.storage.backend_name(), "redis");
///
/// let error = Config::from_toml_str("[cascade]\nintervall = 5").unwrap_err();
/// assert_eq!(error.key(), Some("cascade.intervall"));
/// # Ok::<(), server::ServerError>(())
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// Where and how the HTTP server listens.
    pub server: ServerSection,
    /// Logs.
    pub log: LogSection,
    /// The admin token and the webhook secrets.
    pub auth: AuthSection,
    /// Where transitions, fallback definitions and registrations are kept.
    pub storage: StorageSection,
    /// The health monitor: refresh interval and resource sampling.
    pub monitor: MonitorSection,
    /// The health checks.
    pub checks: ChecksSection,
    /// The fallback cascade: interval, thresholds, hysteresis.
    pub cascade: CascadeSection,
    /// Fallback rules: a name and a condition, optionally a mode to enter when it holds.
    pub fallbacks: Vec<FallbackRule>,
    /// Where metrics go besides `/metrics`.
    pub sinks: SinksSection,
}

/// `[server]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct ServerSection {
    /// The address to listen on (default `127.0.0.1:8000`; `--listen` overrides it).
    pub listen: SocketAddr,
    /// The largest request body accepted, in bytes (default 1 MiB); larger ones get 413.
    pub max_body_bytes: usize,
    /// How long in-flight requests may take to finish once shutdown starts, and then
    /// transitions still waiting for storage to be written (default 10 s; not zero).
    #[serde(deserialize_with = "duration")]
    pub shutdown_grace: Duration,
}

/// The default listening address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8000";

/// The default request body limit: 1 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

impl Default for ServerSection {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8000)),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// `[log]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct LogSection {
    /// `human` (default) or `json` lines, on standard error.
    pub format: LogFormat,
    /// A filter such as `info` or `info,server=debug,storage_redis=warn` (default `info`).
    pub level: String,
    /// Whether every request is logged at `info` when it completes (default off: at
    /// `debug`). The request span itself always exists.
    pub access_log: bool,
}

impl Default for LogSection {
    fn default() -> Self {
        Self {
            format: LogFormat::Human,
            level: "info".to_owned(),
            access_log: false,
        }
    }
}

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Human,
    /// One JSON object per line.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "human" => Ok(Self::Human),
            "json" => Ok(Self::Json),
            other => Err(format!(
                "unknown log format {other:?}: expected human or json"
            )),
        }
    }
}

/// `[auth]`. Secrets are better set through the environment
/// (`RESILIENCE_ADMIN_TOKEN`, `RESILIENCE_WEBHOOK_SECRET_DATADOG`,
/// `RESILIENCE_WEBHOOK_SECRET_NEWRELIC`); any left unset is generated at start-up and
/// printed once.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct AuthSection {
    /// The bearer token of the write routes.
    pub admin_token: Option<Secret>,
    /// The header carrying a webhook's shared secret (default `x-webhook-secret`);
    /// `Authorization: Bearer <secret>` is accepted too.
    pub webhook_header: String,
    /// One shared secret per alert provider.
    pub webhook_secrets: WebhookSecrets,
}

impl Default for AuthSection {
    fn default() -> Self {
        Self {
            admin_token: None,
            webhook_header: "x-webhook-secret".to_owned(),
            webhook_secrets: WebhookSecrets::default(),
        }
    }
}

/// `[auth.webhook_secrets]`: a key per provider.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct WebhookSecrets {
    /// The secret Datadog sends (set it as a custom header of the webhook).
    pub datadog: Option<Secret>,
    /// The secret New Relic sends (a custom header or the Bearer token of the destination).
    pub newrelic: Option<Secret>,
}

impl WebhookSecrets {
    /// The secret of `provider` (as `health::PROVIDERS` names it), if set; `None` for a
    /// provider this section has no key for.
    pub(crate) fn get(&self, provider: &str) -> Option<&Secret> {
        match provider {
            "datadog" => self.datadog.as_ref(),
            "newrelic" => self.newrelic.as_ref(),
            _ => None,
        }
    }
}

/// A secret the server generated because none was configured; shown once at start-up.
#[derive(Debug, Clone)]
pub struct GeneratedSecret {
    /// What it is for, e.g. `admin token`.
    pub purpose: &'static str,
    /// Where it can be set instead, e.g. `RESILIENCE_ADMIN_TOKEN`.
    pub variable: &'static str,
    /// The secret.
    pub secret: Secret,
}

/// The environment variable of the admin token.
pub const ADMIN_TOKEN_VAR: &str = "RESILIENCE_ADMIN_TOKEN";
/// The environment variable of the Datadog webhook secret.
pub const DATADOG_SECRET_VAR: &str = "RESILIENCE_WEBHOOK_SECRET_DATADOG";
/// The environment variable of the New Relic webhook secret.
pub const NEWRELIC_SECRET_VAR: &str = "RESILIENCE_WEBHOOK_SECRET_NEWRELIC";
/// The environment variable of the Redis URL; setting it selects the Redis backend.
pub const REDIS_URL_VAR: &str = "RESILIENCE_REDIS_URL";
/// The environment variable of the Redis password, put into the Redis URL.
pub const REDIS_PASSWORD_VAR: &str = "RESILIENCE_REDIS_PASSWORD";

impl AuthSection {
    /// Generates every secret left unset and returns them, so the caller can show them
    /// once.
    ///
    /// # Errors
    ///
    /// [`ServerError::Startup`] if the operating system has no randomness to give.
    pub fn generate_missing(&mut self) -> Result<Vec<GeneratedSecret>, ServerError> {
        let mut generated = Vec::new();
        let slots = [
            (&mut self.admin_token, "admin token", ADMIN_TOKEN_VAR),
            (
                &mut self.webhook_secrets.datadog,
                "datadog webhook secret",
                DATADOG_SECRET_VAR,
            ),
            (
                &mut self.webhook_secrets.newrelic,
                "newrelic webhook secret",
                NEWRELIC_SECRET_VAR,
            ),
        ];
        for (slot, purpose, variable) in slots {
            if slot.is_none() {
                let secret = Secret::generate()
                    .map_err(|error| ServerError::startup("secret generation", error))?;
                *slot = Some(secret.clone());
                generated.push(GeneratedSecret {
                    purpose,
                    variable,
                    secret,
                });
            }
        }
        Ok(generated)
    }
}

/// `[storage]`: `backend = "memory"` (the default) or the Redis keys of the original
/// (`redis_url`, `timeout`, `max_retries`, `retry_delay`, plus `max_retry_delay`,
/// `pool_size`, `key_prefix`, `scan_count`), which select Redis.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct StorageSection {
    /// The backend and its settings.
    pub backend: StorageBackend,
}

/// The storage backend.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub enum StorageBackend {
    /// `MemoryStorage`: nothing to install, nothing survives a restart.
    #[default]
    Memory,
    /// `RedisAdapter` with these settings (its `Debug` hides the password).
    Redis(Box<RedisConfig>),
}

impl StorageSection {
    /// `"memory"` or `"redis"`.
    #[must_use]
    pub const fn backend_name(&self) -> &'static str {
        match self.backend {
            StorageBackend::Memory => "memory",
            StorageBackend::Redis(_) => "redis",
        }
    }

    /// Selects Redis at `url`, keeping any other Redis settings already configured.
    ///
    /// # Errors
    ///
    /// [`ServerError::Config`] naming `storage.redis_url` when the URL is unusable (the
    /// message hides its password).
    pub fn use_redis_url(&mut self, url: &str) -> Result<(), ServerError> {
        let mut config = match &self.backend {
            StorageBackend::Redis(config) => (**config).clone(),
            StorageBackend::Memory => RedisConfig::default(),
        };
        url.clone_into(&mut config.redis_url);
        config.validate().map_err(|error| redis_error(&error))?;
        self.backend = StorageBackend::Redis(Box::new(config));
        Ok(())
    }

    /// Puts `password` into the Redis URL (see [`RedisConfig::set_password`]).
    ///
    /// # Errors
    ///
    /// [`ServerError::Config`] naming `storage.redis_url` when the backend is not Redis.
    pub fn set_redis_password(&mut self, password: &str) -> Result<(), ServerError> {
        let StorageBackend::Redis(config) = &mut self.backend else {
            return Err(ServerError::config(
                "storage.redis_url",
                format!("{REDIS_PASSWORD_VAR} is set but the storage backend is memory"),
            ));
        };
        config.set_password(password);
        config.validate().map_err(|error| redis_error(&error))
    }
}

/// The Redis key an error is about and what is wrong with it.
fn redis_key_and_message(error: &storage_redis::ConfigError) -> (String, String) {
    match error {
        storage_redis::ConfigError::Deserialize { key, source } => {
            (key.clone(), source.to_string())
        }
        storage_redis::ConfigError::Invalid { key, message } => {
            ((*key).to_owned(), message.clone())
        }
        other => ("redis_url".to_owned(), other.to_string()),
    }
}

fn redis_error(error: &storage_redis::ConfigError) -> ServerError {
    let (key, message) = redis_key_and_message(error);
    ServerError::config(format!("storage.{key}"), message)
}

/// Separates the key from the message in errors raised inside the `[storage]`
/// deserializer, which sees keys the path tracker does not (they go through
/// `RedisConfig`); [`Config::from_toml_str`] reports them as `storage.<key>`.
const NESTED_KEY: char = '\u{1f}';

fn nested_error<E: de::Error>(key: &str, message: &str) -> E {
    E::custom(format!("{key}{NESTED_KEY}{message}"))
}

impl<'de> Deserialize<'de> for StorageSection {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut keys = Map::<String, Value>::deserialize(deserializer)?;
        let backend = match keys.remove("backend") {
            None => None,
            Some(Value::String(name)) => Some(name),
            Some(_) => return Err(nested_error("backend", "must be \"memory\" or \"redis\"")),
        };
        let backend = match backend.as_deref() {
            Some("memory") | None if keys.is_empty() => StorageBackend::Memory,
            Some("memory") => {
                let key = keys.keys().next().cloned().unwrap_or_default();
                return Err(nested_error(
                    &key,
                    "is a redis setting, but `backend` is \"memory\"",
                ));
            }
            Some("redis") | None => {
                let config = RedisConfig::from_value(Value::Object(keys)).map_err(|error| {
                    let (key, message) = redis_key_and_message(&error);
                    nested_error::<D::Error>(&key, &message)
                })?;
                StorageBackend::Redis(Box::new(config))
            }
            Some(other) => {
                return Err(nested_error(
                    "backend",
                    &format!("unknown backend {other:?}: expected \"memory\" or \"redis\""),
                ));
            }
        };
        Ok(Self { backend })
    }
}

/// `[monitor]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct MonitorSection {
    /// How often the checks run in the background; the routes read the latest results
    /// (default 5 s).
    #[serde(deserialize_with = "duration")]
    pub refresh_interval: Duration,
    /// The resources section of the state: CPU, memory, disk.
    pub resources: ResourcesSection,
}

impl Default for MonitorSection {
    fn default() -> Self {
        Self {
            refresh_interval: Duration::from_secs(5),
            resources: ResourcesSection::default(),
        }
    }
}

/// `[monitor.resources]`: thresholds in percent (warning, critical), the original's
/// defaults.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct ResourcesSection {
    /// The file system whose use is the disk resource (default `/`).
    pub disk_path: PathBuf,
    /// CPU warning and critical levels (default `[70, 90]`).
    pub cpu: [f64; 2],
    /// Memory warning and critical levels (default `[75, 90]`).
    pub memory: [f64; 2],
    /// Disk warning and critical levels (default `[80, 95]`).
    pub disk: [f64; 2],
}

impl Default for ResourcesSection {
    /// The `health` crate's defaults.
    fn default() -> Self {
        let ResourceConfig {
            thresholds,
            disk_path,
            ..
        } = ResourceConfig::default();
        let levels = |Thresholds { warning, critical }| [warning, critical];
        Self {
            disk_path,
            cpu: levels(thresholds.cpu),
            memory: levels(thresholds.memory),
            disk: levels(thresholds.disk),
        }
    }
}

impl MonitorSection {
    /// The monitor's resource sampling: these thresholds, sampled as often as the checks
    /// are refreshed.
    pub(crate) fn resource_config(&self) -> Result<ResourceConfig, ServerError> {
        let section = &self.resources;
        let mut resources = ResourceConfig::default();
        resources.thresholds.cpu = thresholds("monitor.resources.cpu", section.cpu)?;
        resources.thresholds.memory = thresholds("monitor.resources.memory", section.memory)?;
        resources.thresholds.disk = thresholds("monitor.resources.disk", section.disk)?;
        resources.disk_path.clone_from(&section.disk_path);
        resources.sample_interval = self.refresh_interval;
        Ok(resources)
    }
}

/// `[checks]`: which checks run.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct ChecksSection {
    /// Disk-space checks (default: one on `/`); `disk = []` turns them off.
    pub disk: Vec<DiskCheckConfig>,
    /// The check of the storage backend (default on).
    pub storage: StorageCheckConfig,
    /// HTTP checks of downstream services (default none).
    pub http: Vec<HttpCheckConfig>,
}

impl Default for ChecksSection {
    fn default() -> Self {
        Self {
            disk: vec![DiskCheckConfig::default()],
            storage: StorageCheckConfig::default(),
            http: Vec::new(),
        }
    }
}

/// `[[checks.disk]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct DiskCheckConfig {
    /// The check's name (default `disk`, or `disk:<path>` for a path other than `/`).
    pub name: Option<String>,
    /// A path on the file system to check (default `/`).
    pub path: PathBuf,
    /// Degraded at or above this use, in percent (default 80).
    pub warning_percent: f64,
    /// Unhealthy at or above this use, in percent (default 95).
    pub critical_percent: f64,
    /// The check's timeout (default 2 s).
    #[serde(deserialize_with = "duration")]
    pub timeout: Duration,
}

impl Default for DiskCheckConfig {
    fn default() -> Self {
        Self {
            name: None,
            path: PathBuf::from("/"),
            warning_percent: 80.0,
            critical_percent: 95.0,
            timeout: Duration::from_secs(2),
        }
    }
}

impl DiskCheckConfig {
    /// The check's name.
    #[must_use]
    pub fn check_name(&self) -> String {
        self.name.clone().unwrap_or_else(|| {
            if self.path == Path::new("/") {
                "disk".to_owned()
            } else {
                format!("disk:{}", self.path.display())
            }
        })
    }
}

/// `[checks.storage]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct StorageCheckConfig {
    /// Whether the storage backend is checked (default on).
    pub enabled: bool,
    /// The check's name (default `storage`).
    pub name: String,
    /// The check's timeout (default 2 s).
    #[serde(deserialize_with = "duration")]
    pub timeout: Duration,
}

impl Default for StorageCheckConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            name: "storage".to_owned(),
            timeout: Duration::from_secs(2),
        }
    }
}

/// `[[checks.http]]`: a `GET` of a downstream service's health endpoint.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct HttpCheckConfig {
    /// The check's name (required, unique).
    pub name: String,
    /// The URL, `http://` only.
    pub url: String,
    /// The status that means healthy (default 200).
    #[serde(default = "default_expected_status")]
    pub expected_status: u16,
    /// The check's timeout (default 5 s).
    #[serde(default = "default_http_timeout", deserialize_with = "duration")]
    pub timeout: Duration,
}

const fn default_expected_status() -> u16 {
    200
}

const fn default_http_timeout() -> Duration {
    Duration::from_secs(5)
}

/// `[cascade]`: the fallback cascade, run in the background on the monitor's latest
/// state.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct CascadeSection {
    /// How often the cascade runs (default 5 s).
    #[serde(deserialize_with = "duration")]
    pub interval: Duration,
    /// SAFE when at least this many components failed (default 2).
    pub safe_failed_components: u64,
    /// SAFE when the resources' overall level is critical (default true).
    pub safe_on_critical_resources: bool,
    /// HEURISTIC when the circuit breaker is OPEN (default true).
    pub heuristic_on_open_circuit: bool,
    /// HEURISTIC when more than this many retry failures are in the window (default 50).
    pub heuristic_retry_failures: u64,
    /// Damping of recoveries (default none: every change at once, as the original).
    pub hysteresis: Option<HysteresisSection>,
    /// How many transitions the in-memory log keeps (default 100).
    pub max_log_entries: usize,
    /// How long a transition record lives in storage (default 24 h).
    #[serde(deserialize_with = "duration")]
    pub record_ttl: Duration,
}

impl Default for CascadeSection {
    /// The `fallback` crate's defaults, and a cascade every 5 s.
    fn default() -> Self {
        let policy = ThresholdPolicy::ORIGINAL;
        let manager = FallbackConfig::default();
        Self {
            interval: Duration::from_secs(5),
            safe_failed_components: policy.safe_failed_components,
            safe_on_critical_resources: policy.safe_on_critical_resources,
            heuristic_on_open_circuit: policy.heuristic_on_open_circuit,
            heuristic_retry_failures: policy.heuristic_retry_failures,
            hysteresis: None,
            max_log_entries: manager.max_log_entries,
            record_ttl: manager.record_ttl,
        }
    }
}

/// `[cascade.hysteresis]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct HysteresisSection {
    /// The least time spent in a mode before stepping up out of it (default 0).
    #[serde(deserialize_with = "duration")]
    pub min_dwell: Duration,
    /// How many cascades in a row must call for a healthier mode (default 1).
    pub recovery_evaluations: u32,
    /// Whether to step up one mode at a time (default false).
    pub stepwise: bool,
}

/// `[[fallbacks]]`: a named condition checked by `POST /fallback/evaluate`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct FallbackRule {
    /// The rule's name (unique).
    pub name: String,
    /// A condition such as `severity >= 0.8 and recurrence_count >= 2`.
    pub condition: String,
    /// The mode to enter when the condition holds, unless an operator holds the mode (a
    /// one-shot change: the next cascade decides again); none only records that it fired.
    #[serde(default)]
    pub mode: Option<FallbackMode>,
    /// Free-form metadata kept with the stored definition.
    #[serde(default)]
    pub metadata: Map<String, Value>,
}

/// `[sinks]`: where metrics go besides `/metrics` (Prometheus is always on).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct SinksSection {
    /// One log event per health or fallback metric, at `debug` under the target
    /// `health_sinks::metrics` (default off).
    pub logging: bool,
    /// DogStatsD datagrams to a Datadog Agent (default off).
    pub dogstatsd: Option<DogStatsdSection>,
}

/// `[sinks.dogstatsd]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct DogStatsdSection {
    /// The Agent's UDP address (default `127.0.0.1:8125`).
    pub address: String,
    /// A namespace put before every metric name with a `.`, e.g. `resilience` (default
    /// none).
    pub prefix: String,
    /// Tags added to every metric.
    pub tags: std::collections::BTreeMap<String, String>,
    /// Pack metrics and send them this often, instead of one datagram per metric
    /// (default: unbuffered).
    #[serde(default, deserialize_with = "optional_duration")]
    pub flush_interval: Option<Duration>,
}

impl Default for DogStatsdSection {
    fn default() -> Self {
        Self {
            address: health_sinks::DEFAULT_DOGSTATSD_ADDRESS.to_owned(),
            prefix: String::new(),
            tags: std::collections::BTreeMap::new(),
            flush_interval: None,
        }
    }
}

// ----- loading ---------------------------------------------------------------------------

impl Config {
    /// Reads and validates a TOML document.
    ///
    /// # Errors
    ///
    /// [`ServerError::ConfigSyntax`] for text that is not TOML, [`ServerError::Config`]
    /// naming the key for an unknown key, a wrong type or an unusable value.
    pub fn from_toml_str(text: &str) -> Result<Self, ServerError> {
        let deserializer =
            toml::de::Deserializer::parse(text).map_err(|error| ServerError::ConfigSyntax {
                message: located(text, error.message(), error.span()),
            })?;
        let config: Self = serde_path_to_error::deserialize(deserializer).map_err(|error| {
            let key = error.path().to_string();
            let inner = error.into_inner();
            let (key, message) = match inner.message().split_once(NESTED_KEY) {
                Some((nested, message)) => (format!("{key}.{nested}"), message),
                None => (key, inner.message()),
            };
            ServerError::config(key, located(text, message, inner.span()))
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Reads and validates the TOML file at `path`.
    ///
    /// # Errors
    ///
    /// [`ServerError::ConfigFile`] if it cannot be read, else as
    /// [`from_toml_str`](Self::from_toml_str).
    pub fn from_file(path: &Path) -> Result<Self, ServerError> {
        let text = std::fs::read_to_string(path).map_err(|source| ServerError::ConfigFile {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml_str(&text)
    }

    /// Applies the environment: secrets and the Redis URL and password (see the
    /// `*_VAR` constants). `lookup` is `std::env::var` in the binary, a map in tests.
    ///
    /// # Errors
    ///
    /// [`ServerError::Config`] naming the key a variable sets when its value is unusable.
    pub fn apply_env(
        &mut self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<(), ServerError> {
        let present = |name: &str| lookup(name).filter(|value| !value.is_empty());
        if let Some(token) = present(ADMIN_TOKEN_VAR) {
            self.auth.admin_token = Some(Secret::new(token));
        }
        if let Some(secret) = present(DATADOG_SECRET_VAR) {
            self.auth.webhook_secrets.datadog = Some(Secret::new(secret));
        }
        if let Some(secret) = present(NEWRELIC_SECRET_VAR) {
            self.auth.webhook_secrets.newrelic = Some(Secret::new(secret));
        }
        if let Some(url) = present(REDIS_URL_VAR) {
            self.storage.use_redis_url(&url)?;
        }
        if let Some(password) = present(REDIS_PASSWORD_VAR) {
            self.storage.set_redis_password(&password)?;
        }
        self.validate()
    }

    /// Checks every value that deserialized is usable: secrets long enough, durations
    /// positive, names unique, conditions and modes valid, thresholds ordered.
    ///
    /// # Errors
    ///
    /// [`ServerError::Config`] naming the first offending key.
    pub fn validate(&self) -> Result<(), ServerError> {
        self.validate_server()?;
        self.validate_auth()?;
        self.validate_checks()?;
        self.validate_cascade()?;
        self.validate_fallbacks()?;
        self.validate_sinks()
    }

    fn validate_server(&self) -> Result<(), ServerError> {
        if self.server.max_body_bytes == 0 {
            return Err(ServerError::config(
                "server.max_body_bytes",
                "must be at least 1",
            ));
        }
        // Also the time shutdown gives transitions still waiting for storage: none would
        // lose them.
        positive("server.shutdown_grace", self.server.shutdown_grace)?;
        crate::telemetry::parse_filter(&self.log.level)
            .map_err(|message| ServerError::config("log.level", message))?;
        positive("monitor.refresh_interval", self.monitor.refresh_interval)?;
        self.monitor.resource_config()?;
        Ok(())
    }

    fn validate_auth(&self) -> Result<(), ServerError> {
        let auth = &self.auth;
        let secrets = [
            ("auth.admin_token", ADMIN_TOKEN_VAR, &auth.admin_token),
            (
                "auth.webhook_secrets.datadog",
                DATADOG_SECRET_VAR,
                &auth.webhook_secrets.datadog,
            ),
            (
                "auth.webhook_secrets.newrelic",
                NEWRELIC_SECRET_VAR,
                &auth.webhook_secrets.newrelic,
            ),
        ];
        for (key, variable, secret) in secrets {
            if let Some(secret) = secret
                && secret.len() < MIN_SECRET_LEN
            {
                return Err(ServerError::config(
                    key,
                    format!(
                        "must be at least {MIN_SECRET_LEN} characters (set by the file or {variable}); leave it unset to have one generated"
                    ),
                ));
            }
        }
        let header = &auth.webhook_header;
        if header.is_empty()
            || !header
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
        {
            return Err(ServerError::config(
                "auth.webhook_header",
                format!("{header:?} is not a header name (letters, digits, '-' and '_')"),
            ));
        }
        if header.eq_ignore_ascii_case("authorization") {
            return Err(ServerError::config(
                "auth.webhook_header",
                "`Authorization: Bearer` is always accepted; name another header",
            ));
        }
        Ok(())
    }

    fn validate_checks(&self) -> Result<(), ServerError> {
        let mut names = Vec::new();
        for (index, disk) in self.checks.disk.iter().enumerate() {
            let key = format!("checks.disk[{index}]");
            thresholds(&key, [disk.warning_percent, disk.critical_percent])?;
            positive(&format!("{key}.timeout"), disk.timeout)?;
            names.push((format!("{key}.name"), disk.check_name()));
        }
        if self.checks.storage.enabled {
            positive("checks.storage.timeout", self.checks.storage.timeout)?;
            names.push((
                "checks.storage.name".to_owned(),
                self.checks.storage.name.clone(),
            ));
        }
        for (index, http) in self.checks.http.iter().enumerate() {
            let key = format!("checks.http[{index}]");
            positive(&format!("{key}.timeout"), http.timeout)?;
            health::DownstreamServiceCheck::new(http.url.clone())
                .map_err(|error| ServerError::config(format!("{key}.url"), error.to_string()))?;
            if !(100..=599).contains(&http.expected_status) {
                return Err(ServerError::config(
                    format!("{key}.expected_status"),
                    format!("{} is not an HTTP status", http.expected_status),
                ));
            }
            names.push((format!("{key}.name"), http.name.clone()));
        }
        for (index, (key, name)) in names.iter().enumerate() {
            if name.trim().is_empty() {
                return Err(ServerError::config(key.clone(), "must not be empty"));
            }
            if names[..index].iter().any(|(_, earlier)| earlier == name) {
                return Err(ServerError::config(
                    key.clone(),
                    format!("another check is already named {name:?}"),
                ));
            }
        }
        Ok(())
    }

    fn validate_cascade(&self) -> Result<(), ServerError> {
        positive("cascade.interval", self.cascade.interval)?;
        positive("cascade.record_ttl", self.cascade.record_ttl)?;
        if self.cascade.max_log_entries == 0 {
            return Err(ServerError::config(
                "cascade.max_log_entries",
                "must be at least 1",
            ));
        }
        Ok(())
    }

    fn validate_fallbacks(&self) -> Result<(), ServerError> {
        for (index, rule) in self.fallbacks.iter().enumerate() {
            let key = format!("fallbacks[{index}]");
            if rule.name.trim().is_empty() {
                return Err(ServerError::config(
                    format!("{key}.name"),
                    "must not be empty",
                ));
            }
            if self.fallbacks[..index]
                .iter()
                .any(|earlier| earlier.name == rule.name)
            {
                return Err(ServerError::config(
                    format!("{key}.name"),
                    format!("another fallback is already named {:?}", rule.name),
                ));
            }
            condition::parse_condition(&rule.condition).map_err(|error| {
                ServerError::config(format!("{key}.condition"), error.to_string())
            })?;
        }
        Ok(())
    }

    fn validate_sinks(&self) -> Result<(), ServerError> {
        if let Some(dogstatsd) = &self.sinks.dogstatsd {
            if dogstatsd.address.trim().is_empty() {
                return Err(ServerError::config(
                    "sinks.dogstatsd.address",
                    "must not be empty",
                ));
            }
            if let Some(interval) = dogstatsd.flush_interval {
                positive("sinks.dogstatsd.flush_interval", interval)?;
            }
        }
        Ok(())
    }
}

fn positive(key: &str, value: Duration) -> Result<(), ServerError> {
    if value.is_zero() {
        Err(ServerError::config(key, "must be greater than zero"))
    } else {
        Ok(())
    }
}

/// The `[warning, critical]` levels at `key`, checked by the `health` crate.
fn thresholds(key: &str, [warning, critical]: [f64; 2]) -> Result<Thresholds, ServerError> {
    Thresholds::new(warning, critical).map_err(|error| ServerError::config(key, error.to_string()))
}

/// `message` with `line L, column C` when `span` points into `text`.
fn located(text: &str, message: &str, span: Option<std::ops::Range<usize>>) -> String {
    let message = message.trim_end();
    match span {
        Some(span) if span.start <= text.len() => {
            let before = &text[..span.start];
            let line = before.matches('\n').count() + 1;
            let column = before
                .rfind('\n')
                .map_or(before.len(), |newline| before.len() - newline - 1)
                + 1;
            format!("{message} (line {line}, column {column})")
        }
        _ => message.to_owned(),
    }
}

// ----- durations -------------------------------------------------------------------------

/// A duration given as seconds (`5`, `0.25`) or as text (`"5s"`, `"250ms"`, `"1m 30s"`).
fn duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    deserializer.deserialize_any(DurationVisitor)
}

fn optional_duration<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Duration>, D::Error> {
    duration(deserializer).map(Some)
}

struct DurationVisitor;

impl Visitor<'_> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a duration: seconds as a number (5, 0.25) or text (\"5s\", \"250ms\")")
    }

    fn visit_u64<E: de::Error>(self, seconds: u64) -> Result<Duration, E> {
        Ok(Duration::from_secs(seconds))
    }

    fn visit_i64<E: de::Error>(self, seconds: i64) -> Result<Duration, E> {
        u64::try_from(seconds)
            .map(Duration::from_secs)
            .map_err(|_| E::custom(format!("a duration cannot be negative, got {seconds}")))
    }

    fn visit_f64<E: de::Error>(self, seconds: f64) -> Result<Duration, E> {
        Duration::try_from_secs_f64(seconds)
            .map_err(|_| E::custom(format!("{seconds} is not a duration in seconds")))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Duration, E> {
        humantime::parse_duration(text)
            .map_err(|error| E::custom(format!("{text:?} is not a duration: {error}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_error(toml: &str, key: &str, message: &str) {
        let error = Config::from_toml_str(toml).unwrap_err();
        let text = error.to_string();
        assert_eq!(error.key(), Some(key), "{toml:?}: {text}");
        assert!(
            text.contains(message),
            "{toml:?}: {text:?} lacks {message:?}"
        );
    }

    #[test]
    fn the_default_is_memory_disk_storage_and_a_five_second_cascade() {
        let config = Config::from_toml_str("").unwrap();
        assert_eq!(config.server.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(config.storage.backend_name(), "memory");
        assert_eq!(config.checks.disk.len(), 1);
        assert_eq!(config.checks.disk[0].check_name(), "disk");
        assert!(config.checks.storage.enabled);
        assert_eq!(config.cascade.interval, Duration::from_secs(5));
        assert_eq!(config.server.max_body_bytes, 1 << 20);
        assert!(config.auth.admin_token.is_none());
    }

    #[test]
    fn bad_keys_and_values_name_the_key() {
        check_error("[server]\nlisten = 8000", "server.listen", "invalid type");
        check_error("[server]\nlisen = \"x\"", "server.lisen", "unknown field");
        check_error("nope = 1", "nope", "unknown field");
        check_error(
            "[cascade]\ninterval = -1",
            "cascade.interval",
            "cannot be negative",
        );
        check_error(
            "[cascade]\ninterval = \"soon\"",
            "cascade.interval",
            "not a duration",
        );
        check_error(
            "[cascade]\ninterval = 0",
            "cascade.interval",
            "greater than zero",
        );
        check_error(
            "[[fallbacks]]\nname = \"a\"\ncondition = \"severity >= \"",
            "fallbacks[0].condition",
            "at byte 12",
        );
        check_error(
            "[[fallbacks]]\nname = \"a\"\ncondition = \"always\"\nmode = \"degraded\"",
            "fallbacks[0].mode",
            "not a fallback mode",
        );
        check_error(
            "[[fallbacks]]\nname = \"a\"\ncondition = \"always\"\n[[fallbacks]]\nname = \"a\"\ncondition = \"always\"",
            "fallbacks[1].name",
            "already named",
        );
        check_error(
            "[auth]\nadmin_token = \"short\"",
            "auth.admin_token",
            "at least 16",
        );
        check_error(
            "[auth.webhook_secrets]\npagerduty = \"x\"",
            "auth.webhook_secrets.pagerduty",
            "unknown field",
        );
        check_error("[log]\nformat = \"xml\"", "log.format", "unknown variant");
        check_error("[log]\nlevel = \"loud\"", "log.level", "loud");
        check_error(
            "[[checks.disk]]\nwarning_percent = 99",
            "checks.disk[0]",
            "warning <= critical",
        );
        check_error(
            "[[checks.http]]\nname = \"billing\"\nurl = \"https://billing/health\"",
            "checks.http[0].url",
            "https",
        );
        check_error(
            "[[checks.http]]\nname = \"storage\"\nurl = \"http://billing/health\"",
            "checks.http[0].name",
            "already named",
        );
    }

    #[test]
    fn a_secret_of_the_wrong_type_is_refused_without_showing_it() {
        for key in [
            "auth.admin_token",
            "auth.webhook_secrets.datadog",
            "auth.webhook_secrets.newrelic",
        ] {
            let (table, name) = key.rsplit_once('.').unwrap();
            for value in [
                "98765432109876543210",
                "-98765432109876543",
                "9876543210.98765",
            ] {
                let toml = format!("[{table}]\n{name} = {value}\n");
                let error = Config::from_toml_str(&toml).unwrap_err();
                let text = error.to_string();
                assert_eq!(error.key(), Some(key), "{text}");
                assert!(text.contains("expected a string"), "{text}");
                assert!(!text.contains("98765"), "the secret shows in {text:?}");
            }
        }
    }

    #[test]
    fn the_shutdown_grace_must_leave_time_to_persist_transitions() {
        check_error(
            "[server]\nshutdown_grace = 0",
            "server.shutdown_grace",
            "greater than zero",
        );
    }

    #[test]
    fn storage_takes_the_originals_redis_keys() {
        let config = Config::from_toml_str(
            "[storage]\nredis_url = \"redis://:pw@127.0.0.1:6390/0\"\ntimeout = 2.5\nmax_retries = 1\nretry_delay = 0.1",
        )
        .unwrap();
        let StorageBackend::Redis(redis) = &config.storage.backend else {
            panic!("not redis");
        };
        assert_eq!(redis.timeout, Duration::from_millis(2500));
        assert_eq!(redis.max_retries, 1);
        assert!(!format!("{config:?}").contains("pw@"));

        check_error(
            "[storage]\ntimeout = \"x\"",
            "storage.timeout",
            "expected f64",
        );
        check_error(
            "[storage]\nbackend = \"memory\"\ntimeout = 1",
            "storage.timeout",
            "is a redis setting",
        );
        check_error(
            "[storage]\nbackend = \"etcd\"",
            "storage.backend",
            "unknown backend",
        );
        check_error("[storage]\nbackend = 1", "storage.backend", "must be");
        check_error(
            "[storage]\nredis_urll = \"redis://x\"",
            "storage.redis_urll",
            "unknown field `redis_urll`",
        );
        check_error(
            "[storage]\npool_size = 0",
            "storage.pool_size",
            "at least 1",
        );
        check_error(
            "[storage]\nredis_url = \"http://:hunter2@x\"",
            "storage.redis_url",
            "redis",
        );
        assert!(
            !Config::from_toml_str("[storage]\nredis_url = \"http://:hunter2@x\"")
                .unwrap_err()
                .to_string()
                .contains("hunter2")
        );
        let explicit = Config::from_toml_str("[storage]\nbackend = \"redis\"").unwrap();
        assert_eq!(explicit.storage.backend_name(), "redis");
    }

    #[test]
    fn syntax_errors_say_where() {
        let error = Config::from_toml_str("[server\nlisten = 1").unwrap_err();
        assert!(matches!(error, ServerError::ConfigSyntax { .. }), "{error}");
        assert!(error.to_string().contains("line 1"), "{error}");
    }

    #[test]
    fn durations_take_numbers_and_text() {
        fn check(value: &str, expected: Duration) {
            let config = Config::from_toml_str(&format!("[cascade]\ninterval = {value}")).unwrap();
            assert_eq!(config.cascade.interval, expected, "{value}");
        }
        check("5", Duration::from_secs(5));
        check("0.25", Duration::from_millis(250));
        check("\"250ms\"", Duration::from_millis(250));
        check("\"1m 30s\"", Duration::from_secs(90));
    }

    #[test]
    fn the_environment_sets_secrets_and_redis() {
        let mut config = Config::default();
        let env = |name: &str| match name {
            ADMIN_TOKEN_VAR => Some("0123456789abcdef-admin".to_owned()),
            REDIS_URL_VAR => Some("redis://127.0.0.1:6390/0".to_owned()),
            REDIS_PASSWORD_VAR => Some("p@ss:word".to_owned()),
            _ => None,
        };
        config.apply_env(env).unwrap();
        assert!(
            config
                .auth
                .admin_token
                .as_ref()
                .unwrap()
                .matches("0123456789abcdef-admin")
        );
        let StorageBackend::Redis(redis) = &config.storage.backend else {
            panic!("not redis");
        };
        assert_eq!(redis.redis_url, "redis://:p%40ss%3Aword@127.0.0.1:6390/0");

        let mut memory = Config::default();
        let error = memory
            .apply_env(|name| (name == REDIS_PASSWORD_VAR).then(|| "x".to_owned()))
            .unwrap_err();
        assert_eq!(error.key(), Some("storage.redis_url"));
        assert!(!error.to_string().contains("\"x\""));

        let mut short = Config::default();
        let error = short
            .apply_env(|name| (name == ADMIN_TOKEN_VAR).then(|| "short".to_owned()))
            .unwrap_err();
        assert_eq!(error.key(), Some("auth.admin_token"));
        assert!(!error.to_string().contains("short\""));
    }

    #[test]
    fn the_readme_example_is_a_valid_configuration() {
        let readme = include_str!("../README.md");
        let start = readme.find("```toml\n").unwrap() + "```toml\n".len();
        let end = start + readme[start..].find("```").unwrap();
        let config = Config::from_toml_str(&readme[start..end]).unwrap();
        assert_eq!(config.checks.http[0].name, "billing");
        assert_eq!(config.fallbacks[0].mode, Some(FallbackMode::Heuristic));
        assert!(config.cascade.hysteresis.is_some());
        assert!(config.sinks.dogstatsd.is_some());
    }

    #[test]
    fn missing_secrets_are_generated_once() {
        let mut auth = AuthSection {
            admin_token: Some(Secret::new("configured-token-0123")),
            ..AuthSection::default()
        };
        let generated = auth.generate_missing().unwrap();
        let purposes: Vec<_> = generated.iter().map(|secret| secret.purpose).collect();
        assert_eq!(
            purposes,
            ["datadog webhook secret", "newrelic webhook secret"]
        );
        assert!(
            auth.admin_token
                .as_ref()
                .unwrap()
                .matches("configured-token-0123")
        );
        assert!(auth.generate_missing().unwrap().is_empty());
    }
}
