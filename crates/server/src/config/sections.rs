//! The raw sections of the configuration, as written: what serde reads, before
//! [`Config::validate`](super::Config::validate) checks and converts them.
//!
//! Nothing here knows a library of the workspace: a default that a library owns (the
//! resource thresholds of `health`, the cascade policy of `fallback`, the Redis
//! settings of `storage-redis`) is left unset here and taken from that library while
//! validating, so it is written down once.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use serde_json::{Map, Value};

use super::duration;
use crate::telemetry::LogFormat;
use web::Secret;

/// The default listening address.
pub(crate) const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8000);

/// The default request body limit: the `web` crate's, 1 MiB.
pub(crate) const DEFAULT_MAX_BODY_BYTES: usize = web::state::DEFAULT_MAX_BODY_BYTES;

/// `[server]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct ServerSection {
    /// The address to listen on (default `127.0.0.1:8000`; `--listen` overrides it).
    pub(crate) listen: SocketAddr,
    /// The largest request body accepted, in bytes (default 1 MiB); larger ones get 413.
    pub(crate) max_body_bytes: usize,
    /// How long in-flight requests may take to finish once shutdown starts, and then
    /// transitions still waiting for storage to be written (default 10 s; not zero).
    #[serde(deserialize_with = "duration::required")]
    pub(crate) shutdown_grace: Duration,
    /// How long a request head may take to arrive (default: the `web` crate's, 10 s).
    #[serde(deserialize_with = "duration::optional")]
    pub(crate) header_read_timeout: Option<Duration>,
    /// How long an idle keep-alive connection stays open (default: `web`'s, 75 s).
    #[serde(deserialize_with = "duration::optional")]
    pub(crate) idle_timeout: Option<Duration>,
    /// How long a request body may take to be read (default: `web`'s, 30 s).
    #[serde(deserialize_with = "duration::optional")]
    pub(crate) body_read_timeout: Option<Duration>,
    /// The most connections open at once (default: `web`'s, 1024).
    pub(crate) max_connections: Option<usize>,
    /// How long a route waits for a storage write (a registration, a transition record)
    /// before answering without it (default: `web`'s, 2 s).
    #[serde(deserialize_with = "duration::optional")]
    pub(crate) storage_write_timeout: Option<Duration>,
}

impl Default for ServerSection {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            shutdown_grace: Duration::from_secs(10),
            header_read_timeout: None,
            idle_timeout: None,
            body_read_timeout: None,
            max_connections: None,
            storage_write_timeout: None,
        }
    }
}

/// `[log]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct LogSection {
    /// `human` (default) or `json` lines, on standard error.
    pub(crate) format: LogFormat,
    /// A filter such as `info` or `info,server=debug,storage_redis=warn` (default `info`).
    pub(crate) level: String,
    /// Whether every request is logged at `info` when it completes (default off: at
    /// `debug`). The request span itself always exists.
    pub(crate) access_log: bool,
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

/// `[auth]`. Secrets are better set through the environment (see
/// [`env`](super::env)); any left unset is generated at start-up and printed once.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct AuthSection {
    /// The bearer token of the write routes.
    pub(crate) admin_token: Option<Secret>,
    /// The header carrying a webhook's shared secret (default `x-webhook-secret`);
    /// `Authorization: Bearer <secret>` is accepted too.
    pub(crate) webhook_header: String,
    /// One shared secret per alert provider.
    pub(crate) webhook_secrets: WebhookSecrets,
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
pub(crate) struct WebhookSecrets {
    /// The secret Datadog sends (set it as a custom header of the webhook).
    pub(crate) datadog: Option<Secret>,
    /// The secret New Relic sends (a custom header or the Bearer token of the destination).
    pub(crate) newrelic: Option<Secret>,
}

/// `[storage]`: `backend = "memory"` (the default) or the Redis keys of the original
/// (`redis_url`, `timeout`, `max_retries`, `retry_delay`, plus `max_retry_delay`,
/// `pool_size`, `key_prefix`, `scan_count`) and the optional sections `[storage.tls]`,
/// `[storage.sentinel]` and `[storage.cluster]`, any of which selects Redis. A key left
/// unset takes `storage-redis`'s default. The durations take the syntax of every other
/// duration key: the original's seconds (`2.5`) or text (`"2s"`, `"250ms"`); the
/// sections are `storage-redis`'s own (`TlsConfig`, `SentinelConfig`, `ClusterConfig`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct StorageSection {
    /// `backend`.
    pub(crate) backend: Option<Backend>,
    /// `redis_url` (also `RESILIENCE_REDIS_URL` and `--storage`).
    pub(crate) redis_url: Option<String>,
    /// `timeout`: one attempt of an operation.
    #[serde(deserialize_with = "duration::optional")]
    pub(crate) timeout: Option<Duration>,
    /// `max_retries`.
    pub(crate) max_retries: Option<u32>,
    /// `retry_delay`: the first backoff.
    #[serde(deserialize_with = "duration::optional")]
    pub(crate) retry_delay: Option<Duration>,
    /// `max_retry_delay`: the longest backoff.
    #[serde(deserialize_with = "duration::optional")]
    pub(crate) max_retry_delay: Option<Duration>,
    /// `pool_size`.
    pub(crate) pool_size: Option<usize>,
    /// `key_prefix`.
    pub(crate) key_prefix: Option<String>,
    /// `scan_count`.
    pub(crate) scan_count: Option<usize>,
    /// `[storage.tls]`: certificates for `rediss://`.
    pub(crate) tls: Option<storage_redis::TlsConfig>,
    /// `[storage.sentinel]`: the master found through Redis Sentinel.
    pub(crate) sentinel: Option<storage_redis::SentinelConfig>,
    /// `[storage.cluster]`: the seed nodes of a Redis Cluster.
    pub(crate) cluster: Option<storage_redis::ClusterConfig>,
    /// `RESILIENCE_REDIS_PASSWORD`, put into the URL while validating; never in a file.
    #[serde(skip)]
    pub(crate) password: Option<Secret>,
}

impl StorageSection {
    /// The Redis keys that are set, by name, in the order they are documented.
    pub(crate) fn redis_keys_set(&self) -> impl Iterator<Item = &'static str> {
        [
            ("redis_url", self.redis_url.is_some()),
            ("timeout", self.timeout.is_some()),
            ("max_retries", self.max_retries.is_some()),
            ("retry_delay", self.retry_delay.is_some()),
            ("max_retry_delay", self.max_retry_delay.is_some()),
            ("pool_size", self.pool_size.is_some()),
            ("key_prefix", self.key_prefix.is_some()),
            ("scan_count", self.scan_count.is_some()),
            ("tls", self.tls.is_some()),
            ("sentinel", self.sentinel.is_some()),
            ("cluster", self.cluster.is_some()),
        ]
        .into_iter()
        .filter_map(|(key, set)| set.then_some(key))
    }
}

/// The value of `storage.backend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    /// `"memory"`.
    Memory,
    /// `"redis"`.
    Redis,
}

impl<'de> Deserialize<'de> for Backend {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(BackendVisitor)
    }
}

/// Reads `"memory"` or `"redis"`; anything else is refused with what is expected.
struct BackendVisitor;

impl BackendVisitor {
    fn other<E: de::Error>(self) -> Result<Backend, E> {
        Err(E::custom("must be \"memory\" or \"redis\""))
    }
}

impl<'de> Visitor<'de> for BackendVisitor {
    type Value = Backend;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("\"memory\" or \"redis\"")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Backend, E> {
        match name {
            "memory" => Ok(Backend::Memory),
            "redis" => Ok(Backend::Redis),
            other => Err(E::custom(format!(
                "unknown backend {other:?}: expected \"memory\" or \"redis\""
            ))),
        }
    }

    fn visit_bool<E: de::Error>(self, _value: bool) -> Result<Backend, E> {
        self.other()
    }

    fn visit_i64<E: de::Error>(self, _value: i64) -> Result<Backend, E> {
        self.other()
    }

    fn visit_u64<E: de::Error>(self, _value: u64) -> Result<Backend, E> {
        self.other()
    }

    fn visit_f64<E: de::Error>(self, _value: f64) -> Result<Backend, E> {
        self.other()
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, _seq: A) -> Result<Backend, A::Error> {
        self.other()
    }

    fn visit_map<A: de::MapAccess<'de>>(self, _map: A) -> Result<Backend, A::Error> {
        self.other()
    }
}

/// `[monitor]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct MonitorSection {
    /// How often the checks run in the background; the routes read the latest results
    /// (default 5 s).
    #[serde(deserialize_with = "duration::required")]
    pub(crate) refresh_interval: Duration,
    /// The resources section of the state: CPU, memory, disk.
    pub(crate) resources: ResourcesSection,
}

impl Default for MonitorSection {
    fn default() -> Self {
        Self {
            refresh_interval: Duration::from_secs(5),
            resources: ResourcesSection::default(),
        }
    }
}

/// `[monitor.resources]`: levels in percent (warning, critical); unset, `health`'s
/// defaults (the original's).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct ResourcesSection {
    /// The file system whose use is the disk resource.
    pub(crate) disk_path: Option<PathBuf>,
    /// CPU warning and critical levels.
    pub(crate) cpu: Option<[f64; 2]>,
    /// Memory warning and critical levels.
    pub(crate) memory: Option<[f64; 2]>,
    /// Disk warning and critical levels.
    pub(crate) disk: Option<[f64; 2]>,
    /// The window levels are judged over (default 60 s).
    #[serde(deserialize_with = "duration::optional")]
    pub(crate) window: Option<Duration>,
    /// The resources whose sustained critical level may force SAFE, among `cpu`,
    /// `memory`, `disk` (default `["memory", "disk"]`).
    pub(crate) force_safe: Option<Vec<String>>,
}

/// `[checks]`: which checks run.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct ChecksSection {
    /// Disk-space checks (default: one on `/`); `disk = []` turns them off.
    pub(crate) disk: Vec<DiskCheckSection>,
    /// The check of the storage backend (default on).
    pub(crate) storage: StorageCheckSection,
    /// HTTP checks of downstream services (default none).
    pub(crate) http: Vec<HttpCheckSection>,
}

impl Default for ChecksSection {
    fn default() -> Self {
        Self {
            disk: vec![DiskCheckSection::default()],
            storage: StorageCheckSection::default(),
            http: Vec::new(),
        }
    }
}

/// A check's `probe` table; unset keys take the server's defaults (the refresh interval,
/// no initial delay, 3 failures, 2 successes).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct ProbeSection {
    /// Time between two probes.
    #[serde(deserialize_with = "duration::optional")]
    pub(crate) interval: Option<Duration>,
    /// Time before the first probe.
    #[serde(deserialize_with = "duration::optional")]
    pub(crate) initial_delay: Option<Duration>,
    /// Unhealthy results in a row before the check counts as unhealthy.
    pub(crate) failure_threshold: Option<u32>,
    /// Good results in a row before an unhealthy check counts as healthy again.
    pub(crate) success_threshold: Option<u32>,
}

/// `[[checks.disk]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct DiskCheckSection {
    /// The check's name (default `disk`, or `disk:<path>` for a path other than `/`).
    pub(crate) name: Option<String>,
    /// A path on the file system to check (default `/`).
    pub(crate) path: PathBuf,
    /// Degraded at or above this use, in percent (default 80).
    pub(crate) warning_percent: f64,
    /// Unhealthy at or above this use, in percent (default 95).
    pub(crate) critical_percent: f64,
    /// The check's timeout (default 2 s).
    #[serde(deserialize_with = "duration::required")]
    pub(crate) timeout: Duration,
    /// Whether a failure means the service cannot serve (default true); a non-critical
    /// check failing degrades, never fails readiness nor counts toward SAFE.
    #[serde(default)]
    pub(crate) critical: Option<bool>,
    /// The tags groups select it by (default `["ready"]`, plus `"downstream"` for HTTP
    /// checks); setting them replaces the defaults.
    #[serde(default)]
    pub(crate) tags: Option<Vec<String>>,
    /// `probe = { interval, initial_delay, failure_threshold, success_threshold }`.
    #[serde(default)]
    pub(crate) probe: ProbeSection,
}

impl Default for DiskCheckSection {
    fn default() -> Self {
        Self {
            name: None,
            path: PathBuf::from("/"),
            warning_percent: 80.0,
            critical_percent: 95.0,
            timeout: Duration::from_secs(2),
            critical: None,
            tags: None,
            probe: ProbeSection::default(),
        }
    }
}

/// `[checks.storage]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct StorageCheckSection {
    /// Whether the storage backend is checked (default on).
    pub(crate) enabled: bool,
    /// The check's name (default `storage`).
    pub(crate) name: String,
    /// The check's timeout (default 2 s).
    #[serde(deserialize_with = "duration::required")]
    pub(crate) timeout: Duration,
    /// Whether a failure means the service cannot serve (default true); a non-critical
    /// check failing degrades, never fails readiness nor counts toward SAFE.
    #[serde(default)]
    pub(crate) critical: Option<bool>,
    /// The tags groups select it by (default `["ready"]`, plus `"downstream"` for HTTP
    /// checks); setting them replaces the defaults.
    #[serde(default)]
    pub(crate) tags: Option<Vec<String>>,
    /// `probe = { interval, initial_delay, failure_threshold, success_threshold }`.
    #[serde(default)]
    pub(crate) probe: ProbeSection,
}

impl Default for StorageCheckSection {
    fn default() -> Self {
        Self {
            enabled: true,
            name: "storage".to_owned(),
            timeout: Duration::from_secs(2),
            critical: None,
            tags: None,
            probe: ProbeSection::default(),
        }
    }
}

/// `[[checks.http]]`: a request to a downstream service's health endpoint.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HttpCheckSection {
    /// The check's name (required, unique).
    pub(crate) name: String,
    /// The URL, `http://` or `https://`.
    pub(crate) url: String,
    /// The status that means healthy (default 200).
    #[serde(default)]
    pub(crate) expected_status: Option<u16>,
    /// The statuses that mean healthy, `[lowest, highest]` (instead of `expected_status`).
    #[serde(default)]
    pub(crate) accepted_status: Option<[u16; 2]>,
    /// The request method (default `GET`).
    #[serde(default)]
    pub(crate) method: Option<String>,
    /// Request headers.
    #[serde(default)]
    pub(crate) headers: BTreeMap<String, String>,
    /// How much of the body is read at most (default 64 KiB).
    #[serde(default)]
    pub(crate) max_body_bytes: Option<usize>,
    /// A PEM CA bundle to verify an `https://` server with, instead of the system's.
    #[serde(default)]
    pub(crate) ca_file: Option<PathBuf>,
    /// The check's timeout (default 5 s).
    #[serde(
        default = "default_http_timeout",
        deserialize_with = "duration::required"
    )]
    pub(crate) timeout: Duration,
    /// Whether a failure means the service cannot serve (default true); a non-critical
    /// check failing degrades, never fails readiness nor counts toward SAFE.
    #[serde(default)]
    pub(crate) critical: Option<bool>,
    /// The tags groups select it by (default `["ready"]`, plus `"downstream"` for HTTP
    /// checks); setting them replaces the defaults.
    #[serde(default)]
    pub(crate) tags: Option<Vec<String>>,
    /// `probe = { interval, initial_delay, failure_threshold, success_threshold }`.
    #[serde(default)]
    pub(crate) probe: ProbeSection,
}

const fn default_http_timeout() -> Duration {
    Duration::from_secs(5)
}

/// `[cascade]`: the fallback cascade, run in the background on the monitor's latest
/// state. The policy keys left unset take `fallback`'s defaults (the original's).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct CascadeSection {
    /// How often the cascade runs (default 5 s).
    #[serde(deserialize_with = "duration::required")]
    pub(crate) interval: Duration,
    /// SAFE when at least this many components failed.
    pub(crate) safe_failed_components: Option<u64>,
    /// SAFE when the resources' overall level is critical.
    pub(crate) safe_on_critical_resources: Option<bool>,
    /// HEURISTIC when the circuit breaker is OPEN.
    pub(crate) heuristic_on_open_circuit: Option<bool>,
    /// HEURISTIC when more than this many retry failures are in the window.
    pub(crate) heuristic_retry_failures: Option<u64>,
    /// Damping of recoveries (default none: every change at once, as the original).
    pub(crate) hysteresis: Option<HysteresisSection>,
    /// How many transitions the in-memory log keeps.
    pub(crate) max_log_entries: Option<usize>,
    /// How long a transition record lives in storage.
    #[serde(deserialize_with = "duration::optional")]
    pub(crate) record_ttl: Option<Duration>,
}

impl Default for CascadeSection {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(5),
            safe_failed_components: None,
            safe_on_critical_resources: None,
            heuristic_on_open_circuit: None,
            heuristic_retry_failures: None,
            hysteresis: None,
            max_log_entries: None,
            record_ttl: None,
        }
    }
}

/// `[cascade.hysteresis]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct HysteresisSection {
    /// The least time spent in a mode before stepping up out of it (default 0).
    #[serde(deserialize_with = "duration::required")]
    pub(crate) min_dwell: Duration,
    /// How many cascades in a row must call for a healthier mode (default 1; 0 counts
    /// as 1).
    pub(crate) recovery_evaluations: u32,
    /// Whether to step up one mode at a time (default false).
    pub(crate) stepwise: bool,
}

/// `[[fallbacks]]`: a named condition checked by `POST /fallback/evaluate`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FallbackRuleSection {
    /// The rule's name (unique).
    pub(crate) name: String,
    /// A condition such as `severity >= 0.8 and recurrence_count >= 2`.
    pub(crate) condition: String,
    /// The mode to enter when the condition holds (`primary`, `heuristic` or `safe`, in
    /// any case), unless an operator holds the mode; none only records that it fired.
    #[serde(default)]
    pub(crate) mode: Option<String>,
    /// Free-form metadata kept with the stored definition.
    #[serde(default)]
    pub(crate) metadata: Map<String, Value>,
}

/// `[health]`: what the health routes show, and the named groups.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct HealthSection {
    /// `never`, `when_authorized` (the default: with the admin token) or `always`:
    /// whether check messages and metadata (URLs, paths) and alert texts are shown.
    pub(crate) show_details: Option<String>,
    /// Named groups served at `/health/group/<name>`.
    pub(crate) groups: BTreeMap<String, GroupSection>,
}

/// `[health.groups.<name>]`: checks by name or `tag:<tag>`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct GroupSection {
    /// Check names or `tag:<tag>` selectors to include.
    pub(crate) include: Vec<String>,
    /// Check names or `tag:<tag>` selectors to leave out.
    pub(crate) exclude: Vec<String>,
}

/// `[alerts]`: the bounds of what webhooks may do to the components.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct AlertsSection {
    /// How long a component keeps an alert's status without hearing again (default 1 h).
    #[serde(deserialize_with = "duration::optional")]
    pub(crate) quiet_time: Option<Duration>,
    /// How many components alerts may create (default 100).
    pub(crate) max_components: Option<usize>,
}

/// `[breaker]`: the circuit breaker fed by the downstream checks.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct BreakerSection {
    /// Failures in a row that open it (default 5).
    pub(crate) failure_threshold: Option<u32>,
    /// Trial successes that close it (default 2).
    pub(crate) success_threshold: Option<u32>,
    /// How long it stays open before trial calls (default 30 s).
    #[serde(deserialize_with = "duration::optional")]
    pub(crate) recovery_timeout: Option<Duration>,
    /// The checks whose results feed it (default `["tag:downstream"]`: the HTTP checks).
    pub(crate) feed: Option<Vec<String>>,
}

/// `[sinks]`: where metrics go besides `/metrics` (Prometheus is always on).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct SinksSection {
    /// One log event per health or fallback metric, at `debug` under the target
    /// `health_sinks::metrics` (default off).
    pub(crate) logging: bool,
    /// DogStatsD datagrams to a Datadog Agent (default off).
    pub(crate) dogstatsd: Option<DogStatsdSection>,
}

/// `[sinks.dogstatsd]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct DogStatsdSection {
    /// The Agent's UDP address (default `health-sinks`'s, `127.0.0.1:8125`).
    pub(crate) address: Option<String>,
    /// A namespace put before every metric name with a `.`, e.g. `resilience` (default
    /// none).
    pub(crate) prefix: String,
    /// Tags added to every metric.
    pub(crate) tags: BTreeMap<String, String>,
    /// Pack metrics and send them this often, instead of one datagram per metric
    /// (default: unbuffered).
    #[serde(deserialize_with = "duration::optional")]
    pub(crate) flush_interval: Option<Duration>,
}
