"""PostGIS vector tiles rendered on the event loop, one prepared statement per layer.

A light tile costs PostgreSQL well under a millisecond, so what surrounded the query
counted: a hop to a worker thread and back, and through SQLAlchemy a ping at checkout,
an isolation-level change to autocommit and its reset at checkin (three more round
trips), then parsing and planning the query. Here psycopg2's asynchronous connections
(autocommit, as all such are) are awaited on the loop itself, so no thread or GIL
hand-over is involved; each layer's query is prepared once per connection. A dead
connection is noticed when it fails (the query only reads, so it is retried once on a
fresh one, the idle ones dropped with it) rather than pinged before every tile, and
connections are recycled after an hour, so none outlives a server-side timeout.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from functools import cache

import psycopg2
import psycopg2.extensions

from gridgis.tiles.layers import TileLayer
from gridgis.tiles.tilemath import BUFFER, EXTENT, TileAddress

#: The tile query's arguments, ``$1``–``$5`` in this order (a layer without versions
#: ignores ``$5``, hence the declared types).
TILE_ARGS = ("z", "x", "y", "margin", "version_id")
TILE_ARG_TYPES = "integer, integer, integer, double precision, integer"
RECYCLE_SECONDS = 3600.0
APPLICATION_NAME = "gridgis tiles"  # how pg_stat_activity tells these connections apart


@cache
def tile_query(layer: TileLayer) -> str:
    """The tile query of a layer; names come from the fixed registry, values are bound.

    No ``WHERE geom IS NOT NULL`` outside: PostgreSQL would push it into the scan and
    clip every row twice; ``ST_AsMVT`` leaves out the rows clipped away anyway.
    """
    has_id = layer.table not in ("communities", "subdistricts")  # those are keyed by code
    columns = [
        f't.{column}::text AS "{name}"' if name == "code" else f't.{column} AS "{name}"'
        for name, column in layer.properties
    ]
    if has_id:
        columns.insert(0, "t.id AS fid")
    where = "t.version_id = $5 AND " if layer.versioned else ""
    id_arg = ", 'fid'" if has_id else ""
    return (
        "WITH env AS (SELECT ST_TileEnvelope($1, $2, $3) AS merc, "
        "ST_Transform(ST_TileEnvelope($1, $2, $3, margin => $4), 4490) AS geo) "
        f"SELECT ST_AsMVT(q, '{layer.name}', {EXTENT}, 'geom'{id_arg}) FROM ("
        f"SELECT {', '.join(columns)}, "
        f"ST_AsMVTGeom(ST_Transform(t.geom, 3857), env.merc, {EXTENT}, {BUFFER}, true) AS geom "
        f"FROM {layer.table} t, env WHERE {where}t.geom && env.geo"
        ") q"
    )


def prepare_sql(layer: TileLayer) -> str:
    return f"PREPARE {statement(layer)} ({TILE_ARG_TYPES}) AS {tile_query(layer)}"


def execute_sql(layer: TileLayer) -> str:
    """``EXECUTE`` of the layer's statement, with psycopg2 placeholders for its arguments."""
    return f"EXECUTE {statement(layer)} ({', '.join(['%s'] * len(TILE_ARGS))})"


def statement(layer: TileLayer) -> str:
    return f"gridgis_tile_{layer.name}"


def tile_args(tile: TileAddress, version_id: int | None) -> tuple[int, int, int, float, int | None]:
    return (tile.z, tile.x, tile.y, BUFFER / EXTENT, version_id)


async def _finished(raw: psycopg2.extensions.connection) -> None:
    """Wait, without blocking the loop, until ``raw`` is done with what it was sent."""
    loop = asyncio.get_running_loop()
    while (state := raw.poll()) != psycopg2.extensions.POLL_OK:
        ready = loop.create_future()

        def wake(ready: asyncio.Future[None] = ready) -> None:
            if not ready.done():
                ready.set_result(None)

        fd = raw.fileno()
        if state == psycopg2.extensions.POLL_READ:
            loop.add_reader(fd, wake)
            try:
                await ready
            finally:
                loop.remove_reader(fd)
        else:
            loop.add_writer(fd, wake)
            try:
                await ready
            finally:
                loop.remove_writer(fd)


@dataclass
class _Connection:
    raw: psycopg2.extensions.connection
    born: float = field(default_factory=time.monotonic)
    prepared: set[str] = field(default_factory=set)

    @property
    def stale(self) -> bool:
        return bool(self.raw.closed) or time.monotonic() - self.born > RECYCLE_SECONDS


class TileConnections:
    """At most ``size`` connections that only render tiles, for one event loop at a time
    (a server has one; a test that starts another gets a fresh bound)."""

    def __init__(self, dsn: str, size: int) -> None:
        self.dsn = dsn
        self.size = size
        self._idle: list[_Connection] = []
        self._slots: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    async def render(self, layer: TileLayer, tile: TileAddress, version_id: int | None) -> bytes:
        """The tile's MVT (``b""`` when empty); waits while every connection is busy."""
        async with self._bound():
            for attempt in (1, 2):
                conn = self._idle.pop() if self._idle else await self._connect()
                try:
                    value = await self._execute(conn, layer, tile, version_id)
                except psycopg2.Error:
                    lost = conn.raw.closed == 2  # the server went away (a restart, a timeout)
                    conn.raw.close()
                    if lost and attempt == 1:
                        self._drop_idle()  # the others most likely with it
                        continue
                    raise
                except BaseException:
                    conn.raw.close()  # cancelled mid-query: in no state to be reused
                    raise
                self._checkin(conn)
                return value
        raise AssertionError("unreachable")

    def _bound(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._slots is None or self._loop is not loop:
            self._slots, self._loop = asyncio.Semaphore(self.size), loop
        return self._slots

    @staticmethod
    async def _execute(
        conn: _Connection, layer: TileLayer, tile: TileAddress, version_id: int | None
    ) -> bytes:
        cur = conn.raw.cursor()
        try:
            if layer.name not in conn.prepared:
                cur.execute(prepare_sql(layer))
                await _finished(conn.raw)
                conn.prepared.add(layer.name)
            cur.execute(execute_sql(layer), tile_args(tile, version_id))
            await _finished(conn.raw)
            row = cur.fetchone()
        finally:
            cur.close()
        return bytes(row[0]) if row and row[0] else b""

    async def _connect(self) -> _Connection:
        raw = psycopg2.connect(self.dsn, async_=True, application_name=APPLICATION_NAME)
        try:
            await _finished(raw)
        except BaseException:
            raw.close()
            raise
        return _Connection(raw)

    def _checkin(self, conn: _Connection) -> None:
        if self._closed or conn.stale:
            conn.raw.close()
        else:
            self._idle.append(conn)

    def _drop_idle(self) -> None:
        for conn in self._idle:
            conn.raw.close()
        self._idle.clear()

    def close(self) -> None:
        """Close the idle connections now, the busy ones as they finish."""
        self._closed = True
        self._drop_idle()
