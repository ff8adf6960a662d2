"""The versions a server answers from: the published one kept fresh, older ones on demand."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import geopandas as gpd

from gridgis.lookup.index import GridIndex
from gridgis.store.base import GRID_PROPERTIES, Store, VersionInfo


@dataclass(frozen=True)
class LoadedVersion:
    """A version ready to answer: its index and each grid's properties by code."""

    info: VersionInfo
    index: GridIndex
    grids: gpd.GeoDataFrame
    properties: dict[str, dict[str, Any]]

    @classmethod
    def load(cls, store: Store, info: VersionInfo) -> LoadedVersion:
        grids = store.read_grids(info.name)
        columns = list(GRID_PROPERTIES)
        records = grids[columns].astype(object).where(grids[columns].notna(), None)
        properties = {
            row["code"]: {**row, "version": info.name} for row in records.to_dict("records")
        }
        return cls(
            info, GridIndex(grids.geometry.to_numpy(), grids["code"].to_numpy()), grids, properties
        )

    def grid_at(self, lon: float, lat: float) -> dict[str, Any] | None:
        code = self.index.lookup([lon], [lat])[0]
        return None if code is None else self.properties[code]


class PublishedIndex:
    """Holds the published version's index and swaps in a new one after a publish.

    Requests never wait for a rebuild they did not trigger, and never see a half-built
    index: the new :class:`LoadedVersion` replaces the old reference in one assignment.
    Older versions load on demand into a small LRU cache (time travel).
    """

    def __init__(self, store: Store, refresh_seconds: float = 2.0, cache_size: int = 4) -> None:
        self.store = store
        self.refresh_seconds = refresh_seconds
        self._current: LoadedVersion | None = None
        self._checked = 0.0
        self._lock = threading.Lock()
        self._older: OrderedDict[int, LoadedVersion] = OrderedDict()
        self._cache_size = cache_size

    def _stale(self, info: VersionInfo | None) -> bool:
        current = self._current
        if info is None:
            return current is not None
        return current is None or (current.info.id, current.info.published_at) != (
            info.id,
            info.published_at,
        )

    def refresh(self, *, force: bool = False) -> LoadedVersion | None:
        """Check the store now (or when due) and rebuild if a new version was published."""
        now = time.monotonic()
        if not force and now - self._checked < self.refresh_seconds:
            return self._current
        if not self._lock.acquire(blocking=force or self._current is None):
            return self._current  # someone else is rebuilding; serve what we have
        try:
            self._checked = time.monotonic()
            info = self.store.published_version()
            if self._stale(info):
                self._current = LoadedVersion.load(self.store, info) if info else None
            return self._current
        finally:
            self._lock.release()

    def current(self) -> LoadedVersion | None:
        return self.refresh()

    def at(self, when: datetime) -> LoadedVersion | None:
        info = self.store.version_at(when)
        if info is None:
            return None
        current = self.current()
        if current is not None and current.info.id == info.id:
            return current
        with self._lock:
            loaded = self._older.get(info.id)
            if loaded is None:
                loaded = LoadedVersion.load(self.store, info)
                self._older[info.id] = loaded
                while len(self._older) > self._cache_size:
                    self._older.popitem(last=False)
            self._older.move_to_end(info.id)
            return loaded
