//! One connection: hyper's HTTP/1.1 connection driven together with a watchdog that
//! closes it when a client takes too long to send a head or stays idle too long, and
//! with the server's shutdown signals.
//!
//! The watchdog reads what the connection's parts record as they go, in atomics that
//! only this connection's task touches (so they never contend): the number of requests
//! whose response is not finished, when the connection last became idle, and when the
//! head of the next request started to arrive. It sleeps until the earliest deadline
//! that could apply, and at most the shorter of the header-read and idle timeouts at a
//! time, so a request costs two clock reads and no timer.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::response::Response;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, watch};
use tokio::time::Instant;
use tower::util::Oneshot;
use tower::{Service, ServiceExt as _};

use super::ServeOptions;
use super::body::TimedBody;
use crate::error::Chain;

/// What a connection task needs besides its socket and service.
pub(super) struct Connection {
    pub(super) options: Arc<ServeOptions>,
    /// Becomes `true` when shutdown starts: finish in-flight requests, then close.
    pub(super) draining: watch::Receiver<bool>,
    /// Becomes `true` when the shutdown grace is over: close now.
    pub(super) closing: watch::Receiver<bool>,
}

/// Why the watchdog closed a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expired {
    /// A request head did not arrive in time (nothing at all, or a trickle).
    HeaderRead,
    /// No request came on an idle keep-alive connection.
    Idle,
}

impl Expired {
    const fn as_str(self) -> &'static str {
        match self {
            Self::HeaderRead => "header read timeout",
            Self::Idle => "idle timeout",
        }
    }
}

impl Connection {
    /// Serves `stream` until the client closes it, the watchdog or the server does;
    /// `permit` is the connection's place under the cap, released at the end.
    pub(super) async fn serve<S>(self, stream: TcpStream, service: S, permit: OwnedSemaphorePermit)
    where
        S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
        S::Future: Send + 'static,
    {
        let Self {
            options,
            mut draining,
            mut closing,
        } = self;
        let activity = Arc::new(Activity::new());
        let io = TokioIo::new(Watched {
            stream,
            activity: Arc::clone(&activity),
        });
        let service = PerConnection {
            service,
            activity: Arc::clone(&activity),
            body_read_timeout: options.body_read_timeout,
        };
        let mut connection = pin!(
            hyper::server::conn::http1::Builder::new()
                // Our watchdog bounds the head (hyper's own timer would also close idle
                // keep-alive connections after it, and cost a timer per request).
                .header_read_timeout(None)
                .serve_connection(io, service)
                .with_upgrades()
        );
        let mut next_check = pin!(tokio::time::sleep_until(
            activity.epoch + options.header_read_timeout
        ));
        let mut drain_started = *draining.borrow();
        if drain_started {
            connection.as_mut().graceful_shutdown();
        }
        loop {
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(error) = result {
                        tracing::debug!(error = %Chain(&error), "connection ended with an error");
                    }
                    break;
                }
                () = next_check.as_mut() => {
                    match activity.check(Instant::now(), &options) {
                        Ok(at) => next_check.as_mut().reset(at),
                        Err(expired) => {
                            tracing::debug!(reason = expired.as_str(), "closing a connection");
                            break;
                        }
                    }
                }
                changed = draining.changed(), if !drain_started => {
                    drain_started = true;
                    if changed.is_ok() {
                        connection.as_mut().graceful_shutdown();
                    }
                }
                _ = closing.changed() => break,
            }
        }
        drop(permit);
    }
}

/// What the connection records and the watchdog reads. Times are nanoseconds since
/// `epoch`.
struct Activity {
    epoch: Instant,
    /// Requests whose response is not finished (its body not done or dropped).
    in_flight: AtomicUsize,
    /// When `in_flight` last fell to zero (the connection's start at first).
    idle_since: AtomicU64,
    /// Whether bytes of a request head arrived while idle, and when the first did. A new
    /// connection counts as one whose head started at accept: its first request must
    /// arrive within the header-read timeout.
    head_started: AtomicBool,
    head_started_at: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Self {
            epoch: Instant::now(),
            in_flight: AtomicUsize::new(0),
            idle_since: AtomicU64::new(0),
            head_started: AtomicBool::new(true),
            head_started_at: AtomicU64::new(0),
        }
    }

    fn nanos_since_epoch(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX)
    }

    fn at(&self, nanos: u64) -> Instant {
        self.epoch + Duration::from_nanos(nanos)
    }

    /// Bytes arrived: if the connection was idle, a head starts now.
    fn bytes_read(&self) {
        if self.in_flight.load(Ordering::Relaxed) == 0 && !self.head_started.load(Ordering::Relaxed)
        {
            let now = self.nanos_since_epoch(Instant::now());
            self.head_started_at.store(now, Ordering::Relaxed);
            self.head_started.store(true, Ordering::Relaxed);
        }
    }

    /// hyper handed a request to the service: its head is complete.
    fn request_started(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.head_started.store(false, Ordering::Relaxed);
    }

    /// A response finished (or was abandoned).
    fn request_finished(&self) {
        if self.in_flight.fetch_sub(1, Ordering::Relaxed) == 1 {
            let now = self.nanos_since_epoch(Instant::now());
            self.idle_since.store(now, Ordering::Relaxed);
        }
    }

    /// When to look again, or which timeout expired.
    fn check(&self, now: Instant, options: &ServeOptions) -> Result<Instant, Expired> {
        // A deadline that arises after this check (a head starting, the connection
        // turning idle) is at least the shorter timeout away from it: looking again that
        // soon never misses one, and then it is timed exactly.
        let soon = now + options.header_read_timeout.min(options.idle_timeout);
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            return Ok(soon);
        }
        let (deadline, expired) = if self.head_started.load(Ordering::Relaxed) {
            let started = self.at(self.head_started_at.load(Ordering::Relaxed));
            (started + options.header_read_timeout, Expired::HeaderRead)
        } else {
            let idle = self.at(self.idle_since.load(Ordering::Relaxed));
            (idle + options.idle_timeout, Expired::Idle)
        };
        if deadline <= now {
            Err(expired)
        } else {
            Ok(deadline.min(soon))
        }
    }
}

/// The socket, telling the watchdog when bytes arrive.
struct Watched {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = ready!(Pin::new(&mut self.stream).poll_read(cx, buf));
        if buf.filled().len() > before {
            self.activity.bytes_read();
        }
        Poll::Ready(result)
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// The service as hyper calls it on one connection: request bodies timed, requests
/// counted in flight until their response body is done.
#[derive(Clone)]
struct PerConnection<S> {
    service: S,
    activity: Arc<Activity>,
    body_read_timeout: Duration,
}

impl<S> hyper::service::Service<hyper::Request<Incoming>> for PerConnection<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = hyper::Response<CountedBody>;
    type Error = Infallible;
    type Future = Counted<Oneshot<S, Request>>;

    fn call(&self, request: hyper::Request<Incoming>) -> Self::Future {
        self.activity.request_started();
        let timeout = self.body_read_timeout;
        let request = request.map(|body| Body::new(TimedBody::new(body, timeout)));
        Counted {
            inner: self.service.clone().oneshot(request),
            in_flight: Some(InFlight(Arc::clone(&self.activity))),
        }
    }
}

/// One request in flight; dropped when its response is done or abandoned.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.request_finished();
    }
}

pin_project_lite::pin_project! {
    /// The service's future; its response body carries the request's [`InFlight`].
    struct Counted<F> {
        #[pin]
        inner: F,
        in_flight: Option<InFlight>,
    }
}

impl<F> Future for Counted<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<hyper::Response<CountedBody>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        let in_flight = this.in_flight.take();
        Poll::Ready(result.map(|response| {
            response.map(|inner| CountedBody {
                inner,
                _in_flight: in_flight,
            })
        }))
    }
}

pin_project_lite::pin_project! {
    /// A response body that holds its request [`InFlight`] until hyper drops it.
    pub(super) struct CountedBody {
        #[pin]
        inner: Body,
        _in_flight: Option<InFlight>,
    }
}

impl hyper::body::Body for CountedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        self.project().inner.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
