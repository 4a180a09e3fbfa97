use std::fmt;
use std::time::Duration;

use fallback::Hysteresis;

use crate::util::random_u64;
use crate::{Error, KeySpace, Result};

/// How many live members must vote before the leader decides.
///
/// ```
/// use cluster::Quorum;
///
/// assert_eq!(Quorum::Majority.needed(5), 3);
/// assert_eq!(Quorum::Majority.needed(4), 3);
/// assert_eq!(Quorum::Count(2).needed(5), 2);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Quorum {
    /// More than half of the live members (the default).
    #[default]
    Majority,
    /// At least this many members, however many are live (0 counts as 1).
    Count(u32),
}

impl Quorum {
    /// The number of votes needed among `live` members.
    #[must_use]
    pub fn needed(self, live: usize) -> usize {
        match self {
            Self::Majority => live / 2 + 1,
            Self::Count(count) => usize::try_from(count.max(1)).unwrap_or(usize::MAX),
        }
    }
}

impl fmt::Display for Quorum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Majority => f.write_str("majority"),
            Self::Count(count) => write!(f, "{count}"),
        }
    }
}

/// The coordinator's settings. Start from [`ClusterConfig::default`] and change what you
/// need; [`validate`](Self::validate) checks them (the coordinator's builder does).
///
/// ```
/// use std::time::Duration;
/// use cluster::{ClusterConfig, Quorum};
///
/// let mut config = ClusterConfig::default();
/// config.instance_id = Some("web-1".to_owned());
/// config.lease_ttl = Duration::from_secs(5);
/// config.quorum = Quorum::Count(2);
/// config.validate()?;
/// assert_eq!(config.member_ttl(), Duration::from_secs(3));
/// # Ok::<(), cluster::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClusterConfig {
    /// This instance's id, unique in the cluster: 1 to 128 characters, none of them `:`,
    /// whitespace, a control character or a glob character (`*?[]\`). `None` (the
    /// default) makes one from the host name, the process id and a random suffix
    /// ([`default_instance_id`]).
    pub instance_id: Option<String>,
    /// The first segment of every key (default `astra`, the original's). On a Redis
    /// Cluster it must hold a hash tag (`{astra}`) so the keys the scripts touch share a
    /// slot: see [`require_hash_tag`](Self::require_hash_tag).
    pub prefix: String,
    /// How long a leader's lease lasts without renewal (default 10 s). A dead leader is
    /// replaced within this time; a live one renews it at every heartbeat.
    pub lease_ttl: Duration,
    /// How often each instance writes its heartbeat and vote and reads the cluster's
    /// state (default 1 s). Also how often the leader renews its lease and decides.
    pub heartbeat_interval: Duration,
    /// How long a vote lives without being rewritten (default 3 s).
    pub vote_ttl: Duration,
    /// How many live members must vote before the leader decides (default: a majority).
    pub quorum: Quorum,
    /// Damping of the cluster's recoveries, as the manager damps its own (default none):
    /// the leader applies it to the decided mode.
    pub hysteresis: Option<Hysteresis>,
    /// How long one store operation may take before it counts as failed (default 1 s;
    /// at most the heartbeat interval is used).
    pub command_timeout: Duration,
    /// Refuse a [`prefix`](Self::prefix) without a hash tag (default off). Set it when the
    /// store is a Redis Cluster.
    pub require_hash_tag: bool,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            instance_id: None,
            prefix: KeySpace::DEFAULT_PREFIX.to_owned(),
            lease_ttl: Duration::from_secs(10),
            heartbeat_interval: Duration::from_secs(1),
            vote_ttl: Duration::from_secs(3),
            quorum: Quorum::Majority,
            hysteresis: None,
            command_timeout: Duration::from_secs(1),
            require_hash_tag: false,
        }
    }
}

impl ClusterConfig {
    /// How long a heartbeat lives: three heartbeat intervals. An instance whose
    /// heartbeat is older is no member, and one that could not write its heartbeat for
    /// that long cascades locally.
    #[must_use]
    pub fn member_ttl(&self) -> Duration {
        self.heartbeat_interval.saturating_mul(3)
    }

    /// The time one store operation gets: [`command_timeout`](Self::command_timeout),
    /// at most the heartbeat interval.
    #[must_use]
    pub fn effective_command_timeout(&self) -> Duration {
        self.command_timeout.min(self.heartbeat_interval)
    }

    /// Checks every setting: durations positive and whole milliseconds at least 1 ms,
    /// the lease at least two heartbeats long, votes outliving a heartbeat, a valid
    /// instance id and prefix.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming the setting.
    pub fn validate(&self) -> Result<()> {
        for (key, value) in [
            ("lease_ttl", self.lease_ttl),
            ("heartbeat_interval", self.heartbeat_interval),
            ("vote_ttl", self.vote_ttl),
            ("command_timeout", self.command_timeout),
        ] {
            if value < Duration::from_millis(1) {
                return Err(Error::config(key, "must be at least 1 ms"));
            }
            if value > Duration::from_secs(24 * 3600) {
                return Err(Error::config(key, "must be at most 24 hours"));
            }
        }
        if self.lease_ttl < self.heartbeat_interval.saturating_mul(2) {
            return Err(Error::config(
                "lease_ttl",
                "must be at least two heartbeat intervals, so a leader renews it before it ends",
            ));
        }
        if self.vote_ttl <= self.heartbeat_interval {
            return Err(Error::config(
                "vote_ttl",
                "must be longer than the heartbeat interval, or votes lapse between heartbeats",
            ));
        }
        if let Some(id) = &self.instance_id {
            validate_instance_id(id)?;
        }
        let keys = KeySpace::new(&self.prefix)?;
        if self.require_hash_tag && keys.hash_tag().is_none() {
            return Err(Error::config(
                "prefix",
                format!(
                    "{:?} has no hash tag: on a Redis Cluster write it as {{{}}}",
                    self.prefix, self.prefix
                ),
            ));
        }
        Ok(())
    }
}

/// Checks an instance id: 1 to 128 characters, none of them `:` (the original takes the
/// id from the last `:`-separated part of a key), whitespace, a control character or a
/// glob character.
pub(crate) fn validate_instance_id(id: &str) -> Result<()> {
    if id.is_empty() || id.chars().count() > 128 {
        return Err(Error::config(
            "instance_id",
            "must be 1 to 128 characters long",
        ));
    }
    if let Some(bad) = id.chars().find(|&c| !id_char_allowed(c)) {
        return Err(Error::config(
            "instance_id",
            format!("{id:?} holds {bad:?}: no `:`, whitespace, control or glob characters"),
        ));
    }
    Ok(())
}

fn id_char_allowed(c: char) -> bool {
    !(c == ':' || c.is_whitespace() || c.is_control() || matches!(c, '*' | '?' | '[' | ']' | '\\'))
}

/// An instance id made of the host name, the process id and a random suffix, such as
/// `web-7f9c-4242-1a2b3c`: unique across restarts and hosts. Characters an id may not hold
/// become `-`.
#[must_use]
pub fn default_instance_id() -> String {
    let host: String = host_name()
        .chars()
        .map(|c| if id_char_allowed(c) { c } else { '-' })
        .take(64)
        .collect();
    let host = if host.is_empty() {
        "host".to_owned()
    } else {
        host
    };
    format!(
        "{host}-{}-{:06x}",
        std::process::id(),
        random_u64() & 0xff_ffff
    )
}

#[cfg(unix)]
fn host_name() -> String {
    rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned()
}

#[cfg(not(unix))]
fn host_name() -> String {
    std::env::var("COMPUTERNAME")
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_bad_settings_name_their_key() {
        ClusterConfig::default().validate().unwrap();
        fn check(change: impl FnOnce(&mut ClusterConfig), key: &str) {
            let mut config = ClusterConfig::default();
            change(&mut config);
            match config.validate() {
                Err(Error::Config { key: got, .. }) => assert_eq!(got, key),
                other => panic!("expected a config error on {key}, got {other:?}"),
            }
        }
        check(|c| c.lease_ttl = Duration::ZERO, "lease_ttl");
        check(|c| c.lease_ttl = Duration::from_millis(1500), "lease_ttl");
        check(
            |c| c.heartbeat_interval = Duration::from_micros(10),
            "heartbeat_interval",
        );
        check(|c| c.vote_ttl = Duration::from_secs(1), "vote_ttl");
        check(|c| c.instance_id = Some(String::new()), "instance_id");
        check(|c| c.instance_id = Some("a:b".into()), "instance_id");
        check(|c| c.instance_id = Some("a b".into()), "instance_id");
        check(|c| c.instance_id = Some("web-*".into()), "instance_id");
        check(|c| c.prefix = String::new(), "prefix");
        check(|c| c.require_hash_tag = true, "prefix");
        let mut tagged = ClusterConfig {
            prefix: "{astra}".into(),
            require_hash_tag: true,
            ..ClusterConfig::default()
        };
        tagged.validate().unwrap();
        tagged.prefix = "{}astra".into();
        assert!(tagged.validate().is_err());
    }

    #[test]
    fn the_default_instance_id_is_a_valid_unique_id() {
        let first = default_instance_id();
        let second = default_instance_id();
        validate_instance_id(&first).unwrap();
        assert_ne!(first, second);
        assert!(
            first.contains(&format!("-{}-", std::process::id())),
            "{first}"
        );
    }

    #[test]
    fn quorum_counts() {
        assert_eq!(Quorum::Majority.needed(1), 1);
        assert_eq!(Quorum::Majority.needed(2), 2);
        assert_eq!(Quorum::Majority.needed(3), 2);
        assert_eq!(Quorum::Count(0).needed(3), 1);
        assert_eq!(Quorum::Count(4).needed(3), 4);
        assert_eq!(Quorum::Majority.to_string(), "majority");
    }
}
