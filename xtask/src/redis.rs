//! The Redis server the tests talk to: `REDIS_URL` if set, otherwise a private
//! `redis-server` on a free 127.0.0.1 port, without persistence, in a temporary folder,
//! stopped when the guard drops (on failure too).

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::util::{find_on_path, target_subdir};

const INSTALL_HINT: &str = "redis-server is not on PATH and REDIS_URL is not set.
The tests need a real Redis. Install it and run again:
    Debian/Ubuntu: sudo apt-get install -y redis-server
    macOS:         brew install redis
or point REDIS_URL at a server you run (a disposable one: tests write keys to it).";

/// A Redis server for the duration of a test run.
pub(crate) struct TestRedis {
    url: String,
    child: Option<Child>,
    dir: Option<PathBuf>,
}

impl TestRedis {
    pub(crate) fn ensure() -> Result<Self> {
        if let Ok(url) = std::env::var("REDIS_URL")
            && !url.is_empty()
        {
            println!("tests use the Redis server named by REDIS_URL");
            return Ok(Self {
                url,
                child: None,
                dir: None,
            });
        }
        let Some(binary) = find_on_path("redis-server") else {
            bail!(INSTALL_HINT)
        };
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|listener| listener.local_addr())
            .context("cannot find a free port")?
            .port();
        let dir = target_subdir(&format!("xtask-redis-{}", std::process::id()))?;
        let child = Command::new(&binary)
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let server = Self {
            url: format!("redis://127.0.0.1:{port}/0"),
            child: Some(child),
            dir: Some(dir),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while ping(port).is_err() {
            if Instant::now() > deadline {
                bail!("redis-server on port {port} did not answer PING within 10 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        println!("started redis-server for the tests at {}", server.url);
        Ok(server)
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _killed = child.kill();
            let _reaped = child.wait();
            println!("stopped the tests' redis-server");
        }
        if let Some(dir) = self.dir.take() {
            let _removed = std::fs::remove_dir_all(dir);
        }
    }
}

fn ping(port: u16) -> std::io::Result<()> {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port))?;
    stream.set_read_timeout(Some(Duration::from_millis(500)))?;
    stream.write_all(b"PING\r\n")?;
    let mut reply = [0u8; 7];
    stream.read_exact(&mut reply)?;
    if &reply == b"+PONG\r\n" {
        Ok(())
    } else {
        Err(std::io::Error::other("unexpected reply"))
    }
}
