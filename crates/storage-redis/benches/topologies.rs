//! The adapter on the deployments of issue 15, against a peer in the same run, doing
//! SET with expiry + GET of a ~110-byte JSON document (serialize, SET PX, GET, parse):
//!
//! - `storage-redis/cluster-set-get/{adapter,cluster-connection}/64`: 64 tasks on a
//!   3-master Redis Cluster started here, through the adapter and through one redis-rs
//!   cluster async connection used directly (the floor);
//! - `storage-redis/tls-set-get/{tcp,tls}/{1,64}`: the adapter on one redis-server started
//!   here with a plain and a TLS port (test certificates from `openssl`): the cost of TLS.
//!
//! Reported as time per SET+GET pair (pairs/s = 1e9 / ns).
#![allow(missing_docs, reason = "criterion generates the entry points")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a bench aborts on failure"
)]

use std::ffi::OsString;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Value, json};
use storage::Storage;
use storage_redis::testing::cluster::ClusterTopology;
use storage_redis::testing::{RedisServer, ServerCertificate, TestCertificates, free_port};
use storage_redis::{RedisAdapter, RedisConfig};
use tokio::runtime::Runtime;

const TTL: Duration = Duration::from_secs(60);
const KEYS: u64 = 1000;

fn document(i: u64) -> Value {
    json!({"id": i, "user": "alice", "role": "admin", "active": true, "score": 0.87, "tags": ["a", "b", "c"]})
}

#[derive(Clone)]
enum Target {
    Adapter(RedisAdapter),
    Cluster(redis::cluster_async::ClusterConnection),
}

impl Target {
    async fn pair(&self, key: &str, value: Value) {
        match self {
            Self::Adapter(adapter) => {
                adapter.set(key, value, Some(TTL)).await.unwrap();
                let read = adapter.get(key).await.unwrap();
                assert!(read.is_some());
            }
            Self::Cluster(connection) => {
                let mut connection = connection.clone();
                let payload = serde_json::to_vec(&value).unwrap();
                let _: () = redis::cmd("SET")
                    .arg(key)
                    .arg(payload)
                    .arg("PX")
                    .arg(u64::try_from(TTL.as_millis()).unwrap())
                    .query_async(&mut connection)
                    .await
                    .unwrap();
                let bytes: Option<Vec<u8>> = redis::cmd("GET")
                    .arg(key)
                    .query_async(&mut connection)
                    .await
                    .unwrap();
                let read: Value = serde_json::from_slice(&bytes.unwrap()).unwrap();
                assert!(!read.is_null());
            }
        }
    }
}

async fn run(target: &Target, tasks: u64, iters: u64) -> Duration {
    let per_task = iters.div_ceil(tasks);
    let started = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|task| {
            let target = target.clone();
            tokio::spawn(async move {
                for i in 0..per_task {
                    let n = (task * per_task + i) % KEYS;
                    target.pair(&format!("bench:{n}"), document(n)).await;
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await.unwrap();
    }
    started.elapsed()
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn adapter(config: RedisConfig) -> RedisAdapter {
    let adapter = RedisAdapter::from_config(config).unwrap();
    adapter.connect().await.unwrap();
    adapter
}

fn measure(
    c: &mut Criterion,
    group: &str,
    runtime: &Runtime,
    targets: &[(&str, Target)],
    tasks: &[u64],
) {
    let mut group = c.benchmark_group(group);
    group.throughput(Throughput::Elements(1));
    for &tasks in tasks {
        for (name, target) in targets {
            group.bench_function(BenchmarkId::new(*name, tasks), |b| {
                b.to_async(runtime).iter_custom(|iters| {
                    let target = target.clone();
                    async move { run(&target, tasks, iters).await }
                });
            });
        }
    }
    group.finish();
}

fn cluster(c: &mut Criterion) {
    let topology =
        ClusterTopology::start(3, 0).expect("a 3-master cluster (redis-server, redis-cli)");
    let runtime = runtime();
    let cluster_config = topology.cluster_config();
    let (adapter, connection) = runtime.block_on(async {
        let mut config = RedisConfig::default();
        config.cluster = Some(cluster_config.clone());
        config.key_prefix = "bench-adapter:".into();
        let client = redis::cluster::ClusterClient::new(cluster_config.nodes.clone()).unwrap();
        (
            adapter(config).await,
            client.get_async_connection().await.unwrap(),
        )
    });
    let targets = [
        ("adapter", Target::Adapter(adapter)),
        ("cluster-connection", Target::Cluster(connection)),
    ];
    measure(
        c,
        "storage-redis/cluster-set-get",
        &runtime,
        &targets,
        &[64],
    );
    drop(targets);
    drop(topology);
}

fn tls(c: &mut Criterion) {
    let certificates = TestCertificates::generate().expect("test certificates (openssl)");
    let tls_port = free_port().unwrap();
    // One server, a plain port (the default) and a TLS port.
    let args: Vec<OsString> = certificates
        .server_args(tls_port, ServerCertificate::Valid, false)
        .into_iter()
        .skip(2) // `--port 0`
        .collect();
    let server = RedisServer::start_with_args(args).expect("redis-server with TLS");
    let runtime = runtime();
    let (plain, secure) = runtime.block_on(async {
        let mut plain = RedisConfig::new(server.url());
        plain.key_prefix = "bench-tcp:".into();
        let mut secure = RedisConfig::new(format!("rediss://127.0.0.1:{tls_port}/0"));
        secure.tls = Some(certificates.tls_config());
        secure.key_prefix = "bench-tls:".into();
        (adapter(plain).await, adapter(secure).await)
    });
    let targets = [
        ("tcp", Target::Adapter(plain)),
        ("tls", Target::Adapter(secure)),
    ];
    measure(c, "storage-redis/tls-set-get", &runtime, &targets, &[1, 64]);
    drop(targets);
    drop(server);
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    targets = cluster, tls
}
criterion_main!(benches);
