//! `cargo xtask test`: every test of the workspace, against real servers and tools.
//!
//! Tests see `RESILIENCE_CI=1`, which turns "server or tool unavailable, skipping" into a
//! failure, `REDIS_URL` (see [`crate::redis`]) and, when found, `PROMTOOL`.

use std::path::PathBuf;
use std::process::Command;

use anyhow::Result;

use crate::redis::TestRedis;
use crate::util::{cargo, execute, find_on_path, has_cargo_subcommand};

/// What tests run against: a Redis server (stopped when this drops) and promtool.
pub(crate) struct Environment {
    redis: TestRedis,
    promtool: Option<PathBuf>,
    nextest: bool,
}

impl Environment {
    pub(crate) fn prepare() -> Result<Self> {
        let redis = TestRedis::ensure()?;
        let promtool = std::env::var_os("PROMTOOL")
            .map(Into::into)
            .or_else(|| find_on_path("promtool"));
        if promtool.is_none() {
            println!(
                "warning: promtool not found (set PROMTOOL or put it on PATH); the exposition tests will fail"
            );
        }
        let nextest = has_cargo_subcommand("nextest");
        if !nextest {
            println!("cargo-nextest not found: falling back to cargo test");
        }
        Ok(Self {
            redis,
            promtool,
            nextest,
        })
    }

    fn command(&self) -> Command {
        let mut command = cargo();
        command
            .env("RESILIENCE_CI", "1")
            .env("REDIS_URL", self.redis.url());
        if let Some(promtool) = &self.promtool {
            command.env("PROMTOOL", promtool);
        }
        command
    }

    /// The unit and integration tests of `scope` (`--workspace`, `-p name`, ...):
    /// nextest, which runs test binaries in parallel processes, or `cargo test`.
    pub(crate) fn tests(&self, scope: &[&str]) -> Command {
        let mut command = self.command();
        if self.nextest {
            command
                .args(["nextest", "run", "--locked", "--profile", "ci"])
                // A crate whose tests all need a feature has none without it.
                .arg("--no-tests=warn");
        } else {
            command.args(["test", "--locked", "--lib", "--bins", "--tests"]);
        }
        command.args(scope);
        command
    }

    /// The doctests of `scope`, which nextest does not run.
    pub(crate) fn doctests(&self, scope: &[&str]) -> Command {
        let mut command = self.command();
        command.args(["test", "--locked", "--doc"]).args(scope);
        command
    }
}

pub(crate) fn run() -> Result<()> {
    let environment = Environment::prepare()?;
    let scope = ["--workspace", "--all-features"];
    execute(&mut environment.tests(&scope))?;
    execute(&mut environment.doctests(&scope))
}
