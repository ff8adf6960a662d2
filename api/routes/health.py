"""Liveness and readiness in one: the store answers and which version is published."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import IndexDep, StoreDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(store: StoreDep, index: IndexDep) -> dict[str, Any]:
    loaded = index.current()
    return {
        "status": "ok",
        "store": store.kind,
        "published_version": loaded.info.name if loaded else None,
        "grids": len(loaded.index) if loaded else 0,
    }
