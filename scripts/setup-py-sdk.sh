#!/usr/bin/env bash
# Creates the Python virtual environment with the official OpenAI SDK that the gateway's
# end-to-end test (bin/mycel/tests/py/openai_sdk.py) runs in, the official MCP SDK for the MCP
# endpoint's end-to-end test (bin/mycel/tests/py/mcp_sdk.py), and safetensors + numpy for the
# Hugging Face export check (bin/mycel/tests/py/check_hf_export.py), from the hash-pinned wheels of
# scripts/requirements-openai.txt, scripts/requirements-mcp.txt and scripts/requirements-hf.txt, and
# prints the path of its python on stdout.
#
# Usage: scripts/setup-py-sdk.sh
#   The venv goes to $MYCEL_PY_VENV, else target/py-sdk (a relative path is taken from the
#   repository root); the interpreter that creates it is $PYTHON, else python3.
# Idempotent: a venv whose stamp matches the requirements files (and the interpreter) is kept as
# it is; any other is deleted and rebuilt. The stamp is written last, so an interrupted install
# is redone on the next run.
set -euo pipefail
cd "$(dirname "$0")/.."

REQS=(scripts/requirements-openai.txt scripts/requirements-hf.txt scripts/requirements-mcp.txt)
PY="${PYTHON:-python3}"
VENV="${MYCEL_PY_VENV:-target/py-sdk}"
case "$VENV" in
  /*) ;;
  *) VENV="$PWD/$VENV" ;;
esac
STAMP="$VENV/.requirements.sha256"
VPY="$VENV/bin/python"

log() { echo "setup-py-sdk: $*" >&2; }

if ! command -v "$PY" >/dev/null 2>&1; then
  log "$PY not found (set PYTHON to a Python 3 interpreter)"
  exit 1
fi
# The stamp covers the pinned requirements and the interpreter they were installed for.
want="$(
  {
    sha256sum "${REQS[@]}" | cut -d' ' -f1
    "$PY" -c 'import sys; print(sys.version)'
  } | sha256sum | cut -d' ' -f1
)"

if [ -x "$VPY" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] &&
  "$VPY" -c 'import openai, safetensors.numpy, mcp' >/dev/null 2>&1; then
  log "up to date: $VENV"
  echo "$VPY"
  exit 0
fi

log "creating $VENV"
rm -rf "$VENV"
mkdir -p "$(dirname "$VENV")"
"$PY" -m venv "$VENV"
log "installing ${REQS[*]}"
req_args=()
for r in "${REQS[@]}"; do req_args+=(-r "$r"); done
# A package listed in more than one file has the same pin and hash in each, which pip accepts.
"$VPY" -m pip install --quiet --no-input --disable-pip-version-check \
  --require-hashes --no-deps --only-binary=:all: "${req_args[@]}" >&2
version="$("$VPY" -c 'import openai; print(openai.__version__)')"
mcp_version="$("$VPY" -c 'from importlib.metadata import version; print(version("mcp"))')"
echo "$want" >"$STAMP"
log "openai $version and mcp $mcp_version ready in $VENV"
echo "$VPY"
