"""The skeleton merge: one department's grids, cut by communities and cleaned to a partition.

This is the walking-skeleton engine (issue 1): it does not yet redraw grids along
streets or balance households; it guarantees the partition rules (no gaps, no overlaps,
nothing across a community border) so that lookups and maps are exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray

GAP_WIDTH_M = 12.0  # tracing gaps narrower than this close into a neighbour
MIN_PIECE_M2 = 2_500.0  # pieces smaller than this are slivers, not grids


@dataclass
class Piece:
    geometry: shapely.Geometry
    source: int  # index into the department layer, -1 for leftover area


def _polygonal_parts(geoms: NDArray[np.object_]) -> tuple[NDArray[np.object_], NDArray[np.int64]]:
    parts, index = shapely.get_parts(geoms, return_index=True)
    parts, index2 = shapely.get_parts(parts, return_index=True)  # collections → members
    index = index[index2]
    keep = (shapely.get_type_id(parts) == shapely.GeometryType.POLYGON) & (shapely.area(parts) > 0)
    return parts[keep], index[keep]


def _absorb(pieces: list[Piece], extra: list[shapely.Geometry]) -> list[Piece]:
    """Give each extra polygon to the piece it shares the longest border with."""
    for geom in sorted(extra, key=lambda g: -g.area):
        if not pieces:
            pieces.append(Piece(geom, -1))
            continue
        geoms = np.array([p.geometry for p in pieces], dtype=object)
        shared = shapely.length(shapely.intersection(shapely.boundary(geoms), geom.buffer(0.01)))
        # Longest shared border; a scrap touching nothing but corners goes to the nearest.
        best = (
            int(np.argmax(shared))
            if shared.max() > 0
            else int(np.argmin(shapely.distance(geoms, geom)))
        )
        pieces[best].geometry = shapely.union(pieces[best].geometry, geom)
    return pieces


def partition_community(
    community: shapely.Geometry, department: NDArray[np.object_]
) -> list[Piece]:
    """Pieces of ``community`` (metres) following ``department`` polygons, as a partition."""
    candidates = np.flatnonzero(shapely.intersects(department, community))
    if len(candidates) == 0:
        return [Piece(community, -1)]
    clipped = shapely.intersection(department[candidates], community)
    parts, owner = _polygonal_parts(clipped)
    if len(parts) == 0:
        return [Piece(community, -1)]
    cleaned = shapely.coverage_clean(parts, gap_width=GAP_WIDTH_M)
    cleaned = shapely.intersection(cleaned, community)
    pieces: list[Piece] = []
    small: list[shapely.Geometry] = []
    for geom, src in zip(cleaned, owner, strict=True):
        for part in shapely.get_parts(_polygonal_parts(np.array([geom], dtype=object))[0]):
            if part.area >= MIN_PIECE_M2:
                pieces.append(Piece(part, int(candidates[src])))
            else:
                small.append(part)
    covered = shapely.union_all([p.geometry for p in pieces] + small)
    leftover = shapely.difference(community, covered)
    extra = list(_polygonal_parts(np.array([leftover], dtype=object))[0]) + small
    pieces = _absorb(pieces, [g for g in extra if g.area > 1e-6])
    return _final_clean(pieces)


def _final_clean(pieces: list[Piece]) -> list[Piece]:
    """Snap shared edges so that the pieces form a valid coverage of the community."""
    geoms = np.array([p.geometry for p in pieces], dtype=object)
    geoms = shapely.coverage_clean(geoms, gap_width=GAP_WIDTH_M)
    out = []
    for piece, geom in zip(pieces, geoms, strict=True):
        if geom is not None and not geom.is_empty:
            out.append(Piece(shapely.make_valid(geom), piece.source))
    return out
