//! A Redis Cluster for tests, and slot migrations to run while it serves.

use std::ffi::OsString;
use std::io;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::{RedisServer, skip, sync_connection, wait_for};
use crate::ClusterConfig;

/// Masters (and replicas) of a Redis Cluster on free 127.0.0.1 ports, built with
/// `redis-cli --cluster create` (node timeout 2 s). Stopped on drop.
#[derive(Debug)]
pub struct ClusterTopology {
    nodes: Vec<RedisServer>,
}

impl ClusterTopology {
    /// Starts `masters` masters with `replicas` replicas each, joins them into a cluster
    /// covering every slot, and waits until every node says the cluster is ok (about
    /// 2 s: a master serves no query in its first 2 s).
    ///
    /// # Errors
    ///
    /// `NotFound` when `redis-server` or `redis-cli` is not installed; any other error
    /// if the cluster does not come up within 15 s.
    pub fn start(masters: usize, replicas: usize) -> io::Result<Self> {
        let mut nodes = Vec::with_capacity(masters * (1 + replicas));
        for _ in 0..masters * (1 + replicas) {
            nodes.push(RedisServer::start_with_args(
                [
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-node-timeout",
                    "2000",
                    "--repl-diskless-sync-delay",
                    "0",
                ]
                .map(OsString::from)
                .to_vec(),
            )?);
        }
        let output = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(
                nodes
                    .iter()
                    .map(|node| format!("127.0.0.1:{}", node.port())),
            )
            .args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"])
            .stdin(Stdio::null())
            .output()?;
        if !output.status.success() {
            return Err(io::Error::other(format!(
                "redis-cli --cluster create failed: {}",
                String::from_utf8_lossy(&output.stdout).trim()
            )));
        }
        let topology = Self { nodes };
        let count = topology.nodes.len().to_string();
        wait_for(Duration::from_secs(15), "the cluster to be ok", || {
            topology.nodes.iter().all(|node| {
                cluster_info(node.port(), "cluster_state").is_ok_and(|state| state == "ok")
                    && cluster_info(node.port(), "cluster_known_nodes")
                        .is_ok_and(|known| known == count)
            })
        })?;
        Ok(topology)
    }

    /// Starts the cluster, or returns `None` (after [`skip`]) when `redis-server` or
    /// `redis-cli` is not installed.
    ///
    /// # Panics
    ///
    /// When they are installed but the cluster does not come up.
    #[must_use]
    pub fn start_or_skip(test: &str, masters: usize, replicas: usize) -> Option<Self> {
        match Self::start(masters, replicas) {
            Ok(topology) => Some(topology),
            Err(error) if error.kind() == io::ErrorKind::NotFound => skip(
                test,
                "redis-server or redis-cli is not installed (apt-get install redis-server redis-tools)",
            ),
            Err(error) => panic!("{test}: the cluster did not start: {error}"),
        }
    }

    /// The `cluster` section naming every node as a seed.
    #[must_use]
    pub fn cluster_config(&self) -> ClusterConfig {
        ClusterConfig::new(
            self.nodes
                .iter()
                .map(|node| format!("redis://127.0.0.1:{}", node.port()))
                .collect(),
        )
    }

    /// The nodes' ports.
    #[must_use]
    pub fn ports(&self) -> Vec<u16> {
        self.nodes.iter().map(RedisServer::port).collect()
    }

    /// The node on `port`, to kill, freeze or restart it.
    #[must_use]
    pub fn node_mut(&mut self, port: u16) -> Option<&mut RedisServer> {
        self.nodes.iter_mut().find(|node| node.port() == port)
    }

    /// The slot `key` hashes to (`CLUSTER KEYSLOT`).
    ///
    /// # Errors
    ///
    /// If no node answers.
    pub fn slot_of(&self, key: &str) -> io::Result<u16> {
        let mut connection = sync_connection(self.ports()[0], None)?;
        redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(key)
            .query(&mut connection)
            .map_err(io::Error::other)
    }

    /// The port of the master serving `slot`.
    ///
    /// # Errors
    ///
    /// If no node answers or none serves the slot.
    pub fn owner_of(&self, slot: u16) -> io::Result<u16> {
        let mut connection = sync_connection(self.ports()[0], None)?;
        let ranges: Vec<(u16, u16, (String, u16))> = redis::cmd("CLUSTER")
            .arg("SLOTS")
            .query::<Vec<redis::Value>>(&mut connection)
            .map_err(io::Error::other)?
            .into_iter()
            .filter_map(|range| {
                let redis::Value::Array(parts) = range else {
                    return None;
                };
                let mut parts = parts.into_iter();
                let start = redis::from_redis_value(parts.next()?).ok()?;
                let end = redis::from_redis_value(parts.next()?).ok()?;
                let redis::Value::Array(master) = parts.next()? else {
                    return None;
                };
                let mut master = master.into_iter();
                let host = redis::from_redis_value(master.next()?).ok()?;
                let port = redis::from_redis_value(master.next()?).ok()?;
                Some((start, end, (host, port)))
            })
            .collect();
        ranges
            .into_iter()
            .find(|(start, end, _)| (*start..=*end).contains(&slot))
            .map(|(_, _, (_, port))| port)
            .ok_or_else(|| io::Error::other(format!("no master serves slot {slot}")))
    }

    /// Starts moving `slot` to the master on `to` the way `redis-cli --cluster reshard`
    /// does: the target marks it importing, the source migrating. Until
    /// [`SlotMigration::finish`], the source answers `ASK` for keys it no longer has.
    ///
    /// # Errors
    ///
    /// If a node refuses.
    pub fn begin_migration(&self, slot: u16, to: u16) -> io::Result<SlotMigration> {
        let from = self.owner_of(slot)?;
        let (from_id, to_id) = (node_id(from)?, node_id(to)?);
        cluster_command(to, &["SETSLOT", &slot.to_string(), "IMPORTING", &from_id])?;
        cluster_command(from, &["SETSLOT", &slot.to_string(), "MIGRATING", &to_id])?;
        Ok(SlotMigration {
            slot,
            from,
            to,
            to_id,
            masters: self.ports(),
        })
    }
}

/// A slot on its way from one master to another; see
/// [`ClusterTopology::begin_migration`].
#[derive(Debug)]
pub struct SlotMigration {
    slot: u16,
    from: u16,
    to: u16,
    to_id: String,
    masters: Vec<u16>,
}

impl SlotMigration {
    /// Moves up to `count` of the slot's keys still on the source (`MIGRATE`), and returns
    /// how many moved: 0 once the source has none left.
    ///
    /// # Errors
    ///
    /// If a node refuses.
    pub fn move_keys(&self, count: usize) -> io::Result<usize> {
        let mut source = sync_connection(self.from, None)?;
        let keys: Vec<Vec<u8>> = redis::cmd("CLUSTER")
            .arg("GETKEYSINSLOT")
            .arg(self.slot)
            .arg(count)
            .query(&mut source)
            .map_err(io::Error::other)?;
        if keys.is_empty() {
            return Ok(0);
        }
        let mut migrate = redis::cmd("MIGRATE");
        migrate
            .arg("127.0.0.1")
            .arg(self.to)
            .arg("")
            .arg(0)
            .arg(5000)
            .arg("KEYS")
            .arg(&keys);
        let _: redis::Value = migrate.query(&mut source).map_err(io::Error::other)?;
        Ok(keys.len())
    }

    /// Moves the remaining keys and gives the slot to the target on every master.
    ///
    /// # Errors
    ///
    /// If a node refuses.
    pub fn finish(self) -> io::Result<()> {
        while self.move_keys(100)? > 0 {}
        let slot = self.slot.to_string();
        // The target first, then the source, then everyone (as redis-cli does).
        let mut order = vec![self.to, self.from];
        order.extend(
            self.masters
                .iter()
                .filter(|port| **port != self.to && **port != self.from),
        );
        for port in order {
            // Replicas refuse SETSLOT; only masters matter.
            let _ = cluster_command(port, &["SETSLOT", &slot, "NODE", &self.to_id]);
        }
        Ok(())
    }
}

fn cluster_command(port: u16, args: &[&str]) -> io::Result<()> {
    let mut connection = sync_connection(port, None)?;
    redis::cmd("CLUSTER")
        .arg(args)
        .query::<()>(&mut connection)
        .map_err(io::Error::other)
}

fn node_id(port: u16) -> io::Result<String> {
    let mut connection = sync_connection(port, None)?;
    redis::cmd("CLUSTER")
        .arg("MYID")
        .query(&mut connection)
        .map_err(io::Error::other)
}

fn cluster_info(port: u16, field: &str) -> io::Result<String> {
    let mut connection = sync_connection(port, None)?;
    let info: String = redis::cmd("CLUSTER")
        .arg("INFO")
        .query(&mut connection)
        .map_err(io::Error::other)?;
    info.lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .map(str::to_owned)
        .ok_or_else(|| io::Error::other(format!("no {field} in CLUSTER INFO")))
}
