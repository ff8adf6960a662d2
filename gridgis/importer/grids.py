"""Bring a grid layer edited elsewhere (QGIS, a file from ``gridgis export``) back as a
draft version.

Codes, names, kinds, communities and officers are taken as the file has them; geometry
is only made valid (and which grids needed it is recorded, so the review names them).
Nothing else is repaired: gaps, overlaps, duplicate or malformed codes are stored as they
are and are the review's to find. Households, population, area and compactness are
measured again from the store's buildings, since an edited border moves them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridgis import crs as crsmod
from gridgis import measures
from gridgis.errors import InputError
from gridgis.geometry import clean_polygons, force_multi
from gridgis.importer.crs_resolve import check_placement, resolve
from gridgis.importer.mapping import rows_named, text
from gridgis.importer.reading import read_source
from gridgis.importer.sources import open_source
from gridgis.merge.engine import metric_buildings
from gridgis.review.checks import shape_hashes
from gridgis.settings import Settings
from gridgis.store.base import Store, VersionInfo
from gridgis.versions import check_version_name

Progress = Callable[[str, int, int], None]
KINDS = {"综合": "综合", "专属": "专属", "comprehensive": "综合", "dedicated": "专属"}
#: Our columns and the fields that may hold them: the export's own names, their
#: shapefile cuts (10 bytes), and what offices call them.
GRID_FIELDS: dict[str, tuple[str, ...]] = {
    "code": ("code", "网格编码", "网格代码", "网格编号", "编码", "grid_code", "wgbm"),
    "name": ("name", "网格名称", "名称", "grid_name", "wgmc"),
    "kind": ("kind", "网格类型", "类型", "type"),
    "community_code": ("community_code", "community_", "社区代码", "所属社区代码", "sqdm"),
    "officer_name": ("officer_name", "officer_na", "网格员", "网格员姓名", "officer"),
    "officer_phone": ("officer_phone", "officer_ph", "联系电话", "电话", "手机", "phone"),
    "party_branch": ("party_branch", "party_bran", "党支部", "网格党支部"),
}
REQUIRED = ("code",)


@dataclass
class GridImportReport:
    file: str
    version: str
    rows: int = 0
    crs: str | None = None
    crs_how: str | None = None
    encoding: str | None = None
    fields: dict[str, str | None] = field(default_factory=dict)  # ours → the file's
    made_valid: list[str] = field(default_factory=list)  # codes
    community_from_location: int = 0  # grids whose community the file did not give
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        valid = f"; made valid: {len(self.made_valid)}" if self.made_valid else ""
        return (
            f"{self.file}: {self.rows} grids as draft {self.version}; CRS {self.crs} "
            f"({self.crs_how}){valid}; run `gridgis review --version {self.version}`"
        )


def _field(columns: list[str], ours: str) -> str | None:
    lowered = {c.lower(): c for c in columns}
    return next((lowered[a.lower()] for a in GRID_FIELDS[ours] if a.lower() in lowered), None)


def _communities_by_location(
    grid_m: np.ndarray, codes: np.ndarray, community_m: np.ndarray
) -> np.ndarray:
    """The community holding most of each grid's area ('' where none does)."""
    out = np.full(len(grid_m), "", dtype=object)
    if not len(community_m):
        return out
    g, c = shapely.STRtree(community_m).query(grid_m, predicate="intersects")
    if not len(g):
        return out
    area = shapely.area(shapely.intersection(grid_m[g], community_m[c]))
    order = np.lexsort((-area, g))
    g, c = g[order], c[order]
    first = np.ones(len(g), dtype=bool)
    first[1:] = g[1:] != g[:-1]
    out[g[first]] = codes[c[first]]
    return out


def import_grids(
    store: Store,
    path: Path,
    version: str,
    *,
    settings: Settings,
    actor: str,
    encoding: str | None = None,
    crs: str | None = None,
    layer: str | None = None,
    note: str | None = None,
    replace: bool = False,
    display_name: str | None = None,
    progress: Progress | None = None,
) -> tuple[VersionInfo, GridImportReport]:
    """Read ``path`` into the draft ``version`` (one transaction)."""
    started = time.perf_counter()
    tick = progress or (lambda _s, _i, _n: None)
    check_version_name(version, param="version")
    tick("reading", 0, 3)
    with open_source(path, settings.max_upload_mb * 1024 * 1024, display_name) as source:
        frame, detected = read_source(source, encoding, layer)
        name, sha = source.name, source.sha256
    report = GridImportReport(name, version, encoding=detected.encoding if detected else None)
    if len(frame) == 0:
        raise InputError("the layer is empty", source=name)
    geoms = frame.geometry.to_numpy()
    missing = np.flatnonzero(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if len(missing):
        raise InputError(f"{rows_named(missing)}: no geometry", source=name)
    polygonal = np.isin(shapely.get_type_id(geoms), [3, 6, 7])
    if not polygonal.all():
        bad = np.flatnonzero(~polygonal)
        found = shapely.GeometryType(int(shapely.get_type_id(geoms[bad[0]]))).name
        raise InputError(f"{rows_named(bad)}: {found} where grid polygons are needed", source=name)
    columns = [str(c) for c in frame.columns if c != frame.geometry.name]
    report.fields = {ours: _field(columns, ours) for ours in GRID_FIELDS}
    for ours in REQUIRED:
        if report.fields[ours] is None:
            raise InputError(
                f"no grid {ours} field (looked for {', '.join(GRID_FIELDS[ours])}); the file "
                f"has {', '.join(columns) or 'no fields'}",
                source=name,
            )

    tick("checking", 1, 3)
    bounds = shapely.total_bounds(geoms)
    resolved = resolve(crs, frame.crs, bounds, settings.metric_epsg, name)
    report.crs, report.crs_how = resolved.spec.label, resolved.how
    geoms = crsmod.to_cgcs2000(shapely.force_2d(geoms), resolved.spec)
    communities = store.read_base_layer("communities")
    city = tuple(communities.total_bounds) if len(communities) else tuple(bounds)
    check_placement(geoms, resolved, bounds, city, name)  # type: ignore[arg-type]
    invalid = ~shapely.is_valid(geoms)
    geoms, _ = clean_polygons(geoms)
    collapsed = np.flatnonzero(shapely.is_missing(geoms))
    if len(collapsed):
        raise InputError(f"{rows_named(collapsed)}: the polygon has no area", source=name)

    def column(ours: str) -> pd.Series:
        source_field = report.fields[ours]
        if source_field is None:
            return pd.Series([None] * len(frame), index=frame.index, dtype=object)
        return text(frame[source_field])

    codes = column("code").fillna("").to_numpy(dtype=object)
    epsg = settings.metric_epsg
    grid_m = crsmod.to_metric(geoms, epsg)
    comm_codes = communities["code"].to_numpy(dtype=object)
    located = _communities_by_location(
        grid_m, comm_codes, crsmod.to_metric(communities.geometry.to_numpy(), epsg)
    )
    known = set(map(str, comm_codes))
    # A community code the city does not have is no community: the grid's code or place
    # says which it is (the review names the grid if it lies outside that one).
    given = column("community_code").map(lambda c: c if c in known else None).to_numpy(object)
    # No community given: the one the code begins with, else the one holding the grid.
    from_code = np.array([c[:12] if c[:12] in known else None for c in codes], dtype=object)
    community = np.where(pd.isna(given), np.where(pd.isna(from_code), located, from_code), given)
    report.community_from_location = int((pd.isna(given) & pd.isna(from_code)).sum())
    kinds = column("kind").map(lambda k: KINDS.get(str(k).lower(), k) if k else "综合")
    names = column("name").fillna("").to_numpy(dtype=object)
    buildings = metric_buildings(
        store.read_base_layer("buildings", ["households", "population"]), epsg
    )
    figures = measures.grid_figures(
        grid_m, buildings.points, buildings.households, buildings.population
    )

    grids = gpd.GeoDataFrame(
        {
            "code": codes,
            "name": names,
            "kind": kinds.to_numpy(dtype=object),
            "community_code": community.astype(str),
            **figures,
            "officer_name": column("officer_name").to_numpy(dtype=object),
            "officer_phone": column("officer_phone").to_numpy(dtype=object),
            "party_branch": column("party_branch").to_numpy(dtype=object),
        },
        geometry=gpd.GeoSeries(geoms, crs=crsmod.CGCS2000),
    )
    report.rows = len(grids)
    report.made_valid = sorted(str(c) for c in codes[invalid])
    # Each with a hash of the shape it was given, so the review stops naming it once it is
    # redrawn.
    hashes = shape_hashes(force_multi(geoms[invalid])) if invalid.any() else []
    made_valid = dict(zip((str(c) for c in codes[invalid]), hashes, strict=True))
    tick("writing", 2, 3)
    info = store.save_version(
        version,
        grids,
        pd.DataFrame(),
        params={"source": "import", "file": name, "sha256": sha, "crs": report.crs},
        report={"import": {"file": name, "made_valid": made_valid}},
        actor=actor,
        note=note,
        replace=replace,
        action="import",
    )
    report.seconds = round(time.perf_counter() - started, 2)
    tick("writing", 3, 3)
    return info, report
