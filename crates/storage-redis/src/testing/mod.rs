//! Test support (feature `testing`): a private `redis-server` a test starts, freezes,
//! kills and restarts itself (in clear or over TLS, with certificates made by
//! [`TestCertificates`]), adapters on the shared test server named by `REDIS_URL`, and
//! [`HostedAdapter`], an adapter that owns the servers it talks to. With the `sentinel`
//! feature, `testing::sentinel` starts a master, a replica and three sentinels; with the
//! `cluster` feature, `testing::cluster` starts a Redis Cluster and moves slots in it. All
//! on free 127.0.0.1 ports, so tests run in parallel; every server stops on drop.
//!
//! The skip policy is the workspace's: when a server is unavailable a test fails if the
//! environment variable `RESILIENCE_CI=1` is set (as `cargo xtask ci` does) and otherwise
//! skips with a loud message.

use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use storage::Storage;

use crate::{RedisAdapter, RedisConfig};

#[cfg(feature = "cluster")]
pub mod cluster;
#[cfg(feature = "sentinel")]
pub mod sentinel;
mod tls;
pub use tls::{ServerCertificate, TestCertificates};

/// The environment variable naming the shared test server.
pub const REDIS_URL_VAR: &str = "REDIS_URL";

/// Whether tests must find their servers (set by `cargo xtask ci`): `RESILIENCE_CI=1`.
#[must_use]
pub fn required() -> bool {
    std::env::var("RESILIENCE_CI").is_ok_and(|value| value == "1")
}

/// Reports that `what` is unavailable: panics under `RESILIENCE_CI=1`, otherwise prints a
/// loud skip notice. Returns `None` so callers can `return` with it.
///
/// # Panics
///
/// When [`required`] is true.
pub fn skip<T>(test: &str, what: &str) -> Option<T> {
    assert!(
        !required(),
        "{test}: {what}, but RESILIENCE_CI=1 requires it (run `cargo xtask ci`, which starts redis-server)"
    );
    #[allow(clippy::print_stderr, reason = "a skipped test must be visible")]
    {
        eprintln!("SKIPPED {test}: {what} (set REDIS_URL or run `cargo xtask ci`)");
    }
    None
}

/// The shared test server's URL from `REDIS_URL`, or a skip (see [`skip`]).
#[must_use]
pub fn redis_url(test: &str) -> Option<String> {
    url_from_env().or_else(|| skip(test, "REDIS_URL is not set"))
}

/// The server a benchmark runs against: the one `REDIS_URL` names, or else a private one
/// started here. Returns its URL and the private server, which must outlive the URL's use
/// (dropping it stops the server).
///
/// # Errors
///
/// When `REDIS_URL` is not set and a private server does not start (see
/// [`RedisServer::start`]).
pub fn url_or_private_server() -> io::Result<(String, Option<RedisServer>)> {
    if let Some(url) = url_from_env() {
        return Ok((url, None));
    }
    let server = RedisServer::start()?;
    Ok((server.url(), Some(server)))
}

fn url_from_env() -> Option<String> {
    std::env::var(REDIS_URL_VAR)
        .ok()
        .filter(|url| !url.is_empty())
}

/// A key prefix no other test (or run) uses, so tests can share one server.
#[must_use]
pub fn unique_prefix(test: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    format!(
        "test:{test}:{}:{nanos}:{}:",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A connected adapter on the shared test server, with a key prefix of its own, or `None`
/// (after [`skip`]) when `REDIS_URL` is not set.
///
/// # Panics
///
/// When the server named by `REDIS_URL` cannot be reached: a configured server that does
/// not answer is a failure, not a skip.
pub async fn shared_adapter(test: &str) -> Option<RedisAdapter> {
    let url = redis_url(test)?;
    let mut config = RedisConfig::new(url);
    config.key_prefix = unique_prefix(test);
    config.timeout = Duration::from_secs(2);
    let adapter = match RedisAdapter::from_config(config) {
        Ok(adapter) => adapter,
        Err(error) => panic!("{test}: bad REDIS_URL: {error}"),
    };
    if let Err(error) = adapter.connect().await {
        panic!("{test}: cannot reach the test server: {error}");
    }
    Some(adapter)
}

/// A private `redis-server` on a free 127.0.0.1 port, without persistence, in its own
/// temporary folder. Stopped and removed on drop.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
    /// Arguments beyond the defaults (TLS, replication, cluster mode, ...).
    args: Vec<OsString>,
    /// Whether the port speaks TLS (then readiness is a TCP connect, not a `PING`).
    tls: bool,
    /// A configuration file given before every other argument (`sentinel.conf`).
    config_file: Option<PathBuf>,
}

impl RedisServer {
    /// Starts a server, or returns `None` (after [`skip`]) when `redis-server` is not
    /// installed.
    ///
    /// # Panics
    ///
    /// When `redis-server` is installed but does not start.
    #[must_use]
    pub fn start_or_skip(test: &str) -> Option<Self> {
        match Self::start() {
            Ok(server) => Some(server),
            Err(error) if error.kind() == io::ErrorKind::NotFound => skip(
                test,
                "redis-server is not installed (apt-get install redis-server)",
            ),
            Err(error) => panic!("{test}: redis-server did not start: {error}"),
        }
    }

    /// Starts a server and waits until it answers `PING`.
    ///
    /// # Errors
    ///
    /// `NotFound` when `redis-server` is not on `PATH`; any other error if it does not
    /// start within five seconds.
    pub fn start() -> io::Result<Self> {
        Self::start_with_args(Vec::new())
    }

    /// Starts a server with `args` added to the defaults (they may override them, e.g.
    /// `--save`), on a free port, and waits until it answers `PING`.
    ///
    /// # Errors
    ///
    /// As [`RedisServer::start`].
    pub fn start_with_args(args: Vec<OsString>) -> io::Result<Self> {
        Self::launch(free_port()?, |_| args, false, None)
    }

    /// Starts a server that speaks only TLS, presenting `certificate`, and requiring a
    /// client certificate signed by the test CA when `client_certificates` is set. Its
    /// [`url`](Self::url) is `rediss://127.0.0.1:<port>/0`.
    ///
    /// # Errors
    ///
    /// As [`RedisServer::start`].
    pub fn start_tls(
        certificates: &TestCertificates,
        certificate: ServerCertificate,
        client_certificates: bool,
    ) -> io::Result<Self> {
        Self::launch(
            free_port()?,
            |port| certificates.server_args(port, certificate, client_certificates),
            true,
            None,
        )
    }

    /// Starts `redis-server` on `port` with the default arguments, `args(port)`, and, when
    /// given, a configuration file of that text (first, as `redis-server <file>` needs).
    fn launch(
        port: u16,
        args: impl FnOnce(u16) -> Vec<OsString>,
        tls: bool,
        config: Option<&str>,
    ) -> io::Result<Self> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "storage-redis-test-{}-{}-{port}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir)?;
        let config_file = match config {
            Some(text) => {
                let path = dir.join("redis.conf");
                std::fs::write(&path, text)?;
                Some(path)
            }
            None => None,
        };
        let mut server = Self {
            port,
            dir,
            child: None,
            args: args(port),
            tls,
            config_file,
        };
        server.spawn()?;
        Ok(server)
    }

    /// The server's URL (`rediss://` for a TLS server).
    #[must_use]
    pub fn url(&self) -> String {
        let scheme = if self.tls { "rediss" } else { "redis" };
        format!("{scheme}://127.0.0.1:{}/0", self.port)
    }

    /// The folder the server runs in (its `--dir`), removed on drop.
    #[must_use]
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// The server's port.
    #[must_use]
    pub const fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server with `SIGKILL` (no shutdown, connections reset).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Already gone is fine: the goal is a dead server.
            let _killed = child.kill();
            let _reaped = child.wait();
        }
    }

    /// Starts the server again on the same port.
    ///
    /// # Errors
    ///
    /// If it does not come back within five seconds.
    pub fn restart(&mut self) -> io::Result<()> {
        self.kill();
        self.spawn()
    }

    /// Freezes the server with `SIGSTOP`: connections stay open and nothing answers.
    ///
    /// # Errors
    ///
    /// If the signal cannot be sent.
    pub fn pause(&self) -> io::Result<()> {
        self.signal("-STOP")
    }

    /// Thaws a server frozen by [`RedisServer::pause`].
    ///
    /// # Errors
    ///
    /// If the signal cannot be sent.
    pub fn resume(&self) -> io::Result<()> {
        self.signal("-CONT")
    }

    fn signal(&self, signal: &str) -> io::Result<()> {
        let pid = self
            .child
            .as_ref()
            .map(Child::id)
            .ok_or_else(|| io::Error::other("redis-server is not running"))?;
        let status = Command::new("kill")
            .arg(signal)
            .arg(pid.to_string())
            .status()?;
        if status.success() {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "kill {signal} {pid} failed: {status}"
            )))
        }
    }

    fn spawn(&mut self) -> io::Result<()> {
        let child = Command::new("redis-server")
            .args(self.config_file.iter())
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ])
            .arg("--dir")
            .arg(&self.dir)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            let ready = if self.tls {
                TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)).map(drop)
            } else {
                ping(self.port)
            };
            if ready.is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill();
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!(
                "redis-server on port {} did not answer PING within 5 s",
                self.port
            ),
        ))
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        // SIGKILL ends a frozen (SIGSTOPped) server too.
        self.kill();
        let _removed = std::fs::remove_dir_all(&self.dir);
    }
}

/// A 127.0.0.1 port nothing listens on right now.
///
/// # Errors
///
/// If no port can be bound.
pub fn free_port() -> io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

/// Sends an inline `PING` and expects `+PONG` (or `-NOAUTH` from a server that needs a
/// password: it is up all the same).
fn ping(port: u16) -> io::Result<()> {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port))?;
    stream.set_read_timeout(Some(Duration::from_millis(500)))?;
    stream.write_all(b"PING\r\n")?;
    let mut reply = [0u8; 7];
    stream.read_exact(&mut reply)?;
    if &reply == b"+PONG\r\n" || &reply == b"-NOAUTH" {
        Ok(())
    } else {
        Err(io::Error::other("unexpected reply to PING"))
    }
}

#[cfg(any(feature = "sentinel", feature = "cluster"))]
/// Polls `ready` every 20 ms until it holds, or fails with `TimedOut` after `within`.
fn wait_for(within: Duration, what: &str, mut ready: impl FnMut() -> bool) -> io::Result<()> {
    let deadline = Instant::now() + within;
    while !ready() {
        if Instant::now() > deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("waited {within:?} for {what}"),
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

#[cfg(any(feature = "sentinel", feature = "cluster"))]
/// A synchronous connection to a server on 127.0.0.1 with `password`.
fn sync_connection(port: u16, password: Option<&str>) -> io::Result<redis::Connection> {
    let credentials = password.map_or_else(String::new, |password| format!(":{password}@"));
    let client = redis::Client::open(format!("redis://{credentials}127.0.0.1:{port}/0"))
        .map_err(io::Error::other)?;
    let connection = client
        .get_connection_with_timeout(Duration::from_millis(500))
        .map_err(io::Error::other)?;
    connection
        .set_read_timeout(Some(Duration::from_millis(500)))
        .map_err(io::Error::other)?;
    Ok(connection)
}

#[cfg(feature = "sentinel")]
/// One field of an `INFO` section.
fn info_field(port: u16, password: Option<&str>, section: &str, field: &str) -> io::Result<String> {
    let mut connection = sync_connection(port, password)?;
    let info: String = redis::cmd("INFO")
        .arg(section)
        .query(&mut connection)
        .map_err(io::Error::other)?;
    info.lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .map(str::to_owned)
        .ok_or_else(|| io::Error::other(format!("no {field} in INFO {section}")))
}

/// An adapter that owns the servers it talks to: they stop when it is dropped. Lets the
/// conformance suite, whose factory hands out only the store, run on a private topology.
#[derive(Debug)]
pub struct HostedAdapter {
    adapter: RedisAdapter,
    _servers: Box<dyn std::fmt::Debug + Send + Sync>,
}

impl HostedAdapter {
    /// `adapter`, keeping `servers` alive as long as it is.
    pub fn new(
        adapter: RedisAdapter,
        servers: impl std::fmt::Debug + Send + Sync + 'static,
    ) -> Self {
        Self {
            adapter,
            _servers: Box::new(servers),
        }
    }

    /// The adapter.
    #[must_use]
    pub fn adapter(&self) -> &RedisAdapter {
        &self.adapter
    }
}

#[async_trait::async_trait]
impl Storage for HostedAdapter {
    fn backend(&self) -> &'static str {
        self.adapter.backend()
    }

    async fn connect(&self) -> storage::Result<()> {
        self.adapter.connect().await
    }

    async fn close(&self) -> storage::Result<()> {
        self.adapter.close().await
    }

    async fn health_check(&self) -> bool {
        self.adapter.health_check().await
    }

    async fn get(&self, key: &str) -> storage::Result<Option<serde_json::Value>> {
        self.adapter.get(key).await
    }

    async fn set(
        &self,
        key: &str,
        value: serde_json::Value,
        expire: Option<Duration>,
    ) -> storage::Result<()> {
        self.adapter.set(key, value, expire).await
    }

    async fn delete(&self, key: &str) -> storage::Result<bool> {
        self.adapter.delete(key).await
    }

    async fn exists(&self, key: &str) -> storage::Result<bool> {
        self.adapter.exists(key).await
    }

    async fn keys(&self, pattern: &str) -> storage::Result<Vec<String>> {
        self.adapter.keys(pattern).await
    }

    async fn expire(&self, key: &str, ttl: Duration) -> storage::Result<bool> {
        self.adapter.expire(key, ttl).await
    }

    async fn ttl(&self, key: &str) -> storage::Result<Option<Duration>> {
        self.adapter.ttl(key).await
    }

    async fn increment(&self, key: &str, amount: i64) -> storage::Result<i64> {
        self.adapter.increment(key, amount).await
    }
}
