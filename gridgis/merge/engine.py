"""The merge engine: communities → atoms → balanced grids → codes, crosswalk, report.

Everything is computed in the city's metric CRS, one community at a time (grids never
cross a community border), and is deterministic: the same inputs give the same grids
and codes.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from gridgis import crs
from gridgis.errors import InputError
from gridgis.importer.fields import DEDICATED
from gridgis.merge.codes import CodeScheme, stable_codes
from gridgis.merge.crosswalk import Crosswalk
from gridgis.merge.measures import area_m2, compactness
from gridgis.merge.partition import Graph, partition
from gridgis.merge.report import InputProblems, merge_report
from gridgis.merge.units import Atoms, Buildings, Compounds, community_atoms
from gridgis.settings import Settings

Progress = Callable[[str, int, int], None]
OFFICER_FIELDS = ("网格员", "网格长", "责任人", "officer", "officer_name")
PHONE_FIELDS = ("联系电话", "电话", "手机", "手机号", "phone", "officer_phone")
OFFICER_DEPARTMENTS = ("综治",)  # whose grid officers the new grids inherit first
OVERLAP_M2 = 1.0


@dataclass(frozen=True)
class MergeInputs:
    """Everything a merge reads, in EPSG:4490 as the store gives it."""

    communities: gpd.GeoDataFrame
    departments: dict[str, gpd.GeoDataFrame]
    buildings: gpd.GeoDataFrame
    compounds: gpd.GeoDataFrame
    streets: gpd.GeoDataFrame
    previous: gpd.GeoDataFrame | None = None  # grids of the version codes should follow
    previous_name: str | None = None


@dataclass
class MergeResult:
    grids: gpd.GeoDataFrame  # EPSG:4490
    crosswalk: pd.DataFrame
    report: dict[str, Any]
    params: dict[str, Any]


def _metric(frame: gpd.GeoDataFrame, epsg: int) -> NDArray[np.object_]:
    if len(frame) == 0:
        return np.array([], dtype=object)
    return crs.to_metric(frame.geometry.to_numpy(), epsg)


def _pick(attributes: dict[str, Any], names: tuple[str, ...]) -> str | None:
    lowered = {str(k).lower(): v for k, v in attributes.items()}
    for name in names:
        value = lowered.get(name.lower())
        if value not in (None, ""):
            return str(value)
    return None


def _separate_communities(
    codes: NDArray[np.object_], geoms: NDArray[np.object_]
) -> tuple[NDArray[np.object_], list[dict[str, Any]]]:
    """Overlapping communities: the lower code keeps the overlap; report where."""
    tree = shapely.STRtree(geoms)
    a, b = tree.query(geoms, predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    overlap = shapely.area(shapely.intersection(geoms[a], geoms[b]))
    problems = []
    out = geoms.copy()
    for i, j, area in zip(a, b, overlap, strict=True):
        if area > OVERLAP_M2:
            first, second = sorted((int(i), int(j)), key=lambda k: str(codes[k]))
            out[second] = shapely.difference(out[second], geoms[first])
            point = shapely.point_on_surface(shapely.intersection(geoms[i], geoms[j]))
            problems.append(
                {
                    "communities": [str(codes[first]), str(codes[second])],
                    "area_m2": round(float(area), 1),
                    "given_to": str(codes[first]),
                    "at": point,
                }
            )
    return out, problems


def _in_threads(
    work: Callable[[Any], Any], items: list[Any], tick: Progress, stage: str
) -> list[Any]:
    """``work`` over ``items`` on every core: shapely releases the GIL in GEOS calls."""
    out: list[Any] = [None] * len(items)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        futures = {pool.submit(work, item): i for i, item in enumerate(items)}
        for done, future in enumerate(as_completed(futures), start=1):
            out[futures[future]] = future.result()
            tick(stage, done, len(items))
    return out


def _department_labels(
    points: NDArray[np.object_], layers: list[NDArray[np.object_]]
) -> NDArray[np.int64]:
    """For each point and department, the department grid holding it (lowest index)."""
    labels = np.full((len(points), max(len(layers), 1)), -1, dtype=np.int64)
    tree = shapely.STRtree(points)
    for d, polys in enumerate(layers):
        if len(polys) == 0:
            continue
        g, p = tree.query(polys, predicate="contains")  # the polygons get prepared
        order = np.lexsort((g, p))
        p, g = p[order], g[order]
        first = np.ones(len(p), dtype=bool)
        first[1:] = p[1:] != p[:-1]
        labels[p[first], d] = g[first]
    return labels


def compute_merge(
    inputs: MergeInputs,
    *,
    settings: Settings,
    scheme: CodeScheme | None = None,
    progress: Progress | None = None,
) -> MergeResult:
    started = time.perf_counter()
    tick = progress or (lambda _s, _i, _n: None)
    scheme = scheme or CodeScheme()
    low, high = settings.min_households, settings.max_households
    if high < low:
        raise InputError(f"the household band {low}–{high} is empty")
    if inputs.communities.empty:
        raise InputError("no communities in the store: import communities first")
    epsg = settings.metric_epsg

    codes = inputs.communities["code"].to_numpy(dtype=object)
    comm_m, overlaps = _separate_communities(codes, _metric(inputs.communities, epsg))
    problems = InputProblems(overlapping_communities=overlaps)
    all_lines = _metric(inputs.streets, epsg)
    is_internal = (
        (inputs.streets["class"].to_numpy() == "internal")
        if len(inputs.streets)
        else (np.zeros(0, dtype=bool))
    )
    lines, internal = all_lines[~is_internal], all_lines[is_internal]
    lines_tree = shapely.STRtree(lines) if len(lines) else None
    internal_tree = shapely.STRtree(internal) if len(internal) else None
    compounds_kind = (
        inputs.compounds["kind"].to_numpy(dtype=object)
        if len(inputs.compounds)
        else (np.array([], dtype=object))
    )
    compounds = Compounds(
        _metric(inputs.compounds, epsg),
        inputs.compounds["source_id"].to_numpy(dtype=object)
        if len(inputs.compounds)
        else np.array([], dtype=object),
        inputs.compounds["name"].to_numpy(dtype=object)
        if len(inputs.compounds)
        else np.array([], dtype=object),
        np.isin(compounds_kind, list(DEDICATED)),
        compounds_kind,
    )
    b_hh = inputs.buildings["households"].fillna(0).to_numpy(dtype=np.int64)
    b_pop = inputs.buildings["population"].fillna(0).to_numpy(dtype=np.int64)
    buildings = Buildings(_metric(inputs.buildings, epsg), b_hh, b_pop)

    # Units over the maximum are cut into pieces of about a third of the minimum, fine
    # enough for the grouping to reassemble them into grids of the band.
    target = low / 3

    def units_of(geom: shapely.Geometry) -> Atoms:
        near = lines[lines_tree.query(geom, predicate="intersects")] if lines_tree else lines
        inner = (
            internal[internal_tree.query(geom, predicate="intersects")]
            if internal_tree
            else internal
        )
        return community_atoms(geom, near, compounds, buildings, high, target, inner)

    atoms_by_community = _in_threads(units_of, list(comm_m), tick, "cutting communities into units")

    departments = sorted(inputs.departments)
    dept_m = [_metric(inputs.departments[d], epsg) for d in departments]
    all_points = shapely.point_on_surface(np.concatenate([a.geometry for a in atoms_by_community]))
    labels = _department_labels(all_points, dept_m)

    grid_geoms: list[shapely.Geometry] = []
    grid_comm: list[str] = []
    grid_hh: list[int] = []
    grid_pop: list[int] = []
    grid_kind: list[str] = []
    grid_unit: list[str | None] = []
    grid_reason: list[str | None] = []
    border_m = off_street_m = 0.0  # internal grid borders, and how much follows no street
    offset = 0
    for i, (code, atoms) in enumerate(zip(codes, atoms_by_community, strict=True)):
        tick("grouping units into grids", i, len(codes))
        graph = Graph(
            atoms.households,
            atoms.edges,
            atoms.edge_off_street,
            labels[offset : offset + len(atoms)],
            atoms.dedicated,
        )
        offset += len(atoms)
        parts = partition(graph, low, high)
        owner = np.empty(len(atoms), dtype=np.int64)
        for n, part in enumerate(parts):
            owner[part.atoms] = n
        between = owner[atoms.edges[:, 0]] != owner[atoms.edges[:, 1]]
        border_m += float(atoms.edge_length[between].sum())
        off_street_m += float(atoms.edge_off_street[between].sum())
        for part in parts:
            idx = np.array(part.atoms)
            grid_geoms.append(shapely.coverage_union_all(atoms.geometry[idx]))
            grid_comm.append(str(code))
            grid_hh.append(int(atoms.households[idx].sum()))
            grid_pop.append(int(atoms.population[idx].sum()))
            dedicated = part.reason == "dedicated"
            grid_kind.append("专属" if dedicated else "综合")
            comp = int(atoms.compound[idx[0]]) if dedicated else -1
            grid_unit.append(str(compounds.name[comp]) if comp >= 0 else None)
            grid_reason.append(part.reason)
    tick("grouping units into grids", len(codes), len(codes))

    grid_m = np.array(
        shapely.make_valid(
            shapely.coverage_clean(np.array(grid_geoms, dtype=object), snapping_distance=0.001)
        ),
        dtype=object,
    )
    comm_arr = np.array(grid_comm, dtype=object)
    previous = None
    if inputs.previous is not None and len(inputs.previous):
        previous = (
            inputs.previous["code"].to_numpy(dtype=object),
            inputs.previous["community_code"].to_numpy(dtype=object),
            _metric(inputs.previous, epsg),
        )
    grid_codes = np.array(stable_codes(comm_arr, grid_m, scheme, previous), dtype=object)

    tick("crosswalk and report", 0, 1)
    names_by_code = dict(zip(inputs.communities["code"], inputs.communities["name"], strict=True))
    seq = [int(c[-scheme.sequence_digits :]) for c in grid_codes]
    grid_names = [
        f"{names_by_code[c]}{unit}专属网格" if unit else f"{names_by_code[c]}第{n}网格"
        for c, n, unit in zip(comm_arr, seq, grid_unit, strict=True)
    ]
    officer, phone = _officers(inputs, departments, dept_m, grid_m)
    walker = Crosswalk(grid_codes, grid_m, buildings.points, b_hh)
    walks = _in_threads(
        lambda d: walker.department(inputs.departments[d[0]]["id"].to_numpy(dtype=np.int64), d[1]),
        list(zip(departments, dept_m, strict=True)),
        tick,
        "crosswalk",
    )
    walk = (
        pd.concat(walks, ignore_index=True)
        if walks
        else pd.DataFrame(columns=list(Crosswalk.COLUMNS))
    )

    grids = gpd.GeoDataFrame(
        {
            "code": grid_codes,
            "name": grid_names,
            "kind": grid_kind,
            "community_code": comm_arr,
            "households": np.array(grid_hh, dtype=np.int64),
            "population": np.array(grid_pop, dtype=np.int64),
            "area_m2": np.round(area_m2(grid_m), 1),
            "compactness": np.round(compactness(grid_m), 4),
            "officer_name": officer,
            "officer_phone": phone,
            "party_branch": [f"{n}党支部" for n in grid_names],
        },
        geometry=gpd.GeoSeries(crs.from_metric(grid_m, epsg), crs=crs.CGCS2000),
    )
    problems.dangling_streets = [d for a in atoms_by_community for d in a.dangles]
    report = merge_report(
        grids=grids,
        grid_m=grid_m,
        reasons=grid_reason,
        community_codes=codes,
        community_m=comm_m,
        compounds=compounds,
        buildings=buildings,
        departments=dict(zip(departments, dept_m, strict=True)),
        walk=walk,
        low=low,
        high=high,
        problems=problems,
        epsg=epsg,
        border_m=border_m,
        off_street_m=off_street_m,
    )
    order = np.argsort(grid_codes.astype(str), kind="stable")
    grids = grids.iloc[order].reset_index(drop=True)
    report["seconds"] = round(time.perf_counter() - started, 2)
    tick("crosswalk and report", 1, 1)
    params = {
        "engine": "tree-bisection",
        "min_households": low,
        "max_households": high,
        "code_digits": len(grid_codes[0]) if len(grid_codes) else None,
        "departments": departments,
        "metric_epsg": epsg,
        "previous_version": inputs.previous_name,
    }
    return MergeResult(grids, walk, report, params)


def _officers(
    inputs: MergeInputs,
    departments: list[str],
    dept_m: list[NDArray[np.object_]],
    grid_m: NDArray[np.object_],
) -> tuple[list[str | None], list[str | None]]:
    """Each grid's officer: from the 综治 grid (else any department's) it overlaps most."""
    officer: list[str | None] = [None] * len(grid_m)
    phone: list[str | None] = [None] * len(grid_m)
    ordered = sorted(
        range(len(departments)),
        key=lambda d: (departments[d] not in OFFICER_DEPARTMENTS, departments[d]),
    )
    for d in ordered:
        attrs = inputs.departments[departments[d]]["attributes"].tolist()
        if not attrs or all(_pick(a, OFFICER_FIELDS) is None for a in attrs[:50]):
            continue
        polys = dept_m[d]
        g, p = shapely.STRtree(polys).query(grid_m, predicate="intersects")
        if len(g) == 0:
            continue
        area = shapely.area(shapely.intersection(grid_m[g], polys[p]))
        order = np.lexsort((-area, g))
        g, p = g[order], p[order]
        first = np.ones(len(g), dtype=bool)
        first[1:] = g[1:] != g[:-1]
        for gi, pi in zip(g[first], p[first], strict=True):
            if officer[gi] is None:
                officer[gi] = _pick(attrs[pi], OFFICER_FIELDS)
                phone[gi] = _pick(attrs[pi], PHONE_FIELDS)
    return officer, phone
