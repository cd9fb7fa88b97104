//! The staged dedup of `mycel data stage …` over Parquet stage files, and the single-process
//! `mycel data dedup` over input files: each function calls the `mycel_data::stages` function
//! the CLI calls, with the GIL released, and returns the CLI's `--json` summary as a JSON string.
//!
//! The stage files are the CLI's (same names, schemas and key-value metadata), so stages run from
//! Python, by Ray or datatrove, and by the CLI can be mixed in one run.

use crate::{
    DEFAULT_PROFILE,
    error::{Error, Result},
    kernels::default_threshold,
    profiles::lookup,
};
use mycel_data::{
    dedup::Tier,
    formats::{Inputs, ReadOptions},
    jsonl::DEFAULT_MAX_RECORD,
    stages::{self, Shard},
};
use pyo3::prelude::*;
use std::path::PathBuf;

/// `index/count` as a [`Shard`], refused unless `0 <= index < count`.
pub fn shard(index: usize, count: usize) -> Result<Shard> {
    if index >= count {
        return Err(Error::Param(format!(
            "shard {index} of {count}: need 0 <= shard < of"
        )));
    }
    Ok(Shard { index, count })
}

/// What a run is computed with: the CLI's `--text-field`, `--id-field`, `--threshold`, `--tier`,
/// `--profile` and `--max-record-bytes`, resolved the way the CLI resolves them.
struct Run {
    profile: &'static crate::profiles::ProfileInfo,
    tier: Tier,
    threshold: f64,
    opts: ReadOptions,
}

impl Run {
    fn new(
        text_column: &str,
        id_column: Option<&str>,
        threshold: Option<f64>,
        tier: &str,
        profile: &str,
        max_record_bytes: usize,
    ) -> Result<Self> {
        let p = lookup(profile)?;
        let tier: Tier = tier.parse()?;
        Ok(Run {
            profile: p,
            tier,
            threshold: threshold.unwrap_or_else(|| default_threshold(p, tier)),
            opts: ReadOptions {
                text_field: text_column.to_owned(),
                id_field: id_column.unwrap_or_default().to_owned(),
                max_record: max_record_bytes,
            },
        })
    }
}

fn json(v: &impl serde::Serialize) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::Param(format!("summary: {e}")))
}

/// Stage 1 (`mycel data stage sign INPUTS… --shard i/n --out OUT_DIR`): signs every `of`-th
/// input unit (Parquet row group, whole JSONL or Arrow file) from the `shard`-th into
/// `out_dir/sigs-{shard}-of-{of}.parquet`. `id_column` `None` is the CLI's `--id-field ''` (the
/// doc number is the ID).
#[pyfunction]
#[pyo3(signature = (
    inputs, shard, of, out_dir, text_column = "text", id_column = None, threshold = None,
    tier = "d", profile = DEFAULT_PROFILE, max_record_bytes = DEFAULT_MAX_RECORD,
))]
#[allow(clippy::too_many_arguments)]
pub fn stage_sign(
    py: Python<'_>,
    inputs: Vec<PathBuf>,
    shard: usize,
    of: usize,
    out_dir: PathBuf,
    text_column: &str,
    id_column: Option<&str>,
    threshold: Option<f64>,
    tier: &str,
    profile: &str,
    max_record_bytes: usize,
) -> PyResult<String> {
    let run = Run::new(
        text_column,
        id_column,
        threshold,
        tier,
        profile,
        max_record_bytes,
    )?;
    let shard = self::shard(shard, of)?;
    Ok(py.detach(move || -> Result<String> {
        let inputs = Inputs::resolve(&inputs, run.opts)?;
        let s = stages::sign(
            &inputs,
            &run.profile.profile,
            run.tier,
            run.threshold,
            shard,
            &out_dir,
            &mut |_| {},
        )?;
        json(&s)
    })?)
}

/// Stage 2 (`mycel data stage candidates --sigs SIGS_DIR --bands g/G --out OUT_DIR`): candidate
/// pairs of the `group`-th of `of` groups of bands, from every signature shard in `sigs_dir`,
/// into `out_dir/candidates-{group}-of-{of}.parquet`.
#[pyfunction]
pub fn stage_candidates(
    py: Python<'_>,
    sigs_dir: PathBuf,
    group: usize,
    of: usize,
    out_dir: PathBuf,
) -> PyResult<String> {
    let group = shard(group, of)?;
    Ok(py.detach(move || -> Result<String> {
        json(&stages::candidates(&sigs_dir, group, &out_dir)?)
    })?)
}

/// Stage 3 (`mycel data stage verify --candidates CANDIDATES_DIR --inputs INPUTS… --shard i/n
/// --out OUT_DIR`): exact verification of the `shard`-th of `of` shares of every candidate pair,
/// re-reading texts from `inputs` (the list given to stage 1), into
/// `out_dir/verified-{shard}-of-{of}.parquet`.
#[pyfunction]
pub fn stage_verify(
    py: Python<'_>,
    candidates_dir: PathBuf,
    inputs: Vec<PathBuf>,
    shard: usize,
    of: usize,
    out_dir: PathBuf,
) -> PyResult<String> {
    let shard = self::shard(shard, of)?;
    Ok(py.detach(move || -> Result<String> {
        json(&stages::verify(&candidates_dir, &inputs, shard, &out_dir)?)
    })?)
}

/// Stage 4 (`mycel data stage cluster --sigs SIGS_DIR --verified VERIFIED_DIR --out OUT`): the
/// clusters file (`OUT` ends in `.parquet`) from every signature shard and verified share.
#[pyfunction]
pub fn stage_cluster(
    py: Python<'_>,
    sigs_dir: PathBuf,
    verified_dir: PathBuf,
    out: PathBuf,
) -> PyResult<String> {
    Ok(py.detach(move || -> Result<String> {
        json(&stages::cluster(&sigs_dir, &verified_dir, &out)?)
    })?)
}

/// `mycel data dedup INPUTS… --clusters OUT` in this process: Parquet when `out` ends in
/// `.parquet` (byte-identical to the staged run's clusters file), else JSON lines.
#[pyfunction]
#[pyo3(signature = (
    inputs, out, text_column = "text", id_column = None, threshold = None, tier = "d",
    profile = DEFAULT_PROFILE, max_record_bytes = DEFAULT_MAX_RECORD,
))]
#[allow(clippy::too_many_arguments)]
pub fn dedup_files(
    py: Python<'_>,
    inputs: Vec<PathBuf>,
    out: PathBuf,
    text_column: &str,
    id_column: Option<&str>,
    threshold: Option<f64>,
    tier: &str,
    profile: &str,
    max_record_bytes: usize,
) -> PyResult<String> {
    let run = Run::new(
        text_column,
        id_column,
        threshold,
        tier,
        profile,
        max_record_bytes,
    )?;
    Ok(py.detach(move || -> Result<String> {
        let inputs = Inputs::resolve(&inputs, run.opts)?;
        let s = stages::dedup_inputs(
            &inputs,
            &out,
            &run.profile.profile,
            run.tier,
            run.threshold,
            &mut |_| {},
        )?;
        json(&s)
    })?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_and_runs() {
        assert_eq!(shard(1, 3).unwrap(), Shard { index: 1, count: 3 });
        assert!(shard(3, 3).is_err());
        assert!(shard(0, 0).is_err());
        let r = Run::new("body", None, None, "l", DEFAULT_PROFILE, 10).unwrap();
        assert_eq!((r.tier, r.threshold), (Tier::L, 0.4));
        assert_eq!(
            (r.opts.text_field.as_str(), r.opts.id_field.as_str()),
            ("body", "")
        );
        let r = Run::new("text", Some("id"), Some(0.9), "d", DEFAULT_PROFILE, 10).unwrap();
        assert_eq!(
            (r.tier, r.threshold, r.opts.id_field.as_str()),
            (Tier::D, 0.9, "id")
        );
        assert!(Run::new("text", None, None, "x", DEFAULT_PROFILE, 10).is_err());
    }
}
