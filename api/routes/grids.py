"""Grids of the published version (or any version by name) as RFC 7946 GeoJSON."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from api.conditional import tagged
from api.deps import ServicesDep
from gridgis.errors import NotFoundError
from gridgis.geojson import feature_collection, features
from gridgis.store.base import GRID_PROPERTIES

router = APIRouter(prefix="/api", tags=["grids"])
GEOJSON = "application/geo+json"
VersionQuery = Annotated[
    str | None, Query(description="Version name; the published version when omitted.")
]


@router.get(
    "/grids",
    response_class=Response,
    responses={200: {"content": {GEOJSON: {}}}, 304: {"description": "Unchanged (ETag)."}},
)
def list_grids(request: Request, services: ServicesDep, version: VersionQuery = None) -> Response:
    loaded = services.index.resolve(name=version)
    key = ("grids-geojson", loaded.info.content_key)

    def body() -> bytes:
        return services.caches.answers.get_or_build(
            key,
            lambda: feature_collection(
                loaded.grids, list(GRID_PROPERTIES), extra={"version": loaded.info.name}
            ).encode(),
        )

    return tagged(request, key, body, GEOJSON)


@router.get(
    "/grids/{code}",
    response_class=Response,
    responses={200: {"content": {GEOJSON: {}}}, 304: {"description": "Unchanged (ETag)."}},
)
def get_grid(
    request: Request, code: str, services: ServicesDep, version: VersionQuery = None
) -> Response:
    loaded = services.index.resolve(name=version)
    match = loaded.grids[loaded.grids["code"] == code]
    if match.empty:
        raise NotFoundError(f"no grid {code} in version {loaded.info.name}", code="grid_not_found")
    return tagged(
        request,
        ("grid", loaded.info.content_key, code),
        lambda: features(match, list(GRID_PROPERTIES))[0].encode(),
        GEOJSON,
    )
