"""Arrow-batch functions: signatures() and dedup() give the CLI's results; bad input is refused."""

from __future__ import annotations

import json
import subprocess
from types import SimpleNamespace

import pyarrow as pa
import pytest

import mycel_data as md
from conftest import corpus
from test_minhash import FOX, GOLDEN_PREFIX


def table(texts, chunk=4, **extra):
    cols = {"id": pa.array(range(len(texts)), pa.int64()), "text": pa.array(texts, pa.string())}
    cols.update(extra)
    t = pa.table(cols)
    # Several batches, so row indices cross batch boundaries.
    return pa.Table.from_batches(t.to_batches(max_chunksize=chunk))


# --- signatures -------------------------------------------------------------------------------


def test_signatures_equal_minhash_and_golden():
    texts, _ = corpus()
    texts = [FOX] + texts + [""]
    t = table(texts)
    out = md.signatures(t, id_column="id")
    assert isinstance(out, pa.Table)
    assert out.column_names == ["id", "signature", "norm_id", "shingles"]
    assert out.schema.field("signature").type == pa.list_(pa.field("item", pa.uint32(), nullable=False), 128)
    assert out.schema.field("norm_id").type == pa.binary(32)
    assert out.num_rows == len(texts) and len(out.to_batches()) == len(t.to_batches())
    meta = out.schema.metadata
    assert meta[b"mycel.profile"] == md.PROFILE.encode()
    assert meta[b"mycel.algorithm_version"] == md.ALGORITHM_VERSION.encode()
    sigs = out.column("signature").to_pylist()
    assert sigs[0][:4] == GOLDEN_PREFIX
    for text, sig in zip(texts, sigs):
        assert sig == md.MinHash.from_text(text).digest()
    assert out.column("id").to_pylist() == list(range(len(texts)))
    shingles = out.column("shingles").to_pylist()
    assert shingles[0] == 5 and shingles[-1] == 0
    ids = out.column("norm_id").to_pylist()
    # Re-encodings share a normalised ID; different texts do not.
    assert ids[1 + 0] == ids[1 + 1] and ids[1 + 7] == ids[1 + 8] and ids[1 + 9] == ids[1 + 10]
    assert len(set(ids)) == len(texts) - 3


def test_signatures_record_batch_in_record_batch_out():
    b = pa.record_batch({"body": pa.array([FOX, "x"], pa.large_string())})
    out = md.signatures(b, text_column="body")
    assert isinstance(out, pa.RecordBatch) and out.num_rows == 2
    assert out.column_names == ["signature", "norm_id", "shingles"]
    assert out.column(0)[0].as_py()[:4] == GOLDEN_PREFIX
    empty = md.signatures(pa.record_batch({"text": pa.array([], pa.string())}))
    assert isinstance(empty, pa.RecordBatch) and empty.num_rows == 0


def test_string_view_column():
    t = pa.table({"text": pa.array([FOX], pa.string_view())})
    assert md.signatures(t).column("signature")[0].as_py()[:4] == GOLDEN_PREFIX


# --- dedup ------------------------------------------------------------------------------------


def test_dedup_expected_clusters_and_evidence():
    texts, expected = corpus()
    r = md.dedup(table(texts))
    assert r.cluster.to_pylist() == expected
    assert r.num_rows == len(texts)
    assert r.keep.to_pylist() == sorted(set(expected))
    assert r.keep_mask.to_pylist() == [i == c for i, c in enumerate(expected)]
    assert r.num_clusters == len(set(expected))
    assert r.stats["records"] == len(texts) and r.stats["banding"] == "16x8"
    assert r.stats["threshold"] == 0.8 and r.stats["tier"] == "d"
    assert r.stats["exact_dups"] == 3 and r.stats["near_dups"] == 2
    ev = {row["record"]: row for row in r.evidence.to_pylist()}
    assert sorted(ev) == [i for i, c in enumerate(expected) if c != i]
    for i, e in ev.items():
        assert e["representative"] == expected[i]
        assert e["jaccard"] == pytest.approx(md.exact_jaccard(texts[i], texts[expected[i]]))
        assert e["jaccard"] >= 0.8
    assert ev[1]["exact"] and ev[1]["jaccard"] == 1.0 and ev[8]["exact"] and ev[10]["exact"]
    assert not ev[3]["exact"] and 0.8 <= ev[3]["jaccard"] < 1.0
    assert not ev[4]["exact"]


def test_dedup_with_ids_names_clusters_by_id():
    texts, expected = corpus()
    ids = [f"doc-{i:02}" for i in range(len(texts))]
    t = pa.table({"key": ids, "text": texts})
    r = md.dedup(t, id_column="key")
    assert r.cluster.to_pylist() == [ids[c] for c in expected]
    assert r.kept_ids.to_pylist() == [ids[i] for i in sorted(set(expected))]
    assert r.evidence.column("representative").to_pylist() == [ids[expected[i]] for i in range(len(texts)) if expected[i] != i]
    assert r.to_table().to_pylist()[1] == {"id": "doc-01", "cluster": "doc-00"}
    kept = r.filter(t)
    assert kept.column("key").to_pylist() == r.kept_ids.to_pylist()


def test_dedup_threshold_and_tier():
    texts, _ = corpus()
    # Row 6 keeps only ~1/6 of row 0's shingles: lineage at 0.05 links it, removal never does.
    strict = md.dedup(table(texts), threshold=0.99)
    assert strict.cluster.to_pylist()[3] == 3  # J ~ 0.94 < 0.99
    assert strict.cluster.to_pylist()[1] == 0  # exact duplicates always join
    loose = md.dedup(table(texts), tier="l", threshold=0.05)
    assert loose.stats["tier"] == "l" and loose.cluster.to_pylist()[6] == 0
    with pytest.raises(ValueError, match="threshold"):
        md.dedup(table(texts), threshold=0.0)
    with pytest.raises(ValueError, match="tier"):
        md.dedup(table(texts), tier="x")


def test_hugging_face_dataset_duck_typed():
    texts, expected = corpus()
    t = table(texts)

    class FakeDataset:
        """The two ways a datasets.Dataset exposes its Arrow table."""

        def __init__(self, tbl, indices=None):
            self.data = SimpleNamespace(table=tbl)
            self._indices = indices
            self.selected = None

        def with_format(self, fmt):
            assert fmt == "arrow"
            tbl = self.data.table if self._indices is None else self.data.table.take(self._indices)
            return _Sliceable(tbl)

        def select(self, rows):
            self.selected = rows
            return rows

    class _Sliceable:
        def __init__(self, tbl):
            self.tbl = tbl

        def __getitem__(self, key):
            assert key == slice(None)
            return self.tbl

    ds = FakeDataset(t)
    r = md.dedup(ds)
    assert r.cluster.to_pylist() == expected
    assert r.filter(ds) == sorted(set(expected))
    # A pending indices mapping (after shuffle/select) goes through with_format("arrow").
    rev = FakeDataset(t, indices=pa.array(list(reversed(range(len(texts))))))
    sig = md.signatures(rev, id_column="id")
    assert sig.column("id").to_pylist() == list(reversed(range(len(texts))))


def test_arrow_stream_objects():
    texts, expected = corpus()
    t = table(texts)

    class Stream:
        def __arrow_c_stream__(self, requested_schema=None):
            return t.__arrow_c_stream__(requested_schema)

    assert md.dedup(Stream()).cluster.to_pylist() == expected
    assert md.dedup(t.to_batches()[0]).num_rows == 4
    with pytest.raises(TypeError, match="pyarrow.Table"):
        md.dedup(texts)


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize("fn", [md.signatures, md.dedup])
def test_bad_input(fn):
    texts, _ = corpus()
    with pytest.raises(ValueError, match=r"no column 'body' \(the columns are: id, text\)"):
        fn(table(texts), text_column="body")
    with pytest.raises(ValueError, match=r"column 'id' has type Int64"):
        fn(table(texts), text_column="id")
    with_null = table(texts[:5] + [None] + texts[5:])
    with pytest.raises(ValueError, match=r"column 'text' is null at row 5"):
        fn(with_null)
    with pytest.raises(ValueError, match="profile"):
        fn(table(texts), profile="nope/v1")


def test_bad_ids():
    texts, _ = corpus()
    with pytest.raises(ValueError, match="no column 'key'"):
        md.dedup(table(texts), id_column="key")
    dup = pa.table({"id": [1, 2, 1], "text": ["a", "b", "c"]})
    with pytest.raises(ValueError, match=r"id 1 twice \(rows 0 and 2\)"):
        md.dedup(dup, id_column="id")
    null = pa.table({"id": [1, None, 3], "text": ["a", "b", "c"]})
    with pytest.raises(ValueError, match="null at row 1"):
        md.dedup(null, id_column="id")


# --- against the CLI --------------------------------------------------------------------------


def cli_clusters(mycel_bin, tmp_path, rows, *args):
    src = tmp_path / "in.jsonl"
    out = tmp_path / "clusters.jsonl"
    with src.open("w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    subprocess.run(
        [str(mycel_bin), "--home", str(tmp_path / "home"), "data", "dedup", str(src), "--clusters", str(out), *args],
        check=True,
        capture_output=True,
    )
    return {r["id"]: r["cluster"] for r in map(json.loads, out.read_text().splitlines())}


def test_same_clusters_as_cli(mycel_bin, tmp_path):
    texts, expected = corpus()
    got = cli_clusters(mycel_bin, tmp_path, [{"id": i, "text": t} for i, t in enumerate(texts)])
    assert [got[i] for i in range(len(texts))] == expected
    r = md.dedup(table(texts), id_column="id")
    assert r.cluster.to_pylist() == [got[i] for i in range(len(texts))]


def test_same_clusters_as_cli_on_synthetic_corpus(mycel_bin, tmp_path):
    corpus_path, pairs = tmp_path / "synth.jsonl", tmp_path / "pairs.jsonl"
    subprocess.run(
        [str(mycel_bin), "--home", str(tmp_path / "home"), "data", "synth", str(corpus_path), "--pairs", str(pairs),
         "--sources", "300", "--negatives", "300", "--words", "200", "--seed", "11"],
        check=True,
        capture_output=True,
    )
    rows = [json.loads(line) for line in corpus_path.read_text().splitlines() if line.strip()]
    t = pa.table({"id": [r["id"] for r in rows], "text": [r["text"] for r in rows]})
    t = pa.Table.from_batches(t.to_batches(max_chunksize=97))
    for threshold in (0.8, 0.6):
        cli = cli_clusters(mycel_bin, tmp_path, rows, "--threshold", str(threshold))
        py = md.dedup(t, id_column="id", threshold=threshold)
        assert py.to_table().to_pylist() == [{"id": r["id"], "cluster": cli[r["id"]]} for r in rows]
        # Some near-duplicates were found, and every removal carries its evidence.
        assert 0 < py.evidence.num_rows < len(rows)
        assert min(py.evidence.column("jaccard").to_pylist()) >= threshold
