//! A Sentinel topology for tests: one master, one replica, three sentinels.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io;
use std::time::Duration;

use super::{RedisServer, free_port, info_field, skip, sync_connection, wait_for};
use crate::SentinelConfig;

/// The name the test sentinels monitor the master under.
pub const MASTER_NAME: &str = "storage-redis-test";
/// The password of the test master and replica (`requirepass`, `masterauth`).
pub const DATA_PASSWORD: &str = "data-secret-7f3a";
/// The password of the test sentinels (`requirepass`, `sentinel sentinel-pass`).
pub const SENTINEL_PASSWORD: &str = "sentinel-secret-91bc";

/// How long a sentinel waits before it calls an unanswering master down.
pub const DOWN_AFTER: Duration = Duration::from_millis(1000);
/// The sentinels' `failover-timeout`.
pub const FAILOVER_TIMEOUT: Duration = Duration::from_millis(3000);

/// One master and one replica (both requiring [`DATA_PASSWORD`]) watched by three
/// sentinels (requiring [`SENTINEL_PASSWORD`]) with tight timings ([`DOWN_AFTER`],
/// [`FAILOVER_TIMEOUT`]), all on free 127.0.0.1 ports. A failover of a killed master
/// takes about 1.5 s. Everything stops on drop.
#[derive(Debug)]
pub struct SentinelTopology {
    /// The master and the replica, whichever role each has now.
    nodes: Vec<RedisServer>,
    sentinels: Vec<RedisServer>,
}

impl SentinelTopology {
    /// Starts the servers and waits (about 2 s: sentinels announce themselves every
    /// 2 s) until every sentinel knows the replica and the other two sentinels.
    ///
    /// # Errors
    ///
    /// `NotFound` when `redis-server` is not installed; any other error if the topology
    /// does not come up within 10 s.
    pub fn start() -> io::Result<Self> {
        let data_args = |extra: Vec<OsString>| {
            let mut args: Vec<OsString> = vec![
                "--requirepass".into(),
                DATA_PASSWORD.into(),
                "--masterauth".into(),
                DATA_PASSWORD.into(),
                // A full sync starts at once, not after the default 5 s wait for more
                // replicas.
                "--repl-diskless-sync-delay".into(),
                "0".into(),
            ];
            args.extend(extra);
            args
        };
        let master = RedisServer::start_with_args(data_args(Vec::new()))?;
        let replica = RedisServer::start_with_args(data_args(vec![
            "--replicaof".into(),
            "127.0.0.1".into(),
            master.port().to_string().into(),
        ]))?;
        // Sentinels find replicas in the master's INFO: start them once the replica is
        // linked, or they learn of it only at their next INFO, 10 s later.
        wait_for(
            Duration::from_secs(10),
            "the replica to link to its master",
            || {
                info_field(
                    replica.port(),
                    Some(DATA_PASSWORD),
                    "replication",
                    "master_link_status",
                )
                .is_ok_and(|status| status == "up")
            },
        )?;
        let mut sentinels = Vec::with_capacity(3);
        for _ in 0..3 {
            let config = format!(
                "requirepass {SENTINEL_PASSWORD}\n\
                 sentinel sentinel-pass {SENTINEL_PASSWORD}\n\
                 sentinel monitor {MASTER_NAME} 127.0.0.1 {port} 2\n\
                 sentinel auth-pass {MASTER_NAME} {DATA_PASSWORD}\n\
                 sentinel down-after-milliseconds {MASTER_NAME} {down}\n\
                 sentinel failover-timeout {MASTER_NAME} {failover}\n",
                port = master.port(),
                down = DOWN_AFTER.as_millis(),
                failover = FAILOVER_TIMEOUT.as_millis(),
            );
            sentinels.push(RedisServer::launch(
                free_port()?,
                |_| vec!["--sentinel".into()],
                false,
                Some(&config),
            )?);
        }
        let topology = Self {
            nodes: vec![master, replica],
            sentinels,
        };
        wait_for(
            Duration::from_secs(10),
            "the sentinels to find each other and the replica",
            || {
                topology.sentinels.iter().all(|sentinel| {
                    sentinel_master(sentinel.port()).is_ok_and(|master| {
                        master.get("num-other-sentinels").map(String::as_str) == Some("2")
                            && master.get("num-slaves").map(String::as_str) == Some("1")
                    })
                })
            },
        )?;
        Ok(topology)
    }

    /// Starts the topology, or returns `None` (after [`skip`]) when `redis-server` is
    /// not installed.
    ///
    /// # Panics
    ///
    /// When `redis-server` is installed but the topology does not come up.
    #[must_use]
    pub fn start_or_skip(test: &str) -> Option<Self> {
        match Self::start() {
            Ok(topology) => Some(topology),
            Err(error) if error.kind() == io::ErrorKind::NotFound => skip(
                test,
                "redis-server is not installed (apt-get install redis-server)",
            ),
            Err(error) => panic!("{test}: the Sentinel topology did not start: {error}"),
        }
    }

    /// The `sentinel` section that reaches this topology (both passwords set).
    #[must_use]
    pub fn sentinel_config(&self) -> SentinelConfig {
        let mut config = SentinelConfig::new(
            MASTER_NAME,
            self.sentinels
                .iter()
                .map(|sentinel| format!("redis://127.0.0.1:{}", sentinel.port()))
                .collect(),
        );
        config.sentinel_password = Some(SENTINEL_PASSWORD.to_owned());
        config.master_password = Some(DATA_PASSWORD.to_owned());
        config
    }

    /// The port of the master the sentinels name now.
    ///
    /// # Errors
    ///
    /// If no sentinel answers.
    pub fn master_port(&self) -> io::Result<u16> {
        let mut last = io::Error::other("no sentinel");
        for sentinel in &self.sentinels {
            match master_address(sentinel.port()) {
                Ok(port) => return Ok(port),
                Err(error) => last = error,
            }
        }
        Err(last)
    }

    /// The URL of the data node on `port`, password included.
    #[must_use]
    pub fn node_url(&self, port: u16) -> String {
        format!("redis://:{DATA_PASSWORD}@127.0.0.1:{port}/0")
    }

    /// Kills (`SIGKILL`) the master the sentinels name now and returns its port.
    ///
    /// # Errors
    ///
    /// If no sentinel answers, or they name a server that is not part of the topology.
    pub fn kill_master(&mut self) -> io::Result<u16> {
        let port = self.master_port()?;
        let node = self
            .nodes
            .iter_mut()
            .find(|node| node.port() == port)
            .ok_or_else(|| {
                io::Error::other(format!(
                    "the sentinels name an unknown master on port {port}"
                ))
            })?;
        node.kill();
        Ok(port)
    }

    /// Waits until every sentinel names a master other than the one on `old_port`, and
    /// returns its port.
    ///
    /// # Errors
    ///
    /// `TimedOut` if that does not happen `within`.
    pub fn wait_for_failover(&self, old_port: u16, within: Duration) -> io::Result<u16> {
        let mut new_port = old_port;
        wait_for(within, "a failover", || {
            let named: Vec<u16> = self
                .sentinels
                .iter()
                .filter_map(|sentinel| master_address(sentinel.port()).ok())
                .collect();
            match named.first() {
                Some(&port)
                    if port != old_port
                        && named.len() == self.sentinels.len()
                        && named.iter().all(|other| *other == port) =>
                {
                    new_port = port;
                    true
                }
                _ => false,
            }
        })?;
        Ok(new_port)
    }
}

/// What the sentinel on `port` knows of the master.
fn sentinel_master(port: u16) -> io::Result<HashMap<String, String>> {
    let mut connection = sync_connection(port, Some(SENTINEL_PASSWORD))?;
    redis::cmd("SENTINEL")
        .arg("MASTER")
        .arg(MASTER_NAME)
        .query(&mut connection)
        .map_err(io::Error::other)
}

/// The master port the sentinel on `port` names.
fn master_address(port: u16) -> io::Result<u16> {
    let mut connection = sync_connection(port, Some(SENTINEL_PASSWORD))?;
    let (_host, port): (String, u16) = redis::cmd("SENTINEL")
        .arg("GET-MASTER-ADDR-BY-NAME")
        .arg(MASTER_NAME)
        .query(&mut connection)
        .map_err(io::Error::other)?;
    Ok(port)
}
