//! A string column of an Arrow table, read in place: the text of every row by its global row
//! index across the table's batches, checked once for a missing column, a non-string type and
//! nulls.

use crate::error::{Error, Result};
use arrow_array::{
    Array, ArrayRef, LargeStringArray, RecordBatch, StringArray, StringViewArray, cast::AsArray,
};
use arrow_schema::{DataType, Schema};
use mycel_data::batch::TextSource;

/// One batch's string array, of any of Arrow's three string layouts.
enum Chunk {
    Utf8(StringArray),
    Large(LargeStringArray),
    View(StringViewArray),
}

impl Chunk {
    fn new(a: &ArrayRef) -> Option<Chunk> {
        Some(match a.data_type() {
            DataType::Utf8 => Chunk::Utf8(a.as_string::<i32>().clone()),
            DataType::LargeUtf8 => Chunk::Large(a.as_string::<i64>().clone()),
            DataType::Utf8View => Chunk::View(a.as_string_view().clone()),
            _ => return None,
        })
    }

    fn array(&self) -> &dyn Array {
        match self {
            Chunk::Utf8(a) => a,
            Chunk::Large(a) => a,
            Chunk::View(a) => a,
        }
    }

    fn value(&self, i: usize) -> &str {
        match self {
            Chunk::Utf8(a) => a.value(i),
            Chunk::Large(a) => a.value(i),
            Chunk::View(a) => a.value(i),
        }
    }
}

/// The text column of a table, every row non-null.
pub struct TextColumn {
    chunks: Vec<Chunk>,
    /// Global row index of each chunk's first row.
    starts: Vec<usize>,
    len: usize,
}

impl TextColumn {
    /// The column `name` of `batches` (all of `schema`): a string column (`utf8`, `large_utf8`
    /// or `utf8_view`) without nulls.
    pub fn new(schema: &Schema, batches: &[RecordBatch], name: &str) -> Result<TextColumn> {
        let index = column_index(schema, name)?;
        let field = schema.field(index);
        if !matches!(
            field.data_type(),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
        ) {
            return Err(Error::NotText {
                column: name.into(),
                found: field.data_type().to_string(),
            });
        }
        let mut chunks = Vec::with_capacity(batches.len());
        let mut starts = Vec::with_capacity(batches.len());
        let mut len = 0usize;
        for b in batches {
            let chunk = Chunk::new(b.column(index)).ok_or_else(|| Error::NotText {
                column: name.into(),
                found: b.column(index).data_type().to_string(),
            })?;
            let a = chunk.array();
            if a.null_count() > 0 {
                let first = (0..a.len()).find(|&i| a.is_null(i)).unwrap_or(0);
                return Err(Error::NullText {
                    column: name.into(),
                    row: len + first,
                });
            }
            starts.push(len);
            len += a.len();
            chunks.push(chunk);
        }
        Ok(TextColumn {
            chunks,
            starts,
            len,
        })
    }

    /// Rows.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The text of row `row` (`row < len()`).
    pub fn get(&self, row: usize) -> &str {
        let c = self.starts.partition_point(|&s| s <= row) - 1;
        self.chunks[c].value(row - self.starts[c])
    }

    /// Every row's text, in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.chunks
            .iter()
            .flat_map(|c| (0..c.array().len()).map(move |i| c.value(i)))
    }

    /// Texts of each batch, in order (one iterator per input batch).
    pub fn chunk_texts(&self) -> impl Iterator<Item = Vec<&str>> {
        self.chunks
            .iter()
            .map(|c| (0..c.array().len()).map(|i| c.value(i)).collect())
    }
}

/// The index of column `name` in `schema`, or an error that lists the columns there are.
pub fn column_index(schema: &Schema, name: &str) -> Result<usize> {
    schema.index_of(name).map_err(|_| Error::NoColumn {
        column: name.into(),
        columns: schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// The verification pass of the batch deduplicator re-reads texts by row index.
impl TextSource for &TextColumn {
    fn read_text(&mut self, locator: u64, out: &mut String) -> mycel_data::Result<()> {
        let row = usize::try_from(locator)
            .ok()
            .filter(|&r| r < self.len)
            .ok_or_else(|| mycel_data::Error::InvalidParam(format!("no row {locator}")))?;
        out.clear();
        out.push_str(self.get(row));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Int64Array;
    use arrow_schema::Field;
    use std::sync::Arc;

    fn table(chunks: &[&[Option<&str>]]) -> (Arc<Schema>, Vec<RecordBatch>) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("n", DataType::Int64, false),
            Field::new("text", DataType::Utf8, true),
        ]));
        let batches = chunks
            .iter()
            .map(|c| {
                RecordBatch::try_new(
                    schema.clone(),
                    vec![
                        Arc::new(Int64Array::from(vec![0; c.len()])),
                        Arc::new(StringArray::from(c.to_vec())),
                    ],
                )
                .unwrap()
            })
            .collect();
        (schema, batches)
    }

    #[test]
    fn rows_across_batches() {
        let (s, b) = table(&[&[Some("a"), Some("b")], &[], &[Some("c")]]);
        let t = TextColumn::new(&s, &b, "text").unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!((t.get(0), t.get(1), t.get(2)), ("a", "b", "c"));
        assert_eq!(t.iter().collect::<Vec<_>>(), ["a", "b", "c"]);
        let mut out = String::new();
        (&t).read_text(2, &mut out).unwrap();
        assert_eq!(out, "c");
        assert!((&t).read_text(3, &mut out).is_err());
    }

    #[test]
    fn bad_columns() {
        let (s, b) = table(&[&[Some("a")], &[Some("b"), None]]);
        let e = TextColumn::new(&s, &b, "text").err().unwrap().to_string();
        assert!(e.contains("'text'") && e.contains("row 2"), "{e}");
        let e = TextColumn::new(&s, &b, "n").err().unwrap().to_string();
        assert!(e.contains("Int64"), "{e}");
        let e = TextColumn::new(&s, &b, "body").err().unwrap().to_string();
        assert!(e.contains("n, text"), "{e}");
    }
}
