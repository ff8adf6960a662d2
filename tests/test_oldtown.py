"""The old town (老城区): perimeter blocks as real city centres have them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import shapely
from shapely.geometry import Polygon

from gridgis.samplecity.departments import draw_all
from gridgis.samplecity.generate import SCALES, build_model
from gridgis.samplecity.model import CityModel
from gridgis.samplecity.oldtown import PerimeterBlock, perimeter_block, rebuild_old_town
from gridgis.samplecity.writer import read_layouts

OPTIONS = [
    {},
    {"gate": False, "arcade": True},
    {"inner_ring": False, "arcade": True},
    {"gate": True, "dead_end": False, "inner_ring": False},
]
BLOCKS = [
    (seed, kw, block)
    for seed in range(6)
    for kw in OPTIONS
    for block in ((150.0, 130.0), shapely.affinity.rotate(shapely.box(0, 0, 160, 125), 17))
]


def _blocks() -> list[PerimeterBlock]:
    out = []
    for seed, kw, block in BLOCKS:
        pb = perimeter_block(block, seed=seed, **kw)  # type: ignore[arg-type]
        assert pb is not None
        out.append(pb)
    return out


@pytest.fixture(scope="module")
def blocks() -> list[PerimeterBlock]:
    return _blocks()


def _pairs(geoms: list[Polygon]) -> tuple[np.ndarray, np.ndarray]:
    arr = np.array(geoms, dtype=object)
    i, j = shapely.STRtree(arr).query(arr, predicate="intersects")
    keep = i < j
    return arr[i[keep]], arr[j[keep]]


def test_buildings_touch_along_party_walls_but_never_overlap(blocks: list[PerimeterBlock]) -> None:
    for pb in blocks:
        a, b = _pairs(pb.buildings)
        assert (shapely.area(shapely.intersection(a, b)) < 0.01).all()
        walls = shapely.length(shapely.intersection(a, b))
        # The ring stands wall to wall: most front buildings share a wall of ≥ 10 m.
        front = pb.roles.count("front")
        assert (walls >= 10.0).sum() >= front - 3


def test_every_block_keeps_an_open_courtyard(blocks: list[PerimeterBlock]) -> None:
    for pb in blocks:
        built = shapely.union_all(pb.buildings)
        assert pb.courtyard.area > 400
        open_space = pb.courtyard.difference(built)
        assert open_space.area > 0.5 * pb.courtyard.area
        holes = sum(len(p.interiors) for p in shapely.get_parts(built))
        assert holes >= 1 or pb.through_alleys or pb.dead_ends  # closed ring, or a passage


def test_gate_buildings_span_their_alley(blocks: list[PerimeterBlock]) -> None:
    gated = [pb for pb in blocks if pb.through_alleys]
    assert len(gated) >= len(blocks) // 3
    for pb in blocks:
        for g in pb.gates:
            under = max(
                line.intersection(pb.buildings[g]).length
                for line in pb.through_alleys + pb.dead_ends
            )
            assert under > 5.0  # the alley runs through the footprint, not along its edge
        for line in pb.through_alleys:
            # A through alley crosses the block: it splits the block's face in two.
            faces = shapely.polygonize(
                shapely.get_parts(shapely.union_all([pb.block.exterior, line]))
            )
            assert len(shapely.get_parts(faces)) == 2
            hit = [b for b in pb.buildings if line.intersection(b).length > 0.5]
            assert len(hit) == 1  # under the gate building, through a passage on the far side


def test_dead_end_alleys_close_nothing(blocks: list[PerimeterBlock]) -> None:
    dead = [line for pb in blocks for line in pb.dead_ends]
    assert len(dead) >= len(blocks) // 2
    for pb in blocks:
        for line in pb.dead_ends:
            faces = shapely.polygonize(
                shapely.get_parts(shapely.union_all([pb.block.exterior, line]))
            )
            assert len(shapely.get_parts(faces)) == 1
            assert not shapely.union_all(pb.buildings).covers(shapely.get_point(line, -1))


def test_arcades_pass_under_part_of_a_lane(blocks: list[PerimeterBlock]) -> None:
    arcaded = [pb for pb in blocks if pb.arcade_lanes]
    assert arcaded
    for pb in arcaded:
        assert len(pb.arcades) >= 2
        lane = pb.arcade_lanes[0]
        under = shapely.union_all([pb.buildings[i] for i in pb.arcades])
        share = lane.intersection(under).length / lane.length
        assert 0.3 < share < 1.0


def test_households_are_those_of_a_dense_old_town(blocks: list[PerimeterBlock]) -> None:
    for pb in blocks:
        assert 600 <= pb.total_households <= 1200
        assert pb.households.min() >= 8 and pb.households.max() <= 60
        assert ((pb.floors >= 4) & (pb.floors <= 7)).all()
        # No flat under 42 m² on average: the floor area holds the households.
        front = np.array(pb.roles) == "front"
        area = shapely.area(np.array(pb.buildings, dtype=object)) * (pb.floors - front)
        assert area.sum() / pb.total_households >= 42.0


def test_footprints_are_street_front_buildings() -> None:
    pb = perimeter_block((150.0, 130.0), seed=3, depth=13.0, inner_ring=False)
    assert pb is not None
    front = [b for b, r in zip(pb.buildings, pb.roles, strict=True) if r == "front"]
    along_street = [b for b in front if b.exterior.distance(pb.frontage.exterior) < 1e-6]
    assert len(along_street) == len(front)
    widths = []
    for b in front:
        rect = shapely.oriented_envelope(b)
        xy = np.asarray(rect.exterior.coords)[:3]
        widths.append(sorted(np.hypot(*np.diff(xy, axis=0).T)))
    short = np.array([w[0] for w in widths])
    assert np.isclose(short.min(), 13.0, atol=0.5)  # 13 m deep from the street
    assert max(w[1] for w in widths) <= 13.0 + 45.0 + 13.0  # corner buildings are L-shaped


def test_too_small_a_block_gets_none() -> None:
    assert perimeter_block((40.0, 40.0), seed=0) is None


@pytest.fixture(scope="module")
def rebuilt() -> tuple[CityModel, CityModel, list[str]]:
    rng = np.random.default_rng(7)
    model = build_model(SCALES["small"], rng, 4544)
    layers = draw_all(rng, model)
    codes = ("510603001001", "510603001003")
    before = CityModel(model.specs, model.urban, model.filled, model.rural)
    city, _ = rebuild_old_town(model, layers, codes, np.random.default_rng(1))
    return before, city, list(codes)


def test_old_town_in_a_city_keeps_the_rest(rebuilt: tuple[CityModel, CityModel, list[str]]) -> None:
    before, city, codes = rebuilt
    assert {c for c, kind in city.layouts.items() if kind == "perimeter"} == set(codes)
    assert set(city.layouts.values()) == {"slab", "perimeter", "village"}
    kept = [c for c in before.filled.compounds if c.community not in codes]
    assert [c for c in city.filled.compounds if c.community not in codes] == kept
    rest = {c.id for c in kept}
    assert [b for b in before.filled.buildings if b.compound in rest] == [
        b for b in city.filled.buildings if b.compound in rest
    ]


def test_old_town_in_a_city_is_perimeter_blocks(
    rebuilt: tuple[CityModel, CityModel, list[str]],
) -> None:
    _, city, codes = rebuilt
    mine = [c for c in city.filled.compounds if c.community in codes]
    blocks = [c for c in mine if c.style == "perimeter"]
    assert any(c.walled for c in blocks) and any(not c.walled for c in blocks)
    by_compound: dict[str, list[int]] = {}
    geoms = {b.id: b.geometry for b in city.filled.buildings}
    for b in city.filled.buildings:
        by_compound.setdefault(b.compound, []).append(b.households)
    for c in blocks:
        assert 600 <= sum(by_compound[c.id]) <= 1200
        assert max(by_compound[c.id]) <= 500
    old = [b for b in city.filled.buildings if b.compound in {c.id for c in mine}]
    left, right = _pairs([geoms[x.id] for x in old])
    assert (shapely.area(shapely.intersection(left, right)) < 0.01).all()
    walls = {c.id: c.geometry for c in blocks if c.walled}
    assert all(geoms[x.id].within(walls[x.compound]) for x in old if x.compound in walls)
    # Its alleys are in the street layer: some pass under buildings, some stop short.
    area = shapely.union_all([city.urban.communities[c] for c in codes])
    lanes = [
        s.geometry
        for s in city.urban.streets
        if s.klass == "lane" and s.geometry.within(area.buffer(1))
    ]
    lines = np.array(lanes, dtype=object)
    footprints = shapely.union_all([geoms[x.id] for x in old])
    assert (shapely.length(shapely.intersection(lines, footprints)) > 5).sum() >= 3


def test_small_scale_has_no_old_town(sample_dir: Path) -> None:
    assert SCALES["small"].old_town == () and SCALES["city"].old_town
    layouts = read_layouts(sample_dir)
    assert set(layouts.values()) == {"slab", "village"}
    assert sum(kind == "village" for kind in layouts.values()) == 1


def test_compound_names_are_never_given_twice() -> None:
    # The old town renames its communities' compounds after the rest of the city has
    # taken thousands of names, numbered ones among them, and after its own old ones
    # were dropped: a count that meets a name still in use must move on.
    import numpy as np

    from gridgis.samplecity.names import compound_name

    rng = np.random.default_rng(0)
    used: set[str] = set()
    first = [compound_name(rng, used) for _ in range(3000)]
    used -= set(first[:200])  # the old town's compounds, dropped before it is drawn
    later = [compound_name(rng, used) for _ in range(500)]
    assert len(set(later)) == len(later)
    assert not set(first[200:]) & set(later)
