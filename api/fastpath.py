"""The app's ASGI entry: the access policy for every request, then lookups and tiles
without the framework, the requests that come by the thousand.

Every HTTP request first meets the :class:`~api.policy.AccessPolicy` (CORS now; keys,
scopes and rate limits later), whichever path answers it: the policy may answer at
once (a preflight), and the headers it asks for are added to every answer, fast or not.

FastAPI's routing, middleware, dependency and validation layers cost more than a lookup
or a cached tile (a bare ASGI answer runs at twice the rate). The plain lookup — lon and
lat in WGS84/CGCS2000, no ``at``, a grid found — is answered from the published index
with the grid's pre-encoded JSON; a well-formed tile request goes straight to the shared
:class:`~api.tileserve.TileServer`. Anything else (other CRSs, time travel, bad numbers,
no grid, a bad tile address) goes on to the routes, which give the same answers and
every error message, so the two paths cannot disagree on anything but speed.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from fastapi import FastAPI
from starlette.types import Message, Receive, Scope, Send

from api.errors import PlainErrorsAsJson
from api.policy import CALLER_KEY, Admission, Headers
from gridgis.crs import parse_crs
from gridgis.errors import GridgisError
from gridgis.lookup.coords import passes_through

if TYPE_CHECKING:
    from api.state import Services

PATH = "/api/lookup"
TILES = "/tiles/"
JSON_HEADER = (b"content-type", b"application/json")
NOSNIFF = (b"x-content-type-options", b"nosniff")


def services_of(scope: Scope) -> Services | None:
    """The app's services, from the lifespan state every request's scope carries."""
    state = scope.get("state")
    return None if state is None else state.get("services")


async def _send_all(
    send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    if status not in (204, 304):  # those have no body, and say no length (RFC 9110)
        headers.append((b"content-length", b"%d" % len(body)))
    headers.append(NOSNIFF)  # as api.security adds it to every answer of the routes
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _with_headers(send: Send, extra: Headers) -> Send:
    """``send``, adding the policy's headers to the answer's start."""

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", ()), *extra]}
        await send(message)

    return wrapped


class FastPathApp(FastAPI):
    """The FastAPI app, behind the access policy, with plain point lookups and tiles
    answered before the framework."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        services = services_of(scope) if scope["type"] == "http" else None
        if services is None:
            await super().__call__(scope, receive, send)
            return
        admission = services.policy.admit(scope)
        scope[CALLER_KEY] = admission.caller
        if admission.early is not None:
            early = admission.early
            await _send_all(send, early.status, list(early.headers), early.body)
            return
        if (
            services.settings.fast_path
            and scope["method"] == "GET"
            and await self._fast(scope, send, services, admission)
        ):
            return
        if admission.headers:
            send = _with_headers(send, admission.headers)
        await PlainErrorsAsJson(super().__call__)(scope, receive, send)

    async def _fast(
        self, scope: Scope, send: Send, services: Services, admission: Admission
    ) -> bool:
        path: str = scope["path"]
        if path.startswith(TILES) and path.endswith(".mvt"):
            return await self._tile(scope, send, services, admission)
        if path == PATH:
            body = self._answer(scope, services)
            if body is not None:
                await _send_all(send, 200, [JSON_HEADER, *admission.headers], body)
                return True
        return False

    @staticmethod
    async def _tile(scope: Scope, send: Send, services: Services, admission: Admission) -> bool:
        """Serve ``/tiles/{layer}/{z}/{x}/{y}.mvt[?version=]``; False leaves it to the route."""
        parts = scope["path"][len(TILES) : -len(".mvt")].split("/")
        params = parse_qsl(scope["query_string"].decode("latin-1"))
        # ASCII digits only, and short: "²".isdigit() is true but int() refuses it.
        if len(parts) != 4 or not all(
            p.isascii() and p.isdigit() and len(p) <= 10 for p in parts[1:]
        ):
            return False
        if params and (len(params) > 1 or params[0][0] != "version"):
            return False
        etag = next(
            (v.decode("latin-1") for k, v in scope["headers"] if k == b"if-none-match"), None
        )
        try:
            answer = await services.tiles.answer(
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
        await _send_all(send, answer.status, [*raw, *admission.headers], answer.body)
        return True

    @staticmethod
    def _answer(scope: Scope, services: Services) -> bytes | None:
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
        loaded = services.index.current()
        if loaded is None:
            return None
        position = loaded.index.lookup_one(lon, lat)
        return loaded.answer_bytes[position] if position >= 0 else None
