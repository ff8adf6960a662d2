"""Compounds, buildings, households and the standard address base inside the blocks."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry import LineString, Point, Polygon

from gridgis.samplecity.layout import Layout, Street, axis_frame
from gridgis.samplecity.names import (
    GOVERNMENT,
    HOSPITALS,
    INDUSTRY,
    SCHOOLS,
    compound_name,
)

# Building styles: (floors range, units, households per floor per unit, footprint L×D,
# row spacing, share of residential compounds).
STYLES: dict[str, tuple[tuple[int, int], int, int, tuple[float, float], float, float]] = {
    "multi": ((5, 7), 3, 2, (45.0, 12.0), 30.0, 0.50),
    "mid": ((11, 18), 2, 2, (32.0, 15.0), 42.0, 0.25),
    "high": ((26, 33), 2, 4, (34.0, 18.0), 58.0, 0.19),
    "tower": ((32, 34), 3, 4, (42.0, 22.0), 62.0, 0.06),
}
DEDICATED_KINDS = ("school", "hospital", "government", "industrial")
MIN_COMPOUND_M2 = 3_000.0
STREET_SETBACK_M = 8.0  # street centreline to compound wall


@dataclass
class Compound:
    id: str
    name: str
    kind: str  # residential | school | hospital | government | industrial
    community: str
    block: int
    cell: Polygon  # the compound's share of its block, out to street centrelines
    geometry: Polygon  # inside the walls
    style: str = ""
    # False: street-front houses with no compound polygon (the old town's open blocks);
    # kept as a compound here only so that departments see their block as a unit.
    walled: bool = True


@dataclass
class Building:
    id: str
    compound: str
    name: str
    floors: int
    units: int
    households: int
    population: int
    geometry: Polygon


@dataclass
class Address:
    road: str
    door_number: str
    compound: str
    building: str
    unit: str
    community: str
    point: Point


@dataclass
class Filled:
    compounds: list[Compound] = field(default_factory=list)
    buildings: list[Building] = field(default_factory=list)
    addresses: list[Address] = field(default_factory=list)
    roads: list[Street] = field(default_factory=list)  # inside compounds


def _split_cells(rng: np.random.Generator, poly: Polygon, parts: int) -> list[Polygon]:
    """Cut a block across its long axis into ``parts`` cells (compound walls)."""
    if parts <= 1:
        return [poly]
    angle, origin = axis_frame(poly)
    local = shapely.affinity.rotate(poly, -angle, origin=origin)
    minx, miny, maxx, maxy = local.bounds
    cuts = np.sort(rng.uniform(0.8, 1.2, parts))
    edges = minx + np.concatenate([[0.0], np.cumsum(cuts) / cuts.sum()]) * (maxx - minx)
    cells = []
    for a, b in itertools.pairwise(edges):
        piece = local.intersection(shapely.box(a, miny - 1, b, maxy + 1))
        piece = max(shapely.get_parts(piece), key=lambda g: g.area) if not piece.is_empty else None
        if piece is not None and piece.area > 500:
            cells.append(shapely.affinity.rotate(piece, angle, origin=origin))
    return cells


def _choose_dedicated(
    rng: np.random.Generator, layout: Layout, cells: list[tuple[int, Polygon]]
) -> dict[int, str]:
    """Pick cells for schools, hospitals and government units; one industrial block."""
    by_community: dict[str, list[int]] = {}
    for i, (b, _) in enumerate(cells):
        by_community.setdefault(layout.blocks[b].community, []).append(i)
    chosen: dict[int, str] = {}
    codes = sorted(by_community)
    for n, code in enumerate(codes):
        pool = [i for i in by_community[code] if i not in chosen]
        for kind, p in (("school", 0.7), ("hospital", 0.3), ("government", 0.25)):
            forced = n == DEDICATED_KINDS.index(kind) % max(1, len(codes))
            if pool and (forced or rng.random() < p):
                pick = pool.pop(int(rng.integers(len(pool))))
                chosen[pick] = kind
    # The industrial park takes a whole block at the edge of the last community.
    last = codes[-1]
    blocks = sorted({cells[i][0] for i in by_community[last]})
    park_block = blocks[-1]
    for i, (b, _) in enumerate(cells):
        if b == park_block:
            chosen[i] = "industrial"
    return chosen


def make_compounds(
    rng: np.random.Generator,
    layout: Layout,
    first_id: int,
    compound_area: tuple[float, float],
    used: set[str],
) -> list[Compound]:
    cells: list[tuple[int, Polygon]] = []
    for b, block in enumerate(layout.blocks):
        target = rng.uniform(*compound_area)
        parts = max(1, round(block.geometry.area / target))
        cells.extend((b, cell) for cell in _split_cells(rng, block.geometry, parts))
    dedicated = _choose_dedicated(rng, layout, cells)
    # The industrial park is one walled compound, not one per cell.
    park = [i for i, kind in dedicated.items() if kind == "industrial"]
    if len(park) > 1:
        cells[park[0]] = (cells[park[0]][0], shapely.union_all([cells[i][1] for i in park]))
        for i in park[1:]:
            cells[i] = (cells[i][0], Polygon())
    compounds: list[Compound] = []
    # Walls stand back from the street centrelines; neighbours in a block share a wall.
    insets = [
        block.geometry.buffer(-STREET_SETBACK_M, join_style="mitre") for block in layout.blocks
    ]
    for i, (b, cell) in enumerate(cells):
        kind = dedicated.get(i, "residential")
        inner = cell.intersection(insets[b])
        if inner.is_empty or inner.area < MIN_COMPOUND_M2:
            continue  # a scrap of land between streets: open space, not a compound
        inner = max(shapely.get_parts(inner), key=lambda g: g.area)
        community = layout.blocks[b].community
        name = _unit_name(rng, kind, used) if kind != "residential" else compound_name(rng, used)
        style = _pick_style(rng) if kind == "residential" else ""
        compounds.append(
            Compound(
                f"XQ{first_id + len(compounds):05d}", name, kind, community, b, cell, inner, style
            )
        )
    return compounds


def _unit_name(rng: np.random.Generator, kind: str, used: set[str]) -> str:
    pool = {
        "school": SCHOOLS,
        "hospital": HOSPITALS,
        "government": GOVERNMENT,
        "industrial": INDUSTRY,
    }[kind]
    base = pool[int(rng.integers(len(pool)))]
    prefix = {
        "school": "德阳市",
        "hospital": "德阳市",
        "government": "旌阳区",
        "industrial": "旌阳",
    }[kind]
    for n in range(1, 10_000):
        name = f"{prefix}{base}" if n == 1 else f"{prefix}第{n}{base}"
        if kind == "government" and n > 1:
            name = f"{prefix}{base}{n}号院"
        if name not in used:
            used.add(name)
            return name
    raise RuntimeError("name pool exhausted")


def _pick_style(rng: np.random.Generator) -> str:
    names = list(STYLES)
    weights = np.array([STYLES[n][5] for n in names])
    return names[int(rng.choice(len(names), p=weights / weights.sum()))]


def make_buildings(rng: np.random.Generator, compounds: list[Compound]) -> list[Building]:
    buildings: list[Building] = []
    for comp in compounds:
        if comp.kind == "residential":
            # A narrow compound cannot take the planned towers: fall back to lower slabs.
            for style, facing_south in (
                *((s, True) for s in dict.fromkeys((comp.style, "mid", "multi"))),
                ("multi", False),
            ):
                rects = _place_rects(rng, comp, style, facing_south)
                if len(rects) >= 2:
                    break
            comp.style = style
        else:
            rects = _place_rects(rng, comp, "multi")
        if comp.kind != "residential":
            for n, rect in enumerate(rects[: max(1, len(rects) // 2)], start=1):
                buildings.append(
                    Building(
                        f"{comp.id}-{n:02d}",
                        comp.id,
                        f"{n}号楼",
                        int(rng.integers(3, 8)),
                        0,
                        0,
                        0,
                        rect,
                    )
                )
            continue
        floors_range, units, per_floor, _, _, _ = STYLES[comp.style]
        for n, rect in enumerate(rects, start=1):
            floors = int(rng.integers(floors_range[0], floors_range[1] + 1))
            households = floors * units * per_floor
            # A few flats stand empty or were merged: households vary around the design.
            households = max(1, int(households * rng.uniform(0.82, 1.0)))
            population = round(households * rng.uniform(2.3, 2.9))
            buildings.append(
                Building(
                    f"{comp.id}-{n:02d}",
                    comp.id,
                    f"{n}栋",
                    floors,
                    units,
                    households,
                    population,
                    rect,
                )
            )
    return buildings


def _place_rects(
    rng: np.random.Generator, comp: Compound, style: str, facing_south: bool = True
) -> list[Polygon]:
    """Rows of buildings, numbered north→south, west→east.

    Slabs face south where they can: rows run along whichever compound axis is nearer
    east–west; a narrow strip takes its rows along its own length instead.
    """
    _, _, _, (length, depth), spacing, _ = STYLES[style]
    if comp.kind == "industrial":
        length, depth, spacing = 60.0, 30.0, 55.0
    angle, origin = axis_frame(comp.geometry)
    if facing_south:
        angle = (angle + 45.0) % 90.0 - 45.0
    local = shapely.affinity.rotate(comp.geometry, -angle, origin=origin)
    usable = local.buffer(-6.0)
    if usable.is_empty:
        return []
    minx, miny, maxx, maxy = usable.bounds
    gap = rng.uniform(10.0, 18.0)
    xs = np.arange(minx, maxx - length, length + gap)
    ys = np.arange(maxy - depth, miny, -spacing)
    # Centre the rows in the compound rather than pushing them against its north-west wall.
    if len(xs):
        xs += (maxx - (xs[-1] + length)) / 2
    if len(ys):
        ys -= (ys[-1] - miny) / 2
    if len(xs) == 0 or len(ys) == 0:
        return []
    gx, gy = np.meshgrid(xs, ys)  # rows north → south, then west → east
    boxes = shapely.box(gx.ravel(), gy.ravel(), gx.ravel() + length, gy.ravel() + depth)
    inside = boxes[shapely.within(boxes, usable)]
    return [shapely.affinity.rotate(b, angle, origin=origin) for b in inside]


def internal_roads(compounds: list[Compound], buildings: list[Building]) -> list[Street]:
    """Roads inside compounds: fire lanes between the rows of buildings, a main road
    across rows four buildings long or more, and paths between high-rise towers.

    They run wall to wall; the street layer carries them as 小区道路 (class ``internal``).
    """
    by_compound: dict[str, list[Polygon]] = {}
    for b in buildings:
        by_compound.setdefault(b.compound, []).append(b.geometry)
    roads: list[Street] = []
    for comp in compounds:
        rects = by_compound.get(comp.id, [])
        if comp.kind != "residential" or len(rects) < 2:
            continue
        angle, _ = axis_frame(rects[0])
        origin = comp.geometry.centroid
        local = [shapely.affinity.rotate(r, -angle, origin=origin) for r in rects]
        ys = np.array([r.centroid.y for r in local])
        rows = np.unique(np.round(ys / 3.0) * 3.0)[::-1]  # north → south
        minx, miny, maxx, maxy = shapely.affinity.rotate(
            comp.geometry, -angle, origin=origin
        ).bounds
        tops = {
            row: max(r.bounds[3] for r, y in zip(local, ys, strict=True) if abs(y - row) < 3)
            for row in rows
        }
        bottoms = {
            row: min(r.bounds[1] for r, y in zip(local, ys, strict=True) if abs(y - row) < 3)
            for row in rows
        }
        lines = [
            LineString(
                [
                    (minx - 5, (bottoms[rows[k]] + tops[rows[k + 1]]) / 2),
                    (maxx + 5, (bottoms[rows[k]] + tops[rows[k + 1]]) / 2),
                ]
            )
            for k in range(len(rows) - 1)
        ]
        towers = comp.style in ("high", "tower")
        for x in _column_gaps(local, every=towers):
            lines.append(LineString([(x, miny - 5), (x, maxy + 5)]))
        for n, line in enumerate(lines, start=1):
            road = shapely.affinity.rotate(line, angle, origin=origin).intersection(comp.geometry)
            if not road.is_empty and road.length > 20:
                roads.append(Street(f"{comp.name}{n}号路", "internal", _longest(road)))
    return roads


def _column_gaps(local: list[Polygon], every: bool) -> list[float]:
    """Where roads run across the rows: every gap between building columns (towers stand
    apart, with paths between them), or the gap nearest the middle of rows four or more
    buildings long."""
    spans = sorted((r.bounds[0], r.bounds[2]) for r in local)
    gaps = []
    end = spans[0][1]
    for start, stop in spans[1:]:
        if start > end + 4.0:
            gaps.append((end + start) / 2)
        end = max(end, stop)
    if every or not gaps:
        return gaps
    if len(gaps) < 3:
        return []
    middle = (spans[0][0] + end) / 2
    return [min(gaps, key=lambda x: abs(x - middle))]


def _longest(geom: shapely.Geometry) -> LineString:
    return max(
        (g for g in shapely.get_parts(geom) if g.geom_type == "LineString"), key=lambda g: g.length
    )


def make_addresses(
    compounds: list[Compound], buildings: list[Building], streets: list[Street]
) -> list[Address]:
    """One standard address per building entrance (单元), keyed to the compound's gate."""
    lines = np.array([s.geometry for s in streets], dtype=object)
    tree = shapely.STRtree(lines)
    gates = np.array([c.geometry.representative_point() for c in compounds], dtype=object)
    nearest = tree.query_nearest(gates, all_matches=False)[1]
    taken: dict[str, set[int]] = {}
    door: dict[str, tuple[str, str]] = {}
    for comp, gate, si in zip(compounds, gates, nearest, strict=True):
        street = streets[int(si)]
        line = street.geometry
        along = line.project(gate)
        ahead = line.interpolate(min(line.length, along + 1.0))
        here = line.interpolate(along)
        cross = (ahead.x - here.x) * (gate.y - here.y) - (ahead.y - here.y) * (gate.x - here.x)
        number = 2 * int(along // 25) + (1 if cross > 0 else 2)
        used = taken.setdefault(street.name, set())
        while number in used:
            number += 2
        used.add(number)
        door[comp.id] = (street.name, str(number))
    by_compound = {c.id: c for c in compounds}
    out: list[Address] = []
    for b in buildings:
        comp = by_compound[b.compound]
        road, door_number = door[comp.id]
        if b.units == 0:
            continue
        angle, origin = axis_frame(b.geometry)
        centre = b.geometry.centroid
        length = shapely.affinity.rotate(b.geometry, -angle, origin=origin).bounds
        span = length[2] - length[0]
        rad = np.radians(angle)
        for u in range(1, b.units + 1):
            offset = (u - 0.5) / b.units * span - span / 2
            point = Point(centre.x + offset * np.cos(rad), centre.y + offset * np.sin(rad))
            out.append(
                Address(road, door_number, comp.name, b.name, f"{u}单元", comp.community, point)
            )
    for comp in compounds:
        if comp.kind != "residential":
            road, door_number = door[comp.id]
            out.append(
                Address(
                    road,
                    door_number,
                    comp.name,
                    "",
                    "",
                    comp.community,
                    comp.geometry.representative_point(),
                )
            )
    return out


def fill(
    rng: np.random.Generator,
    layout: Layout,
    *,
    first_id: int = 1,
    compound_area: tuple[float, float] = (22_000.0, 48_000.0),
    used_names: set[str] | None = None,
) -> Filled:
    """Compounds, buildings and addresses of one urban lattice."""
    used = used_names if used_names is not None else set()
    compounds = make_compounds(rng, layout, first_id, compound_area, used)
    buildings = make_buildings(rng, compounds)
    addresses = make_addresses(compounds, buildings, layout.streets)
    return Filled(compounds, buildings, addresses, internal_roads(compounds, buildings))
