"""The HTTP server's entry point, for ``gridgis serve``: the library never imports the
app itself, it finds this function through the ``gridgis.server`` entry point."""

from __future__ import annotations

from typing import Any

import uvicorn

from gridgis.settings import Settings


def run(settings: Settings, workers: int = 1) -> None:
    """Serve with uvicorn's httptools stack (h11 stalled keep-alive requests here)."""
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "http": "httptools",
        "log_level": "warning",
        "access_log": False,
    }
    if workers > 1:
        # Worker processes build the app themselves, from the same GRIDGIS_* environment.
        uvicorn.run("api.app:create_app", factory=True, workers=workers, **options)
    else:
        from api.app import create_app

        uvicorn.run(create_app(settings), **options)
