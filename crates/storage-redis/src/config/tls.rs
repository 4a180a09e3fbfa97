//! The `tls` section: certificates for `rediss://` connections.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Certificates for TLS connections (`rediss://` URLs), all optional (feature `tls`).
///
/// ```
/// use storage_redis::RedisConfig;
///
/// let config = RedisConfig::from_value(serde_json::json!({
///     "redis_url": "rediss://cache.internal:6380/0",
///     "tls": {
///         "ca_file": "/etc/redis/tls/ca.pem",
///         "cert_file": "/etc/redis/tls/client.pem",
///         "key_file": "/etc/redis/tls/client.key",
///     },
/// }));
/// # #[cfg(feature = "tls")]
/// # config.unwrap();
/// ```
///
/// The server's certificate is always checked: it must chain to a trusted CA, be valid
/// now, and name the host of the URL (a DNS name or, for `rediss://127.0.0.1`, an IP
/// address in its subjectAltName). There is no switch to turn the name check off and no
/// way to expect another name: connect by a name the certificate lists (DNS or
/// `/etc/hosts`). A certificate problem fails at once with
/// [`StorageError::Tls`](storage::StorageError::Tls), never with a retry.
///
/// `Debug` shows the file paths, never the files' contents.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct TlsConfig {
    /// A PEM file of the CA certificates that sign the servers' certificates. When set,
    /// only these are trusted; when unset, the system's store (`/etc/ssl/certs`).
    pub ca_file: Option<PathBuf>,
    /// A PEM file of the client's certificate chain, for servers that authenticate
    /// clients (mutual TLS, `tls-auth-clients yes`). Needs `key_file`.
    pub cert_file: Option<PathBuf>,
    /// A PEM file of the client certificate's private key (PKCS#8, PKCS#1 or SEC1).
    /// Needs `cert_file`.
    pub key_file: Option<PathBuf>,
}

impl TlsConfig {
    /// Certificates signed by the CAs in `ca_file`, without a client certificate.
    #[must_use]
    pub fn with_ca_file(ca_file: impl Into<PathBuf>) -> Self {
        Self {
            ca_file: Some(ca_file.into()),
            ..Self::default()
        }
    }

    /// Adds a client certificate (`cert_file`) and its key (`key_file`) for mutual TLS.
    #[must_use]
    pub fn with_client_certificate(
        mut self,
        cert_file: impl Into<PathBuf>,
        key_file: impl Into<PathBuf>,
    ) -> Self {
        self.cert_file = Some(cert_file.into());
        self.key_file = Some(key_file.into());
        self
    }
}
