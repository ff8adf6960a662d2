"""Stores: PostGIS when ``GRIDGIS_DATABASE_URL`` is set, else the embedded GeoPackage."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from gridgis.lru import LRU
from gridgis.settings import Settings, get_settings
from gridgis.store.base import Store
from gridgis.store.geopackage import GeoPackageStore, geopackage_engine
from gridgis.store.postgis import PostGISStore, postgis_engine
from gridgis.store.sql import SqlStore

__all__ = ["GeoPackageStore", "PostGISStore", "SqlStore", "Store", "engine_for", "open_store"]


def engine_for(settings: Settings) -> sa.Engine:
    if settings.database_url:
        return postgis_engine(settings.database_url)
    return geopackage_engine(settings.gpkg_path)


def open_store(
    settings: Settings | None = None, *, check: bool = True, cache: LRU[Any] | None = None
) -> SqlStore:
    """Open the configured store; the embedded one creates and migrates itself on first use.

    PostGIS is never migrated implicitly: an operator runs ``gridgis db upgrade``.
    ``cache`` is the server's one LRU, where the embedded store keeps the layers it
    renders tiles from.
    """
    settings = settings or get_settings()
    store: SqlStore
    if settings.database_url:
        store = PostGISStore(settings.database_url, settings.tile_connections)
    else:
        store = GeoPackageStore(settings.gpkg_path, cache)
        if check and store.schema_revision() != store.head_revision():
            store.upgrade()
    if check:
        store.require_schema()
    return store
