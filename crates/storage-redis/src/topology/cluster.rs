//! A Redis Cluster: each command goes to the master owning its key's slot.

use std::sync::atomic::{AtomicUsize, Ordering};

use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use redis::{
    Cmd, ConnectionInfo, ErrorKind, IntoConnectionInfo, RedisFuture, ServerErrorKind, Value,
};

use super::{Connection, Fresh};
use crate::policy::{Failure, setup_failure};
use crate::{ClusterConfig, RedisConfig};

/// How many `MOVED`/`ASK` redirects one attempt follows: a slot moves at most once or
/// twice while a command is on its way.
const MAX_REDIRECTS: usize = 5;

/// The cluster, through redis-rs's cluster connection, which learns the slot map from
/// the seed nodes, connects to every master and routes each command by its key.
///
/// That connection is told never to retry by itself: redis-rs would re-send a command
/// whose connection broke while it was in flight, which breaks `increment`'s
/// exactly-once rule. The adapter's policy decides instead, and [`request`] follows
/// `MOVED` and `ASK` redirects, which are refusals to run the command and safe to
/// follow for any command.
pub(crate) struct Cluster {
    client: ClusterClient,
    /// The seed nodes, certificates attached, for subscriptions.
    seeds: Vec<ConnectionInfo>,
    next_seed: AtomicUsize,
}

/// Why the cluster client could not be built.
pub(crate) enum BuildError {
    Client(redis::RedisError),
    #[cfg(feature = "tls")]
    Tls(crate::tls::SetupError),
}

impl Cluster {
    pub(crate) fn new(config: &RedisConfig, cluster: &ClusterConfig) -> Result<Self, BuildError> {
        let seeds = cluster
            .nodes
            .iter()
            .map(|url| url.as_str().into_connection_info())
            .collect::<Result<Vec<_>, _>>()
            .map_err(BuildError::Client)?;
        let builder = ClusterClientBuilder::new(seeds.clone())
            .retries(0)
            .connection_timeout(config.timeout);
        #[cfg(feature = "tls")]
        let (builder, seeds) = {
            let mut with_certificates = Vec::with_capacity(seeds.len());
            for seed in seeds {
                with_certificates
                    .push(crate::tls::apply(seed, config.tls.as_ref()).map_err(BuildError::Tls)?);
            }
            let builder = match &config.tls {
                Some(tls) => builder.certs(crate::tls::certificates(tls).map_err(BuildError::Tls)?),
                None => builder,
            };
            (builder, with_certificates)
        };
        let client = builder.build().map_err(BuildError::Client)?;
        Ok(Self {
            client,
            seeds,
            next_seed: AtomicUsize::new(0),
        })
    }

    pub(crate) async fn connect(&self) -> Result<Fresh, Failure> {
        let connection = self
            .client
            .get_async_connection()
            .await
            .map_err(setup_failure)?;
        Ok(Fresh {
            connection: Connection::Cluster(connection),
            guard: None,
        })
    }

    /// A client for the next seed node: every node of a cluster sees the messages
    /// published on any node.
    pub(crate) fn pubsub_client(&self) -> Result<redis::Client, Failure> {
        let index = self.next_seed.fetch_add(1, Ordering::Relaxed);
        let seed = self
            .seeds
            .get(index % self.seeds.len().max(1))
            .cloned()
            .ok_or(Failure::Closed)?;
        redis::Client::open(seed).map_err(setup_failure)
    }
}

/// Sends `command` to the master of its key's slot (any node for a keyless one),
/// following `MOVED` (to the new owner) and `ASK` (`ASKING` then the command, in one
/// pipeline, to the importing node) redirects.
pub(crate) fn request<'a>(
    connection: &'a mut ClusterConnection,
    command: &'a Cmd,
) -> RedisFuture<'a, Value> {
    Box::pin(async move {
        let mut result = redis::aio::ConnectionLike::req_packed_command(connection, command).await;
        for _ in 0..MAX_REDIRECTS {
            let redirect = match &result {
                Err(error) => redirect(error),
                Ok(_) => None,
            };
            let Some((ask, route)) = redirect else {
                return result;
            };
            result = if ask {
                let mut pipeline = redis::pipe();
                pipeline.cmd("ASKING").add_command(command.clone());
                connection
                    .route_pipeline(pipeline, 1, 1, route)
                    .await
                    .map(|mut replies| replies.pop().unwrap_or(Value::Nil))
            } else {
                connection
                    .route_command(command.clone(), RoutingInfo::SingleNode(route))
                    .await
            };
        }
        result
    })
}

/// Where a `MOVED` or `ASK` error sends the command, and whether it is an `ASK`.
fn redirect(error: &redis::RedisError) -> Option<(bool, SingleNodeRoutingInfo)> {
    let ask = match error.kind() {
        ErrorKind::Server(ServerErrorKind::Ask) => true,
        ErrorKind::Server(ServerErrorKind::Moved) => false,
        _ => return None,
    };
    let (node, _slot) = error.redirect_node()?;
    let (host, port) = node.rsplit_once(':')?;
    Some((
        ask,
        SingleNodeRoutingInfo::ByAddress {
            host: host.to_owned(),
            port: port.parse().ok()?,
        },
    ))
}
