//! The OpenAI chat wire types, shared by every server that speaks them (a worker's session
//! server today; the node's gateway next) and by the clients that call them.

use serde::{Deserialize, Serialize};

/// One chat message (OpenAI shape).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChatMessage {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// Text.
    pub content: String,
}

/// An OpenAI-compatible chat request.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChatRequest {
    /// Model name or ID (informational; the session fixes the model).
    #[serde(default)]
    pub model: String,
    /// The conversation.
    pub messages: Vec<ChatMessage>,
    /// Most tokens to generate.
    #[serde(default = "default_max_tokens")]
    pub max_tokens: usize,
    /// Stream the reply as server-sent events.
    #[serde(default)]
    pub stream: bool,
    /// Sampling seed.
    #[serde(default)]
    pub seed: u64,
}

fn default_max_tokens() -> usize {
    64
}
