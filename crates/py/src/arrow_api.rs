//! The Arrow-batch functions: a table in (through the Arrow C stream interface, zero-copy), the
//! kernels run with the GIL released, Arrow out. No per-row Python.

use crate::{
    error::{Error, Result},
    kernels::{self, META_ALGORITHM, META_PROFILE},
    profiles::lookup,
    text::{TextColumn, column_index},
};
use arrow_array::{ArrayRef, BooleanArray, Float64Array, RecordBatch, UInt32Array};
use arrow_pyarrow::{PyArrowType, Table};
use arrow_schema::{DataType, Field, Schema};
use mycel_data::dedup::Tier;
use pyo3::{prelude::*, types::PyDict};
use std::{collections::HashMap, sync::Arc};

/// Signatures of the text column of `table`: one output batch per input batch, with the
/// `id_column` (when given) first, then `signature` (`FixedSizeList<UInt32, 128>`), `norm_id`
/// (`FixedSizeBinary(32)`) and `shingles` (`UInt32`; 0: no shingles, every value the maximum).
/// The schema's metadata names the profile and its algorithm version.
#[pyfunction]
#[pyo3(signature = (table, text_column = "text", id_column = None, profile = "mycel-text/v1"))]
pub fn signatures(
    py: Python<'_>,
    table: PyArrowType<Table>,
    text_column: &str,
    id_column: Option<&str>,
    profile: &str,
) -> PyResult<PyArrowType<Table>> {
    let p = lookup(profile)?;
    let (batches, schema) = table.0.into_inner();
    let text_column = text_column.to_owned();
    let id_column = id_column.map(str::to_owned);
    let out = py.detach(move || -> Result<Table> {
        let texts = TextColumn::new(&schema, &batches, &text_column)?;
        let id = id_column
            .as_deref()
            .map(|c| column_index(&schema, c))
            .transpose()?;
        let mut fields = Vec::new();
        if let Some(i) = id {
            fields.push(schema.field(i).clone());
        }
        fields.extend([
            Field::new("signature", kernels::signature_type(), false),
            Field::new("norm_id", DataType::FixedSizeBinary(32), false),
            Field::new("shingles", DataType::UInt32, false),
        ]);
        let meta = HashMap::from([
            (META_PROFILE.to_string(), p.profile.name.clone()),
            (META_ALGORITHM.to_string(), p.id_hex.clone()),
        ]);
        let out_schema = Arc::new(Schema::new_with_metadata(fields, meta));
        let mut out = Vec::with_capacity(batches.len());
        for (batch, chunk) in batches.iter().zip(texts.chunk_texts()) {
            let mut cols: Vec<ArrayRef> = Vec::with_capacity(4);
            if let Some(i) = id {
                cols.push(batch.column(i).clone());
            }
            cols.extend(kernels::sign_chunk(p, &chunk)?);
            out.push(RecordBatch::try_new(out_schema.clone(), cols)?);
        }
        Ok(Table::try_new(out, out_schema)?)
    })?;
    Ok(PyArrowType(out))
}

/// The two-pass dedup of `mycel data dedup` over the text column of `table`. Returns
/// `(reps, evidence, stats)`: a batch with `rep` (`UInt32`, the representative row of each row)
/// and `keep` (`Boolean`, the row is its own representative);
/// a batch of `row`, `rep`, `jaccard`, `exact`, one per row that is not its own representative;
/// a dict of counters.
#[pyfunction]
#[pyo3(signature = (table, text_column = "text", threshold = None, tier = "d", profile = "mycel-text/v1"))]
#[allow(clippy::type_complexity)]
pub fn dedup<'py>(
    py: Python<'py>,
    table: PyArrowType<Table>,
    text_column: &str,
    threshold: Option<f64>,
    tier: &str,
    profile: &str,
) -> PyResult<(
    PyArrowType<RecordBatch>,
    PyArrowType<RecordBatch>,
    Bound<'py, PyDict>,
)> {
    let p = lookup(profile)?;
    let tier: Tier = tier.parse().map_err(Error::from)?;
    let (batches, schema) = table.0.into_inner();
    let text_column = text_column.to_owned();
    let (reps, evidence, out) = py.detach(move || -> Result<_> {
        let texts = TextColumn::new(&schema, &batches, &text_column)?;
        let out = kernels::dedup(p, tier, threshold, &texts)?;
        let keep = out
            .reps
            .iter()
            .enumerate()
            .map(|(i, &r)| Some(i == r as usize));
        let reps = RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("rep", DataType::UInt32, false),
                Field::new("keep", DataType::Boolean, false),
            ])),
            vec![
                Arc::new(UInt32Array::from(out.reps.clone())),
                Arc::new(BooleanArray::from_iter(keep)),
            ],
        )?;
        let ev = &out.evidence;
        let evidence = RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("row", DataType::UInt32, false),
                Field::new("rep", DataType::UInt32, false),
                Field::new("jaccard", DataType::Float64, false),
                Field::new("exact", DataType::Boolean, false),
            ])),
            vec![
                Arc::new(UInt32Array::from_iter_values(ev.iter().map(|e| e.row))),
                Arc::new(UInt32Array::from_iter_values(ev.iter().map(|e| e.rep))),
                Arc::new(Float64Array::from_iter_values(ev.iter().map(|e| e.jaccard))),
                Arc::new(BooleanArray::from_iter(ev.iter().map(|e| Some(e.exact)))),
            ],
        )?;
        Ok((reps, evidence, out))
    })?;
    let s = out.stats;
    let clusters = out
        .reps
        .iter()
        .enumerate()
        .filter(|(i, r)| *i == **r as usize)
        .count() as u64;
    let stats = PyDict::new(py);
    stats.set_item("records", s.records)?;
    stats.set_item("clusters", clusters)?;
    stats.set_item("exact_dups", s.exact_dups)?;
    stats.set_item(
        "near_dups",
        s.records - clusters - s.exact_dups.min(s.records - clusters),
    )?;
    stats.set_item("candidates", s.candidates)?;
    stats.set_item("verified", s.verified)?;
    stats.set_item("threshold", out.threshold)?;
    stats.set_item("tier", format!("{tier:?}").to_lowercase())?;
    stats.set_item(
        "banding",
        format!("{}x{}", out.banding.bands, out.banding.rows),
    )?;
    stats.set_item("profile", &p.profile.name)?;
    Ok((PyArrowType(reps), PyArrowType(evidence), stats))
}
