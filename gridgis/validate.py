"""Checks on user-supplied values shared by the CLI and the API."""

from __future__ import annotations

import math

from gridgis.errors import InvalidValueError


def check_lonlat(lon: float, lat: float) -> None:
    """Refuse NaN, infinities and out-of-range degrees with a message naming the value."""
    for name, value, limit in (("lon", lon, 180.0), ("lat", lat, 90.0)):
        if not math.isfinite(value):
            raise InvalidValueError(f"{name} must be a finite number, not {value}")
        if not -limit <= value <= limit:
            raise InvalidValueError(f"{name} {value} is outside -{limit:g}…{limit:g}")
