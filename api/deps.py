"""FastAPI dependencies: what a route may ask for. The app fills them at start-up.

They are ``async`` so that FastAPI calls them in the event loop: as plain functions each
one cost a trip through the threadpool on every request.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from gridgis.lookup import PublishedIndex
from gridgis.settings import Settings
from gridgis.store.base import Store


async def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


async def get_index(request: Request) -> PublishedIndex:
    index: PublishedIndex = request.app.state.index
    return index


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_actor(request: Request) -> str:
    """Who a write made by this request is audited as: the caller, never the server's own
    ``GRIDGIS_ACTOR``. Until API keys and accounts arrive, the client's address."""
    client = request.client
    return f"http:{client.host if client else 'unknown'}"


StoreDep = Annotated[Store, Depends(get_store)]
IndexDep = Annotated[PublishedIndex, Depends(get_index)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
ActorDep = Annotated[str, Depends(get_actor)]
