"""HTML pages: the map."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from api.access import Access, requires
from api.deps import ServicesDep
from api.mappage import render_map

router = APIRouter(tags=["pages"], dependencies=[requires(Access.public)])


@router.get("/map", response_class=HTMLResponse)
def map_page(services: ServicesDep) -> HTMLResponse:
    loaded = services.index.resolve()
    html = services.caches.answers.get_or_build(
        ("map-page", loaded.info.content_key),
        lambda: render_map(services.store, loaded).encode(),
    )
    return HTMLResponse(html)
