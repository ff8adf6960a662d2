"""Rendered tiles kept in memory, bounded by their total size (least recently used go)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable

DEFAULT_BUDGET = 128 * 2**20


class TileCache:
    def __init__(self, budget_bytes: int = DEFAULT_BUDGET) -> None:
        self.budget = budget_bytes
        self._tiles: OrderedDict[Hashable, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> bytes | None:
        with self._lock:
            tile = self._tiles.get(key)
            if tile is None:
                self.misses += 1
                return None
            self._tiles.move_to_end(key)
            self.hits += 1
            return tile

    def put(self, key: Hashable, tile: bytes) -> None:
        with self._lock:
            if key in self._tiles:
                return
            self._tiles[key] = tile
            self._size += len(tile)
            while self._size > self.budget and self._tiles:
                _, dropped = self._tiles.popitem(last=False)
                self._size -= len(dropped)

    def clear(self) -> None:
        """After a publish: what was cached describes layers that are no longer served."""
        with self._lock:
            self._tiles.clear()
            self._size = 0

    def __len__(self) -> int:
        return len(self._tiles)
