"""LSH: insert / query / remove with any hashable keys; banding from the profile."""

from __future__ import annotations

import pytest

from conftest import corpus
from mycel_data import LSH, MinHash


def test_banding():
    assert (LSH().num_bands, LSH().rows) == (16, 8)
    assert (LSH(num_bands=32).num_bands, LSH(num_bands=32).rows) == (32, 4)
    assert LSH(threshold=0.6).rows == 4  # the CLI's banding for 0.6
    with pytest.raises(ValueError, match="num_perm"):
        LSH(num_perm=64)
    with pytest.raises(ValueError, match="num_bands"):
        LSH(num_bands=0)
    with pytest.raises(ValueError, match="num_bands"):
        LSH(num_bands=129)
    with pytest.raises(ValueError, match="threshold"):
        LSH(threshold=1.5)


def test_insert_query_remove():
    texts, expected = corpus()
    lsh = LSH()
    mhs = [MinHash.from_text(t) for t in texts]
    keys = [("doc", i) for i in range(len(texts))]
    for k, m in zip(keys, mhs):
        lsh.insert(k, m)
    assert len(lsh) == len(texts) and ("doc", 3) in lsh and ("doc", 99) not in lsh
    # Every row's candidates include its cluster (the corpus clusters are all well above 0.8).
    for i, m in enumerate(mhs):
        got = lsh.query(m)
        assert ("doc", i) in got
        same = [("doc", j) for j, c in enumerate(expected) if c == expected[i]]
        assert set(same) <= set(got), (i, got)
        assert got == sorted(got, key=lambda k: k[1])  # insertion order
    assert lsh.query(mhs[6]) == [("doc", 6)]
    assert lsh.query_all([mhs[0], mhs[5]]) == [lsh.query(mhs[0]), lsh.query(mhs[5])]
    pairs = lsh.candidate_pairs()
    assert (("doc", 0), ("doc", 1)) in pairs and (("doc", 2), ("doc", 4)) in pairs
    assert all(a[1] < b[1] for a, b in pairs)

    lsh.remove(("doc", 0))
    assert ("doc", 0) not in lsh and ("doc", 0) not in lsh.query(mhs[0])
    assert ("doc", 1) in lsh.query(mhs[0])
    with pytest.raises(KeyError):
        lsh.remove(("doc", 0))
    with pytest.raises(ValueError, match="already"):
        lsh.insert(("doc", 1), mhs[1])
    with pytest.raises(TypeError):
        lsh.insert(["unhashable"], mhs[0])
    with pytest.raises(TypeError, match="MinHash"):
        lsh.insert("x", [1, 2, 3])
    for k in lsh.keys():
        lsh.remove(k)
    assert lsh.is_empty() and lsh.query(mhs[0]) == []
