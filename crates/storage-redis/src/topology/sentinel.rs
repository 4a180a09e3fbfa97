//! A master found, and followed through failovers, by asking Redis Sentinel.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::MultiplexedConnection;
use redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use redis::{AsyncConnectionConfig, IntoConnectionInfo, TlsMode};
use tokio::sync::watch;

use super::{Connection, Fresh};
use crate::policy::{Failure, setup_failure};
use crate::{RedisConfig, SentinelConfig};

/// How long the switch watcher waits between attempts to reach a sentinel.
const WATCH_RETRY: Duration = Duration::from_secs(1);

/// The master behind the sentinels. Every new connection asks them where it is now (and
/// checks the server named is a master), so replacing a broken or demoted connection
/// follows a failover. A watcher subscribed to the sentinels' `+switch-master` events
/// reports each failover as it completes, so a connection to a master that is still up
/// but no longer the master is left at once, not when that server is finally demoted
/// (sentinels reconfigure a surviving old master only after their next `INFO` of it).
pub(crate) struct Sentinel {
    /// Serialized: the client caches its sentinel connections and rotates replicas.
    client: Arc<tokio::sync::Mutex<SentinelClient>>,
    connection_config: AsyncConnectionConfig,
    master_name: String,
    timeout: Duration,
    /// Counts the failovers the watcher has seen.
    switches: watch::Sender<u64>,
    watcher: parking_lot::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// Why the sentinel client could not be built.
pub(crate) enum BuildError {
    Client(redis::RedisError),
    #[cfg(feature = "tls")]
    Tls(crate::tls::SetupError),
}

impl Sentinel {
    pub(crate) fn new(config: &RedisConfig, sentinel: &SentinelConfig) -> Result<Self, BuildError> {
        let addresses = sentinel
            .sentinels
            .iter()
            .map(|url| {
                url.as_str()
                    .into_connection_info()
                    .map(|info| info.addr().clone())
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(BuildError::Client)?;
        let mut builder = SentinelClientBuilder::new(
            addresses,
            &sentinel.master_name,
            SentinelServerType::Master,
        )
        .map_err(BuildError::Client)?
        .set_client_to_redis_db(sentinel.db);
        if let Some(username) = &sentinel.master_username {
            builder = builder.set_client_to_redis_username(username);
        }
        if let Some(password) = &sentinel.master_password {
            builder = builder.set_client_to_redis_password(password);
        }
        if let Some(username) = &sentinel.sentinel_username {
            builder = builder.set_client_to_sentinel_username(username);
        }
        if let Some(password) = &sentinel.sentinel_password {
            builder = builder.set_client_to_sentinel_password(password);
        }
        if config.uses_tls() {
            builder = builder
                .set_client_to_redis_tls_mode(TlsMode::Secure)
                .set_client_to_sentinel_tls_mode(TlsMode::Secure);
            #[cfg(feature = "tls")]
            if let Some(tls) = &config.tls {
                crate::tls::install_provider();
                let certificates = crate::tls::certificates(tls).map_err(BuildError::Tls)?;
                builder = builder
                    .set_client_to_redis_certificates(certificates.clone())
                    .set_client_to_sentinel_certificates(certificates);
            }
        }
        let client = builder.build().map_err(BuildError::Client)?;
        Ok(Self {
            client: Arc::new(tokio::sync::Mutex::new(client)),
            connection_config: AsyncConnectionConfig::new()
                .set_connection_timeout(Some(config.timeout))
                .set_response_timeout(None),
            master_name: sentinel.master_name.clone(),
            timeout: config.timeout,
            switches: watch::Sender::new(0),
            watcher: parking_lot::Mutex::new(None),
        })
    }

    /// Starts watching for failovers (once): `on_switch` runs after each.
    pub(crate) fn watch(&self, on_switch: impl Fn() + Send + Sync + 'static) {
        let mut watcher = self.watcher.lock();
        if watcher.is_none() {
            *watcher = Some(tokio::spawn(watch_switches(
                Arc::clone(&self.client),
                self.master_name.clone(),
                self.switches.clone(),
                on_switch,
                self.timeout,
            )));
        }
    }

    /// A receiver that changes on every failover the watcher sees.
    pub(crate) fn switches(&self) -> watch::Receiver<u64> {
        self.switches.subscribe()
    }

    /// Stops the watcher.
    pub(crate) fn close(&self) {
        if let Some(watcher) = self.watcher.lock().take() {
            watcher.abort();
        }
    }

    pub(crate) async fn connect(&self) -> Result<Fresh, Failure> {
        let connection: MultiplexedConnection = self
            .client
            .lock()
            .await
            .get_async_connection_with_config(&self.connection_config)
            .await
            .map_err(setup_failure)?;
        Ok(Fresh {
            connection: Connection::Multiplexed(connection),
            guard: None,
        })
    }

    pub(crate) async fn pubsub_client(&self) -> Result<redis::Client, Failure> {
        self.client
            .lock()
            .await
            .async_get_client()
            .await
            .map_err(setup_failure)
    }
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        self.close();
    }
}

/// Subscribes to `+switch-master` on the first sentinel that answers, and counts in
/// `switches` (and reports to `on_switch`) each failover of `master_name`; after losing
/// the sentinel, tries again every [`WATCH_RETRY`]. The subscription is checked with a
/// `PING` whenever it has been quiet for `timeout` (at least a second).
async fn watch_switches(
    client: Arc<tokio::sync::Mutex<SentinelClient>>,
    master_name: String,
    switches: watch::Sender<u64>,
    on_switch: impl Fn(),
    timeout: Duration,
) {
    let quiet = timeout.max(Duration::from_secs(1));
    loop {
        let subscribe = async {
            let sentinel = client.lock().await.async_get_sentinel_client().await?;
            let mut pubsub = sentinel.get_async_pubsub().await?;
            pubsub.subscribe("+switch-master").await?;
            Ok::<_, redis::RedisError>(pubsub)
        };
        match tokio::time::timeout(timeout, subscribe).await {
            Ok(Ok(pubsub)) => {
                let (mut sink, mut messages) = pubsub.split();
                loop {
                    match tokio::time::timeout(quiet, messages.next()).await {
                        Ok(Some(message)) => {
                            // "<master name> <old ip> <old port> <new ip> <new port>"
                            let payload: String = message.get_payload().unwrap_or_default();
                            if payload.split(' ').next() == Some(master_name.as_str()) {
                                tracing::info!(%payload, "redis sentinel switched the master");
                                switches.send_modify(|count| *count += 1);
                                on_switch();
                            }
                        }
                        Ok(None) => break,
                        Err(_quiet) => {
                            let ping = tokio::time::timeout(timeout, sink.ping::<redis::Value>());
                            if !matches!(ping.await, Ok(Ok(_))) {
                                break;
                            }
                        }
                    }
                }
                tracing::debug!("lost the sentinel's +switch-master subscription");
            }
            Ok(Err(error)) => {
                tracing::debug!(%error, "cannot subscribe to a sentinel's +switch-master");
            }
            Err(_elapsed) => tracing::debug!("subscribing to +switch-master timed out"),
        }
        tokio::time::sleep(WATCH_RETRY).await;
    }
}
