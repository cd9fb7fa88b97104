"""MinHash: the CLI's signature, the object API, pickling, bad input."""

from __future__ import annotations

import copy
import pickle

import pytest

import mycel_data as md
from mycel_data import MinHash

FOX = "the quick brown fox jumps over the lazy dog"
# crates/data/src/minhash.rs golden_signature_prefix.
GOLDEN_PREFIX = [410362072, 126225734, 1062077109, 558187176]
# crates/data/src/profile.rs PROFILE_V1_ID.
PROFILE_V1_ID = "ddf389bdb8d971e9acf45e67551653bff2634f29e52a3c7f7722d346063a328f"


def test_module_constants():
    assert md.PROFILE == "mycel-text/v1"
    assert md.ALGORITHM_VERSION == PROFILE_V1_ID
    assert md.NUM_PERM == 128
    assert md.__version__.count(".") == 2


def test_golden_signature():
    m = MinHash.from_text(FOX)
    d = m.digest()
    assert len(d) == 128 and len(m) == 128
    assert d[:4] == GOLDEN_PREFIX
    m2 = MinHash()
    m2.update(FOX)
    assert m2.digest() == d
    assert m2 == m
    assert m.profile == md.PROFILE and m.algorithm_version == PROFILE_V1_ID


def test_update_forms_are_the_same_text():
    want = MinHash.from_text(FOX).digest()
    assert MinHash.from_text(FOX.encode()).digest() == want
    assert MinHash.from_text(FOX.split()).digest() == want
    assert MinHash.from_text([w.encode() for w in FOX.split()]).digest() == want
    # Normalisation: case, punctuation, whitespace, fullwidth forms.
    assert MinHash.from_text("The QUICK brown fox, jumps over the lazy dog!!").digest() == want
    assert MinHash.from_text("ｔｈｅ quick brown fox jumps over the lazy dog").digest() == want
    assert md.normalize("  Ｔhe  Quick,  Brown ") == "the quick brown"


def test_update_is_a_union_of_shingle_sets():
    a, b = "one two three four five six seven", "eight nine ten eleven twelve thirteen"
    m = MinHash.from_text(a)
    m.update(b)
    ma, mb = MinHash.from_text(a).digest(), MinHash.from_text(b).digest()
    assert m.digest() == [min(x, y) for x, y in zip(ma, mb)]
    assert m.digest() != MinHash.from_text(a + " " + b).digest()


def test_empty_and_jaccard():
    e = MinHash()
    assert e.is_empty() and e.digest() == [2**32 - 1] * 128
    assert MinHash.from_text("!!!").is_empty()
    a = MinHash.from_text(FOX)
    assert a.jaccard(a) == 1.0
    assert a.jaccard(MinHash.from_text("a completely different sentence about nothing")) < 0.1
    words = [f"w{i}" for i in range(400)]
    edited = list(words)
    for i in range(0, 400, 40):
        edited[i] = f"x{i}"
    est = MinHash.from_text(words).jaccard(MinHash.from_text(edited))
    exact = md.exact_jaccard(" ".join(words), " ".join(edited))
    assert abs(est - exact) < 0.15, (est, exact)


def test_from_digest_round_trip():
    a = MinHash.from_text(FOX)
    assert MinHash.from_digest(a.digest()) == a
    with pytest.raises(ValueError, match="128"):
        MinHash.from_digest([1, 2, 3])


def test_pickle_and_copy():
    a = MinHash.from_text(FOX)
    for proto in range(2, pickle.HIGHEST_PROTOCOL + 1):
        b = pickle.loads(pickle.dumps(a, protocol=proto))
        assert b == a and b.digest()[:4] == GOLDEN_PREFIX
    c = copy.deepcopy(a)
    c.update("more words to change the signature of this copy")
    assert c != a and copy.copy(a) == a and a.copy() == a


def test_pickle_refuses_another_algorithm_version():
    a = MinHash.from_text(FOX)
    name, version, data = a.__getstate__()
    b = MinHash()
    with pytest.raises(ValueError, match="algorithm version"):
        b.__setstate__((name, "00" * 32, data))
    with pytest.raises(ValueError, match="bytes"):
        b.__setstate__((name, version, data[:10]))
    with pytest.raises(ValueError, match="profile"):
        b.__setstate__(("mycel-text/v0", version, data))


def test_bad_parameters():
    with pytest.raises(ValueError, match="num_perm must be 128"):
        MinHash(num_perm=256)
    with pytest.raises(ValueError, match="num_perm must be 128"):
        MinHash(64)
    with pytest.raises(ValueError, match="seed"):
        MinHash(seed=42)
    with pytest.raises(ValueError, match="profile"):
        MinHash(profile="nope/v1")
    m = MinHash()
    with pytest.raises(TypeError):
        m.update(12)
    with pytest.raises(TypeError):
        m.update(["ok", 3])
    with pytest.raises(ValueError, match="UTF-8"):
        m.update(b"\xff\xfe")
    with pytest.raises(ValueError):
        m.band_keys(17, 8)
