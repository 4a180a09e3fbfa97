use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ::redis::aio::{MultiplexedConnection, PubSub};
use ::redis::{AsyncConnectionConfig, Client, RedisError, RedisResult, Script, Value};
use async_trait::async_trait;
use futures_util::StreamExt;
use storage_redis::RedisConfig;
use tokio::sync::mpsc;

use super::{
    Acquire, Beat, ClusterStore, Hint, Hints, LEASE_HINT, Observation, Publication, Publish,
    RELEASE_HINT, Refusal,
};
use crate::record::{Decision, Member, OverrideRequest, parse_heartbeat, parse_vote};
use crate::util::millis;
use crate::util::random_u64;
use crate::{Error, KeySpace, Result};

/// How many hints wait for a slow subscriber before new ones are dropped (a dropped hint
/// costs at most one heartbeat of delay: the record is read at every heartbeat).
const HINT_BUFFER: usize = 64;

/// The [`ClusterStore`] on Redis: every operation is one Lua script (EVALSHA, loaded
/// again after a server restart), under the keys of a [`KeySpace`].
///
/// - **One multiplexed connection** carries every command; it is replaced when it breaks
///   or stops answering, so a restarted server is used again without reconnecting by
///   hand. Pub/sub gets a connection of its own per subscription.
/// - **Bounded time**: each operation runs once under [`RedisConfig::timeout`] (the
///   coordinator bounds it further and retries at its next heartbeat; there are no
///   retries here, which would only make a lease decision later).
/// - Built from a [`RedisConfig`] (the `storage-redis` settings: URL, password,
///   timeout); its `key_prefix` does not apply, the keys live under the cluster's prefix.
///
/// Correct on one Redis server (or a primary that does not lose acknowledged writes on
/// failover): the lease and the epoch live there. A server restarted without
/// persistence loses them; the protocol then recovers (the epoch restarts above every
/// epoch the replicas have seen, the leader writes the record and any hold again).
///
/// ```no_run
/// # #[tokio::main]
/// # async fn main() -> Result<(), cluster::Error> {
/// use cluster::{ClusterStore, KeySpace, RedisStore};
/// use storage_redis::RedisConfig;
///
/// let store = RedisStore::new(RedisConfig::new("redis://127.0.0.1:6379/0"), KeySpace::default())?;
/// println!("decision: {:?}", store.read_decision().await?);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RedisStore {
    connection: Connection,
    keys: KeySpace,
    scripts: Arc<Scripts>,
}

struct Scripts {
    acquire: Script,
    heartbeat: Script,
    decide: Script,
    release: Script,
    operator: Script,
}

impl Scripts {
    fn new() -> Self {
        Self {
            acquire: Script::new(include_str!("../scripts/acquire.lua")),
            heartbeat: Script::new(include_str!("../scripts/heartbeat.lua")),
            decide: Script::new(include_str!("../scripts/decide.lua")),
            release: Script::new(include_str!("../scripts/release.lua")),
            operator: Script::new(include_str!("../scripts/override.lua")),
        }
    }
}

impl RedisStore {
    /// A store on the server `config` names, under `keys`. Connects lazily.
    ///
    /// # Errors
    ///
    /// [`Error::RedisConfig`] if `config` does not validate.
    pub fn new(config: RedisConfig, keys: KeySpace) -> Result<Self> {
        Ok(Self {
            connection: Connection::new(config)?,
            keys,
            scripts: Arc::new(Scripts::new()),
        })
    }

    /// The keys in use.
    #[must_use]
    pub const fn keys(&self) -> &KeySpace {
        &self.keys
    }

    /// Closes the connection; the next operation opens a new one.
    pub fn close(&self) {
        self.connection.reset();
    }
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("target", &self.connection.target())
            .field("prefix", &self.keys.prefix())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl ClusterStore for RedisStore {
    async fn heartbeat(&self, beat: &Beat) -> Result<Observation> {
        let keys = &self.keys;
        let heartbeat = to_json(&beat.heartbeat)?;
        let vote = match &beat.vote {
            Some(vote) => to_json(vote)?,
            None => String::new(),
        };
        let renew_epoch = beat.renew.map_or(0, |renewal| renewal.epoch);
        let lease_ttl = beat.renew.map_or(1, |renewal| millis(renewal.ttl).max(1));
        let mut invocation = self.scripts.heartbeat.prepare_invoke();
        invocation
            .key(keys.leader())
            .key(keys.lease())
            .key(keys.epoch())
            .key(keys.decision())
            .key(keys.override_request())
            .key(keys.members())
            .key(keys.health(&beat.instance_id))
            .key(keys.vote(&beat.instance_id))
            .arg(&beat.instance_id)
            .arg(heartbeat)
            .arg(millis(beat.member_ttl).max(1))
            .arg(vote)
            .arg(millis(beat.vote_ttl).max(1))
            .arg(renew_epoch)
            .arg(lease_ttl)
            .arg(if beat.list_members { "1" } else { "0" })
            .arg(keys.health_prefix())
            .arg(keys.vote_prefix());
        let reply: Value = self
            .connection
            .run("heartbeat", |mut connection| async move {
                invocation.invoke_async(&mut connection).await
            })
            .await?;
        parse_observation(reply, beat.list_members)
    }

    async fn acquire(&self, instance_id: &str, ttl: Duration, floor: u64) -> Result<Acquire> {
        let keys = &self.keys;
        let mut invocation = self.scripts.acquire.prepare_invoke();
        invocation
            .key(keys.leader())
            .key(keys.lease())
            .key(keys.epoch())
            .key(keys.decision())
            .arg(instance_id)
            .arg(millis(ttl).max(1))
            .arg(floor);
        let (epoch, holder): (u64, String) = self
            .connection
            .run("acquire", |mut connection| async move {
                invocation.invoke_async(&mut connection).await
            })
            .await?;
        Ok(if epoch == 0 {
            Acquire::Held(holder)
        } else {
            Acquire::Granted(epoch)
        })
    }

    async fn step_down(&self, instance_id: &str, epoch: u64) -> Result<bool> {
        let mut invocation = self.scripts.release.prepare_invoke();
        invocation
            .key(self.keys.leader())
            .key(self.keys.lease())
            .arg(instance_id)
            .arg(epoch)
            .arg(self.keys.channel())
            .arg(LEASE_HINT);
        let released: i64 = self
            .connection
            .run("step_down", |mut connection| async move {
                invocation.invoke_async(&mut connection).await
            })
            .await?;
        Ok(released == 1)
    }

    async fn publish(&self, publication: &Publication<'_>) -> Result<Publish> {
        let keys = &self.keys;
        let decision = publication.decision;
        let (restore, restore_ttl) = match publication.restore {
            Some((request, ttl)) => (to_json(request)?, ttl.map_or(0, |ttl| millis(ttl).max(1))),
            None => (String::new(), 0),
        };
        let mut invocation = self.scripts.decide.prepare_invoke();
        invocation
            .key(keys.leader())
            .key(keys.lease())
            .key(keys.decision())
            .key(keys.override_request())
            .arg(&decision.leader)
            .arg(decision.epoch)
            .arg(publication.expected_seq)
            .arg(decision.seq)
            .arg(to_json(decision)?)
            .arg(keys.channel())
            .arg(publication.consume.unwrap_or(""))
            .arg(restore)
            .arg(restore_ttl);
        let (written, detail): (i64, Value) = self
            .connection
            .run("publish", |mut connection| async move {
                invocation.invoke_async(&mut connection).await
            })
            .await?;
        if written == 1 {
            return Ok(Publish::Published(
                int(&detail)
                    .and_then(|n| u64::try_from(n).ok())
                    .unwrap_or(0),
            ));
        }
        let why = string(&detail).unwrap_or_default();
        Refusal::parse(&why)
            .map(Publish::Refused)
            .ok_or_else(|| Error::protocol("decide reply", format!("unknown refusal {why:?}")))
    }

    async fn read_decision(&self) -> Result<Option<Decision>> {
        let key = self.keys.decision();
        let text: Option<String> = self
            .connection
            .run("read_decision", |mut connection| async move {
                ::redis::cmd("GET")
                    .arg(key)
                    .query_async(&mut connection)
                    .await
            })
            .await?;
        Ok(text.as_deref().and_then(parse_decision))
    }

    async fn members(&self) -> Result<Vec<Member>> {
        // A heartbeat-free listing: the same script would write a heartbeat, so this reads
        // the index and the keys directly.
        let keys = self.keys.clone();
        let listed: Vec<(String, Option<String>, Option<String>)> = self
            .connection
            .run("members", |mut connection| {
                let keys = keys.clone();
                async move { list_members(&mut connection, &keys).await }
            })
            .await?;
        Ok(listed
            .into_iter()
            .filter_map(|(id, heartbeat, vote)| {
                let heartbeat = parse_heartbeat(&id, heartbeat.as_deref()?);
                let vote = vote.as_deref().and_then(parse_vote);
                Some(Member::new(id, heartbeat, vote))
            })
            .collect())
    }

    async fn request(&self, request: &OverrideRequest, ttl: Option<Duration>) -> Result<()> {
        let json = to_json(request)?;
        let mut invocation = self.scripts.operator.prepare_invoke();
        invocation
            .key(self.keys.override_request())
            .arg("set")
            .arg(&json)
            .arg(ttl.map_or(0, |ttl| millis(ttl).max(1)))
            .arg(self.keys.channel())
            .arg(&json);
        let _set: i64 = self
            .connection
            .run("request", |mut connection| async move {
                invocation.invoke_async(&mut connection).await
            })
            .await?;
        Ok(())
    }

    async fn clear_request(&self) -> Result<bool> {
        let mut invocation = self.scripts.operator.prepare_invoke();
        invocation
            .key(self.keys.override_request())
            .arg("clear")
            .arg("")
            .arg(0)
            .arg(self.keys.channel())
            .arg(RELEASE_HINT);
        let deleted: i64 = self
            .connection
            .run("clear_request", |mut connection| async move {
                invocation.invoke_async(&mut connection).await
            })
            .await?;
        Ok(deleted > 0)
    }

    async fn subscribe(&self) -> Result<Hints> {
        let pubsub = self.connection.subscribe(self.keys.channel()).await?;
        let (sender, receiver) = mpsc::channel(HINT_BUFFER);
        tokio::spawn(forward_hints(pubsub, sender));
        Ok(Hints::new(receiver))
    }
}

/// Moves this protocol's hints from `pubsub` to `sender` until either side ends.
async fn forward_hints(pubsub: PubSub, sender: mpsc::Sender<Hint>) {
    // The sink is kept: dropping it could end the connection's driver.
    let (_sink, mut stream) = pubsub.split();
    loop {
        tokio::select! {
            biased;
            () = sender.closed() => return,
            message = stream.next() => {
                let Some(message) = message else { return };
                let Some(hint) = Hint::parse(message.get_payload_bytes()) else { continue };
                if let Err(mpsc::error::TrySendError::Closed(_)) = sender.try_send(hint) {
                    return;
                }
            }
        }
    }
}

async fn list_members(
    connection: &mut MultiplexedConnection,
    keys: &KeySpace,
) -> RedisResult<Vec<(String, Option<String>, Option<String>)>> {
    let time: (u64, u64) = ::redis::cmd("TIME").query_async(connection).await?;
    let now = time.0 * 1000 + time.1 / 1000;
    let mut ids: Vec<String> = ::redis::cmd("ZRANGEBYSCORE")
        .arg(keys.members())
        .arg(format!("({now}"))
        .arg("+inf")
        .query_async(connection)
        .await?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    ids.sort();
    let mut get = ::redis::cmd("MGET");
    for id in &ids {
        get.arg(keys.health(id)).arg(keys.vote(id));
    }
    let values: Vec<Option<String>> = get.query_async(connection).await?;
    let mut values = values.into_iter();
    Ok(ids
        .into_iter()
        .map(|id| {
            let heartbeat = values.next().flatten();
            let vote = values.next().flatten();
            (id, heartbeat, vote)
        })
        .collect())
}

fn parse_observation(reply: Value, listed: bool) -> Result<Observation> {
    let Value::Array(items) = reply else {
        return Err(Error::protocol("heartbeat reply", "not an array"));
    };
    if items.len() < 10 {
        return Err(Error::protocol(
            "heartbeat reply",
            format!("{} items instead of at least 10", items.len()),
        ));
    }
    let now_ms = int(&items[0])
        .and_then(|n| u64::try_from(n).ok())
        .unwrap_or(0);
    let operator = string(&items[7])
        .and_then(|text| serde_json::from_str::<OverrideRequest>(&text).ok())
        .map(|request| (request, remaining(&items[8])));
    let members = listed.then(|| {
        items[10..]
            .chunks_exact(3)
            .filter_map(|member| {
                let id = string(&member[0])?;
                let heartbeat = parse_heartbeat(&id, &string(&member[1])?);
                let vote = string(&member[2]).as_deref().and_then(parse_vote);
                Some(Member::new(id, heartbeat, vote))
            })
            .collect()
    });
    Ok(Observation {
        now_ms,
        renewed: int(&items[1]) == Some(1),
        leader: string(&items[2]),
        lease_epoch: string(&items[3]).and_then(|text| text.parse().ok()),
        lease_remaining: remaining(&items[4]),
        epoch_counter: string(&items[5])
            .and_then(|text| text.parse().ok())
            .unwrap_or(0),
        decision: string(&items[6]).as_deref().and_then(parse_decision),
        operator,
        live_members: int(&items[9])
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0),
        members,
    })
}

/// A `PTTL` reply as the time left: `None` for a missing key (-2) or one without expiry
/// (-1).
fn remaining(value: &Value) -> Option<Duration> {
    int(value)
        .and_then(|ms| u64::try_from(ms).ok())
        .map(Duration::from_millis)
}

fn parse_decision(text: &str) -> Option<Decision> {
    serde_json::from_str(text)
        .inspect_err(|error| tracing::warn!(%error, "unreadable cluster decision record ignored"))
        .ok()
}

fn int(value: &Value) -> Option<i64> {
    match value {
        Value::Int(n) => Some(*n),
        Value::BulkString(bytes) => std::str::from_utf8(bytes).ok()?.parse().ok(),
        _ => None,
    }
}

fn string(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
        Value::SimpleString(text) => Some(text.clone()),
        _ => None,
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|error| Error::protocol("record", error.to_string()))
}

/// One multiplexed connection to the server of a [`RedisConfig`], replaced when it breaks
/// or stops answering; shared by [`RedisStore`] and the legacy client.
#[derive(Clone)]
pub(crate) struct Connection {
    inner: Arc<ConnectionInner>,
}

struct ConnectionInner {
    client: Client,
    config: RedisConfig,
    target: String,
    shared: parking_lot::Mutex<Option<MultiplexedConnection>>,
    /// Serializes opening a connection, so a burst of failures opens one, not many.
    refill: tokio::sync::Mutex<()>,
    closed: AtomicBool,
}

impl Connection {
    pub(crate) fn new(config: RedisConfig) -> Result<Self> {
        config.validate().map_err(Error::RedisConfig)?;
        let client = Client::open(config.redis_url.as_str()).map_err(|source| Error::Redis {
            operation: "open",
            source,
        })?;
        Ok(Self {
            inner: Arc::new(ConnectionInner {
                client,
                target: config.redacted_url(),
                config,
                shared: parking_lot::Mutex::new(None),
                refill: tokio::sync::Mutex::new(()),
                closed: AtomicBool::new(false),
            }),
        })
    }

    pub(crate) fn config(&self) -> &RedisConfig {
        &self.inner.config
    }

    pub(crate) fn target(&self) -> &str {
        &self.inner.target
    }

    /// Drops the connection; the next operation opens another.
    pub(crate) fn reset(&self) {
        self.inner.shared.lock().take();
    }

    /// Refuses operations until [`open`](Self::open).
    pub(crate) fn close(&self) {
        self.inner.closed.store(true, Ordering::Release);
        self.reset();
    }

    pub(crate) fn open(&self) {
        self.inner.closed.store(false, Ordering::Release);
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }

    fn connection_config(&self) -> AsyncConnectionConfig {
        // The per-attempt timeout outside bounds everything; the client's own response
        // timeout is off so that it cannot fire first with a vaguer error.
        AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.inner.config.timeout))
            .set_response_timeout(None)
    }

    async fn connection(&self) -> RedisResult<MultiplexedConnection> {
        if let Some(connection) = self.inner.shared.lock().as_ref() {
            return Ok(connection.clone());
        }
        let _refilling = self.inner.refill.lock().await;
        if let Some(connection) = self.inner.shared.lock().as_ref() {
            return Ok(connection.clone());
        }
        let connection = self
            .inner
            .client
            .get_multiplexed_async_connection_with_config(&self.connection_config())
            .await?;
        *self.inner.shared.lock() = Some(connection.clone());
        Ok(connection)
    }

    /// One attempt of `command` under the configured timeout. A failure that shows the
    /// connection broken (an I/O error, a timeout) drops it.
    pub(crate) async fn run<T, F, Fut>(&self, operation: &'static str, command: F) -> Result<T>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        if self.is_closed() {
            return Err(Error::Unavailable {
                reason: "the connection is closed".to_owned(),
            });
        }
        let timeout = self.inner.config.timeout;
        let attempt = async {
            let connection = self.connection().await?;
            command(connection).await
        };
        match tokio::time::timeout(timeout, attempt).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(source)) => {
                if breaks_connection(&source) {
                    self.reset();
                }
                Err(Error::Redis { operation, source })
            }
            Err(_elapsed) => {
                self.reset();
                Err(Error::Timeout { operation, timeout })
            }
        }
    }

    /// [`run`](Self::run) with the configured retries for transient failures (refused or
    /// broken connections, timeouts), backing off with jitter: the original's
    /// `_execute_with_retry`. Only for idempotent commands.
    pub(crate) async fn run_with_retries<T, F, Fut>(
        &self,
        operation: &'static str,
        command: F,
    ) -> Result<T>
    where
        F: Fn(MultiplexedConnection) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let mut retry = 0;
        loop {
            match self.run(operation, &command).await {
                Ok(value) => return Ok(value),
                Err(error) if retry < self.inner.config.max_retries && transient(&error) => {
                    let delay = self.inner.config.backoff(retry);
                    #[allow(
                        clippy::cast_precision_loss,
                        reason = "a jitter factor needs no precision"
                    )]
                    let fraction = (random_u64() >> 11) as f64 / (1u64 << 53) as f64;
                    tokio::time::sleep(delay.mul_f64(0.5 + fraction / 2.0)).await;
                    retry += 1;
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// A pub/sub connection subscribed to `channel`.
    pub(crate) async fn subscribe(&self, channel: &str) -> Result<PubSub> {
        if self.is_closed() {
            return Err(Error::Unavailable {
                reason: "the connection is closed".to_owned(),
            });
        }
        let timeout = self.inner.config.timeout;
        let subscribing = async {
            let mut pubsub = self.inner.client.get_async_pubsub().await?;
            pubsub.subscribe(channel).await?;
            Ok::<_, RedisError>(pubsub)
        };
        match tokio::time::timeout(timeout, subscribing).await {
            Ok(Ok(pubsub)) => Ok(pubsub),
            Ok(Err(source)) => Err(Error::Redis {
                operation: "subscribe",
                source,
            }),
            Err(_elapsed) => Err(Error::Timeout {
                operation: "subscribe",
                timeout,
            }),
        }
    }
}

fn breaks_connection(error: &RedisError) -> bool {
    error.is_io_error() || error.is_connection_dropped() || error.is_timeout()
}

fn transient(error: &Error) -> bool {
    match error {
        Error::Timeout { .. } => true,
        Error::Redis { source, .. } => breaks_connection(source) || source.is_connection_refusal(),
        _ => false,
    }
}
