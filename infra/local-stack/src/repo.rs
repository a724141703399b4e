//! Where the repository is: the local stack finds template.yaml, the virtualenv and its log directory from here.

use std::path::PathBuf;

/// The repository root this crate was built in.
pub fn repo_root() -> PathBuf {
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    std::fs::canonicalize(&root).unwrap_or(root)
}
