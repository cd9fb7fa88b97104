#!/usr/bin/env bash
# Data engine benchmark: `mycel data bench` (chunk IDs vs the FastCDC+BLAKE3 ceiling, signatures,
# quality per Jaccard band, memory), then `mycel bench data`: `mycel data dedup` beside rensa
# 0.5.0, datasketch 2.0.0 and the `mycel_data` wheel on the same JSONL files, one thread each
# (throughput, ratios, pair precision/recall and cluster precision against a computed ground
# truth, connected components beside them), on the labelled synthetic corpus and on corpora we
# did not make (crate sources of the local cargo registry, Debian package descriptions), then the
# two-core scaling. The peers come from scripts/fetch-peers.sh (hash-pinned venv
# target/py-data-peers; run it first), the wheel from scripts/build-py.sh (target/py-data); a
# missing one is reported, not measured.
#
# Usage: scripts/bench-data.sh [RECORDS] [MYCEL]   (RECORDS: synthetic records, default 15000;
#        MYCEL defaults to target/release/mycel). REAL_MB caps each real corpus (default 32).
set -euo pipefail
cd "$(dirname "$0")/.."
RECORDS=${1:-15000}
MYCEL=${2:-target/release/mycel}
SOURCES=$((RECORDS / 3))

"$MYCEL" data bench --sources "$SOURCES" --negatives "$SOURCES"
echo
real=()
for reg in "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/; do
  [ -d "$reg" ] && real+=(--real "${reg%/}") && break
done
command -v apt-cache >/dev/null && real+=(--real apt)
"$MYCEL" bench data --records "$RECORDS" --threads 1,2 --real-mb "${REAL_MB:-32}" "${real[@]}"
