"""The FastAPI application: lookups, grids as GeoJSON, versions, tiles, OGC API, maps.

The lifespan builds one :class:`~api.state.Services` and hands it to every request
through the lifespan state; routes get it from one dependency, the fast path from the
same place. The app talks to the library only through the store interface and the
services; it knows nothing of SQL or files.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import xstatic.pkg.leaflet as xleaflet
from fastapi import FastAPI
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from api import docs, errors
from api.access import Access, document_security, requires
from api.fastpath import FastPathApp
from api.routes import (
    address,
    downloads,
    embed,
    grids,
    health,
    jobs,
    layers,
    lookup,
    ogc,
    pages,
    session,
    tiles,
    versions,
)
from api.security import SecurityHeaders
from api.state import Services
from api.tileserve import MVT
from gridgis.settings import Settings, get_settings

ROUTERS = (
    health,
    session,
    lookup,
    address,
    grids,
    versions,
    jobs,
    layers,
    pages,
    tiles,
    ogc,
    embed,
    downloads,
)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[dict[str, Services]]:
        services = Services.start(settings)
        services.policy.bind(_app.routes)  # what each route needs, read off the routes
        try:
            yield {"services": services}
        finally:
            services.stop()

    app = FastPathApp(
        title="gridgis",
        description="Comprehensive grid layers for grassroots governance: lookups, GeoJSON, "
        "versions, vector tiles, OGC API – Features and an embeddable map.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        # FastAPI counts the bytes as they arrive (413), declared or not; routes with small
        # bodies set tighter limits of their own.
        max_body_size=max(settings.max_body_mb, settings.max_upload_mb) * 2**20,
    )
    errors.install(app)
    for module in ROUTERS:
        app.include_router(module.router)
    docs.install(app)
    document_security(app)
    app.add_middleware(layers.UploadLimit, max_bytes=settings.max_upload_mb * 1024 * 1024)
    app.add_middleware(SecurityHeaders)
    # GeoJSON compresses about tenfold (the city's grids: 3.5 MB); small answers go as they
    # are. Tiles go as rendered on both paths (the fast path never meets this middleware).
    app.add_middleware(
        GZipMiddleware, minimum_size=4096, compresslevel=5, exclude_content_types=(MVT,)
    )
    app.mount("/static/leaflet", StaticFiles(directory=xleaflet.BASE_DIR), name="leaflet")

    @app.get("/", include_in_schema=False, dependencies=[requires(Access.open)])
    def root() -> RedirectResponse:
        return RedirectResponse("/map")

    return app
