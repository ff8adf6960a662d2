"""Grids of the published version (or any version by name) as RFC 7946 GeoJSON."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from api.deps import IndexDep
from gridgis.errors import NotFoundError
from gridgis.geojson import feature_collection, features
from gridgis.store.base import GRID_PROPERTIES

router = APIRouter(prefix="/api", tags=["grids"])
GEOJSON = "application/geo+json"
VersionQuery = Annotated[
    str | None, Query(description="Version name; the published version when omitted.")
]


@router.get("/grids", response_class=Response, responses={200: {"content": {GEOJSON: {}}}})
def list_grids(request: Request, index: IndexDep, version: VersionQuery = None) -> Response:
    loaded = index.resolve(name=version)
    cache: dict[tuple[int, object], bytes] = request.app.state.geojson_cache
    key = (loaded.info.id, loaded.info.published_at)
    body = cache.get(key)
    if body is None:
        body = feature_collection(
            loaded.grids, list(GRID_PROPERTIES), extra={"version": loaded.info.name}
        ).encode()
        cache.clear()  # keep one version's text, not every version ever served
        cache[key] = body
    return Response(body, media_type=GEOJSON)


@router.get("/grids/{code}", response_class=Response, responses={200: {"content": {GEOJSON: {}}}})
def get_grid(code: str, index: IndexDep, version: VersionQuery = None) -> Response:
    loaded = index.resolve(name=version)
    match = loaded.grids[loaded.grids["code"] == code]
    if match.empty:
        raise NotFoundError(f"no grid {code} in version {loaded.info.name}")
    return Response(features(match, list(GRID_PROPERTIES))[0], media_type=GEOJSON)
