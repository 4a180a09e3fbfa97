//! The shared runner: timeouts (with cancellation), errors, panics, latency (the
//! original's `BaseHealthCheck` tests, re-expressed, plus isolation).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use health::checks::{DEFAULT_CHECK_TIMEOUT, check_fn, run_check};
use health::{CheckError, CheckOutcome, HealthCheck, HealthCheckStatus};

use crate::support::{DropFlag, quiet};

/// A check that only says what it is; the runner supplies everything else.
struct Minimal;

#[async_trait]
impl HealthCheck for Minimal {
    fn name(&self) -> &str {
        "minimal"
    }

    async fn check(&self) -> Result<CheckOutcome, CheckError> {
        Ok(CheckOutcome::healthy("fine").with_metadata("answer", 42))
    }
}

#[tokio::test]
async fn a_check_writes_only_its_logic_and_gets_name_latency_and_timestamp() {
    assert_eq!(Minimal.timeout(), DEFAULT_CHECK_TIMEOUT);
    assert_eq!(DEFAULT_CHECK_TIMEOUT, Duration::from_secs(5));
    let before = health::model::Timestamp::now();
    let result = run_check(&Minimal).await;
    assert_eq!(result.name, "minimal");
    assert_eq!(result.status, HealthCheckStatus::Healthy);
    assert_eq!(result.message, "fine");
    assert_eq!(result.metadata["answer"], 42);
    assert!(result.latency_ms >= 0.0);
    assert!(result.timestamp >= before);
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_check_is_unhealthy_and_its_future_is_dropped() {
    let dropped = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&dropped);
    let check = check_fn("slow", move || {
        let guard = DropFlag(Arc::clone(&flag));
        async move {
            let _guard = guard;
            tokio::time::sleep(Duration::from_secs(10)).await;
            Ok(CheckOutcome::healthy("too late"))
        }
    })
    .with_timeout(Duration::from_millis(100));
    let result = run_check(&check).await;
    assert_eq!(result.status, HealthCheckStatus::Unhealthy);
    assert!(result.message.contains("timed out"), "{}", result.message);
    assert_eq!(result.message, "health check timed out after 100ms");
    assert!(result.latency_ms >= 100.0, "{}", result.latency_ms);
    assert!(
        dropped.load(Ordering::SeqCst),
        "the check kept running after its timeout"
    );
}

#[tokio::test]
async fn an_error_is_unhealthy_with_its_text_and_sources() {
    #[derive(Debug, thiserror::Error)]
    #[error("cannot reach the ledger")]
    struct Ledger(#[source] std::io::Error);

    let check = check_fn("ledger", || async {
        Err(Ledger(std::io::Error::other("Connection refused")).into())
    });
    let result = run_check(&check).await;
    assert_eq!(result.status, HealthCheckStatus::Unhealthy);
    assert_eq!(
        result.message,
        "cannot reach the ledger: Connection refused"
    );

    let parse = check_fn("parse", || async {
        let depth: u32 = "many".parse()?;
        Ok(CheckOutcome::healthy(depth.to_string()))
    });
    let result = run_check(&parse).await;
    assert_eq!(result.status, HealthCheckStatus::Unhealthy);
    assert_eq!(result.message, "invalid digit found in string");
}

#[tokio::test]
async fn a_panic_is_unhealthy_and_does_not_escape() {
    let check = check_fn("panicky", || async {
        let items: Vec<u8> = Vec::new();
        let index = items.len() + 3;
        Ok(CheckOutcome::healthy(items[index].to_string()))
    });
    let result = run_check(&check).await;
    assert_eq!(result.status, HealthCheckStatus::Unhealthy);
    assert!(
        result
            .message
            .starts_with("health check panicked: index out of bounds"),
        "{}",
        result.message
    );
    // After an await point too.
    let late = check_fn("late-panic", || async {
        tokio::task::yield_now().await;
        panic!("after yielding");
    });
    let result = run_check(&late).await;
    assert_eq!(result.message, "health check panicked: after yielding");
}

/// A check whose timeout comes from a bad setting: `Duration::from_secs_f64` panics on a
/// negative number.
struct BadTimeout {
    timeout_seconds: f64,
}

#[async_trait]
impl HealthCheck for BadTimeout {
    fn name(&self) -> &str {
        "bad-timeout"
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs_f64(self.timeout_seconds)
    }

    async fn check(&self) -> Result<CheckOutcome, CheckError> {
        Ok(CheckOutcome::healthy("never asked"))
    }
}

#[tokio::test]
async fn a_panic_in_timeout_is_unhealthy_and_does_not_escape() {
    let check = BadTimeout {
        timeout_seconds: -1.0,
    };
    let result = run_check(&check).await;
    assert_eq!(result.name, "bad-timeout");
    assert_eq!(result.status, HealthCheckStatus::Unhealthy);
    assert!(
        result.message.starts_with("health check panicked: "),
        "{}",
        result.message
    );
    // Inside the monitor, the other checks are unaffected.
    let monitor = quiet();
    monitor.register_check(check);
    monitor.register_check(check_fn("fine", || async {
        Ok(CheckOutcome::healthy("ok"))
    }));
    let state = monitor.get_comprehensive_state().await;
    assert_eq!(
        state.health_checks["bad-timeout"].status,
        HealthCheckStatus::Unhealthy
    );
    assert_eq!(
        state.health_checks["fine"].status,
        HealthCheckStatus::Healthy
    );
}

#[tokio::test(start_paused = true)]
async fn latency_is_measured_on_the_monotonic_clock() {
    let check = check_fn("sleepy", || async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        Ok(CheckOutcome::healthy("rested"))
    });
    let result = run_check(&check).await;
    // Paused clock: the sleep takes exactly 50 ms of Tokio time, whatever the machine.
    assert!(
        (50.0..51.0).contains(&result.latency_ms),
        "{}",
        result.latency_ms
    );
}

#[tokio::test]
async fn degraded_and_unknown_outcomes_pass_through() {
    for status in [
        HealthCheckStatus::Healthy,
        HealthCheckStatus::Degraded,
        HealthCheckStatus::Unhealthy,
        HealthCheckStatus::Unknown,
    ] {
        let check = check_fn("any", move || async move {
            Ok(CheckOutcome::new(status, "as chosen"))
        });
        assert_eq!(run_check(&check).await.status, status);
    }
}
