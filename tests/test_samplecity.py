"""The sample-city generator: deterministic, inside 旌阳区, realistic in every layer."""

from __future__ import annotations

import filecmp
from pathlib import Path

import numpy as np
import pytest
import shapely

from gridgis import crs
from gridgis.divisions import load_district_polygons, load_divisions
from gridgis.samplecity.departments import DEPARTMENTS
from gridgis.samplecity.generate import SampleCity, generate, layout_summary
from gridgis.samplecity.layout import CommunitySpec, LatticeParams, Names, build_layout
from gridgis.samplecity.writer import DELIVERIES, write_city


@pytest.fixture(scope="module")
def small() -> SampleCity:
    return generate("small", 7)


def _same_tree(a: Path, b: Path) -> list[str]:
    cmp = filecmp.dircmp(a, b)
    different = cmp.left_only + cmp.right_only + cmp.diff_files
    for name in cmp.common_dirs:
        different += _same_tree(a / name, b / name)
    return different


def test_committed_sample_is_exactly_what_the_generator_writes(
    small: SampleCity, sample_dir: Path, tmp_path: Path
) -> None:
    write_city(small, tmp_path, seed=7, scale="small")
    assert _same_tree(tmp_path, sample_dir) == []


def test_inside_the_real_district_with_real_codes(small: SampleCity) -> None:
    district = load_district_polygons().set_index("code").geometry["510603"]
    assert shapely.within(small.communities.geometry.to_numpy(), district).all()
    committees = load_divisions().committees
    for code, name in zip(small.communities["code"], small.communities["name"], strict=True):
        assert committees[code].short_name == name
    assert small.communities["name"].str.endswith("村").sum() == 1


def test_communities_partition_their_area(small: SampleCity) -> None:
    metric = crs.to_metric(small.communities.geometry.to_numpy(), 4544)
    assert shapely.coverage_is_valid(metric)


def test_streets_compounds_buildings_and_units(small: SampleCity) -> None:
    assert set(small.streets["等级"]) >= {"主干路", "次干路", "巷道", "河流", "小区道路"}
    kinds = set(small.compounds["类型"])
    assert kinds >= {"residential", "school", "hospital", "government", "industrial"}
    assert small.compounds["名称"].is_unique
    residential = small.buildings["小区编号"].notna()
    per_compound = small.buildings[residential].groupby("小区编号")["户数"].sum()
    assert (per_compound > 0).sum() > 40
    summary = layout_summary(small)
    resident = small.compounds["类型"] == "residential"
    assert summary["compounds_200_2000_households"] > resident.sum() / 2  # most compounds
    assert (small.buildings["户数"] >= 300).any()  # high-rise towers of 300+
    # Buildings stand inside their compound's walls, never across them.
    walls = dict(zip(small.compounds["编号"], small.compounds.geometry, strict=True))
    inside = [
        shapely.within(g, walls[c])
        for c, g in zip(
            small.buildings["小区编号"][residential],
            small.buildings.geometry[residential],
            strict=True,
        )
    ]
    assert all(inside)


def test_every_residential_building_has_standard_addresses(small: SampleCity) -> None:
    names = dict(zip(small.compounds["编号"], small.compounds["名称"], strict=True))
    urban = small.buildings[(small.buildings["户数"] > 0) & small.buildings["小区编号"].notna()]
    keys = {(names[c], b) for c, b in zip(urban["小区编号"], urban["名称"], strict=True)}
    addressed = set(zip(small.addresses["小区"], small.addresses["楼栋"], strict=True))
    assert keys <= addressed
    full = small.addresses["标准地址"]
    assert full.str.match(r"^四川省德阳市旌阳区.+(街道|镇).+(社区|村).+\d+号").all()
    village = small.addresses[small.addresses["社区"].str.endswith("村")]
    assert len(village) > 0 and village["路巷"].str.contains("组").all()


def test_twenty_plus_departments_each_delivered_its_own_way(small: SampleCity) -> None:
    assert len(small.departments) == len(DEPARTMENTS) >= 20
    formats = {d.fmt for d in DELIVERIES.values()}
    assert formats >= {"shp", "zip", "geojson", "gpkg", "kml"}
    coords = {d.coords for d in DELIVERIES.values()}
    assert coords >= {"4523", "gcj02", "bd09"}
    invalid = sum(int((~frame.geometry.dropna().is_valid).sum()) for _, frame in small.departments)
    assert invalid >= 3  # self-intersections were drawn in


def test_road_names_come_from_the_committees_that_carry_them() -> None:
    specs = [
        CommunitySpec("510603006015", "泰山南路社区", "510603006", "泰山南路社区居民委员会"),
        CommunitySpec("510603006019", "蒙南路社区", "510603006", "蒙南路社区居民委员会"),
    ]
    rng = np.random.default_rng(1)
    layout = build_layout(
        rng, (450_000.0, 3_445_000.0), specs, 2, Names.create(rng), LatticeParams()
    )
    names = {s.name for s in layout.streets if s.klass == "arterial"}
    assert {"泰山南路", "蒙南路"} <= names


@pytest.mark.slow
def test_city_scale_is_sized_like_deyang() -> None:
    summary = layout_summary(generate("city", 7))
    assert 1_300_000 <= summary["households"] <= 1_500_000
    assert 2_900 <= summary["compounds"] <= 3_500
    assert summary["communities"] == 174 and summary["villages"] >= 60
