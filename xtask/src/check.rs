//! `cargo xtask check`: type-check every target of the workspace, run the feature matrix,
//! then build the docs with warnings as errors (broken intra-doc links, missing docs).
//!
//! The feature matrix builds and tests each library crate alone (`-p`, so no other
//! member's needs unify features in) with its default features, with none and with all,
//! over whatever features the crates declare (read from `cargo metadata`):
//!
//! - `clippy --lib -D warnings` per distinct feature set: the library as a user gets it
//!   (a missing `tokio` feature that another member happened to switch on, an import
//!   unused without a feature, show up here);
//! - `clippy --all-targets -D warnings` per distinct set: tests, benches and examples
//!   under that set;
//! - nextest and doctests per distinct set that the `test` step does not already run:
//!   that step runs every test with all features, so here only the other sets.
//!
//! Sets are compared after expansion (`default` and the features each feature enables,
//! and for tests the features the crate's own dev-dependency on itself switches on), so
//! a crate without features costs two clippy runs and no test run.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::Instant;

use anyhow::{Result, bail};
use serde_json::Value;

use crate::test::Environment;
use crate::util::{cargo, execute, library_packages};

/// `cargo xtask check --help`.
pub(crate) const OPTIONS: &[(&str, &str)] = &[(
    "-p CRATE",
    "run the feature matrix for this library crate only (repeatable); the workspace check and docs still run",
)];

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

/// The `features` step of `cargo xtask ci`: the matrix for every library crate.
pub(crate) fn run_features() -> Result<()> {
    run_matrix(&[])
}

pub(crate) fn run(args: &[String]) -> Result<()> {
    let mut only = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-p" | "--package" => match args.next() {
                Some(name) => only.push(name.clone()),
                None => bail!("`{arg}` needs a crate name"),
            },
            other => return Err(crate::unknown_option("check", other)),
        }
    }
    run_check()?;
    run_matrix(&only)?;
    run_doc()
}

/// A feature selection on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Selection {
    Default,
    NoDefault,
    All,
}

impl Selection {
    const EVERY: [Self; 3] = [Self::Default, Self::NoDefault, Self::All];

    fn flags(self) -> &'static [&'static str] {
        match self {
            Self::Default => &[],
            Self::NoDefault => &["--no-default-features"],
            Self::All => &["--all-features"],
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Default => "default features",
            Self::NoDefault => "--no-default-features",
            Self::All => "--all-features",
        }
    }
}

/// One library crate's features, as the matrix needs them.
#[derive(Debug)]
struct Library {
    name: String,
    /// `feature -> what it enables`, from the manifest.
    features: BTreeMap<String, Vec<String>>,
    /// Features of its own that the crate's dev-dependency on itself enables (the usual
    /// way to reach a `testing` feature from its own tests).
    dev_features: Vec<String>,
}

impl Library {
    fn from_metadata(package: &Value) -> Self {
        let name = package["name"].as_str().unwrap_or_default().to_owned();
        let features = package["features"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(feature, enables)| {
                let enables = enables
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect();
                (feature.clone(), enables)
            })
            .collect();
        let dev_features = package["dependencies"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|dep| dep["name"] == name.as_str() && dep["kind"] == "dev")
            .flat_map(|dep| dep["features"].as_array().cloned().unwrap_or_default())
            .filter_map(|feature| feature.as_str().map(str::to_owned))
            .collect();
        Self {
            name,
            features,
            dev_features,
        }
    }

    /// The crate's own features `selection` switches on, `extra` added.
    fn enabled(&self, selection: Selection, extra: &[String]) -> BTreeSet<String> {
        let mut wanted: Vec<String> = match selection {
            Selection::Default => vec!["default".to_owned()],
            Selection::NoDefault => Vec::new(),
            Selection::All => self.features.keys().cloned().collect(),
        };
        wanted.extend_from_slice(extra);
        let mut enabled = BTreeSet::new();
        while let Some(feature) = wanted.pop() {
            let Some(enables) = self.features.get(&feature) else {
                continue; // `default` when the crate declares none
            };
            if enabled.insert(feature) {
                // `dep:x` and `x/feature` name dependencies; plain names are features.
                wanted.extend(
                    enables
                        .iter()
                        .filter(|item| !item.contains(':') && !item.contains('/'))
                        .cloned(),
                );
            }
        }
        enabled.remove("default");
        enabled
    }
}

/// The selections that give distinct feature sets, after `extra` is added to each.
fn distinct(library: &Library, extra: &[String]) -> Vec<(Selection, BTreeSet<String>)> {
    let mut seen: Vec<(Selection, BTreeSet<String>)> = Vec::new();
    for selection in Selection::EVERY {
        let enabled = library.enabled(selection, extra);
        if !seen.iter().any(|(_, known)| *known == enabled) {
            seen.push((selection, enabled));
        }
    }
    seen
}

/// One command of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    /// `cargo clippy` of the library target, `-D warnings`.
    Lib,
    /// `cargo clippy --all-targets`, `-D warnings`.
    AllTargets,
    /// nextest (or `cargo test`).
    Tests,
    Doctests,
}

/// One step of the matrix: what runs, on which crate, with which features.
#[derive(Debug)]
struct Step<'a> {
    library: &'a str,
    action: Action,
    selection: Selection,
    /// The crate's features the step ends up with, for the progress line.
    enabled: BTreeSet<String>,
}

impl Step<'_> {
    fn describe(&self) -> String {
        let action = match self.action {
            Action::Lib => "clippy --lib",
            Action::AllTargets => "clippy --all-targets",
            Action::Tests => "tests",
            Action::Doctests => "doctests",
        };
        let enabled = if self.enabled.is_empty() {
            "no features".to_owned()
        } else {
            self.enabled.iter().cloned().collect::<Vec<_>>().join(", ")
        };
        format!(
            "{} {action}, {} ({enabled})",
            self.library,
            self.selection.label()
        )
    }

    fn command(&self, environment: Option<&Environment>) -> Result<Command> {
        let scope = ["-p", self.library];
        let mut command = match (self.action, environment) {
            (Action::Lib | Action::AllTargets, _) => {
                let targets = if self.action == Action::Lib {
                    "--lib"
                } else {
                    "--all-targets"
                };
                let mut command = cargo();
                command.args(["clippy", "--locked", targets]).args(scope);
                command
            }
            (Action::Tests, Some(environment)) => environment.tests(&scope),
            (Action::Doctests, Some(environment)) => environment.doctests(&scope),
            (Action::Tests | Action::Doctests, None) => bail!("tests need a test environment"),
        };
        command.args(self.selection.flags());
        if matches!(self.action, Action::Lib | Action::AllTargets) {
            command.args(["--", "-D", "warnings"]);
        }
        Ok(command)
    }
}

/// The matrix of one library crate.
fn steps(library: &Library) -> Vec<Step<'_>> {
    let step = |action, selection, enabled| Step {
        library: &library.name,
        action,
        selection,
        enabled,
    };
    let mut steps: Vec<Step<'_>> = distinct(library, &[])
        .into_iter()
        .map(|(selection, enabled)| step(Action::Lib, selection, enabled))
        .collect();
    let tested_elsewhere = library.enabled(Selection::All, &library.dev_features);
    for (selection, enabled) in distinct(library, &library.dev_features) {
        let tested = enabled != tested_elsewhere; // else the `test` step runs them
        steps.push(step(Action::AllTargets, selection, enabled.clone()));
        if tested {
            steps.push(step(Action::Tests, selection, enabled.clone()));
            steps.push(step(Action::Doctests, selection, enabled));
        }
    }
    steps
}

/// Runs the matrix for the library crates named in `only` (every one if empty).
fn run_matrix(only: &[String]) -> Result<()> {
    let libraries: Vec<Library> = library_packages()?
        .into_iter()
        .map(Library::from_metadata)
        .filter(|library| only.is_empty() || only.contains(&library.name))
        .collect();
    for name in only {
        if !libraries.iter().any(|library| library.name == *name) {
            bail!("`{name}` is not a library crate of the workspace");
        }
    }
    let steps: Vec<Step<'_>> = libraries.iter().flat_map(steps).collect();
    // Redis and promtool only when some crate has tests to run here.
    let environment = if steps
        .iter()
        .any(|step| matches!(step.action, Action::Tests | Action::Doctests))
    {
        Some(Environment::prepare()?)
    } else {
        None
    };
    let started = Instant::now();
    for (done, step) in steps.iter().enumerate() {
        println!(
            "\n[{}/{}] feature matrix: {} ({:.0}s elapsed)",
            done + 1,
            steps.len(),
            step.describe(),
            started.elapsed().as_secs_f64()
        );
        execute(&mut step.command(environment.as_ref())?)?;
    }
    println!(
        "feature matrix: {} step(s) for {} crate(s) in {:.0}s",
        steps.len(),
        libraries.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn library(features: &Value, dev_features: &[&str]) -> Library {
        Library::from_metadata(&json!({
            "name": "x",
            "features": features,
            "dependencies": [
                {"name": "x", "kind": "dev", "features": dev_features},
                {"name": "y", "kind": "dev", "features": ["ignored"]},
            ],
        }))
    }

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|name| (*name).to_owned()).collect()
    }

    #[test]
    fn a_crate_without_features_has_one_set() {
        let plain = library(&json!({}), &[]);
        assert_eq!(distinct(&plain, &[]), vec![(Selection::Default, set(&[]))]);
    }

    #[test]
    fn defaults_and_implied_features_expand() {
        let rich = library(
            &json!({
                "default": ["http", "dep:hyper"],
                "http": ["tokio/net", "body"],
                "body": [],
                "disk": ["dep:rustix"],
                "testing": [],
            }),
            &["testing"],
        );
        assert_eq!(
            distinct(&rich, &[]),
            vec![
                (Selection::Default, set(&["body", "http"])),
                (Selection::NoDefault, set(&[])),
                (Selection::All, set(&["body", "disk", "http", "testing"])),
            ]
        );
        // Tests always have `testing`, through the dev-dependency on the crate itself.
        assert_eq!(rich.dev_features, vec!["testing".to_owned()]);
        assert_eq!(
            distinct(&rich, &rich.dev_features),
            vec![
                (Selection::Default, set(&["body", "http", "testing"])),
                (Selection::NoDefault, set(&["testing"])),
                (Selection::All, set(&["body", "disk", "http", "testing"])),
            ]
        );
    }

    #[test]
    fn sets_that_expand_alike_run_once() {
        // Like `storage` today: an empty default and a `testing` feature its own tests
        // switch on, so the tests' three sets are one, the one the `test` step runs.
        let storage = library(
            &json!({"default": [], "testing": ["tokio/rt-multi-thread"]}),
            &["testing"],
        );
        assert_eq!(
            distinct(&storage, &[]),
            vec![
                (Selection::Default, set(&[])),
                (Selection::All, set(&["testing"])),
            ]
        );
        assert_eq!(
            distinct(&storage, &storage.dev_features),
            vec![(Selection::Default, set(&["testing"]))]
        );
        assert_eq!(
            storage.enabled(Selection::All, &storage.dev_features),
            set(&["testing"])
        );
        // So: the library with and without `testing`, every target once, no test run.
        let actions: Vec<(Action, Selection)> = steps(&storage)
            .iter()
            .map(|step| (step.action, step.selection))
            .collect();
        assert_eq!(
            actions,
            vec![
                (Action::Lib, Selection::Default),
                (Action::Lib, Selection::All),
                (Action::AllTargets, Selection::Default),
            ]
        );
    }

    #[test]
    fn only_sets_the_test_step_misses_are_tested_here() {
        let health = library(&json!({"default": ["http"], "http": [], "disk": []}), &[]);
        let described: Vec<String> = steps(&health).iter().map(Step::describe).collect();
        assert_eq!(
            described,
            vec![
                "x clippy --lib, default features (http)",
                "x clippy --lib, --no-default-features (no features)",
                "x clippy --lib, --all-features (disk, http)",
                "x clippy --all-targets, default features (http)",
                "x tests, default features (http)",
                "x doctests, default features (http)",
                "x clippy --all-targets, --no-default-features (no features)",
                "x tests, --no-default-features (no features)",
                "x doctests, --no-default-features (no features)",
                "x clippy --all-targets, --all-features (disk, http)",
            ]
        );
    }
}
