"""How each department's grids map onto the comprehensive grids (area and household shares)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from gridgis.merge.measures import building_owner

MIN_AREA_SHARE = 0.005  # overlaps below 0.5% of a department grid are tracing noise


def crosswalk(
    department_ids: NDArray[np.int64],
    department_polygons: NDArray[np.object_],
    grid_codes: NDArray[np.object_],
    grid_polygons: NDArray[np.object_],
    building_points: NDArray[np.object_],
    building_households: NDArray[np.int64],
) -> pd.DataFrame:
    """All in metres. One row per (department grid, comprehensive grid) that overlap."""
    columns = ["department_grid_id", "grid_code", "area_share", "household_share"]
    if len(department_polygons) == 0 or len(grid_polygons) == 0:
        return pd.DataFrame(columns=columns)
    tree = shapely.STRtree(grid_polygons)
    d_idx, g_idx = tree.query(department_polygons, predicate="intersects")
    overlap = shapely.area(shapely.intersection(department_polygons[d_idx], grid_polygons[g_idx]))
    dept_area = shapely.area(department_polygons)
    area_share = overlap / np.where(dept_area[d_idx] > 0, dept_area[d_idx], 1.0)

    # Households: each building belongs to one department grid and one comprehensive grid.
    dept_owner = building_owner(department_polygons, building_points)
    grid_owner = building_owner(grid_polygons, building_points)
    inside = (dept_owner >= 0) & (grid_owner >= 0)
    pair_households = (
        pd.Series(building_households[inside])
        .groupby([dept_owner[inside], grid_owner[inside]])
        .sum()
    )
    dept_households = np.bincount(
        dept_owner[dept_owner >= 0],
        weights=building_households[dept_owner >= 0],
        minlength=len(department_polygons),
    )
    pairs = pd.MultiIndex.from_arrays([d_idx, g_idx])
    hh = pair_households.reindex(pairs, fill_value=0).to_numpy(dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        household_share = np.where(dept_households[d_idx] > 0, hh / dept_households[d_idx], np.nan)

    keep = (area_share >= MIN_AREA_SHARE) | (hh > 0)
    return pd.DataFrame(
        {
            "department_grid_id": department_ids[d_idx[keep]],
            "grid_code": grid_codes[g_idx[keep]],
            "area_share": np.round(area_share[keep], 6),
            "household_share": np.round(household_share[keep], 6),
        }
    )
