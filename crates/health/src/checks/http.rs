//! [`DownstreamServiceCheck`]: an HTTP dependency, probed with one HTTP/1 request over
//! plain TCP or TLS (rustls).

use std::fmt;
use std::ops::RangeInclusive;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use http_body_util::{BodyExt as _, Empty};
use hyper::body::Bytes;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{HeaderMap, Method, Request, StatusCode, Uri, header};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::check::error_chain;
use super::{CheckError, CheckOutcome, DEFAULT_CHECK_TIMEOUT, HealthCheck};
use crate::HealthError;

/// How much of a response body [`DownstreamServiceCheck`] reads by default: 64 KiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;

/// Checks an HTTP dependency with one request (a `GET` unless set otherwise): a status in
/// the accepted range (default exactly 200) is healthy, any other status degraded, no
/// answer unhealthy. Metadata: `url`, `status_code` and `body_bytes` (how much of the
/// body was read).
///
/// - **`http://` and `https://`.** TLS is rustls with the `ring` provider, TLS 1.2 and 1.3,
///   verifying the server against the system's CA store (read once per process), or
///   against a CA bundle you set ([`with_ca_file`](Self::with_ca_file),
///   [`with_root_certificates_pem`](Self::with_root_certificates_pem)) for a private CA.
/// - **A fresh connection per run** (a pooled one could hide a dependency that stopped
///   accepting connections), `Connection: close`.
/// - **Bounded**: at most [`max_body_bytes`](Self::with_max_body_bytes) of the body are
///   read (default [`DEFAULT_MAX_BODY_BYTES`]); the rest is never received.
///
/// Named `"downstream"` unless renamed; 5 s timeout.
///
/// ```
/// use hyper::Method;
/// use health::checks::DownstreamServiceCheck;
///
/// let check = DownstreamServiceCheck::new("https://billing.internal/health")?
///     .with_name("billing")
///     .with_method(Method::HEAD)
///     .with_header("x-probe", "resilience")?
///     .with_accepted_status(200..=299);
/// assert_eq!(check.url(), "https://billing.internal/health");
/// # Ok::<(), health::HealthError>(())
/// ```
#[derive(Clone)]
pub struct DownstreamServiceCheck {
    url: String,
    uri: Uri,
    host: String,
    /// The `Host` header: the URL's host and explicit port, never its credentials.
    host_header: String,
    port: u16,
    /// `Some` for `https://`: the name the certificate must show, and a configuration of
    /// our own when a CA bundle was set (else the system's roots).
    tls: Option<Tls>,
    name: String,
    timeout: Duration,
    method: Method,
    headers: HeaderMap,
    accepted: RangeInclusive<u16>,
    max_body_bytes: usize,
}

#[derive(Clone)]
struct Tls {
    server_name: ServerName<'static>,
    config: Option<Arc<ClientConfig>>,
}

impl DownstreamServiceCheck {
    /// A check of `url`, `http://` or `https://`.
    ///
    /// # Errors
    ///
    /// [`HealthError::InvalidUrl`] when `url` does not parse, has no host or carries
    /// credentials, and [`HealthError::UnsupportedScheme`] for any scheme but `http` and
    /// `https`.
    pub fn new(url: impl Into<String>) -> Result<Self, HealthError> {
        let url = url.into();
        let invalid = |reason: &str| HealthError::InvalidUrl {
            url: url.clone(),
            reason: reason.to_owned(),
        };
        let uri: Uri = url
            .parse()
            .map_err(|error: hyper::http::uri::InvalidUri| invalid(&error.to_string()))?;
        let secure = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            Some(scheme) => {
                return Err(HealthError::UnsupportedScheme {
                    url: url.clone(),
                    scheme: scheme.to_owned(),
                });
            }
            None => return Err(invalid("no scheme (expected http://host/path)")),
        };
        if let Some(authority) = uri.authority()
            && let Some((_credentials, host)) = authority.as_str().rsplit_once('@')
        {
            // The URL is reported in every result (and this error); credentials must not be.
            return Err(HealthError::InvalidUrl {
                url: format!("{}://***@{host}", uri.scheme_str().unwrap_or("http")),
                reason: "credentials in the url are not supported".to_owned(),
            });
        }
        let host_header = uri
            .host()
            .filter(|host| !host.is_empty())
            .ok_or_else(|| invalid("no host"))?;
        // `Uri::host` keeps the brackets of an IPv6 literal; connecting needs them off.
        let host = host_header
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
        let host_header = match uri.port() {
            Some(port) => format!("{host_header}:{port}"),
            None => host_header.to_owned(),
        };
        let tls = if secure {
            let server_name = ServerName::try_from(host.clone())
                .map_err(|error| invalid(&format!("not a TLS server name: {error}")))?;
            Some(Tls {
                server_name,
                config: None,
            })
        } else {
            None
        };
        Ok(Self {
            url,
            uri,
            host,
            host_header,
            port,
            tls,
            name: "downstream".to_owned(),
            timeout: DEFAULT_CHECK_TIMEOUT,
            method: Method::GET,
            headers: HeaderMap::new(),
            accepted: 200..=200,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        })
    }

    /// Renames the check.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Sets the timeout.
    #[must_use]
    pub const fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the one status code that means healthy (the original's `expected_status`).
    #[must_use]
    pub const fn with_expected_status(self, status: u16) -> Self {
        self.with_accepted_status(status..=status)
    }

    /// Sets the status codes that mean healthy, e.g. `200..=299`.
    #[must_use]
    pub const fn with_accepted_status(mut self, statuses: RangeInclusive<u16>) -> Self {
        self.accepted = statuses;
        self
    }

    /// Sets the request method (default `GET`).
    #[must_use]
    pub fn with_method(mut self, method: Method) -> Self {
        self.method = method;
        self
    }

    /// Adds a request header (an API key, a `x-probe` marker). `Host`, `Connection` and
    /// `User-Agent` are the check's own.
    ///
    /// # Errors
    ///
    /// [`HealthError::InvalidConfig`] for a name or value that is not a valid header, or
    /// a header the check sets itself.
    pub fn with_header(mut self, name: &str, value: &str) -> Result<Self, HealthError> {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| HealthError::config("header", format!("{name:?} is not a header name")))?;
        if [header::HOST, header::CONNECTION, header::USER_AGENT].contains(&name) {
            return Err(HealthError::config(
                "header",
                format!("{name} is set by the check itself"),
            ));
        }
        let value = HeaderValue::from_str(value).map_err(|_| {
            HealthError::config(
                "header",
                format!("the value of {name} is not a header value"),
            )
        })?;
        self.headers.append(name, value);
        Ok(self)
    }

    /// Reads at most `bytes` of the response body (default [`DEFAULT_MAX_BODY_BYTES`]);
    /// 0 reads only the status line and headers.
    #[must_use]
    pub const fn with_max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// Verifies an `https://` server against the certificates of the PEM bundle
    /// `pem` instead of the system's CA store. Has no effect on `http://`.
    ///
    /// # Errors
    ///
    /// [`HealthError::InvalidConfig`] when the bundle holds no usable certificate.
    pub fn with_root_certificates_pem(mut self, pem: &[u8]) -> Result<Self, HealthError> {
        let invalid = |reason: String| HealthError::config("ca bundle", reason);
        let mut roots = RootCertStore::empty();
        let mut found = 0_usize;
        for certificate in CertificateDer::pem_slice_iter(pem) {
            let certificate =
                certificate.map_err(|error| invalid(format!("not a PEM bundle: {error}")))?;
            roots
                .add(certificate)
                .map_err(|error| invalid(format!("unusable certificate: {error}")))?;
            found += 1;
        }
        if found == 0 {
            return Err(invalid("no certificate in the bundle".to_owned()));
        }
        let config = client_config(roots).map_err(|error| invalid(error.to_string()))?;
        if let Some(tls) = &mut self.tls {
            tls.config = Some(config);
        }
        Ok(self)
    }

    /// [`with_root_certificates_pem`](Self::with_root_certificates_pem) with the PEM file
    /// at `path`.
    ///
    /// # Errors
    ///
    /// [`HealthError::InvalidConfig`] when the file cannot be read or holds no usable
    /// certificate.
    pub fn with_ca_file(self, path: &Path) -> Result<Self, HealthError> {
        let pem = std::fs::read(path).map_err(|error| {
            HealthError::config(
                "ca bundle",
                format!("cannot read {}: {error}", path.display()),
            )
        })?;
        self.with_root_certificates_pem(&pem)
    }

    /// The URL probed.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Connects, over TLS for `https://`, and exchanges the request.
    async fn probe(&self) -> Result<(StatusCode, usize), CheckError> {
        let stream = TcpStream::connect((self.host.as_str(), self.port)).await?;
        let Some(tls) = &self.tls else {
            return self.exchange(stream).await;
        };
        let config = match &tls.config {
            Some(config) => Arc::clone(config),
            None => system_config()?,
        };
        let stream = TlsConnector::from(config)
            .connect(tls.server_name.clone(), stream)
            .await?;
        self.exchange(stream).await
    }

    /// Sends the request over `io` and reads the status and at most `max_body_bytes` of
    /// the body.
    async fn exchange<IO>(&self, io: IO) -> Result<(StatusCode, usize), CheckError>
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(io)).await?;
        let path = self
            .uri
            .path_and_query()
            .map_or("/", hyper::http::uri::PathAndQuery::as_str);
        let mut request = Request::builder()
            .method(self.method.clone())
            .uri(path)
            .header(header::HOST, self.host_header.as_str())
            .header(
                header::USER_AGENT,
                concat!("health/", env!("CARGO_PKG_VERSION")),
            )
            .header(header::CONNECTION, "close")
            .body(Empty::new())?;
        request.headers_mut().extend(self.headers.clone());
        let limit = self.max_body_bytes;
        let answer = async move {
            let response = sender.send_request(request).await?;
            let status = response.status();
            let mut body = response.into_body();
            let mut read = 0_usize;
            while read < limit {
                match body.frame().await {
                    Some(frame) => {
                        if let Some(data) = frame?.data_ref() {
                            read = read.saturating_add(data.len());
                        }
                    }
                    None => break,
                }
            }
            Ok::<_, CheckError>((status, read.min(limit)))
        };
        // The connection is driven here rather than on a spawned task, so a timeout that
        // drops this future closes the socket and leaves nothing running.
        tokio::pin!(connection, answer);
        tokio::select! {
            biased;
            answer = &mut answer => answer,
            closed = &mut connection => {
                // With `connection: close` the connection may finish first, having
                // already handed the response over; otherwise this is its error.
                closed?;
                answer.await
            }
        }
    }
}

/// The client configuration: the `ring` provider, TLS 1.2 and 1.3, `roots`, HTTP/1.1.
fn client_config(roots: RootCertStore) -> Result<Arc<ClientConfig>, rustls::Error> {
    #[allow(
        deprecated,
        reason = "ring is the workspace's provider (aws-lc-rs needs cmake and a C toolchain); rustls 0.23.48 deprecates it only for lacking post-quantum key exchange"
    )]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The configuration with the system's CA store, read once per process (a few
/// milliseconds, and the store does not change under a running process).
fn system_config() -> Result<Arc<ClientConfig>, CheckError> {
    static SYSTEM: OnceLock<Result<Arc<ClientConfig>, String>> = OnceLock::new();
    SYSTEM
        .get_or_init(|| {
            let native = rustls_native_certs::load_native_certs();
            let mut roots = RootCertStore::empty();
            let (added, _ignored) = roots.add_parsable_certificates(native.certs);
            if added == 0 {
                let errors: Vec<String> = native.errors.iter().map(ToString::to_string).collect();
                return Err(format!(
                    "no CA certificate found in the system store ({}); configure a CA bundle",
                    errors.join("; ")
                ));
            }
            client_config(roots).map_err(|error| error.to_string())
        })
        .clone()
        .map_err(Into::into)
}

impl fmt::Debug for DownstreamServiceCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DownstreamServiceCheck")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("method", &self.method)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("accepted", &self.accepted)
            .field("timeout", &self.timeout)
            .field("max_body_bytes", &self.max_body_bytes)
            .field(
                "ca_bundle",
                &self.tls.as_ref().is_some_and(|tls| tls.config.is_some()),
            )
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl HealthCheck for DownstreamServiceCheck {
    fn name(&self) -> &str {
        &self.name
    }

    fn timeout(&self) -> Duration {
        self.timeout
    }

    async fn check(&self) -> Result<CheckOutcome, CheckError> {
        Ok(match self.probe().await {
            Ok((status, read)) if self.accepted.contains(&status.as_u16()) => {
                CheckOutcome::healthy(format!(
                    "downstream service healthy (status={})",
                    status.as_u16()
                ))
                .with_metadata("status_code", status.as_u16())
                .with_metadata("body_bytes", read)
            }
            Ok((status, read)) => {
                CheckOutcome::degraded(format!("unexpected status code: {}", status.as_u16()))
                    .with_metadata("status_code", status.as_u16())
                    .with_metadata("body_bytes", read)
            }
            Err(error) => CheckOutcome::unhealthy(format!(
                "downstream service check failed: {}",
                error_chain(error.as_ref())
            )),
        }
        .with_metadata("url", self.url.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_when_the_check_is_built() {
        fn check(url: &str, expected: Result<(&str, u16, bool), &str>) {
            match (DownstreamServiceCheck::new(url), expected) {
                (Ok(check), Ok((host, port, tls))) => {
                    assert_eq!(
                        (check.host.as_str(), check.port, check.tls.is_some()),
                        (host, port, tls),
                        "{url}"
                    );
                }
                (Err(error), Err(text)) => {
                    assert!(error.to_string().contains(text), "{url}: {error}");
                }
                (got, want) => panic!("{url}: got {got:?}, want {want:?}"),
            }
        }
        check("http://example.com/health", Ok(("example.com", 80, false)));
        check(
            "http://127.0.0.1:8080/ready?x=1",
            Ok(("127.0.0.1", 8080, false)),
        );
        check("http://[::1]:9000/", Ok(("::1", 9000, false)));
        check("https://example.com/", Ok(("example.com", 443, true)));
        check("https://127.0.0.1:8443/", Ok(("127.0.0.1", 8443, true)));
        check("ftp://example.com/", Err("unsupported url scheme \"ftp\""));
        check("example.com:8080", Err("no scheme"));
        check("example.com/health", Err("invalid url"));
        check("http://", Err("invalid url"));
        check("http://exa mple.com/", Err("invalid url"));
        check(
            "http://user:hunter2@example.com/",
            Err("invalid url \"http://***@example.com\": credentials in the url are not supported"),
        );
    }

    #[test]
    fn headers_and_bundles_are_checked_when_set() {
        let check = || DownstreamServiceCheck::new("https://example.com/").unwrap();
        assert!(check().with_header("x-probe", "1").is_ok());
        assert!(check().with_header("bad header", "1").is_err());
        assert!(check().with_header("x-probe", "line\nbreak").is_err());
        assert!(check().with_header("Host", "evil").is_err());
        assert!(check().with_root_certificates_pem(b"not pem").is_err());
        assert!(
            check()
                .with_ca_file(Path::new("/no/such/bundle.pem"))
                .is_err()
        );
    }
}
