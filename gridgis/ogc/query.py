"""Items queries: parse ``limit``/``offset``/``bbox``/``datetime``/property filters, and
select positions.

Selection is vectorised: bbox through the collection's STRtree, property filters as one
comparison per column; only the page's features are encoded afterwards.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from gridgis.errors import InputError
from gridgis.ogc.collection import CollectionData, Extent
from gridgis.ogc.temporal import PARAM, Period, parse_datetime

LIMIT_DEFAULT = 100
LIMIT_MAX = 10_000
#: Parameters every resource accepts: the encoding, and the language of HTML pages.
COMMON = ("f", "lang")
#: Parameters of the resources that can show another grid version than the published one.
VERSIONED = (*COMMON, "version")
#: Parameters of the items resource besides those and property filters.
PAGING = ("limit", "offset", "bbox", PARAM)
STANDARD = (*VERSIONED, *PAGING)

Params = Sequence[tuple[str, str]]


@dataclass(frozen=True)
class ItemQuery:
    limit: int = LIMIT_DEFAULT
    offset: int = 0
    bbox: Extent | None = None
    filters: tuple[tuple[str, str], ...] = ()


def check_params(params: Params, allowed: Collection[str]) -> dict[str, str]:
    """The parameters as a dict; an unknown or repeated one is a 400 that names it."""
    seen: dict[str, str] = {}
    for name, value in params:
        if name not in allowed:
            accepted = ", ".join(sorted(allowed, key=lambda n: (n not in STANDARD, n)))
            raise InputError(
                f"unknown query parameter {name!r}; this resource accepts: {accepted}", param=name
            )
        if name in seen:
            raise InputError(f"query parameter {name!r} given more than once", param=name)
        seen[name] = value
    return seen


def parse_items_query(params: Params, properties: Sequence[str]) -> ItemQuery:
    """Read an items request; property names not shadowed by a standard parameter filter.

    ``datetime`` is read first, by :func:`period_param`: which grids to load depends on it.
    """
    given = check_params(params, {*STANDARD, *properties})
    limit = min(_integer(given, "limit", LIMIT_DEFAULT, minimum=1), LIMIT_MAX)
    offset = _integer(given, "offset", 0, minimum=0)
    bbox = parse_bbox(given["bbox"]) if "bbox" in given else None
    filters = tuple((k, v) for k, v in given.items() if k not in STANDARD)
    return ItemQuery(limit, offset, bbox, filters)


def period_param(params: Params, timezone: str) -> Period | None:
    """The ``datetime`` of a request, if it has one (the first: a repeat is refused by
    :func:`parse_items_query`); ``timezone`` is the city's, for dates and times without an
    offset."""
    text = next((v for k, v in params if k == PARAM), None)
    return None if text is None else parse_datetime(text, timezone)


def _integer(given: dict[str, str], name: str, default: int, minimum: int) -> int:
    """An integer parameter; over :data:`LIMIT_MAX` is not an error (the standard clamps)."""
    text = given.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise InputError(f"{name} must be a whole number, got {text!r}") from None
    if value < minimum:
        raise InputError(f"{name} must be at least {minimum}, got {value}")
    return value


def parse_bbox(text: str) -> Extent:
    """``minx,miny,maxx,maxy`` in CRS84 (six numbers: heights are ignored)."""
    parts = text.split(",")
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        numbers = []
    if len(numbers) not in (4, 6) or not all(math.isfinite(n) for n in numbers):
        raise InputError(f"bbox must be 4 numbers minx,miny,maxx,maxy (lon/lat), got {text!r}")
    if len(numbers) == 6:
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    minx, miny, maxx, maxy = numbers
    if not (-180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise InputError(
            f"bbox {text!r} is not lon/lat: longitudes in [-180, 180], "
            "latitudes in [-90, 90] with miny <= maxy"
        )
    return minx, miny, maxx, maxy


def select(data: CollectionData, query: ItemQuery) -> NDArray[np.intp]:
    """Positions of the matching features, in the collection's order."""
    positions = np.arange(len(data), dtype=np.intp)
    if query.bbox is not None:
        positions = _in_bbox(data, query.bbox)
    if query.filters and len(positions):
        keep = np.ones(len(data), dtype=bool)
        for name, value in query.filters:
            keep &= _equals(data.frame[name], name, value)
        positions = positions[keep[positions]]
    return positions


def _in_bbox(data: CollectionData, bbox: Extent) -> NDArray[np.intp]:
    minx, miny, maxx, maxy = bbox
    # minx > maxx crosses the antimeridian (OGC 17-069r4 §7.15.3): two boxes.
    boxes = (
        [shapely.box(minx, miny, maxx, maxy)]
        if minx <= maxx
        else [shapely.box(minx, miny, 180, maxy), shapely.box(-180, miny, maxx, maxy)]
    )
    _, hits = data.tree.query(np.array(boxes, dtype=object), predicate="intersects")
    return np.unique(hits).astype(np.intp)


def _equals(column: pd.Series, name: str, value: str) -> NDArray[np.bool_]:
    """Exact match; numeric columns compare as numbers (``households=35`` = 35.0)."""
    if pd.api.types.is_bool_dtype(column):
        wanted = value.strip().lower()
        if wanted not in ("true", "false"):
            raise InputError(f"{name} is true or false, got {value!r}")
        return column.fillna(False).to_numpy(dtype=bool) == (wanted == "true")
    if pd.api.types.is_numeric_dtype(column):
        try:
            number = float(value)
        except ValueError:
            raise InputError(f"{name} is a number, got {value!r}") from None
        return column.to_numpy(dtype=float, na_value=np.nan) == number
    present = column.notna().to_numpy()
    return present & (column.astype(str).to_numpy(dtype=object) == value)
