//! Errors of the bindings; each reaches Python as a `ValueError` with this message, except a
//! failed file operation of the data engine: `FileNotFoundError` or `OSError`.

use pyo3::{
    PyErr,
    exceptions::{PyFileNotFoundError, PyOSError, PyValueError},
};

/// An input or parameter the kernels refuse.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The table has no such column.
    #[error("no column '{column}' (the columns are: {columns})")]
    NoColumn {
        /// The column asked for.
        column: String,
        /// The columns there are, comma-separated.
        columns: String,
    },
    /// The text column is not a string column.
    #[error(
        "column '{column}' has type {found}; a text column must be string, large_string or string_view"
    )]
    NotText {
        /// The column.
        column: String,
        /// Its Arrow type.
        found: String,
    },
    /// A null where a text is needed.
    #[error("column '{column}' is null at row {row}; every row needs a text")]
    NullText {
        /// The column.
        column: String,
        /// Global row index (across the table's batches).
        row: usize,
    },
    /// A parameter out of range.
    #[error("{0}")]
    Param(String),
    /// The data engine refused.
    #[error(transparent)]
    Data(#[from] mycel_data::Error),
    /// Building an Arrow output failed.
    #[error("arrow: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
}

/// Results of the bindings.
pub type Result<T> = std::result::Result<T, Error>;

impl From<Error> for PyErr {
    fn from(e: Error) -> PyErr {
        match &e {
            Error::Data(mycel_data::Error::Io { err, .. })
                if err.kind() == std::io::ErrorKind::NotFound =>
            {
                PyFileNotFoundError::new_err(e.to_string())
            }
            Error::Data(mycel_data::Error::Io { .. }) => PyOSError::new_err(e.to_string()),
            _ => PyValueError::new_err(e.to_string()),
        }
    }
}
