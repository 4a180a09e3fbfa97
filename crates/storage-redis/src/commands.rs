//! Redis beyond the [`Storage`](storage::Storage) trait: raw commands, Lua scripts and
//! `PUBLISH`, under the adapter's timeout, retry and redaction rules.

use redis::{Cmd, FromRedisValue, ScriptInvocation};
use storage::{Operation, Result};

use crate::RedisAdapter;
use crate::adapter::query;
use crate::policy::classify;

/// Whether a command or script may be sent again after it may have run.
///
/// Every call is retried when it cannot have reached Redis (the connection was refused,
/// the server answered `LOADING`, `MASTERDOWN`, `TRYAGAIN`, `CLUSTERDOWN` or `READONLY`,
/// a cluster node redirected it). After a failure that leaves the outcome unknown (the
/// connection broke or the attempt timed out with the command sent), only an idempotent
/// call is sent again; a non-idempotent one fails with that error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Idempotence {
    /// Running it twice has the effect of running it once: `GET`, `SET` of a fixed value,
    /// a compare-and-set script that checks a token. Retried after any transient failure.
    Idempotent,
    /// Running it twice differs from running it once: `INCR`, `PUBLISH`, a script that
    /// bumps an epoch. Retried only when it cannot have run.
    NotIdempotent,
}

impl Idempotence {
    const fn retry_after_unknown_outcome(self) -> bool {
        matches!(self, Self::Idempotent)
    }
}

impl RedisAdapter {
    /// Runs `command` and decodes its reply as `T`.
    ///
    /// The command is sent as given (no [key prefix](crate::RedisConfig::key_prefix):
    /// use [`full_key`](Self::full_key) for keys the [`Storage`](storage::Storage)
    /// operations wrote). On a cluster it goes to the node owning its first key (a
    /// keyless command goes to any node), following `MOVED` and `ASK` redirects. Each
    /// attempt runs under [`RedisConfig::timeout`](crate::RedisConfig::timeout), so a
    /// blocking command (`BLPOP`, `XREAD BLOCK`) must block for less than that.
    ///
    /// ```no_run
    /// # async fn demo(adapter: storage_redis::RedisAdapter) -> storage::Result<()> {
    /// use storage_redis::Idempotence;
    ///
    /// let mut command = redis::cmd("SET");
    /// command.arg("lock").arg("token-1").arg("NX").arg("PX").arg(5000);
    /// let acquired: Option<String> = adapter.command(&command, Idempotence::NotIdempotent).await?;
    /// # let _ = acquired;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// The [`StorageError`](storage::StorageError) of the last attempt: `Timeout` or
    /// `Connection` when Redis could not be reached in time, `Backend` for an error reply
    /// (its source is the client's error, with the server's message) or a reply that does
    /// not decode as `T`.
    pub async fn command<T: FromRedisValue>(
        &self,
        command: &Cmd,
        idempotence: Idempotence,
    ) -> Result<T> {
        self.run(
            Operation::Command,
            idempotence.retry_after_unknown_outcome(),
            |connection| query(connection, command, Operation::Command, None),
        )
        .await
    }

    /// Runs a Lua script with its keys and arguments and decodes its reply as `T`.
    ///
    /// Pass every key the script touches as a key (`KEYS[n]`), never as an argument: on a
    /// cluster the script runs on the node owning its first key, and all its keys must
    /// hash to one slot (give them a common `{hash tag}`), or the node refuses it with
    /// `CROSSSLOT`. The script is sent by its SHA1 (`EVALSHA`) and loaded when a server
    /// does not know it yet. Keys are used verbatim, as with [`command`](Self::command).
    ///
    /// ```no_run
    /// # async fn demo(adapter: storage_redis::RedisAdapter) -> storage::Result<()> {
    /// use storage_redis::Idempotence;
    ///
    /// // Renew a lease only while we hold it: safe to run twice.
    /// let renew = redis::Script::new(
    ///     "if redis.call('GET', KEYS[1]) == ARGV[1] then \
    ///        return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end",
    /// );
    /// let renewed: i64 = adapter
    ///     .script(renew.key("election:{ctl}:lease").arg("token-1").arg(5000), Idempotence::Idempotent)
    ///     .await?;
    /// # let _ = renewed;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`command`](Self::command); an error the script raises is a `Backend` error.
    pub async fn script<T: FromRedisValue>(
        &self,
        invocation: &ScriptInvocation<'_>,
        idempotence: Idempotence,
    ) -> Result<T> {
        self.run(
            Operation::Script,
            idempotence.retry_after_unknown_outcome(),
            |mut connection| async move {
                invocation
                    .invoke_async(&mut connection)
                    .await
                    .map_err(|error| classify(error, Operation::Script, None))
            },
        )
        .await
    }

    /// Publishes `message` on `channel` and returns how many subscribers received it.
    ///
    /// Redis pub/sub delivers at most once: a subscriber that is disconnected when the
    /// message is sent never sees it (see [`subscribe`](Self::subscribe)). `PUBLISH` is
    /// not retried once it may have been delivered, so a message is never sent twice.
    /// On a cluster, a message published on any node reaches the subscribers of every
    /// node.
    ///
    /// # Errors
    ///
    /// As [`command`](Self::command).
    pub async fn publish(&self, channel: &str, message: impl AsRef<[u8]>) -> Result<u64> {
        let mut command = redis::cmd("PUBLISH");
        command.arg(channel).arg(message.as_ref());
        self.run(Operation::Publish, false, |connection| {
            query(connection, &command, Operation::Publish, None)
        })
        .await
    }
}
