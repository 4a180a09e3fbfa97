//! The dependency rules of `docs/architecture.md`, checked against cargo.
//!
//! Two kinds of line starting with **Architecture Invariant:** are rules (the document's
//! introduction gives their syntax; other invariant lines are prose):
//!
//! - `` `x` depends only on `a` and `b`. `` (or `` `x` depends on no crate of ours. ``):
//!   the crates of ours `x` may depend on (normal and build dependencies), from
//!   `cargo metadata`. Every crate under `crates/` needs one.
//! - `` `x` never pulls in `p`, `q` or `r`. ``: none of these packages is in the tree
//!   of `x` built alone with its default features, normal dependencies only, on this
//!   platform: what `cargo tree -p x -e normal` lists, which is cargo's own feature
//!   resolution for exactly that selection. (`cargo metadata`'s resolve cannot answer
//!   this: it unifies features over the whole workspace, so a feature the server turns
//!   on would show up in every crate that shares the dependency.)

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::Result;
use serde_json::Value;

use crate::util::{cargo, output, project_root};

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
    /// Packages that must not be in the default-feature tree of `subject`.
    NeverPullsIn {
        subject: String,
        banned: BTreeSet<String>,
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
            if rule.contains(" never pulls in ") {
                let banned = names.collect();
                Some(Rule::NeverPullsIn { subject, banned })
            } else if rule.contains(" depends ") {
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
    let mut banned: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for rule in &rules {
        match rule {
            Rule::DependsOnly {
                subject,
                allowed: crates,
            } => {
                allowed.insert(subject, crates);
            }
            Rule::NeverPullsIn {
                subject,
                banned: names,
            } => {
                banned
                    .entry(subject)
                    .or_default()
                    .extend(names.iter().map(String::as_str));
            }
        }
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
    for (subject, names) in banned {
        if !ours.contains(subject) {
            problems.push(format!(
                "docs/architecture.md says `{subject}` never pulls in {}, but the workspace has no crate `{subject}`",
                quoted(&names)
            ));
            continue;
        }
        let tree = default_tree(subject)?;
        for name in names.into_iter().filter(|name| tree.contains(*name)) {
            problems.push(format!(
                "`{subject}` pulls in `{name}` (alone, default features, normal dependencies), \
                 which docs/architecture.md rules out; `cargo tree -p {subject} -e normal -i {name}` shows how"
            ));
        }
    }
    Ok(problems)
}

/// The packages in the tree of `package` built alone with its default features, normal
/// dependencies only, on this platform.
fn default_tree(package: &str) -> Result<BTreeSet<String>> {
    let listing = output(cargo().args([
        "tree",
        "--package",
        package,
        "--edges",
        "normal",
        "--prefix",
        "none",
        "--format",
        "{p}",
        "--locked",
        "--offline",
    ]))?;
    Ok(listing
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect())
}

fn quoted(names: &BTreeSet<&str>) -> String {
    names
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
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
**Architecture Invariant:** `fallback` never pulls in `hyper`, `sysinfo`, `rustix` or `metrics-exporter-prometheus`.
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
                Rule::NeverPullsIn {
                    subject: "fallback".to_owned(),
                    banned: names(&["hyper", "sysinfo", "rustix", "metrics-exporter-prometheus"]),
                },
            ]
        );
    }

    #[test]
    fn a_banned_package_in_the_tree_is_reported() {
        // `storage` pulls in tokio today; a rule saying otherwise must fail, and name how
        // to find the path.
        let packages = metadata_packages();
        let doc = format!(
            "{INVARIANT} `storage` never pulls in `tokio` or `hyper`.\n\
             {INVARIANT} `nonexistent` never pulls in `tokio`.\n"
        );
        let problems = problems(&doc, &packages).unwrap();
        let about: Vec<&String> = problems
            .iter()
            .filter(|problem| problem.contains("pulls in"))
            .collect();
        assert_eq!(about.len(), 2, "{problems:#?}");
        assert!(about[0].contains("no crate `nonexistent`"), "{}", about[0]);
        assert!(
            about[1].starts_with("`storage` pulls in `tokio`")
                && about[1].contains("cargo tree -p storage -e normal -i tokio"),
            "{}",
            about[1]
        );
    }

    fn metadata_packages() -> Vec<Value> {
        crate::util::metadata().unwrap()["packages"]
            .as_array()
            .unwrap()
            .clone()
    }
}
