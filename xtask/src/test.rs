//! `cargo xtask test`: every test of the workspace, against real servers and tools.
//!
//! Tests see `RESILIENCE_CI=1`, which turns "server or tool unavailable, skipping" into a
//! failure, `REDIS_URL` (see [`crate::redis`]) and, when found, `PROMTOOL`.

use std::process::Command;

use anyhow::Result;

use crate::redis::TestRedis;
use crate::util::{cargo, execute, find_on_path, has_cargo_subcommand};

pub(crate) fn run() -> Result<()> {
    let redis = TestRedis::ensure()?;
    let promtool = std::env::var_os("PROMTOOL")
        .map(Into::into)
        .or_else(|| find_on_path("promtool"));
    if promtool.is_none() {
        println!(
            "warning: promtool not found (set PROMTOOL or put it on PATH); the exposition tests will fail"
        );
    }
    let environment = |command: &mut Command| {
        command
            .env("RESILIENCE_CI", "1")
            .env("REDIS_URL", redis.url());
        if let Some(promtool) = &promtool {
            command.env("PROMTOOL", promtool);
        }
    };

    // nextest runs test binaries in parallel processes; it does not run doctests.
    let mut tests = cargo();
    if has_cargo_subcommand("nextest") {
        tests.args([
            "nextest",
            "run",
            "--workspace",
            "--all-features",
            "--locked",
            "--profile",
            "ci",
        ]);
    } else {
        println!("cargo-nextest not found: falling back to cargo test");
        tests.args([
            "test",
            "--workspace",
            "--all-features",
            "--locked",
            "--lib",
            "--bins",
            "--tests",
        ]);
    }
    environment(&mut tests);
    execute(&mut tests)?;

    let mut doctests = cargo();
    doctests.args(["test", "--doc", "--workspace", "--all-features", "--locked"]);
    environment(&mut doctests);
    execute(&mut doctests)
}
