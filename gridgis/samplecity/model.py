"""The generated city in one place (metres), as the department drawers see it.

"Atoms" are the smallest areas a department ever draws a border around: a compound's
share of its block in town, a 组's share of its village in the country. Each carries its
community, subdistrict, households and a reading-order rank inside its community.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import Point, Polygon

from gridgis.samplecity.fill import Filled
from gridgis.samplecity.layout import CommunitySpec, Layout
from gridgis.samplecity.rural import Rural


@dataclass
class Atoms:
    geometry: NDArray[np.object_]
    community: NDArray[np.object_]
    subdistrict: NDArray[np.object_]
    households: NDArray[np.int64]
    kind: NDArray[np.object_]  # residential | school | … | village
    rank: NDArray[np.int64]  # reading order inside the community

    def __len__(self) -> int:
        return len(self.geometry)


@dataclass
class CityModel:
    specs: dict[str, CommunitySpec]
    urban: Layout
    filled: Filled
    rural: Rural
    atoms: Atoms = field(init=False)
    # community code → how it is built (slab | perimeter | village); empty where the
    # scale has one kind of town only, so that its files stay as they were.
    layouts: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.atoms = self._atoms()

    @property
    def communities(self) -> dict[str, Polygon]:
        return {**self.urban.communities, **self.rural.villages}

    @property
    def subdistricts(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for code in sorted(self.communities):
            out.setdefault(self.specs[code].subdistrict_code, []).append(code)
        return out

    def points_of(self, kinds: tuple[str, ...]) -> list[Point]:
        """Representative points of units of these kinds (schools, hospitals …)."""
        return [c.geometry.representative_point() for c in self.filled.compounds if c.kind in kinds]

    def _atoms(self) -> Atoms:
        households: dict[str, int] = {}
        for b in self.filled.buildings:
            households[b.compound] = households.get(b.compound, 0) + b.households
        geoms: list[Polygon] = []
        community: list[str] = []
        hh: list[int] = []
        kind: list[str] = []
        for comp in self.filled.compounds:
            geoms.append(comp.cell)
            community.append(comp.community)
            hh.append(households.get(comp.id, 0))
            kind.append(comp.kind)
        group_hh: dict[tuple[str, int], int] = {}
        for house in self.rural.houses:
            key = (house.village, house.group)
            group_hh[key] = group_hh.get(key, 0) + house.households
        for code, zones in sorted(self.rural.groups.items()):
            for group, zone in zones:
                geoms.append(zone)
                community.append(code)
                hh.append(group_hh.get((code, group), 0))
                kind.append("village")
        g = np.array(geoms, dtype=object)
        comm = np.array(community, dtype=object)
        centres = shapely.centroid(g)
        x, y = shapely.get_x(centres), shapely.get_y(centres)
        order = np.lexsort((x, -np.round(y / 150.0), comm.astype(str)))
        rank = np.empty(len(g), dtype=np.int64)
        rank[order] = np.arange(len(g))
        sub = np.array([self.specs[c].subdistrict_code for c in comm], dtype=object)
        return Atoms(g, comm, sub, np.array(hh, dtype=np.int64), np.array(kind, dtype=object), rank)
