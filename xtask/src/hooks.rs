//! `cargo xtask hooks`: a git pre-commit hook running `cargo xtask lint` (rustfmt and
//! clippy, warnings as errors).
//!
//! The hook goes where git looks for hooks: `git rev-parse --git-path hooks`, which
//! follows `core.hooksPath` and, in a linked worktree, names the hooks folder all
//! worktrees of the repository share. A hook this task wrote carries [`SIGNATURE`] and
//! is replaced by a newer version; any other file of that name is someone's own hook and
//! is never touched: the task refuses and says how to proceed.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::util::{output, project_root};

/// The line that marks a hook as ours.
const SIGNATURE: &str = "# Installed by `cargo xtask hooks`";

const PRE_COMMIT: &str = "#!/bin/sh
# Installed by `cargo xtask hooks`; it replaces only hooks carrying this line.
# Formats and lints before every commit (`git commit --no-verify` skips it).
set -e
exec cargo xtask lint
";

/// What [`install`] did.
#[derive(Debug, PartialEq, Eq)]
enum Installed {
    New(PathBuf),
    Updated(PathBuf),
    AlreadyCurrent(PathBuf),
}

pub(crate) fn run() -> Result<()> {
    match install(&project_root())? {
        Installed::New(hook) => println!("installed {}", hook.display()),
        Installed::Updated(hook) => println!("updated {}", hook.display()),
        Installed::AlreadyCurrent(hook) => println!("{} is already current", hook.display()),
    }
    Ok(())
}

/// `git` run in `repo`, whatever repository the environment points at: the hook belongs
/// to the repository of this checkout.
fn git(repo: &Path) -> Command {
    let mut command = Command::new("git");
    command.arg("-C").arg(repo);
    for variable in [
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_COMMON_DIR",
        "GIT_INDEX_FILE",
    ] {
        command.env_remove(variable);
    }
    command
}

/// The folder git runs hooks from, for the checkout at `repo`.
fn hooks_dir(repo: &Path) -> Result<PathBuf> {
    let printed = output(git(repo).args(["rev-parse", "--git-path", "hooks"]))
        .context("cannot ask git where its hooks live (is this a git checkout?)")?;
    let path = PathBuf::from(printed.trim_end_matches(['\n', '\r']));
    // Relative paths are relative to where git ran.
    Ok(if path.is_absolute() {
        path
    } else {
        repo.join(path)
    })
}

/// Installs the pre-commit hook for the checkout at `repo`.
fn install(repo: &Path) -> Result<Installed> {
    let hooks = hooks_dir(repo)?;
    let hook = hooks.join("pre-commit");
    let outcome = match fs::read(&hook) {
        Ok(existing) if existing == PRE_COMMIT.as_bytes() => {
            return Ok(Installed::AlreadyCurrent(hook));
        }
        Ok(existing) if String::from_utf8_lossy(&existing).contains(SIGNATURE) => {
            Installed::Updated(hook.clone())
        }
        Ok(_) => bail!(
            "{} exists and was not written by `cargo xtask hooks`: leaving it alone.\n\
             To use ours, move it away and run `cargo xtask hooks` again, or call \
             `cargo xtask lint` from your own hook.",
            hook.display()
        ),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Installed::New(hook.clone()),
        Err(error) => {
            return Err(error).with_context(|| format!("cannot read {}", hook.display()));
        }
    };
    fs::create_dir_all(&hooks).with_context(|| format!("cannot create {}", hooks.display()))?;
    fs::write(&hook, PRE_COMMIT).with_context(|| format!("cannot write {}", hook.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&hook, fs::Permissions::from_mode(0o755))
            .with_context(|| format!("cannot make {} executable", hook.display()))?;
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A fresh git repository with one commit in a temporary folder, removed on drop.
    struct Repo(PathBuf);

    impl Repo {
        fn new() -> Self {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let dir = std::env::temp_dir().join(format!(
                "xtask-hooks-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            let _stale = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).unwrap();
            let repo = Self(dir);
            repo.git(&["init", "--quiet"]);
            repo.git(&[
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@example.com",
                "commit",
                "--quiet",
                "--allow-empty",
                "-m",
                "init",
            ]);
            repo
        }

        fn git(&self, args: &[&str]) -> String {
            output(git(&self.0).args(args)).unwrap()
        }

        fn path(&self, relative: &str) -> PathBuf {
            self.0.join(relative)
        }
    }

    impl Drop for Repo {
        fn drop(&mut self) {
            let _removed = fs::remove_dir_all(&self.0);
        }
    }

    fn canonical(path: &Path) -> PathBuf {
        path.canonicalize().unwrap()
    }

    #[test]
    fn installs_then_updates_its_own_hook() {
        let repo = Repo::new();
        let hook = repo.path(".git/hooks/pre-commit");
        assert_eq!(install(&repo.0).unwrap(), Installed::New(hook.clone()));
        assert_eq!(fs::read_to_string(&hook).unwrap(), PRE_COMMIT);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&hook).unwrap().permissions().mode();
            assert_eq!(mode & 0o111, 0o111, "executable");
        }
        assert_eq!(
            install(&repo.0).unwrap(),
            Installed::AlreadyCurrent(hook.clone())
        );
        // An older version of ours (it carries the signature) is replaced.
        fs::write(
            &hook,
            format!("#!/bin/sh\n{SIGNATURE}\ncargo fmt --check\n"),
        )
        .unwrap();
        assert_eq!(install(&repo.0).unwrap(), Installed::Updated(hook.clone()));
        assert_eq!(fs::read_to_string(&hook).unwrap(), PRE_COMMIT);
    }

    #[test]
    fn never_overwrites_a_hook_it_did_not_write() {
        let repo = Repo::new();
        let hook = repo.path(".git/hooks/pre-commit");
        let theirs = "#!/bin/sh\nmake lint\n";
        fs::write(&hook, theirs).unwrap();
        let error = install(&repo.0).unwrap_err().to_string();
        assert!(
            error.contains("was not written by `cargo xtask hooks`"),
            "{error}"
        );
        assert_eq!(fs::read_to_string(&hook).unwrap(), theirs);
    }

    #[test]
    fn follows_core_hooks_path() {
        let repo = Repo::new();
        repo.git(&["config", "core.hooksPath", "tools/hooks"]);
        let Installed::New(hook) = install(&repo.0).unwrap() else {
            panic!("expected a new hook");
        };
        assert_eq!(
            canonical(&hook),
            canonical(&repo.path("tools/hooks")).join("pre-commit")
        );
        assert!(!repo.path(".git/hooks/pre-commit").exists());
    }

    #[test]
    fn a_linked_worktree_installs_into_the_shared_hooks() {
        let repo = Repo::new();
        let linked = repo.path("linked");
        repo.git(&["worktree", "add", "--quiet", "linked"]);
        // In a linked worktree `.git` is a file, so `.git/hooks` is no folder at all.
        assert!(linked.join(".git").is_file());
        let Installed::New(hook) = install(&linked).unwrap() else {
            panic!("expected a new hook");
        };
        assert_eq!(
            canonical(&hook),
            canonical(&repo.path(".git/hooks")).join("pre-commit")
        );
        // And the main checkout sees it as its own.
        assert_eq!(
            install(&repo.0).unwrap(),
            Installed::AlreadyCurrent(repo.path(".git/hooks/pre-commit"))
        );
    }
}
