//! The original's `RedisClient` (`backend.redis_client`), method for method, on the
//! coordinator's keys and payloads, so a replica still running the original and one
//! running this crate share one Redis during a migration.
//!
//! Its semantics are the original's: every call returns a neutral value (`false`,
//! `None`, an empty map, `0`) when the client is not connected or the call fails, and
//! logs why. Two deliberate differences: a failed [`RedisClient::health_check`] does not
//! disconnect the client for good (the original never reconnected), and
//! [`RedisClient::publish_health`] also adds the instance to the members index, so the
//! coordinators count it as a member.
//!
//! New code uses [`Coordinator`](crate::Coordinator), whose leader holds a fenced lease:
//! a leader elected here holds the original's unfenced one, and coordinators then follow
//! no leader of theirs (they cascade locally) until its key expires. Replicas still
//! running the original write votes and health without the members index: their
//! `get_cluster_votes` sees every vote, but a coordinator's leader counts only members
//! (this client's [`RedisClient::publish_health`] makes one).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ::redis::aio::MultiplexedConnection;
use ::redis::{RedisResult, Script};
use futures_util::StreamExt;
use serde_json::{Map, Value};
use storage_redis::RedisConfig;
use tokio::sync::mpsc;

use crate::record::now_rfc3339;
use crate::store::Connection;
use crate::{KeySpace, Result};

/// How many messages wait for a slow [`Subscription`] reader before new ones are dropped.
const MESSAGE_BUFFER: usize = 256;

/// The original's distributed-coordination client. See the [module documentation](self).
///
/// ```no_run
/// # #[tokio::main]
/// # async fn main() -> Result<(), cluster::Error> {
/// use cluster::legacy::RedisClient;
/// use serde_json::json;
///
/// let client = RedisClient::new("redis://127.0.0.1:6379/0")?;
/// if client.connect().await {
///     let leader = client.leader_election("astra-1a2b3c4d", RedisClient::DEFAULT_LEADER_TTL).await;
///     client.register_vote("astra-1a2b3c4d", &json!({"fallback_mode": "primary"}), 30).await;
///     println!("leader: {leader}, votes: {:?}", client.get_cluster_votes(None).await);
/// }
/// # Ok(())
/// # }
/// ```
pub struct RedisClient {
    connection: Connection,
    keys: KeySpace,
    renew: Script,
    health: Script,
    connected: AtomicBool,
}

impl RedisClient {
    /// The original's leader TTL, in seconds.
    pub const DEFAULT_LEADER_TTL: u64 = 30;
    /// The original's vote TTL, in seconds.
    pub const DEFAULT_VOTE_TTL: u64 = 30;
    /// The original's health TTL, in seconds.
    pub const DEFAULT_HEALTH_TTL: u64 = 60;
    /// The original's state channel under the default prefix.
    pub const STATE_CHANNEL: &'static str = "astra:resilience:state";

    /// A client for `redis_url` (the original's constructor), not yet connected.
    ///
    /// # Errors
    ///
    /// [`Error::RedisConfig`](crate::Error::RedisConfig) if the URL cannot be used.
    pub fn new(redis_url: impl Into<String>) -> Result<Self> {
        Self::from_config(RedisConfig::new(redis_url), KeySpace::default())
    }

    /// A client for `config` (timeout, retries and backoff apply to every call), on the
    /// keys under `keys`' prefix.
    ///
    /// # Errors
    ///
    /// [`Error::RedisConfig`](crate::Error::RedisConfig) if `config` does not validate.
    pub fn from_config(config: RedisConfig, keys: KeySpace) -> Result<Self> {
        let connection = Connection::new(config)?;
        connection.close();
        Ok(Self {
            connection,
            keys,
            renew: Script::new(include_str!("scripts/legacy_renew.lua")),
            health: Script::new(include_str!("scripts/legacy_health.lua")),
            connected: AtomicBool::new(false),
        })
    }

    /// The keys in use.
    #[must_use]
    pub const fn keys(&self) -> &KeySpace {
        &self.keys
    }

    /// Whether [`connect`](Self::connect) succeeded (and [`close`](Self::close) has not
    /// been called since).
    #[must_use]
    pub fn connected(&self) -> bool {
        self.connected.load(Ordering::Acquire)
    }

    /// Connects and `PING`s; whether it worked.
    pub async fn connect(&self) -> bool {
        self.connection.open();
        let ok = self.ping().await;
        self.connected.store(ok, Ordering::Release);
        if !ok {
            self.connection.close();
        }
        ok
    }

    /// Closes the connection; every call returns its neutral value until
    /// [`connect`](Self::connect).
    pub async fn close(&self) {
        self.connected.store(false, Ordering::Release);
        self.connection.close();
    }

    /// Tries to become leader: `SET P:resilience:leader <instance_id> NX EX ttl`.
    pub async fn leader_election(&self, instance_id: &str, ttl: u64) -> bool {
        if !self.ready("leader_election") {
            return false;
        }
        let key = self.keys.leader();
        let set = self
            .connection
            .run("leader_election", |mut connection| async move {
                ::redis::cmd("SET")
                    .arg(key)
                    .arg(instance_id)
                    .arg("NX")
                    .arg("EX")
                    .arg(ttl.max(1))
                    .query_async::<Option<String>>(&mut connection)
                    .await
            })
            .await;
        let elected = log_failure("leader_election", set).flatten().is_some();
        if elected {
            tracing::info!(instance_id, ttl, "elected as leader (legacy client)");
        }
        elected
    }

    /// Renews the leader key's TTL if `instance_id` holds it (the original's Lua
    /// compare-and-expire).
    pub async fn renew_leadership(&self, instance_id: &str, ttl: u64) -> bool {
        if !self.ready("renew_leadership") {
            return false;
        }
        let mut invocation = self.renew.key(self.keys.leader());
        invocation.arg(instance_id).arg(ttl.max(1));
        let renewed = self
            .connection
            .run_with_retries("renew_leadership", |mut connection| {
                let invocation = &invocation;
                async move { invocation.invoke_async::<i64>(&mut connection).await }
            })
            .await;
        log_failure("renew_leadership", renewed) == Some(1)
    }

    /// The leader's instance id, if there is a leader.
    pub async fn get_leader(&self) -> Option<String> {
        if !self.ready("get_leader") {
            return None;
        }
        let key = self.keys.leader();
        let leader = self
            .connection
            .run_with_retries("get_leader", |mut connection| async move {
                ::redis::cmd("GET")
                    .arg(key)
                    .query_async::<Option<String>>(&mut connection)
                    .await
            })
            .await;
        log_failure("get_leader", leader).flatten()
    }

    /// `PUBLISH channel json(state)`; the number of subscribers that received it.
    pub async fn publish_state(&self, channel: &str, state: &Value) -> u64 {
        if !self.ready("publish_state") {
            return 0;
        }
        let payload = state.to_string();
        let payload = payload.as_str();
        let received = self
            .connection
            .run("publish_state", |mut connection| async move {
                ::redis::cmd("PUBLISH")
                    .arg(channel)
                    .arg(payload)
                    .query_async::<u64>(&mut connection)
                    .await
            })
            .await;
        log_failure("publish_state", received).unwrap_or(0)
    }

    /// Stores `vote` (a JSON object; a `timestamp` is added) under
    /// `P:resilience:vote:{instance_id}` for `ttl` seconds.
    pub async fn register_vote(&self, instance_id: &str, vote: &Value, ttl: u64) -> bool {
        if !self.ready("register_vote") {
            return false;
        }
        let Some(payload) = stamped("register_vote", vote) else {
            return false;
        };
        self.set("register_vote", &self.keys.vote(instance_id), &payload, ttl)
            .await
    }

    /// Every vote under `{prefix}:*` (default `P:resilience:vote`), by instance id (the
    /// last `:`-separated part of the key).
    pub async fn get_cluster_votes(&self, prefix: Option<&str>) -> BTreeMap<String, Value> {
        if !self.ready("get_cluster_votes") {
            return BTreeMap::new();
        }
        let default = self.keys.vote_prefix().trim_end_matches(':');
        let pattern = format!("{}:*", prefix.unwrap_or(default));
        self.scan_values("get_cluster_votes", &pattern).await
    }

    /// Stores `health` (a JSON object; a `timestamp` is added) under
    /// `P:health:{instance_id}` for `ttl` seconds, and lists the instance as a member
    /// for as long.
    pub async fn publish_health(&self, instance_id: &str, health: &Value, ttl: u64) -> bool {
        if !self.ready("publish_health") {
            return false;
        }
        let Some(payload) = stamped("publish_health", health) else {
            return false;
        };
        let mut invocation = self.health.key(self.keys.health(instance_id));
        invocation
            .key(self.keys.members())
            .arg(instance_id)
            .arg(payload)
            .arg(ttl.max(1).saturating_mul(1000));
        let stored = self
            .connection
            .run_with_retries("publish_health", |mut connection| {
                let invocation = &invocation;
                async move { invocation.invoke_async::<i64>(&mut connection).await }
            })
            .await;
        log_failure("publish_health", stored) == Some(1)
    }

    /// The health `instance_id` last published, if still there.
    pub async fn get_instance_health(&self, instance_id: &str) -> Option<Value> {
        if !self.ready("get_instance_health") {
            return None;
        }
        let key = self.keys.health(instance_id);
        let key = key.as_str();
        let text = self
            .connection
            .run_with_retries("get_instance_health", |mut connection| async move {
                ::redis::cmd("GET")
                    .arg(key)
                    .query_async::<Option<String>>(&mut connection)
                    .await
            })
            .await;
        log_failure("get_instance_health", text)
            .flatten()
            .map(|text| decode(&text))
    }

    /// Every instance's published health, by instance id.
    pub async fn get_all_instance_health(&self) -> BTreeMap<String, Value> {
        if !self.ready("get_all_instance_health") {
            return BTreeMap::new();
        }
        let pattern = format!("{}*", self.keys.health_prefix());
        self.scan_values("get_all_instance_health", &pattern).await
    }

    /// Deletes every vote under `{prefix}:*` (default `P:resilience:vote`), as the
    /// original does (expired votes are gone already; this clears live ones too); how
    /// many.
    pub async fn clear_stale_votes(&self, prefix: Option<&str>) -> u64 {
        if !self.ready("clear_stale_votes") {
            return 0;
        }
        let default = self.keys.vote_prefix().trim_end_matches(':');
        let pattern = format!("{}:*", prefix.unwrap_or(default));
        let Some(keys) = log_failure(
            "clear_stale_votes",
            self.scan("clear_stale_votes", &pattern).await,
        ) else {
            return 0;
        };
        if keys.is_empty() {
            return 0;
        }
        let keys = &keys;
        let deleted = self
            .connection
            .run_with_retries("clear_stale_votes", |mut connection| async move {
                ::redis::cmd("DEL")
                    .arg(keys)
                    .query_async::<u64>(&mut connection)
                    .await
            })
            .await;
        log_failure("clear_stale_votes", deleted).unwrap_or(0)
    }

    /// A subscription to `channel`: its messages, JSON-decoded where they are JSON.
    pub async fn subscribe_to_channel(&self, channel: &str) -> Option<Subscription> {
        if !self.ready("subscribe_to_channel") {
            return None;
        }
        let pubsub = log_failure(
            "subscribe_to_channel",
            self.connection.subscribe(channel).await,
        )?;
        let (sender, receiver) = mpsc::channel(MESSAGE_BUFFER);
        tokio::spawn(async move {
            let (_sink, mut stream) = pubsub.split();
            loop {
                tokio::select! {
                    biased;
                    () = sender.closed() => return,
                    message = stream.next() => {
                        let Some(message) = message else { return };
                        let payload = String::from_utf8_lossy(message.get_payload_bytes());
                        if let Err(mpsc::error::TrySendError::Closed(_)) = sender.try_send(decode(&payload)) {
                            return;
                        }
                    }
                }
            }
        });
        Some(Subscription { receiver })
    }

    /// `PING`; whether the server answered. Updates [`connected`](Self::connected).
    pub async fn health_check(&self) -> bool {
        if !self.ready("health_check") {
            return false;
        }
        let ok = self.ping().await;
        self.connected.store(ok, Ordering::Release);
        ok
    }

    async fn ping(&self) -> bool {
        let pong = self
            .connection
            .run_with_retries("ping", |mut connection| async move {
                ::redis::cmd("PING")
                    .query_async::<String>(&mut connection)
                    .await
            })
            .await;
        log_failure("ping", pong).is_some_and(|pong| pong == "PONG")
    }

    fn ready(&self, operation: &'static str) -> bool {
        let connected = self.connected();
        if !connected {
            tracing::warn!(operation, "redis client not connected");
        }
        connected
    }

    async fn set(&self, operation: &'static str, key: &str, payload: &str, ttl: u64) -> bool {
        let set = self
            .connection
            .run_with_retries(operation, |mut connection| async move {
                ::redis::cmd("SET")
                    .arg(key)
                    .arg(payload)
                    .arg("EX")
                    .arg(ttl.max(1))
                    .query_async::<Option<String>>(&mut connection)
                    .await
            })
            .await;
        log_failure(operation, set).flatten().is_some()
    }

    async fn scan(&self, operation: &'static str, pattern: &str) -> Result<Vec<String>> {
        let count = self.connection.config().scan_count;
        self.connection
            .run_with_retries(operation, |mut connection| async move {
                scan_all(&mut connection, pattern, count).await
            })
            .await
    }

    async fn scan_values(&self, operation: &'static str, pattern: &str) -> BTreeMap<String, Value> {
        let Some(keys) = log_failure(operation, self.scan(operation, pattern).await) else {
            return BTreeMap::new();
        };
        if keys.is_empty() {
            return BTreeMap::new();
        }
        let keys = &keys;
        let values = self
            .connection
            .run_with_retries(operation, |mut connection| async move {
                ::redis::cmd("MGET")
                    .arg(keys)
                    .query_async::<Vec<Option<String>>>(&mut connection)
                    .await
            })
            .await;
        let Some(values) = log_failure(operation, values) else {
            return BTreeMap::new();
        };
        keys.iter()
            .zip(values)
            .filter_map(|(key, value)| {
                let id = key.rsplit(':').next()?.to_owned();
                Some((id, decode(&value?)))
            })
            .collect()
    }
}

impl fmt::Debug for RedisClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisClient")
            .field("target", &self.connection.target())
            .field("prefix", &self.keys.prefix())
            .field("connected", &self.connected())
            .finish_non_exhaustive()
    }
}

/// Messages of a channel, from [`RedisClient::subscribe_to_channel`].
#[derive(Debug)]
pub struct Subscription {
    receiver: mpsc::Receiver<Value>,
}

impl Subscription {
    /// The next message (JSON-decoded, else a string), `None` once the subscription has
    /// ended (its connection closed).
    pub async fn next(&mut self) -> Option<Value> {
        self.receiver.recv().await
    }

    /// The next message, or `None` if none arrives within `timeout` or the subscription
    /// ended.
    pub async fn next_within(&mut self, timeout: Duration) -> Option<Value> {
        tokio::time::timeout(timeout, self.receiver.recv())
            .await
            .ok()
            .flatten()
    }
}

/// Every key `SCAN` finds for `pattern`.
async fn scan_all(
    connection: &mut MultiplexedConnection,
    pattern: &str,
    count: usize,
) -> RedisResult<Vec<String>> {
    let mut keys = Vec::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, page): (u64, Vec<String>) = ::redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(count)
            .query_async(connection)
            .await?;
        keys.extend(page);
        if next == 0 {
            keys.sort();
            keys.dedup();
            return Ok(keys);
        }
        cursor = next;
    }
}

/// `document` with a `timestamp` added, as JSON text; `None` (logged) if it is not a JSON
/// object.
fn stamped(operation: &'static str, document: &Value) -> Option<String> {
    let Value::Object(fields) = document else {
        tracing::error!(operation, "expected a JSON object");
        return None;
    };
    let mut fields: Map<String, Value> = fields.clone();
    fields.insert("timestamp".to_owned(), Value::String(now_rfc3339()));
    Some(Value::Object(fields).to_string())
}

/// A stored value as the original read it: JSON if it parses, else the string.
fn decode(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

fn log_failure<T>(operation: &'static str, result: Result<T>) -> Option<T> {
    result
        .inspect_err(|error| tracing::error!(operation, %error, "redis client call failed"))
        .ok()
}
