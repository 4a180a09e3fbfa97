//! `cargo xtask deny`: the supply-chain policy in `deny.toml`.
//!
//! Only `bans licenses sources` run here: `advisories` fetches the RustSec database from
//! GitHub, which this environment cannot reach; the `deny` workflow runs it (allowed to
//! fail, since a new advisory can appear without any change here).

use anyhow::{Result, bail};

use crate::util::{cargo, execute, has_cargo_subcommand};

pub(crate) fn run() -> Result<()> {
    if !has_cargo_subcommand("deny") {
        bail!("cargo-deny is not installed: run `cargo install --locked --debug cargo-deny`");
    }
    execute(cargo().args([
        "deny",
        "--all-features",
        "--locked",
        "check",
        "bans",
        "licenses",
        "sources",
    ]))
}
