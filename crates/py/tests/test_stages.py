"""mycel_data.stages: the staged dedup gives the single-process clusters file byte for byte, for
any shard counts, mixed with the CLI's stages; bad runs are refused."""

from __future__ import annotations

import subprocess
import sys

import pyarrow.parquet as pq
import pytest

import mycel_data as md
from conftest import expected_cluster, near_dup_records, optional_mycel_bin
from mycel_data import stages


@pytest.fixture(scope="module")
def reference(parquet_corpus, tmp_path_factory):
    """`dedup_files` over the corpus (ID column `id`): the clusters file every run must equal."""
    out = tmp_path_factory.mktemp("ref") / "clusters.parquet"
    summary = stages.dedup_files(parquet_corpus, out, id_column="id")
    return out, summary


def test_dedup_files_finds_the_known_clusters(reference):
    out, summary = reference
    t = pq.read_table(out)
    assert t.column_names == ["doc", "id", "cluster", "cluster_doc"]
    recs = near_dup_records()
    assert t.column("id").to_pylist() == [r["id"] for r in recs]
    got = dict(zip(t.column("id").to_pylist(), t.column("cluster").to_pylist()))
    wrong = {i: c for i, c in got.items() if c != expected_cluster(i)}
    assert not wrong
    assert summary["records"] == len(recs) and summary["clusters"] == len(set(got.values()))
    assert summary["exact_dups"] == len([r for r in recs if r["id"].endswith("-exact")])
    # Doc numbers name the file (high bits) and the row; the representative's doc is its cluster's.
    docs = t.column("doc").to_pylist()
    assert docs == sorted(docs) and docs[0] == 0 and docs[-1] >> 40 == 2
    by_id = dict(zip(t.column("id").to_pylist(), docs))
    assert t.column("cluster_doc").to_pylist() == [by_id[c] for c in t.column("cluster").to_pylist()]


@pytest.mark.parametrize("shards,groups,verify", [(1, 1, 1), (3, 2, 2), (7, 16, 5), (40, 3, 1)])
def test_staged_run_is_byte_identical(parquet_corpus, reference, tmp_path, shards, groups, verify):
    out = tmp_path / "clusters.parquet"
    r = stages.run_local(
        parquet_corpus, out, tmp_path / "work", shards=shards, band_groups=groups, verify_shards=verify, id_column="id"
    )
    assert len(r["sign"]) == shards and len(r["candidates"]) == groups and len(r["verify"]) == verify
    # 40 shards of 18 row groups: some shards sign nothing, and that is fine.
    assert sum(s["records"] for s in r["sign"]) == reference[1]["records"]
    assert sum(v["verified"] for v in r["verify"]) == r["cluster"]["edges"]
    assert out.read_bytes() == reference[0].read_bytes()


def test_without_id_column_ids_are_doc_numbers(parquet_corpus, reference, tmp_path):
    out = tmp_path / "clusters.parquet"
    stages.run_local(parquet_corpus, out, tmp_path / "work", shards=2, band_groups=2, verify_shards=2)
    single = tmp_path / "single.parquet"
    stages.dedup_files(parquet_corpus, single)
    assert out.read_bytes() == single.read_bytes()
    t, ref = pq.read_table(out), pq.read_table(reference[0])
    assert t.column("id").to_pylist() == [str(d) for d in t.column("doc").to_pylist()]
    assert t.column("cluster_doc").equals(ref.column("cluster_doc"))


def test_jsonl_inputs_and_json_lines_output(tmp_path):
    import json

    recs = near_dup_records(sources=200)
    files = []
    for i in range(2):
        p = tmp_path / f"part-{i}.jsonl"
        p.write_text("".join(json.dumps(r) + "\n" for r in recs[i::2]))
        files.append(p)
    single = tmp_path / "single.parquet"
    stages.dedup_files(files, single, id_column="id")
    staged = tmp_path / "staged.parquet"
    # Three sign shards over two whole-file units: one shard is empty.
    r = stages.run_local(files, staged, tmp_path / "work", shards=3, band_groups=4, verify_shards=3, id_column="id")
    assert [s["units"] for s in r["sign"]] == [1, 1, 0]
    assert staged.read_bytes() == single.read_bytes()
    lines = tmp_path / "clusters.jsonl"
    stages.dedup_files(files, lines, id_column="id")
    rows = [json.loads(x) for x in lines.read_text().splitlines()]
    t = pq.read_table(single)
    assert [(x["id"], x["cluster"]) for x in rows] == list(
        zip(t.column("id").to_pylist(), t.column("cluster").to_pylist())
    )


def test_cli_equals_and_mixes_with_python(parquet_corpus, reference, tmp_path):
    mycel = optional_mycel_bin()
    if mycel is None:
        pytest.skip("MYCEL_BIN is not set")
    files = [str(p) for p in parquet_corpus]

    def cli(*args):
        subprocess.run([str(mycel), "data", *args], check=True, capture_output=True)

    cli_out = tmp_path / "cli.parquet"
    cli("dedup", *files, "--clusters", str(cli_out))
    assert cli_out.read_bytes() == reference[0].read_bytes()

    # One run, stages split between the CLI and Python.
    d = stages.layout(tmp_path / "work")
    cli("stage", "sign", *files, "--shard", "0/2", "--out", d["sigs"])
    stages.sign(files, 1, 2, d["sigs"], id_column="id")
    stages.candidates(d["sigs"], 0, 2, d["candidates"])
    cli("stage", "candidates", "--sigs", d["sigs"], "--bands", "1/2", "--out", d["candidates"])
    cli("stage", "verify", "--candidates", d["candidates"], "--inputs", *files, "--shard", "0/2", "--out", d["verified"])
    stages.verify(d["candidates"], files, 1, 2, d["verified"])
    mixed = tmp_path / "mixed.parquet"
    stages.cluster(d["sigs"], d["verified"], mixed)
    assert mixed.read_bytes() == reference[0].read_bytes()
    cli_mixed = tmp_path / "cli-mixed.parquet"
    cli("stage", "cluster", "--sigs", d["sigs"], "--verified", d["verified"], "--out", str(cli_mixed))
    assert cli_mixed.read_bytes() == reference[0].read_bytes()


def test_bad_runs_are_refused(parquet_corpus, tmp_path):
    d = stages.layout(tmp_path / "work")
    with pytest.raises(ValueError, match="shard 2 of 2"):
        stages.sign(parquet_corpus, 2, 2, d["sigs"])
    with pytest.raises(ValueError, match="tier must be d or l"):
        stages.sign(parquet_corpus, 0, 1, d["sigs"], tier="x")
    with pytest.raises(FileNotFoundError, match="nope.parquet"):
        stages.sign([tmp_path / "nope.parquet"], 0, 1, d["sigs"])
    with pytest.raises(ValueError, match="no inputs"):
        stages.sign([], 0, 1, d["sigs"])
    # An incomplete set of signature shards.
    stages.sign(parquet_corpus, 0, 2, d["sigs"], id_column="id")
    with pytest.raises(ValueError):
        stages.candidates(d["sigs"], 0, 1, d["candidates"])
    # Shards of two counts mixed.
    stages.sign(parquet_corpus, 0, 1, d["sigs"], id_column="id")
    with pytest.raises(ValueError):
        stages.candidates(d["sigs"], 0, 1, d["candidates"])
    stages.clear(tmp_path / "work")
    stages.sign(parquet_corpus, 0, 1, d["sigs"], id_column="id")
    with pytest.raises(ValueError, match="band groups but only 16 bands"):
        stages.candidates(d["sigs"], 0, 17, d["candidates"])
    stages.candidates(d["sigs"], 0, 1, d["candidates"])
    # Verification must re-read the very inputs that were signed.
    with pytest.raises(ValueError, match="not those the signatures were made from"):
        stages.verify(d["candidates"], parquet_corpus[:2], 0, 1, d["verified"])
    stages.verify(d["candidates"], parquet_corpus, 0, 1, d["verified"])
    with pytest.raises(ValueError, match="must end in .parquet"):
        stages.cluster(d["sigs"], d["verified"], tmp_path / "clusters.jsonl")
    stages.cluster(d["sigs"], d["verified"], tmp_path / "clusters.parquet")


def test_engines_say_what_is_missing(monkeypatch, tmp_path):
    import mycel_data.ray as mr

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ImportError, match=r"ray\[data\]"):
        mr.dedup([tmp_path / "x.parquet"], tmp_path / "c.parquet", tmp_path / "work")
    for name in [m for m in sys.modules if m == "datatrove" or m.startswith("datatrove.")] + ["datatrove"]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.delitem(sys.modules, "mycel_data.datatrove", raising=False)
    with pytest.raises(ImportError, match="needs datatrove"):
        import mycel_data.datatrove  # noqa: F401


def test_package_exports():
    assert md.stages is stages
    assert md.default_threshold() == 0.8 and md.default_threshold("l") == 0.4
    assert stages.DEFAULT_MAX_RECORD_BYTES == 64 << 20
