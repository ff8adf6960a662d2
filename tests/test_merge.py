"""The merge on the sample city: the rules hold, codes are stable, the crosswalk adds up."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from gridgis import crs
from gridgis.merge import compute_merge, read_inputs
from gridgis.merge.codes import CodeScheme, assign_codes
from gridgis.settings import Settings
from gridgis.store import SqlStore


def metric(geoms: np.ndarray) -> np.ndarray:
    return crs.to_metric(np.asarray(geoms, dtype=object), 4544)


def test_published_grids_partition_each_community(demo_store: SqlStore) -> None:
    version = demo_store.published_version()
    assert version is not None
    grids = demo_store.read_grids(version.name)
    communities = demo_store.read_base_layer("communities")
    g = metric(grids.geometry.to_numpy())
    assert shapely.coverage_is_valid(g)
    for code, community in zip(communities["code"], metric(communities.geometry), strict=True):
        mine = g[grids["community_code"].to_numpy() == code]
        assert len(mine) > 0
        assert abs(shapely.area(mine).sum() - community.area) < 1.0  # m²
        assert shapely.union_all(mine).symmetric_difference(community).area < 1.0
        # nothing crosses the community border (beyond snapping noise)
        outside = shapely.area(shapely.difference(mine, community.buffer(0.05)))
        assert outside.max() < 0.01
    assert version.report["coverage_valid"] is True


def test_households_are_counted_once(demo_store: SqlStore) -> None:
    version = demo_store.published_version()
    assert version is not None
    grids = demo_store.read_grids(version.name)
    buildings = demo_store.read_base_layer("buildings")
    assert grids["households"].sum() == buildings["households"].sum()
    assert version.report["households"] == buildings["households"].sum()


def test_codes_are_15_digits_in_reading_order_and_stable(
    demo_store: SqlStore, demo_settings: Settings
) -> None:
    version = demo_store.published_version()
    assert version is not None
    grids = demo_store.read_grids(version.name)
    assert grids["code"].str.fullmatch(r"\d{15}").all()
    assert (grids["code"].str[:12] == grids["community_code"]).all()
    again = compute_merge(read_inputs(demo_store), settings=demo_settings)
    assert again.grids["code"].tolist() == grids["code"].tolist()
    assert again.grids["households"].tolist() == grids["households"].tolist()


def test_reading_order_numbers_west_to_east_then_north_to_south() -> None:
    # 2×2 squares, 300 m each: NW, NE, SW, SE must be 001, 002, 003, 004.
    squares = np.array(
        [shapely.box(x, y, x + 300, y + 300) for x, y in ((300, 0), (0, 300), (0, 0), (300, 300))],
        dtype=object,
    )
    codes = assign_codes(np.array(["510603001001"] * 4, dtype=object), squares, CodeScheme())
    assert codes == ["510603001001004", "510603001001001", "510603001001003", "510603001001002"]
    short = assign_codes(
        np.array(["510603001001"], dtype=object), squares[:1], CodeScheme(sequence_digits=2)
    )
    assert short == ["51060300100101"]


def test_the_sample_city_meets_the_rules(demo_store: SqlStore) -> None:
    version = demo_store.published_version()
    assert version is not None
    report = version.report
    assert report["coverage_valid"] is True
    assert report["in_band_share"] >= 0.95
    assert all(item["reason"] != "unexplained" for item in report["out_of_band"])
    assert report["buildings_cut"] == 0
    assert report["border_on_streets_share"] >= 0.95
    assert all(c["allowed"] for c in report["compounds_split"])
    assert report["multipart_grids"] == 0
    grids = demo_store.read_grids(version.name)
    assert set(grids["kind"]) == {"综合", "专属"}
    assert grids["officer_name"].notna().mean() > 0.9


def test_crosswalk_shares_add_up(demo_store: SqlStore) -> None:
    version = demo_store.published_version()
    assert version is not None
    walk = demo_store.read_crosswalk(version.name)
    departments = {la.name for la in demo_store.list_layers() if la.kind == "department"}
    assert set(walk["department"]) == departments
    by_grid = walk.groupby(["department", "department_grid_id"])
    household = by_grid["household_share"].sum(min_count=1).dropna()
    assert np.allclose(household, 1.0, atol=1e-6)
    area = by_grid["area_share"].sum()
    assert (area <= 1.0 + 1e-5).all() and area.median() > 0.95  # shares are rounded to 1e-6
    one = demo_store.read_crosswalk(version.name, department="城管")
    assert set(one["department"]) == {"城管"} and len(one) > 0
    assert isinstance(walk, pd.DataFrame)
