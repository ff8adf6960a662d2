"""Import one file into the store: read, decode, reproject, repair, map fields, write.

Nothing touches the store until the whole file has been read and checked; the write is
one transaction. Re-importing an identical file is a no-op.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS

from gridgis import crs as crsmod
from gridgis.divisions import load_district_polygons, load_divisions
from gridgis.errors import InputError
from gridgis.geometry import clean_lines, clean_polygons
from gridgis.importer import fields as F
from gridgis.importer.crs_resolve import check_placement, resolve
from gridgis.importer.encoding import detect_dbf_encoding
from gridgis.importer.sources import Source, open_source
from gridgis.settings import Settings
from gridgis.store.base import BASE_COLUMNS, LAYER_KINDS, ImportRecord, Store

Progress = Callable[[str], None]
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
        )


def _read(
    source: Source, encoding: str | None, layer: str | None
) -> tuple[gpd.GeoDataFrame, str | None, str | None]:
    detected = None
    if source.driver == "shapefile":
        dbf = next(
            (
                p
                for p in (source.path.with_suffix(".dbf"), source.path.with_suffix(".DBF"))
                if p.exists()
            ),
            None,
        )
        if dbf is not None:
            detected = detect_dbf_encoding(dbf, encoding)
    if source.driver == "geopackage" and layer is None:
        layers = pyogrio.list_layers(source.path)
        if len(layers) > 1:
            names = ", ".join(str(n) for n in layers[:, 0])
            raise InputError(
                f"holds several layers ({names}); choose one with --layer", source=source.name
            )
    try:
        frame = pyogrio.read_dataframe(
            source.path,
            layer=layer,
            # Shapefile text is read byte-for-byte (latin-1) and decoded here, because GDAL
            # fails on field names cut mid-character at the .dbf's 10-byte limit.
            encoding="ISO-8859-1" if detected else encoding,
            on_invalid="ignore",
        )
        if not isinstance(frame, gpd.GeoDataFrame):
            raise InputError("the layer has no geometry column", source=source.name)
        if detected:
            frame = _recode(frame, detected.encoding)
    except (
        pyogrio.errors.DataSourceError,
        pyogrio.errors.DataLayerError,
        pyogrio.errors.FieldError,
        pyogrio.errors.GeometryError,
    ) as exc:
        raise InputError(f"cannot read: {str(exc).splitlines()[0]}", source=source.name) from exc
    except UnicodeDecodeError as exc:
        raise InputError(
            f"text does not decode ({exc.reason}); pass --encoding", source=source.name
        ) from exc
    return frame, detected.encoding if detected else None, detected.how if detected else None


def _recode(frame: gpd.GeoDataFrame, encoding: str) -> gpd.GeoDataFrame:
    """Undo the latin-1 read: decode names (dropping a cut-off last character) and text."""

    def decode(text: str, errors: str = "strict") -> str:
        return text.encode("latin-1").decode(encoding, errors=errors)

    names: list[str] = []
    for column in frame.columns:
        if column == frame.geometry.name:
            names.append(column)
            continue
        name = decode(str(column), errors="ignore").strip() or f"field{len(names) + 1}"
        while name in names:
            name += "_"
        names.append(name)
    text_columns = [
        c
        for c in frame.columns
        if c != frame.geometry.name
        and (frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c]))
    ]
    for column in text_columns:
        frame[column] = frame[column].map(lambda v: decode(v) if isinstance(v, str) else v)
    frame.columns = names
    return frame


def _rows_named(rows: np.ndarray) -> str:
    shown = ", ".join(str(int(r) + 1) for r in rows[:5])
    return f"row{'s' if len(rows) > 1 else ''} {shown}{' …' if len(rows) > 5 else ''}"


def _check_types(geoms: np.ndarray, kind: str, source: str) -> None:
    label, allowed = _ALLOWED[kind]
    types = shapely.get_type_id(geoms)
    bad = np.flatnonzero((types >= 0) & ~np.isin(types, list(allowed)))
    if len(bad):
        found = shapely.GeometryType(int(types[bad[0]])).name
        raise InputError(
            f"{_rows_named(bad)}: {found} where {label} are needed for a {kind} layer",
            source=source,
        )


def _values(frame: pd.DataFrame, column: str | None) -> pd.Series:
    if column is None:
        return pd.Series([None] * len(frame), index=frame.index, dtype=object)
    return frame[column]


def _text(series: pd.Series) -> pd.Series:
    out = series.astype(object).where(series.notna(), None)
    return out.map(lambda v: None if v is None else str(v).strip() or None)


def _int(series: pd.Series, name: str, source: str) -> pd.Series:
    numbers = pd.to_numeric(series, errors="coerce")
    bad = np.flatnonzero(series.notna().to_numpy() & numbers.isna().to_numpy())
    if len(bad):
        raise InputError(
            f"{_rows_named(bad)}: {name} is not a number ({series.iloc[bad[0]]!r})", source=source
        )
    negative = np.flatnonzero((numbers < 0).to_numpy())
    if len(negative):
        raise InputError(f"{_rows_named(negative)}: {name} is negative", source=source)
    return numbers.round().astype("Int64")


def _json_safe(frame: pd.DataFrame) -> list[dict[str, Any]]:
    cleaned = frame.astype(object).where(frame.notna(), None)
    return [
        {str(k): (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}
        for row in cleaned.to_dict("records")
    ]


def _city_bounds(store: Store) -> tuple[float, float, float, float]:
    try:
        communities = store.read_base_layer("communities")
    except Exception:
        communities = gpd.GeoDataFrame()
    if len(communities):
        return tuple(communities.total_bounds)  # type: ignore[return-value]
    return tuple(load_district_polygons().total_bounds)  # type: ignore[return-value]


def _map_base(
    kind: str,
    frame: gpd.GeoDataFrame,
    source: str,
    overrides: dict[str, str],
    repairs: Counter[str],
    warnings: list[str],
) -> pd.DataFrame:
    cols = [c for c in frame.columns if c != "geometry"]
    out = pd.DataFrame(index=frame.index)
    required = {
        "communities": {"code", "name"},
        "streets": set(),
        "compounds": set(),
        "buildings": {"households"},
        "addresses": {"address"},
    }[kind]
    for target in BASE_COLUMNS[kind]:
        column = F.find_field(
            cols, target, overrides.get(target), source=source, required=target in required
        )
        out[target] = _values(frame, column)
    if kind == "communities":
        out["code"] = _text(out["code"])
        bad = np.flatnonzero(~out["code"].fillna("").str.fullmatch(r"\d{12}").to_numpy())
        if len(bad):
            raise InputError(
                f"{_rows_named(bad)}: code {out['code'].iloc[bad[0]]!r} is not a "
                "12-digit statistical code",
                source=source,
            )
        dup = np.flatnonzero(out["code"].duplicated().to_numpy())
        if len(dup):
            raise InputError(
                f"{_rows_named(dup)}: duplicate community code {out['code'].iloc[dup[0]]}",
                source=source,
            )
        out["name"] = _text(out["name"])
        out["kind"] = np.where(out["name"].fillna("").str.endswith("村"), "村", "社区")
    elif kind == "streets":
        out["name"] = _text(out["name"])
        labels = _text(out["class"])
        mapped = labels.map(lambda v: F.STREET_CLASSES.get(v.lower()) if v else None)
        unknown = labels.notna() & mapped.isna()
        if unknown.any():
            warnings.append(
                f"{int(unknown.sum())} streets of unknown class "
                f"({', '.join(sorted(set(labels[unknown])))[:80]}) taken as street"
            )
        if labels.isna().any():
            repairs["class_missing_taken_as_street"] = int(labels.isna().sum())
        out["class"] = mapped.fillna("street")
    elif kind == "compounds":
        for c in ("source_id", "name"):
            out[c] = _text(out[c])
        labels = _text(out["kind"])
        out["kind"] = labels.map(
            lambda v: F.COMPOUND_KINDS.get(v.lower(), "residential") if v else "residential"
        )
    elif kind == "buildings":
        for c in ("source_id", "name"):
            out[c] = _text(out[c])
        households = _int(out["households"], "households", source)
        if households.isna().any():
            repairs["households_missing_as_0"] = int(households.isna().sum())
        out["households"] = households.fillna(0)
        out["population"] = _int(out["population"], "population", source)
        out["floors"] = _int(out["floors"], "floors", source)
    elif kind == "addresses":
        for c in BASE_COLUMNS[kind]:
            out[c] = _text(out[c])
        empty = np.flatnonzero(out["address"].isna().to_numpy())
        if len(empty):
            raise InputError(f"{_rows_named(empty)}: empty address text", source=source)
    return out


def _admin_frames(communities: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    divisions = load_divisions()
    sub_codes = communities["code"].str[:9]
    subdistricts = gpd.GeoDataFrame(
        geometry=communities.geometry.groupby(sub_codes.to_numpy()).agg(shapely.union_all),
        crs=crsmod.CGCS2000,
    )
    subdistricts["code"] = subdistricts.index
    subdistricts["name"] = [
        divisions.subdistricts[c].name if c in divisions.subdistricts else f"街道{c}"
        for c in subdistricts["code"]
    ]
    subdistricts["district_code"] = subdistricts["code"].str[:6]
    known = load_district_polygons().set_index("code")
    district_codes = sorted(set(subdistricts["district_code"]))
    geoms = []
    for code in district_codes:
        if code in known.index:
            geoms.append(known.geometry[code])
        else:
            geoms.append(
                shapely.union_all(
                    subdistricts.geometry[subdistricts["district_code"] == code].to_numpy()
                )
            )
    districts = gpd.GeoDataFrame(
        {
            "code": district_codes,
            "name": [
                divisions.districts[c].name if c in divisions.districts else f"区县{c}"
                for c in district_codes
            ],
        },
        geometry=geoms,
        crs=crsmod.CGCS2000,
    )
    return (
        districts,
        subdistricts.reset_index(drop=True)[["code", "name", "district_code", "geometry"]],
    )


def import_layer(
    store: Store,
    kind: str,
    path: Path,
    *,
    settings: Settings,
    department: str | None = None,
    encoding: str | None = None,
    crs: str | None = None,
    layer: str | None = None,
    field_overrides: dict[str, str] | None = None,
    dry_run: bool = False,
    display_name: str | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    started = time.perf_counter()
    say = progress or (lambda _msg: None)
    if kind not in LAYER_KINDS:
        raise InputError(f"unknown kind {kind!r}: choose one of {', '.join(LAYER_KINDS)}")
    if kind == "department" and not department:
        raise InputError("a department layer needs --department NAME")
    if kind != "department":
        department = None
    overrides = {k: v for k, v in (field_overrides or {}).items() if v}

    with open_source(path, settings.max_upload_mb * 1024 * 1024, display_name) as source:
        report = ImportReport(source.name, kind, department, "dry-run" if dry_run else "imported")
        previous = store.find_import(source.sha256, kind, department)
        if previous is not None and not dry_run:
            report.status = "unchanged"
            report.import_id = previous.import_id
            report.rows_read = report.rows_imported = previous.rows
            report.crs, report.encoding = previous.crs, previous.encoding
            report.seconds = time.perf_counter() - started
            return report
        say(f"reading {source.name}")
        frame, report.encoding, report.encoding_how = _read(source, encoding, layer)
        file_crs: CRS | None = frame.crs
    report.rows_read = len(frame)
    if len(frame) == 0:
        raise InputError("the layer is empty", source=report.file)
    if frame.geometry.isna().all():
        raise InputError("the layer has no geometry", source=report.file)

    repairs: Counter[str] = Counter()
    geoms = frame.geometry.to_numpy()
    _check_types(geoms, kind, report.file)
    present = ~shapely.is_missing(geoms)
    source_bounds = shapely.total_bounds(geoms[present])
    resolved = resolve(crs, file_crs, source_bounds, settings.metric_epsg, report.file)
    report.crs, report.crs_how = resolved.spec.label, resolved.how

    say("reprojecting and repairing")
    has_z = shapely.has_z(geoms[present])
    if has_z.any():
        repairs["dropped_z"] = int(has_z.sum())
        geoms = shapely.force_2d(geoms)
    geoms = crsmod.to_cgcs2000(geoms, resolved.spec)
    check_placement(geoms, resolved, source_bounds, _city_bounds(store), report.file)
    if kind == "streets":
        geoms, fixed = clean_lines(geoms)
    elif kind == "addresses":
        fixed = Counter()
    else:
        geoms, fixed = clean_polygons(geoms)
    repairs.update(fixed)
    keep = ~shapely.is_missing(geoms)
    dropped = np.flatnonzero(~keep)
    if len(dropped):
        repairs["dropped_rows"] = len(dropped)
        report.dropped_rows = [int(r) + 1 for r in dropped]
    if not keep.any():
        raise InputError("no usable geometry left after repair", source=report.file)

    kept = frame.loc[keep]
    kept_geoms = gpd.GeoSeries(geoms[keep], crs=crsmod.CGCS2000, index=kept.index)
    if kind == "department":
        attr_cols = [c for c in kept.columns if c != "geometry"]
        id_col = F.department_id_field(attr_cols)
        if id_col is None:
            report.warnings.append("no grid id field found; rows are numbered instead")
        ids = (
            _text(kept[id_col])
            if id_col
            else pd.Series([str(i + 1) for i in range(len(kept))], index=kept.index)
        )
        duplicates = int(ids.duplicated().sum())
        if duplicates:
            report.warnings.append(f"{duplicates} duplicate grid ids ({id_col})")
        mapped = pd.DataFrame(
            {"source_id": ids, "attributes": _json_safe(kept[attr_cols])}, index=kept.index
        )
    else:
        mapped = _map_base(kind, kept, report.file, overrides, repairs, report.warnings)
    out = gpd.GeoDataFrame(mapped, geometry=kept_geoms, crs=crsmod.CGCS2000)
    report.rows_imported = len(out)
    report.repairs = dict(sorted(repairs.items()))
    if dry_run:
        report.seconds = time.perf_counter() - started
        return report

    record = ImportRecord(
        kind=kind,
        source_name=report.file,
        source_sha256=source.sha256,
        crs=resolved.spec.label,
        row_count=len(out),
        imported_by=settings.actor,
        encoding=report.encoding,
        department=department,
        repairs=report.repairs,
    )
    say("writing to the store")
    if kind == "department":
        report.import_id = store.replace_department_layer(out, record)
    elif kind == "communities":
        report.import_id = store.replace_base_layer(
            "communities", out, record, admin=_admin_frames(out)
        )
    else:
        report.import_id = store.replace_base_layer(kind, out, record)  # type: ignore[arg-type]
    report.seconds = time.perf_counter() - started
    return report
