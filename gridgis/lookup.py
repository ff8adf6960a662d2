"""Which grid contains a point: an index over one version, and the published one kept fresh.

Border rule: a point on the border shared by several grids belongs to the grid whose
code sorts first. The rule is total and deterministic, so every point inside the
layer gets exactly one grid.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray

from gridgis.store.base import GRID_PROPERTIES, Store, VersionInfo


class GridIndex:
    """Point-in-grid over polygons in lon/lat (EPSG:4490/4326)."""

    def __init__(self, geometries: ArrayLike, codes: ArrayLike) -> None:
        geoms = np.asarray(geometries, dtype=object)
        code_arr = np.asarray(codes, dtype=object)
        order = np.argsort(code_arr.astype(str), kind="stable")
        self.geometries: NDArray[np.object_] = geoms[order]
        self.codes: NDArray[np.object_] = code_arr[order]
        shapely.prepare(self.geometries)
        self._tree = shapely.STRtree(self.geometries)

    def __len__(self) -> int:
        return len(self.codes)

    def lookup_index(self, lon: ArrayLike, lat: ArrayLike) -> NDArray[np.int64]:
        """Position (in code order) of the grid holding each point; -1 outside every grid."""
        x = np.atleast_1d(np.asarray(lon, dtype=np.float64))
        y = np.atleast_1d(np.asarray(lat, dtype=np.float64))
        out = np.full(len(x), -1, dtype=np.int64)
        ok = np.isfinite(x) & np.isfinite(y)
        if not ok.any() or len(self.codes) == 0:
            return out
        points = shapely.points(x[ok], y[ok])
        p_idx, g_idx = self._tree.query(points, predicate="intersects")
        if len(p_idx):
            # Lowest grid position (= lowest code) per point wins on shared borders.
            order = np.lexsort((g_idx, p_idx))
            p_idx, g_idx = p_idx[order], g_idx[order]
            first = np.ones(len(p_idx), dtype=bool)
            first[1:] = p_idx[1:] != p_idx[:-1]
            found = np.full(int(ok.sum()), -1, dtype=np.int64)
            found[p_idx[first]] = g_idx[first]
            out[ok] = found
        return out

    def lookup(self, lon: ArrayLike, lat: ArrayLike) -> NDArray[np.object_]:
        """Codes of the grids holding each point (``None`` outside every grid)."""
        idx = self.lookup_index(lon, lat)
        out = np.full(len(idx), None, dtype=object)
        hit = idx >= 0
        out[hit] = self.codes[idx[hit]]
        return out


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
