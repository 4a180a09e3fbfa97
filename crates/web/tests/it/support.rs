//! Serving a router in-process on an ephemeral port, and raw HTTP/1.1 clients.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use web::{ServeOptions, serve};

/// A router served by `web::serve` until [`Served::stop`].
pub(crate) struct Served {
    pub(crate) addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Served {
    pub(crate) async fn start(router: Router, options: ServeOptions) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, router, options, async move {
            let _ = stopped.await;
        }));
        Self {
            addr,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Signals shutdown and returns how long `serve` took to return after it.
    pub(crate) async fn stop(mut self) -> Duration {
        let started = Instant::now();
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(30), self.task.take().unwrap())
            .await
            .expect("serve did not return within 30 s of shutdown")
            .unwrap();
        started.elapsed()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// `GET path` with `Host`, keep-alive.
pub(crate) fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n")
}

/// Reads one response (head and a `content-length` body) from `stream`; `None` if the
/// connection closed first.
pub(crate) async fn read_response(stream: &mut TcpStream) -> Option<(u16, String)> {
    read_response_with_headers(stream)
        .await
        .map(|(status, body, _)| (status, body))
}

/// [`read_response`] with the headers, names in lower case.
pub(crate) async fn read_response_with_headers(
    stream: &mut TcpStream,
) -> Option<(u16, String, BTreeMap<String, String>)> {
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        if let Some(end) = find(&received, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&received[..end]).into_owned();
            let length: usize = head
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().ok())?
                })
                .unwrap_or(0);
            while received.len() < end + 4 + length {
                let read = stream.read(&mut buffer).await.ok()?;
                if read == 0 {
                    return None;
                }
                received.extend_from_slice(&buffer[..read]);
            }
            let status = head.split(' ').nth(1)?.parse().ok()?;
            let body = String::from_utf8_lossy(&received[end + 4..end + 4 + length]).into_owned();
            let headers = head
                .lines()
                .skip(1)
                .filter_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    Some((name.trim().to_ascii_lowercase(), value.trim().to_owned()))
                })
                .collect();
            return Some((status, body, headers));
        }
        let read = stream.read(&mut buffer).await.ok()?;
        if read == 0 {
            return None;
        }
        received.extend_from_slice(&buffer[..read]);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// Sends `request` on `stream` and reads the response, which must come.
pub(crate) async fn exchange_full(stream: &mut TcpStream, request: &str) -> (u16, String) {
    exchange(stream, request)
        .await
        .unwrap_or_else(|| panic!("no answer to {request:?}"))
}

/// [`exchange_full`] with the response's headers.
pub(crate) async fn exchange_with_headers(
    stream: &mut TcpStream,
    request: &str,
) -> (u16, String, BTreeMap<String, String>) {
    stream.write_all(request.as_bytes()).await.unwrap();
    read_response_with_headers(stream)
        .await
        .unwrap_or_else(|| panic!("no answer to {request:?}"))
}

/// Polls `condition` every 20 ms until it holds or `within` passes.
pub(crate) async fn eventually<F, Fut>(what: &str, within: Duration, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !condition().await {
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Sends `request` on `stream` and reads the response.
pub(crate) async fn exchange(stream: &mut TcpStream, request: &str) -> Option<(u16, String)> {
    stream.write_all(request.as_bytes()).await.ok()?;
    read_response(stream).await
}

/// Waits until the server closes `stream` (end of stream or reset), reading and
/// discarding anything it sends; how long that took, or `None` after `within`.
pub(crate) async fn closed_within(stream: &mut TcpStream, within: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buffer = [0u8; 1024];
    tokio::time::timeout(within, async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return started.elapsed(),
                Ok(_) => {}
            }
        }
    })
    .await
    .ok()
}
