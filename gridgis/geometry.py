"""Vectorised geometry cleaning: what every layer goes through before it is stored."""

from __future__ import annotations

from collections import Counter

import numpy as np
import shapely
from numpy.typing import NDArray

GeomArray = NDArray[np.object_]

_POLYGONAL = (shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON)
_LINEAR = (shapely.GeometryType.LINESTRING, shapely.GeometryType.MULTILINESTRING)


def force_multi(geoms: GeomArray) -> GeomArray:
    """Polygon → MultiPolygon and LineString → MultiLineString, one array in, one out.

    Missing or empty input gives ``None``. Mixed polygon/line input is a bug upstream.
    """
    geoms = np.asarray(geoms, dtype=object)
    out = np.full(len(geoms), None, dtype=object)
    if len(geoms) == 0:
        return out
    parts, index = shapely.get_parts(geoms, return_index=True)
    if len(parts) == 0:
        return out
    types = shapely.get_type_id(parts)
    if np.all(types == shapely.GeometryType.POLYGON):
        shapely.multipolygons(parts, indices=index, out=out)
    elif np.all(types == shapely.GeometryType.LINESTRING):
        shapely.multilinestrings(parts, indices=index, out=out)
    else:
        raise ValueError("force_multi needs all-polygonal or all-linear geometries")
    return out


def clean_polygons(geoms: GeomArray) -> tuple[GeomArray, Counter[str]]:
    """Make polygons valid, 2-D and multipart; count every repair by kind.

    Rows that end up with no area (lines, points, collapsed slivers) come back as ``None``
    so that the caller can name them.
    """
    geoms = np.asarray(geoms, dtype=object)
    repairs: Counter[str] = Counter()
    missing = shapely.is_missing(geoms)
    has_z = np.zeros(len(geoms), dtype=bool)
    has_z[~missing] = shapely.has_z(geoms[~missing])
    if has_z.any():
        repairs["dropped_z"] = int(has_z.sum())
        geoms = shapely.force_2d(geoms)
    invalid = ~missing & ~shapely.is_valid(geoms)
    if invalid.any():
        repairs["made_valid"] = int(invalid.sum())
        geoms = geoms.copy()
        geoms[invalid] = shapely.make_valid(
            geoms[invalid], method="structure", keep_collapsed=False
        )
    type_ids = shapely.get_type_id(geoms)
    non_polygonal = ~missing & ~np.isin(type_ids, _POLYGONAL)
    if non_polygonal.any():
        # Collections (from make_valid) keep their polygonal parts; anything else is dropped.
        parts, index = shapely.get_parts(geoms[non_polygonal], return_index=True)
        keep = np.isin(shapely.get_type_id(parts), _POLYGONAL)
        rebuilt = np.full(int(non_polygonal.sum()), None, dtype=object)
        if keep.any():
            poly_parts, poly_index = shapely.get_parts(parts[keep], return_index=True)
            shapely.multipolygons(poly_parts, indices=index[keep][poly_index], out=rebuilt)
        geoms = geoms.copy()
        geoms[non_polygonal] = rebuilt
        repairs["kept_polygonal_parts"] = int(non_polygonal.sum())
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if (empty & ~missing).any():
        repairs["dropped_empty"] = int((empty & ~missing).sum())
    geoms = geoms.copy()
    geoms[empty] = None
    return force_multi(geoms), repairs


def clean_lines(geoms: GeomArray) -> tuple[GeomArray, Counter[str]]:
    """Streets, rivers and railways: 2-D multilinestrings; polygons give their boundary."""
    geoms = np.asarray(geoms, dtype=object)
    repairs: Counter[str] = Counter()
    missing = shapely.is_missing(geoms)
    if (~missing).any() and shapely.has_z(geoms[~missing]).any():
        repairs["dropped_z"] = int(shapely.has_z(geoms[~missing]).sum())
        geoms = shapely.force_2d(geoms)
    types = shapely.get_type_id(geoms)
    polygonal = np.isin(types, _POLYGONAL)
    if polygonal.any():
        geoms = geoms.copy()
        geoms[polygonal] = shapely.boundary(geoms[polygonal])
        repairs["polygon_as_boundary"] = int(polygonal.sum())
    parts, index = shapely.get_parts(geoms, return_index=True)
    keep = np.isin(shapely.get_type_id(parts), _LINEAR)
    line_parts, line_index = shapely.get_parts(parts[keep], return_index=True)
    out = np.full(len(geoms), None, dtype=object)
    if len(line_parts):
        shapely.multilinestrings(line_parts, indices=index[keep][line_index], out=out)
    dropped = ~missing & shapely.is_missing(out)
    if dropped.any():
        repairs["dropped_not_linear"] = int(dropped.sum())
    return out, repairs


def lowest_hit(
    point_idx: NDArray[np.int64], polygon_idx: NDArray[np.int64], n_points: int
) -> NDArray[np.int64]:
    """For each of ``n_points`` points, the lowest polygon index it is paired with, or -1.

    The pairs come from an ``STRtree`` query; taking the lowest index gives a point on a
    shared border to one polygon only, the same one every time.
    """
    out = np.full(n_points, -1, dtype=np.int64)
    if len(point_idx):
        order = np.lexsort((polygon_idx, point_idx))
        point_idx, polygon_idx = point_idx[order], polygon_idx[order]
        first = np.ones(len(point_idx), dtype=bool)
        first[1:] = point_idx[1:] != point_idx[:-1]
        out[point_idx[first]] = polygon_idx[first]
    return out
