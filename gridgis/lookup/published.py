"""The versions a server answers from: the published one kept fresh, older ones on demand."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import geopandas as gpd
import numpy as np
from numpy.typing import NDArray

from gridgis.errors import NotFoundError
from gridgis.jsonio import json_bytes
from gridgis.lookup.index import GridIndex
from gridgis.lru import LRU, frame_nbytes
from gridgis.store.base import GRID_PROPERTIES, Store, VersionInfo
from gridgis.watch import Watcher

#: What older versions may hold in memory when no shared cache is given.
VERSIONS_BYTES = 256 * 2**20

#: Columns a bulk answer (CSV) carries for each point, beside the caller's own, and the
#: grid property each comes from.
ANSWER_COLUMNS = {
    "grid_code": "code",
    "grid_name": "name",
    "community_code": "community_code",
    "community_name": "community_name",
    "subdistrict_name": "subdistrict_name",
    "officer_name": "officer_name",
    "officer_phone": "officer_phone",
}


def grid_answer(grid: dict[str, Any]) -> dict[str, Any]:
    """A grid as lookups answer it: the officer as one object a person can call."""
    body = {k: v for k, v in grid.items() if k not in ("officer_name", "officer_phone")}
    body["officer"] = (
        {"name": grid.get("officer_name"), "phone": grid.get("officer_phone")}
        if grid.get("officer_name") or grid.get("officer_phone")
        else None
    )
    return body


@dataclass(frozen=True)
class LoadedVersion:
    """A version ready to answer: its index, and each grid's answer prepared once.

    Everything is in the index's code order, so an index position picks the answer.
    """

    info: VersionInfo
    index: GridIndex
    grids: gpd.GeoDataFrame
    positions: dict[str, int] = field(repr=False)  # code → index position
    answers: list[dict[str, Any]] = field(repr=False)
    answer_bytes: list[bytes] = field(repr=False)
    columns: dict[str, NDArray[np.object_]] = field(repr=False)

    @classmethod
    def load(
        cls, store: Store, info: VersionInfo, previous: LoadedVersion | None = None
    ) -> LoadedVersion:
        """``info``'s grids ready to answer; the index of ``previous`` (the same version
        before an edit) when the shapes are all as they were."""
        grids = store.read_grids(info.name)
        index = GridIndex.keeping(
            previous.index if previous is not None else None,
            grids.geometry.to_numpy(),
            grids["code"].to_numpy(),
        )
        columns = list(GRID_PROPERTIES)
        records = grids[columns].astype(object).where(grids[columns].notna(), None)
        by_code = records.set_index(records["code"]).reindex(index.codes)
        answers = [grid_answer({**row, "version": info.name}) for row in by_code.to_dict("records")]
        encoded = [json_bytes(a) for a in answers]
        # One extra row at the end answers index -1 (no grid) with empty cells.
        column_arrays = {
            name: np.append(by_code[prop].fillna("").astype(str).to_numpy(dtype=object), "")
            for name, prop in ANSWER_COLUMNS.items()
        }
        positions = {code: i for i, code in enumerate(index.codes)}
        return cls(info, index, grids, positions, answers, encoded, column_arrays)

    @property
    def nbytes(self) -> int:
        """Memory held: the index, the grids (geometry by coordinates), the answers."""
        answers = sum(len(b) for b in self.answer_bytes)
        return self.index.nbytes + frame_nbytes(self.grids) + 3 * answers

    def with_info(self, info: VersionInfo) -> LoadedVersion:
        """The same content under fresher metadata (a status or period that changed)."""
        return self if info == self.info else replace(self, info=info)

    def answer(self, code: str) -> dict[str, Any] | None:
        """The grid with this code, as :func:`grid_answer` gives it."""
        position = self.positions.get(code)
        return None if position is None else self.answers[position]

    def grid_at(self, lon: float, lat: float) -> dict[str, Any] | None:
        """The grid holding a CGCS2000 lon/lat point, as :func:`grid_answer` gives it."""
        position = self.index.lookup_one(lon, lat)
        return None if position < 0 else self.answers[position]


class PublishedIndex:
    """Holds the published version's index and swaps in a new one after a publish.

    A watcher thread (:meth:`start`) checks the store every ``refresh_seconds`` and builds
    the new index beside the old one; requests keep answering from the old one until the
    new one replaces it in a single assignment, so there is no window without an index
    and no request ever waits for a rebuild. Other versions (time travel, by name) load
    on demand into ``cache``, the server's one LRU. Everything is keyed on the version's
    content key, so a draft replaced under the same name is loaded afresh.
    """

    def __init__(
        self, store: Store, refresh_seconds: float = 2.0, cache: LRU[Any] | None = None
    ) -> None:
        self.store = store
        self.refresh_seconds = refresh_seconds
        self._current: LoadedVersion | None = None
        self._loaded_once = False
        self._fresh_since = float("-inf")
        self._lock = threading.Lock()
        self._cache: LRU[Any] = cache if cache is not None else LRU(VERSIONS_BYTES)
        self._watcher = Watcher(self.refresh, refresh_seconds, "gridgis-grid-index")

    # --- the published version -----------------------------------------------------------
    def refresh(self) -> LoadedVersion | None:
        """Check the store now and rebuild if the published version's content changed."""
        with self._lock:
            return self._refresh()

    def refreshed_after(self, moment: float) -> LoadedVersion | None:
        """The published version as the store held it at ``moment`` (``time.monotonic``)
        or later: a refresh that began after a write committed holds that write, so one
        refresh serves every edit committed before it began, instead of each edit
        queueing for its own."""
        with self._lock:
            if self._fresh_since >= moment:
                return self._current
            return self._refresh()

    def _refresh(self) -> LoadedVersion | None:
        started = time.monotonic()  # before reading: what committed by now is read
        info = self.store.published_version()
        current = self._current
        if info is None:
            self._current = None
        elif current is None or current.info.content_key != info.content_key:
            self._current = LoadedVersion.load(self.store, info, previous=current)
        else:
            self._current = current.with_info(info)
        self._loaded_once = True
        self._fresh_since = started
        return self._current

    def current(self) -> LoadedVersion | None:
        """The published version as last seen; loads it on first use."""
        if not self._loaded_once:
            return self.refresh()
        return self._current

    def start(self) -> None:
        """Keep the published version fresh from a background thread."""
        self._watcher.start()

    def notify(self) -> None:
        """Check the store now, not at the next tick (after a publish in this process)."""
        self._watcher.notify()

    def stop(self) -> None:
        self._watcher.stop()

    # --- other versions --------------------------------------------------------------------
    def version(self, info: VersionInfo) -> LoadedVersion:
        """Any version, from memory or loaded now, with ``info`` as its metadata."""
        current = self.current()
        if current is not None and current.info.content_key == info.content_key:
            return current.with_info(info)
        loaded: LoadedVersion = self._cache.get_or_build(
            ("version", info.content_key), lambda: LoadedVersion.load(self.store, info)
        )
        return loaded.with_info(info)

    def named(self, name: str) -> LoadedVersion:
        return self.version(self.store.get_version(name))

    def at(self, when: datetime) -> LoadedVersion:
        """The version that was in force at ``when``."""
        info = self.store.version_at(when)
        if info is None:
            first = self.store.first_publication()
            hint = (
                f"the first version came into force on {first.astimezone(when.tzinfo).date()}"
                if first
                else "no version has been published yet"
            )
            raise NotFoundError(
                f"no version was in force at {when.isoformat()}: {hint}", code="no_version_then"
            )
        return self.version(info)

    def resolve(self, when: datetime | None = None, name: str | None = None) -> LoadedVersion:
        """The version to answer from: the one ``name``d, the one in force at ``when``,
        or the published one."""
        if name is not None:
            return self.named(name)
        if when is not None:
            return self.at(when)
        current = self.current()
        if current is None:
            raise NotFoundError(
                "no published version yet: publish one first", code="no_published_version"
            )
        return current
