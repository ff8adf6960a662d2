"""Decide a layer's CRS (given, from the file, or inferred) and sanity-check where it lands."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray
from pyproj import CRS

from gridgis import crs as crsmod
from gridgis.errors import InputError
from gridgis.validate import SWAPPED, looks_swapped, swapped_hint

_CHINA = (73.0, 3.0, 136.0, 54.0)
FAR_KM = 40.0


@dataclass(frozen=True)
class Resolved:
    spec: crsmod.CrsSpec
    how: str  # given | file | inferred-lonlat | inferred-gk-prefix | inferred-gk-city-zone


def resolve(
    given: str | None,
    file_crs: CRS | None,
    bounds: NDArray[np.float64],
    metric_epsg: int,
    source: str,
) -> Resolved:
    if given:
        return Resolved(crsmod.parse_crs(given), "given")
    if file_crs is not None:
        try:
            return Resolved(crsmod.spec_from_pyproj(file_crs), "file")
        except InputError as exc:
            raise InputError(exc.message, source=source, param=exc.param) from exc
    minx, miny, maxx, maxy = bounds
    if minx >= -180 and maxx <= 180 and miny >= -90 and maxy <= 90:
        return Resolved(crsmod.NAMED["cgcs2000"], "inferred-lonlat")
    zone = int(minx // 1_000_000)
    if (
        crsmod.GK_ZONE_FIRST <= zone <= crsmod.GK_ZONE_LAST
        and int(maxx // 1_000_000) == zone
        and 1e6 <= miny <= maxy <= 6.5e6
    ):
        epsg = crsmod.gk_zone_epsg(zone, prefixed=True)
        return Resolved(crsmod.CrsSpec(f"EPSG:{epsg}", epsg), "inferred-gk-prefix")
    if 1e5 <= minx <= maxx <= 9e5 and 1e6 <= miny <= maxy <= 6.5e6:
        return Resolved(crsmod.CrsSpec(f"EPSG:{metric_epsg}", metric_epsg), "inferred-gk-city-zone")
    if looks_swapped(minx, miny) and looks_swapped(maxx, maxy):
        raise InputError(
            f"{SWAPPED}: x {minx:.3f}…{maxx:.3f} reads as latitude and "
            f"y {miny:.3f}…{maxy:.3f} as longitude; re-export with longitude first",
            source=source,
        )
    raise InputError(
        f"no CRS in the file (.prj missing?) and its coordinates (x {minx:.0f}…{maxx:.0f}, "
        f"y {miny:.0f}…{maxy:.0f}) match none we can infer; give the layer's CRS",
        source=source,
        param="crs",
    )


def check_placement(
    geoms: NDArray[np.object_],
    resolved: Resolved,
    source_bounds: NDArray[np.float64],
    city_bounds: tuple[float, float, float, float],
    source: str,
) -> None:
    """Refuse layers that land outside China or far from the city, saying what went wrong."""
    present = geoms[~shapely.is_missing(geoms)]
    if len(present) == 0:
        return
    minx, miny, maxx, maxy = shapely.total_bounds(present)
    hint, param = _hint(resolved, source_bounds)
    if not (np.isfinite([minx, miny, maxx, maxy]).all()):
        raise InputError(
            f"coordinates do not transform from {resolved.spec.label}{hint}",
            source=source,
            param=param,
        )
    if minx < _CHINA[0] or maxx > _CHINA[2] or miny < _CHINA[1] or maxy > _CHINA[3]:
        raise InputError(
            f"lands outside China (lon {minx:.3f}…{maxx:.3f}, lat {miny:.3f}…{maxy:.3f}) when "
            f"read as {resolved.spec.label}{hint}",
            source=source,
            param=param,
        )
    cx0, cy0, cx1, cy1 = city_bounds
    km_per_deg = 111.0
    dx = max(cx0 - maxx, minx - cx1, 0.0) * km_per_deg * np.cos(np.radians((cy0 + cy1) / 2))
    dy = max(cy0 - maxy, miny - cy1, 0.0) * km_per_deg
    distance = float(np.hypot(dx, dy))
    if distance > FAR_KM:
        raise InputError(
            f"lands {distance:.0f} km from the city (lon {minx:.3f}…{maxx:.3f}, "
            f"lat {miny:.3f}…{maxy:.3f}) when read as {resolved.spec.label}{hint}",
            source=source,
            param=param,
        )


def _hint(resolved: Resolved, bounds: NDArray[np.float64]) -> tuple[str, str | None]:
    """What to try, and the parameter that would take it (``crs``, unless the file itself
    has to change)."""
    minx, miny = bounds[0], bounds[1]
    if resolved.spec.is_geographic and looks_swapped(minx, miny):
        return f"; {swapped_hint('re-export with lon first')}", None
    if minx > 1e6 and resolved.how != "inferred-gk-prefix":
        zone = int(minx // 1_000_000)
        if crsmod.GK_ZONE_FIRST <= zone <= crsmod.GK_ZONE_LAST:
            epsg = crsmod.gk_zone_epsg(zone, prefixed=True)
            return f"; eastings carry GK zone {zone}: try the CRS EPSG:{epsg}", "crs"
    if not resolved.spec.is_geographic and minx < 1e6:
        return "; if this is Gauss–Krüger, check the zone (EPSG:4534…4554)", "crs"
    if resolved.how == "given" or resolved.how == "file":
        return "; check the layer's CRS", "crs"
    return "; give the layer's CRS", "crs"
