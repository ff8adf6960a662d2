"""Point lookups and tiles without the framework: the requests that come by the thousand.

FastAPI's routing, middleware, dependency and validation layers cost more than a lookup
or a cached tile (a bare ASGI answer runs at twice the rate). :class:`FastPathApp`
checks each request before any of that. The plain lookup — lon and lat in WGS84/CGCS2000,
no ``at``, a grid found — is answered from the published index with the grid's
pre-encoded JSON; a well-formed tile request goes straight to the shared
:class:`~api.tileserve.TileServer`. Anything else (other CRSs, time travel, bad numbers,
no grid, a bad tile address) goes on to the routes, which give the same answers and
every error message, so the two paths cannot disagree on anything but speed.
"""

from __future__ import annotations

import math
from urllib.parse import parse_qsl

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from api.tileserve import TileServer
from gridgis.crs import parse_crs
from gridgis.errors import GridgisError
from gridgis.lookup import PublishedIndex
from gridgis.lookup.coords import passes_through

PATH = "/api/lookup"
TILES = "/tiles/"
JSON_HEADER = (b"content-type", b"application/json")


class FastPathApp(FastAPI):
    """The FastAPI app, with plain point lookups and tiles answered before the framework."""

    #: With a CORS allow-list, cross-origin requests go through the CORS middleware.
    cors: bool = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or (self.cors and any(k == b"origin" for k, _ in scope["headers"]))
        ):
            await super().__call__(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith(TILES) and path.endswith(".mvt") and await self._tile(scope, send):
            return
        if path == PATH:
            body = self._answer(scope)
            if body is not None:
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [JSON_HEADER, (b"content-length", b"%d" % len(body))],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await super().__call__(scope, receive, send)

    async def _tile(self, scope: Scope, send: Send) -> bool:
        """Serve ``/tiles/{layer}/{z}/{x}/{y}.mvt[?version=]``; False leaves it to the route."""
        parts = scope["path"][len(TILES) : -len(".mvt")].split("/")
        params = parse_qsl(scope["query_string"].decode("latin-1"))
        if len(parts) != 4 or not all(p.isdigit() for p in parts[1:]):
            return False
        if params and (len(params) > 1 or params[0][0] != "version"):
            return False
        server: TileServer | None = getattr(self.state, "tiles", None)
        if server is None:
            return False
        etag = next(
            (v.decode("latin-1") for k, v in scope["headers"] if k == b"if-none-match"), None
        )
        try:
            answer = await server.answer(
                parts[0],
                int(parts[1]),
                int(parts[2]),
                int(parts[3]),
                params[0][1] if params else None,
                etag,
            )
        except GridgisError:
            return False  # the route says what is wrong, in the usual JSON
        raw = [(k.lower().encode(), v.encode()) for k, v in answer.headers.items()]
        raw.append((b"content-length", b"%d" % len(answer.body)))
        await send({"type": "http.response.start", "status": answer.status, "headers": raw})
        await send({"type": "http.response.body", "body": answer.body})
        return True

    def _answer(self, scope: Scope) -> bytes | None:
        """The grid's JSON for the plain case, or ``None`` to let the route decide."""
        params = dict(parse_qsl(scope["query_string"].decode("latin-1")))
        crs = params.get("crs")
        if len(params) != (2 if crs is None else 3):
            return None
        if crs is not None:
            try:
                if not passes_through(parse_crs(crs)):
                    return None
            except GridgisError:
                return None
        try:
            lon, lat = float(params["lon"]), float(params["lat"])
        except (KeyError, ValueError):
            return None
        if not (math.isfinite(lon) and math.isfinite(lat)):
            return None
        index: PublishedIndex | None = getattr(self.state, "index", None)
        loaded = index.current() if index is not None else None
        if loaded is None:
            return None
        position = loaded.index.lookup_one(lon, lat)
        return loaded.answer_bytes[position] if position >= 0 else None
