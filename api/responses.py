"""The JSON response our routes and error handlers build: encoded by :mod:`gridgis.jsonio`.

Starlette's ``JSONResponse`` refuses NaN with a 500 and pays for the standard library's
encoder; this one writes what ``jsonio`` writes (NaN as ``null``, numpy, ISO dates).
(Routes that return a dict are still answered by FastAPI's own encoder.)
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse as _StarletteJSON

from gridgis.jsonio import json_bytes


class JSONResponse(_StarletteJSON):
    """Starlette's ``JSONResponse`` (same arguments) with :func:`~gridgis.jsonio.json_bytes`."""

    def render(self, content: Any) -> bytes:
        return json_bytes(content)
