//! [`DownstreamServiceCheck`]: an HTTP dependency, probed with a plain HTTP/1 `GET`.

use std::time::Duration;

use async_trait::async_trait;
use http_body_util::Empty;
use hyper::body::Bytes;
use hyper::{Request, StatusCode, Uri, header};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::check::error_chain;
use super::{CheckError, CheckOutcome, DEFAULT_CHECK_TIMEOUT, HealthCheck};
use crate::HealthError;

/// Checks an HTTP dependency with a `GET`: the expected status (default 200) is healthy,
/// any other status degraded, no answer unhealthy. Metadata: `url` and `status_code`.
///
/// Plain `http://` only: TLS would pull a whole TLS stack into every user of this crate,
/// and health endpoints are usually probed inside the cluster. An `https://` URL is
/// refused when the check is built. Each run opens a fresh connection (a pooled one could
/// hide a dependency that stopped accepting connections) and reads only the status line
/// and headers.
///
/// Named `"downstream"` unless renamed; 5 s timeout.
#[derive(Debug, Clone)]
pub struct DownstreamServiceCheck {
    url: String,
    uri: Uri,
    host: String,
    /// The `Host` header: the URL's host and explicit port, never its credentials.
    host_header: String,
    port: u16,
    name: String,
    timeout: Duration,
    expected_status: u16,
}

impl DownstreamServiceCheck {
    /// A check of `url`.
    ///
    /// # Errors
    ///
    /// [`HealthError::InvalidUrl`] when `url` does not parse or has no host, and
    /// [`HealthError::UnsupportedScheme`] for any scheme but `http`.
    pub fn new(url: impl Into<String>) -> Result<Self, HealthError> {
        let url = url.into();
        let invalid = |reason: &str| HealthError::InvalidUrl {
            url: url.clone(),
            reason: reason.to_owned(),
        };
        let uri: Uri = url
            .parse()
            .map_err(|error: hyper::http::uri::InvalidUri| invalid(&error.to_string()))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(scheme) => {
                return Err(HealthError::UnsupportedScheme {
                    url: url.clone(),
                    scheme: scheme.to_owned(),
                });
            }
            None => return Err(invalid("no scheme (expected http://host/path)")),
        }
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
        let port = uri.port_u16().unwrap_or(80);
        let host_header = match uri.port() {
            Some(port) => format!("{host_header}:{port}"),
            None => host_header.to_owned(),
        };
        Ok(Self {
            url,
            uri,
            host,
            host_header,
            port,
            name: "downstream".to_owned(),
            timeout: DEFAULT_CHECK_TIMEOUT,
            expected_status: 200,
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

    /// Sets the status code that means healthy.
    #[must_use]
    pub const fn with_expected_status(mut self, status: u16) -> Self {
        self.expected_status = status;
        self
    }

    /// The URL probed.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    async fn get(&self) -> Result<StatusCode, CheckError> {
        let stream = TcpStream::connect((self.host.as_str(), self.port)).await?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(stream)).await?;
        let path = self
            .uri
            .path_and_query()
            .map_or("/", hyper::http::uri::PathAndQuery::as_str);
        let request = Request::get(path)
            .header(header::HOST, self.host_header.as_str())
            .header(
                header::USER_AGENT,
                concat!("health/", env!("CARGO_PKG_VERSION")),
            )
            .header(header::CONNECTION, "close")
            .body(Empty::new())?;
        // The connection is driven here rather than on a spawned task, so a timeout that
        // drops this future closes the socket and leaves nothing running.
        let response = sender.send_request(request);
        tokio::pin!(connection, response);
        let response = tokio::select! {
            biased;
            response = &mut response => response?,
            closed = &mut connection => {
                // With `connection: close` the connection may finish first, having
                // already handed the response over; otherwise this is its error.
                closed?;
                response.await?
            }
        };
        Ok(response.status())
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
        Ok(match self.get().await {
            Ok(status) if status.as_u16() == self.expected_status => CheckOutcome::healthy(
                format!("downstream service healthy (status={})", status.as_u16()),
            )
            .with_metadata("status_code", status.as_u16()),
            Ok(status) => {
                CheckOutcome::degraded(format!("unexpected status code: {}", status.as_u16()))
                    .with_metadata("status_code", status.as_u16())
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
        fn check(url: &str, expected: Result<(&str, u16), &str>) {
            match (DownstreamServiceCheck::new(url), expected) {
                (Ok(check), Ok((host, port))) => {
                    assert_eq!((check.host.as_str(), check.port), (host, port), "{url}");
                }
                (Err(error), Err(text)) => {
                    assert!(error.to_string().contains(text), "{url}: {error}");
                }
                (got, want) => panic!("{url}: got {got:?}, want {want:?}"),
            }
        }
        check("http://example.com/health", Ok(("example.com", 80)));
        check("http://127.0.0.1:8080/ready?x=1", Ok(("127.0.0.1", 8080)));
        check("http://[::1]:9000/", Ok(("::1", 9000)));
        check(
            "https://example.com/",
            Err("unsupported url scheme \"https\""),
        );
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
}
