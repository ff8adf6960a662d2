"""The standard address base as a server holds it: a matcher, rebuilt after a re-import."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from gridgis.address.matcher import AddressError, AddressMatch, AddressMatcher
from gridgis.errors import InputError, NotFoundError
from gridgis.lookup.bulk import PointAnswers, with_grid_columns
from gridgis.lookup.published import LoadedVersion
from gridgis.store.base import Store
from gridgis.watch import Watcher


class AddressBook:
    """Holds the matcher for the current address layer; swaps in a new one when the
    layer is re-imported (checked every ``refresh_seconds`` by :meth:`start`'s thread)."""

    def __init__(self, store: Store, refresh_seconds: float = 2.0) -> None:
        self.store = store
        self._matcher: AddressMatcher | None = None
        # The matcher with the content key of the layer it was built from, swapped as one.
        self._current: tuple[AddressMatcher, str] | None = None
        self._import_id: int | None = None
        self._loaded_once = False
        self._lock = threading.Lock()
        self._watcher = Watcher(self.refresh, refresh_seconds, "gridgis-address-index")

    def refresh(self) -> AddressMatcher | None:
        with self._lock:
            layer = next((x for x in self.store.list_layers() if x.kind == "addresses"), None)
            if layer is None:
                self._matcher, self._import_id, self._current = None, None, None
            elif layer.import_id != self._import_id:
                frame = self.store.read_base_layer("addresses")
                self._matcher = AddressMatcher.from_frame(frame)
                self._current = (self._matcher, layer.content_key)
                self._import_id = layer.import_id
            self._loaded_once = True
            return self._matcher

    def matcher(self) -> AddressMatcher:
        matcher = self._matcher if self._loaded_once else self.refresh()
        if matcher is None:
            raise NotFoundError(
                "no standard address base yet: import an addresses layer first",
                code="no_address_base",
            )
        return matcher

    def current(self) -> tuple[AddressMatcher, str] | None:
        """The matcher and its layer's content key (for caches built from it), or ``None``
        without an address base: for routes that work without one."""
        if not self._loaded_once:
            self.refresh()
        return self._current

    def start(self) -> None:
        self._watcher.start()

    def stop(self) -> None:
        self._watcher.stop()


def address_answer(result: AddressMatch, loaded: LoadedVersion) -> dict[str, Any]:
    """The match with the grid that holds the matched point (``null`` without a match)."""
    body = result.to_dict()
    grid = None
    if result.match is not None:
        grid = loaded.grid_at(result.match.lon, result.match.lat)
    body["grid"] = grid
    return body


def bulk_address_answer(
    results: Sequence[AddressMatch | AddressError], loaded: LoadedVersion
) -> dict[str, Any]:
    """Per address: the match and its grid's code, or an error; each grid found described
    once under ``grids``. Grids are found for all matches in one vectorised lookup."""
    lon = np.full(len(results), np.nan)
    lat = np.full(len(results), np.nan)
    for i, r in enumerate(results):
        if isinstance(r, AddressMatch) and r.match is not None:
            lon[i], lat[i] = r.match.lon, r.match.lat
    positions = loaded.index.lookup_index(lon, lat)
    codes = np.append(loaded.index.codes, [None])[positions].tolist()
    rows: list[dict[str, Any]] = []
    for r, code in zip(results, codes, strict=True):
        if isinstance(r, AddressError):
            rows.append({"query": r.query, "grid_code": None, "error": r.error})
            continue
        rows.append(
            {
                "query": r.query,
                "normalized": r.normalized,
                "match": None if r.match is None else r.match.to_dict(),
                "grid_code": code,
            }
        )
    hit = np.unique(positions[positions >= 0])
    return {
        "version": loaded.info.name,
        "count": len(rows),
        "matched": sum(1 for r in results if isinstance(r, AddressMatch) and r.match),
        "errors": sum(1 for r in results if isinstance(r, AddressError)),
        "results": rows,
        "grids": {loaded.index.codes[i]: loaded.answers[i] for i in hit.tolist()},
    }


#: Header names read as the address column of a CSV, first match wins.
ADDRESS_HEADERS = ("address", "addr", "地址", "详细地址", "标准地址")


def address_column(columns: Sequence[str], source: str = "CSV") -> str:
    by_lower = {str(c).strip().lower(): str(c) for c in columns}
    for name in ADDRESS_HEADERS:
        if name in by_lower:
            return by_lower[name]
    raise InputError(
        f"no address column in the header {list(columns)}: name it address (or 地址)",
        source=source,
    )


def address_table(
    frame: pd.DataFrame, column: str, matcher: AddressMatcher, loaded: LoadedVersion
) -> pd.DataFrame:
    """The caller's rows with the match (address, point, score, flags) and grid appended."""
    results = matcher.match_many(frame[column].tolist(), limit=1)
    matched: dict[str, list[Any]] = {k: [] for k in ("address", "lon", "lat", "score", "flags")}
    problems = np.full(len(results), None, dtype=object)
    lon = np.full(len(results), np.nan)
    lat = np.full(len(results), np.nan)
    for i, r in enumerate(results):
        best = r.match if isinstance(r, AddressMatch) else None
        if isinstance(r, AddressError):
            problems[i] = r.error
        elif best is None:
            problems[i] = "no address in the base is close enough"
        else:
            lon[i], lat[i] = best.lon, best.lat
        matched["address"].append(best.address if best else "")
        matched["lon"].append(f"{best.lon:.7f}" if best else "")
        matched["lat"].append(f"{best.lat:.7f}" if best else "")
        matched["score"].append(f"{best.score:.3f}" if best else "")
        matched["flags"].append(" ".join(best.flags) if best else "")
    out = frame.copy()
    for key, values in matched.items():
        out[f"match_{key}"] = values
    answers = PointAnswers(loaded, loaded.index.lookup_index(lon, lat), problems)
    return with_grid_columns(out, answers)
