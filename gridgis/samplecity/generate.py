"""A deterministic sample city inside the real 旌阳区, built from real division codes."""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridgis import crs
from gridgis.divisions import CITY, PROVINCE, load_divisions
from gridgis.errors import InputError
from gridgis.samplecity.departments import DepartmentLayer, draw_all
from gridgis.samplecity.fill import Filled, fill
from gridgis.samplecity.layout import CommunitySpec, Layout, build_layout

DISTRICT_CODE = "510603"  # 旌阳区
# The old town of Deyang (旌阳街道), where the small sample sits.
URBAN_CENTRE_LONLAT = (104.3975, 31.1290)
STREET_CLASS_LABEL = {"arterial": "主干路", "street": "次干路", "lane": "巷道"}


@dataclass(frozen=True)
class Scale:
    subdistricts: tuple[str, ...]
    communities_per_subdistrict: int
    columns: int


SCALES = {
    "small": Scale(("510603001",), 4, 2),
}


@dataclass
class SampleCity:
    """Every layer in EPSG:4490, with field names as the source bureaus would write them."""

    communities: gpd.GeoDataFrame
    streets: gpd.GeoDataFrame
    compounds: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    addresses: gpd.GeoDataFrame
    departments: list[tuple[DepartmentLayer, gpd.GeoDataFrame]]


def community_specs(scale: Scale) -> list[CommunitySpec]:
    divisions = load_divisions()
    specs: list[CommunitySpec] = []
    for sub in scale.subdistricts:
        urban = [c for c in divisions.committees_of(sub) if not c.is_village]
        for c in urban[: scale.communities_per_subdistrict]:
            specs.append(CommunitySpec(c.code, c.short_name, sub, c.name))
    return specs


def generate(scale: str = "small", seed: int = 7, metric_epsg: int = 4544) -> SampleCity:
    if scale not in SCALES:
        raise InputError(f"unknown scale {scale!r}: choose one of {', '.join(SCALES)}")
    rng = np.random.default_rng(seed)
    specs = community_specs(SCALES[scale])
    by_code = {s.code: s for s in specs}
    tr = crs.transformer(crs.CGCS2000, metric_epsg)
    centre = tr.transform(*URBAN_CENTRE_LONLAT)
    layout = build_layout(rng, centre, specs, SCALES[scale].columns)
    filled = fill(rng, layout, prefix="XQ")
    departments = draw_all(rng, layout, filled, by_code)

    def to_4490(geoms: list[shapely.Geometry]) -> gpd.GeoSeries:
        arr = crs.from_metric(np.array(geoms, dtype=object), metric_epsg)
        return gpd.GeoSeries(arr, crs=crs.CGCS2000)

    communities = gpd.GeoDataFrame(
        {"code": list(layout.communities), "name": [by_code[c].name for c in layout.communities]},
        geometry=to_4490(list(layout.communities.values())),
    ).sort_values("code", ignore_index=True)
    streets = gpd.GeoDataFrame(
        {
            "名称": [s.name for s in layout.streets],
            "等级": [STREET_CLASS_LABEL[s.klass] for s in layout.streets],
        },
        geometry=to_4490([s.geometry for s in layout.streets]),
    )
    compounds = gpd.GeoDataFrame(
        {
            "编号": [c.id for c in filled.compounds],
            "名称": [c.name for c in filled.compounds],
            "类型": [c.kind for c in filled.compounds],
        },
        geometry=to_4490([c.geometry for c in filled.compounds]),
    )
    buildings = gpd.GeoDataFrame(
        {
            "编号": [b.id for b in filled.buildings],
            "名称": [b.name for b in filled.buildings],
            "小区编号": [b.compound for b in filled.buildings],
            "户数": [b.households for b in filled.buildings],
            "人口": [b.population for b in filled.buildings],
            "层数": [b.floors for b in filled.buildings],
        },
        geometry=to_4490([b.geometry for b in filled.buildings]),
    )
    addresses = _address_frame(filled, layout, by_code, to_4490)
    dept_frames = [
        (
            layer,
            gpd.GeoDataFrame(pd.DataFrame(layer.attributes), geometry=to_4490(layer.geometries)),
        )
        for layer in departments
    ]
    return SampleCity(communities, streets, compounds, buildings, addresses, dept_frames)


def _address_frame(
    filled: Filled, layout: Layout, specs: dict[str, CommunitySpec], to_4490: object
) -> gpd.GeoDataFrame:
    divisions = load_divisions()
    district = divisions.districts[DISTRICT_CODE].name
    rows = []
    for a in filled.addresses:
        spec = specs[a.community]
        subdistrict = divisions.subdistricts[spec.subdistrict_code].name
        full = (
            f"{PROVINCE}{CITY}{district}{subdistrict}{spec.name}{a.road}{a.door_number}号"
            f"{a.compound}{a.building}{a.unit}"
        )
        rows.append(
            {
                "标准地址": full,
                "省": PROVINCE,
                "市": CITY,
                "区县": district,
                "街道": subdistrict,
                "社区": spec.name,
                "路巷": a.road,
                "门牌号": a.door_number,
                "小区": a.compound,
                "楼栋": a.building,
                "单元": a.unit,
            }
        )
    geoms = to_4490([a.point for a in filled.addresses])  # type: ignore[operator]
    return gpd.GeoDataFrame(pd.DataFrame(rows), geometry=geoms)


def layout_summary(city: SampleCity) -> dict[str, int]:
    return {
        "communities": len(city.communities),
        "streets": len(city.streets),
        "compounds": len(city.compounds),
        "buildings": len(city.buildings),
        "households": int(city.buildings["户数"].sum()),
        "addresses": len(city.addresses),
        "department_layers": len(city.departments),
    }
