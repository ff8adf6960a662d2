"""How grids measure up: one function per measure, shared by the merge report and the
look-back review (the way GerryChain keeps its updaters), so that the two never disagree
about what a grid's households, compactness or borders are.

Every function takes polygons in the city's metric CRS and answers with one array per
input (or indices into it), vectorised over the whole layer.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from gridgis.geometry import lowest_hit

ON_STREET_M = 5.0  # a border within this distance of a street or wall follows it
ON_WALL_M = 1.0  # … or within this distance of a building's wall (a party wall, a façade)
CUT_BUILDING_M2 = 0.5  # a building with more than this on each side of a border is cut
SPLIT_COMPOUND_SHARE = 0.01  # a compound with more than this share in a second grid is split


def building_owner(
    polygons: NDArray[np.object_], building_points: NDArray[np.object_]
) -> NDArray[np.int64]:
    """Index of the polygon that contains each building's representative point, or -1.

    A point on a shared border goes to the lowest polygon index, so every building is
    counted exactly once.
    """
    if len(polygons) == 0 or len(building_points) == 0:
        return np.full(len(building_points), -1, dtype=np.int64)
    # Query with the polygons (shapely prepares query geometries) against a tree of points.
    poly_idx, point_idx = shapely.STRtree(building_points).query(polygons, predicate="intersects")
    return lowest_hit(point_idx, poly_idx, len(building_points))


def sum_by_owner(owner: NDArray[np.int64], values: NDArray[np.int64], n: int) -> NDArray[np.int64]:
    """``values`` summed by owner (as :func:`building_owner` gives it) over ``n`` polygons."""
    inside = owner >= 0
    return np.bincount(owner[inside], weights=values[inside], minlength=n).astype(np.int64)


def anchor_points(metric_polygons: NDArray[np.object_]) -> NDArray[np.object_]:
    """The point that stands for each polygon when grids are numbered in reading order:
    its centroid (inside or not). The centroid moves by as little as the shape does;
    GEOS's point on surface can jump across the grid when a shape is redrawn by a hair
    (its scan line runs through a vertex), so a stored version would read in another
    order than it was numbered."""
    return np.asarray(shapely.centroid(metric_polygons), dtype=object)


def grid_figures(
    polygons: NDArray[np.object_],
    building_points: NDArray[np.object_],
    households: NDArray[np.int64],
    population: NDArray[np.int64],
) -> dict[str, NDArray[Any]]:
    """What the grids table records of each shape, measured: households and population
    by the buildings it holds, area, compactness (Polsby–Popper), rounded as stored."""
    owner = building_owner(polygons, building_points)
    n = len(polygons)
    return {
        "households": sum_by_owner(owner, households, n),
        "population": sum_by_owner(owner, population, n),
        "area_m2": np.round(area_m2(polygons), 1),
        "compactness": np.round(polsby_popper(polygons), 4),
    }


HAIR_M = 0.05  # a border is where two shapes come within this of each other


def shared_border_length(
    a: NDArray[np.object_],
    b: NDArray[np.object_],
    hair: float = HAIR_M,
    grown: tuple[NDArray[np.object_], NDArray[np.object_]] | None = None,
) -> NDArray[np.float64]:
    """The length of border each pair (a[i], b[i]) shares: how much of each lies within a
    hair of the other, per metre of hair, the less of the two. Blind to the zero-width
    spikes an overlay or a lon/lat round trip leaves, and to borders that run side by side
    without sharing vertices — where intersecting the boundaries counts them wrong."""
    a, b = np.asarray(a, dtype=object), np.asarray(b, dtype=object)
    if len(a) == 0:
        return np.zeros(0)
    # ``grown``: a and b already grown by the hair (a caller pairing few shapes many
    # times grows each once).
    grown_a, grown_b = (
        grown if grown is not None else (shapely.buffer(a, hair), shapely.buffer(b, hair))
    )
    into_b = shapely.area(shapely.intersection(a, grown_b))
    into_a = shapely.area(shapely.intersection(b, grown_a))
    return np.asarray(np.minimum(into_a, into_b) / hair, dtype=np.float64)


def area_m2(metric_polygons: NDArray[np.object_]) -> NDArray[np.float64]:
    return np.asarray(shapely.area(metric_polygons), dtype=np.float64)


def polsby_popper(metric_geoms: NDArray[np.object_]) -> NDArray[np.float64]:
    """4πA/P²: 1 for a circle, about 0.785 for a square, near 0 for a sliver."""
    area = shapely.area(metric_geoms)
    perimeter = shapely.length(metric_geoms)
    with np.errstate(divide="ignore", invalid="ignore"):
        pp = np.where(perimeter > 0, 4 * np.pi * area / perimeter**2, 0.0)
    return np.asarray(pp, dtype=np.float64)


#: The merge's name for Polsby–Popper, kept in the grids table as ``compactness``.
compactness = polsby_popper


def reock(metric_geoms: NDArray[np.object_]) -> NDArray[np.float64]:
    """Area over the area of the smallest enclosing circle: 1 for a circle, about 0.64
    for a square, low for a long or a sprawling shape (where Polsby–Popper punishes a
    ragged border, Reock punishes reach)."""
    radius = shapely.minimum_bounding_radius(metric_geoms)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(radius > 0, shapely.area(metric_geoms) / (np.pi * radius**2), 0.0)
    return np.asarray(out, dtype=np.float64)


def part_count(metric_geoms: NDArray[np.object_]) -> NDArray[np.int64]:
    """Polygons in each geometry (a grid in two pieces has 2)."""
    return np.asarray(shapely.get_num_geometries(metric_geoms), dtype=np.int64)


def thinness(metric_polygons: NDArray[np.object_]) -> NDArray[np.float64]:
    """QGIS's sliver test (Check Geometries, "sliver polygon"): the longer side of the
    bounding box squared over the area; 1 for a square, large for a strip. Infinite for
    a polygon without area."""
    x0, y0, x1, y1 = shapely.bounds(metric_polygons).T
    longest = np.maximum(x1 - x0, y1 - y0)
    area = shapely.area(metric_polygons)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(area > 0, longest**2 / area, np.inf)
    return np.asarray(out, dtype=np.float64)


def split_by(
    shapes: NDArray[np.object_],
    grids: NDArray[np.object_],
    min_area: float = 0.0,
    min_share: float = 0.0,
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Shapes (buildings, compounds) with area in more than one grid beyond the
    thresholds: pairs (shape index, grid index) for every grid holding part of such a
    shape. Only shapes some grid border passes through are measured, so it stays cheap."""
    none = np.zeros(0, dtype=np.int64)
    if len(shapes) == 0 or len(grids) == 0:
        return none, none
    present = ~shapely.is_missing(shapes)
    _, touched = shapely.STRtree(shapes).query(shapely.boundary(grids), predicate="intersects")
    touched = np.unique(touched)
    touched = touched[present[touched]]
    if len(touched) == 0:
        return none, none
    g_idx, s_at = shapely.STRtree(shapes[touched]).query(grids, predicate="intersects")
    s_idx = touched[s_at]
    area = shapely.area(shapely.intersection(shapes[s_idx], grids[g_idx]))
    share = area / np.maximum(shapely.area(shapes[s_idx]), 1e-9)
    held = (area > min_area) & (share > min_share)
    s_idx, g_idx = s_idx[held], g_idx[held]
    counts = pd.Series(1, index=s_idx).groupby(level=0).sum()
    split = counts[counts > 1].index.to_numpy()
    keep = np.isin(s_idx, split)
    order = np.lexsort((g_idx[keep], s_idx[keep]))
    return s_idx[keep][order].astype(np.int64), g_idx[keep][order].astype(np.int64)


def buildings_cut(
    buildings: NDArray[np.object_], grids: NDArray[np.object_]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(building, grid) pairs of every building some grid border cuts through."""
    return split_by(buildings, grids, min_area=CUT_BUILDING_M2)


def compounds_split(
    compounds: NDArray[np.object_], grids: NDArray[np.object_]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(compound, grid) pairs of every compound with a share of its area in a second grid."""
    return split_by(compounds, grids, min_share=SPLIT_COMPOUND_SHARE)


def segments(lines: NDArray[np.object_], max_length: float = 50.0) -> NDArray[np.object_]:
    """Lines (or polygon rings) broken into straight pieces of at most ``max_length``: a
    tree of short pieces answers "within d of a line?" many times faster than one of
    whole streets or building outlines, whose boxes overlap everything near them."""
    lines = np.asarray(lines, dtype=object)
    lines = lines[~shapely.is_missing(lines)]
    if len(lines) == 0:
        return np.array([], dtype=object)
    parts = shapely.get_parts(shapely.get_parts(shapely.segmentize(lines, max_length)))
    coords, which = shapely.get_coordinates(parts, return_index=True)
    same = which[1:] == which[:-1]
    pairs = np.stack([coords[:-1][same], coords[1:][same]], axis=1)
    return np.asarray(shapely.linestrings(pairs), dtype=object)


def off_street_length(
    lines: NDArray[np.object_],
    guides: list[NDArray[np.object_]],
    step: float = 2.0,
    buildings: NDArray[np.object_] | None = None,
) -> NDArray[np.float64]:
    """How much of each line runs farther than ``ON_STREET_M`` from every guide line
    (streets, rivers, railways, compound walls) and farther than ``ON_WALL_M`` from the
    walls of every building in ``buildings`` (a border along a party wall or a façade,
    not one across the gap between two rows of slabs).

    Measured on points every ``step`` metres (buffering the street network is far slower);
    only the points far from every guide are tried against the walls, and only against
    the walls of the buildings near them.
    """
    lines = np.asarray(lines, dtype=object)
    if len(lines) == 0:
        return np.zeros(0)
    dense = shapely.segmentize(lines, step)
    points, which = shapely.get_coordinates(dense, return_index=True)
    points = shapely.points(points)
    near = np.zeros(len(points), dtype=bool)
    pieces = segments(np.concatenate(guides)) if guides else np.array([], dtype=object)
    if len(pieces) and len(points):
        hit, _ = shapely.STRtree(pieces).query(points, predicate="dwithin", distance=ON_STREET_M)
        near[hit] = True
    far = np.flatnonzero(~near)
    if buildings is not None and len(far):
        present = np.asarray(buildings, dtype=object)
        present = present[~shapely.is_missing(present)]
        if len(present):
            # Buildings within reach of a far point (inside one counts: distance 0), then
            # each pair measured exactly against that building's walls.
            p, b = shapely.STRtree(present).query(
                points[far], predicate="dwithin", distance=ON_WALL_M
            )
            if len(p):
                on_wall = shapely.dwithin(points[far][p], shapely.boundary(present[b]), ON_WALL_M)
                near[far[p[on_wall]]] = True
    far_share = np.bincount(which, weights=~near, minlength=len(lines)) / np.maximum(
        np.bincount(which, minlength=len(lines)), 1
    )
    return np.asarray(shapely.length(lines) * far_share, dtype=np.float64)
