"""Serving one vector tile: ETag, cache and rendering, shared by the route and the fast path.

Everything happens in the event loop: a cache hit or a 304 never leaves it, a PostGIS
tile is awaited there (:mod:`gridgis.store.pgtiles`); only the embedded store's rendering
and the rare store lookups (a named version, a base layer's stamp) take a worker thread.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from fastapi.concurrency import run_in_threadpool

from api.headers import etag, header_text, matches
from gridgis.errors import NotFoundError
from gridgis.lookup import PublishedIndex
from gridgis.lru import LRU
from gridgis.store.base import Store
from gridgis.tiles import TILE_LAYERS, TileAddress, TileLayer

MVT = "application/vnd.mapbox-vector-tile"
CACHE_CONTROL = "public, max-age=60"
STAMP_SECONDS = 2.0  # how stale a base layer's import stamp may be


def tile_layer(name: str) -> TileLayer:
    layer = TILE_LAYERS.get(name)
    if layer is None:
        raise NotFoundError(
            f"no tile layer {name!r}: the layers are {', '.join(TILE_LAYERS)}",
            code="tile_layer_not_found",
        )
    return layer


@dataclass
class TileAnswer:
    status: int
    headers: dict[str, str]
    body: bytes = b""


@dataclass
class TileServer:
    """One per app: what each layer shows now, and the cache (``None``: render each time).

    A tile's cache key and ETag come from the content key of what its layer shows (the
    grid version's, or the base layer's current import), so they agree across workers
    and restarts, and a publish, re-import or replaced draft can never serve old tiles.
    """

    store: Store
    index: PublishedIndex
    cache: LRU[bytes] | None
    _stamps: dict[str, str] = field(default_factory=dict)
    _stamped: float = 0.0

    async def _stamp(self, layer: TileLayer) -> str | None:
        """The content key of a base layer, looked up at most every few seconds."""
        if time.monotonic() - self._stamped > STAMP_SECONDS:
            layers = await run_in_threadpool(self.store.list_layers)
            self._stamps = {x.kind: x.content_key for x in layers if x.kind != "department"}
            self._stamped = time.monotonic()
        return self._stamps.get(layer.source_kind)

    async def answer(
        self,
        layer_name: str,
        z: int,
        x: int,
        y: int,
        version: str | None = None,
        if_none_match: str | None = None,
    ) -> TileAnswer:
        layer = tile_layer(layer_name)
        tile = TileAddress.checked(z, x, y)
        headers = {"Cache-Control": CACHE_CONTROL}
        version_id: int | None = None
        content: str | None
        if layer.versioned:
            loaded = (  # a named version may need loading: off the event loop
                self.index.resolve()
                if version is None
                else await run_in_threadpool(self.index.resolve, None, version)
            )
            version_id = loaded.info.id
            content = loaded.info.content_key
            headers["X-Gridgis-Version"] = header_text(loaded.info.name)
        else:
            content = await self._stamp(layer)
        key = ("tile", layer.name, content, tile.z, tile.x, tile.y)
        tag = etag(*key)
        headers["ETag"] = tag
        if matches(if_none_match, tag):
            return TileAnswer(304, headers)
        if not layer.minzoom <= z <= layer.maxzoom or content is None:
            return TileAnswer(204, headers)
        body = self.cache.get(key) if self.cache is not None else None
        if body is None:
            body = await self.store.vector_tile(layer, tile, version_id, content)
            if self.cache is not None:
                self.cache.put(key, body)
        if not body:
            return TileAnswer(204, headers)
        headers["Content-Type"] = MVT
        return TileAnswer(200, headers, body)
