//! A server started in-process on an ephemeral port, and a small HTTP/1.1 client.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::HeaderMap;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use server::{Config, ServerError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub(crate) const ADMIN: &str = "test-admin-token-0123456789";
pub(crate) const DATADOG: &str = "test-datadog-secret-0123456789";
pub(crate) const NEWRELIC: &str = "test-newrelic-secret-0123456789";

/// The content-type header of a JSON body.
pub(crate) const JSON: (&str, &str) = ("content-type", "application/json");

/// The `Authorization` value carrying [`ADMIN`].
pub(crate) fn admin_bearer() -> String {
    format!("Bearer {ADMIN}")
}

/// The configuration every in-process test starts from: memory storage, checks that
/// cannot fail on a busy or full CI machine, no SAFE mode from critical resources (a
/// loaded machine can show 100 % CPU), the background refresh and cascade effectively off
/// unless a test turns them on ([`config_every`]), known secrets.
pub(crate) fn config(extra: &str) -> Config {
    config_every("1h", "1h", extra)
}

/// [`config`] with the checks refreshed every `refresh` and a cascade every `cascade`.
pub(crate) fn config_every(refresh: &str, cascade: &str, extra: &str) -> Config {
    let text = format!(
        r#"
[monitor]
refresh_interval = "{refresh}"

[[checks.disk]]
warning_percent = 100.0
critical_percent = 100.0

[cascade]
interval = "{cascade}"
safe_on_critical_resources = false

[auth]
admin_token = "{ADMIN}"

[auth.webhook_secrets]
datadog = "{DATADOG}"
newrelic = "{NEWRELIC}"

{extra}"#
    );
    Config::from_toml_str(&text).unwrap_or_else(|error| panic!("test configuration: {error}"))
}

pub(crate) struct TestServer {
    pub(crate) addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), ServerError>>>,
}

impl TestServer {
    /// Validates and starts `config` (see [`config`]) and waits until it answers.
    pub(crate) async fn start(config: Config) -> Self {
        let plan = config
            .validate()
            .unwrap_or_else(|error| panic!("test configuration: {error}"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server::serve(plan, listener, async move {
            let _ = stopped.await;
        }));
        let server = Self {
            addr,
            stop: Some(stop),
            task: Some(task),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(reply) = server.try_request("GET", "/health/live", &[], None).await {
                assert_eq!(reply.status, 200);
                return server;
            }
            assert!(
                Instant::now() < deadline,
                "server did not answer within 20 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Starts the base configuration plus `extra`.
    pub(crate) async fn memory(extra: &str) -> Self {
        Self::start(config(extra)).await
    }

    /// Signals shutdown and waits for `serve` to return.
    pub(crate) async fn stop(mut self) -> Result<(), ServerError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let task = self.task.take().unwrap();
        tokio::time::timeout(Duration::from_secs(30), task)
            .await
            .expect("serve did not return within 30 s of shutdown")
            .expect("serve panicked")
    }

    pub(crate) async fn get(&self, path: &str) -> Reply {
        self.request("GET", path, &[], None).await
    }

    /// `GET` with the admin token (details shown).
    pub(crate) async fn admin_get(&self, path: &str) -> Reply {
        self.request("GET", path, &[("authorization", &admin_bearer())], None)
            .await
    }

    /// `POST` with a JSON body and the admin token.
    pub(crate) async fn admin_post(&self, path: &str, body: &str) -> Reply {
        self.request(
            "POST",
            path,
            &[JSON, ("authorization", &admin_bearer())],
            Some(body.as_bytes().to_vec()),
        )
        .await
    }

    /// `POST /fallback/mode`: holds `mode` until released.
    pub(crate) async fn set_mode(&self, mode: &str) -> Reply {
        self.admin_post("/fallback/mode", &format!(r#"{{"mode": "{mode}"}}"#))
            .await
    }

    /// `POST /fallback/mode` with `"hold_seconds": 0`: a one-shot change, no hold.
    pub(crate) async fn set_mode_once(&self, mode: &str) -> Reply {
        self.admin_post(
            "/fallback/mode",
            &format!(r#"{{"mode": "{mode}", "hold_seconds": 0}}"#),
        )
        .await
    }

    /// `DELETE` with the admin token.
    pub(crate) async fn admin_delete(&self, path: &str) -> Reply {
        self.request("DELETE", path, &[("authorization", &admin_bearer())], None)
            .await
    }

    /// `POST` a webhook body with the provider's secret.
    pub(crate) async fn webhook(&self, provider: &str, body: &str) -> Reply {
        let secret = if provider == "newrelic" {
            NEWRELIC
        } else {
            DATADOG
        };
        self.request(
            "POST",
            &format!("/monitoring/{provider}/webhook"),
            &[JSON, ("x-webhook-secret", secret)],
            Some(body.as_bytes().to_vec()),
        )
        .await
    }

    pub(crate) async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Reply {
        self.try_request(method, path, headers, body)
            .await
            .unwrap_or_else(|error| panic!("{method} {path}: {error}"))
    }

    async fn try_request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Result<Reply, Box<dyn std::error::Error + Send + Sync>> {
        request(self.addr, method, path, headers, body).await
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// One request on a fresh connection.
pub(crate) async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Vec<u8>>,
) -> Result<Reply, Box<dyn std::error::Error + Send + Sync>> {
    let stream = TcpStream::connect(addr).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let mut builder = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string());
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let request = builder.body(Full::new(Bytes::from(body.unwrap_or_default())))?;
    let response =
        tokio::time::timeout(Duration::from_secs(30), sender.send_request(request)).await??;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await?.to_bytes().to_vec();
    Ok(Reply {
        status,
        headers,
        body,
    })
}

#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl Reply {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!(
                "not JSON ({error}): {:?}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// Asserts the status, showing the body when it differs.
    #[track_caller]
    pub(crate) fn expect(self, status: u16) -> Self {
        assert_eq!(self.status, status, "body: {}", self.text());
        self
    }
}

/// Polls `condition` every 50 ms until it holds or `within` passes.
pub(crate) async fn eventually<F, Fut>(what: &str, within: Duration, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !condition().await {
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A downstream service for HTTP checks: answers every probe `200 ok` and counts them;
/// the probes after the first `fast_probes` wait `delay` first.
pub(crate) async fn downstream_service(
    fast_probes: usize,
    delay: Duration,
) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let probes = Arc::new(AtomicUsize::new(0));
    let counter = probes.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let slow = counter.fetch_add(1, Ordering::SeqCst) >= fast_probes;
            tokio::spawn(async move {
                let mut buffer = [0u8; 1024];
                let _ = stream.read(&mut buffer).await;
                if slow {
                    tokio::time::sleep(delay).await;
                }
                let _ = stream
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    )
                    .await;
            });
        }
    });
    (addr, probes)
}

/// A fixture from `tests/it/fixtures`.
pub(crate) fn fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/fixtures")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}
