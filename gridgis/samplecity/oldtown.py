"""The old town (老城区): perimeter blocks (街坊) of touching buildings round a courtyard.

Real city centres are what the merge finds hardest, and the lattice of walled compounds
elsewhere in the sample has none of it: buildings standing wall to wall along the street
(临街商住楼) with no gap for a straight cut, alleys (胡同/巷) that pass under gate
buildings (过街楼), covered walkways under arcades (骑楼) and short dead-end alleys. This
module builds one such block (:func:`perimeter_block`, also for tests) and lays a district
of them over chosen communities of the city (:func:`rebuild_old_town`).

Neighbouring buildings share an exact edge: the ring is cut by polygonising its outline
with the cut lines, so adjacent footprints have the very same coordinates on their party
wall and touch without overlapping.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field

import numpy as np
import shapely
import shapely.affinity
import shapely.prepared
from numpy.typing import NDArray
from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.polygon import orient
from shapely.ops import substring

from gridgis.samplecity.departments import (
    DEPARTMENTS,
    Defects,
    DepartmentLayer,
    apply_defects,
)
from gridgis.samplecity.fill import (
    MIN_COMPOUND_M2,
    STREET_SETBACK_M,
    Address,
    Building,
    Compound,
    Filled,
    _unit_name,
    make_buildings,
)
from gridgis.samplecity.layout import Layout, Street, _blocks, _longest_line, axis_frame
from gridgis.samplecity.model import CityModel
from gridgis.samplecity.names import LANES, STREETS, NamePool, compound_name
from gridgis.samplecity.rural import Rural

# Ground-floor shops on the street front: those floors hold no households.
SHOP_FLOORS = 1
HOUSEHOLDS_PER_BUILDING = (8, 60)
BLOCK_HOUSEHOLDS = (600, 1200)
# Gross floor area per household the old town may pack in: 1950s–80s danwei flats.
MIN_M2_PER_HOUSEHOLD = 42.0


@dataclass
class PerimeterBlock:
    """One perimeter block in the coordinates it was given (metres).

    ``buildings[i]`` holds ``households[i]`` households over ``floors[i]`` floors;
    ``roles[i]`` is ``front`` (the outer ring on the street), ``inner`` (a second ring) or
    ``courtyard`` (standing free inside). ``gates`` are the buildings a through alley
    passes under (过街楼), ``arcades`` those an arcade walkway runs under (骑楼). Every
    alley line reaches 0.5 m past the block's edge (the street centreline), so it nodes
    with the street the way a digitised lane does.
    """

    block: Polygon  # the face between street centrelines
    frontage: Polygon  # the building line: the ring's outer edge
    courtyard: Polygon  # the open space the ring encloses
    buildings: list[Polygon]
    households: NDArray[np.int64]
    floors: NDArray[np.int64]
    roles: list[str]
    gates: list[int] = field(default_factory=list)
    arcades: list[int] = field(default_factory=list)
    through_alleys: list[LineString] = field(default_factory=list)
    dead_ends: list[LineString] = field(default_factory=list)
    arcade_lanes: list[LineString] = field(default_factory=list)

    @property
    def lanes(self) -> list[LineString]:
        """Every 巷道 line the block brings to the street layer."""
        return [*self.through_alleys, *self.dead_ends, *self.arcade_lanes]

    @property
    def total_households(self) -> int:
        return int(self.households.sum())


@dataclass
class _Ring:
    """A ring of buildings along ``outer``, cut at arc positions along its boundary."""

    outer: Polygon  # counter-clockwise, so that the inside is on the left
    inner: Polygon
    depth: float
    line: LineString  # outer's boundary, starting at a corner
    corners: list[float]  # arc positions of the corners, ending with the perimeter
    cuts: list[list[float]]  # per side, the arc positions of party walls

    def point(self, s: float, inward: float = 0.0) -> Point:
        """The point at arc position ``s``, moved ``inward`` along the side's normal."""
        p = self.line.interpolate(s)
        a = self.line.interpolate(max(0.0, s - 0.5))
        b = self.line.interpolate(min(self.line.length, s + 0.5))
        tx, ty = b.x - a.x, b.y - a.y
        norm = float(np.hypot(tx, ty)) or 1.0
        return Point(p.x - ty / norm * inward, p.y + tx / norm * inward)


def _as_polygon(block: Polygon | tuple[float, float]) -> Polygon:
    if isinstance(block, Polygon):
        return block
    width, height = block
    return shapely.box(0.0, 0.0, width, height)


def _corners(line: LineString, max_turn: float = 25.0) -> tuple[np.ndarray, np.ndarray]:
    """Vertex indices where the boundary turns by more than ``max_turn`` degrees, and the
    interior angle there (degrees)."""
    xy = np.asarray(line.coords)[:-1]
    d_in = xy - np.roll(xy, 1, axis=0)
    d_out = np.roll(xy, -1, axis=0) - xy
    turn = np.degrees(
        np.arctan2(
            d_in[:, 0] * d_out[:, 1] - d_in[:, 1] * d_out[:, 0],
            (d_in * d_out).sum(axis=1),
        )
    )
    idx = np.flatnonzero(np.abs(turn) > max_turn)
    return idx, 180.0 - turn[idx]


def _ring(
    rng: np.random.Generator, outer: Polygon, depth: float, length: tuple[float, float]
) -> _Ring | None:
    """Party-wall positions along each side of ``outer``; None when no ring fits."""
    outer = orient(outer.simplify(0.3), 1.0)
    inner = outer.buffer(-depth, join_style="mitre")
    if not isinstance(inner, Polygon) or inner.is_empty or inner.area < 400:
        return None
    ring = outer.exterior
    idx, angles = _corners(LineString(ring.coords))
    if len(idx) < 3:
        return None
    xy = np.asarray(ring.coords)[:-1]
    xy = np.roll(xy, -int(idx[0]), axis=0)
    line = LineString(np.vstack([xy, xy[:1]]))
    seg = np.hypot(*np.diff(np.asarray(line.coords), axis=0).T)
    arc = np.concatenate([[0.0], np.cumsum(seg)])
    corner_at = [float(arc[i - idx[0]]) for i in idx] + [float(line.length)]
    # A party wall must clear the corner by the ring's depth (more at an acute corner).
    margins = [max(depth + 4.0, depth / max(np.tan(np.radians(a) / 2), 0.3) + 4.0) for a in angles]
    margins.append(margins[0])
    cuts: list[list[float]] = []
    for j in range(len(idx)):
        start, end = corner_at[j] + margins[j], corner_at[j + 1] - margins[j + 1]
        side: list[float] = []
        s = start + rng.uniform(0.0, 14.0)
        while s < end:
            side.append(s)
            s += rng.uniform(*length)
        cuts.append(side)
    return _Ring(outer, inner, depth, line, corner_at, cuts)


def _cut_ring(ring: _Ring, gaps: list[float]) -> list[Polygon]:
    """The ring's buildings: its outline polygonised with the party walls, so that
    neighbours share their wall's coordinates exactly; a gap (a passage 5 m wide)
    replaces the wall at each arc position in ``gaps``."""
    walls: list[float] = [s for side in ring.cuts for s in side if s not in gaps]
    walls += [s + d for s in gaps for d in (-2.5, 2.5)]
    lines: list[shapely.Geometry] = [ring.outer.exterior, ring.inner.exterior]
    for s in walls:
        a, b = ring.point(s, -1.0), ring.point(s, ring.depth + 1.0)
        lines.append(LineString([a, b]))
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(shapely.unary_union(lines))))
    band = ring.outer.difference(ring.inner)
    keep = shapely.within(shapely.point_on_surface(faces), band)
    pieces = list(faces[keep])
    holes = [ring.point(s, ring.depth / 2) for s in gaps]
    return [p for p in pieces if not any(p.contains(h) for h in holes)]


def _to_street(block: Polygon, coords: list[Point]) -> LineString:
    """An alley along ``coords``; its street end reaches 0.5 m past the centreline."""
    line = LineString(coords)
    piece = line.intersection(block.buffer(0.5))
    parts = [g for g in shapely.get_parts(piece) if isinstance(g, LineString)]
    return max(parts, key=lambda g: g.length) if parts else line


def _pieces_on_side(ring: _Ring, side: int) -> list[tuple[float, float]]:
    """The (start, end) arc spans of the buildings between party walls on one side."""
    walls = ring.cuts[side]
    return list(itertools.pairwise(walls))


def _courtyard_buildings(
    rng: np.random.Generator, space: Polygon, avoid: shapely.Geometry, count: int
) -> list[Polygon]:
    """Up to ``count`` free-standing slabs in rows along the courtyard's long axis, clear
    of the alleys (a crowded 大杂院 courtyard takes all that fit)."""
    angle, origin = axis_frame(space)
    local = shapely.affinity.rotate(space, -angle, origin=origin).buffer(-8.0)
    if local.is_empty:
        return []
    minx, miny, maxx, maxy = local.bounds
    length, depth = rng.uniform(18.0, 30.0), rng.uniform(10.0, 12.0)
    xs = np.arange(minx, maxx - length + 0.01, length + 12.0)
    ys = np.arange(miny, maxy - depth + 0.01, depth + 14.0)
    if len(xs) == 0 or len(ys) == 0:
        return []
    xs += (maxx - (xs[-1] + length)) / 2  # centred in the courtyard
    ys += (maxy - (ys[-1] + depth)) / 2
    gx, gy = np.meshgrid(xs, ys)
    boxes = shapely.box(gx.ravel(), gy.ravel(), gx.ravel() + length, gy.ravel() + depth)
    boxes = np.array(
        [shapely.affinity.rotate(b, angle, origin=origin) for b in boxes], dtype=object
    )
    usable = space.buffer(-8.0)
    ok = shapely.within(boxes, usable) & ~shapely.intersects(boxes, avoid.buffer(4.0))
    chosen = boxes[ok]
    if len(chosen) > count:
        chosen = chosen[np.sort(rng.choice(len(chosen), count, replace=False))]
    return list(chosen)


def _households(
    rng: np.random.Generator,
    buildings: list[Polygon],
    floors: NDArray[np.int64],
    roles: list[str],
    target: tuple[int, int],
) -> NDArray[np.int64]:
    """Households per building, in proportion to residential floor area, totalling a
    draw from ``target`` where the floor area allows (never below 42 m² a household)."""
    lo, hi = HOUSEHOLDS_PER_BUILDING
    res_floors = floors - np.where(np.array(roles) == "front", SHOP_FLOORS, 0)
    cap = shapely.area(np.array(buildings, dtype=object)) * res_floors
    goal = min(rng.uniform(*target), cap.sum() / MIN_M2_PER_HOUSEHOLD, hi * len(buildings))
    scale = goal / cap.sum()
    hh = np.zeros(len(buildings), dtype=np.int64)
    for _ in range(6):  # clipping moves the total: rescale the rest until it settles
        hh = np.clip(np.round(cap * scale), lo, hi).astype(np.int64)
        if hh.sum() == 0 or abs(int(hh.sum()) - goal) < 2:
            break
        scale *= goal / hh.sum()
    # Rounding up may have passed the floor area's limit: take the excess from the
    # fullest buildings, one household each.
    excess = int(hh.sum() - np.floor(cap.sum() / MIN_M2_PER_HOUSEHOLD))
    if excess > 0:
        fullest = np.argsort(-hh, kind="stable")[:excess]
        hh[fullest[hh[fullest] > lo]] -= 1
    return hh


def perimeter_block(
    block: Polygon | tuple[float, float] = (150.0, 130.0),
    *,
    seed: int | np.random.Generator = 0,
    setback: float = 6.0,
    depth: float | None = None,
    gate: bool = True,
    dead_end: bool = True,
    arcade: bool = False,
    inner_ring: bool | None = None,
    households: tuple[int, int] = (650, 1100),
) -> PerimeterBlock | None:
    """Build one perimeter block (街坊) inside ``block``, in its coordinates (metres).

    ``block`` is the face between street centrelines: a polygon, or ``(width, height)``
    for the box from (0, 0). The ring of touching buildings stands ``setback`` m inside
    it, ``depth`` m deep (default: drawn from 10–16 m) and cut into buildings 15–40 m
    long (L-shaped at the corners). ``gate``: a through alley enters under a gate
    building on one side and leaves through a 5 m passage on the opposite side (a second
    ring is then left out: courtyard buildings instead). ``dead_end``: an alley enters
    through a passage (or under a gate building) and stops in the courtyard.
    ``arcade``: a covered walkway (巷道) runs under the front of two or three buildings.
    ``inner_ring``: a second ring inside the courtyard (None: where it fits, or where the
    households need it). Households come to a total drawn from ``households``, 8–60 a
    building, as far as the floor area allows at 42 m² or more a household; a block under
    about 100 m a side cannot reach 600 households that way. ``seed`` is a seed or a
    ``numpy`` generator. Returns None when no ring with a courtyard fits in ``block``.
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    face = _as_polygon(block)
    depth = float(rng.uniform(10.0, 16.0)) if depth is None else depth
    outer = face.buffer(-setback, join_style="mitre")
    if not isinstance(outer, Polygon) or outer.is_empty:
        return None
    ring = _ring(rng, outer, depth, (15.0, 40.0))
    if ring is None or min(_extent(ring.inner)) < 30.0:
        return None
    sides = len(ring.cuts)
    order = [
        int(j) for j in np.argsort([-(ring.corners[j + 1] - ring.corners[j]) for j in range(sides)])
    ]
    # A second ring first, where it fits: the alleys then run in the corridor between.
    inner: _Ring | None = None
    corridor: LineString | None = None
    if inner_ring is None or inner_ring:
        gap = float(rng.uniform(12.0, 16.0))
        shrunk = ring.inner.buffer(-gap, join_style="mitre")
        if isinstance(shrunk, Polygon) and not shrunk.is_empty:
            inner = _ring(rng, shrunk, float(rng.uniform(10.0, 12.0)), (15.0, 40.0))
        if inner is not None and min(_extent(inner.inner)) < 16.0:
            inner = None
        if inner is not None:
            corridor = LineString(ring.inner.buffer(-gap / 2, join_style="mitre").exterior.coords)
    court = ring.inner if inner is None else inner.inner

    def entry(s: float) -> list[Point]:
        """From beyond the street centreline at arc position ``s`` into the courtyard (or
        the corridor between the rings)."""
        outside = ring.point(s, -setback - 3.0)
        if corridor is None:
            return [outside, ring.point(s, depth + 4.0)]
        return [outside, corridor.interpolate(corridor.project(ring.point(s, depth)))]

    gaps: list[float] = []
    gate_points: list[Point] = []
    through: list[LineString] = []
    dead: list[LineString] = []
    arcade_lanes: list[LineString] = []
    arcade_points: list[Point] = []
    used_sides: set[int] = set()

    if gate:
        a = order[0]
        b = (a + sides // 2) % sides
        spans = [p for p in _pieces_on_side(ring, a) if p[1] - p[0] >= 15.0]
        if spans and len(ring.cuts[b]) >= 3:
            g0, g1 = spans[len(spans) // 2]
            g = (g0 + g1) / 2
            mid = ring.corners[b] + (ring.corners[b + 1] - ring.corners[b]) / 2
            exit_at = min(ring.cuts[b][1:-1], key=lambda s: abs(s - mid))
            there, back = entry(g), entry(exit_at)[::-1]
            middle = (
                LineString([there[-1], back[0]])
                if corridor is None
                else _along(corridor, there[-1], back[0])
            )
            if corridor is not None or middle.within(ring.inner.buffer(-1.0)):
                gaps.append(exit_at)
                gate_points.append(ring.point(g, depth / 2))
                coords = [there[0], *map(Point, middle.coords), back[-1]]
                through.append(_to_street(face, coords))
                used_sides.update((a, b))

    if dead_end:
        free = [j for j in order if j not in used_sides and len(ring.cuts[j]) >= 3]
        if free:
            j = free[0]
            walls = ring.cuts[j][1:-1]
            s = walls[int(rng.integers(len(walls)))]
            if not gate_points and rng.random() < 0.3:
                # Under a gate building instead of through a passage.
                spans = _pieces_on_side(ring, j)
                s = (spans[0][0] + spans[0][1]) / 2
                gate_points.append(ring.point(s, depth / 2))
            else:
                gaps.append(s)
            path = entry(s)
            if corridor is None:
                reach = depth + rng.uniform(6.0, max(7.0, min(_extent(court)) * 0.35))
                path[-1] = ring.point(s, reach)
            dead.append(_to_street(face, path))
            used_sides.add(j)

    if arcade:
        free = [j for j in order if j not in used_sides and len(ring.cuts[j]) >= 4]
        if free:
            j = free[0]
            walls = ring.cuts[j]
            k = int(rng.integers(2, min(3, len(walls) - 1) + 1))
            i = int(rng.integers(0, len(walls) - k))
            s0, s1 = walls[i] + 3.0, walls[i + k] - 3.0
            front = substring(ring.line, s0, s1).offset_curve(2.5)
            path = [ring.point(s0, -setback - 3.0), *map(Point, front.coords)]
            path.append(ring.point(s1, -setback - 3.0))
            arcade_lanes.append(_to_street(face, path))
            arcade_points += [
                ring.point((walls[n] + walls[n + 1]) / 2, 1.0) for n in range(i, i + k)
            ]

    buildings = _cut_ring(ring, gaps)
    roles = ["front"] * len(buildings)
    if inner is not None:
        pieces = _cut_ring(inner, [])
        buildings += pieces
        roles += ["inner"] * len(pieces)
    lanes = shapely.union_all([*through, *dead, *arcade_lanes]) if through or dead else Point()
    extra = _courtyard_buildings(
        rng, court, lanes, int(rng.integers(2, 6)) if inner is not None else 8
    )
    buildings += extra
    roles += ["courtyard"] * len(extra)
    courtyard = court

    floors = rng.integers(4, 8, len(buildings)).astype(np.int64)
    floors[np.array(roles) == "courtyard"] = rng.integers(4, 7, roles.count("courtyard"))
    # Where the floor area falls short of the households wanted, the block was built up:
    # a storey more on every building under seven, as often as it takes.
    area = shapely.area(np.array(buildings, dtype=object))
    shops = np.where(np.array(roles) == "front", SHOP_FLOORS, 0)
    while (area * (floors - shops)).sum() < households[0] * MIN_M2_PER_HOUSEHOLD and (
        floors < 7
    ).any():
        floors = np.minimum(floors + 1, 7)
    hh = _households(rng, buildings, floors, roles, households)
    arr = np.array(buildings, dtype=object)
    gates = [int(np.flatnonzero(shapely.contains(arr, p))[0]) for p in gate_points]
    arcades = [int(np.flatnonzero(shapely.contains(arr, p))[0]) for p in arcade_points]
    return PerimeterBlock(
        face,
        ring.outer,
        courtyard,
        buildings,
        hh,
        floors,
        roles,
        gates,
        arcades,
        through,
        dead,
        arcade_lanes,
    )


def _along(ring: LineString, a: Point, b: Point) -> LineString:
    """The shorter way from ``a`` to ``b`` along a closed line."""
    length = ring.length
    s0, s1 = ring.project(a), ring.project(b)
    ahead = (s1 - s0) % length
    if ahead <= length / 2:
        parts = [substring(ring, s0, min(length, s0 + ahead))]
        if s0 + ahead > length:
            parts.append(substring(ring, 0.0, s0 + ahead - length))
    else:
        behind = length - ahead
        parts = [substring(ring, s0, max(0.0, s0 - behind))]
        if s0 - behind < 0:
            parts.append(substring(ring, length, length + s0 - behind))
    coords = [c for part in parts for c in part.coords]
    return LineString(coords)


def _extent(poly: Polygon) -> tuple[float, float]:
    """Width and length of the polygon's minimum rotated rectangle."""
    xy = np.asarray(shapely.oriented_envelope(poly).exterior.coords)[:3]
    d = np.hypot(*np.diff(xy, axis=0).T)
    return float(d.min()), float(d.max())


# --- the old town in the city ---------------------------------------------------------

# 旌阳街道's historic core round the 文庙 (Confucian temple), by its real committees.
OLD_TOWN = (
    "510603001009",  # 米市坝社区
    "510603001010",  # 西小区社区
    "510603001011",  # 丁香巷社区
    "510603001012",  # 南塔社区
    "510603001014",  # 华山南路社区
    "510603001015",  # 陕西馆社区
    "510603001016",  # 文庙社区
    "510603001017",  # 香山巷社区
    "510603001018",  # 辽河街社区
    "510603001019",  # 沙河街社区
)
# Departments whose features follow compounds or blocks: redrawn over the old town.
ATOM_DEPARTMENTS = frozenset(
    {"综治", "城管", "人社", "市场监管", "应急管理", "公安", "住建", "统计", "自然资源", "税务"}
)
# Households a city block is drawn to: the old town stays about as populous as the
# slab compounds it replaces.
CITY_BLOCK_HOUSEHOLDS = (620, 950)
BLOCK_SPACING_M = 160.0  # the most a block may be between streets
DEDICATED_SHARE = 0.2  # blocks given to a school, clinic or office compound


class _FreshNames:
    """A name pool that skips every name the rest of the city already uses."""

    def __init__(self, rng: np.random.Generator, pool: list[str], taken: set[str]) -> None:
        self._pool = NamePool(rng, pool)
        self._taken = taken

    def take(self) -> str:
        while True:
            name = self._pool.take()
            if name not in self._taken:
                self._taken.add(name)
                return name


def _grid_lines(
    rng: np.random.Generator, poly: Polygon, streets: _FreshNames, lanes: _FreshNames
) -> list[Street]:
    """Streets and lanes across a community both ways, blocks at most 160 m apart."""
    angle, origin = axis_frame(poly)
    local = shapely.affinity.rotate(poly, -angle, origin=origin)
    minx, miny, maxx, maxy = local.bounds
    out: list[Street] = []
    for axis, (lo, hi, a, b) in enumerate(((minx, maxx, miny, maxy), (miny, maxy, minx, maxx))):
        n = int(np.ceil((hi - lo) / BLOCK_SPACING_M))
        spacing = (hi - lo) / n
        for k in range(1, n):
            at = lo + k * spacing + rng.uniform(-0.06, 0.06) * spacing
            xy = [(at, a - 80), (at, b + 80)] if axis == 0 else [(a - 80, at), (b + 80, at)]
            cut = shapely.affinity.rotate(LineString(xy), angle, origin=origin)
            piece = cut.intersection(poly.buffer(0.5))
            if piece.is_empty or piece.length < 20:
                continue
            lane = rng.random() < 0.4
            name = lanes.take() if lane else streets.take()
            out.append(Street(name, "lane" if lane else "street", _longest_line(piece)))
    return out


@dataclass
class _Built:
    compounds: list[Compound] = field(default_factory=list)
    buildings: list[Building] = field(default_factory=list)
    addresses: list[Address] = field(default_factory=list)
    alleys: list[Street] = field(default_factory=list)
    blocks: int = 0  # perimeter blocks


def _doors(
    lines: list[Street], taken: set[tuple[str, str]]
) -> tuple[shapely.STRtree, list[Street], dict[tuple[str, str], None]]:
    return shapely.STRtree([s.geometry for s in lines]), lines, dict.fromkeys(taken)


def _door(
    doors: tuple[shapely.STRtree, list[Street], dict[tuple[str, str], None]], at: Point
) -> tuple[str, str]:
    """The nearest street's name and a free door number by position and side (odd
    numbers on the left going along)."""
    tree, lines, taken = doors
    street = lines[int(tree.query_nearest(at)[0])]
    line = street.geometry
    along = line.project(at)
    here = line.interpolate(along)
    ahead = line.interpolate(min(line.length, along + 1.0))
    if ahead.equals(here):
        here = line.interpolate(max(0.0, along - 1.0))
        ahead = line.interpolate(along)
    cross = (ahead.x - here.x) * (at.y - here.y) - (ahead.y - here.y) * (at.x - here.x)
    number = 2 * int(along // 10) + (1 if cross > 0 else 2)
    while (street.name, str(number)) in taken:
        number += 2
    taken[(street.name, str(number))] = None
    return street.name, str(number)


def _fill_block(
    rng: np.random.Generator,
    built: _Built,
    face: Polygon,
    code: str,
    names: tuple[_FreshNames, set[str]],
    doors: tuple[shapely.STRtree, list[Street], dict[tuple[str, str], None]],
    next_id: list[int],
) -> None:
    """One face of the old town's streets: a perimeter block (walled as one 大院, or open
    street-front houses), else a dedicated unit's compound, else open space."""
    lanes, used = names
    pb = None
    if rng.random() >= DEDICATED_SHARE and face.area > 9_000:
        pb = perimeter_block(
            face,
            seed=rng,
            setback=float(rng.uniform(5.0, 8.0)),
            gate=rng.random() < 0.35,
            dead_end=rng.random() < 0.7,
            arcade=rng.random() < 0.3,
            households=CITY_BLOCK_HOUSEHOLDS,
        )
        if pb is not None and pb.total_households < BLOCK_HOUSEHOLDS[0]:
            pb = None
    if pb is None:
        inside = face.buffer(-STREET_SETBACK_M, join_style="mitre")
        if not isinstance(inside, Polygon) or inside.area < MIN_COMPOUND_M2:
            return  # a scrap between streets: a square, no compound
        kind = ("school", "hospital", "government")[int(rng.integers(3))]
        comp = Compound(
            f"XQ{next_id[0]:05d}", _unit_name(rng, kind, used), kind, code, -1, face, inside
        )
        next_id[0] += 1
        built.compounds.append(comp)
        built.buildings.extend(make_buildings(rng, [comp]))
        road, door = _door(doors, inside.representative_point())
        built.addresses.append(
            Address(road, door, comp.name, "", "", code, inside.representative_point())
        )
        return
    built.blocks += 1
    walled = rng.random() < 0.4
    if walled:
        comp = Compound(
            f"XQ{next_id[0]:05d}",
            f"{compound_name(rng, used)[:-2]}大院",
            "residential",
            code,
            -1,
            face,
            pb.frontage.buffer(0.3, join_style="mitre"),
            "perimeter",
        )
        next_id[0] += 1
    else:
        comp = Compound(
            f"LC{next_id[1]:04d}",
            "",
            "residential",
            code,
            -1,
            face,
            pb.frontage,
            "perimeter",
            False,
        )
        next_id[1] += 1
    built.compounds.append(comp)
    gate = _door(doors, comp.geometry.representative_point()) if walled else None
    for n, (geom, hh, floors) in enumerate(
        zip(pb.buildings, pb.households, pb.floors, strict=True), start=1
    ):
        length = _extent(geom)[1]
        units = int(np.clip(round(length / 14.0), 1, 4))
        centre = geom.representative_point()
        road, door = gate if gate is not None else _door(doors, centre)
        name = f"{n}栋" if walled else f"{road}{door}号"
        built.buildings.append(
            Building(
                f"{comp.id}-{n:02d}",
                comp.id,
                name,
                int(floors),
                units,
                int(hh),
                round(int(hh) * rng.uniform(2.2, 2.8)),
                geom,
            )
        )
        for u in range(1, units + 1):
            built.addresses.append(
                Address(
                    road,
                    door,
                    comp.name,
                    name if walled else "",
                    f"{u}单元",
                    code,
                    centre,
                )
            )
    for line in pb.through_alleys + pb.dead_ends:
        built.alleys.append(Street(lanes.take(), "lane", line))
    for line in pb.arcade_lanes:
        road, _ = _door(doors, line.centroid)
        built.alleys.append(Street(f"{road}骑楼", "lane", line))


def rebuild_old_town(
    model: CityModel,
    departments: list[DepartmentLayer],
    codes: tuple[str, ...],
    rng: np.random.Generator,
) -> tuple[CityModel, list[DepartmentLayer]]:
    """The city with ``codes`` rebuilt as old town, and its department layers to match.

    Everything else stays as it was generated: the old town draws only on ``rng`` (its
    own stream), its communities keep their borders and arterials, and of the department
    layers only the features that follow the old town's compounds or blocks are redrawn.
    """
    codes = tuple(c for c in codes if c in model.urban.communities)
    area = shapely.union_all([model.urban.communities[c] for c in codes])
    zone = shapely.prepared.prep(area.buffer(1.0))

    def inside(g: shapely.Geometry) -> bool:
        return bool(zone.contains(g))

    streets = [
        s
        for s in model.urban.streets
        if s.klass not in ("street", "lane") or not inside(s.geometry)
    ]
    old_ids = {c.id for c in model.filled.compounds if c.community in codes}
    compounds = [c for c in model.filled.compounds if c.id not in old_ids]
    buildings = [b for b in model.filled.buildings if b.compound not in old_ids]
    addresses = [a for a in model.filled.addresses if a.community not in codes]
    roads = [r for r in model.filled.roads if not inside(r.geometry)]
    blocks = [b for b in model.urban.blocks if b.community not in codes]

    taken = {s.name for s in streets + roads + model.rural.roads}
    street_names = _FreshNames(rng, STREETS, taken)
    lane_names = _FreshNames(rng, LANES, taken)
    used = {c.name for c in compounds}
    grid: list[Street] = []
    for code in codes:
        grid += _grid_lines(rng, model.urban.communities[code], street_names, lane_names)
    frame = [s for s in streets if zone.intersects(s.geometry)] + grid
    doors = _doors(frame, {(a.road, a.door_number) for a in addresses})
    next_id = [max(int(c.id[2:]) for c in model.filled.compounds) + 1, 1]
    built = _Built()
    for block in _blocks({c: model.urban.communities[c] for c in codes}, frame):
        _fill_block(rng, built, block.geometry, block.community, (lane_names, used), doors, next_id)

    own = {c: model.urban.communities[c] for c in codes}
    old_blocks = _blocks(own, frame + built.alleys)
    urban = Layout(model.urban.communities, streets + grid + built.alleys, blocks + old_blocks)
    filled = Filled(
        compounds + built.compounds, buildings + built.buildings, addresses + built.addresses, roads
    )
    layouts = {c: "village" if model.specs[c].is_village else "slab" for c in model.communities}
    layouts.update(dict.fromkeys(codes, "perimeter"))
    city = CityModel(model.specs, urban, filled, model.rural, layouts)

    part = CityModel(
        model.specs,
        Layout(own, frame + built.alleys, old_blocks),
        Filled(built.compounds, built.buildings, built.addresses, []),
        Rural(),
    )
    return city, _splice(rng, departments, part, area)


def _splice(
    rng: np.random.Generator, layers: list[DepartmentLayer], part: CityModel, area: Polygon
) -> list[DepartmentLayer]:
    """Each compound- or block-following layer with its old-town features drawn anew over
    ``part``; the rest of every layer kept feature for feature."""
    by_name = {spec.department: spec for spec in DEPARTMENTS}
    prepared = shapely.prepared.prep(area)
    out = []
    for layer in layers:
        if layer.department not in ATOM_DEPARTMENTS:
            out.append(layer)
            continue
        spec = by_name[layer.department]
        keep = [
            i
            for i, (g, a) in enumerate(zip(layer.geometries, layer.attributes, strict=True))
            if g is None
            or str(a[layer.id_field]).startswith("补")
            or not prepared.contains(g.representative_point())
        ]
        geoms = [layer.geometries[i] for i in keep]
        attrs = [layer.attributes[i] for i in keep]
        ids = {a[layer.id_field] for a in attrs}
        plain = dataclasses.replace(
            spec,
            defects=Defects(offset=spec.defects.offset, wobble=spec.defects.wobble),
        )
        new_geoms, new_attrs = spec.draw(rng, part)
        broken, new_attrs = apply_defects(rng, plain, new_geoms, new_attrs)
        for a in new_attrs:
            if a[layer.id_field] in ids:
                a[layer.id_field] = f"LC{a[layer.id_field]}"
        out.append(
            dataclasses.replace(
                layer, geometries=geoms + list(broken), attributes=attrs + new_attrs
            )
        )
    return out
