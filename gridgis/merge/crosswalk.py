"""How each department's grids map onto the comprehensive grids (area and household shares)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from gridgis.measures import building_owner

MIN_AREA_SHARE = 0.005  # overlaps below 0.5% of a department grid are tracing noise
SIMPLIFY_M = 0.5  # shares are measured on outlines simplified this much: ~0.1% of area


class Crosswalk:
    """Comprehensive grids (metres), ready to be compared with one department after another."""

    COLUMNS = ("department_grid_id", "grid_code", "area_share", "household_share")

    def __init__(
        self,
        grid_codes: NDArray[np.object_],
        grid_polygons: NDArray[np.object_],
        building_points: NDArray[np.object_],
        building_households: NDArray[np.int64],
    ) -> None:
        self.codes = grid_codes
        self.grids = shapely.coverage_simplify(grid_polygons, SIMPLIFY_M)  # stays a coverage
        self.tree = shapely.STRtree(self.grids)
        self.points = building_points
        self.households = building_households
        self.grid_owner = building_owner(grid_polygons, building_points)

    def department(self, ids: NDArray[np.int64], polygons: NDArray[np.object_]) -> pd.DataFrame:
        """One row per (department grid, comprehensive grid) that overlap."""
        if len(polygons) == 0 or len(self.grids) == 0:
            return pd.DataFrame(columns=list(self.COLUMNS))
        polygons = shapely.simplify(polygons, SIMPLIFY_M)
        d_idx, g_idx = self.tree.query(polygons, predicate="intersects")
        overlap = shapely.area(shapely.intersection(polygons[d_idx], self.grids[g_idx]))
        dept_area = shapely.area(polygons)
        area_share = overlap / np.where(dept_area[d_idx] > 0, dept_area[d_idx], 1.0)

        # Households: each building belongs to one department grid and one comprehensive grid.
        dept_owner = building_owner(polygons, self.points)
        inside = (dept_owner >= 0) & (self.grid_owner >= 0)
        pair_households = (
            pd.Series(self.households[inside])
            .groupby([dept_owner[inside], self.grid_owner[inside]])
            .sum()
        )
        dept_households = np.bincount(
            dept_owner[dept_owner >= 0],
            weights=self.households[dept_owner >= 0],
            minlength=len(polygons),
        )
        pairs = pd.MultiIndex.from_arrays([d_idx, g_idx])
        hh = pair_households.reindex(pairs, fill_value=0).to_numpy(dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            household_share = np.where(
                dept_households[d_idx] > 0, hh / dept_households[d_idx], np.nan
            )
        keep = (area_share >= MIN_AREA_SHARE) | (hh > 0)
        return pd.DataFrame(
            {
                "department_grid_id": ids[d_idx[keep]],
                "grid_code": self.codes[g_idx[keep]],
                "area_share": np.round(np.minimum(area_share[keep], 1.0), 6),
                "household_share": np.round(household_share[keep], 6),
            }
        )
