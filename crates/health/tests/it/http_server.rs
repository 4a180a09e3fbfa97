//! A tiny HTTP/1.1 server for the HTTP check's tests (feature `http-check`).

use std::net::SocketAddr;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// What the test HTTP server saw of one request.
#[derive(Debug, Clone, Default)]
pub(crate) struct SeenRequest {
    pub head: String,
    /// Whether the client closed the connection after the request.
    pub closed_by_client: bool,
}

/// A tiny HTTP/1.1 server on 127.0.0.1: `/ok` → 200, `/fail` → 500, `/teapot` → 418,
/// `/hang` → never answers. Records each request head and whether the client hung up.
pub(crate) struct TestServer {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<SeenRequest>>>,
    task: tokio::task::JoinHandle<()>,
}

impl TestServer {
    pub(crate) async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen: Arc<Mutex<Vec<SeenRequest>>> = Arc::default();
        let log = Arc::clone(&seen);
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let log = Arc::clone(&log);
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buffer = [0_u8; 1024];
                    while !head.windows(4).any(|window| window == b"\r\n\r\n") {
                        match stream.read(&mut buffer).await {
                            Ok(0) | Err(_) => return,
                            Ok(read) => head.extend_from_slice(&buffer[..read]),
                        }
                    }
                    let head = String::from_utf8_lossy(&head).into_owned();
                    let index = {
                        let mut log = log.lock();
                        log.push(SeenRequest {
                            head: head.clone(),
                            closed_by_client: false,
                        });
                        log.len() - 1
                    };
                    let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                    let status = match path.as_str() {
                        "/ok" => "200 OK",
                        "/fail" => "500 Internal Server Error",
                        "/teapot" => "418 I'm a teapot",
                        "/hang" => {
                            // Wait for the client to give up and hang up.
                            let closed = matches!(stream.read(&mut buffer).await, Ok(0) | Err(_));
                            log.lock()[index].closed_by_client = closed;
                            return;
                        }
                        _ => "404 Not Found",
                    };
                    let body = "{\"status\": \"whatever\"}";
                    let response = format!(
                        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(response.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        Self { addr, seen, task }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub(crate) fn seen(&self) -> Vec<SeenRequest> {
        self.seen.lock().clone()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
