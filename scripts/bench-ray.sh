#!/usr/bin/env bash
# The same near-duplicate dedup twice over one synthetic corpus: `mycel data dedup` (one process,
# one thread) and the staged run on a local Ray cluster through Ray Data (mycel_data.ray.dedup,
# 2 CPUs); prints both wall times and checks that the two clusters.parquet are identical.
#
# Usage: scripts/bench-ray.sh [N]     N records (default 1000000)
#   The corpus: `mycel data synth` (a third sources, a third one near-duplicate variant of each, a
#   third unrelated; 100 words per text), written as 8 Parquet files (zstd) of 256-row row groups
#   (the sign tasks' units), without dictionary encoding and with a page index: verification
#   re-reads candidate texts one by one, and a re-read decodes the text column from its row
#   group's start (and pyarrow's default dictionary page whole), so large or dictionary-encoded
#   row groups make both runs several times slower ($MYCEL_BENCH_ROW_GROUP sets the rows per row
#   group). It is kept in $MYCEL_BENCH_DIR (default target/bench-ray/N) and reused.
#   The CLI: $MYCEL_BIN, else target/release/mycel, else target/debug/mycel (built with the data
#   stage commands). The Ray side: the venv of `MYCEL_PY_SCALE=1 scripts/build-py.sh` (the
#   mycel-data wheel plus the pinned ray[data] and datatrove); Ray gets num_cpus=2 and a 200 MB
#   object store, and is shut down at the end.
#   Env: MYCEL_BENCH_SHARDS, MYCEL_BENCH_BAND_GROUPS, MYCEL_BENCH_VERIFY_SHARDS (default: 2 each,
#   the cluster's CPUs).
set -euo pipefail
cd "$(dirname "$0")/.."

N="${1:-1000000}"
case "$N" in
  '' | *[!0-9]*) echo "bench-ray: N must be a number of records, not $N" >&2; exit 2 ;;
esac
if [ "$N" -lt 3 ]; then
  echo "bench-ray: N must be at least 3" >&2
  exit 2
fi
DIR="${MYCEL_BENCH_DIR:-target/bench-ray/$N}"
case "$DIR" in
  /*) ;;
  *) DIR="$PWD/$DIR" ;;
esac

log() { echo "bench-ray: $*" >&2; }
# Seconds since START (date +%s%N), to the millisecond.
secs() {
  local ms=$((($(date +%s%N) - $1) / 1000000))
  printf '%d.%03d' $((ms / 1000)) $((ms % 1000))
}

MYCEL="${MYCEL_BIN:-}"
if [ -z "$MYCEL" ]; then
  for m in target/release/mycel target/debug/mycel; do
    if [ -x "$m" ] && "$m" data stage --help >/dev/null 2>&1; then
      MYCEL="$PWD/$m"
      break
    fi
  done
fi
if [ -z "$MYCEL" ] || ! "$MYCEL" data stage --help >/dev/null 2>&1; then
  log "no mycel binary with \`data stage\` (cargo build --release -p mycel, or set MYCEL_BIN)"
  exit 1
fi

VPY="$(MYCEL_PY_SCALE=1 scripts/build-py.sh)"

ROW_GROUP="${MYCEL_BENCH_ROW_GROUP:-256}"
CORPUS="$DIR/corpus-rg$ROW_GROUP"
if [ ! -f "$CORPUS/.done" ]; then
  rm -rf "$CORPUS"
  mkdir -p "$CORPUS"
  sources=$((N / 3))
  negatives=$((N - 2 * sources))
  log "writing $N records with mycel data synth ($sources sources, $sources variants, $negatives others)"
  start=$(date +%s%N)
  "$MYCEL" data synth "$DIR/synth.jsonl" --pairs "$DIR/synth-pairs.jsonl" \
    --sources "$sources" --negatives "$negatives" --words 100 --seed 7 >&2
  "$VPY" - "$DIR/synth.jsonl" "$CORPUS" "$ROW_GROUP" <<'EOF'
import sys

import pyarrow.json as pj
import pyarrow.parquet as pq

src, out, row_group = sys.argv[1], sys.argv[2], int(sys.argv[3])
t = pj.read_json(src, read_options=pj.ReadOptions(block_size=64 << 20))
files = 8
for i in range(files):
    part = t.slice(i * t.num_rows // files, (i + 1) * t.num_rows // files - i * t.num_rows // files)
    pq.write_table(
        part,
        f"{out}/part-{i:03d}.parquet",
        row_group_size=row_group,
        compression="zstd",
        use_dictionary=False,
        write_page_index=True,
    )
EOF
  rm -f "$DIR/synth.jsonl" "$DIR/synth-pairs.jsonl"
  touch "$CORPUS/.done"
  log "corpus in $(secs "$start") s: $(du -sh "$CORPUS" | cut -f1) of Parquet in $CORPUS"
fi

CLI_OUT="$DIR/cli-clusters.parquet"
RAY_OUT="$DIR/ray-clusters.parquet"
rm -f "$CLI_OUT" "$RAY_OUT"

log "mycel data dedup ($MYCEL)"
start=$(date +%s%N)
"$MYCEL" data dedup "$CORPUS" --clusters "$CLI_OUT" >&2
cli_s=$(secs "$start")

log "mycel_data.ray.dedup on a local Ray cluster (2 CPUs)"
"$VPY" - "$CORPUS" "$RAY_OUT" "$DIR/work" "$cli_s" "$CLI_OUT" "$N" <<'EOF'
import os
import shutil
import sys
import tempfile
import time

import pyarrow.parquet as pq
import ray

import mycel_data.ray as mr

corpus, out, work, cli_s, cli_out, n = sys.argv[1:7]
counts = {
    k: int(os.environ[f"MYCEL_BENCH_{k.upper()}"]) if os.environ.get(f"MYCEL_BENCH_{k.upper()}") else None
    for k in ("shards", "band_groups", "verify_shards")
}
temp_dir = tempfile.mkdtemp(prefix="ray-", dir="/tmp")
t0 = time.perf_counter()
ray.init(num_cpus=2, include_dashboard=False, object_store_memory=200_000_000, log_to_driver=False, _temp_dir=temp_dir)
init_s = time.perf_counter() - t0
try:
    t0 = time.perf_counter()
    r = mr.dedup(corpus, out, work, id_column="id", **counts)
    ray_s = time.perf_counter() - t0
finally:
    ray.shutdown()
    shutil.rmtree(temp_dir, ignore_errors=True)

same = open(out, "rb").read() == open(cli_out, "rb").read()
a, b = pq.read_table(out), pq.read_table(cli_out)
same_content = a.equals(b, check_metadata=True)
c = r["cluster"]
print(f"records          {c['records']} (asked for {n}); {c['clusters']} clusters, {c['exact_dups']} exact dups, {c['edges']} verified near-dup edges")
print(f"input            {sum(s['bytes'] for s in r['sign']) / 1e6:.1f} MB of Parquet row groups")
print(f"mycel data dedup {float(cli_s):8.2f} s   (one process, one thread)")
print(
    f"Ray Data         {ray_s:8.2f} s   (2 CPUs; tasks {len(r['sign'])} sign, {len(r['candidates'])} candidates, "
    f"{len(r['verify'])} verify, 1 cluster; ray.init {init_s:.1f} s not included)"
)
print("  stages         " + ", ".join(f"{k} {v:.2f} s" for k, v in r["seconds"].items()))
print(f"identical        {'yes' if same else 'NO'} (bytes), {'yes' if same_content else 'NO'} (content)")
sys.exit(0 if same and same_content else 1)
EOF
