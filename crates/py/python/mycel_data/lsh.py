"""``LSH``: an in-memory MinHash-LSH index with the names of datasketch's ``MinHashLSH`` and
rensa's ``RMinHashLSH``, over the band keys ``mycel data dedup`` uses."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any

from . import _native

__all__ = ["LSH"]


class LSH:
    """Candidates by banding: two signatures are candidates when they agree on every value of at
    least one band. ``query`` returns candidates (like datasketch and rensa), not verified
    duplicates: check them with ``MinHash.jaccard`` or ``exact_jaccard``, or use ``dedup()``.

    The banding is the profile's Tier D (16 bands x 8 rows) at its threshold 0.8, the CLI's
    choice for any other ``threshold``, or ``num_bands`` bands of ``128 // num_bands`` rows.
    Keys are any hashable objects; results come in insertion order.
    """

    def __init__(
        self,
        threshold: float = 0.8,
        num_perm: int = _native.NUM_PERM,
        num_bands: int | None = None,
        profile: str = _native.PROFILE,
    ) -> None:
        if num_perm != _native.NUM_PERM:
            raise ValueError(f"num_perm must be {_native.NUM_PERM}: the profile fixes the signature length")
        if num_bands is None:
            bands, rows = _native.banding_for(threshold, "d", profile)
        else:
            if isinstance(num_bands, bool) or not isinstance(num_bands, int) or not 1 <= num_bands <= num_perm:
                raise ValueError(f"num_bands must be an integer in 1..={num_perm}, not {num_bands!r}")
            bands, rows = num_bands, num_perm // num_bands
        self.threshold = threshold
        self.num_perm = num_perm
        self.num_bands = bands
        self.rows = rows
        self.profile = profile
        self._tables: list[dict[int, dict[Hashable, None]]] = [{} for _ in range(bands)]
        self._keys: dict[Hashable, tuple[int, list[int]]] = {}
        self._seq = 0

    def __repr__(self) -> str:
        return f"LSH(num_bands={self.num_bands}, rows={self.rows}, keys={len(self._keys)})"

    def _band_keys(self, mh: Any) -> list[int]:
        if not isinstance(mh, _native.MinHash):
            raise TypeError(f"expected a MinHash, not {type(mh).__name__}")
        if mh.profile != self.profile:
            raise ValueError(f"a MinHash of profile {mh.profile} in an index of {self.profile}")
        return mh.band_keys(self.num_bands, self.rows)

    def insert(self, key: Hashable, mh: Any) -> None:
        """Adds ``mh`` under ``key`` (``ValueError`` if the key is already in the index)."""
        if key in self._keys:
            raise ValueError(f"key {key!r} is already in the index")
        keys = self._band_keys(mh)
        self._keys[key] = (self._seq, keys)
        self._seq += 1
        for table, k in zip(self._tables, keys):
            table.setdefault(k, {})[key] = None

    def query(self, mh: Any) -> list:
        """Keys sharing at least one band with ``mh``, in insertion order."""
        found: set = set()
        for table, k in zip(self._tables, self._band_keys(mh)):
            bucket = table.get(k)
            if bucket:
                found.update(bucket)
        return sorted(found, key=lambda key: self._keys[key][0])

    def query_all(self, minhashes: Iterable[Any]) -> list[list]:
        """``query`` of each signature in ``minhashes``."""
        return [self.query(mh) for mh in minhashes]

    def candidate_pairs(self) -> list[tuple]:
        """Every pair of inserted keys sharing a band, each once as ``(earlier, later)``, sorted
        by insertion order."""
        pairs: set = set()
        for table in self._tables:
            for bucket in table.values():
                if len(bucket) > 1:
                    members = list(bucket)
                    for i, a in enumerate(members):
                        for b in members[i + 1 :]:
                            pairs.add((a, b) if self._keys[a][0] < self._keys[b][0] else (b, a))
        return sorted(pairs, key=lambda p: (self._keys[p[0]][0], self._keys[p[1]][0]))

    def remove(self, key: Hashable) -> None:
        """Removes ``key`` (``KeyError`` if absent)."""
        _, keys = self._keys.pop(key)
        for table, k in zip(self._tables, keys):
            bucket = table[k]
            del bucket[key]
            if not bucket:
                del table[k]

    def keys(self) -> list:
        """Inserted keys, in insertion order."""
        return list(self._keys)

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def is_empty(self) -> bool:
        """Whether no key is in the index."""
        return not self._keys
