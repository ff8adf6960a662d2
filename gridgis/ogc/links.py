"""Absolute links to this service's resources, with rel and media type per the standard.

Collection ids hold Chinese department names, so every path segment and query value is
percent-encoded as UTF-8; clients (GDAL, QGIS) follow these links as given.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote, urlencode

from gridgis.ogc import media
from gridgis.ogc.media import Format

Link = dict[str, str]
ROOT = "/ogc"


def link(href: str, rel: str, media_type: str, title: str | None = None) -> Link:
    out = {"href": href, "rel": rel, "type": media_type}
    if title:
        out["title"] = title
    return out


def collection_path(collection_id: str) -> str:
    return f"{ROOT}/collections/{quote(collection_id, safe='')}"


def items_path(collection_id: str) -> str:
    return f"{collection_path(collection_id)}/items"


class Urls:
    """Builds absolute URLs under the request's base URL (which honours a proxy's root)."""

    def __init__(self, base_url: str) -> None:
        self.base = base_url.rstrip("/")

    def to(self, path: str, params: Sequence[tuple[str, str]] = ()) -> str:
        query = urlencode(list(params), quote_via=quote)
        return f"{self.base}{path}" + (f"?{query}" if query else "")

    def formats(
        self,
        path: str,
        current: Format,
        json_type: str = media.JSON,
        params: Sequence[tuple[str, str]] = (),
    ) -> list[Link]:
        """``self`` in the format answered now and ``alternate`` in the other one."""
        kept = [(k, v) for k, v in params if k != "f"]
        out = []
        for fmt in (current, *(f for f in media.FORMATS if f != current)):
            rel = "self" if fmt == current else "alternate"
            kind = json_type if fmt == "json" else media.HTML
            title = "This document as JSON" if fmt == "json" else "This document as HTML"
            out.append(link(self.to(path, [*kept, ("f", fmt)]), rel, kind, title))
        return out
