"""Department layers drawn the way each department draws them, with the usual defects.

Every drawer returns polygons in metres plus attribute rows as the department would
name its fields (Chinese, DBF-sized). Borders are traced a few metres off the streets by
a smooth displacement field shared by the layer (one hand, one basemap), plus a small
per-feature wobble that leaves slivers, gaps and overlaps between neighbours.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely.geometry import Polygon

from gridgis.samplecity.fill import Compound, Filled
from gridgis.samplecity.layout import CommunitySpec, Layout
from gridgis.samplecity.names import person_name, phone_number


@dataclass
class DepartmentLayer:
    department: str  # e.g. 综治
    file_stem: str  # e.g. 综治网格
    geometries: list[Polygon]
    attributes: list[dict[str, Any]]


def displace(
    rng: np.random.Generator, geoms: list[Polygon], amplitude: float, wobble: float
) -> list[Polygon]:
    """Shift borders by a smooth field (metres) and wobble each feature a little."""
    phase = rng.uniform(0, 2 * np.pi, 4)
    wavelength = rng.uniform(400, 900, 4)

    def field(xy: np.ndarray) -> np.ndarray:
        x, y = xy[:, 0], xy[:, 1]
        dx = amplitude * np.sin(x / wavelength[0] + phase[0]) * np.cos(y / wavelength[1] + phase[1])
        dy = amplitude * np.sin(y / wavelength[2] + phase[2]) * np.cos(x / wavelength[3] + phase[3])
        return np.column_stack([x + dx, y + dy])

    dense = shapely.segmentize(np.array(geoms, dtype=object), 15.0)
    moved = shapely.transform(dense, field)
    if wobble > 0:
        moved = shapely.buffer(moved, rng.uniform(-wobble, wobble, len(geoms)), join_style="mitre")
    return list(moved)


def _officer(rng: np.random.Generator) -> tuple[str, str]:
    return person_name(rng), phone_number(rng)


def _community_order(
    compounds: list[Compound], households: dict[str, int]
) -> dict[str, list[Compound]]:
    """Compounds of each community in reading order: north→south bands, west→east."""
    out: dict[str, list[Compound]] = {}
    for comp in compounds:
        out.setdefault(comp.community, []).append(comp)
    for comps in out.values():
        comps.sort(key=lambda c: (-round(c.cell.centroid.y / 150), c.cell.centroid.x))
    return out


def governance(
    rng: np.random.Generator, layout: Layout, filled: Filled, specs: dict[str, CommunitySpec]
) -> DepartmentLayer:
    """综治: compounds grouped to about 300–600 households, each with a grid officer."""
    households = _households(filled)
    geoms: list[Polygon] = []
    attrs: list[dict[str, Any]] = []
    for code, comps in sorted(_community_order(filled.compounds, households).items()):
        groups: list[list[Compound]] = []
        current: list[Compound] = []
        total = 0
        target = rng.uniform(330, 480)
        for comp in comps:
            if comp.kind != "residential":
                groups.append([comp])
                continue
            current.append(comp)
            total += households.get(comp.id, 0)
            if total >= target:
                groups.append(current)
                current, total, target = [], 0, rng.uniform(330, 480)
        if current:
            residential = [g for g in groups if g[0].kind == "residential"]
            if residential and total < 150:
                residential[-1].extend(current)
            else:
                groups.append(current)
        for n, group in enumerate(groups, start=1):
            name, phone = _officer(rng)
            geoms.append(shapely.unary_union([c.cell for c in group]))
            attrs.append(
                {
                    "网格编号": f"ZZ{code}{n:02d}",
                    "网格名称": f"{specs[code].name}第{n}网格",
                    "网格员": name,
                    "联系电话": phone,
                    "所属社区": specs[code].name,
                    "户数": sum(households.get(c.id, 0) for c in group),
                }
            )
    return DepartmentLayer("综治", "综治网格", displace(rng, geoms, 4.0, 1.5), attrs)


def urban_management(
    rng: np.random.Generator, layout: Layout, filled: Filled, specs: dict[str, CommunitySpec]
) -> DepartmentLayer:
    """城管: one grid per street block (lanes ignored: 城管 patrols by street)."""
    lanes = [s.geometry for s in layout.streets if s.klass != "lane"]
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(shapely.unary_union(lanes))))
    codes = list(layout.communities)
    tree = shapely.STRtree(np.array([layout.communities[c] for c in codes], dtype=object))
    face_idx, comm_idx = tree.query(shapely.point_on_surface(faces), predicate="within")
    geoms, attrs = [], []
    for n, (fi, ci) in enumerate(sorted(zip(face_idx, comm_idx, strict=True)), start=1):
        name, phone = _officer(rng)
        geoms.append(faces[int(fi)])
        attrs.append(
            {
                "网格码": f"{codes[int(ci)][:9]}{n:04d}",
                "责任人": name,
                "电话": phone,
                "社区": specs[codes[int(ci)]].name,
            }
        )
    return DepartmentLayer("城管", "城管网格", displace(rng, geoms, 6.0, 2.0), attrs)


def civil_affairs(
    rng: np.random.Generator, layout: Layout, filled: Filled, specs: dict[str, CommunitySpec]
) -> DepartmentLayer:
    """民政: one polygon per community, traced by hand."""
    geoms, attrs = [], []
    for code, poly in sorted(layout.communities.items()):
        geoms.append(poly)
        attrs.append({"社区代码": code, "社区名称": specs[code].name, "社工": person_name(rng)})
    return DepartmentLayer("民政", "民政社区", displace(rng, geoms, 8.0, 3.0), attrs)


def _households(filled: Filled) -> dict[str, int]:
    out: dict[str, int] = {}
    for b in filled.buildings:
        out[b.compound] = out.get(b.compound, 0) + b.households
    return out


DRAWERS: list[
    Callable[[np.random.Generator, Layout, Filled, dict[str, CommunitySpec]], DepartmentLayer]
] = [governance, urban_management, civil_affairs]


def draw_all(
    rng: np.random.Generator, layout: Layout, filled: Filled, specs: dict[str, CommunitySpec]
) -> list[DepartmentLayer]:
    return [drawer(rng, layout, filled, specs) for drawer in DRAWERS]
