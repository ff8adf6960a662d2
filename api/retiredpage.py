"""The page ``/embed?grid=CODE`` shows when the version it shows has no grid ``CODE``.

Links in host systems outlive redraws: a portal keeps ``grid=510603001001003`` after the
回头看 review retired that code. Rather than an error in the iframe, the page says so in
the reader's language and, where another version had the code, which grids now cover
its area (:func:`gridgis.lineage.successors`), each linked to its own embed view with the
link's other parameters kept. Rendered from ``api/templates/retired.html``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from api.embedpage import LABELS, asset_url
from api.rendering import render_page
from gridgis.i18n import HTML_LANG, Lang
from gridgis.lineage import Succession


@dataclass(frozen=True)
class RetiredPage:
    """``link(code)`` is the embed URL of grid ``code`` (``None``: without a grid)."""

    lang: Lang
    code: str
    version: str
    succession: Succession | None
    link: Callable[[str | None], str]


def _percent(share: float) -> str:
    return f"{share * 100:.0f}%" if share >= 0.01 else "<1%"


def render_retired(page: RetiredPage) -> str:
    labels = LABELS[page.lang]
    heading = labels["missing_title" if page.succession is None else "retired_title"]
    return render_page(
        "retired.html",
        {
            "html_lang": HTML_LANG[page.lang],
            "t": labels,
            "heading": heading,
            "code": page.code,
            "version": page.version,
            "succession": page.succession,
            "link": page.link,
            "percent": _percent,
            "embed_css": asset_url("embed.css"),
        },
    )
