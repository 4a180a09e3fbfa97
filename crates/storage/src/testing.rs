//! The conformance suite every [`Storage`] backend must pass (feature `testing`).
//!
//! A backend crate runs it from its own tests with one macro call, handing over a factory
//! that builds a fresh, connected and **empty** store per case (for a shared server, give
//! each store its own key prefix), or `None` to skip when the backend is unavailable:
//!
//! ```
//! use std::sync::Arc;
//! use storage::{MemoryStorage, Storage};
//!
//! async fn memory() -> Option<Arc<dyn Storage>> {
//!     let storage = MemoryStorage::new();
//!     storage.connect().await.ok()?;
//!     Some(Arc::new(storage))
//! }
//!
//! storage::conformance_tests!(memory);
//! # fn main() {}
//! ```
//!
//! Each case becomes its own `#[test]`, so a failure names the broken behaviour. The
//! cases are also public functions in [`cases`], to run one by hand with [`run_case`].

use std::future::Future;
use std::sync::Arc;

use crate::Storage;

/// Builds a tokio runtime, asks `factory` for a store and runs `case` on it, then deletes
/// what the case left and closes the store. When the factory returns `None` the case is skipped with a loud message.
///
/// # Panics
///
/// When the case fails (that is how a test reports it) or a runtime cannot be built.
pub fn run_case<F, FactoryFut, C, CaseFut>(factory: F, case_name: &str, case: C)
where
    F: FnOnce() -> FactoryFut,
    FactoryFut: Future<Output = Option<Arc<dyn Storage>>>,
    C: FnOnce(Arc<dyn Storage>) -> CaseFut,
    CaseFut: Future<Output = ()>,
{
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => panic!("cannot build a tokio runtime for {case_name}: {error}"),
    };
    runtime.block_on(async {
        let Some(storage) = factory().await else {
            #[allow(clippy::print_stderr, reason = "a skipped test must be visible")]
            {
                eprintln!("SKIPPED storage conformance case {case_name}: backend unavailable");
            }
            return;
        };
        case(Arc::clone(&storage)).await;
        // Leave the store as empty as it was handed over (a shared server keeps no
        // litter); failures here are the backend's problem, not this case's.
        if let Ok(keys) = storage.keys("*").await {
            for key in keys {
                let _deleted = storage.delete(&key).await;
            }
        }
        let _closed = storage.close().await;
    });
}

/// Expands to one `#[test]` per conformance case, each running against a store built by
/// `$factory` (an `async fn() -> Option<Arc<dyn Storage>>`). See the [module docs](self).
#[macro_export]
macro_rules! conformance_tests {
    ($factory:expr) => {
        $crate::__conformance_case_list!(__conformance_tests!($factory));
    };
}

/// Runs every conformance case in turn, in the current test, each on a store built by
/// `$factory` (an `async fn() -> Option<Arc<dyn Storage>>`, or a closure returning such a
/// future). For backends whose fixture is too costly to start once per case (a Redis
/// Cluster takes seconds): start it once in the test, and let the factory hand out a
/// fresh, empty view of it per case (a key prefix of its own). The first failing case
/// fails the test, and its message names the case.
///
/// ```no_run
/// use std::sync::Arc;
/// use storage::{MemoryStorage, Storage};
///
/// // In a `#[test]` function: start the costly fixture here, once, then hand out a
/// // fresh, connected view of it per case.
/// storage::conformance_suite!(|| async {
///     let view = MemoryStorage::new();
///     view.connect().await.ok()?;
///     Some(Arc::new(view) as Arc<dyn Storage>)
/// });
/// ```
#[macro_export]
macro_rules! conformance_suite {
    ($factory:expr) => {
        $crate::__conformance_case_list!(__conformance_suite!($factory));
    };
}

/// The one list of conformance cases: expands to `$callback!(args; case, case, ...)`.
///
/// [`conformance_tests!`] turns it into tests, [`conformance_suite!`] into one test, and
/// [`cases`] into re-exports of the case
/// functions, which live in a private module: a case function missing from this list is
/// dead code (a warning, an error under `-D warnings`), and a listed name without a
/// function does not resolve, so the compiler keeps the list and the functions equal.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_case_list {
    ($callback:ident ! ($($args:tt)*)) => {
        $crate::$callback!(
            $($args)*;
            connect_is_idempotent_and_health_follows_close,
            get_missing_key_is_none,
            values_round_trip_every_json_kind,
            set_overwrites_previous_value,
            delete_reports_whether_key_existed,
            exists_follows_set_and_delete,
            sub_second_expiry_removes_key_everywhere,
            ttl_reports_remaining_time,
            set_without_expiry_clears_previous_expiry,
            zero_expiry_on_set_is_invalid_and_changes_nothing,
            expire_applies_to_existing_keys_only,
            expire_zero_deletes_key,
            expired_key_is_never_revived,
            keys_match_every_glob_form,
            keys_handle_unicode_and_binary_looking_keys,
            keys_skip_expired_keys,
            empty_key_is_an_ordinary_key,
            one_mebibyte_values_round_trip,
            concurrent_increments_land_exactly,
            increment_creates_counts_and_keeps_expiry,
            increment_rejects_non_integers_and_keeps_them,
            increment_overflow_is_an_error_and_keeps_value,
            typed_values_round_trip,
            concurrent_writers_lose_no_keys,
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_tests {
    ($factory:expr; $($case:ident),+ $(,)?) => {
        $(
            #[test]
            fn $case() {
                $crate::testing::run_case($factory, stringify!($case), $crate::testing::cases::$case);
            }
        )+
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_suite {
    ($factory:expr; $($case:ident),+ $(,)?) => {
        $(
            // Shown with the failure: which case failed.
            #[allow(clippy::print_stderr, reason = "names the case a failure comes from")]
            {
                eprintln!("conformance case {}", stringify!($case));
            }
            $crate::testing::run_case($factory, stringify!($case), $crate::testing::cases::$case);
        )+
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_reexports {
    (; $($case:ident),+ $(,)?) => {
        $(pub use $crate::testing::suite::$case;)+
    };
}

/// The conformance cases, one async function per behaviour; [`conformance_tests!`] makes
/// each a test.
pub mod cases {
    crate::__conformance_case_list!(__conformance_reexports!());
}

/// The case functions; [`cases`] re-exports each listed one.
mod suite {
    use std::collections::BTreeSet;
    use std::fmt::Debug;
    use std::sync::Arc;
    use std::time::Duration;

    use serde::{Deserialize, Serialize};
    use serde_json::{Value, json};

    use crate::{Result, Storage, StorageError, StorageExt, escape_glob};

    /// Sub-second expiry used by the timing cases.
    const SHORT_TTL: Duration = Duration::from_millis(400);
    /// Long enough after [`SHORT_TTL`] for every backend to report the key gone.
    const PAST_SHORT_TTL: Duration = Duration::from_millis(700);

    #[track_caller]
    fn must<T>(result: Result<T>, what: &str) -> T {
        match result {
            Ok(value) => value,
            Err(error) => panic!("{what}: unexpected error: {error}"),
        }
    }

    #[track_caller]
    #[allow(
        clippy::needless_pass_by_value,
        reason = "call sites read better with values"
    )]
    fn same<T: PartialEq + Debug>(actual: T, expected: T, what: &str) {
        assert_eq!(actual, expected, "{what}");
    }

    async fn set(storage: &dyn Storage, key: &str, value: Value, expire: Option<Duration>) {
        must(
            storage.set(key, value, expire).await,
            &format!("set {key:?}"),
        );
    }

    async fn get(storage: &dyn Storage, key: &str) -> Option<Value> {
        must(storage.get(key).await, &format!("get {key:?}"))
    }

    async fn keys(storage: &dyn Storage, pattern: &str) -> Vec<String> {
        must(storage.keys(pattern).await, &format!("keys {pattern:?}"))
    }

    /// `connect` twice is harmless; `close` turns health off and `connect` back on.
    pub async fn connect_is_idempotent_and_health_follows_close(storage: Arc<dyn Storage>) {
        assert!(storage.health_check().await, "a connected store is healthy");
        must(storage.connect().await, "second connect");
        assert!(
            storage.health_check().await,
            "healthy after a second connect"
        );
        must(storage.close().await, "close");
        assert!(
            !storage.health_check().await,
            "a closed store is not healthy"
        );
        must(storage.connect().await, "reconnect");
        assert!(storage.health_check().await, "healthy after reconnecting");
        set(&*storage, "after:reconnect", json!(1), None).await;
        same(
            get(&*storage, "after:reconnect").await,
            Some(json!(1)),
            "usable after reconnecting",
        );
    }

    /// A key that was never set reads as `None`, not as an error.
    pub async fn get_missing_key_is_none(storage: Arc<dyn Storage>) {
        same(
            get(&*storage, "missing").await,
            None,
            "get of a missing key",
        );
        same(
            must(storage.exists("missing").await, "exists"),
            false,
            "exists of a missing key",
        );
        same(
            must(storage.ttl("missing").await, "ttl"),
            None,
            "ttl of a missing key",
        );
    }

    /// Every JSON kind comes back exactly as stored, strings that look like other kinds
    /// included (the original turned the string `"123"` into the number 123).
    pub async fn values_round_trip_every_json_kind(storage: Arc<dyn Storage>) {
        let values = [
            json!(null),
            json!(true),
            json!(false),
            json!(0),
            json!(-42),
            json!(i64::MAX),
            json!(i64::MIN),
            json!(u64::MAX),
            json!(0.8),
            json!(-1.5e-7),
            // Floats whose shortest decimal form a best-effort JSON parser reads back one
            // unit in the last place off: a backend that stores text must parse exactly.
            json!(985.690_694_632_869_5),
            json!(212.918_907_267_134_59),
            json!(1.071_566_039_146_582_6e-75),
            json!(-1.603_964_615_428_183e143),
            json!(f64::MAX),
            json!(f64::MIN_POSITIVE),
            json!(5e-324),
            json!(""),
            json!("text"),
            json!("123"),
            json!("true"),
            json!("null"),
            json!("\"quoted\""),
            json!("ünïcödé ✓ 🚀"),
            json!([]),
            json!([1, "two", null, [3.5]]),
            json!({}),
            json!({"name": "alice", "tags": ["a", "b"], "nested": {"deep": {"n": 1}}}),
        ];
        for (i, value) in values.iter().enumerate() {
            let key = format!("kind:{i}");
            set(&*storage, &key, value.clone(), None).await;
            same(
                get(&*storage, &key).await.as_ref(),
                Some(value),
                &format!("round trip of {value}"),
            );
        }
    }

    /// `set` replaces the previous value.
    pub async fn set_overwrites_previous_value(storage: Arc<dyn Storage>) {
        set(&*storage, "k", json!({"v": 1}), None).await;
        set(&*storage, "k", json!("second"), None).await;
        same(
            get(&*storage, "k").await,
            Some(json!("second")),
            "value after overwrite",
        );
        same(
            keys(&*storage, "*").await,
            vec!["k".to_owned()],
            "one key after overwrite",
        );
    }

    /// `delete` is `true` for a key that existed and `false` otherwise.
    pub async fn delete_reports_whether_key_existed(storage: Arc<dyn Storage>) {
        set(&*storage, "k", json!(1), None).await;
        same(
            must(storage.delete("k").await, "delete"),
            true,
            "delete of an existing key",
        );
        same(get(&*storage, "k").await, None, "get after delete");
        same(
            must(storage.delete("k").await, "delete"),
            false,
            "second delete",
        );
        same(
            must(storage.delete("never").await, "delete"),
            false,
            "delete of a missing key",
        );
    }

    /// `exists` is `false` before `set`, `true` after, `false` after `delete`; a key
    /// holding JSON `null` exists.
    pub async fn exists_follows_set_and_delete(storage: Arc<dyn Storage>) {
        same(
            must(storage.exists("k").await, "exists"),
            false,
            "before set",
        );
        set(&*storage, "k", json!("v"), None).await;
        same(must(storage.exists("k").await, "exists"), true, "after set");
        must(storage.delete("k").await, "delete");
        same(
            must(storage.exists("k").await, "exists"),
            false,
            "after delete",
        );
        set(&*storage, "null", Value::Null, None).await;
        same(
            must(storage.exists("null").await, "exists"),
            true,
            "a key holding null",
        );
    }

    /// A key set with a sub-second expiry is there at first and gone for every operation
    /// once the expiry has passed.
    pub async fn sub_second_expiry_removes_key_everywhere(storage: Arc<dyn Storage>) {
        set(&*storage, "temp", json!("v"), Some(SHORT_TTL)).await;
        set(&*storage, "kept", json!("v"), None).await;
        same(
            get(&*storage, "temp").await,
            Some(json!("v")),
            "before expiry",
        );
        tokio::time::sleep(PAST_SHORT_TTL).await;
        same(get(&*storage, "temp").await, None, "get after expiry");
        same(
            must(storage.exists("temp").await, "exists"),
            false,
            "exists after expiry",
        );
        same(
            must(storage.ttl("temp").await, "ttl"),
            None,
            "ttl after expiry",
        );
        same(
            keys(&*storage, "*").await,
            vec!["kept".to_owned()],
            "keys after expiry",
        );
        same(
            get(&*storage, "kept").await,
            Some(json!("v")),
            "a key without expiry stays",
        );
    }

    /// `ttl` is `None` for missing and persistent keys and at most the expiry otherwise.
    pub async fn ttl_reports_remaining_time(storage: Arc<dyn Storage>) {
        set(&*storage, "persistent", json!(1), None).await;
        same(
            must(storage.ttl("persistent").await, "ttl"),
            None,
            "ttl without expiry",
        );
        let expiry = Duration::from_secs(3600);
        set(&*storage, "expiring", json!(1), Some(expiry)).await;
        let left = must(storage.ttl("expiring").await, "ttl").unwrap_or_default();
        assert!(
            left > expiry - Duration::from_secs(60) && left <= expiry,
            "ttl {left:?} should be just under {expiry:?}"
        );
        set(
            &*storage,
            "sub-ms",
            json!(1),
            Some(Duration::from_micros(1500)),
        )
        .await;
        let left = must(storage.ttl("sub-ms").await, "ttl");
        assert!(
            left.is_none_or(|left| left <= Duration::from_millis(2)),
            "1.5 ms rounds to 2 ms at most, got {left:?}"
        );
    }

    /// `set` without an expiry removes an earlier expiry, as Redis' `SET` does.
    pub async fn set_without_expiry_clears_previous_expiry(storage: Arc<dyn Storage>) {
        set(&*storage, "k", json!(1), Some(SHORT_TTL)).await;
        set(&*storage, "k", json!(2), None).await;
        same(
            must(storage.ttl("k").await, "ttl"),
            None,
            "ttl after a plain set",
        );
        tokio::time::sleep(PAST_SHORT_TTL).await;
        same(
            get(&*storage, "k").await,
            Some(json!(2)),
            "the key outlives the old expiry",
        );
    }

    /// A zero expiry on `set` is refused and leaves the old value in place.
    pub async fn zero_expiry_on_set_is_invalid_and_changes_nothing(storage: Arc<dyn Storage>) {
        set(&*storage, "k", json!("old"), None).await;
        let result = storage.set("k", json!("new"), Some(Duration::ZERO)).await;
        assert!(
            matches!(result, Err(StorageError::InvalidArgument { .. })),
            "zero expiry must be InvalidArgument, got {result:?}"
        );
        same(
            get(&*storage, "k").await,
            Some(json!("old")),
            "value after refused set",
        );
    }

    /// `expire` is `true` and takes effect on an existing key, `false` on a missing one.
    pub async fn expire_applies_to_existing_keys_only(storage: Arc<dyn Storage>) {
        same(
            must(
                storage.expire("missing", Duration::from_secs(60)).await,
                "expire",
            ),
            false,
            "expire of a missing key",
        );
        same(
            must(storage.exists("missing").await, "exists"),
            false,
            "expire must not create the key",
        );
        set(&*storage, "k", json!(1), None).await;
        same(
            must(storage.expire("k", SHORT_TTL).await, "expire"),
            true,
            "expire of an existing key",
        );
        assert!(
            must(storage.ttl("k").await, "ttl").is_some(),
            "ttl after expire"
        );
        tokio::time::sleep(PAST_SHORT_TTL).await;
        same(
            get(&*storage, "k").await,
            None,
            "gone after the expiry set by expire",
        );
    }

    /// `expire` with zero deletes the key, as Redis does.
    pub async fn expire_zero_deletes_key(storage: Arc<dyn Storage>) {
        set(&*storage, "k", json!(1), None).await;
        same(
            must(storage.expire("k", Duration::ZERO).await, "expire"),
            true,
            "expire 0 of an existing key",
        );
        same(
            must(storage.exists("k").await, "exists"),
            false,
            "expire 0 deletes",
        );
    }

    /// Once expired, a key stays gone: `expire` and `delete` report it missing, and
    /// `increment` starts again from zero without the old expiry.
    pub async fn expired_key_is_never_revived(storage: Arc<dyn Storage>) {
        for key in ["a", "b", "c"] {
            set(&*storage, key, json!(41), Some(Duration::from_millis(50))).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        same(
            must(storage.expire("a", Duration::from_secs(60)).await, "expire"),
            false,
            "expire of an expired key",
        );
        same(get(&*storage, "a").await, None, "expire must not revive");
        same(
            must(storage.delete("b").await, "delete"),
            false,
            "delete of an expired key",
        );
        same(
            must(storage.increment("c", 1).await, "increment"),
            1,
            "increment restarts at zero",
        );
        same(
            must(storage.ttl("c").await, "ttl"),
            None,
            "the restarted counter has no expiry",
        );
    }

    /// Keys follow Redis glob rules: `*`, `?`, classes, negated classes, ranges, escapes.
    pub async fn keys_match_every_glob_form(storage: Arc<dyn Storage>) {
        let all = [
            "hello",
            "hallo",
            "hillo",
            "hllo",
            "heeello",
            "h*llo",
            "user:1",
            "user:2",
            "user:10",
            "user:a",
            "product:1",
            "a\\b",
            "x?y",
            "x-y",
            "[x]",
        ];
        for key in all {
            set(&*storage, key, json!(key), None).await;
        }
        let table: &[(&str, &[&str])] = &[
            ("*", &all),
            ("h?llo", &["h*llo", "hallo", "hello", "hillo"]),
            (
                "h*llo",
                &["h*llo", "hallo", "heeello", "hello", "hillo", "hllo"],
            ),
            ("h[ae]llo", &["hallo", "hello"]),
            ("h[^e]llo", &["h*llo", "hallo", "hillo"]),
            ("h[a-b]llo", &["hallo"]),
            ("h[b-a]llo", &["hallo"]),
            ("h\\*llo", &["h*llo"]),
            ("user:?", &["user:1", "user:2", "user:a"]),
            ("user:[0-9]*", &["user:1", "user:10", "user:2"]),
            ("*:1", &["product:1", "user:1"]),
            ("*:1*", &["product:1", "user:1", "user:10"]),
            ("a\\\\b", &["a\\b"]),
            ("x\\?y", &["x?y"]),
            ("x[\\-?]y", &["x-y", "x?y"]),
            ("\\[x\\]", &["[x]"]),
            (
                "*o",
                &["h*llo", "hallo", "heeello", "hello", "hillo", "hllo"],
            ),
            ("nomatch*", &[]),
            ("hello?", &[]),
        ];
        for (pattern, expected) in table {
            let mut expected: Vec<String> = expected.iter().map(|k| (*k).to_owned()).collect();
            expected.sort();
            same(
                keys(&*storage, pattern).await,
                expected,
                &format!("keys({pattern:?})"),
            );
        }
    }

    /// Unicode, control characters, quotes, spaces and glob metacharacters in keys.
    pub async fn keys_handle_unicode_and_binary_looking_keys(storage: Arc<dyn Storage>) {
        let odd = [
            "ключ:1",
            "ключ:2",
            "emoji:🚀",
            "café",
            "日本語",
            "tab\tkey",
            "new\nline",
            "nul\u{0}byte",
            "\u{1}\u{7f}\u{ff}",
            "quote\"s'",
            "space key",
            "star*key",
            "q?key",
            "[brackets]",
            "back\\slash",
        ];
        for key in odd {
            set(&*storage, key, json!(key), None).await;
        }
        for key in odd {
            same(
                get(&*storage, key).await,
                Some(json!(key)),
                &format!("get {key:?}"),
            );
            same(
                must(storage.exists(key).await, "exists"),
                true,
                &format!("exists {key:?}"),
            );
            same(
                keys(&*storage, &escape_glob(key)).await,
                vec![key.to_owned()],
                &format!("keys of escaped {key:?}"),
            );
        }
        let mut all: Vec<String> = odd.iter().map(|k| (*k).to_owned()).collect();
        all.sort();
        same(
            keys(&*storage, "*").await,
            all,
            "keys(*) lists every odd key",
        );
        same(
            keys(&*storage, "ключ:*").await,
            vec!["ключ:1".to_owned(), "ключ:2".to_owned()],
            "unicode prefix",
        );
        same(
            keys(&*storage, "caf?").await,
            Vec::<String>::new(),
            "`?` is one byte, `é` is two",
        );
        same(
            keys(&*storage, "caf??").await,
            vec!["café".to_owned()],
            "two `?` match `é`",
        );
    }

    /// Expired keys are never listed.
    pub async fn keys_skip_expired_keys(storage: Arc<dyn Storage>) {
        set(
            &*storage,
            "temp:1",
            json!(1),
            Some(Duration::from_millis(50)),
        )
        .await;
        set(&*storage, "temp:2", json!(2), None).await;
        same(
            keys(&*storage, "temp:*").await.len(),
            2,
            "both listed before expiry",
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        same(
            keys(&*storage, "temp:*").await,
            vec!["temp:2".to_owned()],
            "only the live key after expiry",
        );
    }

    /// The empty string is a valid key; only the lone `*` (or the empty pattern) lists it.
    pub async fn empty_key_is_an_ordinary_key(storage: Arc<dyn Storage>) {
        set(&*storage, "", json!("empty"), None).await;
        same(
            get(&*storage, "").await,
            Some(json!("empty")),
            "get of the empty key",
        );
        same(
            keys(&*storage, "*").await,
            vec![String::new()],
            "keys(*) lists it",
        );
        same(
            keys(&*storage, "").await,
            vec![String::new()],
            "the empty pattern matches it",
        );
        same(
            keys(&*storage, "**").await,
            Vec::<String>::new(),
            "Redis' matcher needs a byte for `**`",
        );
        same(
            must(storage.delete("").await, "delete"),
            true,
            "delete of the empty key",
        );
    }

    /// A 1 MiB string and a 1 MiB array survive the round trip intact.
    pub async fn one_mebibyte_values_round_trip(storage: Arc<dyn Storage>) {
        let text: String = (0..1024 * 1024)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        set(&*storage, "big:string", json!(text), None).await;
        same(
            get(&*storage, "big:string").await,
            Some(json!(text)),
            "1 MiB string",
        );
        let array: Vec<u32> = (0..150_000).collect();
        set(&*storage, "big:array", json!(array), None).await;
        same(
            get(&*storage, "big:array").await,
            Some(json!(array)),
            "1 MiB array",
        );
    }

    /// 1,000 concurrent increments by one end at exactly 1,000, each seeing a distinct value.
    pub async fn concurrent_increments_land_exactly(storage: Arc<dyn Storage>) {
        let tasks: Vec<_> = (0..1000)
            .map(|_| {
                let storage = Arc::clone(&storage);
                tokio::spawn(async move { storage.increment("counter", 1).await })
            })
            .collect();
        let mut seen = BTreeSet::new();
        for task in tasks {
            let value = match task.await {
                Ok(result) => must(result, "increment"),
                Err(error) => panic!("increment task failed: {error}"),
            };
            assert!(seen.insert(value), "two increments returned {value}");
        }
        same(
            seen,
            (1..=1000).collect(),
            "every intermediate value exactly once",
        );
        same(
            get(&*storage, "counter").await,
            Some(json!(1000)),
            "get sees the counter",
        );
    }

    /// A missing counter starts at zero; amounts may be negative; `set` can seed it; an
    /// existing expiry is kept.
    pub async fn increment_creates_counts_and_keeps_expiry(storage: Arc<dyn Storage>) {
        same(
            must(storage.increment("c", 5).await, "increment"),
            5,
            "new counter",
        );
        same(
            must(storage.increment("c", -7).await, "increment"),
            -2,
            "negative amount",
        );
        same(
            must(storage.increment("c", 0).await, "increment"),
            -2,
            "zero amount",
        );
        same(
            keys(&*storage, "c").await,
            vec!["c".to_owned()],
            "a counter is a key",
        );
        set(
            &*storage,
            "seeded",
            json!(100),
            Some(Duration::from_secs(3600)),
        )
        .await;
        same(
            must(storage.increment("seeded", 1).await, "increment"),
            101,
            "seeded by set",
        );
        assert!(
            must(storage.ttl("seeded").await, "ttl").is_some(),
            "increment keeps the expiry"
        );
        same(
            must(storage.delete("c").await, "delete"),
            true,
            "a counter can be deleted",
        );
        same(
            must(storage.increment("c", 1).await, "increment"),
            1,
            "restarts after delete",
        );
    }

    /// Incrementing a value that is not a 64-bit integer is `WrongType` and changes nothing.
    pub async fn increment_rejects_non_integers_and_keeps_them(storage: Arc<dyn Storage>) {
        let values = [
            json!("abc"),
            json!("5"),
            json!(1.5),
            json!(2.0),
            json!(true),
            json!(null),
            json!([1]),
            json!({"n": 1}),
            json!(u64::MAX),
        ];
        for (i, value) in values.iter().enumerate() {
            let key = format!("wrong:{i}");
            set(&*storage, &key, value.clone(), None).await;
            let result = storage.increment(&key, 1).await;
            match &result {
                Err(error @ StorageError::WrongType { .. }) => {
                    assert!(!error.is_transient(), "WrongType is not worth a retry");
                }
                other => panic!("increment of {value} must be WrongType, got {other:?}"),
            }
            same(
                get(&*storage, &key).await.as_ref(),
                Some(value),
                "the value is unchanged",
            );
        }
    }

    /// An increment past `i64::MAX` is `Overflow` and leaves the counter as it was.
    pub async fn increment_overflow_is_an_error_and_keeps_value(storage: Arc<dyn Storage>) {
        set(&*storage, "max", json!(i64::MAX - 1), None).await;
        same(
            must(storage.increment("max", 1).await, "increment"),
            i64::MAX,
            "up to the limit",
        );
        let result = storage.increment("max", 1).await;
        assert!(
            matches!(result, Err(StorageError::Overflow { .. })),
            "past the limit: {result:?}"
        );
        same(
            get(&*storage, "max").await,
            Some(json!(i64::MAX)),
            "unchanged after overflow",
        );
        set(&*storage, "min", json!(i64::MIN), None).await;
        let result = storage.increment("min", -1).await;
        assert!(
            matches!(result, Err(StorageError::Overflow { .. })),
            "below the limit: {result:?}"
        );
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Profile {
        name: String,
        score: f64,
        tags: Vec<String>,
        manager: Option<Box<Self>>,
    }

    /// `set_json` / `get_json` round-trip a struct; a value of another shape is a
    /// `Serialization` error, not `None`.
    pub async fn typed_values_round_trip(storage: Arc<dyn Storage>) {
        let profile = Profile {
            name: "alice".into(),
            score: 0.8,
            tags: vec!["admin".into()],
            manager: Some(Box::new(Profile {
                name: "bob".into(),
                score: 1.0,
                tags: vec![],
                manager: None,
            })),
        };
        must(
            storage.set_json("profile", &profile, None).await,
            "set_json",
        );
        same(
            must(storage.get_json::<Profile>("profile").await, "get_json"),
            Some(profile),
            "typed round trip",
        );
        same(
            must(storage.get_json::<Profile>("missing").await, "get_json"),
            None,
            "missing typed key",
        );
        set(&*storage, "not-a-profile", json!([1, 2]), None).await;
        let result = storage.get_json::<Profile>("not-a-profile").await;
        assert!(
            matches!(result, Err(StorageError::Serialization { .. })),
            "wrong shape: {result:?}"
        );
    }

    /// Many tasks writing distinct keys at once lose none of them.
    pub async fn concurrent_writers_lose_no_keys(storage: Arc<dyn Storage>) {
        let tasks: Vec<_> = (0..100)
            .map(|i| {
                let storage = Arc::clone(&storage);
                tokio::spawn(async move {
                    let key = format!("concurrent:{i}");
                    storage.set(&key, json!(i), None).await?;
                    storage.get(&key).await
                })
            })
            .collect();
        for (i, task) in tasks.into_iter().enumerate() {
            let read = match task.await {
                Ok(result) => must(result, "concurrent set+get"),
                Err(error) => panic!("writer task failed: {error}"),
            };
            same(read, Some(json!(i)), "each writer reads its own value");
        }
        same(
            keys(&*storage, "concurrent:*").await.len(),
            100,
            "every key listed",
        );
    }
}
