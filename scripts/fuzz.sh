#!/usr/bin/env bash
# Builds every cargo-fuzz target in fuzz/ and runs each for RUNS executions (default 1000000),
# printing one line per target: executions, seconds and result. Opt-in, not part of CI: it needs
# a nightly toolchain and `cargo install cargo-fuzz --locked`.
#
#   scripts/fuzz.sh [RUNS]                 every target
#   TARGETS="tx block" scripts/fuzz.sh     some targets
#   FUZZ_SANITIZER=none scripts/fuzz.sh    without AddressSanitizer (faster)
#
# A crash leaves its input under fuzz/artifacts/<target>/ and the log under fuzz/logs/<target>.log;
# the script then exits 1. Reproduce with `cargo +nightly fuzz run <target> <artifact>`.
set -euo pipefail

RUNS="${1:-1000000}"
TOOLCHAIN="${FUZZ_TOOLCHAIN:-nightly}"
SANITIZER="${FUZZ_SANITIZER:-address}"
cd "$(dirname "$0")/../fuzz"

if ! cargo "+$TOOLCHAIN" fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz is missing: cargo install cargo-fuzz --locked" >&2
    exit 2
fi

targets="${TARGETS:-$(cargo "+$TOOLCHAIN" fuzz list)}"
# --debug-assertions: overflow checks catch size arithmetic that wraps in release builds.
flags=(--sanitizer "$SANITIZER" --debug-assertions)
echo "building $(echo "$targets" | wc -w) targets (sanitizer: $SANITIZER)..." >&2
cargo "+$TOOLCHAIN" fuzz build "${flags[@]}" >&2

# Start every fuzzer from the golden vectors (valid encodings of every type and variant).
if command -v python3 >/dev/null; then python3 seed.py >&2; fi

mkdir -p logs
printf '%-16s %12s %9s  %s\n' target executions seconds result
status=0
for t in $targets; do
    mkdir -p "corpus/$t"
    start=$(date +%s.%N)
    if cargo "+$TOOLCHAIN" fuzz run "${flags[@]}" "$t" -- \
        -runs="$RUNS" -print_final_stats=1 >"logs/$t.log" 2>&1; then
        result="ok, no crash"
    else
        result="CRASH: fuzz/logs/$t.log, fuzz/artifacts/$t/"
        status=1
    fi
    end=$(date +%s.%N)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "logs/$t.log" | tail -1)
    printf '%-16s %12s %9.1f  %s\n' "$t" "${execs:-?}" "$(echo "$end - $start" | bc)" "$result"
done
exit $status
