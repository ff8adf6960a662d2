"""The rural fringe: village committees, their natural villages (村民小组) and houses.

Villages partition the rural area as Voronoi cells around seeds placed near their town or
subdistrict; the cell edges are the country roads between villages. Inside a village,
houses stand in clusters (one cluster per 组) joined by lanes to the nearest road.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry import Point, Polygon

from gridgis.samplecity.layout import CommunitySpec, Street

HOUSE = (14.0, 11.0)  # footprint of a rural house, metres


@dataclass
class House:
    id: str
    village: str
    group: int  # 村民小组 number
    number: int  # house number within the group
    households: int
    population: int
    floors: int
    geometry: Polygon


@dataclass
class Rural:
    villages: dict[str, Polygon] = field(default_factory=dict)
    roads: list[Street] = field(default_factory=list)
    houses: list[House] = field(default_factory=list)
    # village → its 组 (村民小组) zones, which partition the village
    groups: dict[str, list[tuple[int, Polygon]]] = field(default_factory=dict)


def _largest_parts(cells: dict[str, shapely.Geometry]) -> dict[str, Polygon]:
    """Keep each cell's largest part; scraps go to the neighbour sharing most border."""
    out: dict[str, Polygon] = {}
    scraps: list[Polygon] = []
    for code, geom in cells.items():
        parts = sorted(shapely.get_parts(geom), key=lambda g: -g.area)
        out[code] = parts[0]
        scraps.extend(parts[1:])
    for scrap in scraps:
        codes = list(out)
        shared = [out[c].boundary.intersection(scrap.buffer(0.01)).length for c in codes]
        best = codes[int(np.argmax(shared))]
        merged = shapely.union(out[best], scrap)
        out[best] = max(shapely.get_parts(merged), key=lambda g: g.area)
    return out


def partition_villages(
    rng: np.random.Generator,
    region: Polygon,
    specs: list[CommunitySpec],
    anchors: dict[str, tuple[float, float]],
    spread: float,
) -> dict[str, Polygon]:
    """Voronoi cells of one seed per village, seeds scattered around their anchor."""
    seeds: list[Point] = []
    for spec in specs:
        ax, ay = anchors[spec.subdistrict_code]
        for _ in range(200):
            p = Point(ax + rng.normal(0, spread), ay + rng.normal(0, spread))
            if region.contains(p) and all(p.distance(s) > spread / 4 for s in seeds):
                break
        seeds.append(p)
    cells = shapely.voronoi_polygons(shapely.MultiPoint(seeds), extend_to=region)
    by_code: dict[str, shapely.Geometry] = {}
    for cell in shapely.get_parts(cells):
        owner = next(i for i, s in enumerate(seeds) if cell.covers(s))
        clipped = cell.intersection(region)
        if not clipped.is_empty:
            by_code[specs[owner].code] = clipped
    return _largest_parts(by_code)


def fill_villages(
    rng: np.random.Generator, villages: dict[str, Polygon], specs: dict[str, CommunitySpec]
) -> Rural:
    rural = Rural(villages=dict(villages))
    # Country roads run along the village borders (shared edges drawn once).
    borders = shapely.line_merge(
        shapely.union_all([shapely.boundary(v) for v in villages.values()])
    )
    for n, line in enumerate(shapely.get_parts(borders), start=1):
        if line.length > 50:
            rural.roads.append(Street(f"{_road_name(n)}", "street", line))
    for code, poly in sorted(villages.items()):
        spec = specs[code]
        groups = int(rng.integers(5, 10))
        centres = _scatter(rng, poly.buffer(-120), groups, min_gap=350.0)
        zones = _group_zones(poly, centres)
        rural.groups[code] = zones
        # Paths (村道) run between the 组: the borders of their zones inside the village.
        inner = shapely.difference(shapely.union_all([z.boundary for _, z in zones]), poly.boundary)
        for n, path in enumerate(shapely.get_parts(shapely.line_merge(inner)), start=1):
            if path.length > 30:
                rural.roads.append(Street(f"{spec.name}{n}号村道", "lane", path))
        for (g, zone), centre in zip(zones, centres, strict=True):
            houses = _cluster(rng, zone, centre, int(rng.integers(35, 95)))
            for k, house in enumerate(houses, start=1):
                households = 1 if rng.random() < 0.85 else 2
                rural.houses.append(
                    House(
                        f"{code}-{g:02d}-{k:03d}",
                        code,
                        g,
                        k,
                        households,
                        round(households * rng.uniform(2.4, 3.6)),
                        int(rng.integers(1, 4)),
                        house,
                    )
                )
    return rural


def _group_zones(village: Polygon, centres: list[Point]) -> list[tuple[int, Polygon]]:
    """Each 组's share of the village: Voronoi cells of the group centres, clipped."""
    if len(centres) < 2:
        return [(1, village)] if centres else []
    cells = shapely.get_parts(
        shapely.voronoi_polygons(shapely.MultiPoint(centres), extend_to=village)
    )
    zones = []
    for g, centre in enumerate(centres, start=1):
        cell = next(c for c in cells if c.covers(centre))
        zone = cell.intersection(village)
        zones.append((g, max(shapely.get_parts(zone), key=lambda p: p.area)))
    return zones


def _road_name(n: int) -> str:
    return f"旌阳乡道{n:03d}"


def _scatter(
    rng: np.random.Generator, poly: shapely.Geometry, n: int, min_gap: float
) -> list[Point]:
    if poly.is_empty:
        return []
    minx, miny, maxx, maxy = poly.bounds
    points: list[Point] = []
    for _ in range(n * 60):
        p = Point(rng.uniform(minx, maxx), rng.uniform(miny, maxy))
        if poly.contains(p) and all(p.distance(q) >= min_gap for q in points):
            points.append(p)
            if len(points) == n:
                break
    return points


def _cluster(rng: np.random.Generator, zone: Polygon, centre: Point, n: int) -> list[Polygon]:
    """Houses around a centre, not overlapping, inside the group's zone and off its borders."""
    inner = zone.buffer(-20)
    xy = np.column_stack([centre.x + rng.normal(0, 70, n * 3), centre.y + rng.normal(0, 55, n * 3)])
    boxes = shapely.box(xy[:, 0], xy[:, 1], xy[:, 0] + HOUSE[0], xy[:, 1] + HOUSE[1])
    keep: list[Polygon] = []
    tree_geoms: list[Polygon] = []
    for box in boxes[shapely.within(boxes, inner)]:
        padded = box.buffer(4)
        if not any(padded.intersects(k) for k in tree_geoms):
            keep.append(box)
            tree_geoms.append(padded)
        if len(keep) == n:
            break
    return keep
