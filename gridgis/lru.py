"""One least-recently-used cache for everything the server keeps in memory.

Bounded by bytes: each value's size is estimated once, when it is put (:func:`nbytes`
knows bytes, text, numpy arrays, frames and anything with an ``nbytes`` attribute).
Keys carry the content key of what a value was built from (a version's or a layer's),
so a value built from replaced content is never found again and simply ages out; no
cache needs clearing when content changes. ``get_or_build`` builds a missing value once
even when several threads ask for it at the same moment, because the builds here (an
index, a layer's collection, department services) take seconds at city scale; ``warm``
starts such a build in the background.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np
import pandas as pd
import shapely

V = TypeVar("V")
log = logging.getLogger(__name__)

#: What one GEOS geometry costs beside its coordinates (object headers, envelope, rings).
GEOMETRY_OVERHEAD = 200


def geometry_nbytes(geoms: Any) -> int:
    """Memory held by an array of shapely geometries: 16 bytes a coordinate plus overhead."""
    values = np.asarray(geoms, dtype=object)
    if not len(values):
        return 0
    coords = int(shapely.get_num_coordinates(values).sum())
    return coords * 16 + len(values) * GEOMETRY_OVERHEAD


def frame_nbytes(frame: pd.DataFrame) -> int:
    """A (Geo)DataFrame's columns, text deeply, geometry columns by their coordinates."""
    total = 0
    for name in frame.columns:
        column = frame[name]
        if column.dtype == object or str(column.dtype) == "geometry":
            first = next((v for v in column.array if v is not None), None)
            if isinstance(first, shapely.Geometry) or str(column.dtype) == "geometry":
                total += geometry_nbytes(column.to_numpy())
                continue
        total += int(column.memory_usage(index=False, deep=True))
    return total + int(frame.index.memory_usage())


def _array_nbytes(values: np.ndarray[Any, Any]) -> int:
    if values.dtype != object or not len(values):
        return int(values.nbytes)
    first = next((v for v in values.flat if v is not None), None)
    if isinstance(first, shapely.Geometry):
        return geometry_nbytes(values.ravel())
    return int(values.nbytes) + len(values) * sys.getsizeof(first)


def nbytes(value: Any, _depth: int = 0) -> int:
    """An estimate of the memory ``value`` holds, for the cache's budget."""
    if isinstance(value, bytes | bytearray | memoryview):
        return len(value)
    if isinstance(value, str):
        return sys.getsizeof(value)
    if isinstance(value, np.ndarray):  # before ``.nbytes``: it counts object arrays' pointers
        return _array_nbytes(value)
    if isinstance(value, pd.DataFrame):
        return frame_nbytes(value)
    own = getattr(value, "nbytes", None)
    if isinstance(own, int | np.integer):
        return int(own)
    if _depth < 4 and isinstance(value, dict):
        return sys.getsizeof(value) + sum(
            nbytes(k, _depth + 1) + nbytes(v, _depth + 1) for k, v in value.items()
        )
    if _depth < 4 and isinstance(value, list | tuple):
        return sys.getsizeof(value) + sum(nbytes(v, _depth + 1) for v in value)
    return sys.getsizeof(value)


@dataclass(frozen=True)
class CacheStats:
    entries: int
    bytes: int
    budget: int
    hits: int
    misses: int


class LRU(Generic[V]):
    def __init__(self, budget: int, size: Callable[[V], int] = nbytes) -> None:
        self.budget = budget
        self._size = size
        self._items: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._used = 0
        self._lock = threading.Lock()
        self._building: dict[Hashable, threading.Lock] = {}
        self._warming: set[Hashable] = set()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            entry = self._items.get(key)
            if entry is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return entry[0]

    def put(self, key: Hashable, value: V) -> None:
        size = self._size(value)  # outside the lock: estimating a frame takes a moment
        with self._lock:
            if key in self._items:
                self._used -= self._items.pop(key)[1]
            self._items[key] = (value, size)
            self._used += size
            while self._used > self.budget and len(self._items) > 1:
                _, (_, dropped) = self._items.popitem(last=False)
                self._used -= dropped

    def get_or_build(self, key: Hashable, build: Callable[[], V]) -> V:
        found = self.get(key)
        if found is not None:
            return found
        with self._lock:
            building = self._building.setdefault(key, threading.Lock())
        with building:
            found = self.get(key)  # built by another thread while this one waited
            if found is None:
                found = build()
                self.put(key, found)
        with self._lock:
            self._building.pop(key, None)
        return found

    def warm(self, key: Hashable, build: Callable[[], V]) -> None:
        """Build ``key`` in a background thread unless it is there or on its way."""
        with self._lock:
            if key in self._items or key in self._warming:
                return
            self._warming.add(key)

        def run() -> None:
            try:
                self.get_or_build(key, build)
            except Exception:  # the next ask builds it again and reports the error then
                log.exception("warming %r failed", key)
            finally:
                with self._lock:
                    self._warming.discard(key)

        threading.Thread(target=run, name="gridgis-cache-warm", daemon=True).start()

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._used = 0

    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(len(self._items), self._used, self.budget, self.hits, self.misses)

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items

    def __len__(self) -> int:
        return len(self._items)
