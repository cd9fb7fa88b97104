#!/usr/bin/env bash
# Data engine benchmark: `mycel data bench` (chunk IDs vs the FastCDC+BLAKE3 ceiling, signatures,
# quality per Jaccard band, memory), then `mycel data dedup` against datasketch (PyPI) MinHashLSH
# on the same generated JSONL: same shingles (word 5-grams of lower-cased, punctuation-stripped
# text), 128 permutations, threshold 0.8. Prints both throughputs, their ratio, and the pair recall
# of each on the labelled pairs.
#
# Usage: scripts/bench-data.sh [SOURCES] [MYCEL]   (MYCEL defaults to target/release/mycel)
set -euo pipefail
SOURCES=${1:-5000}
MYCEL=${2:-target/release/mycel}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
python3 -c 'import datasketch' 2>/dev/null || pip install --quiet datasketch

"$MYCEL" data bench --sources "$SOURCES" --negatives "$SOURCES"
echo
"$MYCEL" data synth "$WORK/in.jsonl" --pairs "$WORK/pairs.jsonl" --sources "$SOURCES" --negatives "$SOURCES"
start=$(date +%s.%N)
"$MYCEL" data dedup "$WORK/in.jsonl" --clusters "$WORK/mycel.jsonl" 2>&1 | tail -1
end=$(date +%s.%N)
python3 - "$WORK" "$start" "$end" <<'PY'
import json, re, sys, time
from datasketch import MinHash, MinHashLSH
work, start, end = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
docs = [json.loads(l) for l in open(f"{work}/in.jsonl")]
size = sum(len(d["text"].encode()) for d in docs)
t = time.time()
lsh = MinHashLSH(threshold=0.8, num_perm=128)
rep = {}
for d in docs:
    words = re.sub(r"[^\w\s]", " ", d["text"].lower()).split()
    sh = {" ".join(words[i:i + 5]) for i in range(max(1, len(words) - 4))}
    m = MinHash(num_perm=128)
    m.update_batch([s.encode() for s in sh])
    hits = lsh.query(m)
    rep[d["id"]] = min((rep[h] for h in hits), key=lambda x: int(x[1:]), default=d["id"])
    lsh.insert(d["id"], m)
ds = time.time() - t
mycel = {}
for l in open(f"{work}/mycel.jsonl"):
    r = json.loads(l)
    mycel[r["id"]] = r["cluster"]
pairs = [json.loads(l) for l in open(f"{work}/pairs.jsonl")]
def recall(c, lo):
    sel = [p for p in pairs if p["jaccard"] >= lo]
    return sum(c[p["a"]] == c[p["b"]] for p in sel) / max(1, len(sel))
my_s = end - start
print(f"{'input':<48} {size/1e6:>10.1f} MB, {len(docs)} docs")
print(f"{'mycel data dedup (incl. process start, I/O), MB/s':<48} {size/1e6/my_s:>10.1f}")
print(f"{'datasketch MinHashLSH (shingle+sign+query), MB/s':<48} {size/1e6/ds:>10.2f}")
print(f"{'speed ratio mycel / datasketch':<48} {ds/my_s:>10.1f}x")
print(f"{'pair recall at J>=0.8: mycel / datasketch':<48} {recall(mycel,0.8):>6.3f} / {recall(rep,0.8):.3f}")
PY
