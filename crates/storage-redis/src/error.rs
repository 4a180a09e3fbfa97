/// Why a [`RedisConfig`](crate::RedisConfig) was refused.
///
/// Every message names the offending key; none shows the password of `redis_url`. A
/// cause (serde's or the Redis client's error) is returned by
/// [`source`](std::error::Error::source), not repeated in the message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A key is unknown or its value has the wrong type or range.
    #[error("invalid redis configuration at `{key}`")]
    Deserialize {
        /// The path of the offending key.
        key: String,
        /// What the deserializer reported.
        #[source]
        source: serde_json::Error,
    },

    /// A value deserialized but cannot be used.
    #[error("invalid redis configuration: `{key}` {message}")]
    Invalid {
        /// The offending key.
        key: &'static str,
        /// What is wrong with it.
        message: String,
    },

    /// A URL (`redis_url`, a sentinel's, a cluster node's) is not one the Redis client
    /// understands.
    #[error("invalid redis configuration: `{key}` {url:?} is not a URL the Redis client accepts")]
    InvalidUrl {
        /// The key holding the URL.
        key: &'static str,
        /// The URL, password redacted.
        url: String,
        /// What the client reported.
        #[source]
        source: redis::RedisError,
    },
}

impl ConfigError {
    pub(crate) fn invalid(key: &'static str, message: &str) -> Self {
        Self::Invalid {
            key,
            message: message.to_owned(),
        }
    }
}
