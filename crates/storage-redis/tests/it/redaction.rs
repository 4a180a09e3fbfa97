//! Passwords and certificate keys never reach the crate's log lines, at any level, on any
//! deployment (errors and `Debug` are checked where each deployment is tested).

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde_json::json;
use storage::Storage;
use storage_redis::testing::{RedisServer, free_port, skip};
use storage_redis::{RedisAdapter, RedisConfig};

/// Every log line, as text.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Self;

    fn make_writer(&'a self) -> Self {
        self.clone()
    }
}

const SERVER_PASSWORD: &str = "server-pass-31337";
const OTHER_PASSWORD: &str = "other-pass-27182";

fn quick(mut config: RedisConfig) -> RedisConfig {
    config.timeout = Duration::from_millis(300);
    config.max_retries = 2;
    config.retry_delay = Duration::from_millis(10);
    config.max_retry_delay = Duration::from_millis(20);
    config
}

/// Connects, works and fails on every deployment it can reach without a topology, with
/// passwords everywhere, under a TRACE subscriber.
async fn exercise(server: &RedisServer) -> Vec<&'static str> {
    #[cfg_attr(
        not(feature = "tls"),
        allow(unused_mut, reason = "only TLS adds a secret")
    )]
    let mut secrets = vec![SERVER_PASSWORD, OTHER_PASSWORD];
    let port = server.port();
    let good = RedisAdapter::from_config(quick(RedisConfig::new(format!(
        "redis://:{SERVER_PASSWORD}@127.0.0.1:{port}/0"
    ))))
    .unwrap();
    good.connect().await.unwrap();
    good.set("k", json!(1), None).await.unwrap();
    let _ = good.subscribe(&["c"]).await.unwrap();
    let wrong = RedisAdapter::from_config(quick(RedisConfig::new(format!(
        "redis://:{OTHER_PASSWORD}@127.0.0.1:{port}/0"
    ))))
    .unwrap();
    assert!(wrong.connect().await.is_err());
    let gone = free_port().unwrap();
    let unreachable = RedisAdapter::from_config(quick(RedisConfig::new(format!(
        "redis://:{OTHER_PASSWORD}@127.0.0.1:{gone}/0"
    ))))
    .unwrap();
    assert!(unreachable.connect().await.is_err());
    assert!(unreachable.get("k").await.is_err());

    #[cfg(feature = "sentinel")]
    {
        let mut sentinel =
            storage_redis::SentinelConfig::new("m", vec![format!("redis://127.0.0.1:{gone}")]);
        sentinel.sentinel_password = Some(OTHER_PASSWORD.to_owned());
        sentinel.master_password = Some(SERVER_PASSWORD.to_owned());
        let mut config = quick(RedisConfig::default());
        config.sentinel = Some(sentinel);
        let adapter = RedisAdapter::from_config(config).unwrap();
        assert!(adapter.connect().await.is_err());
        // The failover watcher runs (and fails) on this thread too.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    #[cfg(feature = "cluster")]
    {
        let mut config = quick(RedisConfig::default());
        config.cluster = Some(storage_redis::ClusterConfig::new(vec![format!(
            "redis://:{OTHER_PASSWORD}@127.0.0.1:{gone}"
        )]));
        let adapter = RedisAdapter::from_config(config).unwrap();
        assert!(adapter.connect().await.is_err());
    }
    #[cfg(feature = "tls")]
    {
        const KEY_MATERIAL: &str = "KEY-MATERIAL-16180";
        secrets.push(KEY_MATERIAL);
        let dir = server.dir();
        let key = dir.join("client.key");
        std::fs::write(
            &key,
            format!("-----BEGIN PRIVATE KEY-----\n{KEY_MATERIAL}\n-----END PRIVATE KEY-----\n"),
        )
        .unwrap();
        let mut config = quick(RedisConfig::new(format!(
            "rediss://:{SERVER_PASSWORD}@127.0.0.1:{gone}/0"
        )));
        config.tls = Some(
            storage_redis::TlsConfig::default()
                .with_client_certificate(dir.join("client.pem"), key),
        );
        std::fs::write(dir.join("client.pem"), "").unwrap();
        let adapter = RedisAdapter::from_config(config).unwrap();
        assert!(adapter.connect().await.is_err());
    }
    secrets
}

#[test]
fn secrets_never_reach_the_logs() {
    let test = "secrets_never_reach_the_logs";
    let server =
        match RedisServer::start_with_args(vec!["--requirepass".into(), SERVER_PASSWORD.into()]) {
            Ok(server) => server,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return skip::<()>(test, "redis-server is not installed").unwrap_or(());
            }
            Err(error) => panic!("{test}: redis-server did not start: {error}"),
        };
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(captured.clone())
        .finish();
    let secrets = tracing::subscriber::with_default(subscriber, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(exercise(&server))
    });
    let logs = String::from_utf8_lossy(&captured.0.lock()).into_owned();
    assert!(
        logs.contains("retrying redis operation") && logs.contains("connected to redis"),
        "the crate's log lines were captured:\n{logs}"
    );
    for secret in secrets {
        assert!(!logs.contains(secret), "{secret} in the logs:\n{logs}");
    }
}
