#!/usr/bin/env python3
"""Recomputes mycel's greedy tokens with an independent numpy implementation of Hugging Face's llama and
PEFT's LoRA, from the GGUF file and a PEFT adapter directory that `mycel_ml::hf::export_adapter` wrote.

Usage: python hf_reference.py DIR GGUF
  DIR   holds adapter/ (adapter_config.json, adapter_model.safetensors) and mycel_tokens.json, as written by
        the ignored test `hf_reference::real_smollm2_peft_export_for_reference` (crates/ml/tests/it)
  GGUF  the pinned SmolLM2-135M-Instruct GGUF that test loaded

What it does, without any mycel code:
- reads the GGUF with the `gguf` package and dequantizes every tensor to float32 (`gguf.quants.dequantize`);
- undoes llama.cpp's q/k row permutation (convert_hf_to_gguf.py stores `permute(q, n_head, n_head)` and
  `permute(k, n_head, n_head_kv)`), as transformers' GGUF loader does, so the weights are in HF row order;
- runs transformers' `LlamaForCausalLM` forward in numpy float32: RMSNorm, rotate-half RoPE with the GGUF's
  rope base, grouped-query attention, SiLU MLP, and the output head the file has (`output.weight`, else the
  tied token embedding);
- applies the adapter as PEFT defines it: `W + scale * B @ A` on every module the file has a pair for,
  `scale = lora_alpha / r` (`lora_alpha / sqrt(r)` with `use_rslora`), refusing what this script does not
  implement (DoRA, `fan_in_fan_out`, biases, unknown keys or modules outside `target_modules`);
- greedy-decodes from mycel's prompt token ids, as many tokens as mycel produced (its last one is the
  end-of-sequence token when one stopped it), with and without the adapter.

Prints a JSON summary (per prompt: mycel's and the reference's tokens, the smallest top-2 logit margin seen,
and at a mismatch the margin there, so a near-tie can be told from a layout bug) and exits 1 on any mismatch.
Runs in the venv that scripts/hf-reference-check.sh makes.
"""

import json
import math
import os
import re
import sys

import gguf
import numpy as np
from safetensors.numpy import load_file

KEY = re.compile(
    r"^base_model\.model\.model\.layers\.(0|[1-9][0-9]*)\."
    r"(?:self_attn|mlp)\.(q|k|v|o|gate|up|down)_proj\.lora_(A|B)\.weight$"
)
PARENT = {m: "self_attn" for m in "qkvo"} | {m: "mlp" for m in ("gate", "up", "down")}
# transformers module -> GGUF tensor in block i.
GGUF_NAME = {
    "q": "attn_q",
    "k": "attn_k",
    "v": "attn_v",
    "o": "attn_output",
    "gate": "ffn_gate",
    "up": "ffn_up",
    "down": "ffn_down",
}


class Failure(Exception):
    pass


def field(reader, key, default=None):
    f = reader.fields.get(key)
    if f is None:
        if default is None:
            raise Failure(f"GGUF has no {key}")
        return default
    return f.contents()


def hf_permute(w, n_head):
    """llama.cpp's `LlamaModel.permute`: HF rows -> GGUF rows (rotate-half pairs become adjacent)."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def hf_unpermute(w, n_head):
    """The inverse of `hf_permute`: GGUF rows -> HF rows (transformers' `_reverse_permute_weights`)."""
    return w.reshape(n_head, w.shape[0] // n_head // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def load_gguf(path):
    """The config and the float32 weights in Hugging Face layout, keyed by GGUF name."""
    r = gguf.GGUFReader(path)
    arch = field(r, "general.architecture")
    if arch != "llama":
        raise Failure(f"architecture {arch!r}, expected llama")
    cfg = {
        "layers": int(field(r, "llama.block_count")),
        "hidden": int(field(r, "llama.embedding_length")),
        "heads": int(field(r, "llama.attention.head_count")),
        "kv_heads": int(field(r, "llama.attention.head_count_kv")),
        "eps": float(field(r, "llama.attention.layer_norm_rms_epsilon")),
        "rope_base": float(field(r, "llama.rope.freq_base", 10000.0)),
    }
    cfg["head_dim"] = cfg["hidden"] // cfg["heads"]
    if int(field(r, "llama.rope.dimension_count", cfg["head_dim"])) != cfg["head_dim"]:
        raise Failure("partial rotary embeddings are not implemented")
    w = {}
    for t in r.tensors:
        a = np.asarray(gguf.quants.dequantize(t.data, t.tensor_type), dtype=np.float32)
        want = tuple(int(d) for d in reversed(t.shape.tolist()))
        if a.shape != want:
            a = a.reshape(want)
        w[t.name] = np.ascontiguousarray(a)
    for i in range(cfg["layers"]):
        for name, n in (("attn_q", cfg["heads"]), ("attn_k", cfg["kv_heads"])):
            g = w[f"blk.{i}.{name}.weight"]
            hf = hf_unpermute(g, n)
            if not np.array_equal(hf_permute(hf, n), g):
                raise Failure("hf_permute does not invert hf_unpermute")
            w[f"blk.{i}.{name}.weight"] = np.ascontiguousarray(hf)
    cfg["tied"] = "output.weight" not in w
    if cfg["tied"]:
        w["output.weight"] = w["token_embd.weight"]
    return cfg, w


def load_adapter(adir, cfg, weights):
    """Checks the PEFT adapter and returns {gguf name: scale * B @ A} and a description."""
    with open(os.path.join(adir, "adapter_config.json")) as f:
        conf = json.load(f)
    if conf.get("peft_type", "LORA") != "LORA":
        raise Failure(f"peft_type {conf.get('peft_type')!r}")
    for k in ("use_dora", "fan_in_fan_out"):
        if conf.get(k):
            raise Failure(f"{k} is not implemented here")
    if conf.get("bias", "none") != "none":
        raise Failure(f"bias {conf['bias']!r} is not implemented here")
    for k in ("rank_pattern", "alpha_pattern"):
        if conf.get(k):
            raise Failure(f"{k} is not implemented here")
    r, alpha = int(conf["r"]), float(conf["lora_alpha"])
    scale = alpha / math.sqrt(r) if conf.get("use_rslora") else alpha / r
    targets = conf["target_modules"]
    targets = set(targets) if isinstance(targets, list) else {targets}
    tensors = load_file(os.path.join(adir, "adapter_model.safetensors"))
    pairs = {}
    for key, t in tensors.items():
        m = KEY.match(key)
        if not m or PARENT[m.group(2)] not in key:
            raise Failure(f"unexpected key {key}")
        layer, mod, half = int(m.group(1)), m.group(2), m.group(3)
        if f"{mod}_proj" not in targets:
            raise Failure(f"{key}: {mod}_proj is not in target_modules {sorted(targets)}")
        if layer >= cfg["layers"]:
            raise Failure(f"{key}: layer {layer} out of range")
        if t.dtype != np.float32:
            raise Failure(f"{key}: dtype {t.dtype}")
        pairs.setdefault((layer, mod), {})[half] = t
    deltas = {}
    for (layer, mod), p in sorted(pairs.items()):
        if set(p) != {"A", "B"}:
            raise Failure(f"layer {layer} {mod}_proj has only lora_{''.join(p)}")
        a, b = p["A"], p["B"]
        name = f"blk.{layer}.{GGUF_NAME[mod]}.weight"
        out, inp = weights[name].shape
        if a.shape != (r, inp) or b.shape != (out, r):
            raise Failure(f"{name}: A {a.shape}, B {b.shape}, expected ({r}, {inp}) and ({out}, {r})")
        deltas[name] = (scale * (b.astype(np.float64) @ a.astype(np.float64))).astype(np.float32)
    nonzero_b = sum(bool(np.any(p["B"])) for p in pairs.values())
    info = {"r": r, "lora_alpha": alpha, "scale": scale, "modules": len(pairs), "nonzero_b": nonzero_b}
    return deltas, info


def rms_norm(x, w, eps):
    var = np.mean(x * x, axis=-1, keepdims=True, dtype=np.float32)
    return (w * (x / np.sqrt(var + np.float32(eps)))).astype(np.float32)


def rotate_half(x):
    h = x.shape[-1] // 2
    return np.concatenate([-x[..., h:], x[..., :h]], axis=-1)


class Llama:
    """transformers' LlamaForCausalLM forward in numpy float32, with a KV cache, batch size 1."""

    def __init__(self, cfg, w, deltas=None):
        self.cfg = cfg
        self.w = dict(w)
        for name, d in (deltas or {}).items():
            self.w[name] = self.w[name] + d
        d = cfg["head_dim"]
        self.inv_freq = (1.0 / cfg["rope_base"] ** (np.arange(0, d, 2, dtype=np.float32) / d)).astype(np.float32)

    def rope(self, x, pos):
        # x: (heads, t, d); rotate-half with cos/sin repeated over both halves, as transformers builds them.
        t = x.shape[1]
        freqs = np.outer(np.arange(pos, pos + t, dtype=np.float32), self.inv_freq).astype(np.float32)
        emb = np.concatenate([freqs, freqs], axis=-1)
        cos, sin = np.cos(emb).astype(np.float32), np.sin(emb).astype(np.float32)
        return (x * cos + rotate_half(x) * sin).astype(np.float32)

    def forward(self, ids, cache):
        """Logits of the last of `ids`, run after the cache's positions; the cache grows by len(ids)."""
        c, w = self.cfg, self.w
        nh, nkv, d, eps = c["heads"], c["kv_heads"], c["head_dim"], c["eps"]
        pos = cache["len"]
        t = len(ids)
        h = w["token_embd.weight"][np.asarray(ids)]
        mask = np.triu(np.full((t, pos + t), -np.inf, dtype=np.float32), k=pos + 1)
        for i in range(c["layers"]):
            p = f"blk.{i}."
            x = rms_norm(h, w[p + "attn_norm.weight"], eps)
            q = (x @ w[p + "attn_q.weight"].T).reshape(t, nh, d).transpose(1, 0, 2)
            k = (x @ w[p + "attn_k.weight"].T).reshape(t, nkv, d).transpose(1, 0, 2)
            v = (x @ w[p + "attn_v.weight"].T).reshape(t, nkv, d).transpose(1, 0, 2)
            q, k = self.rope(q, pos), self.rope(k, pos)
            if i in cache["kv"]:
                pk, pv = cache["kv"][i]
                k, v = np.concatenate([pk, k], axis=1), np.concatenate([pv, v], axis=1)
            cache["kv"][i] = (k, v)
            # repeat_kv: query head j reads key/value head j // (nh / nkv).
            k, v = np.repeat(k, nh // nkv, axis=0), np.repeat(v, nh // nkv, axis=0)
            s = (q @ k.transpose(0, 2, 1)) * np.float32(d**-0.5) + mask
            s = np.exp(s - s.max(axis=-1, keepdims=True))
            s = (s / s.sum(axis=-1, keepdims=True)).astype(np.float32)
            a = (s @ v).transpose(1, 0, 2).reshape(t, nh * d)
            h = h + a @ w[p + "attn_output.weight"].T
            x = rms_norm(h, w[p + "ffn_norm.weight"], eps)
            g = x @ w[p + "ffn_gate.weight"].T
            u = x @ w[p + "ffn_up.weight"].T
            h = h + ((g / (1.0 + np.exp(-g))) * u).astype(np.float32) @ w[p + "ffn_down.weight"].T
        cache["len"] = pos + t
        last = rms_norm(h[-1:], w["output_norm.weight"], eps)
        return (last @ w["output.weight"].T)[0]


def top2(logits):
    i = np.argpartition(logits, -2)[-2:]
    i = i[np.argsort(-logits[i])]
    return int(i[0]), int(i[1]), float(logits[i[0]] - logits[i[1]])


def compare(model, prompt_ids, mycel):
    """Greedy-decodes len(mycel) tokens and compares them with mycel's."""
    cache = {"len": 0, "kv": {}}
    logits = model.forward(prompt_ids, cache)
    ours, margins, mismatch = [], [], None
    for step in range(len(mycel)):
        best, second, margin = top2(logits)
        ours.append(best)
        margins.append(margin)
        if mismatch is None and best != mycel[step]:
            mismatch = {
                "step": step,
                "reference": best,
                "mycel": mycel[step],
                "reference_top2": [best, second],
                "top2_margin": margin,
                "reference_logit_gap_to_mycel_token": float(logits[best] - logits[mycel[step]]),
            }
        if step + 1 < len(mycel):
            logits = model.forward([best], cache)
    out = {
        "equal": ours == list(mycel),
        "mycel": list(mycel),
        "reference": ours,
        "min_top2_margin": min(margins) if margins else None,
    }
    if mismatch:
        out["first_mismatch"] = mismatch
    return out


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    root, gguf_path = sys.argv[1], sys.argv[2]
    with open(os.path.join(root, "mycel_tokens.json")) as f:
        mycel = json.load(f)
    cfg, weights = load_gguf(gguf_path)
    deltas, info = load_adapter(os.path.join(root, "adapter"), cfg, weights)
    models = {"base": Llama(cfg, weights), "adapter": Llama(cfg, weights, deltas)}
    prompts, ok = [], True
    for p in mycel["prompts"]:
        row = {"prompt": p["prompt"], "prompt_tokens": len(p["prompt_ids"])}
        for which, model in models.items():
            row[which] = compare(model, p["prompt_ids"], p[f"{which}_tokens"])
            ok &= row[which]["equal"]
        row["adapter_changed_tokens"] = p["base_tokens"] != p["adapter_tokens"]
        prompts.append(row)
    summary = {
        "ok": ok,
        "gguf": os.path.basename(gguf_path),
        "config": cfg,
        "adapter": info,
        "base_equal": all(r["base"]["equal"] for r in prompts),
        "adapter_equal": all(r["adapter"]["equal"] for r in prompts),
        "prompts": prompts,
    }
    print(json.dumps(summary, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failure as e:
        print(json.dumps({"ok": False, "error": str(e)}))
        sys.exit(1)
