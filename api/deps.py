"""FastAPI dependencies: what a route may ask for, all from the one :class:`Services`.

They are ``async`` so that FastAPI calls them in the event loop: as plain functions each
one cost a trip through the threadpool on every request.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.policy import CALLER_KEY, Caller
from api.state import Services
from gridgis.lookup import PublishedIndex
from gridgis.settings import Settings
from gridgis.store.base import Store


async def get_services(request: Request) -> Services:
    """The app's services, from the lifespan state (the one place that holds them)."""
    services: Services = request.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_store(services: ServicesDep) -> Store:
    return services.store


async def get_index(services: ServicesDep) -> PublishedIndex:
    return services.index


async def get_settings(services: ServicesDep) -> Settings:
    return services.settings


async def get_caller(request: Request) -> Caller:
    """Who is asking, as the access policy saw the request."""
    caller: Caller | None = request.scope.get(CALLER_KEY)
    if caller is None:  # a request that did not come through the app's entry (tests)
        client = request.client
        caller = Caller(client.host if client else "unknown")
    return caller


async def get_actor(caller: Annotated[Caller, Depends(get_caller)]) -> str:
    """Who a write made by this request is audited as: the caller, never the server's own
    ``GRIDGIS_ACTOR``."""
    return caller.actor


StoreDep = Annotated[Store, Depends(get_store)]
IndexDep = Annotated[PublishedIndex, Depends(get_index)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
ActorDep = Annotated[str, Depends(get_actor)]
CallerDep = Annotated[Caller, Depends(get_caller)]
