"""Merge department layers into a draft version of comprehensive grids (多网合一).

``run_merge`` reads everything it needs from the store, computes in the city's metric
CRS, and saves one draft version; it never publishes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridgis import crs
from gridgis.errors import InputError
from gridgis.importer.fields import DEDICATED
from gridgis.merge.codes import CodeScheme, assign_codes
from gridgis.merge.crosswalk import crosswalk
from gridgis.merge.measures import area_m2, building_owner, compactness, sum_by_owner
from gridgis.merge.simple import partition_community
from gridgis.settings import Settings
from gridgis.store.base import Store, VersionInfo

Progress = Callable[[str, int, int], None]
OFFICER_FIELDS = ("网格员", "网格长", "责任人", "officer", "officer_name")
PHONE_FIELDS = ("联系电话", "电话", "手机", "手机号", "phone", "officer_phone")
PREFERRED_BASE = ("综治",)
DEDICATED_SHARE = 0.5  # a grid mostly covered by a school, hospital … is a dedicated grid


@dataclass(frozen=True)
class MergeInputs:
    """Everything a merge reads, in EPSG:4490 as the store gives it."""

    communities: gpd.GeoDataFrame
    departments: dict[str, gpd.GeoDataFrame]
    buildings: gpd.GeoDataFrame
    compounds: gpd.GeoDataFrame

    @classmethod
    def from_store(cls, store: Store) -> MergeInputs:
        return cls(
            communities=store.read_base_layer("communities"),
            departments={
                layer.name: store.read_department_layer(layer.name)
                for layer in store.list_layers()
                if layer.kind == "department"
            },
            buildings=store.read_base_layer("buildings"),
            compounds=store.read_base_layer("compounds"),
        )


@dataclass
class MergeResult:
    grids: gpd.GeoDataFrame  # EPSG:4490
    crosswalk: pd.DataFrame
    report: dict[str, Any]
    params: dict[str, Any] = field(default_factory=dict)


def _pick(attributes: dict[str, Any], names: tuple[str, ...]) -> str | None:
    lowered = {str(k).lower(): v for k, v in attributes.items()}
    for name in names:
        value = lowered.get(name.lower())
        if value not in (None, ""):
            return str(value)
    return None


def choose_base_department(layers: dict[str, gpd.GeoDataFrame], wanted: str | None) -> str:
    if wanted:
        if wanted not in layers:
            raise InputError(
                f"no department layer {wanted!r}; imported: {', '.join(sorted(layers))}"
            )
        return wanted
    for name in PREFERRED_BASE:
        if name in layers:
            return name
    return max(sorted(layers), key=lambda n: len(layers[n]))


def compute_merge(
    inputs: MergeInputs,
    *,
    settings: Settings,
    base_department: str | None = None,
    scheme: CodeScheme | None = None,
    progress: Progress | None = None,
) -> MergeResult:
    started = time.perf_counter()
    tick = progress or (lambda _s, _i, _n: None)
    scheme = scheme or CodeScheme()
    communities, departments = inputs.communities, inputs.departments
    buildings, compounds = inputs.buildings, inputs.compounds
    if communities.empty:
        raise InputError("no communities in the store: import communities first")
    if not departments:
        raise InputError("no department layers in the store: import at least one")
    base = choose_base_department(departments, base_department)
    epsg = settings.metric_epsg

    comm_m = crs.to_metric(communities.geometry.to_numpy(), epsg)
    base_m = crs.to_metric(departments[base].geometry.to_numpy(), epsg)
    pieces_geom: list[shapely.Geometry] = []
    pieces_comm: list[str] = []
    pieces_src: list[int] = []
    codes = communities["code"].to_numpy()
    for i, (code, geom) in enumerate(zip(codes, comm_m, strict=True)):
        tick("partitioning communities", i, len(codes))
        for piece in partition_community(geom, base_m):
            pieces_geom.append(piece.geometry)
            pieces_comm.append(str(code))
            pieces_src.append(piece.source)
    tick("partitioning communities", len(codes), len(codes))
    grid_m = shapely.coverage_clean(np.array(pieces_geom, dtype=object), snapping_distance=0.01)
    grid_m = np.array(shapely.make_valid(grid_m), dtype=object)
    comm_arr = np.array(pieces_comm, dtype=object)
    src = np.array(pieces_src, dtype=np.int64)

    tick("measuring", 0, 1)
    b_points = shapely.point_on_surface(crs.to_metric(buildings.geometry.to_numpy(), epsg))
    b_households = (
        buildings["households"].to_numpy(dtype=np.int64)
        if len(buildings)
        else (np.zeros(0, dtype=np.int64))
    )
    b_population = (
        buildings["population"].fillna(0).to_numpy(dtype=np.int64)
        if len(buildings)
        else np.zeros(0, dtype=np.int64)
    )
    owner = building_owner(grid_m, b_points)
    households = sum_by_owner(owner, b_households, len(grid_m))
    population = sum_by_owner(owner, b_population, len(grid_m))
    areas = area_m2(grid_m)
    pp = compactness(grid_m)
    grid_codes = np.array(assign_codes(comm_arr, grid_m, scheme), dtype=object)

    kind = np.full(len(grid_m), "综合", dtype=object)
    if len(compounds):
        dedicated = compounds[compounds["kind"].isin(DEDICATED)]
        if len(dedicated):
            ded_m = crs.to_metric(dedicated.geometry.to_numpy(), epsg)
            tree = shapely.STRtree(ded_m)
            g_idx, d_idx = tree.query(grid_m, predicate="intersects")
            shared = shapely.area(shapely.intersection(grid_m[g_idx], ded_m[d_idx]))
            covered = np.bincount(g_idx, weights=shared, minlength=len(grid_m))
            kind[covered >= DEDICATED_SHARE * areas] = "专属"

    base_attrs = departments[base]["attributes"].tolist()
    officer = [(_pick(base_attrs[s], OFFICER_FIELDS) if s >= 0 else None) for s in src]
    phone = [(_pick(base_attrs[s], PHONE_FIELDS) if s >= 0 else None) for s in src]
    names_by_code = dict(zip(communities["code"], communities["name"], strict=True))
    seq = [int(c[-scheme.sequence_digits :]) for c in grid_codes]
    grid_names = [f"{names_by_code[c]}第{n}网格" for c, n in zip(comm_arr, seq, strict=True)]

    tick("crosswalk", 0, len(departments))
    walks = []
    for n, (_name, layer) in enumerate(sorted(departments.items())):
        tick("crosswalk", n, len(departments))
        walks.append(
            crosswalk(
                layer["id"].to_numpy(dtype=np.int64),
                crs.to_metric(layer.geometry.to_numpy(), epsg),
                grid_codes,
                grid_m,
                b_points,
                b_households,
            )
        )
    walk = pd.concat(walks, ignore_index=True) if walks else pd.DataFrame()

    grids = gpd.GeoDataFrame(
        {
            "code": grid_codes,
            "name": grid_names,
            "kind": kind,
            "community_code": comm_arr,
            "households": households,
            "population": population,
            "area_m2": np.round(areas, 1),
            "compactness": np.round(pp, 4),
            "officer_name": officer,
            "officer_phone": phone,
            "party_branch": [f"{n}党支部" for n in grid_names],
        },
        geometry=gpd.GeoSeries(crs.from_metric(grid_m, epsg), crs=crs.CGCS2000),
    ).sort_values("code", ignore_index=True)
    report = merge_report(
        grids,
        comm_arr,
        grid_m,
        codes,
        comm_m,
        settings,
        base,
        unassigned_buildings=int((owner < 0).sum()),
    )
    report["seconds"] = round(time.perf_counter() - started, 2)
    params = {
        "engine": "simple",
        "base_department": base,
        "min_households": settings.min_households,
        "max_households": settings.max_households,
        "code_digits": len(grid_codes[0]) if len(grid_codes) else None,
        "departments": sorted(departments),
    }
    return MergeResult(grids, walk, report, params)


def merge_report(
    grids: gpd.GeoDataFrame,
    comm_arr: np.ndarray,
    grid_m: np.ndarray,
    community_codes: np.ndarray,
    community_m: np.ndarray,
    settings: Settings,
    base: str,
    unassigned_buildings: int,
) -> dict[str, Any]:
    hh = grids["households"].to_numpy()
    comprehensive = grids["kind"].to_numpy() == "综合"
    lo, hi = settings.min_households, settings.max_households
    coverage: dict[str, bool] = {}
    for code, geom in zip(community_codes, community_m, strict=True):
        mine = grid_m[comm_arr == code]
        exact = abs(float(shapely.area(mine).sum()) - geom.area) <= max(1.0, 1e-6 * geom.area)
        coverage[str(code)] = bool(shapely.coverage_is_valid(mine)) and exact
    pp = grids["compactness"].to_numpy()
    return {
        "grids": len(grids),
        "base_department": base,
        "households": int(hh.sum()),
        "band": [lo, hi],
        "in_band": int(((hh >= lo) & (hh <= hi) & comprehensive).sum()),
        "under": int(((hh < lo) & comprehensive).sum()),
        "over": int(((hh > hi) & comprehensive).sum()),
        "dedicated": int((~comprehensive).sum()),
        "compactness": {
            "min": round(float(pp.min()), 3) if len(pp) else None,
            "median": round(float(np.median(pp)), 3) if len(pp) else None,
        },
        "coverage_valid": all(coverage.values()),
        "coverage_by_community": coverage,
        "multipart_grids": int((shapely.get_num_geometries(grid_m) > 1).sum()),
        "buildings_outside_communities": unassigned_buildings,
    }


def run_merge(
    store: Store,
    version: str,
    *,
    settings: Settings,
    base_department: str | None = None,
    note: str | None = None,
    replace: bool = False,
    progress: Progress | None = None,
) -> tuple[VersionInfo, MergeResult]:
    result = compute_merge(
        MergeInputs.from_store(store),
        settings=settings,
        base_department=base_department,
        progress=progress,
    )
    info = store.save_version(
        version,
        result.grids,
        result.crosswalk,
        params=result.params,
        report=result.report,
        actor=settings.actor,
        note=note,
        replace=replace,
    )
    return info, result
