"""Shared fixtures: a small corpus with known clusters, and the `mycel` binary (MYCEL_BIN)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest


def words(seed: int, n: int) -> list[str]:
    """`n` pseudo-random words (a fixed LCG, so the corpus is the same everywhere)."""
    out, s = [], seed
    for _ in range(n):
        s = (s * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        out.append(f"w{(s >> 33) % 5000}")
    return out


FULLWIDTH = {c: chr(ord(c) - 0x20 + 0xFF00) for c in "abcdefghijklmnopqrstuvwxyz0123456789"}


def fullwidth(text: str) -> str:
    """The text in fullwidth forms (NFKC folds them back)."""
    return "".join(FULLWIDTH.get(c, c) for c in text)


def corpus() -> tuple[list[str], list[int]]:
    """Texts and the expected cluster (representative row) of each."""
    a, b, c = words(1, 300), words(2, 300), words(3, 300)
    near_a = list(a)
    near_a[100] = "changed"
    near_a[200] = "edited"
    far_a = [w if i % 6 else f"x{i}" for i, w in enumerate(a)]
    texts = [
        " ".join(a),  # 0
        # 1: re-encoding of 0: case, punctuation, doubled spaces, fullwidth, line breaks
        ", ".join(fullwidth(w).upper() if i % 3 == 0 else w.upper() for i, w in enumerate(a[:150]))
        + "!\n\n"
        + "  ".join(a[150:]),
        " ".join(b),  # 2
        " ".join(near_a),  # 3: two words changed: J ~ 0.94 with 0
        " ".join(b + ["appended", "words"]),  # 4: near 2
        " ".join(c),  # 5
        " ".join(far_a),  # 6: every 6th word changed: J < 0.3 with 0
        "Hello, World!",  # 7
        "hello   world",  # 8: exact dup of 7 (one shingle: the whole text)
        "Café résumé naïve façade déjà vu",  # 9
        "cafe resume naive facade deja vu",  # 10: accents stripped: exact dup of 9
    ]
    expected = [0, 0, 2, 0, 2, 5, 6, 7, 7, 9, 9]
    return texts, expected


@pytest.fixture
def small_corpus() -> tuple[list[str], list[int]]:
    return corpus()


@pytest.fixture
def mycel_bin() -> Path:
    """The `mycel` binary of MYCEL_BIN; skipped without one, failed with MYCEL_REQUIRE_BIN=1."""
    value = os.environ.get("MYCEL_BIN", "")
    path = Path(value) if value else None
    if path is not None and not path.is_file():
        found = shutil.which(value)
        path = Path(found) if found else None
    if path is None or not os.access(path, os.X_OK):
        msg = f"MYCEL_BIN={value!r} is not an executable `mycel`" if value else "MYCEL_BIN is not set"
        if os.environ.get("MYCEL_REQUIRE_BIN") == "1":
            pytest.fail(msg + " (MYCEL_REQUIRE_BIN=1)")
        pytest.skip(msg)
    return path


def near_dup_records(sources: int = 1200, seed: int = 11) -> list[dict]:
    """A corpus with known clusters, `id` and `text` per record: `sources` texts of 120 words
    (`s{n}`), each followed by a near duplicate (one word edited: J ~ 0.92, `s{n}-near`); every 4th
    source also an exact duplicate after normalisation (upper case, punctuation: `s{n}-exact`) and
    a far variant (every 4th word replaced, J < 0.5: its own cluster, `s{n}-far`); every 5th an
    unrelated text (`u{n}`); every 10th a second near duplicate at the end of the corpus
    (`s{n}-late`, so in the last file). See `expected_cluster`."""
    recs: list[dict] = []
    late: list[dict] = []
    for s in range(sources):
        w = words(seed * 100_003 + s, 120)
        recs.append({"id": f"s{s}", "text": " ".join(w)})
        near = list(w)
        near[60] = "edited"
        recs.append({"id": f"s{s}-near", "text": " ".join(near)})
        if s % 4 == 0:
            recs.append({"id": f"s{s}-exact", "text": ", ".join(x.upper() for x in w) + "!"})
            recs.append({"id": f"s{s}-far", "text": " ".join(x if i % 4 else f"far{i}" for i, x in enumerate(w))})
        if s % 5 == 0:
            recs.append({"id": f"u{s}", "text": " ".join(words(seed * 7_919 + s + 10**6, 80))})
        if s % 10 == 3:
            again = list(w)
            again[20] = "later"
            late.append({"id": f"s{s}-late", "text": " ".join(again)})
    return recs + late


def expected_cluster(record_id: str) -> str:
    """The cluster (representative's ID) of a record of `near_dup_records()`."""
    base, _, kind = record_id.partition("-")
    return record_id if kind == "far" else base


def write_parquet_corpus(folder: Path, files: int = 3, row_group: int = 200) -> list[Path]:
    """`near_dup_records()` written as `files` Parquet files of several row groups each."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    recs = near_dup_records()
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(files):
        part = recs[i * len(recs) // files : (i + 1) * len(recs) // files]
        p = folder / f"part-{i:02d}.parquet"
        pq.write_table(pa.Table.from_pylist(part), p, row_group_size=row_group)
        paths.append(p)
    return paths


@pytest.fixture(scope="session")
def parquet_corpus(tmp_path_factory) -> list[Path]:
    """Three Parquet files (several row groups each) of `near_dup_records()`."""
    return write_parquet_corpus(tmp_path_factory.mktemp("corpus"))


def optional_mycel_bin() -> Path | None:
    """The `mycel` binary of MYCEL_BIN, or None; with MYCEL_REQUIRE_BIN=1 a missing one fails."""
    value = os.environ.get("MYCEL_BIN", "")
    path = Path(value) if value else None
    if path is not None and not path.is_file():
        found = shutil.which(value)
        path = Path(found) if found else None
    if path is None or not os.access(path, os.X_OK):
        if os.environ.get("MYCEL_REQUIRE_BIN") == "1":
            pytest.fail(f"MYCEL_BIN={value!r} is not an executable `mycel` (MYCEL_REQUIRE_BIN=1)")
        return None
    return path
