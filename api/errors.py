"""Errors as JSON: ``{"error": message, ...}`` with the status the error carries."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from gridgis.errors import GridgisError


def _field(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc if p not in ("query", "body", "path"))


def install(app: FastAPI) -> None:
    @app.exception_handler(GridgisError)
    async def _gridgis(_request: Request, exc: GridgisError) -> JSONResponse:
        body: dict[str, Any] = {"error": exc.message}
        if exc.source:
            body["source"] = exc.source
        return JSONResponse(body, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"field": _field(tuple(e.get("loc", ()))), "message": e.get("msg", "invalid")}
            for e in exc.errors()
        ]
        text = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
        return JSONResponse({"error": text, "problems": problems}, status_code=422)
