//! `cargo xtask e2e-bench`: HTTP load on a running server (the original's
//! `run_e2e_bench.py`, in Rust).
//!
//! Builds the `benches` package's `e2e-load` (the load generator) and `constant-server`
//! (a bare axum handler returning a constant: the floor) in release, starts the constant
//! server on a free port, and runs the load generator against it and then against
//! `--url`, one phase per route, in the same run. Without `--url` it also builds and
//! starts `server` on a free port with `benches/e2e-server.toml` (the embedded default,
//! except that the CPU the load saturates does not send the cascade to SAFE). The load
//! generator prints requests/s, p50 / p95 / p99 / max latency and errors per route, each
//! route's share of the floor, and the server's resident memory over the run; it fails
//! on any error.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::util::{cargo, execute, project_root, target_dir};

/// `cargo xtask e2e-bench --help`; every option but `--url` and `--no-floor` goes to the
/// load generator (`benches/bin/e2e_load.rs`).
pub(crate) const OPTIONS: &[(&str, &str)] = &[
    (
        "--url URL",
        "load this running server instead of building and starting one",
    ),
    ("-c N", "keep-alive connections (default 64)"),
    ("-d SECS", "seconds per route (default 30)"),
    ("--warmup SECS", "seconds of warm-up per route (default 2)"),
    (
        "--routes A,B",
        "the routes to load (default: every GET route)",
    ),
    (
        "--rounds N",
        "repeat the floor and the routes N times, interleaved, and add them up",
    ),
    (
        "--mix",
        "load every route in one phase instead of one phase per route",
    ),
    (
        "--no-floor",
        "skip the bare axum server measured as the floor",
    ),
    (
        "--pid PID",
        "the server process whose memory is sampled (default: found by its port)",
    ),
    ("--no-rss", "do not sample the server's memory"),
];

#[derive(Debug)]
struct Options {
    url: Option<String>,
    /// Arguments passed through to the load generator.
    load: Vec<String>,
    floor: bool,
}

pub(crate) fn run(args: &[String]) -> Result<()> {
    let options = parse(args)?;
    let mut build = cargo();
    build.args([
        "build",
        "--release",
        "-p",
        "benches",
        "--bin",
        "e2e-load",
        "--bin",
        "constant-server",
    ]);
    if options.url.is_none() {
        build.args(["-p", "server", "--bin", "server"]);
    }
    execute(&mut build)?;

    let mut children = Children(Vec::new());
    let url = match &options.url {
        Some(url) => url.clone(),
        None => {
            let mut server = Command::new(release_binary("server")?);
            let config = project_root().join("benches/e2e-server.toml");
            server
                .args(["--listen", "127.0.0.1:0", "--log-level", "warn", "--config"])
                .arg(config);
            children.start(server, "server listening on ")?
        }
    };
    let mut load = Command::new(release_binary("e2e-load")?);
    load.args(["--url", &url]).args(&options.load);
    if options.floor {
        let mut constant = Command::new(release_binary("constant-server")?);
        constant.args(["--listen", "127.0.0.1:0"]);
        let floor = children.start(constant, "listening on ")?;
        load.args(["--floor", &floor]);
    }
    let status = load.status().context("cannot start the load generator")?;
    drop(children);
    if !status.success() {
        bail!("the load generator reported errors ({status})");
    }
    Ok(())
}

fn parse(args: &[String]) -> Result<Options> {
    let mut options = Options {
        url: None,
        load: Vec::new(),
        floor: true,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--url" => options.url = Some(args.next().context("--url needs a value")?.clone()),
            "--no-floor" => options.floor = false,
            "--mix" | "--no-rss" => options.load.push(arg.clone()),
            "-c" | "--connections" | "-d" | "--duration" | "--warmup" | "--routes" | "--rounds"
            | "--pid" => {
                let value = args
                    .next()
                    .with_context(|| format!("{arg} needs a value"))?;
                options.load.extend([arg.clone(), value.clone()]);
            }
            other => return Err(crate::unknown_option("e2e-bench", other)),
        }
    }
    Ok(options)
}

fn release_binary(name: &str) -> Result<PathBuf> {
    Ok(target_dir()?.join("release").join(name))
}

/// The processes started here, killed when dropped (on failure too), with their stdout
/// kept open so a late line never meets a closed pipe.
struct Children(Vec<(Child, BufReader<ChildStdout>)>);

impl Children {
    /// Starts `command` and returns the URL from its stdout line starting with `prefix`.
    fn start(&mut self, mut command: Command, prefix: &str) -> Result<String> {
        let shown = format!("{command:?}");
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            // Why a server exits before listening (a bad configuration, a port in use)
            // is on its stderr.
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("cannot start {shown}"))?;
        let mut stdout = BufReader::new(child.stdout.take().context("no stdout")?);
        let mut line = String::new();
        let found = loop {
            line.clear();
            if stdout.read_line(&mut line)? == 0 {
                break None;
            }
            if let Some(url) = line.strip_prefix(prefix) {
                break Some(url.trim().to_owned());
            }
        };
        self.0.push((child, stdout));
        let url = found.with_context(|| format!("{shown} exited before printing its address"))?;
        println!("started {shown} on {url}");
        Ok(url)
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        for (child, _) in &mut self.0 {
            // Already gone is fine.
            let _killed = child.kill();
            let _reaped = child.wait();
        }
    }
}
