"""mycel-data: the Rust data kernels of mycel (the ones ``mycel data dedup`` runs) for Python.

Object API (rensa / datasketch names): :class:`MinHash`, :class:`LSH`.

Arrow-batch API (the fast path: one call per batch, the GIL released, no per-row Python):

- :func:`signatures` -- MinHash signatures of a text column (for Ray Data ``map_batches``,
  datatrove steps, Spark ``mapInArrow``);
- :func:`dedup` -- the CLI's two-pass near-duplicate clustering with exact verification, in one
  call, with every removed row's exact Jaccard against its representative.

They take a ``pyarrow.Table`` or ``RecordBatch``, a Hugging Face ``datasets.Dataset`` (its Arrow
table, read in place), or anything that exports an Arrow stream (``__arrow_c_stream__``: Polars,
DuckDB, ...).

Files API (the CLI's file formats): :mod:`mycel_data.stages` -- the staged dedup of ``mycel data
stage sign|candidates|verify|cluster`` over Parquet stage files, and ``dedup_files``, the
single-process ``mycel data dedup``; run on a cluster by :mod:`mycel_data.ray` (Ray Data) and
:mod:`mycel_data.datatrove` (datatrove pipeline steps), each imported on demand.

:class:`Client` reads a node's HTTP API. ``PROFILE`` names the dedup profile and
``ALGORITHM_VERSION`` is its ID: signatures are comparable only under the same one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from . import _native, stages
from ._native import (
    ALGORITHM_VERSION,
    NUM_PERM,
    PROFILE,
    MinHash,
    __version__,
    banding_for,
    default_threshold,
    exact_jaccard,
    normalize,
)
from .client import Client, MycelError
from .lsh import LSH

__all__ = [
    "ALGORITHM_VERSION",
    "NUM_PERM",
    "PROFILE",
    "Client",
    "DedupResult",
    "LSH",
    "MinHash",
    "MycelError",
    "__version__",
    "banding_for",
    "dedup",
    "default_threshold",
    "exact_jaccard",
    "normalize",
    "signatures",
    "stages",
]

#: Schema metadata keys of a signature table (profile name, algorithm version).
META_PROFILE: str = _native.META_PROFILE
META_ALGORITHM: str = _native.META_ALGORITHM


def _as_table(data: Any) -> tuple[pa.Table, bool]:
    """``data`` as a ``pyarrow.Table``, and whether it was a single ``RecordBatch``."""
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data]), True
    if isinstance(data, pa.Table):
        return data, False
    # A Hugging Face datasets.Dataset: its Arrow table is `data.data.table` (read in place) when
    # no indices mapping (select/shuffle/filter) is pending; otherwise the arrow-formatted view
    # applies the mapping.
    if hasattr(data, "with_format") and hasattr(data, "data"):
        inner = getattr(data.data, "table", None)
        if getattr(data, "_indices", None) is None and isinstance(inner, pa.Table):
            return inner, False
        view = data.with_format("arrow")[:]
        if isinstance(view, pa.Table):
            return view, False
    if hasattr(data, "__arrow_c_stream__"):
        return pa.table(data), False
    if hasattr(data, "to_arrow"):
        t = data.to_arrow()
        if isinstance(t, pa.RecordBatch):
            return pa.Table.from_batches([t]), True
        if isinstance(t, pa.Table):
            return t, False
    raise TypeError(
        "expected a pyarrow.Table or RecordBatch, a datasets.Dataset, or an object with "
        f"__arrow_c_stream__, not {type(data).__name__}"
    )


def _one_batch(t: pa.Table) -> pa.RecordBatch:
    batches = t.to_batches()
    if len(batches) == 1:
        return batches[0]
    if t.num_rows == 0:
        return pa.RecordBatch.from_pylist([], schema=t.schema)
    return t.combine_chunks().to_batches()[0]


def signatures(
    data: Any,
    text_column: str = "text",
    id_column: str | None = None,
    profile: str = PROFILE,
) -> pa.RecordBatch | pa.Table:
    """MinHash signatures of the text column: the ``id_column`` (if given), then ``signature``
    (``fixed_size_list<uint32, 128>``, equal to ``MinHash.from_text(text).digest()``),
    ``norm_id`` (``fixed_size_binary(32)``, the record's normalised ID) and ``shingles``
    (``uint32``; 0 means the text has no word, and every value is the maximum).

    A ``RecordBatch`` in gives a ``RecordBatch`` out; anything else a ``Table`` with one batch per
    input batch. The schema's metadata holds the profile (``mycel.profile``) and its algorithm
    version (``mycel.algorithm_version``). A missing column, a non-string column or a null text
    raises ``ValueError`` naming the column (and the row).
    """
    table, was_batch = _as_table(data)
    out = _native.signatures(table, text_column, id_column, profile)
    return _one_batch(out) if was_batch else out


@dataclass(frozen=True)
class DedupResult:
    """The outcome of :func:`dedup`.

    ``cluster[i]`` is the cluster of row ``i``: the row index (or the ``id_column`` value) of the
    cluster's representative, its earliest row -- what ``mycel data dedup`` writes as
    ``"cluster"``. Rows that are their own representative are kept.
    """

    #: Cluster of every row (representative's id, or row index as int64).
    cluster: pa.Array
    #: Whether each row is kept (is its cluster's representative).
    keep_mask: pa.BooleanArray
    #: One row per removed record: ``record``, ``representative`` (ids or row indices),
    #: ``jaccard`` (exact word-shingle Jaccard of the two normalised texts), ``exact`` (same
    #: normalised text).
    evidence: pa.Table
    #: Counters: records, clusters, exact_dups, near_dups, candidates, verified, threshold,
    #: tier, banding, profile.
    stats: dict
    #: The id column, if one was given.
    ids: pa.Array | None = field(default=None, repr=False)

    @property
    def num_rows(self) -> int:
        """Rows deduplicated."""
        return len(self.cluster)

    @property
    def num_clusters(self) -> int:
        """Clusters (= rows kept)."""
        return int(self.stats["clusters"])

    @property
    def keep(self) -> pa.Array:
        """Row indices of the kept rows, ascending (for ``Dataset.select`` or ``Table.take``)."""
        return pc.indices_nonzero(self.keep_mask)

    @property
    def kept_ids(self) -> pa.Array | None:
        """Ids of the kept rows (with an ``id_column``)."""
        return None if self.ids is None else self.ids.filter(self.keep_mask)

    def filter(self, data: Any) -> Any:
        """The kept rows of ``data`` (the same rows in the same order as deduplicated): a
        ``Table``/``RecordBatch`` filtered, or ``datasets.Dataset.select(keep)``."""
        if isinstance(data, (pa.Table, pa.RecordBatch)):
            return data.filter(self.keep_mask)
        if hasattr(data, "select") and hasattr(data, "with_format"):
            return data.select(self.keep.to_pylist())
        return _as_table(data)[0].filter(self.keep_mask)

    def to_table(self) -> pa.Table:
        """``(id, cluster)`` per row, as ``mycel data dedup --clusters`` writes them (``id`` is the
        row index without an id column)."""
        ids = self.ids if self.ids is not None else pa.array(range(self.num_rows), pa.int64())
        return pa.table({"id": ids, "cluster": self.cluster})


def _check_ids(table: pa.Table, id_column: str) -> pa.Array:
    if id_column not in table.column_names:
        raise ValueError(f"no column '{id_column}' (the columns are: {', '.join(table.column_names)})")
    ids = table.column(id_column).combine_chunks()
    if ids.null_count:
        row = pc.indices_nonzero(pc.is_null(ids))[0].as_py()
        raise ValueError(f"column '{id_column}' is null at row {row}; every row needs an id")
    counts = pc.value_counts(ids)
    dup = counts.filter(pc.greater(counts.field("counts"), 1))
    if len(dup):
        value = dup.field("values")[0]
        rows = pc.indices_nonzero(pc.equal(ids, value))[:2].to_pylist()
        raise ValueError(f"column '{id_column}' has the id {value.as_py()!r} twice (rows {rows[0]} and {rows[1]})")
    return ids


def dedup(
    data: Any,
    text_column: str = "text",
    id_column: str | None = None,
    threshold: float | None = None,
    tier: str = "d",
    profile: str = PROFILE,
) -> DedupResult:
    """Near-duplicate clustering of the text column, as ``mycel data dedup`` does it: the same
    two-pass ``BatchDeduper`` (exact duplicates after normalisation, MinHash-LSH candidates, exact
    word-shingle Jaccard verification against the cluster's representative), so the same rows
    with the same ids give the same clusters.

    ``threshold`` defaults to the tier's (0.8 for ``tier="d"``, removal; 0.4 for ``"l"``,
    lineage). ``id_column`` values must be unique and non-null (the CLI's rule); without one,
    clusters are named by row index. An empty text is allowed (it has no shingles; empty texts are
    exact duplicates of each other), where the CLI refuses an empty record.
    """
    table, _ = _as_table(data)
    ids = _check_ids(table, id_column) if id_column is not None else None
    reps_batch, ev, stats = _native.dedup(table, text_column, threshold, tier, profile)
    reps = reps_batch.column(0)
    keep_mask = reps_batch.column(1)
    if ids is not None:
        cluster = ids.take(reps)
        record, representative = ids.take(ev.column(0)), ids.take(ev.column(1))
    else:
        cluster = reps.cast(pa.int64())
        record, representative = ev.column(0).cast(pa.int64()), ev.column(1).cast(pa.int64())
    evidence = pa.table(
        {
            "record": record,
            "representative": representative,
            "jaccard": ev.column(2),
            "exact": ev.column(3),
        }
    )
    return DedupResult(cluster=cluster, keep_mask=keep_mask, evidence=evidence, stats=stats, ids=ids)
