//! Routes that write to storage answer within their bound when storage freezes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use fallback::FallbackManager;
use storage::Storage;
use storage_redis::RedisAdapter;
use storage_redis::testing::RedisServer;
use tokio::net::TcpStream;
use web::{ResilienceState, Secret, ServeOptions};

use crate::support::{Served, exchange};

const ADMIN: &str = "storage-test-admin-token-0123";

fn post(path: &str, body: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {ADMIN}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_during_a_redis_freeze_answer_within_their_bound() {
    let Some(redis) = RedisServer::start_or_skip("web_redis_freeze") else {
        return;
    };
    // The adapter's defaults: 5 s per attempt and 3 retries, over 20 s in all.
    let adapter = RedisAdapter::new(redis.url()).unwrap();
    adapter.connect().await.unwrap();
    let storage: Arc<dyn Storage> = Arc::new(adapter);
    let bound = Duration::from_millis(1500);
    let manager = FallbackManager::builder(storage.clone())
        .persist_timeout(bound)
        .build();
    let state = ResilienceState::builder(storage)
        .manager(Arc::new(manager))
        .admin_token(Secret::new(ADMIN))
        .storage_write_timeout(bound)
        .build()
        .unwrap();
    let served = Served::start(web::router(&state), ServeOptions::default()).await;
    let mut client = TcpStream::connect(served.addr).await.unwrap();
    let register = post(
        "/monitoring/register",
        r#"{"provider": "datadog", "name": "ok"}"#,
    );
    assert_eq!(exchange(&mut client, &register).await.unwrap().0, 200);

    redis.pause().unwrap();
    let started = Instant::now();
    let register = post(
        "/monitoring/register",
        r#"{"provider": "datadog", "name": "frozen"}"#,
    );
    let (status, body) = exchange(&mut client, &register).await.unwrap();
    let took = started.elapsed();
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("storage_unavailable"), "{body}");
    assert!(
        took >= bound - Duration::from_millis(100) && took < bound + Duration::from_secs(2),
        "answered after {took:?} with a {bound:?} bound"
    );
    // A mode change is made at once; its record waits for storage (the manager's bound).
    let started = Instant::now();
    let (status, body) = exchange(&mut client, &post("/fallback/mode", r#"{"mode": "safe"}"#))
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(status, 200, "{body}");
    assert!(
        took < bound + Duration::from_secs(2),
        "mode change took {took:?}"
    );
    assert_eq!(state.manager().pending_records(), 1);

    redis.resume().unwrap();
    served.stop().await;
}
