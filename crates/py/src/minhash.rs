//! `MinHash`: one signature under a profile, with the names rensa and datasketch users know.

use crate::profiles::{ProfileInfo, lookup, sign_text};
use mycel_data::minhash::{K, band_keys, estimate};
use pyo3::{
    exceptions::{PyTypeError, PyValueError},
    prelude::*,
    types::{PyBytes, PyString, PyTuple, PyType},
};

/// A MinHash signature of `K` = 128 values under a dedup profile.
///
/// `update(text)` normalises `text` and adds its word-5-gram shingles (the whole text is one
/// shingle when it has at most 5 words), so `MinHash.from_text(t).digest()` is the signature
/// `mycel data dedup` computes for a record with text `t`. Updating with several texts gives the
/// signature of the union of their shingle sets (no shingle spans two texts). A sequence of
/// tokens is the text of those tokens joined by single spaces.
#[pyclass(module = "mycel_data", name = "MinHash", skip_from_py_object)]
#[derive(Clone)]
pub struct MinHash {
    profile: &'static ProfileInfo,
    sig: [u32; K],
}

/// The text `update` signs: a `str`, UTF-8 `bytes`, or an iterable of those joined by spaces.
fn text_of(data: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(s) = data.cast::<PyString>() {
        return Ok(s.to_str()?.to_owned());
    }
    if let Ok(b) = data.cast::<PyBytes>() {
        return String::from_utf8(b.as_bytes().to_vec())
            .map_err(|e| PyValueError::new_err(format!("bytes are not UTF-8: {e}")));
    }
    let Ok(items) = data.try_iter() else {
        return Err(PyTypeError::new_err(format!(
            "update takes a str, UTF-8 bytes or an iterable of them, not {}",
            data.get_type().name()?
        )));
    };
    let mut out = String::new();
    for item in items {
        let item = item?;
        if item.is_instance_of::<PyString>() || item.is_instance_of::<PyBytes>() {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(&text_of(&item)?);
        } else {
            return Err(PyTypeError::new_err(format!(
                "tokens must be str or bytes, not {}",
                item.get_type().name()?
            )));
        }
    }
    Ok(out)
}

fn check_num_perm(num_perm: usize) -> PyResult<()> {
    if num_perm != K {
        return Err(PyValueError::new_err(format!(
            "num_perm must be {K}: the profile fixes the signature length"
        )));
    }
    Ok(())
}

impl MinHash {
    fn empty(profile: &'static ProfileInfo) -> MinHash {
        MinHash {
            profile,
            sig: [u32::MAX; K],
        }
    }

    fn same_profile(&self, other: &MinHash) -> PyResult<()> {
        if !std::ptr::eq(self.profile, other.profile) {
            return Err(PyValueError::new_err(format!(
                "signatures of different profiles ({} and {}) are not comparable",
                self.profile.profile.name, other.profile.profile.name
            )));
        }
        Ok(())
    }
}

#[pymethods]
impl MinHash {
    /// An empty signature (every value the maximum). `num_perm` must be 128 and `seed` None:
    /// the profile fixes both.
    #[new]
    #[pyo3(signature = (num_perm = K, seed = None, profile = "mycel-text/v1"))]
    fn new(num_perm: usize, seed: Option<Bound<'_, PyAny>>, profile: &str) -> PyResult<Self> {
        check_num_perm(num_perm)?;
        if seed.is_some() {
            return Err(PyValueError::new_err(
                "seed must be None: the profile fixes the seeds",
            ));
        }
        Ok(MinHash::empty(lookup(profile)?))
    }

    /// The signature of one text (see the class).
    #[classmethod]
    #[pyo3(signature = (text, profile = "mycel-text/v1"))]
    fn from_text(
        _cls: &Bound<'_, PyType>,
        py: Python<'_>,
        text: &Bound<'_, PyAny>,
        profile: &str,
    ) -> PyResult<Self> {
        let mut m = MinHash::empty(lookup(profile)?);
        m.update(py, text)?;
        Ok(m)
    }

    /// A signature from its 128 values (e.g. a row of `signatures()`).
    #[classmethod]
    #[pyo3(signature = (values, profile = "mycel-text/v1"))]
    fn from_digest(_cls: &Bound<'_, PyType>, values: Vec<u32>, profile: &str) -> PyResult<Self> {
        check_num_perm(values.len())?;
        let mut m = MinHash::empty(lookup(profile)?);
        m.sig.copy_from_slice(&values);
        Ok(m)
    }

    /// Adds the shingles of a text (`str`, UTF-8 `bytes`, or an iterable of tokens joined by
    /// spaces); see the class.
    fn update(&mut self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let text = text_of(data)?;
        let profile = self.profile;
        let (sig, _) = py.detach(move || sign_text(profile, &text));
        for (s, v) in self.sig.iter_mut().zip(sig) {
            *s = (*s).min(v);
        }
        Ok(())
    }

    /// The 128 signature values.
    fn digest(&self) -> Vec<u32> {
        self.sig.to_vec()
    }

    /// Estimated Jaccard similarity: the share of equal values.
    fn jaccard(&self, other: PyRef<'_, MinHash>) -> PyResult<f64> {
        self.same_profile(&other)?;
        Ok(estimate(&self.sig, &other.sig))
    }

    /// Whether no shingle was added (every value the maximum).
    fn is_empty(&self) -> bool {
        self.sig.iter().all(|&v| v == u32::MAX)
    }

    /// LSH band keys: band `j` hashes values `j*rows .. (j+1)*rows` (the CLI's band keys).
    fn band_keys(&self, bands: usize, rows: usize) -> PyResult<Vec<u32>> {
        if bands == 0 || rows == 0 || bands * rows > K {
            return Err(PyValueError::new_err(format!(
                "{bands} bands of {rows} rows do not fit {K} values"
            )));
        }
        let mut out = Vec::with_capacity(bands);
        band_keys(&self.sig, bands, rows, &mut out);
        Ok(out)
    }

    /// Signature length (always 128).
    #[getter]
    fn num_perm(&self) -> usize {
        K
    }

    /// The profile's name.
    #[getter]
    fn profile(&self) -> &'static str {
        &self.profile.profile.name
    }

    /// The profile's ID in hex: signatures with different ones are never compared.
    #[getter]
    fn algorithm_version(&self) -> &'static str {
        &self.profile.id_hex
    }

    /// A copy.
    fn copy(&self) -> MinHash {
        self.clone()
    }

    fn __len__(&self) -> usize {
        K
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<MinHash>().is_ok_and(|o| {
            std::ptr::eq(self.profile, o.borrow().profile) && self.sig == o.borrow().sig
        })
    }

    fn __repr__(&self) -> String {
        format!(
            "MinHash(profile={:?}, digest=[{}, {}, {}, ...])",
            self.profile.profile.name, self.sig[0], self.sig[1], self.sig[2]
        )
    }

    /// Pickling: `MinHash(128, None, profile)` then `__setstate__`.
    fn __reduce__<'py>(
        slf: &Bound<'py, Self>,
    ) -> PyResult<(Bound<'py, PyType>, Bound<'py, PyTuple>, Bound<'py, PyAny>)> {
        let py = slf.py();
        let me = slf.borrow();
        let args = (K, py.None(), me.profile()).into_pyobject(py)?;
        Ok((slf.get_type(), args, me.__getstate__(py)?))
    }

    /// `(profile, algorithm_version, values as 512 little-endian bytes)`.
    fn __getstate__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let bytes: Vec<u8> = self.sig.iter().flat_map(|v| v.to_le_bytes()).collect();
        Ok((
            self.profile(),
            self.algorithm_version(),
            PyBytes::new(py, &bytes),
        )
            .into_pyobject(py)?
            .into_any())
    }

    fn __setstate__(&mut self, state: (String, String, Vec<u8>)) -> PyResult<()> {
        let (name, version, bytes) = state;
        let profile = lookup(&name)?;
        if profile.id_hex != version {
            return Err(PyValueError::new_err(format!(
                "pickled signature of {name} has algorithm version {version}, this build {}",
                profile.id_hex
            )));
        }
        if bytes.len() != 4 * K {
            return Err(PyValueError::new_err(format!(
                "pickled signature has {} bytes, not {}",
                bytes.len(),
                4 * K
            )));
        }
        self.profile = profile;
        for (s, c) in self.sig.iter_mut().zip(bytes.chunks_exact(4)) {
            *s = u32::from_le_bytes(c.try_into().expect("4 bytes"));
        }
        Ok(())
    }
}
