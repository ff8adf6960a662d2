"""Give stored layers and versions back as GeoPackage, GeoJSON, Shapefile or CSV (WKT)."""

from __future__ import annotations

import io
import tempfile
import warnings
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely

from gridgis import crs as crsmod
from gridgis.csvsafe import spreadsheet_safe
from gridgis.errors import InputError, NotFoundError
from gridgis.store.base import BASE_KINDS, GRID_PROPERTIES, Store

FORMATS = {
    "gpkg": ("GPKG", ".gpkg"),
    "geojson": ("GeoJSON", ".geojson"),
    "shp": ("ESRI Shapefile", ".shp"),
    "csv": ("CSV", ".csv"),
}
SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
#: Shapefile encodings offered: UTF-8 for today's tools, GBK for old desktop GIS.
SHAPEFILE_ENCODINGS = {"utf-8": "UTF-8", "utf8": "UTF-8", "gbk": "GBK", "cp936": "GBK"}


def version_frame(store: Store, name: str) -> gpd.GeoDataFrame:
    grids = store.read_grids(name)
    return grids[[*GRID_PROPERTIES, "geometry"]]


def crosswalk_frame(
    store: Store, version: str, department: str | None = None, grid: str | None = None
) -> pd.DataFrame:
    """The crosswalk of a version, optionally for one department or one grid."""
    frame = store.read_crosswalk(version, department)
    if (
        department is not None
        and frame.empty
        and department not in {la.name for la in store.list_layers() if la.kind == "department"}
    ):
        raise NotFoundError(f"no department layer named {department!r}")
    if grid is not None:
        frame = frame[frame["grid_code"] == grid].reset_index(drop=True)
    return frame


def layer_frame(store: Store, spec: str) -> tuple[gpd.GeoDataFrame, str]:
    """``addresses``, ``streets`` … or ``department/NAME`` → (frame, layer name)."""
    kind, _, name = spec.partition("/")
    if kind == "department":
        if not name:
            raise InputError("say which department's layer: department/NAME", param="layer")
        stored = store.read_department_layer(name)
        attributes = pd.DataFrame(stored["attributes"].tolist(), index=stored.index)
        frame = gpd.GeoDataFrame(attributes, geometry=stored.geometry, crs=stored.crs)
        return frame, name
    if kind not in BASE_KINDS or name:
        choices = ", ".join([*BASE_KINDS, "department/NAME"])
        raise InputError(f"unknown layer {spec!r}: choose one of {choices}")
    frame = store.read_base_layer(kind)  # type: ignore[arg-type]
    return frame.drop(columns=[c for c in ("id",) if c in frame.columns]), kind


def shapefile_field_names(columns: list[str], encoding: str) -> dict[str, str]:
    """Names that fit the .dbf's 10 bytes in ``encoding``, cut between characters, unique.

    GDAL would cut UTF-8 names mid-character, leaving files GDAL itself cannot read back.
    """
    out: dict[str, str] = {}
    taken: set[str] = set()
    for column in columns:
        name = column
        while len(name.encode(encoding, errors="replace")) > 10:
            name = name[:-1]
        stem, n = name, 1
        while name.lower() in taken:
            n += 1
            suffix = str(n)
            stem_cut = stem
            while len((stem_cut + suffix).encode(encoding, errors="replace")) > 10:
                stem_cut = stem_cut[:-1]
            name = stem_cut + suffix
        taken.add(name.lower())
        out[column] = name
    return out


def write_frame(
    frame: gpd.GeoDataFrame,
    fmt: str,
    out: Path,
    layer: str,
    *,
    crs: str | None = None,
    encoding: str = "UTF-8",
) -> Path:
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    driver, suffix = FORMATS[fmt]
    if out.suffix.lower() != suffix:
        out = out.with_suffix(suffix)
    spec = crsmod.parse_crs(crs) if crs else crsmod.NAMED["cgcs2000"]
    geoms = crsmod.from_cgcs2000(frame.geometry.to_numpy(), spec)
    frame = gpd.GeoDataFrame(frame.drop(columns="geometry"), geometry=geoms, crs=spec.epsg)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    if fmt == "csv":
        # Spreadsheets and databases take WKT; the BOM makes Excel read the UTF-8 right.
        table = spreadsheet_safe(pd.DataFrame(frame.drop(columns="geometry")))
        table["wkt"] = shapely.to_wkt(frame.geometry.to_numpy(), rounding_precision=-1)
        table.to_csv(out, index=False, encoding="utf-8-sig")
        return out
    options: dict[str, str] = {}
    if fmt == "shp":
        encoding = SHAPEFILE_ENCODINGS.get(encoding.lower(), "")
        if not encoding:
            raise InputError("shapefile encoding must be UTF-8 or GBK")
        options["encoding"] = encoding
        columns = [c for c in frame.columns if c != "geometry"]
        frame = frame.rename(columns=shapefile_field_names(columns, encoding))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*truncated.*")
        warnings.filterwarnings("ignore", message=".*Normalized/laundered.*")
        pyogrio.write_dataframe(frame, out, layer=layer, driver=driver, **options)
    return out


def export_archive(
    frame: gpd.GeoDataFrame,
    fmt: str,
    layer: str,
    *,
    crs: str | None = None,
    encoding: str = "UTF-8",
) -> tuple[bytes, str]:
    """The layer as one downloadable file's bytes and its name; a shapefile comes zipped
    with its .shx, .dbf, .prj and .cpg (the .cpg names the .dbf's encoding)."""
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in layer) or "layer"
    with tempfile.TemporaryDirectory(prefix="gridgis-export-") as tmp:
        written = write_frame(frame, fmt, Path(tmp) / safe, layer, crs=crs, encoding=encoding)
        if fmt != "shp":
            return written.read_bytes(), written.name
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for suffix in SHAPEFILE_PARTS:
                part = written.with_suffix(suffix)
                if part.exists():
                    archive.write(part, part.name)
        return buffer.getvalue(), f"{safe}.zip"
