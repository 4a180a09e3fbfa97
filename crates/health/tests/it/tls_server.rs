//! An HTTPS server for the HTTP check's tests: a certificate made at test time by the
//! `openssl` command, served through rustls (feature `http-check`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// Test PKI made by `openssl` in a fresh directory: a CA (`ca.pem`), and a certificate
/// for `localhost` and 127.0.0.1 that it signed (`cert.pem`, key `key.pem`). `None`
/// (after a loud skip) when `openssl` is missing outside CI.
pub(crate) struct Pki {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[allow(clippy::print_stderr, reason = "a skipped test must be visible")]
pub(crate) fn certificate(label: &str) -> Option<Pki> {
    let dir = std::env::temp_dir().join(format!(
        "health-tls-{label}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = |name: &str| dir.join(name).to_string_lossy().into_owned();
    std::fs::write(
        path("leaf.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let steps: [Vec<String>; 3] = [
        ["req", "-x509"]
            .into_iter()
            .chain(ec)
            .map(str::to_owned)
            .chain(
                [
                    "-days",
                    "1",
                    "-subj",
                    "/CN=health test ca",
                    "-keyout",
                    &path("ca.key"),
                    "-out",
                    &path("ca.pem"),
                ]
                .map(str::to_owned),
            )
            .collect(),
        ["req"]
            .into_iter()
            .chain(ec)
            .map(str::to_owned)
            .chain(
                [
                    "-subj",
                    "/CN=localhost",
                    "-keyout",
                    &path("key.pem"),
                    "-out",
                    &path("leaf.csr"),
                ]
                .map(str::to_owned),
            )
            .collect(),
        [
            "x509",
            "-req",
            "-in",
            &path("leaf.csr"),
            "-CA",
            &path("ca.pem"),
            "-CAkey",
            &path("ca.key"),
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            &path("leaf.ext"),
            "-out",
            &path("cert.pem"),
        ]
        .map(str::to_owned)
        .to_vec(),
    ];
    for step in steps {
        let made = Command::new("openssl").args(&step).output();
        match made {
            Ok(output) if output.status.success() => {}
            other => {
                assert!(
                    std::env::var_os("RESILIENCE_CI").is_none(),
                    "openssl is required when RESILIENCE_CI=1: {other:?}"
                );
                eprintln!("SKIPPED: openssl could not make the test certificates: {other:?}");
                return None;
            }
        }
    }
    Some(Pki {
        ca: dir.join("ca.pem"),
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    })
}

/// An HTTPS server on 127.0.0.1: `/ok` → 200 with a 100 KiB body, `/fail` → 503. While
/// `down` is set, it drops every connection before the TLS handshake. Records each
/// request head.
pub(crate) struct TlsServer {
    pub addr: SocketAddr,
    pub down: Arc<AtomicBool>,
    pub heads: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl TlsServer {
    pub(crate) async fn start(pki: &Pki) -> Self {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&pki.cert)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let key = PrivateKeyDer::from_pem_file(&pki.key).unwrap();
        #[allow(deprecated, reason = "the provider the check uses")]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let down = Arc::new(AtomicBool::new(false));
        let heads: Arc<Mutex<Vec<String>>> = Arc::default();
        let (is_down, log) = (Arc::clone(&down), Arc::clone(&heads));
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                if is_down.load(Ordering::SeqCst) {
                    drop(stream);
                    continue;
                }
                let (acceptor, log) = (acceptor.clone(), Arc::clone(&log));
                tokio::spawn(async move {
                    let Ok(mut stream) = acceptor.accept(stream).await else {
                        return;
                    };
                    let mut head = Vec::new();
                    let mut buffer = [0_u8; 1024];
                    while !head.windows(4).any(|window| window == b"\r\n\r\n") {
                        match stream.read(&mut buffer).await {
                            Ok(0) | Err(_) => return,
                            Ok(read) => head.extend_from_slice(&buffer[..read]),
                        }
                    }
                    let head = String::from_utf8_lossy(&head).into_owned();
                    let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                    log.lock().push(head);
                    let (status, body) = match path.as_str() {
                        "/ok" => ("200 OK", "x".repeat(100 * 1024)),
                        _ => ("503 Service Unavailable", String::new()),
                    };
                    let response = format!(
                        "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(response.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        Self {
            addr,
            down,
            heads,
            task,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.addr.port())
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
