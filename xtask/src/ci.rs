//! `cargo xtask ci`: every step, in order, stopping at the first failure and naming it,
//! with one summary line per step.

use std::time::Instant;

use anyhow::{Result, bail};

use crate::{bench, check, deny, lint, test, tidy, workflows};

type Step = (&'static str, fn() -> Result<()>);

pub(crate) const STEPS: &[Step] = &[
    ("fmt", lint::run_fmt),
    ("clippy", lint::run_clippy),
    ("check", check::run_check),
    ("doc", check::run_doc),
    ("tidy", tidy::run),
    ("workflows", workflows::run),
    ("test", test::run),
    ("features", check::run_features),
    ("deny", deny::run),
    ("bench", bench::run_ci),
];

pub(crate) fn run() -> Result<()> {
    let started = Instant::now();
    let mut summary = Vec::new();
    for (name, step) in STEPS {
        println!("\n==> ci step `{name}`");
        let step_started = Instant::now();
        let outcome = step();
        let line = format!(
            "{:<6} {name:<9} {:>7.1}s",
            if outcome.is_ok() { "ok" } else { "FAILED" },
            step_started.elapsed().as_secs_f64()
        );
        println!("{line}");
        summary.push(line);
        if let Err(error) = outcome {
            print_summary(&summary, started);
            bail!("ci step `{name}` failed: {error:#}");
        }
    }
    print_summary(&summary, started);
    Ok(())
}

fn print_summary(lines: &[String], started: Instant) {
    println!("\nci summary:");
    for line in lines {
        println!("  {line}");
    }
    println!("  total {:>19.1}s", started.elapsed().as_secs_f64());
}
