"""What is wrong with a department layer, measured (not repaired) at import.

Import only makes geometries valid; slivers, gaps, overlaps, multipart features and
duplicate ids are the merge's business, but the import report says how many there are so
that the office can send a layer back before it spoils a merge.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from gridgis.measures import polsby_popper

SLIVER_M2 = 500.0  # smaller than a courtyard
THIN_PP = 0.05  # Polsby–Popper below this and under THIN_M2 is a strip, not an area
THIN_M2 = 5_000.0
OVERLAP_M2 = 1.0  # overlaps below 1 m² are rounding, not drawing
GAP_M2 = 10_000.0  # holes in the layer's union smaller than 1 ha are gaps between grids


def layer_quality(metric_geoms: NDArray[np.object_], ids: pd.Series) -> dict[str, int]:
    geoms = np.asarray(metric_geoms, dtype=object)
    area = shapely.area(geoms)
    pp = polsby_popper(geoms)
    slivers = (area < SLIVER_M2) | ((pp < THIN_PP) & (area < THIN_M2))

    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    pairs = left < right
    left, right = left[pairs], right[pairs]
    shared = shapely.area(shapely.intersection(geoms[left], geoms[right]))
    overlaps = int((shared > OVERLAP_M2).sum())

    union = shapely.union_all(geoms)
    holes = [shapely.Polygon(ring) for poly in shapely.get_parts(union) for ring in poly.interiors]
    gaps = int(sum(1 for h in holes if h.area < GAP_M2))

    present = ids.dropna()
    return {
        "features": len(geoms),
        "multipart": int((shapely.get_num_geometries(geoms) > 1).sum()),
        "duplicate_ids": int(present.duplicated().sum()),
        "slivers": int(slivers.sum()),
        "overlapping_pairs": overlaps,
        "gaps": gaps,
    }
