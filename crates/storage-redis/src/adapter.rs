use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::RwLock;
use redis::FromRedisValue;
use serde_json::Value;
use storage::{GlobPattern, Operation, Result, Storage, StorageError, escape_glob};

use crate::policy::{Failure, classify};
use crate::topology::{Connection, Connector, Single};
use crate::{ConfigError, RedisConfig};

/// Consecutive attempt timeouts after which the shared connection is replaced: one
/// timeout may be a slow command, several in a row look like a dead (half-open) socket.
const TIMEOUTS_BEFORE_RECONNECT: u32 = 2;

/// The [`Storage`] trait over Redis.
///
/// - **One multiplexed connection** carries every command, so concurrent tasks pipeline
///   on one socket instead of paying deadpool's per-checkout `UNWATCH` + `PING` round
///   trip. The deadpool pool creates, checks and replaces that connection: after an I/O
///   error the adapter goes back to the pool, so a restarted server is used again
///   without a new [`Storage::connect`]. A `connect` that fails (the server is down at
///   start-up) keeps the pool too: the adapter serves as soon as the server answers.
/// - **Bounded time**: each attempt (checkout, command and decoding together) runs under
///   [`RedisConfig::timeout`]; a frozen server yields [`StorageError::Timeout`] within
///   [`RedisConfig::worst_case_latency`], never a hang.
/// - **Retries** with exponential backoff and jitter, only for transient failures
///   (connection refused or broken, timeouts, a server answering `LOADING`,
///   `MASTERDOWN` or `READONLY`) and, for the non-idempotent `increment`, only when the
///   command cannot have run. `WRONGTYPE`, bad JSON, invalid arguments and a refused
///   password or database fail at once.
/// - **Values are JSON**; a value another client wrote that is not JSON reads back as a
///   string. Expiry has millisecond precision (`SET .. PX`, `PEXPIRE`, `PTTL`). `keys`
///   walks `SCAN` with `MATCH` and a `COUNT` hint (never `KEYS`) and then applies the
///   shared [`GlobPattern`], so it answers exactly as `MemoryStorage` does.
/// - **Beyond the trait**, for crates that need more of Redis: raw commands
///   ([`command`](Self::command)), Lua scripts ([`script`](Self::script)), `PUBLISH`
///   ([`publish`](Self::publish)) and subscriptions ([`subscribe`](Self::subscribe)),
///   under the same timeout, retry and redaction rules.
///
/// ```no_run
/// # #[tokio::main]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use serde_json::json;
/// use storage::Storage;
/// use storage_redis::{RedisAdapter, RedisConfig};
///
/// let config = RedisConfig::from_value(json!({"redis_url": "redis://127.0.0.1:6379", "timeout": 1.0}))?;
/// let storage: Arc<dyn Storage> = Arc::new(RedisAdapter::from_config(config)?);
/// storage.connect().await?; // builds the pool and PINGs
/// storage.set("user:1", json!({"name": "alice"}), None).await?;
/// assert_eq!(storage.get("user:1").await?, Some(json!({"name": "alice"})));
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RedisAdapter {
    inner: Arc<Inner>,
}

struct Inner {
    config: RedisConfig,
    /// Where the data lives, without passwords, for messages.
    target: String,
    /// `None` until [`Storage::connect`] and after [`Storage::close`].
    connector: RwLock<Option<Arc<Connector>>>,
    /// The connection every command uses.
    shared: RwLock<Option<Shared>>,
    /// The generation the next shared connection gets.
    next_generation: AtomicU64,
    /// Serializes replacing the shared connection, so a burst of failures makes one
    /// replacement, not one per task.
    refill: tokio::sync::Mutex<()>,
    consecutive_timeouts: AtomicU32,
    jitter: RandomState,
}

/// The shared connection.
struct Shared {
    connection: Connection,
    /// Tells this connection from its replacements, so a late failure on an old one does
    /// not throw a healthy replacement away.
    generation: u64,
    /// A pool's checkout, kept while the connection is shared.
    _guard: Option<deadpool_redis::Connection>,
}

impl RedisAdapter {
    /// An adapter for `config`, not yet connected: call [`Storage::connect`] before use.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] if the configuration is invalid (see [`RedisConfig::validate`]).
    pub fn from_config(config: RedisConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self {
            inner: Arc::new(Inner {
                target: config.target(),
                config,
                connector: RwLock::new(None),
                shared: RwLock::new(None),
                next_generation: AtomicU64::new(0),
                refill: tokio::sync::Mutex::new(()),
                consecutive_timeouts: AtomicU32::new(0),
                jitter: RandomState::new(),
            }),
        })
    }

    /// An adapter for `redis_url` with the default settings.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidUrl`] if the URL cannot be used.
    pub fn new(redis_url: impl Into<String>) -> Result<Self, ConfigError> {
        Self::from_config(RedisConfig::new(redis_url))
    }

    /// The configuration in use.
    #[must_use]
    pub fn config(&self) -> &RedisConfig {
        &self.inner.config
    }

    /// The pool's status (size, idle connections, waiters), `None` when not connected.
    #[must_use]
    pub fn pool_status(&self) -> Option<deadpool_redis::Status> {
        self.inner
            .connector
            .read()
            .as_ref()
            .and_then(|connector| connector.pool_status())
    }

    /// `key` as stored in Redis: with [`RedisConfig::key_prefix`] in front.
    ///
    /// The [`Storage`] operations add the prefix themselves; [`command`](Self::command),
    /// [`script`](Self::script), [`publish`](Self::publish) and
    /// [`subscribe`](Self::subscribe) use keys and channels verbatim, so use this to reach
    /// the keys the trait writes.
    #[must_use]
    pub fn full_key<'a>(&self, key: &'a str) -> Cow<'a, str> {
        let prefix = &self.inner.config.key_prefix;
        if prefix.is_empty() {
            Cow::Borrowed(key)
        } else {
            let mut full = String::with_capacity(prefix.len() + key.len());
            full.push_str(prefix);
            full.push_str(key);
            Cow::Owned(full)
        }
    }

    /// `key` with the prefix, as one command argument, without building the string.
    fn key_arg<'a>(&'a self, key: &'a str) -> KeyArg<'a> {
        KeyArg {
            prefix: &self.inner.config.key_prefix,
            key,
        }
    }

    /// The length of `key` with the prefix.
    fn key_len(&self, key: &str) -> usize {
        self.inner.config.key_prefix.len() + key.len()
    }

    /// Where the data lives, without passwords.
    pub(crate) fn target(&self) -> &str {
        &self.inner.target
    }

    pub(crate) fn connector(&self) -> Option<Arc<Connector>> {
        self.inner.connector.read().clone()
    }

    fn build_connector(&self) -> Result<Connector> {
        let config = &self.inner.config;
        #[cfg(feature = "sentinel")]
        if let Some(sentinel) = &config.sentinel {
            return crate::topology::Sentinel::new(config, sentinel)
                .map(|sentinel| {
                    // After a failover, leave the old master at once.
                    let inner = Arc::downgrade(&self.inner);
                    sentinel.watch(move || {
                        if let Some(inner) = inner.upgrade() {
                            inner.shared.write().take();
                        }
                    });
                    Connector::Sentinel(sentinel)
                })
                .map_err(|error| match error {
                    crate::topology::SentinelBuildError::Client(error) => StorageError::Backend {
                        operation: Operation::Connect,
                        message: format!("cannot set up a client for {}", self.inner.target),
                        source: Some(crate::policy::boxed(error)),
                    },
                    #[cfg(feature = "tls")]
                    crate::topology::SentinelBuildError::Tls(error) => self.tls_error(error),
                });
        }
        #[cfg(feature = "cluster")]
        if let Some(cluster) = &config.cluster {
            return crate::topology::Cluster::new(config, cluster)
                .map(Connector::Cluster)
                .map_err(|error| match error {
                    crate::topology::ClusterBuildError::Client(error) => StorageError::Backend {
                        operation: Operation::Connect,
                        message: format!("cannot set up a client for {}", self.inner.target),
                        source: Some(crate::policy::boxed(error)),
                    },
                    #[cfg(feature = "tls")]
                    crate::topology::ClusterBuildError::Tls(error) => self.tls_error(error),
                });
        }
        let info = redis::IntoConnectionInfo::into_connection_info(config.redis_url.as_str())
            .map_err(|error| self.connection_error(Operation::Connect, error.to_string()))?;
        #[cfg(feature = "tls")]
        let info =
            crate::tls::apply(info, config.tls.as_ref()).map_err(|error| self.tls_error(error))?;
        let single = Single::new(config, info)
            .map_err(|message| self.connection_error(Operation::Connect, message))?;
        Ok(Connector::Single(single))
    }

    #[cfg(feature = "tls")]
    fn tls_error(&self, error: crate::tls::SetupError) -> StorageError {
        StorageError::Tls {
            operation: Operation::Connect,
            target: self.inner.target.clone(),
            message: error.message,
            source: error.source,
        }
    }

    fn connection_error(&self, operation: Operation, message: String) -> StorageError {
        StorageError::Connection {
            operation,
            target: self.inner.target.clone(),
            message,
            source: None,
        }
    }

    /// The shared connection and its generation, if there is one (the hot path).
    fn lease(&self) -> Option<(Connection, u64)> {
        self.inner
            .shared
            .read()
            .as_ref()
            .map(|shared| (shared.connection.clone(), shared.generation))
    }

    /// Makes a new shared connection (the cold path: callers box this future).
    async fn refill(&self) -> Result<(Connection, u64), Failure> {
        let _refilling = self.inner.refill.lock().await;
        if let Some(lease) = self.lease() {
            return Ok(lease);
        }
        let connector = self.connector().ok_or(Failure::Closed)?;
        let fresh = connector.connect().await?;
        let generation = self.inner.next_generation.fetch_add(1, Ordering::Relaxed) + 1;
        let connection = fresh.connection.clone();
        *self.inner.shared.write() = Some(Shared {
            connection: fresh.connection,
            generation,
            _guard: fresh.guard,
        });
        Ok((connection, generation))
    }

    /// Drops the shared connection if it is still `generation`, so the next attempt makes
    /// a healthy one. A task that failed on an older connection must not drop the
    /// replacement another task has already made.
    fn discard_connection(&self, generation: u64) {
        let mut shared = self.inner.shared.write();
        if shared
            .as_ref()
            .is_some_and(|current| current.generation == generation)
        {
            shared.take();
        }
    }

    /// Replaces the connection of `generation` after a failure that shows it is broken:
    /// an I/O error, a server turned replica, or several timeouts in a row (a half-open
    /// socket answers nothing). A cluster connection reconnects a failed node and
    /// refreshes its slot map by itself, so only the timeouts replace it.
    fn note_failure(&self, failure: &Failure, generation: u64) {
        let broken = match failure {
            Failure::Broken(_) | Failure::ReadOnly(_) => !self
                .inner
                .connector
                .read()
                .as_ref()
                .is_some_and(|connector| connector.heals_itself()),
            Failure::TimedOut => {
                let timeouts = self
                    .inner
                    .consecutive_timeouts
                    .fetch_add(1, Ordering::Relaxed)
                    + 1;
                timeouts >= TIMEOUTS_BEFORE_RECONNECT
            }
            Failure::NotSent { .. }
            | Failure::Refused(_)
            | Failure::Tls { .. }
            | Failure::Closed
            | Failure::Final(_) => false,
        };
        if broken {
            self.discard_connection(generation);
        }
    }

    /// Runs `command` on the shared connection under the timeout and retry policy;
    /// `idempotent` says whether it may be sent again after it may have run.
    pub(crate) async fn run<T, F, Fut>(
        &self,
        operation: Operation,
        idempotent: bool,
        command: F,
    ) -> Result<T>
    where
        F: Fn(Connection) -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        match self.attempt(&command).await {
            Ok(value) => Ok(value),
            // Retrying is the cold path: boxed, so the future of every operation stays small.
            Err(failure) => {
                Box::pin(self.retry(operation, idempotent, failure, || self.attempt(&command)))
                    .await
            }
        }
    }

    /// Runs `attempt` under the retry policy (each attempt bounds its own time).
    pub(crate) async fn retrying<T, A, Fut>(
        &self,
        operation: Operation,
        idempotent: bool,
        mut attempt: A,
    ) -> Result<T>
    where
        A: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        match attempt().await {
            Ok(value) => Ok(value),
            Err(failure) => Box::pin(self.retry(operation, idempotent, failure, attempt)).await,
        }
    }

    /// Retries after `failure` while the failure allows it and the budget lasts, with
    /// exponential backoff and jitter between attempts.
    async fn retry<T, A, Fut>(
        &self,
        operation: Operation,
        idempotent: bool,
        mut failure: Failure,
        mut attempt: A,
    ) -> Result<T>
    where
        A: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let config = &self.inner.config;
        let mut retry = 0;
        loop {
            if !failure.retryable(idempotent) || retry >= config.max_retries {
                return Err(self.error(operation, failure));
            }
            let delay = self.jittered(config.backoff(retry));
            tracing::debug!(%operation, retry, ?delay, "retrying redis operation");
            tokio::time::sleep(delay).await;
            retry += 1;
            failure = match attempt().await {
                Ok(value) => return Ok(value),
                Err(failure) => failure,
            };
        }
    }

    /// One attempt of `command` (checkout, command and decoding) under the per-attempt
    /// timeout. A failure that shows the connection broken replaces it.
    pub(crate) async fn attempt<T, F, Fut>(&self, command: &F) -> Result<T, Failure>
    where
        F: Fn(Connection) -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let deadline = tokio::time::Instant::now() + self.inner.config.timeout;
        let (connection, generation) = match self.lease() {
            Some(lease) => lease,
            None => match tokio::time::timeout_at(deadline, Box::pin(self.refill())).await {
                Ok(lease) => lease?,
                Err(_elapsed) => {
                    return Err(Failure::NotSent {
                        timed_out: true,
                        message: "connecting timed out".to_owned(),
                    });
                }
            },
        };
        let failure = match tokio::time::timeout_at(deadline, command(connection)).await {
            Ok(Ok(value)) => {
                // Only reset when set: an unconditional store makes every success write
                // one shared cache line from every core.
                if self.inner.consecutive_timeouts.load(Ordering::Relaxed) != 0 {
                    self.inner.consecutive_timeouts.store(0, Ordering::Relaxed);
                }
                return Ok(value);
            }
            Ok(Err(failure)) => failure,
            Err(_elapsed) => Failure::TimedOut,
        };
        self.note_failure(&failure, generation);
        Err(failure)
    }

    /// Scales `delay` by a random factor in [0.5, 1.0), so clients that failed together
    /// do not retry together.
    fn jittered(&self, delay: Duration) -> Duration {
        let random = self.inner.jitter.hash_one(std::time::Instant::now());
        #[allow(
            clippy::cast_precision_loss,
            reason = "a jitter factor needs no precision"
        )]
        let fraction = (random >> 11) as f64 / (1u64 << 53) as f64;
        delay.mul_f64(0.5 + fraction / 2.0)
    }

    /// The error the caller sees for `failure`.
    pub(crate) fn error(&self, operation: Operation, failure: Failure) -> StorageError {
        failure.into_error(operation, &self.inner.target, self.inner.config.timeout)
    }
}

/// Sends one command, classifying its failure; `key` names the trait operation's key.
pub(crate) async fn query<T: FromRedisValue>(
    mut connection: Connection,
    command: &redis::Cmd,
    operation: Operation,
    key: Option<&str>,
) -> Result<T, Failure> {
    command
        .query_async(&mut connection)
        .await
        .map_err(|error| classify(error, operation, key))
}

/// Room for a small JSON document and `PX` with its milliseconds in a `SET` command's
/// buffer: larger ones grow it once.
const SMALL_DOCUMENT: usize = 192;

/// A key with the key prefix, written into a command as one argument.
struct KeyArg<'a> {
    prefix: &'a str,
    key: &'a str,
}

impl redis::ToRedisArgs for KeyArg<'_> {
    fn write_redis_args<W>(&self, out: &mut W)
    where
        W: ?Sized + redis::RedisWrite,
    {
        let mut argument = out.writer_for_next_arg();
        // Writing into the command's `Vec` cannot fail.
        let _ = argument.write_all(self.prefix.as_bytes());
        let _ = argument.write_all(self.key.as_bytes());
    }
}

/// A JSON value, written into a command as one argument.
struct JsonArg<'a>(&'a Value);

/// The most a thread keeps of the buffer `JsonArg` serializes into.
const KEPT_BUFFER: usize = 64 * 1024;

thread_local! {
    /// Where `JsonArg` serializes: serde_json writes a document in many small pieces, which
    /// a `Vec` takes inline, while the command's own writer is a call per piece.
    static JSON_BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl redis::ToRedisArgs for JsonArg<'_> {
    fn write_redis_args<W>(&self, out: &mut W)
    where
        W: ?Sized + redis::RedisWrite,
    {
        JSON_BUFFER.with_borrow_mut(|buffer| {
            buffer.clear();
            // A `Value` always serializes (its map keys are strings, its numbers finite),
            // and writing into a `Vec` cannot fail.
            let _ = serde_json::to_writer(&mut *buffer, self.0);
            out.write_arg(buffer);
            if buffer.capacity() > KEPT_BUFFER {
                *buffer = Vec::new();
            }
        });
    }
}

/// Milliseconds for `PX` / `PEXPIRE`, rounded up so a short expiry never becomes zero.
fn expiry_millis(operation: Operation, ttl: Duration) -> Result<u64> {
    let millis = ttl.as_nanos().div_ceil(1_000_000);
    // Redis keeps expiry deadlines as milliseconds in an i64.
    u64::try_from(millis)
        .ok()
        .filter(|millis| i64::try_from(*millis).is_ok())
        .ok_or_else(|| {
            StorageError::invalid_argument(operation, format!("expiry of {ttl:?} is too large"))
        })
}

/// Decodes a stored value: JSON, or, for a value another client wrote that is not JSON,
/// the string it holds.
fn decode(key: &str, bytes: &[u8]) -> Result<Value> {
    match serde_json::from_slice(bytes) {
        Ok(value) => Ok(value),
        Err(json_error) => match std::str::from_utf8(bytes) {
            Ok(text) => Ok(Value::String(text.to_owned())),
            Err(_) => Err(StorageError::serialization(key, json_error)),
        },
    }
}

#[async_trait]
impl Storage for RedisAdapter {
    fn backend(&self) -> &'static str {
        "redis"
    }

    async fn connect(&self) -> Result<()> {
        if self.inner.connector.read().is_none() {
            let connector = Arc::new(self.build_connector()?);
            let mut slot = self.inner.connector.write();
            if slot.is_none() {
                *slot = Some(connector);
            }
        }
        let ping = self
            .run(Operation::Connect, true, |connection| async move {
                query::<String>(connection, &redis::cmd("PING"), Operation::Connect, None).await
            })
            .await;
        match ping {
            Ok(_) => {
                tracing::debug!(target = %self.inner.target, "connected to redis");
                Ok(())
            }
            // The pool stays: like after a restart, the adapter serves as soon as the
            // server answers, and a connected adapter is not torn down by a second
            // `connect` during an outage.
            Err(error) => Err(match error {
                StorageError::Connection { .. } => error,
                transient if transient.is_transient() => {
                    self.connection_error(Operation::Connect, transient.to_string())
                }
                fatal => fatal,
            }),
        }
    }

    async fn close(&self) -> Result<()> {
        // Wait out a checkout in progress, or it would install its connection after this
        // and keep the closed adapter serving.
        let _refilling = self.inner.refill.lock().await;
        self.inner.shared.write().take();
        if let Some(connector) = self.inner.connector.write().take() {
            connector.close();
        }
        Ok(())
    }

    async fn health_check(&self) -> bool {
        if self.inner.connector.read().is_none() {
            return false;
        }
        // One attempt, no retry: the probe reports the server as it is now. A failed
        // attempt still replaces a dead connection, or a probe alone would report the
        // server down for as long as no other operation runs.
        let ping = self
            .attempt(&|connection| async move {
                query::<String>(
                    connection,
                    &redis::cmd("PING"),
                    Operation::HealthCheck,
                    None,
                )
                .await
            })
            .await;
        ping.is_ok_and(|reply| reply == "PONG")
    }

    async fn get(&self, key: &str) -> Result<Option<Value>> {
        let mut command = redis::Cmd::with_capacity(2, 3 + self.key_len(key));
        command.arg("GET").arg(self.key_arg(key));
        let bytes: Option<Vec<u8>> = self
            .run(Operation::Get, true, |connection| {
                query(connection, &command, Operation::Get, Some(key))
            })
            .await?;
        bytes.map(|bytes| decode(key, &bytes)).transpose()
    }

    async fn set(&self, key: &str, value: Value, expire: Option<Duration>) -> Result<()> {
        let millis = match expire {
            Some(ttl) if ttl.is_zero() => {
                return Err(StorageError::invalid_argument(
                    Operation::Set,
                    "expiry must be greater than zero",
                ));
            }
            Some(ttl) => Some(expiry_millis(Operation::Set, ttl)?),
            None => None,
        };
        // `SET key value [PX ms]` in one buffer, sized once for a small document, the
        // value serialized straight into it.
        let mut command = redis::Cmd::with_capacity(5, self.key_len(key) + SMALL_DOCUMENT);
        command
            .arg("SET")
            .arg(self.key_arg(key))
            .arg(JsonArg(&value));
        if let Some(millis) = millis {
            command.arg("PX").arg(millis);
        }
        self.run(Operation::Set, true, |connection| {
            query::<()>(connection, &command, Operation::Set, Some(key))
        })
        .await
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        let mut command = redis::cmd("DEL");
        command.arg(self.key_arg(key));
        let removed: u64 = self
            .run(Operation::Delete, true, |connection| {
                query(connection, &command, Operation::Delete, Some(key))
            })
            .await?;
        Ok(removed > 0)
    }

    async fn exists(&self, key: &str) -> Result<bool> {
        let mut command = redis::cmd("EXISTS");
        command.arg(self.key_arg(key));
        let found: u64 = self
            .run(Operation::Exists, true, |connection| {
                query(connection, &command, Operation::Exists, Some(key))
            })
            .await?;
        Ok(found > 0)
    }

    async fn keys(&self, pattern: &str) -> Result<Vec<String>> {
        let glob = GlobPattern::new(pattern);
        let prefix = &self.inner.config.key_prefix;
        // The server-side MATCH only narrows the scan; the shared matcher decides.
        let server_pattern = format!("{}{pattern}", escape_glob(prefix));
        let mut keys = Vec::new();
        let mut keep = |raw: Vec<u8>| {
            let Ok(full_key) = String::from_utf8(raw) else {
                tracing::warn!("skipping a redis key that is not UTF-8");
                return;
            };
            if let Some(key) = full_key.strip_prefix(prefix.as_str())
                && glob.matches(key)
            {
                keys.push(key.to_owned());
            }
        };
        #[cfg(feature = "cluster")]
        if self.inner.config.cluster.is_some() {
            for raw in self.scan_cluster(&server_pattern).await? {
                keep(raw);
            }
            keys.sort_unstable();
            keys.dedup();
            return Ok(keys);
        }
        let mut cursor: u64 = 0;
        loop {
            let mut command = redis::cmd("SCAN");
            command
                .arg(cursor)
                .arg("MATCH")
                .arg(&server_pattern)
                .arg("COUNT")
                .arg(self.inner.config.scan_count);
            let (next, page): (u64, Vec<Vec<u8>>) = self
                .run(Operation::Keys, true, |connection| {
                    query(connection, &command, Operation::Keys, Some(pattern))
                })
                .await?;
            for raw in page {
                keep(raw);
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
        // SCAN may return a key more than once.
        keys.sort_unstable();
        keys.dedup();
        Ok(keys)
    }

    async fn expire(&self, key: &str, ttl: Duration) -> Result<bool> {
        let millis = expiry_millis(Operation::Expire, ttl)?;
        let mut command = redis::cmd("PEXPIRE");
        command.arg(self.key_arg(key)).arg(millis);
        let applied: u64 = self
            .run(Operation::Expire, true, |connection| {
                query(connection, &command, Operation::Expire, Some(key))
            })
            .await?;
        Ok(applied > 0)
    }

    async fn ttl(&self, key: &str) -> Result<Option<Duration>> {
        let mut command = redis::cmd("PTTL");
        command.arg(self.key_arg(key));
        let millis: i64 = self
            .run(Operation::Ttl, true, |connection| {
                query(connection, &command, Operation::Ttl, Some(key))
            })
            .await?;
        // -2: no such key; -1: no expiry.
        Ok(u64::try_from(millis)
            .ok()
            .filter(|millis| *millis > 0)
            .map(Duration::from_millis))
    }

    async fn increment(&self, key: &str, amount: i64) -> Result<i64> {
        let mut command = redis::cmd("INCRBY");
        command.arg(self.key_arg(key)).arg(amount);
        // Not idempotent: retried only when the command cannot have reached the server.
        let result = self
            .run(Operation::Increment, false, |connection| {
                query(connection, &command, Operation::Increment, Some(key))
            })
            .await;
        result.map_err(|error| match error {
            StorageError::Overflow { key, .. } => StorageError::Overflow { key, amount },
            other => other,
        })
    }
}

impl fmt::Debug for RedisAdapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisAdapter")
            .field("target", &self.inner.target)
            .field("connected", &self.inner.connector.read().is_some())
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_json_utf8_reads_back_as_a_string_and_bad_bytes_are_an_error() {
        assert_eq!(
            decode("k", b"{\"a\":1}").unwrap(),
            serde_json::json!({"a": 1})
        );
        assert_eq!(
            decode("k", b"hello world").unwrap(),
            Value::String("hello world".into())
        );
        assert!(matches!(
            decode("k", &[0xff, 0xfe]),
            Err(StorageError::Serialization { .. })
        ));
    }

    #[test]
    fn expiry_rounds_up_to_a_millisecond_and_refuses_overflow() {
        assert_eq!(
            expiry_millis(Operation::Set, Duration::from_micros(1)).unwrap(),
            1
        );
        assert_eq!(
            expiry_millis(Operation::Set, Duration::from_micros(1500)).unwrap(),
            2
        );
        assert_eq!(
            expiry_millis(Operation::Set, Duration::from_secs(3600)).unwrap(),
            3_600_000
        );
        assert!(matches!(
            expiry_millis(Operation::Set, Duration::MAX),
            Err(StorageError::InvalidArgument { .. })
        ));
    }

    async fn generation(adapter: &RedisAdapter) -> u64 {
        match adapter.lease() {
            Some((_, generation)) => generation,
            None => match adapter.refill().await {
                Ok((_, generation)) => generation,
                Err(_) => panic!("no connection"),
            },
        }
    }

    /// Tasks that were using a connection when it broke fail one after the other; the
    /// first replaces it, and the late ones must not throw the replacement away.
    #[tokio::test]
    async fn a_late_failure_on_an_old_connection_keeps_the_replacement() {
        let Some(server) = crate::testing::RedisServer::start_or_skip("late_failure") else {
            return;
        };
        let adapter = RedisAdapter::new(server.url()).unwrap();
        adapter.connect().await.unwrap();
        let broken = || {
            Failure::Broken(redis::RedisError::from(std::io::Error::from(
                std::io::ErrorKind::BrokenPipe,
            )))
        };
        let old = generation(&adapter).await;
        adapter.note_failure(&broken(), old);
        let replacement = generation(&adapter).await;
        assert_ne!(old, replacement, "the broken one is replaced");
        adapter.note_failure(&broken(), old);
        adapter.note_failure(&Failure::TimedOut, old);
        adapter.note_failure(&Failure::TimedOut, old);
        assert_eq!(
            generation(&adapter).await,
            replacement,
            "late failures on the old connection must keep the replacement"
        );
        adapter.note_failure(&broken(), replacement);
        assert_ne!(generation(&adapter).await, replacement);
    }

    #[test]
    fn jitter_stays_within_half_to_full_delay() {
        let adapter = RedisAdapter::new("redis://127.0.0.1:1").unwrap();
        for _ in 0..1000 {
            let delay = adapter.jittered(Duration::from_millis(100));
            assert!(
                delay >= Duration::from_millis(50) && delay < Duration::from_millis(100),
                "{delay:?}"
            );
        }
    }
}
