//! The `cluster` section: the seed nodes of a Redis Cluster.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::url::redact_url;

/// Where to find a Redis Cluster (feature `cluster`).
///
/// ```
/// use storage_redis::RedisConfig;
///
/// let config = RedisConfig::from_value(serde_json::json!({
///     "cluster": {
///         "nodes": ["redis://:secret@10.0.0.1:7000", "redis://:secret@10.0.0.2:7000"],
///     },
/// }));
/// # #[cfg(feature = "cluster")]
/// # config.unwrap();
/// ```
///
/// The seed nodes are any of the cluster's nodes; the adapter learns the rest, and which
/// node owns which slot, from them. Each command goes to the master owning its key's
/// slot, following `MOVED` and `ASK` redirects while slots move; `keys` scans every master.
/// Keys with a common `{hash tag}` share a slot (a [key prefix](crate::RedisConfig::key_prefix)
/// with braces would put every key in one slot). `rediss://` nodes mean TLS, with the
/// certificates of the `tls` section; every node then needs a certificate naming the
/// address the cluster announces for it. `redis_url` and `pool_size` do not apply, and a
/// cluster has only database 0.
///
/// `Debug` shows the node URLs without their passwords.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct ClusterConfig {
    /// Seed nodes as `redis://[user:password@]host:port` (or `rediss://`) URLs, at least
    /// one; all with the same credentials and scheme.
    pub nodes: Vec<String>,
}

impl ClusterConfig {
    /// A cluster reached through the seed `nodes` (URLs).
    #[must_use]
    pub fn new(nodes: Vec<String>) -> Self {
        Self { nodes }
    }

    /// The seed nodes, without passwords, for messages.
    pub(crate) fn target(&self) -> String {
        let nodes: Vec<String> = self.nodes.iter().map(|url| redact_url(url)).collect();
        format!("cluster {}", nodes.join(","))
    }
}

impl fmt::Debug for ClusterConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nodes: Vec<String> = self.nodes.iter().map(|url| redact_url(url)).collect();
        f.debug_struct("ClusterConfig")
            .field("nodes", &nodes)
            .finish()
    }
}
