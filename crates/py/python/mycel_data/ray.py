"""``mycel data dedup`` on a Ray cluster through Ray Data: the staged dedup of
:mod:`mycel_data.stages`, one Ray task per stage job, with the same ``clusters.parquet``.

What runs where:

- **The driver** (the process calling :func:`dedup`) reads no data. It builds, per stage, a Ray
  Data dataset of task numbers (``ray.data.from_items``) and maps each task to its stage function
  (``map_batches(batch_size=1, batch_format="pyarrow", compute=TaskPoolStrategy(size=...))``),
  waits for every task, and starts the next stage. Only the small JSON summaries come back
  through Ray's object store.
- **Each task** runs on whichever worker Ray Data schedules it, with ``num_cpus`` (default 1:
  a stage function is one Rust thread, the GIL released) and calls one Rust stage function, which
  reads the input files or the previous stage's files and writes its own stage file, all under
  paths every node must see (a shared filesystem: NFS, a mounted bucket; the Rust reader takes
  local paths, not ``s3://`` URLs).
- **The shuffle** goes through those Parquet stage files, as datatrove's and the CLI's staged runs
  do, not through Ray's shuffle (no ``groupby``): ``shards`` sign tasks write signatures and band
  keys; ``band_groups`` candidates tasks each read every signature shard's keys for their bands;
  ``verify_shards`` verify tasks each check a share of the candidate pairs, re-reading texts from
  the inputs; one **cluster** task (a single Ray task) reads the signatures' doc numbers and IDs
  and every verified edge, and writes ``out``.
- **Memory**: a candidates task holds, for every record of the run, its doc number, normalised-ID
  prefix, 8-bit signature and its bands' keys (about 0.2 KB per record); the cluster task every
  record's doc number, normalised-ID prefix and ID, and every verified edge, on one node.
- **Retries**: Ray retries failed tasks; every stage file is written to a temporary sibling and
  renamed, so a retried task leaves the same file.

Ray is imported when :func:`dedup` runs (``pip install 'ray[data]'``; the pinned set is
``scripts/requirements-scale.txt``). Without ``ray.init()`` beforehand, :func:`dedup` calls it
(a local cluster, or the one ``RAY_ADDRESS`` names). Every worker needs the ``mycel-data`` wheel
installed (or a ``runtime_env`` that installs it).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import pyarrow as pa

from . import stages
from ._native import banding_for, default_threshold
from .stages import CANDIDATES, DEFAULT_MAX_RECORD_BYTES, PROFILE, SIGS, VERIFIED, Inputs, PathLike

__all__ = ["dedup"]


def _import_ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError as e:
        raise ImportError(
            "mycel_data.ray needs Ray Data: pip install 'ray[data]' (the pinned, hash-checked set: "
            "scripts/requirements-scale.txt, installed by scripts/build-py.sh --scale)"
        ) from e
    return ray


def _stage_task(batch: pa.Table, stage: str, args: dict) -> pa.Table:
    """One stage job per row of ``batch`` (a ``task`` column): runs in a Ray worker."""
    out = []
    for task in batch.column("task").to_pylist():
        if stage == SIGS:
            s = stages.sign(args["inputs"], task, args["of"], args["out_dir"], **args["run"])
        elif stage == CANDIDATES:
            s = stages.candidates(args["sigs_dir"], task, args["of"], args["out_dir"])
        elif stage == VERIFIED:
            s = stages.verify(args["candidates_dir"], args["inputs"], task, args["of"], args["out_dir"])
        else:
            s = stages.cluster(args["sigs_dir"], args["verified_dir"], args["out"])
        out.append(json.dumps(s))
    return pa.table({"task": batch.column("task"), "summary": pa.array(out, pa.string())})


def _run_stage(ray: Any, stage: str, tasks: int, args: dict, concurrency: int, num_cpus: float, memory: float | None) -> list[dict]:
    ds = ray.data.from_items([{"task": t} for t in range(tasks)], override_num_blocks=tasks)
    ds = ds.map_batches(
        _stage_task,
        batch_size=1,
        batch_format="pyarrow",
        fn_kwargs={"stage": stage, "args": args},
        compute=ray.data.TaskPoolStrategy(size=max(1, min(concurrency, tasks))),
        num_cpus=num_cpus,
        memory=memory,
    )
    rows = sorted(ds.take_all(), key=lambda r: r["task"])
    if [r["task"] for r in rows] != list(range(tasks)):
        raise RuntimeError(f"{stage}: Ray Data returned tasks {[r['task'] for r in rows]}, expected 0..{tasks - 1}")
    return [json.loads(r["summary"]) for r in rows]


def _cluster_cpus(ray: Any) -> int:
    if not ray.is_initialized():
        ray.init()
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def dedup(
    inputs: Inputs,
    out: PathLike,
    work_dir: PathLike,
    shards: int | None = None,
    band_groups: int | None = None,
    verify_shards: int | None = None,
    text_column: str = "text",
    id_column: str | None = None,
    threshold: float | None = None,
    tier: str = "d",
    profile: str = PROFILE,
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
    concurrency: int | None = None,
    num_cpus: float = 1,
    memory: float | None = None,
) -> dict:
    """Deduplicates ``inputs`` on the Ray cluster (see the module docs for what runs where) and
    writes ``out`` (ending in ``.parquet``): the same file, byte for byte, as ``mycel data dedup
    INPUTS... --clusters OUT`` with the same text/ID columns, threshold and tier.

    ``work_dir`` holds the stage files (``sigs/``, ``candidates/``, ``verified/``); stage files of an
    earlier run there are removed first (:func:`mycel_data.stages.clear`), nothing else. ``inputs``,
    ``out`` and ``work_dir`` must be paths every worker sees. ``shards`` (sign tasks; each takes every
    ``shards``-th Parquet row group or JSONL/Arrow file), ``band_groups`` (at most the number of LSH
    bands, 16 for tier d) and ``verify_shards`` default to the cluster's CPU count; ``concurrency``
    caps the tasks running at once (default: all of a stage's). ``text_column``, ``id_column``
    (``None``: the doc number is the ID, the CLI's ``--id-field ''``), ``threshold``, ``tier``,
    ``profile``, ``max_record_bytes``: as :func:`mycel_data.stages.sign`. ``num_cpus`` and
    ``memory`` are reserved per task.

    Returns the stage summaries (``sign``, ``candidates``, ``verify``: one per task; ``cluster``)
    and ``seconds`` per stage.
    """
    ray = _import_ray()
    cpus = _cluster_cpus(ray)
    paths = stages.input_paths(inputs)
    out = os.path.abspath(os.fspath(out))
    d = stages.layout(work_dir)
    stages.clear(work_dir)
    for folder in d.values():
        os.makedirs(folder, exist_ok=True)
    shards = shards or cpus
    verify_shards = verify_shards or cpus
    if band_groups is None:
        t = threshold if threshold is not None else default_threshold(tier, profile)
        band_groups = min(cpus, banding_for(t, tier, profile)[0])
    conc = concurrency or max(shards, band_groups, verify_shards)
    run = {
        "text_column": text_column,
        "id_column": id_column,
        "threshold": threshold,
        "tier": tier,
        "profile": profile,
        "max_record_bytes": max_record_bytes,
    }
    plan = [
        ("sign", SIGS, shards, {"inputs": paths, "of": shards, "out_dir": d[SIGS], "run": run}),
        ("candidates", CANDIDATES, band_groups, {"sigs_dir": d[SIGS], "of": band_groups, "out_dir": d[CANDIDATES]}),
        (
            "verify",
            VERIFIED,
            verify_shards,
            {"candidates_dir": d[CANDIDATES], "inputs": paths, "of": verify_shards, "out_dir": d[VERIFIED]},
        ),
        ("cluster", "cluster", 1, {"sigs_dir": d[SIGS], "verified_dir": d[VERIFIED], "out": out}),
    ]
    result: dict = {"seconds": {}}
    for name, stage, tasks, args in plan:
        start = time.perf_counter()
        summaries = _run_stage(ray, stage, tasks, args, conc, num_cpus, memory)
        result[name] = summaries[0] if name == "cluster" else summaries
        result["seconds"][name] = time.perf_counter() - start
    return result
