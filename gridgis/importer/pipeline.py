"""Import one file into the store: read, decode, reproject, repair, map fields, write.

Nothing touches the store until the whole file has been read and checked; the write is
one transaction. Re-importing an identical file is a no-op.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from gridgis import crs as crsmod
from gridgis.divisions import load_district_polygons
from gridgis.errors import InputError
from gridgis.geometry import clean_lines, clean_polygons
from gridgis.importer.crs_resolve import Resolved, check_placement, resolve
from gridgis.importer.mapping import admin_frames, map_base, map_department, rows_named
from gridgis.importer.quality import layer_quality
from gridgis.importer.reading import read_source
from gridgis.importer.sources import open_source
from gridgis.settings import Settings
from gridgis.store.base import LAYER_KINDS, ImportRecord, LayerInfo, Store
from gridgis.validate import check_text

Progress = Callable[[str, int, int], None]  # (stage, done, total)
STAGES = ("reading", "repairing", "checking", "writing")
_GT = shapely.GeometryType
_POLYGONS = ("polygons", {_GT.POLYGON, _GT.MULTIPOLYGON, _GT.GEOMETRYCOLLECTION})
_ALLOWED: dict[str, tuple[str, set[shapely.GeometryType]]] = {
    "communities": _POLYGONS,
    "compounds": _POLYGONS,
    "buildings": _POLYGONS,
    "department": _POLYGONS,
    "streets": ("lines", {_GT.LINESTRING, _GT.MULTILINESTRING}),
    "addresses": ("points", {_GT.POINT}),
}


@dataclass
class ImportReport:
    file: str
    kind: str
    department: str | None
    status: str  # imported | unchanged | dry-run
    rows_read: int = 0
    rows_imported: int = 0
    encoding: str | None = None
    encoding_how: str | None = None
    crs: str | None = None
    crs_how: str | None = None
    repairs: dict[str, int] = field(default_factory=dict)
    dropped_rows: list[int] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    quality: dict[str, int] = field(default_factory=dict)  # department layers: what is off
    import_id: int | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        what = f"{self.kind}" + (f"/{self.department}" if self.department else "")
        if self.status == "unchanged":
            return f"{self.file}: unchanged since import #{self.import_id} ({what})"
        repairs = ", ".join(f"{k} {v}" for k, v in sorted(self.repairs.items())) or "none"
        verb = "would import" if self.status == "dry-run" else "imported"
        return (
            f"{self.file}: {verb} {self.rows_imported}/{self.rows_read} rows as {what}; "
            f"CRS {self.crs} ({self.crs_how}); encoding {self.encoding or 'n/a'}"
            f"{' (' + self.encoding_how + ')' if self.encoding_how else ''}; repairs: {repairs}"
            + (f"; found: {found}" if (found := self._found()) else "")
        )

    def _found(self) -> str:
        keys = ("multipart", "duplicate_ids", "slivers", "overlapping_pairs", "gaps")
        return ", ".join(f"{k} {self.quality[k]}" for k in keys if self.quality.get(k))


def _check_types(geoms: np.ndarray, kind: str, source: str) -> None:
    label, allowed = _ALLOWED[kind]
    types = shapely.get_type_id(geoms)
    bad = np.flatnonzero((types >= 0) & ~np.isin(types, list(allowed)))
    if len(bad):
        found = shapely.GeometryType(int(types[bad[0]])).name
        raise InputError(
            f"{rows_named(bad)}: {found} where {label} are needed for a {kind} layer",
            source=source,
        )


def _city_bounds(store: Store) -> tuple[float, float, float, float]:
    """The city's extent: its imported communities, else the bundled district polygons."""
    if any(layer.kind == "communities" for layer in store.list_layers()):
        return tuple(store.read_base_layer("communities").total_bounds)  # type: ignore[return-value]
    return tuple(load_district_polygons().total_bounds)  # type: ignore[return-value]


def _repair(kind: str, geoms: np.ndarray) -> tuple[np.ndarray, Counter[str]]:
    if kind == "streets":
        return clean_lines(geoms)
    if kind == "addresses":
        return geoms, Counter()
    return clean_polygons(geoms)


def import_layer(
    store: Store,
    kind: str,
    path: Path,
    *,
    settings: Settings,
    actor: str,
    department: str | None = None,
    encoding: str | None = None,
    crs: str | None = None,
    layer: str | None = None,
    field_overrides: dict[str, str] | None = None,
    dry_run: bool = False,
    display_name: str | None = None,
    progress: Progress | None = None,
    resumed_since: datetime | None = None,
) -> ImportReport:
    """Import ``path`` as a ``kind`` layer; ``field_overrides`` maps our names to fields
    (``households``, ``name``, ``code``, … and ``source_id`` for a department's grid id).
    ``actor`` is who the import is recorded as: the command line's user or the API's
    caller."""
    started = time.perf_counter()
    tick = progress or (lambda _stage, _done, _total: None)
    department = check_kind(kind, department)
    overrides = {k: v for k, v in (field_overrides or {}).items() if v}

    tick("reading", 0, len(STAGES))
    with open_source(path, settings.max_upload_mb * 1024 * 1024, display_name) as source:
        report = ImportReport(source.name, kind, department, "dry-run" if dry_run else "imported")
        previous = store.find_import(source.sha256, kind, department)
        if resumed_since is not None and not dry_run:
            # A job taken up again: its earlier attempt may have imported the file before
            # its worker died, and a newer import may have followed; never import it over.
            earlier = store.find_import(
                source.sha256, kind, department, by=actor, since=resumed_since
            )
            if earlier is not None:
                done = _unchanged(report, earlier, started)
                done.status = "imported"
                return done
        if previous is not None and not dry_run:
            return _unchanged(report, previous, started)
        frame, detected = read_source(source, encoding, layer)
    if detected:
        report.encoding, report.encoding_how = detected.encoding, detected.how
    report.rows_read = len(frame)
    geoms, present = _geometry(frame, kind, report.file)
    source_bounds = shapely.total_bounds(geoms[present])
    resolved = resolve(crs, frame.crs, source_bounds, settings.metric_epsg, report.file)
    report.crs, report.crs_how = resolved.spec.label, resolved.how

    tick("repairing", 1, len(STAGES))
    geoms, keep, repairs = _repaired(
        geoms, present, kind, resolved, source_bounds, _city_bounds(store), report
    )

    tick("checking", 2, len(STAGES))
    out = _mapped(frame, geoms, keep, kind, overrides, repairs, settings, report)
    report.rows_imported = len(out)
    report.repairs = dict(sorted(repairs.items()))
    if dry_run:
        report.seconds = time.perf_counter() - started
        return report

    tick("writing", 3, len(STAGES))
    record = ImportRecord(
        kind=kind,
        source_name=report.file,
        source_sha256=source.sha256,
        crs=resolved.spec.label,
        row_count=len(out),
        imported_by=actor,
        encoding=report.encoding,
        department=department,
        repairs=report.repairs,
        fields=[str(c) for c in frame.columns if c != frame.geometry.name],
    )
    report.import_id = _write(store, kind, out, record)
    tick("writing", len(STAGES), len(STAGES))
    report.seconds = time.perf_counter() - started
    return report


def check_kind(kind: str, department: str | None) -> str | None:
    """The department the layer is for: only a department layer has one, and it must."""
    if kind not in LAYER_KINDS:
        raise InputError(f"unknown kind {kind!r}: choose one of {', '.join(LAYER_KINDS)}")
    if kind == "department" and not department:
        raise InputError("a department layer needs the department's name", param="department")
    if department is not None:
        check_text(department, "department")
    return department if kind == "department" else None


def _unchanged(report: ImportReport, previous: LayerInfo, started: float) -> ImportReport:
    """The report for a file imported before: nothing is read again."""
    report.status = "unchanged"
    report.import_id = previous.import_id
    report.rows_read = report.rows_imported = previous.rows
    report.crs, report.encoding = previous.crs, previous.encoding
    report.seconds = time.perf_counter() - started
    return report


def _geometry(frame: gpd.GeoDataFrame, kind: str, source: str) -> tuple[np.ndarray, np.ndarray]:
    """The layer's geometries and which rows have one; refuse a layer without any, or
    with geometry of the wrong type for ``kind``."""
    if len(frame) == 0:
        raise InputError("the layer is empty", source=source)
    geoms = frame.geometry.to_numpy()
    present = ~shapely.is_missing(geoms)
    if not present.any():
        raise InputError("the layer has no geometry", source=source)
    _check_types(geoms, kind, source)
    return geoms, present


def _repaired(
    geoms: np.ndarray,
    present: np.ndarray,
    kind: str,
    resolved: Resolved,
    source_bounds: np.ndarray,
    city_bounds: tuple[float, float, float, float],
    report: ImportReport,
) -> tuple[np.ndarray, np.ndarray, Counter[str]]:
    """The geometries flat (no Z or M), in CGCS2000 and valid; which rows keep one, and
    a count of every repair. Rows left without geometry are dropped (and reported)."""
    repairs: Counter[str] = Counter()
    for label, flags in (
        ("dropped_z", shapely.has_z(geoms[present])),
        ("dropped_m", shapely.has_m(geoms[present])),
    ):
        if flags.any():
            repairs[label] = int(flags.sum())
    if repairs:
        geoms = shapely.force_2d(geoms)
    geoms = crsmod.to_cgcs2000(geoms, resolved.spec)
    check_placement(geoms, resolved, source_bounds, city_bounds, report.file)
    geoms, fixed = _repair(kind, geoms)
    repairs.update(fixed)
    keep = ~shapely.is_missing(geoms)
    dropped = np.flatnonzero(~keep)
    if len(dropped):
        repairs["dropped_rows"] = len(dropped)
        report.dropped_rows = [int(r) + 1 for r in dropped]
    if not keep.any():
        raise InputError("no usable geometry left after repair", source=report.file)
    return geoms, keep, repairs


def _mapped(
    frame: gpd.GeoDataFrame,
    geoms: np.ndarray,
    keep: np.ndarray,
    kind: str,
    overrides: dict[str, str],
    repairs: Counter[str],
    settings: Settings,
    report: ImportReport,
) -> gpd.GeoDataFrame:
    """The kept rows in the store's columns for ``kind``; a department layer's quality
    (overlaps, gaps, duplicate ids …) goes into the report."""
    kept = frame.loc[keep]
    kept_geoms = gpd.GeoSeries(geoms[keep], crs=crsmod.CGCS2000, index=kept.index)
    if kind == "department":
        mapped = map_department(kept, overrides.get("source_id"), report.file, report.warnings)
        report.quality = layer_quality(
            crsmod.to_metric(kept_geoms.to_numpy(), settings.metric_epsg), mapped["source_id"]
        )
    else:
        mapped = map_base(kind, kept, report.file, overrides, repairs, report.warnings)
    return gpd.GeoDataFrame(mapped, geometry=kept_geoms, crs=crsmod.CGCS2000)


def _write(store: Store, kind: str, out: gpd.GeoDataFrame, record: ImportRecord) -> int:
    """One transaction that replaces the layer; the import's id."""
    if kind == "department":
        return store.replace_department_layer(out, record)
    if kind == "communities":
        return store.replace_base_layer("communities", out, record, admin=admin_frames(out))
    return store.replace_base_layer(kind, out, record)  # type: ignore[arg-type]
