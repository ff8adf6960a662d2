"""Grids of the published version (or any version by name) as RFC 7946 GeoJSON."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from api.access import Access, requires
from api.conditional import REVALIDATE, tagged
from api.deps import CallerDep, ServicesDep
from api.errors import UnsupportedMediaError
from api.headers import matches
from api.state import Services
from gridgis.edits import edit_grid
from gridgis.errors import InvalidValueError, NotFoundError
from gridgis.geojson import feature_collection, features
from gridgis.jsonio import json_loads
from gridgis.lineage import successors
from gridgis.lookup.published import LoadedVersion
from gridgis.store.base import GRID_PROPERTIES, grid_etag

router = APIRouter(prefix="/api", tags=["grids"], dependencies=[requires(Access.public)])
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
    """One grid as a GeoJSON feature, with a strong ETag of its own state: the tag an
    edit (``PATCH``) must send back in ``If-Match``."""
    loaded = services.index.resolve(name=version)
    match = loaded.grids[loaded.grids["code"] == code]
    if match.empty:
        raise _missing(services, code, loaded)
    row = match.iloc[0]
    tag = grid_etag(row.to_dict(), row.geometry)
    headers = {"ETag": tag, "Cache-Control": REVALIDATE}
    if matches(request.headers.get("if-none-match"), tag):
        return Response(status_code=304, headers=headers)
    body = features(match.iloc[:1], list(GRID_PROPERTIES))[0].encode()
    return Response(body, media_type=GEOJSON, headers=headers)


def _missing(services: Any, code: str, loaded: LoadedVersion) -> NotFoundError:
    """A grid the version lacks; if an earlier version had it, the error says where its
    area went (the old → new mapping), so a system holding the old code can follow."""
    error = NotFoundError(f"no grid {code} in version {loaded.info.name}", code="grid_not_found")
    went = successors(services.store, code, loaded, metric_epsg=services.settings.metric_epsg)
    if went is not None:
        now = "、".join(f"{s.code}（{100 * s.share:.0f}%）" for s in went.successors) or "无"
        error = NotFoundError(
            f"grid {code} was retired after version {went.version}; its area is now in {now}",
            code="grid_retired",
        )
        error.extra = {
            "last_version": went.version,
            "successors": [
                {"code": s.code, "name": s.name, "share": s.share} for s in went.successors
            ],
        }
    return error


MERGE_PATCH = "application/merge-patch+json"
#: A grid's GeoJSON is tens of kB; a hostile client's million-vertex polygon is refused
#: (413) before it is parsed.
EDIT_MAX_BYTES = 8 * 2**20


@router.patch(
    "/grids/{code}",
    dependencies=[requires(Access.editor)],
    max_body_size=EDIT_MAX_BYTES,
    response_class=Response,
    openapi_extra={
        "requestBody": {"content": {MERGE_PATCH: {"schema": {"type": "object"}}}, "required": True}
    },
    responses={
        200: {"content": {GEOJSON: {}}},
        412: {"description": "The grid changed since it was read; ETag says its state now."},
        428: {"description": "If-Match is missing."},
    },
)
async def patch_grid(
    request: Request,
    code: str,
    services: ServicesDep,
    caller: CallerDep,
    version: VersionQuery = None,
) -> Response:
    """Change a grid by a JSON merge patch of its feature (``{"properties": {...}}``;
    ``null`` unsets), made against the ETag it was read with (``If-Match``). On the
    published version: name, officer, phone and party branch, at once and audited; the
    shape and kind in a draft, its neighbours adjusted so the community stays covered."""
    media = request.headers.get("content-type", "").split(";")[0].strip()
    if media not in (MERGE_PATCH, "application/json"):
        raise UnsupportedMediaError(f"send the patch as {MERGE_PATCH}")
    try:
        patch = json_loads(await request.body())
    except ValueError as exc:
        raise InvalidValueError(f"the patch is not JSON: {exc}", code="invalid_patch") from exc
    name, tag = await run_in_threadpool(
        edit_grid,
        services.store,
        services.settings,
        code,
        patch,
        if_match=request.headers.get("if-match"),
        version=version,
        actor=caller.actor,
        scopes=caller.scopes,
    )
    body = await run_in_threadpool(_edited, services, name, code)
    return Response(body, media_type=GEOJSON, headers={"ETag": tag, "Cache-Control": REVALIDATE})


def _edited(services: Services, name: str, code: str) -> bytes:
    """The grid as edited. In the threadpool, never on the event loop: reloading the
    published index takes a moment at city scale, and lookups and tiles must keep
    answering meanwhile. A draft's grid is read alone from the store: loading the whole
    draft's index (seconds at city scale) to answer one grid was work in the wrong place."""
    committed = time.monotonic()
    current = services.index.refreshed_after(committed)  # lookups answer from the edit now
    if current is not None and current.info.name == name:
        # The version in force, with this edit (and any after it).
        match = current.grids[current.grids["code"] == code]
    else:
        match = services.store.read_grids(name, code)
    return features(match.iloc[:1], list(GRID_PROPERTIES))[0].encode()
