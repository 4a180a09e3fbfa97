//! TLS through rustls and its ring provider (feature `tls`): the configured certificates,
//! checked once when the adapter connects, and certificate problems told apart from
//! transient failures.

use std::path::Path;
use std::sync::Arc;

use redis::{ClientTlsConfig, ConnectionInfo, RedisError, TlsCertificates};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{AlertDescription, CertificateError, RootCertStore};
use storage::BoxError;

use crate::TlsConfig;

/// Why the configured certificates cannot be used.
pub(crate) struct SetupError {
    pub(crate) message: String,
    pub(crate) source: Option<BoxError>,
}

impl SetupError {
    fn new(message: String, source: Option<BoxError>) -> Self {
        Self { message, source }
    }
}

/// Makes ring the process's default rustls provider unless one is installed. redis-rs
/// builds its client configurations with the process default, which rustls can only pick
/// by itself when exactly one provider is compiled in; a program that also links
/// aws-lc-rs (through another crate) would otherwise panic at the first handshake.
pub(crate) fn install_provider() {
    // An error means another provider is the default already: that one is used.
    let _ = ring_provider().install_default();
}

/// rustls's ring provider.
#[allow(
    deprecated,
    reason = "rustls 0.23.48 deprecates ring's provider for lacking post-quantum key exchange; \
              the workspace uses ring (no cmake/nasm build, permissive licences) until it has it"
)]
fn ring_provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// `info` with the certificates of `tls` attached, when it names any.
pub(crate) fn apply(
    info: ConnectionInfo,
    tls: Option<&TlsConfig>,
) -> Result<ConnectionInfo, SetupError> {
    install_provider();
    let Some(certificates) = tls.map(certificates).transpose()? else {
        return Ok(info);
    };
    if certificates.root_cert.is_none() && certificates.client_tls.is_none() {
        return Ok(info);
    }
    redis::Client::build_with_tls(info, certificates)
        .map(|client| client.get_connection_info().clone())
        .map_err(|error| {
            SetupError::new(
                "the certificates cannot be used".to_owned(),
                Some(crate::policy::boxed(error)),
            )
        })
}

/// The PEM files of `tls`, read and checked: every file parses, the CA bundle holds a
/// usable CA, and the client certificate and key belong together.
pub(crate) fn certificates(tls: &TlsConfig) -> Result<TlsCertificates, SetupError> {
    let root_cert = match &tls.ca_file {
        Some(path) => {
            let pem = read(path, "CA bundle")?;
            let certificates = parse_certificates(&pem, path, "CA bundle")?;
            let mut roots = RootCertStore::empty();
            let (added, _ignored) = roots.add_parsable_certificates(certificates);
            if added == 0 {
                return Err(SetupError::new(
                    format!(
                        "the CA bundle {} holds no usable CA certificate",
                        path.display()
                    ),
                    None,
                ));
            }
            Some(pem)
        }
        None => None,
    };
    let client_tls = match (&tls.cert_file, &tls.key_file) {
        (Some(cert_path), Some(key_path)) => {
            let client_cert = read(cert_path, "client certificate")?;
            let chain = parse_certificates(&client_cert, cert_path, "client certificate")?;
            let client_key = read(key_path, "client key")?;
            // The key's own parse error is not kept: nothing of a key file may reach a log.
            let key = PrivateKeyDer::from_pem_slice(&client_key).map_err(|_| {
                SetupError::new(
                    format!(
                        "the client key {} holds no PEM private key (PKCS#8, PKCS#1 or SEC1)",
                        key_path.display()
                    ),
                    None,
                )
            })?;
            check_pair(chain, key, cert_path, key_path)?;
            Some(ClientTlsConfig {
                client_cert,
                client_key,
            })
        }
        _ => None,
    };
    Ok(TlsCertificates {
        client_tls,
        root_cert,
    })
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>, SetupError> {
    std::fs::read(path).map_err(|error| {
        SetupError::new(
            format!("the {what} {} cannot be read", path.display()),
            Some(Box::new(error)),
        )
    })
}

fn parse_certificates(
    pem: &[u8],
    path: &Path,
    what: &str,
) -> Result<Vec<CertificateDer<'static>>, SetupError> {
    let certificates = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| {
            SetupError::new(
                format!("the {what} {} is not valid PEM", path.display()),
                Some(Box::new(error)),
            )
        })?;
    if certificates.is_empty() {
        return Err(SetupError::new(
            format!("the {what} {} holds no certificate", path.display()),
            None,
        ));
    }
    Ok(certificates)
}

/// Checks the client certificate and key belong together by building the client
/// configuration rustls will use.
fn check_pair(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    cert_path: &Path,
    key_path: &Path,
) -> Result<(), SetupError> {
    let provider = Arc::new(ring_provider());
    let refused = |error: rustls::Error| {
        SetupError::new(
            format!(
                "the client certificate {} and key {} cannot be used together",
                cert_path.display(),
                key_path.display()
            ),
            Some(Box::new(error)),
        )
    };
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(refused)?
        .with_root_certificates(RootCertStore::empty())
        .with_client_auth_cert(chain, key)
        .map_err(refused)?;
    Ok(())
}

/// What a certificate or handshake problem in `error` is, in words, or `None` when the
/// failure is not one (a refused or dropped connection, a timeout).
pub(crate) fn problem(error: &RedisError) -> Option<&'static str> {
    let tls = rustls_error(error)?;
    Some(match tls {
        rustls::Error::InvalidCertificate(certificate) => match certificate {
            CertificateError::UnknownIssuer => {
                "the server's certificate is not signed by a trusted CA (see `tls.ca_file`)"
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                "the server's certificate has expired"
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "the server's certificate is not valid yet"
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                "the server's certificate does not name the host it was reached by"
            }
            CertificateError::Revoked => "the server's certificate is revoked",
            _ => "the server's certificate was refused",
        },
        rustls::Error::AlertReceived(alert) => match alert {
            AlertDescription::CertificateRequired | AlertDescription::NoCertificate => {
                "the server requires a client certificate (see `tls.cert_file`)"
            }
            AlertDescription::BadCertificate
            | AlertDescription::UnsupportedCertificate
            | AlertDescription::CertificateRevoked
            | AlertDescription::CertificateExpired
            | AlertDescription::CertificateUnknown
            | AlertDescription::UnknownCA
            | AlertDescription::AccessDenied => "the server refused the client certificate",
            _ => "the server refused the TLS handshake",
        },
        rustls::Error::NoCertificatesPresented => "the server presented no certificate",
        _ => "the TLS handshake failed",
    })
}

/// How redis-rs holds the cause of an error.
type SharedError = Arc<dyn std::error::Error + Send + Sync>;

/// The rustls error inside `error`, however deeply the I/O layers wrapped it.
fn rustls_error(error: &RedisError) -> Option<&rustls::Error> {
    let mut current: &(dyn std::error::Error + 'static) = std::error::Error::source(error)?;
    for _ in 0..8 {
        if let Some(tls) = current.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        // redis-rs keeps its causes in an `Arc`; `io::Error::source` skips the error it
        // wraps, `get_ref` returns it.
        current = if let Some(shared) = current.downcast_ref::<SharedError>() {
            shared.as_ref()
        } else if let Some(io) = current.downcast_ref::<std::io::Error>() {
            io.get_ref()?
        } else {
            current.source()?
        };
    }
    None
}
