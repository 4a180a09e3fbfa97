//! One server, reached through a deadpool pool.

use deadpool_redis::{Manager, Pool, PoolError, Runtime};
use redis::{AsyncConnectionConfig, ConnectionInfo};

use super::{Connection, Fresh};
use crate::RedisConfig;
use crate::policy::{Failure, setup_failure};

/// One server: the pool creates, health-checks (`PING` on recycle) and replaces the
/// connection the adapter shares.
pub(crate) struct Single {
    pool: Pool,
    info: ConnectionInfo,
}

impl Single {
    pub(crate) fn new(config: &RedisConfig, info: ConnectionInfo) -> Result<Self, String> {
        // The adapter's per-attempt timeout bounds everything; the client's own response
        // timeout is switched off so it cannot fire first with a vaguer error.
        let connection_config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(config.timeout))
            .set_response_timeout(None);
        let manager = Manager::new_with_config(info.clone(), connection_config)
            .map_err(|error| error.to_string())?;
        let pool = Pool::builder(manager)
            .max_size(config.pool_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(config.timeout))
            .create_timeout(Some(config.timeout))
            .recycle_timeout(Some(config.timeout))
            .build()
            .map_err(|error| error.to_string())?;
        Ok(Self { pool, info })
    }

    pub(crate) async fn connect(&self) -> Result<Fresh, Failure> {
        let pooled = self.pool.get().await.map_err(|error| match error {
            PoolError::Closed => Failure::Closed,
            PoolError::Timeout(_) => Failure::NotSent {
                timed_out: true,
                message: error.to_string(),
            },
            PoolError::Backend(backend) => setup_failure(backend),
            other => Failure::NotSent {
                timed_out: false,
                message: other.to_string(),
            },
        })?;
        Ok(Fresh {
            connection: Connection::Multiplexed((*pooled).clone()),
            guard: Some(pooled),
        })
    }

    pub(crate) fn pubsub_client(&self) -> Result<redis::Client, Failure> {
        redis::Client::open(self.info.clone()).map_err(setup_failure)
    }

    pub(crate) fn pool_status(&self) -> deadpool_redis::Status {
        self.pool.status()
    }

    pub(crate) fn close(&self) {
        self.pool.close();
    }
}
