"""Child process of `mycel bench data`: one dedup engine over a JSONL file, timed inside.

Usage: python peers.py ENGINE IN.jsonl OUT.reps   (ENGINE: rensa | datasketch | wheel)

Reads the records ({"id", "text"} per line, not timed), then times the dedup work: for the peers,
tokens (words of the lower-cased text with punctuation replaced by spaces, then word 5-grams
joined by one space; a text of at most 5 words is one shingle) and the peer's MinHash + LSH with
128 permutations at threshold 0.8; for the wheel, `mycel_data.dedup` on a pyarrow table (the
table is built before the clock starts). Every engine keeps the first record of each cluster as
its representative and puts a later record with the earliest representative it matches:
- rensa: `RMinHashDeduplicator(threshold=0.8, num_perm=128, use_lsh=True).add_pairs` (as its
  README shows; a record is kept unless a kept one estimates at >= 0.8), then
  `get_duplicate_sets` for the records it did not keep;
- datasketch: `MinHashLSH(threshold=0.8, num_perm=128)`; a record whose `query` finds no kept
  record is inserted (the dedup loop of its documentation; query answers LSH candidates, unverified).
Writes the representative's record index of every record (little-endian u32) to OUT.reps and one
JSON line of timings to stdout.
"""

import array
import json
import re
import sys
import time

_PUNCT = re.compile(r"[^\w\s]")


def shingles(text):
    words = _PUNCT.sub(" ", text.lower()).split()
    if len(words) <= 5:
        return [" ".join(words)]
    return [" ".join(w) for w in zip(words, words[1:], words[2:], words[3:], words[4:])]


def run_rensa(texts, out):
    import importlib.metadata

    from rensa import RMinHashDeduplicator

    t0 = time.perf_counter()
    toks = [shingles(t) for t in texts]
    t1 = time.perf_counter()
    dd = RMinHashDeduplicator(threshold=0.8, num_perm=128, use_lsh=True)
    keep = dd.add_pairs((str(i), s) for i, s in enumerate(toks))
    rep = list(range(len(texts)))
    dups = [i for i, k in enumerate(keep) if not k]
    for i, keys in zip(dups, dd.get_duplicate_sets([toks[i] for i in dups])):
        earlier = [int(k) for k in keys if int(k) < i]
        rep[i] = min(earlier) if earlier else i
    t2 = time.perf_counter()
    out.update(
        version=importlib.metadata.version("rensa"),
        tokenize_s=t1 - t0,
        dedup_s=t2 - t0,
        what="RMinHashDeduplicator(0.8, 128, use_lsh=True).add_pairs + get_duplicate_sets",
    )
    return rep


def run_datasketch(texts, out):
    import datasketch
    from datasketch import MinHash, MinHashLSH

    t0 = time.perf_counter()
    toks = [shingles(t) for t in texts]
    t1 = time.perf_counter()
    lsh = MinHashLSH(threshold=0.8, num_perm=128)
    rep = list(range(len(texts)))
    for i, s in enumerate(toks):
        m = MinHash(num_perm=128)
        m.update_batch([x.encode() for x in s])
        hits = lsh.query(m)
        if hits:
            rep[i] = min(hits)
        else:
            lsh.insert(i, m)
    t2 = time.perf_counter()
    out.update(
        version=datasketch.__version__,
        tokenize_s=t1 - t0,
        dedup_s=t2 - t0,
        bands=lsh.b,
        rows=lsh.r,
        what=f"MinHashLSH(0.8, 128) b={lsh.b} r={lsh.r}, insert if query is empty",
    )
    return rep


def run_wheel(texts, out):
    import importlib.metadata

    import mycel_data as md
    import pyarrow as pa

    table = pa.table({"text": pa.array(texts, pa.large_string())})
    t0 = time.perf_counter()
    r = md.dedup(table)
    t1 = time.perf_counter()
    out.update(
        version=importlib.metadata.version("mycel-data"),
        tokenize_s=0.0,
        dedup_s=t1 - t0,
        what="mycel_data.dedup(pyarrow table)",
    )
    return r.cluster.to_pylist()


def main():
    engine, path, reps_path = sys.argv[1:4]
    t0 = time.perf_counter()
    texts = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                texts.append(json.loads(line)["text"])
    out = {"engine": engine, "docs": len(texts), "read_s": time.perf_counter() - t0}
    rep = {"rensa": run_rensa, "datasketch": run_datasketch, "wheel": run_wheel}[engine](texts, out)
    array.array("I", rep).tofile(open(reps_path, "wb"))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
