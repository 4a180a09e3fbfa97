//! Hot paths for the instruction-count gate (`cargo xtask bench --instructions`).
//!
//! Not a criterion bench: a plain program that runs one named case a given number of
//! times, so `valgrind --tool=callgrind` can count its instructions. xtask runs each case
//! twice, with N and 2N iterations, and divides the difference by N: set-up, runtime
//! start and teardown cancel out, leaving the exact cost of one iteration. Instruction
//! counts do not depend on what else the machine is doing, so the gate can be tight.
//!
//! ```sh
//! instructions --list
//! instructions storage/memory/get 10000
//! ```
#![allow(missing_docs, reason = "a measurement program, not an API")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a measurement aborts on failure"
)]
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line program"
)]

use std::hint::black_box;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use axum::routing::get;

use condition::{Context, parse_condition};
use fallback::FallbackManager;
use health::HealthState;
use serde_json::{Value, json};
use storage::{MemoryStorage, Storage};
use tokio::runtime::Runtime;
use tower::ServiceExt as _;

/// Keys the storage cases rotate through (a small, fixed working set).
const KEYS: usize = 64;

type Case = fn(u64);

const CASES: &[(&str, Case)] = &[
    ("condition/evaluate/short", condition_short),
    ("condition/evaluate/long", condition_long),
    ("fallback/cascade/unchanged", cascade_unchanged),
    ("storage/memory/get", memory_get),
    ("storage/memory/set", memory_set),
    ("web/layer/essential", layer_essential),
    ("web/layer/off", layer_off),
    ("web/ready/primary", ready_primary),
    ("storage-redis/adapter/set-get", redis_adapter_pair),
    ("storage-redis/multiplexed/set-get", redis_multiplexed_pair),
];

/// The conditions of the `condition` crate's criterion bench.
const SHORT: &str = "severity >= 0.8 and recurrence_count >= 2";
const LONG: &str = "(severity >= 0.8 and recurrence_count >= 2) or (confidence < 0.3 and step != 4) \
     or (duration > 120 and severity >= 0.95) or (step == 4 and confidence >= 0.5) \
     or (recurrence_count < 10 and duration <= 60)";

fn evaluate_repeatedly(source: &str, context: &Context, iterations: u64) {
    let condition = parse_condition(source).unwrap();
    for _ in 0..iterations {
        black_box(black_box(&condition).evaluate(black_box(context)).unwrap());
    }
}

fn condition_short(iterations: u64) {
    let context = Context::new()
        .with("severity", 0.9)
        .with("recurrence_count", 3);
    evaluate_repeatedly(SHORT, &context, iterations);
}

fn condition_long(iterations: u64) {
    let context = Context::new()
        .with("severity", 0.9)
        .with("recurrence_count", 1)
        .with("confidence", 0.2)
        .with("step", 4)
        .with("duration", 130.0);
    evaluate_repeatedly(LONG, &context, iterations);
}

/// A healthy state keeps the manager in PRIMARY: the cascade's no-change path.
fn cascade_unchanged(iterations: u64) {
    let runtime = runtime();
    let manager = FallbackManager::new(Arc::new(MemoryStorage::new()));
    let state: HealthState = serde_json::from_value(json!({
        "circuit_breaker": {"state": "CLOSED"},
        "retry": {"failures_1h": 0},
        "system": {"failed_components": 0},
    }))
    .unwrap();
    runtime.block_on(async {
        for _ in 0..iterations {
            black_box(manager.cascade(black_box(&state)).await);
        }
    });
}

/// A web state on MemoryStorage whose kept answers never expire during a run (the
/// default 1 s would make the count depend on how long callgrind takes).
fn web_state() -> web::ResilienceState {
    web::ResilienceState::builder(Arc::new(MemoryStorage::new()))
        .monitor(health::HealthMonitor::builder().without_resources())
        .cache_max_age(Duration::from_secs(3600))
        .build()
        .unwrap()
}

/// Sends `GET path` through `router` in process (no network) `iterations` times, after
/// one call that makes whatever is kept.
fn call_repeatedly(router: &Router, path: &str, iterations: u64) {
    let runtime = runtime();
    let get = || Request::get(path).body(Body::empty()).unwrap();
    runtime.block_on(async {
        assert_eq!(router.clone().oneshot(get()).await.unwrap().status(), 200);
        for _ in 0..iterations {
            black_box(router.clone().oneshot(black_box(get())).await.unwrap());
        }
    });
}

/// `GET /health/ready` in PRIMARY with nothing failed: the probe's common answer,
/// through the router (route, telemetry, handler), no network.
fn ready_primary(iterations: u64) {
    let router = web::router(&web_state());
    call_repeatedly(&router, "/health/ready", iterations);
}

/// A constant handler under the ResilienceLayer, every route essential: the layer's
/// cost on a call (mode, extension, breaker permit, classification).
fn layer_essential(iterations: u64) {
    let state = web_state();
    let router = Router::new().route(
        "/layered",
        get(|| async { "ok" }).layer(web::layer::ResilienceLayer::new(&state)),
    );
    call_repeatedly(&router, "/layered", iterations);
}

/// The same route without the layer: what [`layer_essential`] adds to it is the layer.
fn layer_off(iterations: u64) {
    let router = Router::new().route("/layered", get(|| async { "ok" }));
    call_repeatedly(&router, "/layered", iterations);
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

fn document() -> Value {
    json!({"id": 42, "user": "alice", "role": "admin", "active": true, "score": 0.87, "tags": ["a", "b", "c"]})
}

fn memory_with_keys(runtime: &Runtime) -> (MemoryStorage, Vec<String>) {
    let storage = MemoryStorage::builder().shards(8).build();
    let keys: Vec<String> = (0..KEYS).map(|i| format!("bench:key:{i}")).collect();
    runtime.block_on(async {
        for key in &keys {
            storage.set(key, document(), None).await.unwrap();
        }
    });
    (storage, keys)
}

fn memory_get(iterations: u64) {
    let runtime = runtime();
    let (storage, keys) = memory_with_keys(&runtime);
    runtime.block_on(async {
        for i in 0..iterations {
            let key = &keys[usize::try_from(i).unwrap() % KEYS];
            black_box(storage.get(key).await.unwrap());
        }
    });
}

fn memory_set(iterations: u64) {
    let runtime = runtime();
    let (storage, keys) = memory_with_keys(&runtime);
    let value = document();
    runtime.block_on(async {
        for i in 0..iterations {
            let key = &keys[usize::try_from(i).unwrap() % KEYS];
            storage
                .set(key, black_box(value.clone()), None)
                .await
                .unwrap();
        }
    });
}

/// Keys the Redis cases rotate through.
const REDIS_KEYS: u64 = 64;

/// A current-thread runtime with I/O and timers, for the Redis cases.
fn io_runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The Redis cases' server: `REDIS_URL`, or a private `redis-server` (its start-up, a
/// separate process, is not counted; the client's connect cancels out between runs).
fn redis_server() -> (String, Option<storage_redis::testing::RedisServer>) {
    storage_redis::testing::url_or_private_server().unwrap()
}

/// The Redis adapter's client-side work for one SET (with expiry) + GET pair of a small
/// JSON document: command building, the timeout and retry policy, (de)serialization.
/// The server's work is another process and is not counted.
fn redis_adapter_pair(iterations: u64) {
    let (url, _server) = redis_server();
    let runtime = io_runtime();
    let value = document();
    runtime.block_on(async {
        let mut config = storage_redis::RedisConfig::new(url);
        config.key_prefix = "instructions:adapter:".into();
        let adapter = storage_redis::RedisAdapter::from_config(config).unwrap();
        adapter.connect().await.unwrap();
        for i in 0..iterations {
            let key = format!("k{}", i % REDIS_KEYS);
            adapter
                .set(
                    &key,
                    black_box(value.clone()),
                    Some(Duration::from_secs(60)),
                )
                .await
                .unwrap();
            black_box(adapter.get(&key).await.unwrap());
        }
    });
}

/// The peer of [`redis_adapter_pair`]: the same pair and serde work on one redis-rs
/// `MultiplexedConnection` (default configuration).
fn redis_multiplexed_pair(iterations: u64) {
    let (url, _server) = redis_server();
    let runtime = io_runtime();
    let value = document();
    runtime.block_on(async {
        let client = redis::Client::open(url.as_str()).unwrap();
        let connection = client.get_multiplexed_async_connection().await.unwrap();
        for i in 0..iterations {
            let key = format!("instructions:multiplexed:k{}", i % REDIS_KEYS);
            let mut connection = connection.clone();
            let payload = serde_json::to_vec(&black_box(value.clone())).unwrap();
            let _: () = redis::cmd("SET")
                .arg(&key)
                .arg(payload)
                .arg("PX")
                .arg(60_000)
                .query_async(&mut connection)
                .await
                .unwrap();
            let bytes: Option<Vec<u8>> = redis::cmd("GET")
                .arg(&key)
                .query_async(&mut connection)
                .await
                .unwrap();
            let read: Value = serde_json::from_slice(&bytes.unwrap()).unwrap();
            black_box(read);
        }
    });
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [flag] if flag == "--list" => {
            for (name, _) in CASES {
                println!("{name}");
            }
            ExitCode::SUCCESS
        }
        [name, iterations] => {
            let Some((_, case)) = CASES.iter().find(|(case, _)| case == name) else {
                eprintln!("unknown case {name:?}; --list shows them");
                return ExitCode::from(2);
            };
            let Ok(iterations) = iterations.parse() else {
                eprintln!("iterations must be a number, got {iterations:?}");
                return ExitCode::from(2);
            };
            case(iterations);
            ExitCode::SUCCESS
        }
        // `cargo bench` runs every bench target with criterion-style flags: nothing to do.
        _ => ExitCode::SUCCESS,
    }
}
