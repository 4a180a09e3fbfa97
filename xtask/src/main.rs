//! The workspace's automation, run as `cargo xtask <task>` (see the cargo-xtask
//! convention: the alias in `.cargo/config.toml` builds and runs this crate).
//!
//! `cargo xtask ci` is the single entry point that `.ci/run`, the GitHub workflows and a
//! developer all use; every other task is one of its steps, runnable alone.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line tool prints on purpose"
)]

mod bench;
mod check;
mod ci;
mod deny;
mod e2e_bench;
mod fuzz;
mod hooks;
mod instructions;
mod lint;
mod redis;
mod test;
mod tidy;
mod util;
mod workflows;

use std::process::ExitCode;

/// Every task: name, arguments, what it does.
const TASKS: &[(&str, &str, &str)] = &[
    (
        "ci",
        "",
        "every step below in order, stopping at the first failure",
    ),
    (
        "lint",
        "",
        "rustfmt check, then clippy -D warnings on all targets",
    ),
    (
        "check",
        "",
        "cargo check --all-targets --locked, then cargo doc -D warnings",
    ),
    (
        "tidy",
        "",
        "crate dependency rules, crate docs and README lines",
    ),
    (
        "test",
        "",
        "nextest (or cargo test), then doctests; starts redis-server if REDIS_URL is unset",
    ),
    ("deny", "", "cargo deny check bans licenses sources"),
    (
        "bench",
        "[--no-run] [--instructions] [--quick] [--filter TEXT] [--save FILE] [--compare FILE [--threshold N%]]",
        "compile or run the benches (criterion medians, or callgrind instruction counts); save or compare a baseline",
    ),
    (
        "fuzz",
        "[--seconds N] [--target NAME]",
        "run the cargo-fuzz targets of fuzz/ on stable (RUSTC_BOOTSTRAP=1), N seconds each",
    ),
    (
        "e2e-bench",
        "[--url URL] [-c N] [-d SECS] [--routes A,B] [--mix] [--no-floor]",
        "HTTP load on the server (started here without --url) and a bare axum floor: req/s, p50/p95/p99, errors, RSS",
    ),
    (
        "hooks",
        "",
        "install a git pre-commit hook running fmt and clippy",
    ),
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(task) = args.first() else {
        print_tasks();
        return ExitCode::SUCCESS;
    };
    let rest = &args[1..];
    let result = match task.as_str() {
        "ci" => ci::run(rest),
        "lint" => lint::run(),
        "check" => check::run(),
        "tidy" => tidy::run(),
        "workflows" => workflows::run(),
        "test" => test::run(),
        "deny" => deny::run(),
        "bench" => bench::run(rest),
        "e2e-bench" => e2e_bench::run(rest),
        "fuzz" => fuzz::run(rest),
        "hooks" => hooks::run(),
        "help" | "--help" | "-h" => {
            print_tasks();
            Ok(())
        }
        unknown => {
            eprintln!("unknown task `{unknown}`\n");
            print_tasks();
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xtask {task} failed: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn print_tasks() {
    println!("usage: cargo xtask <task> [args]\n\ntasks:");
    for (name, args, about) in TASKS {
        let usage = if args.is_empty() {
            (*name).to_owned()
        } else {
            format!("{name} {args}")
        };
        println!("  {usage:<70} {about}");
    }
}
