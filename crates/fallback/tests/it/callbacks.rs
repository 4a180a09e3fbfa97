//! Mode callbacks: several per mode, in order, isolated from each other's errors, panics
//! and hangs, and refused when they try to change the mode under themselves.

use std::sync::{Arc, Weak};

use parking_lot::Mutex;
use std::time::Duration;

use fallback::metrics::CALLBACK_FAILURES_METRIC;
use fallback::{Error, FallbackManager, FallbackMode};
use storage::MemoryStorage;

use crate::support::{Emitted, RecordingSink, failed, healthy, open};

#[tokio::test(start_paused = true)]
async fn errors_panics_and_hangs_are_contained_and_the_rest_still_run() {
    let sink = Arc::new(RecordingSink::default());
    let manager = FallbackManager::builder(Arc::new(MemoryStorage::new()))
        .callback_timeout(Duration::from_secs(2))
        .metrics_sink(sink.clone())
        .build();
    let ran: Arc<Mutex<Vec<&'static str>>> = Arc::default();
    let mark = |name: &'static str| {
        let ran = ran.clone();
        move || ran.lock().push(name)
    };
    let first = mark("first");
    manager.register_mode_callback(FallbackMode::Safe, move |_| {
        first();
        async { Err("database unreachable".into()) }
    });
    let second = mark("second");
    manager.register_mode_callback(FallbackMode::Safe, move |_| {
        second();
        async { panic!("callback bug") }
    });
    let third = mark("third");
    manager.register_mode_callback(FallbackMode::Safe, move |_| {
        third();
        std::future::pending()
    });
    let fourth = mark("fourth");
    manager.register_mode_callback(FallbackMode::Safe, move |_| {
        fourth();
        async { Ok(()) }
    });
    assert_eq!(manager.mode_callback_count(FallbackMode::Safe), 4);
    sink.clear();

    let started = tokio::time::Instant::now();
    assert_eq!(manager.cascade(&failed(2)).await, FallbackMode::Safe);
    assert_eq!(
        started.elapsed(),
        Duration::from_secs(2),
        "only the hang cost its timeout"
    );
    assert_eq!(*ran.lock(), ["first", "second", "third", "fourth"]);
    assert_eq!(manager.total_transitions(), 1);

    let failures: Vec<String> = sink
        .take()
        .into_iter()
        .filter_map(|emitted| match emitted {
            Emitted::Counter(name, 1, tags) if name == CALLBACK_FAILURES_METRIC => {
                assert_eq!(tags[0], ("mode".to_owned(), "safe".to_owned()));
                Some(tags[1].1.clone())
            }
            _ => None,
        })
        .collect();
    assert_eq!(failures, ["failed", "panicked", "timed_out"]);

    // The manager still works after all that.
    assert_eq!(manager.cascade(&healthy()).await, FallbackMode::Primary);
}

#[tokio::test]
async fn callbacks_run_only_on_entry_to_their_mode() {
    let manager = FallbackManager::in_memory();
    let entered: Arc<Mutex<Vec<FallbackMode>>> = Arc::default();
    for mode in FallbackMode::ALL {
        let entered = entered.clone();
        manager.register_mode_callback(mode, move |transition| {
            let entered = entered.clone();
            async move {
                entered.lock().push(transition.to);
                Ok(())
            }
        });
    }
    manager.cascade(&open(1.0)).await;
    manager.cascade(&open(2.0)).await;
    manager.cascade(&failed(2)).await;
    manager.set_mode("primary").await.unwrap();
    manager.set_mode("primary").await.unwrap();
    assert_eq!(
        *entered.lock(),
        [
            FallbackMode::Heuristic,
            FallbackMode::Safe,
            FallbackMode::Primary
        ]
    );
}

#[tokio::test]
async fn a_callback_that_changes_its_own_managers_mode_is_refused_not_deadlocked() {
    let manager = Arc::new(FallbackManager::in_memory());
    let answers: Arc<Mutex<Vec<String>>> = Arc::default();
    let weak: Weak<FallbackManager> = Arc::downgrade(&manager);
    let seen = answers.clone();
    manager.register_mode_callback(FallbackMode::Safe, move |_| {
        let (weak, seen) = (weak.clone(), seen.clone());
        async move {
            let manager = weak.upgrade().ok_or("manager gone")?;
            let refused = manager.set_mode("primary").await.unwrap_err();
            assert!(matches!(
                refused,
                Error::Reentrant {
                    operation: "set_mode"
                }
            ));
            seen.lock().push(refused.to_string());
            // A cascade from inside changes nothing either.
            let mode = manager.cascade(&healthy()).await;
            seen.lock().push(mode.to_string());
            Ok(())
        }
    });
    // Another manager may be driven from inside the callback.
    let other = Arc::new(FallbackManager::in_memory());
    let other_inside = other.clone();
    manager.register_mode_callback(FallbackMode::Safe, move |_| {
        let other = other_inside.clone();
        async move {
            other.set_mode("heuristic").await?;
            Ok(())
        }
    });

    assert_eq!(manager.cascade(&failed(2)).await, FallbackMode::Safe);
    assert_eq!(
        *answers.lock(),
        [
            "set_mode called from a mode callback of the same manager: refused, it would wait for itself",
            "safe"
        ]
    );
    assert_eq!(manager.total_transitions(), 1);
    assert_eq!(other.get_current_mode(), FallbackMode::Heuristic);
}

#[tokio::test]
async fn a_callback_that_panics_before_returning_its_future_is_contained() {
    let sink = Arc::new(RecordingSink::default());
    let manager = FallbackManager::builder(Arc::new(MemoryStorage::new()))
        .metrics_sink(sink.clone())
        .build();
    manager.register_mode_callback(FallbackMode::Safe, |transition| {
        // The panic happens while the callback is called, not while its future runs.
        assert_ne!(transition.to, FallbackMode::Safe, "eager callback bug");
        async { Ok(()) }
    });
    let ran: Arc<Mutex<bool>> = Arc::default();
    let later = ran.clone();
    manager.register_mode_callback(FallbackMode::Safe, move |_| {
        *later.lock() = true;
        async { Ok(()) }
    });
    sink.clear();

    assert_eq!(manager.cascade(&failed(2)).await, FallbackMode::Safe);
    assert!(*ran.lock(), "the next callback still ran");
    assert_eq!(manager.pending_records(), 0, "the record was persisted");
    assert!(sink.take().contains(&Emitted::Counter(
        CALLBACK_FAILURES_METRIC.to_owned(),
        1,
        vec![
            ("mode".to_owned(), "safe".to_owned()),
            ("outcome".to_owned(), "panicked".to_owned())
        ]
    )));
}

#[tokio::test(start_paused = true)]
async fn a_change_whose_caller_gives_up_still_runs_every_callback() {
    let manager = Arc::new(FallbackManager::in_memory());
    let ran: Arc<Mutex<Vec<&'static str>>> = Arc::default();
    let slow = ran.clone();
    manager.register_mode_callback(FallbackMode::Safe, move |_| {
        let slow = slow.clone();
        async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            slow.lock().push("slow");
            Ok(())
        }
    });
    let pager = ran.clone();
    manager.register_mode_callback(FallbackMode::Safe, move |_| {
        pager.lock().push("pager");
        async { Ok(()) }
    });

    // The caller (an HTTP request, a timeout) drops the change while a callback runs.
    let gave_up = tokio::time::timeout(Duration::from_millis(100), manager.set_mode("safe")).await;
    assert!(gave_up.is_err());
    assert_eq!(manager.get_current_mode(), FallbackMode::Safe);
    // The change still finishes: every callback runs, then the next change may go.
    assert!(manager.set_mode("primary").await.unwrap());
    assert_eq!(*ran.lock(), ["slow", "pager"]);
    assert_eq!(manager.total_transitions(), 2);
}
