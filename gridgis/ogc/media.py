"""Media types and conformance classes the standard names, in one place."""

from __future__ import annotations

from typing import Literal

from gridgis.errors import InputError

JSON = "application/json"
GEOJSON = "application/geo+json"
HTML = "text/html"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"

#: The two encodings every resource comes in, chosen with ``f=`` or ``Accept``.
Format = Literal["json", "html"]
FORMATS: tuple[Format, ...] = ("json", "html")

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"

_CONF = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/"
CONFORMANCE: tuple[str, ...] = tuple(_CONF + c for c in ("core", "geojson", "html", "oas30"))


def negotiate(f: str | None, accept: str) -> Format:
    """``f`` wins; else HTML only for clients that ask for HTML and not JSON (browsers)."""
    if f is not None:
        if f not in FORMATS:
            raise InputError(f"f must be json or html, got {f!r}")
        return "json" if f == "json" else "html"
    accept = accept.lower()
    return "html" if "text/html" in accept and "json" not in accept else "json"
