//! The built-in checks (the original's `test_checks.py`, re-expressed), against real
//! backends: MemoryStorage, a real Redis, a local HTTP server, the real disk.

#[cfg(feature = "disk")]
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

#[cfg(feature = "http-check")]
use health::HealthError;
#[cfg(feature = "http-check")]
use health::checks::DownstreamServiceCheck;
use health::checks::{ComponentHealthCheck, RedisHealthCheck, StorageHealthCheck, run_check};
use health::{ComponentRegistry, HealthCheck, HealthCheckResult, HealthCheckStatus};
#[cfg(feature = "disk")]
use health::{checks::DiskSpaceCheck, resources::DiskUsage};
use serde_json::json;
use storage::{MemoryStorage, Storage};
use storage_redis::testing::{RedisServer, shared_adapter};
use storage_redis::{RedisAdapter, RedisConfig};

#[cfg(feature = "http-check")]
use crate::http_server::TestServer;

#[test]
fn results_serialize_as_the_originals_to_dict() {
    let result = HealthCheckResult {
        latency_ms: 150.5,
        ..HealthCheckResult::new("db", HealthCheckStatus::Degraded)
            .with_metadata("pool", json!({"size": 4}))
    };
    let json = serde_json::to_value(&result).unwrap();
    assert_eq!(json["name"], "db");
    assert_eq!(json["status"], "degraded");
    assert_eq!(json["message"], "");
    assert_eq!(json["latency_ms"], 150.5);
    assert_eq!(json["metadata"]["pool"]["size"], 4);
    let timestamp = json["timestamp"].as_str().unwrap();
    assert!(timestamp.ends_with('Z'), "RFC 3339 UTC: {timestamp}");
    assert!(timestamp.parse::<health::model::Timestamp>().is_ok());
    for (status, text) in [
        (HealthCheckStatus::Healthy, "healthy"),
        (HealthCheckStatus::Degraded, "degraded"),
        (HealthCheckStatus::Unhealthy, "unhealthy"),
        (HealthCheckStatus::Unknown, "unknown"),
    ] {
        assert_eq!(status.as_str(), text);
    }
}

#[tokio::test]
async fn storage_check_on_memory_storage_follows_the_connection() {
    let storage = Arc::new(MemoryStorage::new());
    storage.connect().await.unwrap();
    let check = StorageHealthCheck::new(storage.clone());
    assert_eq!(check.name(), "memory", "named after the backend");
    assert_eq!(check.timeout(), Duration::from_secs(2));

    let result = run_check(&check).await;
    assert_eq!(result.status, HealthCheckStatus::Healthy);
    assert_eq!(result.message, "memory connection healthy");
    assert_eq!(result.metadata["backend"], "memory");
    assert!(result.latency_ms >= 0.0);

    storage.close().await.unwrap();
    let result = run_check(&check).await;
    assert_eq!(result.status, HealthCheckStatus::Unhealthy);
    assert_eq!(
        result.message,
        "memory connection failed: backend reports it is not connected"
    );

    let renamed = StorageHealthCheck::new(storage).with_name("cache");
    assert_eq!(run_check(&renamed).await.name, "cache");
}

#[tokio::test]
async fn storage_check_on_the_shared_redis_is_healthy_and_named_redis() {
    let Some(adapter) = shared_adapter("health_storage_check_redis").await else {
        return;
    };
    let check = RedisHealthCheck::new(Arc::new(adapter));
    assert_eq!(check.name(), "redis");
    let result = run_check(&check).await;
    assert_eq!(result.status, HealthCheckStatus::Healthy, "{result:?}");
    assert_eq!(result.message, "redis connection healthy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_check_on_a_dead_or_frozen_redis_is_unhealthy() {
    let Some(mut server) = RedisServer::start_or_skip("health_storage_check_dead_redis") else {
        return;
    };
    let mut config = RedisConfig::new(server.url());
    config.timeout = Duration::from_millis(500);
    config.max_retries = 0;
    let adapter = RedisAdapter::from_config(config).unwrap();
    adapter.connect().await.unwrap();
    let check = RedisHealthCheck::new(Arc::new(adapter)).with_timeout(Duration::from_secs(3));
    assert_eq!(run_check(&check).await.status, HealthCheckStatus::Healthy);

    // Frozen: connections stay open and nothing answers, so our timeout decides.
    server.pause().unwrap();
    let frozen = check.clone().with_timeout(Duration::from_millis(200));
    let result = run_check(&frozen).await;
    assert_eq!(result.status, HealthCheckStatus::Unhealthy);
    assert_eq!(result.message, "health check timed out after 200ms");
    server.resume().unwrap();
    assert_eq!(run_check(&check).await.status, HealthCheckStatus::Healthy);

    // Dead: the backend's own error explains why.
    server.kill();
    let result = run_check(&check).await;
    assert_eq!(result.status, HealthCheckStatus::Unhealthy);
    assert!(
        result.message.starts_with("redis connection failed: "),
        "{}",
        result.message
    );
}

#[cfg(feature = "http-check")]
#[tokio::test]
async fn downstream_check_maps_status_codes_and_records_url_and_code() {
    let server = TestServer::start().await;
    let check = |path: &str| DownstreamServiceCheck::new(server.url(path)).unwrap();

    let ok = run_check(&check("/ok")).await;
    assert_eq!(ok.name, "downstream");
    assert_eq!(ok.status, HealthCheckStatus::Healthy, "{ok:?}");
    assert_eq!(ok.message, "downstream service healthy (status=200)");
    assert_eq!(ok.metadata["url"], server.url("/ok"));
    assert_eq!(ok.metadata["status_code"], 200);

    let failing = run_check(&check("/fail")).await;
    assert_eq!(failing.status, HealthCheckStatus::Degraded);
    assert_eq!(failing.message, "unexpected status code: 500");
    assert_eq!(failing.metadata["status_code"], 500);

    let teapot = run_check(&check("/teapot").with_expected_status(418)).await;
    assert_eq!(teapot.status, HealthCheckStatus::Healthy, "{teapot:?}");

    let seen = server.seen();
    assert!(
        seen[0].head.starts_with("GET /ok HTTP/1.1\r\n"),
        "{}",
        seen[0].head
    );
    let head = seen[0].head.to_ascii_lowercase();
    assert!(
        head.contains(&format!("host: {}\r\n", server.addr)),
        "{head}"
    );
}

#[cfg(feature = "http-check")]
#[tokio::test]
async fn downstream_check_that_hangs_times_out_and_hangs_up() {
    let server = TestServer::start().await;
    let check = DownstreamServiceCheck::new(server.url("/hang"))
        .unwrap()
        .with_name("slow-api")
        .with_timeout(Duration::from_millis(200));
    let result = run_check(&check).await;
    assert_eq!(result.name, "slow-api");
    assert_eq!(result.status, HealthCheckStatus::Unhealthy);
    assert_eq!(result.message, "health check timed out after 200ms");
    assert!(result.latency_ms >= 200.0);
    // The timed-out request was dropped, so its socket was closed: nothing lingers.
    let closed = async {
        loop {
            if server
                .seen()
                .first()
                .is_some_and(|seen| seen.closed_by_client)
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), closed)
        .await
        .expect("the client never closed the timed-out connection");
}

#[cfg(feature = "http-check")]
#[tokio::test]
async fn downstream_check_without_a_server_is_unhealthy_with_the_error() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}/health");
    let result = run_check(&DownstreamServiceCheck::new(url.clone()).unwrap()).await;
    assert_eq!(result.status, HealthCheckStatus::Unhealthy);
    assert!(
        result
            .message
            .starts_with("downstream service check failed: "),
        "{}",
        result.message
    );
    assert!(
        result.message.contains("Connection refused"),
        "{}",
        result.message
    );
    assert_eq!(result.metadata["url"], url);
    assert!(result.metadata.get("status_code").is_none());
}

#[cfg(feature = "http-check")]
#[test]
fn downstream_check_refuses_other_schemes_and_bad_urls_when_built() {
    assert!(matches!(
        DownstreamServiceCheck::new("ftp://example.com/health"),
        Err(HealthError::UnsupportedScheme { scheme, .. }) if scheme == "ftp"
    ));
    assert!(matches!(
        DownstreamServiceCheck::new("not a url"),
        Err(HealthError::InvalidUrl { .. })
    ));
}

#[cfg(feature = "http-check")]
#[tokio::test]
async fn downstream_check_speaks_https_with_a_configured_ca_method_headers_and_a_bounded_body() {
    use std::sync::atomic::Ordering;

    use crate::tls_server::{TlsServer, certificate};

    let Some(pki) = certificate("check") else {
        return;
    };
    let server = TlsServer::start(&pki).await;
    let check = |path: &str| {
        DownstreamServiceCheck::new(server.url(path))
            .unwrap()
            .with_ca_file(&pki.ca)
            .unwrap()
    };

    let ok = run_check(
        &check("/ok")
            .with_method(hyper::Method::POST)
            .with_header("x-probe", "resilience")
            .unwrap()
            .with_max_body_bytes(4096),
    )
    .await;
    assert_eq!(ok.status, HealthCheckStatus::Healthy, "{ok:?}");
    assert_eq!(ok.metadata["status_code"], 200);
    assert_eq!(ok.metadata["body_bytes"], 4096, "the body read is bounded");
    let head = server.heads.lock()[0].to_ascii_lowercase();
    assert!(head.starts_with("post /ok http/1.1\r\n"), "{head}");
    assert!(head.contains("x-probe: resilience\r\n"), "{head}");
    assert!(
        head.contains(&format!("host: localhost:{}\r\n", server.addr.port())),
        "{head}"
    );

    let whole = run_check(&check("/ok")).await;
    assert_eq!(whole.metadata["body_bytes"], 64 * 1024, "the default bound");

    let failing = run_check(&check("/fail")).await;
    assert_eq!(failing.status, HealthCheckStatus::Degraded);
    let accepted = run_check(&check("/fail").with_accepted_status(500..=599)).await;
    assert_eq!(accepted.status, HealthCheckStatus::Healthy);

    // Without the CA, the self-signed certificate is refused.
    let untrusted = run_check(&DownstreamServiceCheck::new(server.url("/ok")).unwrap()).await;
    assert_eq!(untrusted.status, HealthCheckStatus::Unhealthy);
    assert!(
        untrusted.message.contains("certificate") || untrusted.message.contains("CA"),
        "{}",
        untrusted.message
    );

    server.down.store(true, Ordering::SeqCst);
    let down = run_check(&check("/ok")).await;
    assert_eq!(down.status, HealthCheckStatus::Unhealthy, "{down:?}");
}

#[cfg(feature = "disk")]
#[test]
fn disk_verdicts_follow_the_originals_thresholds() {
    fn check(used_percent: u64, status: HealthCheckStatus, word: &str) {
        let gib = 1024 * 1024 * 1024;
        let usage = DiskUsage {
            total_bytes: 100 * gib,
            used_bytes: used_percent * gib,
            free_bytes: (100 - used_percent) * gib,
        };
        let outcome = DiskSpaceCheck::new("/data").assess(&usage);
        assert_eq!(outcome.status, status, "{used_percent}%");
        assert!(outcome.message.contains(word), "{}", outcome.message);
        assert!(
            outcome.message.contains(&used_percent.to_string()),
            "{}",
            outcome.message
        );
        assert_eq!(outcome.metadata["path"], "/data");
        assert_eq!(outcome.metadata["total_gb"], 100.0);
        assert_eq!(outcome.metadata["used_gb"], json!(used_percent as f64));
        assert_eq!(
            outcome.metadata["free_gb"],
            json!((100 - used_percent) as f64)
        );
        assert_eq!(
            outcome.metadata["usage_percent"],
            json!(used_percent as f64)
        );
    }
    check(50, HealthCheckStatus::Healthy, "healthy");
    check(79, HealthCheckStatus::Healthy, "healthy");
    check(80, HealthCheckStatus::Degraded, "warning");
    check(85, HealthCheckStatus::Degraded, "warning");
    check(95, HealthCheckStatus::Unhealthy, "critical");
    check(97, HealthCheckStatus::Unhealthy, "critical");
}

#[cfg(feature = "disk")]
#[tokio::test]
async fn disk_check_reads_the_real_disk_and_a_missing_path_is_unhealthy() {
    let check = DiskSpaceCheck::new("/");
    assert_eq!(
        (check.name(), check.timeout()),
        ("disk", Duration::from_secs(2))
    );
    let result = run_check(&check).await;
    let expected = check.assess(&DiskUsage::of(Path::new("/")).unwrap());
    assert_eq!(result.status, expected.status, "{result:?}");
    for key in ["path", "total_gb", "used_gb", "free_gb", "usage_percent"] {
        assert!(
            result.metadata.contains_key(key),
            "{key} missing: {result:?}"
        );
    }
    assert!(result.metadata["total_gb"].as_f64().unwrap() > 0.0);

    let missing = run_check(&DiskSpaceCheck::new("/no/such/mount")).await;
    assert_eq!(missing.status, HealthCheckStatus::Unhealthy);
    assert!(
        missing
            .message
            .starts_with("failed to check disk space of /no/such/mount: "),
        "{}",
        missing.message
    );
}

#[tokio::test]
async fn component_check_reports_the_registered_component() {
    let registry = ComponentRegistry::new();
    registry.register("anomaly_detector", None);
    let check = ComponentHealthCheck::new("anomaly_detector", registry.clone());
    assert_eq!(check.name(), "anomaly_detector");
    assert_eq!(check.timeout(), Duration::from_secs(1));
    let result = run_check(&check).await;
    assert_eq!(result.status, HealthCheckStatus::Healthy);
    assert_eq!(result.message, "component status: healthy");

    registry.mark_failed("anomaly_detector", Some("Connection lost"), None);
    let result = run_check(&check).await;
    assert_eq!(result.status, HealthCheckStatus::Unhealthy);
    assert_eq!(result.message, "Connection lost");

    // Healthy again: the old error is history, not the message.
    registry.mark_healthy("anomaly_detector", None);
    assert_eq!(run_check(&check).await.message, "component status: healthy");
}

#[tokio::test]
async fn component_check_metadata_has_the_counters() {
    let registry = ComponentRegistry::new();
    for _ in 0..5 {
        registry.mark_failed("memory_store", Some("disk full"), None);
    }
    registry.mark_degraded("memory_store", Some("slow"), true, None);
    registry.mark_degraded("memory_store", Some("slow"), true, None);
    let result = run_check(&ComponentHealthCheck::new("memory_store", registry)).await;
    assert_eq!(result.status, HealthCheckStatus::Degraded);
    assert_eq!(result.message, "slow");
    assert_eq!(result.metadata["error_count"], 5);
    assert_eq!(result.metadata["warning_count"], 2);
    assert_eq!(result.metadata["fallback_active"], true);
    assert_eq!(result.metadata["component"], "memory_store");
}

#[tokio::test]
async fn component_check_on_an_unknown_component_reads_without_registering() {
    let registry = ComponentRegistry::new();
    registry.register("known", None);
    let check = ComponentHealthCheck::new("ghost", registry.clone()).with_name("ghost-check");
    let result = run_check(&check).await;
    assert_eq!(result.name, "ghost-check");
    assert_eq!(result.status, HealthCheckStatus::Unknown);
    assert_eq!(result.message, "component status: unknown");
    assert_eq!(registry.len(), 1, "reading must not register");
    assert!(!registry.contains("ghost"));
}

#[cfg(all(feature = "http-check", feature = "disk"))]
#[tokio::test]
async fn every_built_in_check_is_a_health_check() {
    let registry = ComponentRegistry::new();
    let checks: Vec<Arc<dyn HealthCheck>> = vec![
        Arc::new(StorageHealthCheck::new(Arc::new(MemoryStorage::new()))),
        Arc::new(DiskSpaceCheck::new("/")),
        Arc::new(ComponentHealthCheck::new("policy_engine", registry)),
        Arc::new(DownstreamServiceCheck::new("http://127.0.0.1:9/").unwrap()),
    ];
    let names: Vec<&str> = checks.iter().map(|check| check.name()).collect();
    assert_eq!(names, ["memory", "disk", "policy_engine", "downstream"]);
    for check in &checks {
        let result = run_check(check.as_ref()).await;
        assert_eq!(result.name, check.name());
    }
}
