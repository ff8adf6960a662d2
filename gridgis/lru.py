"""One least-recently-used cache for everything the server keeps in memory.

Bounded by a count or by a size (bytes of tiles, say); ``get_or_build`` builds a missing
value once even when several threads ask for it at the same moment, because the builds
here (an index, a layer's department services) take seconds at city scale.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class LRU(Generic[V]):
    def __init__(self, budget: int, size: Callable[[V], int] = lambda _: 1) -> None:
        self.budget = budget
        self._size = size
        self._items: OrderedDict[Hashable, V] = OrderedDict()
        self._used = 0
        self._lock = threading.Lock()
        self._building: dict[Hashable, threading.Lock] = {}
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            if key not in self._items:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return self._items[key]

    def put(self, key: Hashable, value: V) -> None:
        with self._lock:
            if key in self._items:
                self._used -= self._size(self._items.pop(key))
            self._items[key] = value
            self._used += self._size(value)
            while self._used > self.budget and len(self._items) > 1:
                _, dropped = self._items.popitem(last=False)
                self._used -= self._size(dropped)

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

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._used = 0

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items

    def __len__(self) -> int:
        return len(self._items)
