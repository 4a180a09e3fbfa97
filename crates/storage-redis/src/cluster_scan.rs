//! `keys` on a Redis Cluster: `SCAN` on every master, each key once, also while slots
//! move between masters.
//!
//! redis-rs sends a `SCAN` to a random node (its cursor means nothing on another), so
//! each master is scanned by address. A cursor walk on one node misses nothing that stays
//! there, but a key migrating from a master not yet scanned to one already scanned would
//! be missed. So the masters are scanned in an order that puts every migration's source
//! before its target (keys only move that way), and the slot map with its migration
//! states is read before and after: if it changed (a migration began, ended or moved on),
//! the pass runs again and the passes' keys are merged.

use std::collections::{BTreeMap, BTreeSet};

use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use redis::{Cmd, FromRedisValue};
use storage::{Operation, Result, StorageError};

use crate::RedisAdapter;
use crate::policy::{Failure, classify};
use crate::topology::Connection;

/// Passes after which `keys` gives up waiting for a quiet slot map and returns what it
/// found (every key that stayed put, and most that moved).
const MAX_PASSES: usize = 5;

/// A master as it describes itself (the `myself` line of its `CLUSTER NODES`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Master {
    host: String,
    port: u16,
    /// Its slot ranges and migration markers (`[slot->-target]`, `[slot-<-source]`).
    slots: Vec<String>,
}

/// The masters by node id.
type View = BTreeMap<String, Master>;

/// One line of `CLUSTER NODES`.
struct NodeLine<'a> {
    id: &'a str,
    address: Option<(&'a str, u16)>,
    flags: Vec<&'a str>,
    slots: Vec<&'a str>,
}

fn parse_line(line: &str) -> Option<NodeLine<'_>> {
    let mut fields = line.split_whitespace();
    let id = fields.next()?;
    // `host:port@cport[,hostname]`
    let address = fields.next()?;
    let address = address.split(['@', ',']).next()?;
    let address = address
        .rsplit_once(':')
        .and_then(|(host, port)| Some((host, port.parse().ok()?)))
        .filter(|(host, _)| !host.is_empty());
    let flags = fields.next()?.split(',').collect();
    // master id, ping sent, pong received, config epoch, link state
    let slots = fields.skip(5).collect();
    Some(NodeLine {
        id,
        address,
        flags,
        slots,
    })
}

/// The id, host and port of every master that may hold keys.
fn masters(nodes: &str) -> Vec<(String, String, u16)> {
    nodes
        .lines()
        .filter_map(parse_line)
        .filter(|node| {
            node.flags.contains(&"master")
                && !node
                    .flags
                    .iter()
                    .any(|flag| matches!(*flag, "fail" | "noaddr" | "handshake"))
        })
        .filter_map(|node| {
            let (host, port) = node.address?;
            Some((node.id.to_owned(), host.to_owned(), port))
        })
        .collect()
}

/// The masters in scan order, sources of migrations before their targets, and whether
/// such an order exists (it does not when two masters migrate to each other).
fn scan_order(view: &View) -> (Vec<String>, bool) {
    // before[node] = the nodes that must be scanned before it.
    let mut before: BTreeMap<&str, BTreeSet<&str>> = view
        .keys()
        .map(|id| (id.as_str(), BTreeSet::new()))
        .collect();
    for (id, master) in view {
        for slot in &master.slots {
            let Some(marker) = slot
                .strip_prefix('[')
                .and_then(|slot| slot.strip_suffix(']'))
            else {
                continue;
            };
            if let Some((_, target)) = marker.split_once("->-") {
                if let Some(after) = before.get_mut(target) {
                    after.insert(id);
                }
            } else if let Some((_, source)) = marker.split_once("-<-")
                && view.contains_key(source)
                && let Some(after) = before.get_mut(id.as_str())
            {
                after.insert(source);
            }
        }
    }
    let mut order = Vec::with_capacity(view.len());
    while !before.is_empty() {
        let ready: Vec<&str> = before
            .iter()
            .filter(|(_, waiting)| waiting.is_empty())
            .map(|(id, _)| *id)
            .collect();
        if ready.is_empty() {
            // A cycle: no order keeps every migration safe.
            order.extend(before.keys().map(|id| (*id).to_owned()));
            return (order, false);
        }
        for id in ready {
            before.remove(id);
            for waiting in before.values_mut() {
                waiting.remove(id);
            }
            order.push(id.to_owned());
        }
    }
    (order, true)
}

impl RedisAdapter {
    /// Every key matching `server_pattern` on every master, each once.
    pub(crate) async fn scan_cluster(&self, server_pattern: &str) -> Result<Vec<Vec<u8>>> {
        let mut keys = BTreeSet::new();
        let mut before = self.cluster_view().await?;
        for pass in 1..=MAX_PASSES {
            let (order, ordered) = scan_order(&before);
            for id in &order {
                if let Some(master) = before.get(id) {
                    self.scan_node(master, server_pattern, &mut keys).await?;
                }
            }
            let after = self.cluster_view().await?;
            if ordered && after == before {
                return Ok(keys.into_iter().collect());
            }
            tracing::debug!(
                pass,
                "the cluster's slots moved during a scan; scanning again"
            );
            before = after;
        }
        tracing::warn!(
            passes = MAX_PASSES,
            "the cluster's slots kept moving during keys(): a key that moved may be missing"
        );
        Ok(keys.into_iter().collect())
    }

    /// The masters and their slots and migrations, each as it describes itself.
    async fn cluster_view(&self) -> Result<View> {
        let mut nodes_command = redis::cmd("CLUSTER");
        nodes_command.arg("NODES");
        let nodes: String = self
            .route(&nodes_command, &SingleNodeRoutingInfo::Random)
            .await?;
        let mut view = View::new();
        for (id, host, port) in masters(&nodes) {
            let node = SingleNodeRoutingInfo::ByAddress {
                host: host.clone(),
                port,
            };
            let own: String = self.route(&nodes_command, &node).await?;
            let Some(myself) = own
                .lines()
                .filter_map(parse_line)
                .find(|line| line.flags.contains(&"myself"))
            else {
                continue;
            };
            if myself.flags.contains(&"master") && myself.id == id {
                view.insert(
                    id,
                    Master {
                        host,
                        port,
                        slots: myself.slots.iter().map(|slot| (*slot).to_owned()).collect(),
                    },
                );
            }
        }
        Ok(view)
    }

    /// Walks `SCAN` on one master.
    async fn scan_node(
        &self,
        master: &Master,
        server_pattern: &str,
        keys: &mut BTreeSet<Vec<u8>>,
    ) -> Result<()> {
        let node = SingleNodeRoutingInfo::ByAddress {
            host: master.host.clone(),
            port: master.port,
        };
        let mut cursor: u64 = 0;
        loop {
            let mut command = redis::cmd("SCAN");
            command
                .arg(cursor)
                .arg("MATCH")
                .arg(server_pattern)
                .arg("COUNT")
                .arg(self.config().scan_count);
            let (next, page): (u64, Vec<Vec<u8>>) = self.route(&command, &node).await?;
            keys.extend(page);
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }

    /// Sends `command` to `node` under the timeout and retry policy (for `keys`).
    async fn route<T: FromRedisValue>(
        &self,
        command: &Cmd,
        node: &SingleNodeRoutingInfo,
    ) -> Result<T> {
        self.run(Operation::Keys, true, |connection| async move {
            let Connection::Cluster(mut cluster) = connection else {
                return Err(Failure::Final(StorageError::Backend {
                    operation: Operation::Keys,
                    message: "a cluster scan needs a cluster connection".to_owned(),
                    source: None,
                }));
            };
            let reply = cluster
                .route_command(command.clone(), RoutingInfo::SingleNode(node.clone()))
                .await
                .and_then(redis::Value::extract_error)
                .map_err(|error| classify(error, Operation::Keys, None))?;
            T::from_redis_value(reply)
                .map_err(|error| classify(error.into(), Operation::Keys, None))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn master(slots: &[&str]) -> Master {
        Master {
            host: "127.0.0.1".to_owned(),
            port: 1,
            slots: slots.iter().map(|slot| (*slot).to_owned()).collect(),
        }
    }

    #[test]
    fn masters_are_read_from_cluster_nodes() {
        let nodes = "\
a1 127.0.0.1:7001@17001 myself,master - 0 0 1 connected 0-5460 [93->-c3]
b2 127.0.0.1:7002@17002,node-b master - 0 1 2 connected 5461-10922
c3 127.0.0.1:7003@17003 master - 0 1 3 connected 10923-16383 [93-<-a1]
d4 127.0.0.1:7004@17004 slave b2 0 1 2 connected
e5 127.0.0.1:7005@17005 master,fail - 0 1 5 disconnected
f6 :0@0 master,noaddr - 0 1 6 disconnected
";
        assert_eq!(
            masters(nodes),
            vec![
                ("a1".to_owned(), "127.0.0.1".to_owned(), 7001),
                ("b2".to_owned(), "127.0.0.1".to_owned(), 7002),
                ("c3".to_owned(), "127.0.0.1".to_owned(), 7003),
            ]
        );
        let line = parse_line(nodes.lines().next().unwrap()).unwrap();
        assert_eq!(line.slots, vec!["0-5460", "[93->-c3]"]);
    }

    #[test]
    fn sources_of_migrations_are_scanned_before_their_targets() {
        // c migrates to a (seen from c), b imports from c (seen from b).
        let view: View = [
            ("a".to_owned(), master(&["0-10"])),
            ("b".to_owned(), master(&["11-20", "[30-<-c]"])),
            ("c".to_owned(), master(&["21-40", "[25->-a]"])),
        ]
        .into();
        let (order, ordered) = scan_order(&view);
        assert!(ordered);
        let position = |id: &str| order.iter().position(|other| other == id).unwrap();
        assert!(
            position("c") < position("a") && position("c") < position("b"),
            "{order:?}"
        );

        let cycle: View = [
            ("a".to_owned(), master(&["[1->-b]"])),
            ("b".to_owned(), master(&["[2->-a]"])),
        ]
        .into();
        let (order, ordered) = scan_order(&cycle);
        assert!(!ordered);
        assert_eq!(order.len(), 2);
    }
}
