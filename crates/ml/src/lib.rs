//! Model artifacts and the candle runtime: generation, embeddings, LoRA fine-tuning, activation fingerprints.
//!
//! Terms: a *pinned model* ([`registry::MODELS`]) is a set of files with sha256 pins, unpacked by
//! `scripts/fetch-models.sh` into a [`registry::ModelStore`]; its [`registry::ModelId`] is BLAKE3 over the files
//! and the runtime descriptor (runtime version, architecture, [`registry::ExecMode`]). The worker talks to the
//! [`engine::Engine`] trait; [`engine::LocalEngine`] implements it over a store. Every generation records an
//! *execution trace* (a hash per 32-position chunk and transformer block, [`generate::TraceRecorder`]) that
//! [`generate::TextGenerator::replay`] recomputes bit for bit, so an auditor can re-execute a job and a dispute
//! can bisect over it; embeddings have one leaf per item ([`embed::trace_leaves`]).
//!
//! ```
//! use mycel_ml::{
//!     generate::{GenerateRequest, Prompt, TextGenerator},
//!     registry::ExecMode,
//!     sampling::SamplingParams,
//! };
//! // A tiny random-weight model: no download needed.
//! let g = TextGenerator::tiny_random(7, ExecMode::F32)?;
//! let req = GenerateRequest { prompt: Prompt::user("hi"), params: SamplingParams::greedy(4) };
//! let mut streamed = String::new();
//! let out = g.generate(&req, |t| streamed.push_str(t))?;
//! assert_eq!(out.text, streamed);
//! assert!(out.token_ids.len() <= 4);
//! # Ok::<(), mycel_ml::Error>(())
//! ```

mod bert;
pub mod embed;
pub mod engine;
mod error;
pub mod fetch;
pub mod generate;
pub mod hf;
pub mod llama;
pub mod lora;
mod q4;
pub mod registry;
pub mod runtime;
pub mod sampling;
pub mod text;
mod vnni;

pub use error::{Error, Result};
