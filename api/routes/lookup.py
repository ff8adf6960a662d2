"""Which grid contains a point."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import IndexDep
from gridgis.errors import NotFoundError
from gridgis.validate import check_lonlat

router = APIRouter(prefix="/api", tags=["lookup"])


@router.get("/lookup")
def lookup(
    index: IndexDep,
    lon: Annotated[float, Query(description="Longitude, CGCS2000/WGS84 degrees.")],
    lat: Annotated[float, Query(description="Latitude, CGCS2000/WGS84 degrees.")],
) -> dict[str, Any]:
    check_lonlat(lon, lat)
    loaded = index.current()
    if loaded is None:
        raise NotFoundError("no published version yet")
    grid = loaded.grid_at(lon, lat)
    if grid is None:
        raise NotFoundError(f"no grid contains ({lon}, {lat})")
    return grid_json(grid)


def grid_json(grid: dict[str, Any]) -> dict[str, Any]:
    """A grid as the lookup answers it: the officer as one object a person can call."""
    body = {k: v for k, v in grid.items() if k not in ("officer_name", "officer_phone")}
    body["officer"] = (
        {"name": grid.get("officer_name"), "phone": grid.get("officer_phone")}
        if grid.get("officer_name") or grid.get("officer_phone")
        else None
    )
    return body
