#!/usr/bin/env bash
# Builds the `mycel-data` Python wheel (crates/py: PyO3 + maturin, abi3 for CPython >= 3.11) and
# installs it into a virtual environment with maturin, pyarrow and pytest from the hash-pinned
# wheels of scripts/requirements-py.txt; prints the path of that venv's python on stdout (logs go
# to stderr).
#
# Usage: scripts/build-py.sh [--test] [--scale] [PYTEST_ARGS...]
#   --test       then run the Python tests (crates/py/tests) with pytest in the venv. Set
#                MYCEL_BIN to a built `mycel` binary (e.g. target/debug/mycel) to compare with
#                `mycel data dedup`; with MYCEL_REQUIRE_BIN=1 those comparisons fail, not skip,
#                when it is missing.
#   --scale      also install Ray Data and datatrove (the hash-pinned wheels of
#                scripts/requirements-scale.txt, CPython 3.11) into the same venv and run the tests
#                with MYCEL_REQUIRE_SCALE=1, so the Ray and datatrove tests run (and fail if either
#                is missing); implies --test. MYCEL_PY_SCALE=1 does the same for a plain build (the
#                install only) or --test. Without either, those tests skip and nothing else changes.
#   The venv goes to $MYCEL_PY_DATA_VENV, else target/py-data (a relative path is taken from the
#   repository root); the interpreter that creates it is $PYTHON, else python3.
# The wheel is built by `maturin build --release --locked` with CARGO_TARGET_DIR=target/py-wheel
# (its own target dir and lockfile, crates/py/Cargo.lock: crates/py is not in the main
# workspace) into target/py-wheel/wheels/mycel_data-<version>-cp311-abi3-<platform>.whl, which
# `pip install` takes in one command on any CPython >= 3.11 on the same platform.
# CPU level: the repository's .cargo/config.toml builds for x86-64-v3 (AVX2), and so does the
# wheel (its platform tag cannot say so); MYCEL_PY_TARGET_CPU=x86-64 builds a baseline one.
# Idempotent venv: one whose stamp matches the requirements file (and the interpreter) is kept;
# any other is rebuilt. The wheel is always rebuilt (cargo's incremental build makes that cheap)
# and reinstalled.
set -euo pipefail
cd "$(dirname "$0")/.."

REQS=scripts/requirements-py.txt
SCALE_REQS=scripts/requirements-scale.txt
PY="${PYTHON:-python3}"
VENV="${MYCEL_PY_DATA_VENV:-target/py-data}"
case "$VENV" in
  /*) ;;
  *) VENV="$PWD/$VENV" ;;
esac
STAMP="$VENV/.requirements.sha256"
SCALE_STAMP="$VENV/.requirements-scale.sha256"
VPY="$VENV/bin/python"
WHEELS="$PWD/target/py-wheel/wheels"

log() { echo "build-py: $*" >&2; }

run_tests=0
scale=0
while [ $# -gt 0 ]; do
  case "$1" in
    --test) run_tests=1 ;;
    --scale) run_tests=1 scale=1 ;;
    *) break ;;
  esac
  shift
done
if [ "${MYCEL_PY_SCALE:-}" = 1 ]; then
  scale=1
fi

if ! command -v "$PY" >/dev/null 2>&1; then
  log "$PY not found (set PYTHON to a Python >= 3.11 interpreter)"
  exit 1
fi
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  log "$PY is $("$PY" -c 'import sys; print(sys.version.split()[0])'); the wheel needs CPython >= 3.11"
  exit 1
fi

want="$(
  {
    sha256sum "$REQS" | cut -d' ' -f1
    "$PY" -c 'import sys; print(sys.version)'
  } | sha256sum | cut -d' ' -f1
)"
if [ -x "$VPY" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] &&
  "$VPY" -c 'import pyarrow, pytest' >/dev/null 2>&1 && [ -x "$VENV/bin/maturin" ]; then
  log "venv up to date: $VENV"
else
  log "creating $VENV"
  rm -rf "$VENV"
  mkdir -p "$(dirname "$VENV")"
  "$PY" -m venv "$VENV"
  log "installing $REQS"
  # Every dependency is listed with its hash, so nothing unpinned is resolved.
  "$VPY" -m pip install --quiet --no-input --disable-pip-version-check \
    --require-hashes --no-deps --only-binary=:all: -r "$REQS" >&2
  echo "$want" >"$STAMP"
fi

if [ "$scale" = 1 ]; then
  # Ray's and numpy's wheels are per interpreter; the pinned set is CPython 3.11's.
  if ! "$VPY" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    log "--scale: $SCALE_REQS pins CPython 3.11 wheels; this venv has $("$VPY" -c 'import sys; print(sys.version.split()[0])') (set PYTHON to a 3.11 interpreter)"
    exit 1
  fi
  want_scale="$(sha256sum "$SCALE_REQS" | cut -d' ' -f1)"
  if [ -f "$SCALE_STAMP" ] && [ "$(cat "$SCALE_STAMP")" = "$want_scale" ] &&
    "$VPY" -c 'import ray.data, datatrove' >/dev/null 2>&1; then
    log "ray and datatrove up to date"
  else
    log "installing $SCALE_REQS"
    "$VPY" -m pip install --quiet --no-input --disable-pip-version-check \
      --require-hashes --no-deps --only-binary=:all: -r "$SCALE_REQS" >&2
    echo "$want_scale" >"$SCALE_STAMP"
  fi
  export MYCEL_REQUIRE_SCALE=1
fi

log "building the wheel (maturin build --release)"
mkdir -p "$WHEELS"
rm -f "$WHEELS"/mycel_data-*.whl
start=$(date +%s)
if [ -n "${MYCEL_PY_TARGET_CPU:-}" ]; then
  export CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS="-C target-cpu=$MYCEL_PY_TARGET_CPU"
fi
CARGO_TARGET_DIR="$PWD/target/py-wheel" "$VENV/bin/maturin" build --release --locked \
  -m crates/py/Cargo.toml -i "$VPY" -o "$WHEELS" >&2
wheels=("$WHEELS"/mycel_data-*.whl)
if [ "${#wheels[@]}" -ne 1 ] || [ ! -f "${wheels[0]}" ]; then
  log "expected one wheel in $WHEELS, found: ${wheels[*]}"
  exit 1
fi
log "built $(basename "${wheels[0]}") in $(($(date +%s) - start)) s"
"$VPY" -m pip install --quiet --no-input --disable-pip-version-check \
  --force-reinstall --no-deps --no-index "${wheels[0]}" >&2
"$VPY" -c 'import mycel_data; print("build-py: mycel_data", mycel_data.__version__, mycel_data.PROFILE, mycel_data.ALGORITHM_VERSION)' >&2

if [ "$run_tests" = 1 ]; then
  # A relative MYCEL_BIN is taken from the repository root (pytest runs in crates/py).
  if [ -n "${MYCEL_BIN:-}" ] && [ "${MYCEL_BIN#/}" = "$MYCEL_BIN" ] && [ -e "$MYCEL_BIN" ]; then
    export MYCEL_BIN="$PWD/$MYCEL_BIN"
  fi
  log "pytest crates/py/tests${MYCEL_BIN:+ (MYCEL_BIN=$MYCEL_BIN)}${MYCEL_REQUIRE_SCALE:+ (MYCEL_REQUIRE_SCALE=$MYCEL_REQUIRE_SCALE)}"
  # Tests import the installed wheel, not the source tree.
  (cd crates/py && PYTHONDONTWRITEBYTECODE=1 "$VPY" -m pytest -p no:cacheprovider tests "$@" >&2)
fi
echo "$VPY"
