"""GET /api/lookup without the framework: the one request a city sends thousands of.

FastAPI's routing, middleware, dependency and validation layers cost more than the
lookup itself (a bare ASGI answer runs at twice the rate). :class:`FastLookupApp` checks
each request before any of that: the plain case — lon and lat in WGS84/CGCS2000, no
``at``, a grid found — is answered from the published index with the grid's pre-encoded
JSON. Anything else (other CRSs, time travel, bad numbers, no grid) goes on to the route
in ``api.routes.lookup``, which gives the same answers and every error message, so the
two cannot disagree on anything but speed.
"""

from __future__ import annotations

import math
from urllib.parse import parse_qsl

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from gridgis.lookup import PublishedIndex

PATH = "/api/lookup"
PLAIN_CRS = ("wgs84", "cgcs2000", "4326", "4490", "epsg:4326", "epsg:4490")
JSON_HEADER = (b"content-type", b"application/json")


class FastLookupApp(FastAPI):
    """The FastAPI app, with plain point lookups answered before the framework runs."""

    #: With a CORS allow-list, cross-origin requests go through the CORS middleware.
    cors: bool = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"] == PATH
            and scope["method"] == "GET"
            and not (self.cors and any(k == b"origin" for k, _ in scope["headers"]))
        ):
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

    def _answer(self, scope: Scope) -> bytes | None:
        """The grid's JSON for the plain case, or ``None`` to let the route decide."""
        params = dict(parse_qsl(scope["query_string"].decode("latin-1")))
        if len(params) != 2 and not (
            len(params) == 3 and params.get("crs", "").lower() in PLAIN_CRS
        ):
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
