//! The hyper-parameters of a llama model, read from GGUF metadata or set for tiny test models.

use crate::{Error, Result};
use candle_core::quantized::gguf_file;

/// Hyper-parameters of a llama model.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LlamaConfig {
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Width of the residual stream.
    pub hidden: usize,
    /// Width of the MLP.
    pub intermediate: usize,
    /// Number of decoder blocks.
    pub layers: usize,
    /// Attention heads.
    pub heads: usize,
    /// Key/value heads (grouped-query attention).
    pub kv_heads: usize,
    /// RMS-norm epsilon.
    pub rms_eps: f64,
    /// RoPE base frequency.
    pub rope_base: f32,
    /// Context length (positions).
    pub context: usize,
}

impl LlamaConfig {
    /// A tiny configuration for unit tests.
    pub fn tiny(vocab_size: usize) -> Self {
        Self {
            vocab_size,
            hidden: 64,
            intermediate: 128,
            layers: 2,
            heads: 4,
            kv_heads: 2,
            rms_eps: 1e-5,
            rope_base: 10_000.0,
            context: 256,
        }
    }

    pub(crate) fn head_dim(&self) -> usize {
        self.hidden / self.heads
    }

    pub(crate) fn from_gguf(ct: &gguf_file::Content) -> Result<Self> {
        let bad = |reason: String| Error::InvalidModel {
            what: "gguf".into(),
            reason,
        };
        let u = |k: &str| -> Result<usize> {
            ct.metadata
                .get(k)
                .ok_or_else(|| bad(format!("missing {k}")))?
                .to_u32()
                .map(|v| v as usize)
                .map_err(|e| bad(format!("{k}: {e}")))
        };
        let f = |k: &str, default: f32| -> Result<f32> {
            match ct.metadata.get(k) {
                None => Ok(default),
                Some(v) => v.to_f32().map_err(|e| bad(format!("{k}: {e}"))),
            }
        };
        let arch = ct
            .metadata
            .get("general.architecture")
            .and_then(|v| v.to_string().ok())
            .cloned()
            .unwrap_or_default();
        if arch != "llama" {
            return Err(Error::NotImplemented(format!(
                "GGUF architecture {arch:?} (only llama)"
            )));
        }
        let vocab_size = ct
            .tensor_infos
            .get("token_embd.weight")
            .ok_or_else(|| bad("missing token_embd.weight".into()))?
            .shape
            .dims()[0];
        let cfg = Self {
            vocab_size,
            hidden: u("llama.embedding_length")?,
            intermediate: u("llama.feed_forward_length")?,
            layers: u("llama.block_count")?,
            heads: u("llama.attention.head_count")?,
            kv_heads: u("llama.attention.head_count_kv")?,
            rms_eps: f("llama.attention.layer_norm_rms_epsilon", 1e-5)? as f64,
            rope_base: f("llama.rope.freq_base", 10_000.0)?,
            context: u("llama.context_length")?,
        };
        if cfg.heads == 0 || cfg.kv_heads == 0 || !cfg.hidden.is_multiple_of(cfg.heads) {
            return Err(bad(format!("inconsistent head counts {cfg:?}")));
        }
        if u("llama.rope.dimension_count")? != cfg.head_dim() {
            return Err(Error::NotImplemented("partial rotary embeddings".into()));
        }
        Ok(cfg)
    }
}
