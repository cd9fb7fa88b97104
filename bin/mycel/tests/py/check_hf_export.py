#!/usr/bin/env python3
"""Checks a LoRA adapter directory that `mycel_ml::hf::export_adapter` wrote, with the `safetensors`
package alone (numpy framework), so the layout PEFT expects is checked by a reader other than mycel's.

Usage: python check_hf_export.py DIR
  DIR  holds adapter_config.json, adapter_model.safetensors and README.md

Checks: every tensor key is PEFT's
`base_model.model.model.layers.{i}.{self_attn.{q,k,v,o},mlp.{gate,up,down}}_proj.lora_{A,B}.weight`;
dtypes are float32; A is [r, in] and B is [out, r] with r = adapter_config.json's `r`, every A/B pair is
complete and each module's in/out sizes agree across layers; `target_modules` covers the keys; README.md's
front matter has `base_model`, `base_model_relation` and `license`. Prints one JSON line (`ok`, counts,
`failures`) and exits 1 on any failure. Runs in the venv that scripts/setup-py-sdk.sh makes.
"""

import json
import os
import re
import sys

import numpy as np
from safetensors.numpy import load_file

KEY = re.compile(
    r"^base_model\.model\.model\.layers\.(0|[1-9][0-9]*)\."
    r"(?:self_attn\.(?P<attn>q|k|v|o)_proj|mlp\.(?P<mlp>gate|up|down)_proj)"
    r"\.lora_(?P<half>A|B)\.weight$"
)
CARD_KEYS = ("base_model", "base_model_relation", "license")


def front_matter_keys(text):
    """Top-level keys of the README's YAML front matter (the part between the first two `---` lines)."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return None
    keys = set()
    for line in lines[1:]:
        if line.strip() == "---":
            return keys
        m = re.match(r"^([A-Za-z0-9_]+):", line)
        if m:
            keys.add(m.group(1))
    return None


def check(d):
    failures = []
    fail = failures.append
    with open(os.path.join(d, "adapter_config.json"), encoding="utf-8") as f:
        config = json.load(f)
    r = config.get("r")
    if not isinstance(r, int) or r < 1:
        fail(f"adapter_config.json: r = {r!r}")
    if config.get("peft_type") != "LORA":
        fail(f"adapter_config.json: peft_type = {config.get('peft_type')!r}")
    targets = config.get("target_modules")
    if not isinstance(targets, list):
        fail(f"adapter_config.json: target_modules = {targets!r}")
        targets = []

    tensors = load_file(os.path.join(d, "adapter_model.safetensors"))
    if not tensors:
        fail("adapter_model.safetensors has no tensors")
    pairs = {}  # (layer, module) -> {"A": shape, "B": shape}
    for key, t in sorted(tensors.items()):
        m = KEY.match(key)
        if not m:
            fail(f"{key}: not a PEFT LoRA key")
            continue
        if t.dtype != np.float32:
            fail(f"{key}: dtype {t.dtype}, expected float32")
        if t.ndim != 2:
            fail(f"{key}: shape {t.shape} is not 2-D")
            continue
        module = (m.group("attn") or m.group("mlp")) + "_proj"
        half = m.group("half")
        if half == "A" and t.shape[0] != r:
            fail(f"{key}: shape {t.shape}, expected [r={r}, in]")
        if half == "B" and t.shape[1] != r:
            fail(f"{key}: shape {t.shape}, expected [out, r={r}]")
        if module not in targets:
            fail(f"{key}: {module} is not in target_modules {targets}")
        pairs.setdefault((int(m.group(1)), module), {})[half] = t.shape

    dims = {}  # module -> (out, in), the same in every layer
    for (layer, module), halves in sorted(pairs.items()):
        if set(halves) != {"A", "B"}:
            fail(f"layer {layer} {module}: only lora_{''.join(halves)}")
            continue
        io = (halves["B"][0], halves["A"][1])
        if dims.setdefault(module, io) != io:
            fail(f"layer {layer} {module}: (out, in) = {io}, other layers have {dims[module]}")
    # Llama: the residual width goes into q, k, v, gate, up and comes out of o and down.
    hidden = {dims[m][1] for m in ("q_proj", "k_proj", "v_proj", "gate_proj", "up_proj") if m in dims}
    hidden |= {dims[m][0] for m in ("o_proj", "down_proj") if m in dims}
    if len(hidden) > 1:
        fail(f"inconsistent hidden sizes {sorted(hidden)}")
    if "down_proj" in dims and "up_proj" in dims and dims["down_proj"][1] != dims["up_proj"][0]:
        fail(f"down_proj in {dims['down_proj'][1]} != up_proj out {dims['up_proj'][0]}")

    with open(os.path.join(d, "README.md"), encoding="utf-8") as f:
        keys = front_matter_keys(f.read())
    if keys is None:
        fail("README.md has no front matter")
    else:
        for k in CARD_KEYS:
            if k not in keys:
                fail(f"README.md front matter lacks {k}")

    return {
        "ok": not failures,
        "r": r,
        "tensors": len(tensors),
        "layers": len({layer for layer, _ in pairs}),
        "modules": sorted(dims),
        "failures": failures,
    }


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    try:
        summary = check(sys.argv[1])
    except Exception as e:  # a missing or unreadable file is a failed check, reported the same way
        summary = {"ok": False, "failures": [f"{type(e).__name__}: {e}"]}
    print(json.dumps(summary, sort_keys=True))
    sys.exit(0 if summary["ok"] else 1)


if __name__ == "__main__":
    main()
