//! The dependency rules of `docs/architecture.md`, checked against cargo.
//!
//! A line starting with **Architecture Invariant:** that reads `` `x` depends only on
//! `a` and `b`. `` (or `` `x` depends on no crate of ours. ``) is a rule: the crates of
//! ours `x` may depend on (normal and build dependencies), from `cargo metadata`. Every
//! crate under `crates/` needs one. Other invariant lines are prose.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::Result;
use serde_json::Value;

use crate::util::project_root;

/// What marks an invariant line.
pub(super) const INVARIANT: &str = "**Architecture Invariant:**";

/// One rule read from an invariant line.
#[derive(Debug, PartialEq, Eq)]
enum Rule {
    /// The crates of ours `subject` may depend on.
    DependsOnly {
        subject: String,
        allowed: BTreeSet<String>,
    },
}

/// The rules of the document's invariant lines, in order.
fn rules(architecture: &str) -> Vec<Rule> {
    architecture
        .lines()
        .filter_map(|line| line.trim_start().strip_prefix(INVARIANT))
        .filter_map(|rule| {
            let mut names = rule.split('`').skip(1).step_by(2).map(str::to_owned);
            let subject = names.next()?;
            if rule.contains(" depends ") {
                let allowed = if rule.contains("no crate of ours") {
                    BTreeSet::new()
                } else {
                    names.collect()
                };
                Some(Rule::DependsOnly { subject, allowed })
            } else {
                None
            }
        })
        .collect()
}

/// Every broken dependency rule, and every crate under `crates/` without one.
pub(super) fn problems(architecture: &str, packages: &[Value]) -> Result<Vec<String>> {
    let rules = rules(architecture);
    let mut allowed: BTreeMap<&str, &BTreeSet<String>> = BTreeMap::new();
    for Rule::DependsOnly {
        subject,
        allowed: crates,
    } in &rules
    {
        allowed.insert(subject, crates);
    }
    let root = project_root();
    let ours: BTreeSet<&str> = packages
        .iter()
        .filter_map(|package| package["name"].as_str())
        .collect();
    let mut problems = Vec::new();
    for package in packages {
        let name = package["name"].as_str().unwrap_or_default();
        let manifest = Path::new(package["manifest_path"].as_str().unwrap_or_default());
        if !manifest.starts_with(root.join("crates")) {
            continue; // xtask and the benches package are tools, not architecture
        }
        let internal: BTreeSet<&str> = package["dependencies"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|dep| dep["kind"].is_null() || dep["kind"] == "build")
            .filter_map(|dep| dep["name"].as_str())
            .filter(|dep| ours.contains(dep))
            .collect();
        match allowed.get(name) {
            None => problems.push(format!(
                "`{name}` has no `{INVARIANT} `{name}` depends ...` line in docs/architecture.md"
            )),
            Some(allowed) => {
                for dep in internal.into_iter().filter(|dep| !allowed.contains(*dep)) {
                    problems.push(format!(
                        "`{name}` depends on `{dep}`, which docs/architecture.md does not allow"
                    ));
                }
            }
        }
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|name| (*name).to_owned()).collect()
    }

    #[test]
    fn invariant_lines_parse() {
        let doc = "\
**Architecture Invariant:** `storage` depends on no crate of ours.
**Architecture Invariant:** `health` depends only on `storage` and `health-sinks`.
**Architecture Invariant:** `server` never logs a token.
";
        assert_eq!(
            rules(doc),
            vec![
                Rule::DependsOnly {
                    subject: "storage".to_owned(),
                    allowed: names(&[]),
                },
                Rule::DependsOnly {
                    subject: "health".to_owned(),
                    allowed: names(&["storage", "health-sinks"]),
                },
            ]
        );
    }
}
