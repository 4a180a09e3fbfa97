//! Where an adapter's connections come from, one kind per deployment the configuration can
//! name, and the connection its commands share.

use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::{Cmd, Pipeline, RedisFuture, Value};

use crate::policy::Failure;

#[cfg(feature = "cluster")]
mod cluster;
#[cfg(feature = "cluster")]
pub(crate) use cluster::{BuildError as ClusterBuildError, Cluster};
#[cfg(feature = "sentinel")]
mod sentinel;
#[cfg(feature = "sentinel")]
pub(crate) use sentinel::{BuildError as SentinelBuildError, Sentinel};
mod single;
pub(crate) use single::Single;

/// The connection commands go through. Cloning it is cheap: clones share one socket.
#[derive(Clone)]
pub(crate) enum Connection {
    /// One multiplexed socket to one server (a single server, or a Sentinel's master).
    Multiplexed(MultiplexedConnection),
    /// A connection to every master of a cluster, routing by key.
    #[cfg(feature = "cluster")]
    Cluster(redis::cluster_async::ClusterConnection),
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Multiplexed(connection) => connection.req_packed_command(cmd),
            #[cfg(feature = "cluster")]
            Self::Cluster(connection) => cluster::request(connection, cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Multiplexed(connection) => {
                connection.req_packed_commands(pipeline, offset, count)
            }
            #[cfg(feature = "cluster")]
            Self::Cluster(connection) => connection.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Multiplexed(connection) => connection.get_db(),
            #[cfg(feature = "cluster")]
            Self::Cluster(connection) => connection.get_db(),
        }
    }
}

/// A new connection, and what must live as long as it is shared (a pool's checkout).
pub(crate) struct Fresh {
    pub(crate) connection: Connection,
    pub(crate) guard: Option<deadpool_redis::Connection>,
}

/// Makes connections for one deployment.
#[allow(
    clippy::large_enum_variant,
    reason = "built once per connect and shared behind an Arc"
)]
pub(crate) enum Connector {
    /// One server, through a deadpool pool that creates, checks and replaces connections.
    Single(Single),
    /// The master the sentinels name, asked anew for every new connection.
    #[cfg(feature = "sentinel")]
    Sentinel(Sentinel),
    /// A Redis Cluster, through a connection that routes by key and heals itself.
    #[cfg(feature = "cluster")]
    Cluster(Cluster),
}

impl Connector {
    /// A new shared connection. Called only when there is none (cold path).
    pub(crate) async fn connect(&self) -> Result<Fresh, Failure> {
        match self {
            Self::Single(single) => single.connect().await,
            #[cfg(feature = "sentinel")]
            Self::Sentinel(sentinel) => sentinel.connect().await,
            #[cfg(feature = "cluster")]
            Self::Cluster(cluster) => cluster.connect().await,
        }
    }

    /// A client for a dedicated connection to a server that sees every published message.
    pub(crate) async fn pubsub_client(&self) -> Result<redis::Client, Failure> {
        match self {
            Self::Single(single) => single.pubsub_client(),
            #[cfg(feature = "sentinel")]
            Self::Sentinel(sentinel) => sentinel.pubsub_client().await,
            #[cfg(feature = "cluster")]
            Self::Cluster(cluster) => cluster.pubsub_client(),
        }
    }

    /// The pool's status, where there is a pool.
    pub(crate) fn pool_status(&self) -> Option<deadpool_redis::Status> {
        match self {
            Self::Single(single) => Some(single.pool_status()),
            #[cfg(feature = "sentinel")]
            Self::Sentinel(_) => None,
            #[cfg(feature = "cluster")]
            Self::Cluster(_) => None,
        }
    }

    /// Whether a connection that broke should be kept: a cluster connection reconnects
    /// to a failed node by itself, and replacing it would reconnect to every node.
    pub(crate) fn heals_itself(&self) -> bool {
        match self {
            #[cfg(feature = "cluster")]
            Self::Cluster(_) => true,
            _ => false,
        }
    }

    /// Stops handing out connections.
    pub(crate) fn close(&self) {
        match self {
            Self::Single(single) => single.close(),
            // Nothing is pooled: the adapter drops its connection.
            #[cfg(feature = "sentinel")]
            Self::Sentinel(sentinel) => sentinel.close(),
            #[cfg(feature = "cluster")]
            Self::Cluster(_) => {}
        }
    }

    /// A receiver that changes whenever the master moves to another server (a failover
    /// completed), where the deployment can tell.
    pub(crate) fn master_moves(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        match self {
            Self::Single(_) => None,
            #[cfg(feature = "sentinel")]
            Self::Sentinel(sentinel) => Some(sentinel.switches()),
            #[cfg(feature = "cluster")]
            Self::Cluster(_) => None,
        }
    }
}
