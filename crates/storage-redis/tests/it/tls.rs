//! TLS: the conformance suite over `rediss://`, and certificate problems (unknown CA,
//! expired, wrong name, missing client certificate, unusable files) as fast, final,
//! typed errors that never show a key.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::json;
use storage::{Operation, Storage, StorageError};
use storage_redis::testing::{HostedAdapter, RedisServer, ServerCertificate, TestCertificates};
use storage_redis::{RedisAdapter, RedisConfig, TlsConfig};

use crate::chain;

/// A TLS server presenting `certificate` with its certificates, or `None` to skip.
fn tls_server(
    test: &str,
    certificate: ServerCertificate,
    client_certificates: bool,
) -> Option<(TestCertificates, RedisServer)> {
    let certificates = TestCertificates::generate_or_skip(test)?;
    RedisServer::start_or_skip(test)?; // redis-server is installed
    let server = RedisServer::start_tls(&certificates, certificate, client_certificates)
        .unwrap_or_else(|error| panic!("{test}: TLS redis-server did not start: {error}"));
    Some((certificates, server))
}

/// A configuration that would retry for a long while, so a retried failure shows.
fn patient(url: String, tls: TlsConfig) -> RedisConfig {
    let mut config = RedisConfig::new(url);
    config.tls = Some(tls);
    config.timeout = Duration::from_secs(1);
    config.max_retries = 3;
    config.retry_delay = Duration::from_secs(1);
    config.max_retry_delay = Duration::from_secs(1);
    config
}

mod conformance {
    use super::*;

    async fn tls() -> Option<Arc<dyn Storage>> {
        let (certificates, server) = tls_server(
            "storage-redis TLS conformance",
            ServerCertificate::Valid,
            true,
        )?;
        let mut config = RedisConfig::new(server.url());
        config.tls = Some(certificates.mutual_tls_config());
        config.timeout = Duration::from_secs(2);
        let adapter = RedisAdapter::from_config(config).unwrap();
        adapter.connect().await.unwrap();
        Some(Arc::new(HostedAdapter::new(
            adapter,
            (server, certificates),
        )))
    }

    storage::conformance_tests!(tls);
}

/// Asserts `error` is a final TLS error of `connect` that says `expected`, and came fast.
fn check_refused(error: &StorageError, started: Instant, expected: &str) {
    let shown = chain(error);
    assert!(
        matches!(
            error,
            StorageError::Tls {
                operation: Operation::Connect,
                ..
            }
        ),
        "{shown} / {error:?}"
    );
    assert!(!error.is_transient(), "{shown}");
    assert!(shown.contains(expected), "{shown}");
    assert!(shown.contains("127.0.0.1"), "names the target: {shown}");
    // One handshake, no retry (a retry waits at least half of `retry_delay`, 500 ms).
    assert!(
        started.elapsed() < Duration::from_millis(400),
        "retried? {:?}: {shown}",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_untrusted_expired_or_misnamed_server_is_refused_at_once() {
    let test = "untrusted_server";
    let Some(certificates) = TestCertificates::generate_or_skip(test) else {
        return;
    };
    for (certificate, other_ca, expected) in [
        (
            ServerCertificate::Valid,
            true,
            "the server's certificate is not signed by a trusted CA",
        ),
        (
            ServerCertificate::Expired,
            false,
            "the server's certificate has expired",
        ),
        (
            ServerCertificate::WrongName,
            false,
            "the server's certificate does not name the host",
        ),
    ] {
        let Some(_redis) = RedisServer::start_or_skip(test) else {
            return;
        };
        let server = RedisServer::start_tls(&certificates, certificate, false).unwrap();
        let ca = if other_ca {
            certificates.other_ca()
        } else {
            certificates.ca()
        };
        let adapter =
            RedisAdapter::from_config(patient(server.url(), TlsConfig::with_ca_file(ca))).unwrap();
        let started = Instant::now();
        let error = adapter.connect().await.unwrap_err();
        check_refused(&error, started, expected);
        // Operations after the failed connect meet the same final error.
        let started = Instant::now();
        let error = adapter.get("k").await.unwrap_err();
        assert!(
            matches!(error, StorageError::Tls { .. })
                && started.elapsed() < Duration::from_millis(400),
            "{error:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_needs_the_client_certificate() {
    let Some((certificates, server)) = tls_server("mutual_tls", ServerCertificate::Valid, true)
    else {
        return;
    };
    let without =
        RedisAdapter::from_config(patient(server.url(), certificates.tls_config())).unwrap();
    let started = Instant::now();
    let error = without.connect().await.unwrap_err();
    check_refused(&error, started, "the server requires a client certificate");

    let with =
        RedisAdapter::from_config(patient(server.url(), certificates.mutual_tls_config())).unwrap();
    with.connect().await.unwrap();
    with.set("k", json!({"secure": true}), None).await.unwrap();
    assert_eq!(with.get("k").await.unwrap(), Some(json!({"secure": true})));
    // Subscriptions get their own connection, with the same certificates.
    let mut subscription = with.subscribe(&["c"]).await.unwrap();
    assert_eq!(with.publish("c", "over tls").await.unwrap(), 1);
    let message = tokio::time::timeout(Duration::from_secs(2), subscription.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(message.payload(), b"over tls");
}

/// Certificate files that cannot be used fail `connect` with a TLS error naming the file;
/// a key file's contents never reach an error or `Debug`.
#[tokio::test]
async fn unusable_certificate_files_are_named_and_keys_never_shown() {
    let Some((certificates, server)) =
        tls_server("unusable_files", ServerCertificate::Valid, false)
    else {
        return;
    };
    let secret = "SECRET-KEY-MATERIAL-4242";
    let bad_key = certificates.dir().join("bad.key");
    std::fs::write(
        &bad_key,
        format!("-----BEGIN PRIVATE KEY-----\n{secret}\n-----END PRIVATE KEY-----\n"),
    )
    .unwrap();
    let missing = certificates.dir().join("missing.pem");
    for (tls, expected) in [
        (
            TlsConfig::with_ca_file(&missing),
            format!("the CA bundle {} cannot be read", missing.display()),
        ),
        (
            TlsConfig::with_ca_file(certificates.client_key()),
            "holds no certificate".to_owned(),
        ),
        (
            certificates
                .tls_config()
                .with_client_certificate(certificates.client_certificate(), &bad_key),
            format!(
                "the client key {} holds no PEM private key",
                bad_key.display()
            ),
        ),
        (
            certificates.tls_config().with_client_certificate(
                certificates.client_certificate(),
                certificates.server_key(),
            ),
            "cannot be used together".to_owned(),
        ),
    ] {
        let config = patient(server.url(), tls);
        let adapter = RedisAdapter::from_config(config.clone()).unwrap();
        let error = adapter.connect().await.unwrap_err();
        let shown = format!("{} {error:?} {config:?} {adapter:?}", chain(&error));
        assert!(matches!(error, StorageError::Tls { .. }), "{shown}");
        assert!(!error.is_transient(), "{shown}");
        assert!(shown.contains(&expected), "{shown}");
        assert!(!shown.contains(secret), "{shown}");
        assert!(!shown.contains("BEGIN"), "{shown}");
    }
}

#[tokio::test]
async fn tls_settings_are_checked_with_the_key_named() {
    for (value, key, fragment) in [
        (
            json!({"redis_url": "redis://127.0.0.1:6379", "tls": {}}),
            "`tls`",
            "not a `rediss://` URL",
        ),
        (
            json!({"redis_url": "rediss://127.0.0.1:6379", "tls": {"cert_file": "/c.pem"}}),
            "`tls.cert_file`",
            "needs `tls.key_file`",
        ),
        (
            json!({"redis_url": "rediss://127.0.0.1:6379", "tls": {"key_file": "/c.key"}}),
            "`tls.key_file`",
            "needs `tls.cert_file`",
        ),
        (
            json!({"redis_url": "rediss://127.0.0.1:6379", "tls": {"ca": "/ca.pem"}}),
            "tls.ca",
            "unknown field",
        ),
    ] {
        let error = RedisConfig::from_value(value.clone()).unwrap_err();
        let shown = chain(&error);
        assert!(
            shown.contains(key) && shown.contains(fragment),
            "{value}: {shown}"
        );
    }
    let config = RedisConfig::from_value(json!({
        "redis_url": "rediss://:hunter2@db:6380/0",
        "tls": {"ca_file": "/etc/redis/ca.pem"},
    }))
    .unwrap();
    assert_eq!(
        config.tls,
        Some(TlsConfig::with_ca_file("/etc/redis/ca.pem"))
    );
    let debug = format!("{config:?}");
    assert!(
        !debug.contains("hunter2") && debug.contains("/etc/redis/ca.pem"),
        "{debug}"
    );
}
