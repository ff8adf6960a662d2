"""Households, population, area and compactness of polygons, from the building layer."""

from __future__ import annotations

import numpy as np
import shapely
from numpy.typing import NDArray

from gridgis.geometry import lowest_hit, polsby_popper


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


def compactness(metric_polygons: NDArray[np.object_]) -> NDArray[np.float64]:
    return polsby_popper(metric_polygons)


def area_m2(metric_polygons: NDArray[np.object_]) -> NDArray[np.float64]:
    return np.asarray(shapely.area(metric_polygons), dtype=np.float64)
