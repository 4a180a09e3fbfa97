//! The operator's calls: an override or a hold becomes a request in the store, which the
//! leader turns into a decision; a release deletes it.

use std::time::Duration;

use fallback::FallbackMode;
use tokio::time::Instant;

use super::Inner;
use super::state::Undelivered;
use crate::record::{Decision, OverrideRequest, now_rfc3339};
use crate::status::{Coordination, Delivery};
use crate::util::millis;
use crate::{Error, Result};

pub(super) async fn request(
    inner: &Inner,
    mode: FallbackMode,
    hold: bool,
    duration: Option<Duration>,
) -> Result<Delivery> {
    ensure_running(inner)?;
    let duration = duration.filter(|_| hold);
    let request = OverrideRequest {
        id: request_id(inner),
        mode,
        hold,
        duration_ms: duration.map(millis),
        requested_by: inner.id.clone(),
        timestamp: now_rfc3339(),
    };
    // A one-shot override is carried out by the next decision; one no leader took up
    // within two leases is dropped rather than applied much later.
    let ttl = if hold {
        duration
    } else {
        Some(inner.config.lease_ttl.saturating_mul(2))
    };
    match inner
        .call("request", inner.store.request(&request, ttl))
        .await
    {
        Ok(()) => {
            tracing::info!(instance = %inner.id, id = %request.id, %mode, hold, "operator request stored for the cluster");
            inner.wake.notify_one();
            let id = request.id.clone();
            Ok(wait_for(inner, move |decision| {
                decision
                    .operator
                    .as_ref()
                    .is_some_and(|operator| operator.id == id)
            })
            .await)
        }
        Err(error) => {
            let reason = error.to_string();
            tracing::warn!(instance = %inner.id, %reason, %mode, hold, "cluster store unreachable: operator request applied here and kept for the cluster");
            let applied = if hold {
                inner.manager.hold_mode(mode, duration).await
            } else {
                inner.manager.set_mode_to(mode).await
            };
            applied.map_err(Error::Fallback)?;
            let until = ttl.map(|ttl| Instant::now() + ttl);
            inner.state.lock().undelivered = Some(Undelivered::Request { request, until });
            Ok(Delivery::Pending { reason })
        }
    }
}

pub(super) async fn release(inner: &Inner) -> Result<Delivery> {
    ensure_running(inner)?;
    match inner
        .call("clear_request", inner.store.clear_request())
        .await
    {
        Ok(_) => {
            tracing::info!(instance = %inner.id, "operator release stored for the cluster");
            inner.wake.notify_one();
            Ok(wait_for(inner, |decision| !decision.held).await)
        }
        Err(error) => {
            let reason = error.to_string();
            tracing::warn!(instance = %inner.id, %reason, "cluster store unreachable: hold released here and the release kept for the cluster");
            inner.manager.release_hold();
            inner.state.lock().undelivered = Some(Undelivered::Release);
            Ok(Delivery::Pending { reason })
        }
    }
}

fn ensure_running(inner: &Inner) -> Result<()> {
    if inner.state.lock().coordination == Coordination::Stopped || *inner.stop.borrow() {
        return Err(Error::Stopped);
    }
    Ok(())
}

/// Waits up to two heartbeats for an applied decision that satisfies `done`.
async fn wait_for(inner: &Inner, done: impl Fn(&Decision) -> bool) -> Delivery {
    let mut applied = inner.applied.subscribe();
    let wait = inner.config.heartbeat_interval.saturating_mul(2);
    let found = tokio::time::timeout(
        wait,
        applied.wait_for(|decision| decision.as_ref().is_some_and(&done)),
    )
    .await;
    match found {
        Ok(Ok(decision)) => {
            decision
                .as_ref()
                .map_or(Delivery::Requested, |decision| Delivery::Applied {
                    stamp: decision.stamp(),
                })
        }
        _ => Delivery::Requested,
    }
}

fn request_id(inner: &Inner) -> String {
    let random = inner.rng.lock().next_u64();
    format!("{}-{random:016x}", inner.id)
}
