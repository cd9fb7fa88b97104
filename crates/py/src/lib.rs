//! Python bindings of the mycel data kernels (MinHash signatures, two-pass near-dup clustering
//! with exact evidence) over Arrow batches, and a client of the node API.
//!
//! This crate is the extension module `mycel_data._native` of the `mycel-data` wheel (built
//! with maturin, abi3 for CPython >= 3.11); the Python package `mycel_data`
//! (`python/mycel_data/`) wraps it. Every function runs the same code as `mycel data dedup`:
//!
//! - [`minhash::MinHash`]: one signature, `update(text)` = the CLI's signature of that text;
//! - [`arrow_api::signatures`]: signatures of a text column, Arrow in and out;
//! - [`arrow_api::dedup`]: the CLI's two-pass [`mycel_data::batch::BatchDeduper`] over a text
//!   column, with each removed row's exact Jaccard against its representative;
//! - [`stages`]: the CLI's staged dedup over Parquet stage files (`mycel data stage
//!   sign|candidates|verify|cluster`) and its single-process run over input files (`mycel data
//!   dedup`), which the Ray and datatrove adapters (`python/mycel_data/{ray,datatrove}.py`) call.
//!
//! Tables arrive through the Arrow C stream interface (zero-copy) and the kernels run with the
//! GIL released. The Rust side ([`kernels`], [`text`]) has no Python objects, so it is tested
//! with `cargo test`; the Python API with pytest (`crates/py/tests`).

pub mod arrow_api;
pub mod error;
pub mod kernels;
pub mod minhash;
pub mod profiles;
pub mod stages;
pub mod text;

use pyo3::prelude::*;

/// The name of the default profile.
pub const DEFAULT_PROFILE: &str = "mycel-text/v1";

/// Normalises `text` as the profile does before shingling (NFKD, marks dropped, case folded,
/// confusables folded, punctuation to spaces, whitespace collapsed).
#[pyfunction]
fn normalize(py: Python<'_>, text: String) -> String {
    py.detach(move || mycel_data::normalize::normalize(&text))
}

/// Exact word-shingle Jaccard similarity of two texts after normalisation (1.0 when neither has
/// a shingle): what the dedup verifies pairs on.
#[pyfunction]
#[pyo3(signature = (a, b, profile = DEFAULT_PROFILE))]
fn exact_jaccard(py: Python<'_>, a: String, b: String, profile: &str) -> PyResult<f64> {
    let p = profiles::lookup(profile)?;
    Ok(py.detach(move || {
        let (na, nb) = (
            mycel_data::normalize::normalize(&a),
            mycel_data::normalize::normalize(&b),
        );
        let (mut sa, mut sb) = (Vec::new(), Vec::new());
        mycel_data::minhash::shingle_vec(&p.profile, &na, &mut sa);
        mycel_data::minhash::shingle_vec(&p.profile, &nb, &mut sb);
        mycel_data::minhash::jaccard_sorted(&sa, &sb)
    }))
}

/// `(bands, rows)` the dedup uses at `threshold` for `tier` (`"d"` or `"l"`): the profile's own
/// banding at its default threshold, otherwise the CLI's choice for that threshold.
#[pyfunction]
#[pyo3(signature = (threshold, tier = "d", profile = DEFAULT_PROFILE))]
fn banding_for(threshold: f64, tier: &str, profile: &str) -> PyResult<(usize, usize)> {
    let p = profiles::lookup(profile)?;
    let tier: mycel_data::dedup::Tier = tier.parse().map_err(error::Error::from)?;
    let b = mycel_data::dedup::checked_banding(&p.profile, tier, threshold)
        .map_err(error::Error::from)?;
    Ok((b.bands, b.rows))
}

/// The profile's default threshold of `tier` (`"d"`: 0.8, `"l"`: 0.4 under `mycel-text/v1`): what
/// the CLI and every function here use when no threshold is given.
#[pyfunction(name = "default_threshold")]
#[pyo3(signature = (tier = "d", profile = DEFAULT_PROFILE))]
fn default_threshold_py(tier: &str, profile: &str) -> PyResult<f64> {
    let p = profiles::lookup(profile)?;
    let tier: mycel_data::dedup::Tier = tier.parse().map_err(error::Error::from)?;
    Ok(kernels::default_threshold(p, tier))
}

/// The extension module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let p = profiles::lookup(DEFAULT_PROFILE)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("PROFILE", &p.profile.name)?;
    m.add("ALGORITHM_VERSION", &p.id_hex)?;
    m.add("NUM_PERM", mycel_data::minhash::K)?;
    m.add("META_PROFILE", kernels::META_PROFILE)?;
    m.add("META_ALGORITHM", kernels::META_ALGORITHM)?;
    m.add(
        "DEFAULT_MAX_RECORD_BYTES",
        mycel_data::jsonl::DEFAULT_MAX_RECORD,
    )?;
    m.add_class::<minhash::MinHash>()?;
    m.add_function(wrap_pyfunction!(arrow_api::signatures, m)?)?;
    m.add_function(wrap_pyfunction!(arrow_api::dedup, m)?)?;
    m.add_function(wrap_pyfunction!(normalize, m)?)?;
    m.add_function(wrap_pyfunction!(exact_jaccard, m)?)?;
    m.add_function(wrap_pyfunction!(banding_for, m)?)?;
    m.add_function(wrap_pyfunction!(default_threshold_py, m)?)?;
    m.add_function(wrap_pyfunction!(stages::stage_sign, m)?)?;
    m.add_function(wrap_pyfunction!(stages::stage_candidates, m)?)?;
    m.add_function(wrap_pyfunction!(stages::stage_verify, m)?)?;
    m.add_function(wrap_pyfunction!(stages::stage_cluster, m)?)?;
    m.add_function(wrap_pyfunction!(stages::dedup_files, m)?)?;
    Ok(())
}
