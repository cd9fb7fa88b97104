"""``mycel data dedup`` as datatrove pipeline steps, named after datatrove's MinHash steps and
run by any datatrove executor (``LocalPipelineExecutor``, ``SlurmPipelineExecutor``,
``RayPipelineExecutor``); the clusters file equals ``mycel data dedup``'s.

=================================  ======================================  ==================
datatrove                          mycel_data.datatrove                    tasks
=================================  ======================================  ==================
``MinhashDedupSignature``          :class:`MycelDedupSignature`            any number
``MinhashDedupBuckets``            :class:`MycelDedupBuckets`              1 .. bands (16)
(none: datatrove does not verify)  :class:`MycelDedupVerify`               any number
``MinhashDedupCluster``            :class:`MycelDedupCluster`              1
=================================  ======================================  ==================

Each step runs, for its task's ``rank`` of ``world_size``, the Rust stage function of
:mod:`mycel_data.stages` (the CLI's ``mycel data stage ...``) and writes one Parquet stage file
into its ``output_folder``; the next executor reads the whole folder. Run the four as separate
executors, each ``depends=`` the one before.

**Documents**: the steps read the input files themselves -- ``inputs``: Parquet files, JSONL
files, Arrow IPC streams, Hugging Face ``datasets`` folders, folders of Parquet files -- rather
than datatrove ``Document`` s from a reader step, because every record's number must be global
(its file's index and its row), so that the earliest record represents its cluster whichever task
read it. Put no reader before :class:`MycelDedupSignature` (a step given documents raises). To
drop the duplicates afterwards, read ``clusters.parquet`` (``id``, ``cluster``): a record is kept
when ``id == cluster``.

Folders and inputs are local paths (or ``file://``, or a local datatrove ``DataFolder``) that every
task can read: the Rust reader does not go through fsspec, so ``s3://`` / ``hf://`` folders are
refused.

datatrove is imported with this module (``pip install datatrove``; the pinned set is
``scripts/requirements-scale.txt``).
"""

from __future__ import annotations

import os
from typing import Any

try:
    from datatrove.io import DataFolder
    from datatrove.pipeline.base import PipelineStep
except ImportError as e:  # pragma: no cover - exercised without datatrove
    raise ImportError(
        "mycel_data.datatrove needs datatrove: pip install datatrove (the pinned, hash-checked set: "
        "scripts/requirements-scale.txt, installed by scripts/build-py.sh --scale)"
    ) from e

from . import stages
from .stages import DEFAULT_MAX_RECORD_BYTES, PROFILE, Inputs

__all__ = ["MycelDedupBuckets", "MycelDedupCluster", "MycelDedupSignature", "MycelDedupVerify"]


def _local(folder: Any, what: str) -> str:
    """``folder`` (a path, ``file://`` URL or local ``DataFolder``) as an absolute local path."""
    if isinstance(folder, DataFolder):
        protocols = folder.fs.protocol
        protocols = (protocols,) if isinstance(protocols, str) else tuple(protocols)
        if not {"file", "local"} & set(protocols):
            raise ValueError(f"{what}: {folder.path!r} is on {protocols[0]}://; the mycel steps take local paths")
        return os.path.abspath(folder.path)
    if isinstance(folder, (str, os.PathLike)):
        path = os.fspath(folder)
        if path.startswith("file://"):
            path = path[len("file://") :]
        elif "://" in path:
            raise ValueError(f"{what}: {path!r} is not a local path; the mycel steps take local paths")
        return os.path.abspath(path)
    raise TypeError(f"{what}: expected a path or a local datatrove DataFolder, not {type(folder).__name__}")


def _inputs(inputs: Inputs) -> list[str]:
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    return stages.input_paths([_local(p, "inputs") for p in inputs])


class _MycelStep(PipelineStep):
    type = "🫂 - DEDUP"

    def _no_documents(self, data: Any) -> None:
        if data is not None:
            raise ValueError(
                f"{type(self).__name__} reads its input files itself (record numbers must be global); "
                "put no reader or other step before it"
            )

    def _stats(self, summary: dict, *keys: str) -> None:
        for k in keys:
            self.stat_update(k, value=int(summary[k]), unit="task")


class MycelDedupSignature(_MycelStep):
    """Stage 1 (datatrove's ``MinhashDedupSignature``): task ``rank`` of ``world_size`` signs every
    ``world_size``-th input unit (Parquet row group, whole JSONL or Arrow file) from the ``rank``-th
    into ``output_folder/sigs-{rank}-of-{world_size}.parquet``.

    Args:
        output_folder: folder of the signature shards.
        inputs: the input files and folders, in record order (the same list for every task).
        text_column: the text column (field), the CLI's ``--text-field``.
        id_column: the ID column, the CLI's ``--id-field``; ``None``: the doc number is the ID.
        threshold: exact Jaccard threshold (default: the tier's, 0.8 for ``"d"``).
        tier: ``"d"`` (removal) or ``"l"`` (lineage).
        profile: the dedup profile.
        max_record_bytes: the largest text accepted.
    """

    name = "🍄 mycel stage 1: sign"

    def __init__(
        self,
        output_folder: Any,
        inputs: Inputs,
        text_column: str = "text",
        id_column: str | None = None,
        threshold: float | None = None,
        tier: str = "d",
        profile: str = PROFILE,
        max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
    ):
        super().__init__()
        self.output_folder = _local(output_folder, "output_folder")
        self.inputs = _inputs(inputs)
        self.run_params = {
            "text_column": text_column,
            "id_column": id_column,
            "threshold": threshold,
            "tier": tier,
            "profile": profile,
            "max_record_bytes": max_record_bytes,
        }

    def run(self, data: Any = None, rank: int = 0, world_size: int = 1) -> None:
        self._no_documents(data)
        with self.track_time("task"):
            s = stages.sign(self.inputs, rank, world_size, self.output_folder, **self.run_params)
        self._stats(s, "units", "records", "bytes")


class MycelDedupBuckets(_MycelStep):
    """Stage 2 (datatrove's ``MinhashDedupBuckets``): task ``rank`` of ``world_size`` (at most the
    number of LSH bands) finds the candidate pairs of the ``rank``-th group of bands, from every
    signature shard in ``input_folder``, into ``output_folder/candidates-{rank}-of-{world_size}.parquet``.

    Args:
        input_folder: folder of the signature shards (:class:`MycelDedupSignature`'s output).
        output_folder: folder of the candidate files.
    """

    name = "🍄 mycel stage 2: buckets"

    def __init__(self, input_folder: Any, output_folder: Any):
        super().__init__()
        self.input_folder = _local(input_folder, "input_folder")
        self.output_folder = _local(output_folder, "output_folder")

    def run(self, data: Any = None, rank: int = 0, world_size: int = 1) -> None:
        self._no_documents(data)
        with self.track_time("task"):
            s = stages.candidates(self.input_folder, rank, world_size, self.output_folder)
        self._stats(s, "band_pairs", "prefiltered_out", "candidates")


class MycelDedupVerify(_MycelStep):
    """Stage 3 (no datatrove counterpart): task ``rank`` of ``world_size`` computes the exact
    word-shingle Jaccard of its share of every candidate pair in ``input_folder``, re-reading the
    texts from ``inputs`` (the list given to :class:`MycelDedupSignature`), and writes the pairs that
    reach the threshold to ``output_folder/verified-{rank}-of-{world_size}.parquet``.

    Args:
        input_folder: folder of the candidate files (:class:`MycelDedupBuckets`'s output).
        output_folder: folder of the verified pairs.
        inputs: the input files and folders of stage 1.
    """

    name = "🍄 mycel stage 3: verify"

    def __init__(self, input_folder: Any, output_folder: Any, inputs: Inputs):
        super().__init__()
        self.input_folder = _local(input_folder, "input_folder")
        self.output_folder = _local(output_folder, "output_folder")
        self.inputs = _inputs(inputs)

    def run(self, data: Any = None, rank: int = 0, world_size: int = 1) -> None:
        self._no_documents(data)
        with self.track_time("task"):
            s = stages.verify(self.input_folder, self.inputs, rank, world_size, self.output_folder)
        self._stats(s, "checked", "verified", "texts_read")


class MycelDedupCluster(_MycelStep):
    """Stage 4 (datatrove's ``MinhashDedupCluster``, one task): the clusters of every record from
    the verified pairs in ``input_folder`` and the signature shards in ``signatures_folder``, written
    to ``output_folder/output_filename`` (``doc``, ``id``, ``cluster``, ``cluster_doc``; the file
    ``mycel data dedup INPUTS... --clusters clusters.parquet`` writes).

    Args:
        input_folder: folder of the verified pairs (:class:`MycelDedupVerify`'s output).
        output_folder: folder of the clusters file.
        signatures_folder: folder of the signature shards (:class:`MycelDedupSignature`'s output).
        output_filename: name of the clusters file; ends in ``.parquet``.
    """

    name = "🍄 mycel stage 4: cluster"

    def __init__(
        self,
        input_folder: Any,
        output_folder: Any,
        signatures_folder: Any,
        output_filename: str = "clusters.parquet",
    ):
        super().__init__()
        self.input_folder = _local(input_folder, "input_folder")
        self.output_folder = _local(output_folder, "output_folder")
        self.signatures_folder = _local(signatures_folder, "signatures_folder")
        self.output_filename = output_filename

    def run(self, data: Any = None, rank: int = 0, world_size: int = 1) -> None:
        self._no_documents(data)
        if world_size != 1:
            raise ValueError(f"{type(self).__name__} runs as one task (tasks=1), not {world_size}")
        os.makedirs(self.output_folder, exist_ok=True)
        with self.track_time("task"):
            s = stages.cluster(
                self.signatures_folder, self.input_folder, os.path.join(self.output_folder, self.output_filename)
            )
        self._stats(s, "records", "exact_dups", "edges", "clusters")
