"""Reading a vector file into a GeoDataFrame, with its text decoded correctly."""

from __future__ import annotations

import re

import geopandas as gpd
import pandas as pd
import pyogrio

from gridgis.errors import InputError
from gridgis.importer.encoding import Detected, detect_dbf_encoding
from gridgis.importer.sources import Source

# Fields LIBKML adds to every placemark; dropped when they carry nothing.
_KML_HOUSEKEEPING = (
    "Name",
    "description",
    "timestamp",
    "begin",
    "end",
    "altitudeMode",
    "tessellate",
    "extrude",
    "visibility",
    "drawOrder",
    "icon",
    "id",
)


_GDAL_ERRORS = (
    pyogrio.errors.DataSourceError,
    pyogrio.errors.DataLayerError,
    pyogrio.errors.FieldError,
    pyogrio.errors.GeometryError,
)
# Advice GDAL gives its own users, to the end of the message: not the caller's to act on.
_GDAL_ADVICE = re.compile(r"[;\s]*\b(?:It might help|Set \S+ config option)\b.*$", re.DOTALL)


def read_source(
    source: Source, encoding: str | None, layer: str | None
) -> tuple[gpd.GeoDataFrame, Detected | None]:
    """The layer as a GeoDataFrame and, for shapefiles, the encoding its text was in."""
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
    try:
        if source.driver == "geopackage" and layer is None:
            _check_one_layer(source)
        frame = pyogrio.read_dataframe(
            source.path,
            layer=layer,
            # Shapefile text is read byte-for-byte (latin-1) and decoded here, because GDAL
            # fails on field names cut mid-character at the .dbf's 10-byte limit.
            encoding="ISO-8859-1" if detected else encoding,
            on_invalid="ignore",
        )
    except _GDAL_ERRORS as exc:
        raise InputError(f"cannot read: {gdal_message(exc, source)}", source=source.name) from exc
    except UnicodeDecodeError as exc:
        raise InputError(
            f"text does not decode ({exc.reason}); give the file's text encoding",
            source=source.name,
            param="encoding",
        ) from exc
    if not isinstance(frame, gpd.GeoDataFrame):
        raise InputError("the layer has no geometry column", source=source.name)
    if detected:
        frame = _recode(frame, detected.encoding)
    if source.driver == "kml":
        frame = _drop_kml_housekeeping(frame, source.path.stem)
    return frame, detected


def probe_source(source: Source, layer: str | None) -> None:
    """Open the layer without reading its features (GDAL reads the header): a file that
    cannot be opened is refused before an import of it is queued, not minutes later."""
    try:
        if source.driver == "geopackage" and layer is None:
            _check_one_layer(source)
        pyogrio.read_info(source.path, layer=layer)
    except _GDAL_ERRORS as exc:
        raise InputError(f"cannot read: {gdal_message(exc, source)}", source=source.name) from exc


def _check_one_layer(source: Source) -> None:
    layers = pyogrio.list_layers(source.path)
    if len(layers) > 1:
        names = ", ".join(str(n) for n in layers[:, 0])
        raise InputError(
            f"holds several layers ({names}); say which one to import",
            source=source.name,
            param="layer",
        )


def gdal_message(exc: Exception, source: Source) -> str:
    """GDAL's complaint in the user's terms: its first line, the file named as the user
    named it, and without advice meant for GDAL's own users (config options, driver
    prefixes)."""
    text = source.without_paths(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    return _GDAL_ADVICE.sub("", text) or text


def _drop_kml_housekeeping(frame: gpd.GeoDataFrame, stem: str) -> gpd.GeoDataFrame:
    drop = []
    for column in _KML_HOUSEKEEPING:
        if column not in frame.columns:
            continue
        values = frame[column]
        generated_ids = (
            column == "id" and values.astype(str).str.fullmatch(re.escape(stem) + r"\.\d+").all()
        )
        if values.isna().all() or values.nunique(dropna=False) == 1 or generated_ids:
            drop.append(column)
    return frame.drop(columns=drop)


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
