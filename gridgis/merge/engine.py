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
from dataclasses import dataclass, field, replace
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from gridgis import crs
from gridgis.errors import InputError
from gridgis.geometry import clean_polygons, lowest_hit
from gridgis.importer.fields import DEDICATED
from gridgis.measures import area_m2, compactness
from gridgis.merge.codes import CodeScheme, community_tops, stable_codes
from gridgis.merge.crosswalk import Crosswalk
from gridgis.merge.partition import Graph, Part, partition
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
        if len(polys):
            g, p = tree.query(polys, predicate="contains")  # the polygons get prepared
            labels[:, d] = lowest_hit(p, g, len(points))
    return labels


def compute_merge(
    inputs: MergeInputs,
    *,
    settings: Settings,
    scheme: CodeScheme | None = None,
    progress: Progress | None = None,
) -> MergeResult:
    """Communities → atoms → grids → codes → crosswalk and report, each a step below."""
    started = time.perf_counter()
    tick = progress or (lambda _s, _i, _n: None)
    scheme = scheme or CodeScheme()
    low, high = settings.min_households, settings.max_households
    _check_inputs(inputs, low, high)
    epsg = settings.metric_epsg
    inputs = replace(
        inputs,
        buildings=_in_place_order(inputs.buildings),
        compounds=_in_place_order(inputs.compounds),
        streets=_in_place_order(inputs.streets),
        departments={d: _in_place_order(f) for d, f in inputs.departments.items()},
    )

    codes = inputs.communities["code"].to_numpy(dtype=object)
    comm_m, overlaps = _separate_communities(codes, _metric(inputs.communities, epsg))
    problems = InputProblems(overlapping_communities=overlaps)
    compounds = metric_compounds(inputs.compounds, epsg)
    buildings = metric_buildings(inputs.buildings, epsg)
    atoms_by_community = _cut_communities(
        comm_m, StreetNetwork(inputs.streets, epsg), compounds, buildings, low, high, tick
    )

    departments = sorted(inputs.departments)
    dept_m = [_metric(inputs.departments[d], epsg) for d in departments]
    all_points = shapely.point_on_surface(np.concatenate([a.geometry for a in atoms_by_community]))
    labels = _department_labels(all_points, dept_m)
    grouped = _group(codes, atoms_by_community, labels, compounds, low, high, tick)

    grid_m = clean_coverage(grouped.geometry)
    grid_codes = np.array(
        stable_codes(
            grouped.community_codes(),
            grid_m,
            scheme,
            _previous(inputs, epsg),
            community_tops(codes, comm_m),
        ),
        dtype=object,
    )

    tick("crosswalk and report", 0, 1)
    grids = _grid_frame(inputs, grouped, grid_codes, grid_m, scheme, departments, dept_m, epsg)
    walk = _crosswalk(inputs, departments, dept_m, grid_codes, grid_m, buildings, tick)
    problems.dangling_streets = [d for a in atoms_by_community for d in a.dangles]
    report = merge_report(
        grids=grids,
        grid_m=grid_m,
        reasons=grouped.reason,
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
        border_m=grouped.border_m,
        off_street_m=grouped.off_street_m,
    )
    order = np.argsort(grid_codes.astype(str), kind="stable")
    grids = grids.iloc[order].reset_index(drop=True)
    report["seconds"] = round(time.perf_counter() - started, 2)
    tick("crosswalk and report", 1, 1)
    return MergeResult(grids, walk, report, _params(settings, grid_codes, departments, inputs))


def _grid_frame(
    inputs: MergeInputs,
    grouped: _Grouped,
    grid_codes: NDArray[np.object_],
    grid_m: NDArray[np.object_],
    scheme: CodeScheme,
    departments: list[str],
    dept_m: list[NDArray[np.object_]],
    epsg: int,
) -> gpd.GeoDataFrame:
    """The grids with their names, measures and officers, in EPSG:4490."""
    comm_arr = grouped.community_codes()
    grid_names = _grid_names(inputs.communities, comm_arr, grid_codes, grouped.unit, scheme)
    officer, phone = _officers(inputs, departments, dept_m, grid_m)
    return gpd.GeoDataFrame(
        {
            "code": grid_codes,
            "name": grid_names,
            "kind": grouped.kind,
            "community_code": comm_arr,
            "households": np.array(grouped.households, dtype=np.int64),
            "population": np.array(grouped.population, dtype=np.int64),
            "area_m2": np.round(area_m2(grid_m), 1),
            "compactness": np.round(compactness(grid_m), 4),
            "officer_name": officer,
            "officer_phone": phone,
            "party_branch": [f"{n}党支部" for n in grid_names],
        },
        geometry=gpd.GeoSeries(crs.from_metric(grid_m, epsg), crs=crs.CGCS2000),
    )


def _params(
    settings: Settings, grid_codes: NDArray[np.object_], departments: list[str], inputs: MergeInputs
) -> dict[str, Any]:
    """What the version records about how it was merged."""
    return {
        "engine": "tree-bisection",
        "min_households": settings.min_households,
        "max_households": settings.max_households,
        "code_digits": len(grid_codes[0]) if len(grid_codes) else None,
        "departments": departments,
        "metric_epsg": settings.metric_epsg,
        "previous_version": inputs.previous_name,
    }


def clean_coverage(geoms: list[shapely.Geometry]) -> NDArray[np.object_]:
    """Grids' shared borders made exactly equal (the atoms' unions leave slivers)."""
    cleaned = shapely.coverage_clean(np.array(geoms, dtype=object), snapping_distance=0.001)
    return np.array(shapely.make_valid(cleaned), dtype=object)


def _check_inputs(inputs: MergeInputs, low: int, high: int) -> None:
    """Refuse before any work: an empty band, or nothing to merge."""
    if high < low:
        raise InputError(f"the household band {low}–{high} is empty")
    if inputs.communities.empty:
        raise InputError("no communities in the store: import communities first")


def _in_place_order(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Rows by where they lie, not by the store's row ids: ties in the merge break on
    this order, so a layer imported again with its rows renumbered or shuffled gives
    the same grids and codes."""
    if len(frame) < 2:
        return frame
    geoms = frame.geometry.to_numpy()
    points = shapely.point_on_surface(geoms)
    keys = (shapely.area(geoms), shapely.get_y(points).round(7), shapely.get_x(points).round(7))
    return frame.iloc[np.lexsort(keys)]


def _column(frame: gpd.GeoDataFrame, name: str) -> NDArray[np.object_]:
    """A column as objects; an empty frame gives an empty array, whatever its columns."""
    return frame[name].to_numpy(dtype=object) if len(frame) else np.array([], dtype=object)


def metric_compounds(frame: gpd.GeoDataFrame, epsg: int) -> Compounds:
    kind = _column(frame, "kind")
    return Compounds(
        _metric(frame, epsg),
        _column(frame, "source_id"),
        _column(frame, "name"),
        np.isin(kind, list(DEDICATED)),
        kind,
    )


def metric_buildings(frame: gpd.GeoDataFrame, epsg: int) -> Buildings:
    households = frame["households"].fillna(0).to_numpy(dtype=np.int64)
    population = frame["population"].fillna(0).to_numpy(dtype=np.int64)
    # The importer repairs what it stores; a caller's own frame may hold a bow-tie or a
    # spike: made valid as the importer does it, polygons only (None where none is left).
    geoms, _ = clean_polygons(_metric(frame, epsg))
    return Buildings(geoms, households, population)


class StreetNetwork:
    """The street network in metres: streets cut blocks, internal roads (inside
    compounds) only cut units over the maximum."""

    def __init__(self, frame: gpd.GeoDataFrame, epsg: int) -> None:
        lines = _metric(frame, epsg)
        internal = (
            (frame["class"].to_numpy() == "internal") if len(frame) else np.zeros(0, dtype=bool)
        )
        self.lines, self.internal = lines[~internal], lines[internal]
        self._lines_tree = shapely.STRtree(self.lines) if len(self.lines) else None
        self._internal_tree = shapely.STRtree(self.internal) if len(self.internal) else None

    def crossing(self, geom: shapely.Geometry) -> tuple[NDArray[np.object_], NDArray[np.object_]]:
        """The streets and the internal roads that cross ``geom``."""
        return (
            _crossing(self.lines, self._lines_tree, geom),
            _crossing(self.internal, self._internal_tree, geom),
        )


def _crossing(
    lines: NDArray[np.object_], tree: shapely.STRtree | None, geom: shapely.Geometry
) -> NDArray[np.object_]:
    return lines[tree.query(geom, predicate="intersects")] if tree else lines


def _cut_communities(
    communities: NDArray[np.object_],
    streets: StreetNetwork,
    compounds: Compounds,
    buildings: Buildings,
    low: int,
    high: int,
    tick: Progress,
) -> list[Atoms]:
    """Each community's atoms, the communities in threads."""
    # Units over the maximum are cut into pieces of about a third of the minimum, fine
    # enough for the grouping to reassemble them into grids of the band.
    target = low / 3

    def units_of(geom: shapely.Geometry) -> Atoms:
        near, inner = streets.crossing(geom)
        return community_atoms(
            geom, near, compounds, buildings, high, target, inner, min_households=low
        )

    return _in_threads(units_of, list(communities), tick, "cutting communities into units")


@dataclass
class _Grouped:
    """The grids the grouping made, community by community, before they get codes."""

    geometry: list[shapely.Geometry] = field(default_factory=list)
    community: list[str] = field(default_factory=list)
    households: list[int] = field(default_factory=list)
    population: list[int] = field(default_factory=list)
    kind: list[str] = field(default_factory=list)
    unit: list[str | None] = field(default_factory=list)  # a dedicated grid's compound
    reason: list[str | None] = field(default_factory=list)  # why a grid is out of band
    border_m: float = 0.0  # internal grid borders
    off_street_m: float = 0.0  # the part of them that follows no street or wall

    def community_codes(self) -> NDArray[np.object_]:
        return np.array(self.community, dtype=object)

    def add(self, community: str, atoms: Atoms, parts: list[Part], compounds: Compounds) -> None:
        owner = np.empty(len(atoms), dtype=np.int64)
        for n, part in enumerate(parts):
            owner[part.atoms] = n
        between = owner[atoms.edges[:, 0]] != owner[atoms.edges[:, 1]]
        self.border_m += float(atoms.edge_length[between].sum())
        self.off_street_m += float(atoms.edge_off_street[between].sum())
        for part in parts:
            idx = np.array(part.atoms)
            self.geometry.append(shapely.coverage_union_all(atoms.geometry[idx]))
            self.community.append(community)
            self.households.append(int(atoms.households[idx].sum()))
            self.population.append(int(atoms.population[idx].sum()))
            dedicated = part.reason == "dedicated"
            self.kind.append("专属" if dedicated else "综合")
            comp = int(atoms.compound[idx[0]]) if dedicated else -1
            self.unit.append(str(compounds.name[comp]) if comp >= 0 else None)
            self.reason.append(part.reason)


def _group(
    codes: NDArray[np.object_],
    atoms_by_community: list[Atoms],
    labels: NDArray[np.int64],
    compounds: Compounds,
    low: int,
    high: int,
    tick: Progress,
) -> _Grouped:
    """Each community's atoms grouped into grids of the band; ``labels`` holds every
    atom's department grids, the communities' atoms one after another."""
    grouped = _Grouped()
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
        parts = partition(graph, low, high, unit_names(atoms))
        grouped.add(str(code), atoms, parts, compounds)
    tick("grouping units into grids", len(codes), len(codes))
    return grouped


def unit_names(atoms: Atoms) -> Callable[[int], str]:
    """What an atom over the maximum is, in words a grid office can check on the map."""

    def name(atom: int) -> str:
        hh = int(atoms.households[atom])
        if atoms.buildings[atom] == 1:
            return f"one building of {hh} households cannot be cut"
        return f"one unit of {hh} households has no cut between its buildings"

    return name


def _previous(
    inputs: MergeInputs, epsg: int
) -> tuple[NDArray[np.object_], NDArray[np.object_], NDArray[np.object_]] | None:
    """The codes, communities and metric shapes of the grids new codes should follow."""
    if inputs.previous is None or not len(inputs.previous):
        return None
    return (
        inputs.previous["code"].to_numpy(dtype=object),
        inputs.previous["community_code"].to_numpy(dtype=object),
        _metric(inputs.previous, epsg),
    )


def _grid_names(
    communities: gpd.GeoDataFrame,
    community_of: NDArray[np.object_],
    codes: NDArray[np.object_],
    unit: list[str | None],
    scheme: CodeScheme,
) -> list[str]:
    """锦绣社区第3网格 by its code's sequence; a dedicated grid by its compound."""
    names_by_code = dict(zip(communities["code"], communities["name"], strict=True))
    seq = [int(c[-scheme.sequence_digits :]) for c in codes]
    return [
        f"{names_by_code[c]}{u}专属网格" if u else f"{names_by_code[c]}第{n}网格"
        for c, n, u in zip(community_of, seq, unit, strict=True)
    ]


def _crosswalk(
    inputs: MergeInputs,
    departments: list[str],
    dept_m: list[NDArray[np.object_]],
    grid_codes: NDArray[np.object_],
    grid_m: NDArray[np.object_],
    buildings: Buildings,
    tick: Progress,
) -> pd.DataFrame:
    """Every department grid against the new grids, the departments in threads."""
    walker = Crosswalk(grid_codes, grid_m, buildings.points, buildings.households)
    walks = _in_threads(
        lambda d: walker.department(inputs.departments[d[0]]["id"].to_numpy(dtype=np.int64), d[1]),
        list(zip(departments, dept_m, strict=True)),
        tick,
        "crosswalk",
    )
    if not walks:
        return pd.DataFrame(columns=list(Crosswalk.COLUMNS))
    return pd.concat(walks, ignore_index=True)


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
