//! The hardened serve loop: HTTP/1.1 on a TCP listener with a bound on every way a
//! client can hold a connection, a cap on connections, and a shutdown that ends within
//! its grace.
//!
//! `axum::serve` is "intentionally simple": no timer, no connection cap, no deadline on
//! shutdown. This loop owns accept and each connection:
//!
//! - **Connection cap**: a permit is taken *before* `accept`, so at the cap new
//!   connections wait in the kernel's backlog while the connections already open keep
//!   being served (a probe on an existing keep-alive connection still answers).
//! - **Header-read timeout**, from accept for the first request (a client that never
//!   sends a byte included) and from the first byte of each later one; **idle timeout**
//!   between requests on a keep-alive connection; **body-read timeout** on the whole
//!   request body. A watchdog per connection wakes at the deadlines that apply (at
//!   least once per the shorter of the two timeouts), so a request pays for no timer
//!   of its own.
//! - **Graceful shutdown with a deadline**: on the shutdown signal the listener closes,
//!   idle connections close, in-flight requests finish; whatever is still open when the
//!   grace runs out is closed.
//!
//! It serves HTTP/1.1 only (what a service behind a load balancer or a mesh speaks):
//! hyper's `auto` builder sniffs the protocol version with an untimed read, which a
//! silent client turns into a connection held forever.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::response::Response;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tower::Service;

mod body;
pub(crate) use body::BodyReadTimeout;

mod connection;
use connection::Connection;

/// Default [`ServeOptions::header_read_timeout`]: 10 s. A client sends a request head in
/// milliseconds; ten seconds covers a slow mobile link, and bounds what a client that
/// connects and waits, or trickles its head, can hold.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Default [`ServeOptions::idle_timeout`]: 75 s. Longer than the idle timeout of the
/// common load balancers (60 s for AWS ALB, Nginx's `keepalive_timeout` is 75 s): the
/// balancer, not the service, should close an idle connection, or it may send a request
/// on a connection the service is closing.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(75);

/// Default [`ServeOptions::body_read_timeout`]: 30 s for a whole request body, from when
/// the handler starts reading it. 1 MiB (the routes' limit) arrives in that time at 35
/// KB/s.
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Default [`ServeOptions::max_connections`]: 1024, the usual soft limit on open files;
/// raise both together.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// Default [`ServeOptions::shutdown_grace`]: 10 s, within Kubernetes' default 30 s
/// termination grace period with room for what the process does after serving.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// How long accepting pauses after an error that is not one connection's (out of file
/// descriptors, say), so the loop does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// How the serve loop bounds its clients: see each setting for its default and why.
///
/// ```
/// use std::time::Duration;
/// use web::ServeOptions;
///
/// let mut options = ServeOptions::default();
/// options.header_read_timeout = Duration::from_secs(5);
/// options.max_connections = 4096;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServeOptions {
    /// How long a request head may take to arrive: from accept for a connection's first
    /// request (so a client that never sends a byte is closed after it), from the first
    /// byte of the head for later ones (default [`DEFAULT_HEADER_READ_TIMEOUT`]; less
    /// than a millisecond counts as one).
    pub header_read_timeout: Duration,
    /// How long a keep-alive connection may wait, with no request in flight, for the next
    /// request to start (default [`DEFAULT_IDLE_TIMEOUT`]; less than a millisecond counts
    /// as one).
    pub idle_timeout: Duration,
    /// How long a handler may take to read a whole request body, from its first read;
    /// the read then fails, and this crate's routes answer 408 (default
    /// [`DEFAULT_BODY_READ_TIMEOUT`]).
    pub body_read_timeout: Duration,
    /// The most connections open at once; more wait in the listen backlog until one
    /// closes (default [`DEFAULT_MAX_CONNECTIONS`]; at least 1, at most `u32::MAX`).
    pub max_connections: usize,
    /// How long in-flight requests may take to finish once shutdown starts; then every
    /// connection still open is closed (default [`DEFAULT_SHUTDOWN_GRACE`]).
    pub shutdown_grace: Duration,
    /// Whether to set `TCP_NODELAY` on accepted connections (default on: small answers
    /// on keep-alive connections must not wait for Nagle's algorithm).
    pub nodelay: bool,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            nodelay: true,
        }
    }
}

impl ServeOptions {
    /// The options with every setting in its range.
    fn sanitized(mut self) -> Self {
        self.header_read_timeout = self.header_read_timeout.max(Duration::from_millis(1));
        self.idle_timeout = self.idle_timeout.max(Duration::from_millis(1));
        self.max_connections = self.max_connections.clamp(1, MAX_CONNECTIONS_LIMIT);
        self
    }
}

/// The largest connection cap: the semaphore counts permits in `u32` when waiting for
/// all of them at shutdown.
const MAX_CONNECTIONS_LIMIT: usize = {
    if Semaphore::MAX_PERMITS < u32::MAX as usize {
        Semaphore::MAX_PERMITS
    } else {
        u32::MAX as usize
    }
};

/// Serves `service` (an [`axum::Router`], or any tower service of axum requests) on
/// `listener` with `options` until `shutdown` completes, then shuts down: stops
/// accepting, closes idle connections, lets in-flight requests finish within the
/// shutdown grace and closes what is left. Returns once every connection is closed.
///
/// Accept errors never end it: one connection's failure is skipped, any other (out of
/// file descriptors) is logged and accepting pauses for 100 ms. Call
/// [`ResilienceState::begin_shutdown`](crate::ResilienceState::begin_shutdown) in
/// `shutdown` before it completes, so readiness fails while requests drain.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// use axum::Router;
/// use axum::routing::get;
/// use web::{ServeOptions, serve};
///
/// let app = Router::new().route("/", get(|| async { "hello" }));
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// // Stops at once here; a program waits for SIGTERM.
/// serve(listener, app, ServeOptions::default(), async {}).await;
/// # Ok(())
/// # }
/// ```
pub async fn serve<S, F>(listener: TcpListener, service: S, options: ServeOptions, shutdown: F)
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
    F: Future<Output = ()> + Send,
{
    let options = Arc::new(options.sanitized());
    let permits = Arc::new(Semaphore::new(options.max_connections));
    let (drain, draining) = watch::channel(false);
    let (close, closing) = watch::channel(false);
    let mut shutdown = pin!(shutdown);
    loop {
        let permit = tokio::select! {
            // A closed semaphore cannot happen: it is never closed.
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = shutdown.as_mut() => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(error) if is_connection_error(&error) => continue,
                Err(error) => {
                    tracing::warn!(%error, "accepting a connection failed; pausing");
                    tokio::select! {
                        () = tokio::time::sleep(ACCEPT_ERROR_PAUSE) => continue,
                        () = shutdown.as_mut() => break,
                    }
                }
            },
            () = shutdown.as_mut() => break,
        };
        if options.nodelay
            && let Err(error) = stream.set_nodelay(true)
        {
            tracing::debug!(%error, "cannot set TCP_NODELAY");
        }
        let connection = Connection {
            options: Arc::clone(&options),
            draining: draining.clone(),
            closing: closing.clone(),
        };
        tokio::spawn(connection.serve(stream, service.clone(), permit));
    }
    drop(listener);
    let open = options.max_connections - permits.available_permits();
    tracing::info!(
        open,
        "shutting down: no new connections, finishing in-flight requests"
    );
    let _sent = drain.send(true);
    let everyone = u32::try_from(options.max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(options.shutdown_grace, permits.acquire_many(everyone))
        .await
        .is_err()
    {
        let open = options.max_connections - permits.available_permits();
        tracing::warn!(
            open,
            grace = %Grace(options.shutdown_grace),
            "connections still open at the end of the shutdown grace; closing them"
        );
        let _sent = close.send(true);
        // Each closes at its next poll; this bounds a task that is not polled (a
        // handler blocking its thread).
        let _closed =
            tokio::time::timeout(Duration::from_secs(1), permits.acquire_many(everyone)).await;
    }
}

/// An error of one connection, not of the listener (as axum's serve decides).
fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// A duration for a log line: `1.5s`.
struct Grace(Duration);

impl fmt::Display for Grace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}
