//! `cargo xtask lint`: formatting and clippy, warnings as errors.

use anyhow::Result;

use crate::util::{cargo, execute};

pub(crate) fn run_fmt() -> Result<()> {
    execute(cargo().args(["fmt", "--all", "--check"]))
}

pub(crate) fn run_clippy() -> Result<()> {
    execute(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--all-features",
        "--locked",
        "--",
        "-D",
        "warnings",
    ]))
}

pub(crate) fn run() -> Result<()> {
    run_fmt()?;
    run_clippy()
}
