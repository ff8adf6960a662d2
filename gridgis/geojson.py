"""RFC 7946 GeoJSON text, built from vectorised shapely output.

Coordinates are CGCS2000 lon/lat, which RFC 7946 (WGS84) readers may take as-is: the
two datums differ by centimetres. Seven decimals are about 1 cm.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from gridgis.jsonio import json_dumps

PRECISION = 7


def _rounded(geoms: np.ndarray, precision: int) -> np.ndarray:
    return shapely.transform(geoms, lambda xy: np.round(xy, precision))


def geometry_texts(geoms: np.ndarray, precision: int = PRECISION) -> np.ndarray:
    return np.asarray(shapely.to_geojson(_rounded(np.asarray(geoms, dtype=object), precision)))


def features(
    frame: gpd.GeoDataFrame,
    properties: list[str],
    id_field: str | None = "code",
    precision: int = PRECISION,
) -> list[str]:
    """One JSON text per feature (so callers can page or stream without re-encoding)."""
    geoms = geometry_texts(frame.geometry.to_numpy(), precision)
    cols = [c for c in properties if c in frame.columns]
    records = frame[cols].astype(object).where(frame[cols].notna(), None).to_dict("records")
    out = []
    for props, geom in zip(records, geoms, strict=True):
        ident = ""
        if id_field and id_field in props:
            value = props[id_field]
            # Integer ids stay numbers, so that GDAL and QGIS take them as feature ids.
            number = isinstance(value, int | np.integer) and not isinstance(value, bool)
            ident = f'"id":{json_dumps(value if number else str(value))},'
        # jsonio writes NaN and ±Infinity as null and numpy scalars as numbers.
        out.append(
            f'{{"type":"Feature",{ident}"properties":{json_dumps(props)},"geometry":{geom}}}'
        )
    return out


def feature_collection(
    frame: gpd.GeoDataFrame,
    properties: list[str],
    id_field: str | None = "code",
    precision: int = PRECISION,
    extra: dict[str, Any] | None = None,
) -> str:
    members = "".join(f',"{k}":{json_dumps(v)}' for k, v in (extra or {}).items())
    body = ",".join(features(frame, properties, id_field, precision))
    return f'{{"type":"FeatureCollection"{members},"features":[{body}]}}'
