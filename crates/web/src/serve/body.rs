//! [`TimedBody`]: a request body that must be read whole within the body-read timeout.

use std::error::Error;
use std::fmt;
use std::future::Future as _;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::body::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use tokio::time::{Instant, Sleep};

/// The error a request body's read fails with once the body-read timeout has passed:
/// this crate's routes answer it with 408.
#[derive(Debug)]
pub(crate) struct BodyReadTimeout(pub(crate) Duration);

impl fmt::Display for BodyReadTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the request body was not read within {:?}", self.0)
    }
}

impl Error for BodyReadTimeout {}

pin_project_lite::pin_project! {
    /// hyper's body with a deadline set at the first read that has to wait: a body
    /// that arrived with its head (most do) never sets a timer.
    pub(super) struct TimedBody {
        #[pin]
        inner: Incoming,
        timeout: Duration,
        // Boxed: allocated only for a body that keeps a handler waiting.
        deadline: Option<Pin<Box<Sleep>>>,
    }
}

impl TimedBody {
    pub(super) fn new(inner: Incoming, timeout: Duration) -> Self {
        Self {
            inner,
            timeout,
            deadline: None,
        }
    }
}

impl Body for TimedBody {
    type Data = Bytes;
    type Error = Box<dyn Error + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        if let Poll::Ready(frame) = this.inner.poll_frame(cx) {
            return Poll::Ready(frame.map(|frame| frame.map_err(Into::into)));
        }
        let timeout = *this.timeout;
        let deadline = this
            .deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(Instant::now() + timeout)));
        ready!(deadline.as_mut().poll(cx));
        Poll::Ready(Some(Err(Box::new(BodyReadTimeout(timeout)))))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
