"""Tiles from a layer held in memory: the embedded store's equivalent of ST_AsMVT.

Like ``ST_AsMVTGeom``: clip to the tile grown by the buffer, move to tile units (y down),
snap to the integer grid keeping geometries valid, drop what collapsed, orient rings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import NDArray

from gridgis.crs import CGCS2000, transformer
from gridgis.lru import geometry_nbytes, nbytes
from gridgis.tiles.layers import TileLayer
from gridgis.tiles.mvt import encode_layer
from gridgis.tiles.tilemath import BUFFER, EXTENT, TileAddress

WEB_MERCATOR = 3857


@dataclass(frozen=True)
class TileSource:
    """One layer's features in Web Mercator with a spatial index."""

    layer: TileLayer
    geometries: NDArray[np.object_]
    properties: list[dict[str, Any]]
    ids: NDArray[np.int64] | None  # None: features without ids (layers keyed by code)
    tree: shapely.STRtree

    @property
    def nbytes(self) -> int:
        return (
            geometry_nbytes(self.geometries) + nbytes(self.properties) + 100 * len(self.geometries)
        )

    @classmethod
    def from_frame(cls, layer: TileLayer, frame: gpd.GeoDataFrame) -> TileSource:
        """``frame`` in EPSG:4490 with the layer's columns (and ``id`` if it has one)."""
        geoms = frame.geometry.to_numpy()
        to_merc = transformer(CGCS2000, WEB_MERCATOR)
        merc = shapely.transform(
            geoms, lambda xy: np.column_stack(to_merc.transform(xy[:, 0], xy[:, 1]))
        )
        columns = {name: column for name, column in layer.properties if column in frame}
        table = frame[list(columns.values())].astype(object)
        table = table.where(table.notna(), None)
        table.columns = list(columns)
        if "code" in table:
            table["code"] = [None if v is None else str(v) for v in table["code"]]
        properties = table.to_dict("records")
        ids = frame["id"].to_numpy(dtype=np.int64) if "id" in frame else None
        return cls(layer, merc, properties, ids, shapely.STRtree(merc))

    def render(self, tile: TileAddress) -> bytes:
        minx, miny, maxx, maxy = tile.mercator_bounds
        scale = EXTENT / (maxx - minx)
        pad = BUFFER / scale
        hits = np.sort(self.tree.query(shapely.box(minx - pad, miny - pad, maxx + pad, maxy + pad)))
        if len(hits) == 0:
            return b""
        clipped = shapely.clip_by_rect(
            self.geometries[hits], minx - pad, miny - pad, maxx + pad, maxy + pad
        )
        local = shapely.transform(
            clipped,
            lambda xy: np.column_stack(((xy[:, 0] - minx) * scale, (maxy - xy[:, 1]) * scale)),
        )
        snapped = shapely.set_precision(local, 1.0)
        if self.layer.geometry == "polygon":
            snapped = shapely.orient_polygons(snapped, exterior_cw=False)
        keep = ~shapely.is_empty(snapped)
        rows = hits[keep]
        return encode_layer(
            self.layer.name,
            list(snapped[keep]),
            [self.properties[i] for i in rows],
            None if self.ids is None else self.ids[rows].tolist(),
        )
