//! `cargo xtask tidy`: rules about the code that no compiler checks, each stated once.
//!
//! - The **Architecture Invariant** lines of `docs/architecture.md` about dependencies
//!   hold (see [`architecture`]): which crates of ours a crate may depend on, and which
//!   packages a library crate may not pull in. Every crate under `crates/` must have a
//!   dependency line, so the document cannot fall behind the code.
//! - Every metric name a library crate declares is described exactly once (see
//!   [`metrics`]).
//! - Every crate opens with crate docs (`//!`), has a `README.md`, and has a line in the
//!   root `README.md`.
//! - `compat` defines no functions of its own: it is a facade.
//!
//! The storage conformance list needs no rule here: `storage::testing` keeps it in one
//! macro and the compiler proves it matches the case functions.

mod architecture;
mod metrics;

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::util::{library_packages, metadata, project_root};

pub(crate) fn run() -> Result<()> {
    let problems = problems()?;
    if problems.is_empty() {
        println!("tidy: architecture rules, metric descriptions, crate docs and README lines hold");
        return Ok(());
    }
    for problem in &problems {
        eprintln!("tidy: {problem}");
    }
    bail!("{} tidy problem(s)", problems.len())
}

/// Every broken rule, as a sentence.
pub(crate) fn problems() -> Result<Vec<String>> {
    let root = project_root();
    let architecture = read(&root.join("docs/architecture.md"))?;
    let readme = read(&root.join("README.md"))?;
    let packages = metadata()?["packages"]
        .as_array()
        .context("cargo metadata lists no packages")?;
    let mut problems = architecture::problems(&architecture, packages)?;
    for package in packages {
        let name = package["name"].as_str().unwrap_or_default();
        let dir = package_dir(package);
        let Ok(relative) = dir.strip_prefix(&root) else {
            continue;
        };
        if !relative.starts_with("crates") {
            continue; // xtask and the benches package are tools, not architecture
        }
        let crate_doc = ["src/lib.rs", "src/main.rs"]
            .iter()
            .map(|file| dir.join(file))
            .find(|file| file.is_file());
        match crate_doc.map(|file| read(&file)) {
            Some(Ok(source)) if source.trim_start().starts_with("//!") => {}
            _ => problems.push(format!("`{name}` does not open with crate docs (`//!`)")),
        }
        if !dir.join("README.md").is_file() {
            problems.push(format!("`{name}` has no README.md"));
        }
        if !readme.contains(&format!("`{}`", relative.display())) {
            problems.push(format!(
                "the root README.md has no line for `{}`",
                relative.display()
            ));
        }
        if name == "compat" {
            problems.extend(functions_defined(&rust_files(&dir.join("src"))?));
        }
    }
    for package in library_packages()? {
        let name = package["name"].as_str().unwrap_or_default();
        let sources = rust_files(&package_dir(package).join("src"))?;
        problems.extend(metrics::problems(name, &sources));
    }
    Ok(problems)
}

/// The folder of a package's manifest.
fn package_dir(package: &serde_json::Value) -> PathBuf {
    let manifest = Path::new(package["manifest_path"].as_str().unwrap_or_default());
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// Every `.rs` file under `dir` with its text, in path order.
fn rust_files(dir: &Path) -> Result<Vec<(PathBuf, String)>> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                let text = read(&path)?;
                // Problems name files from the workspace root.
                let shown = path.strip_prefix(project_root()).unwrap_or(&path);
                files.push((shown.to_path_buf(), text));
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Function definitions in a facade crate, outside comments.
fn functions_defined(sources: &[(PathBuf, String)]) -> Vec<String> {
    let mut found = Vec::new();
    for (path, text) in sources {
        for (number, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            if code.split_whitespace().any(|word| word == "fn") {
                found.push(format!(
                    "compat defines a function at {}:{}; it must only re-export",
                    path.display(),
                    number + 1
                ));
            }
        }
    }
    found
}

fn read(path: &Path) -> Result<String> {
    fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_is_tidy() {
        let problems = problems().unwrap();
        assert!(
            problems.is_empty(),
            "tidy problems:\n{}",
            problems.join("\n")
        );
    }

    #[test]
    fn a_facade_function_is_found_outside_comments() {
        let sources = vec![(
            PathBuf::from("lib.rs"),
            "// fn in a comment\npub use x::y;\npub fn shim() {}\n".to_owned(),
        )];
        assert_eq!(
            functions_defined(&sources),
            vec!["compat defines a function at lib.rs:3; it must only re-export".to_owned()]
        );
    }
}
