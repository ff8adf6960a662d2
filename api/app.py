"""The FastAPI application: lookups, grids as GeoJSON, versions, and the map page.

The app talks to the library only through the store interface and the published
index; it knows nothing of SQL or files.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import xstatic.pkg.leaflet as xleaflet
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from api import errors
from api.fastpath import FastPathApp
from api.routes import (
    address,
    downloads,
    embed,
    grids,
    health,
    layers,
    lookup,
    ogc,
    pages,
    tiles,
    versions,
)
from api.tileserve import TileServer
from gridgis.address.book import AddressBook
from gridgis.lookup import PublishedIndex
from gridgis.settings import Settings, get_settings
from gridgis.store import open_store


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = open_store(settings)
        app.state.settings = settings
        app.state.store = store
        app.state.index = PublishedIndex(store, settings.index_refresh_seconds)
        app.state.index.refresh()  # load before the first request, not during it
        app.state.index.start()
        app.state.addresses = AddressBook(store, settings.index_refresh_seconds)
        # Built now rather than on a later tick: a build holds the GIL for a second or two
        # at city scale, which requests would feel as a stall.
        app.state.addresses.refresh()
        app.state.addresses.start()
        app.state.tiles = TileServer(store, app.state.index, settings.tile_cache)
        app.state.geojson_cache = {}
        app.state.page_cache = {}
        try:
            yield
        finally:
            app.state.index.stop()
            app.state.addresses.stop()
            store.close()

    app = FastPathApp(
        title="gridgis",
        description="Comprehensive grid layers for grassroots governance: lookups, GeoJSON, "
        "versions and an offline map.",
        version="0.1.0",
        lifespan=lifespan,
    )
    errors.install(app)
    routers = (
        health,
        lookup,
        address,
        grids,
        versions,
        layers,
        pages,
        tiles,
        ogc,
        embed,
        downloads,
    )
    for module in routers:
        app.include_router(module.router)
    app.add_middleware(layers.UploadLimit, max_bytes=settings.max_upload_mb * 1024 * 1024)
    # GeoJSON compresses about tenfold (the city's grids: 3.5 MB); small answers go as they are.
    app.add_middleware(GZipMiddleware, minimum_size=4096, compresslevel=5)
    if settings.cors_origins:  # deny by default: only the configured embedding origins
        app.cors = True
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["*"],
            expose_headers=["ETag", "X-Gridgis-Version"],
        )
    app.mount("/static/leaflet", StaticFiles(directory=xleaflet.BASE_DIR), name="leaflet")

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/map")

    return app
