"""PostGIS store: geometry travels as (E)WKB; bulk loads use COPY."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa
from numpy.typing import NDArray

from gridgis.crs import CGCS2000
from gridgis.jsonio import json_dumps, json_loads
from gridgis.store.pgtiles import TileConnections
from gridgis.store.schema import JSONType
from gridgis.store.sql import SqlStore
from gridgis.tiles.layers import TileLayer
from gridgis.tiles.tilemath import TileAddress

POOL_SIZE = 32


CONNECT_TIMEOUT_S = 3


def postgis_engine(url: str) -> sa.Engine:
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg2://" + url.split("://", 1)[1]
    # The server answers from up to 40 threads (FastAPI's threadpool): keep that many
    # connections open rather than opening a backend (and loading PostGIS) per request.
    return sa.create_engine(
        url,
        pool_pre_ping=True,
        pool_size=POOL_SIZE,
        max_overflow=8,
        # A database that went away is said so in seconds, not after the OS gives up.
        pool_timeout=5,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_S},
        json_serializer=json_dumps,
        json_deserializer=json_loads,
    )


class PostGISStore(SqlStore):
    kind = "postgis"

    def __init__(self, url: str, tile_connections: int = 3) -> None:
        engine = postgis_engine(url)
        super().__init__(engine, engine.url.render_as_string(hide_password=True))
        dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self.tiles = TileConnections(dsn, tile_connections)

    def _encode(self, geoms: NDArray[np.object_]) -> list[Any]:
        geoms = shapely.set_srid(np.asarray(geoms, dtype=object), CGCS2000)
        return list(shapely.to_wkb(geoms, hex=True, include_srid=True))

    def _geom_out(self, column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        return sa.func.ST_AsBinary(column, type_=sa.LargeBinary)

    def _lock_audit(self, conn: sa.Connection) -> None:
        # Concurrent writers would both extend the chain from the same tail.
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(4242001)"))

    def _geom_param(self) -> str:
        return "ST_GeomFromEWKB(decode(:geom, 'hex'))"

    def _decode(self, values: Sequence[Any]) -> NDArray[np.object_]:
        wkb = np.array([None if v is None else bytes(v) for v in values], dtype=object)
        return shapely.from_wkb(wkb)

    def _bulk_insert(self, conn: sa.Connection, table: sa.Table, frame: pd.DataFrame) -> None:
        if frame.empty:
            return
        frame = frame.copy()
        for name in frame.columns:
            column = table.c[name]
            if column.type is JSONType or isinstance(column.type, sa.JSON):
                frame[name] = [None if v is None else json_dumps(v) for v in frame[name]]
            elif isinstance(column.type, sa.Integer) and frame[name].dtype.kind == "f":
                frame[name] = frame[name].astype("Int64")
        buffer = io.StringIO()
        frame.to_csv(buffer, index=False, header=False, na_rep="\\N", quoting=csv.QUOTE_MINIMAL)
        buffer.seek(0)
        columns = ", ".join(f'"{c}"' for c in frame.columns)
        dbapi = conn.connection.dbapi_connection
        assert dbapi is not None
        cursor = dbapi.cursor()
        try:
            cursor.copy_expert(  # type: ignore[attr-defined]
                f"COPY \"{table.name}\" ({columns}) FROM STDIN WITH (FORMAT csv, NULL '\\N')",
                buffer,
            )
        finally:
            cursor.close()

    # --- tiles ------------------------------------------------------------------------------
    async def vector_tile(
        self,
        layer: TileLayer,
        tile: TileAddress,
        version_id: int | None = None,
        content_key: str | None = None,
    ) -> bytes:
        """``ST_AsMVT`` over the rows whose boxes meet the tile grown by its buffer, on a
        connection of :attr:`tiles` (awaited on the loop, no thread)."""
        return await self.tiles.render(layer, tile, version_id)

    def close(self) -> None:
        self.tiles.close()
        super().close()
