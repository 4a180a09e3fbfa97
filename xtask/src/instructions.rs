//! The noise-free half of `cargo xtask bench`: instruction counts under callgrind.
//!
//! The `instructions` program (benches/benches/instructions.rs) runs one hot path N times.
//! Each case runs under `valgrind --tool=callgrind` with N and with 2N iterations; the
//! difference divided by N is the exact cost of one iteration, set-up and teardown
//! cancelled out. The same binary with the same input executes the same instructions
//! whatever else the machine does, so a 2 % gate does not flap on a busy 2-core box.
//! A small runner of our own, rather than gungraun: it needs no extra runner binary, no
//! client-request macros in the benched code, and fits in this file.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::util::{cargo, find_on_path, output, target_subdir};

/// Iterations of the shorter run; the longer one does twice as many.
const ITERATIONS: u64 = 4000;

/// `case -> instructions per iteration`.
pub(crate) fn measure(filter: Option<&str>) -> Result<BTreeMap<String, f64>> {
    let valgrind = find_on_path("valgrind").context(
        "valgrind is not on PATH; install it (Debian/Ubuntu: apt-get install -y valgrind)",
    )?;
    println!("building the instruction-count program (bench profile)...");
    let program = build()?;
    let out_dir = target_subdir("xtask-callgrind")?;
    let listed = output(Command::new(&program).arg("--list"))?;
    let cases: Vec<&str> = listed
        .lines()
        .filter(|case| filter.is_none_or(|filter| case.contains(filter)))
        .collect();
    // Each case runs twice under callgrind, which takes a while: say where the run is.
    println!(
        "counting instructions of {} case(s) under callgrind (profiles in {})",
        cases.len(),
        out_dir.display()
    );
    let started = Instant::now();
    let mut counts = BTreeMap::new();
    for (done, case) in cases.iter().copied().enumerate() {
        println!(
            "[{}/{}] {case} ({:.0}s elapsed)",
            done + 1,
            cases.len(),
            started.elapsed().as_secs_f64()
        );
        let once = count(&valgrind, &program, &out_dir, case, ITERATIONS)?;
        let twice = count(&valgrind, &program, &out_dir, case, 2 * ITERATIONS)?;
        if twice <= once {
            bail!(
                "{case}: {twice} instructions for {} iterations but {once} for {ITERATIONS}",
                2 * ITERATIONS
            );
        }
        #[allow(
            clippy::cast_precision_loss,
            reason = "instruction counts stay far below 2^52"
        )]
        let per_iteration = (twice - once) as f64 / ITERATIONS as f64;
        println!("{case:<48} {per_iteration:>10.1} instructions/iteration");
        counts.insert(case.to_owned(), per_iteration);
    }
    if counts.is_empty() {
        bail!("no instruction-count case matched");
    }
    Ok(counts)
}

/// Builds the measurement program (bench profile) and returns its path.
fn build() -> Result<PathBuf> {
    // Compiler progress goes to the terminal; the JSON messages on stdout name the binary.
    let messages = output(cargo().stderr(Stdio::inherit()).args([
        "bench",
        "--locked",
        "-p",
        "benches",
        "--bench",
        "instructions",
        "--no-run",
        "--message-format=json-render-diagnostics",
    ]))?;
    messages
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|message| message["target"]["name"] == "instructions")
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
        .context("cargo did not report the `instructions` executable")
}

/// Total instructions of one run of `case` with `iterations`.
fn count(
    valgrind: &Path,
    program: &Path,
    out_dir: &Path,
    case: &str,
    iterations: u64,
) -> Result<u64> {
    let file = out_dir.join(format!("{}-{iterations}.callgrind", case.replace('/', "_")));
    let status = Command::new(valgrind)
        .args([
            "--tool=callgrind",
            "--cache-sim=no",
            "--branch-sim=no",
            "-q",
        ])
        .arg(format!("--callgrind-out-file={}", file.display()))
        .arg(program)
        .arg(case)
        .arg(iterations.to_string())
        .status()
        .context("cannot run valgrind")?;
    if !status.success() {
        bail!("valgrind on {case} exited with {status}");
    }
    let profile =
        fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
    profile
        .lines()
        .find_map(|line| {
            line.strip_prefix("summary:")
                .or_else(|| line.strip_prefix("totals:"))
        })
        .and_then(|total| total.split_whitespace().next()?.parse().ok())
        .with_context(|| format!("no instruction total in {}", file.display()))
}
