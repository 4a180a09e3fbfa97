//! Status listeners: [`StatusListener`], [`StatusChange`], and the per-listener queues
//! and delivery tasks that keep a slow or broken listener from touching the monitor.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::FutureExt as _;
use health_model::{HealthCheckResult, HealthCheckStatus};
use parking_lot::Mutex;
use tokio::sync::mpsc;

use super::{Inner, LISTENER_QUEUE_CAPACITY};
use crate::checks::panic_message;
use crate::probe::CheckOptions;

/// Told when a check's status changes; see [`HealthMonitor::add_status_listener`](super::HealthMonitor::add_status_listener).
#[async_trait]
pub trait StatusListener: Send + Sync {
    /// A check's status changed (or was seen for the first time).
    async fn on_status_change(&self, change: &StatusChange);
}

/// Told the raw result of every check run, before the check's thresholds decide the
/// status it shows: what a circuit breaker or a retry tracker fed by checks needs
/// ([`BreakerFeed`](crate::breaker::BreakerFeed) is one). Called synchronously in the
/// task that ran the check, so keep it quick; a panic is caught and logged. Set with
/// [`HealthMonitorBuilder::observer`](super::HealthMonitorBuilder::observer).
pub trait CheckObserver: Send + Sync {
    /// `check`, registered with `options`, just produced `result`.
    fn observe(&self, check: &str, options: &CheckOptions, result: &HealthCheckResult);
}

/// One change of a check's status.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusChange {
    /// The check's name.
    pub check: String,
    /// The status before, `None` for the check's first result.
    pub previous: Option<HealthCheckStatus>,
    /// The status now.
    pub current: HealthCheckStatus,
    /// The result that brought the change.
    pub result: HealthCheckResult,
}

/// A listener with the queue to its delivery task.
pub(super) struct ListenerSlot {
    pub(super) listener: Arc<dyn StatusListener>,
    /// The queue to the listener's delivery task, started on the first change.
    pub(super) queue: Mutex<Option<mpsc::Sender<StatusChange>>>,
}

impl Inner {
    /// Queues `change` for every listener, starting a listener's delivery task on its first
    /// change; never waits.
    pub(super) fn notify(&self, change: &StatusChange) {
        let listeners = self.listeners.read().clone();
        if listeners.is_empty() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return; // checks only run inside a runtime; nothing to deliver on otherwise
        };
        for slot in listeners {
            let sender = {
                let mut queue = slot.queue.lock();
                // Started on the first change, and again if the runtime it ran on has shut
                // down (a short-lived startup runtime), which closes the queue.
                if queue.as_ref().is_none_or(mpsc::Sender::is_closed) {
                    let (sender, receiver) = mpsc::channel(LISTENER_QUEUE_CAPACITY);
                    drop(runtime.spawn(deliver(
                        Arc::clone(&slot.listener),
                        receiver,
                        self.listener_timeout,
                    )));
                    *queue = Some(sender);
                }
                queue.clone()
            };
            let Some(sender) = sender else {
                continue;
            };
            if let Err(error) = sender.try_send(change.clone()) {
                tracing::warn!(
                    check = %change.check,
                    %error,
                    "status listener is not keeping up; change dropped"
                );
            }
        }
    }
}

/// Delivers changes to one listener, in order, each under `timeout`. Ends when the
/// monitor (holding the sender) is gone.
async fn deliver(
    listener: Arc<dyn StatusListener>,
    mut changes: mpsc::Receiver<StatusChange>,
    timeout: Duration,
) {
    while let Some(change) = changes.recv().await {
        let delivery = AssertUnwindSafe(listener.on_status_change(&change)).catch_unwind();
        match tokio::time::timeout(timeout, delivery).await {
            Ok(Ok(())) => {}
            Ok(Err(panic)) => tracing::error!(
                check = %change.check,
                message = %panic_message(panic.as_ref()),
                "status listener panicked"
            ),
            Err(_elapsed) => tracing::warn!(
                check = %change.check,
                timeout = %humantime::format_duration(timeout),
                "status listener timed out and was cancelled"
            ),
        }
    }
}
