#!/usr/bin/env python3
"""Greedy tokens of Hugging Face's llama with a mycel-exported LoRA adapter applied by PEFT, to compare
with mycel's own greedy tokens for the same prompts (opt-in; run by scripts/peft-check.sh).

Usage: python peft_check.py GGUF_FILE ADAPTER_DIR PROMPTS_JSON [MAX_NEW_TOKENS]
  GGUF_FILE       the pinned SmolLM2-135M-Instruct GGUF (transformers dequantizes it to float32, the
                  weights mycel's f32 execution mode runs on, and undoes llama.cpp's q/k row permutation)
  ADAPTER_DIR     what `mycel_ml::hf::export_adapter` wrote (adapter_config.json, adapter_model.safetensors)
  PROMPTS_JSON    a JSON list of 3 prompts, inline or as a file path; each is a string (tokenized with the
                  GGUF's tokenizer, no special tokens added, like mycel's raw prompts) or a list of token
                  ids (exact; use these when the two tokenizers might disagree)
  MAX_NEW_TOKENS  default 16

Prints one JSON line per prompt: {"prompt": i, "input_ids": [...], "base_tokens": [...], "tokens": [...],
"base_margins": [...], "margins": [...], "text": "..."}, where `base_tokens` are the greedy tokens with the
adapter disabled and `tokens` with it, and `*_margins[j]` is the gap between the two largest raw logits at
step j (what chose token j): where a token differs from mycel's, a margin near 0 says near-tie, a large
one says the models differ. Greedy decoding stops at the model's end-of-sequence token or after
MAX_NEW_TOKENS. The adapter must change `tokens` relative to `base_tokens` somewhere for the comparison
to say anything.
"""

import json
import os
import sys

import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer


def load_prompts(arg):
    text = arg
    if not arg.lstrip().startswith("[") and os.path.exists(arg):
        with open(arg, encoding="utf-8") as f:
            text = f.read()
    prompts = json.loads(text)
    ok = isinstance(prompts, list) and len(prompts) == 3
    ok = ok and all(
        isinstance(p, str) or (isinstance(p, list) and p and all(isinstance(t, int) for t in p))
        for p in prompts
    )
    if not ok:
        sys.exit("PROMPTS_JSON must be a list of 3 prompts, each a string or a list of token ids")
    return prompts


def main():
    if len(sys.argv) not in (4, 5):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    gguf, adapter_dir, prompts_arg = sys.argv[1:4]
    max_new = int(sys.argv[4]) if len(sys.argv) == 5 else 16
    prompts = load_prompts(prompts_arg)
    torch.manual_seed(0)
    torch.use_deterministic_algorithms(True)

    gguf_dir, gguf_file = os.path.split(os.path.abspath(gguf))
    tok = AutoTokenizer.from_pretrained(gguf_dir, gguf_file=gguf_file)
    base = AutoModelForCausalLM.from_pretrained(gguf_dir, gguf_file=gguf_file, dtype=torch.float32)
    dtypes = {p.dtype for p in base.parameters()}
    if dtypes != {torch.float32}:
        sys.exit(f"expected the GGUF dequantized to float32, got {dtypes}")
    model = PeftModel.from_pretrained(base, adapter_dir, is_trainable=False)
    model.eval()
    lora = sum(1 for n, _ in model.named_parameters() if "lora_" in n)
    if lora == 0:
        sys.exit("PEFT applied no LoRA weights")
    eos = model.config.eos_token_id

    def greedy(ids):
        input_ids = torch.tensor([ids], dtype=torch.long)
        out = model.generate(
            input_ids=input_ids,
            attention_mask=torch.ones_like(input_ids),
            max_new_tokens=max_new,
            do_sample=False,
            num_beams=1,
            eos_token_id=eos,
            pad_token_id=eos if isinstance(eos, int) else None,
            return_dict_in_generate=True,
            output_logits=True,
        )
        margins = []
        for step in out.logits:
            top2 = torch.topk(step[0].float(), 2).values
            margins.append(round(float(top2[0] - top2[1]), 4))
        return out.sequences[0, input_ids.shape[1]:].tolist(), margins

    with torch.no_grad():
        for i, p in enumerate(prompts):
            ids = p if isinstance(p, list) else tok(p, add_special_tokens=False)["input_ids"]
            with model.disable_adapter():
                base_tokens, base_margins = greedy(ids)
            tokens, margins = greedy(ids)
            print(
                json.dumps(
                    {
                        "prompt": i,
                        "input_ids": ids,
                        "base_tokens": base_tokens,
                        "tokens": tokens,
                        "base_margins": base_margins,
                        "margins": margins,
                        "text": tok.decode(tokens),
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
