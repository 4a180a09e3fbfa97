use std::future::Future;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Result, Storage, StorageError};

/// Typed access on top of any [`Storage`]: values go through `serde` instead of raw
/// [`serde_json::Value`]s.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> storage::Result<()> {
/// use std::time::Duration;
/// use storage::{MemoryStorage, StorageExt};
///
/// #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
/// struct User { name: String, admin: bool }
///
/// let storage = MemoryStorage::new();
/// let alice = User { name: "alice".into(), admin: true };
/// storage.set_json("user:1", &alice, Some(Duration::from_secs(3600))).await?;
/// assert_eq!(storage.get_json::<User>("user:1").await?, Some(alice));
/// # Ok(())
/// # }
/// ```
pub trait StorageExt: Storage {
    /// The value at `key` decoded as `T`; `None` when the key is missing. A stored value
    /// of another shape is [`StorageError::Serialization`].
    fn get_json<T: DeserializeOwned>(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<T>>> + Send;

    /// Encodes `value` and stores it at `key` (see [`Storage::set`]).
    fn set_json<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
        expire: Option<Duration>,
    ) -> impl Future<Output = Result<()>> + Send;
}

impl<S: Storage + ?Sized> StorageExt for S {
    async fn get_json<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        match self.get(key).await? {
            Some(value) => serde_json::from_value(value)
                .map(Some)
                .map_err(|source| StorageError::serialization(key, source)),
            None => Ok(None),
        }
    }

    fn set_json<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
        expire: Option<Duration>,
    ) -> impl Future<Output = Result<()>> + Send {
        // Encode before the future starts so `T` need not be `Sync`.
        let encoded =
            serde_json::to_value(value).map_err(|source| StorageError::serialization(key, source));
        async move { self.set(key, encoded?, expire).await }
    }
}
