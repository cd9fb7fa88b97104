//! Tokenizers for the generation models: a byte-level BPE rebuilt from GGUF metadata, and the chat template.

use crate::{Error, Result};
use candle_core::quantized::gguf_file;
use tokenizers::{
    AddedToken, Tokenizer,
    decoders::byte_level::ByteLevel as ByteLevelDecoder,
    models::bpe::BPE,
    pre_tokenizers::{byte_level::ByteLevel, digits::Digits, sequence::Sequence},
};

/// A tokenizer with the special tokens a chat model needs.
#[derive(Debug, Clone)]
pub struct TextTokenizer {
    inner: Tokenizer,
    /// End-of-sequence token ids (generation stops on any of them).
    pub eos: Vec<u32>,
}

/// GGUF `tokenizer.ggml.token_type` value of control tokens.
const TOKEN_TYPE_CONTROL: i32 = 3;

impl TextTokenizer {
    /// Builds a byte-level BPE from a vocabulary, merges and the ids of special (control) tokens.
    ///
    /// The pre-tokenizer splits digits one by one and then applies the GPT-2 byte-level regex, which is what
    /// SmolLM2's `smollm` pre-tokenizer does.
    pub fn from_bpe(
        tokens: Vec<String>,
        merges: Vec<(String, String)>,
        special: &[u32],
        eos: Vec<u32>,
    ) -> Result<Self> {
        let vocab: tokenizers::models::bpe::Vocab = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), i as u32))
            .collect();
        let bpe = BPE::builder()
            .vocab_and_merges(vocab, merges)
            .build()
            .map_err(Error::tokenizer)?;
        let mut tk = Tokenizer::new(bpe);
        tk.with_pre_tokenizer(Some(Sequence::new(vec![
            Digits::new(true).into(),
            ByteLevel::new(false, true, true).into(),
        ])));
        tk.with_decoder(Some(ByteLevelDecoder::default()));
        let specials: Vec<AddedToken> = special
            .iter()
            .filter_map(|&i| tokens.get(i as usize))
            .map(|t| AddedToken::from(t.clone(), true))
            .collect();
        tk.add_special_tokens(&specials);
        Ok(Self { inner: tk, eos })
    }

    /// Rebuilds the tokenizer stored in a GGUF file's metadata (`gpt2` BPE models only).
    pub fn from_gguf(ct: &gguf_file::Content) -> Result<Self> {
        let bad = |reason: String| Error::InvalidModel {
            what: "gguf tokenizer".into(),
            reason,
        };
        let md = |k: &str| {
            ct.metadata
                .get(k)
                .ok_or_else(|| bad(format!("missing {k}")))
        };
        let model = md("tokenizer.ggml.model")?
            .to_string()
            .map_err(|e| bad(e.to_string()))?;
        if model != "gpt2" {
            return Err(Error::NotImplemented(format!(
                "GGUF tokenizer model {model:?} (only gpt2 BPE)"
            )));
        }
        let strings = |k: &str| -> Result<Vec<String>> {
            md(k)?
                .to_vec()
                .map_err(|e| bad(e.to_string()))?
                .iter()
                .map(|v| v.to_string().cloned().map_err(|e| bad(e.to_string())))
                .collect()
        };
        let tokens = strings("tokenizer.ggml.tokens")?;
        let merges = strings("tokenizer.ggml.merges")?
            .into_iter()
            .map(|m| {
                m.split_once(' ')
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .ok_or_else(|| bad(format!("merge {m:?}")))
            })
            .collect::<Result<Vec<_>>>()?;
        let types: Vec<i32> = match ct.metadata.get("tokenizer.ggml.token_type") {
            Some(v) => v
                .to_vec()
                .map_err(|e| bad(e.to_string()))?
                .iter()
                .map(|t| t.to_i32().map_err(|e| bad(e.to_string())))
                .collect::<Result<_>>()?,
            None => Vec::new(),
        };
        let special: Vec<u32> = types
            .iter()
            .enumerate()
            .filter(|(_, t)| **t == TOKEN_TYPE_CONTROL)
            .map(|(i, _)| i as u32)
            .collect();
        let mut eos = Vec::new();
        if let Some(v) = ct.metadata.get("tokenizer.ggml.eos_token_id") {
            eos.push(v.to_u32().map_err(|e| bad(e.to_string()))?);
        }
        // The chat turn terminator also ends a reply.
        if let Some(i) = tokens.iter().position(|t| t == "<|im_end|>")
            && !eos.contains(&(i as u32))
        {
            eos.push(i as u32);
        }
        Self::from_bpe(tokens, merges, &special, eos)
    }

    /// A byte-level tokenizer with no merges (256 byte tokens plus the chat control tokens), for tests.
    pub fn bytes_only() -> Result<Self> {
        let mut tokens: Vec<String> = Vec::new();
        let specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"];
        tokens.extend(specials.iter().map(|s| s.to_string()));
        tokens.extend(byte_alphabet());
        Self::from_bpe(tokens, Vec::new(), &[0, 1, 2], vec![0, 2])
    }

    /// Vocabulary size, special tokens included.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// Encodes text; special tokens in the text are recognised.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        Ok(self
            .inner
            .encode(text, false)
            .map_err(Error::tokenizer)?
            .get_ids()
            .to_vec())
    }

    /// Decodes ids; special tokens are skipped.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.inner.decode(ids, true).map_err(Error::tokenizer)
    }
}

/// The 256 printable characters GPT-2 byte-level BPE uses for bytes.
fn byte_alphabet() -> Vec<String> {
    let mut bs: Vec<u32> = (b'!' as u32..=b'~' as u32)
        .chain(0xA1..=0xAC)
        .chain(0xAE..=0xFF)
        .collect();
    let mut cs = bs.clone();
    let mut n = 0;
    for b in 0..256u32 {
        if !bs.contains(&b) {
            bs.push(b);
            cs.push(256 + n);
            n += 1;
        }
    }
    cs.into_iter()
        .filter_map(char::from_u32)
        .map(|c| c.to_string())
        .collect()
}

/// A chat message.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChatMessage {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// The text.
    pub content: String,
}

impl ChatMessage {
    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Self {
            role: "user".into(),
            content: content.into(),
        }
    }
}

/// Renders messages with the ChatML template SmolLM2-Instruct was trained on, ending with an open assistant
/// turn.
///
/// The template stored in the GGUF inserts a default system prompt ("You are a helpful AI assistant named
/// SmolLM…") when none is given. We do not: with the Q4_1 weights that prompt derails short factual answers
/// (greedy "What is the capital of France?" gives "L'Étoile, la Marseillaise…" with it and "The capital of
/// France is Paris." without). Pass a `system` message to get it.
pub fn chat_template(messages: &[ChatMessage]) -> String {
    let mut out = String::new();
    for m in messages {
        out.push_str("<|im_start|>");
        out.push_str(&m.role);
        out.push('\n');
        out.push_str(&m.content);
        out.push_str("<|im_end|>\n");
    }
    out.push_str("<|im_start|>assistant\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_tokenizer_round_trips_and_keeps_specials() {
        let t = TextTokenizer::bytes_only().unwrap();
        assert_eq!(t.vocab_size(), 259);
        let ids = t.encode("<|im_start|>héllo 42<|im_end|>").unwrap();
        assert_eq!(ids[0], 1);
        assert_eq!(*ids.last().unwrap(), 2);
        assert_eq!(ids.len(), 2 + "héllo 42".len());
        assert_eq!(t.decode(&ids).unwrap(), "héllo 42");
    }

    #[test]
    fn chat_template_renders_chatml_with_open_assistant_turn() {
        let s = chat_template(&[ChatMessage::user("Hi")]);
        assert_eq!(s, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
    }
}
