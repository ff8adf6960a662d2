"""A deterministic sample city inside the real 旌阳区, built from real division codes.

``small`` is the old town (旌阳街道) with a neighbour from 东湖街道 and one village: a few
communities, every department layer, every defect — the demo and test set. ``city`` is
the whole district sized like Deyang in the source article: the 88 urban communities of
the six subdistricts in one core, seven market towns with their communities, and the 66
villages filling the rest of the district polygon; ten communities of 旌阳街道 in the core
are rebuilt as the old town's perimeter blocks (:mod:`gridgis.samplecity.oldtown`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import LineString, Point, Polygon

from gridgis import crs
from gridgis.divisions import CITY, PROVINCE, load_district_polygons, load_divisions
from gridgis.errors import InputError
from gridgis.samplecity.departments import DepartmentLayer, draw_all
from gridgis.samplecity.fill import Filled, fill
from gridgis.samplecity.layout import (
    CommunitySpec,
    LatticeParams,
    Names,
    Street,
    build_layout,
    wavy,
)
from gridgis.samplecity.model import CityModel
from gridgis.samplecity.oldtown import OLD_TOWN, rebuild_old_town
from gridgis.samplecity.rural import Rural, fill_villages, partition_villages

DISTRICT_CODE = "510603"  # 旌阳区
# The old town of Deyang (旌阳街道), where the urban core is centred.
URBAN_CENTRE_LONLAT = (104.3975, 31.1290)
STREET_CLASS_LABEL = {
    "arterial": "主干路",
    "street": "次干路",
    "lane": "巷道",
    "river": "河流",
    "railway": "铁路",
    "internal": "小区道路",
}
URBAN_SUBDISTRICTS = ("510603001", "510603004", "510603006", "510603009", "510603010", "510603011")


@dataclass(frozen=True)
class Scale:
    core: tuple[tuple[str, int], ...]  # (subdistrict, how many of its urban communities)
    core_columns: int
    villages: tuple[tuple[str, int], ...]  # (subdistrict, how many of its villages)
    towns: bool = False  # the market towns with their communities
    lattice: LatticeParams = field(default_factory=LatticeParams)
    compound_area: tuple[float, float] = (22_000.0, 48_000.0)
    old_town: tuple[str, ...] = ()  # communities rebuilt as perimeter blocks (老城区)


SCALES: dict[str, Scale] = {  # one entry per name in gridgis.samplecity.ScaleName
    "small": Scale(
        core=(("510603001", 3), ("510603009", 1)),
        core_columns=2,
        villages=(("510603009", 1),),
    ),
    "city": Scale(
        core=tuple((s, 99) for s in URBAN_SUBDISTRICTS),
        core_columns=10,
        villages=tuple(
            (s, 99)
            for s in (
                *URBAN_SUBDISTRICTS,
                "510603100",
                "510603101",
                "510603103",
                "510603108",
                "510603110",
                "510603111",
                "510603117",
            )
        ),
        towns=True,
        lattice=LatticeParams(block_size=(700.0, 890.0), street_spacing=300.0),
        compound_area=(12_500.0, 23_500.0),
        old_town=OLD_TOWN,
    ),
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
    service_points: gpd.GeoDataFrame  # schools and hospitals, shipped beside 卫生健康


def _specs(subdistrict: str, villages: bool, limit: int) -> list[CommunitySpec]:
    members = [c for c in load_divisions().committees_of(subdistrict) if c.is_village == villages]
    return [CommunitySpec(c.code, c.short_name, subdistrict, c.name) for c in members[:limit]]


def _crossings(rng: np.random.Generator, extent: Polygon, city: bool) -> list[Street]:
    """A river (and in the city a railway) running north–south across the core."""
    minx, miny, maxx, maxy = extent.bounds
    out = []
    x = minx + (maxx - minx) * rng.uniform(0.55, 0.7)
    river = np.array([[x, miny - 500], [x + (maxx - minx) * 0.05, maxy + 500]])
    out.append(Street("绵远河" if city else "沙河", "river", wavy(river, rng, 60.0, axis=0)))
    if city:
        x = minx + (maxx - minx) * rng.uniform(0.15, 0.25)
        rail = np.array([[x, miny - 3000], [x - 400, maxy + 3000]])
        out.append(Street("宝成铁路", "railway", LineString(rail)))
    return out


def _town_anchors(
    rng: np.random.Generator, district: Polygon, core: Polygon, count: int
) -> list[Point]:
    minx, miny, maxx, maxy = district.bounds
    inner = district.buffer(-2500)
    for gap in (6000.0, 5000.0, 4000.0, 3000.0, 2000.0):  # spread towns as far as fits
        points: list[Point] = []
        for _ in range(5000):
            p = Point(rng.uniform(minx, maxx), rng.uniform(miny, maxy))
            if (
                inner.contains(p)
                and p.distance(core) > 5000
                and all(p.distance(q) > gap for q in points)
            ):
                points.append(p)
                if len(points) == count:
                    return points
    raise RuntimeError("no room for the market towns in the district")


def build_model(scale: Scale, rng: np.random.Generator, metric_epsg: int) -> CityModel:
    names = Names.create(rng)
    tr = crs.transformer(crs.CGCS2000, metric_epsg)
    centre = tr.transform(*URBAN_CENTRE_LONLAT)
    core_specs = [s for sub, n in scale.core for s in _specs(sub, False, n)]
    specs = {s.code: s for s in core_specs}

    # A first pass fixes the core's extent, so the river can be laid across it.
    draft = build_layout(
        np.random.default_rng(0),
        centre,
        core_specs,
        scale.core_columns,
        Names.create(np.random.default_rng(0)),
        scale.lattice,
    )
    crossings = _crossings(rng, draft.extent(), scale.towns)
    urban = build_layout(
        rng, centre, core_specs, scale.core_columns, names, scale.lattice, crossings
    )
    used_names: set[str] = set()
    filled = fill(rng, urban, first_id=1, compound_area=scale.compound_area, used_names=used_names)

    district = crs.to_metric(
        load_district_polygons().set_index("code").geometry[[DISTRICT_CODE]].to_numpy(),
        metric_epsg,
    )[0]
    district = max(shapely.get_parts(district), key=lambda g: g.area)
    anchors: dict[str, tuple[float, float]] = {}
    if scale.towns:
        towns = [
            s
            for s in load_divisions().subdistricts_of(DISTRICT_CODE)
            if s.code not in URBAN_SUBDISTRICTS
        ]
        points = _town_anchors(rng, district, urban.extent(), len(towns))
        town_params = LatticeParams(block_size=(560.0, 760.0), street_spacing=280.0)
        for town, point in zip(towns, points, strict=True):
            anchors[town.code] = (point.x, point.y)
            town_specs = _specs(town.code, False, 99)
            specs.update({s.code: s for s in town_specs})
            if not town_specs:
                continue
            layout = build_layout(rng, (point.x, point.y), town_specs, 2, names, town_params)
            part = fill(
                rng,
                layout,
                first_id=len(filled.compounds) + 1,
                compound_area=scale.compound_area,
                used_names=used_names,
            )
            urban.extend(layout)
            filled.compounds.extend(part.compounds)
            filled.buildings.extend(part.buildings)
            filled.addresses.extend(part.addresses)
            filled.roads.extend(part.roads)

    village_specs = [s for sub, n in scale.villages for s in _specs(sub, True, n)]
    specs.update({s.code: s for s in village_specs})
    urban_extent = urban.extent()
    for sub in {s.subdistrict_code for s in village_specs} - set(anchors):
        # Villages of an urban subdistrict lie outward of its communities.
        members = [
            urban.communities[c]
            for c, s in specs.items()
            if s.subdistrict_code == sub and c in urban.communities
        ]
        home = shapely.union_all(members).centroid if members else urban_extent.centroid
        cx, cy = urban_extent.centroid.x, urban_extent.centroid.y
        dx, dy = home.x - cx, home.y - cy
        norm = max(np.hypot(dx, dy), 1.0)
        reach = np.sqrt(urban_extent.area) / 2 + 2500
        anchors[sub] = (cx + dx / norm * reach, cy + dy / norm * reach)
    if scale.towns:
        region = district.difference(urban_extent)
    else:
        # The small sample's village takes the strip east of the old town.
        _, miny, maxx, maxy = urban_extent.bounds
        region = shapely.box(maxx - 1, miny, maxx + 2200, maxy).difference(urban_extent)
        anchors = {s.subdistrict_code: (maxx + 1100, (miny + maxy) / 2) for s in village_specs}
    region = max(shapely.get_parts(region), key=lambda g: g.area)
    villages = partition_villages(
        rng, region, village_specs, anchors, spread=3000.0 if scale.towns else 400.0
    )
    rural = fill_villages(rng, villages, specs)
    # Country roads that run along the urban edge are the arterials already drawn there.
    edge = urban_extent.boundary.buffer(1.0)
    rural.roads = [r for r in rural.roads if r.geometry.difference(edge).length > 1.0]
    return CityModel(specs, urban, filled, rural)


def generate(scale: str = "small", seed: int = 7, metric_epsg: int = 4544) -> SampleCity:
    if scale not in SCALES:
        raise InputError(f"unknown scale {scale!r}: choose one of {', '.join(SCALES)}")
    rng = np.random.default_rng(seed)
    model = build_model(SCALES[scale], rng, metric_epsg)
    departments = draw_all(rng, model)
    if SCALES[scale].old_town:
        # The old town draws on a stream of its own and replaces what was drawn there,
        # so that the rest of the city is what it was without it.
        own = np.random.default_rng((seed, int(OLD_TOWN[0])))
        model, departments = rebuild_old_town(model, departments, SCALES[scale].old_town, own)
    return _frames(model, departments, metric_epsg)


def _frames(model: CityModel, departments: list[DepartmentLayer], epsg: int) -> SampleCity:
    def to_4490(geoms: list[shapely.Geometry | None]) -> gpd.GeoSeries:
        arr = crs.from_metric(np.array(geoms, dtype=object), epsg)
        return gpd.GeoSeries(arr, crs=crs.CGCS2000)

    communities = model.communities
    codes = sorted(communities)
    columns = {"code": codes, "name": [model.specs[c].name for c in codes]}
    if model.layouts:
        columns["layout"] = [model.layouts[c] for c in codes]
    community_frame = gpd.GeoDataFrame(columns, geometry=to_4490([communities[c] for c in codes]))
    streets = model.urban.streets + model.filled.roads + model.rural.roads
    street_frame = gpd.GeoDataFrame(
        {"名称": [s.name for s in streets], "等级": [STREET_CLASS_LABEL[s.klass] for s in streets]},
        geometry=to_4490([s.geometry for s in streets]),
    )
    compounds = [c for c in model.filled.compounds if c.walled]
    compound_frame = gpd.GeoDataFrame(
        {
            "编号": [c.id for c in compounds],
            "名称": [c.name for c in compounds],
            "类型": [c.kind for c in compounds],
        },
        geometry=to_4490([c.geometry for c in compounds]),
    )
    building_frame = _buildings(model.filled, model.rural, to_4490)
    address_frame = _addresses(model, to_4490)
    dept_frames = [
        (
            layer,
            gpd.GeoDataFrame(pd.DataFrame(layer.attributes), geometry=to_4490(layer.geometries)),
        )
        for layer in departments
    ]
    points = [c for c in compounds if c.kind in ("school", "hospital")]
    service = gpd.GeoDataFrame(
        {"名称": [c.name for c in points], "类型": [c.kind for c in points]},
        geometry=to_4490([c.geometry.representative_point() for c in points]),
    )
    return SampleCity(
        community_frame,
        street_frame,
        compound_frame,
        building_frame,
        address_frame,
        dept_frames,
        service,
    )


def _buildings(filled: Filled, rural: Rural, to_4490: object) -> gpd.GeoDataFrame:
    b, h = filled.buildings, rural.houses
    walled = {c.id for c in filled.compounds if c.walled}
    frame = pd.DataFrame(
        {
            "编号": [x.id for x in b] + [x.id for x in h],
            "名称": [x.name for x in b] + [f"{x.group}组{x.number}号" for x in h],
            "小区编号": [x.compound if x.compound in walled else None for x in b] + [None] * len(h),
            "户数": [x.households for x in b] + [x.households for x in h],
            "人口": [x.population for x in b] + [x.population for x in h],
            "层数": [x.floors for x in b] + [x.floors for x in h],
        }
    )
    geoms = to_4490([x.geometry for x in b] + [x.geometry for x in h])  # type: ignore[operator]
    return gpd.GeoDataFrame(frame, geometry=geoms)


def _addresses(model: CityModel, to_4490: object) -> gpd.GeoDataFrame:
    divisions = load_divisions()
    district = divisions.districts[DISTRICT_CODE].name
    rows, points = [], []

    def add(
        code: str, road: str, door: str, compound: str, building: str, unit: str, point: Point
    ) -> None:
        spec = model.specs[code]
        subdistrict = divisions.subdistricts[spec.subdistrict_code].name
        rows.append(
            {
                "标准地址": f"{PROVINCE}{CITY}{district}{subdistrict}{spec.name}{road}{door}号"
                f"{compound}{building}{unit}",
                "省": PROVINCE,
                "市": CITY,
                "区县": district,
                "街道": subdistrict,
                "社区": spec.name,
                "路巷": road,
                "门牌号": door,
                "小区": compound or None,
                "楼栋": building or None,
                "单元": unit or None,
            }
        )
        points.append(point)

    for a in model.filled.addresses:
        add(a.community, a.road, a.door_number, a.compound, a.building, a.unit, a.point)
    for house in model.rural.houses:
        add(
            house.village,
            f"{house.group}组",
            str(house.number),
            "",
            "",
            "",
            house.geometry.centroid,
        )
    return gpd.GeoDataFrame(pd.DataFrame(rows), geometry=to_4490(points))  # type: ignore[operator]


def layout_summary(city: SampleCity) -> dict[str, int]:
    households = city.buildings.groupby("小区编号")["户数"].sum()
    return {
        "communities": len(city.communities),
        "villages": int(city.communities["name"].str.endswith("村").sum()),
        "streets": len(city.streets),
        "compounds": len(city.compounds),
        "compounds_200_2000_households": int(households.between(200, 2000).sum()),
        "buildings": len(city.buildings),
        "households": int(city.buildings["户数"].sum()),
        "population": int(city.buildings["人口"].sum()),
        "addresses": len(city.addresses),
        "department_layers": len(city.departments),
    }
