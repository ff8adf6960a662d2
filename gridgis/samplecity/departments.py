"""Twenty-odd department layers, each drawn the way that department draws its grids.

Every layer starts from the same ground truth (compounds, blocks, communities, villages)
and then goes wrong the way real ones do: borders traced a few metres off the streets by
a smooth displacement shared by the layer (one hand, one basemap), a per-feature wobble
that leaves slivers, gaps and overlaps, and — per layer — self-intersections, multipart
pieces, duplicate ids, stray sliver features and rows without geometry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely.geometry import Point, Polygon

from gridgis.samplecity.layout import faces
from gridgis.samplecity.model import CityModel
from gridgis.samplecity.names import person_name, phone_number

Drawn = tuple[list[shapely.Geometry], list[dict[str, Any]]]


@dataclass(frozen=True)
class Defects:
    offset: float = 4.0  # metres, smooth displacement of every border
    wobble: float = 1.5  # metres, per-feature grow/shrink: slivers, gaps, overlaps
    self_intersections: int = 0  # features given a bow-tie ring
    multipart: int = 0  # features given a detached piece inside a neighbour
    duplicate_ids: int = 0  # features that reuse another feature's id
    slivers: int = 0  # stray thin features along borders
    null_rows: int = 0  # attribute rows with no geometry


@dataclass
class DepartmentLayer:
    department: str  # e.g. 综治
    file_stem: str  # e.g. 综治网格
    id_field: str
    geometries: list[shapely.Geometry | None]
    attributes: list[dict[str, Any]]
    defects: Defects


# --- grouping helpers ---------------------------------------------------------------------


def _groups_by_households(
    model: CityModel,
    rng: np.random.Generator,
    low: float,
    high: float,
    dedicated_alone: bool = True,
) -> list[tuple[str, list[int]]]:
    """Consecutive atoms (reading order) of each community, grouped to low…high households."""
    atoms = model.atoms
    out: list[tuple[str, list[int]]] = []
    for code in sorted(set(atoms.community)):
        idx = np.flatnonzero(atoms.community == code)
        idx = idx[np.argsort(atoms.rank[idx])]
        groups: list[list[int]] = []
        current: list[int] = []
        total, target = 0, rng.uniform(low, high)
        for i in idx:
            if dedicated_alone and atoms.kind[i] not in ("residential", "village"):
                groups.append([int(i)])
                continue
            current.append(int(i))
            total += int(atoms.households[i])
            if total >= target:
                groups.append(current)
                current, total, target = [], 0, rng.uniform(low, high)
        if current:
            plain = [g for g in groups if atoms.kind[g[0]] in ("residential", "village")]
            if plain and total < low / 2:
                plain[-1].extend(current)
            else:
                groups.append(current)
        out.extend((code, g) for g in groups)
    return out


def _union(model: CityModel, idx: list[int]) -> shapely.Geometry:
    return shapely.union_all(model.atoms.geometry[idx])


def _split_community(model: CityModel, parts: int) -> list[tuple[str, list[int]]]:
    """Each community cut into ``parts`` runs of atoms in reading order."""
    atoms = model.atoms
    out = []
    for code in sorted(set(atoms.community)):
        idx = np.flatnonzero(atoms.community == code)
        idx = idx[np.argsort(atoms.rank[idx])]
        for chunk in np.array_split(idx, min(parts, len(idx))):
            out.append((code, [int(i) for i in chunk]))
    return out


def _voronoi(points: list[Point], extent: shapely.Geometry) -> list[tuple[Point, Polygon]]:
    """Service areas: the Voronoi cell of each point, clipped to ``extent``."""
    if len(points) < 2:
        return [(points[0], extent)] if points else []
    cells = shapely.get_parts(
        shapely.voronoi_polygons(shapely.MultiPoint(points), extend_to=extent)
    )
    out = []
    for p in points:
        cell = next(c for c in cells if c.covers(p))
        clipped = cell.intersection(extent)
        if not clipped.is_empty:
            out.append((p, clipped))
    return out


def _stations(rng: np.random.Generator, extent: shapely.Geometry, n: int) -> list[Point]:
    minx, miny, maxx, maxy = extent.bounds
    points: list[Point] = []
    gap = np.sqrt(extent.area / max(n, 1)) * 0.5
    for _ in range(n * 100):
        p = Point(rng.uniform(minx, maxx), rng.uniform(miny, maxy))
        if extent.contains(p) and all(p.distance(q) > gap for q in points):
            points.append(p)
            if len(points) == n:
                break
    return points


def _name(model: CityModel, code: str) -> str:
    return model.specs[code].name


def _subdistrict_name(model: CityModel, code: str) -> str:
    from gridgis.divisions import load_divisions

    return load_divisions().subdistricts[code].name


def _officer(rng: np.random.Generator) -> tuple[str, str]:
    return person_name(rng), phone_number(rng)


def _urban_extent(model: CityModel) -> shapely.Geometry:
    return shapely.union_all(list(model.urban.communities.values()))


def _all_extent(model: CityModel) -> shapely.Geometry:
    return shapely.union_all(list(model.communities.values()))


# --- the departments ----------------------------------------------------------------------


def governance(rng: np.random.Generator, model: CityModel) -> Drawn:
    """综治: compounds (or 组 in villages) grouped to about 300–600 households."""
    geoms, attrs = [], []
    count: dict[str, int] = {}
    for code, idx in _groups_by_households(model, rng, 330, 480):
        n = count[code] = count.get(code, 0) + 1
        name, phone = _officer(rng)
        geoms.append(_union(model, idx))
        attrs.append(
            {
                "网格编号": f"ZZ{code}{n:02d}",
                "网格名称": f"{_name(model, code)}第{n}网格",
                "网格员": name,
                "联系电话": phone,
                "所属社区": _name(model, code),
                "户数": int(model.atoms.households[idx].sum()),
            }
        )
    return geoms, attrs


def urban_management(rng: np.random.Generator, model: CityModel) -> Drawn:
    """城管: one grid per street block (lanes ignored); villages are not 城管's."""
    lines = [s.geometry for s in model.urban.streets if s.klass not in ("lane",)]
    found = np.array(faces(lines), dtype=object)
    codes = sorted(model.urban.communities)
    tree = shapely.STRtree(np.array([model.urban.communities[c] for c in codes], dtype=object))
    f_idx, c_idx = tree.query(shapely.point_on_surface(found), predicate="within")
    geoms, attrs = [], []
    for n, (fi, ci) in enumerate(sorted(zip(f_idx, c_idx, strict=True)), start=1):
        name, phone = _officer(rng)
        geoms.append(found[int(fi)])
        attrs.append(
            {
                "网格码": f"{codes[int(ci)][:9]}{n:04d}",
                "责任人": name,
                "电话": phone,
                "社区": _name(model, codes[int(ci)]),
            }
        )
    return geoms, attrs


def civil_affairs(rng: np.random.Generator, model: CityModel) -> Drawn:
    """民政: one polygon per community or village."""
    items = sorted(model.communities.items())
    return [g for _, g in items], [
        {"社区代码": c, "社区名称": _name(model, c), "社工": person_name(rng)} for c, _ in items
    ]


def environment(rng: np.random.Generator, model: CityModel) -> Drawn:
    """环保: large zones of about four communities; the countryside by subdistrict."""
    geoms, attrs = [], []
    urban = sorted(model.urban.communities)
    for n, start in enumerate(range(0, len(urban), 4), start=1):
        members = urban[start : start + 4]
        geoms.append(shapely.union_all([model.urban.communities[c] for c in members]))
        attrs.append({"编号": f"HB{n:03d}", "片区": f"第{n}环保片区", "监管员": person_name(rng)})
    for sub, members in sorted(model.subdistricts.items()):
        villages = [model.rural.villages[c] for c in members if c in model.rural.villages]
        if villages:
            geoms.append(shapely.union_all(villages))
            attrs.append(
                {
                    "编号": f"HB{sub}",
                    "片区": f"{_subdistrict_name(model, sub)}农村片区",
                    "监管员": person_name(rng),
                }
            )
    return geoms, attrs


def health(rng: np.random.Generator, model: CityModel) -> Drawn:
    """卫生健康: catchments of community health centres and hospitals."""
    extent = _all_extent(model)
    centres = model.points_of(("hospital",)) + [
        p.representative_point() for p in model.communities.values()
    ]
    geoms, attrs = [], []
    for n, (_p, cell) in enumerate(_voronoi(centres, extent), start=1):
        geoms.append(cell)
        attrs.append(
            {"编号": f"WJ{n:03d}", "服务中心": f"第{n}社区卫生服务站", "家庭医生": person_name(rng)}
        )
    return geoms, attrs


def human_resources(rng: np.random.Generator, model: CityModel) -> Drawn:
    """人社: each community split in two labour-security grids."""
    geoms, attrs = [], []
    for n, (code, idx) in enumerate(_split_community(model, 2), start=1):
        geoms.append(_union(model, idx))
        attrs.append(
            {"网格编号": f"RS{n:04d}", "社区": _name(model, code), "协理员": person_name(rng)}
        )
    return geoms, attrs


def approval(rng: np.random.Generator, model: CityModel) -> Drawn:
    """行政审批: one service area per subdistrict."""
    geoms, attrs = [], []
    for sub, members in sorted(model.subdistricts.items()):
        geoms.append(shapely.union_all([model.communities[c] for c in members]))
        attrs.append({"编码": sub, "便民服务中心": f"{_subdistrict_name(model, sub)}便民服务中心"})
    return geoms, attrs


def _utility(
    prefix: str, label: str, per: int
) -> Callable[[np.random.Generator, CityModel], Drawn]:
    def draw(rng: np.random.Generator, model: CityModel) -> Drawn:
        extent = _all_extent(model) if prefix != "RQ" else _urban_extent(model)
        n = max(2, len(model.communities) // per)
        geoms, attrs = [], []
        for k, (_p, cell) in enumerate(_voronoi(_stations(rng, extent, n), extent), start=1):
            geoms.append(cell)
            attrs.append(
                {"编号": f"{prefix}{k:03d}", label: f"{label}{k}号", "抢修电话": phone_number(rng)}
            )
        return geoms, attrs

    draw.__doc__ = f"Utility service areas around {label} ({prefix})."
    return draw


def fire(rng: np.random.Generator, model: CityModel) -> Drawn:
    """消防: fire-station catchments, each about six communities wide."""
    extent = _all_extent(model)
    n = max(2, len(model.communities) // 6)
    geoms, attrs = [], []
    for k, (_p, cell) in enumerate(_voronoi(_stations(rng, extent, n), extent), start=1):
        geoms.append(cell)
        attrs.append({"编号": f"XF{k:02d}", "消防站": f"旌阳{k}号消防站", "值班电话": "119"})
    return geoms, attrs


def market(rng: np.random.Generator, model: CityModel) -> Drawn:
    """市场监管: pairs of street blocks."""
    blocks = model.urban.blocks
    geoms, attrs = [], []
    by_comm: dict[str, list[Polygon]] = {}
    for b in blocks:
        by_comm.setdefault(b.community, []).append(b.geometry)
    n = 0
    for code, polys in sorted(by_comm.items()):
        polys.sort(key=lambda p: (-round(p.centroid.y / 150), p.centroid.x))
        for start in range(0, len(polys), 2):
            n += 1
            geoms.append(shapely.union_all(polys[start : start + 2]))
            attrs.append(
                {"编号": f"SJ{n:04d}", "社区": _name(model, code), "监管员": person_name(rng)}
            )
    return geoms, attrs


def emergency(rng: np.random.Generator, model: CityModel) -> Drawn:
    """应急管理: each community in three."""
    geoms, attrs = [], []
    for n, (code, idx) in enumerate(_split_community(model, 3), start=1):
        geoms.append(_union(model, idx))
        attrs.append(
            {
                "编号": f"YJ{n:04d}",
                "社区": _name(model, code),
                "信息员": person_name(rng),
                "电话": phone_number(rng),
            }
        )
    return geoms, attrs


def police(rng: np.random.Generator, model: CityModel) -> Drawn:
    """公安: beat areas (警务区) of about 1,000–1,500 households."""
    geoms, attrs = [], []
    for n, (code, idx) in enumerate(_groups_by_households(model, rng, 1000, 1500, False), start=1):
        geoms.append(_union(model, idx))
        attrs.append(
            {
                "警务区号": f"JW{n:04d}",
                "社区": _name(model, code),
                "社区民警": person_name(rng),
                "警务电话": phone_number(rng),
            }
        )
    return geoms, attrs


def housing(rng: np.random.Generator, model: CityModel) -> Drawn:
    """住建: property-management areas, one per compound wall — streets left out."""
    geoms, attrs = [], []
    for comp in model.filled.compounds:
        if not comp.walled:
            continue  # street-front houses: no property management area
        geoms.append(comp.geometry)
        attrs.append(
            {
                "小区编号": comp.id,
                "小区名称": comp.name,
                "物业公司": f"{comp.name[:2]}物业",
                "物业电话": phone_number(rng),
            }
        )
    return geoms, attrs


def education(rng: np.random.Generator, model: CityModel) -> Drawn:
    """教育: school catchments (学区) around the schools."""
    schools = model.points_of(("school",))
    geoms, attrs = [], []
    for n, (_p, cell) in enumerate(_voronoi(schools, _all_extent(model)), start=1):
        geoms.append(cell)
        attrs.append({"学区编号": f"XQ{n:03d}", "学校": f"第{n}学区学校"})
    return geoms, attrs


def justice(rng: np.random.Generator, model: CityModel) -> Drawn:
    """司法: mediation areas, each community cut east/west."""
    geoms, attrs = [], []
    n = 0
    for code, poly in sorted(model.communities.items()):
        minx, miny, maxx, maxy = poly.bounds
        mid = (minx + maxx) / 2
        for side, box in (
            ("西", shapely.box(minx - 1, miny - 1, mid, maxy + 1)),
            ("东", shapely.box(mid, miny - 1, maxx + 1, maxy + 1)),
        ):
            part = poly.intersection(box)
            if part.area > 0:
                n += 1
                geoms.append(part)
                attrs.append(
                    {"编号": f"SF{n:04d}", "调解组织": f"{_name(model, code)}{side}片调委会"}
                )
    return geoms, attrs


def _per_community(prefix: str, role: str) -> Callable[[np.random.Generator, CityModel], Drawn]:
    def draw(rng: np.random.Generator, model: CityModel) -> Drawn:
        items = sorted(model.communities.items())
        return [g for _, g in items], [
            {"编号": f"{prefix}{c}", "社区": _name(model, c), role: person_name(rng)}
            for c, _ in items
        ]

    draw.__doc__ = f"One polygon per community ({prefix})."
    return draw


def statistics(rng: np.random.Generator, model: CityModel) -> Drawn:
    """统计: census enumeration areas, one per compound or 组."""
    atoms = model.atoms
    order = np.argsort(atoms.rank)
    return list(atoms.geometry[order]), [
        {
            "普查区号": f"PC{n:05d}",
            "社区": _name(model, atoms.community[i]),
            "普查员": person_name(rng),
        }
        for n, i in enumerate(order, start=1)
    ]


def natural_resources(rng: np.random.Generator, model: CityModel) -> Drawn:
    """自然资源: land parcels — every block, lanes included."""
    geoms, attrs = [], []
    for n, block in enumerate(model.urban.blocks, start=1):
        geoms.append(block.geometry)
        attrs.append({"宗地号": f"510603{n:06d}", "社区": _name(model, block.community)})
    return geoms, attrs


def transport(rng: np.random.Generator, model: CityModel) -> Drawn:
    """交通: road-maintenance zones of two communities each."""
    codes = sorted(model.communities)
    geoms, attrs = [], []
    for n, start in enumerate(range(0, len(codes), 2), start=1):
        geoms.append(shapely.union_all([model.communities[c] for c in codes[start : start + 2]]))
        attrs.append({"养护区号": f"JT{n:03d}", "养护单位": f"旌阳公路养护{n}站"})
    return geoms, attrs


def culture(rng: np.random.Generator, model: CityModel) -> Drawn:
    """文旅: cultural service areas by subdistrict."""
    geoms, attrs = [], []
    for sub, members in sorted(model.subdistricts.items()):
        geoms.append(shapely.union_all([model.communities[c] for c in members]))
        attrs.append({"编号": f"WL{sub}", "文化站": f"{_subdistrict_name(model, sub)}文化站"})
    return geoms, attrs


def tax(rng: np.random.Generator, model: CityModel) -> Drawn:
    """税务: tax service areas of about 2,000 households."""
    geoms, attrs = [], []
    for n, (code, idx) in enumerate(_groups_by_households(model, rng, 1800, 2600, False), start=1):
        geoms.append(_union(model, idx))
        attrs.append(
            {"编号": f"SW{n:04d}", "社区": _name(model, code), "税收管理员": person_name(rng)}
        )
    return geoms, attrs


@dataclass(frozen=True)
class DepartmentSpec:
    department: str
    file_stem: str
    id_field: str
    draw: Callable[[np.random.Generator, CityModel], Drawn]
    defects: Defects = Defects()


DEPARTMENTS: list[DepartmentSpec] = [
    DepartmentSpec(
        "综治",
        "综治网格",
        "网格编号",
        governance,
        Defects(offset=4, wobble=1.5, self_intersections=2, duplicate_ids=1),
    ),
    DepartmentSpec(
        "城管", "城管网格", "网格码", urban_management, Defects(offset=6, wobble=2.0, slivers=2)
    ),
    DepartmentSpec("民政", "民政社区", "社区代码", civil_affairs, Defects(offset=8, wobble=3.0)),
    DepartmentSpec("环保", "环保片区", "编号", environment, Defects(offset=10, wobble=4.0)),
    DepartmentSpec("卫生健康", "卫生网格", "编号", health, Defects(offset=5, wobble=2.0)),
    DepartmentSpec(
        "人社", "人社网格", "网格编号", human_resources, Defects(offset=3, wobble=1.0, multipart=2)
    ),
    DepartmentSpec("行政审批", "审批服务区", "编码", approval, Defects(offset=6, wobble=2.0)),
    DepartmentSpec(
        "供水", "供水服务区", "编号", _utility("GS", "水厂", 3), Defects(offset=0, wobble=1.0)
    ),
    DepartmentSpec(
        "供电", "供电服务区", "编号", _utility("GD", "变电站", 2), Defects(offset=0, wobble=1.0)
    ),
    DepartmentSpec(
        "燃气",
        "燃气服务区",
        "编号",
        _utility("RQ", "调压站", 4),
        Defects(offset=0, wobble=1.0, self_intersections=1),
    ),
    DepartmentSpec("消防", "消防辖区", "编号", fire, Defects(offset=0, wobble=1.0)),
    DepartmentSpec(
        "市场监管", "市场监管网格", "编号", market, Defects(offset=5, wobble=2.0, duplicate_ids=2)
    ),
    DepartmentSpec(
        "应急管理", "应急网格", "编号", emergency, Defects(offset=4, wobble=1.5, null_rows=1)
    ),
    DepartmentSpec("公安", "警务区", "警务区号", police, Defects(offset=3, wobble=1.0, slivers=3)),
    DepartmentSpec("住建", "物业小区", "小区编号", housing, Defects(offset=1, wobble=0.5)),
    DepartmentSpec("教育", "学区", "学区编号", education, Defects(offset=6, wobble=2.0)),
    DepartmentSpec("司法", "调解片区", "编号", justice, Defects(offset=5, wobble=2.0)),
    DepartmentSpec(
        "退役军人",
        "退役军人服务网格",
        "编号",
        _per_community("TY", "服务专员"),
        Defects(offset=7, wobble=2.5),
    ),
    DepartmentSpec(
        "统计",
        "普查小区",
        "普查区号",
        statistics,
        Defects(offset=2, wobble=1.0, multipart=3, duplicate_ids=2),
    ),
    DepartmentSpec(
        "自然资源",
        "宗地",
        "宗地号",
        natural_resources,
        Defects(offset=1, wobble=0.5, self_intersections=2),
    ),
    DepartmentSpec("交通", "养护区", "养护区号", transport, Defects(offset=9, wobble=3.0)),
    DepartmentSpec("文旅", "文化服务区", "编号", culture, Defects(offset=8, wobble=3.0)),
    DepartmentSpec(
        "残联",
        "残联网格",
        "编号",
        _per_community("CL", "专职委员"),
        Defects(offset=6, wobble=2.0, null_rows=1),
    ),
    DepartmentSpec(
        "妇联",
        "妇联网格",
        "编号",
        _per_community("FL", "执委"),
        Defects(offset=7, wobble=2.5, slivers=1),
    ),
    DepartmentSpec("税务", "税务网格", "编号", tax, Defects(offset=4, wobble=1.5)),
]


# --- defects ------------------------------------------------------------------------------


def displace(
    rng: np.random.Generator, geoms: list[shapely.Geometry], amplitude: float, wobble: float
) -> list[shapely.Geometry]:
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


def _bow_tie(geom: shapely.Geometry) -> shapely.Geometry:
    """Swap two neighbouring vertices of the outer ring: the classic digitising slip."""
    poly = max(shapely.get_parts(geom), key=lambda g: g.area)
    ring = np.asarray(poly.exterior.coords)
    for k in range(1, len(ring) - 2):
        swapped = ring.copy()
        swapped[[k, k + 1]] = swapped[[k + 1, k]]
        candidate = Polygon(swapped)
        if not candidate.is_valid:
            return candidate
    return geom


def apply_defects(
    rng: np.random.Generator,
    spec: DepartmentSpec,
    geoms: list[shapely.Geometry],
    attrs: list[dict[str, Any]],
) -> tuple[list[shapely.Geometry | None], list[dict[str, Any]]]:
    d = spec.defects
    out: list[shapely.Geometry | None] = list(displace(rng, geoms, d.offset, d.wobble))
    attrs = [dict(a) for a in attrs]
    n = len(out)

    def pick(k: int) -> list[int]:
        return [int(i) for i in rng.choice(n, size=min(k, n), replace=False)] if n else []

    for i in pick(d.self_intersections):
        out[int(i)] = _bow_tie(out[int(i)])
    for i in pick(d.multipart):
        other = out[int(rng.integers(n))]
        assert other is not None
        inside = other.representative_point()
        island = shapely.box(inside.x - 15, inside.y - 15, inside.x + 15, inside.y + 15)
        out[int(i)] = shapely.MultiPolygon([*shapely.get_parts(out[int(i)]), island])
    for i in pick(d.duplicate_ids):
        j = int(rng.integers(n))
        if j != int(i):
            attrs[int(i)][spec.id_field] = attrs[j][spec.id_field]
    for k in range(d.slivers):
        base = out[int(rng.integers(n))]
        assert base is not None
        edge = shapely.get_parts(shapely.boundary(base))[0]
        start = rng.uniform(0, max(edge.length - 120, 1))
        strip = shapely.line_interpolate_point(edge, [start, start + 100])
        sliver = shapely.LineString(strip).buffer(0.8, cap_style="flat")
        out.append(sliver)
        attrs.append({key: (f"补{k + 1}" if key == spec.id_field else None) for key in attrs[0]})
    for _ in range(d.null_rows):
        out.append(None)
        attrs.append(
            {
                key: (value if key == spec.id_field else None)
                for key, value in attrs[int(rng.integers(n))].items()
            }
        )
    return out, attrs


def draw_all(rng: np.random.Generator, model: CityModel) -> list[DepartmentLayer]:
    layers = []
    for spec in DEPARTMENTS:
        geoms, attrs = spec.draw(rng, model)
        broken, attrs = apply_defects(rng, spec, geoms, attrs)
        layers.append(
            DepartmentLayer(
                spec.department, spec.file_stem, spec.id_field, broken, attrs, spec.defects
            )
        )
    return layers
