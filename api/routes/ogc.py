"""OGC API – Features at ``/ogc``: GDAL, QGIS and browsers read every layer from here.

The route only negotiates the format, reads the query and wraps documents built by
:mod:`gridgis.ogc` in responses. Query parameters are read by hand, not declared, so an
unknown or malformed one is a 400 naming it (as the standard asks), not FastAPI's 422;
they are documented through ``openapi_extra`` instead.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import unquote

import numpy as np
from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from api.access import Access, requires
from api.deps import CallerDep, ServicesDep
from api.policy import Caller
from api.state import Services
from gridgis.errors import NotFoundError
from gridgis.i18n import parse_lang
from gridgis.jsonio import json_dumps, json_loads
from gridgis.ogc import documents, html, media, openapi
from gridgis.ogc.links import Urls
from gridgis.ogc.query import COMMON, VERSIONED, check_params
from gridgis.ogc.sources import DEPARTMENT_PREFIX


def _bulk_collections(params: dict[str, str]) -> Access | None:
    """The address base and the departments' own layers are data in bulk."""
    return _level(unquote(params.get("collectionId", "")))


def _level(cid: str) -> Access | None:
    return Access.viewer if cid == "addresses" or cid.startswith(DEPARTMENT_PREFIX) else None


def _visible(services: Services, caller: Caller, specs: list[Any]) -> list[Any]:
    """The collections this caller may read (a client lists only what it can open: an
    anonymous GDAL saw the address base with no features, rather than no address base)."""
    policy = services.policy
    return [
        entry
        for entry in specs
        if policy.allows(_level(entry[0].id) or Access.public, caller.principal)
    ]


router = APIRouter(tags=["ogc"], dependencies=[requires(Access.public)])
BULK = [requires(Access.public, _bulk_collections)]

CollectionId = Annotated[str, Path(alias="collectionId", description="A collection id.")]
FeatureId = Annotated[str, Path(alias="featureId", description="A feature id.")]


class _Call:
    """What every handler needs from the request: parameters, format, link builder (in
    the language asked for)."""

    def __init__(self, request: Request, allowed: tuple[str, ...] | None) -> None:
        self.params = request.query_params.multi_items()
        if allowed is not None:  # items check theirs against the collection's properties
            check_params(self.params, allowed)
        self.fmt = media.negotiate(request.query_params.get("f"), request.headers.get("accept", ""))
        lang = request.query_params.get("lang")
        self.urls = Urls(str(request.base_url), None if lang is None else parse_lang(lang))
        self.version = request.query_params.get("version")


def _json(doc: Any, media_type: str = media.JSON) -> Response:
    return Response(json_dumps(doc), media_type=media_type)


Responses = dict[int | str, dict[str, Any]]
_ERRORS: Responses = {400: {"description": "Bad parameter"}, 404: {"description": "Not found"}}


def _responses(*types: str) -> Responses:
    return {200: {"content": {t: {} for t in types}}, **_ERRORS}


_JSON = _responses(media.JSON, media.HTML)
_GEOJSON = _responses(media.GEOJSON, media.HTML)
_F = {"parameters": openapi.COMMON_PARAMETERS}
_FV = {"parameters": openapi.VERSIONED_PARAMETERS}


@router.get("/ogc", response_class=Response, responses=_JSON, openapi_extra=_F)
def landing(request: Request) -> Response:
    """Landing page: links to the API definition, conformance and the collections."""
    call = _Call(request, COMMON)
    doc = documents.landing(call.urls, call.fmt)
    return HTMLResponse(html.landing(call.urls, doc)) if call.fmt == "html" else _json(doc)


@router.get("/ogc/conformance", response_class=Response, responses=_JSON, openapi_extra=_F)
def conformance(request: Request) -> Response:
    """The conformance classes implemented: core, GeoJSON, HTML, OpenAPI 3.0."""
    call = _Call(request, COMMON)
    doc = documents.conformance(call.urls, call.fmt)
    return HTMLResponse(html.conformance(call.urls, doc)) if call.fmt == "html" else _json(doc)


@router.get(
    "/ogc/api",
    response_class=Response,
    # f=html is a redirect to the interactive docs, not this document in HTML.
    responses={**_responses(media.OPENAPI), 307: {"description": "f=html: to /docs"}},
    openapi_extra=_F,
)
def api_definition(request: Request, services: ServicesDep, caller: CallerDep) -> Response:
    """This service's OpenAPI 3.0 definition (``f=html`` goes to the interactive docs)."""
    call = _Call(request, COMMON)
    if call.fmt == "html":
        return RedirectResponse(call.urls.to("/docs"))
    entries = _visible(services, caller, services.ogc.entries())
    doc = openapi.document(request.app.openapi(), str(request.base_url), entries)
    return _json(doc, media.OPENAPI)


@router.get(
    "/ogc/collections",
    response_class=Response,
    responses=_JSON,
    openapi_extra=_FV,
)
def collections(request: Request, services: ServicesDep, caller: CallerDep) -> Response:
    """Every collection: grids, administrative and base layers, department layers (the
    last and the address base for a viewer key or more)."""
    call = _Call(request, VERSIONED)
    shapes = _visible(services, caller, services.ogc.shapes(call.version))
    doc = documents.collections(call.urls, shapes, call.fmt, call.params)
    if call.fmt == "html":
        return HTMLResponse(html.collections(call.urls, doc, services.settings.timezone))
    return _json(doc)


@router.get(
    "/ogc/collections/{collectionId}",
    dependencies=BULK,
    response_class=Response,
    responses=_JSON,
    openapi_extra=_FV,
)
def collection(request: Request, services: ServicesDep, collection_id: CollectionId) -> Response:
    """One collection: title, extent, properties and links to its items."""
    call = _Call(request, VERSIONED)
    service = services.ogc
    spec = service.spec(collection_id, call.version)
    doc = documents.collection(call.urls, spec, service.shape(spec), call.fmt)
    if call.fmt == "html":
        return HTMLResponse(html.collection(call.urls, doc, services.settings.timezone))
    return _json(doc)


@router.get(
    "/ogc/collections/{collectionId}/items",
    dependencies=BULK,
    response_class=Response,
    responses=_GEOJSON,
    openapi_extra={"parameters": openapi.ITEMS_PARAMETERS},
)
def items(request: Request, services: ServicesDep, collection_id: CollectionId) -> Response:
    """Features, a page at a time, filtered by bbox, time and exact property values."""
    call = _Call(request, None)
    found = services.ogc.items(collection_id, call.params)
    spec, data, query, matched = found.spec, found.data, found.query, found.matched
    text = documents.items(call.urls, spec, data, query, matched, call.fmt, call.params)
    if call.fmt == "html":
        page = html.items(call.urls, spec.id, spec.title, json_loads(text), query.offset)
        return HTMLResponse(page)
    return Response(text, media_type=media.GEOJSON)


@router.get(
    "/ogc/collections/{collectionId}/items/{featureId}",
    dependencies=BULK,
    response_class=Response,
    responses=_GEOJSON,
    openapi_extra=_FV,
)
def item(
    request: Request, services: ServicesDep, collection_id: CollectionId, feature_id: FeatureId
) -> Response:
    """One feature by its id (a grid's or community's code, else the store id)."""
    call = _Call(request, VERSIONED)
    service = services.ogc
    spec = service.spec(collection_id, call.version)
    data = service.data(spec)
    found = np.flatnonzero(data.ids == feature_id)
    if not len(found):
        raise NotFoundError(
            f"no feature {feature_id!r} in collection {spec.id!r}", code="feature_not_found"
        )
    doc = documents.item(call.urls, spec, data, int(found[0]), call.fmt)
    if call.fmt == "html":
        return HTMLResponse(html.item(call.urls, spec.id, spec.title, doc))
    return _json(doc, media.GEOJSON)
