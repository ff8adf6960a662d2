"""Atomic units of a community: what comprehensive grids are assembled from.

A community is cut into blocks by every street, lane, river and railway inside it
(polygonised with the community border); each block is shared among the compounds in it
by nearest wall, so that borders run along streets or compound walls. A building that a
street runs through (a gate building, an arcade) goes whole to one side, and only it: the
street stays a border everywhere else. The pieces of one compound stay together unless
it alone exceeds the household maximum. A unit still over the maximum is cut along its
internal roads, then straight across gaps between its buildings (rows of slabs), then,
where no straight gap is left (perimeter blocks, buildings wall to wall), along the
borders of its buildings' territories: party walls, and the façades round a courtyard
that goes whole to one side. No cut ever runs through a building.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field

import numpy as np
import shapely
from numpy.typing import NDArray

from gridgis.geometry import clean_polygons
from gridgis.measures import (
    HAIR_M,
    building_owner,
    off_street_length,
    shared_border_length,
    sum_by_owner,
)

SAMPLE_M = 8.0  # spacing of wall samples when sharing a block among compounds
MIN_SHARE_M2 = 50.0  # a compound needs this much of a block to claim a share of it
SNAP_M = 1.5  # how far a street end may stop short of the street it meets
GATE_M = 20.0  # how far an internal road is carried on past the compound wall
EDGE_MIN_M = 0.5  # units touching along less than this are not neighbours
PARTY_GAP_M = 0.05  # neighbours this close stand wall to wall (a digitising hairline)
MIN_COURTYARD_M2 = 25.0  # enclosed open ground smaller than this is a gap, not a courtyard


@dataclass
class Buildings:
    """The city's buildings in metres, with their compound (or None) and households."""

    geometry: NDArray[np.object_]
    households: NDArray[np.int64]
    population: NDArray[np.int64]

    def __post_init__(self) -> None:
        self.points = shapely.point_on_surface(self.geometry)
        shapely.prepare(self.geometry)
        self.tree = shapely.STRtree(self.geometry)


@dataclass
class Compounds:
    geometry: NDArray[np.object_]
    ident: NDArray[np.object_]
    name: NDArray[np.object_]
    dedicated: NDArray[np.bool_]
    kind: NDArray[np.object_]

    def __post_init__(self) -> None:
        self.tree = shapely.STRtree(self.geometry)


@dataclass
class Atoms:
    """The units of one community, ready to be grouped into grids."""

    geometry: NDArray[np.object_]
    households: NDArray[np.int64]
    population: NDArray[np.int64]
    compound: NDArray[np.int64]  # index into Compounds, -1 for none
    dedicated: NDArray[np.bool_]
    buildings: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    edges: NDArray[np.int64] = field(default_factory=lambda: np.zeros((0, 2), np.int64))
    edge_length: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    edge_off_street: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    dangles: list[shapely.Geometry] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.geometry)


def polygons_of(geom: shapely.Geometry, min_area: float = 0.01) -> list[shapely.Geometry]:
    """The polygons of ``geom`` (multipart or a collection, nested or not) larger than
    ``min_area``: by default, bigger than noise (floating-point crumbs have areas near
    zero)."""
    parts = shapely.get_parts(shapely.get_parts(geom))
    return [g for g in parts if shapely.get_type_id(g) == 3 and g.area > min_area]


def extend_ends(lines: NDArray[np.object_], distance: float) -> NDArray[np.object_]:
    """Lengthen every line at both ends, so that one drawn just short of a street meets it."""
    parts = shapely.get_parts(shapely.line_merge(lines)) if len(lines) else lines
    parts = parts[shapely.get_type_id(parts) == shapely.GeometryType.LINESTRING]
    if len(parts) == 0:
        return parts
    xy, index = shapely.get_coordinates(parts, return_index=True)
    starts = np.flatnonzero(np.r_[True, index[1:] != index[:-1]])
    ends = np.r_[starts[1:] - 1, len(index) - 1]
    for tip, inner in ((starts, starts + 1), (ends, ends - 1)):
        d = xy[tip] - xy[inner]
        norm = np.hypot(d[:, 0], d[:, 1])[:, None]
        xy[tip] = xy[tip] + np.divide(d, norm, out=np.zeros_like(d), where=norm > 0) * distance
    return shapely.linestrings(xy, indices=index)


def blocks(
    community: shapely.Geometry, lines: NDArray[np.object_]
) -> tuple[list[shapely.Geometry], list[shapely.Geometry]]:
    """Faces of the community cut by ``lines``, and the lines that close no face.

    Lines are lengthened by ``SNAP_M`` at both ends first: digitised streets that stop a
    hand's breadth short of the street they meet still close their block.
    """
    minx, miny, maxx, maxy = community.bounds
    clipped = (
        shapely.clip_by_rect(lines, minx - 2, miny - 2, maxx + 2, maxy + 2) if len(lines) else lines
    )
    clipped = extend_ends(clipped, SNAP_M)
    noded = shapely.union_all([*clipped, community.boundary])
    faces, _cuts, dangles, _invalid = shapely.polygonize_full(shapely.get_parts(noded))
    out = []
    for face in shapely.get_parts(faces):
        if community.contains(face.representative_point()):
            out.extend(polygons_of(face.intersection(community)))
    covered = shapely.union_all(out) if out else shapely.Polygon()
    out.extend(p for p in polygons_of(community.difference(covered)) if p.area > 1.0)
    # Dangling pieces outside the community are other communities' streets, not ours.
    inside = [shapely.intersection(d, community) for d in shapely.get_parts(dangles)]
    return out, [d for d in inside if d.length > 2 * SNAP_M]


def territories(region: shapely.Geometry, owners: list[shapely.Geometry]) -> list[shapely.Geometry]:
    """Share ``region`` among ``owners`` by nearest boundary; no owner is ever cut.

    Owners that touch part along their shared edge: a party wall stays a border."""
    if len(owners) == 1:
        return [region]
    mine_of = np.array(owners, dtype=object)
    dense = shapely.segmentize(mine_of, SAMPLE_M)
    coords, which = shapely.get_coordinates(shapely.boundary(dense), return_index=True)
    coords, first = np.unique(np.round(coords, 3), axis=0, return_index=True)
    which = which[first]
    cells = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(coords), extend_to=region, ordered=True)
    )
    order = np.argsort(which, kind="stable")
    starts = np.searchsorted(which[order], np.arange(len(owners) + 1))
    nearest = np.array(
        [
            _union_cells(cells[order[a:b]]) if b > a else owner
            for a, b, owner in zip(starts[:-1], starts[1:], owners, strict=True)
        ],
        dtype=object,
    )
    mine = shapely.union(shapely.intersection(nearest, region), mine_of)
    # Each share loses the other owners it reaches (only those: the union of all the
    # others, owner by owner, would grow with the square of their number).
    i, j = shapely.STRtree(mine_of).query(mine, predicate="intersects")
    order = np.argsort(i, kind="stable")
    i, j = i[order], j[order]
    i, j = i[i != j], j[i != j]
    out = mine.copy()
    keys, starts = np.unique(i, return_index=True)
    for k, others in zip(keys.tolist(), np.split(j, starts[1:]) if len(keys) else [], strict=True):
        out[k] = shapely.difference(mine[k], shapely.union_all(mine_of[others]))
    # Shared edges made exactly equal, and nothing outside the region.
    cleaned = shapely.coverage_clean(polygonal(out), gap_width=0.05)
    return list(shapely.intersection(cleaned, region))


def polygonal(geoms: NDArray[np.object_]) -> NDArray[np.object_]:
    """Only the polygons of each geometry: an intersection or difference along a shared
    edge can leave a collection of a polygon and a line, which GEOS's coverage functions
    refuse. Geometries that are polygons already pass as they are; none left, empty."""
    geoms = np.asarray(geoms, dtype=object)
    odd = ~np.isin(shapely.get_type_id(geoms), [3, 6])
    if not odd.any():
        return geoms
    out = geoms.copy()
    fixed, _ = clean_polygons(geoms[odd])
    out[odd] = [g if g is not None else shapely.Polygon() for g in fixed]
    return out


def _union_cells(cells: NDArray[np.object_]) -> shapely.Geometry:
    """Voronoi cells form a coverage: their coverage union is several times faster. Cells
    of points on a regular lattice (buildings on exact coordinates) can be degenerate
    enough for GEOS to refuse even a plain union: then on a millimetre grid."""
    try:
        return shapely.coverage_union_all(cells)
    except shapely.errors.GEOSException:
        pass
    try:
        return shapely.union_all(cells)
    except shapely.errors.GEOSException:
        return shapely.union_all(shapely.make_valid(cells), grid_size=1e-3)


def cut_between_buildings(
    unit: shapely.Geometry,
    buildings: NDArray[np.object_],
    households: NDArray[np.int64],
    limit: int,
    target: float,
) -> list[shapely.Geometry]:
    """Cut ``unit`` across its long axis at gaps between buildings into pieces ≤ ``limit``.

    Like internal roads: straight cuts that cross no building. Pieces still over the
    limit are cut across the other axis; a piece that cannot be cut stays whole.
    """
    if households.sum() <= limit or len(buildings) < 2:
        return [unit]
    rect = shapely.oriented_envelope(unit)
    xy = np.asarray(rect.exterior.coords)[:4]
    edges = np.diff(np.vstack([xy, xy[:1]]), axis=0)
    long = edges[np.argmax(np.hypot(edges[:, 0], edges[:, 1]))]
    for axis in (long, np.array([-long[1], long[0]])):
        pieces = _cut_along(unit, buildings, households, limit, target, axis)
        if len(pieces) > 1:
            out = []
            for piece in pieces:
                inside = shapely.within(shapely.point_on_surface(buildings), piece)
                out.extend(
                    cut_between_buildings(
                        piece, buildings[inside], households[inside], limit, target
                    )
                )
            return out
    return [unit]


def _cut_along(
    unit: shapely.Geometry,
    buildings: NDArray[np.object_],
    households: NDArray[np.int64],
    limit: int,
    target: float,
    axis: NDArray[np.float64],
) -> list[shapely.Geometry]:
    direction = axis / np.hypot(*axis)
    origin = np.asarray(unit.centroid.coords[0])
    runs = _runs_along(buildings, households, origin, direction)
    if len(runs) < 2:
        return [unit]
    cuts = _best_cuts(runs, limit, target)
    if not cuts:
        return [unit]
    span = 1e5
    normal = np.array([-direction[1], direction[0]])
    bounds = [-span, *sorted(cuts), span]
    pieces = []
    for a, b in itertools.pairwise(bounds):
        corners = [
            origin + direction * a + normal * span,
            origin + direction * b + normal * span,
            origin + direction * b - normal * span,
            origin + direction * a - normal * span,
        ]
        pieces.extend(polygons_of(unit.intersection(shapely.Polygon(corners))))
    return pieces


def _runs_along(
    buildings: NDArray[np.object_],
    households: NDArray[np.int64],
    origin: NDArray[np.float64],
    direction: NDArray[np.float64],
) -> list[tuple[float, float, int]]:
    """(start, end, households) of the runs of buildings that overlap along the axis:
    no cut can separate the buildings of one run."""
    bxy, which = shapely.get_coordinates(buildings, return_index=True)
    proj = (bxy - origin) @ direction
    lo = np.full(len(buildings), np.inf)
    hi = np.full(len(buildings), -np.inf)
    np.minimum.at(lo, which, proj)
    np.maximum.at(hi, which, proj)
    runs: list[tuple[float, float, int]] = []
    for i in np.argsort(lo):
        if runs and lo[i] < runs[-1][1]:
            start, end, hh = runs[-1]
            runs[-1] = (start, max(end, hi[i]), hh + int(households[i]))
        else:
            runs.append((lo[i], hi[i], int(households[i])))
    return runs


def _best_cuts(runs: list[tuple[float, float, int]], limit: int, target: float) -> list[float]:
    """Where to cut (mid-gap between runs) so that consecutive runs make pieces ≤ limit,
    each near the target: a dynamic programme over the runs."""
    sums = np.concatenate([[0], np.cumsum([r[2] for r in runs])])
    n = len(runs)
    best = np.full(n + 1, np.inf)
    back = np.zeros(n + 1, dtype=np.int64)
    best[0] = 0.0
    for j in range(1, n + 1):
        for i in range(j):
            size = sums[j] - sums[i]
            cost = (size - target) ** 2 + (1e9 if size > limit and j - i > 1 else 0.0)
            if best[i] + cost < best[j]:
                best[j], back[j] = best[i] + cost, i
    cuts = []
    j = n
    while j > 0:
        i = int(back[j])
        if i > 0:
            cuts.append((runs[i - 1][1] + runs[i][0]) / 2)  # mid-gap
        j = i
    return cuts


class _Links:
    """Union–find over unit indices."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def join(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def groups(self) -> list[list[int]]:
        out: dict[int, list[int]] = {}
        for i in range(len(self.parent)):
            out.setdefault(self.find(i), []).append(i)
        return [out[k] for k in sorted(out)]


def split_by_roads(unit: shapely.Geometry, roads: NDArray[np.object_]) -> list[shapely.Geometry]:
    """Cut a unit along the internal roads inside it, carried on to its edge (a road that
    stops at the compound wall reaches the street through the gate)."""
    inside = roads[shapely.intersects(roads, unit)] if len(roads) else roads
    if len(inside) == 0:
        return [unit]
    faces, _ = blocks(unit, extend_ends(shapely.intersection(inside, unit), GATE_M))
    return faces


def community_atoms(
    community: shapely.Geometry,
    lines: NDArray[np.object_],
    compounds: Compounds,
    buildings: Buildings,
    max_households: int,
    target: float,
    internal: NDArray[np.object_] | None = None,
    min_households: int = 0,
) -> Atoms:
    """``lines`` cut blocks; ``internal`` roads (inside compounds) only cut units over the
    maximum, before the cuts between buildings."""
    faces, dangles = blocks(community, lines)
    internal = internal if internal is not None else np.array([], dtype=object)
    c_idx = compounds.tree.query(community, predicate="intersects")
    geoms, owners = _share_blocks(faces, compounds, c_idx)
    local = _LocalBuildings.of(buildings, community)
    geoms, owners = _passages_to_one_side(geoms, owners, local, community)
    b_owner = building_owner(geoms, local.points)
    hh_of = sum_by_owner(b_owner, local.households, len(geoms))
    links = _joined(geoms, owners, hh_of, compounds.dedicated, max_households)
    units, unit_compound = [], []
    for group in links.groups():
        comps = {int(owners[u]) for u in group if owners[u] >= 0}
        comp = min(comps) if comps else -1
        dedicated = comp >= 0 and bool(compounds.dedicated[comp])
        geom = shapely.union_all(geoms[group])
        if int(hh_of[group].sum()) > max_households and not dedicated:
            band = (min_households, max_households)
            parts = _cut_oversized(geom, local, internal, band, target)
        else:
            parts = [geom]
        for part in parts:
            for poly in polygons_of(part) if len(parts) > 1 else [part]:
                units.append(poly)
                unit_compound.append(comp)
    atoms = _as_atoms(units, unit_compound, local, compounds, dangles)
    _adjacency(atoms, lines, compounds.geometry[c_idx], local.geometry, internal)
    return atoms


@dataclass(frozen=True)
class _LocalBuildings:
    """The buildings touching one community."""

    geometry: NDArray[np.object_]
    households: NDArray[np.int64]
    population: NDArray[np.int64]
    points: NDArray[np.object_]

    @classmethod
    def of(cls, buildings: Buildings, community: shapely.Geometry) -> _LocalBuildings:
        idx = buildings.tree.query(community, predicate="intersects")
        return cls(
            buildings.geometry[idx],
            buildings.households[idx],
            buildings.population[idx],
            buildings.points[idx],
        )


def _share_blocks(
    faces: list[shapely.Geometry], compounds: Compounds, c_idx: NDArray[np.int64]
) -> tuple[NDArray[np.object_], NDArray[np.int64]]:
    """Each block shared among the compounds in it: the pieces, and each one's compound
    (-1 for none). ``c_idx``: the compounds touching the community."""
    pieces: list[shapely.Geometry] = []
    owner: list[int] = []
    for face in faces:
        near = c_idx[shapely.intersects(compounds.geometry[c_idx], face)]
        shares = polygonal(shapely.intersection(compounds.geometry[near], face))
        keep = shapely.area(shares) >= MIN_SHARE_M2
        near, shares = near[keep], shares[keep]
        if len(near) == 0:
            pieces.append(face)
            owner.append(-1)
            continue
        for comp, part in zip(near, territories(face, list(shares)), strict=True):
            for poly in polygons_of(part):
                pieces.append(poly)
                owner.append(int(comp))
    return np.array(pieces, dtype=object), np.array(owner, dtype=np.int64)


def _passages_to_one_side(
    geoms: NDArray[np.object_],
    owners: NDArray[np.int64],
    local: _LocalBuildings,
    region: shapely.Geometry,
) -> tuple[NDArray[np.object_], NDArray[np.int64]]:
    """A building a street runs through (a gate building, an arcade) goes whole to the
    piece holding its point, and only it: the other pieces give up the part of it they
    hold, so the street stays a border everywhere else and no block is joined to the
    next. The pieces still cover ``region`` as they did."""
    footprints, _ = _overlaps_joined(local.geometry, local.households)
    b_owner = building_owner(geoms, shapely.point_on_surface(footprints))
    bi, ui = shapely.STRtree(geoms).query(footprints, predicate="intersects")
    if len(bi) == 0:
        return geoms, owners
    taken = shapely.intersection(footprints[bi], geoms[ui])
    foreign = (shapely.area(taken) > 0.01) & (b_owner[bi] >= 0) & (b_owner[bi] != ui)
    if not foreign.any():
        return geoms, owners
    bi, ui = bi[foreign], ui[foreign]
    to = b_owner[bi]
    # Every piece on one millimetre grid, so that shared edges stay shared and the parts
    # handed over meet their new piece without a slit; then clipped to the region again.
    geoms = shapely.set_precision(geoms, 1e-3)
    taken = shapely.intersection(footprints[bi], geoms[ui], grid_size=1e-3)
    for u in np.unique(ui).tolist():
        geoms[u] = shapely.difference(geoms[u], shapely.union_all(taken[ui == u]), grid_size=1e-3)
    for o in np.unique(to).tolist():
        geoms[o] = shapely.union(geoms[o], shapely.union_all(taken[to == o]), grid_size=1e-3)
    geoms = shapely.intersection(geoms, region)
    pieces, owner = [], []
    for g, comp in zip(geoms, owners.tolist(), strict=True):
        for poly in polygons_of(g):
            pieces.append(poly)
            owner.append(comp)
    return np.array(pieces, dtype=object), np.array(owner, dtype=np.int64)


def _joined(
    geoms: NDArray[np.object_],
    owners: NDArray[np.int64],
    hh_of: NDArray[np.int64],
    dedicated: NDArray[np.bool_],
    max_households: int,
) -> _Links:
    """Pieces that must stay one unit: those of a compound, unless it alone exceeds the
    maximum (or is dedicated, when it stays whole whatever its size)."""
    links = _Links(len(geoms))
    by_compound: dict[int, list[int]] = {}
    for u, comp in enumerate(owners):
        if comp >= 0:
            by_compound.setdefault(int(comp), []).append(u)
    for comp, units in by_compound.items():
        whole = int(hh_of[units].sum())
        if dedicated[comp] or whole <= max_households:
            for u in units[1:]:
                links.join(units[0], u)  # a compound is not split
    return links


def _cut_oversized(
    unit: shapely.Geometry,
    local: _LocalBuildings,
    internal: NDArray[np.object_],
    band: tuple[int, int],
    target: float,
) -> list[shapely.Geometry]:
    """A unit over the maximum, cut along its internal roads, then straight between
    buildings (rows of slabs), then — where no straight gap is left (perimeter blocks,
    touching buildings) — along the borders of the buildings' territories."""
    faces = np.array(split_by_roads(unit, internal), dtype=object)
    if len(faces) > 1:  # an internal road through a building: the building to one side
        faces, _ = _passages_to_one_side(faces, np.zeros(len(faces), np.int64), local, unit)
    parts = []
    for piece in faces:
        inside = shapely.within(local.points, piece)
        # Pieces are cut down to about ``target`` households: fine enough that the
        # grouping can make grids of the band out of them.
        for straight in cut_between_buildings(
            piece, local.geometry[inside], local.households[inside], band[1], target
        ):
            held = inside.copy()
            held[inside] = shapely.within(local.points[inside], straight)
            try:
                pieces = cut_by_territories(
                    straight, local.geometry[held], local.households[held], band, target
                )
            except shapely.errors.GEOSException:  # geometry GEOS cannot cut: left whole
                pieces = [straight]
            parts.extend(pieces)
    return parts


def cut_by_territories(
    unit: shapely.Geometry,
    buildings: NDArray[np.object_],
    households: NDArray[np.int64],
    band: tuple[int, int],
    target: float,
) -> list[shapely.Geometry]:
    """Cut ``unit`` into contiguous pieces made of whole building territories (each
    building's share of the unit by nearest wall, the morphological tessellation of
    urban-morphology tools such as momepy), never through a building. Cuts run along
    party walls where buildings touch; a courtyard goes whole to one piece, so the next
    piece's border follows the façades round it. Where the unit's households divide into
    grids of the ``band``, the pieces are those grids (a block is cut into two or three
    grids, not crumbs that the grouping would join across streets); else they are of
    about ``target`` households, for the grouping to combine with the units around.
    A unit not over the maximum stays whole."""
    total = int(households.sum())
    if total <= band[1] or len(buildings) < 2:
        return [unit]
    buildings, households = _overlaps_joined(buildings, households)
    if len(buildings) < 2:
        return [unit]
    cells = np.array(territories(unit, list(buildings)), dtype=object)
    yards = courtyards(unit, buildings)
    if len(yards):
        cells = np.concatenate([shapely.difference(cells, shapely.union_all(yards)), yards])
        households = np.concatenate([households, np.zeros(len(yards), dtype=np.int64)])
    cells = np.array([shapely.union_all(polygons_of(c)) for c in cells], dtype=object)
    empty = shapely.is_empty(cells)
    if empty.any():  # a building wholly outside the unit: nothing of it to hand out
        cells, households = cells[~empty], households[~empty]
    if len(yards):
        cells = shapely.coverage_clean(cells, gap_width=0.05)  # no crack along a courtyard
        kept = ~(shapely.is_empty(cells) | shapely.is_missing(cells))
        cells, households = cells[kept], households[kept]
    # Around the unit's centre: a ring of buildings is handed out in arcs, leaving no
    # building stranded between two pieces.
    centre = np.asarray(unit.centroid.coords[0])
    xy = shapely.get_coordinates(shapely.point_on_surface(cells)) - centre
    around = np.argsort(np.arctan2(xy[:, 1], xy[:, 0]), kind="stable")
    touching, weight = _touching(cells), households.tolist()
    grids = -(-total // band[1])
    pieces = _grow(touching, weight, around, total / grids) if total / grids >= band[0] else []
    if not pieces or not all(band[0] <= sum(weight[c] for c in p) <= band[1] for p in pieces):
        pieces = _grow(touching, weight, around, total / max(round(total / target), 1))
    out = [_union_cells(cells[p]) for p in pieces]
    # Crumbs of the unit no territory reached (hairlines are left to the coverage clean
    # of the atoms: joined to a piece they would hang off it as spikes).
    crumbs = polygons_of(shapely.difference(unit, shapely.union_all(cells)))
    if crumbs:
        out[0] = shapely.union_all([out[0], *crumbs])
    return [g for piece in out for g in polygons_of(piece)] or [unit]


def _overlaps_joined(
    buildings: NDArray[np.object_], households: NDArray[np.int64]
) -> tuple[NDArray[np.object_], NDArray[np.int64]]:
    """Footprints that overlap (real layers have them) as one building each: a
    territory is drawn round what no cut may separate."""
    a, b = shapely.STRtree(buildings).query(buildings, predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    overlap = shapely.area(shapely.intersection(buildings[a], buildings[b])) > 0.01
    a, b = a[overlap], b[overlap]
    if len(a) == 0:
        return buildings, households
    links = _Links(len(buildings))
    for i, j in zip(a.tolist(), b.tolist(), strict=True):
        links.join(i, j)
    groups = links.groups()
    return (
        np.array([shapely.union_all(buildings[g]) for g in groups], dtype=object),
        np.array([int(households[g].sum()) for g in groups], dtype=np.int64),
    )


def courtyards(unit: shapely.Geometry, buildings: NDArray[np.object_]) -> NDArray[np.object_]:
    """Open ground of ``unit`` that buildings enclose (no way out to the unit's edge).

    Buildings are grown by ``PARTY_GAP_M`` first: real party walls are digitised with
    hairline gaps between neighbours, and those are no way out of a courtyard."""
    walls = shapely.union_all(shapely.buffer(buildings, PARTY_GAP_M, join_style="mitre"))
    open_ground = shapely.get_parts(shapely.difference(unit, walls))
    open_ground = open_ground[shapely.area(open_ground) >= MIN_COURTYARD_M2]
    if len(open_ground) == 0:
        return open_ground
    return open_ground[~shapely.dwithin(open_ground, shapely.boundary(unit), 0.05)]


def _touching(cells: NDArray[np.object_]) -> list[list[int]]:
    """For each cell, the cells sharing more than ``EDGE_MIN_M`` of border with it."""
    a, b = shapely.STRtree(cells).query(cells, predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    shared = shapely.length(
        shapely.intersection(shapely.boundary(cells[a]), shapely.boundary(cells[b]))
    )
    out: list[list[int]] = [[] for _ in range(len(cells))]
    for i, j in zip(a[shared > EDGE_MIN_M].tolist(), b[shared > EDGE_MIN_M].tolist(), strict=True):
        out[i].append(j)
        out[j].append(i)
    return out


def _grow(
    neighbours: list[list[int]], weight: list[int], order: NDArray[np.int64], target: float
) -> list[list[int]]:
    """Contiguous pieces grown from the first free cell in ``order`` through its free
    neighbours, earliest in ``order`` first, while a cell brings the piece nearer to
    ``target`` households."""
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    free = [True] * len(order)
    pieces = []
    for seed in order.tolist():
        if not free[seed]:
            continue
        free[seed] = False
        piece, total = [seed], weight[seed]
        frontier = [(int(rank[n]), n) for n in neighbours[seed] if free[n]]
        heapq.heapify(frontier)
        while frontier:
            _, cell = heapq.heappop(frontier)
            if not free[cell]:
                continue
            if total + weight[cell] / 2 > target:
                break
            free[cell] = False
            piece.append(cell)
            total += weight[cell]
            for n in neighbours[cell]:
                if free[n]:
                    heapq.heappush(frontier, (int(rank[n]), n))
        pieces.append(piece)
    return pieces


def _as_atoms(
    units: list[shapely.Geometry],
    unit_compound: list[int],
    local: _LocalBuildings,
    compounds: Compounds,
    dangles: list[shapely.Geometry],
) -> Atoms:
    """The units as a clean coverage, their households counted from the buildings."""
    geoms = shapely.coverage_clean(np.array(units, dtype=object), gap_width=0.05)
    kept = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    geoms = geoms[kept]  # slivers the cleaning gave to their neighbours
    comp = np.array([c for c, k in zip(unit_compound, kept, strict=True) if k], dtype=np.int64)
    owner = building_owner(geoms, local.points)
    return Atoms(
        geoms,
        sum_by_owner(owner, local.households, len(geoms)),
        sum_by_owner(owner, local.population, len(geoms)),
        comp,
        np.array([c >= 0 and bool(compounds.dedicated[c]) for c in comp], dtype=bool),
        buildings=np.bincount(owner[owner >= 0], minlength=len(geoms)).astype(np.int64),
        dangles=dangles,
    )


def _adjacency(
    atoms: Atoms,
    lines: NDArray[np.object_],
    walls: NDArray[np.object_],
    buildings: NDArray[np.object_],
    internal: NDArray[np.object_],
) -> None:
    """Neighbouring atoms, the length they share and how much of it follows no street,
    compound wall or building wall (a party wall or a façade round a courtyard)."""
    geoms = atoms.geometry
    tree = shapely.STRtree(geoms)
    a, b = tree.query(geoms, predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    # The length of border they share, blind to the thin spikes a coverage clean can
    # leave (a spike along the border of two other atoms is no border of theirs).
    grown = shapely.buffer(geoms, HAIR_M)
    length = shared_border_length(geoms[a], geoms[b], grown=(grown[a], grown[b]))
    keep = length > EDGE_MIN_M
    a, b, length = a[keep], b[keep], length[keep]
    shared = shapely.intersection(shapely.boundary(geoms[a]), shapely.boundary(geoms[b]))
    guides = [lines, shapely.boundary(walls), internal]
    off = off_street_length(shared, guides, buildings=buildings)
    off = np.minimum(off, length)  # ``shared`` may still hold a spike's length
    atoms.edges = np.column_stack([a, b]).astype(np.int64)
    atoms.edge_length = np.asarray(length, dtype=np.float64)
    atoms.edge_off_street = np.asarray(off, dtype=np.float64)
