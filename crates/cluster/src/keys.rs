use crate::{Error, Result};

/// The names of every key and the channel the protocol uses, under one prefix `P`
/// (default `astra`, the original's):
///
/// | Key | Holds | Expiry |
/// |-----|-------|--------|
/// | `P:resilience:leader` | the leader's instance id (the original's key and value) | the lease |
/// | `P:resilience:lease` | the epoch of the current lease | the lease |
/// | `P:resilience:epoch` | the epoch counter | never |
/// | `P:resilience:decision` | the versioned decision record (JSON) | never |
/// | `P:resilience:override` | an operator's pending override or hold (JSON) | the hold's |
/// | `P:resilience:members` | the members index: id → expiry, server time (sorted set) | never; cleaned by the leader |
/// | `P:resilience:vote:{id}` | an instance's vote (the original's JSON, with `timestamp`) | the vote TTL |
/// | `P:health:{id}` | an instance's heartbeat (JSON with `timestamp`) | three heartbeats |
/// | channel `P:resilience:state` | hints: decisions and operator requests (JSON) | |
///
/// The first six are touched together by scripts: on a Redis Cluster, `P` must hold a
/// hash tag such as `{astra}` (only the first `{…}` of a key is hashed), which puts
/// every key above in one slot.
///
/// ```
/// use cluster::KeySpace;
///
/// let keys = KeySpace::new("{astra}")?;
/// assert_eq!(keys.leader(), "{astra}:resilience:leader");
/// assert_eq!(keys.vote("web-1"), "{astra}:resilience:vote:web-1");
/// assert_eq!(keys.hash_tag(), Some("astra"));
/// assert_eq!(KeySpace::new("astra")?.hash_tag(), None);
/// # Ok::<(), cluster::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySpace {
    prefix: String,
    leader: String,
    lease: String,
    epoch: String,
    decision: String,
    override_request: String,
    members: String,
    vote_prefix: String,
    health_prefix: String,
    channel: String,
}

impl KeySpace {
    /// The original's prefix.
    pub const DEFAULT_PREFIX: &'static str = "astra";

    /// The keys under `prefix`.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] (key `prefix`) when `prefix` is empty, holds whitespace, a
    /// control character or a glob character (`*?[]\`, which would make the original's
    /// `SCAN` patterns match other keys), or ends with `:`.
    pub fn new(prefix: &str) -> Result<Self> {
        if prefix.is_empty() {
            return Err(Error::config("prefix", "must not be empty"));
        }
        if let Some(bad) = prefix.chars().find(|&c| {
            c.is_whitespace() || c.is_control() || matches!(c, '*' | '?' | '[' | ']' | '\\')
        }) {
            return Err(Error::config(
                "prefix",
                format!("{prefix:?} holds {bad:?}: no whitespace, control or glob characters"),
            ));
        }
        if prefix.ends_with(':') {
            return Err(Error::config(
                "prefix",
                format!("{prefix:?} must not end with `:` (it is added)"),
            ));
        }
        Ok(Self::build(prefix))
    }

    fn build(prefix: &str) -> Self {
        let resilience = format!("{prefix}:resilience:");
        Self {
            prefix: prefix.to_owned(),
            leader: format!("{resilience}leader"),
            lease: format!("{resilience}lease"),
            epoch: format!("{resilience}epoch"),
            decision: format!("{resilience}decision"),
            override_request: format!("{resilience}override"),
            members: format!("{resilience}members"),
            vote_prefix: format!("{resilience}vote:"),
            health_prefix: format!("{prefix}:health:"),
            channel: format!("{resilience}state"),
        }
    }

    /// The prefix.
    #[must_use]
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The hash tag of the prefix (the text between its first `{` and the next `}`, if
    /// not empty), which decides the slot of every key on a Redis Cluster.
    #[must_use]
    pub fn hash_tag(&self) -> Option<&str> {
        let open = self.prefix.find('{')?;
        let rest = &self.prefix[open + 1..];
        let close = rest.find('}')?;
        (close > 0).then(|| &rest[..close])
    }

    /// `P:resilience:leader`: the leader's instance id.
    #[must_use]
    pub fn leader(&self) -> &str {
        &self.leader
    }

    /// `P:resilience:lease`: the epoch of the current lease.
    #[must_use]
    pub fn lease(&self) -> &str {
        &self.lease
    }

    /// `P:resilience:epoch`: the epoch counter.
    #[must_use]
    pub fn epoch(&self) -> &str {
        &self.epoch
    }

    /// `P:resilience:decision`: the decision record.
    #[must_use]
    pub fn decision(&self) -> &str {
        &self.decision
    }

    /// `P:resilience:override`: the operator's pending request.
    #[must_use]
    pub fn override_request(&self) -> &str {
        &self.override_request
    }

    /// `P:resilience:members`: the members index.
    #[must_use]
    pub fn members(&self) -> &str {
        &self.members
    }

    /// `P:resilience:vote:` — the vote keys' common start (the original's
    /// `get_cluster_votes` prefix, plus `:`).
    #[must_use]
    pub fn vote_prefix(&self) -> &str {
        &self.vote_prefix
    }

    /// `P:resilience:vote:{id}`.
    #[must_use]
    pub fn vote(&self, id: &str) -> String {
        format!("{}{id}", self.vote_prefix)
    }

    /// `P:health:` — the heartbeat keys' common start.
    #[must_use]
    pub fn health_prefix(&self) -> &str {
        &self.health_prefix
    }

    /// `P:health:{id}`: an instance's heartbeat.
    #[must_use]
    pub fn health(&self, id: &str) -> String {
        format!("{}{id}", self.health_prefix)
    }

    /// `P:resilience:state`: the channel of hints.
    #[must_use]
    pub fn channel(&self) -> &str {
        &self.channel
    }
}

impl Default for KeySpace {
    /// The keys under [`KeySpace::DEFAULT_PREFIX`].
    fn default() -> Self {
        Self::build(Self::DEFAULT_PREFIX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_original_key_names_under_the_default_prefix() {
        let keys = KeySpace::default();
        assert_eq!(keys.leader(), "astra:resilience:leader");
        assert_eq!(
            keys.vote("astra-1a2b3c4d"),
            "astra:resilience:vote:astra-1a2b3c4d"
        );
        assert_eq!(keys.health("astra-1a2b3c4d"), "astra:health:astra-1a2b3c4d");
        assert_eq!(keys.channel(), "astra:resilience:state");
        assert_eq!(keys.lease(), "astra:resilience:lease");
        assert_eq!(keys.epoch(), "astra:resilience:epoch");
        assert_eq!(keys.decision(), "astra:resilience:decision");
        assert_eq!(keys.override_request(), "astra:resilience:override");
        assert_eq!(keys.members(), "astra:resilience:members");
    }

    #[test]
    fn hash_tags_follow_redis_cluster_rules() {
        fn check(prefix: &str, expected: Option<&str>) {
            assert_eq!(
                KeySpace::new(prefix).unwrap().hash_tag(),
                expected,
                "{prefix}"
            );
        }
        check("{astra}", Some("astra"));
        check("app:{astra}", Some("astra"));
        check("{a}{b}", Some("a"));
        check("{}astra", None);
        check("astra", None);
        check("{astra", None);
    }

    #[test]
    fn refuses_prefixes_that_break_patterns() {
        for bad in ["", "a b", "a*", "a?", "a[", "a\\", "astra:"] {
            assert!(KeySpace::new(bad).is_err(), "{bad:?}");
        }
    }
}
