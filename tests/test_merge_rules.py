"""The merge engine, rule by rule, on small purpose-made cities drawn in metres."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString, Polygon, box

from gridgis import crs
from gridgis.merge import MergeInputs, MergeResult, compute_merge
from gridgis.settings import Settings

X0, Y0 = 440_000.0, 3_445_000.0  # near Deyang, in CGCS2000 GK CM 105E (EPSG:4544)
SETTINGS = Settings(actor="test")


def at(geom: shapely.Geometry) -> shapely.Geometry:
    return shapely.affinity.translate(geom, X0, Y0)


def to_4490(geoms: list[shapely.Geometry]) -> gpd.GeoSeries:
    arr = np.array([at(g) for g in geoms], dtype=object)
    return gpd.GeoSeries(crs.from_metric(arr, 4544), crs=4490)


@dataclass
class City:
    """A test city in local metres: add things, then merge."""

    communities: list[tuple[str, str, Polygon]] = field(default_factory=list)
    streets: list[tuple[LineString, str]] = field(default_factory=list)
    compounds: list[tuple[str, str, Polygon]] = field(default_factory=list)  # id, kind, geom
    buildings: list[tuple[Polygon, int]] = field(default_factory=list)
    departments: dict[str, list[tuple[Polygon, dict[str, Any]]]] = field(default_factory=dict)

    def compound(
        self, ident: str, geom: Polygon, households: list[int], kind: str = "residential"
    ) -> None:
        """A walled compound with one row of buildings holding ``households``."""
        self.compounds.append((ident, kind, geom))
        minx, miny, maxx, maxy = geom.buffer(-6).bounds
        width = (maxx - minx) / max(len(households), 1)
        for k, hh in enumerate(households):
            self.buildings.append(
                (box(minx + k * width + 2, miny + 2, minx + (k + 1) * width - 2, maxy - 2), hh)
            )

    def inputs(self, previous: gpd.GeoDataFrame | None = None) -> MergeInputs:
        comm = gpd.GeoDataFrame(
            {
                "code": [c for c, _, _ in self.communities],
                "name": [n for _, n, _ in self.communities],
            },
            geometry=to_4490([g for _, _, g in self.communities]),
        )
        streets = gpd.GeoDataFrame(
            {
                "name": [f"路{i}" for i in range(len(self.streets))],
                "class": [k for _, k in self.streets],
            },
            geometry=to_4490([g for g, _ in self.streets]),
        )
        compounds = gpd.GeoDataFrame(
            {
                "source_id": [i for i, _, _ in self.compounds],
                "name": [f"小区{i}" for i, _, _ in self.compounds],
                "kind": [k for _, k, _ in self.compounds],
            },
            geometry=to_4490([g for _, _, g in self.compounds]),
        )
        buildings = gpd.GeoDataFrame(
            {
                "households": [h for _, h in self.buildings],
                "population": [h * 2 for _, h in self.buildings],
            },
            geometry=to_4490([g for g, _ in self.buildings]),
        )
        departments = {}
        next_id = 1
        for name, features in self.departments.items():
            ids = list(range(next_id, next_id + len(features)))
            next_id += len(features)
            departments[name] = gpd.GeoDataFrame(
                {
                    "id": ids,
                    "source_id": [str(i) for i in ids],
                    "attributes": [a for _, a in features],
                },
                geometry=to_4490([g for g, _ in features]),
            )
        return MergeInputs(
            comm,
            departments,
            buildings,
            compounds,
            streets,
            previous,
            "previous" if previous is not None else None,
        )

    def merge(
        self, previous: gpd.GeoDataFrame | None = None, settings: Settings = SETTINGS
    ) -> MergeResult:
        return compute_merge(self.inputs(previous), settings=settings)


def metric(result: MergeResult) -> np.ndarray:
    return crs.to_metric(result.grids.geometry.to_numpy(), 4544)


def grid_of(result: MergeResult, x: float, y: float) -> str:
    hit = shapely.contains(metric(result), shapely.Point(X0 + x, Y0 + y))
    assert hit.sum() == 1
    return str(result.grids["code"].to_numpy()[hit][0])


def blocks_city(households: list[list[int]]) -> City:
    """A 3×2 grid of 200 m blocks, each holding one compound with these households."""
    city = City()
    city.communities.append(("510603001001", "文昌社区", box(0, 0, 600, 400)))
    city.streets += [
        (LineString([(200, -20), (200, 420)]), "street"),
        (LineString([(400, -20), (400, 420)]), "street"),
        (LineString([(-20, 200), (620, 200)]), "lane"),
    ]
    for row in range(2):
        for col in range(3):
            cell = box(col * 200 + 10, row * 200 + 10, col * 200 + 190, row * 200 + 190)
            city.compound(
                f"C{row}{col}",
                cell,
                households[row * 3 + col] if isinstance(households[0], list) else households,
            )
    return city


def test_partition_follows_streets_exactly() -> None:
    city = blocks_city([[150, 200]] * 6)  # 350 households a block: one grid each
    result = city.merge()
    report = result.report
    assert report["grids"] == 6 and report["in_band"] == 6
    assert report["coverage_valid"] is True
    assert report["border_on_streets_share"] == 1.0
    geoms = metric(result)
    blocks = [
        at(box(c * 200, r * 200, c * 200 + 200, r * 200 + 200)) for r in range(2) for c in range(3)
    ]
    for block in blocks:
        assert any(
            shapely.equals_exact(shapely.normalize(g), shapely.normalize(block), 1e-3)
            or g.symmetric_difference(block).area < 1e-3
            for g in geoms
        )


def test_small_compounds_join_large_ones_are_cut_between_buildings() -> None:
    city = blocks_city(
        [
            [120, 120],
            [90, 90, 90],
            [400],  # small, small, one grid
            [150, 150, 150, 150, 150, 150, 150],  # 1,050 households in one compound
            [60, 60, 60],
            [200, 180],
        ]
    )
    result = city.merge()
    report = result.report
    assert report["buildings_cut"] == 0
    assert report["in_band_share"] == 1.0, report["out_of_band"]
    assert [c["compound"] for c in report["compounds_split"]] == ["C10"]  # only the big one
    assert report["compounds_split"][0]["allowed"] is True


def test_a_compound_under_the_maximum_is_never_split() -> None:
    city = blocks_city([[250, 240]] * 6)  # 490 each: whole compounds, one grid each
    result = city.merge()
    assert result.report["compounds_split"] == []
    assert len(result.grids) == 6


def test_a_community_too_small_is_one_flagged_grid() -> None:
    city = City()
    city.communities.append(("510603009201", "马鞍村", box(0, 0, 300, 300)))
    city.compound("V1", box(20, 20, 280, 280), [60, 70, 80])
    result = city.merge()
    assert len(result.grids) == 1
    (item,) = result.report["out_of_band"]
    assert item["reason"] == "community has 210 households, too few for a grid of 300"


def test_dedicated_units_are_grids_of_their_own() -> None:
    city = blocks_city([[150, 150]] * 6)
    city.compounds = [c if c[0] != "C01" else ("C01", "school", c[2]) for c in city.compounds]
    city.buildings = [
        b if not box(210, 10, 390, 190).contains(b[0]) else (b[0], 0) for b in city.buildings
    ]
    result = city.merge()
    dedicated = result.grids[result.grids["kind"] == "专属"]
    assert len(dedicated) == 1
    assert dedicated["name"].iloc[0] == "文昌社区小区C01专属网格"
    assert grid_of(result, 300, 100) == dedicated["code"].iloc[0]
    assert result.report["dedicated"] == 1


def test_grids_are_one_piece_and_compactness_is_reported() -> None:
    result = blocks_city([[100, 110]] * 6).merge()
    assert (shapely.get_num_geometries(metric(result)) == 1).all()
    assert result.report["multipart_grids"] == 0
    assert 0.5 < result.report["compactness"]["median"] <= 1.0
    assert (result.grids["compactness"] > 0).all()


def test_merge_prefers_to_keep_department_grids_whole() -> None:
    # Four 200-household blocks in a square: pairing them north–south or east–west is
    # equally valid; a department that drew north–south pairs tips the choice.
    for pairs, partner in (("columns", (100, 300)), ("rows", (300, 100))):
        city = blocks_city([[100, 100]] * 6)
        city.communities = [("510603001001", "文昌社区", box(0, 0, 400, 400))]
        city.streets = [
            (LineString([(200, -20), (200, 420)]), "street"),
            (LineString([(-20, 200), (420, 200)]), "street"),
        ]
        keep = {"C00", "C01", "C10", "C11"}
        city.compounds = [c for c in city.compounds if c[0] in keep]
        city.buildings = [b for b in city.buildings if b[0].centroid.x < 400]
        if pairs == "columns":
            drawn = [box(0, 0, 200, 400), box(200, 0, 400, 400)]
        else:
            drawn = [box(0, 0, 400, 200), box(0, 200, 400, 400)]
        city.departments["综治"] = [(g, {"网格员": f"员{i}"}) for i, g in enumerate(drawn)]
        result = city.merge()
        assert len(result.grids) == 2
        assert grid_of(result, 100, 100) == grid_of(result, *partner)
        split = result.report["department_alignment"]["department_grids_split"]
        assert split == 0


def test_officers_come_from_the_governance_grids() -> None:
    city = blocks_city([[150, 200]] * 6)
    city.departments["综治"] = [
        (box(0, 0, 600, 400), {"网格员": "张三", "联系电话": "13800000000"})
    ]
    result = city.merge()
    assert set(result.grids["officer_name"]) == {"张三"}
    assert set(result.grids["officer_phone"]) == {"13800000000"}


def test_codes_are_stable_across_runs_and_versions() -> None:
    city = blocks_city([[150, 200]] * 6)
    first = city.merge()
    again = city.merge()
    assert first.grids["code"].tolist() == again.grids["code"].tolist()
    # One block changes (its compound doubles): the other five keep their codes.
    city.buildings = [
        (g, h * 2) if box(400, 200, 600, 400).contains(g) else (g, h) for g, h in city.buildings
    ]
    previous = first.grids.assign(community_code=first.grids["community_code"])
    later = city.merge(previous=previous)
    unchanged = [
        grid_of(first, x, y)
        for x, y in ((100, 100), (300, 100), (500, 100), (100, 300), (300, 300))
    ]
    assert [
        grid_of(later, x, y)
        for x, y in ((100, 100), (300, 100), (500, 100), (100, 300), (300, 300))
    ] == unchanged
    new_codes = set(later.grids["code"]) - set(first.grids["code"])
    assert new_codes and all(int(c[-3:]) > 6 for c in new_codes)  # fresh numbers, not reused


def test_bad_input_is_reported_and_the_merge_goes_on() -> None:
    city = blocks_city([[150, 200]] * 6)
    city.communities.append(("510603001003", "平安社区", box(580, 0, 900, 400)))  # overlaps
    city.compound("C99", box(610, 10, 890, 390), [200, 150])
    city.streets.append((LineString([(700, 50), (760, 120)]), "lane"))  # closes no block
    city.buildings.append((box(50, 50, 60, 60), 0))  # residential, no households
    city.departments["环保"] = [(box(5_000, 5_000, 5_400, 5_400), {})]  # far off
    result = city.merge()
    problems = result.report["input_problems"]
    (overlap,) = problems["overlapping_communities"]
    assert overlap["communities"] == ["510603001001", "510603001003"]
    assert overlap["given_to"] == "510603001001" and overlap["area_m2"] == pytest.approx(8000)
    assert problems["streets_not_closing_blocks"]["count"] >= 1
    assert problems["buildings_without_households"]["count"] == 1
    assert "环保" in problems["misplaced_department_layers"]
    assert result.report["coverage_valid"] is True
    assert shapely.coverage_is_valid(metric(result))


def test_empty_band_and_missing_communities_are_refused() -> None:
    from gridgis.errors import InputError

    city = blocks_city([[150, 200]] * 6)
    with pytest.raises(InputError, match="band"):
        city.merge(settings=Settings(min_households=500, max_households=300))
    empty = City()
    with pytest.raises(InputError, match="import communities first"):
        empty.merge()


def test_crosswalk_gives_area_and_household_shares() -> None:
    city = blocks_city([[150, 200]] * 6)
    city.departments["城管"] = [
        (box(0, 0, 400, 200), {"网格码": "A"}),
        (box(400, 0, 600, 400), {"网格码": "B"}),
    ]
    result = city.merge()
    walk = result.crosswalk
    a = walk[walk["department_grid_id"] == 1]
    assert len(a) == 2 and a["area_share"].sum() == pytest.approx(1.0, abs=1e-3)
    assert a["household_share"].sum() == pytest.approx(1.0)
    assert isinstance(walk, pd.DataFrame)
