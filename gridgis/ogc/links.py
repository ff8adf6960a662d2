"""Absolute links to this service's resources, with rel and media type per the standard.

Collection ids hold Chinese department names, so every path segment and query value is
percent-encoded as UTF-8; clients (GDAL, QGIS) follow these links as given.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote, urlencode

from gridgis.i18n import DEFAULT_LANG, Lang, Text
from gridgis.ogc import media
from gridgis.ogc.media import Format

Link = dict[str, str]
ROOT = "/ogc"
_THIS_DOCUMENT = {
    "json": Text("本文档（JSON）", "This document as JSON"),
    "html": Text("本文档（网页）", "This document as HTML"),
}


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
    """Builds the links of one request: absolute URLs under the request's base URL (which
    honours a proxy's root), with titles in the reader's language.

    ``lang`` is the language the request asked for; when it asked, every URL carries it
    (unless the URL sets it itself), so following any link stays in that language.
    Without it the language is the default and URLs name none.
    """

    def __init__(self, base_url: str, lang: Lang | None = None) -> None:
        self.base = base_url.rstrip("/")
        self.lang: Lang = lang or DEFAULT_LANG
        self.keep: tuple[tuple[str, str], ...] = (("lang", lang),) if lang else ()

    def to(self, path: str, params: Sequence[tuple[str, str]] = ()) -> str:
        named = {k for k, _ in params}
        kept = [(k, v) for k, v in self.keep if k not in named]
        query = urlencode([*params, *kept], quote_via=quote)
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
            title = _THIS_DOCUMENT[fmt][self.lang]
            out.append(link(self.to(path, [*kept, ("f", fmt)]), rel, kind, title))
        return out
