"""A collection as the catalog names it (:class:`CollectionSpec`) and as it is served.

Reading a layer is the slow part at city scale, so a spec carries only what listing and
caching need; :class:`CollectionData` is built once per content version from the frame.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import datetime

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import NDArray

from gridgis.i18n import Text
from gridgis.lru import frame_nbytes, nbytes

Extent = tuple[float, float, float, float]


@dataclass(frozen=True)
class CollectionShape:
    """What a catalogue says of a collection without reading its features."""

    extent: Extent | None
    geometry_type: str
    properties: tuple[str, ...]


@dataclass(frozen=True)
class CollectionSpec:
    """One collection: its metadata, where its features come from, and its cache identity.

    ``slot`` names what the collection shows and ``content`` the content key of what it
    holds now (a version's or an import's), so a re-import or a replaced draft is a new
    cache entry instead of stale data.
    ``version`` is set only when the caller pinned a grid version, for links to carry it.
    The features exist from ``since`` until before ``until`` (``None``: still): a grid
    version while it is in force, a layer from its import on; a draft, with no
    ``since``, at no time.
    """

    id: str
    title: str
    description: Text
    id_field: str
    slot: str
    content: Hashable
    load: Callable[[], gpd.GeoDataFrame] = field(compare=False, repr=False)
    version: str | None = None
    item_type: str = "feature"
    since: datetime | None = None
    until: datetime | None = None
    #: Known without loading (from the import's record), or ``None``: read the data.
    shape: CollectionShape | None = field(default=None, compare=False)


@dataclass(frozen=True)
class CollectionData:
    """A collection's features ready to query: properties, string ids, a tree, the extent."""

    frame: gpd.GeoDataFrame
    id_field: str
    properties: tuple[str, ...]
    ids: NDArray[np.object_]
    tree: shapely.STRtree
    extent: Extent | None
    geometry_type: str

    @classmethod
    def build(cls, frame: gpd.GeoDataFrame, id_field: str) -> CollectionData:
        frame = frame.reset_index(drop=True)
        geoms = frame.geometry.to_numpy()
        present = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
        extent: Extent | None = None
        if present.any():
            minx, miny, maxx, maxy = shapely.total_bounds(geoms[present]).tolist()
            extent = (minx, miny, maxx, maxy)
        kinds = sorted(set(frame.geom_type[present].tolist()))
        geometry_type = "Unknown" if not kinds else kinds[0] if len(kinds) == 1 else "Geometry"
        properties = tuple(str(c) for c in frame.columns if c != frame.geometry.name)
        return cls(
            frame=frame,
            id_field=id_field,
            properties=properties,
            ids=frame[id_field].astype(str).to_numpy(dtype=object),
            tree=shapely.STRtree(geoms),
            extent=extent,
            geometry_type=geometry_type,
        )

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def shape(self) -> CollectionShape:
        return CollectionShape(self.extent, self.geometry_type, self.properties)

    @property
    def nbytes(self) -> int:
        """Memory held: the frame, the ids and the tree (about 100 bytes a node)."""
        return frame_nbytes(self.frame) + nbytes(self.ids) + 100 * len(self.frame)
