"""Grid codes: 15 digits by default (DB11/T 2157-2023), numbered in reading order.

``6 county + 3 subdistrict + 3 community`` is the community's 12-digit statistical code;
the last 3 digits number the grids inside it west→east within rows taken north→south.
Rows are bands of ``row_height_m`` metres by the grid's representative point, so that
grids side by side on the same street get consecutive numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray


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


def reading_order(
    community_codes: NDArray[np.object_], metric_polygons: NDArray[np.object_], row_height_m: float
) -> NDArray[np.int64]:
    """1-based sequence of each polygon inside its community, in reading order."""
    points = shapely.point_on_surface(metric_polygons)
    x, y = shapely.get_x(points), shapely.get_y(points)
    frame = pd.DataFrame({"community": community_codes, "x": x, "y": y})
    top = frame.groupby("community")["y"].transform("max")
    frame["row"] = np.floor((top - frame["y"]) / row_height_m).astype(int)
    frame = frame.sort_values(["community", "row", "x"], kind="stable")
    frame["seq"] = frame.groupby("community").cumcount() + 1
    return frame["seq"].sort_index().to_numpy(dtype=np.int64)


def assign_codes(
    community_codes: NDArray[np.object_], metric_polygons: NDArray[np.object_], scheme: CodeScheme
) -> list[str]:
    seq = reading_order(community_codes, metric_polygons, scheme.row_height_m)
    return [scheme.code(str(c), int(s)) for c, s in zip(community_codes, seq, strict=True)]
