//! Hugging Face and PEFT conventions for model versions: model cards and LoRA adapters in PEFT's layout.
//!
//! A fine-tuned model version leaves mycel as a directory that `peft.PeftModel.from_pretrained` loads on
//! top of the Hugging Face base model: `adapter_config.json`, `adapter_model.safetensors` and a
//! `README.md` model card ([`ModelCard`]) whose front matter says what it derives from.
//!
//! # Row order of q and k
//!
//! mycel runs the decoder on GGUF weights with interleaved RoPE (`rope_i`: it rotates the adjacent pairs
//! `(2j, 2j+1)` of each head). Hugging Face's llama rotates the pairs `(j, j + d/2)` (rotate-half), so
//! llama.cpp's `convert_hf_to_gguf.py` (`LlamaModel.modify_tensors`) stores `permute(q_proj, n_head,
//! n_head)` and `permute(k_proj, n_head, n_head_kv)`, where `permute(w, n, n_kv)` groups the rows by `n_kv`
//! when it differs from `n` and is `w.reshape(n, 2, rows / n / 2, ...).swapaxes(1, 2).reshape(w.shape)`.
//! Either way each group is one head of width `d`, and within a head GGUF row `2j + p` is HF row
//! `p * d/2 + j` (`j < d/2`, `p` in {0, 1}): the rotate-half pair `(j, j + d/2)` becomes the adjacent pair
//! `(2j, 2j+1)`, rotated by the same frequency. transformers' GGUF loader undoes it the same way
//! (`_reverse_permute_weights`: `reshape(n, d/2, 2, ...).swapaxes(2, 1)`).
//!
//! A LoRA update `B A` is added to `W`, so B's rows follow W's row order while A (the input side) does not
//! depend on it: export un-permutes the rows of q's and k's B, import permutes them back, and every other
//! tensor is copied as it is. The test `permutation_maps_rope_i_to_rotate_half` checks this against candle's
//! two RoPE kernels.

use crate::{Error, Result, llama::LlamaConfig, lora::Adapter, registry::ModelId};
use candle_core::{DType, Device, Tensor};
use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    fmt::Write as _,
    path::Path,
};

/// The largest model card [`ModelCard::parse`] accepts.
pub const MAX_CARD_BYTES: usize = 64 * 1024;
/// PEFT's adapter configuration file.
pub const CONFIG_FILE: &str = "adapter_config.json";
/// PEFT's adapter weights file.
pub const WEIGHTS_FILE: &str = "adapter_model.safetensors";
/// The model card file.
pub const CARD_FILE: &str = "README.md";
/// The largest `adapter_config.json` [`import_adapter`] reads.
const MAX_CONFIG_BYTES: u64 = 1 << 20;
/// The largest `adapter_model.safetensors` [`import_adapter`] reads.
const MAX_WEIGHTS_BYTES: u64 = 1 << 30;
/// The largest rank [`import_adapter`] accepts (mycel trains up to 256).
const MAX_RANK: u64 = 4096;

// ---------------------------------------------------------------------------------------------------------
// Model cards.

/// The licence of a model version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum License {
    /// A licence id from the Hub's list (lower-case SPDX: `apache-2.0`, `mit`, …).
    Id(String),
    /// A custom licence: written as `license: other` with `license_name` and `license_link`.
    Other {
        /// Short name (`license_name`).
        name: String,
        /// Where its text is (`license_link`).
        link: String,
    },
}

/// How a model version derives from its base model (the Hub's `base_model_relation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaseModelRelation {
    /// Adapter weights (LoRA) loaded on top of the base.
    Adapter,
    /// Full weights trained from the base.
    Finetune,
    /// Weights merged from several bases.
    Merge,
    /// The base's weights at lower precision.
    Quantized,
}

impl BaseModelRelation {
    const ALL: [Self; 4] = [Self::Adapter, Self::Finetune, Self::Merge, Self::Quantized];

    /// The front-matter value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Adapter => "adapter",
            Self::Finetune => "finetune",
            Self::Merge => "merge",
            Self::Quantized => "quantized",
        }
    }
}

/// A Hugging Face model card: YAML front matter between `---` lines, then markdown.
///
/// Only the fields below are written and read, in a YAML subset (plain and quoted scalars, `- item` lists,
/// inline `[a, b]` lists), so no YAML library is needed; [`ModelCard::parse`] skips other keys with
/// their values (a Hub card's `language`, `pipeline_tag`, `model-index`…) and refuses other YAML in
/// the fields it reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelCard {
    /// `license` (with `license_name` and `license_link` for [`License::Other`]).
    pub license: Option<License>,
    /// `base_model`: Hub repository ids; one is written as a string, several as a list.
    pub base_model: Vec<String>,
    /// `base_model_relation`.
    pub base_model_relation: Option<BaseModelRelation>,
    /// `datasets`: Hub data set ids.
    pub datasets: Vec<String>,
    /// `library_name` (`peft` for adapters).
    pub library_name: Option<String>,
    /// `tags`.
    pub tags: Vec<String>,
    /// The markdown after the front matter, verbatim.
    pub body: String,
}

impl ModelCard {
    /// A card for a PEFT LoRA adapter on `base_model` (a Hub repository id).
    pub fn adapter(base_model: &str, license: License, body: impl Into<String>) -> Self {
        Self {
            license: Some(license),
            base_model: vec![base_model.to_string()],
            base_model_relation: Some(BaseModelRelation::Adapter),
            datasets: Vec::new(),
            library_name: Some("peft".into()),
            tags: vec!["lora".into(), "peft".into(), "mycel".into()],
            body: body.into(),
        }
    }

    /// The README.md text.
    pub fn to_markdown(&self) -> String {
        let mut y = String::from("---\n");
        let mut scalar = |k: &str, v: &str| {
            let _ = writeln!(y, "{k}: {}", yaml_scalar(v));
        };
        match &self.license {
            None => {}
            Some(License::Id(id)) => scalar("license", id),
            Some(License::Other { name, link }) => {
                scalar("license", "other");
                scalar("license_name", name);
                scalar("license_link", link);
            }
        }
        if let [one] = self.base_model.as_slice() {
            scalar("base_model", one);
        }
        if let Some(r) = self.base_model_relation {
            scalar("base_model_relation", r.as_str());
        }
        if let Some(l) = &self.library_name {
            scalar("library_name", l);
        }
        let base_list = if self.base_model.len() > 1 {
            self.base_model.as_slice()
        } else {
            &[]
        };
        for (k, items) in [
            ("base_model", base_list),
            ("datasets", self.datasets.as_slice()),
            ("tags", self.tags.as_slice()),
        ] {
            if items.is_empty() {
                continue;
            }
            let _ = writeln!(y, "{k}:");
            for it in items {
                let _ = writeln!(y, "- {}", yaml_scalar(it));
            }
        }
        y.push_str("---\n");
        y.push_str(&self.body);
        y
    }

    /// Parses a README.md. Text without front matter is all body. Refuses input over [`MAX_CARD_BYTES`],
    /// unknown keys and YAML outside the subset [`ModelCard::to_markdown`] writes, naming the line.
    pub fn parse(text: &str) -> Result<Self> {
        if text.len() > MAX_CARD_BYTES {
            return Err(card_err(
                0,
                format!("{} bytes, more than {MAX_CARD_BYTES}", text.len()),
            ));
        }
        let mut lines = text.split_inclusive('\n');
        if lines.next().map(strip_eol) != Some("---") {
            return Ok(Self {
                body: text.to_string(),
                ..Self::default()
            });
        }
        let mut yaml = Vec::new();
        let mut offset = text.find('\n').map_or(text.len(), |i| i + 1);
        let mut body = None;
        for (i, raw) in lines.enumerate() {
            offset += raw.len();
            let line = strip_eol(raw);
            if line == "---" {
                body = Some(&text[offset..]);
                break;
            }
            yaml.push((i + 2, line));
        }
        let body = body.ok_or_else(|| card_err(1, "front matter has no closing `---` line"))?;
        let mut card = Self {
            body: body.to_string(),
            ..Self::default()
        };
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        let (mut license, mut license_name, mut license_link) = (None, None, None);
        for (line, key, value) in front_matter(&yaml)? {
            if let Some(first) = seen.insert(key.clone(), line) {
                return Err(card_err(
                    line,
                    format!("duplicate key `{key}` (first on line {first})"),
                ));
            }
            match key.as_str() {
                "license" => license = Some((line, value.scalar(line, &key)?)),
                "license_name" => license_name = Some((line, value.scalar(line, &key)?)),
                "license_link" => license_link = Some((line, value.scalar(line, &key)?)),
                "base_model" => card.base_model = value.list(),
                "base_model_relation" => {
                    let v = value.scalar(line, &key)?;
                    card.base_model_relation = Some(
                        BaseModelRelation::ALL
                            .into_iter()
                            .find(|r| r.as_str() == v)
                            .ok_or_else(|| {
                                card_err(
                                    line,
                                    format!(
                                        "base_model_relation `{v}` is not one of adapter, finetune, merge, quantized"
                                    ),
                                )
                            })?,
                    );
                }
                "datasets" => card.datasets = value.list(),
                "library_name" => card.library_name = Some(value.scalar(line, &key)?),
                "tags" => card.tags = value.list(),
                _ => unreachable!("front_matter yields only KNOWN_KEYS"),
            }
        }
        card.license = match (license, license_name, license_link) {
            (None, None, None) => None,
            (Some((_, id)), None, None) if id != "other" => Some(License::Id(id)),
            (Some((_, id)), Some((_, name)), Some((_, link))) if id == "other" => {
                Some(License::Other { name, link })
            }
            (Some((line, id)), ..) if id == "other" => {
                return Err(card_err(
                    line,
                    "`license: other` needs `license_name` and `license_link`",
                ));
            }
            (_, name, link) => {
                let line = name.or(link).map_or(0, |(l, _)| l);
                return Err(card_err(
                    line,
                    "`license_name` and `license_link` go only with `license: other`",
                ));
            }
        };
        Ok(card)
    }
}

fn card_err(line: usize, reason: impl std::fmt::Display) -> Error {
    Error::InvalidInput(format!("model card line {line}: {reason}"))
}

fn strip_eol(line: &str) -> &str {
    let line = line.strip_suffix('\n').unwrap_or(line);
    line.strip_suffix('\r').unwrap_or(line)
}

/// A front-matter value: a scalar or a list of scalars.
enum YamlValue {
    Scalar(String),
    List(Vec<String>),
}

impl YamlValue {
    fn scalar(self, line: usize, key: &str) -> Result<String> {
        match self {
            Self::Scalar(s) => Ok(s),
            Self::List(_) => Err(card_err(line, format!("`{key}` needs a single value"))),
        }
    }

    /// Lists, with a scalar taken as a list of one (as the Hub does).
    fn list(self) -> Vec<String> {
        match self {
            Self::Scalar(s) => vec![s],
            Self::List(l) => l,
        }
    }
}

/// Parses `key: value` lines, `key:` followed by `- item` lines, and `key: [a, b]`.
/// The front-matter keys mycel reads (and writes); others are skipped on reading.
const KNOWN_KEYS: [&str; 8] = [
    "license",
    "license_name",
    "license_link",
    "base_model",
    "base_model_relation",
    "datasets",
    "library_name",
    "tags",
];

fn front_matter(lines: &[(usize, &str)]) -> Result<Vec<(usize, String, YamlValue)>> {
    let skip = |l: &str| {
        let t = l.trim();
        t.is_empty() || t.starts_with('#')
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let (n, line) = lines[i];
        i += 1;
        if skip(line) {
            continue;
        }
        if line.starts_with([' ', '\t', '-']) {
            return Err(card_err(
                n,
                "unexpected indented line or list item (nested YAML is not supported)",
            ));
        }
        let (key, rest) = line
            .split_once(':')
            .ok_or_else(|| card_err(n, "expected `key: value`"))?;
        if !KNOWN_KEYS.contains(&key) {
            // A key mycel does not read (`language`, `pipeline_tag`, `model-index`…): skipped with
            // its value, however nested (every following indented, list or blank line).
            if key.is_empty()
                || !key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
            {
                return Err(card_err(n, format!("unsupported key `{key}`")));
            }
            while i < lines.len() && (skip(lines[i].1) || lines[i].1.starts_with([' ', '\t', '-']))
            {
                i += 1;
            }
            continue;
        }
        if !rest.is_empty() && !rest.starts_with([' ', '\t']) {
            return Err(card_err(n, "expected a space after `:`"));
        }
        let rest = rest.trim();
        let value = if rest.is_empty() {
            let mut items = Vec::new();
            while i < lines.len() {
                let (m, l) = lines[i];
                if skip(l) {
                    i += 1;
                    continue;
                }
                let Some(item) = l.trim_start().strip_prefix('-') else {
                    if l.starts_with([' ', '\t']) {
                        return Err(card_err(
                            m,
                            "unexpected indented line (nested YAML is not supported)",
                        ));
                    }
                    break;
                };
                if !item.is_empty() && !item.starts_with([' ', '\t']) {
                    return Err(card_err(m, "expected `- item`"));
                }
                items.push(yaml_unscalar(item.trim(), m)?);
                i += 1;
            }
            if items.is_empty() {
                return Err(card_err(n, format!("`{key}` has no value")));
            }
            YamlValue::List(items)
        } else if let Some(inner) = rest.strip_prefix('[') {
            let inner = inner
                .strip_suffix(']')
                .ok_or_else(|| card_err(n, "inline list without a closing `]`"))?;
            YamlValue::List(split_inline(inner, n)?)
        } else {
            YamlValue::Scalar(yaml_unscalar(rest, n)?)
        };
        out.push((n, key.to_string(), value));
    }
    Ok(out)
}

/// Splits the inside of `[a, "b, c", 'd']` at the commas outside quotes.
fn split_inline(inner: &str, line: usize) -> Result<Vec<String>> {
    if inner.trim().is_empty() {
        return Ok(Vec::new());
    }
    let (mut items, mut start, mut quote, mut escaped) = (Vec::new(), 0, None, false);
    for (i, c) in inner.char_indices() {
        match (quote, c) {
            (Some('"'), '\\') => escaped = !escaped,
            (Some(q), c) if c == q && !escaped => quote = None,
            (None, '"' | '\'') => quote = Some(c),
            (None, ',') => {
                items.push(yaml_unscalar(inner[start..i].trim(), line)?);
                start = i + 1;
            }
            _ => escaped = false,
        }
        if c != '\\' {
            escaped = false;
        }
    }
    if quote.is_some() {
        return Err(card_err(line, "unterminated quoted string in inline list"));
    }
    items.push(yaml_unscalar(inner[start..].trim(), line)?);
    Ok(items)
}

/// Writes a string as a plain scalar when YAML reads it back as that same string, else double-quoted
/// (a JSON string is a valid YAML double-quoted scalar).
fn yaml_scalar(s: &str) -> String {
    let plain = s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._/+-".contains(c))
        && s.parse::<f64>().is_err()
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n"
        );
    if plain {
        s.to_string()
    } else {
        serde_json::Value::String(s.to_string()).to_string()
    }
}

/// Reads one scalar: double-quoted (JSON escapes), single-quoted (`''` for `'`) or plain.
fn yaml_unscalar(s: &str, line: usize) -> Result<String> {
    let unsupported = |what: &str| card_err(line, format!("unsupported YAML: {what} in `{s}`"));
    if s.starts_with('"') {
        return serde_json::from_str::<String>(s)
            .map_err(|e| card_err(line, format!("bad double-quoted string `{s}`: {e}")));
    }
    if let Some(inner) = s.strip_prefix('\'') {
        let inner = inner
            .strip_suffix('\'')
            .ok_or_else(|| unsupported("unterminated single-quoted string"))?;
        if inner.replace("''", "").contains('\'') {
            return Err(unsupported("a lone `'` inside a single-quoted string"));
        }
        return Ok(inner.replace("''", "'"));
    }
    match s.chars().next() {
        None => Err(card_err(line, "empty value")),
        Some(
            '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '%' | '@' | '`' | '#' | ',' | '?',
        ) => Err(unsupported("a flow, anchor, tag or block indicator")),
        Some('-') if s == "-" || s.starts_with("- ") => Err(unsupported("a nested list")),
        _ if s.contains(": ") || s.ends_with(':') => Err(unsupported("a nested mapping")),
        _ if s.contains(" #") => Err(unsupported("a comment after a value")),
        _ => Ok(s.to_string()),
    }
}

// ---------------------------------------------------------------------------------------------------------
// PEFT adapters.

/// A linear layer that mycel attaches LoRA to (`Llama::attach_trainable_lora`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Module {
    Q,
    K,
    V,
    O,
    Gate,
    Up,
    Down,
}

impl Module {
    const ALL: [Self; 7] = [
        Self::Q,
        Self::K,
        Self::V,
        Self::O,
        Self::Gate,
        Self::Up,
        Self::Down,
    ];

    /// The name in mycel's adapter tensors (`blk.{i}.{name}.lora_a`).
    fn mycel(self) -> &'static str {
        match self {
            Self::Q => "q",
            Self::K => "k",
            Self::V => "v",
            Self::O => "o",
            Self::Gate => "gate",
            Self::Up => "up",
            Self::Down => "down",
        }
    }

    /// The transformers module name (a `target_modules` entry).
    fn hf(self) -> &'static str {
        match self {
            Self::Q => "q_proj",
            Self::K => "k_proj",
            Self::V => "v_proj",
            Self::O => "o_proj",
            Self::Gate => "gate_proj",
            Self::Up => "up_proj",
            Self::Down => "down_proj",
        }
    }

    fn hf_parent(self) -> &'static str {
        match self {
            Self::Q | Self::K | Self::V | Self::O => "self_attn",
            Self::Gate | Self::Up | Self::Down => "mlp",
        }
    }

    /// `(out, in)` of the layer's weight.
    fn dims(self, cfg: &LlamaConfig) -> (usize, usize) {
        let hd = cfg.head_dim();
        match self {
            Self::Q => (cfg.heads * hd, cfg.hidden),
            Self::K | Self::V => (cfg.kv_heads * hd, cfg.hidden),
            Self::O => (cfg.hidden, cfg.heads * hd),
            Self::Gate | Self::Up => (cfg.intermediate, cfg.hidden),
            Self::Down => (cfg.hidden, cfg.intermediate),
        }
    }

    /// Whether the GGUF rows of this layer are permuted for interleaved RoPE (see the module docs).
    fn roped(self) -> bool {
        matches!(self, Self::Q | Self::K)
    }
}

/// Which half of a LoRA pair: A is `[r, in]`, B is `[out, r]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Half {
    A,
    B,
}

impl Half {
    fn shape(self, rank: usize, (out, inp): (usize, usize)) -> [usize; 2] {
        match self {
            Self::A => [rank, inp],
            Self::B => [out, rank],
        }
    }
}

type Slot = (usize, Module, Half);

fn mycel_name((layer, m, h): Slot) -> String {
    let h = if h == Half::A { "a" } else { "b" };
    format!("blk.{layer}.{}.lora_{h}", m.mycel())
}

fn peft_name((layer, m, h): Slot) -> String {
    let h = if h == Half::A { "A" } else { "B" };
    format!(
        "base_model.model.model.layers.{layer}.{}.{}.lora_{h}.weight",
        m.hf_parent(),
        m.hf()
    )
}

/// Parses a tensor name with `format` (one of the two above); names that do not print back identically
/// (a leading `+` or zero in the layer number) are refused.
fn parse_slot(name: &str, layers: usize, format: fn(Slot) -> String) -> Option<Slot> {
    let layer = name
        .split('.')
        .find_map(|p| p.parse::<usize>().ok())
        .filter(|&l| l < layers)?;
    Module::ALL
        .into_iter()
        .flat_map(|m| [(layer, m, Half::A), (layer, m, Half::B)])
        .find(|&s| format(s) == name)
}

/// HF row `row` of a q/k matrix moves to this GGUF row (heads of width `head_dim`, see the module docs).
fn gguf_row(row: usize, head_dim: usize) -> usize {
    let half = head_dim / 2;
    let (head, k) = (row / head_dim, row % head_dim);
    let (p, j) = (k / half, k % half);
    head * head_dim + 2 * j + p
}

/// Reorders the rows of a row-major matrix with `cols` columns from GGUF to HF order.
fn gguf_to_hf_rows(data: &[f32], cols: usize, head_dim: usize) -> Vec<f32> {
    let rows = data.len() / cols;
    (0..rows)
        .flat_map(|r| {
            let g = gguf_row(r, head_dim);
            &data[g * cols..(g + 1) * cols]
        })
        .copied()
        .collect()
}

/// Reorders the rows of a row-major matrix with `cols` columns from HF to GGUF order (what
/// `convert_hf_to_gguf.py` does to q and k).
fn hf_to_gguf_rows(data: &[f32], cols: usize, head_dim: usize) -> Vec<f32> {
    let mut out = vec![0f32; data.len()];
    for (r, row) in data.chunks_exact(cols).enumerate() {
        let g = gguf_row(r, head_dim);
        out[g * cols..(g + 1) * cols].copy_from_slice(row);
    }
    out
}

fn bad(reason: impl Into<String>) -> Error {
    Error::InvalidAdapter(reason.into())
}

/// The configuration must describe whole heads of even width, or q/k rows cannot be reordered.
fn check_config(cfg: &LlamaConfig) -> Result<()> {
    if cfg.heads == 0
        || cfg.kv_heads == 0
        || !cfg.hidden.is_multiple_of(cfg.heads)
        || !cfg.head_dim().is_multiple_of(2)
    {
        return Err(Error::param(
            "cfg",
            format!(
                "{} heads of width {} over {} dims: not whole heads of even width",
                cfg.heads,
                cfg.hidden.checked_div(cfg.heads).unwrap_or(0),
                cfg.hidden
            ),
        ));
    }
    Ok(())
}

/// Every layer with one half of a pair must have the other.
fn check_pairs<'a>(slots: impl Iterator<Item = &'a Slot>) -> Result<BTreeSet<Module>> {
    let slots: BTreeSet<Slot> = slots.copied().collect();
    for &(layer, m, h) in &slots {
        let other = if h == Half::A { Half::B } else { Half::A };
        if !slots.contains(&(layer, m, other)) {
            return Err(bad(format!(
                "{} has no {other:?} half",
                peft_name((layer, m, h))
            )));
        }
    }
    Ok(slots.iter().map(|s| s.1).collect())
}

/// Writes `adapter` as a PEFT LoRA adapter into `dir` (created if missing): `adapter_config.json`,
/// `adapter_model.safetensors` (F32, q/k B rows in HF order) and, if given, the card as `README.md`.
/// `base_model` is the Hub id PEFT records as `base_model_name_or_path`.
pub fn export_adapter(
    adapter: &Adapter,
    cfg: &LlamaConfig,
    base_model: &str,
    card: Option<&ModelCard>,
    dir: &Path,
) -> Result<()> {
    check_config(cfg)?;
    if adapter.rank == 0 || !(adapter.alpha.is_finite() && adapter.alpha > 0.0) {
        return Err(bad(format!(
            "rank {} / alpha {} out of range",
            adapter.rank, adapter.alpha
        )));
    }
    let mut data: BTreeMap<Slot, Vec<f32>> = BTreeMap::new();
    for (name, t) in &adapter.tensors {
        let slot = parse_slot(name, cfg.layers, mycel_name)
            .ok_or_else(|| bad(format!("tensor {name} matches no layer")))?;
        let (layer, m, h) = slot;
        let want = h.shape(adapter.rank, m.dims(cfg));
        if t.dims() != want {
            return Err(bad(format!(
                "{name}: shape {:?}, expected {want:?}",
                t.dims()
            )));
        }
        let v: Vec<f32> = t.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
        let v = if h == Half::B && m.roped() {
            gguf_to_hf_rows(&v, adapter.rank, cfg.head_dim())
        } else {
            v
        };
        data.insert((layer, m, h), v);
    }
    let modules = check_pairs(data.keys())?;
    let bytes: Vec<(String, [usize; 2], Vec<u8>)> = data
        .iter()
        .map(|(&(l, m, h), v)| {
            let b = v.iter().flat_map(|x| x.to_le_bytes()).collect();
            (peft_name((l, m, h)), h.shape(adapter.rank, m.dims(cfg)), b)
        })
        .collect();
    let views = bytes
        .iter()
        .map(|(n, s, b)| {
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.to_vec(), b)
                .map(|v| (n.clone(), v))
        })
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))?;
    // transformers refuses safetensors files without a `format` it knows.
    let meta = HashMap::from([("format".to_string(), "pt".to_string())]);
    let weights = safetensors::serialize(views, Some(meta)).map_err(|e| bad(e.to_string()))?;
    // PEFT types lora_alpha as an int; write one when it is.
    let alpha = if adapter.alpha.fract() == 0.0 && adapter.alpha < 2f64.powi(53) {
        serde_json::json!(adapter.alpha as u64)
    } else {
        serde_json::json!(adapter.alpha)
    };
    let config = serde_json::json!({
        "peft_type": "LORA",
        "task_type": "CAUSAL_LM",
        "r": adapter.rank,
        "lora_alpha": alpha,
        "lora_dropout": 0.0,
        "bias": "none",
        "target_modules": modules.iter().map(|m| m.hf()).collect::<Vec<_>>(),
        "base_model_name_or_path": base_model,
        "fan_in_fan_out": false,
        "inference_mode": true,
        "use_rslora": false,
        "use_dora": false,
        "modules_to_save": null,
        "init_lora_weights": true,
        "revision": null,
    });
    let config = serde_json::to_string_pretty(&config).map_err(|e| bad(e.to_string()))?;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let write = |file: &str, bytes: &[u8]| {
        let p = dir.join(file);
        std::fs::write(&p, bytes).map_err(|e| Error::io(p, e))
    };
    write(CONFIG_FILE, format!("{config}\n").as_bytes())?;
    write(WEIGHTS_FILE, &weights)?;
    if let Some(card) = card {
        write(CARD_FILE, card.to_markdown().as_bytes())?;
    }
    Ok(())
}

/// Reads a file of at most `max` bytes.
fn read_bounded(path: &Path, max: u64) -> Result<Vec<u8>> {
    let len = std::fs::metadata(path)
        .map_err(|e| Error::io(path, e))?
        .len();
    if len > max {
        return Err(bad(format!(
            "{}: {len} bytes, more than {max}",
            path.display()
        )));
    }
    std::fs::read(path).map_err(|e| Error::io(path, e))
}

/// The parts of `adapter_config.json` mycel can honour; anything that changes the arithmetic is refused.
fn read_config(bytes: &[u8]) -> Result<(usize, f64, BTreeSet<Module>)> {
    let v: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| bad(format!("{CONFIG_FILE}: {e}")))?;
    let o = v
        .as_object()
        .ok_or_else(|| bad(format!("{CONFIG_FILE}: not a JSON object")))?;
    let field = |k: &str| o.get(k).filter(|v| !v.is_null());
    let peft_type = field("peft_type").and_then(|v| v.as_str());
    if peft_type != Some("LORA") {
        return Err(bad(format!("peft_type {peft_type:?}, expected \"LORA\"")));
    }
    let r = field("r")
        .and_then(|v| v.as_u64())
        .filter(|r| (1..=MAX_RANK).contains(r))
        .ok_or_else(|| bad(format!("r {:?} is not in 1..={MAX_RANK}", o.get("r"))))?;
    let alpha = field("lora_alpha")
        .and_then(|v| v.as_f64())
        .filter(|a| a.is_finite() && *a > 0.0)
        .ok_or_else(|| bad(format!("lora_alpha {:?} is not > 0", o.get("lora_alpha"))))?;
    // Each of these would change what the adapter computes (scale, weight layout, extra parameters).
    for (k, ok) in [
        ("use_rslora", serde_json::json!(false)),
        ("use_dora", serde_json::json!(false)),
        ("fan_in_fan_out", serde_json::json!(false)),
        ("bias", serde_json::json!("none")),
        ("modules_to_save", serde_json::json!([])),
        ("rank_pattern", serde_json::json!({})),
        ("alpha_pattern", serde_json::json!({})),
    ] {
        if let Some(v) = field(k).filter(|v| **v != ok) {
            return Err(bad(format!("{k} = {v} is not supported (only {ok})")));
        }
    }
    let targets = field("target_modules")
        .and_then(|v| v.as_array())
        .ok_or_else(|| {
            bad("target_modules is not a list (regular expressions are not supported)")
        })?;
    let modules = targets
        .iter()
        .map(|t| {
            Module::ALL
                .into_iter()
                .find(|m| t.as_str() == Some(m.hf()))
                .ok_or_else(|| bad(format!("target module {t} is not a llama linear layer")))
        })
        .collect::<Result<BTreeSet<_>>>()?;
    Ok((r as usize, alpha, modules))
}

/// Reads a PEFT LoRA adapter written by [`export_adapter`] (or by PEFT for the same architecture, in F32)
/// and returns it in mycel's layout (q/k B rows in GGUF order) for `base_model_id`.
pub fn import_adapter(dir: &Path, cfg: &LlamaConfig, base_model_id: ModelId) -> Result<Adapter> {
    check_config(cfg)?;
    let (rank, alpha, targets) =
        read_config(&read_bounded(&dir.join(CONFIG_FILE), MAX_CONFIG_BYTES)?)?;
    let bytes = read_bounded(&dir.join(WEIGHTS_FILE), MAX_WEIGHTS_BYTES)?;
    let st = safetensors::SafeTensors::deserialize(&bytes)
        .map_err(|e| bad(format!("{WEIGHTS_FILE}: {e}")))?;
    let mut tensors = HashMap::new();
    let mut slots = Vec::new();
    for (name, view) in st.tensors() {
        let slot = parse_slot(&name, cfg.layers, peft_name)
            .ok_or_else(|| bad(format!("unexpected tensor {name}")))?;
        let (_, m, h) = slot;
        if !targets.contains(&m) {
            return Err(bad(format!("{name}: {} is not in target_modules", m.hf())));
        }
        if view.dtype() != safetensors::Dtype::F32 {
            return Err(bad(format!(
                "{name}: dtype {:?}, expected F32",
                view.dtype()
            )));
        }
        let want = h.shape(rank, m.dims(cfg));
        if view.shape() != want {
            return Err(bad(format!(
                "{name}: shape {:?}, expected {want:?} (r = {rank})",
                view.shape()
            )));
        }
        let v: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let v = if h == Half::B && m.roped() {
            hf_to_gguf_rows(&v, rank, cfg.head_dim())
        } else {
            v
        };
        tensors.insert(
            mycel_name(slot),
            Tensor::from_vec(v, want.to_vec(), &Device::Cpu)?,
        );
        slots.push(slot);
    }
    if slots.is_empty() {
        return Err(bad(format!("{WEIGHTS_FILE} has no tensors")));
    }
    check_pairs(slots.iter())?;
    Ok(Adapter {
        base_model_id,
        rank,
        alpha,
        tensors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        generate::TextGenerator,
        lora::{Dataset, TrainConfig, train},
        registry::ExecMode,
    };

    fn tiny_card() -> ModelCard {
        let mut c = ModelCard::adapter(
            "HuggingFaceTB/SmolLM2-135M-Instruct",
            License::Id("apache-2.0".into()),
            "# A mycel adapter\n\nTrained with `mycel`.\n---\nnot front matter\n",
        );
        c.datasets = vec!["mycel/cats".into()];
        c
    }

    #[test]
    fn card_round_trips() {
        let other = ModelCard {
            license: Some(License::Other {
                name: "my licence: v1".into(),
                link: "LICENSE.md".into(),
            }),
            base_model: vec!["a/b".into(), "c/d-1.5".into()],
            base_model_relation: Some(BaseModelRelation::Merge),
            datasets: vec![],
            library_name: Some("transformers".into()),
            tags: vec![
                "true".into(),
                "1.5".into(),
                "has \"quotes\" and 'ticks'".into(),
                "- dash".into(),
                "# hash".into(),
                "ünïcode, comma".into(),
                "line\nbreak".into(),
            ],
            body: String::new(),
        };
        for card in [tiny_card(), other, ModelCard::default()] {
            let md = card.to_markdown();
            assert_eq!(ModelCard::parse(&md).unwrap(), card, "{md}");
        }
        let md = tiny_card().to_markdown();
        assert!(md.starts_with(
            "---\nlicense: apache-2.0\nbase_model: HuggingFaceTB/SmolLM2-135M-Instruct\n"
        ));
        assert!(md.contains("\nbase_model_relation: adapter\nlibrary_name: peft\n"));
    }

    #[test]
    fn card_reads_the_hand_written_subset() {
        let text = "---\r\n# comment\r\nlicense: 'mit'\r\nbase_model:\r\n  - \"a/b\"\r\n\r\n  - c/d\r\n\
                    tags: [x, \"y, z\", 'it''s']\r\ndatasets: []\r\n---\r\nbody\r\n";
        let c = ModelCard::parse(text).unwrap();
        assert_eq!(c.license, Some(License::Id("mit".into())));
        assert_eq!(c.base_model, ["a/b", "c/d"]);
        assert_eq!(c.tags, ["x", "y, z", "it's"]);
        assert!(c.datasets.is_empty());
        assert_eq!(c.body, "body\r\n");
        // No front matter: all body.
        assert_eq!(ModelCard::parse("# Title\n").unwrap().body, "# Title\n");
    }

    #[test]
    fn card_skips_keys_it_does_not_read_however_nested() {
        let text = "---\nlanguage:\n- en\n- fr\nlicense: apache-2.0\npipeline_tag: text-generation\n\
                    model-index:\n- name: x\n  results:\n  - task: {type: t}\n    metrics: [1, 2]\n\
                    base_model: HuggingFaceTB/SmolLM2-135M-Instruct\nlibrary_name: peft\n---\nbody\n";
        let c = ModelCard::parse(text).unwrap();
        assert_eq!(c.license, Some(License::Id("apache-2.0".into())));
        assert_eq!(c.base_model, ["HuggingFaceTB/SmolLM2-135M-Instruct"]);
        assert_eq!(c.library_name.as_deref(), Some("peft"));
        assert_eq!(c.body, "body\n");
        // A key that is not a key at all is still refused.
        assert!(ModelCard::parse("---\nbad key!: x\n---\n").is_err());
    }

    #[test]
    fn card_refuses_what_it_does_not_write() {
        for (text, line) in [
            ("---\nlicense: mit\n", "line 1:"),
            ("---\nbase_model:\n  repo: a/b\n---\n", "line 3:"),
            ("---\ntags: {a: 1}\n---\n", "line 2:"),
            ("---\nlicense: |\n  mit\n---\n", "line 2:"),
            ("---\nlicense: &x mit\n---\n", "line 2:"),
            ("---\nlicense: mit # why\n---\n", "line 2:"),
            ("---\nlicense: other\n---\n", "line 2:"),
            ("---\nlicense: mit\nlicense_name: x\n---\n", "line 3:"),
            ("---\nbase_model_relation: fork\n---\n", "line 2:"),
            ("---\ntags: [a\n---\n", "line 2:"),
            ("---\ntags: [\"a]\n---\n", "line 2:"),
            ("---\nlicense: mit\nlicense: mit\n---\n", "line 3:"),
            ("---\nlicense:\n---\n", "line 2:"),
            ("---\nlicense: [a, b]\n---\n", "line 2:"),
            ("---\n- a\n---\n", "line 2:"),
            ("---\nlicense:mit\n---\n", "line 2:"),
            ("---\ntags: [\"\\x\"]\n---\n", "line 2:"),
        ] {
            match ModelCard::parse(text) {
                Err(Error::InvalidInput(m)) => assert!(m.contains(line), "{text:?}: {m}"),
                other => panic!("{text:?}: {other:?}"),
            }
        }
        let big = format!("---\n---\n{}", "x".repeat(MAX_CARD_BYTES));
        assert!(matches!(
            ModelCard::parse(&big),
            Err(Error::InvalidInput(_))
        ));
    }

    fn trained() -> (TextGenerator, Adapter) {
        let data = Dataset::from_jsonl(b"{\"text\": \"the cat sat on the mat.\"}\n").unwrap();
        let mut g = TextGenerator::tiny_random(4, ExecMode::F32).unwrap();
        let cfg = TrainConfig {
            steps: 3,
            lr: 1e-2,
            max_seq: 24,
            ..TrainConfig::default()
        };
        let (adapter, _) = train(&mut g, &data, &cfg).unwrap();
        (g, adapter)
    }

    fn bits(t: &Tensor) -> Vec<u32> {
        let v: Vec<f32> = t.flatten_all().unwrap().to_vec1().unwrap();
        v.into_iter().map(f32::to_bits).collect()
    }

    /// Set `MYCEL_HF_EXPORT_DIR` to keep the export (for `bin/mycel/tests/py/check_hf_export.py`).
    #[test]
    fn export_then_import_is_bit_identical() {
        let (g, adapter) = trained();
        let cfg = g.model().config().clone();
        let tmp = tempfile::tempdir().unwrap();
        let dir =
            std::env::var_os("MYCEL_HF_EXPORT_DIR").map_or(tmp.path().to_path_buf(), Into::into);
        export_adapter(
            &adapter,
            &cfg,
            "HuggingFaceTB/SmolLM2-135M-Instruct",
            Some(&tiny_card()),
            &dir,
        )
        .unwrap();
        let back = import_adapter(&dir, &cfg, adapter.base_model_id).unwrap();
        assert_eq!((back.rank, back.alpha), (adapter.rank, adapter.alpha));
        assert_eq!(back.tensors.len(), adapter.tensors.len());
        let mut nonzero = false;
        for (name, t) in &adapter.tensors {
            assert_eq!(bits(&back.tensors[name]), bits(t), "{name}");
            nonzero |= name.ends_with("lora_b") && bits(t).iter().any(|&b| b & 0x7fff_ffff != 0);
        }
        assert!(nonzero, "training left every B at zero");
        assert_eq!(back.hash().unwrap(), adapter.hash().unwrap());
        let card = std::fs::read_to_string(dir.join(CARD_FILE)).unwrap();
        assert_eq!(ModelCard::parse(&card).unwrap(), tiny_card());
        let config: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join(CONFIG_FILE)).unwrap()).unwrap();
        assert_eq!(config["r"], 4);
        assert_eq!(config["lora_alpha"], 8);
        assert_eq!(config["target_modules"].as_array().unwrap().len(), 7);
    }

    /// An adapter on layer 0's q, k and v whose B row `i` is all `i`.
    fn counting(cfg: &LlamaConfig, rank: usize) -> Adapter {
        let mut tensors = HashMap::new();
        for m in [Module::Q, Module::K, Module::V] {
            let (out, inp) = m.dims(cfg);
            let b: Vec<f32> = (0..out * rank).map(|i| (i / rank) as f32).collect();
            tensors.insert(
                mycel_name((0, m, Half::A)),
                Tensor::zeros((rank, inp), DType::F32, &Device::Cpu).unwrap(),
            );
            tensors.insert(
                mycel_name((0, m, Half::B)),
                Tensor::from_vec(b, (out, rank), &Device::Cpu).unwrap(),
            );
        }
        Adapter {
            base_model_id: ModelId([7; 32]),
            rank,
            alpha: 2.5,
            tensors,
        }
    }

    #[test]
    fn q_and_k_rows_move_in_the_file_and_v_rows_do_not() {
        let cfg = LlamaConfig::tiny(96);
        let (hd, rank) = (cfg.head_dim(), 2);
        assert_eq!(hd, 16);
        let adapter = counting(&cfg, rank);
        let dir = tempfile::tempdir().unwrap();
        export_adapter(&adapter, &cfg, "x/y", None, dir.path()).unwrap();
        assert!(!dir.path().join(CARD_FILE).exists());
        let bytes = std::fs::read(dir.path().join(WEIGHTS_FILE)).unwrap();
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let rows = |m: Module| -> Vec<f32> {
            let v = st.tensor(&peft_name((0, m, Half::B))).unwrap();
            v.data()
                .chunks_exact(4 * rank)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect()
        };
        // HF row 1 is (pair 1, first half): GGUF row 2; HF row 8 is (pair 0, second half): GGUF row 1.
        for m in [Module::Q, Module::K] {
            let r = rows(m);
            assert_eq!(&r[..3], [0.0, 2.0, 4.0], "{m:?}");
            assert_eq!(&r[8..10], [1.0, 3.0], "{m:?}");
            assert_eq!(r[hd + 1], (hd + 2) as f32, "{m:?}: second head");
        }
        let v = rows(Module::V);
        assert!(v.iter().enumerate().all(|(i, &x)| x == i as f32));
        let back = import_adapter(dir.path(), &cfg, adapter.base_model_id).unwrap();
        for (name, t) in &adapter.tensors {
            assert_eq!(bits(&back.tensors[name]), bits(t), "{name}");
        }
        assert_eq!(back.alpha, 2.5);
    }

    #[test]
    fn row_permutations_are_inverse_with_grouped_heads() {
        // The tiny model (4 heads, 2 KV heads) and SmolLM2-135M (9 heads, 3 KV heads, width 64).
        for (heads, kv_heads, hd) in [(4, 2, 16), (9, 3, 64)] {
            for rows in [heads * hd, kv_heads * hd] {
                let cols = 3;
                let m: Vec<f32> = (0..rows * cols).map(|i| i as f32).collect();
                let p = hf_to_gguf_rows(&m, cols, hd);
                assert_ne!(p, m);
                assert_eq!(gguf_to_hf_rows(&p, cols, hd), m);
                assert_eq!(hf_to_gguf_rows(&gguf_to_hf_rows(&m, cols, hd), cols, hd), m);
            }
        }
    }

    /// The claim of the module docs: interleaved RoPE on GGUF-ordered rows is rotate-half RoPE on HF rows.
    #[test]
    fn permutation_maps_rope_i_to_rotate_half() {
        let (heads, t, hd) = (3, 5, 8);
        let mut rng = crate::sampling::Rng::new(11);
        // Activations in HF order, laid out (position, head * hd).
        let hf: Vec<f32> = (0..t * heads * hd).map(|_| rng.uniform(1.0)).collect();
        let gguf: Vec<f32> = hf
            .chunks_exact(heads * hd)
            .flat_map(|pos| hf_to_gguf_rows(pos, 1, hd))
            .collect();
        let angles: Vec<f32> = (0..t * hd / 2).map(|_| rng.uniform(3.0)).collect();
        let cos = Tensor::from_vec(
            angles.iter().map(|a| a.cos()).collect(),
            (t, hd / 2),
            &Device::Cpu,
        )
        .unwrap();
        let sin = Tensor::from_vec(
            angles.iter().map(|a| a.sin()).collect(),
            (t, hd / 2),
            &Device::Cpu,
        )
        .unwrap();
        let bhtd = |v: Vec<f32>| {
            Tensor::from_vec(v, (t, heads, hd), &Device::Cpu)
                .unwrap()
                .transpose(0, 1)
                .unwrap()
                .unsqueeze(0)
                .unwrap()
                .contiguous()
                .unwrap()
        };
        let back = |x: Tensor| -> Vec<f32> {
            x.squeeze(0)
                .unwrap()
                .transpose(0, 1)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap()
        };
        let rotated_gguf = back(candle_nn::rotary_emb::rope_i(&bhtd(gguf), &cos, &sin).unwrap());
        let rotated_hf = back(candle_nn::rotary_emb::rope(&bhtd(hf), &cos, &sin).unwrap());
        let expected: Vec<f32> = rotated_hf
            .chunks_exact(heads * hd)
            .flat_map(|pos| hf_to_gguf_rows(pos, 1, hd))
            .collect();
        let diff = rotated_gguf
            .iter()
            .zip(&expected)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(diff < 1e-6, "{diff}");
    }

    fn write_weights(dir: &Path, tensors: &[(String, safetensors::Dtype, Vec<usize>)]) {
        let bytes: Vec<Vec<u8>> = tensors
            .iter()
            .map(|(_, d, s)| vec![0u8; s.iter().product::<usize>() * d.bitsize() / 8])
            .collect();
        let views = tensors
            .iter()
            .zip(&bytes)
            .map(|((n, d, s), b)| {
                (
                    n.clone(),
                    safetensors::tensor::TensorView::new(*d, s.clone(), b).unwrap(),
                )
            })
            .collect::<Vec<_>>();
        std::fs::write(
            dir.join(WEIGHTS_FILE),
            safetensors::serialize(views, None).unwrap(),
        )
        .unwrap();
    }

    #[test]
    fn import_refuses_what_it_cannot_honour() {
        let cfg = LlamaConfig::tiny(96);
        let adapter = counting(&cfg, 2);
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        export_adapter(&adapter, &cfg, "x/y", None, d).unwrap();
        let good_config = std::fs::read_to_string(d.join(CONFIG_FILE)).unwrap();
        let id = adapter.base_model_id;
        let refused = |what: &str| match import_adapter(d, &cfg, id) {
            Err(Error::InvalidAdapter(m)) => m,
            other => panic!("{what}: {other:?}"),
        };
        for (from, to) in [
            ("\"LORA\"", "\"IA3\""),
            ("\"r\": 2", "\"r\": 4"),
            ("\"r\": 2", "\"r\": 0"),
            ("\"use_dora\": false", "\"use_dora\": true"),
            ("\"use_rslora\": false", "\"use_rslora\": true"),
            ("\"lora_alpha\": 2.5", "\"lora_alpha\": -1"),
            ("\"q_proj\",", ""),
            ("\"v_proj\"", "\"lm_head\""),
        ] {
            assert!(good_config.contains(from), "{from}");
            std::fs::write(d.join(CONFIG_FILE), good_config.replace(from, to)).unwrap();
            refused(to);
        }
        std::fs::write(d.join(CONFIG_FILE), &good_config).unwrap();
        let f32 = safetensors::Dtype::F32;
        let v_a = peft_name((0, Module::V, Half::A));
        let v_b = peft_name((0, Module::V, Half::B));
        for (what, tensors) in [
            (
                "unknown key",
                vec![
                    (v_a.clone(), f32, vec![2, 64]),
                    (v_b.clone(), f32, vec![32, 2]),
                    ("lm_head.weight".into(), f32, vec![2, 2]),
                ],
            ),
            ("missing half", vec![(v_a.clone(), f32, vec![2, 64])]),
            (
                "wrong dtype",
                vec![
                    (v_a.clone(), safetensors::Dtype::F16, vec![2, 64]),
                    (v_b.clone(), f32, vec![32, 2]),
                ],
            ),
            (
                "wrong shape",
                vec![
                    (v_a.clone(), f32, vec![2, 63]),
                    (v_b.clone(), f32, vec![32, 2]),
                ],
            ),
            (
                "layer out of range",
                vec![(peft_name((2, Module::V, Half::A)), f32, vec![2, 64])],
            ),
            ("empty", vec![]),
        ] {
            write_weights(d, &tensors);
            let m = refused(what);
            assert!(!m.is_empty(), "{what}");
        }
        // A subset of layers with both halves is fine.
        write_weights(d, &[(v_a, f32, vec![2, 64]), (v_b, f32, vec![32, 2])]);
        assert_eq!(import_adapter(d, &cfg, id).unwrap().tensors.len(), 2);
        std::fs::write(d.join(WEIGHTS_FILE), b"garbage").unwrap();
        refused("garbage");
        // Export refuses tensors that fit no layer.
        let mut odd = adapter.clone();
        odd.tensors.insert(
            "blk.0.q.lora_c".into(),
            Tensor::zeros((2, 2), DType::F32, &Device::Cpu).unwrap(),
        );
        assert!(matches!(
            export_adapter(&odd, &cfg, "x/y", None, d),
            Err(Error::InvalidAdapter(_))
        ));
        let mut short = adapter;
        short.tensors.remove("blk.0.k.lora_b");
        assert!(matches!(
            export_adapter(&short, &cfg, "x/y", None, d),
            Err(Error::InvalidAdapter(_))
        ));
    }
}
