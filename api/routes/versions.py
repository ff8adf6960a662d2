"""Versions and layers: what is stored, and what was published when."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter

from api.deps import StoreDep

router = APIRouter(prefix="/api", tags=["versions"])


@router.get("/versions")
def list_versions(store: StoreDep) -> list[dict[str, Any]]:
    return [asdict(v) for v in store.list_versions()]


@router.get("/versions/{name}")
def get_version(name: str, store: StoreDep) -> dict[str, Any]:
    return asdict(store.get_version(name))


@router.get("/layers")
def list_layers(store: StoreDep) -> list[dict[str, Any]]:
    return [asdict(layer) for layer in store.list_layers()]
