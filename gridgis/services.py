"""Which department units serve each grid: the police area, health station, property
company … that covers most of it, with the unit's attributes as the department sent them.

Answers "who else looks after this grid" in popups and for case routing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import shapely

from gridgis.crs import to_metric
from gridgis.errors import NotFoundError
from gridgis.lookup.published import LoadedVersion
from gridgis.store.base import Store


def grid_services(
    store: Store, loaded: LoadedVersion, metric_epsg: int
) -> dict[str, list[dict[str, Any]]]:
    """Per grid, the unit of each department that covers most of it (police area, health
    station, property company, …) with that unit's attributes as the department sent them.

    The crosswalk gives each overlap as a share of the department unit; times the unit's
    area over the grid's area, that is the share of the grid the unit covers.
    """
    walk = store.read_crosswalk(loaded.info.name)
    if walk.empty:
        return {}
    units: list[pd.DataFrame] = []
    for department in sorted(walk["department"].unique()):
        try:
            layer = store.read_department_layer(department)
        except NotFoundError:  # the department was dropped since the merge
            continue
        area = shapely.area(to_metric(layer.geometry.to_numpy(), metric_epsg))
        units.append(
            pd.DataFrame(
                {
                    "department_grid_id": layer["id"].to_numpy(),
                    "unit_area": area,
                    "attributes": layer["attributes"].to_numpy(),
                }
            )
        )
    if not units:
        return {}
    # A re-imported layer has new unit ids: its old units drop out here, as they should.
    joined = walk.merge(pd.concat(units), on="department_grid_id", how="inner")
    grid_area = loaded.grids.set_index("code")["area_m2"]
    area = grid_area.reindex(joined["grid_code"]).to_numpy(dtype=np.float64)
    joined["cover"] = np.where(area > 0, joined["area_share"] * joined["unit_area"] / area, 0.0)
    best = joined.sort_values("cover", ascending=False).drop_duplicates(["grid_code", "department"])
    best = best.sort_values(["grid_code", "department"])
    best["cover"] = np.minimum(best["cover"].to_numpy(), 1.0).round(3)
    out: dict[str, list[dict[str, Any]]] = {}
    columns = ["grid_code", "department", "source_id", "attributes", "cover"]
    for code, department, unit, attributes, cover in best[columns].itertuples(index=False):
        out.setdefault(str(code), []).append(
            {"department": department, "id": unit, "attributes": attributes, "cover": cover}
        )
    return out
