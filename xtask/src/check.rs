//! `cargo xtask check`: type-check every target, then build the docs with warnings as
//! errors (broken intra-doc links, missing docs).

use anyhow::Result;

use crate::util::{cargo, execute};

pub(crate) fn run_check() -> Result<()> {
    execute(cargo().args([
        "check",
        "--workspace",
        "--all-targets",
        "--all-features",
        "--locked",
    ]))
}

pub(crate) fn run_doc() -> Result<()> {
    execute(
        cargo()
            .args([
                "doc",
                "--workspace",
                "--no-deps",
                "--all-features",
                "--locked",
            ])
            .env("RUSTDOCFLAGS", "-D warnings"),
    )
}

pub(crate) fn run() -> Result<()> {
    run_check()?;
    run_doc()
}
