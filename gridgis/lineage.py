"""What became of a grid code: which grids of another version cover its area, and how much.

A redraw (the 回头看 review) retires codes and draws new grids over their area, so links,
case records and department tables that name an old code need to know where it went.
:func:`code_mapping` answers that for two whole versions (old grid → new grids, with area
shares both ways), which is the old→new mapping the review's diff reports; :func:`successors`
answers it for one code against the version a server shows, for a stale embed link.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridgis.crs import to_metric
from gridgis.lookup.published import LoadedVersion
from gridgis.store.base import Store, VersionInfo

#: Overlaps below this share of both grids are slivers: a border redrawn a few metres off
#: moves 1–2% of a grid a few hundred metres across.
MIN_SHARE = 0.02
MAPPING_COLUMNS = ("old_code", "new_code", "area_m2", "old_share", "new_share")


def code_mapping(
    old: gpd.GeoDataFrame,
    new: gpd.GeoDataFrame,
    *,
    metric_epsg: int,
    min_share: float = MIN_SHARE,
) -> pd.DataFrame:
    """Every old grid paired with each new grid it overlaps (frames with ``code`` and
    lon/lat geometry). ``old_share`` is the part of the old grid's area that lies in the
    new grid, ``new_share`` the part of the new grid that came from the old one. Sorted by
    old code, then largest share first.

    >>> import shapely, geopandas as gpd
    >>> box = lambda x0, x1: shapely.box(104.0 + x0, 31.0, 104.0 + x1, 31.01)
    >>> old = gpd.GeoDataFrame({"code": ["A"]}, geometry=[box(0, 0.01)], crs=4490)
    >>> new = gpd.GeoDataFrame({"code": ["B", "C"]}, geometry=[box(0, 0.004), box(0.004, 0.02)])
    >>> code_mapping(old, new, metric_epsg=4544)[["new_code", "old_share"]].values.tolist()
    [['C', 0.6], ['B', 0.4]]
    """
    old_geoms, new_geoms = old.geometry.to_numpy(), new.geometry.to_numpy()
    o, n = shapely.STRtree(new_geoms).query(old_geoms, predicate="intersects")
    if not len(o):
        return pd.DataFrame({c: [] for c in MAPPING_COLUMNS})
    # Only the grids that take part are projected: one old grid meets a handful of new ones.
    old_used, o_at = np.unique(o, return_inverse=True)
    new_used, n_at = np.unique(n, return_inverse=True)
    old_m = to_metric(old_geoms[old_used], metric_epsg)
    new_m = to_metric(new_geoms[new_used], metric_epsg)
    area = shapely.area(shapely.intersection(old_m[o_at], new_m[n_at]))
    with np.errstate(divide="ignore", invalid="ignore"):
        old_share = np.nan_to_num(area / shapely.area(old_m)[o_at])
        new_share = np.nan_to_num(area / shapely.area(new_m)[n_at])
    frame = pd.DataFrame(
        {
            "old_code": old["code"].to_numpy()[o].astype(str),
            "new_code": new["code"].to_numpy()[n].astype(str),
            "area_m2": area.round(1),
            "old_share": old_share.round(4),
            "new_share": new_share.round(4),
        }
    )
    frame = frame[(frame["old_share"] >= min_share) | (frame["new_share"] >= min_share)]
    frame = frame.sort_values(["old_code", "old_share", "new_code"], ascending=[True, False, True])
    return frame.reset_index(drop=True)


@dataclass(frozen=True)
class Successor:
    """A grid that now covers part of a retired grid's area (``share`` of that area)."""

    code: str
    name: str | None
    community_name: str | None
    share: float


@dataclass(frozen=True)
class Succession:
    """A code the shown version lacks: the last version that had it, its name there, and
    the grids of the shown version over its area (largest share first). ``uncovered`` is
    the share of its area that no grid of the shown version covers."""

    code: str
    version: str
    name: str | None
    successors: tuple[Successor, ...]
    uncovered: float


def last_version_with(store: Store, code: str, other_than: str) -> VersionInfo | None:
    """The most recent version besides ``other_than`` holding ``code``: versions that were
    in force first (a shared link came from one of them), then drafts, newest first."""
    held = [v for v in store.versions_with_grid(code) if v.name != other_than]
    if not held:
        return None
    return max(held, key=lambda v: (v.status != "draft", v.valid_from or v.created_at, v.id))


def successors(
    store: Store, code: str, loaded: LoadedVersion, *, metric_epsg: int
) -> Succession | None:
    """What became of ``code`` in ``loaded``, or ``None`` when no other version had it."""
    version = last_version_with(store, code, loaded.info.name)
    if version is None:
        return None
    grids = store.read_grids(version.name)
    old = grids[grids["code"] == code]
    mapping = code_mapping(old, loaded.grids, metric_epsg=metric_epsg)
    found = []
    pairs = zip(mapping["new_code"].tolist(), mapping["old_share"].tolist(), strict=True)
    for new_code, share in pairs:
        answer = loaded.answer(new_code) or {}
        found.append(Successor(new_code, answer.get("name"), answer.get("community_name"), share))
    names = [n for n in old["name"].tolist() if isinstance(n, str) and n]
    covered = float(mapping["old_share"].sum()) if len(mapping) else 0.0
    return Succession(
        code,
        version.name,
        names[0] if names else None,
        tuple(found),
        round(max(0.0, 1.0 - covered), 4),
    )
