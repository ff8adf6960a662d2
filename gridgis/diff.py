"""What changed between two versions, said so that those who hold the old one can follow:
grids added, removed, reshaped, renamed, updated and unchanged; where each retired or
reshaped code's area and households went (the old → new mapping); every building and
standard address whose grid changed; and a JSON-lines patch in the style of Kart's diffs
(``--`` a grid removed, ``++`` added, ``-``/``+`` before and after) that, applied to the
first version, gives the second exactly.
"""

from __future__ import annotations

import binascii
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from gridgis import crs, measures
from gridgis.crs import CGCS2000
from gridgis.errors import InputError
from gridgis.jsonio import json_dumps, json_loads
from gridgis.lineage import MAPPING_COLUMNS as AREA_COLUMNS
from gridgis.lineage import code_mapping
from gridgis.settings import Settings
from gridgis.store.base import GRID_COLUMNS, Store

#: The attributes a version's grids carry (besides geometry), as a diff compares them.
ATTRIBUTES = GRID_COLUMNS
UPDATED = ("kind", "community_code", "officer_name", "officer_phone", "party_branch")
RESHAPED_M2 = 1.0  # a border moved by less than this, in all, is the same shape
FORMAT = "gridgis.diff/v1"
#: The old → new mapping's columns: the area shares, then the households that moved.
MAPPING_COLUMNS = [*AREA_COLUMNS, "households", "household_share"]


@dataclass
class VersionDiff:
    """``a`` → ``b``. Codes repeated inside a version are keyed ``code#n``."""

    a: str
    b: str
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    reshaped: list[str] = field(default_factory=list)
    renamed: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    mapping: pd.DataFrame = field(default_factory=pd.DataFrame)
    buildings: pd.DataFrame = field(default_factory=pd.DataFrame)
    addresses: pd.DataFrame = field(default_factory=pd.DataFrame)
    households_moved: int = 0
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "from": self.a,
            "to": self.b,
            "added": len(self.added),
            "removed": len(self.removed),
            "reshaped": len(self.reshaped),
            "renamed": len(self.renamed),
            "updated": len(self.updated),
            "unchanged": len(self.unchanged),
            "households_moved": self.households_moved,
            "buildings_moved": len(self.buildings),
            "addresses_moved": len(self.addresses),
            "seconds": round(self.seconds, 2),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary(),
            "grids": {
                k: getattr(self, k)
                for k in ("added", "removed", "reshaped", "renamed", "updated", "unchanged")
            },
            "mapping": _records(self.mapping),
            "buildings": _records(self.buildings),
            "addresses": _records(self.addresses),
        }


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    cleaned = frame.astype(object).where(frame.notna(), None)
    return [{str(k): v for k, v in r.items()} for r in cleaned.to_dict("records")]


def keyed(frame: gpd.GeoDataFrame) -> pd.Index:
    """Each grid's key: its code, or ``code#n`` for the n-th (from 2) of a repeated code."""
    codes = frame["code"].astype(str)
    n = codes.groupby(codes).cumcount()
    return pd.Index(np.where(n == 0, codes, codes + "#" + (n + 1).astype(str)))


def _owners(
    points: NDArray[np.object_], grids: NDArray[np.object_], keys: pd.Index
) -> NDArray[np.object_]:
    owner = measures.building_owner(grids, points)
    out = np.full(len(points), None, dtype=object)
    out[owner >= 0] = keys.to_numpy()[owner[owner >= 0]]
    return out


def diff_frames(
    a: gpd.GeoDataFrame,
    b: gpd.GeoDataFrame,
    *,
    a_name: str,
    b_name: str,
    buildings: gpd.GeoDataFrame,
    addresses: gpd.GeoDataFrame,
    metric_epsg: int,
) -> VersionDiff:
    """The diff of two grid frames (EPSG:4490) against today's buildings and addresses."""
    started = time.perf_counter()
    a = a.set_axis(keyed(a))
    b = b.set_axis(keyed(b))
    out = VersionDiff(a_name, b_name)
    both = a.index.intersection(b.index, sort=False)
    out.removed = sorted(a.index.difference(b.index))
    out.added = sorted(b.index.difference(a.index))
    a_m = crs.to_metric(a.geometry.to_numpy(), metric_epsg)
    b_m = crs.to_metric(b.geometry.to_numpy(), metric_epsg)
    ia, ib = a.index.get_indexer(both), b.index.get_indexer(both)
    # Most grids come through a redraw untouched: the same bytes need no overlay.
    same = shapely.to_wkb(a.geometry.to_numpy()[ia]) == shapely.to_wkb(b.geometry.to_numpy()[ib])
    moved = np.zeros(len(both), dtype=bool)
    differ = np.flatnonzero(~same)
    moved[differ] = (
        shapely.area(shapely.symmetric_difference(a_m[ia[differ]], b_m[ib[differ]])) > RESHAPED_M2
    )
    names_differ = a["name"].to_numpy()[ia] != b["name"].to_numpy()[ib]
    others = np.zeros(len(both), dtype=bool)
    for column in UPDATED:
        left = a[column].astype(object).where(a[column].notna(), None).to_numpy()[ia]
        right = b[column].astype(object).where(b[column].notna(), None).to_numpy()[ib]
        others |= left != right
    keys = both.to_numpy()
    out.reshaped = sorted(keys[moved])
    out.renamed = sorted(keys[~moved & names_differ])
    out.updated = sorted(keys[~moved & ~names_differ & others])
    out.unchanged = sorted(keys[~moved & ~names_differ & ~others])

    # Which grid holds a point needs no projection: owners are found in lon/lat.
    a_ll, b_ll = a.geometry.to_numpy(), b.geometry.to_numpy()
    b_points = shapely.point_on_surface(buildings.geometry.to_numpy())
    hh = buildings["households"].fillna(0).to_numpy(dtype=np.int64)
    old_of, new_of = _owners(b_points, a_ll, a.index), _owners(b_points, b_ll, b.index)
    changed = old_of != new_of
    out.buildings = pd.DataFrame(
        {
            "building_id": buildings["id"].to_numpy()[changed],
            "name": buildings["name"].to_numpy()[changed],
            "households": hh[changed],
            "old_grid": old_of[changed],
            "new_grid": new_of[changed],
        }
    )
    out.households_moved = int(hh[changed].sum())
    a_points = addresses.geometry.to_numpy()
    old_addr, new_addr = _owners(a_points, a_ll, a.index), _owners(a_points, b_ll, b.index)
    moved_addr = old_addr != new_addr
    out.addresses = pd.DataFrame(
        {
            "address_id": addresses["id"].to_numpy()[moved_addr],
            "address": addresses["address"].to_numpy()[moved_addr],
            "old_grid": old_addr[moved_addr],
            "new_grid": new_addr[moved_addr],
        }
    )
    out.mapping = _mapping(a, b, out, old_of, new_of, hh, metric_epsg)
    out.seconds = time.perf_counter() - started
    return out


def _mapping(
    a: gpd.GeoDataFrame,
    b: gpd.GeoDataFrame,
    diff: VersionDiff,
    old_of: NDArray[np.object_],
    new_of: NDArray[np.object_],
    households: NDArray[np.int64],
    metric_epsg: int,
) -> pd.DataFrame:
    """Where each removed or reshaped grid went: area shares (:func:`code_mapping`) and
    the share of its households each new grid took."""
    old = a.loc[diff.removed + diff.reshaped]
    if not len(old):
        return pd.DataFrame(columns=MAPPING_COLUMNS)
    frame = code_mapping(
        gpd.GeoDataFrame({"code": old.index}, geometry=old.geometry.to_numpy(), crs=CGCS2000),
        gpd.GeoDataFrame({"code": b.index}, geometry=b.geometry.to_numpy(), crs=CGCS2000),
        metric_epsg=metric_epsg,
    )
    held = pd.DataFrame({"old_code": old_of, "new_code": new_of, "households": households})
    pairs: pd.DataFrame = (
        held.dropna()
        .groupby(["old_code", "new_code"], as_index=False)
        .agg(households=("households", "sum"))
    )
    frame = frame.merge(pairs, on=["old_code", "new_code"], how="outer")
    frame = frame.loc[frame["old_code"].isin(old.index)]
    frame["households"] = frame["households"].fillna(0).astype(np.int64)
    total = frame.groupby("old_code")["households"].transform("sum")
    frame["household_share"] = np.where(total > 0, frame["households"] / total.clip(lower=1), 0.0)
    frame["household_share"] = frame["household_share"].round(4)
    frame = frame.sort_values(["old_code", "old_share", "new_code"], ascending=[True, False, True])
    return frame.reset_index(drop=True)[MAPPING_COLUMNS]


def diff_versions(store: Store, a: str, b: str, settings: Settings) -> VersionDiff:
    return diff_frames(
        store.read_grids(a),
        store.read_grids(b),
        a_name=a,
        b_name=b,
        buildings=store.read_base_layer("buildings", ["id", "name", "households"]),
        addresses=store.read_base_layer("addresses", ["id", "address"]),
        metric_epsg=settings.metric_epsg,
    )


# --- the patch ---------------------------------------------------------------------------------
def _feature(row: pd.Series, geometry: shapely.Geometry) -> dict[str, Any]:
    props = {c: (None if pd.isna(row[c]) else row[c]) for c in ATTRIBUTES if c in row.index}
    props = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in props.items()}
    return {**props, "geometry": binascii.hexlify(shapely.to_wkb(geometry)).decode()}


def patch_lines(
    a: gpd.GeoDataFrame, b: gpd.GeoDataFrame, a_name: str, b_name: str
) -> Iterator[str]:
    """The JSON lines that turn ``a`` into ``b``: a header, then one line per grid that
    differs, keyed as :func:`keyed` does, geometry as hex WKB (exact)."""
    a = a.set_axis(keyed(a))
    b = b.set_axis(keyed(b))
    yield json_dumps(
        {
            "type": "version",
            "version": FORMAT,
            "outputFormat": "JSONL+hexwkb",
            "from": a_name,
            "to": b_name,
        }
    )
    ga, gb = a.geometry, b.geometry
    for key in sorted(a.index.union(b.index)):
        if key not in b.index:
            change: dict[str, Any] = {"--": _feature(a.loc[key], ga.loc[key])}
        elif key not in a.index:
            change = {"++": _feature(b.loc[key], gb.loc[key])}
        else:
            old, new = _feature(a.loc[key], ga.loc[key]), _feature(b.loc[key], gb.loc[key])
            if old == new:
                continue
            change = {"-": old, "+": new}
        yield json_dumps({"type": "feature", "key": key, "change": change})


def apply_patch(a: gpd.GeoDataFrame, lines: Iterable[str]) -> gpd.GeoDataFrame:
    """``a`` with the patch applied: the grids of the version the patch was made to, in
    key order. A line that does not fit ``a`` (a grid to remove that is not there, or
    whose 'before' differs) is refused, naming its line."""
    rows = {k: _feature(r, r.geometry) for k, r in a.set_axis(keyed(a)).iterrows()}
    for n, line in enumerate(lines, start=1):
        item = json_loads(line)
        if item.get("type") == "version":
            if item.get("version") != FORMAT:
                raise InputError(f"line {n}: not a {FORMAT} patch")
            continue
        key, change = item["key"], item["change"]
        if "++" in change:
            if key in rows:
                raise InputError(f"line {n}: grid {key} is already there")
            rows[key] = change["++"]
            continue
        before = change.get("--", change.get("-"))
        if rows.get(key) != before:
            raise InputError(f"line {n}: grid {key} is not as the patch expects")
        if "--" in change:
            del rows[key]
        else:
            rows[key] = change["+"]
    ordered = [rows[k] for k in sorted(rows)]
    geoms = [shapely.from_wkb(binascii.unhexlify(r["geometry"])) for r in ordered]
    frame = pd.DataFrame([{k: v for k, v in r.items() if k != "geometry"} for r in ordered])
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=CGCS2000))
