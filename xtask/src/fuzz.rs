//! `cargo xtask fuzz [--seconds N] [--target NAME]`: run the cargo-fuzz targets of `fuzz/`
//! on the stable toolchain, each for N seconds (default 60).
//!
//! cargo-fuzz builds with `-Zsanitizer=address` and other `-Z` flags that only a nightly
//! compiler accepts; `RUSTC_BOOTSTRAP=1` makes the stable compiler accept them, which is
//! all cargo-fuzz needs (checked with cargo-fuzz 0.13 on rustc 1.95). The corpus grows in
//! `fuzz/corpus/<target>` and crashes land in `fuzz/artifacts/<target>` (both ignored by
//! git); a crash fails the task.

use anyhow::{Context, Result, bail};

use crate::util::{cargo, execute, has_cargo_subcommand, project_root};

/// Every target, with the libFuzzer dictionary it uses.
const TARGETS: &[(&str, &str)] = &[("condition", "fuzz/condition.dict")];

const DEFAULT_SECONDS: u64 = 60;

/// `cargo xtask fuzz --help`.
pub(crate) const OPTIONS: &[(&str, &str)] = &[
    ("--seconds N", "how long each target runs (default 60)"),
    ("--target NAME", "run only this target (default: every one)"),
];

pub(crate) fn run(args: &[String]) -> Result<()> {
    let mut seconds = DEFAULT_SECONDS;
    let mut only: Option<&str> = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => {
                let value = args.next().context("--seconds needs a number")?;
                seconds = value
                    .parse()
                    .with_context(|| format!("--seconds {value}: not a number"))?;
            }
            "--target" => only = Some(args.next().context("--target needs a name")?),
            other => return Err(crate::unknown_option("fuzz", other)),
        }
    }
    if !has_cargo_subcommand("fuzz") {
        bail!("cargo-fuzz is missing: install it with `cargo install --locked cargo-fuzz`");
    }
    let targets: Vec<_> = TARGETS
        .iter()
        .filter(|(name, _)| only.is_none_or(|only| only == *name))
        .collect();
    if targets.is_empty() {
        let known: Vec<_> = TARGETS.iter().map(|(name, _)| *name).collect();
        bail!(
            "no fuzz target `{}`; known: {}",
            only.unwrap_or_default(),
            known.join(", ")
        );
    }
    for (target, dictionary) in targets {
        let dictionary = project_root().join(dictionary);
        execute(
            cargo()
                .env("RUSTC_BOOTSTRAP", "1")
                .args(["fuzz", "run", target, "--"])
                .arg(format!("-max_total_time={seconds}"))
                .arg(format!("-dict={}", dictionary.display()))
                .arg("-print_final_stats=1"),
        )?;
    }
    Ok(())
}
