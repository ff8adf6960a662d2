"""The merge on city blocks as real streets have them: perimeter blocks whose buildings
stand wall to wall around a courtyard, streets through buildings, and true reasons."""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import LineString, Polygon, box

from gridgis.merge import MergeResult
from tests.test_merge_rules import City, at, metric

CODE = "510603001001"


def ring_of_buildings(
    x0: float, y0: float, size: float, depth: float, length: float, households: int
) -> list[tuple[Polygon, int]]:
    """A square perimeter block: buildings ``depth`` deep standing wall to wall (exactly
    shared edges, no gap) around an open courtyard, each about ``length`` long."""
    out: list[tuple[Polygon, int]] = []
    n = max(round((size - depth) / length), 1)
    step = (size - depth) / n
    for k in range(n):
        a, b = k * step, (k + 1) * step
        sides = (
            box(x0 + a, y0, x0 + b, y0 + depth),  # south, from the west corner
            box(x0 + size - depth, y0 + a, x0 + size, y0 + b),  # east, from the south
            box(x0 + depth + a, y0 + size - depth, x0 + depth + b, y0 + size),  # north
            box(x0, y0 + depth + a, x0 + depth, y0 + depth + b),  # west
        )
        out.extend((side, households) for side in sides)
    return out


def perimeter_city(blocks: int, households: int, length: float = 20.0) -> City:
    """``blocks`` perimeter blocks of 140 m in a row, streets between them, no compounds."""
    city = City()
    width = 160.0 * blocks
    city.communities.append((CODE, "文昌社区", box(0, 0, width, 160)))
    for k in range(1, blocks):
        city.streets.append((LineString([(160 * k, -20), (160 * k, 180)]), "street"))
    for k in range(blocks):
        city.buildings += ring_of_buildings(160 * k + 10, 10, 140, 12, length, households)
    return city


def assert_clean(result: MergeResult, city: City) -> None:
    """Exact coverage, one piece per grid, no building cut, households all counted."""
    report = result.report
    geoms = metric(result)
    assert report["buildings_cut"] == 0
    assert report["multipart_grids"] == 0
    assert report["coverage_valid"] is True
    community = at(city.communities[0][2])
    assert abs(shapely.union_all(geoms).area - community.area) < 1.0
    assert sum(shapely.area(shapely.intersection(geoms[:, None], geoms[None, :])).ravel()) < (
        community.area + 1.0
    )
    assert int(result.grids["households"].sum()) == sum(h for _, h in city.buildings)
    for building, _ in city.buildings:
        inside = shapely.area(shapely.intersection(geoms, at(building)))
        assert np.sort(inside)[-1] >= at(building).area - 0.05  # wholly in one grid


def test_a_perimeter_block_is_split_along_party_walls() -> None:
    # 24 buildings of 32 households around a courtyard: 768 households, no gap anywhere
    # for a straight cut, yet two grids of the band exist.
    city = perimeter_city(1, 32)
    result = city.merge()
    assert_clean(result, city)
    assert len(result.grids) == 2
    assert result.report["in_band_share"] == 1.0, result.report["out_of_band"]
    # The one internal border: two party walls and the façades round the courtyard.
    assert result.report["border_on_streets_share"] >= 0.85


def test_party_walls_digitised_with_hairline_gaps_still_close_the_courtyard() -> None:
    # Real layers leave a couple of centimetres between neighbours that share a wall.
    city = perimeter_city(3, 36)
    city.buildings = [(b.buffer(-0.01, join_style="mitre"), h) for b, h in city.buildings]
    result = city.merge()
    assert_clean(result, city)
    assert result.report["in_band_share"] == 1.0, result.report["out_of_band"]
    assert result.report["border_on_streets_share"] >= 0.85


def test_perimeter_blocks_of_600_to_1200_households_all_land_in_band() -> None:
    for households in (26, 36, 48):  # 24 buildings: 624, 864 and 1,152 households a block
        city = perimeter_city(3, households)
        result = city.merge()
        assert_clean(result, city)
        assert result.report["in_band_share"] == 1.0, (households, result.report["out_of_band"])
        # Grids part along streets, party walls and the façades round a courtyard.
        assert result.report["border_on_streets_share"] >= 0.85


def test_a_street_through_a_building_joins_only_that_building() -> None:
    # Two walled compounds of 400 households either side of a lane; a gate building
    # (过街楼) stands over the lane. Joining the two blocks would make one unit of 820
    # that must be cut, splitting compounds under the maximum; the lane stays the
    # border, stepping round the gate building alone.
    city = City()
    city.communities.append((CODE, "文昌社区", box(0, 0, 320, 160)))
    city.streets.append((LineString([(160, -20), (160, 180)]), "lane"))
    city.compound("W", box(10, 10, 150, 150), [200, 200])
    city.compound("E", box(170, 10, 310, 150), [200, 200])
    gate = box(145, 70, 175, 90)  # reaches 5 m into each compound's block
    city.buildings.append((gate, 20))
    result = city.merge()
    assert_clean(result, city)
    assert result.report["compounds_split"] == []
    assert sorted(result.grids["households"]) == [400, 420]
    geoms = metric(result)
    border = shapely.intersection(geoms[0].boundary, geoms[1].boundary)
    lane = at(LineString([(160, 0), (160, 160)]))
    assert shapely.length(shapely.intersection(border, lane.buffer(0.01))) > 160 - 20 - 0.1
    assert border.length < 160 + 2 * 15 + 0.1  # the detour round the gate building, no more


def test_an_arcade_lane_under_street_front_buildings_cuts_none_of_them() -> None:
    # A lane runs under the street-front buildings of one block (an arcade, 骑楼) for
    # its whole length: each building stays whole in one grid (assert_clean).
    city = perimeter_city(2, 26)
    city.streets.append((LineString([(305, -20), (305, 180)]), "lane"))
    result = city.merge()
    assert_clean(result, city)
    assert result.report["in_band_share"] == 1.0, result.report["out_of_band"]


def reasons(result: MergeResult) -> dict[int, str]:
    return {item["households"]: item["reason"] for item in result.report["out_of_band"]}


def row_of_compounds(households: list[list[int]], width: float = 200.0) -> City:
    """Walled compounds in a row, one block each, streets between them."""
    city = City()
    city.communities.append((CODE, "文昌社区", box(0, 0, width * len(households), 200)))
    for k, hh in enumerate(households):
        if k:
            city.streets.append((LineString([(width * k, -20), (width * k, 220)]), "street"))
        city.compound(f"C{k}", box(width * k + 10, 10, width * (k + 1) - 10, 190), hh)
    return city


def test_an_oversize_grid_names_the_building_that_forces_it() -> None:
    city = row_of_compounds([[200, 200]], width=200)
    city.communities = [(CODE, "文昌社区", box(0, 0, 400, 200))]
    city.streets.append((LineString([(200, -20), (200, 220)]), "street"))
    city.buildings.append((box(260, 60, 300, 100), 620))  # a tower, alone in its block
    result = city.merge()
    assert reasons(result) == {620: "one building of 620 households cannot be cut"}


def test_units_under_the_maximum_are_never_joined_past_it() -> None:
    # 280 | 260 | 480, compounds kept whole: 280 and 260 together would be one grid of
    # 540, over the maximum; they stay two grids under the minimum, each saying why.
    result = row_of_compounds([[140, 140], [130, 130], [240, 240]]).merge()
    assert result.report["over"] == 0
    assert reasons(result) == {
        280: "its neighbours are too large to share households with it",
        260: "its neighbours are too large to share households with it",
    }


def test_a_small_grid_between_large_ones_says_its_neighbours_are_too_large() -> None:
    # 480 | 100 | 480: joining either neighbour passes 500, and staying apart leaves one
    # grid outside the band either way, so the small compound stays a grid of its own.
    result = row_of_compounds([[240, 240], [50, 50], [240, 240]]).merge()
    (item,) = result.report["out_of_band"]
    assert item["households"] == 100
    assert item["reason"] == "its neighbours are too large to share households with it"


def test_households_that_no_number_of_grids_divides_are_said_so() -> None:
    result = row_of_compounds([[130, 130, 130, 130]]).merge()  # 520: 1 grid over, 2 under
    (item,) = result.report["out_of_band"]
    assert item["reason"] == "the 520 households here cannot be divided into grids of 300–500"


def test_overlapping_footprints_stay_whole() -> None:
    # Real building layers overlap: every other building of the ring reaches 1.5 m into
    # the next one. Overlapping footprints are one building to the cut.
    city = perimeter_city(1, 36)
    grown = []
    for k, (b, h) in enumerate(city.buildings):
        grown.append((b.buffer(1.5, join_style="mitre") if k % 2 else b, h))
    city.buildings = grown
    result = city.merge()
    assert result.report["buildings_cut"] == 0
    assert result.report["in_band_share"] == 1.0, result.report["out_of_band"]


def test_overlapping_footprints_over_a_lane_go_to_one_side_together() -> None:
    city = City()
    city.communities.append((CODE, "文昌社区", box(0, 0, 320, 160)))
    city.streets.append((LineString([(160, -20), (160, 180)]), "lane"))
    city.compound("W", box(10, 10, 150, 150), [200, 200])
    city.compound("E", box(170, 10, 310, 150), [200, 200])
    city.buildings += [(box(151, 70, 161, 90), 10), (box(159, 70, 169, 90), 10)]  # overlap
    result = city.merge()
    assert_clean(result, city)
    assert result.report["compounds_split"] == []


def test_the_same_blocks_give_the_same_grids_and_codes() -> None:
    city = perimeter_city(3, 36)
    first, again = city.merge(), city.merge()
    assert first.grids["code"].tolist() == again.grids["code"].tolist()
    assert shapely.to_wkb(metric(first)).tolist() == shapely.to_wkb(metric(again)).tolist()


def old_town(columns: int = 3, rows: int = 2) -> City:
    """Blocks as the sample's old town draws them (gate buildings over through alleys,
    dead ends, arcades, inner rings, courtyard buildings), streets between them."""
    from gridgis.samplecity.oldtown import perimeter_block

    w, h = 150.0, 130.0
    city = City()
    city.communities.append((CODE, "文昌社区", box(0, 0, w * columns, h * rows)))
    for c in range(1, columns):
        city.streets.append((LineString([(w * c, -20), (w * c, h * rows + 20)]), "street"))
    for r in range(1, rows):
        city.streets.append((LineString([(-20, h * r), (w * columns + 20, h * r)]), "street"))
    for k in range(columns * rows):
        x0, y0 = w * (k % columns), h * (k // columns)
        block = perimeter_block(
            box(x0, y0, x0 + w, y0 + h), seed=k, gate=k % 2 == 0, arcade=k % 3 == 1
        )
        assert block is not None
        city.buildings += list(zip(block.buildings, block.households.tolist(), strict=True))
        city.streets += [(lane, "lane") for lane in block.lanes]
    return city


def test_the_sample_old_towns_blocks_split_into_grids_of_the_band() -> None:
    city = old_town()
    result = city.merge()
    assert_clean(result, city)
    report = result.report
    assert report["in_band_share"] >= 0.9, report["out_of_band"]
    assert report["over"] == 0
    assert report["border_on_streets_share"] >= 0.85


def test_rows_of_an_old_town_in_another_order_give_the_same_grids() -> None:
    # A layer imported again gets new row ids: ties must not break on them. (At city
    # scale, shuffled rows moved 54 grids before the merge put rows in place order.)
    city = old_town(2, 2)
    first = city.merge()
    rng = np.random.default_rng(3)
    city.buildings = [city.buildings[i] for i in rng.permutation(len(city.buildings))]
    city.streets = [city.streets[i] for i in rng.permutation(len(city.streets))]
    again = city.merge()
    assert first.grids["code"].tolist() == again.grids["code"].tolist()
    assert all(
        a.symmetric_difference(b).area < 0.01
        for a, b in zip(metric(first), metric(again), strict=True)
    )


def test_an_area_cut_off_by_a_dedicated_grid_says_so() -> None:
    # A school across the middle leaves 200 households on its east side, alone.
    city = row_of_compounds([[150, 150], [0], [100, 100]])
    city.compounds = [(i, "school" if i == "C1" else k, g) for i, k, g in city.compounds]
    result = city.merge()
    assert reasons(result) == {
        200: "area between dedicated grids has 200 households, too few for a grid of 300"
    }


def test_an_annex_joins_the_tower_it_stands_against() -> None:
    # A tower of 620 households with a 20-household annex wall to wall: the annex cannot
    # be a grid of its own, so it stays with the tower (one grid over, not two out).
    city = City()
    city.communities.append((CODE, "文昌社区", box(0, 0, 100, 100)))
    city.buildings += [(box(10, 10, 60, 30), 20), (box(40, 30, 60, 90), 620)]
    result = city.merge()
    assert sorted(result.grids["households"]) == [640]
    assert reasons(result) == {640: "one building of 620 households cannot be cut"}


def test_the_hand_over_keeps_an_exact_coverage_off_the_millimetre_grid() -> None:
    city = City()
    city.communities.append((CODE, "文昌社区", box(0.0003, 0.0007, 320.0004, 160.0009)))
    city.streets.append((LineString([(160.00037, -20), (160.00041, 180)]), "lane"))
    city.compound("W", box(10.0002, 10, 150.0001, 150), [200, 200])
    city.compound("E", box(170.0006, 10, 310.0003, 150), [200, 200])
    city.buildings.append((box(145.00031, 70.00047, 175.00029, 90.00013), 20))
    result = city.merge()
    assert_clean(result, city)
    assert shapely.coverage_is_valid(metric(result))


def test_an_internal_road_under_a_building_cuts_no_building() -> None:
    # A compound of 900 households with an internal road that runs under one of its
    # buildings: the road cuts the compound, the building goes whole to one side.
    city = City()
    city.communities.append((CODE, "文昌社区", box(0, 0, 300, 200)))
    city.compound("C", box(10, 10, 290, 190), [150] * 6)
    city.streets.append((LineString([(150, -20), (150, 220)]), "internal"))
    city.buildings.append((box(140, 90, 160, 110), 30))
    result = city.merge()
    assert_clean(result, city)
    assert result.report["in_band_share"] == 1.0, result.report["out_of_band"]


def test_a_bow_tie_footprint_does_not_stop_the_merge() -> None:
    city = perimeter_city(1, 32)
    bow_tie = Polygon([(60, 60), (80, 80), (80, 60), (60, 80)])  # self-crossing
    spike = Polygon([(90, 60), (100, 60), (100, 70), (100, 90), (100, 70), (90, 70)])
    city.buildings += [(bow_tie, 10), (spike, 10)]  # a spike: a line once made valid
    result = city.merge()
    assert result.report["buildings_cut"] == 0
    assert int(result.grids["households"].sum()) == sum(h for _, h in city.buildings)


def test_a_community_in_two_parts_says_which_part_is_short() -> None:
    city = row_of_compounds([[200, 200]])
    city.communities = [
        (CODE, "文昌社区", shapely.union(box(0, 0, 200, 200), box(400, 0, 600, 200)))
    ]
    city.compound("D", box(410, 10, 590, 190), [100, 100])
    result = city.merge()
    assert reasons(result) == {
        200: "part of the community has 200 households, too few for a grid of 300"
    }


def test_a_lattice_of_touching_buildings_on_exact_coordinates_is_cut() -> None:
    # 1,600 buildings wall to wall on a 20 m lattice: their wall samples are co-circular
    # by the thousand, and GEOS once refused to union such Voronoi cells.
    from gridgis.merge.units import cut_by_territories

    n, size = 40, 20.0
    buildings = np.array(
        [
            box(i * size, j * size, (i + 1) * size, (j + 1) * size)
            for i in range(n)
            for j in range(n)
        ],
        dtype=object,
    )
    unit = box(-5, -5, n * size + 5, n * size + 5)
    pieces = cut_by_territories(
        unit, buildings, np.full(len(buildings), 20, dtype=np.int64), (300, 500), 100.0
    )
    assert abs(sum(p.area for p in pieces) - unit.area) < 1.0
    holders = shapely.STRtree(np.array(pieces, dtype=object)).query(
        shapely.point_on_surface(buildings), predicate="within"
    )
    assert np.bincount(holders[0], minlength=len(buildings)).tolist() == [1] * len(buildings)
    whole = shapely.STRtree(np.array(pieces, dtype=object)).query(buildings, predicate="within")
    assert len(np.unique(whole[0])) == len(buildings)  # no building cut
