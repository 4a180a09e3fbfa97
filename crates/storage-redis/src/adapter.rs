use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use deadpool_redis::{Manager, Pool, PoolError, Runtime};
use parking_lot::RwLock;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, ErrorKind, RedisError, RetryMethod};
use serde_json::Value;
use storage::{GlobPattern, Operation, Result, Storage, StorageError, escape_glob};

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
///   (connection refused or broken, timeouts, a server answering `LOADING` or
///   `MASTERDOWN`) and, for the non-idempotent `increment`, only when the command cannot
///   have run. `WRONGTYPE`, bad JSON, invalid arguments and a refused password or
///   database fail at once.
/// - **Values are JSON**; a value another client wrote that is not JSON reads back as a
///   string. Expiry has millisecond precision (`SET .. PX`, `PEXPIRE`, `PTTL`). `keys`
///   walks `SCAN` with `MATCH` and a `COUNT` hint (never `KEYS`) and then applies the
///   shared [`GlobPattern`], so it answers exactly as `MemoryStorage` does.
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
    /// `redis_url` without its password, for messages.
    target: String,
    /// `None` until [`Storage::connect`] and after [`Storage::close`].
    pool: RwLock<Option<Pool>>,
    /// The connection every command uses, checked out of the pool.
    shared: RwLock<Option<Arc<SharedConnection>>>,
    /// Serializes replacing the shared connection, so a burst of failures checks out
    /// one replacement, not one per task.
    refill: tokio::sync::Mutex<()>,
    consecutive_timeouts: AtomicU32,
    jitter: RandomState,
}

struct SharedConnection {
    /// Kept checked out while shared; back to the pool when the last user drops it.
    _pooled: deadpool_redis::Connection,
    connection: MultiplexedConnection,
}

/// Why one attempt failed, before it becomes a [`StorageError`].
enum Failure {
    /// The command never left: no connection could be had (refused, or connecting timed
    /// out). Safe to retry anything.
    NotSent { timed_out: bool, message: String },
    /// The server refused to set a connection up (wrong password or database): a
    /// configuration error that no retry fixes.
    Refused(RedisError),
    /// The connection broke while the command was in flight.
    Broken(RedisError),
    /// The attempt ran out of time.
    TimedOut,
    /// A final answer that a retry would not change.
    Final(StorageError),
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
                target: config.redacted_url(),
                config,
                pool: RwLock::new(None),
                shared: RwLock::new(None),
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
        self.inner.pool.read().as_ref().map(Pool::status)
    }

    fn build_pool(&self) -> Result<Pool> {
        let config = &self.inner.config;
        // The per-attempt timeout outside bounds everything; the client's own response
        // timeout is switched off so it cannot fire first with a vaguer error.
        let connection_config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(config.timeout))
            .set_response_timeout(None);
        let manager = Manager::new_with_config(config.redis_url.as_str(), connection_config)
            .map_err(|error| self.connection_error(Operation::Connect, error.to_string()))?;
        Pool::builder(manager)
            .max_size(config.pool_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(config.timeout))
            .create_timeout(Some(config.timeout))
            .recycle_timeout(Some(config.timeout))
            .build()
            .map_err(|error| self.connection_error(Operation::Connect, error.to_string()))
    }

    fn connection_error(&self, operation: Operation, message: String) -> StorageError {
        StorageError::Connection {
            operation,
            target: self.inner.target.clone(),
            message,
            source: None,
        }
    }

    fn key<'a>(&self, key: &'a str) -> Cow<'a, str> {
        let prefix = &self.inner.config.key_prefix;
        if prefix.is_empty() {
            Cow::Borrowed(key)
        } else {
            Cow::Owned(format!("{prefix}{key}"))
        }
    }

    /// The shared connection, checking one out of the pool if there is none.
    async fn connection(&self) -> Result<Arc<SharedConnection>, Failure> {
        if let Some(shared) = self.inner.shared.read().as_ref() {
            return Ok(Arc::clone(shared));
        }
        let _refilling = self.inner.refill.lock().await;
        if let Some(shared) = self.inner.shared.read().as_ref() {
            return Ok(Arc::clone(shared));
        }
        let pool =
            self.inner
                .pool
                .read()
                .clone()
                .ok_or(Failure::Final(StorageError::NotConnected {
                    backend: "redis",
                }))?;
        let pooled = pool.get().await.map_err(|error| match error {
            PoolError::Closed => Failure::Final(StorageError::NotConnected { backend: "redis" }),
            PoolError::Timeout(_) => Failure::NotSent {
                timed_out: true,
                message: error.to_string(),
            },
            PoolError::Backend(backend) if !setup_may_recover(&backend) => {
                Failure::Refused(backend)
            }
            PoolError::Backend(ref backend) => Failure::NotSent {
                timed_out: backend.is_timeout(),
                message: error.to_string(),
            },
            other => Failure::NotSent {
                timed_out: false,
                message: other.to_string(),
            },
        })?;
        let shared = Arc::new(SharedConnection {
            connection: (*pooled).clone(),
            _pooled: pooled,
        });
        *self.inner.shared.write() = Some(Arc::clone(&shared));
        Ok(shared)
    }

    /// Drops `failed` if it is still the shared connection, so the next attempt checks out
    /// a healthy one. A task that failed on an older connection must not drop the
    /// replacement another task has already checked out.
    fn discard_connection(&self, failed: &Arc<SharedConnection>) {
        let mut shared = self.inner.shared.write();
        if shared
            .as_ref()
            .is_some_and(|current| Arc::ptr_eq(current, failed))
        {
            shared.take();
        }
    }

    /// Replaces the connection `used` after a failure that shows it is broken: an I/O
    /// error, or several timeouts in a row (a half-open socket answers nothing).
    fn note_failure(&self, failure: &Failure, used: Option<&Arc<SharedConnection>>) {
        let broken = match failure {
            Failure::Broken(_) => true,
            Failure::TimedOut => {
                let timeouts = self
                    .inner
                    .consecutive_timeouts
                    .fetch_add(1, Ordering::Relaxed)
                    + 1;
                timeouts >= TIMEOUTS_BEFORE_RECONNECT
            }
            Failure::NotSent { .. } | Failure::Refused(_) | Failure::Final(_) => false,
        };
        if broken && let Some(used) = used {
            self.discard_connection(used);
        }
    }

    /// Runs `command` under the timeout and retry policy.
    async fn run<T, F, Fut>(&self, operation: Operation, idempotent: bool, command: F) -> Result<T>
    where
        F: Fn(MultiplexedConnection) -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let config = &self.inner.config;
        let mut retry = 0;
        loop {
            let failure = match self.attempt(&command).await {
                Ok(value) => return Ok(value),
                Err(failure) => failure,
            };
            let retryable = match &failure {
                Failure::NotSent { .. } => true,
                Failure::Broken(_) | Failure::TimedOut => idempotent,
                Failure::Refused(_) | Failure::Final(_) => false,
            };
            if !retryable || retry >= config.max_retries {
                return Err(self.storage_error(operation, failure));
            }
            let delay = self.jittered(config.backoff(retry));
            tracing::debug!(%operation, retry, ?delay, "retrying redis operation");
            tokio::time::sleep(delay).await;
            retry += 1;
        }
    }

    /// One attempt of `command` (checkout, command and decoding) under the per-attempt
    /// timeout. A failure that shows the connection broken replaces it.
    async fn attempt<T, F, Fut>(&self, command: &F) -> Result<T, Failure>
    where
        F: Fn(MultiplexedConnection) -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        // The connection this attempt used, to replace exactly that one if it broke.
        let mut used = None;
        let attempt = async {
            let shared = self.connection().await?;
            let connection = shared.connection.clone();
            used = Some(shared);
            command(connection).await
        };
        let failure = match tokio::time::timeout(self.inner.config.timeout, attempt).await {
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
        self.note_failure(&failure, used.as_ref());
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

    fn storage_error(&self, operation: Operation, failure: Failure) -> StorageError {
        match failure {
            Failure::NotSent {
                timed_out: true, ..
            } => StorageError::Timeout {
                operation,
                after: self.inner.config.timeout,
            },
            Failure::NotSent { message, .. } => self.connection_error(operation, message),
            // With a source, the message summarises and the source tells the details.
            Failure::Refused(error) => StorageError::Backend {
                operation,
                message: format!("{} refused the connection", self.inner.target),
                source: Some(Box::new(error)),
            },
            Failure::Broken(error) => StorageError::Connection {
                operation,
                target: self.inner.target.clone(),
                message: "the connection broke".to_owned(),
                source: Some(Box::new(error)),
            },
            Failure::TimedOut => StorageError::Timeout {
                operation,
                after: self.inner.config.timeout,
            },
            Failure::Final(error) => error,
        }
    }

    /// Sends one command, classifying its failure.
    async fn query<T: redis::FromRedisValue>(
        mut connection: MultiplexedConnection,
        command: &redis::Cmd,
        operation: Operation,
        key: &str,
    ) -> Result<T, Failure> {
        command
            .query_async(&mut connection)
            .await
            .map_err(|error| classify(error, operation, key))
    }
}

/// Whether a failure to set a connection up may go away by itself (the server is down,
/// unreachable or still loading) rather than being a configuration error such as a wrong
/// password or database, which no retry fixes.
fn setup_may_recover(error: &RedisError) -> bool {
    match error.kind() {
        ErrorKind::AuthenticationFailed
        | ErrorKind::InvalidClientConfig
        | ErrorKind::RESP3NotSupported => false,
        // A reply of the server's (to `SELECT`, say): final unless it says "later".
        ErrorKind::Server(_) | ErrorKind::Extension => {
            !matches!(error.retry_method(), RetryMethod::NoRetry)
        }
        _ => true,
    }
}

/// Maps a client error to a [`Failure`], recognising Redis' own error replies.
fn classify(error: RedisError, operation: Operation, key: &str) -> Failure {
    if error.is_connection_refusal() {
        return Failure::NotSent {
            timed_out: false,
            message: error.to_string(),
        };
    }
    if error.is_io_error() || error.is_connection_dropped() || error.is_unrecoverable_error() {
        return Failure::Broken(error);
    }
    if matches!(error.retry_method(), RetryMethod::WaitAndRetry) {
        // `LOADING`, `MASTERDOWN`, `TRYAGAIN`: the server refused to run the command for
        // now, so a retry is safe even for `increment`.
        return Failure::NotSent {
            timed_out: false,
            message: error.to_string(),
        };
    }
    let detail = error.detail().unwrap_or_default();
    let final_error = match error.code() {
        Some("WRONGTYPE") => StorageError::WrongType {
            operation,
            key: key.to_owned(),
            expected: "a string value",
            found: "another Redis type".to_owned(),
        },
        _ if detail.contains("not an integer") => StorageError::WrongType {
            operation,
            key: key.to_owned(),
            expected: "an integer",
            found: "a value that is not a 64-bit integer".to_owned(),
        },
        _ if detail.contains("would overflow") => StorageError::Overflow {
            key: key.to_owned(),
            amount: 0,
        },
        _ if detail.contains("invalid expire time") => {
            StorageError::invalid_argument(operation, error.to_string())
        }
        _ => StorageError::Backend {
            operation,
            message: error.code().map_or_else(
                || "the client could not use the reply".to_owned(),
                |code| format!("the server replied with a {code} error"),
            ),
            source: Some(Box::new(error)),
        },
    };
    Failure::Final(final_error)
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
        if self.inner.pool.read().is_none() {
            let pool = self.build_pool()?;
            *self.inner.pool.write() = Some(pool);
        }
        let ping = self
            .run(Operation::Connect, true, |connection| async move {
                Self::query::<String>(connection, &redis::cmd("PING"), Operation::Connect, "").await
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
        if let Some(pool) = self.inner.pool.write().take() {
            pool.close();
        }
        Ok(())
    }

    async fn health_check(&self) -> bool {
        if self.inner.pool.read().is_none() {
            return false;
        }
        // One attempt, no retry: the probe reports the server as it is now. A failed
        // attempt still replaces a dead connection, or a probe alone would report the
        // server down for as long as no other operation runs.
        let ping = self
            .attempt(&|connection| async move {
                Self::query::<String>(connection, &redis::cmd("PING"), Operation::HealthCheck, "")
                    .await
            })
            .await;
        ping.is_ok_and(|reply| reply == "PONG")
    }

    async fn get(&self, key: &str) -> Result<Option<Value>> {
        let full_key = self.key(key);
        let command = redis::Cmd::get(&*full_key);
        let bytes: Option<Vec<u8>> = self
            .run(Operation::Get, true, |connection| {
                Self::query(connection, &command, Operation::Get, key)
            })
            .await?;
        bytes.map(|bytes| decode(key, &bytes)).transpose()
    }

    async fn set(&self, key: &str, value: Value, expire: Option<Duration>) -> Result<()> {
        let payload =
            serde_json::to_vec(&value).map_err(|error| StorageError::serialization(key, error))?;
        let full_key = self.key(key);
        let mut command = redis::cmd("SET");
        command.arg(&*full_key).arg(payload);
        match expire {
            Some(ttl) if ttl.is_zero() => {
                return Err(StorageError::invalid_argument(
                    Operation::Set,
                    "expiry must be greater than zero",
                ));
            }
            Some(ttl) => {
                command.arg("PX").arg(expiry_millis(Operation::Set, ttl)?);
            }
            None => {}
        }
        self.run(Operation::Set, true, |connection| {
            Self::query::<()>(connection, &command, Operation::Set, key)
        })
        .await
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        let full_key = self.key(key);
        let command = redis::Cmd::del(&*full_key);
        let removed: u64 = self
            .run(Operation::Delete, true, |connection| {
                Self::query(connection, &command, Operation::Delete, key)
            })
            .await?;
        Ok(removed > 0)
    }

    async fn exists(&self, key: &str) -> Result<bool> {
        let full_key = self.key(key);
        let command = redis::Cmd::exists(&*full_key);
        let found: u64 = self
            .run(Operation::Exists, true, |connection| {
                Self::query(connection, &command, Operation::Exists, key)
            })
            .await?;
        Ok(found > 0)
    }

    async fn keys(&self, pattern: &str) -> Result<Vec<String>> {
        let glob = GlobPattern::new(pattern);
        let prefix = &self.inner.config.key_prefix;
        // The server-side MATCH only narrows the scan; the shared matcher decides.
        let server_pattern = format!("{}{pattern}", escape_glob(prefix));
        let mut cursor: u64 = 0;
        let mut keys = Vec::new();
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
                    Self::query(connection, &command, Operation::Keys, pattern)
                })
                .await?;
            for raw in page {
                let Ok(full_key) = String::from_utf8(raw) else {
                    tracing::warn!("skipping a redis key that is not UTF-8");
                    continue;
                };
                if let Some(key) = full_key.strip_prefix(prefix.as_str())
                    && glob.matches(key)
                {
                    keys.push(key.to_owned());
                }
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
        let full_key = self.key(key);
        let mut command = redis::cmd("PEXPIRE");
        command.arg(&*full_key).arg(millis);
        let applied: u64 = self
            .run(Operation::Expire, true, |connection| {
                Self::query(connection, &command, Operation::Expire, key)
            })
            .await?;
        Ok(applied > 0)
    }

    async fn ttl(&self, key: &str) -> Result<Option<Duration>> {
        let full_key = self.key(key);
        let mut command = redis::cmd("PTTL");
        command.arg(&*full_key);
        let millis: i64 = self
            .run(Operation::Ttl, true, |connection| {
                Self::query(connection, &command, Operation::Ttl, key)
            })
            .await?;
        // -2: no such key; -1: no expiry.
        Ok(u64::try_from(millis)
            .ok()
            .filter(|millis| *millis > 0)
            .map(Duration::from_millis))
    }

    async fn increment(&self, key: &str, amount: i64) -> Result<i64> {
        let full_key = self.key(key);
        let mut command = redis::cmd("INCRBY");
        command.arg(&*full_key).arg(amount);
        // Not idempotent: retried only when the command cannot have reached the server.
        let result = self
            .run(Operation::Increment, false, |connection| {
                Self::query(connection, &command, Operation::Increment, key)
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
            .field("connected", &self.inner.pool.read().is_some())
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

    async fn shared(adapter: &RedisAdapter) -> Arc<SharedConnection> {
        match adapter.connection().await {
            Ok(shared) => shared,
            Err(_) => panic!("no connection"),
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
        let broken = Failure::Broken(RedisError::from(std::io::Error::from(
            std::io::ErrorKind::BrokenPipe,
        )));
        let old = shared(&adapter).await;
        adapter.note_failure(&broken, Some(&old));
        let replacement = shared(&adapter).await;
        assert!(
            !Arc::ptr_eq(&old, &replacement),
            "the broken one is replaced"
        );
        adapter.note_failure(&broken, Some(&old));
        adapter.note_failure(&Failure::TimedOut, Some(&old));
        adapter.note_failure(&Failure::TimedOut, Some(&old));
        assert!(
            Arc::ptr_eq(&shared(&adapter).await, &replacement),
            "late failures on the old connection must keep the replacement"
        );
        adapter.note_failure(&broken, Some(&replacement));
        assert!(!Arc::ptr_eq(&shared(&adapter).await, &replacement));
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
