//! The figures of issue 14, measured on the Redis at `REDIS_URL` (default
//! `redis://127.0.0.1:6379/0`) with three coordinators in this process, default
//! settings (heartbeat 1 s, lease 10 s):
//!
//! - `at-rest [seconds]`: Redis commands per instance per second while nothing changes
//!   (from `INFO commandstats` before and after; default 30 s). Run it alone on its server.
//! - `agreement [runs]`: time until all three agree after an operator's hold, and until
//!   the survivors agree on a new leader after the leader is killed (default 20 runs).
//! - `outage [runs]`: a private `redis-server` killed for 10 s and restarted empty: time
//!   from its return until all three follow one new decision again (default 5 runs).
//!
//! ```sh
//! cargo run --release --example cluster_figures -p cluster -- at-rest 30
//! cargo run --release --example cluster_figures -p cluster -- agreement 20
//! cargo run --release --example cluster_figures -p cluster -- outage 5
//! ```
#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "an example shows its results"
)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cluster::{ClusterConfig, Coordinator, Running};
use fallback::{FallbackManager, FallbackMode};
use health_model::HealthState;
use storage_redis::RedisConfig;

fn url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".to_owned())
}

fn prefix(name: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("figures-{name}-{nanos}")
}

fn healthy() -> HealthState {
    serde_json::from_value(serde_json::json!({"system": {"status": "healthy"}})).unwrap()
}

struct Replica {
    coordinator: Coordinator,
    running: Option<Running>,
}

fn start(prefix: &str) -> Vec<Replica> {
    start_on(&url(), prefix)
}

fn start_on(url: &str, prefix: &str) -> Vec<Replica> {
    let mut config = ClusterConfig::default();
    prefix.clone_into(&mut config.prefix);
    ["a", "b", "c"]
        .iter()
        .map(|id| {
            let coordinator = Coordinator::builder(Arc::new(FallbackManager::in_memory()))
                .config(config.clone())
                .instance_id(*id)
                .redis(RedisConfig::new(url))
                .build()
                .unwrap();
            let running = Some(coordinator.spawn());
            Replica {
                coordinator,
                running,
            }
        })
        .collect()
}

/// Cascades every replica with healthy state every 5 s, as the server's loop does.
fn feed(replicas: &[Replica]) -> tokio::task::JoinHandle<()> {
    let coordinators: Vec<_> = replicas.iter().map(|r| r.coordinator.clone()).collect();
    tokio::spawn(async move {
        loop {
            for coordinator in &coordinators {
                coordinator.cascade(&healthy()).await;
            }
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
    })
}

async fn until(limit: Duration, mut done: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if done() {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    None
}

fn agreed(replicas: &[Replica]) -> bool {
    let mut stamps = replicas
        .iter()
        .filter(|r| r.running.is_some())
        .map(|r| r.coordinator.decision().map(|d| d.stamp()));
    let first = stamps.next().flatten();
    first.is_some() && stamps.all(|stamp| stamp == first)
}

async fn stop(replicas: &mut [Replica]) {
    for replica in replicas {
        if let Some(running) = replica.running.take() {
            running.stop().await;
        }
    }
}

async fn commandstats(connection: &mut redis::aio::MultiplexedConnection) -> BTreeMap<String, u64> {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(connection)
        .await
        .unwrap();
    info.lines()
        .filter_map(|line| {
            let (name, fields) = line.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = fields
                .split(',')
                .find_map(|field| field.strip_prefix("calls="))?;
            Some((name.to_owned(), calls.parse().ok()?))
        })
        .collect()
}

async fn at_rest(seconds: u64) {
    let client = redis::Client::open(url()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let mut replicas = start(&prefix("rest"));
    let feeder = feed(&replicas);
    until(Duration::from_secs(30), || agreed(&replicas))
        .await
        .expect("a first decision");
    // Settle: the first decision's hints and the first cascades are not "at rest".
    tokio::time::sleep(Duration::from_secs(6)).await;
    let before = commandstats(&mut connection).await;
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let after = commandstats(&mut connection).await;
    feeder.abort();
    stop(&mut replicas).await;
    let mut total = 0;
    let mut scripts = 0;
    println!("commands over {seconds} s at rest, three instances (INFO commandstats deltas):");
    for (name, calls) in &after {
        let delta = calls - before.get(name).copied().unwrap_or(0);
        if delta == 0 || name == "info" {
            continue;
        }
        println!("  {name:<16} {delta:>6}");
        total += delta;
        if name.starts_with("eval") {
            scripts += delta;
        }
    }
    #[allow(clippy::cast_precision_loss, reason = "small counts")]
    let per = |count: u64| count as f64 / 3.0 / seconds as f64;
    println!(
        "round trips (scripts sent): {scripts} = {:.2} per instance per second",
        per(scripts)
    );
    println!(
        "every command Redis counted (scripts and the commands they ran): {total} = {:.2} per instance per second",
        per(total)
    );
}

async fn agreement(runs: usize) {
    let mut hold = Vec::new();
    let mut takeover = Vec::new();
    for run in 0..runs {
        let mut replicas = start(&prefix("agree"));
        let feeder = feed(&replicas);
        until(Duration::from_secs(30), || agreed(&replicas))
            .await
            .expect("a first decision");
        // A hold on a follower: until all three run it, held.
        let follower = replicas
            .iter()
            .position(|r| !r.coordinator.is_leader())
            .unwrap();
        let asked = Instant::now();
        replicas[follower]
            .coordinator
            .hold(FallbackMode::Safe, None)
            .await
            .unwrap();
        until(Duration::from_secs(5), || {
            replicas.iter().all(|r| {
                r.coordinator.manager().get_current_mode() == FallbackMode::Safe
                    && r.coordinator.manager().current_hold().is_some()
            })
        })
        .await
        .expect("the hold everywhere");
        hold.push(asked.elapsed());
        replicas[0].coordinator.release().await.unwrap();

        // The leader dies (no step-down): until a survivor leads and the other follows it.
        tokio::time::sleep(Duration::from_millis(300 * (run as u64 % 4))).await;
        let leader = replicas
            .iter()
            .position(|r| r.coordinator.is_leader())
            .unwrap();
        let killed = Instant::now();
        replicas[leader].running.take().unwrap().abort();
        let survivors: Vec<Coordinator> = replicas
            .iter()
            .filter(|r| r.running.is_some())
            .map(|r| r.coordinator.clone())
            .collect();
        let elected = loop {
            if let Some(new) = survivors.iter().find(|c| c.is_leader()) {
                let new_id = new.instance_id().to_owned();
                let mut all = true;
                for survivor in &survivors {
                    all &= survivor.status().await.leader.as_deref() == Some(new_id.as_str());
                }
                if all {
                    break killed.elapsed();
                }
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        takeover.push(elected);
        feeder.abort();
        stop(&mut replicas).await;
        println!(
            "run {:>2}: hold {:>8.2} ms, new leader agreed {:>8.1} ms after the kill",
            run + 1,
            hold[run].as_secs_f64() * 1000.0,
            elected.as_secs_f64() * 1000.0
        );
    }
    report("hold applied by all three", &mut hold);
    report(
        "new leader agreed after a leader kill (lease 10 s)",
        &mut takeover,
    );
}

async fn outage(runs: usize) {
    let mut samples = Vec::new();
    for run in 0..runs {
        let mut server = storage_redis::testing::RedisServer::start().expect("redis-server");
        let mut replicas = start_on(&server.url(), "astra");
        let feeder = feed(&replicas);
        until(Duration::from_secs(30), || agreed(&replicas))
            .await
            .expect("a first decision");
        let before = replicas[0].coordinator.decision().unwrap().stamp();
        server.kill();
        tokio::time::sleep(Duration::from_secs(10)).await;
        let local = replicas
            .iter()
            .all(|r| r.coordinator.coordination() == cluster::status::Coordination::Local);
        server.restart().expect("redis-server restarts");
        let back = Instant::now();
        until(Duration::from_secs(10), || {
            agreed(&replicas)
                && replicas.iter().all(|r| {
                    r.coordinator.coordination() == cluster::status::Coordination::Coordinated
                        && r.coordinator.decision().is_some_and(|d| d.stamp() > before)
                })
        })
        .await
        .expect("agreement after the outage");
        let took = back.elapsed();
        samples.push(took);
        println!(
            "run {:>2}: all local during the outage: {local}; agreed {:>7.1} ms after Redis returned",
            run + 1,
            took.as_secs_f64() * 1000.0
        );
        feeder.abort();
        stop(&mut replicas).await;
    }
    report(
        "agreement after a 10 s outage (restarted empty)",
        &mut samples,
    );
}

fn report(what: &str, samples: &mut [Duration]) {
    samples.sort();
    let median = samples[samples.len() / 2];
    let worst = samples[samples.len() - 1];
    println!(
        "{what}: median {:.2} ms, worst {:.2} ms over {} runs",
        median.as_secs_f64() * 1000.0,
        worst.as_secs_f64() * 1000.0,
        samples.len()
    );
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let what = args.next();
    let count = args.next().and_then(|count| count.parse().ok());
    match what.as_deref() {
        Some("at-rest") => at_rest(count.unwrap_or(30)).await,
        Some("agreement") => agreement(count.map_or(20, |runs: u64| runs as usize)).await,
        Some("outage") => outage(count.map_or(5, |runs: u64| runs as usize)).await,
        _ => {
            println!("usage: cluster_figures at-rest [seconds] | agreement [runs] | outage [runs]");
        }
    }
}
