"""Liveness and readiness: ``/healthz`` says the server is up and what it answers from
(from memory, so it stays 200 while the database is away); ``/readyz`` says whether the
store answers now (503 with ``Retry-After`` when it does not), for a load balancer."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy.exc import SQLAlchemyError

from api.access import Access, requires
from api.deps import IndexDep, StoreDep
from api.responses import JSONResponse

RETRY_AFTER_S = 5

router = APIRouter(tags=["health"], dependencies=[requires(Access.open)])


@router.get("/healthz")
def healthz(store: StoreDep, index: IndexDep) -> dict[str, Any]:
    loaded = index.current()
    return {
        "status": "ok",
        "store": store.kind,
        "published_version": loaded.info.name if loaded else None,
        "grids": len(loaded.index) if loaded else 0,
    }


@router.get("/readyz", responses={503: {"description": "The store does not answer now."}})
def readyz(store: StoreDep) -> JSONResponse:
    try:
        store.ping()
    except (SQLAlchemyError, OSError) as exc:
        return JSONResponse(
            {"status": "unavailable", "store": store.kind, "error": type(exc).__name__},
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )
    return JSONResponse({"status": "ready", "store": store.kind})
