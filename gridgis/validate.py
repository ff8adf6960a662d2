"""Checks on user-supplied values shared by the CLI, the API and the importer."""

from __future__ import annotations

import math
import unicodedata
from typing import Any, overload

import numpy as np
from numpy.typing import NDArray

from gridgis.errors import InvalidValueError

#: Where China's latitudes and longitudes lie (a generous box): coordinates whose x reads
#: as one of its latitudes and y as one of its longitudes were given as (lat, lon).
CHINA_LAT = (3.0, 54.0)
CHINA_LON = (73.0, 136.0)
SWAPPED = "the axes look swapped (lat, lon)"


def check_text(value: str, param: str) -> str:
    """``value`` if it is one line of text as people type it; a control character (a NUL,
    which PostgreSQL cannot store, a newline, an escape) is refused, naming the field."""
    bad = next((c for c in value if unicodedata.category(c) == "Cc"), None)
    if bad is not None:
        raise InvalidValueError(
            f"{param} contains the control character U+{ord(bad):04X}", param=param
        )
    return value


@overload
def looks_swapped(x: float, y: float) -> bool: ...
@overload
def looks_swapped(x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.bool_]: ...
def looks_swapped(x: Any, y: Any) -> Any:
    """Whether (x, y) reads as a place in China only as (lat, lon); per point for arrays."""
    return (CHINA_LAT[0] <= x) & (x <= CHINA_LAT[1]) & (CHINA_LON[0] <= y) & (y <= CHINA_LON[1])


def swapped_hint(fix: str = "give lon first, then lat") -> str:
    """The one wording of the swapped-axes hint; ``fix`` says what to do in the caller's
    terms (the importer: re-export the file)."""
    return f"{SWAPPED}: {fix}"


def check_lonlat(lon: float, lat: float) -> None:
    """Refuse NaN, infinities and out-of-range degrees with a message naming the value,
    and say so when the two look swapped."""
    for name, value, limit in (("lon", lon, 180.0), ("lat", lat, 90.0)):
        if not math.isfinite(value):
            raise InvalidValueError(f"{name} must be a finite number, not {value}")
        if not -limit <= value <= limit:
            hint = f"; {swapped_hint()}" if looks_swapped(lon, lat) else ""
            raise InvalidValueError(f"{name} {value} is outside -{limit:g}…{limit:g}{hint}")
