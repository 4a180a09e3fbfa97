//! `cargo xtask tidy`: the rules `docs/architecture.md` states hold in the code.
//!
//! - Every `**Architecture Invariant:** \`crate\` depends ...` line of the architecture
//!   document is enforced against `cargo metadata`: a crate may depend (normal or build
//!   dependencies) only on the crates of ours its line names. Every crate under `crates/`
//!   must have such a line, so the document cannot fall behind the code.
//! - Every crate opens with crate docs (`//!`), has a `README.md`, and has a line in the
//!   root `README.md`.
//! - `compat` defines no functions of its own: it is a facade.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::util::{metadata, project_root};

const INVARIANT: &str = "**Architecture Invariant:**";

pub(crate) fn run() -> Result<()> {
    let problems = problems()?;
    if problems.is_empty() {
        println!("tidy: architecture rules, crate docs and README lines hold");
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
    let rules = dependency_rules(&architecture);
    let metadata = metadata()?;

    let packages = metadata["packages"].as_array().cloned().unwrap_or_default();
    let ours: BTreeSet<String> = packages
        .iter()
        .filter_map(|p| p["name"].as_str().map(str::to_owned))
        .collect();
    let mut problems = Vec::new();
    for package in &packages {
        let name = package["name"].as_str().unwrap_or_default();
        let manifest = Path::new(package["manifest_path"].as_str().unwrap_or_default());
        let dir = manifest.parent().unwrap_or(&root);
        let Ok(relative) = dir.strip_prefix(&root) else {
            continue;
        };
        if !relative.starts_with("crates") {
            continue; // xtask and the benches package are tools, not architecture
        }
        let internal: BTreeSet<String> = package["dependencies"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|dep| dep["kind"].is_null() || dep["kind"] == "build")
            .filter_map(|dep| dep["name"].as_str())
            .filter(|dep| ours.contains(*dep))
            .map(str::to_owned)
            .collect();
        match rules.get(name) {
            None => problems.push(format!(
                "`{name}` has no `{INVARIANT} `{name}` depends ...` line in docs/architecture.md"
            )),
            Some(allowed) => {
                for dep in internal.difference(allowed) {
                    problems.push(format!(
                        "`{name}` depends on `{dep}`, which docs/architecture.md does not allow"
                    ));
                }
            }
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
            problems.extend(functions_defined(&dir.join("src"))?);
        }
    }
    Ok(problems)
}

/// `crate -> crates of ours it may depend on`, from the invariant lines.
fn dependency_rules(architecture: &str) -> BTreeMap<String, BTreeSet<String>> {
    architecture
        .lines()
        .filter_map(|line| line.split_once(INVARIANT).map(|(_, rule)| rule))
        .filter(|rule| rule.contains(" depends "))
        .filter_map(|rule| {
            let mut names = rule.split('`').skip(1).step_by(2).map(str::to_owned);
            let subject = names.next()?;
            let allowed = if rule.contains("no crate of ours") {
                BTreeSet::new()
            } else {
                names.collect()
            };
            Some((subject, allowed))
        })
        .collect()
}

/// Function definitions in a facade crate, outside comments.
fn functions_defined(src: &Path) -> Result<Vec<String>> {
    let mut found = Vec::new();
    for entry in fs::read_dir(src).with_context(|| format!("cannot list {}", src.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            found.extend(functions_defined(&path)?);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            for (number, line) in read(&path)?.lines().enumerate() {
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
    }
    Ok(found)
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
    fn invariant_lines_parse() {
        let doc = "\
**Architecture Invariant:** `storage` depends on no crate of ours.
**Architecture Invariant:** `health` depends only on `storage` and `health-sinks`.
**Architecture Invariant:** `server` never logs a token.
";
        let rules = dependency_rules(doc);
        assert_eq!(rules.len(), 2);
        assert!(rules["storage"].is_empty());
        assert_eq!(
            rules["health"],
            BTreeSet::from(["storage".to_owned(), "health-sinks".to_owned()])
        );
    }
}
