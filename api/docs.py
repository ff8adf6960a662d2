"""``/docs`` (Swagger UI) and ``/redoc`` from our own server: a government intranet has
no internet, and FastAPI's defaults load both from a CDN (and ReDoc's fonts from Google).

The assets come from the ``fastapi-offline`` package; the pages are FastAPI's own,
pointed at them, with Swagger UI's online validator badge turned off.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from api.access import Access, requires

ASSETS = Path(fastapi_offline.__file__).parent / "static"
STATIC = "/static/docs"
OPEN = [requires(Access.open)]
#: Nothing but our own server; Swagger UI starts from an inline script, ReDoc in a worker.
CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'"
)


def install(app: FastAPI) -> None:
    app.mount(STATIC, StaticFiles(directory=ASSETS), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"
    redirect_url = app.swagger_ui_oauth2_redirect_url or "/docs/oauth2-redirect"
    headers = {"Content-Security-Policy": CSP}

    @app.get("/docs", include_in_schema=False, dependencies=OPEN)
    async def swagger_ui() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} · API 文档",
            oauth2_redirect_url=redirect_url,
            swagger_js_url=f"{STATIC}/swagger-ui-bundle.js",
            swagger_css_url=f"{STATIC}/swagger-ui.css",
            swagger_favicon_url=f"{STATIC}/favicon.png",
            swagger_ui_parameters={"validatorUrl": None},
        )
        return HTMLResponse(page.body, headers=headers)

    @app.get(redirect_url, include_in_schema=False, dependencies=OPEN)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False, dependencies=OPEN)
    async def redoc() -> HTMLResponse:
        page = get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} · API 文档",
            redoc_js_url=f"{STATIC}/redoc.standalone.js",
            redoc_favicon_url=f"{STATIC}/favicon.png",
            with_google_fonts=False,
        )
        return HTMLResponse(page.body, headers=headers)
