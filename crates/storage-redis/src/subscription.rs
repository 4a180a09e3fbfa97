//! Subscriptions to published messages, on a dedicated connection that reports its loss.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::Stream;
use redis::aio::{PubSubSink, PubSubStream};
use storage::{Operation, Result, StorageError};
use tokio::sync::oneshot;

use crate::RedisAdapter;
use crate::policy::{Failure, classify, setup_failure};

/// A message received by a [`Subscription`].
#[derive(Clone, PartialEq, Eq)]
pub struct Message {
    channel: String,
    payload: Vec<u8>,
}

impl Message {
    /// The channel it was published on.
    #[must_use]
    pub fn channel(&self) -> &str {
        &self.channel
    }

    /// What was published.
    #[must_use]
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// What was published, taken out of the message.
    #[must_use]
    pub fn into_payload(self) -> Vec<u8> {
        self.payload
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Payloads are the application's data: their size is enough for a log line.
        f.debug_struct("Message")
            .field("channel", &self.channel)
            .field("payload_len", &self.payload.len())
            .finish()
    }
}

/// Messages published on the channels given to [`RedisAdapter::subscribe`], as a
/// [`Stream`].
///
/// The subscription has a connection of its own (a subscribed connection can run nothing
/// else) and checks it with a `PING` every [`RedisConfig::timeout`]. When that connection
/// is lost (the server went away or was demoted, a `PING` got no answer in time, or,
/// behind Sentinel, a failover moved the master to another server) the stream yields one
/// `Err` ([`StorageError::Connection`] or [`StorageError::Timeout`], operation
/// [`Operation::Subscribe`]) and then ends.
///
/// Redis pub/sub delivers at most once: messages published while no subscription was
/// connected are lost. After the error, re-read whatever state the messages announce,
/// then subscribe again.
///
/// Dropping the subscription closes its connection.
///
/// [`RedisConfig::timeout`]: crate::RedisConfig::timeout
pub struct Subscription {
    messages: PubSubStream,
    /// Completes when the master moves to another server (Sentinel's failovers).
    moved: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
    /// Why the keepalive gave up on the connection.
    lost: oneshot::Receiver<StorageError>,
    keepalive: tokio::task::JoinHandle<()>,
    target: String,
    ended: bool,
}

impl Stream for Subscription {
    type Item = Result<Message>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.ended {
            return Poll::Ready(None);
        }
        // Messages that arrived before the loss are delivered first.
        match Pin::new(&mut self.messages).poll_next(cx) {
            Poll::Ready(Some(message)) => {
                return Poll::Ready(Some(Ok(Message {
                    channel: message.get_channel_name().to_owned(),
                    payload: message.get_payload_bytes().to_vec(),
                })));
            }
            Poll::Ready(None) => {
                self.ended = true;
                self.keepalive.abort();
                return Poll::Ready(Some(Err(StorageError::Connection {
                    operation: Operation::Subscribe,
                    target: self.target.clone(),
                    message: "the subscription's connection closed".to_owned(),
                    source: None,
                })));
            }
            Poll::Pending => {}
        }
        if let Some(moved) = &mut self.moved
            && moved.as_mut().poll(cx).is_ready()
        {
            self.ended = true;
            self.keepalive.abort();
            return Poll::Ready(Some(Err(StorageError::Connection {
                operation: Operation::Subscribe,
                target: self.target.clone(),
                message: "the master moved to another server (failover)".to_owned(),
                source: None,
            })));
        }
        match Pin::new(&mut self.lost).poll(cx) {
            Poll::Ready(Ok(error)) => {
                self.ended = true;
                Poll::Ready(Some(Err(error)))
            }
            // The keepalive only stops by reporting a loss, or when aborted here.
            Poll::Ready(Err(_)) | Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.keepalive.abort();
    }
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("target", &self.target)
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

impl RedisAdapter {
    /// Subscribes to `channels` on a dedicated connection; see [`Subscription`].
    ///
    /// The connection goes to the current master (behind Sentinel: the one the sentinels
    /// name now; on a cluster: any master, which sees messages published on every node).
    /// Setting it up is retried like an idempotent command. Channels are used verbatim
    /// (no key prefix).
    ///
    /// ```no_run
    /// # async fn demo(adapter: storage_redis::RedisAdapter) -> storage::Result<()> {
    /// use futures_util::StreamExt;
    ///
    /// let mut changes = adapter.subscribe(&["election:{ctl}:changed"]).await?;
    /// while let Some(message) = changes.next().await {
    ///     match message {
    ///         Ok(message) => println!("hint: {:?}", message.payload()),
    ///         Err(lost) => {
    ///             // Re-read the state, then subscribe again.
    ///             println!("subscription lost: {lost}");
    ///             break;
    ///         }
    ///     }
    /// }
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`StorageError::InvalidArgument`] without channels; otherwise the error of the last
    /// attempt to connect and subscribe.
    pub async fn subscribe(&self, channels: &[&str]) -> Result<Subscription> {
        if channels.is_empty() {
            return Err(StorageError::invalid_argument(
                Operation::Subscribe,
                "at least one channel is needed",
            ));
        }
        let timeout = self.config().timeout;
        // Watched from before connecting: a failover during set-up ends the subscription.
        let moved = self
            .connector()
            .and_then(|connector| connector.master_moves())
            .map(|mut moves| -> Pin<Box<dyn Future<Output = ()> + Send>> {
                Box::pin(async move {
                    // A closed channel (the adapter closed) is no move.
                    if moves.changed().await.is_err() {
                        std::future::pending::<()>().await;
                    }
                })
            });
        let pubsub = self
            .retrying(Operation::Subscribe, true, || async {
                let connector = self.connector().ok_or(Failure::Closed)?;
                let setup = async {
                    let client = connector.pubsub_client().await?;
                    let mut pubsub = client.get_async_pubsub().await.map_err(setup_failure)?;
                    pubsub
                        .subscribe(channels)
                        .await
                        .map_err(|error| classify(error, Operation::Subscribe, None))?;
                    Ok(pubsub)
                };
                tokio::time::timeout(timeout, setup)
                    .await
                    .unwrap_or(Err(Failure::TimedOut))
            })
            .await?;
        let (sink, messages) = pubsub.split();
        let (report, lost) = oneshot::channel();
        let keepalive = tokio::spawn(keepalive(sink, timeout, report, self.target().to_owned()));
        Ok(Subscription {
            messages,
            moved,
            lost,
            keepalive,
            target: self.target().to_owned(),
            ended: false,
        })
    }
}

/// `PING`s the subscribed connection every `interval`, and reports the first that fails
/// or gets no answer within `interval`.
async fn keepalive(
    mut sink: PubSubSink,
    interval: Duration,
    report: oneshot::Sender<StorageError>,
    target: String,
) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let failure = match tokio::time::timeout(interval, sink.ping::<redis::Value>()).await {
            Ok(Ok(_)) => continue,
            Ok(Err(error)) => Failure::Broken(error),
            Err(_elapsed) => Failure::TimedOut,
        };
        // The subscription may be gone already; then nobody needs to know.
        let _ = report.send(failure.into_error(Operation::Subscribe, &target, interval));
        return;
    }
}
