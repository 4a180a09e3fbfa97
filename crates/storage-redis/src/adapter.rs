use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use deadpool_redis::{Manager, Pool, PoolError, Runtime};
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, RedisError};
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
///   without a new [`Storage::connect`].
/// - **Bounded time**: each attempt (checkout, command and decoding together) runs under
///   [`RedisConfig::timeout`]; a frozen server yields [`StorageError::Timeout`] within
///   [`RedisConfig::worst_case_latency`], never a hang.
/// - **Retries** with exponential backoff and jitter, only for transient failures
///   (connection refused or broken, timeouts) and, for the non-idempotent `increment`,
///   only when the command cannot have reached the server. `WRONGTYPE`, bad JSON and
///   invalid arguments fail at once.
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
        read(&self.inner.pool).as_ref().map(Pool::status)
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
    async fn connection(&self) -> Result<MultiplexedConnection, Failure> {
        if let Some(shared) = read(&self.inner.shared).as_ref() {
            return Ok(shared.connection.clone());
        }
        let _refilling = self.inner.refill.lock().await;
        if let Some(shared) = read(&self.inner.shared).as_ref() {
            return Ok(shared.connection.clone());
        }
        let pool =
            read(&self.inner.pool)
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
            PoolError::Backend(ref backend) => Failure::NotSent {
                timed_out: backend.is_timeout(),
                message: error.to_string(),
            },
            other => Failure::NotSent {
                timed_out: false,
                message: other.to_string(),
            },
        })?;
        let connection = (*pooled).clone();
        *write(&self.inner.shared) = Some(Arc::new(SharedConnection {
            _pooled: pooled,
            connection: connection.clone(),
        }));
        Ok(connection)
    }

    /// Drops the shared connection so the next attempt checks out a healthy one.
    fn discard_connection(&self) {
        write(&self.inner.shared).take();
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
            let attempt = async {
                let connection = self.connection().await?;
                command(connection).await
            };
            let failure = match tokio::time::timeout(config.timeout, attempt).await {
                Ok(Ok(value)) => {
                    self.inner.consecutive_timeouts.store(0, Ordering::Relaxed);
                    return Ok(value);
                }
                Ok(Err(failure)) => failure,
                Err(_elapsed) => Failure::TimedOut,
            };
            let retryable = match &failure {
                Failure::NotSent { .. } => true,
                Failure::Broken(_) | Failure::TimedOut => idempotent,
                Failure::Final(_) => false,
            };
            match &failure {
                Failure::Broken(_) => self.discard_connection(),
                Failure::TimedOut => {
                    let timeouts = self
                        .inner
                        .consecutive_timeouts
                        .fetch_add(1, Ordering::Relaxed)
                        + 1;
                    if timeouts >= TIMEOUTS_BEFORE_RECONNECT {
                        self.discard_connection();
                    }
                }
                Failure::NotSent { .. } | Failure::Final(_) => {}
            }
            if !retryable || retry >= config.max_retries {
                return Err(self.storage_error(operation, failure));
            }
            let delay = self.jittered(config.backoff(retry));
            tracing::debug!(%operation, retry, ?delay, "retrying redis operation");
            tokio::time::sleep(delay).await;
            retry += 1;
        }
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
            Failure::Broken(error) => StorageError::Connection {
                operation,
                target: self.inner.target.clone(),
                message: error.to_string(),
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
            message: error.to_string(),
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
        if read(&self.inner.pool).is_none() {
            let pool = self.build_pool()?;
            *write(&self.inner.pool) = Some(pool);
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
            Err(error) => {
                // Leave no half-open state: the next connect starts from scratch.
                self.discard_connection();
                if let Some(pool) = write(&self.inner.pool).take() {
                    pool.close();
                }
                Err(match error {
                    StorageError::Connection { .. } => error,
                    other => self.connection_error(Operation::Connect, other.to_string()),
                })
            }
        }
    }

    async fn close(&self) -> Result<()> {
        self.discard_connection();
        if let Some(pool) = write(&self.inner.pool).take() {
            pool.close();
        }
        Ok(())
    }

    async fn health_check(&self) -> bool {
        if read(&self.inner.pool).is_none() {
            return false;
        }
        let ping = async {
            let connection = self.connection().await?;
            Self::query::<String>(connection, &redis::cmd("PING"), Operation::HealthCheck, "").await
        };
        matches!(
            tokio::time::timeout(self.inner.config.timeout, ping).await,
            Ok(Ok(reply)) if reply == "PONG"
        )
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
            .field("connected", &read(&self.inner.pool).is_some())
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    // Nothing panics while these locks are held; recover rather than propagate.
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
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
