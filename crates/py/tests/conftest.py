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
