"""The search box's library: a road, a community, a grid or an address, on the sample city."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely

from gridgis.address.matcher import AddressMatcher
from gridgis.crs import to_metric
from gridgis.lookup import LoadedVersion
from gridgis.search import PlaceIndex, search
from gridgis.store import SqlStore

METRIC = 4544


@pytest.fixture(scope="module")
def loaded(demo_store: SqlStore) -> LoadedVersion:
    published = demo_store.published_version()
    assert published is not None
    return LoadedVersion.load(demo_store, published)


@pytest.fixture(scope="module")
def base(demo_store: SqlStore) -> gpd.GeoDataFrame:
    return demo_store.read_base_layer("addresses")


@pytest.fixture(scope="module")
def streets(demo_store: SqlStore) -> gpd.GeoDataFrame:
    return demo_store.read_base_layer("streets")


@pytest.fixture(scope="module")
def matcher(base: gpd.GeoDataFrame) -> AddressMatcher:
    return AddressMatcher.from_frame(base)


@pytest.fixture(scope="module")
def places(loaded: LoadedVersion, matcher: AddressMatcher, streets: gpd.GeoDataFrame) -> PlaceIndex:
    return PlaceIndex.build(loaded, matcher, streets, metric_epsg=METRIC)


def door_grids(loaded: LoadedVersion, base: gpd.GeoDataFrame, road: str) -> set[str]:
    doors = base[base["road"] == road]
    codes = loaded.index.lookup(doors.geometry.x.to_numpy(), doors.geometry.y.to_numpy())
    return {c for c in codes.tolist() if c is not None}


def line_run(loaded: LoadedVersion, streets: gpd.GeoDataFrame, road: str) -> dict[str, float]:
    """Metres of the road's line within 1 m of each grid (both sides of a border street)."""
    line = to_metric(streets.loc[streets["name"] == road].geometry.to_numpy(), METRIC)
    grids = shapely.buffer(to_metric(loaded.index.geometries, METRIC), 1.0)
    runs = shapely.length(shapely.intersection(grids, shapely.union_all(line)))
    return {str(c): float(r) for c, r in zip(loaded.index.codes, runs, strict=True) if r > 0}


def test_a_road_alone_is_the_road_with_the_grids_of_its_doors_and_its_line(
    places: PlaceIndex,
    matcher: AddressMatcher,
    loaded: LoadedVersion,
    base: gpd.GeoDataFrame,
    streets: gpd.GeoDataFrame,
) -> None:
    answer = search("沙河街", places, matcher)
    assert answer.match is not None and answer.match.kind == "road"
    assert answer.match.text == "沙河街" and answer.match.score == 1.0
    grids = set(answer.match.grids)
    doors = door_grids(loaded, base, "沙河街")
    runs = line_run(loaded, streets, "沙河街")
    assert doors and doors <= grids
    assert {c for c, r in runs.items() if r > 50} <= grids  # the grids it runs along
    assert grids <= doors | set(runs)  # and nothing it does not reach
    assert answer.match.context == "玉泉社区"
    # Spelt out with its admin prefix (as the road's own record reads), still the road.
    again = search("四川省德阳市旌阳区东湖街道玉泉社区沙河街", places, matcher).match
    assert again is not None and again.kind == "road" and set(again.grids) == grids
    box = places.bounds(answer.match)
    shown = loaded.index.geometries[[loaded.positions[c] for c in grids]]
    assert box is not None and shapely.box(*box).covers(shapely.union_all(shown))


def test_a_road_without_doors_is_found_by_its_line(
    places: PlaceIndex, matcher: AddressMatcher, loaded: LoadedVersion, streets: gpd.GeoDataFrame
) -> None:
    runs = line_run(loaded, streets, "湘江路")
    answer = search("湘江路", places, matcher)
    assert answer.match is not None and answer.match.kind == "road"
    assert {c for c, r in runs.items() if r > 50} <= set(answer.match.grids) <= set(runs)
    # A cross street's end touches a grid's corner: that grid is not the road's.
    assert all(runs[c] > 10 for c in answer.match.grids)


def test_a_misspelt_road_is_a_candidate_that_is_the_road(
    places: PlaceIndex, matcher: AddressMatcher
) -> None:
    answer = search("沙和街", places, matcher)
    assert answer.match is None
    first = answer.candidates[0]
    assert (first.kind, first.text) == ("road", "沙河街") and first.grids
    assert "fuzzy" in first.flags


def test_a_community_or_village_is_the_community(
    places: PlaceIndex, matcher: AddressMatcher, loaded: LoadedVersion
) -> None:
    for text, name, score in [
        ("文昌社区", "文昌社区", 1.0),
        ("旌阳区文昌社区", "文昌社区", 1.0),
        ("文昌社區", "文昌社区", 1.0),  # traditional characters
        ("文昌", "文昌社区", 0.95),
        ("马鞍村", "马鞍村", 1.0),
    ]:
        match = search(text, places, matcher).match
        assert match is not None and match.kind == "community", text
        assert (match.text, match.score) == (name, score), text
        own = loaded.grids.loc[loaded.grids["community_name"] == name, "code"]
        assert set(match.grids) == set(own) and match.code == own.iloc[0][:12]


def test_a_grid_by_code_name_or_officer(
    places: PlaceIndex, matcher: AddressMatcher, loaded: LoadedVersion
) -> None:
    grids = loaded.grids
    row = grids.iloc[5]
    for text in (row["code"], f" {row['code']} ", row["name"]):
        match = search(text, places, matcher).match
        assert match is not None and (match.kind, match.grids) == ("grid", (row["code"],)), text
    counts = grids["officer_name"].value_counts()
    alone = counts[counts == 1].index[0]
    match = search(alone, places, matcher).match
    assert match is not None and match.kind == "grid" and "officer" in match.flags
    assert match.grids == tuple(grids.loc[grids["officer_name"] == alone, "code"])
    # An officer with several grids: every one offered, none chosen for the user.
    shared = counts[counts > 1].index[0]
    answer = search(shared, places, matcher, limit=20)
    assert answer.match is None and answer.ambiguous
    offered = {p.grids[0] for p in answer.candidates if p.kind == "grid"}
    assert offered == set(grids.loc[grids["officer_name"] == shared, "code"])


def test_an_address_finds_its_point_and_grid_as_before(
    places: PlaceIndex, matcher: AddressMatcher, loaded: LoadedVersion, base: gpd.GeoDataFrame
) -> None:
    row = base[base["building"].notna()].iloc[25]
    answer = search(str(row["address"]), places, matcher)
    assert answer.match is not None and answer.match.kind == "address"
    assert answer.match.text == row["address"] and answer.match.score == 1.0
    assert (answer.match.lon, answer.match.lat) == (row.geometry.x, row.geometry.y)
    grid = loaded.grid_at(row.geometry.x, row.geometry.y)
    assert grid is not None and answer.match.grids == (grid["code"],)
    body = places.answer_dict(answer)
    assert body["match"]["grid"] == grid and body["match"]["point"] == {
        "lon": row.geometry.x,
        "lat": row.geometry.y,
    }
    assert body["version"] == loaded.info.name


def test_nonsense_gets_candidates_each_showable_as_it_is(
    places: PlaceIndex, matcher: AddressMatcher
) -> None:
    answer = search("沙河街999号不存在小区", places, matcher)
    assert answer.match is None and not answer.ambiguous and answer.candidates
    for place in answer.candidates:
        assert place.text and place.kind == "address" and place.lon is not None
        assert place.grids  # the grid its point lies in, ready to draw
    assert search("!!!", places, matcher).candidates == []


def test_without_an_address_base_grids_communities_and_roads_are_still_found(
    loaded: LoadedVersion, streets: gpd.GeoDataFrame
) -> None:
    places = PlaceIndex.build(loaded, None, streets, metric_epsg=METRIC)
    for text, kind in [
        ("文昌社区", "community"),
        ("湘江路", "road"),
        (loaded.grids["code"][0], "grid"),
    ]:
        match = search(text, places).match
        assert match is not None and match.kind == kind, text
    assert search("沙河街37号", places).match is None
