"""Grid codes: 15 digits by default (DB11/T 2157-2023), numbered in reading order.

``6 county + 3 subdistrict + 3 community`` is the community's 12-digit statistical code;
the last 3 digits number the grids inside it west→east within rows taken north→south.
Rows are bands of ``row_height_m`` metres below the community's northern edge, by the
grid's anchor point
(:func:`gridgis.measures.anchor_points`), so that
grids side by side on the same street get consecutive numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from gridgis.measures import anchor_points


@dataclass(frozen=True)
class CodeScheme:
    """``sequence_digits`` = 3 gives the 15-digit code; 2 gives the older 14-digit one."""

    sequence_digits: int = 3
    prefix: str = ""  # e.g. a 6-digit object-type code for CJ/T 349's 20-digit form
    row_height_m: float = 200.0

    def code(self, community_code: str, sequence: int) -> str:
        limit = 10**self.sequence_digits
        if sequence >= limit:
            raise ValueError(
                f"community {community_code} has more than {limit - 1} grids for a "
                f"{self.sequence_digits}-digit sequence"
            )
        return f"{self.prefix}{community_code}{sequence:0{self.sequence_digits}d}"


Tops = Mapping[str, float]


def community_tops(
    codes: NDArray[np.object_], community_m: NDArray[np.object_]
) -> dict[str, float]:
    """Each community's northern edge (metres): where its rows of grid numbers begin."""
    bounds = shapely.bounds(community_m)
    return {str(c): float(b[3]) for c, b in zip(codes, bounds, strict=True)}


def reading_keys(
    community_codes: NDArray[np.object_],
    metric_polygons: NDArray[np.object_],
    tops: Tops | None = None,
) -> pd.DataFrame:
    """Each polygon's place for reading order: ``depth`` (metres below its community's
    top) and ``x``. The top is the community's own (``tops``: its northern edge), so it
    stays put when grids are redrawn; without ``tops``, the highest anchor among them."""
    points = anchor_points(np.asarray(metric_polygons, dtype=object))
    x, y = shapely.get_x(points), shapely.get_y(points)
    frame = pd.DataFrame({"community": community_codes, "x": x, "y": y})
    highest = frame.groupby("community")["y"].transform("max")
    top = frame["community"].map(dict(tops)) if tops else highest
    frame["depth"] = top.fillna(highest) - frame["y"]
    return frame[["community", "depth", "x"]]


def reading_order(
    community_codes: NDArray[np.object_],
    metric_polygons: NDArray[np.object_],
    row_height_m: float,
    tops: Tops | None = None,
) -> NDArray[np.int64]:
    """1-based sequence of each polygon inside its community, in reading order."""
    frame = reading_keys(community_codes, metric_polygons, tops)
    frame["row"] = np.floor(frame["depth"] / row_height_m).astype(int)
    frame = frame.sort_values(["community", "row", "x"], kind="stable")
    frame["seq"] = frame.groupby("community").cumcount() + 1
    return frame["seq"].sort_index().to_numpy(dtype=np.int64)


def assign_codes(
    community_codes: NDArray[np.object_],
    metric_polygons: NDArray[np.object_],
    scheme: CodeScheme,
    tops: Tops | None = None,
) -> list[str]:
    seq = reading_order(community_codes, metric_polygons, scheme.row_height_m, tops)
    return [scheme.code(str(c), int(s)) for c, s in zip(community_codes, seq, strict=True)]


MATCH_IOU = 0.9  # a grid this close to one of the previous version keeps its code


def stable_codes(
    community_codes: NDArray[np.object_],
    metric_polygons: NDArray[np.object_],
    scheme: CodeScheme,
    previous: tuple[NDArray[np.object_], NDArray[np.object_], NDArray[np.object_]] | None,
    tops: Tops | None = None,
) -> list[str]:
    """Codes that survive a re-merge: a grid (nearly) unchanged since ``previous`` keeps
    its code; new grids take fresh numbers after the community's highest, in reading
    order, so a retired code is never given to a different grid.

    ``previous`` is (codes, community codes, polygons in metres) of the earlier version.
    """
    if previous is None:
        return assign_codes(community_codes, metric_polygons, scheme, tops)
    prev_codes, prev_comm, prev_geoms = previous
    order = reading_order(community_codes, metric_polygons, scheme.row_height_m, tops)
    out: list[str | None] = [None] * len(metric_polygons)
    tree = shapely.STRtree(prev_geoms)
    new_idx, old_idx = tree.query(metric_polygons, predicate="intersects")
    same = community_codes[new_idx] == prev_comm[old_idx]
    new_idx, old_idx = new_idx[same], old_idx[same]
    inter = shapely.area(shapely.intersection(metric_polygons[new_idx], prev_geoms[old_idx]))
    union = shapely.area(metric_polygons[new_idx]) + shapely.area(prev_geoms[old_idx]) - inter
    iou = np.where(union > 0, inter / union, 0.0)
    taken: set[int] = set()
    for k in np.lexsort((old_idx, new_idx, -iou)):
        if iou[k] < MATCH_IOU:
            break
        i, j = int(new_idx[k]), int(old_idx[k])
        if out[i] is None and j not in taken:
            out[i] = str(prev_codes[j])
            taken.add(j)
    digits = scheme.sequence_digits
    highest: dict[str, int] = {}
    for code, comm in zip(prev_codes, prev_comm, strict=True):
        tail = str(code)[-digits:]
        if str(code).startswith(f"{scheme.prefix}{comm}") and tail.isdigit():
            highest[str(comm)] = max(highest.get(str(comm), 0), int(tail))
    for i in sorted(range(len(out)), key=lambda k: (str(community_codes[k]), order[k])):
        if out[i] is None:
            comm = str(community_codes[i])
            highest[comm] = highest.get(comm, 0) + 1
            out[i] = scheme.code(comm, highest[comm])
    return [str(c) for c in out]
