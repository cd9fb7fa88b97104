#!/usr/bin/env bash
# Runs every test of the workspace: unit, property, integration (deterministic 4-validator
# simulation, kill -9 of the real binary, HTTP bad input), doctests, then the Python wheel's tests.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
export RAYON_NUM_THREADS="${RAYON_NUM_THREADS:-1}"
profile="${NEXTEST_PROFILE:-default}"
if command -v cargo-nextest >/dev/null 2>&1; then
  cargo nextest run --workspace --profile "$profile"
else
  cargo test --workspace --all-targets
fi
cargo test --workspace --doc
# The Python wheel (crates/py, built from the same kernels into target/py-data): its pytest suite
# compares clusters with the `mycel` binary the run above built. MYCEL_SKIP_PY=1 skips it.
if [ "${MYCEL_SKIP_PY:-0}" != 1 ]; then
  MYCEL_BIN=target/debug/mycel MYCEL_REQUIRE_BIN=1 scripts/build-py.sh --test >/dev/null
fi
