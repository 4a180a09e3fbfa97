//! `cargo xtask hooks`: a git pre-commit hook running what `cargo xtask lint` runs.

use std::fs;

use anyhow::{Context, Result};

use crate::util::project_root;

const PRE_COMMIT: &str = "#!/bin/sh
# Installed by `cargo xtask hooks`: format and lint before every commit.
set -e
cargo fmt --all --check
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings
";

pub(crate) fn run() -> Result<()> {
    let hooks = project_root().join(".git").join("hooks");
    fs::create_dir_all(&hooks).with_context(|| format!("cannot create {}", hooks.display()))?;
    let hook = hooks.join("pre-commit");
    fs::write(&hook, PRE_COMMIT).with_context(|| format!("cannot write {}", hook.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&hook, fs::Permissions::from_mode(0o755))
            .with_context(|| format!("cannot make {} executable", hook.display()))?;
    }
    println!("installed {}", hook.display());
    Ok(())
}
