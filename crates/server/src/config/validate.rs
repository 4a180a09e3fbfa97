//! The one step from a [`Config`] as written to the [`Plan`] start-up consumes. Besides
//! deserialization, it is the only code that names configuration keys in errors.

use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderName;
use condition::ConditionParser;
use fallback::{FallbackConfig, FallbackMode, Hysteresis, ThresholdPolicy};
use health::HealthCheck as _;
use health::alerts::AlertLimits;
use health::breaker::CircuitBreakerConfig;
use health::checks::{DiskSpaceCheck, DownstreamServiceCheck};
use health::groups::{HealthGroup, Member};
use health::probe::{CheckOptions, Criticality, LIVE_TAG, ProbeSchedule, READY_TAG, STARTUP_TAG};
use health::resources::{ResourceConfig, ResourceSet, Thresholds};
use health_sinks::{DogStatsdMetricsSink, SinkError};
use storage::MemoryStorage;
use storage_redis::{RedisAdapter, RedisConfig};

use super::Config;
use super::env::{ADMIN_TOKEN_VAR, DATADOG_SECRET_VAR, NEWRELIC_SECRET_VAR, REDIS_PASSWORD_VAR};
use super::plan::{
    AuthPlan, BreakerPlan, CascadePlan, ChecksPlan, FallbacksPlan, HealthPlan, MonitorPlan, Plan,
    RulePlan, SecretSlot, ServerPlan, ShowDetails, SinksPlan, StorageCheckPlan, StoragePlan,
    WebhookSecret,
};
use super::sections::{
    AlertsSection, AuthSection, Backend, BreakerSection, CascadeSection, ChecksSection,
    DogStatsdSection, FallbackRuleSection, HealthSection, LogSection, MonitorSection, ProbeSection,
    ServerSection, SinksSection, StorageSection,
};
use web::{Secret, ServeOptions};

use crate::error::{Chain, ServerError};
use crate::telemetry::{Logging, parse_filter};

/// The shortest secret the configuration accepts, in bytes.
const MIN_SECRET_LEN: usize = 16;

impl Config {
    /// Checks every value and converts the configuration into the [`Plan`] that
    /// [`Server::start`](crate::Server::start) runs: secrets long enough, durations
    /// positive, names unique, conditions parsed (by the parser the fallback manager is
    /// given), thresholds ordered, the Redis settings usable, and the checks, the storage
    /// adapter and the DogStatsD sink built (not connected). `--check-config` runs
    /// exactly this.
    ///
    /// ```
    /// use server::Config;
    ///
    /// let error = Config::from_toml_str("[cascade]\ninterval = 0")?.validate().unwrap_err();
    /// assert_eq!(error.key(), Some("cascade.interval"));
    /// assert!(error.to_string().contains("must be greater than zero"));
    /// # Ok::<(), server::ServerError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ServerError::Config`] naming the first offending key;
    /// [`ServerError::Startup`] if the DogStatsD sink's socket cannot be created.
    pub fn validate(self) -> Result<Plan, ServerError> {
        let Self {
            server,
            log,
            auth,
            storage,
            monitor,
            checks,
            cascade,
            fallbacks,
            sinks,
            health,
            alerts,
            breaker,
        } = self;
        let storage = storage_plan(&storage)?;
        let (server, logging) = server_plan(&server, &log)?;
        let monitor = monitor_plan(&monitor)?;
        let auth = auth_plan(auth)?;
        let checks = checks_plan(checks)?;
        let cascade = cascade_plan(&cascade)?;
        let fallbacks = fallbacks_plan(fallbacks)?;
        let sinks = sinks_plan(sinks)?;
        let health = health_plan(health, &checks)?;
        let alerts = alerts_plan(&alerts)?;
        let breaker = breaker_plan(breaker, &checks)?;
        Ok(Plan {
            server,
            logging,
            auth,
            storage,
            monitor,
            checks,
            cascade,
            fallbacks,
            sinks,
            health,
            alerts,
            breaker,
        })
    }
}

fn positive(key: &str, value: Duration) -> Result<(), ServerError> {
    if value.is_zero() {
        Err(ServerError::config(key, "must be greater than zero"))
    } else {
        Ok(())
    }
}

fn at_least_one(key: &str, value: usize) -> Result<(), ServerError> {
    if value == 0 {
        Err(ServerError::config(key, "must be at least 1"))
    } else {
        Ok(())
    }
}

/// The `[warning, critical]` levels at `key`, checked by the `health` crate.
fn thresholds(key: &str, [warning, critical]: [f64; 2]) -> Result<Thresholds, ServerError> {
    Thresholds::new(warning, critical).map_err(|error| ServerError::config(key, error.to_string()))
}

fn server_plan(
    server: &ServerSection,
    log: &LogSection,
) -> Result<(ServerPlan, Logging), ServerError> {
    at_least_one("server.max_body_bytes", server.max_body_bytes)?;
    // Also the time shutdown gives transitions still waiting for storage: none would
    // lose them.
    positive("server.shutdown_grace", server.shutdown_grace)?;
    let mut serve = ServeOptions::default();
    serve.shutdown_grace = server.shutdown_grace;
    for (key, value, setting) in [
        (
            "server.header_read_timeout",
            server.header_read_timeout,
            &mut serve.header_read_timeout,
        ),
        (
            "server.idle_timeout",
            server.idle_timeout,
            &mut serve.idle_timeout,
        ),
        (
            "server.body_read_timeout",
            server.body_read_timeout,
            &mut serve.body_read_timeout,
        ),
    ] {
        if let Some(value) = value {
            positive(key, value)?;
            *setting = value;
        }
    }
    if let Some(connections) = server.max_connections {
        at_least_one("server.max_connections", connections)?;
        if u32::try_from(connections).is_err() {
            return Err(ServerError::config(
                "server.max_connections",
                format!("must be at most {}", u32::MAX),
            ));
        }
        serve.max_connections = connections;
    }
    let storage_write_timeout = server
        .storage_write_timeout
        .unwrap_or(web::state::DEFAULT_STORAGE_WRITE_TIMEOUT);
    positive("server.storage_write_timeout", storage_write_timeout)?;
    let filter =
        parse_filter(&log.level).map_err(|message| ServerError::config("log.level", message))?;
    Ok((
        ServerPlan {
            listen: server.listen,
            max_body_bytes: server.max_body_bytes,
            access_log: log.access_log,
            serve,
            storage_write_timeout,
        },
        Logging {
            format: log.format,
            filter,
        },
    ))
}

fn monitor_plan(monitor: &MonitorSection) -> Result<MonitorPlan, ServerError> {
    let refresh = monitor.refresh_interval;
    positive("monitor.refresh_interval", refresh)?;
    let section = &monitor.resources;
    let mut resources = ResourceConfig::default();
    let defaults = resources.thresholds;
    let levels = |key: &str, configured: Option<[f64; 2]>, default: Thresholds| {
        configured.map_or(Ok(default), |levels| thresholds(key, levels))
    };
    resources.thresholds.cpu = levels("monitor.resources.cpu", section.cpu, defaults.cpu)?;
    resources.thresholds.memory =
        levels("monitor.resources.memory", section.memory, defaults.memory)?;
    resources.thresholds.disk = levels("monitor.resources.disk", section.disk, defaults.disk)?;
    if let Some(path) = &section.disk_path {
        resources.disk_path.clone_from(path);
    }
    // Resources are sampled as often as the checks are refreshed.
    resources.sample_interval = refresh;
    if let Some(window) = section.window {
        if window < refresh {
            return Err(ServerError::config(
                "monitor.resources.window",
                format!(
                    "must be at least monitor.refresh_interval ({}), the sample interval",
                    humantime::format_duration(refresh)
                ),
            ));
        }
        resources.window = window;
    }
    resources.window = resources.window.max(refresh);
    if let Some(names) = &section.force_safe {
        let mut set = ResourceSet {
            cpu: false,
            memory: false,
            disk: false,
        };
        for (index, name) in names.iter().enumerate() {
            match name.as_str() {
                "cpu" => set.cpu = true,
                "memory" => set.memory = true,
                "disk" => set.disk = true,
                other => {
                    return Err(ServerError::config(
                        format!("monitor.resources.force_safe[{index}]"),
                        format!("{other:?} is not a resource: expected cpu, memory or disk"),
                    ));
                }
            }
        }
        resources.force_safe = set;
    }
    Ok(MonitorPlan {
        refresh_interval: refresh,
        resources,
        // A result missing three refreshes in a row reads `unknown`; never less than
        // the library's default of a minute.
        max_staleness: refresh
            .saturating_mul(3)
            .max(health::monitor::DEFAULT_MAX_STALENESS),
    })
}

fn auth_plan(auth: AuthSection) -> Result<AuthPlan, ServerError> {
    let AuthSection {
        admin_token,
        webhook_header,
        webhook_secrets,
    } = auth;
    let admin_token = secret_slot(
        "auth.admin_token",
        "admin token",
        ADMIN_TOKEN_VAR,
        admin_token,
    )?;
    let mut datadog = Some(secret_slot(
        "auth.webhook_secrets.datadog",
        "datadog webhook secret",
        DATADOG_SECRET_VAR,
        webhook_secrets.datadog,
    )?);
    let mut newrelic = Some(secret_slot(
        "auth.webhook_secrets.newrelic",
        "newrelic webhook secret",
        NEWRELIC_SECRET_VAR,
        webhook_secrets.newrelic,
    )?);
    let webhook_secrets = health::alerts::PROVIDERS
        .iter()
        .map(|&provider| {
            let slot = match provider {
                "datadog" => datadog.take(),
                "newrelic" => newrelic.take(),
                _ => None,
            };
            let secret = slot.ok_or_else(|| {
                ServerError::config(
                    "auth.webhook_secrets",
                    format!("has no key for the webhook provider {provider:?}"),
                )
            })?;
            Ok(WebhookSecret { provider, secret })
        })
        .collect::<Result<_, ServerError>>()?;
    Ok(AuthPlan {
        admin_token,
        webhook_secrets,
        webhook_header: header_name(&webhook_header)?,
    })
}

fn secret_slot(
    key: &str,
    purpose: &'static str,
    variable: &'static str,
    secret: Option<Secret>,
) -> Result<SecretSlot, ServerError> {
    if let Some(secret) = &secret
        && secret.len() < MIN_SECRET_LEN
    {
        return Err(ServerError::config(
            key,
            format!(
                "must be at least {MIN_SECRET_LEN} characters (set by the file or {variable}); leave it unset to have one generated"
            ),
        ));
    }
    Ok(SecretSlot {
        purpose,
        variable,
        secret,
    })
}

fn header_name(header: &str) -> Result<HeaderName, ServerError> {
    const KEY: &str = "auth.webhook_header";
    if header.is_empty()
        || !header
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
    {
        return Err(ServerError::config(
            KEY,
            format!("{header:?} is not a header name (letters, digits, '-' and '_')"),
        ));
    }
    if header.eq_ignore_ascii_case("authorization") {
        return Err(ServerError::config(
            KEY,
            "`Authorization: Bearer` is always accepted; name another header",
        ));
    }
    HeaderName::from_bytes(header.to_ascii_lowercase().as_bytes())
        .map_err(|error| ServerError::config(KEY, error.to_string()))
}

fn storage_plan(section: &StorageSection) -> Result<StoragePlan, ServerError> {
    Ok(match redis_config(section)? {
        None => StoragePlan {
            storage: Arc::new(MemoryStorage::new()),
            description: "memory".to_owned(),
        },
        Some(redis) => {
            let description = format!("redis at {}", redis.redacted_url());
            // Checks the settings (the library's own rules) and builds the adapter,
            // which connects only at start-up.
            let adapter = RedisAdapter::from_config(redis).map_err(|error| redis_error(&error))?;
            StoragePlan {
                storage: Arc::new(adapter),
                description,
            }
        }
    })
}

/// The Redis settings of `[storage]`, `None` for memory; not yet checked by
/// `storage-redis`.
pub(super) fn redis_config(section: &StorageSection) -> Result<Option<RedisConfig>, ServerError> {
    let mut redis_keys = section.redis_keys_set();
    let redis = match section.backend {
        Some(Backend::Redis) => true,
        Some(Backend::Memory) => match redis_keys.next() {
            Some(key) => {
                return Err(ServerError::config(
                    format!("storage.{key}"),
                    "is a redis setting, but `backend` is \"memory\"",
                ));
            }
            None => false,
        },
        None => redis_keys.next().is_some(),
    };
    if !redis {
        return match section.password {
            Some(_) => Err(ServerError::config(
                "storage.redis_url",
                format!("{REDIS_PASSWORD_VAR} is set but the storage backend is memory"),
            )),
            None => Ok(None),
        };
    }
    let mut config = RedisConfig::default();
    if let Some(url) = &section.redis_url {
        url.clone_into(&mut config.redis_url);
    }
    let settings = [
        (&mut config.timeout, section.timeout),
        (&mut config.retry_delay, section.retry_delay),
        (&mut config.max_retry_delay, section.max_retry_delay),
    ];
    for (setting, configured) in settings {
        if let Some(value) = configured {
            *setting = value;
        }
    }
    if let Some(retries) = section.max_retries {
        config.max_retries = retries;
    }
    if let Some(size) = section.pool_size {
        config.pool_size = size;
    }
    if let Some(prefix) = &section.key_prefix {
        prefix.clone_into(&mut config.key_prefix);
    }
    if let Some(count) = section.scan_count {
        config.scan_count = count;
    }
    config.tls.clone_from(&section.tls);
    config.sentinel.clone_from(&section.sentinel);
    config.cluster.clone_from(&section.cluster);
    if let Some(password) = &section.password {
        config.set_password(password.expose());
    }
    Ok(Some(config))
}

/// A `storage-redis` refusal as the `[storage]` key it is about; the message hides the
/// password.
fn redis_error(error: &storage_redis::ConfigError) -> ServerError {
    let (key, message) = match error {
        storage_redis::ConfigError::Invalid { key, message } => (*key, message.clone()),
        storage_redis::ConfigError::InvalidUrl { key, .. } => (*key, error.to_string()),
        other => ("redis_url", other.to_string()),
    };
    ServerError::config(format!("storage.{key}"), message)
}

fn checks_plan(checks: ChecksSection) -> Result<ChecksPlan, ServerError> {
    let ChecksSection {
        disk,
        storage,
        http,
    } = checks;
    let mut names = Vec::new();
    let mut disk_checks = Vec::with_capacity(disk.len());
    for (index, section) in disk.into_iter().enumerate() {
        let key = format!("checks.disk[{index}]");
        let name = section.name.unwrap_or_else(|| {
            if section.path == std::path::Path::new("/") {
                "disk".to_owned()
            } else {
                format!("disk:{}", section.path.display())
            }
        });
        let check = DiskSpaceCheck::new(section.path)
            .with_name(name)
            .with_timeout(section.timeout)
            .with_thresholds(section.warning_percent, section.critical_percent)
            .map_err(|error| ServerError::config(&key, error.to_string()))?;
        positive(&format!("{key}.timeout"), section.timeout)?;
        names.push((format!("{key}.name"), check.name().to_owned()));
        let options = check_options(
            &key,
            section.critical,
            section.tags.as_deref(),
            &section.probe,
            &[],
        )?;
        disk_checks.push((check, options));
    }
    let storage = if storage.enabled {
        positive("checks.storage.timeout", storage.timeout)?;
        names.push(("checks.storage.name".to_owned(), storage.name.clone()));
        let options = check_options(
            "checks.storage",
            storage.critical,
            storage.tags.as_deref(),
            &storage.probe,
            &[],
        )?;
        Some(StorageCheckPlan {
            name: storage.name,
            timeout: storage.timeout,
            options,
        })
    } else {
        None
    };
    let mut http_checks = Vec::with_capacity(http.len());
    for (index, section) in http.into_iter().enumerate() {
        let key = format!("checks.http[{index}]");
        positive(&format!("{key}.timeout"), section.timeout)?;
        let secure = section.url.starts_with("https://");
        let mut check = DownstreamServiceCheck::new(section.url)
            .map_err(|error| ServerError::config(format!("{key}.url"), error.to_string()))?;
        let status = |name: &str, code: u16| {
            if (100..=599).contains(&code) {
                Ok(code)
            } else {
                Err(ServerError::config(
                    format!("{key}.{name}"),
                    format!("{code} is not an HTTP status"),
                ))
            }
        };
        let accepted = match (section.expected_status, section.accepted_status) {
            (Some(_), Some(_)) => {
                return Err(ServerError::config(
                    format!("{key}.accepted_status"),
                    "set `expected_status` or `accepted_status`, not both",
                ));
            }
            (Some(code), None) => {
                let code = status("expected_status", code)?;
                code..=code
            }
            (None, Some([low, high])) => {
                let (low, high) = (
                    status("accepted_status", low)?,
                    status("accepted_status", high)?,
                );
                if low > high {
                    return Err(ServerError::config(
                        format!("{key}.accepted_status"),
                        format!("[{low}, {high}] is empty: the lowest status comes first"),
                    ));
                }
                low..=high
            }
            (None, None) => 200..=200,
        };
        check = check.with_accepted_status(accepted);
        if let Some(method) = &section.method {
            let method = axum::http::Method::from_bytes(method.to_ascii_uppercase().as_bytes())
                .map_err(|_| {
                    ServerError::config(
                        format!("{key}.method"),
                        format!("{method:?} is not an HTTP method"),
                    )
                })?;
            check = check.with_method(method);
        }
        for (name, value) in &section.headers {
            check = check.with_header(name, value).map_err(|error| {
                ServerError::config(format!("{key}.headers.{name}"), error.to_string())
            })?;
        }
        if let Some(bytes) = section.max_body_bytes {
            check = check.with_max_body_bytes(bytes);
        }
        if let Some(path) = &section.ca_file {
            if !secure {
                return Err(ServerError::config(
                    format!("{key}.ca_file"),
                    "is for https:// urls only",
                ));
            }
            check = check.with_ca_file(path).map_err(|error| {
                ServerError::config(format!("{key}.ca_file"), error.to_string())
            })?;
        }
        names.push((format!("{key}.name"), section.name.clone()));
        let options = check_options(
            &key,
            section.critical,
            section.tags.as_deref(),
            &section.probe,
            &[DOWNSTREAM_TAG],
        )?;
        http_checks.push((
            check.with_name(section.name).with_timeout(section.timeout),
            options,
        ));
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
    Ok(ChecksPlan {
        disk: disk_checks,
        storage,
        http: http_checks,
    })
}

/// The tag HTTP checks carry by default, which the breaker is fed from by default.
pub(crate) const DOWNSTREAM_TAG: &str = "downstream";

/// A check's options: critical unless `critical = false`, tagged `tags` (default
/// `ready` and `extra_tags`), probed on [`ProbeSchedule::damped`] with the `probe` keys
/// on top.
fn check_options(
    key: &str,
    critical: Option<bool>,
    tags: Option<&[String]>,
    probe: &ProbeSection,
    extra_tags: &[&str],
) -> Result<CheckOptions, ServerError> {
    let mut options = CheckOptions::new().with_schedule(ProbeSchedule::damped());
    if critical == Some(false) {
        options = options.with_criticality(Criticality::NonCritical);
    }
    match tags {
        Some(tags) => {
            for (index, tag) in tags.iter().enumerate() {
                if tag.trim().is_empty() || tag.contains(char::is_whitespace) {
                    return Err(ServerError::config(
                        format!("{key}.tags[{index}]"),
                        format!("{tag:?} is not a tag (no spaces, not empty)"),
                    ));
                }
            }
            options = options.with_tags(tags.iter().cloned());
        }
        None => {
            for tag in extra_tags {
                options = options.with_tag(*tag);
            }
        }
    }
    if let Some(interval) = probe.interval {
        positive(&format!("{key}.probe.interval"), interval)?;
        options = options.with_interval(interval);
    }
    if let Some(delay) = probe.initial_delay {
        options = options.with_initial_delay(delay);
    }
    for (name, value) in [
        ("failure_threshold", probe.failure_threshold),
        ("success_threshold", probe.success_threshold),
    ] {
        if value == Some(0) {
            return Err(ServerError::config(
                format!("{key}.probe.{name}"),
                "must be at least 1",
            ));
        }
    }
    if let Some(failures) = probe.failure_threshold {
        options = options.with_failure_threshold(failures);
    }
    if let Some(successes) = probe.success_threshold {
        options = options.with_success_threshold(successes);
    }
    Ok(options)
}

/// Group names the server routes itself: a named group may not take them.
const RESERVED_GROUPS: [&str; 6] = [
    "liveness",
    "readiness",
    "startup",
    LIVE_TAG,
    READY_TAG,
    STARTUP_TAG,
];

fn health_plan(health: HealthSection, checks: &ChecksPlan) -> Result<HealthPlan, ServerError> {
    let show_details = match health.show_details.as_deref() {
        None | Some("when_authorized") => ShowDetails::WhenAuthorized,
        Some("never") => ShowDetails::Never,
        Some("always") => ShowDetails::Always,
        Some(other) => {
            return Err(ServerError::config(
                "health.show_details",
                format!("{other:?}: expected \"never\", \"when_authorized\" or \"always\""),
            ));
        }
    };
    let mut groups = Vec::with_capacity(health.groups.len());
    for (name, section) in health.groups {
        let key = format!("health.groups.{name}");
        if name.is_empty()
            || !name
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
        {
            return Err(ServerError::config(
                key,
                "a group name is letters, digits, '-' and '_'",
            ));
        }
        if RESERVED_GROUPS.contains(&name.as_str()) {
            return Err(ServerError::config(
                key,
                "is served by its own route; name the group otherwise",
            ));
        }
        if section.include.is_empty() {
            return Err(ServerError::config(
                format!("{key}.include"),
                "must name at least one check or tag:<tag>",
            ));
        }
        groups.push(group(
            &key,
            &name,
            &section.include,
            &section.exclude,
            checks,
        )?);
    }
    Ok(HealthPlan {
        show_details,
        groups,
    })
}

/// A group of `include` minus `exclude`, each selector matching some check of `checks`.
fn group(
    key: &str,
    name: &str,
    include: &[String],
    exclude: &[String],
    checks: &ChecksPlan,
) -> Result<HealthGroup, ServerError> {
    let mut group = HealthGroup::new(name);
    for (list, selectors) in [("include", include), ("exclude", exclude)] {
        for (index, selector) in selectors.iter().enumerate() {
            // `Member` parses every text.
            let Ok(member) = selector.parse::<Member>();
            let matches = checks.tagged().any(|(check, options)| match &member {
                Member::Tag(tag) => options.has_tag(tag),
                Member::Check(name) => name == check,
            });
            if !matches {
                return Err(ServerError::config(
                    format!("{key}.{list}[{index}]"),
                    format!("{selector:?} matches no configured check"),
                ));
            }
            group = if list == "include" {
                group.include(member)
            } else {
                group.exclude(member)
            };
        }
    }
    Ok(group)
}

fn alerts_plan(alerts: &AlertsSection) -> Result<AlertLimits, ServerError> {
    let mut limits = AlertLimits::default();
    if let Some(quiet) = alerts.quiet_time {
        positive("alerts.quiet_time", quiet)?;
        limits.quiet_time = quiet;
    }
    if let Some(max) = alerts.max_components {
        at_least_one("alerts.max_components", max)?;
        limits.max_components = max;
    }
    Ok(limits)
}

fn breaker_plan(breaker: BreakerSection, checks: &ChecksPlan) -> Result<BreakerPlan, ServerError> {
    let mut config = CircuitBreakerConfig::default();
    for (name, value, target) in [
        (
            "breaker.failure_threshold",
            breaker.failure_threshold,
            &mut config.failure_threshold,
        ),
        (
            "breaker.success_threshold",
            breaker.success_threshold,
            &mut config.success_threshold,
        ),
    ] {
        if let Some(value) = value {
            if value == 0 {
                return Err(ServerError::config(name, "must be at least 1"));
            }
            *target = value;
        }
    }
    if let Some(timeout) = breaker.recovery_timeout {
        positive("breaker.recovery_timeout", timeout)?;
        config.recovery_timeout = timeout;
    }
    let feed = match breaker.feed {
        // The default may select nothing (no HTTP check): the breaker then stays closed.
        None => HealthGroup::new("breaker").include(Member::Tag(DOWNSTREAM_TAG.to_owned())),
        Some(selectors) => group("breaker.feed", "breaker", &selectors, &[], checks).map_err(
            |error| match error {
                ServerError::Config { key, message } => ServerError::Config {
                    key: key.replace("breaker.feed.include", "breaker.feed"),
                    message,
                },
                other => other,
            },
        )?,
    };
    Ok(BreakerPlan { config, feed })
}

fn cascade_plan(cascade: &CascadeSection) -> Result<CascadePlan, ServerError> {
    let defaults = FallbackConfig::default();
    positive("cascade.interval", cascade.interval)?;
    let record_ttl = cascade.record_ttl.unwrap_or(defaults.record_ttl);
    positive("cascade.record_ttl", record_ttl)?;
    let max_log_entries = cascade.max_log_entries.unwrap_or(defaults.max_log_entries);
    at_least_one("cascade.max_log_entries", max_log_entries)?;
    let original = ThresholdPolicy::ORIGINAL;
    let mut policy = ThresholdPolicy::default();
    policy.safe_failed_components = cascade
        .safe_failed_components
        .unwrap_or(original.safe_failed_components);
    policy.safe_on_critical_resources = cascade
        .safe_on_critical_resources
        .unwrap_or(original.safe_on_critical_resources);
    policy.heuristic_on_open_circuit = cascade
        .heuristic_on_open_circuit
        .unwrap_or(original.heuristic_on_open_circuit);
    policy.heuristic_retry_failures = cascade
        .heuristic_retry_failures
        .unwrap_or(original.heuristic_retry_failures);
    Ok(CascadePlan {
        interval: cascade.interval,
        policy,
        hysteresis: cascade.hysteresis.as_ref().map(|section| {
            Hysteresis::new()
                .min_dwell(section.min_dwell)
                .recovery_evaluations(section.recovery_evaluations)
                .stepwise(section.stepwise)
        }),
        max_log_entries,
        record_ttl,
    })
}

fn fallbacks_plan(fallbacks: Vec<FallbackRuleSection>) -> Result<FallbacksPlan, ServerError> {
    // The parser the manager is built with: a condition accepted here is one the
    // manager accepts.
    let parser = ConditionParser::new();
    let mut rules: Vec<RulePlan> = Vec::with_capacity(fallbacks.len());
    for (index, rule) in fallbacks.into_iter().enumerate() {
        let key = format!("fallbacks[{index}]");
        if rule.name.trim().is_empty() {
            return Err(ServerError::config(
                format!("{key}.name"),
                "must not be empty",
            ));
        }
        if rules.iter().any(|earlier| earlier.name == rule.name) {
            return Err(ServerError::config(
                format!("{key}.name"),
                format!("another fallback is already named {:?}", rule.name),
            ));
        }
        let condition = parser
            .parse(&rule.condition)
            .map_err(|error| ServerError::config(format!("{key}.condition"), error.to_string()))?;
        let mode = rule
            .mode
            .as_deref()
            .map(str::parse::<FallbackMode>)
            .transpose()
            .map_err(|error| ServerError::config(format!("{key}.mode"), error.to_string()))?;
        rules.push(RulePlan {
            name: rule.name,
            condition,
            mode,
            metadata: rule.metadata,
        });
    }
    Ok(FallbacksPlan { parser, rules })
}

fn sinks_plan(sinks: SinksSection) -> Result<SinksPlan, ServerError> {
    Ok(SinksPlan {
        logging: sinks.logging,
        dogstatsd: sinks.dogstatsd.map(dogstatsd_sink).transpose()?,
    })
}

/// Builds the DogStatsD sink: its address, prefix and tags are checked only by
/// building it (resolving the address, binding a UDP socket). Start-up uses this one.
fn dogstatsd_sink(section: DogStatsdSection) -> Result<DogStatsdMetricsSink, ServerError> {
    let address = section
        .address
        .unwrap_or_else(|| health_sinks::dogstatsd::DEFAULT_DOGSTATSD_ADDRESS.to_owned());
    if address.trim().is_empty() {
        return Err(ServerError::config(
            "sinks.dogstatsd.address",
            "must not be empty",
        ));
    }
    let mut builder = DogStatsdMetricsSink::builder()
        .address(&address)
        .prefix(&section.prefix);
    for (key, value) in &section.tags {
        builder = builder.constant_tag(key, value);
    }
    if let Some(interval) = section.flush_interval {
        positive("sinks.dogstatsd.flush_interval", interval)?;
        builder = builder.buffered(interval);
    }
    builder.build().map_err(|error| {
        let key = match &error {
            SinkError::InvalidAddress { .. } => "sinks.dogstatsd.address",
            SinkError::InvalidPrefix { .. } => "sinks.dogstatsd.prefix",
            SinkError::InvalidTag { .. } => "sinks.dogstatsd.tags",
            SinkError::InvalidSetting { .. } => "sinks.dogstatsd.flush_interval",
            _ => return ServerError::startup("the dogstatsd sink", Chain(&error)),
        };
        ServerError::config(key, Chain(&error).to_string())
    })
}
