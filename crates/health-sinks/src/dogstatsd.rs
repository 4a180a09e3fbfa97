//! [`DogStatsdMetricsSink`]: DogStatsD datagrams to a Datadog Agent over UDP, with its
//! builder and defaults (feature `dogstatsd`).

use std::fmt::{self, Write as _};
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;

use crate::report::Reporter;
use crate::tags::SortedTags;
use crate::{DropReason, MetricsSink, Result, SinkError, SinkStats, Tag};

/// Where the Datadog Agent listens for DogStatsD by default. A literal IPv4 address:
/// `localhost` may resolve to `::1` while the Agent listens on IPv4 only.
pub const DEFAULT_DOGSTATSD_ADDRESS: &str = "127.0.0.1:8125";

/// Default for [`DogStatsdSinkBuilder::max_datagram_size`]: Datadog's recommendation for
/// UDP across a network (an Ethernet MTU minus headers). On loopback or a Unix socket the
/// Agent accepts up to its `dogstatsd_buffer_size`, 8192 by default.
pub const DEFAULT_MAX_DATAGRAM_SIZE: usize = 1432;

/// Smallest accepted datagram size: room for a name, a value and a few tags.
const MIN_DATAGRAM_SIZE: usize = 64;
/// Largest UDP payload over IPv4.
const MAX_DATAGRAM_SIZE: usize = 65_507;

/// A sink that sends every metric to a Datadog Agent as a DogStatsD datagram over UDP.
///
/// Wire format, one metric per line (`|T` only for gauges given a timestamp, which
/// Agents 7.40 and later accept):
///
/// ```text
/// <prefix.>name:value|g|#key:value,...,<constant tags>|T<unix seconds>
/// <prefix.>name:value|c|#key:value,...
/// <prefix.>name:value|h|#key:value,...
/// ```
///
/// Tags are sorted by key then value, then the constant tags follow, so a series always
/// produces the same bytes. Datadog allows several values per tag key, so repeated keys
/// are sent as given.
///
/// Sending never blocks: the socket is non-blocking and connected once, when the sink is
/// built. By default each metric goes out at once in its own datagram; with
/// [`DogStatsdSinkBuilder::buffered`] lines are packed (newline-separated) into datagrams
/// of up to [`max_datagram_size`](DogStatsdSinkBuilder::max_datagram_size) bytes, sent when
/// full, every flush interval from a background thread, on [`flush`](Self::flush), and
/// when the last clone is dropped.
///
/// Like every sink in this crate it never returns errors from emitting: characters that
/// would break the format (`:`, `|`, `@`, `,`, newlines, and anything else outside
/// `[A-Za-z0-9_.]` in names) are replaced by `_` and logged once per name; empty names,
/// empty tag keys, non-finite values, lines longer than a datagram and failed sends (no
/// Agent listening, socket buffer full) are dropped, logged once and counted in
/// [`stats`](Self::stats).
#[derive(Clone)]
pub struct DogStatsdMetricsSink {
    inner: Arc<Inner>,
}

struct Inner {
    socket: UdpSocket,
    target: SocketAddr,
    /// Empty or ends with `.`.
    prefix: String,
    /// Formatted `key:value,...`, checked at build.
    constant_tags: String,
    max_datagram_size: usize,
    /// Packed lines waiting to be sent, when buffering.
    buffer: Option<Mutex<String>>,
    /// Dropping it (with `Inner`) stops the flusher thread.
    _stop_flusher: Option<mpsc::Sender<()>>,
    reporter: Reporter,
}

impl DogStatsdMetricsSink {
    /// Creates an unbuffered sink sending to `address` (`host:port`; a name is resolved
    /// once, now, preferring IPv4).
    ///
    /// # Errors
    ///
    /// See [`DogStatsdSinkBuilder::build`].
    pub fn new(address: &str) -> Result<Self> {
        Self::builder().address(address).build()
    }

    /// Starts configuring a sink; the default address is [`DEFAULT_DOGSTATSD_ADDRESS`].
    #[must_use]
    pub fn builder() -> DogStatsdSinkBuilder {
        DogStatsdSinkBuilder::new()
    }

    /// The address datagrams are sent to.
    #[must_use]
    pub fn target(&self) -> SocketAddr {
        self.inner.target
    }

    /// Sends buffered metrics now. Does nothing for an unbuffered sink.
    pub fn flush(&self) {
        self.inner.flush();
    }

    /// What this sink has normalized and dropped so far.
    #[must_use]
    pub fn stats(&self) -> SinkStats {
        self.inner.reporter.stats()
    }

    fn send(&self, name: &str, value: Value, tags: &[Tag<'_>], timestamp: Option<SystemTime>) {
        let inner = &*self.inner;
        let reject = |reason: DropReason, detail: fmt::Arguments<'_>| {
            inner.reporter.warn_dropped(reason, name, detail);
            inner.reporter.count_dropped(reason);
        };
        if name.is_empty() {
            return reject(
                DropReason::EmptyName,
                format_args!("the metric name is empty"),
            );
        }
        if !value.is_finite() {
            return reject(
                DropReason::NonFiniteValue,
                format_args!("the value is NaN or infinite"),
            );
        }
        if tags.iter().any(|(key, _)| key.is_empty()) {
            return reject(DropReason::EmptyTagKey, format_args!("a tag key is empty"));
        }

        let line = match inner.format_line(name, value, tags, timestamp) {
            Line::Exact(line) => line,
            Line::Normalized(line) => {
                inner.reporter.count_normalized();
                inner.reporter.normalized(
                    name,
                    format_args!("characters DogStatsD cannot carry were replaced: {line:?}"),
                );
                line
            }
        };
        if line.len() > inner.max_datagram_size {
            return reject(
                DropReason::TooLarge,
                format_args!(
                    "the encoded metric takes {} bytes, more than the {}-byte datagram limit",
                    line.len(),
                    inner.max_datagram_size
                ),
            );
        }
        let failed = match &inner.buffer {
            None => inner.send_datagram(line.as_bytes(), 1),
            Some(buffer) => {
                let mut buffer = buffer.lock();
                let failed = if !buffer.is_empty()
                    && buffer.len() + 1 + line.len() > inner.max_datagram_size
                {
                    inner.send_buffer(&mut buffer)
                } else {
                    None
                };
                if !buffer.is_empty() {
                    buffer.push('\n');
                }
                buffer.push_str(&line);
                failed
            }
        };
        if let Some(error) = failed {
            inner.warn_send_failed(&error);
        }
    }
}

impl fmt::Debug for DogStatsdMetricsSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DogStatsdMetricsSink")
            .field("target", &self.inner.target)
            .field("prefix", &self.inner.prefix)
            .field("constant_tags", &self.inner.constant_tags)
            .field("max_datagram_size", &self.inner.max_datagram_size)
            .field("buffered", &self.inner.buffer.is_some())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl MetricsSink for DogStatsdMetricsSink {
    fn emit(&self, name: &str, value: f64, tags: &[Tag<'_>], timestamp: Option<SystemTime>) {
        self.send(name, Value::Gauge(value), tags, timestamp);
    }

    fn emit_counter(&self, name: &str, value: u64, tags: &[Tag<'_>]) {
        self.send(name, Value::Count(value), tags, None);
    }

    fn emit_histogram(&self, name: &str, value: f64, tags: &[Tag<'_>]) {
        self.send(name, Value::Histogram(value), tags, None);
    }
}

/// The value and type of one metric line.
#[derive(Clone, Copy)]
enum Value {
    Gauge(f64),
    Count(u64),
    Histogram(f64),
}

enum Line {
    Exact(String),
    Normalized(String),
}

impl Value {
    fn is_finite(self) -> bool {
        match self {
            Self::Gauge(value) | Self::Histogram(value) => value.is_finite(),
            Self::Count(_) => true,
        }
    }
}

impl Inner {
    fn format_line(
        &self,
        name: &str,
        value: Value,
        tags: &[Tag<'_>],
        timestamp: Option<SystemTime>,
    ) -> Line {
        let mut line = String::with_capacity(
            self.prefix.len()
                + name.len()
                + 32
                + self.constant_tags.len()
                + tags
                    .iter()
                    .map(|(k, v)| k.len() + v.len() + 2)
                    .sum::<usize>(),
        );
        let mut normalized = false;
        line.push_str(&self.prefix);
        for c in name.chars() {
            if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
                line.push(c);
            } else {
                line.push('_');
                normalized = true;
            }
        }
        // Writing to a String cannot fail.
        let _ = match value {
            Value::Gauge(value) => write!(line, ":{value}|g"),
            Value::Count(value) => write!(line, ":{value}|c"),
            Value::Histogram(value) => write!(line, ":{value}|h"),
        };

        if !tags.is_empty() || !self.constant_tags.is_empty() {
            line.push_str("|#");
            let mut first = true;
            for (key, value) in SortedTags::new(tags).iter() {
                if !first {
                    line.push(',');
                }
                first = false;
                normalized |= push_tag_part(&mut line, key, true);
                line.push(':');
                normalized |= push_tag_part(&mut line, value, false);
            }
            if !self.constant_tags.is_empty() {
                if !first {
                    line.push(',');
                }
                line.push_str(&self.constant_tags);
            }
        }
        if let Some(time) = timestamp
            && let Ok(since_epoch) = time.duration_since(UNIX_EPOCH)
        {
            let _ = write!(line, "|T{}", since_epoch.as_secs());
        }
        if normalized {
            Line::Normalized(line)
        } else {
            Line::Exact(line)
        }
    }

    fn flush(&self) {
        if let Some(buffer) = &self.buffer {
            let failed = {
                let mut buffer = buffer.lock();
                self.send_buffer(&mut buffer)
            };
            if let Some(error) = failed {
                self.warn_send_failed(&error);
            }
        }
    }

    fn send_buffer(&self, buffer: &mut String) -> Option<io::Error> {
        if buffer.is_empty() {
            return None;
        }
        let lines = buffer.split('\n').count() as u64;
        let failed = self.send_datagram(buffer.as_bytes(), lines);
        buffer.clear();
        failed
    }

    /// Sends one datagram holding `lines` metrics; a failure drops (and counts) them all
    /// and is returned for the caller to log once it holds no lock: a `tracing`
    /// subscriber may emit metrics into this very sink.
    fn send_datagram(&self, datagram: &[u8], lines: u64) -> Option<io::Error> {
        let error = self.socket.send(datagram).err()?;
        for _ in 0..lines {
            self.reporter.count_dropped(DropReason::SendFailed);
        }
        Some(error)
    }

    fn warn_send_failed(&self, error: &io::Error) {
        self.reporter.warn_once(
            &format!("send {:?}", error.kind()),
            format_args!(
                "sending DogStatsD datagrams to {} failed: {error}",
                self.target
            ),
        );
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Appends a tag key or value, replacing the characters that would end it early.
/// Returns whether any were replaced.
fn push_tag_part(line: &mut String, part: &str, is_key: bool) -> bool {
    let mut replaced = false;
    for c in part.chars() {
        if is_tag_separator(c) || (is_key && c == ':') {
            line.push('_');
            replaced = true;
        } else {
            line.push(c);
        }
    }
    replaced
}

fn is_tag_separator(c: char) -> bool {
    matches!(c, ',' | '|' | '\n' | '\r')
}

/// Configures a [`DogStatsdMetricsSink`]; every setting is checked by
/// [`build`](Self::build).
#[derive(Debug, Clone)]
pub struct DogStatsdSinkBuilder {
    address: String,
    prefix: String,
    constant_tags: Vec<(String, String)>,
    max_datagram_size: usize,
    flush_interval: Option<Duration>,
}

impl Default for DogStatsdSinkBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl DogStatsdSinkBuilder {
    /// The defaults: [`DEFAULT_DOGSTATSD_ADDRESS`], no prefix, no constant tags,
    /// [`DEFAULT_MAX_DATAGRAM_SIZE`], unbuffered.
    #[must_use]
    pub fn new() -> Self {
        Self {
            address: DEFAULT_DOGSTATSD_ADDRESS.to_owned(),
            prefix: String::new(),
            constant_tags: Vec::new(),
            max_datagram_size: DEFAULT_MAX_DATAGRAM_SIZE,
            flush_interval: None,
        }
    }

    /// Where to send, as `host:port`.
    #[must_use]
    pub fn address(mut self, address: &str) -> Self {
        address.clone_into(&mut self.address);
        self
    }

    /// A namespace put before every name with a `.` (`myapp` turns `requests` into
    /// `myapp.requests`): ASCII letters, digits, `_` and `.`, starting with a letter.
    #[must_use]
    pub fn prefix(mut self, prefix: &str) -> Self {
        prefix.clone_into(&mut self.prefix);
        self
    }

    /// A tag sent with every metric, e.g. `("env", "prod")` or `("service", "checkout")`.
    #[must_use]
    pub fn constant_tag(mut self, key: &str, value: &str) -> Self {
        self.constant_tags.push((key.to_owned(), value.to_owned()));
        self
    }

    /// The largest datagram sent, in bytes (64 to 65 507); a single metric longer than
    /// this is dropped.
    #[must_use]
    pub fn max_datagram_size(mut self, bytes: usize) -> Self {
        self.max_datagram_size = bytes;
        self
    }

    /// Packs metrics into datagrams of up to
    /// [`max_datagram_size`](Self::max_datagram_size) bytes, sending a partly filled one
    /// at least every `flush_interval` (from a background thread). Fewer system calls
    /// when many metrics are emitted together, at the cost of up to `flush_interval` of
    /// delay.
    #[must_use]
    pub fn buffered(mut self, flush_interval: Duration) -> Self {
        self.flush_interval = Some(flush_interval);
        self
    }

    /// Builds the sink: resolves the address, binds a UDP socket on an ephemeral port,
    /// connects it to the address and makes it non-blocking.
    ///
    /// # Errors
    ///
    /// [`SinkError::InvalidAddress`] when the address does not resolve,
    /// [`SinkError::InvalidPrefix`], [`SinkError::InvalidTag`] for a constant tag with an
    /// empty key or a separator character, [`SinkError::InvalidSetting`] for a datagram
    /// size out of range or a zero flush interval, [`SinkError::Io`] when the socket or
    /// the flusher thread cannot be created.
    pub fn build(self) -> Result<DogStatsdMetricsSink> {
        let prefix = validate_prefix(&self.prefix)?;
        let constant_tags = format_constant_tags(&self.constant_tags)?;
        if !(MIN_DATAGRAM_SIZE..=MAX_DATAGRAM_SIZE).contains(&self.max_datagram_size) {
            return Err(SinkError::InvalidSetting {
                setting: "max_datagram_size",
                reason: format!(
                    "{} is outside {MIN_DATAGRAM_SIZE}..={MAX_DATAGRAM_SIZE} bytes",
                    self.max_datagram_size
                ),
            });
        }
        if self.flush_interval == Some(Duration::ZERO) {
            return Err(SinkError::InvalidSetting {
                setting: "buffered",
                reason: "the flush interval must be longer than zero".to_owned(),
            });
        }

        let target = resolve(&self.address)?;
        let local: SocketAddr = match target {
            SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
            SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let socket = UdpSocket::bind(local).map_err(|e| SinkError::io("bind a UDP socket", e))?;
        socket
            .connect(target)
            .map_err(|e| SinkError::io("connect the UDP socket", e))?;
        socket
            .set_nonblocking(true)
            .map_err(|e| SinkError::io("make the UDP socket non-blocking", e))?;

        let (stop_flusher, stopped) = match self.flush_interval {
            Some(_) => {
                let (stop, stopped) = mpsc::channel::<()>();
                (Some(stop), Some(stopped))
            }
            None => (None, None),
        };
        let inner = Arc::new(Inner {
            socket,
            target,
            prefix,
            constant_tags,
            max_datagram_size: self.max_datagram_size,
            buffer: self
                .flush_interval
                .map(|_| Mutex::new(String::with_capacity(self.max_datagram_size))),
            _stop_flusher: stop_flusher,
            reporter: Reporter::new("dogstatsd"),
        });
        if let (Some(interval), Some(stopped)) = (self.flush_interval, stopped) {
            let sink = Arc::downgrade(&inner);
            std::thread::Builder::new()
                .name("dogstatsd-flush".to_owned())
                .spawn(move || run_flusher(&sink, &stopped, interval))
                .map_err(|e| SinkError::io("start the DogStatsD flush thread", e))?;
        }
        Ok(DogStatsdMetricsSink { inner })
    }
}

/// Flushes every `interval` until the sink is dropped (which disconnects `stopped`).
fn run_flusher(sink: &Weak<Inner>, stopped: &mpsc::Receiver<()>, interval: Duration) {
    while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
        match sink.upgrade() {
            Some(inner) => inner.flush(),
            None => return,
        }
    }
}

fn resolve(address: &str) -> Result<SocketAddr> {
    let invalid = |source| SinkError::InvalidAddress {
        address: address.to_owned(),
        source,
    };
    let candidates: Vec<SocketAddr> = address
        .to_socket_addrs()
        .map_err(|e| invalid(Some(e)))?
        .collect();
    candidates
        .iter()
        .find(|candidate| candidate.is_ipv4())
        .or_else(|| candidates.first())
        .copied()
        .ok_or_else(|| invalid(None))
}

fn validate_prefix(prefix: &str) -> Result<String> {
    if prefix.is_empty() {
        return Ok(String::new());
    }
    let invalid = |reason| SinkError::InvalidPrefix {
        prefix: prefix.to_owned(),
        reason,
    };
    if !prefix.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err(invalid("must start with an ASCII letter"));
    }
    if !prefix
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
    {
        return Err(invalid(
            "may only contain ASCII letters, digits, `_` and `.`",
        ));
    }
    Ok(if prefix.ends_with('.') {
        prefix.to_owned()
    } else {
        format!("{prefix}.")
    })
}

fn format_constant_tags(tags: &[(String, String)]) -> Result<String> {
    let mut formatted = String::new();
    for (key, value) in tags {
        let invalid = |reason| SinkError::InvalidTag {
            key: key.clone(),
            reason,
        };
        if key.is_empty() {
            return Err(invalid("the key is empty"));
        }
        if key.contains(|c| is_tag_separator(c) || c == ':') {
            return Err(invalid("the key contains `:`, `,`, `|` or a line break"));
        }
        if value.contains(is_tag_separator) {
            return Err(invalid("the value contains `,`, `|` or a line break"));
        }
        if !formatted.is_empty() {
            formatted.push(',');
        }
        let _ = write!(formatted, "{key}:{value}");
    }
    Ok(formatted)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn sink(prefix: &str, constant_tags: &[(&str, &str)]) -> Inner {
        let tags: Vec<(String, String)> = constant_tags
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Inner {
            socket: UdpSocket::bind("127.0.0.1:0").unwrap(),
            target: "127.0.0.1:9".parse().unwrap(),
            prefix: validate_prefix(prefix).unwrap(),
            constant_tags: format_constant_tags(&tags).unwrap(),
            max_datagram_size: DEFAULT_MAX_DATAGRAM_SIZE,
            buffer: None,
            _stop_flusher: None,
            reporter: Reporter::new("test"),
        }
    }

    fn line(inner: &Inner, name: &str, value: Value, tags: &[Tag<'_>]) -> (String, bool) {
        match inner.format_line(name, value, tags, None) {
            Line::Exact(line) => (line, false),
            Line::Normalized(line) => (line, true),
        }
    }

    #[test]
    fn lines_follow_the_datagram_format() {
        let plain = sink("", &[]);
        let app = sink("app", &[("env", "prod")]);
        let check = |inner: &Inner, name, value, tags: &[Tag<'_>], expected: &str, normalized| {
            assert_eq!(
                line(inner, name, value, tags),
                (expected.to_owned(), normalized)
            );
        };
        check(&plain, "up", Value::Gauge(1.0), &[], "up:1|g", false);
        check(
            &plain,
            "ratio",
            Value::Gauge(-0.25),
            &[],
            "ratio:-0.25|g",
            false,
        );
        check(
            &plain,
            "requests",
            Value::Count(3),
            &[],
            "requests:3|c",
            false,
        );
        check(
            &plain,
            "latency",
            Value::Histogram(0.012),
            &[],
            "latency:0.012|h",
            false,
        );
        check(
            &plain,
            "up",
            Value::Gauge(1.0),
            &[("z", "1"), ("a", "2")],
            "up:1|g|#a:2,z:1",
            false,
        );
        check(
            &app,
            "up",
            Value::Gauge(1.0),
            &[],
            "app.up:1|g|#env:prod",
            false,
        );
        check(
            &app,
            "up",
            Value::Gauge(1.0),
            &[("check", "redis")],
            "app.up:1|g|#check:redis,env:prod",
            false,
        );
        check(
            &plain,
            "db-pool size",
            Value::Count(1),
            &[],
            "db_pool_size:1|c",
            true,
        );
        check(&plain, "a:b|c@d", Value::Count(1), &[], "a_b_c_d:1|c", true);
        check(
            &plain,
            "m",
            Value::Count(1),
            &[("k:ey", "v:a,l|u\ne")],
            "m:1|c|#k_ey:v:a_l_u_e",
            true,
        );
    }

    #[test]
    fn gauges_carry_their_timestamp_in_seconds() {
        let inner = sink("", &[("env", "dev")]);
        let at = UNIX_EPOCH + Duration::from_millis(1_767_225_600_900);
        let Line::Exact(line) = inner.format_line("up", Value::Gauge(0.5), &[], Some(at)) else {
            panic!("nothing to normalize");
        };
        assert_eq!(line, "up:0.5|g|#env:dev|T1767225600");
    }

    #[test]
    fn builder_settings_are_validated() {
        fn check(builder: DogStatsdSinkBuilder, expected: &str) {
            let error = builder.build().map(|_| ()).unwrap_err();
            assert_eq!(error.to_string(), expected);
        }
        let base = DogStatsdSinkBuilder::new;
        check(
            base().prefix("1app"),
            "invalid metric prefix \"1app\": must start with an ASCII letter",
        );
        check(
            base().prefix("my-app"),
            "invalid metric prefix \"my-app\": may only contain ASCII letters, digits, `_` and `.`",
        );
        check(
            base().constant_tag("", "x"),
            "invalid tag \"\": the key is empty",
        );
        check(
            base().constant_tag("a:b", "x"),
            "invalid tag \"a:b\": the key contains `:`, `,`, `|` or a line break",
        );
        check(
            base().constant_tag("env", "a,b"),
            "invalid tag \"env\": the value contains `,`, `|` or a line break",
        );
        check(
            base().max_datagram_size(10),
            "invalid setting max_datagram_size: 10 is outside 64..=65507 bytes",
        );
        check(
            base().buffered(Duration::ZERO),
            "invalid setting buffered: the flush interval must be longer than zero",
        );
        check(
            base().address("not an address"),
            "cannot resolve DogStatsD address \"not an address\"",
        );
    }

    #[test]
    fn prefixes_get_one_trailing_dot() {
        assert_eq!(validate_prefix("").unwrap(), "");
        assert_eq!(validate_prefix("app").unwrap(), "app.");
        assert_eq!(validate_prefix("app.v2.").unwrap(), "app.v2.");
    }

    proptest! {
        #[test]
        fn any_input_encodes_to_one_parseable_line(
            name in "\\PC{1,16}",
            tags in proptest::collection::vec(("\\PC{1,8}", "\\PC{0,8}"), 0..4),
            value in -1.0e6_f64..1.0e6,
        ) {
            let inner = sink("app", &[("env", "prod")]);
            let tags: Vec<Tag<'_>> = tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let (line, _) = line(&inner, &name, Value::Gauge(value), &tags);
            prop_assert!(!line.contains(['\n', '\r']), "{:?}", line);
            let (name_part, rest) = line.split_once(':').unwrap();
            prop_assert!(name_part.starts_with("app."));
            prop_assert!(name_part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.'));
            let fields: Vec<&str> = rest.split('|').collect();
            prop_assert_eq!(fields.len(), 3, "{:?}", line);
            prop_assert_eq!(fields[0].parse::<f64>().unwrap(), value);
            prop_assert_eq!(fields[1], "g");
            let sent: Vec<&str> = fields[2].strip_prefix('#').unwrap().split(',').collect();
            prop_assert_eq!(sent.len(), tags.len() + 1, "{:?}", line);
            prop_assert_eq!(*sent.last().unwrap(), "env:prod");
        }
    }
}
