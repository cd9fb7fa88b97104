"""The staged dedup on Ray Data (a local 2-CPU cluster) and as datatrove steps
(LocalPipelineExecutor, 2 workers): the same clusters.parquet as `mycel data dedup`.

Skipped unless MYCEL_REQUIRE_SCALE=1 (scripts/build-py.sh --scale), which makes a missing ray or
datatrove a failure."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import tempfile
import time

import pyarrow.parquet as pq
import pytest

from conftest import expected_cluster, optional_mycel_bin
from mycel_data import stages


def require(module: str):
    if os.environ.get("MYCEL_REQUIRE_SCALE") != "1":
        pytest.skip("the Ray and datatrove tests run with MYCEL_REQUIRE_SCALE=1 (scripts/build-py.sh --scale)")
    try:
        return importlib.import_module(module)
    except ImportError as e:
        pytest.fail(f"MYCEL_REQUIRE_SCALE=1 but {module} does not import: {e}")


@pytest.fixture(scope="module")
def cli_clusters(parquet_corpus, tmp_path_factory):
    """`mycel data dedup` (MYCEL_BIN) over the corpus, else the same engine in process."""
    out = tmp_path_factory.mktemp("cli") / "clusters.parquet"
    mycel = optional_mycel_bin()
    if mycel is not None:
        cmd = [str(mycel), "data", "dedup", *map(str, parquet_corpus), "--clusters", str(out)]
        subprocess.run(cmd, check=True, capture_output=True)
    else:
        stages.dedup_files(parquet_corpus, out, id_column="id")
    t = pq.read_table(out)
    # The reference itself has the corpus's clusters, so agreeing with it means something.
    assert t.column("cluster").to_pylist() == [expected_cluster(i) for i in t.column("id").to_pylist()]
    return out


def assert_same_clusters(got, want):
    g, w = pq.read_table(got), pq.read_table(want)
    assert g.schema.equals(w.schema, check_metadata=True)
    assert g.num_rows == w.num_rows
    for name in w.column_names:
        assert g.column(name).to_pylist() == w.column(name).to_pylist(), name
    assert got.read_bytes() == want.read_bytes()


def _ray_processes(temp_dir: str) -> set[int]:
    """The cluster's processes: those naming its temp dir (GCS, raylet, monitors) and their
    children (the workers, renamed `ray::...`)."""
    cmd, parent = {}, {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                cmd[int(p)] = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{p}/stat") as f:
                parent[int(p)] = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    ours = {p for p, c in cmd.items() if temp_dir in c and p != os.getpid()}
    while True:
        more = {p for p, pp in parent.items() if pp in ours} - ours
        if not more:
            return ours
        ours |= more


@pytest.fixture(scope="module")
def ray_cluster():
    ray = require("ray")
    require("ray.data")
    temp_dir = tempfile.mkdtemp(prefix="ray-", dir="/tmp")
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        object_store_memory=200_000_000,
        log_to_driver=False,
        _temp_dir=temp_dir,
    )
    try:
        yield ray
    finally:
        procs = _ray_processes(temp_dir)
        ray.shutdown()
        deadline = time.monotonic() + 30
        while (left := {p for p in procs if os.path.exists(f"/proc/{p}")}) and time.monotonic() < deadline:
            time.sleep(0.2)
        shutil.rmtree(temp_dir, ignore_errors=True)
        assert not left, f"Ray processes left behind: {sorted(left)}"
        assert procs, "found no Ray processes to wait for"


@pytest.mark.parametrize("counts", [(3, 2, 2), (None, None, None)])
def test_ray_dedup_equals_mycel_data_dedup(ray_cluster, parquet_corpus, cli_clusters, tmp_path, counts):
    import mycel_data.ray as mr

    shards, groups, verify = counts
    out = tmp_path / "clusters.parquet"
    r = mr.dedup(
        parquet_corpus,
        out,
        tmp_path / "work",
        shards=shards,
        band_groups=groups,
        verify_shards=verify,
        id_column="id",
    )
    # The defaults are the cluster's 2 CPUs.
    assert (len(r["sign"]), len(r["candidates"]), len(r["verify"])) == (shards or 2, groups or 2, verify or 2)
    assert sum(s["records"] for s in r["sign"]) == r["cluster"]["records"] == pq.read_metadata(cli_clusters).num_rows
    assert set(r["seconds"]) == {"sign", "candidates", "verify", "cluster"}
    assert_same_clusters(out, cli_clusters)


def test_ray_rerun_in_the_same_work_dir(ray_cluster, parquet_corpus, cli_clusters, tmp_path):
    import mycel_data.ray as mr

    # Stage files of an earlier run with other counts are cleared, not mixed in.
    mr.dedup(parquet_corpus, tmp_path / "a.parquet", tmp_path / "work", shards=4, band_groups=3, verify_shards=1, id_column="id")
    mr.dedup(parquet_corpus, tmp_path / "b.parquet", tmp_path / "work", shards=2, band_groups=1, verify_shards=3, id_column="id")
    assert_same_clusters(tmp_path / "b.parquet", cli_clusters)
    assert sorted(p.name for p in (tmp_path / "work" / "sigs").iterdir()) == ["sigs-0-of-2.parquet", "sigs-1-of-2.parquet"]


def datatrove_run(files, work, tasks=2, workers=2):
    from datatrove.executor import LocalPipelineExecutor

    from mycel_data.datatrove import MycelDedupBuckets, MycelDedupCluster, MycelDedupSignature, MycelDedupVerify

    logs = work / "logs"
    sign = LocalPipelineExecutor(
        pipeline=[MycelDedupSignature(output_folder=work / "sigs", inputs=files, id_column="id")],
        tasks=tasks,
        workers=workers,
        logging_dir=str(logs / "sign"),
    )
    buckets = LocalPipelineExecutor(
        pipeline=[MycelDedupBuckets(input_folder=work / "sigs", output_folder=work / "candidates")],
        tasks=tasks,
        workers=workers,
        logging_dir=str(logs / "buckets"),
        depends=sign,
    )
    verify = LocalPipelineExecutor(
        pipeline=[MycelDedupVerify(input_folder=work / "candidates", output_folder=work / "verified", inputs=files)],
        tasks=tasks,
        workers=workers,
        logging_dir=str(logs / "verify"),
        depends=buckets,
    )
    cluster = LocalPipelineExecutor(
        pipeline=[
            MycelDedupCluster(input_folder=work / "verified", output_folder=work, signatures_folder=work / "sigs")
        ],
        tasks=1,
        logging_dir=str(logs / "cluster"),
        depends=verify,
    )
    cluster.run()
    return work / "clusters.parquet"


def test_datatrove_equals_mycel_data_dedup(parquet_corpus, cli_clusters, tmp_path):
    require("datatrove")
    out = datatrove_run(parquet_corpus, tmp_path / "work")
    assert_same_clusters(out, cli_clusters)
    names = sorted(p.name for p in (tmp_path / "work" / "verified").iterdir())
    assert names == ["verified-0-of-2.parquet", "verified-1-of-2.parquet"]
    # datatrove's per-task stats carry the stage summaries.
    import json

    stats = json.loads((tmp_path / "work" / "logs" / "sign" / "stats.json").read_text())
    records = [s["stats"]["records"]["total"] for s in stats if "stats" in s and "records" in s["stats"]]
    assert records == [pq.read_metadata(cli_clusters).num_rows]


def test_datatrove_steps_refuse_misuse(parquet_corpus, tmp_path):
    require("datatrove")
    from mycel_data.datatrove import MycelDedupCluster, MycelDedupSignature

    step = MycelDedupSignature(output_folder=tmp_path / "sigs", inputs=parquet_corpus)
    with pytest.raises(ValueError, match="reads its input files itself"):
        step.run(iter([]), 0, 1)
    with pytest.raises(ValueError, match="not a local path"):
        MycelDedupSignature(output_folder="s3://bucket/sigs", inputs=parquet_corpus)
    c = MycelDedupCluster(input_folder=tmp_path / "v", output_folder=tmp_path, signatures_folder=tmp_path / "s")
    with pytest.raises(ValueError, match="one task"):
        c.run(None, 0, 2)
    # Called as datatrove's executor calls a step, for one rank.
    step(None, 1, 3)
    assert (tmp_path / "sigs" / "sigs-1-of-3.parquet").is_file()
