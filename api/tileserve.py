"""Serving one vector tile: ETag, cache and rendering, shared by the route and the fast path.

Everything but rendering happens in the event loop (a cache hit or a 304 never leaves
it); rendering, and the rare store lookups, take one trip to the threadpool.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field

from fastapi.concurrency import run_in_threadpool

from api.headers import text_header
from gridgis.errors import NotFoundError
from gridgis.lookup import PublishedIndex
from gridgis.lru import LRU
from gridgis.store.base import Store
from gridgis.tiles import TILE_LAYERS, TileAddress, TileLayer

MVT = "application/vnd.mapbox-vector-tile"
CACHE_CONTROL = "public, max-age=60"
STAMP_SECONDS = 2.0  # how stale a base layer's import stamp may be
TILE_CACHE_BYTES = 128 * 2**20


def tile_layer(name: str) -> TileLayer:
    layer = TILE_LAYERS.get(name)
    if layer is None:
        raise NotFoundError(f"no tile layer {name!r}: the layers are {', '.join(TILE_LAYERS)}")
    return layer


@dataclass
class TileAnswer:
    status: int
    headers: dict[str, str]
    body: bytes = b""


@dataclass
class TileServer:
    """One per app: the cache, and what each layer shows now."""

    store: Store
    index: PublishedIndex
    use_cache: bool
    cache: LRU[bytes] = field(default_factory=lambda: LRU(TILE_CACHE_BYTES, len))
    _stamps: dict[str, int] = field(default_factory=dict)
    _stamped: float = 0.0
    _published: int | None = None

    async def _stamp(self, layer: TileLayer) -> int | None:
        """The current import of a base layer, looked up at most every few seconds."""
        if time.monotonic() - self._stamped > STAMP_SECONDS:
            layers = await run_in_threadpool(self.store.list_layers)
            self._stamps = {x.kind: x.import_id for x in layers if x.kind != "department"}
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
        if layer.versioned:
            loaded = (  # a named version may need loading: off the event loop
                self.index.resolve()
                if version is None
                else await run_in_threadpool(self.index.resolve, None, version)
            )
            version_id = loaded.info.id
            stamp: object = (version_id, loaded.info.created_at)
            headers["X-Gridgis-Version"] = text_header(loaded.info.name)
        else:
            stamp = await self._stamp(layer)
        published = self.index.current()
        published_id = None if published is None else published.info.id
        if published_id != self._published:  # a publish: what was cached is history
            self.cache.clear()
            self._published = published_id
        key = (layer.name, str(stamp), str(tile))
        etag = '"' + hashlib.sha1(repr(key).encode()).hexdigest()[:20] + '"'
        headers["ETag"] = etag
        if if_none_match is not None and etag in (t.strip() for t in if_none_match.split(",")):
            return TileAnswer(304, headers)
        if not layer.minzoom <= z <= layer.maxzoom:
            return TileAnswer(204, headers)
        body = self.cache.get(key) if self.use_cache else None
        if body is None:
            body = await run_in_threadpool(self.store.vector_tile, layer, tile, version_id)
            if self.use_cache:
                self.cache.put(key, body)
        if not body:
            return TileAnswer(204, headers)
        headers["Content-Type"] = MVT
        return TileAnswer(200, headers, body)
