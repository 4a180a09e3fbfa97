//! The configuration: a TOML file, environment variables for secrets, flags on top,
//! checked once into the [`Plan`] start-up runs.
//!
//! - `sections`: the raw sections as written (serde only);
//! - `duration`: the one syntax of every duration key;
//! - `env`: the environment variables and the generated secrets;
//! - `validate`: [`Config::validate`], the only step that names keys in errors besides
//!   deserialization;
//! - `plan`: the [`Plan`] it returns.

use std::net::SocketAddr;
use std::path::Path;

use serde::Deserialize;

mod duration;

mod env;
pub use env::GeneratedSecret;

pub(crate) mod plan;
pub use plan::Plan;

mod sections;
use sections::{
    AlertsSection, AuthSection, Backend, BreakerSection, CascadeSection, ChecksSection,
    FallbackRuleSection, HealthSection, LogSection, MonitorSection, ServerSection, SinksSection,
    StorageSection,
};

mod validate;

use crate::error::ServerError;
use crate::telemetry::LogFormat;

/// The configuration as written: a TOML document (or any serde format), then the
/// environment ([`apply_env`](Self::apply_env)) and the command line on top. Nothing is
/// checked beyond the shape until [`validate`](Self::validate) turns it into the
/// [`Plan`] the server runs.
///
/// [`Config::default`] is the embedded default that needs nothing installed:
/// `MemoryStorage`, a disk check on `/`, a storage check, a cascade every 5 s,
/// listening on `127.0.0.1:8000`. Every section and key is optional; an unknown key is
/// an error, never ignored:
///
/// ```
/// use server::Config;
///
/// let plan = Config::from_toml_str(r#"
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
/// "#)?
/// .validate()?;
/// assert_eq!(plan.listen().port(), 9000);
/// assert!(plan.to_string().contains("storage redis at redis://127.0.0.1:6379/0"));
///
/// let error = Config::from_toml_str("[cascade]\nintervall = 5").unwrap_err();
/// assert_eq!(error.key(), Some("cascade.intervall"));
/// # Ok::<(), server::ServerError>(())
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where and how the HTTP server listens.
    pub(crate) server: ServerSection,
    /// Logs.
    pub(crate) log: LogSection,
    /// The admin token and the webhook secrets.
    pub(crate) auth: AuthSection,
    /// Where transitions, fallback definitions and registrations are kept.
    pub(crate) storage: StorageSection,
    /// The health monitor: refresh interval and resource sampling.
    pub(crate) monitor: MonitorSection,
    /// The health checks.
    pub(crate) checks: ChecksSection,
    /// The fallback cascade: interval, thresholds, hysteresis.
    pub(crate) cascade: CascadeSection,
    /// Fallback rules: a name and a condition, optionally a mode to enter when it holds.
    pub(crate) fallbacks: Vec<FallbackRuleSection>,
    /// Where metrics go besides `/metrics`.
    pub(crate) sinks: SinksSection,
    /// What the health routes show, and named groups.
    pub(crate) health: HealthSection,
    /// The bounds of alert webhooks.
    pub(crate) alerts: AlertsSection,
    /// The circuit breaker fed by downstream checks.
    pub(crate) breaker: BreakerSection,
}

impl Config {
    /// Reads a TOML document.
    ///
    /// # Errors
    ///
    /// [`ServerError::ConfigSyntax`] for text that is not TOML, [`ServerError::Config`]
    /// naming the key for an unknown key or a value of the wrong type.
    pub fn from_toml_str(text: &str) -> Result<Self, ServerError> {
        let deserializer =
            toml::de::Deserializer::parse(text).map_err(|error| ServerError::ConfigSyntax {
                message: located(text, error.message(), error.span()),
            })?;
        serde_path_to_error::deserialize(deserializer).map_err(|error| {
            let key = error.path().to_string();
            let inner = error.into_inner();
            ServerError::config(key, located(text, inner.message(), inner.span()))
        })
    }

    /// Reads the TOML file at `path`.
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

    /// Listens on `address` instead (`--listen`).
    pub fn set_listen(&mut self, address: SocketAddr) {
        self.server.listen = address;
    }

    /// Keeps everything in memory, whatever Redis settings the file or the environment
    /// gave (`--storage memory`).
    pub fn use_memory_storage(&mut self) {
        self.storage = StorageSection {
            backend: Some(Backend::Memory),
            ..StorageSection::default()
        };
    }

    /// Selects Redis at `url`, keeping the other Redis settings (`--storage
    /// redis://...`, `RESILIENCE_REDIS_URL`).
    pub fn use_redis_storage(&mut self, url: impl Into<String>) {
        self.storage.backend = Some(Backend::Redis);
        self.storage.redis_url = Some(url.into());
    }

    /// Logs in `format` (`--log-format`).
    pub fn set_log_format(&mut self, format: LogFormat) {
        self.log.format = format;
    }

    /// Filters logs with `filter`, e.g. `info,server=debug` (`--log-level`); checked by
    /// [`validate`](Self::validate) as `log.level`.
    pub fn set_log_level(&mut self, filter: impl Into<String>) {
        self.log.level = filter.into();
    }
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use fallback::FallbackMode;

    use super::*;

    fn plan(toml: &str) -> Plan {
        Config::from_toml_str(toml)
            .and_then(Config::validate)
            .unwrap_or_else(|error| panic!("{toml:?}: {error}"))
    }

    /// `toml` is refused, by reading or by validating, naming `key` with `message`.
    fn check_error(toml: &str, key: &str, message: &str) {
        let error = Config::from_toml_str(toml)
            .and_then(Config::validate)
            .unwrap_err();
        let text = error.to_string();
        assert_eq!(error.key(), Some(key), "{toml:?}: {text}");
        assert!(
            text.contains(message),
            "{toml:?}: {text:?} lacks {message:?}"
        );
    }

    #[test]
    fn the_default_is_memory_disk_storage_and_a_five_second_cascade() {
        let plan = Config::default().validate().unwrap();
        assert_eq!(plan.listen(), sections::DEFAULT_LISTEN);
        assert_eq!(plan.listen().to_string(), "127.0.0.1:8000");
        assert_eq!(plan.storage.description, "memory");
        assert_eq!(plan.checks.names().collect::<Vec<_>>(), ["disk", "storage"]);
        assert_eq!(plan.cascade.interval, Duration::from_secs(5));
        assert_eq!(plan.server.max_body_bytes, 1 << 20);
        assert!(plan.auth.admin_token.secret.is_none());
        assert_eq!(plan.cascade.policy, fallback::ThresholdPolicy::ORIGINAL);
        assert_eq!(
            plan.monitor.resources,
            health::resources::ResourceConfig {
                sample_interval: Duration::from_secs(5),
                ..health::resources::ResourceConfig::default()
            }
        );
        assert_eq!(
            plan.to_string(),
            "listen 127.0.0.1:8000, storage memory, checks [disk, storage], cascade every 5s, 0 fallback rule(s), sinks [prometheus]"
        );
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
            "[[checks.http]]\nname = \"billing\"\nurl = \"ftp://billing/health\"",
            "checks.http[0].url",
            "ftp",
        );
        check_error(
            "[[checks.http]]\nname = \"billing\"\nurl = \"http://billing/health\"\nexpected_status = 200\naccepted_status = [200, 299]",
            "checks.http[0].accepted_status",
            "not both",
        );
        check_error(
            "[[checks.http]]\nname = \"billing\"\nurl = \"http://billing/health\"\naccepted_status = [299, 200]",
            "checks.http[0].accepted_status",
            "empty",
        );
        check_error(
            "[[checks.http]]\nname = \"billing\"\nurl = \"http://billing/health\"\nmethod = \"GE T\"",
            "checks.http[0].method",
            "not an HTTP method",
        );
        check_error(
            "[[checks.http]]\nname = \"billing\"\nurl = \"http://billing/health\"\nheaders = { host = \"x\" }",
            "checks.http[0].headers.host",
            "set by the check itself",
        );
        check_error(
            "[[checks.http]]\nname = \"billing\"\nurl = \"https://billing/health\"\nca_file = \"/no/such.pem\"",
            "checks.http[0].ca_file",
            "cannot read",
        );
        check_error(
            "[[checks.http]]\nname = \"billing\"\nurl = \"http://billing/health\"\nca_file = \"/no/such.pem\"",
            "checks.http[0].ca_file",
            "https:// urls only",
        );
        check_error(
            "[[checks.http]]\nname = \"storage\"\nurl = \"http://billing/health\"",
            "checks.http[0].name",
            "already named",
        );
        check_error(
            "[monitor.resources]\ncpu = [95.0, 90.0]",
            "monitor.resources.cpu",
            "warning <= critical",
        );
        check_error(
            "[server]\nmax_body_bytes = 0",
            "server.max_body_bytes",
            "at least 1",
        );
        check_error(
            "[cascade]\nmax_log_entries = 0",
            "cascade.max_log_entries",
            "at least 1",
        );
        check_error(
            "[auth]\nwebhook_header = \"Authorization\"",
            "auth.webhook_header",
            "always accepted",
        );
        check_error(
            "[sinks.dogstatsd]\nflush_interval = 0",
            "sinks.dogstatsd.flush_interval",
            "greater than zero",
        );
        check_error(
            "[sinks.dogstatsd]\nprefix = \"9lives\"",
            "sinks.dogstatsd.prefix",
            "9lives",
        );
    }

    #[test]
    fn roles_schedules_groups_and_bounds_are_read_and_checked() {
        let plan = plan(
            "[[checks.http]]\nname = \"billing\"\nurl = \"http://billing/health\"\ncritical = false\nprobe = { interval = \"10s\", initial_delay = 5, failure_threshold = 4, success_threshold = 1 }\n\
             [health]\nshow_details = \"never\"\n[health.groups.payments]\ninclude = [\"tag:downstream\", \"disk\"]\n\
             [monitor.resources]\nwindow = \"2m\"\nforce_safe = [\"memory\"]\n[alerts]\nquiet_time = \"10m\"\nmax_components = 7\n\
             [breaker]\nfailure_threshold = 2\nrecovery_timeout = \"5s\"\nfeed = [\"billing\"]\n",
        );
        let (_, billing) = &plan.checks.http[0];
        assert!(!billing.is_critical());
        assert!(billing.has_tag("ready") && billing.has_tag("downstream"));
        assert_eq!(billing.schedule.interval, Some(Duration::from_secs(10)));
        assert_eq!(billing.schedule.initial_delay, Duration::from_secs(5));
        assert_eq!(billing.schedule.failure_threshold, 4);
        let (_, disk) = &plan.checks.disk[0];
        assert!(disk.is_critical());
        assert_eq!(disk.schedule, health::probe::ProbeSchedule::damped());
        assert_eq!(plan.health.show_details, plan::ShowDetails::Never);
        assert_eq!(plan.health.groups[0].name(), "payments");
        assert_eq!(plan.monitor.resources.window, Duration::from_secs(120));
        assert!(!plan.monitor.resources.force_safe.cpu && !plan.monitor.resources.force_safe.disk);
        assert_eq!(plan.alerts.max_components, 7);
        assert_eq!(plan.breaker.config.failure_threshold, 2);
        assert!(plan.breaker.feed.includes("billing", &billing.tags));

        check_error(
            "[health.groups.payments]\ninclude = [\"tag:nope\"]",
            "health.groups.payments.include[0]",
            "matches no configured check",
        );
        check_error(
            "[health.groups.p]\ninclude = [\"disk\"]\nexclude = [\"billing\"]",
            "health.groups.p.exclude[0]",
            "matches no configured check",
        );
        check_error(
            "[health.groups.readiness]\ninclude = [\"disk\"]",
            "health.groups.readiness",
            "own route",
        );
        check_error(
            "[health]\nshow_details = \"sometimes\"",
            "health.show_details",
            "never",
        );
        check_error(
            "[monitor.resources]\nforce_safe = [\"gpu\"]",
            "monitor.resources.force_safe[0]",
            "not a resource",
        );
        check_error(
            "[[checks.disk]]\nprobe = { failure_threshold = 0 }",
            "checks.disk[0].probe.failure_threshold",
            "at least 1",
        );
        check_error(
            "[alerts]\nmax_components = 0",
            "alerts.max_components",
            "at least 1",
        );
        check_error(
            "[breaker]\nfeed = [\"x\"]",
            "breaker.feed[0]",
            "matches no configured check",
        );
        check_error(
            "[[checks.disk]]\nprobe = { period = 1 }",
            "checks.disk[0].probe.period",
            "unknown field",
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
    fn serving_limits_are_read_and_checked() {
        let plan = Config::from_toml_str(
            "[server]\nheader_read_timeout = \"5s\"\nidle_timeout = 30\nbody_read_timeout = \"2s\"\nmax_connections = 64\nshutdown_grace = \"3s\"",
        )
        .and_then(Config::validate)
        .unwrap();
        let serve = &plan.server.serve;
        assert_eq!(serve.header_read_timeout, Duration::from_secs(5));
        assert_eq!(serve.idle_timeout, Duration::from_secs(30));
        assert_eq!(serve.body_read_timeout, Duration::from_secs(2));
        assert_eq!(serve.max_connections, 64);
        assert_eq!(serve.shutdown_grace, Duration::from_secs(3));
        // Unset: the web crate's defaults.
        let plan = Config::default().validate().unwrap();
        assert_eq!(plan.server.serve, web::ServeOptions::default());
        for (setting, key, message) in [
            (
                "header_read_timeout = 0",
                "server.header_read_timeout",
                "greater than zero",
            ),
            (
                "idle_timeout = \"0s\"",
                "server.idle_timeout",
                "greater than zero",
            ),
            (
                "body_read_timeout = 0",
                "server.body_read_timeout",
                "greater than zero",
            ),
            (
                "max_connections = 0",
                "server.max_connections",
                "at least 1",
            ),
            (
                "max_connections = 4294967296",
                "server.max_connections",
                "at most 4294967295",
            ),
        ] {
            check_error(&format!("[server]\n{setting}"), key, message);
        }
    }

    #[test]
    fn storage_takes_the_originals_redis_keys() {
        let config = Config::from_toml_str(
            "[storage]\nredis_url = \"redis://:pw@127.0.0.1:6390/0\"\ntimeout = 2.5\nmax_retries = 1\nretry_delay = 0.1",
        )
        .unwrap();
        let redis = validate::redis_config(&config.storage).unwrap().unwrap();
        assert_eq!(redis.timeout, Duration::from_millis(2500));
        assert_eq!(redis.max_retries, 1);
        assert_eq!(redis.retry_delay, Duration::from_millis(100));
        assert_eq!(
            redis.pool_size,
            storage_redis::RedisConfig::default().pool_size
        );
        let validated = config.validate().unwrap();
        assert!(!format!("{validated:?}").contains("pw@"));
        assert!(!validated.to_string().contains("pw@"), "{validated}");

        check_error(
            "[storage]\ntimeout = \"x\"",
            "storage.timeout",
            "\"x\" is not a duration",
        );
        check_error(
            "[storage]\nretry_delay = -1",
            "storage.retry_delay",
            "cannot be negative",
        );
        check_error(
            "[storage]\ntimeout = 0",
            "storage.timeout",
            "greater than zero",
        );
        check_error(
            "[storage]\nretry_delay = \"2s\"\nmax_retry_delay = \"1s\"",
            "storage.max_retry_delay",
            "must not be shorter than retry_delay",
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
                .and_then(Config::validate)
                .unwrap_err()
                .to_string()
                .contains("hunter2")
        );
        let explicit = plan("[storage]\nbackend = \"redis\"");
        assert!(explicit.storage.description.starts_with("redis at "));
    }

    #[test]
    fn the_redis_durations_take_the_syntax_of_every_duration() {
        fn check(settings: &str, timeout: Duration, retry_delay: Duration, max: Duration) {
            let config = Config::from_toml_str(&format!("[storage]\n{settings}")).unwrap();
            let redis = validate::redis_config(&config.storage).unwrap().unwrap();
            assert_eq!(
                (redis.timeout, redis.retry_delay, redis.max_retry_delay),
                (timeout, retry_delay, max),
                "{settings}"
            );
            config.validate().unwrap();
        }
        let ms = Duration::from_millis;
        check(
            "timeout = \"2s\"\nretry_delay = \"250ms\"\nmax_retry_delay = \"1m\"",
            ms(2000),
            ms(250),
            ms(60_000),
        );
        check(
            "timeout = 2\nretry_delay = 0.25\nmax_retry_delay = 60",
            ms(2000),
            ms(250),
            ms(60_000),
        );
        check("timeout = \"1s 500ms\"", ms(1500), ms(500), ms(5000));
    }

    /// `[storage]` repeats `storage-redis`'s keys (to read its durations like every
    /// other) and takes its optional sections as they are: a key added there must be
    /// added here, and every key and section must reach the adapter's configuration.
    #[test]
    fn storage_takes_every_key_of_storage_redis() {
        use serde_json::{Value, json};

        let defaults = serde_json::to_value(storage_redis::RedisConfig::default()).unwrap();
        // The sections (unset by default) with a sample each, and what they need beside
        // them; a new section fails here until it has a sample and `[storage]` offers it.
        let sections = |key: &str| match key {
            "tls" => (
                json!({"ca_file": "/etc/redis/ca.pem", "cert_file": "/c.pem", "key_file": "/c.key"}),
                "redis_url = \"rediss://cache:6380/0\"\n",
            ),
            "sentinel" => (
                json!({"master_name": "m", "sentinels": ["redis://s1:26379", "redis://s2:26379"],
                       "sentinel_password": "sp", "sentinel_username": "su",
                       "master_password": "mp", "master_username": "mu", "db": 3}),
                "",
            ),
            "cluster" => (
                json!({"nodes": ["redis://:pw@n1:7000", "redis://:pw@n2:7000"]}),
                "",
            ),
            other => panic!("{other}: a new section of storage-redis: offer it in [storage]"),
        };
        // Every value changed from its default, so a key that is read but not passed on
        // shows.
        let mut expected = serde_json::Map::new();
        let mut section_keys = Vec::new();
        for (key, value) in defaults.as_object().unwrap() {
            let changed = match value {
                Value::String(text) => Value::from(format!("{text}/1")),
                Value::Number(number) => match number.as_u64() {
                    Some(integer) => Value::from(integer * 2 + 1),
                    None => Value::from(number.as_f64().unwrap() * 2.0 + 1.0),
                },
                Value::Null => {
                    section_keys.push(key.clone());
                    continue;
                }
                other => panic!("{key} = {other}: a new kind of setting"),
            };
            expected.insert(key.clone(), changed);
        }
        let mut toml = String::from("[storage]\n");
        for (key, value) in &expected {
            let value = match value {
                Value::String(text) => format!("{text:?}"),
                other => other.to_string(),
            };
            toml.push_str(&format!("{key} = {value}\n"));
        }
        let config = Config::from_toml_str(&toml).unwrap();
        let mut set: Vec<_> = config.storage.redis_keys_set().collect();
        set.sort_unstable();
        assert_eq!(set, expected.keys().map(String::as_str).collect::<Vec<_>>());
        let redis = validate::redis_config(&config.storage).unwrap().unwrap();
        let mut with_sections = expected.clone();
        for key in &section_keys {
            with_sections.insert(key.clone(), Value::Null);
        }
        assert_eq!(
            serde_json::to_value(&redis).unwrap(),
            Value::Object(with_sections),
            "{toml}"
        );
        config.validate().unwrap();

        // Each section on its own (they exclude each other and `redis_url`).
        assert_eq!(section_keys, ["cluster", "sentinel", "tls"]);
        for key in section_keys {
            let (sample, beside) = sections(&key);
            // JSON strings, numbers and arrays of them are TOML values too.
            let mut toml = format!("[storage]\n{beside}\n[storage.{key}]\n");
            for (name, value) in sample.as_object().unwrap() {
                toml.push_str(&format!("{name} = {value}\n"));
            }
            let config = Config::from_toml_str(&toml).unwrap();
            assert!(
                config.storage.redis_keys_set().any(|set| set == key),
                "{toml}"
            );
            let redis = validate::redis_config(&config.storage).unwrap().unwrap();
            assert_eq!(
                serde_json::to_value(&redis).unwrap()[&key],
                sample,
                "{toml}"
            );
            config.validate().unwrap();
        }
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
            let plan = plan(&format!("[cascade]\ninterval = {value}"));
            assert_eq!(plan.cascade.interval, expected, "{value}");
        }
        check("5", Duration::from_secs(5));
        check("0.25", Duration::from_millis(250));
        check("\"250ms\"", Duration::from_millis(250));
        check("\"1m 30s\"", Duration::from_secs(90));
    }

    #[test]
    fn conditions_are_parsed_once_by_the_managers_parser() {
        let plan = plan(
            "[[fallbacks]]\nname = \"hot\"\ncondition = \"severity >= 0.8\"\nmode = \"SAFE\"\nmetadata = { owner = \"sre\" }",
        );
        let rule = &plan.fallbacks.rules[0];
        assert_eq!(rule.condition.source(), "severity >= 0.8");
        assert_eq!(rule.mode, Some(FallbackMode::Safe));
        assert_eq!(rule.metadata["owner"], "sre");
        let context = plan.fallbacks.parser.context().with("severity", 0.9);
        assert!(rule.condition.evaluate(&context).unwrap());
        // A variable outside the parser's whitelist is refused here, not at start-up.
        check_error(
            "[[fallbacks]]\nname = \"a\"\ncondition = \"temperature > 1\"",
            "fallbacks[0].condition",
            "temperature",
        );
    }

    #[test]
    fn flags_override_what_was_read() {
        let mut config = Config::from_toml_str(
            "[storage]\nredis_url = \"redis://127.0.0.1:6390/0\"\n[log]\nlevel = \"debug\"",
        )
        .unwrap();
        config.set_listen(SocketAddr::from(([0, 0, 0, 0], 9000)));
        config.set_log_format(LogFormat::Json);
        config.set_log_level("warn,server=debug");
        config.use_memory_storage();
        let plan = config.clone().validate().unwrap();
        assert_eq!(plan.listen().port(), 9000);
        assert_eq!(plan.logging.format, LogFormat::Json);
        assert_eq!(plan.storage.description, "memory");

        config.use_redis_storage("redis://127.0.0.1:6391/1");
        let plan = config.clone().validate().unwrap();
        assert_eq!(
            plan.storage.description,
            "redis at redis://127.0.0.1:6391/1"
        );

        config.set_log_level("loud");
        assert_eq!(config.validate().unwrap_err().key(), Some("log.level"));
    }

    /// The README's example configuration documents every section: it must stay valid.
    #[test]
    fn the_readme_example_is_a_valid_configuration() {
        let readme = include_str!("../../README.md");
        let start = readme.find("```toml\n").unwrap() + "```toml\n".len();
        let end = start + readme[start..].find("```").unwrap();
        let plan = plan(&readme[start..end]);
        assert!(plan.checks.names().any(|name| name == "billing"), "{plan}");
        assert_eq!(plan.fallbacks.rules[0].mode, Some(FallbackMode::Heuristic));
        assert!(plan.cascade.hysteresis.is_some());
        assert!(plan.sinks.dogstatsd.is_some());
    }
}
