//! The validated configuration: what start-up consumes, checked and converted once by
//! [`Config::validate`](super::Config::validate).

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderName;
use condition::{Condition, ConditionParser};
use fallback::{FallbackMode, Hysteresis, ThresholdPolicy};
use health::HealthCheck as _;
use health::alerts::AlertLimits;
use health::breaker::CircuitBreakerConfig;
use health::checks::{DiskSpaceCheck, DownstreamServiceCheck};
use health::groups::HealthGroup;
use health::probe::CheckOptions;
use health::resources::ResourceConfig;
use health_sinks::DogStatsdMetricsSink;
use serde_json::{Map, Value};
use storage::Storage;

use crate::auth::Secret;
use crate::error::ServerError;
use crate::telemetry::Logging;

/// A configuration that passed [`Config::validate`](crate::Config::validate): every
/// value checked, every condition parsed, the checks, the storage adapter and the
/// DogStatsD sink built; storage not connected, no task started (a buffered DogStatsD
/// sink has its flush thread, which ends when the plan is dropped).
/// [`Server::start`](crate::Server::start) consumes it as it is, without checking or
/// building any of it again, so `--check-config` and start-up can never disagree.
///
/// Its [`Display`](fmt::Display) is a one-line summary of what would run, safe to print
/// (the Redis password is redacted, secrets are never shown).
///
/// ```
/// use server::Config;
///
/// let plan = Config::from_toml_str("[server]\nlisten = \"127.0.0.1:9000\"")?.validate()?;
/// assert_eq!(plan.listen().port(), 9000);
/// assert!(plan.to_string().starts_with("listen 127.0.0.1:9000, storage memory, checks [disk, storage]"));
/// # Ok::<(), server::ServerError>(())
/// ```
#[derive(Debug)]
pub struct Plan {
    pub(crate) server: ServerPlan,
    pub(crate) logging: Logging,
    pub(crate) auth: AuthPlan,
    pub(crate) storage: StoragePlan,
    pub(crate) monitor: MonitorPlan,
    pub(crate) checks: ChecksPlan,
    pub(crate) cascade: CascadePlan,
    pub(crate) fallbacks: FallbacksPlan,
    pub(crate) sinks: SinksPlan,
    pub(crate) health: HealthPlan,
    pub(crate) alerts: AlertLimits,
    pub(crate) breaker: BreakerPlan,
}

/// `[health]`: what the health routes show, and the named groups.
#[derive(Debug, Clone)]
pub(crate) struct HealthPlan {
    pub(crate) show_details: ShowDetails,
    /// Named groups, by name.
    pub(crate) groups: Vec<HealthGroup>,
}

/// Whether check messages and metadata (URLs, paths) and alert texts are shown, as
/// Spring Boot's `show-details`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ShowDetails {
    /// To nobody.
    Never,
    /// To callers with the admin token (the default).
    WhenAuthorized,
    /// To everybody.
    Always,
}

/// `[breaker]`: the breaker's settings and the checks that feed it.
#[derive(Debug, Clone)]
pub(crate) struct BreakerPlan {
    pub(crate) config: CircuitBreakerConfig,
    pub(crate) feed: HealthGroup,
}

/// `[server]` and `log.access_log`: how HTTP is served.
#[derive(Debug, Clone)]
pub(crate) struct ServerPlan {
    pub(crate) listen: SocketAddr,
    pub(crate) max_body_bytes: usize,
    pub(crate) shutdown_grace: Duration,
    pub(crate) access_log: bool,
}

/// The credentials; a secret still `None` is generated at start-up.
#[derive(Debug, Clone)]
pub(crate) struct AuthPlan {
    pub(crate) admin_token: SecretSlot,
    /// One per `health::alerts::PROVIDERS`, in that order.
    pub(crate) webhook_secrets: Vec<WebhookSecret>,
    pub(crate) webhook_header: HeaderName,
}

/// A provider's webhook secret.
#[derive(Debug, Clone)]
pub(crate) struct WebhookSecret {
    /// The provider, as `health::alerts::PROVIDERS` names it.
    pub(crate) provider: &'static str,
    pub(crate) secret: SecretSlot,
}

/// A secret and where an operator sets it.
#[derive(Debug, Clone)]
pub(crate) struct SecretSlot {
    /// What it is for, e.g. `admin token`.
    pub(crate) purpose: &'static str,
    /// The environment variable that sets it.
    pub(crate) variable: &'static str,
    pub(crate) secret: Option<Secret>,
}

/// The storage, built and not yet connected.
#[derive(Debug)]
pub(crate) struct StoragePlan {
    pub(crate) storage: Arc<dyn Storage>,
    /// The backend with its redacted address, safe to print.
    pub(crate) description: String,
}

/// The monitor's settings.
#[derive(Debug, Clone)]
pub(crate) struct MonitorPlan {
    pub(crate) refresh_interval: Duration,
    pub(crate) resources: ResourceConfig,
    /// How old a result gets before it reads `unknown`.
    pub(crate) max_staleness: Duration,
}

/// The checks, built with their options; the storage check is built at start-up around
/// the storage.
#[derive(Debug, Clone)]
pub(crate) struct ChecksPlan {
    pub(crate) disk: Vec<(DiskSpaceCheck, CheckOptions)>,
    pub(crate) storage: Option<StorageCheckPlan>,
    pub(crate) http: Vec<(DownstreamServiceCheck, CheckOptions)>,
}

/// `[checks.storage]`, enabled.
#[derive(Debug, Clone)]
pub(crate) struct StorageCheckPlan {
    pub(crate) name: String,
    pub(crate) timeout: Duration,
    pub(crate) options: CheckOptions,
}

impl ChecksPlan {
    /// The names of the checks, in the order they are registered.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.tagged().map(|(name, _)| name)
    }

    /// The name and options of each check, in the order they are registered.
    pub(crate) fn tagged(&self) -> impl Iterator<Item = (&str, &CheckOptions)> + Clone {
        self.disk
            .iter()
            .map(|(check, options)| (check.name(), options))
            .chain(
                self.storage
                    .iter()
                    .map(|check| (check.name.as_str(), &check.options)),
            )
            .chain(
                self.http
                    .iter()
                    .map(|(check, options)| (check.name(), options)),
            )
    }
}

/// The cascade's settings.
#[derive(Debug, Clone)]
pub(crate) struct CascadePlan {
    pub(crate) interval: Duration,
    pub(crate) policy: ThresholdPolicy,
    pub(crate) hysteresis: Option<Hysteresis>,
    pub(crate) max_log_entries: usize,
    pub(crate) record_ttl: Duration,
}

/// The fallback rules, their conditions parsed by `parser`, the parser the manager is
/// given too.
#[derive(Debug, Clone)]
pub(crate) struct FallbacksPlan {
    pub(crate) parser: ConditionParser,
    pub(crate) rules: Vec<RulePlan>,
}

/// One `[[fallbacks]]` rule.
#[derive(Debug, Clone)]
pub(crate) struct RulePlan {
    pub(crate) name: String,
    pub(crate) condition: Condition,
    pub(crate) mode: Option<FallbackMode>,
    pub(crate) metadata: Map<String, Value>,
}

/// The metrics sinks besides Prometheus.
#[derive(Debug, Clone)]
pub(crate) struct SinksPlan {
    pub(crate) logging: bool,
    pub(crate) dogstatsd: Option<DogStatsdMetricsSink>,
}

impl Plan {
    /// The address to listen on (`server.listen`, `--listen`).
    #[must_use]
    pub const fn listen(&self) -> SocketAddr {
        self.server.listen
    }

    /// Installs the process-wide log subscriber `[log]` describes: human or JSON lines
    /// on standard error, filtered by `log.level`. For a binary, once; a program that
    /// embeds the server keeps its own subscriber and never calls this.
    ///
    /// # Errors
    ///
    /// [`ServerError::Startup`] if a subscriber is already installed.
    pub fn init_logging(&self) -> Result<(), ServerError> {
        self.logging.install()
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "listen {}, storage {}, checks [",
            self.server.listen, self.storage.description
        )?;
        for (index, name) in self.checks.names().enumerate() {
            if index > 0 {
                f.write_str(", ")?;
            }
            f.write_str(name)?;
        }
        write!(
            f,
            "], cascade every {}, {} fallback rule(s), sinks [prometheus",
            humantime::format_duration(self.cascade.interval),
            self.fallbacks.rules.len()
        )?;
        if self.sinks.logging {
            f.write_str(", logging")?;
        }
        if self.sinks.dogstatsd.is_some() {
            f.write_str(", dogstatsd")?;
        }
        f.write_str("]")
    }
}
