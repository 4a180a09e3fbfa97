//! The HTTP load generator of `cargo xtask e2e-bench` (the original's
//! `run_e2e_bench.py`, in Rust): `-c` keep-alive connections, each sending `GET`s one
//! after another for `-d` seconds per route, then requests/s, p50 / p95 / p99 / max
//! latency and the error count per route.
//!
//! ```text
//! e2e-load --url http://127.0.0.1:8000 [-c 64] [-d 30] [--warmup 2]
//!          [--routes /health/live,/health/ready,...] [--mix]
//!          [--floor http://127.0.0.1:9000] [--rounds N] [--pid PID | --no-rss]
//! ```
//!
//! - `--floor URL` first measures `GET /` on that server (the bare axum constant server)
//!   the same way, and reports each route's requests/s as a share of it.
//! - `--rounds N` repeats the floor and the routes N times, interleaved, and adds up
//!   each route's phases: on a shared machine, other work then weighs on all alike.
//! - `--mix` drives every route in one phase (each connection cycles through them)
//!   instead of one phase per route.
//! - The server's resident memory (`VmRSS` from `/proc/PID/status`) is sampled every
//!   500 ms through the measured phases of the target (not while the floor runs), after a warm-up of every route (allocator and
//!   buffers reach their working size first), and reported as first- and last-quarter
//!   means, extremes and a 5 s series; the process is found by the port it listens on
//!   unless `--pid` names it.
//!
//! An error is a failed connection or request (10 s without an answer counts as one), or a
//! status other than 2xx.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line tool prints its report"
)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// How long a connection attempt or a request may take before it counts as an error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

const DEFAULT_ROUTES: &str = "/health/live,/health/ready,/health/state,/health/checks,/health/cascade,/metrics,/fallback/transitions,/fallback/metrics";

struct Options {
    target: Target,
    connections: usize,
    duration: Duration,
    warmup: Duration,
    routes: Vec<String>,
    mix: bool,
    floor: Option<Target>,
    rounds: u32,
    pid: Option<u32>,
    rss: bool,
}

#[derive(Clone)]
struct Target {
    addr: SocketAddr,
    authority: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = match parse(std::env::args().skip(1).collect()) {
        Ok(options) => options,
        Err(message) => {
            eprintln!(
                "e2e-load: {message}\n\nusage: e2e-load --url http://HOST:PORT [-c N] [-d SECS] [--warmup SECS] [--routes A,B] [--mix] [--floor URL] [--pid PID | --no-rss]"
            );
            return ExitCode::from(2);
        }
    };
    let errors = run(&options).await;
    if errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn parse(args: Vec<String>) -> Result<Options, String> {
    let mut url = None;
    let mut options = Options {
        target: Target {
            addr: SocketAddr::from(([127, 0, 0, 1], 8000)),
            authority: String::new(),
        },
        connections: 64,
        duration: Duration::from_secs(30),
        warmup: Duration::from_secs(2),
        routes: Vec::new(),
        mix: false,
        floor: None,
        rounds: 1,
        pid: None,
        rss: true,
    };
    let mut routes = DEFAULT_ROUTES.to_owned();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--url" => url = Some(value()?),
            "-c" | "--connections" => {
                options.connections = value()?.parse().map_err(|_| "-c takes a number")?;
            }
            "-d" | "--duration" => {
                options.duration = seconds(&value()?).ok_or("-d takes seconds")?;
            }
            "--warmup" => options.warmup = seconds(&value()?).ok_or("--warmup takes seconds")?,
            "--routes" => routes = value()?,
            "--mix" => options.mix = true,
            "--floor" => options.floor = Some(target(&value()?)?),
            "--rounds" => {
                options.rounds = value()?.parse().map_err(|_| "--rounds takes a number")?;
            }
            "--pid" => options.pid = Some(value()?.parse().map_err(|_| "--pid takes a number")?),
            "--no-rss" => options.rss = false,
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    options.target = target(&url.ok_or("--url is required")?)?;
    options.routes = routes
        .split(',')
        .map(str::trim)
        .filter(|route| !route.is_empty())
        .map(str::to_owned)
        .collect();
    if options.routes.is_empty()
        || options.connections == 0
        || options.duration.is_zero()
        || options.rounds == 0
    {
        return Err("need at least one route, one connection, a duration and a round".to_owned());
    }
    Ok(options)
}

fn seconds(text: &str) -> Option<Duration> {
    text.parse::<f64>()
        .ok()
        .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
}

/// `http://host:port[/...]`: plain HTTP to a literal address (a load generator resolving
/// names per connection would measure the resolver).
fn target(url: &str) -> Result<Target, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url:?}: only http:// URLs"))?;
    let authority = rest.split('/').next().unwrap_or_default();
    let addr = authority
        .parse::<SocketAddr>()
        .or_else(|_| {
            std::net::ToSocketAddrs::to_socket_addrs(authority)
                .map_err(|error| error.to_string())
                .and_then(|mut addrs| addrs.next().ok_or_else(|| "no address".to_owned()))
        })
        .map_err(|error| format!("{url:?}: {error}"))?;
    Ok(Target {
        addr,
        authority: authority.to_owned(),
    })
}

/// Runs every phase, prints the report; returns the total error count.
async fn run(options: &Options) -> u64 {
    let pid = if options.rss {
        options
            .pid
            .or_else(|| pid_listening_on(options.target.addr.port()))
    } else {
        None
    };
    println!(
        "e2e-load: {} connections, {} round(s) of {} s per phase ({} s warm-up), target http://{}{}",
        options.connections,
        options.rounds,
        options.duration.as_secs_f64(),
        options.warmup.as_secs_f64(),
        options.target.authority,
        pid.map_or_else(String::new, |pid| format!(", server pid {pid}")),
    );
    // Memory is sampled once every connection is open and has served: growth from
    // here on is what "flat" is about.
    if !options.warmup.is_zero() {
        drive(
            &options.target,
            &options.routes,
            options.connections,
            options.warmup,
        )
        .await;
    }
    let sampler = pid.map(RssSampler::start);
    // Rounds interleave the floor and the routes, so that other work on a shared machine
    // weighs on both alike.
    let mut results: Vec<PhaseResult> = Vec::new();
    for _ in 0..options.rounds {
        if let Some(floor) = &options.floor {
            // The server idles meanwhile: its memory is not sampled.
            if let Some(sampler) = &sampler {
                sampler.pause(true);
            }
            let routes = vec!["/".to_owned()];
            let mut result = phase(floor, &routes, options).await;
            result.label = "constant (bare axum)".to_owned();
            merge(&mut results, result);
            if let Some(sampler) = &sampler {
                sampler.pause(false);
            }
        }
        if options.mix {
            let mut result = measure(&options.target, &options.routes, options).await;
            result.label = format!("mix of {} routes", options.routes.len());
            merge(&mut results, result);
        } else {
            for route in &options.routes {
                merge(
                    &mut results,
                    phase(&options.target, std::slice::from_ref(route), options).await,
                );
            }
        }
    }
    for result in &mut results {
        result.latencies_us.sort_unstable();
    }
    let rss = match sampler {
        Some(sampler) => Some(sampler.stop().await),
        None => None,
    };
    report(&results, options.floor.is_some(), rss.as_ref());
    results.iter().map(|result| result.errors).sum()
}

struct PhaseResult {
    label: String,
    requests: u64,
    errors: u64,
    statuses: BTreeMap<u16, u64>,
    elapsed: Duration,
    latencies_us: Vec<u32>,
}

/// Adds `result` to the result of the same label, or appends it.
fn merge(results: &mut Vec<PhaseResult>, result: PhaseResult) {
    let Some(known) = results.iter_mut().find(|known| known.label == result.label) else {
        results.push(result);
        return;
    };
    known.requests += result.requests;
    known.errors += result.errors;
    known.elapsed += result.elapsed;
    for (status, count) in result.statuses {
        *known.statuses.entry(status).or_default() += count;
    }
    known.latencies_us.extend(result.latencies_us);
}

/// Warms up, then measures `routes` (cycled per connection) for the duration.
async fn phase(target: &Target, routes: &[String], options: &Options) -> PhaseResult {
    if !options.warmup.is_zero() {
        drive(target, routes, options.connections, options.warmup).await;
    }
    measure(target, routes, options).await
}

/// Measures `routes` (cycled per connection) for the duration.
async fn measure(target: &Target, routes: &[String], options: &Options) -> PhaseResult {
    let started = Instant::now();
    let workers = drive(target, routes, options.connections, options.duration).await;
    let elapsed = started.elapsed();
    let mut result = PhaseResult {
        label: routes.join(","),
        requests: 0,
        errors: 0,
        statuses: BTreeMap::new(),
        elapsed,
        latencies_us: Vec::new(),
    };
    for worker in workers {
        result.requests += worker.requests;
        result.errors += worker.errors;
        for (status, count) in worker.statuses {
            *result.statuses.entry(status).or_default() += count;
        }
        result.latencies_us.extend(worker.latencies_us);
    }
    result
}

#[derive(Default)]
struct Worker {
    requests: u64,
    errors: u64,
    statuses: BTreeMap<u16, u64>,
    latencies_us: Vec<u32>,
}

async fn drive(
    target: &Target,
    routes: &[String],
    connections: usize,
    duration: Duration,
) -> Vec<Worker> {
    let deadline = Instant::now() + duration;
    let routes: Arc<[String]> = routes.into();
    let tasks: Vec<_> = (0..connections)
        .map(|index| {
            let target = target.clone();
            let routes = routes.clone();
            tokio::spawn(async move { connection(target, &routes, index, deadline).await })
        })
        .collect();
    let mut workers = Vec::with_capacity(tasks.len());
    for task in tasks {
        if let Ok(worker) = task.await {
            workers.push(worker);
        }
    }
    workers
}

/// One keep-alive connection sending requests back to back until the deadline,
/// reconnecting after an error.
async fn connection(target: Target, routes: &[String], offset: usize, deadline: Instant) -> Worker {
    let mut worker = Worker {
        latencies_us: Vec::with_capacity(1 << 16),
        ..Worker::default()
    };
    let mut next = offset;
    'connect: while Instant::now() < deadline {
        let Ok(Ok(stream)) =
            tokio::time::timeout(REQUEST_TIMEOUT, TcpStream::connect(target.addr)).await
        else {
            worker.errors += 1;
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let Ok((mut sender, driver)) =
            hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(stream)).await
        else {
            worker.errors += 1;
            continue;
        };
        tokio::spawn(driver);
        while Instant::now() < deadline {
            let route = &routes[next % routes.len()];
            next = next.wrapping_add(1);
            let Ok(request) = hyper::Request::get(route.as_str())
                .header(hyper::header::HOST, target.authority.as_str())
                .body(Empty::<Bytes>::new())
            else {
                worker.errors += 1;
                return worker;
            };
            let sent = Instant::now();
            let exchange = async {
                sender.ready().await?;
                let response = sender.send_request(request).await?;
                let status = response.status().as_u16();
                response.into_body().collect().await?;
                Ok::<u16, hyper::Error>(status)
            };
            // A server that stops answering is an error to count, not a run that hangs.
            let outcome = tokio::time::timeout(REQUEST_TIMEOUT, exchange)
                .await
                .map_err(drop)
                .and_then(|outcome| outcome.map_err(drop));
            let micros = u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX);
            worker.requests += 1;
            worker.latencies_us.push(micros);
            match outcome {
                Ok(status) => {
                    *worker.statuses.entry(status).or_default() += 1;
                    if !(200..300).contains(&status) {
                        worker.errors += 1;
                    }
                }
                Err(_) => {
                    worker.errors += 1;
                    continue 'connect;
                }
            }
        }
    }
    worker
}

fn percentile(sorted: &[u32], fraction: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "an index into a non-empty slice, rounded"
    )]
    let index = ((sorted.len() - 1) as f64 * fraction).round() as usize;
    f64::from(sorted[index.min(sorted.len() - 1)]) / 1000.0
}

fn report(results: &[PhaseResult], with_floor: bool, rss: Option<&RssReport>) {
    println!();
    println!(
        "| {:<28} | {:>9} | {:>9} | {:>8} | {:>8} | {:>8} | {:>8} | {:>6} |{}",
        "route",
        "requests",
        "req/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "errors",
        if with_floor { " of floor |" } else { "" }
    );
    println!(
        "|{}|{}|{}|{}|{}|{}|{}|{}|{}",
        "-".repeat(30),
        "-".repeat(10) + ":",
        "-".repeat(10) + ":",
        "-".repeat(9) + ":",
        "-".repeat(9) + ":",
        "-".repeat(9) + ":",
        "-".repeat(9) + ":",
        "-".repeat(7) + ":",
        if with_floor { "---------:|" } else { "" }
    );
    let floor = with_floor
        .then(|| results.first().map(rate))
        .flatten()
        .filter(|rate| *rate > 0.0);
    for result in results {
        let share = floor.map_or_else(String::new, |floor| {
            format!(" {:>8.0}% |", rate(result) / floor * 100.0)
        });
        println!(
            "| {:<28} | {:>9} | {:>9.0} | {:>8.2} | {:>8.2} | {:>8.2} | {:>8.2} | {:>6} |{share}",
            result.label,
            result.requests,
            rate(result),
            percentile(&result.latencies_us, 0.50),
            percentile(&result.latencies_us, 0.95),
            percentile(&result.latencies_us, 0.99),
            percentile(&result.latencies_us, 1.0),
            result.errors,
        );
    }
    for result in results {
        let unexpected: Vec<String> = result
            .statuses
            .iter()
            .filter(|(status, _)| !(200..300).contains(*status))
            .map(|(status, count)| format!("{status}: {count}"))
            .collect();
        if !unexpected.is_empty() {
            println!(
                "{}: non-2xx statuses {}",
                result.label,
                unexpected.join(", ")
            );
        }
    }
    if let Some(rss) = rss {
        rss.print();
    }
}

#[allow(
    clippy::cast_precision_loss,
    reason = "request counts are far below 2^52"
)]
fn rate(result: &PhaseResult) -> f64 {
    result.requests as f64 / result.elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
}

// ----- resident memory ---------------------------------------------------------------

struct RssSampler {
    stop: Arc<AtomicBool>,
    paused: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Vec<u64>>,
}

struct RssReport {
    /// One sample every 500 ms, in KiB.
    samples: Vec<u64>,
}

#[allow(clippy::cast_precision_loss, reason = "KiB counts are far below 2^52")]
impl RssReport {
    fn mib(kib: u64) -> f64 {
        kib as f64 / 1024.0
    }

    fn mean(samples: &[u64]) -> f64 {
        samples.iter().sum::<u64>() as f64 / samples.len().max(1) as f64
    }

    /// First and last quarter means (the trend), extremes, and one value per 5 s.
    fn print(&self) {
        let samples = &self.samples;
        if samples.is_empty() {
            println!("\nserver VmRSS: no samples");
            return;
        }
        let quarter = (samples.len() / 4).max(1);
        let first = Self::mean(&samples[..quarter]);
        let last = Self::mean(&samples[samples.len() - quarter..]);
        let min = samples.iter().copied().min().unwrap_or(0);
        let max = samples.iter().copied().max().unwrap_or(0);
        println!(
            "\nserver VmRSS over the measured phases ({} samples, every 500 ms): first-quarter mean {:.1} MiB, last-quarter mean {:.1} MiB ({:+.1}%), min {:.1} MiB, max {:.1} MiB (max/min {:+.1}%)",
            samples.len(),
            first / 1024.0,
            last / 1024.0,
            (last / first.max(1.0) - 1.0) * 100.0,
            Self::mib(min),
            Self::mib(max),
            (max as f64 / min.max(1) as f64 - 1.0) * 100.0,
        );
        let series: Vec<String> = samples
            .iter()
            .step_by(10)
            .map(|kib| format!("{:.1}", Self::mib(*kib)))
            .collect();
        println!("server VmRSS every 5 s, MiB: {}", series.join(" "));
    }
}

impl RssSampler {
    fn start(pid: u32) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let paused = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let is_paused = paused.clone();
        let task = tokio::spawn(async move {
            let mut samples = Vec::new();
            while !stopped.load(Ordering::Relaxed) {
                if !is_paused.load(Ordering::Relaxed)
                    && let Some(kib) = vm_rss_kib(pid)
                {
                    samples.push(kib);
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            samples
        });
        Self { stop, paused, task }
    }

    /// Stops (`true`) or resumes sampling.
    fn pause(&self, paused: bool) {
        self.paused.store(paused, Ordering::Relaxed);
    }

    async fn stop(self) -> RssReport {
        self.stop.store(true, Ordering::Relaxed);
        RssReport {
            samples: self.task.await.unwrap_or_default(),
        }
    }
}

/// `VmRSS` of `pid` in KiB.
fn vm_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
}

/// The process with a listening TCP socket on `port` (Linux: `/proc/net/tcp{,6}` for the
/// socket's inode, then each process's open files for that inode).
fn pid_listening_on(port: u16) -> Option<u32> {
    let wanted = format!(":{port:04X}");
    let inodes: Vec<String> = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .flat_map(|table| {
            table
                .lines()
                .skip(1)
                .filter_map(|line| {
                    let fields: Vec<&str> = line.split_whitespace().collect();
                    // local_address, st == 0A (LISTEN), inode
                    (fields.len() > 9 && fields[1].ends_with(&wanted) && fields[3] == "0A")
                        .then(|| fields[9].to_owned())
                })
                .collect::<Vec<_>>()
        })
        .collect();
    if inodes.is_empty() {
        return None;
    }
    let targets: Vec<String> = inodes
        .iter()
        .map(|inode| format!("socket:[{inode}]"))
        .collect();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if let Ok(link) = std::fs::read_link(fd.path())
                && targets
                    .iter()
                    .any(|target| link.as_os_str() == target.as_str())
            {
                return Some(pid);
            }
        }
    }
    None
}
