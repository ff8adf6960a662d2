"""Errors as JSON, one shape for every route: ``{"error": message, "code": name, ...}``.

The library's errors carry meaning, not statuses; this module says which status each
kind of error answers with (the way TiPg maps its exceptions). ``code`` is a stable
machine name that pages translate into the user's language; ``param`` names the
request field at fault, ``source`` the file.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.responses import JSONResponse
from gridgis.errors import (
    BusyError,
    ConflictError,
    ForbiddenError,
    GridgisError,
    InvalidValueError,
    NotFoundError,
    StaleError,
    TooLargeError,
    UnauthorizedError,
    UnconditionalError,
)
from gridgis.jsonio import json_bytes


class UnsupportedMediaError(GridgisError):
    """A request body in a media type the route does not take (an edit not sent as a
    merge patch)."""

    code = "unsupported_media_type"


#: The status of each library error class; the first class in an error's MRO that is
#: listed wins, so subclasses inherit their parent's status unless listed themselves.
STATUS: dict[type[GridgisError], int] = {
    InvalidValueError: 422,
    NotFoundError: 404,
    ConflictError: 409,
    TooLargeError: 413,
    StaleError: 412,
    UnsupportedMediaError: 415,
    UnconditionalError: 428,
    UnauthorizedError: 401,
    ForbiddenError: 403,
    BusyError: 429,
    GridgisError: 400,
}

STORE_RETRY_AFTER_S = 5

#: Machine codes for the framework's own HTTP errors (unknown route, wrong method, …).
HTTP_CODES: dict[int, str] = {
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "too_large",
    415: "unsupported_media_type",
}


def status_of(exc: GridgisError) -> int:
    return status_for(type(exc))


def status_for(kind: type[GridgisError]) -> int:
    for cls in kind.__mro__:
        if cls in STATUS:
            return STATUS[cls]  # type: ignore[index]
    return 400


def error_body(message: str, code: str, **extra: Any) -> dict[str, Any]:
    """The one error shape; ``None`` extras are left out."""
    body: dict[str, Any] = {"error": message, "code": code}
    body.update({k: v for k, v in extra.items() if v is not None})
    return body


def _field(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc if p not in ("query", "body", "path"))


def install(app: FastAPI) -> None:
    @app.exception_handler(GridgisError)
    async def _gridgis(_request: Request, exc: GridgisError) -> JSONResponse:
        # A stale edit says what the grid's ETag is now (OGC API Features Part 4).
        headers = {"ETag": exc.current} if isinstance(exc, StaleError) else None
        return JSONResponse(exc.to_dict(), status_code=status_of(exc), headers=headers)

    @app.exception_handler(OperationalError)
    async def _store_away(_request: Request, exc: OperationalError) -> JSONResponse:
        # The database went away (or refuses connections): say so, and when to come back,
        # rather than a 500; reads the server holds in memory keep answering meanwhile.
        return JSONResponse(
            error_body("the database does not answer now; try again shortly", "store_unavailable"),
            status_code=503,
            headers={"Retry-After": str(STORE_RETRY_AFTER_S)},
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"field": _field(tuple(e.get("loc", ()))), "message": e.get("msg", "invalid")}
            for e in exc.errors()
        ]
        text = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
        first = problems[0]["field"] if problems else None
        body = error_body(text, "invalid_value", param=first, problems=problems)
        return JSONResponse(body, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return JSONResponse(
            error_body(message, code), status_code=exc.status_code, headers=exc.headers
        )


class PlainErrorsAsJson:
    """Errors Starlette answers itself in plain text, outside every middleware of ours (a
    body over its route's limit, declared in Content-Length), in the one JSON shape and
    with ``nosniff``, like every other answer. Wrapped around the app at its entry."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        held: dict[str, Any] = {}

        async def converted(message: Message) -> None:
            if message["type"] == "http.response.start":
                kind = dict(message.get("headers", [])).get(b"content-type", b"")
                if message["status"] >= 400 and kind.startswith(b"text/plain"):
                    held["start"] = message
                    return
            elif "start" in held:
                held.setdefault("body", b"")
                held["body"] += message.get("body", b"")
                if message.get("more_body"):
                    return
                status = held["start"]["status"]
                text = held["body"].decode("utf-8", "replace").strip() or str(status)
                body = json_bytes(error_body(text, HTTP_CODES.get(status, f"http_{status}")))
                others = [
                    (k, v)
                    for k, v in held["start"].get("headers", [])
                    if k not in (b"content-type", b"content-length")
                ]
                headers = [
                    *others,
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"x-content-type-options", b"nosniff"),
                ]
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
            await send(message)

        await self.app(scope, receive, converted)
