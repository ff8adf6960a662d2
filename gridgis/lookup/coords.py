"""Points as users send them, in any CRS, turned into CGCS2000 lon/lat for the index.

WGS84 and CGCS2000 coordinates differ by centimetres, far below what a grid border can
tell apart, so both pass through untouched (the hot path of single lookups).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from gridgis.crs import CGCS2000, WGS84, CrsSpec, points_to_cgcs2000
from gridgis.errors import InvalidValueError
from gridgis.validate import check_lonlat, looks_swapped, swapped_hint

FloatArray = NDArray[np.float64]
PASS_THROUGH = (CGCS2000, WGS84)
#: Projected coordinates beyond this (metres or feet) are on no map: Web Mercator, for
#: one, folds 1e308 onto longitude -180 instead of refusing it.
MAX_PROJECTED = 1e9


def passes_through(crs: CrsSpec) -> bool:
    """Coordinates already usable as CGCS2000 lon/lat, untouched."""
    return crs.epsg in PASS_THROUGH and crs.shift is None


def _degree_problems(lon: FloatArray, lat: FloatArray) -> NDArray[np.object_]:
    """Per point: ``None`` or why the lon/lat pair is unusable."""
    problems = np.full(len(lon), None, dtype=object)
    swapped = looks_swapped(lon, lat)
    for name, values, limit in (("lat", lat, 90.0), ("lon", lon, 180.0)):
        with np.errstate(invalid="ignore"):
            bad_range = np.isfinite(values) & (np.abs(values) > limit)
        problems[~np.isfinite(values)] = f"{name} must be a finite number"
        for i in np.flatnonzero(bad_range):
            hint = f"; {swapped_hint()}" if swapped[i] else ""
            problems[i] = f"{name} {values[i]} is outside -{limit:g}…{limit:g}{hint}"
    return problems


def to_lonlat(
    x: FloatArray, y: FloatArray, crs: CrsSpec
) -> tuple[FloatArray, FloatArray, NDArray[np.object_]]:
    """CGCS2000 lon/lat of each point, and per point ``None`` or what is wrong with it.

    Bad points come back as NaN, which the index answers with "no grid".
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if passes_through(crs):
        problems = _degree_problems(x, y)
        lon, lat = x.copy(), y.copy()
    else:
        if crs.is_geographic:
            problems = _degree_problems(x, y)
        else:
            problems = np.full(len(x), None, dtype=object)
            with np.errstate(invalid="ignore"):
                far = (np.abs(x) > MAX_PROJECTED) | (np.abs(y) > MAX_PROJECTED)
            problems[far] = "x and y must be within ±1e9: no place on Earth is farther"
            problems[~(np.isfinite(x) & np.isfinite(y))] = "x and y must be finite numbers"
        ok = pd.isna(problems)
        lon = np.full(len(x), np.nan)
        lat = np.full(len(x), np.nan)
        if ok.any():
            with np.errstate(all="ignore"):
                lon[ok], lat[ok] = points_to_cgcs2000(x[ok], y[ok], crs)
        unusable = ok & ~(np.isfinite(lon) & np.isfinite(lat))
        problems[unusable] = f"outside the area where {crs.label} is defined"
    bad = pd.notna(problems)
    lon[bad] = np.nan
    lat[bad] = np.nan
    return lon, lat, problems


def one_to_lonlat(x: float, y: float, crs: CrsSpec) -> tuple[float, float]:
    """:func:`to_lonlat` for one point; a bad point raises :class:`InvalidValueError`."""
    if passes_through(crs):
        check_lonlat(x, y)
        return x, y
    lon, lat, problems = to_lonlat(np.array([x]), np.array([y]), crs)
    if problems[0] is not None:
        raise InvalidValueError(f"({x}, {y}) in {crs.label}: {problems[0]}")
    return float(lon[0]), float(lat[0])
