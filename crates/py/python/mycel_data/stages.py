"""The staged near-duplicate dedup of ``mycel data stage``, one function per stage, over the
CLI's Parquet stage files; and :func:`dedup_files`, the single-process ``mycel data dedup``.

Each function runs the Rust stage function the CLI runs (the GIL released) and returns the CLI's
``--json`` summary as a dict. The stage files are the CLI's -- same names, schemas and key-value
metadata -- so a run may mix stages run here, by Ray (:mod:`mycel_data.ray`), by datatrove
(:mod:`mycel_data.datatrove`) and by the CLI. For any shard counts the clusters file equals the one
``mycel data dedup INPUTS... --clusters OUT.parquet`` writes, byte for byte.

1. :func:`sign` -- ``of`` jobs: every ``of``-th input unit (a Parquet row group, a whole JSONL or
   Arrow file) from the ``shard``-th -> ``OUT/sigs-{shard}-of-{of}.parquet``;
2. :func:`candidates` -- ``of`` jobs, after every sign job: candidate pairs of the ``group``-th of
   ``of`` groups of LSH bands -> ``OUT/candidates-{group}-of-{of}.parquet``;
3. :func:`verify` -- ``of`` jobs, after every candidates job: exact word-shingle Jaccard of a share
   of the candidates, texts re-read from the inputs -> ``OUT/verified-{shard}-of-{of}.parquet``;
4. :func:`cluster` -- one job: ``clusters.parquet`` (``doc``, ``id``, ``cluster``, ``cluster_doc``).

**Inputs** are file paths, read by the Rust engine (not Python objects), in the order given:
``*.parquet`` files, ``*.arrow`` Arrow IPC streams, any other file as JSONL, a Hugging Face
``datasets`` folder (``save_to_disk`` or ``DatasetDict``), or a folder of Parquet files (sorted by
path). Every record gets a global doc number ``(file_index << 40) | row`` (JSONL: the line's byte
offset), which is why the stages take paths rather than rows: the earliest record of a cluster
represents it, across every shard. Every path must be readable by every worker (a shared
filesystem); a later stage refuses stage files of another run, naming the files.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Union

from . import _native
from ._native import PROFILE

#: Largest record (text) accepted, in bytes: the CLI's ``--max-record-bytes`` default.
DEFAULT_MAX_RECORD_BYTES: int = _native.DEFAULT_MAX_RECORD_BYTES

#: A path, or a list of paths, in record order.
PathLike = Union[str, "os.PathLike[str]"]
Inputs = Union[PathLike, Iterable[PathLike]]

#: Sub-folders of a work folder, one per stage, as :func:`layout` names them.
SIGS, CANDIDATES, VERIFIED = "sigs", "candidates", "verified"

__all__ = [
    "CANDIDATES",
    "DEFAULT_MAX_RECORD_BYTES",
    "SIGS",
    "VERIFIED",
    "candidates",
    "clear",
    "cluster",
    "dedup_files",
    "input_paths",
    "layout",
    "run_local",
    "sign",
    "verify",
]


def input_paths(inputs: Inputs) -> list[str]:
    """``inputs`` (one path or several) as a list of absolute paths, in order."""
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    out = [os.path.abspath(os.fspath(p)) for p in inputs]
    if not out:
        raise ValueError("no inputs")
    return out


def layout(work_dir: PathLike) -> dict[str, str]:
    """The stage folders under ``work_dir``: ``{"sigs": ..., "candidates": ..., "verified": ...}``
    (absolute paths)."""
    root = os.path.abspath(os.fspath(work_dir))
    return {s: os.path.join(root, s) for s in (SIGS, CANDIDATES, VERIFIED)}


def clear(work_dir: PathLike) -> None:
    """Removes the stage files (``{sigs,candidates,verified}-*-of-*.parquet`` in the stage folders
    of :func:`layout`) of an earlier run from ``work_dir``; nothing else is touched. A stage refuses
    a folder whose files mix shard counts, so a new run with other counts starts with this."""
    for stage, folder in layout(work_dir).items():
        for f in Path(folder).glob(f"{stage}-*-of-*.parquet"):
            f.unlink()


def _loads(s: str) -> dict:
    return json.loads(s)


def sign(
    inputs: Inputs,
    shard: int,
    of: int,
    out_dir: PathLike,
    text_column: str = "text",
    id_column: str | None = None,
    threshold: float | None = None,
    tier: str = "d",
    profile: str = PROFILE,
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
) -> dict:
    """Stage 1, ``mycel data stage sign INPUTS... --shard SHARD/OF --out OUT_DIR``: signs every
    ``of``-th input unit from the ``shard``-th (0-based) into ``OUT_DIR/sigs-{shard}-of-{of}.parquet``.

    ``text_column`` / ``id_column`` are the CLI's ``--text-field`` / ``--id-field``; ``id_column``
    ``None`` is ``--id-field ''`` (the ID is the doc number; the CLI's default is ``"id"``).
    ``threshold`` defaults to the tier's (0.8 for ``tier="d"``, 0.4 for ``"l"``). Every later stage
    reads these parameters from the files. Returns ``out``, ``units``, ``records``, ``bytes``.
    """
    return _loads(
        _native.stage_sign(
            input_paths(inputs),
            shard,
            of,
            os.fspath(out_dir),
            text_column,
            id_column,
            threshold,
            tier,
            profile,
            max_record_bytes,
        )
    )


def candidates(sigs_dir: PathLike, group: int, of: int, out_dir: PathLike) -> dict:
    """Stage 2, ``mycel data stage candidates --sigs SIGS_DIR --bands GROUP/OF --out OUT_DIR``:
    candidate pairs of the ``group``-th of ``of`` contiguous groups of LSH bands, from every
    signature shard in ``sigs_dir`` (all must be there), into
    ``OUT_DIR/candidates-{group}-of-{of}.parquet``. Returns ``out``, ``records``, ``indexed``,
    ``bands``, ``band_pairs``, ``prefiltered_out``, ``candidates``."""
    return _loads(_native.stage_candidates(os.fspath(sigs_dir), group, of, os.fspath(out_dir)))


def verify(candidates_dir: PathLike, inputs: Inputs, shard: int, of: int, out_dir: PathLike) -> dict:
    """Stage 3, ``mycel data stage verify --candidates CANDIDATES_DIR --inputs INPUTS... --shard
    SHARD/OF --out OUT_DIR``: the exact word-shingle Jaccard of the ``shard``-th of ``of`` shares of
    every candidate pair, texts re-read from ``inputs`` (the list given to :func:`sign`; refused if
    the files differ), the pairs that reach the threshold into
    ``OUT_DIR/verified-{shard}-of-{of}.parquet``. Returns ``out``, ``candidates``, ``checked``,
    ``verified``, ``texts_read``."""
    return _loads(
        _native.stage_verify(os.fspath(candidates_dir), input_paths(inputs), shard, of, os.fspath(out_dir))
    )


def cluster(sigs_dir: PathLike, verified_dir: PathLike, out: PathLike) -> dict:
    """Stage 4, ``mycel data stage cluster --sigs SIGS_DIR --verified VERIFIED_DIR --out OUT``: the
    clusters file (``OUT`` ends in ``.parquet``): per record in order its ``doc``, ``id``, the
    ``cluster`` (representative's ID) and ``cluster_doc``. Returns ``out``, ``records``,
    ``exact_dups``, ``edges``, ``clusters``."""
    return _loads(_native.stage_cluster(os.fspath(sigs_dir), os.fspath(verified_dir), os.fspath(out)))


def dedup_files(
    inputs: Inputs,
    out: PathLike,
    text_column: str = "text",
    id_column: str | None = None,
    threshold: float | None = None,
    tier: str = "d",
    profile: str = PROFILE,
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
) -> dict:
    """``mycel data dedup INPUTS... --clusters OUT`` in this process (one thread): the clusters as
    Parquet when ``out`` ends in ``.parquet`` (the staged run's file, byte for byte), else JSON
    lines ``{"id", "cluster"}``. Parameters as :func:`sign` (``id_column=None``: doc numbers as
    IDs). Returns the CLI's summary (``records``, ``exact_dups``, ``near_dups``, ``clusters``,
    ``bytes``, ``seconds``, ...)."""
    return _loads(
        _native.dedup_files(
            input_paths(inputs),
            os.fspath(out),
            text_column,
            id_column,
            threshold,
            tier,
            profile,
            max_record_bytes,
        )
    )


def run_local(
    inputs: Inputs,
    out: PathLike,
    work_dir: PathLike,
    shards: int = 1,
    band_groups: int = 1,
    verify_shards: int = 1,
    **run: object,
) -> dict:
    """Every stage in this process, one job after another (a reference for the engines' runs, and
    a way to check stage files): clears ``work_dir`` (:func:`clear`), then signs ``shards`` shards,
    ``band_groups`` candidate groups, ``verify_shards`` verify shares and the clusters into ``out``.
    ``run`` takes :func:`sign`'s keyword parameters. Returns the summaries by stage."""
    paths = input_paths(inputs)
    d = layout(work_dir)
    clear(work_dir)
    return {
        "sign": [sign(paths, i, shards, d[SIGS], **run) for i in range(shards)],  # type: ignore[arg-type]
        "candidates": [candidates(d[SIGS], g, band_groups, d[CANDIDATES]) for g in range(band_groups)],
        "verify": [verify(d[CANDIDATES], paths, i, verify_shards, d[VERIFIED]) for i in range(verify_shards)],
        "cluster": cluster(d[SIGS], d[VERIFIED], out),
    }
