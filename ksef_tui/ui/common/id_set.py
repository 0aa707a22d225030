"""A set of row ids kept in buckets, so that no single step works on a million of them at once.

A Python ``set`` grows by building a new table and moving every element into it in one call: at
1,000,000 ids the last growth takes 60-120 ms, and while it runs (in any thread) it holds the
interpreter lock, so the event loop cannot run. :class:`IdSet` keeps ids in buckets of
:data:`BUCKET` consecutive ids; a bucket never grows past that, so an add, a merge or a copy
holds the lock for a few milliseconds at most, and a worker building a million-id selection lets
the loop in between buckets. A bucket is a ``dict`` of ids to ``None``, not a ``set``: a dict
holding only ints is not tracked by the garbage collector (a set always is), so no collection
walks a million selected ids (a young collection right after select all took 20-70 ms doing so).
It is a ``MutableSet`` (``in``, ``len``, iteration, ``add``,
``discard``, the set operators) with the few bulk methods the lists use.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, MutableSet

#: ids per bucket (1 << SHIFT)
SHIFT = 14
BUCKET = 1 << SHIFT


class IdSet(MutableSet[int]):
    """``IdSet(ids)``: a set of integer ids in buckets of :data:`BUCKET` consecutive ids."""

    __slots__ = ("_buckets", "_len")

    def __init__(self, ids: Iterable[int] = ()) -> None:
        self._buckets: dict[int, dict[int, None]] = {}
        self._len = 0
        self.update(ids)

    # ---------------------------------------------------------------- the set protocol

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, int):
            return False
        bucket = self._buckets.get(value >> SHIFT)
        return bucket is not None and value in bucket

    def __iter__(self) -> Iterator[int]:
        return itertools.chain.from_iterable(list(self._buckets.values()))

    def __len__(self) -> int:
        return self._len

    def __repr__(self) -> str:  # never a million ids in a log or a traceback
        return f"IdSet(<{self._len} ids>)"

    def add(self, value: int) -> None:
        bucket = self._buckets.setdefault(value >> SHIFT, {})
        if value not in bucket:
            bucket[value] = None
            self._len += 1

    def discard(self, value: int) -> None:
        bucket = self._buckets.get(value >> SHIFT)
        if bucket is not None and value in bucket:
            del bucket[value]
            self._len -= 1
            if not bucket:
                del self._buckets[value >> SHIFT]

    def clear(self) -> None:
        self._buckets = {}
        self._len = 0

    # ---------------------------------------------------------------- bulk

    def update(self, ids: Iterable[int]) -> None:
        """Add ``ids`` (any iterable; another :class:`IdSet` bucket by bucket)."""
        if isinstance(ids, IdSet):
            for key in list(ids._buckets):
                self.merge_bucket(key, ids._buckets[key])
            return
        groups: dict[int, dict[int, None]] = {}
        for value in ids:
            group = groups.get(value >> SHIFT)
            if group is None:
                group = groups[value >> SHIFT] = {}
            group[value] = None
        for key, values in groups.items():
            self.merge_bucket(key, values)

    def merge_bucket(self, key: int, values: Iterable[int]) -> None:
        """Add ``values``, all of bucket ``key`` (one C call of at most :data:`BUCKET` ids)."""
        bucket = self._buckets.setdefault(key, {})
        before = len(bucket)
        bucket.update(values if isinstance(values, dict) else dict.fromkeys(values))
        self._len += len(bucket) - before
        if not bucket:
            del self._buckets[key]

    def toggle_bucket(self, key: int, values: Iterable[int]) -> None:
        """Select the ``values`` of bucket ``key`` that are not selected, unselect those that are."""
        bucket = self._buckets.setdefault(key, {})
        before = len(bucket)
        for value in set(values):
            if value in bucket:
                del bucket[value]
            else:
                bucket[value] = None
        self._len += len(bucket) - before
        if not bucket:
            del self._buckets[key]

    def buckets(self) -> list[tuple[int, dict[int, None]]]:
        """The buckets (key, ids), for a caller that works on them a few at a time."""
        return list(self._buckets.items())

    def difference(self, other: Iterable[int]) -> set[int]:
        """The ids not in ``other`` (a plain set: the rows a filter hides are few, or read in a thread)."""
        theirs = other if isinstance(other, IdSet) else IdSet(other)
        out: set[int] = set()
        for key, mine in list(self._buckets.items()):
            other_bucket = theirs._buckets.get(key)
            out.update(mine if other_bucket is None else mine.keys() - other_bucket.keys())
        return out
