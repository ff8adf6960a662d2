"""Coordinate reference systems as they arrive from Chinese departments.

Canonical storage is CGCS2000 geographic (EPSG:4490); measurements use the city's
CGCS2000 3-degree Gauss–Krüger zone. GCJ-02 and BD-09 are not datums pyproj knows: they
are published obfuscation formulas over WGS84, inverted here by fixed-point iteration.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import shapely
from numpy.typing import NDArray
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from gridgis.errors import InputError

CGCS2000 = 4490
WGS84 = 4326
# CGCS2000 3-degree GK zones 25..45: with the zone number prefixed to the easting (4513..4533)
# and without it (4534..4554, named by central meridian).
GK_ZONE_PREFIXED_FIRST = 4513
GK_ZONE_FIRST, GK_ZONE_LAST = 25, 45

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class CrsSpec:
    """A CRS as a user names it: an EPSG code, or WGS84 shifted by the GCJ-02/BD-09 formulas."""

    label: str
    epsg: int
    shift: str | None = None  # "gcj02" | "bd09" | None

    @property
    def is_geographic(self) -> bool:
        return _crs(self.epsg).is_geographic


NAMED: dict[str, CrsSpec] = {
    "wgs84": CrsSpec("wgs84", WGS84),
    "cgcs2000": CrsSpec("cgcs2000", CGCS2000),
    "gcj02": CrsSpec("gcj02", WGS84, "gcj02"),
    "bd09": CrsSpec("bd09", WGS84, "bd09"),
}


def parse_crs(text: str | int) -> CrsSpec:
    """Accept ``wgs84``, ``cgcs2000``, ``gcj02``, ``bd09``, ``4544``, ``EPSG:4544``."""
    key = str(text).strip().lower()
    if key in NAMED:
        return NAMED[key]
    code = key.removeprefix("epsg:")
    if not code.isdigit():
        raise InputError(
            f"unknown CRS {text!r}: use an EPSG code or one of {', '.join(NAMED)}", param="crs"
        )
    try:
        _crs(int(code))
    except CRSError as exc:
        raise InputError(f"unknown CRS EPSG:{code}", param="crs") from exc
    return CrsSpec(f"EPSG:{code}", int(code))


def spec_from_pyproj(crs: CRS) -> CrsSpec:
    """Map a CRS read from a .prj/GeoPackage to a spec; refuse what has no EPSG identity."""
    code = crs.to_epsg(min_confidence=70)
    if code is None:
        raise InputError(f"cannot identify the CRS {crs.name!r}; give the layer's CRS", param="crs")
    return CrsSpec(f"EPSG:{code}", code)


@lru_cache(maxsize=64)
def _crs(epsg: int) -> CRS:
    return CRS.from_epsg(epsg)


@lru_cache(maxsize=64)
def transformer(src: int, dst: int) -> Transformer:
    return Transformer.from_crs(_crs(src), _crs(dst), always_xy=True)


def gk_zone_epsg(zone: int, *, prefixed: bool) -> int:
    """EPSG code of CGCS2000 3-degree GK zone ``zone`` (central meridian 3 * zone)."""
    if not GK_ZONE_FIRST <= zone <= GK_ZONE_LAST:
        raise InputError(f"no CGCS2000 3-degree Gauss–Krüger zone {zone} in China")
    first = GK_ZONE_PREFIXED_FIRST if prefixed else GK_ZONE_PREFIXED_FIRST + 21
    return first + zone - GK_ZONE_FIRST


# --- GCJ-02 / BD-09 -----------------------------------------------------------------------

_A = 6378245.0
_EE = 0.00669342162296594323
_X_PI = np.pi * 3000.0 / 180.0


def _in_china(lon: FloatArray, lat: FloatArray) -> NDArray[np.bool_]:
    return (lon > 72.004) & (lon < 137.8347) & (lat > 0.8293) & (lat < 55.8271)


def _gcj_delta(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    x, y = lon - 105.0, lat - 35.0
    sx, pi = np.sqrt(np.abs(x)), np.pi
    common = (20 * np.sin(6 * x * pi) + 20 * np.sin(2 * x * pi)) * 2 / 3
    dlat = -100 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sx + common
    dlat += (20 * np.sin(y * pi) + 40 * np.sin(y / 3 * pi)) * 2 / 3
    dlat += (160 * np.sin(y / 12 * pi) + 320 * np.sin(y * pi / 30)) * 2 / 3
    dlon = 300 + x + 2 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sx + common
    dlon += (20 * np.sin(x * pi) + 40 * np.sin(x / 3 * pi)) * 2 / 3
    dlon += (150 * np.sin(x / 12 * pi) + 300 * np.sin(x / 30 * pi)) * 2 / 3
    radlat = lat / 180 * pi
    magic = 1 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = dlat * 180 / ((_A * (1 - _EE)) / (magic * sqrtmagic) * pi)
    dlon = dlon * 180 / (_A / sqrtmagic * np.cos(radlat) * pi)
    inside = _in_china(lon, lat)
    return np.where(inside, dlon, 0.0), np.where(inside, dlat, 0.0)


def wgs84_to_gcj02(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    dlon, dlat = _gcj_delta(lon, lat)
    return lon + dlon, lat + dlat


def gcj02_to_bd09(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    z = np.sqrt(lon * lon + lat * lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def bd09_to_gcj02(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Closed-form BD-09 → GCJ-02 is only approximate; refined by iteration below."""
    x, y = lon - 0.0065, lat - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def wgs84_to_shifted(lon: FloatArray, lat: FloatArray, shift: str) -> tuple[FloatArray, FloatArray]:
    glon, glat = wgs84_to_gcj02(lon, lat)
    return gcj02_to_bd09(glon, glat) if shift == "bd09" else (glon, glat)


def shifted_to_wgs84(
    lon: FloatArray, lat: FloatArray, shift: str, *, tol: float = 1e-10, max_iter: int = 30
) -> tuple[FloatArray, FloatArray]:
    """Invert the forward formula by fixed-point iteration to ~1e-10° (far below 1 mm).

    The shift varies slowly (a few hundred metres over tens of kilometres), so
    ``w ← w − (F(w) − target)`` contracts fast: 3–5 rounds in practice.
    """
    tlon = np.asarray(lon, dtype=np.float64)
    tlat = np.asarray(lat, dtype=np.float64)
    wlon, wlat = bd09_to_gcj02(tlon, tlat) if shift == "bd09" else (tlon.copy(), tlat.copy())
    for _ in range(max_iter):
        flon, flat = wgs84_to_shifted(wlon, wlat, shift)
        elon, elat = flon - tlon, flat - tlat
        wlon, wlat = wlon - elon, wlat - elat
        if np.all(np.abs(elon) < tol) and np.all(np.abs(elat) < tol):
            break
    return wlon, wlat


# --- whole geometries ---------------------------------------------------------------------


def to_cgcs2000(geoms: NDArray[np.object_], spec: CrsSpec) -> NDArray[np.object_]:
    """Reproject geometries from ``spec`` to EPSG:4490, vectorised."""
    if spec.shift:
        shift = spec.shift

        def unshift(xy: FloatArray) -> FloatArray:
            lon, lat = shifted_to_wgs84(xy[:, 0], xy[:, 1], shift)
            return np.column_stack([lon, lat])

        return shapely.transform(geoms, unshift)  # WGS84 ≈ CGCS2000 to centimetres
    if spec.epsg == CGCS2000:
        return geoms
    return _project(geoms, spec.epsg, CGCS2000)


def from_cgcs2000(geoms: NDArray[np.object_], spec: CrsSpec) -> NDArray[np.object_]:
    """Reproject geometries from EPSG:4490 to ``spec`` (used for exports and shifted basemaps)."""
    if spec.shift:
        shift = spec.shift

        def reshift(xy: FloatArray) -> FloatArray:
            lon, lat = wgs84_to_shifted(xy[:, 0], xy[:, 1], shift)
            return np.column_stack([lon, lat])

        return shapely.transform(geoms, reshift)
    if spec.epsg == CGCS2000:
        return geoms
    return _project(geoms, CGCS2000, spec.epsg)


def _project(geoms: NDArray[np.object_], src: int, dst: int) -> NDArray[np.object_]:
    tr = transformer(src, dst)

    def apply(xy: FloatArray) -> FloatArray:
        x, y = tr.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geoms, apply)


def to_metric(geoms: NDArray[np.object_], metric_epsg: int) -> NDArray[np.object_]:
    """EPSG:4490 → the city's GK zone, for areas and distances in metres."""
    return _project(geoms, CGCS2000, metric_epsg)


def from_metric(geoms: NDArray[np.object_], metric_epsg: int) -> NDArray[np.object_]:
    return _project(geoms, metric_epsg, CGCS2000)


def points_to_cgcs2000(
    x: FloatArray, y: FloatArray, spec: CrsSpec
) -> tuple[FloatArray, FloatArray]:
    """Reproject coordinate arrays (lookups) to EPSG:4490."""
    if spec.shift:
        return shifted_to_wgs84(x, y, spec.shift)
    if spec.epsg == CGCS2000:
        return x, y
    lon, lat = transformer(spec.epsg, CGCS2000).transform(x, y)
    return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
