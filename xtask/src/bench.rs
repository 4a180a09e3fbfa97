//! `cargo xtask bench`: run the criterion benches, save their medians as a baseline, or
//! compare a run against one and fail on a regression; with `--instructions`, the same
//! with exact instruction counts of the hot paths (see [`crate::instructions`]).
//!
//! criterion never fails a build by itself, so the gate lives here: it reads
//! `<CRITERION_HOME>/**/new/{benchmark,estimates}.json` (median, nanoseconds) of a fresh
//! run, `CRITERION_HOME` being `xtask-bench/` under cargo's target directory. Wall-clock
//! medians on a shared 2-core machine move by tens of percent, so their default
//! threshold is generous (25 %); instruction counts repeat exactly, so theirs is tight
//! (2 %). Baselines live in `benches/baselines/`, beside the bench code.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::instructions;
use crate::util::{cargo, execute, metadata, output, project_root, target_dir};

const WALL_CLOCK_THRESHOLD: f64 = 25.0;
const INSTRUCTIONS_THRESHOLD: f64 = 2.0;
const WALL_CLOCK_UNIT: &str = "median nanoseconds per iteration";
const INSTRUCTIONS_UNIT: &str = "instructions per iteration (callgrind)";
/// The committed instruction-count baseline `cargo xtask ci` gates on.
const INSTRUCTIONS_BASELINE: &str = "benches/baselines/instructions.json";
/// The bench target that is a plain program run under callgrind, not a criterion bench.
const INSTRUCTIONS_TARGET: &str = "instructions";

/// `cargo xtask bench --help`.
pub(crate) const OPTIONS: &[(&str, &str)] = &[
    (
        "--no-run",
        "compile every bench and run nothing (the first half of the ci step)",
    ),
    (
        "--instructions",
        "count the hot paths' instructions under callgrind instead of timing them",
    ),
    (
        "--quick",
        "criterion: 1 s warm-up and 2 s measurement per bench",
    ),
    ("--filter TEXT", "only the benches whose id contains TEXT"),
    (
        "--save FILE",
        "write the results to FILE as a baseline (JSON)",
    ),
    (
        "--compare FILE",
        "compare with the baseline in FILE; fail on a regression past the threshold",
    ),
    (
        "--threshold N%",
        "the regression threshold of --compare (default 25% wall-clock, 2% instructions)",
    ),
];

#[derive(Debug, Default)]
struct Options {
    no_run: bool,
    quick: bool,
    instructions: bool,
    save: Option<PathBuf>,
    compare: Option<PathBuf>,
    threshold: Option<f64>,
    filter: Option<String>,
}

pub(crate) fn run(args: &[String]) -> Result<()> {
    let options = parse(args)?;
    if options.no_run {
        return compile();
    }
    let (medians, unit, default_threshold) = if options.instructions {
        let counts = instructions::measure(options.filter.as_deref())?;
        (counts, INSTRUCTIONS_UNIT, INSTRUCTIONS_THRESHOLD)
    } else {
        (measure(&options)?, WALL_CLOCK_UNIT, WALL_CLOCK_THRESHOLD)
    };
    if let Some(path) = &options.save {
        save(path, &medians, unit)?;
    }
    if let Some(path) = &options.compare {
        let threshold = options.threshold.unwrap_or(default_threshold);
        if options.instructions {
            compare_instructions(path, &medians, threshold)?;
        } else {
            compare(path, &read_json(path)?, &medians, unit, threshold)?;
        }
    }
    if options.save.is_none() && options.compare.is_none() && !options.instructions {
        print_medians(&medians);
    }
    Ok(())
}

/// The `bench` step of `cargo xtask ci`: every bench compiles, and the hot paths' exact
/// instruction counts stay within 2 % of the committed baseline.
pub(crate) fn run_ci() -> Result<()> {
    compile()?;
    let baseline = project_root().join(INSTRUCTIONS_BASELINE);
    let counts = instructions::measure(None)?;
    compare_instructions(&baseline, &counts, INSTRUCTIONS_THRESHOLD)
}

/// Compares instruction counts, gating only on the kind of machine the baseline was
/// measured on.
///
/// Counts repeat exactly for one binary on one kind of machine, but glibc picks `memcpy`
/// and friends by CPU features, and valgrind's version decides which of them it exposes:
/// on another machine the counts legitimately differ, so there the table is printed and
/// a regression only warns.
fn compare_instructions(
    baseline: &Path,
    counts: &BTreeMap<String, f64>,
    threshold: f64,
) -> Result<()> {
    let recorded = read_json(baseline)?;
    let outcome = compare(baseline, &recorded, counts, INSTRUCTIONS_UNIT, threshold);
    let here = instruction_machine();
    if recorded["machine"]["instructions"] == here {
        return outcome;
    }
    if let Err(error) = outcome {
        println!(
            "warning: {error:#}\n(the baseline was measured on {}, this machine is {here}: not gating)",
            recorded["machine"]["instructions"]
        );
    }
    Ok(())
}

/// What instruction counts depend on besides our code: CPU model, the CPU features glibc
/// dispatches on, and valgrind's version.
fn instruction_machine() -> Value {
    let info = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let flags = cpuinfo_field(&info, "flags").unwrap_or_default();
    let dispatch: Vec<&str> = [
        "sse4_2", "avx", "avx2", "bmi2", "erms", "fsrm", "avx512f", "avx512bw", "avx512vl",
    ]
    .into_iter()
    .filter(|feature| flags.split_whitespace().any(|flag| flag == *feature))
    .collect();
    json!({
        "cpu": cpuinfo_field(&info, "model name").unwrap_or_default(),
        "features": dispatch,
        "valgrind": trimmed_output(Command::new("valgrind").arg("--version")),
    })
}

/// `cargo bench` of the bench targets `target` names (`*` for all), resolving features as
/// for the whole workspace so that every invocation reuses the same build.
fn cargo_bench(target: &str) -> Command {
    let mut command = cargo();
    command.args([
        "bench",
        "--workspace",
        "--all-features",
        "--locked",
        "--bench",
        target,
    ]);
    command
}

fn compile() -> Result<()> {
    execute(cargo_bench("*").arg("--no-run"))
}

/// The criterion bench targets of the workspace, as `(package, target)`.
fn criterion_targets() -> Result<Vec<(String, String)>> {
    let mut targets = Vec::new();
    for package in metadata()?["packages"].as_array().into_iter().flatten() {
        for target in package["targets"].as_array().into_iter().flatten() {
            let is_bench = target["kind"]
                .as_array()
                .is_some_and(|kinds| kinds.iter().any(|kind| kind == "bench"));
            let name = target["name"].as_str().unwrap_or_default();
            if is_bench && name != INSTRUCTIONS_TARGET {
                let package = package["name"].as_str().unwrap_or_default();
                targets.push((package.to_owned(), name.to_owned()));
            }
        }
    }
    targets.sort();
    Ok(targets)
}

fn parse(args: &[String]) -> Result<Options> {
    let mut options = Options::default();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| {
            args.next()
                .cloned()
                .with_context(|| format!("`{flag}` needs a value"))
        };
        match arg.as_str() {
            "--no-run" => options.no_run = true,
            "--quick" => options.quick = true,
            "--instructions" => options.instructions = true,
            "--save" => options.save = Some(value("--save")?.into()),
            "--compare" => options.compare = Some(value("--compare")?.into()),
            "--filter" => options.filter = Some(value("--filter")?),
            "--threshold" => {
                let raw = value("--threshold")?;
                let percent: f64 = raw.trim_end_matches('%').parse().with_context(|| {
                    format!("`--threshold {raw}` is not a percentage such as 25%")
                })?;
                if !(percent.is_finite() && percent >= 0.0) {
                    bail!("`--threshold {raw}` must be a non-negative percentage");
                }
                options.threshold = Some(percent);
            }
            other => return Err(crate::unknown_option("bench", other)),
        }
    }
    if options.threshold.is_some() && options.compare.is_none() {
        bail!("`--threshold` only makes sense with `--compare FILE`");
    }
    Ok(options)
}

/// Runs the benches into a fresh criterion home and returns `id -> median ns`.
///
/// One bench target at a time, so that a run of several minutes says where it is.
fn measure(options: &Options) -> Result<BTreeMap<String, f64>> {
    let home = target_dir()?.join("xtask-bench");
    if home.exists() {
        fs::remove_dir_all(&home).with_context(|| format!("cannot clear {}", home.display()))?;
    }
    let targets = criterion_targets()?;
    println!(
        "running {} criterion bench target(s); results in {}",
        targets.len(),
        home.display()
    );
    let started = Instant::now();
    for (done, (package, target)) in targets.iter().enumerate() {
        println!(
            "\n[{}/{}] bench target `{target}` of `{package}` ({:.0}s elapsed)",
            done + 1,
            targets.len(),
            started.elapsed().as_secs_f64()
        );
        let mut command = cargo_bench(target);
        command
            .args(["--", "--noplot"])
            .env("CRITERION_HOME", &home);
        if options.quick {
            command.args(["--warm-up-time", "1", "--measurement-time", "2"]);
        }
        if let Some(filter) = &options.filter {
            command.arg(filter);
        }
        execute(&mut command)?;
    }
    println!("benches done in {:.0}s", started.elapsed().as_secs_f64());
    let mut medians = BTreeMap::new();
    collect(&home, &mut medians)?;
    if medians.is_empty() {
        bail!("no criterion results under {}", home.display());
    }
    Ok(medians)
}

fn collect(dir: &Path, medians: &mut BTreeMap<String, f64>) -> Result<()> {
    for entry in fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry?.path();
        if !path.is_dir() {
            continue;
        }
        if path.file_name().is_some_and(|name| name == "new") {
            let benchmark: Value = read_json(&path.join("benchmark.json"))?;
            let estimates: Value = read_json(&path.join("estimates.json"))?;
            let id = benchmark["full_id"]
                .as_str()
                .context("benchmark.json without full_id")?;
            let median = estimates["median"]["point_estimate"]
                .as_f64()
                .context("estimates.json without a median")?;
            medians.insert(id.to_owned(), median);
        } else {
            collect(&path, medians)?;
        }
    }
    Ok(())
}

fn save(path: &Path, medians: &BTreeMap<String, f64>, unit: &str) -> Result<()> {
    let baseline = json!({
        "machine": if unit == INSTRUCTIONS_UNIT {
            json!({"summary": machine(), "instructions": instruction_machine()})
        } else {
            machine()
        },
        "date": utc_now(),
        "commit": trimmed_output(Command::new("git").args(["rev-parse", "HEAD"]).current_dir(project_root())),
        "unit": unit,
        "benchmarks": medians,
    });
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let text = serde_json::to_string_pretty(&baseline)? + "\n";
    fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    println!("saved {} results to {}", medians.len(), path.display());
    Ok(())
}

/// Compares `now` with `baseline`, read from `path`; fails if any result regressed past
/// `threshold` percent.
fn compare(
    path: &Path,
    baseline: &Value,
    now: &BTreeMap<String, f64>,
    unit: &str,
    threshold: f64,
) -> Result<()> {
    if baseline["unit"] != unit {
        bail!(
            "{} holds {}, but this run measured {unit}",
            path.display(),
            baseline["unit"]
        );
    }
    let format = if unit.starts_with("instructions") {
        format_count
    } else {
        format_ns
    };
    let before: BTreeMap<String, f64> = baseline["benchmarks"]
        .as_object()
        .with_context(|| format!("{} has no `benchmarks` object", path.display()))?
        .iter()
        .filter_map(|(id, ns)| ns.as_f64().map(|ns| (id.clone(), ns)))
        .collect();
    println!(
        "\n{:<60} {:>12} {:>12} {:>9}",
        "benchmark", "baseline", "now", "change"
    );
    let mut regressions = Vec::new();
    for (id, ns) in now {
        let Some(base) = before.get(id) else {
            println!("{id:<60} {:>12} {:>12} {:>9}", "-", format(*ns), "new");
            continue;
        };
        let change = (ns - base) / base * 100.0;
        let flag = if change > threshold {
            "  REGRESSED"
        } else {
            ""
        };
        println!(
            "{id:<60} {:>12} {:>12} {change:>+8.1}%{flag}",
            format(*base),
            format(*ns)
        );
        if change > threshold {
            regressions.push(format!("{id}: {change:+.1}%"));
        }
    }
    for id in before.keys().filter(|id| !now.contains_key(*id)) {
        println!("{id:<60} {:>12} {:>12} {:>9}", "", "-", "missing");
    }
    if !regressions.is_empty() {
        bail!(
            "{} benchmark(s) regressed past {threshold}%: {}",
            regressions.len(),
            regressions.join(", ")
        );
    }
    println!("no regression past {threshold}%");
    Ok(())
}

fn print_medians(medians: &BTreeMap<String, f64>) {
    for (id, ns) in medians {
        println!("{id:<60} {:>12}", format_ns(*ns));
    }
}

fn format_count(count: f64) -> String {
    format!("{count:.1}")
}

fn format_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

fn read_json(path: &Path) -> Result<Value> {
    let text =
        fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
}

/// What the numbers were measured on.
fn machine() -> Value {
    let info = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    json!({
        "os": std::env::consts::OS,
        "arch": std::env::consts::ARCH,
        "cpu": cpuinfo_field(&info, "model name").unwrap_or_else(|| "unknown".to_owned()),
        "cores": std::thread::available_parallelism().map_or(0, usize::from),
        "rustc": trimmed_output(Command::new("rustc").arg("--version")),
    })
}

/// The value of the first line of `/proc/cpuinfo` (`info`) starting with `name`.
fn cpuinfo_field(info: &str, name: &str) -> Option<String> {
    let line = info.lines().find(|line| line.starts_with(name))?;
    line.split_once(':')
        .map(|(_, value)| value.trim().to_owned())
}

/// What `command` prints, trimmed; empty if it cannot run or fails.
fn trimmed_output(command: &mut Command) -> String {
    output(command)
        .map(|text| text.trim().to_owned())
        .unwrap_or_default()
}

/// The current UTC time as RFC 3339, without a date crate.
fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(i64::try_from(days).unwrap_or(0));
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(20_784), (2026, 11, 27));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }

    #[test]
    fn options_parse_and_refuse_nonsense() {
        let args = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let options = parse(&args(&["--compare", "base.json", "--threshold", "2%"])).unwrap();
        assert_eq!(options.threshold, Some(2.0));
        assert!(parse(&args(&["--threshold", "5%"])).is_err());
        assert!(parse(&args(&["--compare"])).is_err());
        assert!(parse(&args(&["--threshold", "x", "--compare", "b"])).is_err());
        assert!(parse(&args(&["--frobnicate"])).is_err());
    }
}
