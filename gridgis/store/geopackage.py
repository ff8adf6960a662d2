"""The embedded default store: one GeoPackage file that needs no server.

Plain ``sqlite3`` underneath with explicit ``BEGIN`` (pysqlite's implicit transactions do
not cover DDL) so that a failed import or merge rolls back whole, migrations included.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa
from numpy.typing import NDArray

from gridgis.jsonio import json_dumps, json_loads
from gridgis.lru import LRU
from gridgis.store import gpkg_codec, gpkg_meta
from gridgis.store import schema as t
from gridgis.store.sql import SqlStore
from gridgis.tiles.layers import TileLayer
from gridgis.tiles.render import TileSource
from gridgis.tiles.tilemath import TileAddress

#: Memory for layers held to render tiles (the city's buildings take about 60 MB).
TILE_SOURCES_BYTES = 512 * 2**20


def geopackage_engine(path: Path) -> sa.Engine:
    engine = sa.create_engine(
        f"sqlite:///{path}", json_serializer=json_dumps, json_deserializer=json_loads
    )

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys = ON")
        cur.execute("PRAGMA busy_timeout = 30000")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        write = conn.get_execution_options().get("gridgis_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


class GeoPackageStore(SqlStore):
    kind = "geopackage"

    def __init__(self, path: Path, cache: LRU[Any] | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        super().__init__(geopackage_engine(path), str(path))
        self.path = path
        self._pending_bounds: dict[str, NDArray[np.float64]] = {}
        #: Layers held in memory for tiles, by content key (one LRU, like every cache).
        self.tile_sources: LRU[Any] = cache if cache is not None else LRU(TILE_SOURCES_BYTES)

    def _encode(self, geoms: NDArray[np.object_]) -> list[Any]:
        return gpkg_codec.encode(geoms)

    def _geom_out(self, column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        return column

    def _decode(self, values: Sequence[Any]) -> NDArray[np.object_]:
        return gpkg_codec.decode(list(values))

    def _bulk_insert(self, conn: sa.Connection, table: sa.Table, frame: pd.DataFrame) -> None:
        if frame.empty:
            return
        if "geom" in frame.columns:
            blobs = [b for b in frame["geom"] if b is not None]
            if blobs:
                bounds = shapely.total_bounds(gpkg_codec.decode(blobs))
                self._pending_bounds[table.name] = bounds
        records = frame.astype(object).where(frame.notna(), None).to_dict("records")
        conn.execute(table.insert(), [{str(k): v for k, v in r.items()} for r in records])

    def _touched(self, conn: sa.Connection, table: sa.Table) -> None:
        bounds = self._pending_bounds.pop(table.name, None)
        if bounds is not None and not np.isnan(bounds).any():
            previous = conn.execute(
                sa.text("SELECT min_x, min_y, max_x, max_y FROM gpkg_contents WHERE table_name=:t"),
                {"t": table.name},
            ).first()
            replaced = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            if previous is not None and previous[0] is not None and replaced:
                bounds = np.array(
                    [
                        min(bounds[0], previous[0]),
                        min(bounds[1], previous[1]),
                        max(bounds[2], previous[2]),
                        max(bounds[3], previous[3]),
                    ]
                )
            gpkg_meta.touch(conn, table.name, tuple(float(b) for b in bounds))  # type: ignore[arg-type]
        else:
            gpkg_meta.touch(conn, table.name, None)

    # --- tiles ------------------------------------------------------------------------------
    async def vector_tile(
        self,
        layer: TileLayer,
        tile: TileAddress,
        version_id: int | None = None,
        content_key: str | None = None,
    ) -> bytes:
        """Rendered in Python from the layer held in memory (SQLite has no ST_AsMVT), in a
        worker thread: the first tile of a layer reads it whole, seconds at city scale."""
        return await asyncio.to_thread(self._render, layer, tile, version_id, content_key)

    def _render(
        self, layer: TileLayer, tile: TileAddress, version_id: int | None, content_key: str | None
    ) -> bytes:
        return self._tile_source(layer, version_id, content_key).render(tile)

    def _tile_source(
        self, layer: TileLayer, version_id: int | None, content_key: str | None
    ) -> TileSource:
        if content_key is None:
            with self.engine.connect() as conn:
                content_key = self._content_key(conn, layer, version_id)
        source: TileSource = self.tile_sources.get_or_build(
            ("tile-source", layer.name, content_key),
            lambda: self._read_tile_source(layer, version_id),
        )
        return source

    def _read_tile_source(self, layer: TileLayer, version_id: int | None) -> TileSource:
        table = getattr(t, layer.table)
        columns = [table.c[column] for _, column in layer.properties]
        if "id" in table.c:
            columns.insert(0, table.c.id)
        query = sa.select(*columns, table.c.geom)
        if layer.versioned:
            query = query.where(table.c.version_id == version_id)
        with self.engine.connect() as conn:
            return TileSource.from_frame(layer, self._read_frame(conn, query))

    @staticmethod
    def _content_key(conn: sa.Connection, layer: TileLayer, version_id: int | None) -> str:
        """What a layer holds now, by key lookups (no table scan): the version's content
        key, or the current import's (subdistricts come with the communities)."""
        if layer.versioned:
            v = t.grid_versions
            found = conn.execute(sa.select(v.c.content_key).where(v.c.id == version_id))
            return str(found.scalar())
        li = t.layer_imports
        current = sa.select(li.c.content_key).where(
            li.c.kind == layer.source_kind, li.c.is_current.is_(True)
        )
        return str(conn.execute(current).scalar())
