"""PostGIS tiles on the event loop: the pool survives lost connections and cancelled
requests, stays within its bound, and prepares each layer's query once per connection."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import closing

import psycopg2
import pytest
import shapely

from gridgis.settings import Settings
from gridgis.store import open_store, pgtiles
from gridgis.store.pgtiles import APPLICATION_NAME, TileConnections
from gridgis.store.postgis import PostGISStore
from gridgis.tiles import TILE_LAYERS, TileAddress, TileLayer

GRIDS, STREETS = TILE_LAYERS["grids"], TILE_LAYERS["streets"]


@pytest.fixture
def pg(demo_settings: Settings) -> Iterator[PostGISStore]:
    if demo_settings.database_url is None:
        pytest.skip("PostGIS only")
    store = open_store(demo_settings)
    assert isinstance(store, PostGISStore)
    yield store
    store.close()


def _tile(store: PostGISStore) -> tuple[TileAddress, int]:
    published = store.published_version()
    assert published is not None
    grids = store.read_grids(published.name)
    lon, lat = shapely.get_coordinates(shapely.centroid(grids.geometry.iloc[0]))[0]
    return TileAddress.containing(lon, lat, 15), published.id


def _sessions(store: PostGISStore) -> list[tuple[int, str]]:
    """(pid, last query) of the pool's connections, as the server sees them."""
    with closing(psycopg2.connect(store.tiles.dsn)) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT pid, query FROM pg_stat_activity "
            "WHERE application_name = %s AND datname = current_database()",
            (APPLICATION_NAME,),
        )
        return [(int(pid), str(query)) for pid, query in cur.fetchall()]


def test_a_lost_connection_is_replaced_not_reported(pg: PostGISStore) -> None:
    tile, version_id = _tile(pg)

    async def run() -> None:
        first = await pg.vector_tile(GRIDS, tile, version_id)
        assert first
        with closing(psycopg2.connect(pg.tiles.dsn)) as conn, conn.cursor() as cur:
            conn.autocommit = True
            for pid, _ in _sessions(pg):  # what a PostgreSQL restart does to them
                cur.execute("SELECT pg_terminate_backend(%s)", (pid,))
        await asyncio.sleep(0.2)
        assert await pg.vector_tile(GRIDS, tile, version_id) == first

    asyncio.run(run())


def _opened(store: PostGISStore, before: set[int], at_most: int) -> int:
    """Sessions opened since ``before`` once they settle to ``at_most`` (a closed one takes
    its server a moment to leave); the count seen last if they never do."""
    deadline = time.monotonic() + 5
    while True:
        opened = len([pid for pid, _ in _sessions(store) if pid not in before])
        if opened <= at_most or time.monotonic() > deadline:
            return opened
        time.sleep(0.05)


def test_a_cancelled_tile_leaves_the_pool_usable_and_bounded(pg: PostGISStore) -> None:
    tile, version_id = _tile(pg)
    tiles = TileConnections(pg.tiles.dsn, size=2)
    before = {pid for pid, _ in _sessions(pg)}

    async def run() -> None:
        expected = await tiles.render(GRIDS, tile, version_id)
        slow = asyncio.ensure_future(tiles.render(GRIDS, tile, version_id))
        await asyncio.sleep(0)  # it runs until it waits for its answer
        slow.cancel()
        with pytest.raises(asyncio.CancelledError):
            await slow
        many = await asyncio.gather(*(tiles.render(GRIDS, tile, version_id) for _ in range(12)))
        assert many == [expected] * 12

    try:
        asyncio.run(run())
        assert _opened(pg, before, 2) == 2  # twelve at once, on two connections
    finally:
        tiles.close()
    assert _opened(pg, before, 0) == 0  # closed with the pool


def test_each_layer_is_prepared_once_per_connection(
    pg: PostGISStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    tile, version_id = _tile(pg)
    tiles = TileConnections(pg.tiles.dsn, size=1)
    prepared: list[str] = []
    original = pgtiles.prepare_sql

    def prepare(layer: TileLayer) -> str:
        prepared.append(layer.name)
        return original(layer)

    monkeypatch.setattr(pgtiles, "prepare_sql", prepare)

    async def run() -> None:
        for _ in range(3):
            assert await tiles.render(GRIDS, tile, version_id)
            assert await tiles.render(STREETS, tile, None)

    try:
        asyncio.run(run())
    finally:
        tiles.close()
    assert prepared == ["grids", "streets"]
