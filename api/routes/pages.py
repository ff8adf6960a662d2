"""HTML pages: the map."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.deps import IndexDep, StoreDep
from api.mappage import render_map
from gridgis.errors import NotFoundError

router = APIRouter(tags=["pages"])


@router.get("/map", response_class=HTMLResponse)
def map_page(request: Request, store: StoreDep, index: IndexDep) -> HTMLResponse:
    loaded = index.current()
    if loaded is None:
        raise NotFoundError("no published version yet: run `gridgis publish NAME`")
    cache: dict[tuple[int, object], str] = request.app.state.page_cache
    key = (loaded.info.id, loaded.info.published_at)
    html = cache.get(key)
    if html is None:
        html = render_map(store, loaded)
        cache.clear()
        cache[key] = html
    return HTMLResponse(html)
