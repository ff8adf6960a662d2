"""What a review reads: one version's grids and the base layers it is judged against, in
the city's metric CRS, with the measures every check shares computed once."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import NDArray

from gridgis import crs, measures
from gridgis.merge.engine import StreetNetwork, metric_buildings, metric_compounds
from gridgis.merge.units import Buildings, Compounds, polygonal
from gridgis.settings import Settings
from gridgis.store.base import LayerInfo, Store, VersionInfo


def _metric(frame: gpd.GeoDataFrame, epsg: int) -> NDArray[np.object_]:
    if len(frame) == 0:
        return np.array([], dtype=object)
    return crs.to_metric(frame.geometry.to_numpy(), epsg)


def made_from(info: VersionInfo) -> str | None:
    """The version ``info`` was made from: the one a merge kept codes of
    (``previous_version``), or the one a proposal was applied to (``from``)."""
    name = info.params.get("previous_version") or info.params.get("from")
    return name if isinstance(name, str) else None


def _first_ancestor(store: Store, info: VersionInfo) -> str | None:
    """The first version of the line ``info`` was made from (by merges with
    ``previous_version``, proposals applied ``from``), if it is still stored."""
    known = {v.name: v for v in store.list_versions()}
    seen = {info.name}
    root = None
    name = made_from(info)
    while name is not None and name in known and name not in seen:
        seen.add(name)
        root = name
        name = made_from(known[name])
    return root


@dataclass
class ReviewContext:
    """A version and its city. ``grid_m`` and ``community_m`` are in metres."""

    version: VersionInfo
    grids: gpd.GeoDataFrame
    grid_m: NDArray[np.object_]
    community_codes: NDArray[np.object_]
    community_m: NDArray[np.object_]
    buildings: Buildings
    compounds: Compounds
    streets_frame: gpd.GeoDataFrame
    layers: list[LayerInfo]
    settings: Settings
    #: Codes of the first version of the line this one comes from (merges that kept codes,
    #: proposals applied): codes appended since follow the highest, not reading order.
    previous_codes: frozenset[str] = frozenset()
    #: Grids stored invalid, with GEOS's reason; ``grid_m`` holds them made valid, so no
    #: overlay of the other checks fails on them.
    invalid: dict[int, str] = field(default_factory=dict)

    @classmethod
    def load(cls, store: Store, version: str, settings: Settings) -> ReviewContext:
        epsg = settings.metric_epsg
        info = store.get_version(version)
        grids = store.read_grids(version)
        communities = store.read_base_layer("communities")
        root = _first_ancestor(store, info)
        previous_codes = (
            frozenset(store.read_grids(root)["code"].astype(str)) if root else frozenset()
        )
        grid_m = _metric(grids, epsg)
        bad = np.flatnonzero(~shapely.is_valid(grid_m)) if len(grid_m) else np.zeros(0, int)
        invalid = dict(
            zip(bad.tolist(), shapely.is_valid_reason(grid_m[bad]).tolist(), strict=True)
        )
        if len(bad):
            grid_m = grid_m.copy()
            grid_m[bad] = polygonal(shapely.make_valid(grid_m[bad]))
        return cls(
            version=info,
            grids=grids,
            grid_m=grid_m,
            community_codes=communities["code"].to_numpy(dtype=object),
            community_m=_metric(communities, epsg),
            buildings=metric_buildings(
                store.read_base_layer("buildings", ["households", "population"]), epsg
            ),
            compounds=metric_compounds(store.read_base_layer("compounds"), epsg),
            streets_frame=store.read_base_layer("streets"),
            layers=store.list_layers(),
            settings=settings,
            previous_codes=previous_codes,
            invalid=invalid,
        )

    # --- what every check may need, computed once ------------------------------------------
    @cached_property
    def street_network(self) -> StreetNetwork:
        """Streets that cut blocks, and roads inside compounds, as the merge takes them."""
        return StreetNetwork(self.streets_frame, self.settings.metric_epsg)

    @cached_property
    def streets(self) -> NDArray[np.object_]:
        """Every street, lane, river, railway and internal road, in metres."""
        return np.concatenate([self.street_network.lines, self.street_network.internal])

    @cached_property
    def guides(self) -> list[NDArray[np.object_]]:
        """What a border may follow within 5 m: streets, rivers, railways, compound walls."""
        return [self.streets, shapely.boundary(self.compounds.geometry)]

    def off_street(self, lines: NDArray[np.object_], step: float) -> NDArray[np.float64]:
        """How much of each line follows no street, wall, river or railway."""
        return measures.off_street_length(
            lines, self.guides, step=step, buildings=self.buildings.geometry
        )

    @cached_property
    def codes(self) -> NDArray[np.object_]:
        return self.grids["code"].to_numpy(dtype=object).astype(str).astype(object)

    @cached_property
    def community_of(self) -> NDArray[np.object_]:
        return self.grids["community_code"].fillna("").to_numpy(dtype=object)

    @cached_property
    def community_index(self) -> NDArray[np.int64]:
        """Each grid's community as an index into ``community_m``, -1 when unknown."""
        lookup = {str(c): i for i, c in enumerate(self.community_codes)}
        return np.array([lookup.get(str(c), -1) for c in self.community_of], dtype=np.int64)

    @cached_property
    def nested(self) -> NDArray[np.bool_]:
        """Whether each grid lies inside its community (grown by a centimetre, for the
        rounding of a stored border); a grid of no known community is not."""
        idx = self.community_index
        known = idx >= 0
        out = np.zeros(len(self.grid_m), dtype=bool)
        if known.any():
            grown = shapely.buffer(self.community_m, 0.01)
            out[known] = shapely.covers(grown[idx[known]], self.grid_m[known])
        return out

    @cached_property
    def comprehensive(self) -> NDArray[np.bool_]:
        return np.asarray(self.grids["kind"].to_numpy() != "专属", dtype=bool)

    @cached_property
    def building_owner(self) -> NDArray[np.int64]:
        return measures.building_owner(self.grid_m, self.buildings.points)

    @cached_property
    def households(self) -> NDArray[np.int64]:
        """Households per grid from today's buildings (the stored figure may be stale)."""
        return measures.sum_by_owner(
            self.building_owner, self.buildings.households, len(self.grid_m)
        )

    @cached_property
    def population(self) -> NDArray[np.int64]:
        return measures.sum_by_owner(
            self.building_owner, self.buildings.population, len(self.grid_m)
        )

    @cached_property
    def tree(self) -> shapely.STRtree:
        return shapely.STRtree(self.grid_m)

    def to_lonlat(self, geoms: NDArray[np.object_]) -> NDArray[np.object_]:
        if len(geoms) == 0:
            return np.array([], dtype=object)
        return crs.from_metric(np.asarray(geoms, dtype=object), self.settings.metric_epsg)

    @cached_property
    def grid_points(self) -> NDArray[np.object_]:
        """A point inside each grid (lon/lat): where a finding about a whole grid is."""
        return shapely.point_on_surface(self.grids.geometry.to_numpy())
