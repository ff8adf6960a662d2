"""Street network, communities and blocks of an urban area, in metres (GK zone).

Arterials form a gently curved lattice whose cells are communities (community borders
run along arterial centrelines, as they do in practice); secondary streets split the
cells into blocks; lanes split some blocks further and a few stop half-way (dead ends
that close nothing, as real lanes do). A river or a railway may cross the lattice and
cut the blocks it passes through.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry import LineString, Polygon

from gridgis.samplecity.names import ARTERIALS, LANES, STREETS, NamePool, road_of_committee


@dataclass(frozen=True)
class CommunitySpec:
    code: str
    name: str  # short name, e.g. 文昌社区
    subdistrict_code: str
    full_name: str  # committee name as registered, e.g. 文昌社区居民委员会

    @property
    def is_village(self) -> bool:
        return self.name.endswith("村")


@dataclass
class Street:
    name: str
    klass: str  # arterial | street | lane | river | railway
    geometry: LineString


@dataclass
class Block:
    community: str
    geometry: Polygon


@dataclass
class Layout:
    communities: dict[str, Polygon] = field(default_factory=dict)  # code → polygon
    streets: list[Street] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)

    def extend(self, other: Layout) -> None:
        self.communities.update(other.communities)
        self.streets.extend(other.streets)
        self.blocks.extend(other.blocks)

    def extent(self) -> Polygon:
        return shapely.union_all(list(self.communities.values()))


@dataclass
class Names:
    """Road names shared by every part of the city, so that no two roads share a name."""

    arterials: NamePool
    streets: NamePool
    lanes: NamePool

    @classmethod
    def create(cls, rng: np.random.Generator) -> Names:
        return cls(NamePool(rng, ARTERIALS), NamePool(rng, STREETS), NamePool(rng, LANES))


@dataclass(frozen=True)
class LatticeParams:
    block_size: tuple[float, float] = (560.0, 820.0)  # community (superblock) edge, metres
    street_spacing: float = 330.0  # target block length along a superblock
    wave: float = 22.0  # how far arterials bend, metres


def wavy(coords: np.ndarray, rng: np.random.Generator, amplitude: float, axis: int) -> LineString:
    """Bend a straight line sideways by a smooth random wave (roads are rarely ruler-straight)."""
    line = shapely.segmentize(LineString(coords), 40.0)
    xy = shapely.get_coordinates(line)
    along = xy[:, 1 - axis]
    wave = np.zeros(len(xy))
    for _ in range(2):
        wavelength = rng.uniform(1200, 3000)
        wave += rng.uniform(0, amplitude) * np.sin(
            2 * np.pi * along / wavelength + rng.uniform(0, 6.3)
        )
    xy[:, axis] += wave
    return LineString(xy)


def faces(lines: list[LineString]) -> list[Polygon]:
    """The polygons a set of lines encloses (dangling ends enclose nothing)."""
    noded = shapely.unary_union(lines)
    return list(shapely.get_parts(shapely.polygonize(shapely.get_parts(noded))))


def _lattice_index(points: np.ndarray, edges: np.ndarray, descending: bool = False) -> np.ndarray:
    if descending:
        return np.searchsorted(-edges, -points) - 1
    return np.searchsorted(edges, points) - 1


def build_layout(
    rng: np.random.Generator,
    centre: tuple[float, float],
    specs: list[CommunitySpec],
    columns: int,
    names: Names,
    params: LatticeParams = LatticeParams(),
    crossings: list[Street] | None = None,
) -> Layout:
    """Lay ``specs`` out on a lattice ``columns`` wide, in snake order (neighbours nest).

    ``crossings`` (a river, a railway) are drawn across the lattice and cut its blocks.
    """
    columns = min(columns, len(specs))
    rows = int(np.ceil(len(specs) / columns))
    widths = rng.uniform(*params.block_size, columns)
    heights = rng.uniform(params.block_size[0] * 0.92, params.block_size[1] * 0.92, rows)
    xs = centre[0] - widths.sum() / 2 + np.concatenate([[0.0], np.cumsum(widths)])
    ys = centre[1] + heights.sum() / 2 - np.concatenate([[0.0], np.cumsum(heights)])
    overshoot = 60.0

    # Cell (row, col) of each community, snaking so that consecutive codes are neighbours.
    cells: dict[tuple[int, int], CommunitySpec] = {}
    for k, spec in enumerate(specs):
        r, c = divmod(k, columns)
        cells[(r, c if r % 2 == 0 else columns - 1 - c)] = spec

    # Committees named after a road get that road on their west (or north) side.
    wanted_x: dict[int, str] = {}
    wanted_y: dict[int, str] = {}
    for (r, c), spec in sorted(cells.items()):
        road = road_of_committee(spec.full_name)
        if road is None:
            continue
        if road.endswith("路") and c not in wanted_x:
            wanted_x[c] = road
        elif r not in wanted_y:
            wanted_y[r] = road

    arterials: list[Street] = []
    for i, x in enumerate(xs):
        coords = np.array([[x, ys[-1] - overshoot], [x, ys[0] + overshoot]])
        amp = 0.0 if i in (0, len(xs) - 1) else params.wave
        line = wavy(coords, rng, amp, axis=0)
        arterials.append(Street(names.arterials.take(wanted_x.get(i)), "arterial", line))
    for j, y in enumerate(ys):
        coords = np.array([[xs[0] - overshoot, y], [xs[-1] + overshoot, y]])
        amp = 0.0 if j in (0, len(ys) - 1) else params.wave
        line = wavy(coords, rng, amp, axis=1)
        arterials.append(Street(names.arterials.take(wanted_y.get(j)), "arterial", line))

    communities: dict[str, Polygon] = {}
    for face in faces([s.geometry for s in arterials]):
        p = face.representative_point()
        c = int(_lattice_index(np.array([p.x]), xs)[0])
        r = int(_lattice_index(np.array([p.y]), ys, descending=True)[0])
        if (r, c) in cells:
            communities[cells[(r, c)].code] = face

    extent = shapely.union_all(list(communities.values()))
    crossing_parts = [
        Street(s.name, s.klass, _longest_line(s.geometry.intersection(extent.buffer(overshoot))))
        for s in crossings or []
        if s.geometry.intersects(extent)
    ]

    secondary: list[Street] = []
    for poly in communities.values():
        secondary.extend(
            _split_lines(rng, poly, names.streets, "street", target=params.street_spacing)
        )
    streets_so_far = arterials + secondary + crossing_parts

    lanes: list[Street] = []
    for block in _blocks(communities, streets_so_far):
        roll = rng.random()
        if roll < 0.35 and block.geometry.area > 35_000:
            lanes.extend(
                _split_lines(rng, block.geometry, names.lanes, "lane", target=1e9, force=1)
            )
        elif roll < 0.5:
            lanes.append(_dead_end(rng, block.geometry, names.lanes))
    streets = streets_so_far + lanes
    return Layout(communities, streets, _blocks(communities, streets))


def axis_frame(poly: Polygon) -> tuple[float, tuple[float, float]]:
    """Angle of the polygon's long axis and its centroid: the frame cuts are made in."""
    rect = shapely.oriented_envelope(poly)
    xy = np.asarray(rect.exterior.coords)[:4]
    edges = np.diff(np.vstack([xy, xy[:1]]), axis=0)
    longest = edges[np.argmax(np.hypot(edges[:, 0], edges[:, 1]))]
    c = poly.centroid
    return float(np.degrees(np.arctan2(longest[1], longest[0]))), (c.x, c.y)


def _split_lines(
    rng: np.random.Generator,
    poly: Polygon,
    names: NamePool,
    klass: str,
    target: float,
    force: int | None = None,
) -> list[Street]:
    """Cross lines splitting ``poly`` along its long axis into parts about ``target`` long."""
    angle, origin = axis_frame(poly)
    local = shapely.affinity.rotate(poly, -angle, origin=origin)
    minx, miny, maxx, maxy = local.bounds
    length = maxx - minx
    count = force if force is not None else max(0, round(length / target) - 1)
    out: list[Street] = []
    for k in range(count):
        frac = (k + 1) / (count + 1) + rng.uniform(-0.08, 0.08)
        x = minx + frac * length
        cut = LineString([(x, miny - 80), (x, maxy + 80)])
        cut = shapely.affinity.rotate(cut, angle, origin=origin)
        piece = cut.intersection(poly.buffer(0.5))
        if piece.is_empty or piece.length < 20:
            continue
        out.append(Street(names.take(), klass, _longest_line(piece)))
    # A long superblock also gets a street across its short axis now and then.
    if klass == "street" and force is None and (maxy - miny) > 560 and rng.random() < 0.7:
        y = miny + (maxy - miny) * rng.uniform(0.4, 0.6)
        cut = shapely.affinity.rotate(
            LineString([(minx - 80, y), (maxx + 80, y)]), angle, origin=origin
        )
        piece = cut.intersection(poly.buffer(0.5))
        if not piece.is_empty:
            out.append(Street(names.take(), klass, _longest_line(piece)))
    return out


def _dead_end(rng: np.random.Generator, poly: Polygon, names: NamePool) -> Street:
    """A lane that enters a block from its edge and stops: it closes no block."""
    angle, origin = axis_frame(poly)
    local = shapely.affinity.rotate(poly, -angle, origin=origin)
    minx, miny, maxx, maxy = local.bounds
    x = minx + (maxx - minx) * rng.uniform(0.3, 0.7)
    depth = (maxy - miny) * rng.uniform(0.3, 0.55)
    stub = LineString([(x, miny - 2), (x, miny + depth)])
    stub = shapely.affinity.rotate(stub, angle, origin=origin)
    piece = stub.intersection(poly.buffer(0.5))
    return Street(names.take(), "lane", _longest_line(piece) if not piece.is_empty else stub)


def _longest_line(geom: shapely.Geometry) -> LineString:
    parts = [g for g in shapely.get_parts(geom) if isinstance(g, LineString)]
    return max(parts, key=lambda g: g.length)


def _blocks(communities: dict[str, Polygon], streets: list[Street]) -> list[Block]:
    found = faces([s.geometry for s in streets])
    codes = list(communities)
    polys = np.array([communities[c] for c in codes], dtype=object)
    tree = shapely.STRtree(polys)
    points = shapely.point_on_surface(np.array(found, dtype=object))
    face_idx, comm_idx = tree.query(points, predicate="within")
    return [
        Block(codes[int(ci)], found[int(fi)])
        for fi, ci in sorted(zip(face_idx, comm_idx, strict=True))
    ]
