//! [`Cached`]: a rendered answer kept until what it was made from changes or it grows
//! too old, made again by one caller at a time.

use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};

/// A value (a rendered body, a summary) with the key it was made from and when.
///
/// [`get`](Self::get) returns the kept value while its key is the current one and it is
/// younger than the maximum age. Otherwise one caller makes it again while the others
/// keep being served the old one if only its age ran out (a key that changed means the
/// old value is wrong: then every caller that finds it so makes its own), so a burst of
/// requests at expiry costs one rendering.
#[derive(Debug)]
pub(crate) struct Cached<K, V> {
    kept: RwLock<Option<Kept<K, V>>>,
    making: Mutex<()>,
}

#[derive(Debug)]
struct Kept<K, V> {
    key: K,
    made: Instant,
    value: V,
}

impl<K, V> Default for Cached<K, V> {
    fn default() -> Self {
        Self {
            kept: RwLock::new(None),
            making: Mutex::new(()),
        }
    }
}

impl<K: PartialEq, V: Clone> Cached<K, V> {
    /// The kept value if it was made from `key` less than `max_age` ago, else `make()`'s,
    /// kept for the next callers.
    pub(crate) fn get(&self, key: K, max_age: Duration, make: impl FnOnce() -> V) -> V {
        let stale = match &*self.kept.read() {
            Some(kept) if kept.key == key => {
                if kept.made.elapsed() < max_age {
                    return kept.value.clone();
                }
                Some(kept.value.clone())
            }
            _ => None,
        };
        let making = self.making.try_lock();
        if making.is_none()
            && let Some(value) = stale
        {
            // Someone is making it already; the old one is right but for its age.
            return value;
        }
        let value = make();
        *self.kept.write() = Some(Kept {
            key,
            made: Instant::now(),
            value: value.clone(),
        });
        drop(making);
        value
    }

    /// Forgets the kept value: the next [`get`](Self::get) makes it.
    #[cfg(test)]
    pub(crate) fn clear(&self) {
        *self.kept.write() = None;
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[test]
    fn a_value_is_made_again_when_its_key_changes_or_it_grows_old() {
        let cached: Cached<u64, u32> = Cached::default();
        let made = Cell::new(0);
        let make = || {
            made.set(made.get() + 1);
            made.get()
        };
        let long = Duration::from_secs(3600);
        assert_eq!(cached.get(1, long, make), 1);
        assert_eq!(cached.get(1, long, make), 1, "same key, young: kept");
        assert_eq!(cached.get(2, long, make), 2, "another key: made again");
        assert_eq!(
            cached.get(2, Duration::ZERO, make),
            3,
            "too old: made again"
        );
        cached.clear();
        assert_eq!(cached.get(2, long, make), 4);
    }

    #[test]
    fn while_one_caller_makes_it_others_get_the_old_value_if_only_its_age_ran_out() {
        let cached: Cached<u64, &str> = Cached::default();
        cached.get(1, Duration::ZERO, || "old");
        let making = cached.making.lock();
        assert_eq!(cached.get(1, Duration::ZERO, || "new"), "old");
        assert_eq!(cached.get(2, Duration::ZERO, || "other key"), "other key");
        drop(making);
        assert_eq!(cached.get(1, Duration::ZERO, || "new"), "new");
    }
}
